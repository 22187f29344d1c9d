"""Brief + retailer policy -> ad copy that follows the policy, and preference pairs (compliant vs violating) for DPO.

Compliant copy sometimes uses a claim that only some retailers ban ("top rated", "#1" ...) or a price claim, where
the retailer's policy allows it: the adapter has to read the policy in the prompt, not learn one safe style. Every
chosen answer passes ml.engine.policy.check_copy and every rejected one fails it with exactly the violation it was made
for: a banned claim, a headline over the limit, a missing disclosure, or a price claim the retailer does not allow.
Held-out rows use retailers (with their policies) and brief wordings the training rows never contain.
"""

from __future__ import annotations

import random

from ml.engine.datasets.common import rng_for, sft_row, split_retailers
from ml.engine.policy import check_copy
from ml.engine.prompts import answer_text, task_messages

TASK = "creative"

# (brand, product name, short name, price, benefits)
BUILTIN_PRODUCTS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("Crunchy Hollow", "Crunchy Hollow Sea Salt Kettle Chips, 7 oz", "Sea Salt Kettle Chips", 3.99,
     ("kettle-cooked crunch", "real sea salt", "small-batch flavor")),
    ("Crunchy Hollow", "Crunchy Hollow Smoky BBQ Kettle Chips, 7 oz", "Smoky BBQ Chips", 3.99,
     ("smoky BBQ flavor", "kettle-cooked crunch", "bold seasoning")),
    ("Crunchy Hollow", "Crunchy Hollow Sourdough Pretzels, 12 oz", "Sourdough Pretzels", 4.49,
     ("tangy sourdough taste", "a satisfying snap", "simple ingredients")),
    ("Morning Mill", "Morning Mill Honey Oat Crunch, 14 oz", "Honey Oat Crunch", 4.79,
     ("whole grain oats", "a touch of honey", "crunchy clusters")),
    ("Morning Mill", "Morning Mill Almond Granola, 16 oz", "Almond Granola", 6.49,
     ("toasted almonds", "whole grain oats", "lightly sweet clusters")),
    ("Morning Mill", "Morning Mill Instant Oatmeal, 10 ct", "Instant Oatmeal", 5.29,
     ("a warm breakfast in minutes", "whole grain oats", "creamy texture")),
    ("Globex Beverages", "Globex Sparkling Citrus Water, 12 pack", "Sparkling Citrus Water", 5.99,
     ("zero sugar", "crisp citrus taste", "real fruit essence")),
    ("Globex Beverages", "Globex Cold Brew Coffee, 4 pack", "Cold Brew Coffee", 7.49,
     ("smooth cold brew", "bold flavor", "ready to drink")),
    ("Globex Beverages", "Globex Zero Cola, 12 pack", "Zero Cola", 6.29,
     ("classic cola taste", "zero sugar", "ice-cold refreshment")),
)  # fmt: skip

# Claims some retailers ban and others allow (see BUILTIN_RETAILERS); never a health claim.
PUFFERY = ("top rated", "best seller", "#1", "lowest price", "free delivery")

TRAIN_BRIEFS = (
    "Launch the {short} with a {tone} tone.",
    "Drive trial of the {short}; keep it {tone}.",
    "Promote the {short} for back to school, {tone}.",
    "Win back lapsed shoppers of the {short}; {tone} voice.",
    "Holiday push for the {short}, {tone}.",
)
HELDOUT_BRIEFS = (
    "Summer campaign for the {short}. Voice: {tone}.",
    "Introduce new shoppers to the {short} in a {tone} way.",
)
TONES = ("friendly", "playful", "warm", "confident", "upbeat", "simple")

HEADLINES = (
    "{short}: {benefit}",
    "Try {short} today",
    "{Benefit}, in every bite",
    "{short}, made with {benefit}",
    "Meet {short}",
    "{short} for every day",
)
CTAS = ("Add it to your cart.", "Find it in the snack aisle.", "Pick some up today.", "Stock up for the week.")
# Disclosures retailers ask for (BUILTIN_RETAILERS); a rejected copy may carry another retailer's instead of its own.
DISCLOSURES = ("Sponsored", "Ad", "Rollback and price claims must match the live item page",
               "Offer terms and end date for any coupon or promotion")  # fmt: skip


def products(source: dict | None) -> list[tuple[str, str, str, float, tuple[str, ...]]]:
    """The products to write for: SKUs from the database (``source["brands"]``) when given, else the built-in ones."""
    rows = []
    for brand in (source or {}).get("brands") or []:
        for sku in brand.get("skus") or []:
            name = str(sku["name"])
            short = name.split(",")[0].removeprefix(brand["name"]).strip() or name
            rows.append((brand["name"], name, short, float(sku.get("price") or 4.99),
                         (f"the {short.lower()} you love", "great taste", "quality ingredients")))  # fmt: skip
    return rows or list(BUILTIN_PRODUCTS)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _compliant(rng: random.Random, product, policy: dict) -> dict:
    _brand, name, short, price, benefits = product
    benefit = rng.choice(benefits)
    limit = int(policy.get("headline_max_chars") or 60)
    options = [h.format(short=short, benefit=benefit, Benefit=_cap(benefit)) for h in HEADLINES]
    fitting = [h for h in options if len(h) <= limit] or [short[:limit]]
    headline = rng.choice(fitting)
    body = [f"{name.split(',')[0]} with {benefit}."]
    banned = {c.lower() for c in policy.get("banned_claims") or []}
    allowed_puffery = [c for c in PUFFERY if c.lower() not in banned]
    if allowed_puffery and rng.random() < 0.35:
        claim = rng.choice(allowed_puffery)
        body.append(f"{_cap(claim)} pick for your pantry." if claim != "free delivery" else "Free delivery available.")
    if policy.get("price_claims_allowed", True) and rng.random() < 0.35:
        body.append(f"Now just ${price:.2f}.")
    body.append(rng.choice(CTAS))
    disclosure = "; ".join(policy.get("required_disclosures") or [])
    return {"headline": headline, "body": " ".join(body), "disclosure": disclosure}


def _claim_sentence(claim: str) -> str:
    """A claim written the way compliant copy writes the claims a retailer allows."""
    return "Free delivery available." if claim == "free delivery" else f"{_cap(claim)} pick for your pantry."


def _with_sentence(body: str, sentence: str) -> str:
    """``body`` with the sentences between its first one and its call to action replaced by ``sentence``."""
    first, _, rest = body.partition(". ")
    cta = next((c for c in CTAS if rest.endswith(c)), "")
    return " ".join(part for part in (f"{first}.", sentence, cta) if part)


def _violating(rng: random.Random, chosen: dict, product, policy: dict) -> tuple[dict, dict, str] | None:
    """(chosen, rejected, rule): ``chosen`` kept or recast so that the two differ in one place, and a rejected copy
    that breaks one rule of ``policy`` there; None when the policy states no rule to break.

    The rejected copy is written the way compliant copy is (a claim in the claim sentence, a price in the words
    compliant copy uses for prices, a headline from the same templates that is too long for this retailer, another
    retailer's disclosure), and is about as long as the chosen one: a model that has only learned the style of
    compliant copy cannot tell the two apart; one that reads the policy in the prompt can.
    """
    rules = []
    banned = [c for c in policy.get("banned_claims") or [] if c]
    if banned:
        rules.append("banned_claim")
    if policy.get("headline_max_chars"):
        rules.append("headline_length")
    if policy.get("required_disclosures"):
        rules.append("missing_disclosure")
    if not policy.get("price_claims_allowed", True):
        rules.append("price_claim")
    if not rules:
        return None
    rule = rng.choice(rules)
    banned_lower = {c.lower() for c in banned}
    allowed = [c for c in PUFFERY if c.lower() not in banned_lower]
    good, bad = dict(chosen), dict(chosen)
    if rule in ("banned_claim", "price_claim"):
        # The chosen copy carries an allowed claim where the rejected one carries the violation.
        if allowed:
            good["body"] = _with_sentence(chosen["body"], _claim_sentence(rng.choice(allowed)))
        if rule == "banned_claim":
            puffery = [c for c in banned if c.lower() in PUFFERY]
            claim = rng.choice(puffery) if puffery and rng.random() < 0.8 else rng.choice(banned)
            bad["body"] = _with_sentence(chosen["body"], _claim_sentence(claim))
        else:
            bad["body"] = _with_sentence(chosen["body"], f"Now just ${product[3]:.2f}.")
    elif rule == "headline_length":
        limit = int(policy["headline_max_chars"])
        _brand, _name, short, _price, benefits = product
        headlines = (h.format(short=short, benefit=b, Benefit=_cap(b)) for h in HEADLINES for b in benefits)
        too_long = [h for h in headlines if len(h) > limit]
        if too_long:
            bad["headline"] = rng.choice(too_long)
        else:
            headline = chosen["headline"]
            while len(headline) <= limit:
                headline += " for the whole family to enjoy"
            bad["headline"] = headline
    else:
        required = {d.lower() for d in policy["required_disclosures"]}
        others = [d for d in DISCLOSURES if d.lower() not in required]
        bad["disclosure"] = rng.choice(others) if others and rng.random() < 0.7 else ""
    return good, bad, rule


def _example(rng: random.Random, briefs, retailers, pool) -> tuple[dict, dict, object]:
    retailer = rng.choice(retailers)
    product = rng.choice(pool)
    policy = dict(retailer["policy_specs"])
    policy = {k: policy[k] for k in ("headline_max_chars", "banned_claims", "required_disclosures",
                                     "price_claims_allowed") if k in policy}  # fmt: skip
    brief = rng.choice(briefs).format(short=product[2], tone=rng.choice(TONES))
    payload = {"retailer": retailer["code"], "brand": product[0], "product": product[1], "brief": brief,
               "policy": policy}  # fmt: skip
    chosen = _compliant(rng, product, policy)
    problems = check_copy(chosen, policy)
    if problems:  # a generator bug, never data to train on
        raise AssertionError(f"Generated copy breaks its own policy: {problems} in {chosen}")
    return payload, chosen, product


def _splits(source):
    train_retailers, held_retailers = split_retailers(source)
    return (("train", TRAIN_BRIEFS, train_retailers), ("heldout", HELDOUT_BRIEFS, held_retailers))


def build(*, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None):
    pool = products(source)
    out = []
    for (split, briefs, retailers), n in zip(_splits(source), (n_train or 400, n_heldout or 60), strict=True):
        rng = rng_for(TASK, split, seed)
        rows = []
        for _ in range(n):
            payload, chosen, _product = _example(rng, briefs, retailers, pool)
            rows.append(sft_row(TASK, payload, chosen, {"split": split, "retailer": payload["retailer"],
                                                        "policy": payload["policy"]}))  # fmt: skip
        out.append(rows)
    return out[0], out[1]


def build_preference_pairs(
    *, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None
):
    pool = products(source)
    out = []
    for (split, briefs, retailers), n in zip(_splits(source), (n_train or 400, n_heldout or 80), strict=True):
        rng = rng_for("creative-pairs", split, seed)
        probe = random.Random(0)
        if not any(_violating(probe, {"headline": "x", "body": "y"}, pool[0], r["policy_specs"]) for r in retailers):
            raise ValueError(f"No {split} retailer has a policy rule to break: no preference pairs can be made.")
        rows = []
        while len(rows) < n:
            payload, chosen, product = _example(rng, briefs, retailers, pool)
            made = _violating(rng, chosen, product, payload["policy"])
            if made is None:
                continue  # this retailer's policy states nothing to break
            chosen, rejected, rule = made
            if check_copy(chosen, payload["policy"]):  # a generator bug, never data to train on
                raise AssertionError(f"Recast chosen copy breaks its policy: {chosen}")
            if not any(v.rule == rule for v in check_copy(rejected, payload["policy"])):
                raise AssertionError(f"Rejected copy does not break {rule}: {rejected}")
            rows.append({
                "prompt": task_messages(TASK, payload),
                "chosen": [{"role": "assistant", "content": answer_text(TASK, chosen)}],
                "rejected": [{"role": "assistant", "content": answer_text(TASK, rejected)}],
                "task": TASK,
                "meta": {"split": split, "violation": rule, "retailer": payload["retailer"],
                         "policy": payload["policy"]},
            })  # fmt: skip
        out.append(rows)
    return out[0], out[1]
