"""In a browser: an admin reads a campaign's audience lift from the clean room (through the gateway, over HTTP) and
then finds the epsilon it spent, and a refused query, on the governance page; screenshots in var/screenshots/."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from demo.engine.shoppers import default_rules, shopper_tables
from governance.clean_rooms import CleanRoomRefused, clean_room_dataset_load, clean_room_query
from governance.models import Role
from governance.services import api_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_reads_audience_lift_and_audits_it(live_site, page, personas, catalog, tenants, settings, tmp_path):
    acme = tenants["acme"]
    tables = shopper_tables(campaign_ids=["acme-amazon", "acme-walmart"], shoppers=3000, seed=2)
    dataset = clean_room_dataset_load(
        tenant=acme, slug="amazon-shoppers", name="Amazon shoppers (synthetic)", retailer_code="amazon",
        rules=default_rules(), shoppers=tables.shoppers, exposures=tables.exposures, purchases=tables.purchases,
    )  # fmt: skip
    _, raw = api_key_create(tenant=acme, name="measurement", role=Role.MARKETER)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"acme": raw}))
    settings.CLEANROOM_KEYS_FILE = keys
    with pytest.raises(CleanRoomRefused):
        clean_room_query(dataset=dataset, sql="SELECT shopper_id, amount FROM purchases", release=True)

    live_site.login(page, personas["owner"])
    page.goto(f"{live_site.url}/lift-studies/")
    page.get_by_role("link", name="Audience lift (clean room)").click()
    page.get_by_label("Campaign").select_option("acme-amazon")
    page.get_by_role("button", name="Read from the clean room").click()
    result = page.locator("#audience-lift-result")
    expect(result).to_contain_text("premium")
    expect(result).to_contain_text("This read spent ε 1")
    assert live_site.shot(page, "audience-lift")["phone"] == 0

    page.get_by_role("link", name="Governance").click()
    expect(page.locator("#privacy-budgets")).to_contain_text("Amazon shoppers (synthetic)")
    results = page.locator("#guardrail-results")
    expect(results).to_contain_text("row_level_column")
    page.get_by_label("Kind").select_option("epsilon")
    expect(results).not_to_contain_text("row_level_column")
    expect(results).to_contain_text("2 decisions")
    live_site.shot(page, "governance")
