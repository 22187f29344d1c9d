import datetime as dt
import json
from decimal import Decimal

import numpy as np

from optimizer.engine.jsonsafe import json_safe


def test_it_turns_engine_values_into_strict_json():
    value = {
        1: np.float64(2.5),
        "n": np.int64(7),
        "flag": np.bool_(True),
        "bad": [float("nan"), float("inf"), np.float32(-np.inf)],
        "pair": (1, Decimal("0.10")),
        "array": np.array([1.0, 2.0]),
        "day": dt.date(2026, 3, 1),
        "set": frozenset({"a"}),
    }
    out = json_safe(value)
    assert out == {
        "1": 2.5,
        "n": 7,
        "flag": True,
        "bad": [None, None, None],
        "pair": [1, 0.1],
        "array": [1.0, 2.0],
        "day": "2026-03-01",
        "set": ["a"],
    }
    assert type(out["n"]) is int and type(out["1"]) is float and type(out["flag"]) is bool
    json.dumps(out, allow_nan=False)  # raises on any NaN left behind


def test_plain_values_pass_through():
    assert json_safe({"s": "text", "none": None, "i": 3}) == {"s": "text", "none": None, "i": 3}
