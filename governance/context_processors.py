from django.utils.functional import SimpleLazyObject

from governance.access import Capability, current_access, memberships_for


def tenancy(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    access = current_access(request)
    return {
        "current_access": access,
        # Called by the template only where it is used (the tenant switcher): fragments skip the query.
        "memberships": SimpleLazyObject(lambda: memberships_for(request.user)),
        # What the role allows in the current tenant, so every page's navigation shows the same links.
        "can": {c.value: bool(access and access.can(c)) for c in Capability},
    }
