"""Acceptance: a prompt, an upload, a correction and a log line holding an e-mail, a phone number and a card number;
none reaches the model (what the real runtime's model is fed), the database (rows read back), a page (rendered) or a
log (the configured handler's output) unredacted, and each redaction is an audit entry with counts, not values."""

from __future__ import annotations

import io
import logging

import pytest
import torch
from django.test import Client
from django.urls import reverse

from governance.models import AuditLog
from governance.pii.logging import RedactingFilter
from ml.tests.test_inference import adapter_files, lora_settings, registry  # noqa: F401  (fixtures)

EMAIL, PHONE, CARD = "jane.doe@example.com", "+44 7911 123456", "4111 1111 1111 1111"
# the values and the digit runs they are made of, so that a reformatted copy is caught too
RAW = (EMAIL, "jane.doe", PHONE, "7911 123456", "7911123456", CARD, "4111111111111111")
COUNTS = {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
SENTENCE = f"Customer {EMAIL} called from {PHONE} and paid with card {CARD}."


def assert_clean(text: str) -> None:
    leaked = [value for value in RAW if value in text]
    assert not leaked, f"personal data {leaked} in: {text[:500]}"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class ModelInputs:
    """The token ids the model's forward pass receives (first call of each generate), decoded."""

    def __init__(self, runtime):
        self.runtime, self.texts = runtime, []
        self.handle = runtime._model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else (args[0] if args else None)
        if ids is not None and ids.shape[-1] > 1:  # the prompt, not one generated token at a time
            self.texts.extend(self.runtime._tokenizer.decode(row, skip_special_tokens=False) for row in ids)

    def close(self):
        self.handle.remove()


@pytest.mark.django_db
def test_a_prompt_reaches_the_model_the_database_and_the_page_redacted(tenants, personas, registry):  # noqa: F811
    from ml import inference
    from ml.models import GenerationRequest

    torch.set_num_threads(1)
    acme = tenants["acme"]
    request = inference.generation_request_create(
        tenant=acme, user=personas["marketer"], task="", adapters=["brand-acme"],
        payload_or_messages=[{"role": "user", "content": SENTENCE}], enqueue=False,
    )  # fmt: skip
    stored = GenerationRequest.objects.filter(pk=request.pk).values("prompt").get()
    assert_clean(str(stored["prompt"]))
    assert "<EMAIL_ADDRESS>" in str(stored["prompt"]) and "<CREDIT_CARD>" in str(stored["prompt"])

    runtime = inference.get_runtime()
    inputs = ModelInputs(runtime)
    try:
        done = inference.run_generation_request(request.pk, max_new_tokens=4)
        # a caller that hands the runtime raw text itself (as evaluation and the gate do) is guarded the same way
        runtime.generate([[{"role": "user", "content": SENTENCE}]], None, max_new_tokens=2)
    finally:
        inputs.close()
    assert done.status == GenerationRequest.Status.SUCCEEDED, done.error
    assert len(inputs.texts) == 2
    for text in inputs.texts:
        assert_clean(text)
        assert "<EMAIL_ADDRESS>" in text and "<PHONE_NUMBER>" in text and "<CREDIT_CARD>" in text

    page = _client(personas["marketer"]).get(reverse("model_generation_detail", args=[request.pk]))
    assert page.status_code == 200
    assert "&lt;EMAIL_ADDRESS&gt;" in page.content.decode()
    assert_clean(page.content.decode())

    entry = AuditLog.objects.filter(action="pii.redact", tenant=acme, detail__source="ml.generation_request").get()
    assert entry.detail["counts"] == COUNTS
    assert_clean(str(entry.detail))
    generation = AuditLog.objects.filter(action="ml.generate", tenant=acme).latest("id")
    assert generation.detail["adapters"] == ["brand-acme"] and generation.detail["prompts"] == 1


@pytest.mark.django_db
def test_the_runtime_guards_answers_too(tiny_model_dir):
    from ml.engine.runtime import LoRARuntime

    torch.set_num_threads(1)
    prompts = [[{"role": "user", "content": "Allocate $2.5M"}]]
    plain = LoRARuntime(tiny_model_dir, text_guard=lambda text: text).generate(prompts, max_new_tokens=6)
    marked = LoRARuntime(tiny_model_dir, text_guard=lambda text: f"[{text}]").generate(prompts, max_new_tokens=6)
    # the prompt went through the guard as well, so compare with the marked prompt's own plain answer
    again = LoRARuntime(tiny_model_dir, text_guard=lambda text: text).generate(
        [[{"role": "user", "content": "[Allocate $2.5M]"}]], max_new_tokens=6
    )
    assert plain and marked == [f"[{again[0]}]"]


UPLOAD_CSV = f"""\
date,campaignId,campaignName,sku,impressions,clicks,cost,sales14d,units14d,currency,notes
2026-04-01,acme-amazon,Acme Amazon,acme-sku-0,1000,10,12.50,40.00,2,USD,ok
2026-04-02,SP-NEW-1,Spring push {EMAIL} {PHONE},acme-sku-1,800,8,20.00,60.00,3,USD,call {PHONE}
2026-04-03,acme-amazon,Acme Amazon,acme-sku-0,900,9,abc,10.00,1,USD,paid with {CARD} by {EMAIL}
"""


def _upload(tmp_path, tenants, personas, *, pii: str = ""):
    from harmonization.services import ingest_file, mapping_resolve
    from harmonization.tests import files

    mapping_file, data = files.write(tmp_path, csv=UPLOAD_CSV, max_quarantine_rate=0.5)
    if pii:
        mapping_file.write_text(mapping_file.read_text() + pii)
    spec = mapping_resolve(str(mapping_file))
    return ingest_file(tenant=tenants["acme"], spec=spec, path=data, user=personas["marketer"])


def test_an_upload_is_stored_quarantined_and_shown_redacted(tmp_path, catalog, tenants, personas):
    from campaigns.models import Campaign
    from harmonization.models import IngestBatch

    batch = _upload(tmp_path, tenants, personas)
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.error
    assert (batch.rows_loaded, batch.rows_quarantined) == (2, 1)
    names = list(Campaign.objects.filter(tenant=tenants["acme"]).values_list("name", flat=True))
    assert "Spring push <EMAIL_ADDRESS> <PHONE_NUMBER>" in names
    for name in names:
        assert_clean(name)
    quarantined = batch.quarantine_file.read().decode()
    assert "abc" in quarantined and "<CREDIT_CARD>" in quarantined  # the unmapped notes column of the raw row too
    assert_clean(quarantined)
    assert_clean(str(batch.report))

    client = _client(personas["marketer"])
    for url in (reverse("import_detail", args=[batch.pk]), reverse("campaign_list")):
        page = client.get(url)
        assert page.status_code == 200
        assert_clean(page.content.decode())
    entry = AuditLog.objects.get(action="pii.redact", detail__source="harmonization.upload")
    assert entry.tenant == tenants["acme"] and entry.object_id == str(batch.pk)
    # the new campaign's name (e-mail, phone) and the quarantined row (card, e-mail, notes' phone ... as found)
    assert entry.detail["counts"]["EMAIL_ADDRESS"] >= 2 and entry.detail["counts"]["CREDIT_CARD"] == 1
    assert_clean(str(entry.detail))


def test_an_upload_refused_by_the_mapping_stores_nothing_and_names_the_cell(tmp_path, catalog, tenants, personas):
    from campaigns.models import PerformanceFact
    from harmonization.models import IngestBatch

    before = PerformanceFact.objects.count()
    batch = _upload(tmp_path, tenants, personas, pii="pii:\n  columns:\n    campaignName: refuse\n")
    assert batch.status == IngestBatch.Status.FAILED
    assert "line 3, column 'campaignName'" in batch.error and "EMAIL_ADDRESS" in batch.error
    assert_clean(batch.error)
    assert PerformanceFact.objects.count() == before
    assert AuditLog.objects.get(action="pii.refuse").detail["refused"] is True


def test_an_upload_can_hash_a_column_so_equal_values_stay_equal(tmp_path, catalog, tenants, personas):
    from campaigns.models import Campaign

    _upload(tmp_path, tenants, personas, pii="pii:\n  columns:\n    campaignName: hash\n")
    name = Campaign.objects.get(tenant=tenants["acme"], external_id="SP-NEW-1").name
    assert name.startswith("Spring push <EMAIL_ADDRESS:") and "<PHONE_NUMBER:" in name
    assert_clean(name)


def test_a_correction_and_a_reason_are_stored_and_shown_redacted(review):
    from feedback.models import Feedback
    from feedback.services.review import review_next, review_submit
    from feedback.tests.review_support import ALL_FOUR, make_items

    task = review["task"]
    (item,) = make_items(task, 1)
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    answer = {"item": item.pk, "thumb": "up", **{f"rating_{c}": v for c, v in ALL_FOUR.items()}}
    answer |= {"reason": f"Shopper wrote: {SENTENCE}", "correction_headline": f"Call {PHONE}",
               "correction_body": f"Mail {EMAIL}, card {CARD}"}  # fmt: skip
    response = client.post(reverse("review_queue", args=[task.pk]), answer)
    assert response.status_code in (200, 302)
    stored = Feedback.objects.filter(item=item).values("reason", "correction").get()
    assert stored["correction"]["headline"] == "Call <PHONE_NUMBER>"
    assert_clean(str(stored))
    # a second reviewer disagrees: the adjudicator's page shows both answers
    review_next(task=task, reviewer=review["reviewer2"])
    review_submit(item=item, reviewer=review["reviewer2"], thumb="down", ratings=ALL_FOUR)
    page = _client(review["adjudicator"]).get(reverse("review_conflicts")).content.decode()
    assert "Shopper wrote: Customer &lt;EMAIL_ADDRESS&gt;" in page
    assert_clean(page)
    entry = AuditLog.objects.get(action="pii.redact", detail__source="feedback.review")
    assert entry.detail["counts"] == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2}


def test_a_log_line_is_written_redacted_by_every_configured_handler():
    handlers = [h for name in ["", *logging.root.manager.loggerDict] for h in logging.getLogger(name).handlers]
    # pytest's own capture handlers are not the site's
    writing = [
        h for h in handlers if not isinstance(h, logging.NullHandler) and not type(h).__module__.startswith("_pytest")
    ]
    site = [h for h in logging.getLogger().handlers if h in writing]
    assert site and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in site)
    console = next(h for h in site if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        log = logging.getLogger("rmn.test")
        log.warning("Customer %s called from %s and paid with %s", EMAIL, PHONE, CARD)
        try:
            raise ValueError(f"could not charge {CARD} for {EMAIL}")
        except ValueError:
            log.exception("charge failed")
    finally:
        console.setStream(previous)
    # a library's own handler on its own logger, which no setting reaches (transformers installs one like it)
    library = logging.getLogger("rmn.test.library")
    library.propagate, own = False, logging.StreamHandler(stream)
    library.addHandler(own)
    try:
        library.warning("retrying %s", EMAIL)
    finally:
        library.removeHandler(own)
    written = stream.getvalue()
    assert "retrying <EMAIL_ADDRESS>" in written
    assert "Customer <EMAIL_ADDRESS> called from <PHONE_NUMBER> and paid with <CREDIT_CARD>" in written
    assert "could not charge <CREDIT_CARD> for <EMAIL_ADDRESS>" in written
    assert_clean(written)


@pytest.mark.django_db
def test_audit_entries_keep_counts_not_values(tenants):
    from governance.services import audit_record

    entry = audit_record(action="note", tenant=tenants["acme"], actor_label=f"import by {EMAIL}",
                         detail={"comment": SENTENCE, "n": 3})  # fmt: skip
    stored = AuditLog.objects.filter(pk=entry.pk).values("actor_label", "detail").get()
    assert stored["actor_label"] == "import by <EMAIL_ADDRESS>" and stored["detail"]["n"] == 3
    assert stored["detail"]["pii_redacted"] == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
    assert_clean(str(stored))


from feedback.tests.review_support import review_fixture  # noqa: E402, F401  (the review fixture)
