"""Reviewers' feedback turned into training rows (DPO, KTO, SFT) in TRL's conversational format. Django-free: the
service (feedback.services.datasets) loads the records, this module filters, builds, dedups and splits.

Filters, in order, each drop counted by reason (answers for the first five, rows for the rest):

* ``no_prompt``: an item without the prompt or the completion it answers (nothing to train on).
* ``gold_item``: gold items test the reviewers; their answers never become training data.
* ``awaiting_reviewers``: an item with fewer current answers than its overlap: agreement is not known yet.
* ``unadjudicated_conflict``: reviewers disagree and no adjudicator has ruled. Once ruled, the ruling's thumb,
  preference and ratings stand in for the reviewers' (their corrections still count).
* ``reviewer_below_gold``: a reviewer whose gold accuracy is below ``min_gold_accuracy`` over at least
  ``min_gold_answers`` gold answers. The others are kept and weighted by their gold accuracy (1.0 until they have
  ``min_gold_answers`` gold answers); a row's ``weight`` is the mean weight of the answers behind it (a ruling
  weighs 1.0).
* ``tie_or_both_bad``: a preference that names no winner gives no pair.
* ``correction_unchanged``: a correction identical to the original completion.
* ``chosen_breaks_policy`` (``drop_policy_violations``, on by default): a row whose chosen answer (DPO: ``chosen``;
  KTO: a ``label`` true completion; SFT: the completion) fails the task's policy check, as the caller's
  ``policy_check`` says (the service checks creative copy against the policy of the item's brief; a task or an item
  without a policy is not checked, nor are approved creatives, which passed the check to be approved). Reviewers
  preferring a policy-violating answer, both sides of a pair breaking it, or a correction that breaks it must not
  teach the model to break it. Applied to the **training** rows only, after the split: held-out rows stay as the
  reviewers chose, because the gate measures there how well a version agrees with the reviewers (its part (b)
  measures the policy apart). Filtered, a random panel's held-out pairs would lean towards the compliant answer, and
  a version that learned only the policy would look as if it had learned the reviewers' taste.
* ``duplicate``: the same row after normalising the text (lower case, runs of white space made one space).
* ``near_duplicate``: an earlier kept row whose prompt and whose completion text (DPO: chosen and rejected
  together) each have a token-set Jaccard similarity >= ``near_duplicate_jaccard`` (0.9) with this row's; KTO rows
  must also have the same label. Prompt and completion are compared apart because a long shared prompt would
  otherwise make every answer to it look like a duplicate.

The split is by prompt: a prompt's rows all go to held-out when ``sha256(seed:prompt)`` falls in the first
``heldout_share`` of the hash range, so no prompt is in both parts and a prompt keeps its side across exports. When
that leaves held-out empty and there are two prompts or more, the prompt with the smallest hash goes there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

FORMATS = ("dpo", "kto", "sft")


@dataclass(frozen=True)
class ExportOptions:
    min_rating_gap: float = 2.0
    min_gold_accuracy: float = 0.6
    min_gold_answers: int = 3
    heldout_share: float = 0.2
    seed: int = 0
    near_duplicate_jaccard: float = 0.9
    drop_policy_violations: bool = True

    @classmethod
    def from_dict(cls, raw: dict | None) -> ExportOptions:
        """Options from a plain dict; a ValueError names the bad key."""
        raw = dict(raw or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown option (known: {', '.join(sorted(known))}).")
        values = {}
        for name, spec in cls.__dataclass_fields__.items():
            if name not in raw or raw[name] in (None, ""):
                continue
            if spec.type in ("bool", bool):
                values[name] = _flag(name, raw[name])
                continue
            kind = int if spec.type in ("int", int) else float
            try:
                values[name] = kind(raw[name])
            except (TypeError, ValueError):
                raise ValueError(f"{name}: must be a number, not {raw[name]!r}.") from None
        options = cls(**values)
        if not 0 <= options.heldout_share < 1:
            raise ValueError("heldout_share: must be at least 0 and below 1.")
        if not 0 <= options.min_gold_accuracy <= 1:
            raise ValueError("min_gold_accuracy: must be between 0 and 1.")
        if not 0 < options.near_duplicate_jaccard <= 1:
            raise ValueError("near_duplicate_jaccard: must be above 0 and at most 1.")
        if options.min_rating_gap <= 0:
            raise ValueError("min_rating_gap: must be above 0.")
        if options.min_gold_answers < 1:
            raise ValueError("min_gold_answers: must be at least 1.")
        return options

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _flag(name: str, value) -> bool:
    """A yes/no option: true or false (JSON), or the words true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise ValueError(f"{name}: must be true or false, not {value!r}.")


# policy_check(item, completion text) -> the reasons the completion breaks the item's policy ([] when it passes or
# the item has no policy to check).
PolicyCheck = Callable[["Item", str], list]


@dataclass(frozen=True)
class Answer:
    """One reviewer's current answer; ``correction`` is the corrected completion text (canonical form) or None."""

    id: int
    reviewer: str
    thumb: str = ""
    preference: str = ""
    ratings: dict = field(default_factory=dict)
    correction: str | None = None
    guideline_version: int | None = None


@dataclass
class Item:
    """A review item as the export sees it: the prompt, the completion(s) shown and the answers to it.
    ``status``: open, complete, conflict or resolved; ``ruling``: the adjudication's decision when resolved."""

    id: int
    task_id: int
    kind: str  # single, pair or plan
    prompt: list
    completion: str = ""  # single and plan items
    completion_b: str = ""  # pair items: ``completion`` is A
    status: str = "complete"
    is_gold: bool = False
    answers: list[Answer] = field(default_factory=list)
    ruling: dict | None = None
    ruling_id: int | None = None


@dataclass(frozen=True)
class Approved:
    """A completion approved outside the review queue (a marketer approved the creative): an SFT row."""

    id: int
    prompt: list
    completion: str


@dataclass
class Export:
    train: list[dict] = field(default_factory=list)
    heldout: list[dict] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    feedback_ids: set = field(default_factory=set)
    adjudication_ids: set = field(default_factory=set)
    item_ids: set = field(default_factory=set)
    approved_ids: set = field(default_factory=set)
    guideline_versions: set = field(default_factory=set)  # (task id, version)


def _messages(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def prompt_key(prompt: list) -> str:
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def _tokens(text: str) -> frozenset:
    return frozenset(re.findall(r"\w+", text.lower()))


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def reviewer_weights(gold: dict[str, tuple[int, int]], options: ExportOptions) -> tuple[dict[str, float], set[str]]:
    """({reviewer: weight}, reviewers dropped) from ``gold`` {reviewer: (gold answered, gold right)}."""
    weights, dropped = {}, set()
    for reviewer, (answered, right) in gold.items():
        if answered >= options.min_gold_answers:
            accuracy = right / answered
            if accuracy < options.min_gold_accuracy:
                dropped.add(reviewer)
            weights[reviewer] = accuracy
    return weights, dropped


@dataclass
class _Kept:
    """An item's answers after the filters: who counts, and the verdicts that stand."""

    item: Item
    answers: list[Answer]
    thumb: str
    preference: str
    rating: float | None  # mean over criteria of the mean rating per criterion
    weight: float
    reviewers: list[str]


def _consensus(values: list[str]) -> str:
    given = [v for v in values if v]
    if not given:
        return ""
    (top, n), *rest = Counter(given).most_common()
    return top if not rest or rest[0][1] < n else ""


def _mean_rating(ratings: list[dict], override: dict | None) -> float | None:
    per_criterion: dict[str, list[float]] = {}
    for r in ratings:
        for criterion, value in (r or {}).items():
            per_criterion.setdefault(criterion, []).append(float(value))
    means = {c: sum(v) / len(v) for c, v in per_criterion.items()}
    means.update({c: float(v) for c, v in (override or {}).items()})
    return sum(means.values()) / len(means) if means else None


def _filter(item: Item, weights: dict, dropped_reviewers: set, out: Export) -> _Kept | None:
    answers = list(item.answers)
    if not item.prompt or not item.completion:
        out.dropped["no_prompt"] += len(answers)
        return None
    if item.is_gold:
        out.dropped["gold_item"] += len(answers)
        return None
    if item.status == "conflict" or (item.status == "resolved" and item.ruling is None):
        out.dropped["unadjudicated_conflict"] += len(answers)
        return None
    if item.status == "open":
        out.dropped["awaiting_reviewers"] += len(answers)
        return None
    kept = [a for a in answers if a.reviewer not in dropped_reviewers]
    if len(kept) < len(answers):
        out.dropped["reviewer_below_gold"] += len(answers) - len(kept)
    if not kept and item.ruling is None:
        return None
    ruling = item.ruling or {}
    if item.ruling is not None:
        thumb, preference = ruling.get("thumb", ""), ruling.get("preference", "")
        thumb = thumb or _consensus([a.thumb for a in kept])
        preference = preference or _consensus([a.preference for a in kept])
        weight, reviewers = 1.0, ["adjudicator"]
    else:
        thumb, preference = _consensus([a.thumb for a in kept]), _consensus([a.preference for a in kept])
        weight = sum(weights.get(a.reviewer, 1.0) for a in kept) / len(kept)
        reviewers = sorted({a.reviewer for a in kept})
    rating = _mean_rating([a.ratings for a in kept], ruling.get("ratings"))
    return _Kept(item, kept, thumb, preference, rating, weight, reviewers)


def _row(prompt: list, *, source: str, items: list[Item], answers: list[Answer], weight: float, reviewers, **rest):
    return {
        "prompt": prompt,
        **rest,
        "weight": round(weight, 4),
        "source": source,
        "item_ids": [i.id for i in items],
        "feedback_ids": sorted(a.id for a in answers),
        "reviewers": list(reviewers),
    }


def _corrections(k: _Kept, weights: dict) -> list[tuple[Answer, float]]:
    return [(a, weights.get(a.reviewer, 1.0)) for a in k.answers if a.correction]


def _dpo_rows(kept: list[_Kept], weights: dict, options: ExportOptions, out: Export) -> list[dict]:
    rows = []
    by_prompt: dict[str, list[_Kept]] = {}
    for k in kept:
        item = k.item
        if item.kind == "pair":
            if k.preference in ("a", "b"):
                chosen, rejected = item.completion, item.completion_b
                if k.preference == "b":
                    chosen, rejected = rejected, chosen
                rows.append(
                    _row(item.prompt, source="preference", items=[item], answers=k.answers, weight=k.weight,
                         reviewers=k.reviewers, chosen=_messages(chosen), rejected=_messages(rejected))
                )  # fmt: skip
            elif k.preference:
                out.dropped["tie_or_both_bad"] += 1
            continue
        for answer, weight in _corrections(k, weights):
            if _normal(answer.correction) == _normal(item.completion):
                out.dropped["correction_unchanged"] += 1
                continue
            rows.append(
                _row(item.prompt, source="correction", items=[item], answers=[answer], weight=weight,
                     reviewers=[answer.reviewer], chosen=_messages(answer.correction),
                     rejected=_messages(item.completion))
            )  # fmt: skip
        if k.rating is not None:
            by_prompt.setdefault(prompt_key(item.prompt), []).append(k)
    for group in by_prompt.values():
        group.sort(key=lambda k: (-k.rating, k.item.id))
        for i, high in enumerate(group):
            for low in group[i + 1 :]:
                if high.rating - low.rating >= options.min_rating_gap and high.item.completion != low.item.completion:
                    rows.append(
                        _row(high.item.prompt, source="rating_gap", items=[high.item, low.item],
                             answers=high.answers + low.answers, weight=(high.weight + low.weight) / 2,
                             reviewers=sorted(set(high.reviewers) | set(low.reviewers)),
                             chosen=_messages(high.item.completion), rejected=_messages(low.item.completion))
                    )  # fmt: skip
    return rows


def _kto_rows(kept: list[_Kept]) -> list[dict]:
    rows = []
    for k in kept:
        if k.item.kind == "pair" or not k.thumb:
            continue
        rows.append(
            _row(k.item.prompt, source="thumb", items=[k.item], answers=[a for a in k.answers if a.thumb] or k.answers,
                 weight=k.weight, reviewers=k.reviewers, completion=_messages(k.item.completion),
                 label=k.thumb == "up")
        )  # fmt: skip
    return rows


def _sft_rows(kept: list[_Kept], approved: list[Approved], weights: dict, out: Export) -> list[dict]:
    rows = []
    for a in approved:
        out.approved_ids.add(a.id)
        rows.append(
            _row(a.prompt, source="approved", items=[], answers=[], weight=1.0, reviewers=[],
                 completion=_messages(a.completion))
        )  # fmt: skip
    for k in kept:
        if k.item.kind == "pair":
            continue
        if k.thumb == "up":
            rows.append(
                _row(k.item.prompt, source="thumb", items=[k.item], answers=k.answers, weight=k.weight,
                     reviewers=k.reviewers, completion=_messages(k.item.completion))
            )  # fmt: skip
        for answer, weight in _corrections(k, weights):
            rows.append(
                _row(k.item.prompt, source="correction", items=[k.item], answers=[answer], weight=weight,
                     reviewers=[answer.reviewer], completion=_messages(answer.correction))
            )  # fmt: skip
    return rows


def _row_text(row: dict) -> tuple[str, str, str]:
    """(label (KTO rows of different labels are never duplicates), prompt text, completion text)."""
    prompt = "\n".join(m["content"] for m in row["prompt"])
    parts = [f"{key}: " + " ".join(m["content"] for m in row[key]) for key in ("chosen", "rejected", "completion")
             if key in row]  # fmt: skip
    return str(row.get("label", "")), prompt, "\n".join(parts)


def _chosen_text(row: dict, fmt: str) -> str | None:
    """The answer a row teaches the model to write (None: it teaches none, a KTO row labelled false)."""
    if fmt == "dpo":
        return row["chosen"][0]["content"]
    if fmt == "kto" and not row["label"]:
        return None
    return row["completion"][0]["content"]


def drop_policy_breaking(rows: list[dict], fmt: str, items: dict[int, Item], check: PolicyCheck, out: Export):
    """Rows whose chosen answer passes ``check`` against the policy of the item it came from (a rating-gap row's first
    item is the higher-rated one; a row from no item, an approved creative, is kept)."""
    kept = []
    for row in rows:
        text = _chosen_text(row, fmt)
        if text is not None and row["item_ids"] and check(items[row["item_ids"][0]], text):
            out.dropped["chosen_breaks_policy"] += 1
            continue
        kept.append(row)
    return kept


def dedup(rows: list[dict], options: ExportOptions, out: Export) -> list[dict]:
    """Rows without exact or near duplicates (the first of each kept; see the module docstring)."""
    seen: set = set()
    kept: list[tuple[str, frozenset, frozenset, dict]] = []
    threshold = options.near_duplicate_jaccard
    for row in rows:
        label, prompt, completion = _row_text(row)
        exact = (label, _normal(prompt), _normal(completion))
        if exact in seen:
            out.dropped["duplicate"] += 1
            continue
        p_tokens, c_tokens = _tokens(prompt), _tokens(completion)
        if any(
            lab == label and _jaccard(c_tokens, c) >= threshold and _jaccard(p_tokens, p) >= threshold
            for lab, p, c, _ in kept
        ):
            out.dropped["near_duplicate"] += 1
            continue
        seen.add(exact)
        kept.append((label, p_tokens, c_tokens, row))
    return [row for *_, row in kept]


def _hash_share(seed: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(rows: list[dict], options: ExportOptions) -> tuple[list[dict], list[dict]]:
    """(train, held-out), by prompt: see the module docstring."""
    shares = {prompt_key(r["prompt"]): 0.0 for r in rows}
    shares = {key: _hash_share(options.seed, key) for key in shares}
    heldout_keys = {key for key, share in shares.items() if share < options.heldout_share}
    if not heldout_keys and options.heldout_share > 0 and len(shares) >= 2:
        heldout_keys = {min(shares, key=shares.get)}
    train = [r for r in rows if prompt_key(r["prompt"]) not in heldout_keys]
    heldout = [r for r in rows if prompt_key(r["prompt"]) in heldout_keys]
    return train, heldout


def build(
    fmt: str,
    *,
    items: list[Item],
    gold: dict[str, tuple[int, int]],
    options: ExportOptions,
    approved: list[Approved] = (),
    policy_check: PolicyCheck | None = None,
) -> Export:
    """Rows of ``fmt`` from the items' answers (and, for SFT, ``approved`` completions), filtered, deduplicated and
    split. ``gold``: {reviewer: (gold answers, right ones)} of the task the items belong to; ``policy_check``: the
    task's policy check of a chosen answer (None: the task has none), applied when ``drop_policy_violations``."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    out = Export()
    weights, dropped_reviewers = reviewer_weights(gold, options)
    kept = [k for k in (_filter(item, weights, dropped_reviewers, out) for item in items) if k is not None]
    if fmt == "dpo":
        rows = _dpo_rows(kept, weights, options, out)
    elif fmt == "kto":
        rows = _kto_rows(kept)
    else:
        rows = _sft_rows(kept, list(approved), weights, out)
    rows = dedup(rows, options, out)
    train, heldout = split(rows, options)
    if options.drop_policy_violations and policy_check is not None:  # training rows only: see the module docstring
        train = drop_policy_breaking(train, fmt, {k.item.id: k.item for k in kept}, policy_check, out)
    out.train, out.heldout = train, heldout
    by_id = {k.item.id: k for k in kept}
    for row in train + heldout:
        out.feedback_ids.update(row["feedback_ids"])
        out.item_ids.update(row["item_ids"])
        for item_id in row["item_ids"]:
            k = by_id[item_id]
            if k.item.ruling_id is not None:
                out.adjudication_ids.add(k.item.ruling_id)
            out.guideline_versions.update(
                (k.item.task_id, a.guideline_version) for a in k.answers if a.guideline_version is not None
            )
    return out
