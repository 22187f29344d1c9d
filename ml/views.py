"""Model pages: the adapter registry (promote, roll back, retire), training jobs with live progress (start, cancel),
and "Try it": one generation with a composition of adapters, polled until answered.

A tenant sees the shared (retailer and task) adapters and its own brand adapters; anything else is a 404. Managing
(promote, roll back, retire, train, cancel) needs the manage_tenant capability; a shared adapter or a shared job
changes what every tenant gets, so only staff may manage those (and whoever started a shared job may cancel it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import PurePath

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from campaigns.charts import line_chart
from campaigns.models import Retailer
from core.errors import LIMIT_REACHED, DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from governance.privacy import pii_scrub_error
from governance.selectors import tenant_limits
from ml.engine.prompts import budgeting_fields
from ml.eval_services import behind_reader
from ml.forms import EXAMPLES, GenerationForm, TrainingJobForm
from ml.inference import generation_request_create
from ml.jobs import queued_too_long, training_job_resend, training_job_start
from ml.models import Adapter, GenerationRequest, TrainingJob
from ml.selectors import AdapterForbidden, adapters_visible_to, training_eta_seconds, training_jobs_visible_to
from ml.services import adapter_promote, adapter_retire, adapter_rollback, training_job_request_cancel
from optimizer.engine.objective_reader import read_objective, retailer_names
from optimizer.forms.plans import PlanForm
from optimizer.objective_text import ANSWERED_FIELDS, adapter_retailers, cross_check, plan_initial
from optimizer.selectors import tenant_channel_choices

POLL_SECONDS = 2
LIST_POLL_SECONDS = 5
ADAPTER_ACTIONS = ("promote", "rollback", "retire")
# A service's refusal on a page answers as the API does: a shared adapter for a non-staff user 403, a used-up count
# (training jobs at once or a day, generations a day) 429; any other DomainError is bad input (400).
REFUSAL_STATUS = {"forbidden": 403, LIMIT_REACHED: 429}


# --- permissions ----------------------------------------------------------------------------------------------------


def can_manage_adapter(access, user, adapter: Adapter) -> bool:
    if not access.can(Capability.MANAGE_TENANT):
        return False
    return user.is_staff if adapter.tenant_id is None else adapter.tenant_id == access.tenant.pk


def can_cancel_job(access, user, job: TrainingJob) -> bool:
    if job.status in TrainingJob.FINISHED or job.cancel_requested or not access.can(Capability.MANAGE_TENANT):
        return False
    if job.tenant_id is None:
        return bool(user.is_staff or (job.created_by_id and job.created_by_id == user.pk))
    return job.tenant_id == access.tenant.pk


def _adapter_or_404(access, pk: int) -> Adapter:
    try:
        return adapters_visible_to(access.tenant).get(pk=pk)
    except Adapter.DoesNotExist:
        raise Http404("No such adapter.") from None


def _job_or_404(access, pk: int) -> TrainingJob:
    try:
        return training_jobs_visible_to(access.tenant).select_related("created_by").get(pk=pk)
    except TrainingJob.DoesNotExist:
        raise Http404("No such training job.") from None


def _generation_or_404(access, pk: int) -> GenerationRequest:
    try:
        return GenerationRequest.objects.filter(tenant=access.tenant).get(pk=pk)
    except GenerationRequest.DoesNotExist:
        raise Http404("No such generation.") from None


# --- adapters -------------------------------------------------------------------------------------------------------


@tenant_page()
def adapter_list(request: HttpRequest, *, access) -> HttpResponse:
    adapters = list(adapters_visible_to(access.tenant).select_related("training_job"))
    job_ids = set(training_jobs_visible_to(access.tenant).filter(adapters__in=adapters).values_list("pk", flat=True))
    rows = [
        {
            "adapter": a,
            "metrics": sorted((a.metrics or {}).items()),
            "base_label": _base_label(a.base_model),
            "can_manage": can_manage_adapter(access, request.user, a),
            "job_visible": a.training_job_id in job_ids,
            "behind_reader": behind_reader(a.metrics or {}) if a.status != Adapter.Status.ACTIVE else None,
        }
        for a in adapters
    ]
    context = {"rows": rows, "any_manage": any(r["can_manage"] for r in rows)}
    return render(request, "ml/adapter_list.html", context)


@tenant_page(Capability.MANAGE_TENANT)
@require_POST
def adapter_action(request: HttpRequest, pk: int, action: str, *, access) -> HttpResponse:
    if action not in ADAPTER_ACTIONS:
        raise Http404("No such action.")
    adapter = _adapter_or_404(access, pk)
    if not can_manage_adapter(access, request.user, adapter):
        raise PermissionDenied(f"{adapter.name} is shared by every tenant: only staff may change its versions.")
    try:
        if action == "promote":
            done = adapter_promote(adapter=adapter, user=request.user)
            messages.success(request, f"{done.name} v{done.version} is now active.")
        elif action == "rollback":
            done = adapter_rollback(name=adapter.name, tenant=adapter.tenant, user=request.user)
            messages.success(request, f"{done.name} is back to v{done.version}.")
        else:
            done = adapter_retire(adapter=adapter, user=request.user)
            messages.success(request, f"{done.name} v{done.version} is retired.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("model_adapters")


def eta_text(seconds: float | None) -> str:
    """A training job's time left as a person says it ("about 3 min left"); "" when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min left"
    return f"about {seconds / 3600:.1f} h left"


def _base_label(base_model: str) -> str:
    return base_model.rstrip("/").rsplit("/", 1)[-1] or base_model


# --- training jobs --------------------------------------------------------------------------------------------------


@tenant_page()
def training_job_list(request: HttpRequest, *, access) -> HttpResponse:
    form, refused = None, None
    shared_allowed = request.user.is_staff
    if request.method == "POST":
        access.require(Capability.MANAGE_TENANT)
        form = TrainingJobForm(request.POST, shared_allowed=shared_allowed)
        if form.is_valid():
            try:
                job = training_job_start(user=request.user, tenant=access.tenant, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                refused = exc.code
            else:
                return redirect("model_job_detail", pk=job.pk)
    elif access.can(Capability.MANAGE_TENANT):
        form = TrainingJobForm(shared_allowed=shared_allowed)
    page = Paginator(training_jobs_visible_to(access.tenant).select_related("created_by"), 50).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    for job in page:
        job.pct = round(100 * job.fraction_done)
        job.eta_text = eta_text(training_eta_seconds(job, now=now))
    context = {
        "form": form,
        "page": page,
        "any_active": any(job.status not in TrainingJob.FINISHED for job in page),
        "poll_seconds": LIST_POLL_SECONDS,
    }
    status = REFUSAL_STATUS.get(refused, 400) if form is not None and form.errors else 200
    template = "ml/job_list.html"
    partial = request.htmx and request.method == "GET"
    response = render(request, f"{template}#job-table" if partial else template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page()
def training_job_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    job = _job_or_404(access, pk)
    context = {
        "job": job,
        "is_active": job.status not in TrainingJob.FINISHED,
        "poll_seconds": POLL_SECONDS,
        "progress": _progress_view(job),
        "can_cancel": can_cancel_job(access, request.user, job),
        "queued_too_long": queued_too_long(job),
        "adapters": list(job.adapters.filter(pk__in=adapters_visible_to(access.tenant))),
        "shows_owner": job.tenant_id == access.tenant.pk,
        # File names only: the server's folders are not the tenant's business.
        "dataset_name": PurePath(job.dataset_path).name,
        "base_label": _base_label(job.base_model),
    }
    template = "ml/job_detail.html"
    response = render(request, f"{template}#job-status" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page(Capability.MANAGE_TENANT)
@require_POST
def training_job_cancel(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    job = _job_or_404(access, pk)
    if job.status not in TrainingJob.FINISHED and not can_cancel_job(access, request.user, job):
        raise PermissionDenied("Only staff or whoever started it may cancel a shared training job.")
    try:
        training_job_request_cancel(job=job, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Asked the worker to stop training job #{job.pk} at its next step.")
    return redirect("model_job_detail", pk=job.pk)


@tenant_page(Capability.MANAGE_TENANT)
@require_POST
def training_job_resend_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    job = _job_or_404(access, pk)
    if not can_cancel_job(access, request.user, job):
        raise PermissionDenied("Only staff or whoever started it may send a shared training job again.")
    try:
        training_job_resend(job=job, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Sent training job #{job.pk} to the gpu queue again.")
    return redirect("model_job_detail", pk=job.pk)


def _progress_view(job: TrainingJob) -> dict:
    progress = job.progress or {}
    history = [h for h in progress.get("history") or [] if isinstance(h, dict) and h.get("step") is not None]
    losses = [h for h in history if isinstance(h.get("loss"), int | float)]
    chart = None
    if len(losses) >= 2:
        chart = line_chart(
            x_labels=[str(h["step"]) for h in losses],
            series=[("loss", "Loss", [float(h["loss"]) for h in losses])],
            height=200,
            margin=(12, 12, 28, 44),
        )
    last = history[-1] if history else {}
    step, total = progress.get("step"), progress.get("total_steps")
    return {
        "step": step,
        "total": total,
        "pct": round(100 * job.fraction_done, 1),
        "eta": eta_text(training_eta_seconds(job, now=timezone.now())),
        "loss": progress.get("loss", last.get("loss")),
        "reward_margin": progress.get("reward_margin", last.get("reward_margin")),
        "reward_accuracy": progress.get("reward_accuracy", last.get("reward_accuracy")),
        "is_dpo": job.method == TrainingJob.Method.DPO,
        "chart": chart,
        "recent": list(reversed(history[-8:])),
    }


# --- try it ---------------------------------------------------------------------------------------------------------


def _usable_adapters(access) -> list[tuple[str, str]]:
    active = adapters_visible_to(access.tenant).filter(status=Adapter.Status.ACTIVE).order_by("kind", "name")
    return [(a.name, f"{a.purpose} (v{a.version})") for a in active]


@tenant_page()
def generation_try(request: HttpRequest, *, access) -> HttpResponse:
    can_generate = access.can(Capability.EDIT_DATA)
    choices = _usable_adapters(access)
    form, status = None, 200
    if request.method == "POST":
        access.require(Capability.EDIT_DATA)
        form = GenerationForm(request.POST, adapter_choices=choices)
        if form.is_valid():
            data = form.cleaned_data
            try:
                generation = _generation_create(access, request.user, data)
            except AdapterForbidden as exc:
                form.add_error("adapters", exc.message)
                status = 403
            except DomainError as exc:
                form_error(form, exc, fields={"payload": "input"})
                status = REFUSAL_STATUS.get(exc.code, 400)
            else:
                return redirect("model_generation_detail", pk=generation.pk)
        if status == 200:
            status = 400
    elif can_generate:
        form = GenerationForm(adapter_choices=choices, initial={"input": EXAMPLES["budgeting"]})
    recent = GenerationRequest.objects.filter(tenant=access.tenant).select_related("created_by")[:20]
    context = {"form": form, "recent": recent, "examples": sorted(EXAMPLES.items()), "has_adapters": bool(choices)}
    return render(request, "ml/try.html", context, status=status)


def _generation_create(access, user, data: dict) -> GenerationRequest:
    from ml.inference import generation_request_create

    return generation_request_create(
        tenant=access.tenant,
        user=user,
        task=data["task"],
        adapters=list(data["adapters"]),
        payload_or_messages=data["payload"],
        mode=data["mode"],
        weights=data["weights"],
        enqueue=True,
    )


@tenant_page()
def generation_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    generation = _generation_or_404(access, pk)
    context = {
        "generation": generation,
        "is_active": generation.status in (GenerationRequest.Status.QUEUED, GenerationRequest.Status.RUNNING),
        "poll_seconds": POLL_SECONDS,
        "prompt_text": json.dumps(generation.prompt, indent=2, ensure_ascii=False),
        "parsed_text": None
        if generation.parsed is None
        else json.dumps(generation.parsed, indent=2, ensure_ascii=False),
    }
    template = "ml/generation_detail.html"
    response = render(request, f"{template}#generation-status" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- an objective in the marketer's words -> the plan form: the plan reader, cross-checked by the budgeting adapter ---

BUDGETING_ADAPTER = "task_budgeting"
PLAN_READ_POLL_SECONDS = 1
EXAMPLE_OBJECTIVE = "Allocate $2.5M over 4 weeks to maximize incremental margin with ROAS >= 3"


def _budgeting_adapter(access):
    return adapters_visible_to(access.tenant).filter(name=BUDGETING_ADAPTER, status=Adapter.Status.ACTIVE).first()


def _budgeting_training(access):
    """The budgeting adapter's training job on its way (queued or running), for the box's banner; None if none."""
    job = (
        training_jobs_visible_to(access.tenant)
        .filter(adapter_name=BUDGETING_ADAPTER)
        .exclude(status__in=TrainingJob.FINISHED)
        .first()
    )
    if job is None:
        return None
    eta = eta_text(training_eta_seconds(job, now=timezone.now()))
    return {"job": job, "pct": round(100 * job.fraction_done), "eta": eta}


def plan_form_reader(*, access) -> dict:
    """Fills the plans page's slot (ml.apps): the "describe the plan in words" box, empty."""
    return _read_context(access, text="", error="", generation=None, is_active=False)


def _read_context(access, **extra) -> dict:
    return {"read_adapter": _budgeting_adapter(access), "training": _budgeting_training(access),
            "example_objective": EXAMPLE_OBJECTIVE, "poll_seconds": PLAN_READ_POLL_SECONDS, **extra}  # fmt: skip


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_read(request: HttpRequest, *, access) -> HttpResponse:
    """Read the marketer's text into the plan form. With an active budgeting adapter its answer is queued and the box
    polls (``plan_read_status``); without one the plan reader alone answers at once. The text's length (and the
    generations a day, for the adapter) are the tenant's limits, checked as for the API."""
    text = " ".join(request.POST.get("text", "").split())
    error, generation, status = "", None, 400
    limit = tenant_limits(access.tenant).generation_text_chars
    if not text:
        error = "Describe the plan first, for example: " + EXAMPLE_OBJECTIVE
    elif len(text) > limit:
        error = f"The text is {len(text):,} characters; at most {limit:,}."
    elif _budgeting_adapter(access) is not None:
        try:
            generation = generation_request_create(
                tenant=access.tenant, user=request.user, task="budgeting", adapters=[BUDGETING_ADAPTER],
                payload_or_messages={"text": text},
            )  # fmt: skip
        except AdapterForbidden:
            pass  # not this tenant's to use: the reader reads alone
        except DomainError as exc:
            error, status = exc.message, REFUSAL_STATUS.get(exc.code, 400)
            error = pii_scrub_error(error, source="page.error", tenant=access.tenant, user=request.user)
    if error:
        context = _read_context(access, text=text, error=error, generation=None, is_active=False)
        return render(request, "optimizer/plan_list.html#plan-read", context, status=status)
    if generation is None:
        return _plan_read_result(request, None, text=text, access=access, answers={})
    context = _read_context(access, text=text, error="", generation=generation, is_active=True)
    return render(request, "optimizer/plan_list.html#plan-read", context)


def _reading_or_404(access, pk: int) -> GenerationRequest:
    generation = GenerationRequest.objects.filter(tenant=access.tenant, pk=pk, task="budgeting").first()
    if generation is None:
        raise Http404("No such reading.")
    return generation


def _reading_text(generation: GenerationRequest) -> str:
    return str(generation.prompt.get("text", "")) if isinstance(generation.prompt, dict) else ""


@tenant_page(Capability.EDIT_DATA)
@require_GET
def plan_read_status(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    generation = _reading_or_404(access, pk)
    return _plan_read_result(request, generation, text=_reading_text(generation), access=access, answers={})


def _answered(request: HttpRequest, generation: GenerationRequest | None, text: str, *, access) -> HttpResponse:
    """The marketer's answer to the question the reading asked; the answers before it come back as hidden fields
    (``a_<field>``), so the reading keeps no state between questions."""
    answers = {name: request.POST[f"a_{name}"] for name in ANSWERED_FIELDS if f"a_{name}" in request.POST}
    name = request.POST.get("field", "")
    if name not in ANSWERED_FIELDS:
        return HttpResponse("Unknown field.", status=400, content_type="text/plain; charset=utf-8")
    typed = " ".join(request.POST.get("answer", "").split())
    answers[name] = typed or request.POST.get("choice", "")
    missing = ""
    if not answers[name] and name != "min_roas":
        answers.pop(name)
        missing = name
    return _plan_read_result(request, generation, text=text, access=access, answers=answers, missing=missing)


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_read_answer(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    generation = _reading_or_404(access, pk)
    return _answered(request, generation, _reading_text(generation), access=access)


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_read_text_answer(request: HttpRequest, *, access) -> HttpResponse:
    """An answer to the plan reader's question when it read alone: the text comes back as a hidden field."""
    text = " ".join(request.POST.get("text", "").split())
    limit = tenant_limits(access.tenant).generation_text_chars
    if not text or len(text) > limit:
        return HttpResponse("No text to read.", status=400, content_type="text/plain; charset=utf-8")
    return _answered(request, None, text, access=access)


def _plan_read_result(
    request, generation: GenerationRequest | None, *, text: str, access, answers: dict, missing: str = ""
):
    """The reading's box: still polling, the one question to ask, or the filled form. The plan reader
    (optimizer.engine.objective_reader) reads the text; the adapter's answer, when there is one, cross-checks it field
    by field (optimizer.objective_text.cross_check): a field fills where both read it the same or the adapter gave no
    valid value for it; a missing, foreign-currency or disputed field is asked instead of guessed. An adapter that
    failed or answered no JSON at all costs its vote, not the reading."""
    active = generation is not None and generation.status in (
        GenerationRequest.Status.QUEUED,
        GenerationRequest.Status.RUNNING,
    )
    context = _read_context(access, text=text, generation=generation, is_active=active, error="")
    if active:
        return render(request, "optimizer/plan_list.html#plan-read", context)
    adapter: dict = {}
    adapter_notes: list[str] = []
    if generation is not None:
        if generation.status == GenerationRequest.Status.FAILED:
            adapter_notes.append("The budgeting adapter failed on this text; the plan reader read it alone.")
        else:
            adapter = generation.parsed or budgeting_fields(generation.output)
            if not adapter:
                adapter_notes.append("The budgeting adapter gave no usable answer; the plan reader read it alone.")
    context["cross_checked"] = bool(adapter)
    channels = tenant_channel_choices(access.tenant)
    known = {code: name for code, name in Retailer.objects.values_list("code", "name")}
    known.update({code: name for code, name, _placement in channels})
    currency = access.tenant.reporting_currency
    reading = read_objective(text, known.items(), planned=[code for code, _name, _placement in channels])
    adapter = adapter_retailers(adapter, retailer_names(known.items()))
    check = cross_check(reading, adapter, currency=currency, answers=answers, retailer_names=known)
    if check.question is not None:
        question = check.question
        if missing == question.field and not question.error:
            question = replace(question, error="Choose or type an answer first.")
        context.update(question=question, answers=answers, notes=adapter_notes + check.notes)
        status = 400 if question.error else 200
        return render(request, "optimizer/plan_list.html#plan-read", context, status=status)
    initial, notes = plan_initial(check.values, channels, text=text)
    form = PlanForm(initial=initial, channels=channels)
    context.update(notes=adapter_notes + check.notes + notes, filled=True, asked=bool(answers))
    read = render(request, "optimizer/plan_list.html#plan-read", context).content
    filled = render(
        request,
        "optimizer/plan_list.html#plan-form",
        {"form": form, "currency": currency, "oob": True},
    ).content
    return HttpResponse(read + filled)
