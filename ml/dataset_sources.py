"""What the dataset builders (ml/datasets) take from the database: retailers with their creative policies, a tenant's
brands and SKUs, and the source columns of stored mappings. The builders stay free of Django; this reads for them.
"""

from __future__ import annotations

from campaigns.models import SKU, Retailer
from governance.models import Tenant
from harmonization.engine.spec import MappingError, load_mapping
from harmonization.models import Mapping
from harmonization.suggest.lexicon import FIELDS


def _mapping_columns(mapping: Mapping) -> dict[str, str]:
    """RMIS field -> source column of one stored mapping (fields filled from a single column only)."""
    try:
        spec = load_mapping(mapping.yaml_text, origin=f"mapping {mapping.name}")
    except MappingError:
        return {}  # stored mappings are validated on save; one that no longer loads teaches nothing
    out = {"date": spec.date.column}
    for field, column in spec.columns.items():
        if field in FIELDS and column.source:
            out[field] = column.source
    return out


def dataset_source(*, tenant: Tenant | None = None) -> dict:
    """``{"retailers", "brands", "mappings"}`` for ml.engine.datasets.build(source=...).

    Retailers are the active shared ones; brands and SKUs are the tenant's (none without a tenant); mappings are
    the shared ones plus the tenant's own."""
    retailers = [
        {"code": r.code, "name": r.name, "policy_specs": r.policy_specs or {}}
        for r in Retailer.objects.filter(is_active=True).order_by("code")
    ]
    brands: list[dict] = []
    if tenant is not None:
        by_brand: dict[str, list[dict]] = {}
        skus = SKU.objects.filter(tenant=tenant, is_active=True).select_related("brand")
        for sku in skus.order_by("brand__name", "sku_code"):
            by_brand.setdefault(sku.brand.name, []).append(
                {"code": sku.sku_code, "name": sku.name, "price": float(sku.price)}
            )
        brands = [{"name": name, "skus": rows} for name, rows in by_brand.items()]
    mappings_qs = Mapping.objects.filter(tenant__isnull=True)
    if tenant is not None:
        mappings_qs = Mapping.objects.filter(tenant__isnull=True) | Mapping.objects.filter(tenant=tenant)
    mappings = []
    for mapping in mappings_qs.select_related("retailer").order_by("name"):
        columns = _mapping_columns(mapping)
        if columns:
            mappings.append({"retailer": mapping.retailer.code, "columns": columns})
    return {"retailers": retailers, "brands": brands, "mappings": mappings}
