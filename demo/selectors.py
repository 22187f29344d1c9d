"""Reads the demo samples need: the tenant's catalog and campaign ids as the export layouts print them."""

from __future__ import annotations

from campaigns.models import SKU, Campaign, RetailerItem
from demo.engine.exports import CatalogItem
from governance.models import Tenant


def tenant_catalog(*, tenant: Tenant):
    """The tenant's active SKUs with the references the export layouts print (Amazon ASIN, Walmart item id,
    EAN-13), as ``demo.engine.exports.CatalogItem``s, so a generated file resolves against the tenant's crosswalk.
    A SKU without a reference prints an empty one. Empty when the tenant has no active SKU."""
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
    out: dict[tuple[str, str, str], list[str]] = {}
    rows = Campaign.objects.filter(tenant=tenant).order_by("pk")
    for code, placement, brand, external_id in rows.values_list(
        "retailer__code", "placement_type", "brand__name", "external_id"
    ):
        out.setdefault((code, placement, brand), []).append(external_id)
    return out
