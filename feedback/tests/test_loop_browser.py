"""In a browser, with a real Celery worker training the tiny Llama: an admin exports reviewers' preferences as a DPO
dataset, starts a DPO job from the active SFT version, watches it finish on the dashboard, runs the gate and sees
its decision. Screenshots at 1366 and 390 px for each step (var/screenshots/<test name>/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from feedback.models import FeedbackDataset, GateDecision, ReviewTask
from feedback.tests import datasets_support as ds
from governance.models import Membership, Role
from ml.models import AdapterKind, TrainingJob
from ml.services import adapter_promote, adapter_register

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_admin_exports_trains_dpo_watches_it_finish_and_sees_the_gates_decision(
    page, live_site, tenants, personas, django_user_model, celery_worker_process, worker_model_dir, tiny_model_dir,
    settings,
):  # fmt: skip
    from ml.testing import make_adapter

    settings.MODEL_STORAGE_DIR = worker_model_dir  # the worker's storage: both sides must read the same files
    settings.BASE_MODEL = str(tiny_model_dir)
    acme = tenants["acme"]
    task = ReviewTask.objects.create(tenant=acme, name="Ad copy", kind=ReviewTask.Kind.CREATIVE, overlap=3)
    reviewers = [personas["reviewer"]]
    for name in ("reviewer2", "reviewer3"):
        user = django_user_model.objects.create_user(username=name, password="pw-for-tests-123")
        Membership.objects.create(user=user, tenant=acme, role=Role.REVIEWER)
        reviewers.append(user)
    for n in range(10):
        pair = ds.pair(task, n, f"Oat clusters no {n}. Shop now", f"BEST granola EVER {n}!!!")
        ds.answer_all(pair, reviewers, preference="a")
    make_adapter(tiny_model_dir, Path(worker_model_dir) / "adapters" / "acme" / "browser-sft", seed=1)
    sft = adapter_register(
        name="brand_acme", kind=AdapterKind.BRAND, tenant=acme, base_model=str(tiny_model_dir),
        path="adapters/acme/browser-sft",
    )  # fmt: skip
    adapter_promote(adapter=sft, user=None)

    live_site.login(page, personas["owner"])
    page.get_by_role("link", name="Learning").click()
    expect(page.locator("h1")).to_have_text("Learning from reviewers")
    expect(page.locator('#volume [data-metric="volume-total"]')).to_have_text("30")
    live_site.shot(page, "dashboard")

    export = page.locator("#export-form")
    export.get_by_label("Task").select_option("creative")
    export.get_by_label("Format").select_option("dpo")
    export.get_by_role("button", name="Export").click()
    dataset = FeedbackDataset.objects.get()
    expect(page.locator(".messages")).to_contain_text("Exported creative dpo v1")
    expect(page.locator(f'#datasets [data-dataset="{dataset.pk}"] [data-metric="train"]')).to_have_text(
        str(dataset.counts["train"])
    )
    assert dataset.counts["train"] >= 1 and dataset.counts["heldout"] >= 1
    live_site.shot(page, "exported")

    retrain = page.locator("#retrain-form")
    retrain.get_by_label("Start from (SFT version)").select_option(str(sft.pk))
    retrain.get_by_label("Feedback dataset").select_option(str(dataset.pk))
    retrain.get_by_label("Method").select_option("dpo")
    retrain.get_by_label("Steps").fill("3")
    retrain.get_by_role("button", name="Start training").click()
    job = TrainingJob.objects.get()
    expect(page.locator(".messages")).to_contain_text(f"Training job #{job.pk} (DPO) is queued.")
    row = page.locator(f"#job-row-{job.pk}")
    expect(row).to_be_visible()
    live_site.shot(page, "job-queued")
    # The row polls itself; the worker trains three DPO steps on the tiny model.
    expect(row).to_have_attribute("data-status", "succeeded", timeout=120_000)
    expect(row.get_by_role("button", name="Run the gate")).to_be_visible()
    live_site.shot(page, "job-finished")

    row.get_by_role("button", name="Run the gate").click()
    decision = GateDecision.objects.get()
    assert decision.training_job_id == job.pk and decision.dataset_id == dataset.pk
    verdict = page.locator(f"#job-row-{job.pk} .verdict")
    expect(verdict).to_have_attribute("data-verdict", "promoted" if decision.promoted else "held")
    for reason in decision.reasons[:2]:
        expect(page.locator(f'#decisions [data-decision="{decision.pk}"]')).to_contain_text(reason)
    expect(page.locator(f'#decisions [data-decision="{decision.pk}"]')).to_contain_text("preference.win_rate")
    overflow = live_site.shot(page, "gate-decision")
    assert overflow["phone"] == 0, overflow
