"""The creatives API: a brief asked for with an API key, its variants read back with their policy check, status
changes, the export in the retailer's layout, the one error shape, and tenant isolation."""

import pytest

from feedback.models import CreativeBrief
from feedback.services.creatives import creative_brief_run
from feedback.tests.test_creative_pages import scripted  # noqa: F401 (fixture)
from governance.models import Role
from governance.services import api_key_create
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture
def acme_api(tenants, personas):
    _, raw = api_key_create(tenant=tenants["acme"], name="Partner", created_by=personas["owner"])
    return client_for(key=raw)


def brief_body(catalog, **change):
    return {
        "retailer": "walmart",
        "brand": catalog["acme"]["brand"].pk,
        "skus": [catalog["acme"]["skus"][0].pk],
        "goal": "Trial of the new cola",
        "variants": 3,
        **change,
    }


def test_a_partner_asks_for_a_brief_and_reads_its_checked_variants(acme_api, catalog, scripted):  # noqa: F811
    response = acme_api.post(f"{API}/creative-briefs/", brief_body(catalog), format="json")
    assert response.status_code == 202, response.content
    brief_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["progress"] == {"done": 0, "total": 3}
    creative_brief_run(brief_id)
    brief = acme_api.get(f"{API}/creative-briefs/{brief_id}/").json()
    assert brief["status"] == "succeeded"
    statuses = [(c["variant"], c["status"], c["compliant"], c["repaired"]) for c in brief["creatives"]]
    assert statuses == [(1, "in_review", True, False), (2, "in_review", True, True), (3, "rejected", False, False)]
    rejected = brief["creatives"][2]
    assert rejected["verification"]["violations"][0]["rule"] == "price_claim"
    listed = acme_api.get(f"{API}/creatives/", {"brief": brief_id, "status": "rejected"}).json()
    assert [c["variant"] for c in listed["results"]] == [3]


def test_status_changes_and_export(acme_api, catalog, scripted):  # noqa: F811
    brief_id = acme_api.post(f"{API}/creative-briefs/", brief_body(catalog), format="json").json()["id"]
    creative_brief_run(brief_id)
    first, _, third = CreativeBrief.objects.get(pk=brief_id).creatives.order_by("variant")
    response = acme_api.post(f"{API}/creatives/{first.pk}/status/", {"status": "approved"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert_error(
        acme_api.post(f"{API}/creatives/{third.pk}/status/", {"status": "approved"}, format="json"),
        400,
        mentions=("failed the retailer policy",),
        field="status",
    )
    assert_error(acme_api.post(f"{API}/creatives/{first.pk}/status/", {"status": "x"}, format="json"), 400)
    export = acme_api.get(f"{API}/creatives/export/", {"retailer": "walmart"})
    assert export["Content-Type"].startswith("text/csv")
    lines = export.content.decode().splitlines()
    assert lines[0] == "creative_id,Title,Description,Legal" and lines[1].startswith(f"{first.pk},")
    assert len(lines) == 2
    assert_error(acme_api.get(f"{API}/creatives/export/", {"retailer": "nowhere"}), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"goal": ""}, "goal"), ({"variants": 13}, "variants"), ({"skus": []}, "skus"), ({"brand": 999999}, "brand"),
     ({"retailer": "nowhere"}, "retailer"), ({"extra": 1}, "extra")],
)  # fmt: skip
def test_a_bad_brief_is_one_error_naming_the_field(acme_api, catalog, scripted, change, field):  # noqa: F811
    assert_error(acme_api.post(f"{API}/creative-briefs/", brief_body(catalog, **change), format="json"), 400,
                 field=field)  # fmt: skip
    assert not CreativeBrief.objects.exists()


def test_another_tenant_sees_nothing_and_a_reviewer_key_cannot_write(
    acme_api,
    tenants,
    catalog,
    scripted,  # noqa: F811
):
    brief_id = acme_api.post(f"{API}/creative-briefs/", brief_body(catalog), format="json").json()["id"]
    creative_brief_run(brief_id)
    first = CreativeBrief.objects.get(pk=brief_id).creatives.get(variant=1)
    _, globex_raw = api_key_create(tenant=tenants["globex"], name="Globex")
    globex = client_for(key=globex_raw)
    assert globex.get(f"{API}/creative-briefs/").json()["results"] == []
    assert_error(globex.get(f"{API}/creative-briefs/{brief_id}/"), 404)
    assert_error(globex.post(f"{API}/creatives/{first.pk}/status/", {"status": "approved"}, format="json"), 404)
    assert_error(globex.post(f"{API}/creative-briefs/", brief_body(catalog), format="json"), 400, field="brand")
    _, reviewer_raw = api_key_create(tenant=tenants["acme"], name="Auditor", role=Role.REVIEWER)
    reviewer = client_for(key=reviewer_raw)
    assert reviewer.get(f"{API}/creatives/").status_code == 200
    assert_error(reviewer.post(f"{API}/creatives/{first.pk}/status/", {"status": "approved"}, format="json"), 403)
