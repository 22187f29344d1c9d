"""The browser harness itself, on pages that exist for everyone: a persona logs in through the form, the page renders
with its styles, and both widths are screenshotted (the flows of the RLHF console have their own browser tests)."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_a_marketer_in_and_shows_the_dashboard_at_both_widths(live_site, page, personas, catalog):
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/")
    assert page.locator("nav.mainnav").is_visible()
    assert "Acme Foods" in page.content()
    # The stylesheet arrived: the main navigation is laid out by app.css, not the browser's defaults.
    assert page.evaluate("getComputedStyle(document.querySelector('nav.mainnav')).display") != "inline"
    live_site.shot(page, "dashboard")
    assert all(path.exists() and path.stat().st_size > 5000 for path in live_site.taken)


def test_it_refuses_a_wrong_password_in_the_browser(live_site, page, personas):
    with pytest.raises(AssertionError, match="Login as marketer failed"):
        live_site.login(page, personas["marketer"], password="wrong-password-1")
    assert "/accounts/login/" in page.url
