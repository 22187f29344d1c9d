"""The learning dashboard's figures: feedback per day, queue progress and agreement, reviewers, datasets, the gate's
decisions per version; and who may see it."""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from feedback import selectors
from feedback.models import Feedback, FeedbackDataset, GateDecision, ReviewItem
from feedback.services.review import review_next, review_submit
from feedback.tests.review_support import make_items, review_fixture  # noqa: F401  (the review fixture)
from ml.models import Adapter, AdapterKind

URL = "/review/loop/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _answer(task, reviewer, item, thumb):
    review_next(task=task, reviewer=reviewer)
    return review_submit(item=item, reviewer=reviewer, thumb=thumb)


def _adapter(version: int, status=Adapter.Status.CANDIDATE) -> Adapter:
    return Adapter.objects.create(
        name="task_creative", kind=AdapterKind.TASK, tenant=None, base_model="tiny", version=version,
        path=f"adapters/task_creative-v{version}", status=status,
    )  # fmt: skip


def test_it_counts_answers_per_day_listing_quiet_days_as_zero(review):
    task = review["task"]
    items = make_items(task, 3)
    today = timezone.now().date()
    for item in items:
        _answer(task, review["reviewer"], item, "up")
    # Two answers were given three days ago; the day between has none.
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    Feedback.objects.filter(item__in=items[:2]).update(created_at=three_days_ago)
    volume = selectors.feedback_volume_by_day(tenant=task.tenant, days=5)
    assert [day for day, _ in volume] == [today - dt.timedelta(days=d) for d in (4, 3, 2, 1, 0)]
    assert [n for _, n in volume] == [0, 2, 0, 0, 1]


def test_it_shows_queue_progress_agreement_and_reviewers(review, personas):
    task = review["task"]
    items = make_items(task, 4)
    for item in items[:3]:
        _answer(task, review["reviewer"], item, "up")
    for item, thumb in zip(items[:3], ("up", "up", "down"), strict=True):
        _answer(task, review["reviewer2"], item, thumb)
    page = _client(personas["owner"]).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    row = html.split(f'data-task="{task.pk}"')[1].split("</tr>")[0]
    # Two items settled (both thumbs up), one in conflict, one nobody finished.
    assert 'data-metric="settled">2 / 4' in row
    assert ReviewItem.objects.filter(task=task, status=ReviewItem.Status.CONFLICT).count() == 1
    assert "50% settled" in row
    reviewer_row = html.split('data-reviewer="reviewer2"')[1].split("</tr>")[0]
    assert 'data-metric="answers">3<' in reviewer_row
    assert 'data-metric="volume-total">6<' in html
    assert 'id="volume-chart"' in html


def test_it_lists_datasets_with_counts_and_what_was_dropped(review, personas):
    FeedbackDataset.objects.create(
        tenant=review["task"].tenant, task="creative", format="dpo", version=2,
        counts={"train": 40, "heldout": 9, "dropped": {"disagreement": 5, "near_duplicate": 2}},
    )  # fmt: skip
    html = _client(personas["owner"]).get(URL).content.decode()
    row = html.split('id="datasets"')[1].split("</table>")[0]
    assert "creative dpo v2" in row and 'data-metric="train">40<' in row and 'data-metric="heldout">9<' in row
    assert "disagreement: 5" in row and "near_duplicate: 2" in row


def test_it_shows_what_each_training_run_did_and_charts_versions(review, personas):
    tenant = review["task"].tenant
    v1, v2, v3 = _adapter(1, Adapter.Status.RETIRED), _adapter(2, Adapter.Status.ACTIVE), _adapter(3)
    GateDecision.objects.create(
        tenant=tenant, candidate=v2, baseline=v1, promoted=True, reasons=["Better on held-out preferences."],
        figures={"preference": {"win_rate": 0.7, "win_rate_ci": [0.6, 0.8]}, "violations": {"candidate": 0.1,
                 "baseline": 0.2}, "rule": {"confidence": 0.95}},
    )  # fmt: skip
    GateDecision.objects.create(
        tenant=tenant, candidate=v3, baseline=v2, promoted=False,
        reasons=["Violation rate 0.3 is worse than 0.1."],
        figures={"preference": {"win_rate": 0.8, "win_rate_ci": [0.7, 0.9]}, "violations": {"candidate": 0.3,
                 "baseline": 0.1}, "rule": {"confidence": 0.95}},
    )  # fmt: skip
    html = _client(personas["owner"]).get(URL).content.decode()
    decisions = html.split('id="decisions"')[1]
    held = decisions.split(f'data-decision="{v3.gate_decisions.get().pk}"')[1].split("</tr>")[0]
    assert "Held back" in held and "Violation rate 0.3 is worse than 0.1." in held
    assert "preference.win_rate_ci</span> 0.7 – 0.9" in held and "violations.candidate</span> 0.3" in held
    assert "rule.confidence" not in held
    promoted = decisions.split(f'data-decision="{v2.gate_decisions.get().pk}"')[1].split("</tr>")[0]
    assert "Promoted" in promoted and "Roll back" in promoted  # v2 is the active version: one click rolls it back
    assert "Roll back" not in held
    chart = html.split('id="version-chart"')[1].split("</svg>")[0]
    # Oldest first: win rates 70% then 80%, violation rates 10% then 30%, on one 0..100 axis.
    points = dict(re.findall(r'points="([^"]+)" stroke="[^"]+" data-series="(\w+)"', chart)[i][::-1] for i in (0, 1))
    win = [float(p.split(",")[1]) for p in points["win_rate"].split()]
    violation = [float(p.split(",")[1]) for p in points["violation"].split()]
    assert win[1] < win[0] and violation[1] < violation[0]  # SVG y grows downwards: higher rates sit higher
    assert "task_creative v2" in chart and "task_creative v3" in chart


def test_it_reads_the_gates_figures_and_says_when_one_was_not_measured():
    figures = {"preference": {"win_rate": 0.64, "n_pairs": 30}, "violations": {"candidate": 0.05, "baseline": None}}
    assert selectors.gate_figure(figures, "preference", "win_rate") == 0.64
    assert selectors.gate_figure(figures, "violations", "candidate") == 0.05
    assert selectors.gate_figure(figures, "violations", "baseline") is None  # not measured
    assert selectors.gate_figure(figures, "task", "candidate") is None
    assert selectors.gate_figure_rows({"a": {"b": True, "c": [0.25, 0.5]}}) == [("a.b", "yes"), ("a.c", "0.25 – 0.5")]


def test_adjudicators_see_the_figures_and_only_admins_get_the_forms(review, personas):
    adjudicator = _client(review["adjudicator"]).get(URL)
    assert adjudicator.status_code == 200
    html = adjudicator.content.decode()
    assert "Queue progress" in html and 'id="export-form"' not in html and 'id="retrain-form"' not in html
    owner = _client(personas["owner"]).get(URL).content.decode()
    assert 'id="export-form"' in owner and 'id="retrain-form"' in owner and ">Learning</a>" in owner
    assert _client(review["reviewer"]).get(URL).status_code == 403
    assert _client(personas["marketer"]).get(URL).status_code == 403
    assert ">Learning</a>" not in _client(review["reviewer"]).get(reverse("review_tasks")).content.decode()


def test_another_tenants_admin_sees_none_of_acmes_loop(review, personas, tenants, django_user_model):
    from governance.models import Membership, Role

    task = review["task"]
    item = make_items(task, 1)[0]
    _answer(task, review["reviewer"], item, "up")
    FeedbackDataset.objects.create(tenant=task.tenant, task="creative", format="dpo", version=7, counts={"train": 3})
    GateDecision.objects.create(tenant=task.tenant, candidate=_adapter(1), reasons=["acme-only reason"])
    globex_admin = django_user_model.objects.create_user(username="globex-admin", password="pw-for-tests-123")
    Membership.objects.create(user=globex_admin, tenant=tenants["globex"], role=Role.ADMIN)
    html = _client(globex_admin).get(URL).content.decode()
    assert ">Ad copy</a>" not in html and "creative dpo v7" not in html and "acme-only reason" not in html
    assert 'data-metric="volume-total">0<' in html
    assert _client(globex_admin).post(reverse("loop_rollback", args=[GateDecision.objects.get().pk])).status_code == 404
