"""Training-job input the API used to accept and the worker then failed on: seeds past 2**32-1."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from ml.jobs import training_job_create
from ml.models import AdapterKind, TrainingJob
from ml.tests.test_api import acme_keys, storage  # noqa: F401 - fixtures
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.mark.parametrize("seed", [2**32, 2**80, -1])
def test_a_training_job_seed_must_be_0_to_2_32_minus_1(seed, acme_keys, storage):  # noqa: F811
    body = {"kind": "task", "task": "budgeting", "method": "sft", "max_steps": 5, "seed": seed}
    response = client_for(key=acme_keys["admin"]).post(f"{API}/training-jobs/", body, format="json")
    assert_error(response, 400, field="seed")
    assert not TrainingJob.objects.exists()


def test_the_service_refuses_a_seed_past_2_32_in_params(tenants, storage, settings):  # noqa: F811
    (storage / "base").mkdir()
    settings.BASE_MODEL = str(storage / "base")
    with pytest.raises(DomainError, match="4,294,967,295"):
        training_job_create(
            user=None, tenant=None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, method="sft",
            dataset_path=str(storage / "datasets" / "x.jsonl"), params={"seed": 2**80}, enqueue=False,
        )  # fmt: skip
    assert not TrainingJob.objects.exists()
