"""KTO through ml.engine.training on the tiny Llama: thumbs-style rows continue an SFT adapter, which stays the frozen
reference; bad KTO inputs are refused by name before a model loads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ml.engine import training  # noqa: E402
from ml.engine.training import TrainConfig, TrainingInputError  # noqa: E402

SYSTEM = {"role": "system", "content": "Answer with JSON only."}


def prompt(i: int) -> list[dict]:
    return [SYSTEM, {"role": "user", "content": f"Allocate ${i}M to maximize incremental margin"}]


def good(i: int) -> list[dict]:
    return [{"role": "assistant", "content": json.dumps({"budget": i * 1e6, "min_roas": None})}]


def bad() -> list[dict]:
    return [{"role": "assistant", "content": "Spend it all on Criteo."}]


def kto_rows(n: int = 4) -> list[dict]:
    rows = []
    for i in range(1, n + 1):
        rows.append({"prompt": prompt(i), "completion": good(i), "label": True, "weight": 1.0, "item_id": i})
        rows.append({"prompt": prompt(i), "completion": bad(), "label": False, "weight": 1.0, "item_id": -i})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def config(tiny_model_dir, method: str, dataset: Path, output: Path, **kwargs) -> TrainConfig:
    kwargs.setdefault("max_steps", 3)
    kwargs.setdefault("batch_size", 4)
    return TrainConfig(base_model=str(tiny_model_dir), method=method, dataset=dataset, output=output, threads=1,
                       **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def sft_adapter(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("kto")
    rows = [{"prompt": prompt(i), "completion": good(i)} for i in range(1, 5)]
    result = training.train(config(tiny_model_dir, "sft", write_jsonl(root / "sft.jsonl", rows), root / "sft"))
    return result.output


def test_it_trains_kto_from_the_sft_adapter_and_saves_only_the_trained_adapter(tiny_model_dir, sft_adapter, tmp_path):
    from safetensors.torch import load_file

    before = (sft_adapter / "adapter_model.safetensors").read_bytes()
    progress = []
    dataset = write_jsonl(tmp_path / "kto.jsonl", kto_rows())
    result = training.train(
        config(tiny_model_dir, "kto", dataset, tmp_path / "task_budgeting_kto", reference_adapter=sft_adapter,
               learning_rate=1e-3),
        on_progress=progress.append,
    )  # fmt: skip

    assert [p["step"] for p in progress] == [1, 2, 3]
    assert all(math.isfinite(p["loss"]) for p in progress)
    # Step 1 is scored before any update: policy == reference, so every KTO reward is 0 and the loss is 1 - sigmoid(0).
    assert progress[0]["loss"] == pytest.approx(0.5, abs=1e-3)
    assert progress[-1]["loss"] < progress[0]["loss"]
    files = {p.name for p in result.output.iterdir()}
    assert files >= {"adapter_config.json", "adapter_model.safetensors", "rmn-adapter.json"}
    assert not (result.output / "ref").exists() and training.partial_dirs(result.output) == []
    sft_tensors, kto_tensors = (
        load_file(str(sft_adapter / "adapter_model.safetensors")),
        load_file(str(result.output / "adapter_model.safetensors")),
    )
    assert sft_tensors.keys() == kto_tensors.keys()
    assert any((kto_tensors[k] - sft_tensors[k]).abs().max() > 0 for k in sft_tensors)
    assert (sft_adapter / "adapter_model.safetensors").read_bytes() == before  # the reference is untouched
    meta = json.loads((result.output / "rmn-adapter.json").read_text())
    assert meta["method"] == "kto" and meta["reference_adapter"] == str(sft_adapter) and meta["rows"] == 8


def test_it_refuses_kto_rows_whose_label_is_not_true_or_false(tiny_model_dir, sft_adapter, tmp_path):
    rows = kto_rows()
    rows[2]["label"] = "yes"
    dataset = write_jsonl(tmp_path / "kto.jsonl", rows)
    with pytest.raises(TrainingInputError) as info:
        training.validate(config(tiny_model_dir, "kto", dataset, tmp_path / "out", reference_adapter=sft_adapter))
    assert info.value.field == "dataset" and "line 3" in str(info.value) and "'label'" in str(info.value)


def test_it_refuses_kto_without_a_reference_adapter_or_with_a_batch_of_one(tiny_model_dir, sft_adapter, tmp_path):
    dataset = write_jsonl(tmp_path / "kto.jsonl", kto_rows())
    with pytest.raises(TrainingInputError) as info:
        training.validate(config(tiny_model_dir, "kto", dataset, tmp_path / "out"))
    assert info.value.field == "reference_adapter" and "KTO needs reference_adapter" in str(info.value)
    with pytest.raises(TrainingInputError) as info:
        training.validate(
            config(tiny_model_dir, "kto", dataset, tmp_path / "out", reference_adapter=sft_adapter, batch_size=1)
        )
    assert info.value.field == "batch_size"
