"""The deterministic plan reader (optimizer/engine/objective_reader.py) on each form of each field, and the
cross-check with the budgeting adapter's answer (optimizer/objective_text.cross_check)."""

from __future__ import annotations

import pytest

from optimizer.engine.objective_reader import read_objective, retailer_names, words_to_digits
from optimizer.objective_text import adapter_retailers, cross_check

RETAILERS = [
    ("amazon", "Amazon Ads"), ("walmart", "Walmart Connect"), ("target", "Roundel (Target)"),
    ("instacart", "Instacart Ads"), ("kroger", "Kroger Precision Marketing"), ("criteo", "Criteo"),
]  # fmt: skip


def read(text: str):
    return read_objective(text, RETAILERS)


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("Spend $2.5M over 4 weeks", 2_500_000),
        ("spend 2.5 million dollars over 4 weeks", 2_500_000),
        ("budget 2,500,000 for 4 weeks", 2_500_000),
        ("250k for 4 weeks", 250_000),
        ("USD 2,500k over 4 weeks", 2_500_000),
        ("$1.2MM over 4 weeks", 1_200_000),
        ("3.5 mil over 4 weeks", 3_500_000),
        ("a $1bn year", 1_000_000_000),
        ("two and a half million bucks for 4 weeks", 2_500_000),
        ("half a million over 4 weeks", 500_000),
        ("five hundred thousand dollars over 4 weeks", 500_000),
        ("a quarter million for 4 weeks", 250_000),
        ("$400 thousand for 4 weeks", 400_000),
        ("80 grand for 4 weeks", 80_000),
        ("$50k a week for 8 weeks", 400_000),  # a weekly rate over the period
    ],
)
def test_amounts_in_every_spelling(text, budget):
    assert read(text).budget == pytest.approx(budget)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("$2M for 4 weeks", "USD"),
        ("US$2M for 4 weeks", "USD"),
        ("2M USD for 4 weeks", "USD"),
        ("£500k for 4 weeks", "GBP"),
        ("500k GBP for 4 weeks", "GBP"),
        ("500,000 pounds for 4 weeks", "GBP"),
        ("€1.2m for 4 weeks", "EUR"),
        ("EUR 1.2M for 4 weeks", "EUR"),
        ("1.2 million euros for 4 weeks", "EUR"),
        ("2,000,000 for 4 weeks", None),  # no sign: the tenant's currency
    ],
)
def test_currencies_by_sign_code_and_word(text, currency):
    reading = read(text)
    assert reading.currency == currency
    assert reading.budget and reading.budget >= 500_000


def test_two_currencies_are_ambiguous():
    assert "currency" in read("Spend £500k, cap Walmart at $50k, over 4 weeks").ambiguous


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("$1M over four weeks", 28),
        ("$1M over 8 weeks", 56),
        ("$1M for the next two weeks", 14),
        ("$1M for the year", 365),
        ("$1M in Q3", 92),
        ("$1M for the third quarter", 92),
        ("$1M over the quarter", 91),
        ("$1M next quarter", 91),
        ("$1M for a month", 30),
        ("$1M across 3 months", 90),
        ("$1M over 45 days", 45),
        ("$1M over a fortnight", 14),
        ("$1M for the wk", 7),
        ("$1M over a 6-week flight", 42),
        ("$1M annual budget", 365),
        ("$1M over 2 years", 730),
    ],
)
def test_durations_in_days_weeks_months_quarters_years(text, days):
    assert read(text).period_days == days


def test_no_period_and_two_periods_are_told_apart():
    assert read("Spend $1M to grow sales").period_days is None
    reading = read("Spend $1M over 4 weeks, in 10 days")
    assert reading.period_days is None and "period_days" in reading.ambiguous
    assert read("Spend $1M over 4 weeks (28 days)").period_days == 28  # the same period twice


@pytest.mark.parametrize(
    ("text", "floor", "basis"),
    [
        ("$1M for 4 weeks with ROAS >= 3", 3.0, None),
        ("$1M for 4 weeks at a 3:1 ROAS", 3.0, None),
        ("$1M for 4 weeks with a 3x return", 3.0, None),
        ("$1M for 4 weeks, ROAS of at least 300%", 3.0, None),
        ("$1M for 4 weeks keeping ROAS at least 2.5", 2.5, None),
        ("$1M for 4 weeks, target ROAS 4", 4.0, None),
        ("$1M for 4 weeks with iROAS no lower than 1.5", 1.5, "incremental"),
        ("$1M for 4 weeks, incremental ROAS above 2", 2.0, "incremental"),
        ("$1M for 4 weeks, attributed ROAS >= 5", 5.0, "attributed"),
        ("$1M for 4 weeks, $4 back for every $1", 4.0, None),
        ("$1M for 4 weeks", None, None),
    ],
)
def test_roas_floors_as_ratios_multiples_and_percentages(text, floor, basis):
    reading = read(text)
    assert reading.min_roas == (pytest.approx(floor) if floor is not None else None)
    assert reading.roas_basis == basis


def test_no_roas_target_is_said_and_read():
    reading = read("$1M over 4 weeks, no ROAS target, maximize revenue")
    assert reading.min_roas is None and reading.no_floor and not reading.ambiguous


@pytest.mark.parametrize(
    ("text", "objective"),
    [
        ("$1M for 4 weeks to maximize incremental margin", "incremental_margin"),
        ("$1M for 4 weeks, maximise gross margin", "incremental_margin"),
        ("$1M for 4 weeks to grow sales", "incremental_revenue"),
        ("$1M for 4 weeks, drive incremental revenue", "incremental_revenue"),
        ("$1M for 4 weeks, best net profit", "net_incremental_profit"),
        ("$1M for 4 weeks: profit after ad spend", "net_incremental_profit"),
        ("$1M for 4 weeks with a 3x return on attributed sales", None),  # sales in the ROAS clause is no goal
        ("$1M for 4 weeks", None),
    ],
)
def test_objectives_by_synonyms(text, objective):
    assert read(text).objective == objective


def test_retailer_caps_and_exclusions():
    reading = read("Spend $1M over 4 weeks. Cap Walmart at $200k and Target at 100k. Skip Kroger and Criteo.")
    assert reading.budget == 1_000_000
    assert reading.retailer_caps == {"walmart": 200_000, "target": 100_000}
    assert reading.exclude_retailers == ["kroger", "criteo"]
    reading = read("$500k for 6 weeks, no more than $50k on Amazon, nothing on instacart, target ROAS 3")
    assert reading.retailer_caps == {"amazon": 50_000} and reading.exclude_retailers == ["instacart"]
    assert reading.min_roas == 3 and reading.budget == 500_000  # "target ROAS" is no retailer
    assert read("$1M over 4 weeks, Walmart capped at 10% of the budget").retailer_caps == {"walmart": 100_000}


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Put 300k only on Walmart and Amazon for the next quarter", {"walmart", "amazon"}),
        ("$200k for 4 weeks, Walmart only", {"walmart"}),
        ("$1M over 4 weeks, just Amazon, Walmart and Target, ROAS 3x", {"amazon", "walmart", "target"}),
        ("Split $500k between Amazon (60%) and Walmart (40%) over 6 weeks", {"amazon", "walmart"}),
        ("$400k for 8 weeks exclusively on Instacart", {"instacart"}),
    ],
)
def test_a_plan_kept_to_some_retailers_leaves_the_others_out(text, kept):
    # Every retailer of the tenant the text does not keep gets nothing (its limits 0 on the form), in the tenant's
    # order; a retailer the text caps keeps its cap.
    reading = read(text)
    assert reading.exclude_retailers == [code for code, _name in RETAILERS if code not in kept]
    assert not reading.ambiguous
    capped = read("$1M over 4 weeks, only Amazon and Walmart, with Walmart capped at $100k")
    assert capped.retailer_caps == {"walmart": 100_000}
    assert capped.exclude_retailers == ["target", "instacart", "kroger", "criteo"]


def test_only_leaves_out_just_the_retailers_the_plan_could_spend_on():
    # The page passes every retailer the text may name, and the tenant's own as ``planned``.
    reading = read_objective("$300k for 4 weeks only on Walmart", RETAILERS, planned=["amazon", "walmart", "criteo"])
    assert reading.exclude_retailers == ["amazon", "criteo"]


def test_only_is_no_exclusivity_where_it_names_an_amount_or_contradicts_an_exclusion():
    assert read("Spend $1M over 4 weeks, only 200k on Amazon").exclude_retailers == []
    assert read("Spend $1M over 4 weeks, Amazon only gets 200k").exclude_retailers == []
    assert read("Put 300k behind Walmart and Amazon for 4 weeks").exclude_retailers == []  # named, not kept to
    contradiction = read("$100k over 4 weeks only on Amazon and Walmart, skip Walmart")
    assert "retailers" in contradiction.ambiguous


def test_words_become_digits_only_where_they_are_numbers():
    assert words_to_digits("four weeks and a half million") == "4 weeks and 0.5 million"
    assert words_to_digits("over a month") == "over a month"
    assert words_to_digits("two and a half million") == "2.5 million"


# --- the cross-check -------------------------------------------------------------------------------------------------


def adapter(**fields) -> dict:
    return {"budget": 1e6, "period_days": 28, "objective": "incremental_margin", "min_roas": None,
            "roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": [], **fields}  # fmt: skip


def test_agreement_fills_and_unstated_objective_takes_the_default():
    check = cross_check(read("Spend $1M over four weeks"), adapter(), currency="USD")
    assert check.question is None
    assert check.values == {"budget": 1e6, "period_days": 28, "objective": "incremental_margin", "min_roas": None,
                            "roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": []}  # fmt: skip


def test_each_disagreement_is_one_question_in_the_forms_order():
    reading = read("Spend $1M over four weeks, 3:1 ROAS, grow sales")
    check = cross_check(reading, adapter(period_days=4, min_roas=3.1), currency="USD")
    assert check.question.field == "period_days"
    assert [v for v, _label in check.question.choices] == ["28", "4"]
    check = cross_check(reading, adapter(period_days=4, min_roas=3.1), currency="USD", answers={"period_days": "28"})
    assert check.question.field == "objective"  # the adapter said margin, the text says sales
    answers = {"period_days": "28", "objective": "incremental_revenue"}
    check = cross_check(reading, adapter(period_days=4, min_roas=3.1), currency="USD", answers=answers)
    assert check.question.field == "min_roas"
    check = cross_check(reading, adapter(period_days=4, min_roas=3.1), currency="USD",
                        answers={**answers, "min_roas": "3"})  # fmt: skip
    assert check.question is None
    assert (check.values["period_days"], check.values["min_roas"]) == (28, 3.0)


def test_a_foreign_currency_is_asked_and_its_caps_follow_the_answer():
    reading = read("£500k over 8 weeks, cap Walmart at £50k")
    check = cross_check(reading, adapter(budget=5e5, period_days=56, retailer_caps={"walmart": 5e4}), currency="USD")
    assert check.question.field == "currency" and "“£500k” in GBP" in check.question.text
    check = cross_check(reading, adapter(budget=5e5, period_days=56, retailer_caps={"walmart": 5e4}), currency="USD",
                        answers={"currency": "640000"})  # fmt: skip
    assert check.values["budget"] == 640_000 and check.values["retailer_caps"] == {"walmart": 64_000}
    assert "converted at the budget's rate (1.28 USD per GBP)" in check.notes[0]
    assert cross_check(reading, adapter(budget=5e5, period_days=56, retailer_caps={"walmart": 5e4}),
                       currency="GBP").question is None  # fmt: skip


def test_missing_budget_or_period_is_asked_even_when_the_adapter_guesses():
    assert cross_check(read("grow sales over 4 weeks"), adapter(), currency="USD").question.field == "budget"
    check = cross_check(read("Spend $1M to grow sales"), adapter(period_days=None), currency="USD")
    assert check.question.field == "period_days" and check.question.choices == ()


def test_a_bad_answer_is_asked_again_with_the_error():
    check = cross_check(read("Spend $1M"), adapter(period_days=None), currency="USD", answers={"period_days": "0"})
    assert (
        check.question.field == "period_days" and check.question.error == "The period must be above 0 and at most 3650."
    )


def test_the_adapters_retailer_spelling_is_the_tenants_code():
    reading = read("Spend $1M over 4 weeks; cap Walmart Connect at $100k, nothing on Roundel")
    answer = adapter(retailer_caps={"walmart_connect": 100_000.0}, exclude_retailers=["roundel"])
    assert cross_check(reading, answer, currency="USD").question.field == "retailers"  # as spelt: no agreement
    check = cross_check(reading, adapter_retailers(answer, retailer_names(RETAILERS)), currency="USD")
    assert check.question is None
    assert check.values["retailer_caps"] == {"walmart": 100_000} and check.values["exclude_retailers"] == ["target"]
