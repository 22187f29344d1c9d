"""Scoring task adapters on held-out rows. Django-free.

``evaluate_task`` runs a ``predict`` callable (a list of chat message lists in, one answer text each out) over SFT
rows and compares the parsed answers with the rows' completions:

- budgeting, measurement: ``json_valid_rate`` and ``exact_match`` (parsed objects equal; numbers within 1e-6
  relative, retailer lists compared as sets);
- harmonization: ``json_valid_rate`` and micro ``field_f1``, ``precision``, ``recall`` over the columns that fill a
  field (a prediction of a field for a column that fills none, or of the wrong field, is a false positive; a column
  whose field is not predicted is a false negative; an invalid answer counts as predicting nothing);
- creative: ``json_valid_rate`` and ``violation_rate``, the share of answers that break the row's policy
  (ml/policy.py) or are not valid copy JSON at all, with ``violation_rate_valid`` among valid answers only.

``evaluate_reader`` scores a rule-based reader (a text -> the answer it would fill) on the same rows, so an adapter can
be compared with what the product does without it: the budgeting adapter is promoted only when it beats the plan
reader (ml/eval_services.py).

``preference_accuracy`` is the share of preference pairs where the model gives the chosen completion a higher
summed log-probability than the rejected one, given the prompt through the chat template.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence

from ml.engine.policy import check_copy
from ml.engine.prompts import TASKS, parse_answer

Predict = Callable[[list[list[dict]]], list[str]]

HEADLINE_METRIC = {
    "budgeting": "exact_match",
    "harmonization": "field_f1",
    "creative": "violation_rate",
    "measurement": "exact_match",
}


def _close(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def answers_equal(task: str, predicted: dict | None, truth: dict) -> bool:
    if predicted is None:
        return False
    for key, want in truth.items():
        got = predicted.get(key)
        if isinstance(want, dict):
            if not isinstance(got, dict) or set(got) != set(want) or not all(_close(got[k], want[k]) for k in want):
                return False
        elif isinstance(want, list):
            if not isinstance(got, list) or sorted(map(str, got)) != sorted(map(str, want)):
                return False
        elif want is None or got is None:
            if want is not got:
                return False
        elif not _close(got, want):
            return False
    return True


def _truth(row: dict) -> dict:
    return json.loads(row["completion"][-1]["content"])


def field_counts(pairs: Sequence[tuple[str | None, str | None]]) -> Counter:
    """True/false positives and false negatives of (predicted, true) field pairs, as described above."""
    counts: Counter = Counter(tp=0, fp=0, fn=0)
    for predicted, truth in pairs:
        if predicted is not None and predicted == truth:
            counts["tp"] += 1
            continue
        if predicted is not None:
            counts["fp"] += 1
        if truth is not None:
            counts["fn"] += 1
    return counts


def prf(counts: Counter) -> dict:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"field_f1": f1, "precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}


def evaluate_task(task: str, rows: list[dict], predict: Predict, *, batch_size: int = 16) -> dict:
    """Metrics of ``predict`` on ``rows`` (see the module docstring); ``n`` is the number of rows scored."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
    if not rows:
        raise ValueError("No rows to evaluate.")
    texts: list[str] = []
    for start in range(0, len(rows), batch_size):
        batch = [row["prompt"] for row in rows[start : start + batch_size]]
        out = list(predict(batch))
        if len(out) != len(batch):
            raise ValueError(f"predict returned {len(out)} answers for {len(batch)} prompts.")
        texts.extend(out)
    parsed = [parse_answer(task, text) for text in texts]
    n = len(rows)
    metrics: dict = {"n": n, "json_valid_rate": sum(p is not None for p in parsed) / n}
    if task in ("budgeting", "measurement"):
        metrics["exact_match"] = sum(answers_equal(task, p, _truth(r)) for p, r in zip(parsed, rows, strict=True)) / n
    elif task == "harmonization":
        pairs = [((p or {}).get("field"), _truth(r)["field"]) for p, r in zip(parsed, rows, strict=True)]
        metrics.update(prf(field_counts(pairs)))
    else:
        violating = 0
        valid_violating = 0
        for p, row in zip(parsed, rows, strict=True):
            policy = row.get("meta", {}).get("policy")
            if policy is None:
                raise ValueError("Creative rows need meta.policy (the retailer policy the copy must follow).")
            if p is None:
                violating += 1
            elif check_copy(p, policy):
                violating += 1
                valid_violating += 1
        valid = sum(p is not None for p in parsed)
        metrics["violation_rate"] = violating / n
        metrics["violation_rate_valid"] = valid_violating / valid if valid else 1.0
    metrics["samples"] = [{"answer": t[:400]} for t in texts[:3]]
    return metrics


def evaluate_reader(task: str, rows: list[dict], read: Callable[[str], dict | None]) -> dict:
    """``exact_match`` of ``read`` (the request's text as the adapter sees it -> an answer of the task's keys, or None
    where the reader would ask instead) on ``rows``, scored as ``evaluate_task`` scores an adapter; ``answered`` is the
    share it gave an answer for."""
    if not rows:
        raise ValueError("No rows to evaluate.")
    answers = [read(row["prompt"][-1]["content"]) for row in rows]
    n = len(rows)
    right = sum(answers_equal(task, a, _truth(r)) for a, r in zip(answers, rows, strict=True))
    return {"n": n, "answered": sum(a is not None for a in answers) / n, "exact_match": right / n}


def _completion_logprobs(
    model, tokenizer, prompts: list[list[dict]], completions: list[str], *, per_token: bool = False
) -> list[float]:
    """Summed log-probability of each completion's tokens after its prompt (chat template, generation prompt); with
    ``per_token`` the mean over its tokens."""
    import torch

    prefix_ids = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True) for p in prompts]
    prefix_ids = [list(ids["input_ids"]) if hasattr(ids, "keys") else list(ids) for ids in prefix_ids]
    end = tokenizer.eos_token or ""
    completion_ids = [tokenizer(c + end, add_special_tokens=False)["input_ids"] for c in completions]
    seqs = [a + b for a, b in zip(prefix_ids, completion_ids, strict=True)]
    width = max(len(s) for s in seqs)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    out = []
    for i, (a, b) in enumerate(zip(prefix_ids, completion_ids, strict=True)):
        # Token t is predicted at position t-1; the completion spans tokens len(a) .. len(a)+len(b)-1.
        span = logp[i, len(a) - 1 : len(a) + len(b) - 1]
        out.append(float(span.mean() if per_token else span.sum()))
    return out


def pair_logprobs(
    model, tokenizer, pairs: list[dict], *, batch_size: int = 8, per_token: bool = False
) -> list[tuple[float, float]]:
    """(chosen, rejected) summed completion log-probabilities of each pair; with ``per_token``, the mean per completion
    token instead (length-normalised, as SimPO's implicit reward: a summed log-probability falls with every token
    added, so it prefers the shorter of two answers whatever they say)."""
    out: list[tuple[float, float]] = []
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            prompts = [p["prompt"] for p in batch]
            chosen = _completion_logprobs(
                model, tokenizer, prompts, [p["chosen"][-1]["content"] for p in batch], per_token=per_token
            )
            rejected = _completion_logprobs(
                model, tokenizer, prompts, [p["rejected"][-1]["content"] for p in batch], per_token=per_token
            )
            out.extend(zip(chosen, rejected, strict=True))
    finally:
        if was_training:
            model.train()
    return out


def preference_accuracy(model, tokenizer, pairs: list[dict], *, reference: list[tuple[float, float]] | None = None):
    """Share of ``pairs`` where the model prefers the chosen completion (higher summed log-probability).

    With ``reference`` (``pair_logprobs`` of the reference model on the same pairs) it is DPO's implicit-reward
    accuracy instead: chosen wins when its log-probability gain over the reference beats the rejected one's.
    """
    if not pairs:
        raise ValueError("No preference pairs to score.")
    scores = pair_logprobs(model, tokenizer, pairs)
    if reference is not None:
        if len(reference) != len(scores):
            raise ValueError(f"reference has {len(reference)} pairs, not {len(scores)}.")
        wins = sum((c - rc) > (r - rr) for (c, r), (rc, rr) in zip(scores, reference, strict=True))
    else:
        wins = sum(c > r for c, r in scores)
    return wins / len(pairs)
