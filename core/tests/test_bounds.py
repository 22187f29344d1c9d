"""The shared bounds (core.bounds): seeds 0..2**32-1 on every command that takes one; amounts up to MONEY_MAX."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from core.bounds import MONEY_MAX, validate_money

SEED_COMMANDS = ["optimize", "train_lora", "build_dataset", "seed_demo", "generate_exports"]


@pytest.mark.parametrize("command", SEED_COMMANDS)
@pytest.mark.parametrize("seed", [str(2**32), str(2**80), "-1"])
def test_every_command_refuses_a_seed_outside_0_to_2_32_minus_1(command, seed):
    with pytest.raises(CommandError, match=r"--seed: seed must be from 0 to 4,294,967,295"):
        call_command(command, "--seed", seed)


@pytest.mark.parametrize("amount", [MONEY_MAX, -MONEY_MAX, Decimal("0"), Decimal("0.0001"), None])
def test_amounts_up_to_the_bound_pass(amount):
    validate_money(amount)


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        (MONEY_MAX + Decimal("0.0001"), "at most 99,999,999,999.9999"),
        (Decimal("99999999999999.9999"), "at most 99,999,999,999.9999"),
        (-MONEY_MAX - 1, "at least -99,999,999,999.9999"),
        (Decimal("NaN"), "not a finite number"),
    ],
)
def test_amounts_past_the_bound_say_the_largest_allowed(amount, says):
    with pytest.raises(ValidationError, match=says):
        validate_money(amount)
