"""Creative briefs: validation up front, variants written, verified, repaired and queued (the model scripted through
the documented CREATIVE_SCRIPT seam; the worker test runs the real model)."""

import json

import pytest

from core.errors import DomainError
from feedback.models import Creative, CreativeBrief, ReviewItem
from feedback.services.creatives import (
    creative_brief_create,
    creative_brief_run,
    creative_status_change,
    creatives_export_csv,
)
from ml.engine.policy import check_copy

POLICY = {
    "headline_max_chars": 30,
    "body_max_chars": 80,
    "cta_max_chars": 12,
    "banned_terms": ["cheap"],
    "banned_claims": ["clinically proven"],
    "required_disclosures": ["Sponsored"],
    "trademark_rules": [{"term": "acme", "form": "ACME®"}],
    "price_claims_allowed": False,
    "max_repairs": 1,
    "export_columns": {"headline": "Title", "body": "Description", "disclosure": "Legal"},
}


def answer(headline="Crisp ACME® cola", body="Cold and crisp.", cta="Shop now", disclosure="Sponsored"):
    return json.dumps({"headline": headline, "body": body, "disclosure": disclosure, "cta": cta})


@pytest.fixture
def acme_policy(retailers):
    retailers["walmart"].policy_specs = POLICY
    retailers["walmart"].save()
    return retailers["walmart"]


@pytest.fixture
def script(settings, tmp_path):
    def write(*answers):
        path = tmp_path / "script.json"
        path.write_text(json.dumps(list(answers)))
        settings.CREATIVE_SCRIPT = str(path)

    return write


def brief_for(tenants, personas, catalog, retailer, **kw):
    acme = catalog["acme"]
    args = dict(
        tenant=tenants["acme"],
        user=personas["marketer"],
        retailer=retailer,
        brand=acme["brand"],
        skus=[s.pk for s in acme["skus"]],
        goal="Trial of the new cola",
        tone="upbeat",
        promotion="",
        enqueue=False,
    )
    args.update(kw)
    brief = creative_brief_create(**args)
    return creative_brief_run(brief.pk)


def test_it_writes_repairs_rejects_and_queues_only_compliant_variants(tenants, personas, catalog, acme_policy, script):
    script(
        answer(),  # 1: compliant at once
        answer(body="Clinically proven crisp."),  # 2: banned claim, regenerated with the same fault,
        answer(body="Clinically proven and cold."),  # then the rules remove it
        answer(body="Only $2 a can."),  # 3: a price claim no rule can repair: rejected
        answer(body="Now $1.99."),
        "zzq qq zq",  # 4: never JSON: rejected
        "zq {",
    )
    brief = brief_for(tenants, personas, catalog, acme_policy)
    assert brief.status == CreativeBrief.Status.SUCCEEDED
    assert brief.progress == {"done": 4, "total": 4}
    v1, v2, v3, v4 = brief.creatives.order_by("variant")
    assert (v1.status, v1.compliant, v1.repaired) == (Creative.Status.IN_REVIEW, True, False)
    assert (v2.status, v2.compliant, v2.repaired) == (Creative.Status.IN_REVIEW, True, True)
    assert v2.body == "and cold."
    steps = [r["step"] for r in v2.verification["repairs"]]
    assert steps == ["regenerate", "rules"]
    assert v2.verification["repairs"][1]["edits"][0]["rule"] == "banned_claim"
    assert (v3.status, v3.compliant) == (Creative.Status.REJECTED, False)
    assert [v["rule"] for v in v3.verification["violations"]] == ["price_claim"]
    assert (v4.status, v4.compliant, v4.verification["parsed"]) == (Creative.Status.REJECTED, False, False)
    assert "not JSON" in v4.verification["violations"][0]["reason"]
    queued = ReviewItem.objects.filter(creative__brief=brief)
    assert sorted(i.creative.variant for i in queued) == [1, 2]
    assert v1.adapter_versions == []  # no adapter trained: the base model alone
    assert "angle:" in v1.prompt[-1]["content"] and v1.prompt[-1]["content"] != v2.prompt[-1]["content"]


@pytest.mark.parametrize(
    "bad",
    [
        answer(body="Clinically proven."),
        answer(body="So cheap, so good."),
        answer(headline="The coldest ACME® cola on every shelf"),
        answer(body="Cold " * 30),
        answer(cta="Shop the whole range"),
        answer(disclosure=""),
        answer(headline="Crisp Acme cola"),
        answer(body="Save $1 today."),
    ],
    ids=["banned_claim", "banned_term", "headline", "body", "cta", "disclosure", "trademark", "price"],
)
def test_no_variant_reaches_the_queue_breaking_a_rule(tenants, personas, catalog, acme_policy, script, bad):
    script(bad, bad)
    brief = brief_for(tenants, personas, catalog, acme_policy, variants=1)
    [creative] = brief.creatives.all()
    first_rules = {v["rule"] for v in creative.verification["first_violations"]}
    assert first_rules  # the variant did break the rule
    for item in ReviewItem.objects.filter(creative__brief=brief):
        assert check_copy(item.content["fields"], POLICY) == []
    if creative.compliant:
        assert creative.status == Creative.Status.IN_REVIEW and creative.repaired
        edits = creative.verification["repairs"][-1]["edits"]
        assert {e["rule"] for e in edits} >= first_rules
    else:
        assert creative.status == Creative.Status.REJECTED
        assert not ReviewItem.objects.filter(creative=creative).exists()
        assert creative.verification["violations"]


def test_a_regeneration_that_fixes_the_fault_is_used(tenants, personas, catalog, acme_policy, script):
    script(answer(body="Save $1 today."), answer(body="Cold, crisp, new."))
    brief = brief_for(tenants, personas, catalog, acme_policy, variants=1)
    [creative] = brief.creatives.all()
    assert creative.compliant and creative.body == "Cold, crisp, new."
    assert creative.verification["repairs"] == [
        {"step": "regenerate", "attempt": 1, "parsed": True, "fixed": True,
         "violations": creative.verification["first_violations"]}
    ]  # fmt: skip
    assert "price claim" in creative.prompt[-1]["content"] or creative.raw_output.startswith("{")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goal": " "}, "goal"),
        ({"goal": "x" * 201}, "goal"),
        ({"variants": 0}, "variants"),
        ({"variants": 13}, "variants"),
        ({"skus": []}, "skus"),
        ({"retailer": "nope"}, "retailer"),
    ],
)
def test_it_refuses_a_bad_brief_naming_the_field(tenants, personas, catalog, acme_policy, change, field):
    with pytest.raises(DomainError) as exc:
        brief_for(tenants, personas, catalog, **{"retailer": acme_policy, **change})
    assert exc.value.field == field
    assert not CreativeBrief.objects.exists()


def test_it_refuses_another_tenants_brand_and_skus(tenants, personas, catalog, acme_policy):
    with pytest.raises(DomainError) as exc:
        brief_for(tenants, personas, catalog, acme_policy, brand=catalog["globex"]["brand"])
    assert exc.value.field == "brand"
    with pytest.raises(DomainError) as exc:
        brief_for(tenants, personas, catalog, acme_policy, skus=[catalog["globex"]["skus"][0].pk])
    assert exc.value.field == "skus"


def test_it_refuses_skus_of_another_brand(tenants, personas, catalog, acme_policy):
    from campaigns.models import SKU, Brand

    other = Brand.objects.create(tenant=tenants["acme"], name="Other")
    sku = SKU.objects.create(tenant=tenants["acme"], brand=other, sku_code="o-1", name="o", category="x", price=1,
                             unit_cost=1, stock_units=1)  # fmt: skip
    with pytest.raises(DomainError, match="is not a Acme Foods Brand product") as exc:
        brief_for(tenants, personas, catalog, acme_policy, skus=[sku.pk])
    assert exc.value.field == "skus"


def test_status_changes_keep_history_and_rejected_copy_cannot_be_approved(
    tenants, personas, catalog, acme_policy, script
):
    script(answer(), answer(body="Only $2."), answer(body="Only $2."))
    brief = brief_for(tenants, personas, catalog, acme_policy, variants=2)
    good, bad = brief.creatives.order_by("variant")
    creative_status_change(creative=good, to_status="approved", user=personas["marketer"], note="Looks right")
    creative_status_change(creative=good, to_status="live", user=personas["marketer"])
    assert [e.to_status for e in good.events.all()] == ["draft", "in_review", "approved", "live"]
    assert good.events.get(to_status="approved").note == "Looks right"
    with pytest.raises(DomainError, match="failed the retailer policy"):
        creative_status_change(creative=bad, to_status="approved", user=personas["marketer"])
    bad.refresh_from_db()
    assert bad.status == Creative.Status.REJECTED


def test_export_is_the_retailers_layout_with_approved_creatives_only(tenants, personas, catalog, acme_policy, script):
    script(answer(headline="First ACME® cola"), answer(headline="Second ACME® cola"))
    brief = brief_for(tenants, personas, catalog, acme_policy, variants=2)
    first, _second = brief.creatives.order_by("variant")
    creative_status_change(creative=first, to_status="approved", user=personas["marketer"])
    lines = creatives_export_csv(tenant=tenants["acme"], retailer=acme_policy).splitlines()
    assert lines[0] == "creative_id,Title,Description,Legal"
    assert lines[1:] == [f"{first.pk},First ACME® cola,Cold and crisp.,Sponsored"]
    assert creatives_export_csv(tenant=tenants["globex"], retailer=acme_policy).splitlines()[1:] == []


def test_a_promoted_creative_adapter_writes_the_latest_brief_again_with_it(
    tenants, personas, catalog, acme_policy, script, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from feedback.services import creatives
    from ml.models import Adapter, AdapterKind
    from ml.services import adapter_promote

    script(answer())
    first = brief_for(tenants, personas, catalog, acme_policy, variants=1)
    sent = []
    monkeypatch.setattr(creatives.creative_brief_run_task, "apply_async", lambda *a, **kw: sent.append(a))
    adapter = Adapter.objects.create(
        name="task_creative", kind=AdapterKind.TASK, tenant=None, base_model=str(settings.BASE_MODEL), version=1,
        path="adapters/task_creative",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        adapter_promote(adapter=adapter, user=None)
    again = CreativeBrief.objects.exclude(pk=first.pk).get()
    assert again.adapters == ["task_creative"] and again.goal == first.goal
    assert list(again.skus.all()) == list(first.skus.all())
    assert sent == [((again.pk,),)]
    assert CreativeBrief.objects.filter(tenant=tenants["globex"]).count() == 0


def test_a_brief_whose_worker_stopped_is_failed_by_the_reaper(tenants, personas, catalog, acme_policy):
    import datetime as dt

    from django.utils import timezone

    from feedback.services.creatives import creative_brief_create, creative_briefs_reap

    acme = catalog["acme"]
    brief = creative_brief_create(
        tenant=tenants["acme"], user=personas["marketer"], retailer=acme_policy, brand=acme["brand"],
        skus=[acme["skus"][0].pk], goal="Trial", enqueue=False,
    )  # fmt: skip
    fresh = timezone.now()
    CreativeBrief.objects.filter(pk=brief.pk).update(
        status="running", worker="elsewhere:1", heartbeat_at=fresh - dt.timedelta(hours=1)
    )
    assert creative_briefs_reap() == 1
    brief.refresh_from_db()
    assert brief.status == "failed" and "elsewhere:1 stopped" in brief.error
    CreativeBrief.objects.filter(pk=brief.pk).update(status="running", heartbeat_at=fresh)
    assert creative_briefs_reap() == 0


def test_a_briefs_variants_count_against_the_tenants_generations_a_day(tenants, personas, catalog, acme_policy):
    from core.errors import LIMIT_REACHED
    from governance.models import TenantLimits
    from ml.models import GenerationRequest

    TenantLimits.objects.update_or_create(tenant=tenants["acme"], defaults={"generations_per_day": 10})
    GenerationRequest.objects.create(tenant=tenants["acme"], task="budgeting", prompt="Allocate $1M")
    brief_for(tenants, personas, catalog, acme_policy, variants=4)  # 1 + 4 = 5 of 10
    brief_for(tenants, personas, catalog, acme_policy, variants=5)  # 10 of 10: exactly the limit
    with pytest.raises(DomainError, match=r"asked for 10 generations .* 1 more would pass the limit of 10") as exc:
        brief_for(tenants, personas, catalog, acme_policy, variants=1)
    assert (exc.value.code, exc.value.field) == (LIMIT_REACHED, "variants")
    assert CreativeBrief.objects.count() == 2
    # Another tenant's quota is its own.
    globex = catalog["globex"]
    brief_for(tenants, personas, catalog, acme_policy, tenant=tenants["globex"], user=personas["stranger"],
              brand=globex["brand"], skus=[s.pk for s in globex["skus"]], variants=12)  # fmt: skip
