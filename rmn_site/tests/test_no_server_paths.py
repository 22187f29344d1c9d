"""No server path in what the API answers: a seeded demo tenant, plus the objects that carry paths (a training job on
a local base model, an adapter, failures a worker recorded with a stored file's path), walked endpoint by endpoint,
lists and details, and the errors that name folders. A path shows relative to its storage root or not at all."""

from __future__ import annotations

import json
import re
import tempfile

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from harmonization.models import IngestBatch
from ml.models import AdapterKind, GenerationRequest, TrainingJob
from ml.services import adapter_register
from rmn_site.tests.api_support import API, assert_error, client_for

ENDPOINTS = [
    "me", "retailers", "brands", "skus", "campaigns", "performance", "performance/summary", "lift-studies", "plans",
    "experiments", "bandit-policies", "ingest-batches", "adapters", "training-jobs", "generations",
    "uplift-studies", "sku-forecasts", "creative-briefs", "creatives", "review-tasks", "review-items",
    "review-agreement", "plan-reviews", "feedback-datasets", "clean-rooms",
]  # fmt: skip
# An absolute file path: a slash that starts a word, then at least one folder. API addresses are not file paths.
ABSOLUTE = re.compile(r"""(?<![\w:/.~-])/(?!api/)[^\s/'"`,;()\[\]<>]+/""")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _paths_in(answer, roots: list[str]) -> list[str]:
    return [s for s in _strings(answer) if ABSOLUTE.search(s) or any(root in s for root in roots)]


@pytest.fixture
def seeded(db, settings, tmp_path):
    """The demo world with model storage and media in a temporary folder (absolute, like a server's)."""
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    base = tmp_path / "models" / "base" / "SmolLM2-135M-Instruct"
    base.mkdir(parents=True)
    settings.BASE_MODEL = str(base)
    call_command("seed_demo", "--days", "120", "--seed", "3")
    admin = get_user_model().objects.filter(memberships__role="admin").order_by("pk").first()
    return {"admin": admin, "tenant": admin.memberships.order_by("pk").first().tenant, "base": base, "tmp": tmp_path}


def test_no_api_answer_of_a_seeded_tenant_shows_a_server_path(seeded, settings):
    tenant, base, tmp = seeded["tenant"], seeded["base"], seeded["tmp"]
    client = client_for(seeded["admin"], tenant=tenant.slug)
    storage = settings.MODEL_STORAGE_DIR
    # A training job on the local base model, through the API.
    body = {"kind": "brand", "task": "creative", "method": "sft", "max_steps": 3}
    job = client.post(f"{API}/training-jobs/", body, format="json")
    assert job.status_code == 202, job.json()
    # An adapter version on that base model, and what workers record when they fail on stored files.
    (storage / "adapters" / "brand_x").mkdir(parents=True)
    (storage / "adapters" / "brand_x" / "adapter_config.json").write_text("{}")
    adapter_register(
        name="brand_x", kind=AdapterKind.BRAND, tenant=tenant, base_model=str(base), path="adapters/brand_x"
    )
    TrainingJob.objects.filter(pk=job.json()["id"]).update(
        status=TrainingJob.Status.FAILED,
        error=f"internal error (OSError): cannot write {storage}/adapters/{tenant.slug}/brand-job1/model.safetensors",
        params={"max_steps": 3, "reference_adapter": f"{storage}/adapters/brand_x"},
    )
    GenerationRequest.objects.create(
        tenant=tenant, task="budgeting", prompt={"text": "x"}, status="failed",
        error=f"internal error (FileNotFoundError): {storage}/adapters/brand_x/adapter_model.safetensors",
    )  # fmt: skip
    IngestBatch.objects.create(
        tenant=tenant, source="export.csv", status="failed",
        error=f"internal error (FileNotFoundError): [Errno 2] No such file: '{settings.MEDIA_ROOT}/ingest/x.csv'",
    )  # fmt: skip
    roots = sorted({str(tmp), str(django_settings.BASE_DIR), tempfile.gettempdir() + "/"})

    found: dict[str, list[str]] = {}
    for endpoint in ENDPOINTS:
        answer = client.get(f"{API}/{endpoint}/?page_size=1000").json()
        found[endpoint] = _paths_in(answer, roots)
        rows = answer.get("results", []) if isinstance(answer, dict) else []
        for row in rows[:25]:
            key = row.get("code", row.get("id"))
            if key is not None and endpoint != "performance":  # facts have no detail address
                found[f"{endpoint}/{key}"] = _paths_in(client.get(f"{API}/{endpoint}/{key}/").json(), roots)
    assert {where: paths for where, paths in found.items() if paths} == {}

    # The answers still say where things are, relative to the model storage.
    jobs = client.get(f"{API}/training-jobs/").json()["results"]
    assert jobs[0]["base_model"] == "base/SmolLM2-135M-Instruct"
    assert "adapters/brand_x" in json.dumps(jobs[0]["params"]) and "adapters/" in jobs[0]["error"]
    adapters = client.get(f"{API}/adapters/?name=brand_x").json()["results"]
    assert adapters[0]["base_model"] == "base/SmolLM2-135M-Instruct"

    # Errors that name a folder name it relative to its root too.
    settings.BASE_MODEL = str(storage / "base" / "missing-model")
    error = assert_error(client.post(f"{API}/training-jobs/", body, format="json"), 400, field="base_model")
    assert "base/missing-model" in error["message"] and not _paths_in(error, roots)


def test_every_registered_endpoint_is_walked():
    from rmn_site.api_urls import router

    assert {prefix for prefix, _, _ in router.registry} <= set(ENDPOINTS)
