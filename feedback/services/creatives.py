"""Creatives: a marketer's brief, variants written on the inference queue through the tenant's composed adapters,
each verified against the retailer's policy at serve time and repaired (feedback.engine.creative); compliant ones
are queued for review, the rest kept ``rejected`` with their reasons. Then approval, going live, and the export per
retailer.

The one seam for tests: ``settings.CREATIVE_SCRIPT`` (or the environment variable ``RMN_CREATIVE_SCRIPT``) names a
JSON file holding a list of model answers; while it is set, each generation of a brief returns the next answer of
the list (from the first, for every brief; "" once the list runs out) instead of calling the runtime. Nothing else
changes: the prompts, the checks and the repairs are the real ones.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.models import SKU, Brand, Retailer
from core.errors import LIMIT_REACHED, DomainError
from core.liveness import Heartbeat, stale, worker_identity
from feedback.engine.creative import BriefText, variant_messages, write_variant
from feedback.models import Creative, CreativeBrief, CreativeEvent
from feedback.services.queue import queue_creative_pairs, queue_creatives
from feedback.tasks import creative_brief_run as creative_brief_run_task
from governance.models import Tenant
from governance.privacy import PIITally, pii_scrub_text
from governance.selectors import tenant_limits
from governance.services import audit_record
from ml.engine.policy import export_columns
from ml.models import GenerationRequest
from ml.selectors import adapter_active

logger = logging.getLogger(__name__)

CREATIVE_ADAPTER = "task_creative"
MAX_VARIANTS = 12
MAX_SKUS = 20
DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_STALE_AFTER_S = 15 * 60.0
# The model's lengths, so that an overlong answer is stored (cut) rather than failing the brief.
_FIELD_LIMITS = {"headline": 500, "body": 100_000, "cta": 200, "disclosure": 500}

# Which status a creative may move to from each status (rejected is final: a rejected variant is a kept negative).
TRANSITIONS = {
    Creative.Status.DRAFT: {Creative.Status.REJECTED},
    Creative.Status.IN_REVIEW: {Creative.Status.APPROVED, Creative.Status.REJECTED},
    Creative.Status.APPROVED: {Creative.Status.LIVE, Creative.Status.REJECTED},
    Creative.Status.LIVE: {Creative.Status.APPROVED, Creative.Status.REJECTED},
    Creative.Status.REJECTED: set(),
}


# --- Reads -----------------------------------------------------------------------------------------------------------


def brief_list(*, tenant: Tenant) -> QuerySet[CreativeBrief]:
    return CreativeBrief.objects.filter(tenant=tenant).select_related("retailer", "brand")


def brief_get(*, tenant: Tenant, pk: int) -> CreativeBrief:
    """CreativeBrief.DoesNotExist for another tenant's brief, as for one that does not exist."""
    return brief_list(tenant=tenant).get(pk=pk)


def creative_list(*, tenant: Tenant) -> QuerySet[Creative]:
    return Creative.objects.filter(tenant=tenant).select_related("retailer", "brief", "brief__brand")


def creative_get(*, tenant: Tenant, pk: int) -> Creative:
    return creative_list(tenant=tenant).get(pk=pk)


def creative_adapters(*, tenant: Tenant, retailer: Retailer) -> list[str]:
    """The adapters composed for the tenant's creatives at this retailer: retailer + brand + task_creative, those of
    them with an active version the tenant may use on this base model (none: the base model alone)."""
    names = [f"retailer_{retailer.code}", f"brand_{tenant.slug.replace('-', '_')}", CREATIVE_ADAPTER]
    base = str(settings.BASE_MODEL)
    return [n for n in names if (a := adapter_active(n, tenant)) is not None and a.base_model == base]


def creatives_export_csv(*, tenant: Tenant, retailer: Retailer | None) -> str:
    """The tenant's approved (and live) creatives for ``retailer`` as CSV in the retailer's layout
    (``policy_specs["export_columns"]``). Without a retailer: every retailer's, with a ``retailer`` column and the
    fields under their own names."""
    columns = export_columns(retailer.policy_specs or {}) if retailer else export_columns({})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["creative_id", *([] if retailer else ["retailer"]), *columns.values()])
    rows = creative_list(tenant=tenant).filter(
        status__in=[Creative.Status.APPROVED, Creative.Status.LIVE], compliant=True
    )
    if retailer is not None:
        rows = rows.filter(retailer=retailer)
    for creative in rows.order_by("pk"):
        first = [creative.pk] if retailer else [creative.pk, creative.retailer.code]
        writer.writerow([*first, *(getattr(creative, name) for name in columns)])
    return out.getvalue()


# --- Writes ----------------------------------------------------------------------------------------------------------


def _text(value, *, field: str, max_length: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise DomainError(f"Say what the copy should achieve ({field} is empty).", field=field)
    if len(text) > max_length:
        raise DomainError(f"{field} is {len(text)} characters; at most {max_length}.", field=field)
    return text


def _retailer(value) -> Retailer:
    retailer = value if isinstance(value, Retailer) else Retailer.objects.filter(code=str(value or "")).first()
    if retailer is None or not retailer.is_active:
        raise DomainError(f"No active retailer {getattr(value, 'code', value)!r}.", field="retailer")
    return retailer


def _brand(tenant: Tenant, value) -> Brand:
    pk = value.pk if isinstance(value, Brand) else value
    try:
        return Brand.objects.get(tenant=tenant, pk=int(pk))
    except (Brand.DoesNotExist, TypeError, ValueError):
        raise DomainError(f"No brand #{pk} in {tenant.name}.", field="brand") from None


def _skus(tenant: Tenant, brand: Brand, values) -> list[SKU]:
    if values is None or isinstance(values, str | bytes):
        raise DomainError("skus must be a list of the brand's SKUs.", field="skus")
    pks = []
    for value in values:
        pk = value.pk if isinstance(value, SKU) else value
        try:
            pks.append(int(pk))
        except (TypeError, ValueError):
            raise DomainError(f"{pk!r} is not a SKU id.", field="skus") from None
    if not pks:
        raise DomainError(f"Pick at least one SKU of {brand.name}.", field="skus")
    if len(pks) > MAX_SKUS:
        raise DomainError(f"At most {MAX_SKUS} SKUs in one brief, not {len(pks)}.", field="skus")
    found = {s.pk: s for s in SKU.objects.filter(tenant=tenant, pk__in=pks)}
    for pk in pks:
        if pk not in found:
            raise DomainError(f"No SKU #{pk} in {tenant.name}.", field="skus")
        if found[pk].brand_id != brand.pk:
            raise DomainError(f"SKU {found[pk].sku_code} is not a {brand.name} product.", field="skus")
    return [found[pk] for pk in dict.fromkeys(pks)]


QUOTA_WINDOW = timedelta(hours=24)


def _check_generation_quota(tenant: Tenant, variants: int) -> None:
    """A brief's variants count against the tenant's generations a day (governance limits), with the generations
    asked for through Try it, the plans page and the API: each variant is at least one generation of the model."""
    limits = tenant_limits(tenant)
    per_day = limits.generations_per_day
    since = timezone.now() - QUOTA_WINDOW
    asked = GenerationRequest.objects.filter(tenant=tenant, created_at__gte=since).count() + sum(
        variants * takes
        for variants, takes in CreativeBrief.objects.filter(tenant=tenant, created_at__gte=since).values_list(
            "variants_requested", "takes"
        )
    )
    if asked + variants <= per_day:
        return
    raise DomainError(
        f"{tenant.name} asked for {asked:,} generation{'' if asked == 1 else 's'} (creative variants included) in the "
        f"last 24 hours; {variants:,} more would pass the limit of {per_day:,} a day "
        f"({limits.why('generations_per_day')}). Ask for fewer variants or wait.",
        field="variants",
        code=LIMIT_REACHED,
        retry_after=3600,
    )


def creative_brief_create(
    *,
    tenant: Tenant,
    user,
    retailer,
    brand,
    skus,
    goal: str,
    tone: str = "",
    promotion: str = "",
    variants: int = 4,
    takes: int = 1,
    api_key=None,
    enqueue: bool = True,
) -> CreativeBrief:
    """Store a brief and queue its writing on the inference queue. Everything is checked up front (a DomainError
    naming the field): the retailer, the brand and SKUs of this tenant (each SKU of that brand), the texts, the
    number of variants (1 to 12) and of takes (1, or 2 for A/B pairs: a second, sampled answer to each variant's
    prompt, compared side by side by reviewers)."""
    retailer = _retailer(retailer)
    brand = _brand(tenant, brand)
    sku_rows = _skus(tenant, brand, skus)
    goal = _text(goal, field="goal", max_length=200, required=True)
    tone = _text(tone, field="tone", max_length=100)
    promotion = _text(promotion, field="promotion", max_length=200)
    pii = PIITally(source="feedback.creative_brief", tenant=tenant, user=user, api_key=api_key)
    goal, tone, promotion = (pii.scrub(text) for text in (goal, tone, promotion))
    if isinstance(variants, bool) or not isinstance(variants, int) or not 1 <= variants <= MAX_VARIANTS:
        raise DomainError(f"variants is a whole number from 1 to {MAX_VARIANTS}, not {variants!r}.", field="variants")
    if isinstance(takes, bool) or takes not in (1, 2):
        raise DomainError(f"takes is 1 (one answer a variant) or 2 (A/B pairs), not {takes!r}.", field="takes")
    _check_generation_quota(tenant, variants * takes)
    adapters = creative_adapters(tenant=tenant, retailer=retailer)
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        pii.record()
        brief = CreativeBrief.objects.create(
            tenant=tenant,
            retailer=retailer,
            brand=brand,
            goal=goal,
            tone=tone,
            promotion=promotion,
            variants_requested=variants,
            takes=takes,
            adapters=adapters,
            policy=dict(retailer.policy_specs or {}),
            progress={"done": 0, "total": variants * takes},
            task_id=task_id,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        brief.skus.set(sku_rows)
        audit_record(
            action="creative_brief.create",
            tenant=tenant,
            user=user,
            api_key=api_key,
            obj=brief,
            detail={"retailer": retailer.code, "variants": variants, "takes": takes, "adapters": adapters},
        )
        if enqueue:
            transaction.on_commit(
                lambda: creative_brief_run_task.apply_async((brief.pk,), task_id=task_id, queue="inference")
            )
    return brief


def _script_generator() -> Callable[[list[dict]], str] | None:
    path = getattr(settings, "CREATIVE_SCRIPT", None) or os.environ.get("RMN_CREATIVE_SCRIPT")
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return _answers_generator(json.load(f))


def _answers_generator(answers) -> Callable[[list[dict]], str]:
    remaining = iter([str(a) for a in answers])
    return lambda messages: next(remaining, "")


DEFAULT_SECOND_TAKE_TEMPERATURE = 0.8


def _model_generator(brief: CreativeBrief, *, take: int = 1, variant: int = 1) -> Callable[[list[dict]], str]:
    """The model's answer: greedy for a variant's first take; sampled for the second (temperature
    ``CREATIVE_SECOND_TAKE_TEMPERATURE``, 0.8 by default; seeded by the brief, variant and attempt so a rerun
    writes the same), so the two takes of one prompt can differ."""
    from ml.engine.runtime import Sampling
    from ml.inference import DEFAULT_MAX_NEW_TOKENS, generate

    max_new = int(getattr(settings, "GENERATION_MAX_NEW_TOKENS", DEFAULT_MAX_NEW_TOKENS))
    temperature = float(getattr(settings, "CREATIVE_SECOND_TAKE_TEMPERATURE", DEFAULT_SECOND_TAKE_TEMPERATURE))
    attempts = itertools.count()  # the first answer, then each regeneration of a repair

    def answer(messages: list[dict]) -> str:
        sampling = None
        if take > 1:
            sampling = Sampling(temperature, seed=(brief.pk * 100 + variant) * 10 + next(attempts))
        # ml.inference.generate authorizes the composition for the tenant on every call.
        return generate(
            tenant=brief.tenant, adapters=list(brief.adapters), prompts=[messages], max_new_tokens=max_new,
            sampling=sampling,
        )[0]  # fmt: skip

    return answer


def _adapter_versions(brief: CreativeBrief) -> list[dict]:
    from ml.selectors import authorize_composition

    rows = authorize_composition(brief.tenant, list(brief.adapters), base_model=str(settings.BASE_MODEL))
    return [{"name": a.name, "version": a.version, "kind": a.kind} for a in rows]


def _claim(brief_id: int) -> CreativeBrief | None:
    with transaction.atomic():
        brief = (
            CreativeBrief.objects.select_for_update(of=("self",))
            .select_related("tenant", "retailer", "brand")
            .get(pk=brief_id)
        )
        if brief.status != CreativeBrief.Status.QUEUED:
            return None
        brief.status, brief.worker, brief.heartbeat_at = CreativeBrief.Status.RUNNING, worker_identity(), timezone.now()
        brief.save(update_fields=["status", "worker", "heartbeat_at"])
    return brief


def creative_brief_run(brief_id: int, *, answers: list[str] | None = None, source: str = "") -> CreativeBrief:
    """Write the brief's variants (the task's body): each generated, verified and repaired, stored as a Creative
    (compliant or rejected with its reasons), progress counted; then the compliant ones are queued for review.

    ``answers`` (the demo's sample copy) stand in for the model's answers, in order, and ``source`` says where they
    came from (kept in each creative's verification and shown on the page); the checks and repairs are the same."""
    brief = _claim(brief_id)
    if brief is None:  # finished, or running elsewhere (a redelivered message)
        return CreativeBrief.objects.get(pk=brief_id)
    heartbeat = Heartbeat(
        lambda: CreativeBrief.objects.filter(pk=brief_id, status=CreativeBrief.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        ),
        float(getattr(settings, "CREATIVE_HEARTBEAT_S", DEFAULT_HEARTBEAT_S)),
        name=f"brief-{brief_id}-heartbeat",
    )
    heartbeat.start()
    try:
        _write_variants(brief, answers=answers, source=source)
    except DomainError as exc:
        _finish(brief, status=CreativeBrief.Status.FAILED, error=exc.message)
    except Exception as exc:
        logger.exception("Creative brief %s failed", brief_id)
        _finish(brief, status=CreativeBrief.Status.FAILED, error=f"Writing failed: {type(exc).__name__}: {exc}")
    else:
        _finish(brief, status=CreativeBrief.Status.SUCCEEDED, error="")
    finally:
        heartbeat.stop()
    brief.refresh_from_db()
    return brief


def _write_variants(brief: CreativeBrief, *, answers: list[str] | None, source: str) -> None:
    policy = dict(brief.policy or {})
    versions = _adapter_versions(brief)  # refused here when the tenant lost access since the brief was made
    if answers is not None:
        given, source = _answers_generator(answers), source or "given answers"
    elif (scripted := _script_generator()) is not None:
        given, source = scripted, "test script (CREATIVE_SCRIPT)"
    else:
        given, source = None, "model"
    versions_shown = versions if source == "model" else []  # no model wrote it: no adapter version is credited
    # Whoever wrote the answer (the model, whose runtime already redacts, a script, given answers), it is stored and
    # shown without personal data.
    pii = PIITally(source="feedback.creative", tenant=brief.tenant, obj=brief)

    def writer(variant: int, take: int) -> Callable[[list[dict]], str]:
        write = given or _model_generator(brief, take=take, variant=variant)
        return lambda messages: pii.scrub(write(messages))

    text = BriefText(
        retailer=brief.retailer.name,
        brand=brief.brand.name,
        products=list(brief.skus.order_by("pk").values_list("name", flat=True)),
        goal=brief.goal,
        tone=brief.tone,
        promotion=brief.promotion,
    )
    takes = brief.takes or 1
    total = brief.variants_requested * takes
    order = [(v, t) for v in range(1, brief.variants_requested + 1) for t in range(1, takes + 1)]
    for done, (variant, take) in enumerate(order, start=1):
        result = write_variant(variant_messages(text, policy, variant), policy, writer(variant, take))
        with transaction.atomic():
            creative = Creative.objects.create(
                tenant=brief.tenant,
                brief=brief,
                retailer=brief.retailer,
                variant=variant,
                take=take,
                **{name: result.copy.get(name, "")[:limit] for name, limit in _FIELD_LIMITS.items()},
                prompt=result.messages,
                raw_output=result.raw_output,
                adapter_versions=versions_shown,
                verification={**result.verification(policy), "source": source},
                compliant=result.compliant,
                repaired=result.repaired,
                status=Creative.Status.DRAFT if result.compliant else Creative.Status.REJECTED,
            )
            CreativeEvent.objects.create(
                creative=creative,
                to_status=creative.status,
                note=_written_note(result),
            )
            CreativeBrief.objects.filter(pk=brief.pk).update(
                progress={"done": done, "total": total}, heartbeat_at=timezone.now()
            )
    pii.record()
    drafts = brief.creatives.filter(status=Creative.Status.DRAFT, compliant=True)
    if takes > 1:
        queue_creative_pairs(creatives=drafts)
    else:
        queue_creatives(creatives=drafts)


def _written_note(result) -> str:
    if not result.compliant:
        reasons = "; ".join(v["reason"] for v in result.violations)
        return f"Written and rejected by the policy check: {reasons}"
    if result.repairs:
        steps = ", ".join("regenerated" if r["step"] == "regenerate" else "rule edits" for r in result.repairs)
        return f"Written, repaired ({steps}), compliant."
    return "Written, compliant at the first check."


def _finish(brief: CreativeBrief, *, status: str, error: str) -> None:
    CreativeBrief.objects.filter(pk=brief.pk).update(status=status, error=error, finished_at=timezone.now())


def creative_briefs_reap() -> int:
    """Fail running briefs whose worker stopped (no heartbeat): the variants written so far stay."""
    running = CreativeBrief.objects.filter(status=CreativeBrief.Status.RUNNING)
    heartbeat_s = float(getattr(settings, "CREATIVE_HEARTBEAT_S", DEFAULT_HEARTBEAT_S))
    stale_after = float(getattr(settings, "CREATIVE_STALE_AFTER_S", DEFAULT_STALE_AFTER_S))
    failed = 0
    for pk, worker, beat in stale(running, stale_after_s=stale_after, heartbeat_s=heartbeat_s):
        failed += running.filter(pk=pk, heartbeat_at=beat).update(
            status=CreativeBrief.Status.FAILED,
            error=f"The worker {worker} stopped while writing (no heartbeat since {beat:%H:%M:%S} UTC).",
            finished_at=timezone.now(),
        )
    return failed


def creative_status_change(*, creative: Creative, to_status: str, user=None, api_key=None, note: str = "") -> Creative:
    """Move a creative along draft/in review -> approved -> live (or rejected), with a history event. Only a
    compliant creative can be approved or go live; a rejected one stays rejected."""
    allowed = TRANSITIONS.get(creative.status, set())
    if to_status not in Creative.Status.values:
        raise DomainError(f"status must be one of {', '.join(Creative.Status.values)}.", field="status")
    if to_status in (Creative.Status.APPROVED, Creative.Status.LIVE) and not creative.compliant:
        raise DomainError("This creative failed the retailer policy check; it cannot be approved.", field="status")
    if to_status not in allowed:
        raise DomainError(
            f"A creative that is {creative.get_status_display().lower()} cannot become "
            f"{Creative.Status(to_status).label.lower()}.",
            field="status",
        )
    note = str(note or "").strip()[:2000]
    with transaction.atomic():
        note = pii_scrub_text(text=note, source="feedback.creative_note", tenant=creative.tenant, user=user,
                              api_key=api_key, obj=creative)  # fmt: skip
        CreativeEvent.objects.create(
            creative=creative,
            from_status=creative.status,
            to_status=to_status,
            actor=user if getattr(user, "is_authenticated", False) else None,
            note=note or (f"by API key {api_key.prefix}" if api_key is not None else ""),
        )
        creative.status = to_status
        creative.save(update_fields=["status", "updated_at"])
        audit_record(
            action="creative.status", tenant=creative.tenant, user=user, api_key=api_key, obj=creative,
            detail={"to": to_status},
        )  # fmt: skip
    return creative


def creative_brief_repeat(*, brief: CreativeBrief, user=None, enqueue: bool = True) -> CreativeBrief:
    """The same brief asked for again, written with the adapters active now."""
    return creative_brief_create(
        tenant=brief.tenant,
        user=user,
        retailer=brief.retailer,
        brand=brief.brand,
        skus=list(brief.skus.values_list("pk", flat=True)),
        goal=brief.goal,
        tone=brief.tone,
        promotion=brief.promotion,
        variants=brief.variants_requested,
        takes=brief.takes,
        enqueue=enqueue,
    )


def creative_briefs_on_promotion(*, adapter, enqueue: bool = True) -> list[CreativeBrief]:
    """A new active version of an adapter that writes creatives (task_creative, a retailer's or a brand's): each
    tenant that composes it gets its latest finished brief written again with it, so new copy from the new version
    reaches the review queue (and reviewers can compare versions)."""
    if adapter.status != "active" or not (
        adapter.name == CREATIVE_ADAPTER or adapter.name.startswith(("retailer_", "brand_"))
    ):
        return []
    tenants = [adapter.tenant] if adapter.tenant_id else Tenant.objects.filter(creative_briefs__isnull=False).distinct()
    repeated = []
    for tenant in tenants:
        latest = brief_list(tenant=tenant).filter(status=CreativeBrief.Status.SUCCEEDED).first()
        if latest is None or adapter.name not in creative_adapters(tenant=tenant, retailer=latest.retailer):
            continue
        repeated.append(creative_brief_repeat(brief=latest, enqueue=enqueue))
    return repeated
