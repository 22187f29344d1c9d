"""Small inline mappings and files for the engine tests (no database)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from harmonization.engine import Lookups, load_mapping

BASE = {
    "version": 1,
    "name": "test_layout",
    "retailer": "amazon",
    "source": {"format": "csv"},
    "date": {"column": "date", "format": "%Y-%m-%d"},
    "columns": {
        "campaign_id": {"source": "campaignId"},
        "placement_type": {"constant": "sponsored_product"},
        "retailer_item_id": {"source": "asin"},
        "impressions": {"source": "impressions"},
        "clicks": {"source": "clicks"},
        "spend": {"source": "cost"},
        "attributed_sales": {"source": "sales14d"},
        "attributed_units": {"source": "units14d"},
        "currency": {"constant": "USD"},
    },
    "attribution": {"window_days": 14, "model": "last_click"},
    "sku": {"match": "retailer_item_id", "unknown": "campaign_level"},
}
HEADER = "date,campaignId,asin,impressions,clicks,cost,sales14d,units14d"


def mapping_dict(**changes) -> dict:
    """BASE with top-level keys replaced; ``source``/``columns`` given as dicts are merged into BASE's."""
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        elif key == "columns" and isinstance(value, dict) and "campaign_id" in value:
            doc[key] = value  # a complete set replaces BASE's
        elif key in ("source", "columns", "date") and isinstance(value, dict):
            doc[key].update(value)
        else:
            doc[key] = value
    return doc


def make_spec(**changes):
    return load_mapping(yaml.safe_dump(mapping_dict(**changes), sort_keys=False), origin="test.yaml")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def lookups() -> Lookups:
    return Lookups(reporting_currency="USD", resolve_skus=False)
