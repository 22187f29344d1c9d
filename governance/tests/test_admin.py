import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from governance.models import APIKey, AuditLog
from governance.services import api_key_create, audit_record

OUR_APPS = {"governance", "campaigns", "harmonization", "optimizer", "feedback", "ml"}


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    client.force_login(user)
    return client


def test_it_registers_every_model_with_search_and_filters():
    ours = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]
    assert ours, "no models found"
    for model in ours:
        assert admin.site.is_registered(model), f"{model.__name__} is not in the admin"
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, f"{model.__name__} admin has no search"
        assert model_admin.list_filter, f"{model.__name__} admin has no filters"


def test_it_serves_every_changelist_with_a_search(superuser_client, catalog):
    for model in [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = superuser_client.get(url, {"q": "acme"})
        assert response.status_code == 200, url


def test_it_keeps_the_audit_log_read_only(superuser_client, tenants):
    entry = audit_record(action="test.action", tenant=tenants["acme"], actor_label="system:test")
    change_url = reverse("admin:governance_auditlog_change", args=[entry.pk])
    assert superuser_client.get(reverse("admin:governance_auditlog_add")).status_code == 403
    response = superuser_client.post(change_url, {"action": "tampered"})
    assert response.status_code == 403
    assert superuser_client.post(reverse("admin:governance_auditlog_delete", args=[entry.pk])).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "test.action"


def test_it_refuses_to_change_or_delete_audit_entries(tenants):
    entry = audit_record(action="x", tenant=tenants["acme"])
    entry.action = "y"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "x"


def test_it_stores_only_a_hash_of_new_api_keys(tenants):
    key, raw = api_key_create(tenant=tenants["acme"], name="partner")
    stored = APIKey.objects.get(pk=key.pk)
    assert raw.startswith(f"rmn_{stored.prefix}_")
    assert raw not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == APIKey.hash_secret(raw)
    assert AuditLog.objects.filter(action="api_key.create", object_id=str(key.pk)).exists()
