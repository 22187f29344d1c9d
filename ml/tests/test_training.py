"""ml.engine.training on the tiny Llama: SFT, QLoRA and DPO adapters, progress, completion-only loss, cancel, bad
inputs."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ml.engine import training  # noqa: E402
from ml.engine.training import TrainConfig, TrainingCancelled, TrainingInputError  # noqa: E402

SYSTEM = {"role": "system", "content": "Answer with JSON only."}


def sft_rows(n: int = 6) -> list[dict]:
    return [
        {
            "prompt": [SYSTEM, {"role": "user", "content": f"Allocate ${i}M to maximize incremental margin"}],
            "completion": [{"role": "assistant", "content": json.dumps({"budget": i * 1e6, "min_roas": None})}],
            "task": "budgeting",
            "meta": {"i": i},
        }
        for i in range(1, n + 1)
    ]


def dpo_rows(n: int = 6) -> list[dict]:
    return [
        {
            "prompt": row["prompt"],
            "chosen": row["completion"],
            "rejected": [{"role": "assistant", "content": "Spend it all on Criteo."}],
            "task": "budgeting",
        }
        for row in sft_rows(n)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def cfg_for(tiny_model_dir, method: str, dataset: Path, output: Path, **kwargs) -> TrainConfig:
    kwargs.setdefault("max_steps", 3)
    return TrainConfig(
        base_model=str(tiny_model_dir), method=method, dataset=dataset, output=output, batch_size=2, threads=1, **kwargs
    )


def lora_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def leftovers(output: Path) -> list[Path]:
    return training.partial_dirs(output)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("training-data")
    return {
        "root": root,
        "sft": write_jsonl(root / "sft.jsonl", sft_rows()),
        "dpo": write_jsonl(root / "dpo.jsonl", dpo_rows()),
    }


@pytest.fixture(scope="module")
def sft_run(tiny_model_dir, data):
    progress = []
    cfg = cfg_for(tiny_model_dir, "sft", data["sft"], data["root"] / "adapters" / "task_budgeting", max_steps=4)
    result = training.train(cfg, on_progress=progress.append)
    return result, progress


def test_it_trains_an_sft_adapter_that_loads_and_changes_the_model(tiny_model_dir, data, sft_run):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, progress = sft_run
    assert result.output == data["root"] / "adapters" / "task_budgeting"
    files = {p.name for p in result.output.iterdir()}
    assert files >= {"adapter_config.json", "adapter_model.safetensors", "rmn-adapter.json"}
    assert leftovers(result.output) == []
    assert [p["step"] for p in progress] == [1, 2, 3, 4] and {p["total_steps"] for p in progress} == {4}
    assert all(math.isfinite(p["loss"]) for p in progress) and "reward_margin" not in progress[0]
    assert result.steps == 4 and result.final_loss == progress[-1]["loss"] and result.history == progress
    assert progress[-1]["loss"] < progress[0]["loss"]  # lr 1e-3 on six rows: the loss falls within four steps

    meta = json.loads((result.output / "rmn-adapter.json").read_text())
    assert meta["method"] == "sft" and meta["steps"] == 4 and meta["base_model"] == str(tiny_model_dir)
    assert meta["dataset_sha256"] == hashlib.sha256(data["sft"].read_bytes()).hexdigest()
    assert meta["rows"] == 6 and meta["params"]["learning_rate"] == 1e-3 and meta["params"]["lora_r"] == 16

    # LoRA's B matrices start at zero; training moved every one of them.
    tensors = lora_tensors(result.output)
    b_mats = [t for name, t in tensors.items() if "lora_B" in name]
    assert b_mats and all(t.abs().max() > 0 for t in b_mats)
    assert any("mlp" in name for name in tensors) and any("self_attn" in name for name in tensors)  # all-linear

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True).eval()
    ids = torch.tensor([[5, 17, 40, 99, 3]])
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(result.output)).eval()
        after = tuned(ids).logits
    assert (after - before).abs().max() > 1e-4


def test_it_computes_the_sft_loss_on_completion_tokens_only(tiny_model_dir, data, tmp_path):
    from transformers import AutoTokenizer

    rows = training.read_rows(data["sft"], "sft")
    trainer = training.build_trainer(
        cfg_for(tiny_model_dir, "sft", data["sft"], tmp_path / "out"), rows=rows, scratch=tmp_path / "scratch"
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    assert len(trainer.train_dataset) == len(rows)
    for row, example in zip(rows, trainer.train_dataset, strict=True):
        prompt_text = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        n = len(prompt_ids)
        input_ids, labels = example["input_ids"], example["labels"]
        assert input_ids[:n] == list(prompt_ids)
        assert labels[:n] == [-100] * n  # the prompt, chat markup included, never counts
        assert labels[n:] == input_ids[n:] and len(labels) - n >= 5  # every answer token counts
        answer = tokenizer.decode(input_ids[n:])
        assert row["completion"][0]["content"] in answer


def test_it_trains_qlora_on_a_4bit_nf4_base(tiny_model_dir, data, tmp_path):
    import bitsandbytes as bnb

    rows = training.read_rows(data["sft"], "qlora")
    cfg = cfg_for(tiny_model_dir, "qlora", data["sft"], tmp_path / "qlora")
    trainer = training.build_trainer(cfg, rows=rows, scratch=tmp_path / "scratch")
    quantized = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7  # q, k, v, o, gate, up, down in each of the two layers
    assert {m.weight.quant_type for m in quantized} == {"nf4"}
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.float32}
    del trainer

    progress = []
    result = training.train(cfg, on_progress=progress.append)
    assert [p["step"] for p in progress] == [1, 2, 3]
    assert json.loads((result.output / "rmn-adapter.json").read_text())["method"] == "qlora"
    b_mats = [t for name, t in lora_tensors(result.output).items() if "lora_B" in name]
    assert len(b_mats) == 14 and all(t.abs().max() > 0 for t in b_mats)
    assert leftovers(result.output) == []


def test_it_trains_dpo_from_the_sft_adapter_with_it_as_frozen_reference(tiny_model_dir, data, sft_run, tmp_path):
    sft_result, _ = sft_run
    sft_files_before = (sft_result.output / "adapter_model.safetensors").read_bytes()
    progress = []
    cfg = cfg_for(
        tiny_model_dir, "dpo", data["dpo"], tmp_path / "task_budgeting_dpo", reference_adapter=sft_result.output
    )
    result = training.train(cfg, on_progress=progress.append)

    assert [p["step"] for p in progress] == [1, 2, 3]
    assert all({"loss", "reward_margin", "reward_accuracy"} <= p.keys() for p in progress)
    # Step 1 is scored before any update: policy == reference (the SFT adapter), so the DPO loss is log 2, margin 0.
    assert progress[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert progress[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)
    assert progress[-1]["reward_margin"] > 0 and progress[-1]["reward_accuracy"] > 0.5

    sft_tensors, dpo_tensors = lora_tensors(sft_result.output), lora_tensors(result.output)
    assert sft_tensors.keys() == dpo_tensors.keys()  # the trained default adapter only, not TRL's "ref" copy
    assert any((dpo_tensors[k] - sft_tensors[k]).abs().max() > 0 for k in sft_tensors)
    assert not (result.output / "ref").exists()
    assert (sft_result.output / "adapter_model.safetensors").read_bytes() == sft_files_before
    meta = json.loads((result.output / "rmn-adapter.json").read_text())
    assert meta["method"] == "dpo" and meta["reference_adapter"] == str(sft_result.output)
    assert meta["params"]["learning_rate"] == 5e-5 and meta["params"]["beta"] == 0.1


def test_it_leaves_no_output_when_cancelled(tiny_model_dir, data, tmp_path):
    output = tmp_path / "cancelled"
    progress = []
    cfg = cfg_for(tiny_model_dir, "sft", data["sft"], output, max_steps=50)
    # should_stop is asked at the end of each step, before that step is logged: true after step 1's log -> stop at 2.
    with pytest.raises(TrainingCancelled, match="after step 2 of 50"):
        training.train(cfg, on_progress=progress.append, should_stop=lambda: len(progress) >= 1)
    assert [p["step"] for p in progress] == [1, 2]
    assert not output.exists() and leftovers(output) == []

    with pytest.raises(TrainingCancelled, match="before training started"):
        training.train(cfg, should_stop=lambda: True)
    assert not output.exists() and leftovers(output) == []


def test_it_removes_the_partial_folder_when_training_fails(tiny_model_dir, data, tmp_path):
    output = tmp_path / "broken"

    def explode(_progress):
        assert training.partial_dirs(output), "training writes into a partial folder"
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        training.train(cfg_for(tiny_model_dir, "sft", data["sft"], output), on_progress=explode)
    assert not output.exists() and leftovers(output) == []


def test_dpo_with_an_sft_term_adds_the_chosen_answers_likelihood_to_the_loss(tiny_model_dir, data, sft_run, tmp_path):
    progress = []
    cfg = cfg_for(
        tiny_model_dir, "dpo", data["dpo"], tmp_path / "rpo", reference_adapter=sft_run[0].output, sft_weight=1.0
    )
    result = training.train(cfg, on_progress=progress.append)
    # Step 1: policy == reference, so the preference part is still log 2 (margin 0); the SFT term adds the chosen
    # answers' mean negative log-likelihood, which for a tiny random model is several nats.
    assert progress[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)
    assert progress[0]["loss"] > math.log(2) + 1.0
    assert json.loads((result.output / "rmn-adapter.json").read_text())["params"]["sft_weight"] == 1.0


def test_it_names_what_is_wrong_with_the_input(tiny_model_dir, data, sft_run, tmp_path):
    def error(method="sft", dataset=None, output=None, **kwargs) -> TrainingInputError:
        cfg = cfg_for(tiny_model_dir, method, dataset or data["sft"], output or tmp_path / "out", **kwargs)
        with pytest.raises(TrainingInputError) as caught:
            training.train(cfg)
        assert not (tmp_path / "out").exists()
        return caught.value

    e = error(dataset=tmp_path / "nope.jsonl")
    assert e.field == "dataset" and "nope.jsonl does not exist" in str(e)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(sft_rows(1)[0]) + "\n" + "{not json\n")
    e = error(dataset=bad)
    assert e.field == "dataset" and "bad.jsonl line 2 is not valid JSON" in str(e)

    e = error(dataset=data["dpo"])  # preference pairs given to SFT
    assert e.field == "dataset" and "dpo.jsonl line 1 lacks 'completion'" in str(e)

    e = error(method="dpo", dataset=data["sft"], reference_adapter=sft_run[0].output)
    assert "sft.jsonl line 1 lacks 'chosen', 'rejected'" in str(e)

    odd = write_jsonl(tmp_path / "odd.jsonl", [{"prompt": [{"role": "user"}], "completion": [SYSTEM]}])
    assert "odd.jsonl line 1: every message in 'prompt' needs 'role' and 'content'" in str(error(dataset=odd))

    e = error(method="dpo", dataset=data["dpo"])
    assert e.field == "reference_adapter" and "DPO needs reference_adapter" in str(e)

    e = error(method="dpo", dataset=data["dpo"], reference_adapter=tmp_path)
    assert e.field == "reference_adapter" and "holds no adapter_config.json" in str(e)

    e = error(method="ppo")
    assert e.field == "method" and "Unknown method 'ppo'" in str(e)

    e = error(max_steps=0)
    assert e.field == "max_steps"

    e = error(sft_weight=-1.0, method="dpo", dataset=data["dpo"], reference_adapter=sft_run[0].output)
    assert e.field == "sft_weight" and "0 or more" in str(e)
    e = error(sft_weight=1.0)  # an SFT term is a DPO setting
    assert e.field == "sft_weight" and "DPO" in str(e)

    existing = tmp_path / "existing"
    existing.mkdir()
    e = error(output=existing)
    assert e.field == "output" and "already exists" in str(e)
    assert list(existing.iterdir()) == []
