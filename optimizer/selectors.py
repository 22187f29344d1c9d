from django.db.models import QuerySet

from campaigns.models import PerformanceFact, Retailer
from governance.models import Tenant
from optimizer.models import AllocationPlan, LiftStudy


def lift_study_list(*, tenant: Tenant) -> QuerySet[LiftStudy]:
    return LiftStudy.objects.filter(tenant=tenant).select_related("retailer")


def plan_list(*, tenant: Tenant) -> QuerySet[AllocationPlan]:
    return AllocationPlan.objects.filter(tenant=tenant).select_related("created_by")


def plan_get(*, tenant: Tenant, pk: int) -> AllocationPlan:
    """The tenant's plan; another tenant's plan raises AllocationPlan.DoesNotExist like a missing one."""
    return plan_list(tenant=tenant).get(pk=pk)


def tenant_channels(tenant: Tenant) -> list[tuple[str, str]]:
    """(retailer code, placement type) of every channel the tenant has performance facts for, sorted."""
    return sorted(
        PerformanceFact.objects.filter(tenant=tenant)
        .values_list("retailer__code", "placement_type")
        .distinct()
        .order_by()
    )


def tenant_channel_choices(tenant: Tenant) -> list[tuple[str, str, str]]:
    """(retailer code, retailer name, placement type) of the tenant's channels, for the plan form."""
    channels = tenant_channels(tenant)
    names = dict(Retailer.objects.filter(code__in={c for c, _ in channels}).values_list("code", "name"))
    return [(code, names.get(code, code), placement) for code, placement in channels]
