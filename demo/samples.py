"""Sample files for the demo: a small export of a shipped layout built from the current tenant's own catalog and
campaigns, so that uploading it on /imports/ with that layout loads without quarantine (the shipped samples in
harmonization/samples/ use the generator's synthetic catalog, whose SKUs no tenant has)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import Retailer
from core.errors import DomainError
from demo.engine.exports import LAYOUTS, ExportTruth, generate_export
from demo.selectors import campaign_external_ids, tenant_catalog
from governance.models import Tenant
from harmonization.engine import Lookups, MappingError, MappingSpec, load_mapping_file
from harmonization.models import FXRate
from harmonization.services import mappings_dir, shipped_mapping_files

SAMPLE_DAYS = 7
SAMPLE_ROWS = 300
FX_STALENESS_DAYS = Lookups(reporting_currency="USD").fx_max_staleness_days
SAMPLE_TYPES = {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/x-ndjson"}


def sample_filename(mapping_name: str) -> str:
    return f"{mapping_name}-sample{LAYOUTS[mapping_name].suffix}"


def sample_content_type(mapping_name: str) -> str:
    return SAMPLE_TYPES.get(LAYOUTS[mapping_name].suffix, "application/octet-stream")


_UNSAFE_ID = set(',"\\\n\r\t')
_REFERENCE_LABEL = {"asin": "an Amazon ASIN", "item_id": "a Walmart item id", "gtin": "a GTIN (EAN)"}


def _sample_reference(spec: MappingSpec, retailer: str) -> str | None:
    """The CatalogItem field a layout's SKU reference prints, or None when any SKU will do."""
    if spec.sku is None or spec.sku.match == "sku_code":
        return None
    if spec.sku.match == "gtin":
        return "gtin"
    return {"amazon": "asin", "walmart": "item_id"}.get(retailer, "asin")


def _fx_days(tenant: Tenant, currency: str) -> list[dt.date]:
    """Days with a currency -> reporting currency rate, direct or inverse (as services.lookups_for reads them)."""
    target = tenant.reporting_currency
    direct = FXRate.objects.filter(currency=currency, quote_currency=target).values_list("date", flat=True)
    inverse = FXRate.objects.filter(currency=target, quote_currency=currency).values_list("date", flat=True)
    return sorted({*direct, *inverse})


def _sample_window(tenant: Tenant, currency: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last) local day of a sample: the SAMPLE_DAYS days ending yesterday, or ending on the last day with an
    FX rate when the layout's currency is not the tenant's (then the day before the first must be covered too: a
    local timestamp can fall on the previous UTC day)."""
    last = today - dt.timedelta(days=1)
    if currency == tenant.reporting_currency:
        return last - dt.timedelta(days=SAMPLE_DAYS - 1), last
    days = [d for d in _fx_days(tenant, currency) if d <= last]
    if not days:
        raise DomainError(f"there is no {currency}→{tenant.reporting_currency} exchange rate to convert a sample")
    last = days[-1]
    first = last - dt.timedelta(days=SAMPLE_DAYS - 1)
    for offset in range(SAMPLE_DAYS + 1):
        day = first - dt.timedelta(days=1 - offset)
        if not any(0 <= (day - d).days <= FX_STALENESS_DAYS for d in days):
            raise DomainError(f"no {currency}→{tenant.reporting_currency} rate on or shortly before {day}")
    return first, last


def sample_plan(*, tenant: Tenant, mapping_name: str, _shared: dict | None = None) -> dict:
    """What a sample of a shipped layout would hold for this tenant: ``items`` (its catalog, the SKUs that carry
    the layout's reference), ``campaign_ids`` (generate_export's argument: the tenant's existing campaigns per
    retailer, placement and brand; a key mapped to [] is left out of the file), ``start``/``days``. Raises
    DomainError naming why this tenant cannot get a clean sample of the layout."""
    layout = LAYOUTS.get(mapping_name)
    if layout is None or mapping_name not in {p.stem for p in shipped_mapping_files()}:
        raise DomainError(f"{mapping_name!r} is not a shipped layout with a sample", field="mapping")
    spec = load_mapping_file(mappings_dir() / f"{mapping_name}.yaml")
    shared = _shared if _shared is not None else {}
    if "known" not in shared:
        shared["known"] = set(Retailer.objects.values_list("code", flat=True))
        shared["catalog"] = tenant_catalog(tenant=tenant)
        shared["existing"] = campaign_external_ids(tenant=tenant)
    known = shared["known"]
    channels = [c for c in layout.channels if c.retailer in known]
    if not channels:
        missing = sorted({c.retailer for c in layout.channels})
        raise DomainError(f"retailer {', '.join(missing)} is not set up in this installation")
    catalog = shared["catalog"]
    retailers = {c.retailer for c in channels}
    references = {_sample_reference(spec, r) for r in retailers} - {None}
    items = tuple(i for i in catalog if all(getattr(i, ref) for ref in references))
    if not items:
        what = " and ".join(_REFERENCE_LABEL[r] for r in sorted(references)) or "an active SKU"
        raise DomainError(f"no SKU of {tenant.name} has {what}: add it to the catalog first")
    brands = list(dict.fromkeys(i.brand for i in items))
    existing = shared["existing"]
    campaign_ids: dict[tuple[str, str, str], list[str]] = {}
    for channel in layout.channels:
        for brand in brands:
            key = (channel.retailer, channel.placement_type, brand)
            ids = [i for i in existing.get(key, []) if not (_UNSAFE_ID & set(i))]
            if channel.retailer not in known:
                campaign_ids[key] = []  # the loader would refuse the whole file
            elif ids:
                campaign_ids[key] = ids
            elif channel.placement_type != "sponsored_product" and len(brands) > 1:
                # a new campaign-level campaign cannot take a brand from SKU rows (loader: the tenant's only brand)
                campaign_ids[key] = []
            else:
                # one new campaign per key, the same one on every download: a second upload replaces its facts
                campaign_ids[key] = [f"sample-{slugify(brand)}-{channel.retailer}-{channel.placement_type}"[:100]]
    if all(campaign_ids.get((c.retailer, c.placement_type, b)) == [] for c in layout.channels for b in brands):
        raise DomainError(f"{tenant.name} has no campaign these rows could belong to: create one first")
    start, last = _sample_window(tenant, layout.currency, timezone.now().date())
    return {
        "layout": layout,
        "items": items,
        "campaign_ids": campaign_ids,
        "start": start,
        "days": (last - start).days + 1,
    }


def sample_layouts(*, tenant: Tenant) -> list[dict]:
    """Per shipped layout with a generator: name, file name and, when this tenant cannot get a clean sample, why."""
    out = []
    shared: dict = {}  # the catalog, campaigns and retailers, read once for all layouts
    for path in shipped_mapping_files():
        if path.stem not in LAYOUTS:
            continue
        try:
            sample_plan(tenant=tenant, mapping_name=path.stem, _shared=shared)
        except (DomainError, MappingError) as exc:
            out.append({"name": path.stem, "filename": "", "problem": str(getattr(exc, "message", exc))})
            continue
        out.append({"name": path.stem, "filename": sample_filename(path.stem), "problem": ""})
    return out


def sample_export_write(*, tenant: Tenant, mapping_name: str, path: str | Path) -> ExportTruth:
    """Write a small file of a shipped layout from the tenant's own catalog and campaigns (the SAMPLE_DAYS days
    ending yesterday, at most SAMPLE_ROWS rows) that loads with that layout's mapping without quarantine.
    Returns the generator's ExportTruth; raises DomainError when the tenant cannot get one (see sample_plan)."""
    plan = sample_plan(tenant=tenant, mapping_name=mapping_name)
    return generate_export(
        mapping_name,
        path,
        rows=SAMPLE_ROWS,
        seed=0,
        start=plan["start"],
        days=plan["days"],
        items=plan["items"],
        campaign_ids=plan["campaign_ids"],
        compress=False,
    )
