"""Reads for harmonization. Every read of tenant data takes the tenant first."""

from __future__ import annotations

import re

from django.db.models import F, Q, QuerySet

from campaigns.models import Retailer
from governance.models import Tenant
from harmonization.models import IngestBatch, Mapping


def batch_list(*, tenant: Tenant) -> QuerySet[IngestBatch]:
    return IngestBatch.objects.filter(tenant=tenant).select_related("retailer", "created_by")


def batch_get(*, tenant: Tenant, pk: int) -> IngestBatch:
    """The tenant's batch; another tenant's batch raises IngestBatch.DoesNotExist like a missing one."""
    return batch_list(tenant=tenant).get(pk=pk)


def mapping_choices(*, tenant: Tenant) -> list[tuple[str, str]]:
    """(name, label) of every mapping the tenant may use: shipped files, then shared and the tenant's saved ones.
    The label names the layout in words and the retailer the mapping loads into (the file name only where two
    shipped layouts would read alike). A shipped file that does not validate is left out."""
    from harmonization.engine import MappingError, load_mapping_file
    from harmonization.services import shipped_mapping_files

    choices: list[tuple[str, str]] = []
    seen: set[str] = set()
    names = dict(Retailer.objects.values_list("code", "name"))
    headlines: dict[str, int] = {}
    for path in shipped_mapping_files():
        try:
            spec = load_mapping_file(path)
        except (MappingError, OSError):
            continue
        retailer = names.get(spec.retailer, spec.retailer) if spec.retailer else "retailer from the file"
        headline = _headline(spec.description) or path.stem.replace("_", " ")
        headlines[headline] = headlines.get(headline, 0) + 1
        if headlines[headline] > 1:  # two layouts of one report: the file name tells them apart, in words
            headline = f"{headline}: {path.stem.replace('_', ' ')}"
        choices.append((path.stem, f"{headline} ({retailer})"))
        seen.add(path.stem)
    saved = Mapping.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).select_related("retailer")
    # The tenant's own mapping first, as mapping_resolve picks it over a shared one of the same name.
    for mapping in saved.order_by("name", F("tenant").desc(nulls_last=True)):
        if mapping.name in seen:
            continue
        owner = "yours" if mapping.tenant_id else "shared"
        choices.append((mapping.name, f"{mapping.name} ({mapping.retailer.name}, {owner})"))
        seen.add(mapping.name)
    return choices


def _headline(description: str, limit: int = 60) -> str:
    """A short title from a mapping's description (its first clause, without parentheses), for a select box."""
    text = re.sub(r"\s*\([^)]*\)", "", " ".join((description or "").split()))
    clause = re.split(r"[,:.]\s", text + " ", maxsplit=1)[0].strip()
    return clause if len(clause) <= limit else clause[: limit - 1].rsplit(" ", 1)[0] + "…"
