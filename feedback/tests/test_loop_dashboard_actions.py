"""The learning dashboard's actions, through the real services: export a dataset, start a retraining job, the
service's refusals beside the field, one-click rollback of a promotion; and the polled training-run row."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from feedback.models import FeedbackDataset, GateDecision
from feedback.tests import datasets_support as ds
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)
from ml.models import Adapter, AdapterKind, TrainingJob
from ml.services import adapter_promote, adapter_register

pytest.importorskip("torch")

URL = "/review/loop/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def loop(review, settings, tmp_path, tiny_model_dir):
    """Acme's ad-copy task with eight pairs that three reviewers all answered "A", and Acme's brand adapter v1
    (SFT, active) on the tiny Llama."""
    from ml.testing import make_adapter

    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    settings.BASE_MODEL = str(tiny_model_dir)
    task = review["task"]
    task.overlap = 3
    task.save()
    reviewers = [review["reviewer"], review["reviewer2"], review["reviewer3"]]
    for n in range(8):
        ds.answer_all(ds.pair(task, n, f"Oat clusters no {n}. Shop now", f"BEST granola EVER {n}!!!"), reviewers,
                      preference="a")  # fmt: skip
    make_adapter(tiny_model_dir, Path(settings.MODEL_STORAGE_DIR) / "adapters" / "acme" / "sft", seed=1)
    sft = adapter_register(
        name="brand_acme", kind=AdapterKind.BRAND, tenant=task.tenant, base_model=str(tiny_model_dir),
        path="adapters/acme/sft",
    )  # fmt: skip
    return {"task": task, "sft": adapter_promote(adapter=sft, user=None)}


def test_an_admin_exports_a_dataset_and_sees_its_counts(loop, personas):
    client = _client(personas["owner"])
    response = client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"}, follow=True)
    dataset = FeedbackDataset.objects.get()
    assert (dataset.format, dataset.version, dataset.created_by) == ("dpo", 1, personas["owner"])
    counts = dataset.counts
    assert counts["train"] + counts["heldout"] == 8 and counts["heldout"] >= 1
    html = response.content.decode()
    assert f"Exported creative dpo v1: {counts['train']} train and {counts['heldout']} held-out rows." in html
    row = html.split(f'data-dataset="{dataset.pk}"')[1].split("</tr>")[0]
    assert f'data-metric="train">{counts["train"]}<' in row
    client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"})
    assert list(FeedbackDataset.objects.values_list("version", flat=True).order_by("version")) == [1, 2]


def test_the_export_drops_pairs_whose_chosen_copy_breaks_the_policy_unless_the_admin_keeps_them(
    loop, review, personas, catalog, retailers
):
    from feedback.models import Creative, CreativeBrief

    tenant = loop["task"].tenant
    brief = CreativeBrief.objects.create(tenant=tenant, retailer=retailers["amazon"], brand=catalog["acme"]["brand"],
                                         goal="trial", policy={"banned_claims": ["cures"]})  # fmt: skip
    # Prompt 98 falls in the training split (seed 0, 20% held out): the filter drops training rows only.
    item = ds.pair(loop["task"], 98, "Granola cures all", "Granola, baked fresh")
    item.creative = Creative.objects.create(tenant=tenant, brief=brief, retailer=retailers["amazon"], variant=1,
                                            prompt=ds.prompt(98), **ds.fields("Granola cures all"))  # fmt: skip
    item.save(update_fields=["creative"])
    ds.answer_all(item, [review["reviewer"], review["reviewer2"], review["reviewer3"]], preference="a")
    client = _client(personas["owner"])
    html = client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"}, follow=True).content.decode()
    first = FeedbackDataset.objects.get()
    assert first.counts["dropped"] == {"chosen_breaks_policy": 1}
    assert first.counts["train"] + first.counts["heldout"] == 8 and first.options["drop_policy_violations"] is True
    assert "held-out rows; 1 dropped as their chosen answer breaks the policy." in html
    client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo", "keep_policy_violations": "on"})
    kept = FeedbackDataset.objects.get(version=2)
    assert kept.counts["train"] + kept.counts["heldout"] == 9 and kept.counts["dropped"] == {}
    assert kept.options["drop_policy_violations"] is False


def test_an_admin_starts_a_dpo_job_from_the_chosen_version_and_dataset(
    loop, personas, django_capture_on_commit_callbacks
):
    client = _client(personas["owner"])
    client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"})
    dataset = FeedbackDataset.objects.get()
    body = {"adapter": loop["sft"].pk, "dataset": dataset.pk, "method": "dpo", "max_steps": 3}
    response = client.post(reverse("loop_retrain"), body)
    assert response.status_code == 302
    job = TrainingJob.objects.get()
    assert (job.method, job.adapter_name, job.status) == ("dpo", "brand_acme", "queued")
    assert job.params["feedback_dataset"] == dataset.pk and job.params["max_steps"] == 3
    row = client.get(URL, {"job": job.pk}, headers={"HX-Request": "true"})
    html = row.content.decode()
    assert html.lstrip().startswith('<article class="job-row"') and "<html" not in html  # the row alone
    assert 'hx-trigger="every 2s"' in html and "Waiting for a gpu worker" in html


def test_kto_on_a_dpo_export_is_refused_beside_the_dataset_and_queues_nothing(loop, personas):
    client = _client(personas["owner"])
    client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"})
    dataset = FeedbackDataset.objects.get()
    response = client.post(reverse("loop_retrain"), {"adapter": loop["sft"].pk, "dataset": dataset.pk, "method": "kto"})
    assert response.status_code == 400
    form = response.content.decode().split('id="retrain-form"')[1].split("</form>")[0]
    assert "KTO trains on a kto dataset" in form and not TrainingJob.objects.exists()


def test_one_click_rolls_a_promotion_back_to_the_previous_version(loop, personas, settings, tiny_model_dir):
    from ml.testing import make_adapter

    make_adapter(tiny_model_dir, Path(settings.MODEL_STORAGE_DIR) / "adapters" / "acme" / "dpo", seed=2)
    v2 = adapter_register(
        name="brand_acme", kind=AdapterKind.BRAND, tenant=loop["task"].tenant, base_model=str(tiny_model_dir),
        path="adapters/acme/dpo",
    )  # fmt: skip
    adapter_promote(adapter=v2, user=None)
    decision = GateDecision.objects.create(
        tenant=loop["task"].tenant, candidate=v2, baseline=loop["sft"], promoted=True, reasons=["Better."]
    )
    client = _client(personas["owner"])
    assert "Roll back" in client.get(URL).content.decode().split(f'data-decision="{decision.pk}"')[1]
    response = client.post(reverse("loop_rollback", args=[decision.pk]), follow=True)
    assert "Rolled back: brand_acme v1 is active again." in response.content.decode()
    assert Adapter.objects.get(pk=loop["sft"].pk).status == Adapter.Status.ACTIVE
    assert Adapter.objects.get(pk=v2.pk).status != Adapter.Status.ACTIVE
    decision.refresh_from_db()
    assert decision.figures["rollback"]["to_version"] == 1
    again = client.post(reverse("loop_rollback", args=[decision.pk]), follow=True).content.decode()
    assert "already rolled back" in again


def test_an_adjudicator_may_look_but_not_export(loop, review):
    client = _client(review["adjudicator"])
    assert client.get(URL).status_code == 200
    assert client.post(reverse("loop_export"), {"task": "creative", "fmt": "dpo"}).status_code == 403
    assert not FeedbackDataset.objects.exists()
