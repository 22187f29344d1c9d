"""Audience-level lift read from a retailer's clean room through the gateway client.

For one campaign and each audience (loyalty tier), the buying rate of the shoppers the campaign reached against that
of the shoppers it did not reach, from two aggregate queries released with differential privacy. The comparison is
observational: it is the campaign's effect only where exposure is as good as random within an audience (the demo's
synthetic data is built so; a real retailer's targeting usually is not, and lift studies stay the causal measure).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from django.conf import settings
from sqlglot import exp

from campaigns.models import Campaign
from core.errors import DomainError
from governance.models import Tenant
from optimizer.cleanroom_client import CleanRoomClient, CleanRoomClientError

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


@dataclass
class AudienceLift:
    dataset: str
    campaign_id: str
    rows: list[AudienceLiftRow]
    noise_std: dict[str, float] = field(default_factory=dict)  # per released count, in shoppers
    epsilon_spent: float = 0.0
    epsilon_remaining: float | None = None
    suppressed: dict[str, int] = field(default_factory=dict)


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


def cleanroom_api_key(*, tenant: Tenant) -> str:
    """The tenant's key for the gateway, from settings.CLEANROOM_KEYS_FILE (a JSON object: tenant slug -> key)."""
    path = settings.CLEANROOM_KEYS_FILE
    try:
        keys = json.loads(path.read_text())
    except FileNotFoundError:
        keys = {}
    except (OSError, ValueError) as exc:
        raise DomainError(f"The clean-room keys file cannot be read: {type(exc).__name__}.", field="api_key") from None
    key = keys.get(tenant.slug) if isinstance(keys, dict) else None
    if not key:
        raise DomainError(
            f"No clean-room API key for {tenant.name}: add one to the keys file (CLEANROOM_KEYS_FILE; "
            "`manage.py seed_cleanroom` writes the demo's).",
            field="api_key",
        )
    return key


def cleanroom_client(*, tenant: Tenant, base_url: str) -> CleanRoomClient:
    return CleanRoomClient(
        base_url=settings.CLEANROOM_GATEWAY_URL or base_url,
        api_key=cleanroom_api_key(tenant=tenant),
        timeout_s=settings.CLEANROOM_CLIENT_TIMEOUT_S,
        attempts=settings.CLEANROOM_CLIENT_ATTEMPTS,
    )


def audience_lift_read(
    *, tenant: Tenant, dataset: str, campaign_id: str, client: CleanRoomClient, epsilon: float | None = None
) -> AudienceLift:
    """Ask the gateway (two queries, each spending ``epsilon`` or the dataset's default) and compute the lift."""
    if not Campaign.objects.filter(tenant=tenant, external_id=campaign_id).exists():
        raise DomainError(f"No campaign with the retailer id {campaign_id!r} in this tenant.", field="campaign_id")
    try:
        everyone = client.query(dataset=dataset, sql=EVERYONE_SQL, epsilon=epsilon)
        exposed_sql = EXPOSED_SQL.format(campaign=exp.Literal.string(campaign_id).sql(dialect="sqlite"))
        exposed = client.query(dataset=dataset, sql=exposed_sql, epsilon=epsilon)
    except CleanRoomClientError as exc:
        rule = f" (rule {exc.rule})" if exc.rule else ""
        raise DomainError(f"{exc.message}{rule}", field="dataset") from None
    noise = {f"everyone.{k}": v["std"] for k, v in everyone["noise"].items()}
    noise |= {f"exposed.{k}": v["std"] for k, v in exposed["noise"].items()}
    suppressed: dict[str, int] = {}
    for answer in (everyone, exposed):
        for rule, count in answer["suppressed_rows"].items():
            suppressed[rule] = suppressed.get(rule, 0) + count
    return AudienceLift(
        dataset=dataset,
        campaign_id=campaign_id,
        rows=audience_lift_from_answers(everyone, exposed),
        noise_std=noise,
        epsilon_spent=everyone["epsilon_spent"] + exposed["epsilon_spent"],
        epsilon_remaining=exposed["epsilon_remaining"],
        suppressed=suppressed,
    )
