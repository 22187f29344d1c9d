"""Personas and a small data set shared by every app's tests.

Personas (as in healthchecks' BaseTestCase): ``owner`` (admin of Acme), ``marketer`` (of Acme), ``reviewer``
(of Acme: may look, may not change), ``stranger`` (marketer of another tenant, Globex), and anonymous.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    # Production serves hashed files from collectstatic's manifest; tests render pages without collecting.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_passwords_and_fresh_cache(settings):
    # Personas are created per test, and the default hasher costs seconds each on a small machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # API throttle buckets live in the cache; without this they would carry over between tests.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tenants(db):
    from governance.models import Tenant

    acme = Tenant.objects.create(name="Acme Foods", slug="acme", reporting_currency="USD")
    globex = Tenant.objects.create(name="Globex Beverages", slug="globex", reporting_currency="USD")
    return {"acme": acme, "globex": globex}


@pytest.fixture
def personas(tenants, django_user_model):
    from governance.models import Membership, Role

    def make(username, tenant, role):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-123")
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return {
        "owner": make("owner", tenants["acme"], Role.ADMIN),
        "marketer": make("marketer", tenants["acme"], Role.MARKETER),
        "reviewer": make("reviewer", tenants["acme"], Role.REVIEWER),
        "stranger": make("stranger", tenants["globex"], Role.MARKETER),
    }


@pytest.fixture
def retailers(db):
    from campaigns.models import AttributionModel, Retailer

    amazon = Retailer.objects.create(
        code="amazon",
        name="Amazon Ads",
        reporting_currency="USD",
        timezone="America/Los_Angeles",
        default_attribution_window_days=14,
        default_attribution_model=AttributionModel.LAST_TOUCH,
    )
    walmart = Retailer.objects.create(
        code="walmart",
        name="Walmart Connect",
        reporting_currency="USD",
        timezone="America/Chicago",
        default_attribution_window_days=14,
        default_attribution_model=AttributionModel.LAST_CLICK,
    )
    return {"amazon": amazon, "walmart": walmart}


@pytest.fixture
def catalog(tenants, retailers):
    """For each tenant: one brand, two SKUs, one campaign per retailer, and 10 days of facts with known sums."""
    from campaigns.models import SKU, AttributionModel, Brand, Campaign, PerformanceFact, PlacementType
    from harmonization.models import IngestBatch

    out = {}
    for slug, tenant in tenants.items():
        brand = Brand.objects.create(tenant=tenant, name=f"{tenant.name} Brand")
        skus = [
            SKU.objects.create(
                tenant=tenant,
                brand=brand,
                sku_code=f"{slug}-sku-{i}",
                name=f"{slug} product {i}",
                category="snacks",
                price=Decimal("5.00") + i,
                unit_cost=Decimal("2.00") + i,
                stock_units=100,
            )
            for i in range(2)
        ]
        batch = IngestBatch.objects.create(tenant=tenant, source="conftest", status=IngestBatch.Status.SUCCEEDED)
        campaigns = {}
        for code, retailer in retailers.items():
            placement = PlacementType.SPONSORED_PRODUCT if code == "amazon" else PlacementType.ONSITE_DISPLAY
            campaigns[code] = Campaign.objects.create(
                tenant=tenant,
                retailer=retailer,
                brand=brand,
                name=f"{slug} {code}",
                external_id=f"{slug}-{code}",
                placement_type=placement,
                start_date=dt.date(2026, 1, 1),
                budget=Decimal("1000"),
                budget_currency="USD",
                status=Campaign.Status.ACTIVE,
            )
            for day in range(10):
                spend = Decimal(10 + day)
                PerformanceFact.objects.create(
                    date=dt.date(2026, 3, 1) + dt.timedelta(days=day),
                    tenant=tenant,
                    retailer=retailer,
                    campaign=campaigns[code],
                    sku=skus[0] if code == "amazon" else None,
                    placement_type=placement,
                    impressions=1000 + day,
                    clicks=10 + day,
                    spend=spend,
                    attributed_sales=spend * 3,
                    attributed_units=day,
                    attribution_window_days=14,
                    attribution_model=AttributionModel.LAST_CLICK,
                    currency="USD",
                    original_currency="USD",
                    original_spend=spend,
                    original_attributed_sales=spend * 3,
                    ingest_batch=batch,
                )
        out[slug] = {"brand": brand, "skus": skus, "campaigns": campaigns, "batch": batch}
    return out


def _database_url_for_worker(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{settings_dict.get('HOST') or 'localhost'}{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def worker_database_url(django_db_setup, django_db_blocker) -> str:
    """The test database as a DATABASE_URL, for a worker process a test starts (and kills) itself; such tests need
    committed data (``transactional_db``), as with ``celery_worker_process``."""
    from django.db import connection

    with django_db_blocker.unblock():
        return _database_url_for_worker(connection.settings_dict)


@pytest.fixture(scope="session")
def worker_model_dir(tmp_path_factory):
    """The MODEL_STORAGE_DIR of the test session's Celery worker (``celery_worker_process``), empty at the start.

    The worker is a separate process that reads settings from its environment, so a test that hands it model work
    must point this process at the same folder: ``settings.MODEL_STORAGE_DIR = worker_model_dir``. Otherwise adapter
    paths (relative to MODEL_STORAGE_DIR) mean different folders on the two sides."""
    return tmp_path_factory.mktemp("worker-models")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, worker_model_dir, tiny_model_dir):
    """A real ``celery worker`` process on the configured broker (Redis in CI, the folder broker by default),
    reading the test database. Tests that use it need committed data (``transactional_db``).

    Model settings reach the worker through its environment: MODEL_STORAGE_DIR is the session folder
    ``worker_model_dir`` and RMN_BASE_MODEL (settings.BASE_MODEL) is the tiny Llama of ``tiny_model_dir``. A test
    that sends model work to the worker sets the same values on this side: ``settings.MODEL_STORAGE_DIR =
    worker_model_dir`` and, when it relies on the default base model, ``settings.BASE_MODEL = str(tiny_model_dir)``."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.db import connection

    from rmn_site.celery import app

    with django_db_blocker.unblock():
        db_url = _database_url_for_worker(connection.settings_dict)
    app.control.purge()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "MODEL_STORAGE_DIR": str(worker_model_dir),
        "RMN_BASE_MODEL": str(tiny_model_dir),
    }
    celery_bin = Path(sys.executable).with_name("celery")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(celery_bin), "-A", "rmn_site", "worker", "-Q", "cpu,gpu,inference", "--pool", "solo",
             "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", f"pytest-{os.getpid()}@%h"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny Llama and its trained-in-session tokenizer saved as a model folder (see ml/testing.py)."""
    from ml.testing import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


# --- Browser tests (Playwright driving Debian's chromium; bin/test installs it) -----------------------------------

CHROMIUM = os.environ.get("RMN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT_DIR = os.environ.get("RMN_SCREENSHOT_DIR", "var/screenshots")
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's chromium (no browser download): RMN_CHROMIUM overrides the path."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM}: bin/test installs Debian's chromium package.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]}}


class LiveSite:
    """The live server as a browser test uses it: log a persona in, take screenshots at desktop and phone width."""

    def __init__(self, url: str, test_name: str):
        from pathlib import Path

        self.url = url
        self.shots = Path(SCREENSHOT_DIR) / test_name
        self.shots.mkdir(parents=True, exist_ok=True)
        self.taken: list = []

    def login(self, page, user, password: str = "pw-for-tests-123") -> None:
        """Log ``user`` (a User or a username) in through the login form, as a person would."""
        username = getattr(user, "username", user)
        page.goto(f"{self.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.locator("form button[type=submit], form input[type=submit]").first.click()
        page.wait_for_load_state()
        if "/accounts/login/" in page.url:
            raise AssertionError(f"Login as {username} failed: still on {page.url}")

    def overflow(self, page) -> int:
        """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    def shot(self, page, name: str) -> dict:
        """Screenshot the page at 1366 px and at 390 px (a phone) as ``<name>-desktop.png``/``<name>-phone.png``;
        returns the sideways overflow at each width, so a test can assert the page fits."""
        overflow = {}
        for label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(50)
            path = self.shots / f"{len(self.taken) + 1:02d}-{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            self.taken.append(path)
            overflow[label] = self.overflow(page)
        page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})
        return overflow


def pytest_collection_modifyitems(config, items):
    """Browser tests run last. Playwright's sync API keeps an event loop running in the test thread from the first
    browser test to the end of the session, and Django's ORM refuses to run beside a running loop unless told: the
    tests' own ORM calls are synchronous, so they are told (the project has no async views for the check to guard)."""
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser


def pytest_runtest_setup(item):
    # Set when the first browser test starts (they run last), so that no earlier test, nor a process it starts,
    # inherits it: `check --deploy` rightly warns about it.
    if item.get_closest_marker("browser"):
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def live_site(live_server, request):
    return LiveSite(live_server.url, request.node.name)
