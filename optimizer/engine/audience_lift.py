"""Audience-level lift from two aggregate answers of a clean room (no Django: the gateway answers are plain dicts).

For one campaign and each audience (loyalty tier), the buying rate of the shoppers the campaign reached against that
of the shoppers it did not reach. ``EVERYONE_SQL`` and ``EXPOSED_SQL`` are the two queries the clean room's rules allow
for it; docs/measurement.md, "Audience lift from a clean room", gives the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_AUDIENCE = "s.loyalty_tier"
EVERYONE_SQL = (
    f"SELECT {_AUDIENCE} AS audience, COUNT(DISTINCT s.shopper_id) AS shoppers, COUNT(DISTINCT p.shopper_id) AS buyers "
    "FROM shoppers s LEFT JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY " + _AUDIENCE
)
EXPOSED_SQL = (
    f"SELECT {_AUDIENCE} AS audience, COUNT(DISTINCT s.shopper_id) AS shoppers, COUNT(DISTINCT p.shopper_id) AS buyers "
    "FROM shoppers s JOIN exposures e ON e.shopper_id = s.shopper_id LEFT JOIN purchases p ON p.shopper_id = "
    "s.shopper_id WHERE e.campaign_id = {campaign} GROUP BY " + _AUDIENCE
)
Z95 = 1.959964


@dataclass(frozen=True)
class AudienceLiftRow:
    audience: str
    exposed_shoppers: float
    exposed_buyers: float
    unexposed_shoppers: float
    unexposed_buyers: float
    exposed_rate: float | None
    unexposed_rate: float | None
    lift: float | None  # exposed rate / unexposed rate - 1
    lift_low: float | None  # 95% interval: sampling and the DP noise together
    lift_high: float | None


def audience_lift_from_answers(everyone: dict, exposed: dict) -> list[AudienceLiftRow]:
    """Combine the two gateway answers; an audience missing from either (suppressed) is left out."""
    var_all = {name: info["std"] ** 2 for name, info in everyone.get("noise", {}).items()}
    var_exp = {name: info["std"] ** 2 for name, info in exposed.get("noise", {}).items()}
    reached = {row["audience"]: row for row in exposed["rows"]}
    rows = []
    for total in everyone["rows"]:
        hit = reached.get(total["audience"])
        if hit is None:
            continue
        n1, b1 = hit["shoppers"], hit["buyers"]
        n0, b0 = total["shoppers"] - n1, total["buyers"] - b1
        r1 = b1 / n1 if n1 > 0 else None
        r0 = b0 / n0 if n0 > 0 else None
        lift = low = high = None
        if r1 and r0 and 0 < r1 < 1 and 0 < r0 < 1:
            # Delta method on log(r1/r0): binomial sampling plus the noise of each count (the unexposed counts are
            # differences of two releases, so their noise variances add).
            v1 = r1 * (1 - r1) / n1 + (var_exp.get("buyers", 0) + r1**2 * var_exp.get("shoppers", 0)) / n1**2
            noise_b0 = var_all.get("buyers", 0) + var_exp.get("buyers", 0)
            noise_n0 = var_all.get("shoppers", 0) + var_exp.get("shoppers", 0)
            v0 = r0 * (1 - r0) / n0 + (noise_b0 + r0**2 * noise_n0) / n0**2
            se = math.sqrt(v1 / r1**2 + v0 / r0**2)
            ratio = r1 / r0
            lift, low, high = ratio - 1, ratio * math.exp(-Z95 * se) - 1, ratio * math.exp(Z95 * se) - 1
        rows.append(AudienceLiftRow(total["audience"], n1, b1, n0, b0, r1, r0, lift, low, high))
    return rows
