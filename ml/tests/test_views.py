"""Model pages: the adapter registry with its promote/roll back/retire buttons, training jobs with their polled
progress and cancel button, the training form, and "Try it". Who may see and do what, and the errors people get."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from governance.models import Membership, Role
from ml.jobs import heldout_path, training_job_start
from ml.models import Adapter, AdapterKind, GenerationRequest, TrainingJob
from ml.services import adapter_promote, adapter_register

BASE = "/models/base/SmolLM2-135M-Instruct"


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def storage(db, settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path
    return tmp_path


@pytest.fixture
def register(storage):
    """Register an adapter version whose files exist (a stub adapter_config.json is all the registry checks)."""
    counter = iter(range(10_000))

    def make(name, kind=AdapterKind.TASK, tenant=None, *, active=False, metrics=None):
        path = f"adapters/{name}-{next(counter)}"
        (storage / path).mkdir(parents=True)
        (storage / path / "adapter_config.json").write_text(json.dumps({"r": 8}))
        adapter = adapter_register(name=name, kind=kind, tenant=tenant, base_model=BASE, path=path, metrics=metrics)
        return adapter_promote(adapter=adapter, user=None) if active else adapter

    return make


@pytest.fixture
def globex_admin(tenants, django_user_model):
    user = django_user_model.objects.create_user(username="globex-admin", password="pw-for-tests-123")
    Membership.objects.create(user=user, tenant=tenants["globex"], role=Role.ADMIN)
    return user


@pytest.fixture
def registry(tenants, register):
    """A shared task adapter (v1 active, v2 candidate), Acme's brand adapter and Globex's brand adapter."""
    return {
        "task_v1": register("task_budgeting", active=True, metrics={"exact_match": 0.92}),
        "task_v2": register("task_budgeting", metrics={"exact_match": 0.95}),
        "acme_v1": register("brand_acme", AdapterKind.BRAND, tenants["acme"], active=True),
        "acme_v2": register("brand_acme", AdapterKind.BRAND, tenants["acme"]),
        "globex": register("brand_globex_secret", AdapterKind.BRAND, tenants["globex"], active=True),
    }


def _job(tenant, **fields) -> TrainingJob:
    values = {
        "adapter_name": "brand_acme",
        "adapter_kind": AdapterKind.BRAND,
        "method": TrainingJob.Method.DPO,
        "base_model": BASE,
        "dataset_path": "/tmp/x.jsonl",
    }
    return TrainingJob.objects.create(tenant=tenant, **{**values, **fields})


def _statuses(name, tenant=None) -> dict[int, str]:
    return dict(Adapter.objects.filter(name=name, tenant=tenant).values_list("version", "status"))


# --- adapter registry -------------------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login(client, db):
    for url in (
        reverse("model_adapters"),
        reverse("model_jobs"),
        reverse("model_try"),
        reverse("model_job_detail", args=[1]),
    ):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_the_registry_lists_shared_and_own_brand_adapters_but_never_another_tenants(client, personas, registry):
    client.force_login(personas["marketer"])
    response = client.get(reverse("model_adapters"))
    assert response.status_code == 200
    html = response.content.decode()
    text = visible(html)
    assert html.count('data-adapter="task_budgeting"') == 2 and html.count('data-adapter="brand_acme"') == 2
    assert "brand_globex_secret" not in html
    assert "exact_match 0.950" in text and "SmolLM2-135M-Instruct" in text
    assert 'href="/models/"' in html and 'aria-current="page">Models' in html  # the nav entry


def test_a_marketer_sees_the_registry_without_buttons_and_cannot_post(client, personas, registry):
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_adapters")).content.decode()
    assert "Promote" not in html and "Retire" not in html
    response = client.post(reverse("model_adapter_action", args=[registry["acme_v2"].pk, "promote"]))
    assert response.status_code == 403
    assert _statuses("brand_acme", registry["acme_v2"].tenant) == {1: "active", 2: "candidate"}


def test_a_tenant_admin_manages_the_tenants_brand_adapter_and_only_staff_the_shared_ones(client, personas, registry):
    owner = personas["owner"]
    client.force_login(owner)
    html = client.get(reverse("model_adapters")).content.decode()
    own_buttons = reverse("model_adapter_action", args=[registry["acme_v2"].pk, "promote"])
    shared_buttons = reverse("model_adapter_action", args=[registry["task_v2"].pk, "promote"])
    assert own_buttons in html and shared_buttons not in html

    response = client.post(own_buttons)
    assert response.status_code == 302
    acme = registry["acme_v2"].tenant
    assert _statuses("brand_acme", acme) == {1: "retired", 2: "active"}
    assert "brand_acme v2 is now active." in visible(client.get(reverse("model_adapters")).content.decode())

    client.post(reverse("model_adapter_action", args=[registry["acme_v2"].pk, "rollback"]))
    assert _statuses("brand_acme", acme) == {1: "active", 2: "retired"}

    response = client.post(shared_buttons)
    assert response.status_code == 403
    assert "only staff" in visible(response.content.decode())
    assert _statuses("task_budgeting") == {1: "active", 2: "candidate"}

    owner.is_staff = True
    owner.save()
    assert client.post(shared_buttons).status_code == 302
    assert _statuses("task_budgeting") == {1: "retired", 2: "active"}


def test_another_tenants_admin_gets_404_for_acmes_brand_adapter(client, globex_admin, registry):
    client.force_login(globex_admin)
    for action in ("promote", "rollback", "retire"):
        response = client.post(reverse("model_adapter_action", args=[registry["acme_v2"].pk, action]))
        assert response.status_code == 404
    assert _statuses("brand_acme", registry["acme_v2"].tenant) == {1: "active", 2: "candidate"}


def test_a_refused_action_says_why(client, personas, registry):
    client.force_login(personas["owner"])
    response = client.post(reverse("model_adapter_action", args=[registry["acme_v1"].pk, "promote"]), follow=True)
    assert "brand_acme v1 is already active." in visible(response.content.decode())
    response = client.post(reverse("model_adapter_action", args=[registry["acme_v1"].pk, "bogus"]))
    assert response.status_code == 404


# --- training jobs --------------------------------------------------------------------------------------------------


def test_the_job_page_shows_progress_and_a_loss_curve_and_polls_while_running(client, personas, tenants):
    history = [
        {"step": s, "loss": 2.0 / s, "reward_margin": 0.1 * s, "reward_accuracy": min(1.0, 0.25 * s)}
        for s in (1, 2, 3, 4)
    ]
    job = _job(
        tenants["acme"],
        status=TrainingJob.Status.RUNNING,
        progress={
            "step": 4,
            "total_steps": 10,
            "loss": 0.5,
            "reward_margin": 0.4,
            "reward_accuracy": 1.0,
            "history": history,
        },
    )
    client.force_login(personas["marketer"])
    url = reverse("model_job_detail", args=[job.pk])
    html = client.get(url).content.decode()
    text = visible(html)
    assert f'hx-get="{url}"' in html and "every 2s" in html
    assert "step 4 of 10" in text and 'value="40.0"' in html
    assert "Loss 0.5000" in text and "Reward margin 0.4000" in text and "Reward accuracy 100%" in text
    points = re.search(r'<polyline class="line" points="([^"]+)"', html).group(1).split()
    assert len(points) == 4
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys)  # loss falls, so the line goes down (SVG y grows downwards)
    assert "Cancel" not in html  # marketers may not cancel

    fragment = client.get(url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="job-status"') and "<html" not in body


def test_the_job_list_polls_while_a_job_is_active(client, personas, tenants):
    job = _job(
        tenants["acme"], status=TrainingJob.Status.RUNNING, progress={"step": 5, "total_steps": 40, "loss": 1.25}
    )
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_jobs")).content.decode()
    assert 'hx-get="/models/jobs/"' in html and "every 5s" in html
    fragment = client.get(reverse("model_jobs"), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section class="panel swap-target" id="job-table"')
    assert "5 / 40" in visible(fragment) and "1.2500" in visible(fragment)
    job.status = TrainingJob.Status.SUCCEEDED
    job.save()
    assert "hx-get" not in client.get(reverse("model_jobs")).content.decode()


def test_a_finished_job_stops_polling_and_shows_its_error(client, personas, tenants):
    job = _job(tenants["acme"], status=TrainingJob.Status.FAILED, error="The worker stopped sending heartbeats.")
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_job_detail", args=[job.pk])).content.decode()
    assert "hx-get" not in html
    assert "The worker stopped sending heartbeats." in visible(html)


def test_jobs_of_another_tenant_are_404_and_cannot_be_cancelled(client, personas, globex_admin, tenants):
    job = _job(tenants["acme"], status=TrainingJob.Status.RUNNING)
    client.force_login(globex_admin)
    assert client.get(reverse("model_job_detail", args=[job.pk])).status_code == 404
    assert client.post(reverse("model_job_cancel", args=[job.pk])).status_code == 404
    assert f'data-job="{job.pk}"' not in client.get(reverse("model_jobs")).content.decode()
    job.refresh_from_db()
    assert job.cancel_requested is False


def test_a_tenant_admin_cancels_the_tenants_job(client, personas, tenants):
    job = _job(tenants["acme"], status=TrainingJob.Status.RUNNING, progress={"step": 3, "total_steps": 40})
    client.force_login(personas["marketer"])
    assert client.post(reverse("model_job_cancel", args=[job.pk])).status_code == 403
    client.force_login(personas["owner"])
    page = client.get(reverse("model_job_detail", args=[job.pk])).content.decode()
    assert reverse("model_job_cancel", args=[job.pk]) in page
    response = client.post(reverse("model_job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.cancel_requested is True
    text = visible(response.content.decode())
    assert f"Asked the worker to stop training job #{job.pk}" in text and "Stopping at the next step" in text
    job.status = TrainingJob.Status.SUCCEEDED
    job.save()
    response = client.post(reverse("model_job_cancel", args=[job.pk]), follow=True)
    assert f"Training job #{job.pk} already finished (succeeded)." in visible(response.content.decode())


def test_a_job_queued_too_long_says_so_and_an_admin_sends_it_again(
    client, personas, tenants, settings, django_capture_on_commit_callbacks
):
    settings.ML_JOB_QUEUED_WARN_S = 900
    fresh = _job(tenants["acme"], sent_at=timezone.now() - timedelta(minutes=5))
    stuck = _job(tenants["acme"], sent_at=timezone.now() - timedelta(minutes=20))
    client.force_login(personas["owner"])
    assert "No worker has taken this job" not in visible(
        client.get(reverse("model_job_detail", args=[fresh.pk])).content.decode()
    )
    page = client.get(reverse("model_job_detail", args=[stuck.pk])).content.decode()
    assert "No worker has taken this job" in visible(page)
    assert reverse("model_job_resend", args=[stuck.pk]) in page
    client.force_login(personas["marketer"])
    assert client.post(reverse("model_job_resend", args=[stuck.pk])).status_code == 403
    client.force_login(personas["owner"])
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client.post(reverse("model_job_resend", args=[stuck.pk]), follow=True)
    assert len(sent) == 1  # the message goes out after the commit
    assert f"Sent training job #{stuck.pk} to the gpu queue again." in visible(response.content.decode())
    stuck.refresh_from_db()
    assert timezone.now() - stuck.sent_at < timedelta(minutes=1)
    assert "No worker has taken this job" not in visible(response.content.decode())
    stuck.status = TrainingJob.Status.RUNNING
    stuck.save()
    response = client.post(reverse("model_job_resend", args=[stuck.pk]), follow=True)
    assert f"Training job #{stuck.pk} is running: only a queued job is sent again." in visible(
        response.content.decode()
    )


def test_a_shared_job_is_visible_to_every_tenant_but_cancelled_only_by_staff_or_its_starter(
    client, personas, globex_admin, db
):
    job = _job(None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, created_by=personas["owner"])
    client.force_login(globex_admin)
    html = client.get(reverse("model_job_detail", args=[job.pk])).content.decode()
    assert "task_budgeting" in html and "owner" not in visible(html)  # another tenant's user is not named
    assert client.post(reverse("model_job_cancel", args=[job.pk])).status_code == 403
    client.force_login(personas["owner"])
    assert client.post(reverse("model_job_cancel", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.cancel_requested is True


def test_the_training_form_is_for_admins_and_names_bad_input(client, personas, storage):
    client.force_login(personas["marketer"])
    assert "New training job" not in visible(client.get(reverse("model_jobs")).content.decode())
    assert client.post(reverse("model_jobs"), {"kind": "task"}).status_code == 403

    client.force_login(personas["owner"])
    assert "New training job" in visible(client.get(reverse("model_jobs")).content.decode())
    cases = [
        ({"task": "budgeting", "method": "dpo"}, "DPO needs preference pairs, which exist for the creative task only"),
        ({"kind": "brand", "task": "budgeting"}, "A brand adapter learns creative copy"),
        ({"adapter_name": "Bad Name!"}, "'Bad Name!' is not a valid adapter name"),
        ({"max_steps": "0"}, "greater than or equal to 1"),
        ({"task": "poetry"}, "Select a valid choice. poetry is not one of the available choices."),
    ]
    for change, message in cases:
        data = {"kind": "task", "task": "budgeting", "method": "sft", "adapter_name": "", "max_steps": "40", **change}
        response = client.post(reverse("model_jobs"), data)
        assert response.status_code == 400, change
        assert message in visible(response.content.decode()), change
    assert not TrainingJob.objects.exists()
    assert not (storage / "datasets").exists()


# --- try it ---------------------------------------------------------------------------------------------------------


def test_try_offers_only_the_adapters_the_tenant_may_use(client, personas, registry):
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_try")).content.decode()
    assert 'value="task_budgeting"' in html and 'value="brand_acme"' in html
    assert "brand_globex_secret" not in html


def test_try_names_bad_input(client, personas, registry):
    client.force_login(personas["marketer"])
    cases = [
        ({"task": "creative", "input": "Write me an ad"}, "The creative task takes a JSON object"),
        ({"task": "harmonization", "input": '{"retailer": "amazon",'}, "The input is not valid JSON"),
        ({"adapters": ["task_budgeting"], "mode": "linear", "weights": "0.5, x"}, "'x' is not a number"),
        ({"adapters": ["task_budgeting"], "mode": "linear", "weights": "0.5, 0.5"}, "2 weight(s) for 1 adapter(s)"),
        ({"mode": "blend"}, "Select a valid choice. blend is not one of the available choices."),
    ]
    for change, message in cases:
        data = {"task": "budgeting", "mode": "stack", "input": "Allocate $1M to maximize incremental margin", **change}
        response = client.post(reverse("model_try"), data)
        assert response.status_code == 400, change
        assert message in visible(response.content.decode()), change
    assert not GenerationRequest.objects.exists()


def test_a_reviewer_may_look_but_not_generate(client, personas, registry):
    client.force_login(personas["reviewer"])
    assert "Generate" not in visible(client.get(reverse("model_try")).content.decode())
    assert client.post(reverse("model_try"), {"task": "budgeting", "input": "x"}).status_code == 403


def test_generations_of_another_tenant_are_404(client, personas, tenants):
    generation = GenerationRequest.objects.create(
        tenant=tenants["acme"], task="budgeting", adapters=["task_budgeting"], prompt={"text": "x"}
    )
    client.force_login(personas["stranger"])
    assert client.get(reverse("model_generation_detail", args=[generation.pk])).status_code == 404
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_generation_detail", args=[generation.pk])).content.decode()
    assert "hx-get" in html and "Waiting for a gpu worker" in visible(html)


def test_an_answered_generation_shows_output_and_parsed_json(client, personas, tenants):
    answer = {"budget": 2500000.0, "objective": "incremental_margin", "min_roas": 3.0}
    generation = GenerationRequest.objects.create(
        tenant=tenants["acme"],
        task="budgeting",
        adapters=["task_budgeting"],
        prompt={"text": "Allocate $2.5M"},
        status=GenerationRequest.Status.SUCCEEDED,
        output=json.dumps(answer),
        parsed=answer,
        seconds=0.42,
    )
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_generation_detail", args=[generation.pk])).content.decode()
    assert "hx-get" not in html
    parsed = re.search(r'<pre id="generation-parsed">(.*?)</pre>', html, re.S).group(1)
    assert json.loads(unescape(parsed)) == answer
    assert "0.42 s" in visible(html)


@pytest.fixture
def base_folder(storage, settings):
    # training_job_create checks that a local base model folder exists; the job never runs in these tests.
    folder = storage / "base"
    folder.mkdir()
    settings.BASE_MODEL = str(folder)
    return folder


def test_staff_start_a_task_adapter_job_on_generated_data(
    client, personas, storage, base_folder, django_capture_on_commit_callbacks
):
    owner = personas["owner"]
    owner.is_staff = True  # a shared task adapter: staff only
    owner.save()
    client.force_login(owner)
    data = {"kind": "task", "task": "budgeting", "method": "sft", "adapter_name": "", "max_steps": "5"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("model_jobs"), data)
    job = TrainingJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("model_job_detail", args=[job.pk])
    assert len(callbacks) == 1  # sent to the gpu queue after the commit
    assert (job.tenant, job.adapter_name, job.adapter_kind, job.method) == (None, "task_budgeting", "task", "sft")
    assert job.params["max_steps"] == 5 and job.base_model == str(base_folder)
    rows = [json.loads(line) for line in Path(job.dataset_path).read_text().splitlines()]
    assert rows and all(r["task"] == "budgeting" and r["completion"][0]["role"] == "assistant" for r in rows)
    assert heldout_path(job.dataset_path).is_file()
    assert str(storage / "datasets") in job.dataset_path


def test_a_brand_adapter_learns_from_the_tenants_own_catalog(client, personas, catalog, storage, base_folder):
    client.force_login(personas["owner"])
    data = {"kind": "brand", "task": "creative", "method": "sft", "adapter_name": "", "max_steps": "5"}
    assert client.post(reverse("model_jobs"), data).status_code == 302
    job = TrainingJob.objects.get()
    assert job.tenant == personas["owner"].memberships.get().tenant and job.adapter_name == "brand_acme"
    text = Path(job.dataset_path).read_text()
    assert "Acme Foods Brand" in text and "Globex" not in text


def test_dpo_without_an_sft_version_says_so_and_leaves_no_files(client, personas, storage, base_folder):
    client.force_login(personas["owner"])
    data = {"kind": "brand", "task": "creative", "method": "dpo", "adapter_name": "", "max_steps": "5"}
    response = client.post(reverse("model_jobs"), data)
    assert response.status_code == 400
    assert "DPO starts from an SFT adapter: 'brand_acme' has no version yet" in visible(response.content.decode())
    assert not TrainingJob.objects.exists()
    assert not list((storage / "datasets").glob("*.jsonl"))


def test_try_queues_a_generation_and_refuses_another_tenants_adapter(client, personas, registry, settings):
    settings.BASE_MODEL = BASE
    client.force_login(personas["marketer"])
    data = {"adapters": ["brand_acme", "brand_globex_secret"], "mode": "stack", "task": "budgeting", "input": "x"}
    response = client.post(reverse("model_try"), data)
    assert response.status_code == 403
    assert "Adapter 'brand_globex_secret' does not exist or is not active for this tenant." in visible(
        response.content.decode()
    )
    assert not GenerationRequest.objects.exists()

    data = {
        "adapters": ["task_budgeting", "brand_acme"],
        "mode": "linear",
        "weights": "0.7, 0.3",
        "task": "budgeting",
        "input": "Allocate $2.5M to maximize incremental margin with ROAS >= 3",
    }
    response = client.post(reverse("model_try"), data)
    generation = GenerationRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("model_generation_detail", args=[generation.pk])
    assert generation.tenant == registry["acme_v1"].tenant and generation.adapters == ["task_budgeting", "brand_acme"]
    assert (generation.mode, generation.weights) == ("linear", [0.7, 0.3])
    assert generation.prompt == {"text": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"}


# --- the demo's background training (manage.py demo_train_adapters) ------------------------------------------------


def _demo(*args) -> str:
    out = io.StringIO()
    call_command("demo_train_adapters", *args, stdout=out)
    return out.getvalue()


def test_the_demo_queues_its_task_adapters_once(storage, base_folder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out = _demo("--max-steps", "12")
    jobs = {j.adapter_name: j for j in TrainingJob.objects.all()}
    assert set(jobs) == {"task_budgeting", "task_creative", "task_harmonization"}
    assert len(callbacks) == 3  # each sent to the gpu queue after its commit
    assert all(j.tenant is None and j.method == "sft" and j.params["max_steps"] == 12 for j in jobs.values())
    assert all(heldout_path(j.dataset_path).is_file() for j in jobs.values())
    assert "/models/jobs/" in out and f"task_budgeting: queued job #{jobs['task_budgeting'].pk}" in out

    again = _demo("--max-steps", "12")  # a restarted demo
    assert TrainingJob.objects.count() == 3
    assert f"task_budgeting: job #{jobs['task_budgeting'].pk} is queued." in again


def test_the_demo_leaves_an_existing_adapter_alone_and_names_bad_options(register, base_folder):
    register("task_budgeting", active=True)
    out = _demo("--tasks", "budgeting")
    assert "task_budgeting: v1 is active; not training it again." in out
    assert not TrainingJob.objects.exists()
    with pytest.raises(CommandError, match="--tasks: unknown poetry"):
        _demo("--tasks", "budgeting,poetry")
    with pytest.raises(CommandError, match="--max-steps must be at least 1"):
        _demo("--max-steps", "0")


def test_the_demo_promotes_a_finished_adapter_when_waiting(storage, base_folder, register):
    job = _job(None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, method="sft", status="succeeded")
    candidate = register("task_budgeting")
    candidate.training_job = job
    candidate.save()
    out = _demo("--tasks", "budgeting", "--wait", "--no-evaluate", "--poll", "0")
    assert _statuses("task_budgeting") == {1: "active"}
    assert "task_budgeting v1: promoted without evaluation." in out and "Active demo adapters: task_budgeting" in out


def test_a_budgeting_adapter_behind_the_plan_reader_is_kept_out_shown_and_not_trained_again(
    client, personas, register, base_folder
):
    from ml.services import adapter_retire

    metrics = {"exact_match": 0.3, "json_valid_rate": 0.9, "n_eval": 30.0, "reader_exact_match": 1.0}
    adapter_retire(adapter=register("task_budgeting", metrics=metrics), user=None)
    out = _demo("--tasks", "budgeting")
    assert (
        "task_budgeting: v1 was not promoted (its exact match 0.300 does not beat the plan reader's 1.000 on the "
        "same 30 held-out rows" in out
    )
    assert not TrainingJob.objects.exists()
    client.force_login(personas["marketer"])
    text = visible(client.get(reverse("model_adapters")).content.decode())
    assert "Not promoted: its exact match 0.300 does not beat the plan reader's 1.000" in text


def test_the_jobs_list_shows_a_bar_and_the_time_left(client, personas, tenants):
    started = timezone.now() - timedelta(seconds=100)
    job = _job(tenants["acme"], status="running", started_at=started, progress={"step": 10, "total_steps": 40})
    _job(tenants["acme"], status="queued", progress={"step": 0, "total_steps": 40})
    client.force_login(personas["marketer"])
    html = client.get(reverse("model_jobs")).content.decode()
    row = html.split(f'data-job="{job.pk}"')[1].split("</tr>")[0]
    assert '<progress max="100" value="25"' in row
    assert "about 5 min left" in visible(row)  # 100 s for 10 steps, 30 to go: 300 s
    html = client.get(reverse("model_job_detail", args=[job.pk])).content.decode()
    assert "about 5 min left" in visible(html)


def test_a_restarted_demo_trains_again_and_retries_a_failed_job_once(storage, base_folder, monkeypatch):
    _job(None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, method="sft", status="failed")

    def worker_fails_every_job(_seconds):
        TrainingJob.objects.filter(status="queued").update(status="failed", error="out of memory")

    monkeypatch.setattr("ml.management.commands.demo_train_adapters.time.sleep", worker_fails_every_job)
    out = _demo("--tasks", "budgeting", "--wait", "--poll", "0")
    assert TrainingJob.objects.count() == 3  # the old failure, this run's job and its one retry
    assert out.count("task_budgeting: queued job #") == 2 and "out of memory" in out
    assert "task_budgeting: 2 job(s) did not succeed; giving up." in out and "Active demo adapters: none" in out


def test_a_job_started_on_the_page_trains_registers_and_answers_try_it(
    client, personas, storage, settings, tiny_model_dir, monkeypatch
):
    """In-process, on the tiny Llama: the page's job runs (ml.jobs), its progress and adapter show on the pages, a
    promoted adapter answers a Try it request (ml.inference). The real-worker version lives with ml.jobs' tests."""
    import torch

    from ml.inference import reset_runtime, run_generation_request
    from ml.jobs import run_training_job

    torch.set_num_threads(1)
    settings.BASE_MODEL = str(tiny_model_dir)
    reset_runtime()
    original = training_job_start

    def small(**kwargs):
        return original(**kwargs, n_train=16, n_heldout=4, params={"batch_size": 2, "threads": 1})

    monkeypatch.setattr("ml.views.training_job_start", small)
    owner = personas["owner"]
    owner.is_staff = True  # a shared task adapter: staff promote it
    owner.save()
    client.force_login(owner)
    data = {"kind": "task", "task": "budgeting", "method": "sft", "adapter_name": "", "max_steps": "3"}
    assert client.post(reverse("model_jobs"), data).status_code == 302
    job = run_training_job(TrainingJob.objects.get().pk)
    assert job.status == "succeeded", job.error

    html = client.get(reverse("model_job_detail", args=[job.pk])).content.decode()
    assert "hx-get" not in html and "Succeeded" in html and "task_budgeting v1" in visible(html)
    points = re.search(r'<polyline class="line" points="([^"]+)"', html).group(1).split()
    assert len(points) == len([h for h in job.progress["history"] if h.get("loss") is not None]) == 3

    adapter = Adapter.objects.get(name="task_budgeting")
    client.post(reverse("model_adapter_action", args=[adapter.pk, "promote"]))
    adapter.refresh_from_db()
    assert adapter.status == "active"

    data = {"adapters": ["task_budgeting"], "mode": "stack", "task": "budgeting", "input": "Allocate $1M"}
    assert client.post(reverse("model_try"), data).status_code == 302
    generation = run_generation_request(GenerationRequest.objects.get().pk, max_new_tokens=8)
    assert generation.status == "succeeded", generation.error
    html = client.get(reverse("model_generation_detail", args=[generation.pk])).content.decode()
    assert unescape(re.search(r'<pre id="generation-output">(.*?)</pre>', html, re.S).group(1)) == generation.output
    if generation.parsed is None:  # an untrained tiny model rarely writes valid JSON
        assert "The output is not valid JSON of the budgeting task's shape." in visible(html)
    reset_runtime()
