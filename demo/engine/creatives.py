"""The demo's sample ad copy: what a marketer might get back before any creative adapter is trained, some of it
with the faults models make (a banned claim, a headline over the limit, a missing disclosure, a price claim), so the
Creatives page and the review queue show every repair and a rejection from the first login. Django-free.

These are answers, not verdicts: the product's own pipeline (feedback.engine.creative) checks and repairs them.
"""

from __future__ import annotations

import json

from ml.engine.policy import check_copy, max_repairs

FAULTS = ("clean", "banned_claim", "long_headline", "missing_disclosure", "clean", "price_claim")
BODIES = (
    "{product}: a better start to the day, ready when you are.",
    "Made with whole grains and nothing artificial. Find {product} in your cart today.",
    "Stock up on {product}, a family favourite for busy mornings.",
    "Crunch you can hear. {product}, now on the shelf.",
)
CTAS = ("Shop now", "Add to cart", "See more", "Try it")
HEADLINES = (
    "{brand}: taste the morning",
    "Mornings, sorted by {brand}",
    "Breakfast, the {brand} way",
    "Meet the new {brand}",
    "{brand} for busy mornings",
    "Your cart needs {brand}",
)


def sample_copy(*, brand: str, product: str, policy: dict, variant: int) -> dict:
    """One variant's copy for ``product`` (1-based ``variant``), with the fault ``FAULTS`` assigns to it."""
    fault = FAULTS[(variant - 1) % len(FAULTS)]
    headline = HEADLINES[(variant - 1) % len(HEADLINES)].format(brand=brand)
    body = BODIES[(variant - 1) % len(BODIES)].format(product=product)
    disclosure = " ".join(policy.get("required_disclosures") or [])
    claims = policy.get("banned_claims") or []
    if fault == "banned_claim" and claims:
        body = f"{body} {claims[-1].capitalize()}."
    elif fault == "long_headline":
        headline = f"{product}, baked fresh for every breakfast table in the country"
    elif fault == "missing_disclosure" and disclosure:
        disclosure = ""
    elif fault == "price_claim" and not policy.get("price_claims_allowed", True):
        body = f"{body} Now only $3.99."
    return {"headline": headline, "body": body, "cta": CTAS[(variant - 1) % len(CTAS)], "disclosure": disclosure}


def sample_answers(*, brand: str, product: str, policy: dict, variants: int) -> list[str]:
    """The model answers for a brief of ``variants``, in the order the pipeline asks for them: a variant that breaks
    the policy is answered the same way each time it is written again (as a model that repeats its mistake), so the
    rule-based repair is what fixes it, or nothing does."""
    answers = []
    for variant in range(1, variants + 1):
        copy = sample_copy(brand=brand, product=product, policy=policy, variant=variant)
        text = json.dumps(copy, ensure_ascii=False)
        answers += [text] * (1 + (max_repairs(policy) if check_copy(copy, policy) else 0))
    return answers


def sample_pair_answers(*, brand: str, product: str, policy: dict, variants: int) -> list[str]:
    """Answers for a brief of ``variants`` written twice each (two takes, reviewed side by side): two different
    copies that pass ``policy`` per variant, in the order the pipeline asks (variant 1 take 1, take 2, variant 2,
    ...), so every variant reaches reviewers as an A/B pair."""
    clean = []
    for n in range(1, 12 * variants + 1):
        copy = sample_copy(brand=brand, product=product, policy=policy, variant=n)
        if not check_copy(copy, policy):
            clean.append(json.dumps(copy, ensure_ascii=False))
        if len(clean) == 2 * variants:
            return clean
    raise ValueError(f"the sample copy has fewer than {2 * variants} answers that pass this policy")
