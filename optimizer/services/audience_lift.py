"""Audience-level lift read from a retailer's clean room through the gateway client.

For one campaign and each audience (loyalty tier), the buying rate of the shoppers the campaign reached against that
of the shoppers it did not reach, from two aggregate queries released with differential privacy. The comparison is
observational: it is the campaign's effect only where exposure is as good as random within an audience (the demo's
synthetic data is built so; a real retailer's targeting usually is not, and lift studies stay the causal measure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from sqlglot import exp

from campaigns.models import Campaign
from core.errors import DomainError
from governance.models import Tenant
from optimizer.cleanroom_client import CleanRoomClient, CleanRoomClientError
from optimizer.engine.audience_lift import EVERYONE_SQL, EXPOSED_SQL, AudienceLiftRow, audience_lift_from_answers


@dataclass
class AudienceLift:
    dataset: str
    campaign_id: str
    rows: list[AudienceLiftRow]
    noise_std: dict[str, float] = field(default_factory=dict)  # per released count, in shoppers
    epsilon_spent: float = 0.0
    epsilon_remaining: float | None = None
    suppressed: dict[str, int] = field(default_factory=dict)


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
