"""The generative layer through the partner API: adapters (list, promote, roll back, retire), training jobs (list,
create, cancel) and generations (create, list, retrieve), each scoped to the caller's tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.models import Role
from governance.services import api_key_create
from ml.models import AdapterKind, GenerationRequest, TrainingJob
from ml.tests import test_views
from rmn_site.tests.api_support import API, assert_error, client_for

# The registry fixtures of the page tests (a storage folder, registered adapter versions, a Globex admin).
storage, register, registry, globex_admin = (
    test_views.storage,
    test_views.register,
    test_views.registry,
    test_views.globex_admin,
)
_job, _statuses = test_views._job, test_views._statuses


@pytest.fixture
def acme_keys(tenants, personas):
    _, admin = api_key_create(
        tenant=tenants["acme"], name="Partner admin", role=Role.ADMIN, created_by=personas["owner"]
    )
    _, marketer = api_key_create(
        tenant=tenants["acme"], name="Partner", role=Role.MARKETER, created_by=personas["owner"]
    )
    return {"admin": admin, "marketer": marketer}


def test_adapters_list_shared_and_own_brand_adapters_only(acme_keys, registry):
    response = client_for(key=acme_keys["marketer"]).get(f"{API}/adapters/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted((r["name"], r["version"], r["status"]) for r in rows) == [
        ("brand_acme", 1, "active"),
        ("brand_acme", 2, "candidate"),
        ("task_budgeting", 1, "active"),
        ("task_budgeting", 2, "candidate"),
    ]
    by_version = {(r["name"], r["version"]): r for r in rows}
    assert by_version[("task_budgeting", 2)]["metrics"] == {"exact_match": 0.95}
    assert by_version[("task_budgeting", 2)]["tenant"] is None and by_version[("brand_acme", 1)]["tenant"] == "acme"
    filtered = client_for(key=acme_keys["marketer"]).get(f"{API}/adapters/?kind=brand&status=active").json()
    assert [(r["name"], r["version"]) for r in filtered["results"]] == [("brand_acme", 1)]
    assert_error(client_for(key=acme_keys["marketer"]).get(f"{API}/adapters/?kind=lora"), 400, field="kind")
    globex = registry["globex"]
    assert_error(client_for(key=acme_keys["marketer"]).get(f"{API}/adapters/{globex.pk}/"), 404)


def test_promote_and_rollback_need_manage_tenant_and_staff_for_shared_adapters(acme_keys, personas, registry):
    acme_v2 = registry["acme_v2"]
    url = f"{API}/adapters/{acme_v2.pk}"
    assert_error(client_for(key=acme_keys["marketer"]).post(f"{url}/promote/"), 403, mentions=("manage_tenant",))
    response = client_for(key=acme_keys["admin"]).post(f"{url}/promote/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert _statuses("brand_acme", acme_v2.tenant) == {1: "retired", 2: "active"}
    response = client_for(key=acme_keys["admin"]).post(f"{url}/rollback/")
    assert response.status_code == 200 and response.json()["version"] == 1
    assert _statuses("brand_acme", acme_v2.tenant) == {1: "active", 2: "retired"}

    shared = f"{API}/adapters/{registry['task_v2'].pk}/promote/"
    assert_error(client_for(key=acme_keys["admin"]).post(shared), 403, mentions=("only staff",))
    owner = personas["owner"]
    assert_error(client_for(owner).post(shared), 403, mentions=("only staff",))
    owner.is_staff = True
    owner.save()
    response = client_for(owner).post(shared, {"require_better": "exact_match"}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    assert _statuses("task_budgeting") == {1: "retired", 2: "active"}


def test_promote_require_better_refuses_a_worse_candidate(acme_keys, register, tenants):
    register("brand_acme", AdapterKind.BRAND, tenants["acme"], active=True, metrics={"violation_rate": 0.1})
    worse = register("brand_acme", AdapterKind.BRAND, tenants["acme"], metrics={"violation_rate": 0.3})
    response = client_for(key=acme_keys["admin"]).post(
        f"{API}/adapters/{worse.pk}/promote/", {"require_better": "violation_rate"}, format="json"
    )
    assert_error(response, 400, mentions=("does not beat the active v1", "lower is better"), field="require_better")
    assert _statuses("brand_acme", tenants["acme"]) == {1: "active", 2: "candidate"}


def test_another_tenant_cannot_promote_or_see_acmes_brand_adapter(globex_admin, registry):
    client = client_for(globex_admin)
    for action in ("promote", "rollback", "retire"):
        assert_error(client.post(f"{API}/adapters/{registry['acme_v2'].pk}/{action}/"), 404)
    assert _statuses("brand_acme", registry["acme_v2"].tenant) == {1: "active", 2: "candidate"}


def test_training_jobs_are_scoped_and_cancelled_by_their_tenant_only(acme_keys, globex_admin, tenants):
    acme_job = _job(tenants["acme"], status=TrainingJob.Status.RUNNING, progress={"step": 2, "total_steps": 8})
    globex_job = _job(tenants["globex"], adapter_name="brand_globex")
    shared_job = _job(None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK)
    rows = client_for(key=acme_keys["marketer"]).get(f"{API}/training-jobs/").json()["results"]
    assert {r["id"] for r in rows} == {acme_job.pk, shared_job.pk}
    detail = client_for(key=acme_keys["marketer"]).get(f"{API}/training-jobs/{acme_job.pk}/").json()
    assert detail["fraction_done"] == pytest.approx(0.25) and detail["progress"]["step"] == 2

    assert_error(client_for(globex_admin).post(f"{API}/training-jobs/{acme_job.pk}/cancel/"), 404)
    assert_error(client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/{globex_job.pk}/cancel/"), 404)
    assert_error(client_for(key=acme_keys["marketer"]).post(f"{API}/training-jobs/{acme_job.pk}/cancel/"), 403)
    assert_error(client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/{shared_job.pk}/cancel/"), 403)
    response = client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/{acme_job.pk}/cancel/")
    assert response.status_code == 202 and response.json()["cancel_requested"] is True
    for job in (globex_job, shared_job):
        job.refresh_from_db()
        assert job.cancel_requested is False
    again = client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/{acme_job.pk}/cancel/")
    assert again.status_code == 202  # asking twice is harmless while it runs
    acme_job.status = TrainingJob.Status.CANCELLED
    acme_job.save()
    assert_error(
        client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/{acme_job.pk}/cancel/"),
        400,
        mentions=("already finished (cancelled)",),
    )


def test_training_job_create_names_bad_input(acme_keys, storage):
    client = client_for(key=acme_keys["admin"])
    good = {"kind": "brand", "task": "creative", "method": "sft", "max_steps": 5}
    cases = [
        ({"kind": "retailer"}, "kind"),
        ({"task": "poetry"}, "task"),
        ({"method": "rlhf"}, "method"),
        ({"max_steps": 0}, "max_steps"),
        ({"epochs": 3}, "epochs"),
        ({"task": "budgeting", "method": "dpo"}, "method"),  # DPO on budgeting: no preference pairs
        ({"method": "dpo"}, "method"),  # DPO without an SFT version of brand_acme
    ]
    for change, field in cases:
        assert_error(client.post(f"{API}/training-jobs/", {**good, **change}, format="json"), 400, field=field)
    assert_error(client_for(key=acme_keys["marketer"]).post(f"{API}/training-jobs/", good, format="json"), 403)
    assert not TrainingJob.objects.exists()


def test_generations_are_scoped_to_the_tenant(acme_keys, personas, tenants):
    mine = GenerationRequest.objects.create(tenant=tenants["acme"], task="budgeting", prompt={"text": "a"})
    theirs = GenerationRequest.objects.create(tenant=tenants["globex"], task="budgeting", prompt={"text": "b"})
    rows = client_for(key=acme_keys["marketer"]).get(f"{API}/generations/").json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    assert_error(client_for(key=acme_keys["marketer"]).get(f"{API}/generations/{theirs.pk}/"), 404)
    assert client_for(personas["stranger"]).get(f"{API}/generations/{theirs.pk}/").status_code == 200


def test_generation_create_names_bad_input(acme_keys):
    client = client_for(key=acme_keys["marketer"])
    good = {"task": "budgeting", "adapters": ["task_budgeting"], "payload": {"text": "Allocate $1M"}}
    for change, field in [
        ({"task": "poetry"}, "task"),
        ({"mode": "blend"}, "mode"),
        ({"weights": [0.5, 0.5]}, "weights"),
        ({"payload": None}, "payload"),
    ]:
        assert_error(client.post(f"{API}/generations/", {**good, **change}, format="json"), 400, field=field)
    assert not GenerationRequest.objects.exists()


def test_an_admin_key_starts_a_brand_adapter_job(acme_keys, tenants, catalog, storage, settings):
    (storage / "base").mkdir()
    settings.BASE_MODEL = str(storage / "base")
    body = {"kind": "brand", "task": "creative", "method": "sft", "max_steps": 7}
    response = client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/", body, format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert (data["tenant"], data["adapter_name"], data["status"]) == ("acme", "brand_acme", "queued")
    assert data["params"]["max_steps"] == 7 and data["progress"]["total_steps"] == 7
    job = TrainingJob.objects.get(pk=data["id"])
    assert job.tenant == tenants["acme"] and "Globex" not in Path(job.dataset_path).read_text()
    globex_view = client_for(key=api_key_create(tenant=tenants["globex"], name="g", role=Role.ADMIN)[1])
    assert_error(globex_view.get(f"{API}/training-jobs/{job.pk}/"), 404)


def test_a_generation_with_another_tenants_adapter_is_403_and_stores_nothing(acme_keys, registry, settings):
    settings.BASE_MODEL = test_views.BASE
    client = client_for(key=acme_keys["marketer"])
    body = {"task": "budgeting", "adapters": ["task_budgeting", "brand_globex_secret"], "payload": {"text": "x"}}
    assert_error(client.post(f"{API}/generations/", body, format="json"), 403, mentions=("brand_globex_secret",))
    assert not GenerationRequest.objects.exists()

    body["adapters"] = ["task_budgeting"]
    response = client.post(f"{API}/generations/", body, format="json")
    assert response.status_code == 202
    data = response.json()
    assert (data["status"], data["adapters"], data["prompt"]) == ("queued", ["task_budgeting"], {"text": "x"})
    assert client.get(f"{API}/generations/{data['id']}/").json()["id"] == data["id"]


def test_an_adapter_name_cannot_reach_outside_model_storage(acme_keys, storage, tmp_path):
    client = client_for(key=acme_keys["admin"])
    good = {"kind": "brand", "task": "creative", "method": "sft", "max_steps": 5}
    outside = tmp_path / "outside"
    for name in ["../../outside/x", f"{outside}/x", "..", "task/../../x", "Task_Budgeting", "x" * 101]:
        assert_error(client.post(f"{API}/training-jobs/", {**good, "adapter_name": name}, format="json"), 400,
                     field="adapter_name")  # fmt: skip
    assert not outside.exists() and not (tmp_path / "x").exists()
    assert not TrainingJob.objects.exists()


def test_the_service_checks_the_name_before_it_writes_anything(tenants, storage, tmp_path):
    from core.errors import DomainError
    from ml.jobs import training_job_start

    with pytest.raises(DomainError) as err:
        training_job_start(user=None, tenant=tenants["acme"], kind="brand", task="creative", method="sft",
                           adapter_name="../../escaped", enqueue=False)  # fmt: skip
    assert err.value.field == "adapter_name"
    assert not list(tmp_path.rglob("*escaped*")) and not TrainingJob.objects.exists()
