"""The demo's clean room: a retailer's synthetic shopper tables for each demo tenant, and the measurement key.

For every demo tenant, the shoppers of the retailer it runs most campaigns with (demo.engine.shoppers: exposures to
those campaigns, purchases with a known lift), the default analysis rules, and an API key for the measurement
services' gateway client, written to settings.CLEANROOM_KEYS_FILE (the raw key is stored nowhere else).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass

from django.conf import settings

from campaigns.models import Campaign
from demo.engine.shoppers import default_rules, shopper_tables
from governance.clean_rooms import clean_room_dataset_load
from governance.models import APIKey, CleanRoomDataset, Role, Tenant
from governance.services import api_key_create

KEY_NAME = "Clean-room measurement"


@dataclass(frozen=True)
class CleanRoomSeed:
    tenant: str
    dataset: str
    shoppers: int
    created: bool


def demo_clean_room_seed(*, tenants: list[Tenant], shoppers: int = 20_000, seed: int = 7, reset: bool = False):
    """Seed each tenant's dataset (skipped when it exists, unless ``reset``) and make sure the keys file holds a
    working key for it."""
    out = []
    for tenant in tenants:
        campaigns = list(Campaign.objects.filter(tenant=tenant).select_related("retailer"))
        if not campaigns:
            continue
        retailer = Counter(c.retailer.code for c in campaigns).most_common(1)[0][0]
        slug = f"{retailer}-shoppers"
        exists = CleanRoomDataset.objects.filter(tenant=tenant, slug=slug).exists()
        if not exists or reset:
            ids = sorted(c.external_id for c in campaigns if c.retailer.code == retailer)
            tables = shopper_tables(campaign_ids=ids, shoppers=shoppers, seed=seed, salt=f"{tenant.slug}:{retailer}")
            clean_room_dataset_load(
                tenant=tenant,
                slug=slug,
                name=f"{retailer} shoppers (synthetic)",
                retailer_code=retailer,
                rules=default_rules(),
                shoppers=tables.shoppers,
                exposures=tables.exposures,
                purchases=tables.purchases,
            )
        _key_ensure(tenant)
        out.append(CleanRoomSeed(tenant=tenant.slug, dataset=slug, shoppers=shoppers, created=not exists or reset))
    return out


def _key_ensure(tenant: Tenant) -> None:
    path = settings.CLEANROOM_KEYS_FILE
    try:
        keys = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        keys = {}
    stored = keys.get(tenant.slug, "")
    parts = stored.split("_")
    if len(parts) >= 3 and APIKey.objects.filter(tenant=tenant, prefix=parts[1], revoked_at__isnull=True).exists():
        return
    _, raw = api_key_create(tenant=tenant, name=KEY_NAME, role=Role.MARKETER)
    keys[tenant.slug] = raw
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=1)
