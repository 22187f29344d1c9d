"""The demo's creatives: briefs written through the product's own pipeline, so that the review queue has items
waiting for the demo reviewers on first login (docs/creatives.md says what is sample copy and what is the model's).
"""

from __future__ import annotations

from campaigns.models import SKU, Brand, Retailer
from demo.engine.creatives import sample_answers, sample_pair_answers
from feedback.models import ReviewTask
from feedback.services.creatives import creative_brief_create, creative_brief_run
from feedback.services.queue import review_task_default
from feedback.services.review import guideline_create, guideline_current
from governance.models import Tenant

SAMPLE_SOURCE = "the demo's sample copy"
# (retailer, goal, tone, promotion): briefs answered with sample copy at seed time, checked and repaired for real.
SAMPLE_BRIEFS = (
    ("amazon", "Trial of the new flavour", "upbeat", ""),
    ("criteo", "Win back lapsed buyers", "warm", ""),
    ("target", "Back-to-school breakfast", "playful", ""),
    ("instacart", "Bigger baskets on weekends", "friendly", "Save on 2 boxes this weekend"),
)
# Briefs the inference worker writes with the model (the base model alone until adapters are promoted).
MODEL_BRIEFS = (
    ("walmart", "Trial of the new flavour", "plain", ""),
    ("amazon", "Remind loyal buyers to restock", "warm", ""),
)
VARIANTS = 6
# A brief written twice per variant: its takes wait for the reviewers as A/B pairs (which is better?).
PAIR_BRIEF = ("walmart", "Trial of the new flavour, two takes to compare", "upbeat", "")
PAIR_VARIANTS = 3
GUIDELINES = """Rate the ad copy as a shopper on this retailer would meet it.
- on_brand: sounds like the brand and names the product right.
- compliant: follows the retailer's policy (limits, banned claims, disclosures, trademarks); the policy check already
  passed it, so mark down anything it could not see (a misleading promise, an unclear offer).
- persuasive: gives a reason to click.
- clear: one idea, no jargon, reads at a glance.
Thumbs down with a reason tag when you would not run it; write a correction when a small edit would fix it."""


def demo_creatives_seed(*, tenant: Tenant, retailers: dict[str, Retailer], enqueue: bool = True) -> dict[str, int]:
    """Sample briefs written now (compliant variants queued for review, the rest kept rejected) and model briefs
    queued for the inference worker. Returns counts: {"briefs", "creatives", "queued"}."""
    brands = list(Brand.objects.filter(tenant=tenant).order_by("name"))
    counts = {"briefs": 0, "creatives": 0, "queued": 0}
    task = review_task_default(tenant=tenant, kind=ReviewTask.Kind.CREATIVE)
    if guideline_current(task=task) is None:
        guideline_create(task=task, text=GUIDELINES)
    for i, (code, goal, tone, promotion) in enumerate(SAMPLE_BRIEFS):
        brand = brands[i % len(brands)]
        skus = list(SKU.objects.filter(tenant=tenant, brand=brand).order_by("sku_code")[:1])
        retailer = retailers[code]
        brief = creative_brief_create(
            tenant=tenant, user=None, retailer=retailer, brand=brand, skus=skus, goal=goal, tone=tone,
            promotion=promotion, variants=VARIANTS, enqueue=False,
        )  # fmt: skip
        answers = sample_answers(
            brand=brand.name, product=skus[0].name, policy=retailer.policy_specs or {}, variants=VARIANTS
        )
        brief = creative_brief_run(brief.pk, answers=answers, source=SAMPLE_SOURCE)
        counts["briefs"] += 1
        counts["creatives"] += brief.creatives.count()
        counts["queued"] += brief.creatives.filter(status="in_review").count()
    code, goal, tone, promotion = PAIR_BRIEF
    brand = brands[0]
    skus = list(SKU.objects.filter(tenant=tenant, brand=brand).order_by("sku_code")[:1])
    retailer = retailers[code]
    brief = creative_brief_create(
        tenant=tenant, user=None, retailer=retailer, brand=brand, skus=skus, goal=goal, tone=tone,
        promotion=promotion, variants=PAIR_VARIANTS, takes=2, enqueue=False,
    )  # fmt: skip
    answers = sample_pair_answers(
        brand=brand.name, product=skus[0].name, policy=retailer.policy_specs or {}, variants=PAIR_VARIANTS
    )
    brief = creative_brief_run(brief.pk, answers=answers, source=SAMPLE_SOURCE)
    counts["briefs"] += 1
    counts["creatives"] += brief.creatives.count()
    counts["queued"] += brief.creatives.filter(status="in_review").count()
    for i, (code, goal, tone, promotion) in enumerate(MODEL_BRIEFS):
        brand = brands[i % len(brands)]
        skus = list(SKU.objects.filter(tenant=tenant, brand=brand).order_by("sku_code")[:2])
        creative_brief_create(
            tenant=tenant, user=None, retailer=retailers[code], brand=brand, skus=skus, goal=goal, tone=tone,
            promotion=promotion, variants=4, enqueue=enqueue,
        )  # fmt: skip
        counts["briefs"] += 1
    return counts
