"""The learning dashboard ("closing the loop"): how much feedback arrives and how well reviewers agree, the datasets
exported from it, the training runs on them and what the promotion gate made of each; with the forms that drive the
loop (export, retrain, run the gate, roll back). Adjudicators see the figures; admins (manage_tenant) also act.

Charts are server-rendered SVG (``campaigns.charts``) styled from ``static/css``: no JavaScript library, no CDN, and
the page works without JavaScript; only the embedded job panel polls (htmx) while a job runs.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from campaigns.charts import line_chart
from core.errors import DomainError
from core.forms import form_error
from feedback import selectors
from feedback.forms import DatasetExportForm, RetrainForm
from feedback.models import FeedbackDataset, GateDecision
from feedback.services.datasets import feedback_dataset_export
from feedback.services.gate import gate_evaluate, gate_rollback
from feedback.services.retrain import retrain_dataset, retrain_start
from governance.access import Capability, tenant_page
from ml.models import Adapter, TrainingJob
from ml.selectors import adapters_visible_to, training_jobs_visible_to

PAGE = "feedback/loop/dashboard.html"
VOLUME_DAYS = 30
RECENT_JOBS = 6
POLL_SECONDS = 2
RETRAIN_METHODS = (TrainingJob.Method.DPO, TrainingJob.Method.KTO)
# The gate's measurements; its rule and sources are on the decision in the admin.
SHOWN_FIGURES = ("preference", "violations", "task", "rollback")


def _adapters(access):
    return adapters_visible_to(access.tenant).exclude(status=Adapter.Status.RETIRED).order_by("name", "-version")


def _datasets(access):
    return selectors.feedback_dataset_list(tenant=access.tenant).filter(
        format__in=[FeedbackDataset.Format.DPO, FeedbackDataset.Format.KTO]
    )


def _jobs(access):
    return (
        training_jobs_visible_to(access.tenant)
        .filter(method__in=RETRAIN_METHODS)
        .select_related("created_by")
        .order_by("-id")
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _version_rows(decisions: list[GateDecision]) -> list[dict]:
    """One row per candidate version the gate judged, oldest first: win rate over the version it was judged against,
    held-out reward accuracy and policy-violation rate (candidate and baseline), and the verdict."""
    rows = []
    for d in sorted(decisions, key=lambda d: (d.created_at, d.pk)):
        f = d.figures or {}
        rows.append(
            {
                "decision": d,
                "label": f"{d.candidate.name} v{d.candidate.version}",
                "win_rate": selectors.gate_figure(f, "preference", "win_rate"),
                "accuracy": selectors.gate_figure(f, "preference", "candidate_accuracy"),
                "violation": selectors.gate_figure(f, "violations", "candidate"),
                "violation_before": selectors.gate_figure(f, "violations", "baseline"),
            }
        )
    return rows


def _version_chart(rows: list[dict]):
    charted = [r for r in rows if r["win_rate"] is not None or r["violation"] is not None]
    if not charted:
        return None
    return line_chart(
        x_labels=[r["label"] for r in charted],
        series=[
            ("win_rate", "Win rate (%)", [_pct(r["win_rate"]) or 0.0 for r in charted]),
            ("violation", "Violation rate (%)", [_pct(r["violation"]) or 0.0 for r in charted]),
        ],
        height=200,
        colors={"win_rate": "#2563eb", "violation": "#dc2626"},
    )


def _job_row(job: TrainingJob, decision: GateDecision | None) -> dict:
    progress = job.progress or {}
    history = [h for h in progress.get("history") or [] if isinstance(h, dict)]
    return {
        "job": job,
        "active": job.status not in TrainingJob.FINISHED,
        "pct": round(100 * job.fraction_done, 1),
        "step": progress.get("step"),
        "total": progress.get("total_steps"),
        "loss": progress.get("loss", history[-1].get("loss") if history else None),
        "decision": decision,
        "candidate": job.adapters.first() if job.status == TrainingJob.Status.SUCCEEDED else None,
        "dataset_id": (job.params or {}).get("feedback_dataset"),
    }


def _context(request: HttpRequest, access, *, export_form=None, retrain_form=None) -> dict:
    tenant = access.tenant
    can_act = access.can(Capability.MANAGE_TENANT)
    volume = selectors.feedback_volume_by_day(tenant=tenant, days=VOLUME_DAYS)
    volume_chart = line_chart(
        x_labels=[day.strftime("%-d %b") for day, _ in volume],
        series=[("answers", "Answers", [float(n) for _, n in volume])],
        height=180,
        max_x_ticks=6,
    )
    decisions = list(selectors.gate_decision_list(tenant=tenant)[:50])
    by_job = {d.training_job_id: d for d in decisions if d.training_job_id}
    versions = _version_rows(decisions)
    datasets = list(selectors.feedback_dataset_list(tenant=tenant)[:20])
    job_rows = [_job_row(job, by_job.get(job.pk)) for job in _jobs(access)[:RECENT_JOBS]]
    if can_act:
        export_form = export_form or DatasetExportForm()
        retrain_form = retrain_form or RetrainForm(adapters=_adapters(access), datasets=_datasets(access))
    return {
        "can_act": can_act,
        "volume_total": sum(n for _, n in volume),
        "volume_days": VOLUME_DAYS,
        "volume_chart": volume_chart,
        "queues": selectors.queue_progress_list(tenant=tenant),
        "reviewers": selectors.reviewer_throughput_list(tenant=tenant),
        "versions": versions,
        "version_chart": _version_chart(versions),
        "datasets": datasets,
        "job_rows": job_rows,
        "decisions": [(d, selectors.gate_figure_rows(d.figures, keys=SHOWN_FIGURES)) for d in decisions[:10]],
        "gate_datasets": datasets,
        "poll_seconds": POLL_SECONDS,
        "export_form": export_form,
        "retrain_form": retrain_form,
    }


@tenant_page(Capability.ADJUDICATE)
def loop_dashboard(request: HttpRequest, *, access) -> HttpResponse:
    """The page; for htmx with ``?job=<id>``, that training run's row alone (polled while the job runs)."""
    if request.htmx and request.GET.get("job"):
        job = _jobs(access).filter(pk=request.GET["job"] if request.GET["job"].isdigit() else 0).first()
        if job is None:
            raise Http404("No such training run.")
        decision = selectors.gate_decision_list(tenant=access.tenant).filter(training_job=job).first()
        context = {
            "row": _job_row(job, decision),
            "can_act": access.can(Capability.MANAGE_TENANT),
            "gate_datasets": list(selectors.feedback_dataset_list(tenant=access.tenant)[:20]),
            "poll_seconds": POLL_SECONDS,
        }
        response = render(request, f"{PAGE}#job-row", context)
        patch_vary_headers(response, ["HX-Request"])
        return response
    response = render(request, PAGE, _context(request, access))
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@tenant_page(Capability.MANAGE_TENANT)
def loop_export(request: HttpRequest, *, access) -> HttpResponse:
    form = DatasetExportForm(request.POST)
    if form.is_valid():
        try:
            options = {"drop_policy_violations": not form.cleaned_data["keep_policy_violations"]}
            dataset = feedback_dataset_export(
                tenant=access.tenant,
                task=form.cleaned_data["task"],
                fmt=form.cleaned_data["fmt"],
                user=request.user,
                options=options,
            )
        except DomainError as exc:
            form_error(form, exc, fields={"format": "fmt"})
        else:
            counts = dataset.counts or {}
            breaking = (counts.get("dropped") or {}).get("chosen_breaks_policy")
            messages.success(
                request,
                f"Exported {dataset.task} {dataset.format} v{dataset.version}: {counts.get('train', 0)} train and "
                f"{counts.get('heldout', 0)} held-out rows"
                + (f"; {breaking} dropped as their chosen answer breaks the policy." if breaking else "."),
            )
            return redirect("loop_dashboard")
    return render(request, PAGE, _context(request, access, export_form=form), status=400)


@require_POST
@tenant_page(Capability.MANAGE_TENANT)
def loop_retrain(request: HttpRequest, *, access) -> HttpResponse:
    form = RetrainForm(request.POST, adapters=_adapters(access), datasets=_datasets(access))
    if form.is_valid():
        data = form.cleaned_data
        params = {"max_steps": data["max_steps"]} if data.get("max_steps") else None
        try:
            job = retrain_start(
                tenant=access.tenant,
                user=request.user,
                adapter=_adapters(access).get(pk=data["adapter"]),
                dataset=selectors.feedback_dataset_get(tenant=access.tenant, pk=data["dataset"]),
                method=data["method"],
                params=params,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Training job #{job.pk} ({job.get_method_display()}) is queued.")
            return redirect("loop_dashboard")
    return render(request, PAGE, _context(request, access, retrain_form=form), status=400)


@require_POST
@tenant_page(Capability.MANAGE_TENANT)
def loop_gate(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """Run the gate on the adapter a finished retraining job registered, against the dataset's held-out part."""
    job = _jobs(access).filter(pk=pk, status=TrainingJob.Status.SUCCEEDED).first()
    candidate = job.adapters.first() if job else None
    if candidate is None:
        raise Http404("No finished retraining job with an adapter.")
    try:
        chosen = request.POST.get("dataset")
        dataset = (
            selectors.feedback_dataset_get(tenant=access.tenant, pk=int(chosen)) if chosen else retrain_dataset(job)
        )
    except (FeedbackDataset.DoesNotExist, ValueError):
        dataset = None
    if dataset is None or dataset.tenant_id != access.tenant.pk:
        messages.error(request, "Pick the feedback dataset whose held-out part judges the candidate.")
        return redirect("loop_dashboard")
    try:
        decision = gate_evaluate(candidate=candidate, dataset=dataset, user=request.user, training_job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verdict = "promoted" if decision.promoted else "held back"
        messages.success(request, f"{candidate.name} v{candidate.version} is {verdict}.")
    return redirect("loop_dashboard")


@require_POST
@tenant_page(Capability.MANAGE_TENANT)
def loop_rollback(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    try:
        decision = selectors.gate_decision_get(tenant=access.tenant, pk=pk)
    except GateDecision.DoesNotExist:
        raise Http404("No such gate decision.") from None
    try:
        adapter = gate_rollback(decision=decision, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Rolled back: {adapter.name} v{adapter.version} is active again.")
    return redirect("loop_dashboard")
