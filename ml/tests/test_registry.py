import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from core.errors import DomainError
from governance.models import AuditLog
from ml.models import Adapter, AdapterKind, TrainingJob
from ml.selectors import (
    AdapterForbidden,
    adapter_active,
    adapter_versions,
    adapters_visible_to,
    authorize_composition,
    training_jobs_visible_to,
)
from ml.services import adapter_promote, adapter_register, adapter_retire, adapter_rollback

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture
def storage(db, settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path
    return tmp_path


@pytest.fixture
def register(storage):
    def make(name, kind=AdapterKind.TASK, tenant=None, metrics=None, user=None, path=None):
        path = path or f"adapters/{name}-{len(list(storage.rglob('adapter_config.json')))}"
        (storage / path).mkdir(parents=True)
        (storage / path / "adapter_config.json").write_text(json.dumps({"r": 8}))
        return adapter_register(
            name=name, kind=kind, tenant=tenant, base_model=BASE, path=path, metrics=metrics, user=user
        )

    return make


def _statuses(name, tenant=None):
    return dict(Adapter.objects.filter(name=name, tenant=tenant).values_list("version", "status"))


def test_it_numbers_versions_per_name_and_scope(tenants, register):
    assert [register("task_budgeting").version for _ in range(3)] == [1, 2, 3]
    assert register("brand_tone", AdapterKind.BRAND, tenants["acme"]).version == 1
    assert register("brand_tone", AdapterKind.BRAND, tenants["globex"]).version == 1
    assert register("brand_tone", AdapterKind.BRAND, tenants["acme"]).version == 2
    assert set(_statuses("task_budgeting").values()) == {"candidate"}


def test_it_refuses_a_brand_adapter_without_a_tenant_and_a_shared_one_with_a_tenant(tenants, register):
    with pytest.raises(DomainError) as exc:
        register("brand_tone", AdapterKind.BRAND, None)
    assert exc.value.field == "tenant" and "belongs to one tenant" in exc.value.message
    with pytest.raises(DomainError) as exc:
        register("retailer_walmart", AdapterKind.RETAILER, tenants["acme"])
    assert exc.value.field == "tenant" and "shared by all tenants" in exc.value.message
    assert not Adapter.objects.exists()


def test_model_clean_and_the_database_both_enforce_the_kind_tenant_rule(tenants):
    brand = Adapter(name="brand_tone", kind=AdapterKind.BRAND, tenant=None, base_model=BASE, version=1, path="a")
    with pytest.raises(ValidationError) as exc:
        brand.full_clean()
    assert "tenant" in exc.value.message_dict
    task = Adapter(name="task_x", kind=AdapterKind.TASK, tenant=tenants["acme"], base_model=BASE, version=1, path="a")
    with pytest.raises(ValidationError):
        task.full_clean()
    for bad in (brand, task):
        with pytest.raises(IntegrityError), transaction.atomic():
            bad.save()
    assert not Adapter.objects.exists()


def test_it_refuses_paths_outside_the_storage_dir_and_missing_files(register, storage):
    with pytest.raises(DomainError) as exc:
        adapter_register(name="task_x", kind="task", tenant=None, base_model=BASE, path="../etc")
    assert exc.value.field == "path"
    (storage / "empty").mkdir()
    with pytest.raises(DomainError) as exc:
        adapter_register(name="task_x", kind="task", tenant=None, base_model=BASE, path="empty")
    assert exc.value.field == "path" and "adapter_config.json" in exc.value.message


def test_it_keeps_one_kind_per_name(tenants, register):
    register("task_creative")
    with pytest.raises(DomainError) as exc:
        register("task_creative", AdapterKind.BRAND, tenants["acme"])
    assert exc.value.field == "name" and "task adapter" in exc.value.message


def test_the_database_allows_one_active_version_per_name_and_scope(tenants, register):
    shared = [register("task_budgeting") for _ in range(2)]
    acme = [register("brand_tone", AdapterKind.BRAND, tenants["acme"]) for _ in range(2)]
    globex = register("brand_tone", AdapterKind.BRAND, tenants["globex"])
    for first, second in (shared, acme):
        Adapter.objects.filter(pk=first.pk).update(status="active")
        with pytest.raises(IntegrityError), transaction.atomic():
            Adapter.objects.filter(pk=second.pk).update(status="active")
    # Another tenant's adapter of the same name is another scope.
    Adapter.objects.filter(pk=globex.pk).update(status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        Adapter.objects.create(name="task_budgeting", kind="task", base_model=BASE, version=1, path="dup")


def test_promote_retires_the_active_version_and_audits(personas, register):
    v1, v2 = register("task_budgeting"), register("task_budgeting")
    adapter_promote(adapter=v1, user=personas["owner"])
    adapter_promote(adapter=v2, user=personas["owner"])
    assert _statuses("task_budgeting") == {1: "retired", 2: "active"}
    entry = AuditLog.objects.filter(action="adapter.promote").first()
    assert entry.object_id == str(v2.pk) and entry.detail["retired_version"] == 1
    assert entry.actor_label == "user:owner"
    with pytest.raises(DomainError, match="already active"):
        adapter_promote(adapter=v2, user=None)


def test_promote_with_require_better_compares_with_the_active_version(register):
    v1 = register("task_budgeting", metrics={"exact_match": 0.80, "policy_violation_rate": 0.10})
    adapter_promote(adapter=v1, user=None, require_better="exact_match")  # nothing active yet: first one goes in
    better = register("task_budgeting", metrics={"exact_match": 0.93, "policy_violation_rate": 0.20})
    adapter_promote(adapter=better, user=None, require_better="exact_match")
    assert _statuses("task_budgeting") == {1: "retired", 2: "active"}
    assert AuditLog.objects.filter(action="adapter.promote").first().detail["active_value"] == pytest.approx(0.80)

    worse = register("task_budgeting", metrics={"exact_match": 0.91, "policy_violation_rate": 0.05})
    audits = AuditLog.objects.count()
    with pytest.raises(DomainError) as exc:
        adapter_promote(adapter=worse, user=None, require_better="exact_match")
    assert exc.value.field == "require_better"
    assert "0.91 vs 0.93" in exc.value.message and "exact_match" in exc.value.message
    assert _statuses("task_budgeting") == {1: "retired", 2: "active", 3: "candidate"}
    assert AuditLog.objects.count() == audits

    # Lower is better for violation rates: 0.05 beats the active 0.20.
    adapter_promote(adapter=worse, user=None, require_better="policy_violation_rate")
    assert _statuses("task_budgeting")[3] == "active"


def test_promote_with_require_better_needs_the_metric_on_both_versions(register):
    adapter_promote(adapter=register("task_budgeting", metrics={"f1": 0.9}), user=None)
    candidate = register("task_budgeting", metrics={"exact_match": 0.99})
    with pytest.raises(DomainError, match="v1 has no evaluation result for 'exact_match'"):
        adapter_promote(adapter=candidate, user=None, require_better="exact_match")
    with pytest.raises(DomainError, match="v2 has no evaluation result for 'f1'"):
        adapter_promote(adapter=candidate, user=None, require_better="f1")
    assert _statuses("task_budgeting") == {1: "active", 2: "candidate"}


def test_rollback_reactivates_the_previous_version(tenants, personas, register):
    versions = [register("brand_tone", AdapterKind.BRAND, tenants["acme"]) for _ in range(3)]
    for adapter in versions:
        adapter_promote(adapter=adapter, user=None)
    back = adapter_rollback(name="brand_tone", tenant=tenants["acme"], user=personas["owner"])
    assert back.version == 2
    assert _statuses("brand_tone", tenants["acme"]) == {1: "retired", 2: "active", 3: "retired"}
    entry = AuditLog.objects.get(action="adapter.rollback")
    assert entry.tenant == tenants["acme"] and entry.detail == {
        "name": "brand_tone",
        "from_version": 3,
        "to_version": 2,
    }
    adapter_rollback(name="brand_tone", tenant=tenants["acme"], user=None)
    with pytest.raises(DomainError, match="no earlier retired version"):
        adapter_rollback(name="brand_tone", tenant=tenants["acme"], user=None)
    assert _statuses("brand_tone", tenants["acme"]) == {1: "active", 2: "retired", 3: "retired"}
    with pytest.raises(DomainError, match="no active version"):
        adapter_rollback(name="brand_tone", tenant=tenants["globex"], user=None)


def test_retire_leaves_no_active_version(register):
    adapter = adapter_promote(adapter=register("task_budgeting"), user=None)
    adapter_retire(adapter=adapter, user=None)
    assert adapter_active("task_budgeting", None) is None
    assert AuditLog.objects.filter(action="adapter.retire", detail__was="active").exists()


def test_a_tenant_sees_shared_adapters_and_only_its_own_brand_adapters(tenants, register):
    register("task_creative")
    register("retailer_walmart", AdapterKind.RETAILER)
    register("brand_acme", AdapterKind.BRAND, tenants["acme"])
    register("brand_globex", AdapterKind.BRAND, tenants["globex"])
    visible = set(adapters_visible_to(tenants["acme"]).values_list("name", flat=True))
    assert visible == {"task_creative", "retailer_walmart", "brand_acme"}
    assert set(adapters_visible_to(None).values_list("name", flat=True)) == {"task_creative", "retailer_walmart"}
    assert [a.version for a in adapter_versions("brand_acme", tenants["acme"])] == [1]
    assert not adapter_versions("brand_acme", tenants["globex"]).exists()
    jobs = {
        key: TrainingJob.objects.create(
            tenant=tenant, adapter_name=f"brand_{key}", adapter_kind="brand", method="sft", base_model=BASE
        )
        for key, tenant in tenants.items()
    }
    assert list(training_jobs_visible_to(tenants["acme"])) == [jobs["acme"]]


def test_authorize_composition_resolves_active_adapters_in_order(tenants, register):
    for name, kind, tenant in [
        ("retailer_walmart", AdapterKind.RETAILER, None),
        ("brand_acme", AdapterKind.BRAND, tenants["acme"]),
        ("task_creative", AdapterKind.TASK, None),
    ]:
        register(name, kind, tenant)
        adapter_promote(adapter=register(name, kind, tenant), user=None)
    adapters = authorize_composition(tenants["acme"], ["retailer_walmart", "brand_acme", "task_creative"])
    assert [(a.name, a.version) for a in adapters] == [("retailer_walmart", 2), ("brand_acme", 2), ("task_creative", 2)]
    with pytest.raises(DomainError, match="trained on"):
        authorize_composition(tenants["acme"], ["task_creative"], base_model="meta-llama/Llama-3.1-8B-Instruct")
    with pytest.raises(DomainError, match="listed twice"):
        authorize_composition(tenants["acme"], ["task_creative", "task_creative"])


def test_authorize_composition_refuses_another_tenants_brand_adapter_and_inactive_ones(tenants, register):
    adapter_promote(adapter=register("task_creative"), user=None)
    adapter_promote(adapter=register("brand_acme", AdapterKind.BRAND, tenants["acme"]), user=None)
    register("task_measurement")  # a candidate only
    refusals = [
        (tenants["globex"], ["task_creative", "brand_acme"]),
        (None, ["brand_acme"]),
        (tenants["acme"], ["task_creative", "task_measurement"]),
        (tenants["acme"], ["task_nonexistent"]),
    ]
    for tenant, names in refusals:
        with pytest.raises(AdapterForbidden) as exc:
            authorize_composition(tenant, names)
        assert exc.value.code == "forbidden" and exc.value.field == "adapters"
        assert isinstance(exc.value, PermissionDenied)
        assert "does not exist or is not active for this tenant" in exc.value.message
    # The same message for another tenant's adapter and one that does not exist: nothing leaks.
    assert authorize_composition(tenants["acme"], ["brand_acme"])[0].tenant == tenants["acme"]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _action(admin_client, action, adapters):
    return admin_client.post(
        reverse("admin:ml_adapter_changelist"),
        {"action": action, "_selected_action": [a.pk for a in adapters]},
        follow=True,
    )


def test_admin_actions_promote_roll_back_and_retire(admin_client, superuser, tenants, register):
    v1, v2 = register("task_budgeting", metrics={"exact_match": 0.8}), register("task_budgeting")
    assert _action(admin_client, "promote", [v1]).status_code == 200
    _action(admin_client, "promote", [v2])
    assert _statuses("task_budgeting") == {1: "retired", 2: "active"}
    assert AuditLog.objects.filter(action="adapter.promote", actor_user=superuser).count() == 2

    response = _action(admin_client, "rollback", [v1, v2])  # one rollback for the name, however many are ticked
    assert _statuses("task_budgeting") == {1: "active", 2: "retired"}
    assert "Rolled back 1." in response.content.decode()

    response = _action(admin_client, "rollback", [v1])
    assert "no earlier retired version" in response.content.decode()
    _action(admin_client, "retire", [v1])
    assert _statuses("task_budgeting") == {1: "retired", 2: "retired"}


def test_admin_shows_metrics_and_progress_read_only(admin_client, tenants, register):
    adapter = register("task_budgeting", metrics={"exact_match": 0.93})
    job = TrainingJob.objects.create(
        adapter_name="task_budgeting",
        adapter_kind="task",
        method="dpo",
        base_model=BASE,
        dataset_path="d.jsonl",
        status="running",
        progress={"step": 3, "total_steps": 30, "loss": 0.7},
    )
    change = reverse("admin:ml_adapter_change", args=[adapter.pk])
    page = admin_client.get(change).content.decode()
    assert "0.93" in page and 'name="metrics"' not in page
    admin_client.post(change, {"metrics": '{"exact_match": 1.0}', "status": "active"})
    adapter.refresh_from_db()
    assert adapter.metrics == {"exact_match": 0.93} and adapter.status == "candidate"

    changelist = admin_client.get(reverse("admin:ml_trainingjob_changelist")).content.decode()
    assert "3/30" in changelist
    assert (
        'name="progress"'
        not in admin_client.get(reverse("admin:ml_trainingjob_change", args=[job.pk])).content.decode()
    )
    admin_client.post(
        reverse("admin:ml_trainingjob_changelist"), {"action": "request_cancel", "_selected_action": [job.pk]}
    )
    job.refresh_from_db()
    assert job.cancel_requested and AuditLog.objects.filter(action="training_job.cancel").exists()
