import pytest

from campaigns.services import performance_rollup_refresh


@pytest.fixture
def catalog(catalog, tenants):
    """The shared catalog (conftest.py at the root), its facts rolled up as every writer of facts does."""
    for tenant in tenants.values():
        performance_rollup_refresh(tenant=tenant)
    return catalog
