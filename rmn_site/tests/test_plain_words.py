"""Plain words for a marketer (issue 18, point 2): the pages of a seeded demo tenant, as its marketer and its admin
see them, show none of the jargon below outside an "Advanced" ``<details>`` block.

What counts is the text a person reads: tags, attributes, scripts and styles are left out, and so is everything inside
``<details>`` (advanced settings and details on demand). Identifiers a person must type into a file or a mapping are
shown as ``<code>``; the code-name rules (a ``retailer|placement`` key, a snake_case name) skip those, and the file
columns that form help texts name are listed in FILE_COLUMNS.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, PerformanceFact
from feedback.models import CreativeBrief
from governance.models import Tenant
from harmonization.models import IngestBatch
from ml.models import AdapterKind
from ml.services import adapter_promote, adapter_register
from optimizer.models import AllocationPlan, BanditPolicy, Experiment
from optimizer.services.bandits import policy_create, policy_decide
from optimizer.services.experiments import experiment_design
from optimizer.services.plans import plan_create, plan_run

# name -> (pattern, applies inside <code>)
JARGON: dict[str, tuple[re.Pattern, bool]] = {
    "a retailer|placement key": (re.compile(r"\b[a-z0-9_]+\|[a-z0-9_]+\b"), False),
    "a snake_case name": (re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"), False),
    "task_budgeting": (re.compile(r"task_budgeting"), False),
    "chance constraint": (re.compile(r"chance[ -]constraint", re.I), True),
    "CUPED": (re.compile(r"\bCUPED\b"), True),
    "MDE": (re.compile(r"\bMDE\b"), True),
    "alpha": (re.compile(r"\balpha\b|α", re.I), True),
    "power": (re.compile(r"\bpower\b", re.I), True),
    "Thompson sampling": (re.compile(r"thompson", re.I), True),
    "posterior / propensity": (re.compile(r"\bposterior\b|\bpropensit", re.I), True),
    "YAML": (re.compile(r"\bYAML\b"), True),
    '"Objective" for the plan\'s name': (re.compile(r"\bObjective\b"), True),
}
# Columns a person writes into an upload, named in help texts (which cannot hold <code>).
FILE_COLUMNS = {"user_id", "pre_outcome", "unit_id"}


class _ReadText(HTMLParser):
    """The text outside <details>, <script> and <style>, in runs that know whether they sit in <code>."""

    HIDDEN = {"details", "script", "style", "textarea"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.runs: list[tuple[str, bool]] = []  # (text, inside <code>)

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "hr", "img", "input", "meta", "link", "source", "wbr", "col", "area"):
            return
        self.stack.append((tag, tag in self.HIDDEN))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not any(hidden for _, hidden in self.stack):
            self.runs.append((data, any(t == "code" for t, _ in self.stack)))


def jargon_outside_details(html: str) -> list[str]:
    """Each jargon word found where a reader sees it, with a little of the text around it."""
    reader = _ReadText()
    reader.feed(html)
    hits = []
    for name, (pattern, in_code) in JARGON.items():
        text = " ".join(" ".join(t for t, code in reader.runs if in_code or not code).split())
        for match in pattern.finditer(text):
            if match.group(0) in FILE_COLUMNS:
                continue
            hits.append(f"{name}: …{text[max(0, match.start() - 40) : match.end() + 30]}…")
    return hits


def test_the_scanner_finds_jargon_in_the_text_and_not_in_details_code_or_markup():
    html = (
        '<p title="MDE">Power 80% at α = 0.1 for amazon|search</p><p><code>amazon_sp_report MDE</code></p>'
        "<details><summary>Advanced</summary><label>Alpha</label> CUPED task_budgeting</details>"
        "<script>var chance_constraint = 1;</script><p>Upload user_id,outcome</p>"
    )
    hits = jargon_outside_details(html)
    found = {hit.split(":")[0] for hit in hits}
    assert found == {"a retailer|placement key", "power", "alpha", "MDE"}, hits
    assert len(hits) == 4  # MDE in <code> counts, the layout name in <code> does not, details and attributes never


@pytest.fixture
def demo(db, settings, tmp_path, monkeypatch) -> dict:
    """The seeded demo with what a marketer's first hour adds: a plan that ran, two experiments, a bandit policy, an
    import with a quality report, and the budgeting adapter switched on."""
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)
    monkeypatch.setattr("optimizer.tasks.plan_run.apply_async", lambda *args, **kwargs: None)
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", "--days", "120", "--seed", "3", "--password", "pw-for-tests-123")
    acme = Tenant.objects.get(slug="acme")
    plan = plan_create(tenant=acme, name="Q1 push", budget="50000", period_days=28, min_roas="3")
    plan_run(plan)
    plan.refresh_from_db()
    assert plan.status == AllocationPlan.Status.SUCCEEDED, plan.error
    channel = plan.result["allocations"][0]
    where = {"tenant": acme, "retailer": channel["retailer"], "placement_type": channel["placement_type"]}
    start = PerformanceFact.objects.filter(tenant=acme).latest("date").date + dt.timedelta(days=1)
    experiment_design(kind="switchback", start_date=start, end_date=start + dt.timedelta(days=49), **where)
    experiment_design(
        kind="holdout", start_date=start, end_date=start + dt.timedelta(days=27), **where,
        params={"audience_size": 100000, "outcome_sd": 5, "rho": 0.5, "mde": 0.1},
    )  # fmt: skip
    policy = policy_create(
        tenant=acme,
        name="In flight",
        budget="10000",
        start_date=start,
        end_date=start + dt.timedelta(days=19),
        plan=plan,
    )
    policy_decide(policy, start)
    # An import whose report failed a threshold and quarantined rows, as the loader writes them.
    IngestBatch.objects.create(
        tenant=acme, source="march.csv", mapping_name="amazon_sp_advertised_product", status=IngestBatch.Status.FAILED,
        error="max_quarantine_rate: 0.5000 is above the limit 0.2", rows_read=4, rows_loaded=2, rows_quarantined=2,
        report={
            "rows_read": 4, "rows_loaded": 2, "rows_quarantined": 2,
            "quarantine_reasons": {"attributed_sales.not_a_number": 2},
            "enum_coverage": {"placement_type": {"mapped": 2, "unknown": 0, "unknown_values": {}}},
            "thresholds": [{"name": "max_quarantine_rate", "limit": 0.2, "value": 0.5, "passed": False}],
        },
    )  # fmt: skip
    folder = settings.MODEL_STORAGE_DIR / "adapters" / "task_budgeting"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    adapter = adapter_register(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model="base", path="adapters/task_budgeting"
    )
    adapter_promote(adapter=adapter, user=None)
    return {"acme": acme, "plan": plan}


def _pages(acme) -> dict[str, str]:
    """A label -> the URL of every page a marketer or an admin of the tenant opens, with one object each."""
    first = {
        "campaign_detail": Campaign.objects.filter(tenant=acme).first(),
        "plan_detail": AllocationPlan.objects.filter(tenant=acme).first(),
        "bandit_detail": BanditPolicy.objects.filter(tenant=acme).first(),
        "creative_brief": CreativeBrief.objects.filter(tenant=acme).first(),
    }
    pages = {
        name: reverse(name)
        for name in (
            "dashboard", "campaign_list", "plan_list", "lift_study_list", "lift_study_create", "experiment_list",
            "uplift_list", "sku_forecast", "import_list", "mapping_suggest", "creative_list", "model_adapters",
            "model_jobs", "model_try", "api_keys",
        )
    }  # fmt: skip
    for name, obj in first.items():
        pages[name] = reverse(name, args=[obj.pk])
    for experiment in Experiment.objects.filter(tenant=acme):
        pages[f"experiment_detail ({experiment.kind})"] = reverse("experiment_detail", args=[experiment.pk])
    for batch in IngestBatch.objects.filter(tenant=acme):
        pages[f"import_detail ({batch.source})"] = reverse("import_detail", args=[batch.pk])
    return pages


PERSONAS: dict[str, Callable] = {
    "marketer": lambda: get_user_model().objects.get(username="acme-marketer"),
    "admin": lambda: get_user_model().objects.get(username="acme-admin"),
}


def test_the_demo_tenants_pages_speak_plainly_outside_advanced_blocks(demo):
    problems, seen = [], 0
    for persona, user in PERSONAS.items():
        client = Client()
        client.force_login(user())
        for name, url in _pages(demo["acme"]).items():
            response = client.get(url)
            if response.status_code == 403:  # a page this persona may not open
                continue
            assert response.status_code == 200, (persona, url, response.status_code)
            seen += 1
            problems += [
                f"{persona} {name} ({url}): {hit}" for hit in jargon_outside_details(response.content.decode())
            ]
    assert seen >= 40
    assert not problems, f"{len(problems)} jargon word(s) outside an Advanced block:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("page", "block", "fields"),
    [
        ("experiment_list", "design-advanced", ("alpha", "power", "seed")),
        ("plan_list", "floor-advanced", ("roas_basis", "chance")),
    ],
)
def test_advanced_settings_are_folded_with_a_line_each(demo, page, block, fields):
    client = Client()
    client.force_login(PERSONAS["marketer"]())
    html = client.get(reverse(page)).content.decode()
    folded = re.search(rf'<details class="advanced[^"]*" id="{block}">(.*?)</details>', html, flags=re.S)
    assert folded and "<summary>Advanced</summary>" in folded.group(1)
    for field in fields:
        assert f'name="{field}"' in folded.group(1) and f'id="id_{field}_help"' in folded.group(1), field
        assert f'name="{field}"' not in html.replace(folded.group(0), "")
