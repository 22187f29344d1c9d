"""The budgeting prompt's amount normalizer: every way the dataset writes money reads back as its exact value."""

import random
import re

import pytest

from ml.engine.amounts import normalize_amounts
from ml.engine.datasets import budgeting
from ml.engine.prompts import task_messages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Allocate $2.5M over ten weeks.", "Allocate $2500000 over 10 weeks."),
        ("Spend USD 2.5M in Q3 with ROAS >= 3.5.", "Spend $2500000 in Q3 with ROAS >= 3.5."),
        ("Budget 1.5mm dollars with a 3x return.", "Budget $1500000 with a 3x return."),
        ("Plan a $1,200,000 budget for 14 days.", "Plan a $1200000 budget for 14 days."),
        ("2.5M USD next month", "$2500000 next month"),
        ("$60K, 60k dollars, $75 thousand, USD 400k", "$60000, $60000, $75000, $400000"),
        ("Spend half a million dollars for a month.", "Spend $500000 for a month."),
        ("a quarter million", "$250000"),
        ("Cap Kroger at $2.5m.", "Cap Kroger at $2500000."),
        ("$1.5 billion", "$1500000000"),
        ("twelve weeks at 4.5 ROAS", "12 weeks at 4.5 ROAS"),
    ],
)
def test_it_writes_money_as_plain_dollars_and_counts_as_digits(text, expected):
    assert normalize_amounts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Keep ROAS >= 3 with a 3x return in Q3.",
        "Run it over 3 months, 45 days at most.",
        "SKU CH-BBQ-12 at iROAS 2.5 or better",
        "Spend $3m over 3 months",  # only the amount changes
    ],
)
def test_it_leaves_numbers_that_are_not_money_alone(text):
    out = normalize_amounts(text)
    if "$3m" in text:
        assert out == "Spend $3000000 over 3 months"
    else:
        assert out == text


def test_every_amount_the_dataset_writes_reads_back_exactly():
    rng = random.Random(7)
    values = [1_000_000 * m for m in budgeting.MILLIONS] + [1000.0 * k for k in budgeting.THOUSANDS] + [110_000.0]
    for value in values:
        for _ in range(40):
            written = budgeting.money(value, rng)
            out = normalize_amounts(f"Cap it at {written}.")
            found = re.fullmatch(r"Cap it at \$(\d+)\.", out)
            assert found, (written, out)
            assert float(found[1]) == value, (written, out)


def test_the_budgeting_prompt_is_normalized_and_other_tasks_are_not():
    budget = task_messages("budgeting", {"text": "Allocate $2.5M over ten weeks"})
    assert budget[-1]["content"] == "Allocate $2500000 over 10 weeks"
    measure = task_messages("measurement", {"question": "Test $2.5M over ten weeks"})
    assert measure[-1]["content"] == "Test $2.5M over ten weeks"
