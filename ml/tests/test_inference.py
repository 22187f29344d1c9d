"""Generation for tenants: authorization on every call (also when cached), two tenants at once, stored requests, the
real worker. Registry rows point at random adapters saved for the tiny Llama (see test_runtime.make_adapter)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
from django.conf import settings
from django.db import connection

from core.errors import DomainError
from ml import inference
from ml.engine.runtime import AdapterRef, Composition, LoRARuntime, Sampling
from ml.models import Adapter, AdapterKind, GenerationRequest
from ml.selectors import AdapterForbidden
from ml.services import adapter_promote, adapter_register
from ml.testing import make_adapter

torch.set_num_threads(1)

CONVERSATIONS = [
    [{"role": "user", "content": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"}],
    [{"role": "user", "content": "Map the column Total Cost (USD)"}],
]
BUDGET_PAYLOAD = {"text": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"}
ADAPTERS = {  # name -> (kind, owner slug or None, seed)
    "brand-acme": (AdapterKind.BRAND, "acme", 11),
    "brand-globex": (AdapterKind.BRAND, "globex", 12),
    "task-budgeting": (AdapterKind.TASK, None, 13),
}


@pytest.fixture(scope="module")
def adapter_files(tiny_model_dir, tmp_path_factory):
    """Adapter folders under one storage root: {name: folder relative to the root}."""
    root = tmp_path_factory.mktemp("inference-models")
    for name, (_kind, _owner, seed) in ADAPTERS.items():
        make_adapter(tiny_model_dir, root / "adapters" / name, seed=seed)
    return root


@pytest.fixture
def lora_settings(settings, tiny_model_dir, adapter_files):
    settings.MODEL_STORAGE_DIR = adapter_files
    settings.BASE_MODEL = str(tiny_model_dir)
    inference.reset_runtime()
    yield settings
    inference.reset_runtime()


def _register(tenants, *, root_name: str = "adapters") -> dict[str, Adapter]:
    rows = {}
    for name, (kind, owner, _seed) in ADAPTERS.items():
        adapter = adapter_register(
            name=name,
            kind=kind,
            tenant=tenants[owner] if owner else None,
            base_model=str(settings.BASE_MODEL),
            path=f"{root_name}/{name}",
        )
        rows[name] = adapter_promote(adapter=adapter, user=None)
    return rows


@pytest.fixture
def registry(tenants, lora_settings):
    return _register(tenants)


def _reference(tiny_model_dir, adapter_files, names, prompts, *, mode="stack", weights=None, max_new_tokens=8):
    """Answers from a runtime of its own that loads the files directly: no registry, no shared cache."""
    runtime = LoRARuntime(tiny_model_dir)
    for name in names:
        runtime.ensure_loaded(AdapterRef(name, adapter_files / "adapters" / name))
    composition = Composition(tuple(names), mode, weights) if names else None
    return runtime.generate(prompts, composition, max_new_tokens=max_new_tokens)


@pytest.mark.django_db
def test_it_generates_with_the_tenants_brand_adapter_composed_with_shared_ones(
    tenants, registry, tiny_model_dir, adapter_files
):
    names = ["task-budgeting", "brand-acme"]
    answers = inference.generate(tenant=tenants["acme"], adapters=names, prompts=CONVERSATIONS, max_new_tokens=8)
    assert answers == _reference(tiny_model_dir, adapter_files, names, CONVERSATIONS)
    base = inference.generate(tenant=tenants["acme"], adapters=[], prompts=CONVERSATIONS, max_new_tokens=8)
    assert base == _reference(tiny_model_dir, adapter_files, [], CONVERSATIONS)
    assert answers != base
    # Registry rows become one runtime key per version.
    assert set(inference.get_runtime().stats()["adapters"]) == {"task-budgeting@shared@v1", "brand-acme@acme@v1"}
    merged = inference.generate(
        tenant=tenants["acme"], adapters=names, prompts=CONVERSATIONS, mode="ties", weights=[0.6, 0.4], max_new_tokens=8
    )
    ties = _reference(tiny_model_dir, adapter_files, names, CONVERSATIONS, mode="ties", weights=(0.6, 0.4))
    assert merged == ties


@pytest.mark.django_db
def test_it_samples_two_candidates_of_one_prompt_for_a_tenant_when_asked(tenants, registry):
    names = ["task-budgeting", "brand-acme"]
    prompts = [CONVERSATIONS[0]] * 2

    def ask(sampling=None):
        return inference.generate(tenant=tenants["acme"], adapters=names, prompts=prompts, max_new_tokens=8,
                                  sampling=sampling)  # fmt: skip

    greedy = ask()
    assert greedy[0] == greedy[1]
    sampled = ask(Sampling(1.0, seed=5))
    assert sampled[0] != sampled[1] and sampled == ask(Sampling(1.0, seed=5))
    with pytest.raises(AdapterForbidden):  # sampling is authorized like any other request
        inference.generate(tenant=tenants["acme"], adapters=["brand-globex"], prompts=prompts, max_new_tokens=8,
                           sampling=Sampling(1.0, seed=5))  # fmt: skip


@pytest.mark.django_db
def test_it_refuses_another_tenants_brand_adapter_even_when_it_is_cached(tenants, registry):
    acme, globex = tenants["acme"], tenants["globex"]
    names = ["task-budgeting", "brand-acme"]
    # Acme's own requests put its adapter and a merge with it in the runtime's cache.
    inference.generate(tenant=acme, adapters=names, prompts=CONVERSATIONS[:1], max_new_tokens=4)
    inference.generate(tenant=acme, adapters=names, prompts=CONVERSATIONS[:1], mode="linear", max_new_tokens=4)
    before = inference.get_runtime().stats()
    assert sorted(c["mode"] for c in before["composed"]) == ["cat", "linear"]  # the stack is served by its cat merge
    for mode in ("stack", "linear"):
        for adapters in (["brand-acme"], names):
            with pytest.raises(AdapterForbidden, match="does not exist or is not active for this tenant"):
                inference.generate(tenant=globex, adapters=adapters, prompts=CONVERSATIONS[:1], mode=mode)
    with pytest.raises(AdapterForbidden):
        inference.generate_for_tenant_id(globex.pk, adapters=names, prompts=CONVERSATIONS[:1], mode="linear")
    with pytest.raises(AdapterForbidden):  # no tenant: shared adapters only
        inference.generate(tenant=None, adapters=["brand-acme"], prompts=CONVERSATIONS[:1])
    with pytest.raises(AdapterForbidden):
        inference.generation_request_create(
            tenant=globex,
            user=None,
            task="budgeting",
            adapters=names,
            payload_or_messages=BUDGET_PAYLOAD,
            mode="linear",
            enqueue=False,
        )
    assert not GenerationRequest.objects.exists()
    # A stored request that names it anyway (say, access changed after it was queued) fails without generating.
    forged = GenerationRequest.objects.create(
        tenant=globex, task="budgeting", adapters=names, mode="linear", prompt=BUDGET_PAYLOAD
    )
    forged = inference.run_generation_request(forged.pk)
    assert forged.status == GenerationRequest.Status.FAILED
    assert forged.error.startswith("Refused: ") and "brand-acme" in forged.error
    assert forged.output == "" and forged.parsed is None
    after = inference.get_runtime().stats()
    # The refused calls never reached the runtime: no cache hit, no generation, no adapter of Globex's loaded.
    assert (after["hits"], after["misses"], set(after["adapters"])) == (
        before["hits"],
        before["misses"],
        set(before["adapters"]),
    )
    # Globex still uses its own brand adapter with the shared task adapter.
    own = ["task-budgeting", "brand-globex"]
    assert inference.generate(tenant=globex, adapters=own, prompts=CONVERSATIONS[:1], max_new_tokens=4)


@pytest.mark.django_db(transaction=True)
def test_two_tenants_generating_at_once_each_get_only_their_own_brand_adapter(
    tenants, registry, tiny_model_dir, adapter_files
):
    own = {"acme": ["task-budgeting", "brand-acme"], "globex": ["task-budgeting", "brand-globex"]}
    expected = {slug: _reference(tiny_model_dir, adapter_files, names, CONVERSATIONS) for slug, names in own.items()}
    assert expected["acme"] != expected["globex"]
    results: dict[tuple[str, int], list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work(slug: str, round_: int):
        try:
            start.wait()
            results[(slug, round_)] = inference.generate(
                tenant=tenants[slug], adapters=own[slug], prompts=CONVERSATIONS, max_new_tokens=8
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(slug, i)) for i in range(3) for slug in own]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 6
    for (slug, _round), answers in results.items():
        assert answers == expected[slug]


@pytest.mark.django_db
def test_it_stores_a_request_and_answers_it_with_the_tasks_prompt(tenants, personas, registry):
    import ml.engine.prompts

    acme = tenants["acme"]
    names = ["task-budgeting", "brand-acme"]
    request = inference.generation_request_create(
        tenant=acme,
        user=personas["marketer"],
        task="budgeting",
        adapters=names,
        payload_or_messages=BUDGET_PAYLOAD,
        mode="linear",
        weights=[0.5, 0.5],
        enqueue=False,
    )
    assert (request.status, request.created_by, request.weights) == ("queued", personas["marketer"], [0.5, 0.5])
    done = inference.run_generation_request(request.pk, max_new_tokens=8)
    assert done.status == GenerationRequest.Status.SUCCEEDED, done.error
    messages = ml.engine.prompts.task_messages("budgeting", BUDGET_PAYLOAD)
    expected = inference.generate(
        tenant=acme, adapters=names, prompts=[messages], mode="linear", weights=[0.5, 0.5], max_new_tokens=8
    )[0]
    assert done.output == expected and done.output
    assert done.parsed == ml.engine.prompts.parse_answer("budgeting", done.output)
    assert done.seconds > 0 and done.finished_at is not None and done.error == ""
    # Answered once: running it again changes nothing.
    assert inference.run_generation_request(request.pk).finished_at == done.finished_at


@pytest.mark.django_db
def test_it_answers_a_free_conversation_without_a_task(tenants, registry):
    conversation = CONVERSATIONS[1]
    request = inference.generation_request_create(
        tenant=tenants["acme"],
        user=None,
        task="",
        adapters=["brand-acme"],
        payload_or_messages=conversation,
        enqueue=False,
    )
    done = inference.run_generation_request(request.pk, max_new_tokens=6)
    assert done.status == GenerationRequest.Status.SUCCEEDED, done.error
    expected = inference.generate(
        tenant=tenants["acme"], adapters=["brand-acme"], prompts=[conversation], max_new_tokens=6
    )
    assert done.output == expected[0] and done.parsed is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"task": "poetry"}, "task"),
        ({"mode": "svd"}, "mode"),
        ({"weights": [1.0]}, "weights"),
        ({"weights": ["heavy", 1.0]}, "weights"),
        ({"adapters": "brand-acme"}, "adapters"),
        ({"adapters": ["brand-acme", "brand-acme"]}, "adapters"),
        ({"payload_or_messages": {"question": "no text"}}, "payload"),
        ({"payload_or_messages": [{"role": "robot", "content": "hi"}]}, "payload"),
        ({"task": "", "payload_or_messages": BUDGET_PAYLOAD}, "task"),
    ],
)
def test_it_refuses_a_malformed_request_naming_the_field_and_stores_nothing(tenants, registry, kwargs, field):
    request = {
        "tenant": tenants["acme"],
        "user": None,
        "task": "budgeting",
        "adapters": ["task-budgeting", "brand-acme"],
        "payload_or_messages": BUDGET_PAYLOAD,
        "enqueue": False,
        **kwargs,
    }
    with pytest.raises(DomainError) as exc:
        inference.generation_request_create(**request)
    assert exc.value.field == field
    assert not GenerationRequest.objects.exists()


@pytest.mark.django_db
def test_it_refuses_bad_direct_calls_naming_the_field(tenants, registry):
    acme = tenants["acme"]
    cases = [
        ({"prompts": "one string"}, "prompts"),
        ({"prompts": []}, "prompts"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"mode": "linear", "weights": [1.0, 2.0, 3.0]}, "weights"),
    ]
    for kwargs, field in cases:
        call = {"tenant": acme, "adapters": ["task-budgeting", "brand-acme"], "prompts": CONVERSATIONS, **kwargs}
        with pytest.raises(DomainError) as exc:
            inference.generate(**call)
        assert exc.value.field == field, kwargs
    with pytest.raises(DomainError) as exc:
        inference.generate_for_tenant_id(999_999, adapters=[], prompts=CONVERSATIONS)
    assert exc.value.field == "tenant"


@pytest.mark.django_db
def test_it_preloads_the_active_adapters_on_the_base_model_only(tenants, registry, tiny_model_dir):
    # A candidate (not served) and an active adapter trained on another base model are not loaded.
    adapter_register(
        name="brand-acme",
        kind=AdapterKind.BRAND,
        tenant=tenants["acme"],
        base_model=str(tiny_model_dir),
        path="adapters/brand-globex",
    )
    other = adapter_register(
        name="task-other", kind=AdapterKind.TASK, tenant=None, base_model="other/model", path="adapters/task-budgeting"
    )
    adapter_promote(adapter=other, user=None)
    keys = inference.preload_active_adapters()
    assert sorted(keys) == ["brand-acme@acme@v1", "brand-globex@globex@v1", "task-budgeting@shared@v1"]
    assert set(inference.get_runtime().stats()["adapters"]) == set(keys)


def test_it_keeps_one_runtime_per_process_until_the_base_model_changes(settings, tiny_model_dir, tmp_path):
    settings.BASE_MODEL = str(tiny_model_dir)
    inference.reset_runtime()
    try:
        first = inference.get_runtime()
        assert inference.get_runtime() is first and first.base_model == str(tiny_model_dir)
        settings.BASE_MODEL = str(tmp_path / "no-such-model")
        with pytest.raises(Exception, match="prepare_base_model"):
            inference.get_runtime()
        settings.BASE_MODEL = str(tiny_model_dir)
        settings.LORA_CACHE_BYTES = 1024
        second = inference.get_runtime()
        assert second is not first and second.cache_bytes == 1024
    finally:
        inference.reset_runtime()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_answers_stored_requests_and_refuses_forbidden_ones(
    celery_worker_process, worker_model_dir, tiny_model_dir, tenants, settings
):
    settings.MODEL_STORAGE_DIR = worker_model_dir
    settings.BASE_MODEL = str(tiny_model_dir)  # what the worker's RMN_BASE_MODEL says
    inference.reset_runtime()
    folder = f"adapters-inference-{time.monotonic_ns()}"
    for name, (_kind, _owner, seed) in ADAPTERS.items():
        make_adapter(tiny_model_dir, Path(worker_model_dir) / folder / name, seed=seed)
    _register(tenants, root_name=folder)
    acme, globex = tenants["acme"], tenants["globex"]
    names = ["task-budgeting", "brand-acme"]
    ok = inference.generation_request_create(
        tenant=acme, user=None, task="budgeting", adapters=names, payload_or_messages=BUDGET_PAYLOAD
    )
    forged = GenerationRequest.objects.create(tenant=globex, task="budgeting", adapters=names, prompt=BUDGET_PAYLOAD)
    from ml.tasks import generate_request

    generate_request.delay(forged.pk)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        statuses = set(GenerationRequest.objects.filter(pk__in=[ok.pk, forged.pk]).values_list("status", flat=True))
        if statuses <= {"succeeded", "failed"}:
            break
        time.sleep(0.5)
    ok.refresh_from_db()
    forged.refresh_from_db()
    assert ok.status == "succeeded", ok.error
    import ml.engine.prompts

    messages = ml.engine.prompts.task_messages("budgeting", BUDGET_PAYLOAD)
    expected = inference.generate(
        tenant=acme, adapters=names, prompts=[messages], max_new_tokens=inference.DEFAULT_MAX_NEW_TOKENS
    )[0]
    assert ok.output == expected and ok.output
    assert forged.status == "failed" and forged.error.startswith("Refused: ") and forged.output == ""
    inference.reset_runtime()
