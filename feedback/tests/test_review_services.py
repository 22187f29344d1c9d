"""Assignment, answers, undo, gold accuracy and adjudication, through the services."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from feedback.models import Adjudication, Assignment, Feedback, ReviewItem
from feedback.selectors import answers_visible, reviewer_quality_list, task_agreement
from feedback.services.review import (
    guideline_create,
    review_adjudicate,
    review_next,
    review_submit,
    review_undo,
)
from feedback.tests.review_support import ALL_FOUR, make_items, review_fixture  # noqa: F401  (the review fixture)


def _answer(item, user, **kwargs):
    kwargs.setdefault("ratings", ALL_FOUR)
    return review_submit(item=item, reviewer=user, **kwargs)


def test_it_gives_each_item_to_overlap_reviewers_and_never_twice_to_one(review):
    task = review["task"]
    first, second = make_items(task, 2)
    a = review_next(task=task, reviewer=review["reviewer"])
    assert a.item == first
    assert review_next(task=task, reviewer=review["reviewer"]) == a  # still pending: the same one again
    _answer(first, review["reviewer"])
    assert review_next(task=task, reviewer=review["reviewer"]).item == second  # never the same item twice
    assert review_next(task=task, reviewer=review["reviewer2"]).item == first
    third = review_next(task=task, reviewer=review["reviewer3"])
    assert third.item == second  # the first item already has its two reviewers
    assert Assignment.objects.filter(item=first).count() == 2


def test_it_marks_an_item_complete_when_all_answers_agree_and_conflict_when_not(review):
    task = review["task"]
    agree, clash = make_items(task, 2)
    for user in (review["reviewer"], review["reviewer2"]):
        review_next(task=task, reviewer=user)
        _answer(agree, user, thumb="up")
    agree.refresh_from_db()
    assert agree.status == ReviewItem.Status.COMPLETE
    review_next(task=task, reviewer=review["reviewer"])
    _answer(clash, review["reviewer"], ratings={**ALL_FOUR, "clear": 5})
    clash.refresh_from_db()
    assert clash.status == ReviewItem.Status.OPEN  # one answer of two
    review_next(task=task, reviewer=review["reviewer2"])
    _answer(clash, review["reviewer2"], ratings={**ALL_FOUR, "clear": 2})
    clash.refresh_from_db()
    assert clash.status == ReviewItem.Status.CONFLICT


def test_it_keeps_the_record_of_what_was_shown(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    review_next(task=task, reviewer=review["reviewer"])
    v2 = guideline_create(task=task, text="Version two.")
    fb = _answer(item, review["reviewer"], thumb="down", reason_tags=["off brand"], seconds_spent=7.5,
                 correction={"headline": "Better oats", "body": "Baked this morning."})  # fmt: skip
    assert fb.prompt == item.prompt and fb.adapter_versions[0]["version"] == 3
    assert fb.guideline == v2 and v2.version == 2 and fb.seconds_spent == 7.5
    assert fb.correction == {"headline": "Better oats", "body": "Baked this morning."}
    assert review["guideline"].text == "Rate what a shopper would think."  # the old version is untouched


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ratings": {**ALL_FOUR, "clear": 6}}, "ratings.clear"),
        ({"ratings": {"clear": 3}}, "ratings.on_brand"),
        ({"ratings": {**ALL_FOUR, "tasty": 3}}, "ratings"),
        ({"ratings": {}, "thumb": "sideways"}, "thumb"),
        ({"preference": "a"}, "preference"),
        ({"correction": {"slogan": "x"}}, "correction"),
    ],
)
def test_it_names_the_field_of_a_bad_answer_and_stores_nothing(review, kwargs, field):
    task = review["task"]
    (item,) = make_items(task, 1)
    review_next(task=task, reviewer=review["reviewer"])
    with pytest.raises(DomainError) as caught:
        _answer(item, review["reviewer"], **kwargs)
    assert caught.value.field == field
    assert not Feedback.objects.exists()


def test_it_asks_a_pair_for_a_preference(review):
    task = review["task"]
    (pair,) = make_items(task, 1, kind=ReviewItem.Kind.PAIR)
    review_next(task=task, reviewer=review["reviewer"])
    with pytest.raises(DomainError) as caught:
        review_submit(item=pair, reviewer=review["reviewer"])
    assert caught.value.field == "preference"
    fb = review_submit(item=pair, reviewer=review["reviewer"], preference="both_bad", reason="Both shout.")
    assert fb.preference == "both_bad" and fb.reason == "Both shout."


def test_it_refuses_an_answer_to_an_item_not_assigned(review):
    (item,) = make_items(review["task"], 1)
    with pytest.raises(DomainError) as caught:
        _answer(item, review["reviewer"])
    assert caught.value.code == "forbidden"


def test_a_changed_answer_supersedes_and_only_the_current_one_counts(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    for user in (review["reviewer"], review["reviewer2"]):
        review_next(task=task, reviewer=user)
    first = _answer(item, review["reviewer"], thumb="down")
    _answer(item, review["reviewer2"], thumb="up")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.CONFLICT
    second = _answer(item, review["reviewer"], thumb="up")
    first.refresh_from_db()
    item.refresh_from_db()
    assert second.supersedes == first and not first.is_current and second.is_current
    assert item.status == ReviewItem.Status.COMPLETE  # the changed answer now agrees
    assert Feedback.objects.filter(item=item).count() == 3  # nothing deleted


def test_undo_withdraws_the_answer_and_gives_the_item_back(review):
    task = review["task"]
    first, _second = make_items(task, 2)
    review_next(task=task, reviewer=review["reviewer"])
    answer = _answer(first, review["reviewer"], thumb="up")
    review_undo(item=first, reviewer=review["reviewer"])
    answer.refresh_from_db()
    assert not answer.is_current
    assert review_next(task=task, reviewer=review["reviewer"]).item == first  # to answer again
    again = _answer(first, review["reviewer"], thumb="down")
    assert again.supersedes == answer
    with pytest.raises(DomainError):
        review_undo(item=_second, reviewer=review["reviewer"])


def test_it_hides_other_answers_until_the_viewer_has_answered(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    for user in (review["reviewer"], review["reviewer2"]):
        review_next(task=task, reviewer=user)
    _answer(item, review["reviewer"], thumb="down", reason="Secret reason")
    assert answers_visible(item=item, viewer=review["reviewer2"]) == []
    _answer(item, review["reviewer2"], thumb="up")
    seen = answers_visible(item=item, viewer=review["reviewer2"])
    assert [fb.reason for fb in seen] == ["Secret reason"]


def test_it_measures_gold_accuracy_and_gives_gold_to_everyone(review):
    task = review["task"]
    gold = make_items(task, 2, gold={"thumb": "down", "ratings": {"compliant": 1}})
    right = {**ALL_FOUR, "compliant": 2}
    answers = {
        "reviewer": [("down", 4), ("up", 10)],  # one right, one wrong
        "reviewer2": [("down", 6), ("down", 8)],
    }
    for name, given in answers.items():
        for thumb, seconds in given:
            item = review_next(task=task, reviewer=review[name]).item
            _answer(item, review[name], thumb=thumb, ratings=right, seconds_spent=seconds)
    # Overlap is 2, yet the third reviewer still gets both gold items: gold measures everyone.
    assert review_next(task=task, reviewer=review["reviewer3"]).item == gold[0]
    quality = {q.username: q for q in reviewer_quality_list(task=task)}
    assert quality["reviewer"].gold_accuracy == 0.5 and quality["reviewer"].median_seconds == 7
    assert quality["reviewer2"].gold_accuracy == 1.0 and quality["reviewer2"].median_seconds == 7
    assert quality["reviewer3"].gold_accuracy is None and quality["reviewer3"].submitted == 0
    assert all(ReviewItem.objects.get(pk=g.pk).status == ReviewItem.Status.OPEN for g in gold)


def test_an_adjudicator_resolves_a_conflict(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    for user, thumb in ((review["reviewer"], "up"), (review["reviewer2"], "down")):
        review_next(task=task, reviewer=user)
        _answer(item, user, thumb=thumb)
    item.refresh_from_db()
    assert len(answers_visible(item=item, viewer=review["adjudicator"], adjudicator=True)) == 2
    ruling = review_adjudicate(item=item, adjudicator=review["adjudicator"], thumb="down", ratings=ALL_FOUR,
                               note="The claim is not allowed.")  # fmt: skip
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.RESOLVED and ruling.decision["thumb"] == "down"
    with pytest.raises(DomainError):
        review_adjudicate(item=item, adjudicator=review["adjudicator"], thumb="up", ratings=ALL_FOUR)
    assert Adjudication.objects.count() == 1


def test_it_reports_agreement_of_a_task(review):
    task = review["task"]
    items = make_items(task, 4)
    # Thumbs as in the hand-computed nominal table of test_agreement: (up,up) (up,down) (down,down) (down,down).
    thumbs = [("up", "up"), ("up", "down"), ("down", "down"), ("down", "down")]
    for item, (one, two) in zip(items, thumbs, strict=True):
        for user, thumb in ((review["reviewer"], one), (review["reviewer2"], two)):
            review_next(task=task, reviewer=user)
            _answer(item, user, thumb=thumb)
    agreement = task_agreement(task=task)
    assert agreement.alpha["thumb"] == pytest.approx(16 / 30)
    assert agreement.alpha["ratings.clear"] is None  # everyone rated 4: nothing to agree on
    (pair,) = agreement.pairs
    # kappa: p_o = 3/4; reviewer up 2/4, reviewer2 up 1/4 -> p_e = .5*.25 + .5*.75 = .5; (0.75-0.5)/0.5 = 0.5
    assert pair["reviewers"] == ("reviewer", "reviewer2") and pair["kappa"]["thumb"] == pytest.approx(0.5)
