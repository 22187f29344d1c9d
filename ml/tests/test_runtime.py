"""The LoRA runtime on the tiny Llama: composition maths, caching, isolation between concurrent requests, batching.

Adapters are random (``init_lora_weights=False``: lora_B is not zero), so each one visibly changes the model.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from ml.engine.runtime import AdapterRef, Composition, CompositionError, LoRARuntime, Sampling
from ml.testing import make_adapter

torch.set_num_threads(1)

PROMPTS = [
    [{"role": "user", "content": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"}],
    "Map the column Total Cost (USD)",
    [
        {"role": "system", "content": "You map export columns to RMIS fields."},
        {"role": "user", "content": "Attributed Sales 14d"},
    ],
]
# Bytes of the LoRA tensors per unit of rank on the tiny Llama (float32): per layer q, k, v, o are 64x64, gate and up
# 64->128, down 128->64, so r * (4 * 128 + 2 * 192 + 192) = 1088 r parameters; two layers.
TINY_BYTES_PER_RANK = 2 * 1088 * 4


@pytest.fixture(scope="module")
def adapter_dirs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("runtime-adapters")
    return {
        "alpha": make_adapter(tiny_model_dir, root / "a", seed=1),
        "beta": make_adapter(tiny_model_dir, root / "b", seed=2),
        "wide": make_adapter(tiny_model_dir, root / "wide", seed=3, r=8),
    }


def _runtime(tiny_model_dir, adapter_dirs, **kwargs) -> LoRARuntime:
    runtime = LoRARuntime(tiny_model_dir, **kwargs)
    for key, path in adapter_dirs.items():
        runtime.ensure_loaded(AdapterRef(key, path))
    return runtime


@pytest.fixture(scope="module")
def runtime(tiny_model_dir, adapter_dirs):
    return _runtime(tiny_model_dir, adapter_dirs)


@pytest.fixture(scope="module")
def live(tiny_model_dir, adapter_dirs):
    """Stacks activated together on every request instead of served by their cached cat merge."""
    return _runtime(tiny_model_dir, adapter_dirs, stack_merge=False)


@pytest.fixture(scope="module")
def fresh(tiny_model_dir):
    """Reference logits from a model that never saw an adapter."""
    return LoRARuntime(tiny_model_dir)


def close(x, y) -> bool:
    return torch.allclose(x, y, atol=1e-4, rtol=1e-4)


def test_it_stacks_two_adapters_exactly_like_their_cat_merge(runtime, live):
    for weights in (None, (0.5, 2.0)):
        stacked = live.logits(PROMPTS[0], Composition(("alpha", "beta"), "stack", weights))
        cat = live.logits(PROMPTS[0], Composition(("alpha", "beta"), "cat", weights))
        assert close(stacked, cat), (stacked - cat).abs().max()
        # The default runtime serves the stack by that merge: the same numbers.
        assert close(runtime.logits(PROMPTS[0], Composition(("alpha", "beta"), "stack", weights)), stacked)
    # ... and the stack is neither adapter alone: both contribute.
    stacked = live.logits(PROMPTS[0], Composition(("alpha", "beta")))
    assert (stacked - live.logits(PROMPTS[0], Composition(("alpha",)))).abs().max() > 0.1
    assert (stacked - live.logits(PROMPTS[0], Composition(("beta",)))).abs().max() > 0.1
    # Stacks of different ranks work too (cat concatenates the ranks).
    stacked = live.logits(PROMPTS[1], Composition(("alpha", "wide")))
    assert close(stacked, live.logits(PROMPTS[1], Composition(("alpha", "wide"), "cat")))
    assert close(stacked, runtime.logits(PROMPTS[1], Composition(("alpha", "wide"))))
    assert ["alpha", "wide"] in [c["adapters"] for c in runtime.stats()["composed"] if c["mode"] == "cat"]


def test_it_answers_differently_from_the_base_model_when_composed(runtime, fresh):
    base = fresh.logits(PROMPTS[0])
    assert close(runtime.logits(PROMPTS[0]), base)  # no composition: the untouched base model
    composed = Composition(("alpha", "beta"))
    assert (runtime.logits(PROMPTS[0], composed) - base).abs().max() > 0.5
    answers = runtime.generate(PROMPTS, composed, max_new_tokens=8)
    assert all(answers)
    assert answers != fresh.generate(PROMPTS, max_new_tokens=8)


def test_it_leaves_no_trace_of_one_request_in_the_next(live, fresh):
    alone = live.logits(PROMPTS[2], Composition(("alpha",)))
    live.generate(PROMPTS[:1], Composition(("alpha", "beta"), "stack", (3.0, -1.0)), max_new_tokens=4)
    live.generate(PROMPTS[:1], Composition(("alpha", "beta"), "ties", (0.2, 0.8)), max_new_tokens=4)
    # The weighted stack scaled alpha and beta only for its own batch; the merge is not active afterwards.
    assert torch.equal(live.logits(PROMPTS[2], Composition(("alpha",))), alone)
    assert close(live.logits(PROMPTS[2]), fresh.logits(PROMPTS[2]))


def test_it_lends_the_raw_model_with_a_composition_active_and_takes_it_back(runtime, fresh):
    composition = Composition(("alpha", "beta"), "ties", (0.6, 0.4))
    expected = runtime.logits(PROMPTS[1], composition)
    with runtime.using(composition) as (model, tokenizer):
        ids = tokenizer(PROMPTS[1], return_tensors="pt")
        with torch.no_grad():
            inside = model(**ids).logits[0]
    assert close(inside, expected)
    with torch.no_grad():
        after = model(**ids).logits[0]  # the same model object, used outside: the base model again
    assert close(after, fresh.logits(PROMPTS[1]))


@pytest.mark.parametrize("served", ["live", "runtime"])
def test_it_gives_concurrent_requests_each_their_own_adapter(served, request):
    runtime = request.getfixturevalue(served)
    compositions = {
        "a": Composition(("alpha",)),
        "b": Composition(("beta",)),
        "ab": Composition(("alpha", "beta"), "linear"),
        "weighted": Composition(("alpha", "beta"), "stack", (0.5, 1.5)),
    }
    reference = {name: runtime.generate(PROMPTS, c, max_new_tokens=6) for name, c in compositions.items()}
    assert len({tuple(r) for r in reference.values()}) == 4  # four distinguishable answers
    results: dict[tuple[str, int], list[str]] = {}
    errors: list[BaseException] = []

    def work(name: str, round_: int):
        try:
            results[(name, round_)] = runtime.generate(PROMPTS, compositions[name], max_new_tokens=6)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, i)) for i in range(4) for n in compositions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 16
    for (name, _round), answers in results.items():
        assert answers == reference[name]


def test_it_keeps_composed_merges_within_the_byte_bound_least_recently_used_first(tiny_model_dir, adapter_dirs):
    merge_bytes = 4 * TINY_BYTES_PER_RANK  # linear and ties merges of two r=4 adapters keep r=4
    runtime = _runtime(tiny_model_dir, adapter_dirs, cache_bytes=2 * merge_bytes + merge_bytes // 2)
    first = Composition(("alpha", "beta"), "linear", (0.5, 0.5))
    second = Composition(("alpha", "beta"), "ties", (1.0, 1.0))
    third = Composition(("beta", "alpha"), "linear", (0.5, 0.5))
    reference = runtime.logits(PROMPTS[0], first)
    runtime.logits(PROMPTS[0], second)
    runtime.logits(PROMPTS[0], first)  # a hit: first is now the most recently used
    stats = runtime.stats()
    assert (stats["misses"], stats["hits"], stats["composed_bytes"]) == (2, 1, 2 * merge_bytes)
    runtime.logits(PROMPTS[0], third)  # over the bound: second, the least recently used, goes
    stats = runtime.stats()
    assert stats["evictions"] == 1
    assert stats["composed_bytes"] == 2 * merge_bytes <= stats["cache_bytes"]
    assert [(c["mode"], c["adapters"]) for c in stats["composed"]] == [
        ("linear", ["alpha", "beta"]),
        ("linear", ["beta", "alpha"]),
    ]
    # A cat merge of two r=4 adapters is r=8: alone it fills the cache, so both linear merges are evicted.
    runtime.logits(PROMPTS[0], Composition(("alpha", "beta"), "cat"))
    stats = runtime.stats()
    assert [c["mode"] for c in stats["composed"]] == ["cat"] and stats["composed_bytes"] == 8 * TINY_BYTES_PER_RANK
    # An evicted merge is rebuilt to the same weights.
    assert torch.equal(runtime.logits(PROMPTS[0], first), reference)
    # A merge bigger than the whole bound is built, used for its request, and dropped.
    tight = _runtime(tiny_model_dir, adapter_dirs, cache_bytes=merge_bytes - 1)
    assert close(tight.logits(PROMPTS[0], first), reference)
    assert tight.stats()["composed"] == [] and tight.stats()["evictions"] == 1
    # A stack whose cat merge would not fit is activated live rather than merged and dropped on every request.
    stacked = tight.logits(PROMPTS[0], Composition(("alpha", "beta")))
    assert close(stacked, runtime.logits(PROMPTS[0], Composition(("alpha", "beta"), "cat")))
    assert (tight.stats()["misses"], tight.stats()["evictions"]) == (1, 1)


def test_weighted_merges_differ_by_weights_and_mode_and_repeat_exactly(runtime, tiny_model_dir, adapter_dirs):
    def logits(c):
        return runtime.logits(PROMPTS[1], c)

    linear_ab = logits(Composition(("alpha", "beta"), "linear", (0.7, 0.3)))
    variants = [
        logits(Composition(("alpha", "beta"), "linear", (0.3, 0.7))),
        logits(Composition(("alpha", "beta"), "ties", (0.7, 0.3))),
        logits(Composition(("alpha", "beta"), "ties", (0.7, 0.3), density=0.9)),
        logits(Composition(("alpha", "beta"), "stack", (0.7, 0.3))),
        logits(Composition(("alpha",))),
    ]
    for other in variants:
        assert (linear_ab - other).abs().max() > 1e-3
    # Deterministic: the same merge built in another runtime (from the same files) gives the same numbers.
    other_runtime = _runtime(tiny_model_dir, adapter_dirs)
    assert torch.equal(
        other_runtime.logits(PROMPTS[1], Composition(("alpha", "beta"), "linear", (0.7, 0.3))), linear_ab
    )
    ties = Composition(("alpha", "beta"), "ties", (0.7, 0.3))
    assert torch.equal(other_runtime.logits(PROMPTS[1], ties), variants[1])


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"adapters": ("a", "b"), "mode": "svd"}, "mode", "mode must be one of stack, linear, cat, ties"),
        ({"adapters": ("a", "b"), "mode": "linear", "weights": (1.0,)}, "weights", "1 value(s) for 2 adapter(s)"),
        ({"adapters": ("a",), "weights": (float("nan"),)}, "weights", "finite"),
        ({"adapters": ("a",), "weights": ("x",)}, "weights", "finite"),
        ({"adapters": ("a", "a")}, "adapters", "twice"),
        ({"adapters": (), "mode": "ties"}, "adapters", "at least one adapter"),
        ({"adapters": ("a", "b"), "mode": "ties", "density": 0}, "density", "(0, 1]"),
        ({"adapters": "a"}, "adapters", "not one string"),
    ],
)
def test_it_refuses_a_malformed_composition_naming_the_field(kwargs, field, words):
    with pytest.raises(CompositionError) as exc:
        Composition(**kwargs)
    assert exc.value.field == field
    assert words in str(exc.value)


def test_it_refuses_what_it_cannot_serve_and_stays_usable(runtime):
    with pytest.raises(CompositionError) as exc:
        runtime.generate(PROMPTS[:1], Composition(("alpha", "wide"), "linear"))
    assert exc.value.field == "mode" and "same rank" in str(exc.value)
    with pytest.raises(CompositionError) as exc:
        runtime.generate(PROMPTS[:1], Composition(("alpha", "never-loaded")))
    assert exc.value.field == "adapters" and "never-loaded" in str(exc.value)
    with pytest.raises(CompositionError) as exc:
        runtime.generate(PROMPTS[:1], Composition(("alpha",)), max_new_tokens=0)
    assert exc.value.field == "max_new_tokens"
    with pytest.raises(FileNotFoundError, match=r"adapter_config\.json"):
        runtime.ensure_loaded(AdapterRef("missing", Path("/nonexistent/adapter")))
    assert all(runtime.generate(PROMPTS[:1], Composition(("alpha", "beta")), max_new_tokens=4))


@pytest.mark.parametrize("served", ["live", "runtime"])
def test_batched_generation_equals_one_by_one(served, request):
    runtime = request.getfixturevalue(served)
    for composition in (
        None,
        Composition(("alpha",)),
        Composition(("alpha", "beta")),
        Composition(("alpha", "beta"), "ties"),
    ):
        batched = runtime.generate(PROMPTS, composition, max_new_tokens=10)
        assert batched == [runtime.generate([p], composition, max_new_tokens=10)[0] for p in PROMPTS]
    # One call mixing compositions: single adapters and merges share a mixed-adapter batch, stacks get their own.
    requests = [
        (PROMPTS[0], None),
        (PROMPTS[1], Composition(("alpha",))),
        (PROMPTS[2], Composition(("alpha", "beta"))),
        (PROMPTS[0], Composition(("alpha", "beta"), "ties")),
        (PROMPTS[1], Composition(("beta",))),
        (PROMPTS[2], Composition(("alpha", "beta"), "stack", (0.5, 1.5))),
        (PROMPTS[0], Composition(("beta",))),
    ]
    many = runtime.generate_many(requests, max_new_tokens=10)
    assert many == [runtime.generate([p], c, max_new_tokens=10)[0] for p, c in requests]
    assert len(set(many)) >= 5


def test_it_reports_bytes_per_adapter_and_reloads_evicted_adapters(tiny_model_dir, adapter_dirs, tmp_path):
    unbounded = _runtime(tiny_model_dir, adapter_dirs)
    stats = unbounded.stats()
    assert {k: v["bytes"] for k, v in stats["adapters"].items()} == {
        "alpha": 4 * TINY_BYTES_PER_RANK,
        "beta": 4 * TINY_BYTES_PER_RANK,
        "wide": 8 * TINY_BYTES_PER_RANK,
    }
    assert stats["adapter_loads"] == 3
    expected = unbounded.generate(PROMPTS, Composition(("alpha", "beta")), max_new_tokens=6)
    # Room for two r=4 adapters: loading the third evicts the least recently used, and asking for it reloads it.
    bounded = _runtime(tiny_model_dir, adapter_dirs, adapter_cache_bytes=8 * TINY_BYTES_PER_RANK)
    assert list(bounded.stats()["adapters"]) == ["wide"]
    live_stack = Composition(("alpha", "beta"), "stack", (1.0, 0.5))
    weighted = bounded.generate(PROMPTS, live_stack, max_new_tokens=6)
    bounded.stack_merge = False
    assert bounded.generate(PROMPTS, live_stack, max_new_tokens=6) == weighted
    bounded.stack_merge = True
    stats = bounded.stats()
    assert list(stats["adapters"]) == ["alpha", "beta"] and stats["adapter_bytes"] <= 8 * TINY_BYTES_PER_RANK
    assert (stats["adapter_loads"], stats["adapter_evictions"]) == (5, 3)
    assert bounded.generate(PROMPTS, Composition(("alpha", "beta")), max_new_tokens=6) == expected
    # A cached merge is served without its sources: evicting them (by loading wide) costs no reload.
    bounded.ensure_loaded(AdapterRef("wide", adapter_dirs["wide"]))
    assert list(bounded.stats()["adapters"]) == ["wide"]
    assert bounded.generate(PROMPTS, Composition(("alpha", "beta")), max_new_tokens=6) == expected
    assert bounded.stats()["adapter_loads"] == 6
    # A key loaded again from another folder (a new file under the same name) replaces the old weights, and the
    # merges built from the old ones go, whether the old adapter was still loaded (unbounded) or evicted (bounded).
    new_alpha = AdapterRef("alpha", make_adapter(tiny_model_dir, tmp_path / "a2", seed=7))
    for runtime in (unbounded, bounded):
        runtime.ensure_loaded(new_alpha)
        assert runtime.generate(PROMPTS, Composition(("alpha", "beta")), max_new_tokens=6) != expected


def test_sampling_gives_distinct_candidates_of_one_prompt_and_repeats_with_its_seed(runtime):
    prompt = PROMPTS[0]
    composition = Composition(("alpha",))
    greedy = runtime.generate([prompt] * 4, composition, max_new_tokens=12)
    assert len(set(greedy)) == 1  # greedy decoding: the same prompt always gets the same answer
    sampled = runtime.generate([prompt] * 4, composition, max_new_tokens=12, sampling=Sampling(1.0, seed=7))
    assert len(set(sampled)) >= 3  # a console can show two different candidates of the same prompt
    again = runtime.generate([prompt] * 4, composition, max_new_tokens=12, sampling=Sampling(1.0, seed=7))
    assert again == sampled
    other = runtime.generate([prompt] * 4, composition, max_new_tokens=12, sampling=Sampling(1.0, seed=8))
    assert other != sampled
    # A very low temperature is greedy in all but name.
    cold = runtime.generate([prompt] * 2, composition, max_new_tokens=12, sampling=Sampling(1e-4, seed=3))
    assert cold == greedy[:2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"temperature": 0}, "temperature"), ({"top_p": 1.5}, "top_p"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed")],
)
def test_it_refuses_a_malformed_sampling_naming_the_field(kwargs, field):
    with pytest.raises(CompositionError) as exc:
        Sampling(**kwargs)
    assert exc.value.field == field
