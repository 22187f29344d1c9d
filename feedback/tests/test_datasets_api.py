"""The datasets-from-feedback API: admins export, list, read and download; others are refused; tenants never see
each other's datasets."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from feedback.models import FeedbackDataset
from feedback.tests.datasets_support import answer_all, pair, prompt
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)
from governance.models import Role
from governance.services import api_key_create


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def key_client(tenant, role) -> APIClient:
    _, raw = api_key_create(tenant=tenant, name=f"{role} key", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def lines(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def preferences(review):
    two = [review["reviewer"], review["reviewer2"]]
    for n in range(10):
        answer_all(pair(review["task"], n, f"Oats {n}", f"Bran {n}"), two, preference="b")


def test_an_admin_exports_lists_reads_and_downloads_a_dataset(review, personas, preferences):
    owner = client_for(personas["owner"])
    created = owner.post(
        reverse("api:feedback-dataset-list"),
        {"task": "creative", "format": "dpo", "options": {"heldout_share": 0.3, "seed": 1}},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["task"], body["format"], body["version"], body["created_by"]) == ("creative", "dpo", 1, "owner")
    assert body["counts"]["train"] + body["counts"]["heldout"] == 10 and body["counts"]["heldout"] > 0
    assert body["options"]["heldout_share"] == 0.3 and len(body["provenance"]["feedback_ids"]) == 20
    pk = body["id"]

    listed = owner.get(reverse("api:feedback-dataset-list"), {"fmt": "dpo"}).json()
    assert [d["id"] for d in listed["results"]] == [pk]
    assert owner.get(reverse("api:feedback-dataset-list"), {"fmt": "kto"}).json()["results"] == []
    assert owner.get(reverse("api:feedback-dataset-detail", args=[pk])).json()["sha256"] == body["sha256"]

    train = owner.get(reverse("api:feedback-dataset-train", args=[pk]))
    heldout = owner.get(reverse("api:feedback-dataset-heldout", args=[pk]))
    assert train.status_code == heldout.status_code == 200
    assert train["Content-Disposition"] == 'attachment; filename="acme-creative-dpo-v1-train.jsonl"'
    train_rows, heldout_rows = lines(train), lines(heldout)
    assert len(train_rows) == body["counts"]["train"] and len(heldout_rows) == body["counts"]["heldout"]
    assert '"Bran' in train_rows[0]["chosen"][0]["content"] and train_rows[0]["prompt"] in [
        prompt(n) for n in range(10)
    ]
    assert not {json.dumps(r["prompt"]) for r in train_rows} & {json.dumps(r["prompt"]) for r in heldout_rows}


def test_an_admin_api_key_exports_too(review, preferences):
    created = key_client(review["task"].tenant, Role.ADMIN).post(
        reverse("api:feedback-dataset-list"), {"task": "creative", "format": "kto"}, format="json"
    )
    assert created.status_code == 201 and created.json()["created_by"] is None


def test_it_answers_400_naming_a_bad_task_format_or_option(review, personas):
    owner = client_for(personas["owner"])
    url = reverse("api:feedback-dataset-list")
    cases = [
        ({"task": "harmonization", "format": "dpo"}, "task"),
        ({"task": "creative", "format": "ppo"}, "format"),
        ({"task": "creative", "format": "dpo", "options": {"seed": "x"}}, "options.seed"),
        ({"task": "creative", "format": "dpo", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = owner.post(url, body, format="json")
        assert response.status_code == 400, body
        assert field in json.dumps(response.json()), (field, response.json())
    assert not FeedbackDataset.objects.exists()


def test_members_without_manage_tenant_are_refused(review, personas, preferences):
    dataset = FeedbackDataset.objects.create(tenant=review["task"].tenant, task="creative", format="dpo", version=1)
    for user in (personas["marketer"], personas["reviewer"], review["adjudicator"]):
        client = client_for(user)
        assert client.get(reverse("api:feedback-dataset-list")).status_code == 403
        assert client.get(reverse("api:feedback-dataset-train", args=[dataset.pk])).status_code == 403
        response = client.post(
            reverse("api:feedback-dataset-list"), {"task": "creative", "format": "dpo"}, format="json"
        )
        assert response.status_code == 403
    assert FeedbackDataset.objects.count() == 1


def test_another_tenant_never_sees_nor_downloads_a_dataset(review, personas, tenants, preferences):
    owner = client_for(personas["owner"])
    pk = owner.post(reverse("api:feedback-dataset-list"), {"task": "creative", "format": "dpo"}, format="json").json()[
        "id"
    ]
    globex = key_client(tenants["globex"], Role.ADMIN)
    assert globex.get(reverse("api:feedback-dataset-list")).json()["results"] == []
    for name in ("detail", "train", "heldout"):
        assert globex.get(reverse(f"api:feedback-dataset-{name}", args=[pk])).status_code == 404
    # Globex's own export reads only Globex's feedback: none.
    theirs = globex.post(reverse("api:feedback-dataset-list"), {"task": "creative", "format": "dpo"}, format="json")
    assert theirs.status_code == 201 and theirs.json()["counts"]["train"] == 0 and theirs.json()["version"] == 1
