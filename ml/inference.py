"""Generation for tenants: the Django side of the LoRA runtime (ml/runtime.py).

Every call authorizes the composition against the requesting tenant (ml.selectors.authorize_composition) before the
runtime is touched, also when the runtime already holds the adapters or their merge in its cache: the cache is keyed
by adapter versions, and only the registry says who may use them. Registry rows become runtime keys
``name@<tenant slug or shared>@v<version>``, one per version, so a promotion or rollback is served at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import LIMIT_REACHED, DomainError
from governance.limits import Limits
from governance.models import Tenant
from governance.privacy import PIITally, pii_scope
from governance.selectors import tenant_limits
from governance.services import audit_record
from ml.engine.prompts import TASKS, parse_answer, task_messages
from ml.engine.runtime import AdapterRef, Composition, CompositionError, LoRARuntime, Sampling
from ml.models import Adapter, GenerationRequest
from ml.selectors import AdapterForbidden, authorize_composition
from ml.tasks import generate_request

logger = logging.getLogger(__name__)

MESSAGE_ROLES = ("system", "user", "assistant")
DEFAULT_MAX_NEW_TOKENS = 256
MAX_NEW_TOKENS_LIMIT = 2048
DEFAULT_CACHE_BYTES = 256 * 2**20
DEFAULT_MAX_MESSAGES = 20
DEFAULT_PROMPT_CHARS = 8000
QUOTA_WINDOW = timedelta(hours=24)

_runtime_lock = threading.Lock()
_runtime: LoRARuntime | None = None
_runtime_config: tuple | None = None


def _runtime_settings() -> tuple:
    return (
        str(settings.BASE_MODEL),
        int(getattr(settings, "LORA_CACHE_BYTES", DEFAULT_CACHE_BYTES)),
        getattr(settings, "LORA_ADAPTER_CACHE_BYTES", None),
        getattr(settings, "BASE_MODEL_DTYPE", None),  # e.g. "bfloat16" on GPU workers; None: as transformers loads it
    )


def get_runtime() -> LoRARuntime:
    """The process's runtime on settings.BASE_MODEL (built on first use; rebuilt when the settings change)."""
    global _runtime, _runtime_config
    config = _runtime_settings()
    with _runtime_lock:
        if _runtime is None or _runtime_config != config:
            base_model, cache_bytes, adapter_cache_bytes, dtype = config
            path = Path(base_model)
            if path.is_absolute() and not path.exists():
                from ml.engine.base import BaseModelError

                raise BaseModelError(
                    f"The base model folder {path} does not exist: run `python manage.py prepare_base_model` "
                    "(or point RMN_BASE_MODEL at a local model)."
                )
            _runtime = LoRARuntime(
                base_model, cache_bytes=cache_bytes, adapter_cache_bytes=adapter_cache_bytes, dtype=dtype
            )
            _runtime_config = config
        return _runtime


def reset_runtime() -> None:
    """Forget the process's runtime (tests; a worker that must drop every loaded adapter)."""
    global _runtime, _runtime_config
    with _runtime_lock:
        _runtime, _runtime_config = None, None


def preload_active_adapters() -> list[str]:
    """Load every active adapter trained on settings.BASE_MODEL into the process runtime (most recently promoted
    last, so that a bounded adapter cache keeps those); return their keys. For worker start-up, so that the first
    requests do not pay the cold loads. Loading is not using: every request is still authorized."""
    runtime = get_runtime()
    keys = []
    active = Adapter.objects.filter(status=Adapter.Status.ACTIVE, base_model=str(settings.BASE_MODEL))
    for adapter in active.select_related("tenant").order_by("promoted_at", "pk"):
        ref = adapter_ref(adapter)
        try:
            runtime.ensure_loaded(ref)
        except (OSError, RuntimeError) as exc:  # a missing or broken folder must not stop the worker
            logger.warning("Could not preload adapter %s: %s", ref.key, exc)
            continue
        keys.append(ref.key)
    return keys


def adapter_ref(adapter: Adapter) -> AdapterRef:
    owner = adapter.tenant.slug if adapter.tenant_id else "shared"
    return AdapterRef(key=f"{adapter.name}@{owner}@v{adapter.version}", path=adapter.files_dir)


def _adapter_names(adapters) -> list[str]:
    if isinstance(adapters, str) or not isinstance(adapters, Sequence):
        raise DomainError("adapters must be a list of adapter names.", field="adapters")
    if not all(isinstance(name, str) and name for name in adapters):
        raise DomainError("Every adapter name must be a non-empty string.", field="adapters")
    return list(adapters)


def _check_composition(names: Sequence[str], mode: str, weights, density: float = 0.5) -> None:
    """The shape of a composition (mode, weights, density), checked before the registry is asked about names."""
    try:
        Composition(tuple(names), mode, tuple(weights) if weights is not None else None, density)
    except CompositionError as exc:
        raise DomainError(str(exc), field=exc.field) from None
    except TypeError:
        raise DomainError("weights must be a list of numbers, one per adapter.", field="weights") from None


def _check_messages(messages, *, field: str) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise DomainError("A conversation is a non-empty list of {role, content} messages.", field=field)
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in MESSAGE_ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise DomainError(
                f"Message {i + 1} must be {{'role': {' | '.join(MESSAGE_ROLES)}, 'content': text}}.", field=field
            )
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _check_prompts(prompts) -> list:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise DomainError("prompts must be a non-empty list of texts or conversations.", field="prompts")
    return [p if isinstance(p, str) else _check_messages(p, field="prompts") for p in prompts]


def generate(
    *,
    tenant: Tenant | None,
    adapters: Sequence[str],
    prompts: Sequence[list[dict] | str],
    mode: str = "stack",
    weights: Sequence[float] | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    density: float = 0.5,
    sampling: Sampling | None = None,
) -> list[str]:
    """Greedy answers (sampled with ``sampling``) for ``tenant`` with the named adapters composed. AdapterForbidden
    when the tenant may not use one of them (checked on every call); DomainError naming the field for any other bad
    input."""
    names = _adapter_names(adapters)
    _check_composition(names, mode, weights, density)
    prompts = _check_prompts(prompts)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise DomainError("max_new_tokens must be a positive integer.", field="max_new_tokens")
    if max_new_tokens > MAX_NEW_TOKENS_LIMIT:
        raise DomainError(f"max_new_tokens is at most {MAX_NEW_TOKENS_LIMIT}.", field="max_new_tokens")
    rows = authorize_composition(tenant, names, base_model=str(settings.BASE_MODEL))
    runtime = get_runtime()
    refs = [adapter_ref(a) for a in rows]
    for ref in refs:
        runtime.ensure_loaded(ref)
    composition = (
        Composition(tuple(r.key for r in refs), mode, tuple(weights) if weights is not None else None, density)
        if refs
        else None
    )
    # The runtime's guard redacts every prompt text and every answer (governance.privacy.runtime_text_guard); the
    # scope counts what it found for this tenant, and the generation itself is an audit entry.
    with pii_scope(source="ml.generate", tenant=tenant) as tally:
        try:
            outputs = runtime.generate(prompts, composition, max_new_tokens=max_new_tokens, sampling=sampling)
        except CompositionError as exc:
            raise DomainError(str(exc), field=exc.field) from None
    audit_record(
        action="ml.generate",
        tenant=tenant,
        detail={"adapters": names, "mode": mode, "prompts": len(prompts), "max_new_tokens": max_new_tokens,
                "sampled": sampling is not None, "pii": dict(sorted(tally.counts.items()))},
    )  # fmt: skip
    return outputs


def generate_for_tenant_id(tenant_id: int | None, **kwargs) -> list[str]:
    """``generate`` for a tenant given by id (Celery tasks take ids); None: shared adapters only."""
    tenant = None
    if tenant_id is not None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            raise DomainError(f"Tenant #{tenant_id} does not exist.", field="tenant")
    return generate(tenant=tenant, **kwargs)


def _conversation(task: str, prompt) -> list[dict]:
    """Chat messages for a stored prompt: messages as given, a text as one user message, a payload through the
    task's template (ml.engine.prompts.task_messages)."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise DomainError("The prompt is empty.", field="payload")
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list):
        return _check_messages(prompt, field="payload")
    if isinstance(prompt, dict):
        if not task:
            raise DomainError("A payload needs a task: say which task it is for.", field="task")
        try:
            return task_messages(task, prompt)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DomainError(f"payload: {exc}", field="payload") from None
    raise DomainError("payload must be a task payload (object), a text or a list of messages.", field="payload")


def _parse(task: str, text: str) -> dict | None:
    if not task:
        return None
    try:
        return parse_answer(task, text)
    except Exception:  # a parser bug must not fail a generation that succeeded
        logger.exception("parse_answer failed for task %s", task)
        return None


def _texts(prompt) -> Iterator[tuple[str, str]]:
    """Every text of a stored prompt with where it is: ("payload", text), ("message 2", content), ("payload.brief",
    text), ... (iterative: a deeply nested payload is no recursion)."""
    stack: list[tuple[str, object]] = [("payload", prompt)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            stack.extend((f"{where}.{key}", value) for key, value in node.items())
        elif isinstance(node, list):
            is_chat = where == "payload" and all(isinstance(m, dict) and "content" in m for m in node)
            stack.extend(
                (f"message {i + 1}" if is_chat else f"{where}[{i}]", m.get("content") if is_chat else m)
                for i, m in enumerate(node)
            )


def _check_prompt_size(prompt, *, limits: Limits) -> None:
    """A prompt's size within bounds before anything else reads it: every text (a prompt text, a payload's text
    values, a message's content) at most the tenant's generation_text_chars (1,000 by default, as the plans page),
    at most GENERATION_MAX_MESSAGES messages, at most GENERATION_PROMPT_CHARS characters in all (written as JSON)."""
    max_messages = int(getattr(settings, "GENERATION_MAX_MESSAGES", DEFAULT_MAX_MESSAGES))
    max_chars = int(getattr(settings, "GENERATION_PROMPT_CHARS", DEFAULT_PROMPT_CHARS))
    if isinstance(prompt, list) and len(prompt) > max_messages:
        raise DomainError(f"The conversation has {len(prompt):,} messages; at most {max_messages:,}.", field="payload")
    try:
        size = len(prompt) if isinstance(prompt, str) else len(json.dumps(prompt, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        raise DomainError("payload must be JSON text, objects and lists, nested at most a few levels.",
                          field="payload") from None  # fmt: skip
    limit = limits.generation_text_chars
    for where, text in _texts(prompt):
        if len(text) > limit:
            raise DomainError(
                f"The text of {where} is {len(text):,} characters; at most {limit:,} "
                f"({limits.why('generation_text_chars')}).",
                field="payload",
            )
    if size > max_chars:
        raise DomainError(
            f"The prompt is {size:,} characters in all (as JSON); at most {max_chars:,}.", field="payload"
        )


def _check_generation_quota(tenant: Tenant, *, limits: Limits) -> None:
    per_day = limits.generations_per_day
    now = timezone.now()
    recent = GenerationRequest.objects.filter(tenant=tenant, created_at__gte=now - QUOTA_WINDOW)
    asked = recent.count()
    if asked < per_day:
        return
    oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
    free_at = (oldest or now) + QUOTA_WINDOW
    raise DomainError(
        f"{tenant.name} asked for {asked:,} generation{'' if asked == 1 else 's'} in the last 24 hours; at most "
        f"{per_day:,} a day ({limits.why('generations_per_day')}). The next one may be asked for at "
        f"{free_at:%Y-%m-%d %H:%M} UTC.",
        field="generations_per_day",
        code=LIMIT_REACHED,
        retry_after=max(1, int((free_at - now).total_seconds()) + 1),
    )


def generation_request_create(
    *,
    tenant: Tenant,
    user,
    task: str,
    adapters: list[str],
    payload_or_messages,
    mode: str = "stack",
    weights: Sequence[float] | None = None,
    enqueue: bool = True,
) -> GenerationRequest:
    """Store a generation to be answered on the inference queue. Everything is checked up front, the composition
    included (AdapterForbidden for an adapter the tenant may not use): nothing is stored for a request that would
    fail. The tenant's limits (governance.selectors.tenant_limits) bound each text of the prompt and the
    generations a day (a DomainError with code LIMIT_REACHED: the API's 429)."""
    if tenant is None:
        raise DomainError("A generation belongs to a tenant.", field="tenant")
    task = task or ""
    if task and task not in TASKS:
        raise DomainError(f"task must be one of {', '.join(TASKS)}, not {task!r}.", field="task")
    limits = tenant_limits(tenant)
    _check_prompt_size(payload_or_messages, limits=limits)
    _conversation(task, payload_or_messages)
    names = _adapter_names(adapters)
    _check_composition(names, mode, weights)
    authorize_composition(tenant, names, base_model=str(settings.BASE_MODEL))
    _check_generation_quota(tenant, limits=limits)
    pii = PIITally(source="ml.generation_request", tenant=tenant, user=user)
    payload_or_messages = pii.scrub_json(payload_or_messages)  # stored, shown and sent to the model redacted
    with transaction.atomic():
        pii.record()
        request = GenerationRequest.objects.create(
            tenant=tenant,
            task=task,
            adapters=names,
            mode=mode,
            weights=[float(w) for w in weights] if weights is not None else None,
            prompt=payload_or_messages,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        if enqueue:
            transaction.on_commit(partial(_enqueue, request.pk))
    return request


def _enqueue(request_id: int) -> None:
    generate_request.delay(request_id)


def run_generation_request(request_id: int, *, max_new_tokens: int | None = None) -> GenerationRequest:
    """Answer one stored request (the body of the ``ml.generate_request`` task): running, then succeeded with the
    output (and its parsed JSON) or failed with the reason. Authorized again here: access may have changed since."""
    with transaction.atomic():
        request = GenerationRequest.objects.select_for_update().select_related("tenant").get(pk=request_id)
        if request.status in (GenerationRequest.Status.SUCCEEDED, GenerationRequest.Status.FAILED):
            return request  # a redelivered task does not answer twice
        request.status = GenerationRequest.Status.RUNNING
        request.error = ""
        request.save(update_fields=["status", "error"])
    started = time.monotonic()
    output, parsed, error = "", None, ""
    try:
        messages = _conversation(request.task, request.prompt)
        output = generate(
            tenant=request.tenant,
            adapters=request.adapters,
            prompts=[messages],
            mode=request.mode,
            weights=request.weights,
            max_new_tokens=max_new_tokens
            or int(getattr(settings, "GENERATION_MAX_NEW_TOKENS", DEFAULT_MAX_NEW_TOKENS)),
        )[0]
        parsed = _parse(request.task, output)
    except AdapterForbidden as exc:
        error = f"Refused: {exc.message}"
    except DomainError as exc:
        error = exc.message
    except Exception as exc:
        logger.exception("Generation request %s failed", request_id)
        error = f"Generation failed: {type(exc).__name__}: {exc}"
    request.status = GenerationRequest.Status.FAILED if error else GenerationRequest.Status.SUCCEEDED
    # the output was redacted by the runtime; an error message may quote the prompt
    error = PIITally(source="ml.generation_request", tenant=request.tenant).scrub(error) if error else ""
    request.output, request.parsed, request.error = output, parsed, error
    request.seconds = round(time.monotonic() - started, 3)
    request.finished_at = timezone.now()
    request.save(update_fields=["status", "output", "parsed", "error", "seconds", "finished_at"])
    return request


HARMONIZATION_ADAPTER = "task_harmonization"


def harmonization_suggester():
    """The ``lora`` mapping suggester: the active shared ``task_harmonization`` adapter, served by this process's
    runtime. ValueError (which the suggest commands print) when no version of it is active."""
    from ml.engine.suggester import AdapterMappingSuggester

    active = Adapter.objects.filter(
        name=HARMONIZATION_ADAPTER, tenant__isnull=True, status=Adapter.Status.ACTIVE
    ).exists()  # fmt: skip
    if not active:
        raise ValueError(
            f"The lora suggester needs an active {HARMONIZATION_ADAPTER} adapter and there is none: train one "
            "(python manage.py demo_train_adapters, or train_lora then eval_adapter --promote) first."
        )
    return AdapterMappingSuggester(
        lambda prompts: generate(tenant=None, adapters=[HARMONIZATION_ADAPTER], prompts=prompts, max_new_tokens=16)
    )


def harmonization_ensemble():
    """``rules+lora``: the rules and the adapter merged by ``harmonization.suggest.ensemble``, the rules weighted 2 : 1
    so a lone adapter choice cannot overrule them (docs/mapping_guide.md has the measurement)."""
    from harmonization.suggest import RuleBasedSuggester
    from ml.engine.suggester import EnsembleSuggester

    return EnsembleSuggester([RuleBasedSuggester(), harmonization_suggester()], weights=[2.0, 1.0])
