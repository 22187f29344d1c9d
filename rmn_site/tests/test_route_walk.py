"""Every route of the site, found in the URL resolver, walked by every persona that must be refused.

The routes are discovered, not listed: pages need a line in PAGES (what they may do and which object their URL
names), API operations are read from their viewset (capabilities, lookup, the model of the object), admin routes
are all staff-only, and the few public routes are in EXEMPT with a reason. A route that is none of these fails
``test_every_route_is_walked_or_exempted``, so a new page or API (the console, the feedback API) is walked the day
it lands.

What must hold (the "Hardening" probe): a stranger (a member of another tenant) never gets an object of Acme (404,
or 403 when the role would not allow the action anyway) and never sees Acme's canary; a member without the
capability gets 403; anonymous callers are sent to the login page (pages, admin) or get 401 (API), and an API key
does not open a page; non-staff never get past the admin's login; a POST without a CSRF token is refused
everywhere. No refused request writes anything: every row of our apps and the audit log are fingerprinted before
and after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core.api.base import TenantScopedViewSet
from governance.access import ROLE_CAPABILITIES, Capability
from governance.models import APIKey, Role
from rmn_site.tests.world import World, changed, digest, make_user

pytestmark = pytest.mark.usefixtures("quiet_refusals")

V, E, M = Capability.VIEW_DATA, Capability.EDIT_DATA, Capability.MANAGE_TENANT
G, J = Capability.GIVE_FEEDBACK, Capability.ADJUDICATE
SIGNED_IN = "signed_in"  # a page every signed-in user may use (no capability)


@dataclass(frozen=True)
class Page:
    """What a page route accepts. ``get``/``post``: the capability each method needs (None: method not offered)."""

    get: Capability | str | None = V
    post: Capability | str | None = None
    obj: Callable | None = None  # TenantWorld -> URL kwargs naming one of that tenant's objects
    kwargs: dict = field(default_factory=dict)  # fixed URL kwargs
    htmx: bool = False  # also answers htmx requests (a fragment, a poll)
    shows: bool = False  # the tenant's own members see its canary here
    body: Callable | None = None  # TenantWorld -> the POST body (refused requests send it too)
    body_names_object: bool = False  # the body names one of the tenant's objects
    stranger: int = 404  # what a stranger allowed the action gets when the request names an Acme object


PAGES: dict[str, Page] = {
    "dashboard": Page(htmx=True),
    "campaign_list": Page(htmx=True, shows=True),
    "campaign_detail": Page(obj=lambda t: {"pk": t.campaign.pk}, shows=True),
    "tenant_switch": Page(
        get=None, post=SIGNED_IN, body=lambda t: {"tenant_id": t.tenant.pk, "next": "/"}, body_names_object=True
    ),
    "api_keys": Page(get=M, post=M, shows=True),
    "api_key_revoke": Page(get=None, post=M, obj=lambda t: {"pk": t.api_key.pk}),
    "lift_study_list": Page(),
    "lift_study_create": Page(get=E, post=E),
    "lift_study_audience": Page(post=E, shows=True),
    "guardrails": Page(get=M, htmx=True, shows=True),
    "plan_list": Page(post=E, shows=True),
    "plan_detail": Page(obj=lambda t: {"pk": t.plan.pk}, htmx=True, shows=True),
    "plan_rerun": Page(get=None, post=E, obj=lambda t: {"pk": t.plan.pk}),
    "plan_version_create": Page(get=None, post=E, obj=lambda t: {"pk": t.plan.pk}),
    "plan_export": Page(obj=lambda t: {"pk": t.plan.pk}),
    "plan_review_submit": Page(get=None, post=E, obj=lambda t: {"pk": t.plan.pk}),
    "plan_read": Page(get=None, post=E, body=lambda t: {"text": ""}),
    "plan_read_status": Page(get=E, obj=lambda t: {"pk": t.generation.pk}, htmx=True),
    "plan_read_answer": Page(
        get=None, post=E, obj=lambda t: {"pk": t.generation.pk}, body=lambda t: {"field": "budget", "answer": "1000"}
    ),
    "plan_read_text_answer": Page(get=None, post=E, body=lambda t: {"text": "", "field": "budget", "answer": "1000"}),
    "experiment_list": Page(post=E, shows=True),
    "experiment_detail": Page(obj=lambda t: {"pk": t.experiment.pk}, shows=True),
    "experiment_readout": Page(get=None, post=E, obj=lambda t: {"pk": t.experiment.pk}),
    "experiment_save_lift_study": Page(get=None, post=E, obj=lambda t: {"pk": t.experiment.pk}),
    # The form names a plan: another tenant's plan is not a choice (400, nothing created).
    "bandit_create": Page(
        get=None,
        post=E,
        stranger=400,
        body_names_object=True,
        body=lambda t: {"plan": t.plan.pk, "name": "hijack", "start_date": "2026-05-01", "end_date": "2026-05-10"},
    ),
    "bandit_detail": Page(obj=lambda t: {"pk": t.policy.pk}, shows=True),
    "uplift_list": Page(post=E, shows=True),
    "uplift_detail": Page(obj=lambda t: {"pk": t.uplift_study.pk}, htmx=True, shows=True),
    "sku_forecast": Page(shows=True),
    "bandit_update": Page(get=None, post=E, obj=lambda t: {"pk": t.policy.pk}),
    "import_list": Page(post=E, shows=True),
    "import_detail": Page(obj=lambda t: {"pk": t.batch.pk}, htmx=True, shows=True),
    "import_quarantine": Page(obj=lambda t: {"pk": t.batch.pk}, shows=True),
    "import_rerun": Page(get=None, post=E, obj=lambda t: {"pk": t.batch.pk}),
    "import_sample": Page(kwargs={"mapping_name": "amazon_sp_advertised_product"}, shows=True),
    "mapping_suggest": Page(get=E, post=E),
    "model_adapters": Page(shows=True),
    "model_adapter_action": Page(get=None, post=M, obj=lambda t: {"pk": t.adapter.pk, "action": "promote"}),
    "model_jobs": Page(post=M, htmx=True, shows=True),
    "model_job_detail": Page(obj=lambda t: {"pk": t.job.pk}, htmx=True, shows=True),
    "model_job_cancel": Page(get=None, post=M, obj=lambda t: {"pk": t.job.pk}),
    "model_job_resend": Page(get=None, post=M, obj=lambda t: {"pk": t.job.pk}),
    "model_try": Page(post=E, shows=True),
    "model_generation_detail": Page(obj=lambda t: {"pk": t.generation.pk}, htmx=True, shows=True),
    "creative_list": Page(post=E, shows=True),
    "creative_brief": Page(obj=lambda t: {"pk": t.creative_brief.pk}, htmx=True, shows=True),
    "creative_status": Page(
        get=None, post=E, obj=lambda t: {"pk": t.creative.pk}, body=lambda t: {"status": "approved"}
    ),
    "creative_export": Page(kwargs={"code": "amazon"}),
    "review_tasks": Page(get=G, shows=True),
    "review_queue": Page(get=G, post=G, obj=lambda t: {"pk": t.review_task.pk}, htmx=True, shows=True),
    "review_next": Page(get=None, post=G, obj=lambda t: {"pk": t.review_task.pk}),
    "review_undo": Page(get=None, post=G, obj=lambda t: {"pk": t.review_task.pk}),
    "review_quality": Page(get=J, obj=lambda t: {"pk": t.review_task.pk}, shows=True),
    "review_conflicts": Page(get=J),
    "review_resolve": Page(get=None, post=J, obj=lambda t: {"pk": t.review_item.pk}),
    "loop_dashboard": Page(get=J, shows=True, htmx=True),
    "loop_export": Page(get=None, post=M),
    "loop_retrain": Page(get=None, post=M),
    "loop_gate": Page(get=None, post=M, obj=lambda t: {"pk": t.loop_job.pk}),
    "loop_rollback": Page(get=None, post=M, obj=lambda t: {"pk": t.gate_decision.pk}),
}

EXEMPT: dict[str, str] = {
    "login": "the public sign-in form",
    "logout": "ends the caller's own session; names nothing of a tenant",
    "api:schema": "the public OpenAPI document: no tenant data",
    "api:docs": "the public Swagger UI page (local static files): no tenant data",
    "admin:login": "the admin's public sign-in form",
}

# Request bodies that name Acme's objects, for API creates by another tenant (their serializers must refuse them).
API_BODIES: dict[str, Callable] = {
    "CreativeBriefViewSet": lambda t: {"retailer": "amazon", "brand": t.brand.pk, "skus": [t.sku.pk], "goal": "hijack"},
    "PlanReviewViewSet": lambda t: {"plan": t.plan.pk, "decision": "approve", "comment": "hijack"},
    "SKUViewSet": lambda t: {"brand": t.brand.pk, "sku_code": "hijack", "name": "x", "price": "1", "unit_cost": "1"},
    "CampaignViewSet": lambda t: {
        "name": "hijack",
        "external_id": "hijack",
        "retailer": "amazon",
        "brand": t.brand.pk,
        "placement_type": "search",
        "start_date": "2026-04-01",
        "budget": "10",
    },
}


# --- discovery ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (namespaced), or the pattern for an unnamed route
    pattern: str
    callback: Callable
    params: tuple[str, ...]

    @property
    def kind(self) -> str:
        if self.key in EXEMPT:
            return "exempt"
        if self.pattern.startswith("admin/"):
            return "admin"
        if self.pattern.startswith("manage/"):
            return "manage"
        cls = getattr(self.callback, "cls", None)
        if isinstance(cls, type) and issubclass(cls, TenantScopedViewSet):
            return "api"
        if self.key in PAGES:
            return "page"
        return "unclassified"


def _params(pattern) -> list[str]:
    return list(pattern.regex.groupindex)  # route converters and regex groups alike


def discover(patterns=None, prefix: str = "", namespace: str | None = None, params=()) -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        here = (*params, *_params(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = entry.namespace and (f"{namespace}:{entry.namespace}" if namespace else entry.namespace)
            yield from discover(entry.url_patterns, prefix + str(entry.pattern), ns or namespace, here)
        elif isinstance(entry, URLPattern):
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Route(name or prefix + str(entry.pattern), prefix + str(entry.pattern), entry.callback, here)


ROUTES = list(discover())


def _by_kind(kind: str) -> list[Route]:
    return [r for r in ROUTES if r.kind == kind]


# --- requests -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    route: str
    method: str
    url: str
    capability: Capability | str
    names_object: bool = False  # the URL or body names one of Acme's own (not shared) objects
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    api: bool = False
    stranger: int = 404
    shows: bool = False

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.url}" + (" (htmx)" if self.headers else "")


def _page_requests(route: Route, world: World) -> list[Req]:
    page, acme = PAGES[route.key], world.acme
    kwargs = {**page.kwargs, **(page.obj(acme) if page.obj else {})}
    url = reverse(route.key, kwargs=kwargs)
    out = []
    for method in ("get", "post"):
        capability = getattr(page, method)
        if capability is None:
            continue
        common = dict(
            route=route.key, method=method, url=url, capability=capability, shows=page.shows,
            names_object=bool(page.obj) or page.body_names_object, stranger=page.stranger,
            body=page.body(acme) if page.body and method == "post" else None,
        )  # fmt: skip
        out.append(Req(**common))
        if method == "get" and page.htmx:
            out.append(Req(**common, headers={"HX-Request": "true"}))
    return out


def _api_object(route: Route, world: World):
    """The Acme object a detail route names, and whether it is shared with every tenant (then a stranger sees it)."""
    view = route.callback.cls()
    model = view.get_tenant_queryset(tenant=world.acme.tenant).model
    obj = world.acme.objects.get(model) or world.shared.get(model._meta.model_name)
    assert obj is not None, f"{route.key}: add an object of {model.__name__} to rmn_site/tests/world.py"
    theirs = view.get_tenant_queryset(tenant=world.globex.tenant)
    return obj, theirs.filter(pk=obj.pk).exists()


def _api_requests(route: Route, world: World) -> list[Req]:
    cls = route.callback.cls
    kwargs, names_object = {}, False
    if route.params:
        obj, shared = _api_object(route, world)
        lookup = cls.lookup_field
        kwargs = {cls.lookup_url_kwarg or lookup: getattr(obj, lookup)}
        names_object = not shared
    url = reverse(route.key, kwargs=kwargs)
    out = []
    for method in route.callback.actions:
        safe = method in ("get", "head", "options")
        hostile = not safe and not kwargs and cls.__name__ in API_BODIES
        out.append(
            Req(
                route=route.key,
                method=method,
                url=url,
                capability=cls.read_capability if safe else cls.write_capability,
                # A create whose body names an Acme object: refused as bad input (400), nothing created.
                names_object=names_object or hostile,
                stranger=400 if hostile else 404,
                body=None if safe else (API_BODIES[cls.__name__](world.acme) if hostile else {}),
                api=True,
            )
        )
    return out


def _admin_url(route: Route, world: World) -> str:
    match = re.match(r"(admin|manage)/(\w+)/(\w+)/", route.pattern)
    model = apps.get_model(match[2], match[3]) if match and "object_id" in route.params and match[2] != "r" else None
    obj = None
    if model is not None:
        mine = model.objects.filter(tenant=world.acme.tenant) if hasattr(model, "tenant") else model.objects.none()
        obj = world.acme.objects.get(model) or mine.order_by("pk").first() or model.objects.order_by("pk").first()
    values = {
        "object_id": obj.pk if obj else world.acme.campaign.pk,
        "app_label": "campaigns",
        "content_type_id": ContentType.objects.get_for_model(type(world.acme.campaign)).pk,
        "url": "nope/",
        "id": get_user_model().objects.order_by("pk").first().pk,  # a user's password change
    }
    kwargs = {name: values[name] for name in route.params}
    if not route.key.startswith(("admin/", "manage/")):
        return reverse(route.key, kwargs=kwargs)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m[1]]), route.pattern)
    return "/" + url.replace("(?P<url>.*)$", kwargs.get("url", ""))


def _exempt_url(route: Route) -> str:
    return reverse(route.key)


def requests_for(world: World, kinds=("page", "api")) -> list[Req]:
    out = []
    for route in ROUTES:
        if route.kind == "page" and "page" in kinds:
            out += _page_requests(route, world)
        elif route.kind == "api" and "api" in kinds:
            out += _api_requests(route, world)
    return out


def by_route(world: World, kinds=("page", "api")) -> Iterator[tuple[str, list[Req]]]:
    for key, reqs in groupby(requests_for(world, kinds), key=lambda r: r.route):
        yield key, list(reqs)


# --- calling --------------------------------------------------------------------------------------------------------


def call(client: Client, req: Req, headers: dict | None = None):
    headers = {**req.headers, **(headers or {})}
    if req.method == "get":
        return client.get(req.url, headers=headers)
    if req.api:
        return getattr(client, req.method)(req.url, req.body or {}, content_type="application/json", headers=headers)
    return getattr(client, req.method)(req.url, req.body or {}, headers=headers)


def text_of(response) -> str:
    if not hasattr(response, "_walk_text"):  # a streamed body (a download) can be read once only
        data = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
        response._walk_text = data.decode(errors="replace")
    return response._walk_text


def to_login(response, login: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login)


def to_admin_login(client: Client, response) -> bool:
    """The admin's answer, following its own redirects (an unnamed object URL redirects to the change page)."""
    login = reverse("admin:login")
    for _ in range(3):
        if response.status_code not in (301, 302):
            return False
        if response["Location"].startswith(login):
            return True
        response = client.get(response["Location"])
    return False


class Walk:
    """Collects what went wrong over many requests, so one run names every offending route."""

    def __init__(self, world: World, persona: str):
        self.world, self.persona = world, persona
        self.problems: list[str] = []
        self.requests = 0
        self._digest = digest()

    def expect(self, condition: bool, req_label: str, response, what: str) -> None:
        if not condition:
            self.problems.append(f"{self.persona}: {req_label} -> {response.status_code}, expected {what}")

    def no_canary(self, req_label: str, response, *slugs: str) -> None:
        body = text_of(response)
        for slug in slugs:
            if self.world.canaries[slug] in body:
                self.problems.append(f"{self.persona}: {req_label} -> {response.status_code} shows {slug}'s data")

    def unchanged(self, label: str) -> None:
        """Nothing was written since the last check (checked once per route: a fingerprint costs ~30 ms)."""
        after = digest()
        if after != self._digest:
            self.problems.append(f"{self.persona}: {label} wrote to {', '.join(changed(self._digest, after))}")
        self._digest = after

    def done(self) -> None:
        print(f"{self.persona}: {self.requests} requests, {len(self.problems)} problems")
        assert self.requests > 0
        assert not self.problems, f"{len(self.problems)} problem(s):\n" + "\n".join(self.problems)


# --- fixtures -------------------------------------------------------------------------------------------------------


def _session(user, **session) -> Client:
    client = Client()
    client.force_login(user)
    if session:
        store = client.session
        store.update(session)
        store.save()
    return client


# --- the tests ------------------------------------------------------------------------------------------------------


def test_every_route_is_walked_or_exempted():
    unclassified = [f"{r.key} ({r.pattern})" for r in ROUTES if r.kind == "unclassified"]
    assert not unclassified, (
        "New routes that no persona walks: add each to PAGES (or EXEMPT with a reason) in this file:\n"
        + "\n".join(unclassified)
    )
    keys = {r.key for r in ROUTES}
    stale = sorted((set(PAGES) | set(EXEMPT)) - keys)
    assert not stale, f"PAGES/EXEMPT name routes that no longer exist: {stale}"
    kinds = {kind: len(_by_kind(kind)) for kind in ("page", "api", "admin", "manage", "exempt")}
    assert kinds["page"] == len(PAGES) and kinds["api"] >= 30 and kinds["admin"] >= 100, kinds
    assert kinds["manage"] >= 30, kinds


def _admin_walk(walk: Walk, client: Client, headers: dict | None = None) -> None:
    """Every admin route, GET and POST: the admin's login page, whatever the caller is (one fingerprint at the end:
    nothing here reaches a view)."""
    for route in _by_kind("admin"):
        url = _admin_url(route, walk.world)
        for method in ("get", "post"):
            response = getattr(client, method)(url, headers=headers)
            walk.expect(to_admin_login(client, response), f"{method.upper()} {url}", response, "the admin login")
            walk.no_canary(url, response, "acme", "globex")
            walk.requests += 1
    walk.unchanged("the admin routes")


def _follow(client: Client, response, hops: int = 3):
    for _ in range(hops):
        if response.status_code not in (301, 302):
            break
        response = client.get(response["Location"])
    return response


def to_sign_in(client: Client, response) -> bool:
    """Sent, through the tenant admin's own login address, to the site's one sign-in page."""
    login = reverse("login")
    for _ in range(3):
        if response.status_code not in (301, 302):
            return False
        if response["Location"].startswith(login):
            return True
        response = client.get(response["Location"])
    return False


def _manage_walk(walk: Walk, client: Client, check: Callable, what: str, headers: dict | None = None) -> None:
    """Every route of the tenant admins' site (/manage/), GET and POST with an empty body, naming Acme's objects:
    ``check(client, route, response)`` must hold, Acme's canary never shows, nothing is written."""
    for route in _by_kind("manage"):
        if route.key == "tenant_admin:logout":  # ends the caller's own session; names nothing of a tenant
            continue
        url = _admin_url(route, walk.world)
        for method in ("get", "post"):
            response = getattr(client, method)(url, headers=headers)
            walk.expect(check(client, route, response), f"{method.upper()} {url}", response, what)
            walk.no_canary(f"{method.upper()} {url}", _follow(client, response), "acme")
            walk.requests += 1
    walk.unchanged("the tenant admin's routes")


def test_anonymous_callers_are_sent_to_sign_in_and_an_api_key_opens_no_page(world):
    walk = Walk(world, "anonymous")
    client, login = Client(), reverse("login")
    key = {"Authorization": f"Api-Key {world.acme.api_keys['admin']}"}  # opens the API, never a page
    for route, reqs in by_route(world):
        for req in reqs:
            if req.api:
                response = call(client, req)
                walk.expect(response.status_code == 401, req.label, response, "401")
            else:
                response = call(client, req, key)
                walk.expect(to_login(response, login), req.label, response, f"a redirect to {login}")
                # The method a page does not offer is refused too (405, or the login redirect first).
                other = Req(req.route, "post" if req.method == "get" else "get", req.url, req.capability)
                extra = call(client, other, key)
                walk.expect(to_login(extra, login) or extra.status_code == 405, other.label, extra, "405 or sign-in")
                walk.no_canary(other.label, extra, "acme", "globex")
                walk.requests += 1
            walk.no_canary(req.label, response, "acme", "globex")
            walk.requests += 1
        walk.unchanged(route)
    _admin_walk(walk, client, key)
    _manage_walk(walk, client, lambda c, r, response: to_sign_in(c, response), "the sign-in page", key)
    for route in _by_kind("exempt"):
        response = client.get(_exempt_url(route))
        walk.expect(response.status_code < 500, route.key, response, "no server error")
        walk.no_canary(route.key, response, "acme", "globex")
    walk.done()


STRANGERS = {
    # Globex's marketer, as the probe's outside tester.
    "stranger": lambda w, p: (_session(p["stranger"]), Role.MARKETER, {}),
    # Globex's admin: may do everything in Globex, so every Acme object URL must be a 404, never a 403.
    "stranger-admin": lambda w, p: (
        _session(make_user("globex-admin", tenant=w.globex.tenant, role=Role.ADMIN)),
        Role.ADMIN,
        {},
    ),
    # A session that claims Acme as the current tenant (a tampered or stale cookie).
    "stranger-forged-session": lambda w, p: (
        _session(p["stranger"], current_tenant_id=w.acme.tenant.pk),
        Role.MARKETER,
        {},
    ),
    # Globex's admin API key, and a Globex session naming Acme in X-Tenant (API only).
    "stranger-key": lambda w, p: (Client(), Role.ADMIN, {"Authorization": f"Api-Key {w.globex.api_keys['admin']}"}),
    "stranger-x-tenant": lambda w, p: (_session(p["stranger"]), Role.MARKETER, {"X-Tenant": "acme"}),
}


@pytest.mark.parametrize("persona", list(STRANGERS))
def test_a_stranger_never_gets_sees_or_changes_another_tenants_objects(persona, world, personas):
    client, role, headers = STRANGERS[persona](world, personas)
    allowed = ROLE_CAPABILITIES[role] | {SIGNED_IN}
    api_only = bool(headers)
    walk = Walk(world, persona)
    for route, reqs in by_route(world, kinds=("api",) if api_only else ("page", "api")):
        for req in reqs:
            response = call(client, req, headers)
            if "X-Tenant" in headers:
                walk.expect(response.status_code == 404, req.label, response, "404 (not a member of acme)")
            elif req.capability not in allowed:
                walk.expect(response.status_code == 403, req.label, response, f"403 (no {req.capability})")
            elif req.names_object:
                walk.expect(response.status_code == req.stranger, req.label, response, str(req.stranger))
            else:  # the stranger's own tenant: anything but a server error, and never Acme's data
                walk.expect(response.status_code < 500, req.label, response, "no server error")
            walk.no_canary(req.label, response, "acme")
            walk.requests += 1
        walk.unchanged(route)
    if not api_only:  # (the admin's routes are walked by test_admin_routes_refuse_everyone_but_staff)
        for route in _by_kind("exempt"):
            response = client.get(_exempt_url(route))
            walk.no_canary(route.key, response, "acme")
    walk.done()


def _key_client(raw: str) -> Client:
    return Client(headers={"Authorization": f"Api-Key {raw}"})


ROLES = {
    "reviewer": lambda w, p: (_session(p["reviewer"]), Role.REVIEWER, False),
    "marketer": lambda w, p: (_session(p["marketer"]), Role.MARKETER, False),
    "reviewer-key": lambda w, p: (_key_client(w.acme.api_keys["reviewer"]), Role.REVIEWER, True),
    "marketer-key": lambda w, p: (_key_client(w.acme.api_keys["marketer"]), Role.MARKETER, True),
}


@pytest.mark.parametrize("persona", list(ROLES))
def test_a_member_without_the_capability_gets_403_and_changes_nothing(persona, world, personas):
    client, role, api_only = ROLES[persona](world, personas)
    allowed = ROLE_CAPABILITIES[role] | {SIGNED_IN}
    walk = Walk(world, persona)
    refused = 0
    for route, reqs in by_route(world, kinds=("api",) if api_only else ("page", "api")):
        for req in reqs:
            if req.capability in allowed:
                if req.method == "get":  # the control: the same URL works for a role that may use it
                    response = call(client, req)
                    walk.expect(response.status_code == 200, req.label, response, "200")
                continue
            response = call(client, req)
            walk.expect(response.status_code == 403, req.label, response, f"403 (no {req.capability})")
            if req.api and response.status_code == 403 and req.method != "head":  # a HEAD answer has no body
                code = response.json()["error"]["code"]
                walk.expect(code == "permission_denied", req.label, response, "the API's error shape")
            refused += 1
            walk.requests += 1
        walk.unchanged(route)
    assert refused > 0
    walk.done()


@pytest.mark.parametrize("persona", ["owner", "stranger"])
def test_admin_routes_refuse_everyone_but_staff(persona, world, personas, django_user_model):
    client = _session(personas[persona])
    walk = Walk(world, persona)
    _admin_walk(walk, client)
    walk.done()
    # The control: staff get in, to the same URLs.
    staff = _session(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    assert staff.get(reverse("admin:index")).status_code == 200
    change = next(r for r in ROUTES if r.key == "admin:campaigns_campaign_change")
    assert staff.get(_admin_url(change, world)).status_code == 200


MANAGE_OWNER = {
    "tenant_admin:login": 302,
    "tenant_admin:autocomplete": 403,
    "tenant_admin:governance_membership_add": 403,  # people join through the staff: a user list spans tenants
    "tenant_admin:governance_membership_delete": 403,  # the URL names the owner's own: nobody removes themselves
    "tenant_admin:governance_auditlog_add": 403,  # the audit log is read only
    "tenant_admin:governance_auditlog_delete": 403,
}


@pytest.mark.parametrize("persona", ["marketer", "reviewer", "stranger"])
def test_the_tenant_admin_site_refuses_members_who_are_not_admins_of_the_current_tenant(persona, world, personas):
    client = _session(personas[persona])
    walk = Walk(world, persona)
    _manage_walk(walk, client, lambda c, r, response: _follow(c, response).status_code == 403, "403")
    walk.done()


def test_another_tenants_admin_never_gets_sees_or_changes_acmes_objects_in_the_tenant_admin_site(world):
    """Globex's admin on /manage/ with URLs of Acme's objects: as if they did not exist (the admin's redirect to its
    index, or 404), lists without Acme's rows, and nothing written."""
    client = _session(make_user("globex-admin", tenant=world.globex.tenant, role=Role.ADMIN))
    index = reverse("tenant_admin:index")

    def refused(c, route, response) -> bool:
        if "object_id" not in route.params:
            return response.status_code < 500
        if response.status_code == 302 and not route.key.startswith("tenant_admin:"):  # the bare object URL
            response = c.get(response["Location"])
        # 403 where nobody may do it (the audit log is read only), before the object is looked up.
        return response.status_code in (403, 404) or (response.status_code == 302 and response["Location"] == index)

    walk = Walk(world, "stranger-admin (manage)")
    _manage_walk(walk, client, refused, "no Acme object (a redirect to the index, or 404)")
    walk.done()


def test_the_owner_reaches_every_route_and_sees_only_its_own_tenant(world, personas):
    """The control for the walks above: every URL they are refused works for Acme's admin, shows Acme's canary
    where it lists Acme's data, and never shows Globex's."""
    client = _session(personas["owner"])
    walk = Walk(world, "owner")
    api_shows = 0
    for req in requests_for(world):
        if req.method != "get":
            continue
        response = call(client, req)
        walk.expect(response.status_code == 200, req.label, response, "200")
        walk.no_canary(req.label, response, "globex")
        if req.shows and not req.headers:  # a fragment may show only a status
            walk.expect(world.acme.canary in text_of(response), req.label, response, "Acme's canary on the page")
        api_shows += req.api and world.acme.canary in text_of(response)
        walk.requests += 1
    assert api_shows >= 10, api_shows
    manage_shows = 0
    for route in _by_kind("manage"):
        if route.key == "tenant_admin:logout":
            continue
        url = _admin_url(route, world)
        response = client.get(url)
        # The admin's catch-all answers 404; an object's bare URL redirects to its change page, and so does the
        # login page for a signed-in admin; what nobody may do there is 403 (autocomplete: with no field named).
        expected = MANAGE_OWNER.get(route.key, 200)
        if "url" in route.params:
            expected = 404
        elif not route.key.startswith("tenant_admin:"):
            expected = 302
        walk.expect(response.status_code == expected, f"GET {url}", response, str(expected))
        walk.no_canary(url, response, "globex")
        manage_shows += world.acme.canary in text_of(response)
        walk.requests += 1
    assert manage_shows >= 6, manage_shows
    walk.done()


def test_shared_models_refuse_a_tenant_admin_who_is_not_staff(world, personas):
    """Shared adapters and shared training jobs change what every tenant gets: a tenant admin who is not staff gets
    403 on the pages and the API, and nothing changes."""
    client = _session(personas["owner"])
    key = _key_client(world.acme.api_keys["admin"])
    adapter, job = world.shared["adapter"], world.shared["job"]
    before = digest()
    for action in ("promote", "rollback", "retire"):
        assert client.post(reverse("model_adapter_action", args=[adapter.pk, action])).status_code == 403
        assert key.post(reverse(f"api:adapter-{action}", args=[adapter.pk])).status_code == 403
    assert client.post(reverse("model_job_cancel", args=[job.pk])).status_code == 403
    assert client.post(reverse("model_job_resend", args=[job.pk])).status_code == 403
    assert key.post(reverse("api:training-job-cancel", args=[job.pk])).status_code == 403
    assert changed(before, digest()) == []


def test_a_post_without_a_csrf_token_is_refused_on_every_route(world, tenants):
    """A forged form post (another site submitting to ours with the victim's cookie) carries no token: every route
    refuses it (pages, API with session auth, admin), even for a superuser who is Acme's admin."""
    root = make_user("root", tenant=tenants["acme"], role=Role.ADMIN, is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    walk = Walk(world, "forged post")
    for route in ROUTES:
        methods = ["post"]
        if route.kind == "page":
            url = _page_requests(route, world)[0].url
        elif route.kind == "api":
            reqs = _api_requests(route, world)
            unsafe = {r.method for r in reqs if r.method not in ("get", "head", "options")}
            url, methods = reqs[0].url, sorted({"post", *unsafe})
        elif route.kind in ("admin", "manage"):
            url = _admin_url(route, world)
        else:
            url = _exempt_url(route)
        for method in methods:
            response = getattr(client, method)(url, {"name": "forged"})
            walk.expect(response.status_code == 403, f"{method.upper()} {url}", response, "403 (CSRF)")
            walk.requests += 1
    walk.unchanged("the forged posts")
    walk.done()


def test_a_revoked_key_is_refused_at_once_and_only_its_hash_is_stored(world, personas):
    raw = world.acme.api_keys["marketer"]
    key = APIKey.objects.get(tenant=world.acme.tenant, name="marketer key")
    assert raw not in repr(list(APIKey.objects.values_list()))  # only a hash of the secret is stored
    api = _key_client(raw)
    assert api.get(reverse("api:me")).status_code == 200
    assert _session(personas["owner"]).post(reverse("api_key_revoke", args=[key.pk])).status_code == 302
    response = api.get(reverse("api:me"))
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
