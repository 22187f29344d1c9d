"""The multi-tenant LoRA runtime: one base model in memory, named adapters loaded once, composed per request.

A request names adapters by key (one key per adapter version, e.g. ``brand_acme@acme@v2``) and a mode:

* ``stack``: the adapters act together; each adds its own low-rank update, optionally scaled by its weight. That is
  exactly what a ``cat`` merge computes (the tests hold the two equal), so by default a stack of several adapters is
  served by its cached ``cat`` merge: one adapter's cost per token instead of one per stacked adapter. With
  ``stack_merge=False`` the adapters are activated together for the request instead (per-request scaling).
* ``linear``, ``cat``, ``ties``: PEFT's ``add_weighted_adapter`` builds one composed adapter from them. Composed
  adapters are cached by (mode, keys, weights, density) in an LRU bounded in bytes; the least recently used ones are
  deleted from the model when the bound is passed.

Requests are answered under one lock: the active adapters and any per-request scaling are set for the batch and put
back in ``finally``, so nothing one request does can leak into the next. Batched generation is greedy with left
padding, or sampled given a ``Sampling`` (seeded); ``generate_many`` answers every request whose composition is
served by a single adapter (the base model, one adapter, a merge) in shared mixed-adapter batches, and each live
multi-adapter stack in batches of its own.

Who may use which adapter is not decided here: the Django layer (ml/inference.py) authorizes every request before it
reaches the runtime. Free of Django. What the model reads and writes passes a text guard (``set_text_guard``; the
Django app installs governance's PII redaction at start-up), so no caller can hand the model personal data.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from numbers import Real
from pathlib import Path

MODES = ("stack", "linear", "cat", "ties")
MERGE_MODES = ("linear", "cat", "ties")
# PEFT's name for "no adapter" in a mixed-adapter batch.
BASE = "__base__"
COMPOSED_PREFIX = "rmn-composed-"

Prompt = list[dict] | str
TextGuard = Callable[[str], str]
_text_guard: TextGuard | None = None


def set_text_guard(guard: TextGuard | None) -> None:
    """The guard every runtime applies to each prompt text before encoding it and to each answer before returning
    it (the process-wide default; a runtime built with ``text_guard=`` uses its own)."""
    global _text_guard
    _text_guard = guard


class CompositionError(ValueError):
    """A composition that cannot be served; ``field`` names the part that is wrong (adapters, mode, weights,
    density, max_new_tokens)."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AdapterRef:
    key: str  # unique per adapter version, e.g. "brand_acme@acme@v2"
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))
        if not self.key or self.key == BASE or self.key.startswith(COMPOSED_PREFIX):
            raise CompositionError(f"{self.key!r} cannot name an adapter.", field="adapters")


@dataclass(frozen=True)
class Sampling:
    """Sample instead of greedy decoding: two answers to one prompt can differ (a review console shows reviewers two
    candidates of the same prompt). ``seed`` makes a request repeatable."""

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.temperature, Real) or isinstance(self.temperature, bool) or not self.temperature > 0:
            raise CompositionError(f"temperature must be above 0, not {self.temperature!r}.", field="temperature")
        if not isinstance(self.top_p, Real) or isinstance(self.top_p, bool) or not 0 < self.top_p <= 1:
            raise CompositionError(f"top_p must lie in (0, 1], not {self.top_p!r}.", field="top_p")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise CompositionError(f"seed must be a whole number >= 0, not {self.seed!r}.", field="seed")


@dataclass(frozen=True)
class Composition:
    adapters: tuple[str, ...]  # AdapterRef keys, in order
    mode: str = "stack"  # stack | linear | cat | ties
    weights: tuple[float, ...] | None = None  # one per adapter; None: 1.0 each
    density: float = 0.5  # ties: the share of each update's largest entries kept

    def __post_init__(self):
        if isinstance(self.adapters, str):
            raise CompositionError("adapters must be a list of names, not one string.", field="adapters")
        adapters = tuple(self.adapters)
        object.__setattr__(self, "adapters", adapters)
        if self.mode not in MODES:
            raise CompositionError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}.", field="mode")
        if len(set(adapters)) != len(adapters):
            raise CompositionError("An adapter is listed twice in the composition.", field="adapters")
        if self.mode in MERGE_MODES and not adapters:
            raise CompositionError(f"A {self.mode} merge needs at least one adapter.", field="adapters")
        if self.weights is not None:
            weights = tuple(self.weights) if not isinstance(self.weights, str) else (self.weights,)
            if len(weights) != len(adapters):
                raise CompositionError(
                    f"weights has {len(weights)} value(s) for {len(adapters)} adapter(s): give one weight per adapter.",
                    field="weights",
                )
            for w in weights:
                if isinstance(w, bool) or not isinstance(w, Real) or not math.isfinite(w):
                    raise CompositionError(f"weights must be finite numbers, not {w!r}.", field="weights")
            object.__setattr__(self, "weights", tuple(float(w) for w in weights))
        density = self.density
        if isinstance(density, bool) or not isinstance(density, Real) or not 0.0 < density <= 1.0:
            raise CompositionError(f"density must be a number in (0, 1], not {density!r}.", field="density")
        object.__setattr__(self, "density", float(density))

    @property
    def effective_weights(self) -> tuple[float, ...]:
        return self.weights if self.weights is not None else (1.0,) * len(self.adapters)

    @property
    def cache_key(self) -> tuple:
        return (self.mode, self.adapters, self.effective_weights, self.density if self.mode == "ties" else None)


@dataclass
class _Loaded:
    path: Path
    bytes: int
    load_seconds: float


@dataclass
class _Composed:
    name: str
    composition: Composition
    bytes: int
    build_seconds: float


@dataclass(frozen=True)
class _Unit:
    """How one request is served: ``names`` active together, ``weights`` scaling them (None: as trained)."""

    names: tuple[str, ...]  # empty: the base model
    weights: tuple[float, ...] | None = None

    @property
    def single(self) -> str | None:
        # A unit that a mixed-adapter batch can serve row by row.
        if self.weights is not None or len(self.names) > 1:
            return None
        return self.names[0] if self.names else BASE


def _inject_adapter_names(module, args, kwargs, adapter_names):
    kwargs["adapter_names"] = adapter_names
    return args, kwargs


class LoRARuntime:
    """See the module docstring. Thread-safe: every public method takes the runtime's lock.

    ``cache_bytes`` bounds the composed (merged) adapters; ``adapter_cache_bytes`` bounds the adapters loaded from
    disk (None: keep every adapter once loaded). An evicted adapter is reloaded from its path when asked for again.
    ``stack_merge`` serves a stack of several adapters by their cached ``cat`` merge (the same numbers, the speed of
    one adapter); False activates them together on every request instead (no extra memory, slower per token).
    """

    def __init__(
        self,
        base_model: str | Path,
        *,
        cache_bytes: int = 256 * 2**20,
        dtype=None,
        adapter_cache_bytes: int | None = None,
        device: str | None = None,
        batch_size: int = 16,
        stack_merge: bool = True,
        text_guard: TextGuard | None = None,
    ):
        import torch

        from ml.engine.base import load_base

        if cache_bytes < 0 or (adapter_cache_bytes is not None and adapter_cache_bytes < 0):
            raise ValueError("cache sizes must be >= 0 bytes")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.base_model = str(base_model)
        self.cache_bytes = int(cache_bytes)
        self.adapter_cache_bytes = adapter_cache_bytes
        self.batch_size = batch_size
        self.stack_merge = stack_merge
        self._own_guard = text_guard
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._lock = threading.RLock()
        self._model, self._tokenizer = load_base(base_model, dtype=dtype)
        self._model.to(self.device)
        self._peft = None  # the PeftModel wrapper, created with the first adapter
        self._layers: list = []  # every LoRA layer in the model (refreshed when adapters come and go)
        self._adapters: OrderedDict[str, _Loaded] = OrderedDict()  # LRU order, most recent last
        self._known: dict[str, Path] = {}  # every key ever loaded -> its path, to reload after an eviction
        self._sizes: dict[str, int] = {}  # ... and its bytes
        self._composed: OrderedDict[tuple, _Composed] = OrderedDict()
        self._pinned: set[str] = set()
        self._counters = dict(hits=0, misses=0, evictions=0, adapter_loads=0, adapter_evictions=0)
        eos = self._model.generation_config.eos_token_id
        eos_ids = list(eos) if isinstance(eos, list | tuple) else ([eos] if eos is not None else [])
        if self._tokenizer.eos_token_id is not None and self._tokenizer.eos_token_id not in eos_ids:
            eos_ids.append(self._tokenizer.eos_token_id)
        self._eos_ids = eos_ids
        self._pad_id = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else eos_ids[0]

    # ----------------------------------------------------------------------------------------------- adapters
    def ensure_loaded(self, ref: AdapterRef) -> None:
        """Load ``ref`` once. A key already loaded from another path is reloaded (its merges are dropped)."""
        with self._lock:
            self._load(ref.key, ref.path)
            self._evict_adapters()

    def unload(self, key: str) -> bool:
        """Delete an adapter from the model (and the merges built from it); False when it was not loaded."""
        with self._lock:
            self._drop_merges_of(key)
            self._known.pop(key, None)
            self._sizes.pop(key, None)
            return self._remove(key)

    def _load(self, key: str, path: Path) -> None:
        path = Path(path)
        if self._known.get(key, path) != path:
            self._drop_merges_of(key)  # the key now names other weights
        loaded = self._adapters.get(key)
        if loaded is not None and loaded.path == path:
            self._adapters.move_to_end(key)
            return
        if loaded is not None:
            self._remove(key)
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"Adapter {key!r}: {path} holds no adapter_config.json.")
        started = time.perf_counter()
        previous = self._active()
        try:
            if self._peft is None:
                from peft import PeftModel

                self._peft = PeftModel.from_pretrained(self._model, str(path), adapter_name=key, is_trainable=False)
            else:
                self._peft.load_adapter(str(path), adapter_name=key, is_trainable=False)
        except Exception as exc:
            raise RuntimeError(f"Could not load adapter {key!r} from {path}: {exc}") from exc
        finally:
            self._refresh_layers()
            self._set_active(previous)
        self._adapters[key] = _Loaded(path, self._adapter_bytes(key), time.perf_counter() - started)
        self._known[key] = path
        self._sizes[key] = self._adapters[key].bytes
        self._counters["adapter_loads"] += 1

    def _drop_merges_of(self, key: str) -> None:
        for ckey in [c for c, entry in self._composed.items() if key in entry.composition.adapters]:
            self._drop_composed(ckey)

    def _remove(self, key: str) -> bool:
        # Merges built from the adapter stay: they are copies, and a cached one is served without its sources.
        if self._adapters.pop(key, None) is None:
            return False
        self._delete_from_model(key)
        return True

    def _delete_from_model(self, name: str) -> None:
        previous = [n for n in self._active() if n != name]
        self._peft.delete_adapter(name)
        self._refresh_layers()
        self._set_active(previous)

    def _evict_adapters(self) -> None:
        if self.adapter_cache_bytes is None:
            return
        for key in list(self._adapters):
            if sum(a.bytes for a in self._adapters.values()) <= self.adapter_cache_bytes:
                break
            if key not in self._pinned:
                self._remove(key)
                self._counters["adapter_evictions"] += 1

    def _refresh_layers(self) -> None:
        from peft.tuners.lora import LoraLayer

        self._layers = [m for m in self._model.modules() if isinstance(m, LoraLayer)]

    def _adapter_bytes(self, name: str) -> int:
        import torch

        total = 0
        for layer in self._layers:
            for attr in ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector"):
                container = getattr(layer, attr, None)
                if container is None or name not in container:
                    continue
                item = container[name]  # a module (Linear), or a bare Parameter for embedding LoRA
                params = item.parameters() if isinstance(item, torch.nn.Module) else [item]
                total += sum(p.numel() * p.element_size() for p in params)
        return total

    # ------------------------------------------------------------------------------------------- activation
    def _active(self) -> list[str]:
        return list(self._layers[0].active_adapters) if self._layers else []

    def _set_active(self, names: Sequence[str]) -> None:
        # PEFT's set_adapter walks every module and toggles requires_grad (about 1 ms on a tiny model, tens on a real
        # one); the LoRA layers' forward only reads this list, so setting it on the cached layers is the fast switch.
        # Written to the instance dict: nn.Module.__setattr__'s parameter/module checks cost 3 µs a layer.
        names = list(names)
        for layer in self._layers:
            layer.__dict__["_active_adapter"] = names

    def _composed_name(self, composition: Composition) -> str:
        """The cached merged adapter for ``composition``, built on a miss (evicting others past the byte bound)."""
        ckey = composition.cache_key
        entry = self._composed.get(ckey)
        if entry is not None:
            self._counters["hits"] += 1
            self._composed.move_to_end(ckey)
            return entry.name
        self._counters["misses"] += 1
        name = COMPOSED_PREFIX + hashlib.sha1(repr(ckey).encode()).hexdigest()[:16]
        started = time.perf_counter()
        previous = self._active()
        try:
            self._peft.base_model.add_weighted_adapter(
                adapters=list(composition.adapters),
                weights=list(composition.effective_weights),
                adapter_name=name,
                combination_type=composition.mode,
                density=composition.density if composition.mode == "ties" else None,
            )
        except ValueError as exc:
            if name in self._peft.peft_config:
                self._delete_from_model(name)
            hint = (
                " (linear and ties need adapters of the same rank; stack and cat take any)"
                if "r value" in str(exc)
                else ""
            )
            raise CompositionError(f"Cannot build a {composition.mode} merge: {exc}{hint}", field="mode") from exc
        finally:
            self._refresh_layers()
            self._set_active(previous)
        self._composed[ckey] = _Composed(name, composition, self._adapter_bytes(name), time.perf_counter() - started)
        return name

    def _drop_composed(self, ckey: tuple) -> None:
        entry = self._composed.pop(ckey)
        self._delete_from_model(entry.name)

    def _evict_composed(self) -> None:
        for ckey in list(self._composed):
            if sum(e.bytes for e in self._composed.values()) <= self.cache_bytes:
                break
            if self._composed[ckey].name not in self._pinned:
                self._drop_composed(ckey)
                self._counters["evictions"] += 1

    def _plan(self, composition: Composition | None) -> _Unit:
        """Make sure everything ``composition`` needs is in the model and pinned; say how to serve it."""
        if composition is None or not composition.adapters:
            return _Unit(())
        for key in composition.adapters:
            if key not in self._known:
                raise CompositionError(f"Adapter {key!r} is not loaded: call ensure_loaded first.", field="adapters")
        merge = self._merge_for(composition)
        if merge is not None:
            if merge.cache_key not in self._composed:
                self._load_all(composition.adapters)  # a cached merge is served without its sources
            try:
                name = self._composed_name(merge)
            except CompositionError:
                if composition.mode != "stack":
                    raise
                # adapters PEFT cannot concatenate: a stack activates them together instead
            else:
                self._pinned.add(name)
                return _Unit((name,))
        self._load_all(composition.adapters)
        weights = composition.weights
        if weights is not None and all(w == 1.0 for w in weights):
            weights = None
        return _Unit(composition.adapters, weights)

    def _merge_for(self, composition: Composition) -> Composition | None:
        """The merge that serves ``composition``, or None to activate its adapters live."""
        if composition.mode != "stack":
            return composition
        # A stack of several adapters is served by its cat merge, which computes exactly the same sum: one adapter per
        # layer instead of several, so a composed request costs what a single-adapter one does and joins mixed
        # batches. A merge that could not stay in the cache would be rebuilt on every request: activated live instead.
        cat_bytes = sum(self._sizes[key] for key in composition.adapters)
        if self.stack_merge and len(composition.adapters) > 1 and cat_bytes <= self.cache_bytes:
            return Composition(composition.adapters, "cat", composition.weights)
        return None

    def _load_all(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._load(key, self._known[key])
            self._pinned.add(key)

    @contextmanager
    def _serving(self, compositions: Sequence[Composition | None]) -> Iterator[list[_Unit]]:
        with self._lock:
            outer = set(self._pinned)  # a nested call (using() inside using()) keeps what the outer one pinned
            try:
                yield [self._plan(c) for c in compositions]
            finally:
                self._pinned = outer
                self._evict_composed()
                self._evict_adapters()

    @contextmanager
    def _activated(self, unit: _Unit, adapter_names: list[str] | None = None) -> Iterator[None]:
        """``unit`` active (or per-row ``adapter_names``) for the duration; the previous state restored after."""
        previous = self._active()
        scaled: list[tuple] = []
        hooks = []
        try:
            if adapter_names is not None:
                self._set_active([])
                hooks = [
                    layer.register_forward_pre_hook(
                        partial(_inject_adapter_names, adapter_names=adapter_names), with_kwargs=True
                    )
                    for layer in self._layers
                ]
            else:
                self._set_active(unit.names)
                for name, weight in zip(unit.names, unit.weights or (), strict=False):
                    if weight == 1.0:
                        continue
                    for layer in self._layers:
                        if name in layer.scaling:
                            scaled.append((layer, name, layer.scaling[name]))
                            layer.scaling[name] = layer.scaling[name] * weight
            yield
        finally:
            for handle in hooks:
                handle.remove()
            for layer, name, value in reversed(scaled):
                layer.scaling[name] = value
            self._set_active(previous)

    @contextmanager
    def using(self, composition: Composition | None = None):
        """Hold the lock with ``composition`` active and yield ``(model, tokenizer)`` for callers that need the raw
        model (scoring, evaluation). Everything is put back on exit."""
        with self._serving([composition]) as units, self._activated(units[0]):
            yield self._model, self._tokenizer

    # ------------------------------------------------------------------------------------------- generation
    def _guard(self) -> TextGuard | None:
        return self._own_guard or _text_guard

    def _guarded(self, prompt: Prompt) -> Prompt:
        guard = self._guard()
        if guard is None:
            return prompt
        if isinstance(prompt, str):
            return guard(prompt)
        return [{**m, "content": guard(m["content"])} if isinstance(m.get("content"), str) else m for m in prompt]

    def _encode(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return self._tokenizer(self._guarded(prompt))["input_ids"]
        if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
            raise CompositionError("A prompt is a string or a list of {role, content} messages.", field="prompts")
        prompt = self._guarded(prompt)
        text = self._tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        # The template already writes its special tokens.
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def _batch_tensors(self, encoded: list[list[int]]):
        import torch

        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(encoded), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1
        return input_ids.to(self.device), attention.to(self.device)

    def _generate_batch(
        self, encoded: list[list[int]], max_new_tokens: int, min_new_tokens: int = 0, sampling: Sampling | None = None
    ) -> list[str]:
        import torch
        from transformers import GenerationConfig

        input_ids, attention = self._batch_tensors(encoded)
        sample = {"do_sample": False}
        if sampling is not None:
            sample = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens or None,
            num_beams=1,
            pad_token_id=self._pad_id,
            eos_token_id=self._eos_ids or None,
            **sample,
        )
        with torch.inference_mode():
            if sampling is not None:
                # Under the runtime's lock, so a seeded request gets the same tokens whatever else is served.
                torch.manual_seed(sampling.seed)
            out = self._model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config)
        new = out[:, input_ids.shape[1] :]
        return [self._tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

    def generate(
        self,
        prompts: Sequence[Prompt],
        composition: Composition | None = None,
        *,
        max_new_tokens: int = 256,
        min_new_tokens: int = 0,
        sampling: Sampling | None = None,
    ) -> list[str]:
        """Answers to ``prompts`` (chat messages get the chat template with the generation prompt): greedy, or
        sampled with ``sampling`` (the same seed and batch give the same answers)."""
        if isinstance(prompts, str):
            raise CompositionError("prompts must be a list of prompts, not one string.", field="prompts")
        return self.generate_many(
            [(p, composition) for p in prompts],
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens,
            sampling=sampling,
        )

    def generate_many(
        self,
        requests: Sequence[tuple[Prompt, Composition | None]],
        *,
        max_new_tokens: int = 256,
        min_new_tokens: int = 0,
        sampling: Sampling | None = None,
    ) -> list[str]:
        """Answer requests with different compositions in as few batches as possible, in the order given.

        Requests served by a single adapter (the base model, one unweighted adapter, or a merge) share mixed-adapter
        batches; a stack of several (or weighted) adapters gets batches of its own.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise CompositionError(
                f"max_new_tokens must be a positive integer, not {max_new_tokens!r}.", field="max_new_tokens"
            )
        if not requests:
            return []
        outputs: list[str | None] = [None] * len(requests)
        with self._serving([c for _, c in requests]) as units:
            encoded = [self._encode(p) for p, _ in requests]
            singles = sorted((i for i, u in enumerate(units) if u.single is not None), key=lambda i: units[i].single)
            groups: dict[_Unit, list[int]] = {}
            for i, unit in enumerate(units):
                if unit.single is None:
                    groups.setdefault(unit, []).append(i)
            batches: list[tuple[_Unit, list[int], bool]] = []
            for start in range(0, len(singles), self.batch_size):
                chunk = singles[start : start + self.batch_size]
                mixed = len({units[i].single for i in chunk}) > 1
                batches.append((units[chunk[0]], chunk, mixed))
            for unit, indices in groups.items():
                for start in range(0, len(indices), self.batch_size):
                    batches.append((unit, indices[start : start + self.batch_size], False))
            for unit, chunk, mixed in batches:
                names = [units[i].single for i in chunk] if mixed else None
                with self._activated(unit, names):
                    texts = self._generate_batch([encoded[i] for i in chunk], max_new_tokens, min_new_tokens, sampling)
                for i, text in zip(chunk, texts, strict=True):
                    outputs[i] = text
        guard = self._guard()
        if guard is not None:
            outputs = [guard(text) for text in outputs]
        return outputs  # type: ignore[return-value]

    def logits(self, prompt: Prompt, composition: Composition | None = None):
        """The next-token logits at every position of ``prompt`` (float32 tensor, positions x vocabulary)."""
        import torch

        with self._serving([composition]) as units, self._activated(units[0]):
            input_ids, attention = self._batch_tensors([self._encode(prompt)])
            with torch.inference_mode():
                out = self._model(input_ids=input_ids, attention_mask=attention).logits
            return out[0].float().cpu().clone()

    # ------------------------------------------------------------------------------------------------ stats
    def stats(self) -> dict:
        with self._lock:
            return {
                "base_model": self.base_model,
                "device": self.device,
                "adapters": {
                    key: {"path": str(a.path), "bytes": a.bytes, "load_seconds": round(a.load_seconds, 4)}
                    for key, a in self._adapters.items()
                },
                "adapter_bytes": sum(a.bytes for a in self._adapters.values()),
                "adapter_cache_bytes": self.adapter_cache_bytes,
                "composed": [
                    {
                        "name": e.name,
                        "adapters": list(e.composition.adapters),
                        "mode": e.composition.mode,
                        "weights": list(e.composition.effective_weights),
                        "density": e.composition.density if e.composition.mode == "ties" else None,
                        "bytes": e.bytes,
                        "build_seconds": round(e.build_seconds, 4),
                    }
                    for e in self._composed.values()
                ],
                "composed_bytes": sum(e.bytes for e in self._composed.values()),
                "cache_bytes": self.cache_bytes,
                **self._counters,
            }
