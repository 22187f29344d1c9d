"""The generative layer's share of the shared workers: who may start shared training jobs, how many jobs and
generations a tenant may have, how long a prompt may be. Each limit on the pages and the API, a per-tenant override
(governance.TenantLimits) raising or lowering it, and another tenant unaffected."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from governance.limits import FALLBACK
from governance.models import Role, TenantLimits
from governance.services import api_key_create
from ml.models import GenerationRequest, TrainingJob
from ml.tests import test_views
from ml.tests.test_training import sft_rows, write_jsonl
from rmn_site.tests.api_support import API, assert_error, client_for

storage, globex_admin = test_views.storage, test_views.globex_admin
_job, visible = test_views._job, test_views.visible
BRAND_JOB = {"kind": "brand", "task": "creative", "method": "sft", "max_steps": 3}
ACME_DEFAULT = "(the site's default limit; an administrator can change it for your tenant)"
ACME_OVERRIDE = "(limit set for Acme Foods by your administrator)"


@pytest.fixture
def limits(settings):
    settings.TENANT_LIMITS = {**FALLBACK, "training_jobs_at_once": 2, "training_jobs_per_day": 10,
                              "generations_per_day": 1000, "generation_text_chars": 1000}  # fmt: skip
    settings.GENERATION_MAX_MESSAGES, settings.GENERATION_PROMPT_CHARS = 20, 8000
    return settings.TENANT_LIMITS


@pytest.fixture
def base_folder(storage, settings):
    folder = storage / "base"  # training_job_create checks that a local base model folder exists; nothing trains
    folder.mkdir()
    settings.BASE_MODEL = str(folder)
    return folder


@pytest.fixture
def keys(tenants, personas):
    return {
        slug: api_key_create(tenant=tenants[slug], name=f"{slug} admin", role=Role.ADMIN)[1]
        for slug in ("acme", "globex")
    }


def _override(tenant, **values) -> TenantLimits:
    return TenantLimits.objects.update_or_create(tenant=tenant, defaults=values)[0]


# --- shared (task) adapters: staff only ------------------------------------------------------------------------------


def test_an_admin_key_may_not_start_a_shared_task_job_and_nothing_is_written(keys, storage, base_folder, limits):
    body = {"kind": "task", "task": "budgeting", "method": "sft", "max_steps": 3}
    response = client_for(key=keys["acme"]).post(f"{API}/training-jobs/", body, format="json")
    assert_error(response, 403, mentions=("A task adapter is shared by every tenant: only staff may train one",))
    assert not TrainingJob.objects.exists() and not (storage / "datasets").exists()
    # The same admin's brand adapter still trains.
    response = client_for(key=keys["acme"]).post(f"{API}/training-jobs/", BRAND_JOB, format="json")
    assert response.status_code == 202 and response.json()["tenant"] == "acme"


def test_a_tenant_admin_is_not_offered_a_shared_job_on_the_page_and_a_forged_one_is_403(
    client, personas, storage, base_folder, limits
):
    owner = personas["owner"]
    client.force_login(owner)
    page = client.get(reverse("model_jobs")).content.decode()
    assert 'value="brand"' in page and 'value="task"' not in page
    data = {"kind": "task", "task": "budgeting", "method": "sft", "adapter_name": "", "max_steps": "3"}
    response = client.post(reverse("model_jobs"), data)
    assert response.status_code == 403
    assert "only staff may train one" in visible(response.content.decode())
    assert not TrainingJob.objects.exists()

    owner.is_staff = True
    owner.save()
    assert 'value="task"' in client.get(reverse("model_jobs")).content.decode()
    assert client.post(reverse("model_jobs"), data).status_code == 302
    assert TrainingJob.objects.get().tenant is None


# --- training jobs at once and a day ---------------------------------------------------------------------------------


def test_jobs_at_once_are_limited_per_tenant_and_the_next_one_starts_when_one_finishes(
    keys, tenants, catalog, storage, base_folder, limits
):
    acme = tenants["acme"]
    running = _job(acme, status=TrainingJob.Status.RUNNING)
    _job(acme, status=TrainingJob.Status.QUEUED)
    _job(None, adapter_name="task_budgeting", adapter_kind="task")  # shared jobs are not Acme's
    client = client_for(key=keys["acme"])
    error = assert_error(client.post(f"{API}/training-jobs/", BRAND_JOB, format="json"), 429)
    assert error["code"] == "limit_reached"
    assert error["message"] == (
        f"Acme Foods has 2 training jobs queued or running; at most 2 at once {ACME_DEFAULT}. Wait for one to "
        "finish, or cancel one."
    )
    assert TrainingJob.objects.filter(tenant=acme).count() == 2
    assert not list((storage / "datasets").glob("*.jsonl"))  # refused before any data was built

    globex = client_for(key=keys["globex"]).post(f"{API}/training-jobs/", BRAND_JOB, format="json")
    assert globex.status_code == 202  # another tenant is unaffected

    running.status = TrainingJob.Status.SUCCEEDED
    running.save()
    assert client.post(f"{API}/training-jobs/", BRAND_JOB, format="json").status_code == 202
    assert_error(client.post(f"{API}/training-jobs/", BRAND_JOB, format="json"), 429)
    _override(acme, training_jobs_at_once=3)  # raised for Acme
    assert client.post(f"{API}/training-jobs/", BRAND_JOB, format="json").status_code == 202


def test_jobs_a_day_are_limited_with_retry_after_and_older_jobs_do_not_count(
    keys, tenants, catalog, storage, base_folder, limits
):
    acme = tenants["acme"]
    _override(acme, training_jobs_per_day=1)  # lowered for Acme
    done = _job(acme, status=TrainingJob.Status.FAILED)
    client = client_for(key=keys["acme"])
    response = client.post(f"{API}/training-jobs/", BRAND_JOB, format="json")
    error = assert_error(response, 429, mentions=(f"Acme Foods started 1 training job in the last 24 hours; at most 1 "
                                                  f"a day {ACME_OVERRIDE}. The next one may start at",))  # fmt: skip
    assert 86_000 < int(response["Retry-After"]) <= 86_401 and error["code"] == "limit_reached"
    assert client_for(key=keys["globex"]).post(f"{API}/training-jobs/", BRAND_JOB, format="json").status_code == 202

    TrainingJob.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert client.post(f"{API}/training-jobs/", BRAND_JOB, format="json").status_code == 202


def test_the_page_refuses_a_job_past_the_limit_with_429_and_says_why(client, personas, tenants, storage, base_folder,
                                                                     limits):  # fmt: skip
    _override(tenants["acme"], training_jobs_at_once=0)
    client.force_login(personas["owner"])
    data = {"kind": "brand", "task": "creative", "method": "sft", "adapter_name": "", "max_steps": "3"}
    response = client.post(reverse("model_jobs"), data)
    assert response.status_code == 429
    assert f"Acme Foods has 0 training jobs queued or running; at most 0 at once {ACME_OVERRIDE}" in visible(
        response.content.decode()
    )
    assert not TrainingJob.objects.exists()


def test_train_lora_counts_against_the_tenant_unless_the_operator_says_ignore_limits(
    tenants, storage, base_folder, limits, tmp_path
):
    _override(tenants["acme"], training_jobs_at_once=0)
    dataset = write_jsonl(tmp_path / "sft.jsonl", sft_rows())
    args = ["train_lora", "--adapter-type", "brand", "--tenant", "acme", "--method", "sft", "--dataset", str(dataset),
            "--output", str(storage / "adapters" / "brand_ops"), "--queue"]  # fmt: skip
    with pytest.raises(CommandError, match="training_jobs_at_once: Acme Foods has 0 training jobs"):
        call_command(*args, stdout=io.StringIO())
    out = io.StringIO()
    call_command(*args, "--ignore-limits", stdout=out)
    assert "Queued training job" in out.getvalue() and TrainingJob.objects.get().tenant == tenants["acme"]


# --- generations -----------------------------------------------------------------------------------------------------


def _ask(client, text: str):
    body = {"task": "budgeting", "adapters": [], "payload": {"text": text}}
    return client.post(f"{API}/generations/", body, format="json")


def test_a_generation_text_is_at_most_1000_characters_as_on_the_page(keys, tenants, limits):
    client = client_for(key=keys["acme"])
    assert _ask(client, "x" * 1000).status_code == 202
    started = time.perf_counter()
    response = _ask(client, "x" * 1_000_000)
    seconds = time.perf_counter() - started
    refusal = f"The text of payload.text is 1,000,000 characters; at most 1,000 {ACME_DEFAULT}"
    assert_error(response, 400, field="payload", mentions=(refusal,))
    print(f"a 1 MB generation text refused in {seconds:.3f} s")
    assert seconds < 2
    assert_error(_ask(client, "x" * 1001), 400, field="payload", mentions=("1,001 characters; at most 1,000",))

    _override(tenants["acme"], generation_text_chars=2000)  # raised for Acme only
    assert _ask(client, "x" * 1001).status_code == 202
    assert_error(_ask(client_for(key=keys["globex"]), "x" * 1001), 400, field="payload")
    assert GenerationRequest.objects.filter(tenant=tenants["acme"]).count() == 2


def test_a_conversation_is_bounded_in_messages_and_characters(keys, limits):
    client = client_for(key=keys["acme"])

    def ask(messages):
        return client.post(
            f"{API}/generations/", {"adapters": [], "task": "budgeting", "payload": messages}, format="json"
        )

    message = {"role": "user", "content": "x" * 1000}
    assert ask([message] * 7).status_code == 202
    assert_error(ask([message] * 8), 400, field="payload", mentions=("characters in all (as JSON); at most 8,000",))
    assert_error(ask([{"role": "user", "content": "hi"}] * 21), 400, field="payload",
                 mentions=("The conversation has 21 messages; at most 20.",))  # fmt: skip
    long = [{"role": "user", "content": "hi"}, {"role": "user", "content": "x" * 1001}]
    assert_error(ask(long), 400, field="payload", mentions=("The text of message 2 is 1,001 characters",))


def test_generations_a_day_are_limited_per_tenant(keys, tenants, limits):
    _override(tenants["acme"], generations_per_day=2)
    client = client_for(key=keys["acme"])
    assert [_ask(client, "Allocate $1M").status_code for _ in range(2)] == [202, 202]
    response = _ask(client, "Allocate $1M")
    assert_error(response, 429, mentions=(f"Acme Foods asked for 2 generations in the last 24 hours; at most 2 a day "
                                          f"{ACME_OVERRIDE}",))  # fmt: skip
    assert int(response["Retry-After"]) > 86_000
    assert GenerationRequest.objects.filter(tenant=tenants["acme"]).count() == 2
    assert _ask(client_for(key=keys["globex"]), "Allocate $1M").status_code == 202

    GenerationRequest.objects.filter(tenant=tenants["acme"]).update(created_at=timezone.now() - timedelta(days=2))
    assert _ask(client, "Allocate $1M").status_code == 202


def test_try_it_and_the_plans_page_use_the_same_limits(client, personas, tenants, limits):
    client.force_login(personas["marketer"])
    data = {"adapters": [], "mode": "stack", "task": "budgeting", "input": "x" * 1001}
    response = client.post(reverse("model_try"), data)
    assert response.status_code == 400
    assert "The text of payload.text is 1,001 characters; at most 1,000" in visible(response.content.decode())
    response = client.post(reverse("plan_read"), {"text": "x" * 1001})
    assert response.status_code == 400 and "1,001 characters; at most 1,000" in visible(response.content.decode())
    assert not GenerationRequest.objects.exists()

    _override(tenants["acme"], generations_per_day=0)
    response = client.post(reverse("model_try"), {**data, "input": "Allocate $1M"})
    assert response.status_code == 429
    assert "Acme Foods asked for 0 generations in the last 24 hours; at most 0 a day" in visible(
        response.content.decode()
    )
    assert not GenerationRequest.objects.exists()
