"""The exported files are what TRL trains on: they load with ``datasets`` and a few DPO and KTO steps of a LoRA on the
tiny Llama give a finite loss and change the adapter's weights."""

from __future__ import annotations

import math

import pytest

from feedback.services.datasets import feedback_dataset_export, feedback_dataset_path
from feedback.tests.datasets_support import answer_all, pair, single
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"


def _lora(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    return get_peft_model(model, config), tokenizer


def _lora_weights(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}


def _load(dataset, part="train"):
    from datasets import load_dataset

    return load_dataset("json", data_files=str(feedback_dataset_path(dataset=dataset, part=part)), split="train")


def _train(trainer_cls, config_cls, model, tokenizer, data, tmp_path, **extra):
    before = _lora_weights(model)
    args = config_cls(
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2, learning_rate=1e-2,
        use_cpu=True, bf16=False, report_to=[], logging_steps=1, save_strategy="no", **extra,
    )  # fmt: skip
    trainer = trainer_cls(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    after = _lora_weights(trainer.model)
    changed = any((after[k] - before[k]).abs().max() > 0 for k in before if k in after)
    return losses, changed


def test_it_exports_dpo_pairs_that_load_with_datasets_and_train_with_dpotrainer(review, tiny_model_dir, tmp_path):
    from trl import DPOConfig, DPOTrainer

    two = [review["reviewer"], review["reviewer2"]]
    for n in range(6):
        answer_all(pair(review["task"], n, f"Crunchy granola {n}", f"Best oats ever {n}"), two, preference="a")
    dataset = feedback_dataset_export(tenant=review["task"].tenant, task="creative", fmt="dpo")
    data = _load(dataset)
    assert len(data) == dataset.counts["train"] >= 3
    assert {"prompt", "chosen", "rejected", "weight", "source"} <= set(data.column_names)
    assert data[0]["chosen"][0]["role"] == "assistant"
    model, tokenizer = _lora(tiny_model_dir)
    losses, changed = _train(DPOTrainer, DPOConfig, model, tokenizer, data, tmp_path, beta=0.1)
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert changed


def test_it_exports_kto_rows_that_load_with_datasets_and_train_with_ktotrainer(review, tiny_model_dir, tmp_path):
    from trl import KTOConfig, KTOTrainer

    two = [review["reviewer"], review["reviewer2"]]
    for n in range(8):
        answer_all(single(review["task"], n, f"Granola headline {n}"), two, thumb="up" if n % 2 else "down")
    dataset = feedback_dataset_export(tenant=review["task"].tenant, task="creative", fmt="kto")
    data = _load(dataset)
    assert len(data) == dataset.counts["train"] >= 4
    assert set(data["label"]) == {True, False}
    model, tokenizer = _lora(tiny_model_dir)
    losses, changed = _train(KTOTrainer, KTOConfig, model, tokenizer, data, tmp_path, beta=0.1)
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert changed
