from django.db.models import QuerySet

from governance.models import Tenant
from optimizer.models import LiftStudy


def lift_study_list(*, tenant: Tenant) -> QuerySet[LiftStudy]:
    return LiftStudy.objects.filter(tenant=tenant).select_related("retailer")
