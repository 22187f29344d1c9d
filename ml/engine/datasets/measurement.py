"""Experiment questions -> test design parameters.

Rules the answers follow (and the adapter has to learn): a question about a region or stores is a geo holdout
(20% of regions in test unless stated), one about turning ads on and off is a switchback (half the periods), one
that holds out shoppers is a holdout (the stated share, else 10%), one comparing two versions is an A/B test (50%).
Weeks default to 4 and the minimum detectable effect to 5% unless the question states them; the metric follows the
outcome the question names. Held-out questions use templates and retailers the training split never saw.
"""

from __future__ import annotations

import random

from ml.engine.datasets.common import rng_for, sft_row, split_retailers

TASK = "measurement"

REGIONS = ("the Midwest", "Texas", "the Northeast", "California", "the Southeast", "the Pacific Northwest")
OUTCOMES = {
    "incremental_sales": ("sales", "incremental sales", "revenue"),
    "incremental_units": ("units", "unit volume"),
    "new_to_brand_sales": ("new-to-brand sales", "new buyers"),
    "incremental_roas": ("ROAS", "return on ad spend"),
    "conversion_rate": ("conversion rate", "conversions"),
}
DEFAULT_SHARE = {"geo_holdout": 0.2, "switchback": 0.5, "holdout": 0.1, "ab_test": 0.5}

TRAIN_TEMPLATES = {
    "geo_holdout": ("Did the {retailer} push lift {outcome} in {region}?", "Measure {retailer} {outcome} in {region}."),
    "switchback": ("Does turning {retailer} ads on and off change {outcome}?",
                   "Test {retailer} ads switched on and off by day for {outcome}."),
    "holdout": ("Hold out {share} of {retailer} shoppers: what is the lift in {outcome}?",
                "What lift in {outcome} do {retailer} ads drive against a {share} holdout of shoppers?"),
    "ab_test": ("Which of two {retailer} creatives drives more {outcome}?",
                "Compare two {retailer} headlines on {outcome}."),
}  # fmt: skip
HELDOUT_TEMPLATES = {
    "geo_holdout": ("Is {retailer} moving {outcome} in stores across {region}?",),
    "switchback": ("If we alternate {retailer} ads on and off, how much does {outcome} move?",),
    "holdout": ("Keep {share} of {retailer} shoppers unexposed and read the lift in {outcome}.",),
    "ab_test": ("Should we run creative A or B on {retailer} for better {outcome}?",),
}


def _example(rng: random.Random, templates: dict, retailers: list[dict]) -> tuple[dict, dict]:
    design = rng.choice(list(templates))
    metric = rng.choice(list(OUTCOMES))
    share = DEFAULT_SHARE[design]
    stated_share = ""
    if design == "holdout":
        share = rng.choice([0.05, 0.1, 0.15, 0.2])
        stated_share = f"{share * 100:g}%"
    question = rng.choice(templates[design]).format(
        retailer=rng.choice(retailers)["name"], outcome=rng.choice(OUTCOMES[metric]), region=rng.choice(REGIONS),
        share=stated_share,
    )  # fmt: skip
    weeks, mde = 4, 0.05
    if rng.random() < 0.5:
        weeks = rng.choice([2, 3, 6, 8])
        question += rng.choice([f" Run it for {weeks} weeks.", f" We have {weeks} weeks."])
    if rng.random() < 0.4:
        mde = rng.choice([0.02, 0.03, 0.1])
        question += rng.choice(
            [f" Detect a {mde * 100:g}% lift.", f" The minimum detectable effect is {mde * 100:g}%."]
        )
    answer = {"design": design, "test_share": share, "weeks": weeks, "mde": mde, "metric": metric}
    return {"question": question}, answer


def build(*, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None):
    train_retailers, held_retailers = split_retailers(source)
    out = []
    for split, n, templates, pool in (
        ("train", n_train or 400, TRAIN_TEMPLATES, train_retailers),
        ("heldout", n_heldout or 80, HELDOUT_TEMPLATES, held_retailers),
    ):
        rng = rng_for(TASK, split, seed)
        rows = [sft_row(TASK, *_example(rng, templates, pool), {"split": split}) for _ in range(n)]
        out.append(rows)
    return out[0], out[1]
