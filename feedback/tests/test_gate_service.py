"""The gate on the tiny Llama, end to end in this process: a DPO retrain on random labels is held, a clear winner is
promoted through the registry, and one call rolls it back."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from feedback.models import FeedbackDataset, GateDecision
from feedback.services.gate import gate_evaluate, gate_finished_retrains, gate_rollback
from feedback.services.retrain import retrain_start
from ml.engine import training
from ml.jobs import run_training_job
from ml.models import Adapter, AdapterKind
from ml.services import adapter_promote, adapter_register

pytest.importorskip("torch")

POLICY = {"headline_max_chars": 30, "banned_claims": ["best ever"], "required_disclosures": ["Ad"]}
# About the same length: summed log-probabilities favour short answers, and the test is about preference, not length.
GOOD = "Crunchy oats for busy mornings. Ad"
BAD = "Best ever granola, cheapest now!!!"


def prompt(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Write ad copy for granola pack {i} on Target."}]


def msg(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def pair(i: int, *, good_wins: bool) -> dict:
    chosen, rejected = (GOOD, BAD) if good_wins else (BAD, GOOD)
    return {"prompt": prompt(i), "chosen": msg(chosen), "rejected": msg(rejected), "policy": POLICY, "item_id": None}


def write(storage: Path, name: str, rows: list[dict]) -> str:
    path = storage / "feedback" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path.relative_to(storage))


def dataset(storage, tenant, train: list[dict], heldout: list[dict], version: int) -> FeedbackDataset:
    return FeedbackDataset.objects.create(
        tenant=tenant, task="creative", format="dpo", version=version,
        counts={"train": len(train), "heldout": len(heldout), "dropped": {}},
        train_path=write(storage, f"v{version}.jsonl", train), heldout_path=write(storage, f"v{version}.heldout.jsonl",
                                                                                   heldout),
    )  # fmt: skip


def sft_version(storage: Path, tiny_model_dir, tenant, answer: str, steps: int = 15) -> Adapter:
    """An SFT version of brand_acme that learned to answer ``answer``, promoted active."""
    rows = [{"prompt": prompt(100 + i), "completion": msg(answer)} for i in range(8)]
    data = storage / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    training.train(
        training.TrainConfig(base_model=str(tiny_model_dir), method="sft", dataset=data,
                             output=storage / "adapters" / "acme" / "sft", max_steps=steps, batch_size=4, threads=1)
    )  # fmt: skip
    adapter = adapter_register(name="brand_acme", kind=AdapterKind.BRAND, tenant=tenant, base_model=str(tiny_model_dir),
                               path="adapters/acme/sft")  # fmt: skip
    return adapter_promote(adapter=adapter, user=None)


@pytest.fixture
def storage(settings, tmp_path, tiny_model_dir):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    settings.BASE_MODEL = str(tiny_model_dir)
    settings.FEEDBACK_GATE_MAX_BRIEFS = 6
    Path(settings.MODEL_STORAGE_DIR).mkdir()
    return Path(settings.MODEL_STORAGE_DIR)


def retrain(tenants, personas, sft, data, **params) -> Adapter:
    job = retrain_start(tenant=tenants["acme"], user=personas["owner"], adapter=sft, dataset=data,
                        params={"batch_size": 4, "threads": 1, **params}, enqueue=False)  # fmt: skip
    job = run_training_job(job.pk)
    assert job.status == "succeeded", job.error
    return Adapter.objects.get(training_job=job)


def test_it_holds_a_dpo_run_trained_on_random_labels(storage, tiny_model_dir, tenants, personas):
    rng = random.Random(7)
    sft = sft_version(storage, tiny_model_dir, tenants["acme"], GOOD)
    train = [pair(i, good_wins=rng.random() < 0.5) for i in range(24)]
    heldout = [pair(1000 + i, good_wins=rng.random() < 0.5) for i in range(24)]
    data = dataset(storage, tenants["acme"], train, heldout, version=1)
    candidate = retrain(tenants, personas, sft, data, max_steps=12, learning_rate=1e-3)

    assert gate_finished_retrains() == 1  # the beat task finds the succeeded job without a decision
    decision = GateDecision.objects.get(candidate=candidate)
    assert not decision.promoted and decision.baseline == sft and decision.dataset == data
    pref = decision.figures["preference"]
    assert pref["n_pairs"] == 24 and pref["wins"] + pref["losses"] + pref["ties"] == 24
    assert pref["win_rate_ci"][0] <= 0.5 or pref["accuracy_diff_ci"][0] <= 0
    # The rule's measure: the margin changes, whose signs on random held-out labels are coins.
    assert pref["moved_toward"] + pref["moved_away"] <= 24
    assert pref["margin_change_ci"][0] <= 0 or pref["margin_p_value"] > 0.025
    assert decision.figures["violations"]["n"] == 6 and decision.figures["violations"]["measured"]
    assert decision.reasons[-1].startswith("Not promoted") and "held-out preferences" in decision.reasons[-1]
    candidate.refresh_from_db()
    sft.refresh_from_db()
    assert candidate.status == Adapter.Status.CANDIDATE and sft.status == Adapter.Status.ACTIVE
    assert gate_finished_retrains() == 0  # judged once


def test_it_promotes_a_clear_winner_and_one_call_rolls_it_back(storage, tiny_model_dir, tenants, personas):
    # The active version learned the answer reviewers reject; feedback consistently prefers the other.
    sft = sft_version(storage, tiny_model_dir, tenants["acme"], BAD, steps=4)
    data = dataset(storage, tenants["acme"], [pair(i, good_wins=True) for i in range(16)],
                   [pair(1000 + i, good_wins=True) for i in range(16)], version=1)  # fmt: skip
    candidate = retrain(tenants, personas, sft, data, max_steps=30, learning_rate=1e-2, beta=0.5)

    decision = gate_evaluate(candidate=candidate, dataset=data, training_job=candidate.training_job)
    pref = decision.figures["preference"]
    assert decision.promoted, decision.reasons
    assert pref["wins"] >= 8 and pref["losses"] == 0 and pref["win_rate_ci"][0] > 0.5
    assert pref["candidate_accuracy"] > pref["baseline_accuracy"]
    assert pref["margin_change_ci"][0] > 0 and pref["margin_p_value"] <= 0.025 and pref["moved_toward"] >= 12
    assert decision.reasons[-1].startswith("Promoted")
    candidate.refresh_from_db()
    sft.refresh_from_db()
    assert candidate.status == Adapter.Status.ACTIVE and sft.status == Adapter.Status.RETIRED

    with pytest.raises(Exception) as info:  # a marketer may not roll back
        gate_rollback(decision=decision, user=personas["marketer"])
    assert getattr(info.value, "code", "") == "forbidden"
    restored = gate_rollback(decision=decision, user=personas["owner"])
    assert restored == sft
    sft.refresh_from_db()
    candidate.refresh_from_db()
    assert sft.status == Adapter.Status.ACTIVE and candidate.status == Adapter.Status.RETIRED
    decision.refresh_from_db()
    assert decision.figures["rollback"]["to_version"] == sft.version
    assert decision.reasons[-1].startswith(f"Rolled back to v{sft.version} by owner")


def test_the_task_evaluation_reads_the_held_out_split_of_the_sft_version_the_lineage_started_from(storage, tenants):
    # SFT v1 (trained on sft.jsonl, sft.heldout.jsonl beside it) -> DPO v2 (a feedback export, no such split) -> the
    # candidate v3 retrained from v2: (c) must read v1's split, not find nothing at v2.
    from feedback.services.gate import _task_set
    from ml.models import TrainingJob

    tenant = tenants["acme"]
    (storage / "sft.jsonl").write_text("")
    (storage / "sft.heldout.jsonl").write_text("")
    (storage / "export.jsonl").write_text("")

    def version(n, method, data, reference=None):
        job = TrainingJob.objects.create(
            tenant=tenant, adapter_name="brand_acme", adapter_kind=AdapterKind.BRAND, method=method,
            base_model="tiny", dataset_path=str(storage / data), status=TrainingJob.Status.SUCCEEDED,
            params={"reference_adapter_id": reference.pk} if reference else {},
        )  # fmt: skip
        (storage / f"v{n}").mkdir()
        (storage / f"v{n}" / "adapter_config.json").write_text("{}")  # registration checks the folder, not weights
        return adapter_register(name="brand_acme", kind=AdapterKind.BRAND, tenant=tenant, base_model="tiny",
                                path=f"v{n}", training_job=job)  # fmt: skip

    sft = version(1, TrainingJob.Method.SFT, "sft.jsonl")
    dpo = version(2, TrainingJob.Method.DPO, "export.jsonl", reference=sft)
    assert _task_set(sft) == storage / "sft.heldout.jsonl"
    assert _task_set(dpo) == storage / "sft.heldout.jsonl"
    # A DPO job's own split beside a feedback export is preference pairs, not the task's set: it is passed over.
    (storage / "export.heldout.jsonl").write_text("")
    assert _task_set(dpo) == storage / "sft.heldout.jsonl"
    # A version registered by hand (no job) has no task set; nor has its descendant.
    orphan = adapter_register(name="brand_acme", kind=AdapterKind.BRAND, tenant=tenant, base_model="tiny", path="v1")
    assert _task_set(orphan) is None and _task_set(None) is None
