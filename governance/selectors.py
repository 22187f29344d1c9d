from django.db.models import QuerySet

from governance.models import APIKey, Tenant


def api_key_list(*, tenant: Tenant) -> QuerySet[APIKey]:
    return APIKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")
