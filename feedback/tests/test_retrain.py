"""Starting a DPO/KTO retraining job from a feedback dataset: who may, on what, and the job it queues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import DomainError
from feedback.models import FeedbackDataset
from feedback.services.retrain import retrain_start
from ml.models import Adapter, AdapterKind, TrainingJob
from ml.services import adapter_register

pytest.importorskip("torch")

PROMPT = [{"role": "user", "content": "Write ad copy for crunchy granola."}]


def dpo_row(i: int) -> dict:
    return {
        "prompt": [{"role": "user", "content": f"Write ad copy for granola #{i}."}],
        "chosen": [{"role": "assistant", "content": "Crunchy oats. Shop now."}],
        "rejected": [{"role": "assistant", "content": "Best granola ever!!!"}],
        "weight": 1.0,
        "item_id": i,
    }


def kto_row(i: int, label: bool) -> dict:
    return {"prompt": dpo_row(i)["prompt"], "completion": dpo_row(i)["chosen"], "label": label}


def make_dataset(storage: Path, tenant, fmt: str, rows: list[dict], version: int = 1) -> FeedbackDataset:
    folder = storage / "feedback" / tenant.slug
    folder.mkdir(parents=True, exist_ok=True)
    name = f"creative-{fmt}-v{version}"
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / f"{name}.heldout.jsonl").write_text("")
    return FeedbackDataset.objects.create(
        tenant=tenant, task="creative", format=fmt, version=version, counts={"train": len(rows), "heldout": 0},
        train_path=f"feedback/{tenant.slug}/{name}.jsonl", heldout_path=f"feedback/{tenant.slug}/{name}.heldout.jsonl",
    )  # fmt: skip


@pytest.fixture
def world(settings, tmp_path, tiny_model_dir, tenants):
    from ml.testing import make_adapter

    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    settings.BASE_MODEL = str(tiny_model_dir)
    storage = Path(settings.MODEL_STORAGE_DIR)
    adapters = {}
    for tenant in (tenants["acme"], tenants["globex"]):
        make_adapter(tiny_model_dir, storage / "adapters" / tenant.slug / "sft", seed=1)
        adapters[tenant.slug] = adapter_register(
            name=f"brand_{tenant.slug}", kind=AdapterKind.BRAND, tenant=tenant, base_model=str(tiny_model_dir),
            path=f"adapters/{tenant.slug}/sft",
        )  # fmt: skip
    make_adapter(tiny_model_dir, storage / "adapters" / "shared", seed=2)
    adapters["shared"] = adapter_register(
        name="task_creative", kind=AdapterKind.TASK, tenant=None, base_model=str(tiny_model_dir),
        path="adapters/shared",
    )  # fmt: skip
    return {
        "storage": storage,
        "adapters": adapters,
        "dpo": make_dataset(storage, tenants["acme"], "dpo", [dpo_row(i) for i in range(6)]),
        "kto": make_dataset(storage, tenants["acme"], "kto", [kto_row(i, i % 2 == 0) for i in range(6)]),
        "globex_dpo": make_dataset(storage, tenants["globex"], "dpo", [dpo_row(i) for i in range(6)]),
    }


def test_it_queues_a_dpo_job_on_the_datasets_train_file_from_the_chosen_sft_version(world, tenants, personas):
    adapter, dataset = world["adapters"]["acme"], world["dpo"]
    job = retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=adapter, dataset=dataset,
                        params={"max_steps": 3}, enqueue=False)  # fmt: skip
    assert job.status == TrainingJob.Status.QUEUED and job.method == "dpo"
    assert job.adapter_name == "brand_acme" and job.tenant == tenants["acme"]
    assert Path(job.dataset_path) == (world["storage"] / dataset.train_path).resolve()
    assert job.params["feedback_dataset"] == dataset.pk
    assert job.params["reference_adapter_id"] == adapter.pk and job.params["reference_adapter"] == adapter.path
    assert job.params["max_steps"] == 3 and job.progress["total_steps"] == 3


def test_it_queues_a_kto_job_on_a_kto_dataset(world, tenants, personas):
    job = retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=world["adapters"]["acme"],
                        dataset=world["kto"], method="kto", enqueue=False)  # fmt: skip
    assert job.method == TrainingJob.Method.KTO and job.params["feedback_dataset"] == world["kto"].pk


def test_it_refuses_a_dataset_of_the_wrong_format(world, tenants, personas):
    with pytest.raises(DomainError) as info:
        retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=world["adapters"]["acme"],
                      dataset=world["kto"], method="dpo", enqueue=False)  # fmt: skip
    assert info.value.field == "dataset" and "is a kto export" in info.value.message
    assert not TrainingJob.objects.exists()


def test_it_refuses_marketers_and_reviewers_of_the_tenant(world, tenants, personas):
    for who in ("marketer", "reviewer"):
        with pytest.raises(DomainError) as info:
            retrain_start(tenant=tenants["acme"], user=personas[who], adapter=world["adapters"]["acme"],
                          dataset=world["dpo"], enqueue=False)  # fmt: skip
        assert info.value.code == "forbidden"
    assert not TrainingJob.objects.exists()


def test_it_keeps_tenants_apart(world, tenants, personas):
    owner, acme = personas["owner"], tenants["acme"]
    with pytest.raises(DomainError) as info:  # another tenant's adapter does not exist for Acme's admin
        retrain_start(tenant=acme, user=owner, adapter=world["adapters"]["globex"], dataset=world["dpo"],
                      enqueue=False)  # fmt: skip
    assert info.value.field == "adapter"
    with pytest.raises(DomainError) as info:  # nor does another tenant's dataset
        retrain_start(tenant=acme, user=owner, adapter=world["adapters"]["acme"], dataset=world["globex_dpo"],
                      enqueue=False)  # fmt: skip
    assert info.value.field == "dataset"
    with pytest.raises(DomainError) as info:  # a stranger is no member of Acme
        retrain_start(tenant=acme, user=personas["stranger"], adapter=world["adapters"]["acme"],
                      dataset=world["dpo"], enqueue=False)  # fmt: skip
    assert info.value.code == "forbidden"
    assert not TrainingJob.objects.exists()


def test_it_lets_only_staff_retrain_a_shared_adapter(world, tenants, personas):
    owner = personas["owner"]
    with pytest.raises(DomainError) as info:
        retrain_start(tenant=tenants["acme"], user=owner, adapter=world["adapters"]["shared"], dataset=world["dpo"],
                      enqueue=False)  # fmt: skip
    assert info.value.code == "forbidden" and "only staff" in info.value.message
    owner.is_staff = True
    owner.save()
    job = retrain_start(tenant=tenants["acme"], user=owner, adapter=world["adapters"]["shared"], dataset=world["dpo"],
                        enqueue=False)  # fmt: skip
    assert job.tenant is None and job.adapter_kind == AdapterKind.TASK


def test_it_refuses_a_dataset_without_training_rows(world, tenants, personas):
    empty = make_dataset(world["storage"], tenants["acme"], "dpo", [], version=2)
    with pytest.raises(DomainError) as info:
        retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=world["adapters"]["acme"],
                      dataset=empty, enqueue=False)  # fmt: skip
    assert info.value.field == "dataset" and "no training rows" in info.value.message


def test_it_refuses_a_retired_adapter_version(world, tenants, personas):
    adapter = world["adapters"]["acme"]
    Adapter.objects.filter(pk=adapter.pk).update(status=Adapter.Status.RETIRED)
    adapter.refresh_from_db()
    with pytest.raises(DomainError) as info:
        retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=adapter, dataset=world["dpo"],
                      enqueue=False)  # fmt: skip
    assert info.value.field == "adapter" and "retired" in info.value.message
