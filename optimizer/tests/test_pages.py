import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from optimizer.models import LiftStudy

VALID = {
    "retailer": "amazon",
    "placement_type": "sponsored_product",
    "start_date": "2026-02-01",
    "end_date": "2026-02-28",
    "spend": "5000.00",
    "incremental_sales": "7500.50",
    "incremental_sales_se": "900",
    "currency": "",
    "method": "rct_holdout",
    "source": "retailer",
    "notes": "Q1 holdout",
}


@pytest.fixture
def studies(tenants, retailers):
    def make(tenant, notes, spend):
        return LiftStudy.objects.create(
            tenant=tenant,
            retailer=retailers["walmart"],
            placement_type="onsite_display",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2026, 1, 31),
            spend=Decimal(spend),
            incremental_sales=Decimal("1000"),
            incremental_sales_se=Decimal("100"),
            currency="USD",
            method=LiftStudy.Method.GEO_MATCHED_MARKETS,
            source=LiftStudy.Source.IN_HOUSE,
            notes=notes,
        )

    return {"acme": make(tenants["acme"], "acme study", "4321"), "globex": make(tenants["globex"], "", "8765")}


def test_it_sends_anonymous_visitors_to_login(client, db):
    for url in (reverse("lift_study_list"), reverse("lift_study_create")):
        assert client.get(url)["Location"].startswith(reverse("login"))
    assert client.post(reverse("lift_study_create"), VALID).status_code == 302
    assert not LiftStudy.objects.exists()


@pytest.mark.parametrize("persona", ["owner", "marketer", "reviewer"])
def test_it_lists_the_tenants_studies(client, personas, studies, persona):
    client.force_login(personas[persona])
    html = client.get(reverse("lift_study_list")).content.decode()
    assert "USD 4,321.00" in html and "8,765" not in html
    assert "Geo test (matched markets)" in html
    assert ('href="/lift-studies/new/"' in html) == (persona != "reviewer")


def test_it_never_lists_acme_studies_to_a_stranger(client, personas, studies):
    client.force_login(personas["stranger"])
    html = client.get(reverse("lift_study_list")).content.decode()
    assert "USD 8,765.00" in html and "4,321" not in html


@pytest.mark.parametrize("persona", ["owner", "marketer"])
def test_it_creates_one_study_from_a_valid_form(client, personas, tenants, retailers, persona):
    client.force_login(personas[persona])
    assert client.get(reverse("lift_study_create")).status_code == 200
    response = client.post(reverse("lift_study_create"), VALID)
    assert response.status_code == 302 and response["Location"] == reverse("lift_study_list")
    study = LiftStudy.objects.get()
    assert study.tenant == tenants["acme"] and study.retailer == retailers["amazon"]
    assert study.spend == Decimal("5000") and study.incremental_sales == Decimal("7500.50")
    assert study.currency == "USD" and study.created_by == personas[persona]
    assert "Saved the lift study" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"spend": "-10"}, "spend", "spend must not be negative."),
        ({"end_date": "2026-01-15"}, "end_date", "end_date 2026-01-15 is before start_date 2026-02-01."),
        ({"incremental_sales_se": "-1"}, "incremental_sales_se", "incremental_sales_se must not be negative."),
        ({"currency": "XYZ"}, "currency", "currency:"),
    ],
)
def test_it_shows_service_errors_beside_their_field_and_saves_nothing(
    client, personas, retailers, change, field, message
):
    client.force_login(personas["marketer"])
    response = client.post(reverse("lift_study_create"), {**VALID, **change})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<p class="field-error" id="id_{field}_error">{message}' in html
    assert not LiftStudy.objects.exists()


def test_it_shows_form_errors_for_unparseable_input(client, personas, retailers):
    client.force_login(personas["marketer"])
    response = client.post(reverse("lift_study_create"), {**VALID, "spend": "lots", "retailer": "nowhere"})
    html = response.content.decode()
    assert 'id="id_spend_error">Enter a number.' in html
    assert 'id="id_retailer_error">Select a valid choice.' in html
    assert not LiftStudy.objects.exists()


def test_it_refuses_the_form_to_a_reviewer(client, personas, retailers):
    client.force_login(personas["reviewer"])
    assert client.get(reverse("lift_study_create")).status_code == 403
    assert client.post(reverse("lift_study_create"), VALID).status_code == 403
    assert not LiftStudy.objects.exists()


def test_it_files_a_strangers_study_under_their_own_tenant(client, personas, tenants, retailers):
    client.force_login(personas["stranger"])
    client.post(reverse("lift_study_create"), VALID)
    assert LiftStudy.objects.get().tenant == tenants["globex"]
