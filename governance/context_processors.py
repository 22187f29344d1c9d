from governance.access import current_access, memberships_for


def tenancy(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "current_access": current_access(request),
        "memberships": memberships_for(request.user),
    }
