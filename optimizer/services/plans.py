"""Allocation plans: validate and store a request, optimize it off the request (cpu queue), store the result."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from campaigns.models import SKU, PerformanceFact
from core.bounds import money_limit_message
from core.errors import DomainError, full_clean_or_raise
from core.liveness import Heartbeat, stale, worker_identity
from governance.models import Tenant
from governance.services import audit_record
from optimizer.engine.allocate import DEFAULT_CHANCE
from optimizer.engine.jsonsafe import json_safe
from optimizer.engine.notices import INFO, Notice, objective_period_days, period_notice, ranked, unspent_notice
from optimizer.engine.notices import outcome as notices_outcome
from optimizer.models import AllocationPlan
from optimizer.selectors import tenant_channels, tenant_frames
from optimizer.tasks import plan_run as plan_run_task

# Posterior samples per plan and the seed: a plan re-run on the same data gives the same numbers.
PLAN_SAMPLES = 200
PLAN_SEED = 0
CENT = Decimal("0.01")
MAX_PERIOD_DAYS = 366
MAX_HISTORY_DAYS = 3660
DEFAULT = object()  # an argument left out (``chance``: the default promise where there is a floor)
# A running plan's worker touches heartbeat_at this often; the reaper fails a plan silent for the stale time
# (settings PLAN_HEARTBEAT_S, PLAN_STALE_AFTER_S).
DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_STALE_AFTER_S = 120.0


def _number(value, field: str, *, what: str | None = None) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(f"{what or field} must be a number, got {value!r}.", field=field) from None
    if not number.is_finite():
        raise DomainError(f"{what or field} must be a finite number, got {value!r}.", field=field)
    return number


def _amount(value, field: str, *, what: str | None = None) -> Decimal:
    """A number that is also an amount the databases store exactly (core.bounds.MONEY_MAX)."""
    number = _number(value, field, what=what)
    message = money_limit_message(number)
    if message:
        raise DomainError(f"{what or field}: {message}", field=field)
    return number


def _bounds(raw, *, field: str, known: list[str], kind: str) -> dict[str, list[float]]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise DomainError(f"{field} must map a {kind} to [min, max].", field=field)
    out = {}
    for key, pair in raw.items():
        if key not in known:
            listed = ", ".join(known) or "none: the tenant has no performance history"
            raise DomainError(f"{field}: unknown {kind} {key!r}; the tenant's {kind}s are {listed}.", field=field)
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise DomainError(f"{field}[{key!r}] must be [min, max], got {pair!r}.", field=field)
        low = _amount(pair[0], field, what=f"{field}[{key!r}] min")
        high = _amount(pair[1], field, what=f"{field}[{key!r}] max")
        if low < 0:
            raise DomainError(f"{field}[{key!r}]: min {low} must not be negative.", field=field)
        if high < low:
            raise DomainError(f"{field}[{key!r}]: max {high} is below min {low}.", field=field)
        out[key] = [float(low), float(high)]
    return out


def plan_create(
    *,
    tenant: Tenant,
    user=None,
    name: str = "",
    budget,
    period_days: int,
    min_roas=None,
    roas_basis: str = AllocationPlan.RoasBasis.ATTRIBUTED,
    objective: str = AllocationPlan.Objective.INCREMENTAL_MARGIN,
    bounds: dict | None = None,
    retailer_bounds: dict | None = None,
    exclude_channels=(),
    chance: float | object | None = DEFAULT,
    history_days: int | None = None,
    api_key=None,
) -> AllocationPlan:
    """Check a budget allocation request against the tenant's channels, save it pending and queue the optimizer
    (task ``optimizer.plan_run``) once the transaction commits. Bounds are ``{"retailer|placement_type": [min,
    max]}`` and ``{"retailer": [min, max]}`` over the whole period, in the history's currency. The plan is the first
    version of its own lineage: ``root`` is the plan itself."""
    plan = _plan_build(
        tenant=tenant, user=user, name=name, budget=budget, period_days=period_days, min_roas=min_roas,
        roas_basis=roas_basis, objective=objective, bounds=bounds, retailer_bounds=retailer_bounds,
        exclude_channels=exclude_channels, chance=chance, history_days=history_days,
    )  # fmt: skip
    plan.created_by_key = api_key
    with transaction.atomic():
        plan.save()
        plan.root = plan
        plan.save(update_fields=["root"])
        _plan_queue(plan, action="allocation_plan.create", user=user, api_key=api_key)
    return plan


def _plan_queue(plan: AllocationPlan, *, action: str, user, api_key, detail: dict | None = None) -> None:
    """Audit a new plan version and send it to the optimizer once the transaction commits."""
    audit_record(
        action=action,
        tenant=plan.tenant,
        user=user,
        api_key=api_key,
        obj=plan,
        detail={
            "budget": str(plan.budget),
            "period_days": plan.period_days,
            "objective": plan.objective,
            **(detail or {}),
        },
    )
    transaction.on_commit(lambda: plan_run_task.apply_async((plan.pk,), task_id=plan.task_id))


def _plan_build(
    *,
    tenant: Tenant,
    user=None,
    name: str = "",
    budget,
    period_days: int,
    min_roas=None,
    roas_basis: str = AllocationPlan.RoasBasis.ATTRIBUTED,
    objective: str = AllocationPlan.Objective.INCREMENTAL_MARGIN,
    bounds: dict | None = None,
    retailer_bounds: dict | None = None,
    exclude_channels=(),
    chance: float | object | None = DEFAULT,
    history_days: int | None = None,
) -> AllocationPlan:
    """The checked, unsaved plan for a request (plan_create's rules)."""
    name = (name or "").strip()
    if len(name) > 200:
        raise DomainError(f"name is {len(name)} characters long; the limit is 200.", field="name")
    budget = _amount(budget, "budget")
    if budget <= 0:
        raise DomainError(f"budget must be greater than 0, got {budget}.", field="budget")
    if isinstance(period_days, bool) or not isinstance(period_days, int):
        raise DomainError(f"period_days must be a whole number of days, got {period_days!r}.", field="period_days")
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise DomainError(
            f"period_days must be between 1 and {MAX_PERIOD_DAYS}, got {period_days}.", field="period_days"
        )
    if min_roas is not None and min_roas != "":
        min_roas = _number(min_roas, "min_roas")
        if min_roas < 0:
            raise DomainError(f"min_roas must not be negative, got {min_roas}.", field="min_roas")
    else:
        min_roas = None
    if roas_basis not in AllocationPlan.RoasBasis.values:
        raise DomainError(
            f"Unknown roas_basis {roas_basis!r}; use {' or '.join(AllocationPlan.RoasBasis.values)}.",
            field="roas_basis",
        )
    if objective not in AllocationPlan.Objective.values:
        raise DomainError(
            f"Unknown objective {objective!r}; use one of {', '.join(AllocationPlan.Objective.values)}.",
            field="objective",
        )
    if chance is DEFAULT:  # the floor is a promise unless the request says otherwise
        chance = DEFAULT_CHANCE if min_roas is not None else None
    elif chance is not None:
        chance = float(_number(chance, "chance"))
        if not 0 <= chance < 1:
            raise DomainError(f"chance must be between 0 and 1 (e.g. 0.9), got {chance}.", field="chance")
        if min_roas is None:
            raise DomainError("chance needs a min_roas: it is the probability of reaching that floor.", field="chance")
        chance = chance or None  # 0: the floor on the expected ROAS only
    if history_days is not None and (isinstance(history_days, bool) or not isinstance(history_days, int)):
        raise DomainError(f"history_days must be a whole number, got {history_days!r}.", field="history_days")
    if history_days is not None and not 14 <= history_days <= MAX_HISTORY_DAYS:
        raise DomainError(
            f"history_days must be between 14 and {MAX_HISTORY_DAYS}, got {history_days}.", field="history_days"
        )

    channels = tenant_channels(tenant)
    if not channels:
        raise DomainError(
            f"{tenant.name} has no performance history yet; import retailer reports before planning a budget."
        )
    keys = [f"{retailer}|{placement}" for retailer, placement in channels]
    retailers = sorted({retailer for retailer, _ in channels})
    bounds = _bounds(bounds, field="bounds", known=keys, kind="channel")
    retailer_bounds = _bounds(retailer_bounds, field="retailer_bounds", known=retailers, kind="retailer")
    excluded = sorted(set(exclude_channels or ()))
    unknown = [key for key in excluded if key not in keys]
    if unknown:
        raise DomainError(
            f"exclude_channels: unknown channel {unknown[0]!r}; the tenant's channels are {', '.join(keys)}.",
            field="exclude_channels",
        )
    if len(excluded) == len(keys):
        raise DomainError("exclude_channels leaves no channel to spend on.", field="exclude_channels")
    floor_total = sum(low for low, _ in bounds.values())
    if floor_total > budget:
        raise DomainError(
            f"bounds: the channel minimums add up to {floor_total:,.2f}, more than the budget {budget:,.2f}; "
            "lower the minimums or raise the budget.",
            field="bounds",
        )

    currency = (
        PerformanceFact.objects.filter(tenant=tenant).order_by("-date").values_list("currency", flat=True).first()
    ) or tenant.reporting_currency
    task_id = str(uuid.uuid4())
    plan = AllocationPlan(
        tenant=tenant,
        name=name,
        budget=budget,
        currency=currency,
        period_days=period_days,
        min_roas=min_roas,
        roas_basis=roas_basis,
        objective=objective,
        request={
            "bounds": bounds,
            "retailer_bounds": retailer_bounds,
            "exclude_channels": excluded,
            "chance": chance,
            "history_days": history_days,
        },
        task_id=task_id,
        created_by=user if getattr(user, "pk", None) else None,
    )
    full_clean_or_raise(plan, exclude=["tenant", "created_by", "root", "parent"])
    return plan


# --- versions: what-if edits ------------------------------------------------------------------------------------

_KEEP = object()


def plan_version_create(
    *,
    plan: AllocationPlan,
    user=None,
    api_key=None,
    budget=_KEEP,
    min_roas=_KEEP,
    bounds=_KEEP,
    name=_KEEP,
    chance=_KEEP,
) -> AllocationPlan:
    """A what-if edit of a finished plan version: a new version of the same plan (same ``root``, ``parent`` = the
    edited version, ``version`` = the lineage's highest + 1) with the given budget, ROAS floor (None removes it)
    and channel bounds ``{"retailer|placement_type": [min, max]}`` (replacing the edited version's), the rest of
    the request copied, optimized in the background like any plan. The new version starts unreviewed (draft).
    Removing the floor drops the request's chance constraint, which is the probability of holding that floor.
    ``chance`` (with a floor): the probability of holding it, as on a new plan (0 or None: the floor on the expected
    ROAS only; DEFAULT: the default promise); left out, the edited version's (the default promise where it had no
    floor)."""
    if plan.status not in (AllocationPlan.Status.SUCCEEDED, AllocationPlan.Status.FAILED):
        raise DomainError(
            f"Plan #{plan.pk} is {plan.status}: wait until it is optimized before editing it.", field="status"
        )
    request = plan.request or {}
    min_roas = plan.min_roas if min_roas is _KEEP else min_roas
    no_floor = min_roas is None or min_roas == ""
    if no_floor:
        chance = None
    elif chance is _KEEP:
        # A floor added to a version that had none is a promise by default, as on a new plan.
        chance = request.get("chance") if plan.min_roas is not None else DEFAULT
    draft = _plan_build(
        tenant=plan.tenant,
        user=user,
        name=plan.name if name is _KEEP else name,
        budget=plan.budget if budget is _KEEP else budget,
        period_days=plan.period_days,
        min_roas=min_roas,
        roas_basis=plan.roas_basis,
        objective=plan.objective,
        bounds=request.get("bounds") if bounds is _KEEP else bounds,
        retailer_bounds=request.get("retailer_bounds"),
        exclude_channels=request.get("exclude_channels") or (),
        chance=chance,
        history_days=request.get("history_days"),
    )
    root_id = plan.root_id or plan.pk
    with transaction.atomic():
        # Locking the root serializes concurrent edits of one plan, so two never take the same version number.
        AllocationPlan.objects.select_for_update(of=("self",)).filter(pk=root_id).first()
        latest = AllocationPlan.objects.filter(Q(root_id=root_id) | Q(pk=root_id)).aggregate(v=Max("version"))["v"]
        draft.root_id, draft.parent, draft.version = root_id, plan, (latest or 0) + 1
        draft.created_by_key = api_key
        draft.save()
        _plan_queue(
            draft,
            action="allocation_plan.version",
            user=user,
            api_key=api_key,
            detail={"parent": plan.pk, "version": draft.version},
        )
    return draft


# --- export: only an approved plan ------------------------------------------------------------------------------

EXPORT_COLUMNS = ["plan", "version", "retailer", "placement_type", "currency", "period_days", "spend", "daily_spend"]


def plan_export_csv(*, plan: AllocationPlan, retailer: str | None = None) -> str:
    """The approved plan's spend per channel as CSV, one row per retailer × placement, for one retailer (what its
    console's bulk upload takes) or all. Refused (code ``not_approved``) unless the version is approved."""
    if plan.review_status != AllocationPlan.Review.APPROVED:
        raise DomainError(
            f"Plan #{plan.pk} v{plan.version} is {plan.get_review_status_display().lower()}: only an approved plan "
            "can be exported. Approve it on the plan page first.",
            field="review_status",
            code="not_approved",
        )
    rows = plan_export_rows(plan=plan)
    retailers = sorted({row["retailer"] for row in rows})
    if retailer:
        if retailer not in retailers:
            raise DomainError(
                f"retailer: the plan allocates nothing to {retailer!r}; its retailers are "
                f"{', '.join(retailers) or 'none'}.",
                field="retailer",
            )
        rows = [row for row in rows if row["retailer"] == retailer]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plan_export_rows(*, plan: AllocationPlan) -> list[dict]:
    """The plan's allocation rows as exported (spend with cents, daily spend = spend / period days)."""
    rows = []
    for a in sorted(
        (plan.result or {}).get("allocations") or [], key=lambda a: (a.get("retailer"), a.get("placement_type"))
    ):
        spend = Decimal(str(a.get("spend") or 0)).quantize(CENT)
        rows.append(
            {
                "plan": plan.root_id or plan.pk,
                "version": plan.version,
                "retailer": a.get("retailer"),
                "placement_type": a.get("placement_type"),
                "currency": plan.currency,
                "period_days": plan.period_days,
                "spend": spend,
                "daily_spend": (spend / plan.period_days).quantize(CENT),
            }
        )
    return rows


def plan_allocation_request(plan: AllocationPlan):
    """The engine's AllocationRequest for a stored plan."""
    from optimizer.engine.allocate import AllocationRequest

    request = plan.request or {}
    return AllocationRequest(
        budget=float(plan.budget),
        period_days=int(plan.period_days),
        min_roas=None if plan.min_roas is None else float(plan.min_roas),
        roas_basis=str(plan.roas_basis),
        objective=str(plan.objective),
        bounds={key: (float(low), float(high)) for key, (low, high) in (request.get("bounds") or {}).items()},
        retailer_bounds={
            key: (float(low), float(high)) for key, (low, high) in (request.get("retailer_bounds") or {}).items()
        },
        exclude_channels=frozenset(request.get("exclude_channels") or ()),
        chance=request.get("chance"),
    )


def plan_run(plan: AllocationPlan | int) -> AllocationPlan:
    """Optimize a stored plan on the tenant's data (the task's body). The result is the engine's
    AllocationResult.to_dict(); a request the engine refuses (infeasible floor, a channel whose spend never
    varied, ...) fails the plan with the engine's explanation. Only a pending plan runs; a worker that dies
    mid-run leaves it to the reaper (``reap_dead_plans``), and a failed plan can be run again (``plan_rerun``)."""
    given = plan if isinstance(plan, AllocationPlan) else None
    plan_id = plan.pk if given else plan
    claimed = _claim(plan_id)
    if claimed is None:  # finished, or running on another worker (a redelivered message): leave it alone
        return _fresh(given, plan_id)
    heartbeat = Heartbeat(
        lambda: _running().filter(pk=plan_id).update(heartbeat_at=timezone.now()),
        _setting("PLAN_HEARTBEAT_S", DEFAULT_HEARTBEAT_S),
        name=f"plan-{plan_id}-heartbeat",
    )
    heartbeat.start()
    try:
        _optimize(claimed)
    finally:
        heartbeat.stop()
    return _fresh(given, plan_id)


def _fresh(given: AllocationPlan | None, plan_id: int) -> AllocationPlan:
    """The plan as stored now; the caller's own instance, refreshed, when it passed one."""
    if given is None:
        return AllocationPlan.objects.select_related("tenant").get(pk=plan_id)
    given.refresh_from_db()
    return given


def _running():
    return AllocationPlan.objects.filter(status=AllocationPlan.Status.RUNNING)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _claim(plan_id: int) -> AllocationPlan | None:
    """Mark a pending plan running on this worker; None when it is not pending."""
    with transaction.atomic():
        plan = AllocationPlan.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=plan_id)
        if plan.status != AllocationPlan.Status.PENDING:
            return None
        plan.status, plan.worker = AllocationPlan.Status.RUNNING, worker_identity()
        plan.started_at = plan.heartbeat_at = timezone.now()
        plan.save(update_fields=["status", "worker", "started_at", "heartbeat_at"])
    return plan


def _optimize(plan: AllocationPlan) -> None:
    from optimizer.engine.errors import OptimizerInputError
    from optimizer.engine.pipeline import optimize_from_frames

    try:
        history, skus, lift = tenant_frames(plan.tenant, days=(plan.request or {}).get("history_days"))
        if history.empty:
            raise OptimizerInputError(
                f"{plan.tenant.name} has no performance history to learn response curves from.", field="history"
            )
        result = optimize_from_frames(
            history,
            skus,
            lift,
            plan_allocation_request(plan),
            samples=PLAN_SAMPLES,
            seed=PLAN_SEED,
            skip_unlearnable=True,
            forecast=_plan_forecast(plan, history, skus),
        )
        output = json_safe(result.to_dict())
        if result.curves:  # for the plan page's charts; the API's result serializer leaves them out
            output["curves"] = json_safe(result.curves)
        notices = list(result.notices)
        skipped = lift.attrs.get("skipped_other_currency", 0)
        if skipped:
            output.setdefault("warnings", []).append(
                f"{skipped} lift stud{'y' if skipped == 1 else 'ies'} in another currency than the history "
                f"({plan.currency}) did not inform the calibration."
            )
            notices.append(Notice(kind="lift_other_currency", severity=INFO, text=output["warnings"][-1]))
        notices = plan_notices(plan, output, notices)
        output["notices"] = json_safe([n.to_dict() for n in notices])
    except OptimizerInputError as exc:
        _plan_finish(plan, status=AllocationPlan.Status.FAILED, error=exc.message or str(exc))
    except Exception as exc:
        _plan_finish(plan, status=AllocationPlan.Status.FAILED, error=f"internal error ({type(exc).__name__}): {exc}")
        raise
    else:
        _plan_finish(plan, status=AllocationPlan.Status.SUCCEEDED, result=output, outcome=notices_outcome(notices))


def plan_notices(plan: AllocationPlan, output: dict, notices: list[Notice]) -> list[Notice]:
    """A finished plan's notices, ranked: the engine's, the unspent budget (once) and a period that differs from
    the one its objective text names."""
    extra = [
        unspent_notice(output),
        period_notice(objective_days=objective_period_days(plan.name), plan_days=plan.period_days),
    ]
    return ranked([*notices, *(n for n in extra if n is not None)])


def _plan_forecast(plan: AllocationPlan, history, skus):
    """Stock-out and exclusion adjustments for a tenant plan (optimizer.engine.forecast).

    Stock comes from ``SKU.stock_units`` when the tenant tracks stock (some active SKU has units on hand; a tenant
    whose SKUs all show 0 has not entered stock, and nothing is excluded for it). SKUs likely to stock out within
    the plan's period, and SKUs the request excludes, stop counting as sellable."""
    from optimizer.engine.forecast import allocator_adjustments

    excluded = [str(s) for s in (plan.request or {}).get("exclude_skus") or ()]
    stock = dict(SKU.objects.filter(tenant=plan.tenant, is_active=True).values_list("sku_code", "stock_units"))
    tracked = any(units > 0 for units in stock.values())
    if (not tracked and not excluded) or history.empty or skus is None or skus.empty:
        return None
    known = set(skus["sku_id"].astype(str))
    stock = {code: float(units) for code, units in stock.items() if code in known} if tracked else None
    return allocator_adjustments(history, skus, stock=stock, excluded_skus=excluded, horizon_days=plan.period_days)


def _plan_finish(
    plan: AllocationPlan, *, status: str, error: str = "", result: dict | None = None, outcome: str = ""
) -> None:
    plan.status = status
    plan.error = error
    plan.result = result or {}
    plan.outcome = AllocationPlan.Outcome.FAILED if status == AllocationPlan.Status.FAILED else outcome
    plan.finished_at = timezone.now()
    with transaction.atomic():
        plan.save(update_fields=["status", "error", "result", "outcome", "finished_at"])
        audit_record(
            action="allocation_plan.finish",
            tenant=plan.tenant,
            actor_label="optimizer",
            obj=plan,
            detail={"status": status, "outcome": plan.outcome, "error": error[:500]},
        )


# --- lost work: the reaper and re-runs ----------------------------------------------------------------------------


def reap_dead_plans(*, stale_after_s: float | None = None) -> int:
    """Fail running plans whose worker stopped (no heartbeat for PLAN_STALE_AFTER_S, 120 s, or its process is gone
    from this host after two missed beats); return how many. Safe to run anywhere at any time (beat: every 60 s)."""
    if stale_after_s is None:
        stale_after_s = _setting("PLAN_STALE_AFTER_S", DEFAULT_STALE_AFTER_S)
    beat_s = _setting("PLAN_HEARTBEAT_S", DEFAULT_HEARTBEAT_S)
    reaped = 0
    for plan_id, _, heartbeat_at in stale(_running(), stale_after_s=stale_after_s, heartbeat_s=beat_s):
        with transaction.atomic():
            plan = AllocationPlan.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=plan_id)
            if plan.status != AllocationPlan.Status.RUNNING or plan.heartbeat_at != heartbeat_at:
                continue  # finished, or beat again, since the query
            silent_s = (timezone.now() - plan.heartbeat_at).total_seconds()
            plan.status, plan.finished_at = AllocationPlan.Status.FAILED, timezone.now()
            plan.outcome = AllocationPlan.Outcome.FAILED
            plan.error = (
                f"The optimizer's worker {plan.worker or '(unknown)'} stopped while optimizing (it died or was "
                f"stopped): nothing heard for {silent_s:.0f} s. Run the plan again."
            )
            plan.save(update_fields=["status", "finished_at", "error", "outcome"])
            audit_record(action="allocation_plan.reap", tenant=plan.tenant, obj=plan, detail={"worker": plan.worker})
        reaped += 1
    return reaped


def plan_rerun(*, plan: AllocationPlan, user=None, api_key=None) -> AllocationPlan:
    """Optimize a failed plan again with the same request, on the tenant's data as it is now."""
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        plan = AllocationPlan.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=plan.pk)
        if plan.status != AllocationPlan.Status.FAILED:
            raise DomainError(f"Plan #{plan.pk} is {plan.status}: only a failed plan can be run again.", field="status")
        plan.status, plan.error, plan.result, plan.outcome = AllocationPlan.Status.PENDING, "", {}, ""
        plan.task_id, plan.worker = task_id, ""
        plan.started_at = plan.finished_at = plan.heartbeat_at = None
        plan.save()
        audit_record(action="allocation_plan.rerun", tenant=plan.tenant, user=user, api_key=api_key, obj=plan)
        transaction.on_commit(lambda: plan_run_task.apply_async((plan.pk,), task_id=task_id))
    return plan
