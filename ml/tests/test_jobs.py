"""Training jobs: validation, the real gpu worker running SFT, DPO and QLoRA end to end, cancel, a dead worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.errors import DomainError
from governance.models import AuditLog
from ml import jobs
from ml.engine import training
from ml.models import Adapter, TrainingJob
from ml.tests.test_training import dpo_rows, sft_rows, write_jsonl
from rmn_site.celery import app

REPO = Path(__file__).resolve().parents[2]
FAST = {"max_steps": 3, "batch_size": 2, "threads": 1}


@pytest.fixture
def sft_data(tmp_path):
    return write_jsonl(tmp_path / "sft.jsonl", sft_rows())


@pytest.fixture
def dpo_data(tmp_path):
    return write_jsonl(tmp_path / "dpo.jsonl", dpo_rows())


@pytest.fixture
def storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    return settings.MODEL_STORAGE_DIR


@pytest.fixture
def worker_storage(settings, worker_model_dir, tiny_model_dir):
    # The worker process reads these from its environment (conftest: celery_worker_process); this side must agree.
    settings.MODEL_STORAGE_DIR = worker_model_dir
    settings.BASE_MODEL = str(tiny_model_dir)
    return worker_model_dir


def create(tiny_model_dir, dataset, *, name="task_budgeting", method="sft", enqueue=False, **kwargs):
    kwargs.setdefault("params", dict(FAST))
    kwargs.setdefault("tenant", None)
    kwargs.setdefault("adapter_kind", "task")
    kwargs.setdefault("base_model", str(tiny_model_dir))
    kwargs.setdefault("operator", True)  # as the train_lora command: shared adapters need no staff user
    return jobs.training_job_create(
        user=None, adapter_name=name, method=method, dataset_path=str(dataset), enqueue=enqueue, **kwargs
    )


def wait_for(job: TrainingJob, done, *, timeout: float = 120) -> TrainingJob:
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if done(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job #{job.pk} still {job.status} (progress {job.progress}, error {job.error!r})")
        time.sleep(0.1)


def finished(job: TrainingJob) -> bool:
    return job.status in TrainingJob.FINISHED


def assert_no_partial_files(storage: Path, job: TrainingJob) -> None:
    assert training.partial_dirs(storage / job.output_dir) == []


def test_it_runs_on_the_gpu_queue():
    route = app.amqp.router.route({}, "ml.train_adapter", args=(1,), kwargs={})
    assert route["queue"].name == "gpu"


def test_it_refuses_bad_job_requests_naming_the_field(db, tenants, tiny_model_dir, sft_data, dpo_data, storage):
    def refused(**kwargs) -> DomainError:
        with pytest.raises(DomainError) as caught:
            create(tiny_model_dir, kwargs.pop("dataset", sft_data), **kwargs)
        return caught.value

    assert refused(adapter_kind="lora").field == "adapter_kind"
    assert refused(method="ppo").field == "method"
    assert "belongs to one tenant" in refused(adapter_kind="brand", name="brand_acme").message
    assert refused(tenant=tenants["acme"]).field == "tenant"  # a task adapter is shared
    e = refused(dataset=storage / "missing.jsonl")
    assert e.field == "dataset_path" and "missing.jsonl does not exist" in e.message
    e = refused(dataset=dpo_data)
    assert e.field == "dataset_path" and "dpo.jsonl line 1 lacks 'completion'" in e.message
    e = refused(params={"max_steps": 3, "epochs": 2})
    assert e.field == "params" and "unknown epochs" in e.message
    assert "max_steps must be a whole number" in refused(params={"max_steps": 0}).message
    e = refused(method="dpo", dataset=dpo_data)
    assert e.field == "reference_adapter" and "has no version yet" in e.message
    e = refused(base_model=str(storage / "no-such-model"))
    assert e.field == "base_model" and "prepare_base_model" in e.message
    assert TrainingJob.objects.count() == 0 and AuditLog.objects.filter(action="training_job.create").count() == 0


def test_a_tenant_cannot_start_dpo_from_another_tenants_brand_adapter(db, tenants, tiny_model_dir, dpo_data, storage):
    folder = storage / "adapters" / "globex-voice"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    theirs = Adapter.objects.create(
        name="brand_voice", kind="brand", tenant=tenants["globex"], base_model=str(tiny_model_dir), version=1,
        path="adapters/globex-voice",
    )  # fmt: skip
    with pytest.raises(DomainError, match=f"Reference adapter #{theirs.pk} does not exist"):
        create(
            tiny_model_dir, dpo_data, name="brand_voice", method="dpo", adapter_kind="brand", tenant=tenants["acme"],
            params={**FAST, "reference_adapter": theirs.pk},
        )  # fmt: skip
    job = create(
        tiny_model_dir, dpo_data, name="brand_voice", method="dpo", adapter_kind="brand", tenant=tenants["globex"],
        params={**FAST, "reference_adapter": theirs.pk},
    )  # fmt: skip
    assert job.params["reference_adapter"] == "adapters/globex-voice"
    assert job.output_dir == f"adapters/globex/brand_voice-job{job.pk}"


def test_it_stores_a_queued_job_audits_it_and_sends_it_after_commit(
    db, tiny_model_dir, sft_data, storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = create(tiny_model_dir, sft_data, enqueue=True)
    assert len(callbacks) == 1  # sent only once the row is committed, so the worker always finds it
    assert (
        job.status == "queued" and len(job.task_id) == 36 and job.output_dir == f"adapters/task_budgeting-job{job.pk}"
    )
    assert job.progress == {"step": 0, "total_steps": 3, "history": []}
    assert job.dataset_path == str(sft_data) and job.params == FAST
    entry = AuditLog.objects.get(action="training_job.create")
    assert entry.object_id == str(job.pk) and entry.detail["rows"] == 6


def test_it_runs_a_job_only_once(db, tiny_model_dir, sft_data, storage):
    job = create(tiny_model_dir, sft_data)
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded", progress={"step": 3})
    again = jobs.run_training_job(job.pk)
    assert again.status == "succeeded" and again.progress == {"step": 3} and not Adapter.objects.exists()
    assert not (storage / job.output_dir).exists()

    cancelled_early = create(tiny_model_dir, sft_data, name="task_other")
    TrainingJob.objects.filter(pk=cancelled_early.pk).update(cancel_requested=True)
    assert jobs.run_training_job(cancelled_early.pk).status == "cancelled"
    assert not (storage / cancelled_early.output_dir).exists()


def test_a_job_whose_adapter_cannot_be_registered_fails_and_keeps_no_files(db, tiny_model_dir, sft_data, storage):
    job = create(tiny_model_dir, sft_data, name="task_clash")
    # Between the request and the end of training, someone registers the name for another kind.
    folder = storage / "adapters" / "elsewhere"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    Adapter.objects.create(name="task_clash", kind="retailer", base_model="x", version=1, path="adapters/elsewhere")
    job = jobs.run_training_job(job.pk)
    assert job.status == "failed" and "already used by a retailer adapter" in job.error
    assert Adapter.objects.filter(training_job=job).count() == 0
    assert not (storage / job.output_dir).exists()
    assert_no_partial_files(storage, job)


def test_a_job_reaped_while_its_worker_still_runs_stops_and_keeps_nothing(db, tiny_model_dir, sft_data, storage):
    job = create(tiny_model_dir, sft_data, params={**FAST, "max_steps": 50})
    # A reaper with a limit in the future takes the job away after step 1, as if the heartbeats had been lost.
    job = jobs.run_training_job(job.pk, on_progress=lambda entry: jobs.reap_dead_jobs(stale_after_s=-60))
    assert job.status == "failed" and "stopped sending heartbeats" in job.error
    assert job.progress["step"] == 1  # stopped at the end of step 2, whose progress it no longer wrote
    assert not Adapter.objects.exists() and not (storage / job.output_dir).exists()
    assert_no_partial_files(storage, job)


def test_it_reaps_only_jobs_whose_heartbeat_went_stale(db, tiny_model_dir, sft_data, storage):
    dead, alive = create(tiny_model_dir, sft_data), create(tiny_model_dir, sft_data, name="task_alive")
    now = timezone.now()
    TrainingJob.objects.filter(pk=dead.pk).update(
        status="running", worker="gpu-1:4242", heartbeat_at=now - timedelta(seconds=300)
    )
    TrainingJob.objects.filter(pk=alive.pk).update(
        status="running", worker="gpu-2:99", heartbeat_at=now - timedelta(seconds=30)
    )
    partial = training.partial_dir(storage / dead.output_dir, pid=4242)
    partial.mkdir(parents=True)
    (partial / "adapter_model.safetensors").write_bytes(b"half")
    renamed = storage / dead.output_dir  # renamed into place, then the worker died before registering it
    renamed.mkdir()

    assert jobs.reap_dead_jobs() == 1  # default limit: 120 s
    dead.refresh_from_db(), alive.refresh_from_db()
    assert dead.status == "failed" and dead.finished_at is not None
    assert dead.error.startswith("The worker gpu-1:4242 stopped sending heartbeats (died?)")
    assert alive.status == "running" and not alive.error
    assert not partial.exists() and not renamed.exists()
    assert AuditLog.objects.filter(action="training_job.reap", object_id=str(dead.pk)).count() == 1
    assert jobs.reap_dead_jobs(stale_after_s=10) == 1 and jobs.reap_dead_jobs(stale_after_s=10) == 0


def test_a_job_of_a_vanished_process_on_this_host_is_reaped_after_two_missed_heartbeats(
    db, tiny_model_dir, sft_data, storage
):
    import socket

    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    rows = {
        "vanished": (f"{host}:{gone.pid}", 30),  # 30 s > 2 x 10 s heartbeat interval, pid gone: dead for sure
        "recent": (f"{host}:{gone.pid}", 5),  # may still be starting up its heartbeat: wait
        "alive": (f"{host}:{os.getppid()}", 30),  # slow but its process exists: wait for the 120 s rule
        "elsewhere": (f"other-host:{gone.pid}", 30),  # another machine's pid means nothing here
    }
    created = {}
    for name, (worker, age) in rows.items():
        job = create(tiny_model_dir, sft_data, name=f"task_{name}")
        TrainingJob.objects.filter(pk=job.pk).update(
            status="running", worker=worker, heartbeat_at=timezone.now() - timedelta(seconds=age)
        )
        created[name] = job
    assert jobs.reap_dead_jobs() == 1
    statuses = {name: TrainingJob.objects.get(pk=job.pk).status for name, job in created.items()}
    assert statuses == {"vanished": "failed", "recent": "running", "alive": "running", "elsewhere": "running"}
    assert "its process is gone" in TrainingJob.objects.get(pk=created["vanished"].pk).error


# --- through the real worker --------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_trains_sft_then_dpo_from_it_and_registers_candidates(
    celery_worker_process, worker_storage, tiny_model_dir, sft_data, dpo_data
):
    with_progress = {**FAST, "max_steps": 4}
    sft = wait_for(
        create(tiny_model_dir, sft_data, name="task_wk_budget", enqueue=True, params=with_progress), finished
    )
    assert sft.status == "succeeded", sft.error
    assert sft.worker.rsplit(":", 1)[1] == str(celery_worker_process.pid)  # it ran in the worker, not here
    assert [h["step"] for h in sft.progress["history"]] == [1, 2, 3, 4]
    assert sft.progress["step"] == sft.progress["total_steps"] == 4
    assert sft.progress["final_loss"] == sft.progress["history"][-1]["loss"] < sft.progress["history"][0]["loss"]
    v1 = Adapter.objects.get(training_job=sft)
    assert (v1.name, v1.kind, v1.version, v1.status, v1.tenant) == ("task_wk_budget", "task", 1, "candidate", None)
    assert v1.path == sft.output_dir and (v1.files_dir / "adapter_model.safetensors").is_file()
    assert json.loads((v1.files_dir / "rmn-adapter.json").read_text())["steps"] == 4
    assert_no_partial_files(worker_storage, sft)

    dpo = create(tiny_model_dir, dpo_data, name="task_wk_budget", method="dpo", enqueue=True)
    assert dpo.params["reference_adapter"] == v1.path and dpo.params["reference_adapter_id"] == v1.pk
    dpo = wait_for(dpo, finished)
    assert dpo.status == "succeeded", dpo.error
    history = dpo.progress["history"]
    assert [h["step"] for h in history] == [1, 2, 3]
    assert all({"reward_margin", "reward_accuracy"} <= h.keys() for h in history)
    assert history[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)  # the reference is the SFT adapter itself
    v2 = Adapter.objects.get(training_job=dpo)
    assert (v2.name, v2.version, v2.status) == ("task_wk_budget", 2, "candidate")
    assert json.loads((v2.files_dir / "rmn-adapter.json").read_text())["method"] == "dpo"
    assert AuditLog.objects.filter(action="adapter.register").count() == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_trains_qlora_on_a_4bit_base(celery_worker_process, worker_storage, tiny_model_dir, sft_data):
    job = wait_for(create(tiny_model_dir, sft_data, name="task_wk_qlora", method="qlora", enqueue=True), finished)
    assert job.status == "succeeded", job.error
    assert [h["step"] for h in job.progress["history"]] == [1, 2, 3]
    adapter = Adapter.objects.get(training_job=job)
    assert adapter.version == 1 and (adapter.files_dir / "adapter_config.json").is_file()
    assert json.loads((adapter.files_dir / "rmn-adapter.json").read_text())["method"] == "qlora"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_message_was_lost_is_flagged_and_runs_once_when_sent_again(
    celery_worker_process, worker_storage, tiny_model_dir, sft_data, settings
):
    job = create(tiny_model_dir, sft_data, name="task_wk_resend", enqueue=False)  # queued, its message never sent
    settings.ML_JOB_QUEUED_WARN_S = 60
    assert not jobs.queued_too_long(job)
    assert jobs.queued_too_long(job, now=timezone.now() + timedelta(seconds=61))
    jobs.training_job_resend(job=job, user=None)
    jobs.training_job_resend(job=job, user=None)  # twice: the second message must find nothing to do
    job = wait_for(job, finished)
    assert job.status == "succeeded", job.error
    assert not jobs.queued_too_long(job, now=timezone.now() + timedelta(days=1))
    assert Adapter.objects.filter(training_job=job).count() == 1
    assert AuditLog.objects.filter(action="training_job.resend", object_id=str(job.pk)).count() == 2
    with pytest.raises(DomainError, match=f"Training job #{job.pk} is succeeded: only a queued job is sent again"):
        jobs.training_job_resend(job=job, user=None)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_cancelled_job_stops_on_the_worker_and_registers_nothing(
    celery_worker_process, worker_storage, tiny_model_dir, sft_data
):
    from ml.services import training_job_request_cancel

    job = create(tiny_model_dir, sft_data, name="task_wk_cancel", enqueue=True, params={**FAST, "max_steps": 5000})
    job = wait_for(job, lambda j: j.progress.get("step", 0) >= 1 or finished(j))
    assert job.status == "running"
    training_job_request_cancel(job=job, user=None)
    job = wait_for(job, finished, timeout=60)
    assert job.status == "cancelled" and job.progress["step"] < 5000
    assert not Adapter.objects.exists()
    assert not (worker_storage / job.output_dir).exists()
    assert_no_partial_files(worker_storage, job)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_leaves_a_failed_job_and_no_adapter(
    celery_worker_process, worker_storage, tiny_model_dir, sft_data
):
    from django.db import connection

    from conftest import _database_url_for_worker

    job = create(tiny_model_dir, sft_data, name="task_wk_dead", params={**FAST, "max_steps": 100_000})
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_worker(connection.settings_dict),
        "DATABASE_CONN_MAX_AGE": "0",
        "MODEL_STORAGE_DIR": str(worker_storage),
        "OMP_NUM_THREADS": "1",
    }
    code = f"import django; django.setup(); from ml.jobs import run_training_job; run_training_job({job.pk})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, start_new_session=True)
    try:
        job = wait_for(job, lambda j: j.progress.get("step", 0) >= 2 or finished(j) or proc.poll() is not None)
        assert job.status == "running" and job.worker.endswith(f":{proc.pid}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    partials = training.partial_dirs(worker_storage / job.output_dir)
    assert [p.name for p in partials] == [f".task_wk_dead-job{job.pk}.partial-{proc.pid}"]

    assert jobs.reap_dead_jobs() == 0  # its last heartbeat is seconds old: not dead yet by the 120 s rule
    time.sleep(1.1)
    assert jobs.reap_dead_jobs(stale_after_s=1) == 1
    job.refresh_from_db()
    assert job.status == "failed" and "stopped sending heartbeats (died?)" in job.error
    assert not Adapter.objects.exists()
    assert not (worker_storage / job.output_dir).exists()
    assert_no_partial_files(worker_storage, job)


# --- the train_lora command ---------------------------------------------------------------------------------------


def train_lora(*args) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("train_lora", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_train_lora_trains_in_process_and_registers_a_candidate(
    db, tiny_model_dir, sft_data, dpo_data, storage, monkeypatch
):
    # The exact flags, run from the folder that holds MODEL_STORAGE_DIR ("models").
    monkeypatch.chdir(storage.parent)
    out = train_lora(
        "--base-model", tiny_model_dir, "--adapter-type", "task", "--method", "sft", "--dataset", sft_data,
        "--output", "models/adapters/task_cli", "--max-steps", 2, "--batch-size", 2, "--threads", 1,
    )  # fmt: skip
    assert "step 1/2  loss " in out and "step 2/2  loss " in out
    assert "Registered task_cli v1 (candidate)" in out
    job = TrainingJob.objects.get()
    assert job.status == "succeeded" and job.output_dir == "adapters/task_cli" and job.params["max_steps"] == 2
    adapter = Adapter.objects.get()
    assert (adapter.name, adapter.kind, adapter.version, adapter.path) == ("task_cli", "task", 1, "adapters/task_cli")
    assert (storage / "adapters" / "task_cli" / "adapter_model.safetensors").is_file()

    out = train_lora(
        "--base-model", tiny_model_dir, "--adapter-type", "task", "--method", "dpo", "--dataset", dpo_data,
        "--output", "models/adapters/task_cli_dpo", "--name", "task_cli", "--reference-adapter", "task_cli@1",
        "--max-steps", 2, "--batch-size", 2, "--threads", 1,
    )  # fmt: skip
    assert "step 2/2  loss " in out and "reward margin " in out and "Registered task_cli v2 (candidate)" in out
    dpo_job = TrainingJob.objects.get(method="dpo")
    assert dpo_job.params["reference_adapter"] == "adapters/task_cli"
    assert dpo_job.params["reference_adapter_id"] == adapter.pk


def test_train_lora_outside_the_storage_writes_files_only(db, tiny_model_dir, sft_data, storage, tmp_path):
    output = tmp_path / "elsewhere" / "task_loose"
    out = train_lora(
        "--base-model", tiny_model_dir, "--adapter-type", "task", "--method", "qlora", "--dataset", sft_data,
        "--output", output, "--max-steps", 2, "--batch-size", 2, "--threads", 1,
    )  # fmt: skip
    assert "lies outside MODEL_STORAGE_DIR" in out and "step 2/2" in out and f"Wrote {output}" in out
    assert (output / "adapter_config.json").is_file()
    assert json.loads((output / "rmn-adapter.json").read_text())["method"] == "qlora"
    assert not TrainingJob.objects.exists() and not Adapter.objects.exists()


def test_train_lora_queues_on_the_worker_and_keeps_files_unregistered_on_request(
    db, tiny_model_dir, sft_data, storage, django_capture_on_commit_callbacks
):
    common = ["--base-model", tiny_model_dir, "--adapter-type", "task", "--dataset", sft_data, "--max-steps", 2,
              "--batch-size", 2, "--threads", 1]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out = train_lora(*common, "--method", "sft", "--output", storage / "adapters" / "task_q", "--queue")
    job = TrainingJob.objects.get()
    assert f"Queued training job #{job.pk}" in out and len(callbacks) == 1
    assert job.status == "queued" and job.task_id and job.output_dir == "adapters/task_q"

    out = train_lora(*common, "--method", "sft", "--output", storage / "adapters" / "task_keep", "--no-register")
    assert "not registered: --no-register" in out
    assert TrainingJob.objects.get(output_dir="adapters/task_keep").status == "succeeded"
    assert (storage / "adapters" / "task_keep" / "adapter_config.json").is_file() and not Adapter.objects.exists()


def test_train_lora_names_what_is_wrong(db, tenants, tiny_model_dir, sft_data, dpo_data, storage, tmp_path):
    from django.core.management.base import CommandError

    def fails(*extra, method="sft", kind="task", dataset=sft_data, output=None) -> str:
        output = output or storage / "adapters" / "task_x"
        with pytest.raises(CommandError) as caught:
            train_lora("--base-model", tiny_model_dir, "--adapter-type", kind, "--method", method,
                       "--dataset", dataset, "--output", output, "--max-steps", 2, *extra)  # fmt: skip
        return str(caught.value)

    assert "add --tenant SLUG" in fails(kind="brand")
    assert "No tenant with slug 'initech'" in fails("--tenant", "initech", kind="brand")
    assert "leave out --tenant" in fails("--tenant", "acme")
    assert "--queue needs an --output inside MODEL_STORAGE_DIR" in fails("--queue", output=tmp_path / "x")
    assert "dataset_path: " in fails(dataset=dpo_data) and "line 1 lacks 'completion'" in fails(dataset=dpo_data)
    assert "'task_x' has no version yet" in fails(method="dpo", dataset=dpo_data)
    assert "neither a folder nor a registered adapter" in fails("--reference-adapter", "nope", method="dpo")
    (storage / "adapters" / "task_taken").mkdir(parents=True)
    assert "already exists" in fails(output=storage / "adapters" / "task_taken")
    assert "already exists" in fails(output=tmp_path)  # outside the storage too
    assert not TrainingJob.objects.exists() and not Adapter.objects.exists()


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("ml.train_adapter", "gpu"),
        ("ml.generate", "inference"),
        ("ml.generate_request", "inference"),
        ("ml.reap_dead_jobs", "cpu"),
        ("harmonization.anything", "cpu"),
    ],
)
def test_training_generation_and_the_reaper_go_to_their_own_queues(task, queue):
    # A generation never waits behind a training job: workers that read only `inference` answer while others train.
    assert app.amqp.router.route({}, task)["queue"].name == queue
