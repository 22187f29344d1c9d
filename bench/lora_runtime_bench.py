"""LoRA runtime benchmark on the embedded base model: generation speed per composition, adapter switch and cold-load
latency, memory per loaded adapter.

Three synthetic adapters (r=16, lora_alpha=32, every linear layer, random lora_A and lora_B so each one changes the
model) are saved to a temporary folder. One ``ml.engine.runtime.LoRARuntime`` serves
them; the rows of the speed table are:

* base model: no adapter;
* one adapter;
* three stacked, live: the three adapters active together (``stack_merge=False``: three LoRA updates per layer);
* three stacked (default): the same composition served by its cached ``cat`` merge (identical numbers, one update);
* linear merge of three: ``add_weighted_adapter(combination_type="linear")``, cached;
* merged into the base weights: the linear merge folded into a separate copy of the model (``merge_and_unload``);
* mixed batch: one batch whose rows use the base, adapter 1, 2, 3 and the stacked composition in turn
  (``generate_many``: one forward pass per token for all of them).

Every generation is greedy with a fixed number of new tokens (min = max), so tokens/s counts exactly batch x tokens;
each row is the fastest of ``--repeat`` timed runs after one warm-up run, the rows of one batch size timed in turn
(round-robin) so that load from other processes falls on all of them alike.

Switch latency: the median time to make a cached composition active and put the previous state back
(``LoRARuntime.using``), alternating between two compositions, over many switches. Cold load: ``ensure_loaded`` of an
adapter that was unloaded, from its folder (the OS page cache is warm after the first read). Memory per adapter: the
bytes of its tensors and the process RSS growth when the three were loaded.

Usage: ``.venv/bin/python bench/lora_runtime_bench.py [--quick] [--no-doc] [--json out.json]``; writes the
`lora_runtime` section of docs/benchmarks.md (not with --quick unless --doc). The base model is settings.BASE_MODEL
(prepared with ``manage.py prepare_base_model`` when missing) unless ``--base-model`` names another local folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit, machine, write_section  # noqa: E402

SECTION = "lora_runtime"
HEADING = "## LoRA runtime"
PROMPT = [
    {"role": "system", "content": "Turn the budget request into JSON."},
    {"role": "user", "content": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"},
]
RANK = 16
GOAL_COMPOSED_VS_SINGLE = 0.8  # composed within 20% of single-adapter speed
GOAL_SWITCH_MS = 10.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_base_model() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from ml.engine.base import is_ready, prepare_base_model

    path = Path(settings.BASE_MODEL)
    if path.is_absolute() and not is_ready(path):
        say(f"Preparing the base model at {path} ...")
        prepare_base_model(path, progress=say)
    return str(settings.BASE_MODEL)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def make_adapters(base_model: str, folder: Path, n: int = 3) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model

    from ml.engine.base import load_base

    paths = []
    for i in range(n):
        model, _ = load_base(base_model)
        torch.manual_seed(100 + i)
        config = LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules="all-linear", init_lora_weights=False)
        peft_model = get_peft_model(model, config)
        with torch.no_grad():  # random, at about a trained adapter's scale rather than kaiming's
            for name, param in peft_model.named_parameters():
                if "lora_" in name:
                    param.mul_(0.25)
        peft_model.save_pretrained(folder / f"synthetic{i}")
        paths.append(folder / f"synthetic{i}")
        del model, peft_model
    return paths


def timed_rows(runtime, rows: list[tuple[str, list, bool]], *, new_tokens: int, repeat: int) -> list[dict]:
    """Tokens/s of each (label, requests, stack_merge) row: all warmed up first, then timed round-robin, so that load
    from other processes falls on every row alike; the fastest run of each row is kept."""

    def once(requests, stack_merge: bool) -> float:
        runtime.stack_merge = stack_merge  # False: stacks activated together on every request
        try:
            started = time.perf_counter()
            runtime.generate_many(requests, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
            return time.perf_counter() - started
        finally:
            runtime.stack_merge = True

    for label, requests, stack_merge in rows:
        say(f"batch {len(requests)}: {label} (warm-up) ...")
        once(requests, stack_merge)  # builds the merges, first-call costs
    best = [float("inf")] * len(rows)
    for _ in range(repeat):
        for i, (_label, requests, stack_merge) in enumerate(rows):
            best[i] = min(best[i], once(requests, stack_merge))
    out = []
    for (label, requests, _), seconds in zip(rows, best, strict=True):
        tokens = len(requests) * new_tokens
        out.append({"batch": len(requests), "label": label, "seconds": seconds, "tokens": tokens,
                    "tokens_per_s": tokens / seconds})  # fmt: skip
    return out


def timed_plain_model(model, tokenizer, batch: int, *, new_tokens: int, repeat: int) -> dict:
    import torch
    from transformers import GenerationConfig

    tokenizer.padding_side = "left"
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer([text] * batch, return_tensors="pt", add_special_tokens=False, padding=True)
    config = GenerationConfig(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    best = float("inf")
    with torch.inference_mode():
        model.generate(**inputs, generation_config=config)
        for _ in range(repeat):
            started = time.perf_counter()
            model.generate(**inputs, generation_config=config)
            best = min(best, time.perf_counter() - started)
    tokens = batch * new_tokens
    return {"seconds": best, "tokens": tokens, "tokens_per_s": tokens / best}


def switch_latency(runtime, first, second, *, switches: int) -> dict:
    for composition in (first, second):  # builds any merge, so that every timed switch is a cached one
        with runtime.using(composition):
            pass
    samples = []
    for i in range(switches):
        composition = first if i % 2 else second
        started = time.perf_counter_ns()
        with runtime.using(composition):
            pass
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return {"median_ms": statistics.median(samples), "p95_ms": sorted(samples)[int(0.95 * (len(samples) - 1))]}


def run(args) -> dict:
    import torch

    from ml.engine.runtime import AdapterRef, Composition, LoRARuntime

    if args.threads:
        torch.set_num_threads(args.threads)
    base_model = args.base_model or default_base_model()
    new_tokens = args.tokens or (8 if args.quick else 48)
    repeat = args.repeat or (2 if args.quick else 3)
    batches = [1, 4] if args.quick else [1, 8]
    switches = 50 if args.quick else 400
    cold_loads = 2 if args.quick else 6
    result: dict = {
        "base_model": base_model,
        "new_tokens": new_tokens,
        "repeat": repeat,
        "quick": args.quick,
        "torch_threads": torch.get_num_threads(),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(f"torch {torch.__version__}"),
        "commit": commit(),
    }
    with tempfile.TemporaryDirectory(prefix="lora-runtime-bench-") as tmp:
        say("Saving three synthetic r=16 adapters ...")
        # In a child process, so that the memory it churns is not reused by the loads measured here (RSS growth).
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            paths = pool.submit(make_adapters, base_model, Path(tmp)).result()
        refs = [AdapterRef(f"synthetic{i}@bench@v1", p) for i, p in enumerate(paths)]
        keys = tuple(r.key for r in refs)

        say("Loading the base model and the adapters ...")
        started = time.perf_counter()
        runtime = LoRARuntime(base_model, cache_bytes=1 << 30)
        result["base_load_s"] = time.perf_counter() - started
        rss_before = rss_bytes()
        for ref in refs:
            runtime.ensure_loaded(ref)
        rss_after = rss_bytes()
        stats = runtime.stats()
        result["adapter_bytes"] = {k: v["bytes"] for k, v in stats["adapters"].items()}
        result["first_load_s"] = {k: v["load_seconds"] for k, v in stats["adapters"].items()}
        result["rss_per_adapter_bytes"] = (rss_after - rss_before) / len(refs)

        single = Composition(keys[:1])
        stacked = Composition(keys)
        linear = Composition(keys, "linear", (1 / 3, 1 / 3, 1 / 3))
        # Correctness on the real model: live stacking equals the cat merge; the composition changes the answer.
        runtime.stack_merge = False
        live_logits = runtime.logits(PROMPT, stacked)
        runtime.stack_merge = True
        cat_logits = runtime.logits(PROMPT, Composition(keys, "cat"))
        result["stack_vs_cat_max_abs"] = float((live_logits - cat_logits).abs().max())
        result["stack_vs_base_max_abs"] = float((live_logits - runtime.logits(PROMPT)).abs().max())
        speed: list[dict] = []
        for batch in batches:
            rows = [
                ("base model", [(PROMPT, None)] * batch, True),
                ("one adapter", [(PROMPT, single)] * batch, True),
                ("three stacked, live activation", [(PROMPT, stacked)] * batch, False),
                ("three stacked (served by their cached cat merge)", [(PROMPT, stacked)] * batch, True),
                ("linear merge of three (cached)", [(PROMPT, linear)] * batch, True),
            ]
            if batch > 1:
                # Rows with different compositions in one batch: base, each adapter, the stack (its cat merge).
                mixed = [None, Composition(keys[:1]), Composition(keys[1:2]), Composition(keys[2:]), stacked]
                requests = [(PROMPT, mixed[i % len(mixed)]) for i in range(batch)]
                rows.append(("mixed batch: base, each adapter, three stacked", requests, True))
            speed += timed_rows(runtime, rows, new_tokens=new_tokens, repeat=repeat)

        say("Switch latency ...")
        result["switch"] = {
            "one adapter <-> another": switch_latency(
                runtime, Composition(keys[:1]), Composition(keys[1:2]), switches=switches
            ),
            "one adapter <-> three stacked (cached cat)": switch_latency(
                runtime, Composition(keys[:1]), stacked, switches=switches
            ),
        }
        runtime.stack_merge = False
        result["switch"]["one adapter <-> three stacked, live"] = switch_latency(
            runtime, Composition(keys[:1]), stacked, switches=switches
        )
        runtime.stack_merge = True

        say("Cold loads ...")
        samples = []
        for i in range(cold_loads):
            ref = refs[i % len(refs)]
            runtime.unload(ref.key)
            started = time.perf_counter()
            runtime.ensure_loaded(ref)
            samples.append(time.perf_counter() - started)
        result["cold_load_ms"] = {"median": statistics.median(samples) * 1000, "max": max(samples) * 1000}
        builds = []
        for i in range(cold_loads):
            composition = Composition(keys, "linear", (1.0, 1.0, 1.0 + (i + 1) / 1000))
            started = time.perf_counter()
            with runtime.using(composition):
                pass
            builds.append(time.perf_counter() - started)
        result["merge_build_ms"] = statistics.median(builds) * 1000

        say("Merged into the base weights (merge_and_unload) ...")
        from peft import PeftModel

        from ml.engine.base import load_base

        del runtime
        model, tokenizer = load_base(base_model)
        peft_model = PeftModel.from_pretrained(model, str(paths[0]), adapter_name="s0")
        for i, path in enumerate(paths[1:], start=1):
            peft_model.load_adapter(str(path), adapter_name=f"s{i}")
        peft_model.add_weighted_adapter(["s0", "s1", "s2"], [1 / 3] * 3, "merged", combination_type="linear")
        peft_model.set_adapter("merged")
        plain = peft_model.merge_and_unload()
        for batch in batches:
            measured = timed_plain_model(plain, tokenizer, batch, new_tokens=new_tokens, repeat=repeat)
            speed.append({"batch": batch, "label": "linear merge folded into the base weights", **measured})
        result["speed"] = speed
    return result


def render(result: dict, command: str) -> str:
    speed = result["speed"]
    lines = [
        f"Measured {result['when']} on {result['machine']}, torch threads {result['torch_threads']}, at commit "
        f"{result['commit']}, by `{command}`. Base model: `{Path(result['base_model']).name}`; three synthetic "
        f"adapters r={RANK} on every linear layer; greedy, exactly {result['new_tokens']} new tokens per row, fastest "
        f"of {result['repeat']} run(s) after a warm-up, the rows of one batch size timed in turn.",
        "",
        "| batch | composition | tokens/s | vs one adapter |",
        "|---:|---|---:|---:|",
    ]
    for batch in sorted({row["batch"] for row in speed}):
        rows = [r for r in speed if r["batch"] == batch]
        single = next((r["tokens_per_s"] for r in rows if r["label"] == "one adapter"), None)
        for row in rows:
            ratio = f"{row['tokens_per_s'] / single:.2f}×" if single else "—"
            lines.append(f"| {batch} | {row['label']} | {row['tokens_per_s']:.1f} | {ratio} |")
    lines += [
        "",
        f"Largest logit difference between the three adapters stacked live and their cat merge: "
        f"{result['stack_vs_cat_max_abs']:.1e} (against the base model: {result['stack_vs_base_max_abs']:.1f}).",
    ]
    lines += ["", "| latency | median | p95 |", "|---|---:|---:|"]
    for label, value in result["switch"].items():
        lines.append(f"| cached switch: {label} | {value['median_ms']:.3f} ms | {value['p95_ms']:.3f} ms |")
    cold = result["cold_load_ms"]
    lines.append(f"| cold load of one adapter from its folder | {cold['median']:.0f} ms | max {cold['max']:.0f} ms |")
    lines.append(f"| building a linear merge of three (cache miss) | {result['merge_build_ms']:.0f} ms | — |")
    per_adapter = statistics.mean(result["adapter_bytes"].values())
    lines += [
        "",
        f"Memory per loaded adapter: {per_adapter / 2**20:.1f} MiB of tensors (float32), process RSS "
        f"+{result['rss_per_adapter_bytes'] / 2**20:.1f} MiB per adapter. Base model load: "
        f"{result['base_load_s']:.1f} s.",
        "",
    ]
    goals = []
    for batch in sorted({row["batch"] for row in speed}):
        rows = {r["label"]: r["tokens_per_s"] for r in speed if r["batch"] == batch}
        single = rows.get("one adapter")
        for label in ("three stacked (served by their cached cat merge)", "three stacked, live activation"):
            if single and label in rows:
                ratio = rows[label] / single
                met = "met" if ratio >= GOAL_COMPOSED_VS_SINGLE else "missed"
                goals.append(f"batch {batch}, {label}: {ratio:.2f}× of one adapter ({met})")
    switch = result["switch"]["one adapter <-> another"]["median_ms"]
    lines.append(
        "Goals: composed generation within 20% of single-adapter speed — "
        + "; ".join(goals)
        + f". Cached switch under {GOAL_SWITCH_MS:.0f} ms — {switch:.3f} ms "
        + ("(met)." if switch < GOAL_SWITCH_MS else "(missed).")
    )
    if result["quick"]:
        lines.append("")
        lines.append("**--quick run**: few tokens, two repeats; indicative only.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few tokens, two repeats (a smoke run)")
    parser.add_argument("--base-model", help="local model folder (default: settings.BASE_MODEL)")
    parser.add_argument("--tokens", type=int, help="new tokens per row (default 48; 8 with --quick)")
    parser.add_argument("--repeat", type=int, help="timed runs per row, fastest kept (default 3; 2 with --quick)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    doc = parser.add_mutually_exclusive_group()
    doc.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    doc.add_argument("--doc", action="store_true", help="write docs/benchmarks.md even with --quick")
    args = parser.parse_args(argv)
    result = run(args)
    command = "DEBUG=1 .venv/bin/python bench/lora_runtime_bench.py" + (" --quick" if args.quick else "")
    text = render(result, command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_doc and (args.doc or not args.quick):
        write_section(SECTION, text, heading=HEADING)
        say(f"Wrote the {SECTION} section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
