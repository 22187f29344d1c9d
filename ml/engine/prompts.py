"""Chat messages for the four task adapters and parsing of their JSON answers. Django-free.

Prompts are deliberately short: the embedded base has 135M parameters, and every prompt token costs training and
generation time. The answer is one compact JSON object whose keys always come in the order of ``ANSWER_KEYS``, so a
trained adapter learns one canonical form and exact match can compare parsed objects.
"""

from __future__ import annotations

import json
import re
from numbers import Real

from harmonization.suggest.lexicon import FIELDS
from ml.engine.amounts import normalize_amounts

TASKS = ("budgeting", "harmonization", "creative", "measurement")
# The RMIS fields a harmonization answer may name (harmonization/suggest/lexicon.py, free of Django); a made-up field
# such as "campaign_code" is not a valid answer.
RMIS_FIELDS = frozenset(FIELDS)

OBJECTIVES = ("incremental_margin", "incremental_revenue", "net_incremental_profit")
ROAS_BASES = ("attributed", "incremental")
DESIGNS = ("geo_holdout", "switchback", "holdout", "ab_test")
METRICS = ("incremental_sales", "incremental_units", "new_to_brand_sales", "incremental_roas", "conversion_rate")

ANSWER_KEYS: dict[str, tuple[str, ...]] = {
    "budgeting": (
        "budget",
        "period_days",
        "objective",
        "min_roas",
        "roas_basis",
        "retailer_caps",
        "exclude_retailers",
    ),
    "harmonization": ("field",),
    "creative": ("headline", "body", "disclosure"),
    "measurement": ("design", "test_share", "weeks", "mde", "metric"),
}

SYSTEM = {
    "budgeting": "Turn the budget request into JSON.",
    "harmonization": "Map the retailer column to an RMIS field (or null). Answer JSON.",
    "creative": "Write ad copy as JSON that follows the retailer policy.",
    "measurement": "Give the experiment design as JSON.",
}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")


def _require(payload: dict, key: str, task: str):
    if not isinstance(payload, dict) or key not in payload:
        raise ValueError(f"A {task} payload needs {key!r}.")
    return payload[key]


def task_messages(task: str, payload: dict) -> list[dict]:
    """The system and user messages for one request of ``task`` (see .helpers/api.md for the payload shapes)."""
    _check_task(task)
    if task == "budgeting":
        # Money and counts are written one way before the model reads them (ml/amounts.py says why).
        user = normalize_amounts(str(_require(payload, "text", task)))
    elif task == "measurement":
        user = str(_require(payload, "question", task))
    elif task == "harmonization":
        samples = _require(payload, "samples", task)
        user = (
            f"retailer: {_require(payload, 'retailer', task)}\ncolumn: {_require(payload, 'column', task)}\n"
            f"samples: {' | '.join(str(s) for s in list(samples)[:3])}"
        )
    else:
        policy = _require(payload, "policy", task)
        lines = [
            f"retailer: {_require(payload, 'retailer', task)}",
            f"brand: {_require(payload, 'brand', task)}",
            f"product: {_require(payload, 'product', task)}",
            f"brief: {_require(payload, 'brief', task)}",
            f"headline max: {policy.get('headline_max_chars') or 'none'} chars",
            f"banned: {'; '.join(policy.get('banned_claims') or []) or 'none'}",
            f"disclosure: {'; '.join(policy.get('required_disclosures') or []) or 'none'}",
            f"price claims: {'yes' if policy.get('price_claims_allowed', True) else 'no'}",
        ]
        user = "\n".join(lines)
    return [{"role": "system", "content": SYSTEM[task]}, {"role": "user", "content": user}]


def answer_text(task: str, answer: dict) -> str:
    """The canonical completion for ``answer``: its keys in ``ANSWER_KEYS`` order, compact separators."""
    _check_task(task)
    return json.dumps({k: answer.get(k) for k in ANSWER_KEYS[task]}, separators=(", ", ": "), ensure_ascii=False)


def _first_object(text: str) -> dict | None:
    """The first JSON object in ``text``: models often add chatter or a second object after the answer."""
    start = text.find("{")
    if start < 0:
        return None
    decoder = json.JSONDecoder()
    try:
        value, _end = decoder.raw_decode(text[start:])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _valid(task: str, obj: dict) -> bool:
    if any(k not in obj for k in ANSWER_KEYS[task]):
        return False
    if task == "budgeting":
        caps = obj["retailer_caps"]
        return (
            _number(obj["budget"])
            and (obj["period_days"] is None or _number(obj["period_days"]))
            and obj["objective"] in OBJECTIVES
            and (obj["min_roas"] is None or _number(obj["min_roas"]))
            and obj["roas_basis"] in ROAS_BASES
            and isinstance(caps, dict)
            and all(isinstance(k, str) and _number(v) for k, v in caps.items())
            and isinstance(obj["exclude_retailers"], list)
            and all(isinstance(r, str) for r in obj["exclude_retailers"])
        )
    if task == "harmonization":
        return obj["field"] is None or obj["field"] in RMIS_FIELDS
    if task == "creative":
        return all(isinstance(obj[k], str) for k in ANSWER_KEYS[task])
    return (
        obj["design"] in DESIGNS
        and _number(obj["test_share"])
        and _number(obj["weeks"])
        and _number(obj["mde"])
        and isinstance(obj["metric"], str)
    )


def retailer_code(name: str) -> str:
    """A retailer's code from its name by the one rule codes follow: lower case, runs of other characters as one
    underscore ("Sams Club" -> "sams_club", "best-buy" -> "best_buy"); a code is its own code."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def parse_answer(task: str, text: str) -> dict | None:
    """The model's answer as a dict with exactly the task's keys; None when it is not valid JSON of that shape.

    Budgeting retailers are written as codes (``retailer_code``): the model picks which retailers a request names,
    the rule spells their codes, so " Sams Club" and "sams_club" are the same answer."""
    _check_task(task)
    obj = _first_object(text or "")
    if obj is None or not _valid(task, obj):
        return None
    answer = {k: obj[k] for k in ANSWER_KEYS[task]}
    if task == "budgeting":
        caps: dict[str, float] = {}
        for name, cap in answer["retailer_caps"].items():
            code = retailer_code(name)
            if not code or (code in caps and caps[code] != cap):
                return None  # two different caps for one retailer is no answer
            caps[code] = cap
        answer["retailer_caps"] = caps
        answer["exclude_retailers"] = list(dict.fromkeys(retailer_code(r) for r in answer["exclude_retailers"]))
        if not all(answer["exclude_retailers"]):
            return None
    return answer


def budgeting_fields(text: str) -> dict:
    """The fields of a budgeting answer that are valid on their own, when the answer as a whole is not (an unknown
    objective or basis, a missing key): the plan reader cross-checks each field (optimizer/objective_text.py), so one
    bad field costs that field, not the whole answer. Missing or invalid fields are left out; {} for no JSON."""
    obj = _first_object(text or "")
    if obj is None:
        return {}
    out: dict = {}
    if _number(obj.get("budget")) and obj["budget"] > 0:
        out["budget"] = obj["budget"]
    if "period_days" in obj and (
        obj["period_days"] is None or (_number(obj["period_days"]) and obj["period_days"] > 0)
    ):
        out["period_days"] = obj["period_days"]
    if obj.get("objective") in OBJECTIVES:
        out["objective"] = obj["objective"]
    if "min_roas" in obj and (obj["min_roas"] is None or _number(obj["min_roas"])):
        out["min_roas"] = obj["min_roas"]
    if obj.get("roas_basis") in ROAS_BASES:
        out["roas_basis"] = obj["roas_basis"]
    caps, excluded = obj.get("retailer_caps"), obj.get("exclude_retailers")
    if (
        isinstance(caps, dict)
        and all(isinstance(k, str) and retailer_code(k) and _number(v) for k, v in caps.items())
        and isinstance(excluded, list)
        and all(isinstance(r, str) and retailer_code(r) for r in excluded)
    ):
        out["retailer_caps"] = {retailer_code(k): v for k, v in caps.items()}
        out["exclude_retailers"] = list(dict.fromkeys(retailer_code(r) for r in excluded))
    return out
