"""The Creatives pages: the brief form, the brief's variants with compliance, repairs and reasons, the status
actions with history, the export, and tenant isolation."""

import json

import pytest
from django.urls import reverse

from feedback.models import Creative, CreativeBrief
from feedback.services.creatives import creative_brief_run
from feedback.tests.test_creative_briefs import POLICY, answer


@pytest.fixture
def scripted(settings, tmp_path, retailers):
    retailers["walmart"].policy_specs = POLICY
    retailers["walmart"].save()
    path = tmp_path / "script.json"
    path.write_text(
        json.dumps([answer(), answer(body="Clinically proven taste."), answer(body="Clinically proven, cold."),
                    answer(body="Only $2."), answer(body="Only $2.")])
    )  # fmt: skip
    settings.CREATIVE_SCRIPT = str(path)
    return retailers["walmart"]


def login(client, user):
    client.force_login(user)
    return client


def ask(client, catalog, **change):
    data = {
        "retailer": "walmart",
        "brand": catalog["acme"]["brand"].pk,
        "skus": [catalog["acme"]["skus"][0].pk],
        "goal": "Trial of the new cola",
        "tone": "upbeat",
        "promotion": "",
        "variants": 3,
        **change,
    }
    return client.post(reverse("creative_list"), data)


def test_a_marketer_asks_for_creatives_and_sees_repaired_and_rejected_ones(client, personas, catalog, scripted):
    login(client, personas["marketer"])
    response = ask(client, catalog)
    brief = CreativeBrief.objects.get()
    assert response.status_code == 302 and response.url == reverse("creative_brief", args=[brief.pk])
    page = client.get(response.url).content.decode()
    assert "0 of 3 variants written" in page and "hx-trigger" in page
    creative_brief_run(brief.pk)
    page = client.get(response.url).content.decode()
    assert "3 of 3 variants written" in page and "hx-trigger" not in page
    assert page.count('data-compliance="compliant"') == 2
    assert "Compliant after repair" in page and "Removed &#x27;clinically proven&#x27;" in page
    assert "Why it was rejected" in page and "Makes a price claim" in page
    assert "Written from test script (CREATIVE_SCRIPT) (no model)" in page
    fragment = client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="brief-status"') and "<html" not in fragment


def test_approving_records_history_and_the_export_follows(client, personas, catalog, scripted):
    login(client, personas["marketer"])
    ask(client, catalog)
    brief = CreativeBrief.objects.get()
    creative_brief_run(brief.pk)
    first = brief.creatives.get(variant=1)
    response = client.post(reverse("creative_status", args=[first.pk]), {"status": "approved", "note": "Ship it"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == Creative.Status.APPROVED
    page = client.get(reverse("creative_brief", args=[brief.pk])).content.decode()
    assert "in_review → approved by marketer · Ship it" in page
    rejected = brief.creatives.get(variant=3)
    client.post(reverse("creative_status", args=[rejected.pk]), {"status": "approved"})
    rejected.refresh_from_db()
    assert rejected.status == Creative.Status.REJECTED
    csv = client.get(reverse("creative_export", args=["walmart"]))
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0] == "creative_id,Title,Description,Legal" and len(lines) == 2
    assert reverse("creative_export", args=["walmart"]) in client.get(reverse("creative_list")).content.decode()


def test_a_bad_brief_shows_the_error_beside_the_field(client, personas, catalog, scripted):
    login(client, personas["marketer"])
    response = ask(client, catalog, skus=[catalog["globex"]["skus"][0].pk])
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = ask(client, catalog, goal="")
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not CreativeBrief.objects.exists()


def test_a_reviewer_may_look_but_not_ask_or_approve(client, personas, catalog, scripted):
    login(client, personas["marketer"])
    ask(client, catalog)
    brief = CreativeBrief.objects.get()
    creative_brief_run(brief.pk)
    login(client, personas["reviewer"])
    page = client.get(reverse("creative_list")).content.decode()
    assert 'id="brief-form"' not in page and f"#{brief.pk}" in page
    assert "Approve" not in client.get(reverse("creative_brief", args=[brief.pk])).content.decode()
    assert ask(client, catalog).status_code == 403
    first = brief.creatives.get(variant=1)
    assert client.post(reverse("creative_status", args=[first.pk]), {"status": "approved"}).status_code == 403


def test_another_tenant_sees_nothing_of_acmes_creatives(client, personas, catalog, scripted):
    login(client, personas["marketer"])
    ask(client, catalog)
    brief = CreativeBrief.objects.get()
    creative_brief_run(brief.pk)
    first = brief.creatives.get(variant=1)
    client.post(reverse("creative_status", args=[first.pk]), {"status": "approved"})
    login(client, personas["stranger"])
    assert client.get(reverse("creative_brief", args=[brief.pk])).status_code == 404
    assert client.post(reverse("creative_status", args=[first.pk]), {"status": "live"}).status_code == 404
    assert f"#{brief.pk}" not in client.get(reverse("creative_list")).content.decode()
    assert client.get(reverse("creative_export", args=["walmart"])).content.decode().splitlines()[1:] == []


def test_picking_a_brand_offers_only_its_skus(client, personas, catalog, tenants, scripted):
    from campaigns.models import SKU, Brand

    other = Brand.objects.create(tenant=tenants["acme"], name="Other brand")
    SKU.objects.create(tenant=tenants["acme"], brand=other, sku_code="other-1", name="Other product", category="x",
                       price=1, unit_cost=1, stock_units=1)  # fmt: skip
    login(client, personas["marketer"])
    fragment = client.get(reverse("creative_list"), {"brand": other.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="sku-options"')
    assert "Other product" in fragment and "acme product 0" not in fragment
    page = client.get(reverse("creative_list")).content.decode()
    assert "acme product 0" in page and "Other product" not in page  # the first brand's SKUs by default
