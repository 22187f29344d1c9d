from core import pages


def test_a_slot_nobody_fills_adds_nothing():
    assert pages.slot_context("nobody.fills.this", access=None) == {}


def test_fillers_merge_in_order_get_the_pages_arguments_and_register_once(monkeypatch):
    monkeypatch.setattr(pages, "_fillers", {})
    seen = []

    def first(*, access):
        seen.append(access)
        return {"a": 1, "shared": "first"}

    def second(*, access):
        return {"b": access, "shared": "second"}

    pages.slot_fill("x.page", first)
    pages.slot_fill("x.page", second)
    pages.slot_fill("x.page", first)  # AppConfig.ready may run twice
    assert pages.slot_context("x.page", access="acme") == {"a": 1, "b": "acme", "shared": "second"}
    assert seen == ["acme"]


def test_the_installed_apps_fill_the_plans_and_imports_pages():
    # ml and demo fill these when Django starts (their AppConfig.ready): the pages themselves import neither.
    assert [f.__module__ for f in pages._fillers["optimizer.plan_form"]] == ["ml.views"]
    assert [f.__module__ for f in pages._fillers["harmonization.import_page"]] == ["demo.views"]
