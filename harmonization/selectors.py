"""Reads for harmonization. Every read of tenant data takes the tenant first."""

from __future__ import annotations

import re

from django.db.models import F, Q, QuerySet

from governance.models import Tenant
from harmonization.models import IngestBatch, Mapping


def batch_list(*, tenant: Tenant) -> QuerySet[IngestBatch]:
    return IngestBatch.objects.filter(tenant=tenant).select_related("retailer", "created_by")


def batch_get(*, tenant: Tenant, pk: int) -> IngestBatch:
    """The tenant's batch; another tenant's batch raises IngestBatch.DoesNotExist like a missing one."""
    return batch_list(tenant=tenant).get(pk=pk)


def mapping_choices(*, tenant: Tenant) -> list[tuple[str, str]]:
    """(name, label) of every mapping the tenant may use: shipped files, then shared and the tenant's saved ones.
    The label names the retailer the mapping loads into. A shipped file that does not validate is left out."""
    from harmonization.engine import MappingError, load_mapping_file
    from harmonization.services import shipped_mapping_files

    choices: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path in shipped_mapping_files():
        try:
            spec = load_mapping_file(path)
        except (MappingError, OSError):
            continue
        retailer = spec.retailer or "retailer from the file"
        choices.append((path.stem, f"{_headline(spec.description) or path.stem} · {path.stem} ({retailer})"))
        seen.add(path.stem)
    saved = Mapping.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).select_related("retailer")
    # The tenant's own mapping first, as mapping_resolve picks it over a shared one of the same name.
    for mapping in saved.order_by("name", F("tenant").desc(nulls_last=True)):
        if mapping.name in seen:
            continue
        owner = "yours" if mapping.tenant_id else "shared"
        choices.append((mapping.name, f"{mapping.name} ({mapping.retailer.code}, {owner})"))
        seen.add(mapping.name)
    return choices


def _headline(description: str, limit: int = 60) -> str:
    """A short title from a mapping's description (its first clause, without parentheses), for a select box."""
    text = re.sub(r"\s*\([^)]*\)", "", " ".join((description or "").split()))
    clause = re.split(r"[,:.]\s", text + " ", maxsplit=1)[0].strip()
    return clause if len(clause) <= limit else clause[: limit - 1].rsplit(" ", 1)[0] + "…"


def tenant_catalog(*, tenant: Tenant):
    """The tenant's active SKUs with the references the export layouts print (Amazon ASIN, Walmart item id,
    EAN-13), as ``harmonization.exports.CatalogItem``s, so a generated file resolves against the tenant's crosswalk.
    A SKU without a reference prints an empty one. Empty when the tenant has no active SKU."""
    from campaigns.models import SKU, RetailerItem
    from harmonization.exports import CatalogItem

    refs = {
        (sku, code): item_id
        for sku, code, item_id in RetailerItem.objects.filter(tenant=tenant).values_list(
            "sku", "retailer__code", "item_id"
        )
    }
    skus = SKU.objects.filter(tenant=tenant, is_active=True).select_related("brand").order_by("brand__name", "sku_code")
    return tuple(
        CatalogItem(
            sku_code=sku.sku_code,
            brand=sku.brand.name,
            name=sku.name,
            price_cents=round(sku.price * 100),
            unit_cost_cents=round(sku.unit_cost * 100),
            asin=refs.get((sku.pk, "amazon"), ""),
            item_id=refs.get((sku.pk, "walmart"), ""),
            gtin=sku.gtin.zfill(13) if sku.gtin else "",
        )
        for sku in skus
    )


def campaign_external_ids(*, tenant: Tenant) -> dict[tuple[str, str, str], list[str]]:
    """(retailer code, placement type, brand name) -> the tenant's campaign external ids, oldest first."""
    from campaigns.models import Campaign

    out: dict[tuple[str, str, str], list[str]] = {}
    rows = Campaign.objects.filter(tenant=tenant).order_by("pk")
    for code, placement, brand, external_id in rows.values_list(
        "retailer__code", "placement_type", "brand__name", "external_id"
    ):
        out.setdefault((code, placement, brand), []).append(external_id)
    return out
