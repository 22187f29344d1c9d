"""Fixtures of the site-wide tests: the world of every kind of object per tenant (rmn_site/tests/world.py)."""

from __future__ import annotations

import pytest

from rmn_site.tests.world import World, build_world


@pytest.fixture
def quiet_refusals(caplog):
    # Thousands of expected 4xx answers: keep django.request's warnings out of the report (5xx are errors, kept).
    caplog.set_level("ERROR", logger="django.request")


@pytest.fixture
def world(tenants, catalog, retailers, personas, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    # Thousands of requests from one client: the API's throttle is not what these tests are about.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "1000000/minute"}}
    return build_world(tenants=tenants, catalog=catalog, retailers=retailers)
