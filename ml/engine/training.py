"""LoRA training of the base model: SFT, DPO, KTO and QLoRA with TRL. Free of Django: the job layer (ml/jobs.py) and the
``train_lora`` command pass a TrainConfig and callbacks in, and register the adapter afterwards.

- ``sft``: TRL's SFTTrainer on a conversational prompt-completion dataset; the loss covers the completion tokens only
  (the prompt's labels are -100), see ``build_trainer``.
- ``qlora``: the same on a base loaded in 4-bit NF4 by bitsandbytes (runs on CPU too), with float32 LoRA weights.
- ``dpo``: TRL's DPOTrainer on prompt/chosen/rejected rows, starting from an SFT adapter (``reference_adapter``).
  The PEFT model carries the SFT adapter as the trainable ``default`` adapter; DPOTrainer copies it into a frozen
  ``ref`` adapter, so the reference is exactly the SFT policy. Only ``default`` is saved.
- ``kto``: TRL's KTOTrainer on prompt/completion/label rows (label true: a desirable answer, false: an undesirable
  one; thumbs up/down), set up exactly like DPO: the SFT adapter is the starting point and, copied into a frozen
  ``ref`` adapter, the reference. KTO estimates its KL term from mismatched prompt/completion pairs within a batch,
  so it needs a batch of at least 2 rows.

Files are written into a sibling temporary folder (``.NAME.partial-<pid>``) and renamed into place at the end, so an
output folder that exists is always complete; any failure or cancellation removes the temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

METHODS = ("sft", "dpo", "qlora", "kto")
# Methods that continue an SFT adapter, which is also their frozen reference.
PREFERENCE_METHODS = ("dpo", "kto")
# Keys each method reads from a JSONL row; every other key (task, meta, ...) is ignored.
ROW_KEYS = {
    "sft": ("prompt", "completion"),
    "qlora": ("prompt", "completion"),
    "dpo": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion", "label"),
}
DEFAULT_LEARNING_RATE = {"sft": 1e-3, "qlora": 1e-3, "dpo": 5e-5, "kto": 5e-5}
METADATA_FILE = "rmn-adapter.json"
ADAPTER_CONFIG_FILE = "adapter_config.json"
PARTIAL_INFIX = ".partial-"

Progress = Callable[[dict], None]


class TrainingInputError(ValueError):
    """A configuration or dataset the trainer cannot use; ``field`` names the culprit (dataset, output, ...)."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


class TrainingCancelled(Exception):
    """should_stop() turned true: training stopped at the end of a step and nothing was written."""


@dataclass
class TrainConfig:
    base_model: str
    method: str
    dataset: Path
    output: Path
    reference_adapter: Path | None = None
    max_steps: int = 60
    batch_size: int = 8
    learning_rate: float | None = None
    lora_r: int = 16
    lora_alpha: int = 32
    target_modules: str | list[str] = "all-linear"
    beta: float = 0.1
    # DPO only: weight of an SFT (negative log-likelihood) term on the chosen answers beside the preference loss
    # (TRL loss_type ["sigmoid", "sft"], as in RPO); 0 is plain DPO. It keeps the chosen answers likely, so a few
    # steps on pairs that share their format do not push the format itself down (broken JSON).
    sft_weight: float = 0.0
    max_length: int = 512
    seed: int = 0
    threads: int | None = None


@dataclass
class TrainResult:
    output: Path
    steps: int
    final_loss: float | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def partial_dir(output: Path, pid: int | None = None) -> Path:
    """The temporary sibling folder that ``train`` writes ``output`` into before renaming it."""
    output = Path(output)
    return output.parent / f".{output.name}{PARTIAL_INFIX}{os.getpid() if pid is None else pid}"


def partial_dirs(output: Path) -> list[Path]:
    """Every temporary folder of ``output`` left on disk, whichever process wrote it."""
    output = Path(output)
    if not output.parent.is_dir():
        return []
    return sorted(output.parent.glob(f".{output.name}{PARTIAL_INFIX}*"))


def learning_rate_for(cfg: TrainConfig) -> float:
    return cfg.learning_rate if cfg.learning_rate is not None else DEFAULT_LEARNING_RATE[cfg.method]


# --- validation ---------------------------------------------------------------------------------------------------


def _check_messages(value, *, key: str, where: str) -> None:
    if not isinstance(value, list) or not value:
        raise TrainingInputError(f"{where}: {key!r} must be a non-empty list of chat messages.", field="dataset")
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) or "content" not in message:
            raise TrainingInputError(
                f"{where}: every message in {key!r} needs 'role' and 'content', got {message!r:.80}.", field="dataset"
            )
        if not isinstance(message["content"], str):
            raise TrainingInputError(f"{where}: a message's 'content' in {key!r} must be text.", field="dataset")


def read_rows(path: Path, method: str) -> list[dict]:
    """Rows of the JSONL ``path`` reduced to the keys ``method`` trains on; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"Dataset {path} does not exist.", field="dataset")
    keys = ROW_KEYS[method]
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingInputError(f"{where} is not valid JSON: {exc.msg}.", field="dataset") from exc
            if not isinstance(row, dict):
                raise TrainingInputError(f"{where} must be a JSON object.", field="dataset")
            missing = [key for key in keys if key not in row]
            if missing:
                raise TrainingInputError(
                    f"{where} lacks {', '.join(repr(k) for k in missing)}: {method} rows need "
                    f"{', '.join(repr(k) for k in keys)} (has {', '.join(repr(k) for k in row) or 'nothing'}).",
                    field="dataset",
                )
            for key in keys:
                if key == "label":
                    if not isinstance(row[key], bool):
                        raise TrainingInputError(
                            f"{where}: 'label' must be true or false, not {row[key]!r:.40}.", field="dataset"
                        )
                    continue
                _check_messages(row[key], key=key, where=where)
            rows.append({key: row[key] for key in keys})
    if not rows:
        raise TrainingInputError(f"Dataset {path} holds no rows.", field="dataset")
    return rows


def validate(cfg: TrainConfig) -> list[dict]:
    """Check everything that can be checked before loading a model; return the dataset rows."""
    if cfg.method not in METHODS:
        raise TrainingInputError(f"Unknown method {cfg.method!r}: use one of {', '.join(METHODS)}.", field="method")
    for name in ("max_steps", "batch_size", "lora_r", "lora_alpha", "max_length"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TrainingInputError(f"{name} must be a positive whole number, not {value!r}.", field=name)
    if cfg.learning_rate is not None and not (0 < cfg.learning_rate < 1):
        raise TrainingInputError(f"learning_rate must lie between 0 and 1, not {cfg.learning_rate!r}.", field="lr")
    if isinstance(cfg.sft_weight, bool) or not isinstance(cfg.sft_weight, int | float) or cfg.sft_weight < 0:
        raise TrainingInputError(f"sft_weight must be 0 or more, not {cfg.sft_weight!r}.", field="sft_weight")
    if cfg.sft_weight and cfg.method != "dpo":
        raise TrainingInputError("sft_weight is a DPO setting.", field="sft_weight")
    output = Path(cfg.output)
    if output.exists():
        raise TrainingInputError(f"Output folder {output} already exists: choose a new one.", field="output")
    if cfg.method == "kto" and cfg.batch_size < 2:
        raise TrainingInputError(
            "KTO needs batch_size 2 or more: it estimates its KL term from mismatched rows of one batch.",
            field="batch_size",
        )
    if cfg.method in PREFERENCE_METHODS:
        if cfg.reference_adapter is None:
            raise TrainingInputError(
                f"{cfg.method.upper()} needs reference_adapter: the SFT adapter it starts from (also its frozen "
                "reference).",
                field="reference_adapter",
            )
        reference = Path(cfg.reference_adapter)
        if not (reference / ADAPTER_CONFIG_FILE).is_file():
            raise TrainingInputError(
                f"Reference adapter {reference} holds no {ADAPTER_CONFIG_FILE}.", field="reference_adapter"
            )
        trained_on = _read_metadata(reference).get("base_model")
        if trained_on and _same_model(trained_on, cfg.base_model) is False:
            raise TrainingInputError(
                f"Reference adapter {reference} was trained on {trained_on}, not on {cfg.base_model}.",
                field="reference_adapter",
            )
    elif cfg.reference_adapter is not None:
        raise TrainingInputError(
            f"reference_adapter is for DPO and KTO only, not {cfg.method}.", field="reference_adapter"
        )
    rows = read_rows(cfg.dataset, cfg.method)
    if cfg.method == "kto" and len(rows) < 2:
        raise TrainingInputError("KTO needs at least 2 rows (see batch_size).", field="dataset")
    return rows


def _read_metadata(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _same_model(a: str, b: str) -> bool | None:
    """True/False when both name local folders or both name hub ids; None when that cannot be told."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    if not pa.exists() and not pb.exists():
        return a == b
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- trainer ------------------------------------------------------------------------------------------------------


def _progress_callback(on_progress: Progress | None, should_stop: Callable[[], bool] | None, history: list[dict]):
    from transformers import TrainerCallback

    class RmnProgress(TrainerCallback):
        stopped = False

        def on_step_end(self, args, state, control, **kwargs):
            if should_stop is not None and should_stop():
                self.stopped = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:  # the summary logged after the last step repeats nothing new
                return
            entry = {"step": state.global_step, "total_steps": state.max_steps, "loss": float(logs["loss"])}
            if "rewards/margins" in logs:
                entry["reward_margin"] = float(logs["rewards/margins"])
            if "rewards/accuracies" in logs:
                entry["reward_accuracy"] = float(logs["rewards/accuracies"])
            if "kl" in logs:
                entry["kl"] = float(logs["kl"])
            history.append(entry)
            if on_progress is not None:
                on_progress(dict(entry))

    return RmnProgress()


def _lora_config(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,
        target_modules=cfg.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def _common_args(cfg: TrainConfig, scratch: Path) -> dict:
    import torch

    on_gpu = torch.cuda.is_available()
    return dict(
        output_dir=str(scratch),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=learning_rate_for(cfg),
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=not on_gpu,
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        # TRL 1.16 turns checkpointing on by default: it recomputes every forward pass (about 1.3x slower steps) to
        # save memory that small models on CPU do not need. Kept for QLoRA on GPU, where big bases need it.
        gradient_checkpointing=on_gpu and cfg.method == "qlora",
        seed=cfg.seed,
        data_seed=cfg.seed,
        disable_tqdm=True,
        max_length=cfg.max_length,
        dataloader_num_workers=0,
        remove_unused_columns=True,
    )


def _load_tokenizer(base_model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_model(cfg: TrainConfig):
    """A fresh model for every job: a 4-bit model that has run generate() trains with empty LoRA gradients."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"local_files_only": True, "dtype": torch.float32}
    if cfg.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32,
        )
        kwargs["device_map"] = "cuda:0" if torch.cuda.is_available() else "cpu"
    return AutoModelForCausalLM.from_pretrained(cfg.base_model, **kwargs)


def build_trainer(cfg: TrainConfig, *, rows: list[dict], scratch: Path, callbacks: list | None = None):
    """The TRL trainer for ``cfg`` with its dataset already tokenized (``trainer.train_dataset`` holds the labels)."""
    import datasets
    from transformers import PrinterCallback

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # per-map bars flood worker logs; progress goes through on_progress
    try:
        trainer = _build_trainer(cfg, rows=rows, scratch=scratch, callbacks=callbacks)
    finally:
        if bars:
            datasets.enable_progress_bars()
    trainer.remove_callback(PrinterCallback)  # with tqdm off, Trainer prints every log dict
    return trainer


def _build_trainer(cfg: TrainConfig, *, rows: list[dict], scratch: Path, callbacks: list | None):
    from datasets import Dataset

    dataset = Dataset.from_list(rows)
    tokenizer = _load_tokenizer(cfg.base_model)
    model = _load_model(cfg)
    if cfg.method in ("sft", "qlora"):
        from trl import SFTConfig, SFTTrainer

        # completion_only_loss=True states what TRL 1.16 infers for prompt-completion rows: labels of prompt tokens
        # are -100, so the loss covers only the answer (tests check the labels).
        args = SFTConfig(**_common_args(cfg, scratch), completion_only_loss=True, packing=False)
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=_lora_config(cfg),
            callbacks=callbacks,
        )
        if cfg.method == "qlora" and not _on_gpu():
            # TRL casts QLoRA's LoRA weights to bfloat16 (the paper's GPU recipe); on CPU float32 is exact and faster.
            for param in trainer.model.parameters():
                if param.requires_grad:
                    param.data = param.data.float()
        return trainer
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, str(cfg.reference_adapter), is_trainable=True)
    if cfg.method == "kto":
        from trl import KTOConfig, KTOTrainer

        args = KTOConfig(**_common_args(cfg, scratch), beta=cfg.beta)
        return KTOTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks
        )
    from trl import DPOConfig, DPOTrainer

    losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, float(cfg.sft_weight)]} if cfg.sft_weight else {}
    args = DPOConfig(**_common_args(cfg, scratch), beta=cfg.beta, **losses)
    return DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks)


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def train(
    cfg: TrainConfig, *, on_progress: Progress | None = None, should_stop: Callable[[], bool] | None = None
) -> TrainResult:
    """Train one adapter into ``cfg.output`` (a new folder): PEFT's files plus ``rmn-adapter.json``.

    ``on_progress`` receives ``{"step", "total_steps", "loss"}`` (plus ``reward_margin`` and ``reward_accuracy`` for
    DPO, ``kl`` for KTO) after every step. When ``should_stop()`` turns true, training stops at the end of the step and
    TrainingCancelled is raised; no output is left behind then, nor after any error.
    """
    started = time.monotonic()
    cfg.dataset, cfg.output = Path(cfg.dataset), Path(cfg.output)
    rows = validate(cfg)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("Cancelled before training started.")
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    output = cfg.output
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = partial_dir(output)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    history: list[dict] = []
    try:
        progress = _progress_callback(on_progress, should_stop, history)
        trainer = build_trainer(cfg, rows=rows, scratch=staging / "trainer", callbacks=[progress])
        trainer.train()
        if progress.stopped:
            raise TrainingCancelled(f"Cancelled after step {trainer.state.global_step} of {cfg.max_steps}.")
        final_loss = history[-1]["loss"] if history else None
        if final_loss is not None and not math.isfinite(final_loss):
            raise RuntimeError(f"Training diverged: the loss at step {history[-1]['step']} is {final_loss}.")
        adapter_dir = staging / "adapter"
        trainer.model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
        if not (adapter_dir / ADAPTER_CONFIG_FILE).is_file():
            # PEFT saves a non-default adapter into a subfolder of its name; only "default" is trained here.
            raise RuntimeError(f"PEFT wrote no {ADAPTER_CONFIG_FILE} into {adapter_dir}.")
        metadata = {
            "base_model": cfg.base_model,
            "method": cfg.method,
            "steps": trainer.state.global_step,
            "final_loss": final_loss,
            "dataset": str(cfg.dataset),
            "dataset_sha256": _sha256(cfg.dataset),
            "rows": len(rows),
            "reference_adapter": str(cfg.reference_adapter) if cfg.reference_adapter else None,
            "params": _params(cfg),
            "seconds": round(time.monotonic() - started, 3),
        }
        (adapter_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        # Readable by workers that run under another user (save_pretrained keeps the umask, mkdtemp would not).
        for path in adapter_dir.iterdir():
            path.chmod(0o644)
        adapter_dir.chmod(0o755)
        if output.exists():
            raise TrainingInputError(
                f"Output folder {output} appeared while training: not replacing it.", field="output"
            )
        os.rename(adapter_dir, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TrainResult(
        output=output,
        steps=metadata["steps"],
        final_loss=final_loss,
        history=history,
        seconds=time.monotonic() - started,
    )


def _params(cfg: TrainConfig) -> dict:
    params = asdict(cfg)
    for key in ("base_model", "method", "dataset", "output", "reference_adapter"):
        params.pop(key)
    params["learning_rate"] = learning_rate_for(cfg)
    return params
