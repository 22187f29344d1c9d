"""A tenant admin finds their tenant's admin site from the menu and it fits a phone; the API docs lead back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_tenant_admin_manages_the_tenant_from_the_menu_at_both_widths(live_site, page, personas, catalog):
    live_site.login(page, personas["owner"])
    page.get_by_role("link", name="Manage", exact=True).click()
    expect(page.locator("#site-name")).to_contain_text("Manage Acme Foods")
    page.locator("a[href='/manage/campaigns/campaign/']").first.click()
    expect(page.locator("#result_list")).to_contain_text("acme amazon")
    expect(page.locator("#result_list")).not_to_contain_text("globex")
    overflow = live_site.shot(page, "manage-campaigns")
    assert overflow == {"desktop": 0, "phone": 0}, overflow
    page.get_by_role("link", name="acme amazon").click()
    overflow = live_site.shot(page, "manage-campaign-change")
    assert overflow == {"desktop": 0, "phone": 0}, overflow

    page.goto(f"{live_site.url}/api/v1/docs/")
    page.get_by_role("link", name="← Back to RMN Optimizer").click()
    expect(page).to_have_url(f"{live_site.url}/")
