"""A tenant's limits: the site defaults from the environment, an administrator's overrides per tenant in Django admin,
resolved by one selector that every service asks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from governance.limits import FALLBACK, human_bytes
from governance.models import AuditLog, TenantLimits
from governance.selectors import tenant_limits

ROOT = Path(__file__).resolve().parents[2]


def test_a_tenant_without_overrides_gets_the_site_defaults(tenants, settings):
    settings.TENANT_LIMITS = {**FALLBACK, "import_rows": 1234}
    limits = tenant_limits(tenants["acme"])
    assert limits.import_rows == 1234 and limits.training_jobs_at_once == FALLBACK["training_jobs_at_once"]
    assert limits.overridden == frozenset()
    assert limits.why("import_rows") == "the site's default limit; an administrator can change it for your tenant"


def test_an_override_raises_or_lowers_one_limit_for_one_tenant_only(tenants, settings):
    settings.TENANT_LIMITS = {**FALLBACK, "training_jobs_at_once": 2, "upload_bytes": 1000}
    TenantLimits.objects.create(tenant=tenants["acme"], training_jobs_at_once=5, upload_bytes=10)
    acme, globex = tenant_limits(tenants["acme"]), tenant_limits(tenants["globex"])
    assert (acme.training_jobs_at_once, acme.upload_bytes) == (5, 10)  # raised, lowered
    assert acme.training_jobs_per_day == FALLBACK["training_jobs_per_day"]  # empty: the default
    assert acme.why("upload_bytes") == "limit set for Acme Foods by your administrator"
    assert (globex.training_jobs_at_once, globex.upload_bytes) == (2, 1000)


def test_an_administrator_sets_a_tenants_limits_in_django_admin_and_it_is_audited(client, django_user_model, tenants):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    client.force_login(root)
    acme = tenants["acme"]
    page = client.get(reverse("admin:governance_tenant_change", args=[acme.pk])).content.decode()
    assert "training_jobs_at_once" in page and "default: 2 GiB" in page  # the inline, defaults as placeholders

    response = client.post(
        reverse("admin:governance_tenantlimits_add"), {"tenant": acme.pk, "import_rows": "50000", "import_columns": ""}
    )
    assert response.status_code == 302
    assert tenant_limits(acme).import_rows == 50_000 and tenant_limits(acme).overridden == {"import_rows"}
    entry = AuditLog.objects.get(action="tenant_limits.update")
    assert (entry.tenant, entry.actor_user, entry.detail) == (acme, root, {"import_rows": 50_000})

    refused = client.post(reverse("admin:governance_tenantlimits_change", args=[acme.pk]),
                          {"tenant": acme.pk, "import_rows": "0"})  # fmt: skip
    assert refused.status_code == 200 and "greater than or equal to 1" in refused.content.decode()
    assert tenant_limits(acme).import_rows == 50_000


def test_human_bytes():
    assert [human_bytes(n) for n in (512, 1536, 10 * 1024**2, 2 * 1024**3)] == [
        "512 bytes",
        "1.5 KiB",
        "10 MiB",
        "2 GiB",
    ]


def _settings_value(env: dict, expression: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIMIT_")}
    environ.update({"SECRET_KEY": "x", **env})
    code = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='rmn_site.settings'; django.setup(); " \
           f"from django.conf import settings; print({expression})"  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.slow
def test_the_defaults_come_from_the_environment_and_a_bad_value_stops_start_up(tmp_path):
    env = {"RMN_VAR_DIR": str(tmp_path), "LIMIT_IMPORT_ROWS": "123", "LIMIT_TRAINING_JOBS_AT_ONCE": "0"}
    limits = "settings.TENANT_LIMITS"
    result = _settings_value(env, f"{limits}['import_rows'], {limits}['training_jobs_at_once']")
    assert result.stdout.split() == ["123", "0"], result.stderr
    bad = _settings_value({"RMN_VAR_DIR": str(tmp_path), "LIMIT_UPLOAD_BYTES": "0"}, "1")
    assert bad.returncode != 0 and "LIMIT_UPLOAD_BYTES=0 must be at least 1" in bad.stderr
