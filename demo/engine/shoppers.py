"""A retailer's synthetic shopper-level tables for the clean room: shoppers, ad exposures and purchases.

Exposure is random within each loyalty tier, so the ratio of the buying rates of shoppers a campaign reached and did
not reach in a tier is 1 + the tier's true lift (``true_lift``): the clean-room lift read has a known answer to meet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

REGIONS = ("north", "south", "east", "west")
AGE_BANDS = ("18-34", "35-54", "55+")
LOYALTY_TIERS = ("basic", "plus", "premium")
CATEGORIES = ("snacks", "beverages", "household")
# Each tier's chance of buying at all in the window without ads, and how much a campaign's exposure multiplies it.
BASE_RATE = {"basic": 0.10, "plus": 0.18, "premium": 0.30}
TRUE_LIFT = {"basic": 0.30, "plus": 0.20, "premium": 0.10}


@dataclass(frozen=True)
class ShopperTables:
    shoppers: pd.DataFrame  # shopper_id, region, age_band, loyalty_tier
    exposures: pd.DataFrame  # shopper_id, campaign_id, impressions
    purchases: pd.DataFrame  # shopper_id, category, amount, units
    true_lift: dict[str, float]  # relative lift in the buying rate by tier, for every campaign


def shopper_tables(
    *, campaign_ids: list[str], shoppers: int = 3000, exposure_rate: float = 0.4, seed: int = 7, salt: str = "demo"
) -> ShopperTables:
    """``shoppers`` pseudonymous shoppers; each campaign reaches ``exposure_rate`` of them at random."""
    rng = np.random.default_rng(seed)
    ids = [hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()[:16] for i in range(shoppers)]
    tiers = rng.choice(LOYALTY_TIERS, size=shoppers, p=[0.5, 0.3, 0.2])
    people = pd.DataFrame(
        {
            "shopper_id": ids,
            "region": rng.choice(REGIONS, size=shoppers),
            "age_band": rng.choice(AGE_BANDS, size=shoppers, p=[0.35, 0.4, 0.25]),
            "loyalty_tier": tiers,
        }
    )
    exposure_rows = []
    # Each campaign reached multiplies the buying rate by (1 + the tier's lift), independently of other campaigns, so
    # reached vs not reached by one campaign compares rates in the ratio 1 + lift whatever the others did.
    rate = np.array([BASE_RATE[t] for t in tiers])
    lift = np.array([TRUE_LIFT[t] for t in tiers])
    for campaign in campaign_ids:
        hit = rng.random(shoppers) < exposure_rate
        rate = rate * (1 + lift * hit)
        for i in np.flatnonzero(hit):
            exposure_rows.append((ids[i], campaign, int(rng.integers(1, 12))))
    exposures = pd.DataFrame(exposure_rows, columns=["shopper_id", "campaign_id", "impressions"])
    buys = rng.random(shoppers) < rate
    purchase_rows = []
    for i in np.flatnonzero(buys):
        for _ in range(1 + rng.poisson(0.6)):
            units = int(rng.integers(1, 5))
            amount = round(units * float(rng.uniform(2, 9)), 2)
            purchase_rows.append((ids[i], str(rng.choice(CATEGORIES)), amount, units))
    purchases = pd.DataFrame(purchase_rows, columns=["shopper_id", "category", "amount", "units"])
    return ShopperTables(shoppers=people, exposures=exposures, purchases=purchases, true_lift=dict(TRUE_LIFT))


def default_rules(*, min_shoppers: int = 50) -> dict:
    """The analysis rules the demo dataset is seeded with (docs/governance.md explains each key)."""
    return {
        "min_shoppers": min_shoppers,
        "max_rows_per_shopper": 5,
        "tables": {
            "shoppers": {
                "subject": "shopper_id",
                "one_row_per_shopper": True,
                "dimensions": ["region", "age_band", "loyalty_tier"],
                "join_keys": ["shopper_id"],
            },
            "exposures": {
                "subject": "shopper_id",
                "dimensions": ["campaign_id"],
                "aggregates": {"impressions": ["SUM", "AVG"]},
                "join_keys": ["shopper_id", "campaign_id"],
                "bounds": {"impressions": [0, 50]},
            },
            "purchases": {
                "subject": "shopper_id",
                "dimensions": ["category"],
                "aggregates": {"amount": ["SUM", "AVG"], "units": ["SUM", "COUNT"]},
                "join_keys": ["shopper_id"],
                "bounds": {"amount": [0, 100], "units": [0, 20]},
            },
            "campaigns": {
                "dimensions": ["campaign_id", "retailer", "placement_type"],
                "join_keys": ["campaign_id"],
            },
        },
    }
