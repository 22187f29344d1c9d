"""Engine results as strict JSON: the one cleaning step between numpy-valued results and a JSON document."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np


def json_safe(value):
    """numpy scalars to Python, tuples, sets and arrays to lists, Decimal to float, dates to ISO strings, dict keys
    to strings, and NaN and infinities to None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
