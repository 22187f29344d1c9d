"""The retailer's creative policy is edited in the admin as separate fields and written to policy_specs."""

import pytest
from django.urls import reverse

from campaigns.forms import RetailerPolicyForm


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.invalid", "pw")


def post_data(retailer, **change):
    data = {
        "code": retailer.code,
        "name": retailer.name,
        "reporting_currency": retailer.reporting_currency,
        "timezone": retailer.timezone,
        "default_attribution_window_days": retailer.default_attribution_window_days,
        "default_attribution_model": retailer.default_attribution_model,
        "is_active": "on",
        "headline_max_chars": "40",
        "body_max_chars": "",
        "cta_max_chars": "15",
        "banned_terms": "cheap\n\n  miracle  ",
        "banned_claims": "#1\nclinically proven",
        "required_disclosures": "Sponsored",
        "trademark_rules": "acme -> ACME®\nzapp ->",
        "price_claims_allowed": "",
        "max_repairs": "1",
        "export_headline": "Title",
        "export_body": "Description",
        "export_cta": "",
        "export_disclosure": "Legal",
    }
    data.update(change)
    return data


def test_an_admin_edits_the_policy_as_fields_and_other_keys_are_kept(client, staff, retailers):
    walmart = retailers["walmart"]
    walmart.policy_specs = {"data_retention_days": 90, "headline_max_chars": 25}
    walmart.save()
    client.force_login(staff)
    url = reverse("admin:campaigns_retailer_change", args=[walmart.pk])
    page = client.get(url).content.decode()
    assert 'name="trademark_rules"' in page and 'value="25"' in page
    response = client.post(url, post_data(walmart))
    assert response.status_code == 302, response.content.decode()[-2000:]
    walmart.refresh_from_db()
    assert walmart.policy_specs == {
        "data_retention_days": 90,
        "headline_max_chars": 40,
        "cta_max_chars": 15,
        "banned_terms": ["cheap", "miracle"],
        "banned_claims": ["#1", "clinically proven"],
        "required_disclosures": ["Sponsored"],
        "trademark_rules": [{"term": "acme", "form": "ACME®"}, {"term": "zapp", "form": ""}],
        "price_claims_allowed": False,
        "max_repairs": 1,
        "export_columns": {"headline": "Title", "body": "Description", "disclosure": "Legal"},
    }
    again = RetailerPolicyForm(instance=walmart)
    assert again.initial["trademark_rules"] == "acme -> ACME®\nzapp ->"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"trademark_rules": "acme ACME®"}, "trademark_rules", "Line 1 ('acme ACME®') needs 'term -> form'"),
        ({"trademark_rules": " -> X"}, "trademark_rules", "Line 1 has no term"),
        ({"trademark_rules": "acme -> A\nACME -> B"}, "trademark_rules", "Line 2 repeats the term 'ACME'"),
        ({"banned_terms": "cheap\nCheap"}, "banned_terms", "Line 2 repeats line 1"),
        ({"banned_claims": "x" * 201}, "banned_claims", "at most 200"),
        ({"required_disclosures": "cheap"}, "required_disclosures", "required and banned at once"),
        ({"headline_max_chars": "0"}, "headline_max_chars", "greater than or equal to 1"),
        ({"export_body": "title"}, "export_headline", "same column name"),
    ],
)
def test_bad_policy_input_is_a_clear_form_error(retailers, change, field, message):
    walmart = retailers["walmart"]
    form = RetailerPolicyForm(post_data(walmart, **change), instance=walmart)
    assert not form.is_valid()
    assert any(message in e for e in form.errors[field]), form.errors
