"""A world with one object of every tenant-owned kind per tenant, for the route walk and the API fuzz.

Every name a page or the API shows carries the tenant's *canary* (``zqacmecanary``, ``zqglobexcanary``), so a
response that leaks another tenant's rows is found by a substring search. ``digest()`` fingerprints every row of
our apps, so a refused request that still wrote something (a row added, changed or removed) is found too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from campaigns.models import PlacementType, RetailerItem
from demo.engine.shoppers import default_rules
from feedback.models import Creative, CreativeBrief, GateDecision, Guideline, ReviewItem, ReviewTask
from feedback.services.datasets import feedback_dataset_export
from governance.models import APIKey, CleanRoomDataset, Membership, Role
from governance.services import api_key_create
from harmonization.models import IngestBatch, Mapping
from harmonization.tests import files
from ml.models import Adapter, AdapterKind, GenerationRequest, TrainingJob
from optimizer.models import AllocationPlan, BanditDecision, Experiment, LiftStudy, UpliftStudy
from optimizer.services.bandits import policy_create

# The apps whose rows a refused request must leave alone, plus the accounts.
OUR_APPS = ("governance", "campaigns", "harmonization", "optimizer", "ml", "feedback", "demo", "auth")
# Columns that a request may touch without it being a write of the caller's: when a key was last used.
VOLATILE = {APIKey: {"last_used_at"}}


def canary(slug: str) -> str:
    return f"zq{slug}canary"


@dataclass
class TenantWorld:
    tenant: object
    canary: str
    named: dict = field(default_factory=dict)  # "brand", "plan", ... -> the tenant's object (also as attributes)
    objects: dict = field(default_factory=dict)  # model -> one object of the tenant (never shared)
    api_keys: dict = field(default_factory=dict)  # role -> raw key

    def __getattr__(self, name):
        try:
            return self.__dict__["named"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class World:
    acme: TenantWorld
    globex: TenantWorld
    shared: dict  # name -> a shared (tenant-less) object: retailer, task adapter, shared training job

    @property
    def canaries(self) -> dict[str, str]:
        return {"acme": self.acme.canary, "globex": self.globex.canary}


def _tenant_world(tenant, slug: str, catalog: dict, retailers: dict) -> TenantWorld:
    mark = canary(slug)
    amazon = retailers["amazon"]
    own = catalog[slug]
    brand, sku, campaign = own["brand"], own["skus"][0], own["campaigns"]["amazon"]
    brand.name = f"{brand.name} {mark}"
    brand.save(update_fields=["name"])
    sku.name = f"{sku.name} {mark}"
    sku.save(update_fields=["name"])
    for c in own["campaigns"].values():
        c.name = f"{c.name} {mark}"
        c.save(update_fields=["name"])
    study = LiftStudy.objects.create(
        tenant=tenant, retailer=amazon, placement_type=PlacementType.SPONSORED_PRODUCT,
        start_date=dt.date(2026, 2, 1), end_date=dt.date(2026, 2, 28), spend=Decimal("1000"),
        incremental_sales=Decimal("1500"), incremental_sales_se=Decimal("200"), currency="USD",
        method=LiftStudy.Method.RCT_HOLDOUT, source=LiftStudy.Source.RETAILER, notes=f"study {mark}",
    )  # fmt: skip
    for i, item_sku in enumerate(own["skus"]):  # the retailer crosswalk, as the demo tenants have (sample files)
        RetailerItem.objects.create(tenant=tenant, sku=item_sku, retailer=amazon, item_id=f"B0{slug.upper():0<5}{i:03}")
    channel = {"retailer": "amazon", "placement_type": PlacementType.SPONSORED_PRODUCT, "spend": 1000.0}
    plan = AllocationPlan.objects.create(
        tenant=tenant, name=f"Plan {mark}", budget=Decimal("40000"), currency="USD", period_days=28, request={},
        status=AllocationPlan.Status.SUCCEEDED, result={"allocations": [channel], "totals": {"budget": 40000.0}},
        review_status=AllocationPlan.Review.APPROVED,  # so the export routes answer their CSV
    )  # fmt: skip
    experiment = Experiment.objects.create(
        tenant=tenant, name=f"Experiment {mark}", kind=Experiment.Kind.GEO, retailer=amazon,
        placement_type=PlacementType.SPONSORED_PRODUCT, start_date=dt.date(2026, 4, 1), end_date=dt.date(2026, 4, 28),
    )  # fmt: skip
    policy = policy_create(
        tenant=tenant, name=f"Policy {mark}", budget=Decimal("5000"), start_date=dt.date(2026, 4, 1),
        end_date=dt.date(2026, 4, 28), plan=plan,
    )  # fmt: skip
    decision = BanditDecision.objects.create(
        policy=policy, date=dt.date(2026, 4, 1), allocation={"amazon|sponsored_product": 100.0},
        propensities={"amazon|sponsored_product": 1.0},
    )  # fmt: skip
    batch = IngestBatch.objects.create(
        tenant=tenant, retailer=amazon, source=f"{mark}.csv", mapping_name=f"{mark}_map",
        status=IngestBatch.Status.SUCCEEDED, rows_read=2, rows_loaded=1, rows_quarantined=1, input_bytes=100,
        bytes_read=100, report={"rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1, "facts": 1},
    )  # fmt: skip
    batch.quarantine_file.save("q.csv", ContentFile(f"line,field,reason\n2,spend,{mark}\n".encode()))
    mapping = Mapping.objects.create(
        name=f"{mark}_map", tenant=tenant, retailer=amazon,
        yaml_text=files.MAPPING.replace("tiny_amazon", f"{mark}_map").replace("{max_quarantine_rate}", "0.5"),
    )  # fmt: skip
    job = TrainingJob.objects.create(
        tenant=tenant, adapter_name=f"brand_{mark}", adapter_kind=AdapterKind.BRAND, method=TrainingJob.Method.SFT,
        base_model="base", dataset_path=f"datasets/{mark}.jsonl", status=TrainingJob.Status.RUNNING,
    )  # fmt: skip
    adapter = Adapter.objects.create(
        name=f"brand_{mark}", kind=AdapterKind.BRAND, tenant=tenant, base_model="base", version=1,
        path=f"adapters/brand_{mark}", status=Adapter.Status.ACTIVE, training_job=job,
    )  # fmt: skip
    generation = GenerationRequest.objects.create(
        tenant=tenant, task="budgeting", adapters=["task_budgeting"], prompt={"text": f"objective {mark}"},
        output=f"answer {mark}", status=GenerationRequest.Status.SUCCEEDED,
    )  # fmt: skip
    creative_brief = CreativeBrief.objects.create(
        tenant=tenant, retailer=amazon, brand=brand, goal=f"Goal {mark}", status=CreativeBrief.Status.SUCCEEDED,
        progress={"done": 1, "total": 1}, variants_requested=1,
    )  # fmt: skip
    creative = Creative.objects.create(
        tenant=tenant, brief=creative_brief, retailer=amazon, variant=1, headline=f"Headline {mark}", body="Body",
        compliant=True, status=Creative.Status.IN_REVIEW, verification={"compliant": True, "violations": []},
    )  # fmt: skip
    review_task = ReviewTask.objects.create(tenant=tenant, name=f"Ad copy {mark}", kind=ReviewTask.Kind.CREATIVE)
    Guideline.objects.create(task=review_task, version=1, text=f"Guidelines {mark}")
    review_item = ReviewItem.objects.create(
        tenant=tenant, task=review_task, kind=ReviewItem.Kind.SINGLE, content={"fields": {"headline": f"Copy {mark}"}},
    )  # fmt: skip
    feedback_dataset = feedback_dataset_export(tenant=tenant, task="creative", fmt="dpo")  # its files exist
    loop_job = TrainingJob.objects.create(
        tenant=tenant, adapter_name=f"brand_{mark}", adapter_kind=AdapterKind.BRAND, method=TrainingJob.Method.DPO,
        base_model="base", dataset_path=f"feedback/{mark}/train.jsonl", status=TrainingJob.Status.SUCCEEDED,
    )  # fmt: skip
    loop_candidate = Adapter.objects.create(
        name=f"brand_{mark}", kind=AdapterKind.BRAND, tenant=tenant, base_model="base", version=2,
        path=f"adapters/brand_{mark}-dpo", training_job=loop_job,
    )  # fmt: skip
    gate_decision = GateDecision.objects.create(
        tenant=tenant, candidate=loop_candidate, baseline=adapter, training_job=loop_job, promoted=False,
        reasons=[f"Held: {mark}"], figures={"preference": {"win_rate": 0.5}},
    )  # fmt: skip
    uplift_study = UpliftStudy.objects.create(
        tenant=tenant, name=f"Uplift {mark}", file_name=f"{mark}.csv", rows=100, treated=50, features=["audience"],
        status=UpliftStudy.Status.SUCCEEDED,
    )  # fmt: skip
    clean_room = CleanRoomDataset.objects.create(
        tenant=tenant, slug=f"room-{slug}", name=f"Room {mark}", retailer_code="amazon", rules=default_rules(),
    )  # fmt: skip
    key, _ = api_key_create(tenant=tenant, name=f"key {mark}", role=Role.ADMIN)
    world = TenantWorld(tenant=tenant, canary=mark)
    world.named = {
        "brand": brand, "sku": sku, "campaign": campaign, "study": study, "plan": plan, "experiment": experiment,
        "policy": policy, "decision": decision, "batch": batch, "mapping": mapping, "job": job, "adapter": adapter,
        "generation": generation, "creative_brief": creative_brief, "creative": creative, "api_key": key,
        "retailer_item": RetailerItem.objects.filter(tenant=tenant).first(),
        "review_task": review_task, "review_item": review_item, "feedback_dataset": feedback_dataset,
        "loop_job": loop_job, "gate_decision": gate_decision, "uplift_study": uplift_study, "clean_room": clean_room,
    }  # fmt: skip
    world.objects = {type(obj): obj for obj in world.named.values()}
    world.objects[type(own["batch"])] = batch
    return world


def build_world(*, tenants: dict, catalog: dict, retailers: dict) -> World:
    """Both tenants' objects, the shared ones, and API keys of each role (``world.acme.api_keys["reviewer"]``)."""
    acme = _tenant_world(tenants["acme"], "acme", catalog, retailers)
    globex = _tenant_world(tenants["globex"], "globex", catalog, retailers)
    for world in (acme, globex):
        for role in Role:
            _, world.api_keys[role.value] = api_key_create(tenant=world.tenant, name=f"{role.value} key", role=role)
    shared_job = TrainingJob.objects.create(
        tenant=None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, method=TrainingJob.Method.SFT,
        base_model="base", dataset_path="datasets/task.jsonl", status=TrainingJob.Status.RUNNING,
    )  # fmt: skip
    shared_adapter = Adapter.objects.create(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model="base", version=1,
        path="adapters/task_budgeting", status=Adapter.Status.ACTIVE,
    )  # fmt: skip
    return World(
        acme=acme, globex=globex,
        shared={"retailer": retailers["amazon"], "adapter": shared_adapter, "job": shared_job},
    )  # fmt: skip


def make_user(username: str, *, tenant=None, role: str | None = None, **flags):
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests-123", **flags)
    if tenant is not None:
        Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def _models():
    return sorted((m for m in apps.get_models() if m._meta.app_label in OUR_APPS), key=lambda m: m._meta.label)


def digest() -> dict[str, str]:
    """Model label -> fingerprint of all its rows (volatile columns left out)."""
    out = {}
    for model in _models():
        skip = VOLATILE.get(model, set())
        names = [f.attname for f in model._meta.concrete_fields if f.name not in skip]
        rows = model.objects.order_by("pk").values_list(*names)
        out[model._meta.label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in set(before) | set(after) if before.get(label) != after.get(label))
