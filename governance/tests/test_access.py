import pytest
from django.core.exceptions import ImproperlyConfigured

from core.api.base import TenantScopedViewSet
from governance.access import Capability, access_for_user


def test_it_gives_roles_their_capabilities(personas, tenants):
    acme = tenants["acme"].pk
    assert access_for_user(personas["owner"], acme).can(Capability.MANAGE_TENANT)
    marketer = access_for_user(personas["marketer"], acme)
    assert marketer.can(Capability.EDIT_DATA) and not marketer.can(Capability.MANAGE_TENANT)
    reviewer = access_for_user(personas["reviewer"], acme)
    assert reviewer.can(Capability.VIEW_DATA) and reviewer.can(Capability.GIVE_FEEDBACK)
    assert not reviewer.can(Capability.EDIT_DATA)


def test_it_denies_strangers_and_garbage_ids(personas, tenants):
    assert access_for_user(personas["stranger"], tenants["acme"].pk) is None
    assert access_for_user(personas["owner"], "not-a-number") is None
    assert access_for_user(personas["owner"], None) is None


def test_it_refuses_viewsets_that_bypass_tenant_scoping():
    from campaigns.models import Brand

    with pytest.raises(ImproperlyConfigured):

        class Leaky(TenantScopedViewSet):
            queryset = Brand.objects.all()

    with pytest.raises(ImproperlyConfigured):

        class AlsoLeaky(TenantScopedViewSet):
            def get_queryset(self):
                return Brand.objects.all()
