import json

import pytest

from ml.engine.prompts import ANSWER_KEYS, TASKS, answer_text, parse_answer, task_messages

ANSWERS = {
    "budgeting": {"budget": 2500000.0, "period_days": 28, "objective": "incremental_margin", "min_roas": 3.0,
                  "roas_basis": "attributed", "retailer_caps": {"walmart": 400000.0}, "exclude_retailers": ["criteo"]},
    "harmonization": {"field": "spend"},
    "creative": {"headline": "Try Zero Cola today", "body": "Crisp and cold.", "disclosure": "Sponsored"},
    "measurement": {"design": "geo_holdout", "test_share": 0.2, "weeks": 4, "mde": 0.05, "metric": "incremental_sales"},
}  # fmt: skip
PAYLOADS = {
    "budgeting": {"text": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"},
    "harmonization": {"retailer": "amazon", "column": "Total Cost (USD)", "samples": ["12.30", "4.50", "7.00", "9"]},
    "creative": {"retailer": "walmart", "brand": "Acme Foods", "product": "Granola", "brief": "Launch it.",
                 "policy": {"headline_max_chars": 45, "banned_claims": ["#1", "cures"],
                            "required_disclosures": ["Sponsored"], "price_claims_allowed": False}},
    "measurement": {"question": "Did the Instacart push lift sales in the Midwest?"},
}  # fmt: skip


@pytest.mark.parametrize("task", TASKS)
def test_it_round_trips_every_task_answer(task):
    text = answer_text(task, ANSWERS[task])
    assert list(json.loads(text)) == list(ANSWER_KEYS[task])
    assert parse_answer(task, text) == ANSWERS[task]
    # Chatter around the object and a second object after it do not matter.
    assert parse_answer(task, f'Sure! {text} {{"more": 1}}') == ANSWERS[task]


def test_it_writes_the_pinned_budgeting_json_shape():
    assert answer_text("budgeting", ANSWERS["budgeting"]) == (
        '{"budget": 2500000.0, "period_days": 28, "objective": "incremental_margin", "min_roas": 3.0, '
        '"roas_basis": "attributed", "retailer_caps": {"walmart": 400000.0}, "exclude_retailers": ["criteo"]}'
    )


@pytest.mark.parametrize(
    "task,text",
    [
        ("budgeting", "no json here"),
        ("budgeting", '{"budget": "lots"}'),
        ("budgeting", answer_text("budgeting", {**ANSWERS["budgeting"], "objective": "clicks"})),
        ("budgeting", answer_text("budgeting", {**ANSWERS["budgeting"], "budget": True})),
        ("harmonization", '{"column": "spend"}'),
        ("harmonization", '{"field": 3}'),
        ("creative", '{"headline": "x", "body": "y"}'),
        ("measurement", answer_text("measurement", {**ANSWERS["measurement"], "design": "survey"})),
        ("measurement", '{"design": "geo_holdout", "test_share": 0.2'),
    ],
)
def test_it_rejects_answers_that_are_not_valid_json_of_the_task_shape(task, text):
    assert parse_answer(task, text) is None


def test_it_accepts_a_null_field():
    assert parse_answer("harmonization", '{"field": null}') == {"field": None}


@pytest.mark.parametrize("task", TASKS)
def test_it_builds_short_system_and_user_messages(task):
    messages = task_messages(task, PAYLOADS[task])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert len(messages[0]["content"]) < 80


def test_it_puts_the_policy_and_only_three_samples_into_the_prompt():
    creative = task_messages("creative", PAYLOADS["creative"])[1]["content"]
    assert "headline max: 45 chars" in creative and "banned: #1; cures" in creative
    assert "disclosure: Sponsored" in creative and "price claims: no" in creative
    harmonization = task_messages("harmonization", PAYLOADS["harmonization"])[1]["content"]
    assert "samples: 12.30 | 4.50 | 7.00" in harmonization and "9" not in harmonization.split("|")[-1]


def test_it_names_what_is_missing_or_unknown():
    with pytest.raises(ValueError, match="'text'"):
        task_messages("budgeting", {"question": "?"})
    with pytest.raises(ValueError, match="Unknown task 'poetry'"):
        task_messages("poetry", {})


def test_budgeting_retailers_are_read_as_codes():
    text = answer_text(
        "budgeting",
        {**ANSWERS["budgeting"], "retailer_caps": {" Sams Club": 20000.0, "best-buy": 5.0},
         "exclude_retailers": ["Home Depot", "home_depot", "criteo"]},
    )  # fmt: skip
    parsed = parse_answer("budgeting", text)
    assert parsed["retailer_caps"] == {"sams_club": 20000.0, "best_buy": 5.0}
    assert parsed["exclude_retailers"] == ["home_depot", "criteo"]
    conflicting = answer_text("budgeting", {**ANSWERS["budgeting"], "retailer_caps": {"Kroger": 1.0, "kroger": 2.0}})
    assert parse_answer("budgeting", conflicting) is None
    empty = answer_text("budgeting", {**ANSWERS["budgeting"], "exclude_retailers": [" "]})
    assert parse_answer("budgeting", empty) is None
