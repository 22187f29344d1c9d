"""A/B pairs from a brief: with two takes a variant, both takes of one prompt that pass the policy and differ reach
reviewers as one pair item; the reviewers' preference becomes a DPO row of that prompt (the model scripted through
the CREATIVE_SCRIPT seam; the sampling of the second take is tested with the tiny model)."""

import json

import pytest
from django.urls import reverse

from core.errors import DomainError
from feedback.models import Creative, CreativeBrief, ReviewItem
from feedback.services.creatives import creative_brief_create, creative_brief_run
from feedback.services.datasets import feedback_dataset_export, feedback_dataset_rows
from feedback.tests.datasets_support import answer_all
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)
from feedback.tests.test_creative_briefs import POLICY, answer

BRIEF = dict(goal="Trial of the new cola", tone="upbeat", promotion="")


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, retailers):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"
    retailers["walmart"].policy_specs = POLICY
    retailers["walmart"].save()


@pytest.fixture
def script(settings, tmp_path):
    def write(*answers):
        path = tmp_path / "script.json"
        path.write_text(json.dumps(list(answers)))
        settings.CREATIVE_SCRIPT = str(path)

    return write


def run_brief(tenants, personas, catalog, retailers, **kw) -> CreativeBrief:
    acme = catalog["acme"]
    brief = creative_brief_create(
        tenant=tenants["acme"], user=personas["marketer"], retailer=retailers["walmart"], brand=acme["brand"],
        skus=[s.pk for s in acme["skus"]], enqueue=False, **{**BRIEF, **kw},
    )  # fmt: skip
    return creative_brief_run(brief.pk)


def test_two_takes_that_pass_and_differ_become_one_pair_item_of_the_same_prompt(
    review, tenants, personas, catalog, retailers, script
):
    script(
        answer(body="Cold and crisp."),  # variant 1, take 1
        answer(body="Ice cold, all summer."),  # variant 1, take 2: differs
        answer(body="Crisp and bright."),  # variant 2, take 1
        answer(body="Crisp and bright."),  # variant 2, take 2: the same copy
        answer(body="Fizzy fun."),  # variant 3, take 1
        answer(body="Now $1.99."),  # variant 3, take 2: a price claim, regenerated with the same fault: rejected
        answer(body="Only $2 a can."),
    )
    brief = run_brief(tenants, personas, catalog, retailers, variants=3, takes=2)
    assert brief.status == "succeeded", brief.error
    assert brief.progress == {"done": 6, "total": 6}
    by_key = {(c.variant, c.take): c for c in brief.creatives.all()}
    assert sorted(by_key) == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    assert not by_key[3, 2].compliant and by_key[3, 2].status == "rejected"

    items = list(ReviewItem.objects.filter(task=review["task"]).order_by("pk"))
    pairs = [i for i in items if i.kind == ReviewItem.Kind.PAIR]
    singles = [i for i in items if i.kind == ReviewItem.Kind.SINGLE]
    assert len(pairs) == 1 and {pairs[0].creative_id, pairs[0].creative_b_id} == {by_key[1, 1].pk, by_key[1, 2].pk}
    pair = pairs[0]
    assert pair.prompt == by_key[1, 1].prompt == by_key[1, 2].prompt
    assert pair.content["a"] == pair.creative.fields() and pair.content["b"] == pair.creative_b.fields()
    assert pair.content["brief"]["goal"] == BRIEF["goal"]
    # Twins that read the same are reviewed once; a take without a compliant twin is reviewed alone.
    assert sorted(i.creative_id for i in singles) == [by_key[2, 1].pk, by_key[3, 1].pk]
    assert by_key[2, 2].status == Creative.Status.DRAFT
    assert {by_key[1, 1].status, by_key[1, 2].status} == {Creative.Status.IN_REVIEW}


def test_the_reviewers_preference_on_a_pair_becomes_a_dpo_row_with_their_choice_chosen(
    review, tenants, personas, catalog, retailers, script
):
    script(answer(body="Cold and crisp."), answer(body="Ice cold, all summer."))
    run_brief(tenants, personas, catalog, retailers, variants=1, takes=2)
    pair = ReviewItem.objects.get(kind=ReviewItem.Kind.PAIR)
    winner = pair.creative_b if pair.content["b"]["body"] == "Ice cold, all summer." else pair.creative
    answer_all(pair, [review["reviewer"], review["reviewer2"]], preference="b" if winner == pair.creative_b else "a")
    dataset = feedback_dataset_export(tenant=tenants["acme"], task="creative", fmt="dpo", options={"heldout_share": 0})
    [row] = feedback_dataset_rows(dataset=dataset, part="train")
    assert row["source"] == "preference" and row["prompt"] == pair.prompt
    assert "Ice cold, all summer." in row["chosen"][0]["content"]
    assert "Cold and crisp." in row["rejected"][0]["content"]


def test_one_take_queues_singles_as_before(review, tenants, personas, catalog, retailers, script):
    script(answer(body="Cold and crisp."), answer(body="Ice cold, all summer."))
    brief = run_brief(tenants, personas, catalog, retailers, variants=2)
    assert brief.takes == 1 and [(c.variant, c.take) for c in brief.creatives.all()] == [(1, 1), (2, 1)]
    assert list(ReviewItem.objects.values_list("kind", flat=True)) == ["single", "single"]


@pytest.mark.parametrize("takes", [0, 3, True, "2"])
def test_takes_other_than_one_or_two_are_refused_naming_the_field(tenants, personas, catalog, retailers, takes):
    with pytest.raises(DomainError) as exc:
        run_brief(tenants, personas, catalog, retailers, variants=2, takes=takes)
    assert exc.value.field == "takes"
    assert not CreativeBrief.objects.exists()


def test_two_takes_count_twice_against_the_generations_a_day(tenants, personas, catalog, retailers):
    from governance.models import TenantLimits

    TenantLimits.objects.update_or_create(tenant=tenants["acme"], defaults={"generations_per_day": 10})
    acme = catalog["acme"]
    args = dict(
        tenant=tenants["acme"], user=personas["marketer"], retailer=retailers["walmart"], brand=acme["brand"],
        skus=[acme["skus"][0].pk], enqueue=False, **BRIEF,
    )  # fmt: skip
    creative_brief_create(variants=4, takes=2, **args)  # 8 generations
    with pytest.raises(DomainError, match=r"asked for 8 generations .* 4 more would pass the limit of 10") as exc:
        creative_brief_create(variants=2, takes=2, **args)
    assert exc.value.field == "variants"
    creative_brief_create(variants=2, takes=1, **args)  # 8 + 2 = 10: exactly the limit
    assert CreativeBrief.objects.count() == 2


def test_the_page_asks_for_two_takes(client, personas, catalog):
    client.force_login(personas["marketer"])
    page = client.get(reverse("creative_list")).content.decode()
    assert 'name="compare"' in page and "for reviewers to compare" in page
    acme = catalog["acme"]
    form = {"retailer": "walmart", "brand": acme["brand"].pk, "skus": [acme["skus"][0].pk], **BRIEF, "variants": 2}
    assert client.post(reverse("creative_list"), {**form, "compare": "on"}).status_code == 302
    assert client.post(reverse("creative_list"), form).status_code == 302
    assert list(CreativeBrief.objects.order_by("pk").values_list("takes", "progress")) == [
        (2, {"done": 0, "total": 4}),
        (1, {"done": 0, "total": 2}),
    ]


def test_the_api_asks_for_two_takes_and_refuses_three(tenants, personas, catalog):
    from governance.services import api_key_create
    from rmn_site.tests.api_support import API, client_for

    _, raw = api_key_create(tenant=tenants["acme"], name="Partner", created_by=personas["owner"])
    api = client_for(key=raw)
    body = {"retailer": "walmart", "brand": catalog["acme"]["brand"].pk, "skus": [catalog["acme"]["skus"][0].pk],
            "goal": "Trial of the new cola", "variants": 2}  # fmt: skip
    response = api.post(f"{API}/creative-briefs/", {**body, "takes": 2}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["takes"] == 2 and response.json()["progress"] == {"done": 0, "total": 4}
    refused = api.post(f"{API}/creative-briefs/", {**body, "takes": 3}, format="json")
    assert refused.status_code == 400 and "takes" in refused.content.decode()
    assert CreativeBrief.objects.count() == 1


def test_the_second_take_is_sampled_and_repeatable(tenants, personas, catalog, retailers, settings, tiny_model_dir):
    """With the tiny model: take 1 is the greedy answer; take 2 is sampled (seeded by brief, variant and attempt),
    so it differs from greedy and a rerun gives the same text."""
    from feedback.services.creatives import _model_generator
    from ml.inference import reset_runtime

    settings.BASE_MODEL = str(tiny_model_dir)
    reset_runtime()
    acme = catalog["acme"]
    brief = creative_brief_create(
        tenant=tenants["acme"], user=personas["marketer"], retailer=retailers["walmart"], brand=acme["brand"],
        skus=[acme["skus"][0].pk], enqueue=False, variants=1, takes=2, **BRIEF,
    )  # fmt: skip
    messages = [{"role": "user", "content": "Write ad copy for a cola."}]
    greedy = [_model_generator(brief, take=1, variant=1)(messages) for _ in range(2)]
    sampled = [_model_generator(brief, take=2, variant=1)(messages) for _ in range(2)]
    assert greedy[0] == greedy[1]
    assert sampled[0] == sampled[1] != greedy[0]
    other_variant = _model_generator(brief, take=2, variant=2)(messages)
    assert other_variant != sampled[0]
