"""The limits a tenant works under on shared workers and inputs: site defaults (``settings.TENANT_LIMITS``, read
from the environment, docs/deploy.md) with per-tenant overrides an administrator sets in Django admin
(``TenantLimits``). ``governance.selectors.tenant_limits`` resolves them; the services that start work or take input
(``ml.jobs``, ``ml.inference``, ``harmonization.services``) refuse past them, naming the limit and where it comes
from."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

# Used when a deployment's settings leave one out (they normally come from rmn_site.settings).
FALLBACK: dict[str, int] = {
    "training_jobs_at_once": 2,
    "training_jobs_per_day": 10,
    "generations_per_day": 1000,
    "generation_text_chars": 1000,
    "upload_bytes": 2 * 1024**3,
    "import_rows": 10_000_000,
    "import_columns": 500,
}
LIMIT_FIELDS = tuple(FALLBACK)


def default_limits() -> dict[str, int]:
    configured = getattr(settings, "TENANT_LIMITS", None) or {}
    return {name: int(configured.get(name, FALLBACK[name])) for name in LIMIT_FIELDS}


@dataclass(frozen=True)
class Limits:
    """One tenant's effective limits. Counts of 0 switch the thing off for the tenant."""

    tenant_name: str
    training_jobs_at_once: int
    training_jobs_per_day: int
    generations_per_day: int
    generation_text_chars: int
    upload_bytes: int
    import_rows: int
    import_columns: int
    overridden: frozenset[str] = field(default_factory=frozenset)

    def why(self, name: str) -> str:
        """Where limit ``name`` comes from, in words, for the refusal messages."""
        if name in self.overridden:
            return f"limit set for {self.tenant_name} by your administrator"
        return "the site's default limit; an administrator can change it for your tenant"


def human_bytes(size: int) -> str:
    """1536 -> '1.5 KiB', 2147483648 -> '2 GiB'."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}" if unit != "bytes" else f"{size:,} bytes"
