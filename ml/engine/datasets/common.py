"""What every task's generator shares: the retailers (built in or from the database), the train/held-out split of
retailers, and the row shapes the trainers read."""

from __future__ import annotations

import random

from ml.engine.prompts import answer_text, task_messages

_HEALTH = ["cures", "prevents disease", "FDA approved", "clinically proven", "guaranteed results"]

# The demo networks (demo/seed.py) plus more US retail media networks, with policies in the same shape.
# Codes follow one rule the models can learn: the short name in lower case, spaces as underscores.
BUILTIN_RETAILERS: tuple[dict, ...] = (
    {"code": "amazon", "name": "Amazon", "policy_specs": {
        "headline_max_chars": 50, "banned_claims": [*_HEALTH, "#1", "best seller", "top rated"],
        "required_disclosures": [], "price_claims_allowed": False}},
    {"code": "walmart", "name": "Walmart", "policy_specs": {
        "headline_max_chars": 45, "banned_claims": [*_HEALTH, "lowest price", "#1"],
        "required_disclosures": ["Rollback and price claims must match the live item page"],
        "price_claims_allowed": False}},
    {"code": "criteo", "name": "Criteo", "policy_specs": {
        "headline_max_chars": 60, "banned_claims": _HEALTH, "required_disclosures": ["Sponsored"]}},
    {"code": "instacart", "name": "Instacart", "policy_specs": {
        "headline_max_chars": 40, "banned_claims": [*_HEALTH, "free delivery"],
        "required_disclosures": ["Offer terms and end date for any coupon or promotion"]}},
    {"code": "target", "name": "Target", "policy_specs": {
        "headline_max_chars": 40, "banned_claims": [*_HEALTH, "only at Target"],
        "required_disclosures": ["Sponsored"]}},
    {"code": "kroger", "name": "Kroger", "policy_specs": {
        "headline_max_chars": 45, "banned_claims": [*_HEALTH, "best seller"], "required_disclosures": ["Ad"],
        "price_claims_allowed": True}},
    {"code": "albertsons", "name": "Albertsons", "policy_specs": {
        "headline_max_chars": 50, "banned_claims": [*_HEALTH, "lowest price"], "required_disclosures": [],
        "price_claims_allowed": True}},
    {"code": "costco", "name": "Costco", "policy_specs": {
        "headline_max_chars": 35, "banned_claims": [*_HEALTH, "top rated"], "required_disclosures": [],
        "price_claims_allowed": False}},
    {"code": "walgreens", "name": "Walgreens", "policy_specs": {
        "headline_max_chars": 40, "banned_claims": [*_HEALTH, "doctor recommended"],
        "required_disclosures": ["Sponsored"], "price_claims_allowed": True}},
    {"code": "cvs", "name": "CVS", "policy_specs": {
        "headline_max_chars": 45, "banned_claims": [*_HEALTH, "doctor recommended", "#1"],
        "required_disclosures": ["Sponsored"], "price_claims_allowed": False}},
    {"code": "best_buy", "name": "Best Buy", "policy_specs": {
        "headline_max_chars": 55, "banned_claims": [*_HEALTH, "lowest price"], "required_disclosures": ["Ad"],
        "price_claims_allowed": True}},
    {"code": "home_depot", "name": "Home Depot", "policy_specs": {
        "headline_max_chars": 50, "banned_claims": [*_HEALTH, "best seller"], "required_disclosures": [],
        "price_claims_allowed": False}},
    {"code": "ulta", "name": "Ulta", "policy_specs": {
        "headline_max_chars": 40, "banned_claims": [*_HEALTH, "top rated"], "required_disclosures": ["Sponsored"],
        "price_claims_allowed": False}},
    {"code": "dollar_general", "name": "Dollar General", "policy_specs": {
        "headline_max_chars": 45, "banned_claims": [*_HEALTH, "#1"], "required_disclosures": ["Ad"],
        "price_claims_allowed": True}},
    {"code": "chewy", "name": "Chewy", "policy_specs": {
        "headline_max_chars": 50, "banned_claims": [*_HEALTH, "vet approved"], "required_disclosures": [],
        "price_claims_allowed": False}},
    {"code": "wayfair", "name": "Wayfair", "policy_specs": {
        "headline_max_chars": 55, "banned_claims": [*_HEALTH, "lowest price"], "required_disclosures": ["Sponsored"],
        "price_claims_allowed": True}},
    {"code": "sams_club", "name": "Sams Club", "policy_specs": {
        "headline_max_chars": 40, "banned_claims": [*_HEALTH, "best seller"], "required_disclosures": ["Ad"],
        "price_claims_allowed": False}},
    {"code": "lowes", "name": "Lowes", "policy_specs": {
        "headline_max_chars": 45, "banned_claims": [*_HEALTH, "top rated"], "required_disclosures": [],
        "price_claims_allowed": True}},
)  # fmt: skip

# Held out from every training split: two demo networks, so the evaluation speaks about retailers the demo uses.
BUILTIN_HELDOUT_CODES = frozenset({"target", "criteo", "ulta", "chewy", "wayfair", "sams_club"})


def display_name(code: str) -> str:
    """Code "best_buy" -> "Best Buy", "cvs" -> "CVS": lower-casing it and joining with "_" gives the code back."""
    return " ".join(w.upper() if len(w) <= 3 else w.capitalize() for w in code.split("_"))


def retailers(source: dict | None) -> list[dict]:
    """The retailers to generate for: the database's (``source["retailers"]``) when given, else the built-in list.

    Each is ``{"code", "name", "policy_specs"}``; the name used in text is derived from the code for database rows
    (a display name such as "Roundel (Target)" would not tell the model the code)."""
    rows = (source or {}).get("retailers")
    if not rows:
        return [dict(r) for r in BUILTIN_RETAILERS]
    out = []
    for r in rows:
        code = str(r["code"])
        out.append({"code": code, "name": display_name(code), "policy_specs": dict(r.get("policy_specs") or {})})
    return out


def split_retailers(source: dict | None) -> tuple[list[dict], list[dict]]:
    """(train, held-out) retailers, disjoint. The built-in list holds out a fixed set; a database list holds out
    every third code in sorted order (at least one), so the split is stable as long as the retailers are."""
    all_retailers = retailers(source)
    if not (source or {}).get("retailers"):
        train = [r for r in all_retailers if r["code"] not in BUILTIN_HELDOUT_CODES]
        held = [r for r in all_retailers if r["code"] in BUILTIN_HELDOUT_CODES]
        return train, held
    ordered = sorted(all_retailers, key=lambda r: r["code"])
    if len(ordered) < 2:
        raise ValueError("Held-out retailers need at least two retailers in the source.")
    held = ordered[2::3] or ordered[-1:]
    held_codes = {r["code"] for r in held}
    return [r for r in ordered if r["code"] not in held_codes], held


def sft_row(task: str, payload: dict, answer: dict, meta: dict) -> dict:
    return {
        "prompt": task_messages(task, payload),
        "completion": [{"role": "assistant", "content": answer_text(task, answer)}],
        "task": task,
        "meta": meta,
    }


def rng_for(task: str, split: str, seed: int) -> random.Random:
    return random.Random(f"{task}:{split}:{seed}")
