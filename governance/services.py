"""Writes for tenants, API keys and the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.models import APIKey, AuditLog, Role, Tenant
from governance.pii import redact, redact_json


def audit_record(
    *,
    action: str,
    tenant: Tenant | None = None,
    user=None,
    api_key: APIKey | None = None,
    actor_label: str | None = None,
    obj: Any = None,
    detail: dict | None = None,
) -> AuditLog:
    if actor_label is None:
        if api_key is not None:
            actor_label = f"api-key:{api_key.prefix}"
        elif user is not None and getattr(user, "is_authenticated", False):
            actor_label = f"user:{user.get_username()}"
        else:
            actor_label = "system"
    # The audit log keeps no personal data either: what a detail or a label held is replaced, and counted.
    detail, found = redact_json(detail or {})
    label = redact(actor_label)
    found.update(label.counts)
    if found:
        detail["pii_redacted"] = dict(sorted(found.items()))
    return AuditLog.objects.create(
        tenant=tenant,
        actor_user=user if getattr(user, "is_authenticated", False) else None,
        actor_api_key=api_key,
        actor_label=label.text,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail,
    )


def api_key_create(*, tenant: Tenant, name: str, role: str = Role.MARKETER, created_by=None) -> tuple[APIKey, str]:
    """Create a key and return it with the raw secret, which is never stored and cannot be shown again."""
    prefix, raw = APIKey.generate_raw_key()
    with transaction.atomic():
        key = APIKey.objects.create(
            tenant=tenant, name=name, role=role, prefix=prefix, key_hash=APIKey.hash_secret(raw), created_by=created_by
        )
        audit_record(action="api_key.create", tenant=tenant, user=created_by, obj=key, detail={"role": role})
    return key, raw


def api_key_revoke(*, key: APIKey, user=None) -> APIKey:
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(action="api_key.revoke", tenant=key.tenant, user=user, obj=key)
    return key


def api_key_touch(*, key_id: int, used_at: dt.datetime) -> bool:
    """Move ``last_used_at`` forward to ``used_at`` (never back: messages may arrive out of order)."""
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=used_at)
    return bool(APIKey.objects.filter(stale, pk=key_id).update(last_used_at=used_at))
