"""The real path: a brief asked for on the page is written by the Celery worker on the inference queue with the
tiny random Llama and an active task_creative adapter. Its answers are gibberish, so every variant is rejected as
unparseable, kept with its reasons and the adapter version that wrote it, and nothing reaches the review queue."""

import time
from pathlib import Path

import pytest
from django.urls import reverse

from feedback.models import CreativeBrief, ReviewItem
from ml.models import AdapterKind
from ml.services import adapter_promote, adapter_register
from ml.testing import make_adapter


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_a_brief_with_the_composed_adapter_and_rejects_what_does_not_parse(
    celery_worker_process, worker_model_dir, tiny_model_dir, client, personas, catalog, settings
):
    settings.MODEL_STORAGE_DIR = worker_model_dir
    settings.BASE_MODEL = str(tiny_model_dir)  # what the worker's RMN_BASE_MODEL says
    folder = f"adapters-creative-{time.monotonic_ns()}"
    make_adapter(tiny_model_dir, Path(worker_model_dir) / folder / "task_creative", seed=21)
    adapter = adapter_register(
        name="task_creative", kind=AdapterKind.TASK, tenant=None, base_model=str(tiny_model_dir),
        path=f"{folder}/task_creative",
    )  # fmt: skip
    adapter_promote(adapter=adapter, user=None)
    client.force_login(personas["marketer"])
    response = client.post(
        reverse("creative_list"),
        {"retailer": "walmart", "brand": catalog["acme"]["brand"].pk, "skus": [catalog["acme"]["skus"][0].pk],
         "goal": "Trial of the new cola", "tone": "", "promotion": "", "variants": 2},
    )  # fmt: skip
    assert response.status_code == 302
    brief = CreativeBrief.objects.get()
    assert brief.adapters == ["task_creative"]
    deadline = time.monotonic() + 240
    while brief.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        brief.refresh_from_db()
    assert brief.status == "succeeded", brief.error
    assert brief.progress == {"done": 2, "total": 2} and brief.worker
    creatives = list(brief.creatives.order_by("variant"))
    assert [c.status for c in creatives] == ["rejected", "rejected"]
    for creative in creatives:
        assert not creative.compliant and creative.raw_output
        assert creative.adapter_versions == [{"name": "task_creative", "version": adapter.version, "kind": "task"}]
        assert creative.verification["violations"][0]["rule"] == "invalid"
    assert not ReviewItem.objects.exists()
    page = client.get(reverse("creative_brief", args=[brief.pk])).content.decode()
    assert "Why it was rejected" in page and f"task_creative v{adapter.version}" in page
