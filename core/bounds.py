"""Bounds every input path shares: amounts both databases store exactly, seeds every random generator takes, ids.

* **Money.** Amounts are ``DecimalField(max_digits=18, decimal_places=4)``. PostgreSQL's ``numeric`` keeps all 18
  digits, but SQLite keeps a decimal as a REAL (a double: 15 significant digits), so a larger value comes back
  rounded, and one that rounds up to 15 integer digits (``99999999999999.9999``) cannot be read back at all
  (``decimal.InvalidOperation``: every list showing it answers 500). With 4 decimal places, 15 significant digits
  leave 11 before the point: ``MONEY_MAX`` is the largest amount that round-trips exactly on both.
* **Seeds** go to numpy, torch and Python's ``random``; 0..2**32-1 is what all of them accept.
* **Ids** are 64-bit signed integers in both databases; a larger number in a filter overflows SQLite's driver.
* **Dates** a study, experiment or policy covers: the optimizer reads them with pandas, whose timestamps end in
  1677 and 2262, so one lift study dated 9999-12-31 made every plan of its tenant fail. 1900..2199 leaves room.
"""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError

MONEY_MAX = Decimal("99999999999.9999")
SEED_MAX = 2**32 - 1
ID_MAX = 2**63 - 1
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)


def money_limit_message(value) -> str | None:
    """Why ``value`` is not a storable amount, or None when it is."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return f"{value!r} is not a number."
    if not amount.is_finite():
        return f"{value!r} is not a finite number."
    if amount > MONEY_MAX:
        return f"Ensure this amount is at most {MONEY_MAX:,} (the largest amount stored exactly)."
    if amount < -MONEY_MAX:
        return f"Ensure this amount is at least {-MONEY_MAX:,} (the largest amount stored exactly)."
    return None


def validate_money(value) -> None:
    """Model, form and serializer field validator: |amount| <= MONEY_MAX."""
    if value is None:
        return
    message = money_limit_message(value)
    if message:
        raise ValidationError(message, code="money_range")


def seed_limit_message(value) -> str | None:
    """Why ``value`` is not a seed, or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number from 0 to {SEED_MAX:,}, got {value!r}."
    if not 0 <= value <= SEED_MAX:
        return f"must be from 0 to {SEED_MAX:,} (2**32-1), got {value}."
    return None


def seed_argument(text: str) -> int:
    """``argparse`` type for a command's ``--seed``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a whole number, got {text!r}") from None
    message = seed_limit_message(value)
    if message:
        raise argparse.ArgumentTypeError(f"seed {message}")
    return value


def date_limit_message(value: dt.date) -> str | None:
    """Why ``value`` is outside the dates the optimizer can compute with, or None."""
    if not DATE_MIN <= value <= DATE_MAX:
        return f"must be between {DATE_MIN} and {DATE_MAX}, got {value}."
    return None
