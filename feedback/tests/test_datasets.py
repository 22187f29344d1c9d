"""Datasets from feedback: each row type from its source, the filters (agreement, gold, duplicates), the split by
prompt, versions and provenance, through feedback.services.datasets on the console's own records."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from feedback.models import Creative, CreativeBrief, FeedbackDataset
from feedback.services.datasets import feedback_dataset_export, feedback_dataset_rows
from feedback.services.review import review_adjudicate
from feedback.tests.datasets_support import answer, answer_all, fields, pair, prompt, rate, single, text
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)

TRL_KEYS = {
    "dpo": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion", "label"),
    "sft": ("prompt", "completion"),
}


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"


@pytest.fixture
def two(review):
    return [review["reviewer"], review["reviewer2"]]


def export(review, fmt, **options):
    options.setdefault("heldout_share", 0)  # everything in train unless a test is about the split
    return feedback_dataset_export(tenant=review["task"].tenant, task="creative", fmt=fmt, options=options)


def rows(dataset, part="train"):
    return feedback_dataset_rows(dataset=dataset, part=part)


def trl(row: dict, fmt: str) -> dict:
    return {key: row[key] for key in TRL_KEYS[fmt]}


# --- each row type from its source -----------------------------------------------------------------------------------


def test_it_makes_a_dpo_pair_from_a_preference_with_the_winner_chosen(review, two):
    item = pair(review["task"], 1, "Crunch A", "Crunch B")
    fbs = answer_all(item, two, preference="b")
    [row] = rows(export(review, "dpo"))
    assert trl(row, "dpo") == {"prompt": prompt(1), "chosen": text(fields("Crunch B")),
                               "rejected": text(fields("Crunch A"))}  # fmt: skip
    assert row["source"] == "preference" and row["weight"] == 1.0
    assert row["item_ids"] == [item.pk] and row["feedback_ids"] == sorted(f.pk for f in fbs)
    assert row["reviewers"] == ["reviewer", "reviewer2"]
    # The creative task's canonical completion: answer keys in order, cta is not one of them.
    expected = '{"headline": "Crunch B", "body": "Fresh oats, baked today.", "disclosure": ""}'
    assert row["chosen"][0]["content"] == expected


def test_it_makes_no_pair_from_a_tie_or_both_bad(review, two):
    answer_all(pair(review["task"], 1, "A1", "B1"), two, preference="tie")
    answer_all(pair(review["task"], 2, "A2", "B2"), two, preference="both_bad")
    dataset = export(review, "dpo")
    assert rows(dataset) == []
    assert dataset.counts["dropped"] == {"tie_or_both_bad": 2}


def test_it_makes_a_dpo_pair_and_an_sft_row_from_a_correction(review, two):
    item = single(review["task"], 1, "Healthy granola cures all")
    answer(item, two[0], thumb="down", correction={"headline": "Granola, baked fresh"})
    answer(item, two[1], thumb="down")
    corrected = fields("Granola, baked fresh")
    [row] = rows(export(review, "dpo"))
    assert trl(row, "dpo") == {"prompt": prompt(1), "chosen": text(corrected),
                               "rejected": text(fields("Healthy granola cures all"))}  # fmt: skip
    assert row["source"] == "correction" and row["reviewers"] == ["reviewer"]
    [sft] = rows(export(review, "sft"))  # thumbs down: the correction is the only SFT row
    assert trl(sft, "sft") == {"prompt": prompt(1), "completion": text(corrected)}


def test_it_pairs_answers_to_the_same_prompt_whose_mean_ratings_differ_by_the_gap(review, two):
    task = review["task"]
    good, poor, middling = single(task, 1, "Good"), single(task, 1, "Poor"), single(task, 1, "Middling")
    answer_all(good, two, ratings=rate(5))
    answer_all(poor, two, ratings=rate(2))
    answer_all(middling, two, ratings=rate(4))
    other_prompt = single(task, 2, "Elsewhere")
    answer_all(other_prompt, two, ratings=rate(1))  # a different prompt never pairs, whatever the gap
    pairs = [trl(r, "dpo") for r in rows(export(review, "dpo"))]
    assert pairs == [
        {"prompt": prompt(1), "chosen": text(fields("Good")), "rejected": text(fields("Poor"))},
        {"prompt": prompt(1), "chosen": text(fields("Middling")), "rejected": text(fields("Poor"))},
    ]
    # A smaller gap, an option: 5 over 4 now counts too.
    assert len(rows(export(review, "dpo", min_rating_gap=1))) == 3


def test_it_makes_kto_rows_from_thumbs(review, two):
    up, down = single(review["task"], 1, "Liked"), single(review["task"], 2, "Disliked")
    answer_all(up, two, thumb="up")
    answer_all(down, two, thumb="down")
    got = [trl(r, "kto") for r in rows(export(review, "kto"))]
    assert got == [
        {"prompt": prompt(1), "completion": text(fields("Liked")), "label": True},
        {"prompt": prompt(2), "completion": text(fields("Disliked")), "label": False},
    ]


def test_it_makes_sft_rows_from_approved_creatives_and_thumbs_up(review, two, catalog, retailers):
    tenant = review["task"].tenant
    brief = CreativeBrief.objects.create(
        tenant=tenant, retailer=retailers["amazon"], brand=catalog["acme"]["brand"], goal="trial"
    )
    approved = Creative.objects.create(
        tenant=tenant, brief=brief, retailer=retailers["amazon"], variant=1, prompt=prompt(7), compliant=True,
        status=Creative.Status.APPROVED, **fields("Approved by a marketer"),
    )  # fmt: skip
    Creative.objects.create(
        tenant=tenant, brief=brief, retailer=retailers["amazon"], variant=2, prompt=prompt(8), compliant=True,
        status=Creative.Status.DRAFT, **fields("Still a draft"),
    )  # fmt: skip
    answer_all(single(review["task"], 1, "Thumbs up"), two, thumb="up")
    answer_all(single(review["task"], 2, "Thumbs down"), two, thumb="down")
    dataset = export(review, "sft")
    assert [trl(r, "sft") for r in rows(dataset)] == [
        {"prompt": prompt(7), "completion": text(fields("Approved by a marketer"))},
        {"prompt": prompt(1), "completion": text(fields("Thumbs up"))},
    ]
    assert dataset.provenance["approved_creative_ids"] == [approved.pk]


# --- filters ---------------------------------------------------------------------------------------------------------


def test_it_leaves_out_disagreeing_items_until_adjudicated_then_uses_the_ruling(review, two):
    item = single(review["task"], 1, "Disputed")
    answer(item, two[0], thumb="up")
    answer(item, two[1], thumb="down")
    item.refresh_from_db()
    assert item.status == "conflict"
    dataset = export(review, "kto")
    assert rows(dataset) == [] and dataset.counts["dropped"] == {"unadjudicated_conflict": 2}

    ruling = review_adjudicate(item=item, adjudicator=review["adjudicator"], thumb="down")
    dataset = export(review, "kto")
    [row] = rows(dataset)
    assert trl(row, "kto") == {"prompt": prompt(1), "completion": text(fields("Disputed")), "label": False}
    assert row["reviewers"] == ["adjudicator"]
    assert dataset.provenance["adjudication_ids"] == [ruling.pk]


def test_it_leaves_out_items_still_waiting_for_reviewers_and_gold_items(review, two):
    answer(single(review["task"], 1, "Half done"), two[0], thumb="up")
    gold = single(review["task"], 2, "Gold", gold={"thumb": "up"})
    answer_all(gold, two, thumb="up")
    dataset = export(review, "kto")
    assert rows(dataset) == []
    assert dataset.counts["dropped"] == {"awaiting_reviewers": 1, "gold_item": 2}


def test_it_drops_reviewers_who_fail_gold_and_weights_the_others_by_gold_accuracy(review):
    task, good, okay, bad = review["task"], review["reviewer"], review["reviewer2"], review["reviewer3"]
    task.overlap = 3
    task.save()
    golds = [single(task, 100 + i, f"Gold {i}", gold={"thumb": "up"}) for i in range(4)]
    for i, g in enumerate(golds):
        answer(g, good, thumb="up")
        answer(g, okay, thumb="up" if i < 3 else "down")  # 3 of 4
        answer(g, bad, thumb="down")  # 0 of 4: below 0.6
    item = single(task, 1, "Checked")
    answer_all(item, [good, okay, bad], thumb="up")
    dataset = export(review, "kto")
    [row] = rows(dataset)
    assert row["reviewers"] == ["reviewer", "reviewer2"]
    assert row["weight"] == pytest.approx((1.0 + 0.75) / 2)
    assert dataset.counts["dropped"] == {"gold_item": 12, "reviewer_below_gold": 1}
    # A stricter threshold drops the 75% reviewer too; a laxer one keeps everyone.
    assert rows(export(review, "kto", min_gold_accuracy=0.8))[0]["reviewers"] == ["reviewer"]
    assert rows(export(review, "kto", min_gold_accuracy=0))[0]["reviewers"] == ["reviewer", "reviewer2", "reviewer3"]


def test_it_removes_exact_and_near_duplicates(review, two):
    task = review["task"]
    answer_all(single(task, 1, "Crunchy oat clusters with honey and almonds"), two, thumb="up")
    answer_all(single(task, 1, "crunchy  oat clusters with honey and ALMONDS"), two, thumb="up")  # same, normalised
    long_body = "Whole grain oats baked slowly with honey almonds and a pinch of sea salt for a crisp morning bowl"
    answer_all(single(task, 1, "Morning granola", body=long_body), two, thumb="up")
    answer_all(single(task, 1, "Morning granola", body=long_body + " today"), two, thumb="up")  # near: Jaccard 0.95
    answer_all(single(task, 1, "Something else entirely"), two, thumb="up")
    answer_all(single(task, 1, "Crunchy oat clusters with honey and almonds"), two, thumb="down")  # other label
    dataset = export(review, "kto")
    got = [(r["completion"][0]["content"], r["label"]) for r in rows(dataset)]
    assert [(c.split('"')[3], label) for c, label in got] == [
        ("Crunchy oat clusters with honey and almonds", True),
        ("Morning granola", True),
        ("Something else entirely", True),
        ("Crunchy oat clusters with honey and almonds", False),
    ]
    assert dataset.counts["dropped"] == {"duplicate": 1, "near_duplicate": 1}


@pytest.fixture
def policed(review, catalog, retailers):
    """A brief whose retailer policy bans the claim "cures" and price claims, and a maker of items on it: a pair item's
    creative is its A side (as the console stores pairs), a single item's creative is its copy."""
    tenant = review["task"].tenant
    brief = CreativeBrief.objects.create(
        tenant=tenant, retailer=retailers["amazon"], brand=catalog["acme"]["brand"], goal="trial",
        policy={"banned_claims": ["cures"], "price_claims_allowed": False, "headline_max_chars": 60},
    )  # fmt: skip

    def creative(n, headline, body="Fresh oats, baked today."):
        return Creative.objects.create(
            tenant=tenant, brief=brief, retailer=retailers["amazon"], variant=n, prompt=prompt(n),
            **fields(headline, body),
        )  # fmt: skip

    def make_pair(n, a, b):
        item = pair(review["task"], n, a, b)
        item.creative = creative(n, a)
        item.save(update_fields=["creative"])
        return item

    def make_single(n, headline, body="Fresh oats, baked today."):
        item = single(review["task"], n, headline, body=body)
        item.creative = creative(n, headline, body)
        item.save(update_fields=["creative"])
        return item

    return {"pair": make_pair, "single": make_single}


def test_it_drops_a_pair_whose_chosen_answer_breaks_the_items_policy_and_counts_it(review, two, policed):
    answer_all(policed["pair"](1, "Granola cures all", "Granola, baked fresh"), two, preference="a")  # chose a ban
    answer_all(policed["pair"](2, "Granola cures all", "Granola, baked fresh"), two, preference="b")  # chose clean
    answer_all(policed["pair"](3, "Granola now $2.99", "Granola for less"), two, preference="a")  # a price claim
    dataset = export(review, "dpo")
    [row] = rows(dataset)
    assert trl(row, "dpo") == {"prompt": prompt(2), "chosen": text(fields("Granola, baked fresh")),
                               "rejected": text(fields("Granola cures all"))}  # fmt: skip
    assert dataset.counts["dropped"] == {"chosen_breaks_policy": 2}
    assert dataset.options["drop_policy_violations"] is True
    assert dataset.provenance["item_ids"] == [row["item_ids"][0]]  # the dropped rows' feedback is not behind it
    # The flag off (an option, as the API and the command take it): all three pairs, nothing dropped.
    kept = export(review, "dpo", drop_policy_violations="false")
    assert len(rows(kept)) == 3 and kept.counts["dropped"] == {}


def test_it_drops_a_correction_that_breaks_the_policy_and_thumbs_up_on_a_breaking_copy(review, two, policed):
    clean_fix = policed["single"](1, "Granola cures all")
    answer(clean_fix, two[0], thumb="down", correction={"headline": "Granola, baked fresh"})
    answer(clean_fix, two[1], thumb="down")
    bad_fix = policed["single"](2, "Granola, plain")
    answer(bad_fix, two[0], thumb="down", correction={"body": "Half price: now $1.99."})
    answer(bad_fix, two[1], thumb="down")
    answer_all(policed["single"](3, "Granola cures colds"), two, thumb="up")  # liked, but it breaks the policy
    answer_all(policed["single"](4, "Granola, crisp"), two, thumb="up")
    dpo = export(review, "dpo")
    assert [r["chosen"] for r in rows(dpo)] == [text(fields("Granola, baked fresh"))]
    assert dpo.counts["dropped"] == {"chosen_breaks_policy": 1}
    sft = export(review, "sft")
    assert [r["completion"] for r in rows(sft)] == [text(fields("Granola, baked fresh")),
                                                    text(fields("Granola, crisp"))]  # fmt: skip
    assert sft.counts["dropped"] == {"chosen_breaks_policy": 2}
    # KTO: a thumbs-down on breaking copy still teaches (what not to write); the thumbs-up on it does not.
    kto = export(review, "kto")
    assert [(r["completion"], r["label"]) for r in rows(kto)] == [
        (text(fields("Granola cures all")), False), (text(fields("Granola, plain")), False),
        (text(fields("Granola, crisp")), True),
    ]  # fmt: skip
    assert kto.counts["dropped"] == {"chosen_breaks_policy": 1}


def test_the_policy_filter_drops_training_rows_only_and_keeps_held_out_as_reviewers_chose(review, two, policed):
    # Twelve prompts, each a pair where reviewers chose the banned claim: with everything held out, nothing is
    # dropped (the gate measures agreement with reviewers there); with nothing held out, all twelve are dropped.
    for n in range(12):
        answer_all(policed["pair"](n, f"Granola {n} cures all", f"Granola {n}, baked fresh"), two, preference="a")
    held = export(review, "dpo", heldout_share=0.99)
    assert len(rows(held, "heldout")) == 12 and rows(held, "train") == []
    assert held.counts["dropped"] == {}
    assert all("cures all" in r["chosen"][0]["content"] for r in rows(held, "heldout"))
    split = export(review, "dpo", heldout_share=0.5, seed=3)
    train, heldout = rows(split, "train"), rows(split, "heldout")
    assert train == [] and 0 < len(heldout) < 12
    assert split.counts["dropped"] == {"chosen_breaks_policy": 12 - len(heldout)}
    assert split.provenance["item_ids"] == sorted(i for r in heldout for i in r["item_ids"])


def test_items_without_a_creative_have_no_policy_to_check(review, two):
    answer_all(pair(review["task"], 1, "Granola cures all, $2.99", "Granola"), two, preference="a")
    dataset = export(review, "dpo")
    assert len(rows(dataset)) == 1 and dataset.counts["dropped"] == {}


# --- split, versions, provenance -------------------------------------------------------------------------------------


def test_it_never_puts_a_prompt_in_both_train_and_heldout(review, two):
    task = review["task"]
    for n in range(30):
        for variant in ("first", "second", "third"):  # three answers per prompt: a prompt's rows must stay together
            answer_all(single(task, n, f"Copy {variant} for granola {n}"), two, thumb="up" if n % 2 else "down")
    dataset = export(review, "kto", heldout_share=0.2, seed=7)
    train, heldout = rows(dataset, "train"), rows(dataset, "heldout")
    assert len(train) + len(heldout) == 90
    train_prompts = {r["prompt"][1]["content"] for r in train}
    heldout_prompts = {r["prompt"][1]["content"] for r in heldout}
    assert train_prompts and heldout_prompts and not train_prompts & heldout_prompts
    assert 2 <= len(heldout_prompts) <= 12  # about 20% of 30 prompts
    assert dataset.counts["train"] == len(train) and dataset.counts["heldout"] == len(heldout)
    # Stable: the same seed holds out the same prompts in the next version; another seed others.
    again = export(review, "kto", heldout_share=0.2, seed=7)
    assert {r["prompt"][1]["content"] for r in rows(again, "heldout")} == heldout_prompts
    other = export(review, "kto", heldout_share=0.2, seed=8)
    assert {r["prompt"][1]["content"] for r in rows(other, "heldout")} != heldout_prompts


def test_it_stores_each_export_as_a_new_version_with_its_provenance(review, two):
    item = pair(review["task"], 1, "A", "B")
    fbs = answer_all(item, two, preference="a")
    first = export(review, "dpo")
    second = export(review, "dpo", min_rating_gap=3)
    assert (first.version, second.version) == (1, 2)
    assert second.options["min_rating_gap"] == 3.0 and first.options["min_rating_gap"] == 2.0
    assert first.provenance == {
        "feedback_ids": sorted(f.pk for f in fbs),
        "adjudication_ids": [],
        "item_ids": [item.pk],
        "approved_creative_ids": [],
        "review_task_ids": [review["task"].pk],
        "guideline_versions": [{"task": review["task"].pk, "version": 1}],
    }
    assert first.train_path != second.train_path and len(first.sha256) == 64
    assert FeedbackDataset.objects.filter(tenant=review["task"].tenant).count() == 2


def test_it_refuses_an_unknown_task_format_or_option_and_stores_nothing(review):
    tenant = review["task"].tenant
    bad = [
        ({"task": "harmonization", "fmt": "dpo"}, "task"),
        ({"task": "creative", "fmt": "ppo"}, "format"),
        ({"task": "creative", "fmt": "dpo", "options": {"heldout_share": 1.5}}, "options.heldout_share"),
        ({"task": "creative", "fmt": "dpo", "options": {"colour": "red"}}, "options.colour"),
        (
            {"task": "creative", "fmt": "dpo", "options": {"drop_policy_violations": "maybe"}},
            "options.drop_policy_violations",
        ),
    ]
    for kwargs, field in bad:
        with pytest.raises(DomainError) as err:
            feedback_dataset_export(tenant=tenant, **kwargs)
        assert err.value.field == field
    assert not FeedbackDataset.objects.exists()
