"""Mapping settings that used to be accepted at save and fail at every ingest: the source encoding must be a text
encoding, the attribution window 1 to 365 days. Each is refused by load_mapping, naming the line and the key."""

from __future__ import annotations

import pytest

from harmonization.engine import load_mapping
from harmonization.tests.engine.test_spec import GOOD, broken, error_of


def with_encoding(encoding: str) -> str:
    return broken("  format: csv\n", f"  format: csv\n  encoding: {encoding}\n")


@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("zlib_codec", "is not a text encoding"),
        ("base64_codec", "is not a text encoding"),
        ("hex_codec", "is not a text encoding"),
        ("bz2_codec", "is not a text encoding"),
        ("rot13", "is not a text encoding"),  # str -> str: bytes cannot be decoded with it
        ("undefined", "cannot decode plain text"),
        ("idna", "host names"),
        ("no-such-codec", "unknown encoding"),
    ],
)
def test_a_codec_that_cannot_decode_a_file_is_refused_at_save(encoding, says):
    err = error_of(with_encoding(encoding))
    assert (err.key, err.line) == ("source.encoding", 6)
    assert says in err.message and repr(encoding) in err.message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "shift_jis", "cp037"])
def test_text_encodings_are_accepted(encoding):
    assert load_mapping(with_encoding(encoding)).source.encoding == encoding


@pytest.mark.parametrize("days", ["0", "366", "1000000000000000000000000000000", "7.5", "true", "'14'"])
def test_a_window_outside_1_to_365_days_is_refused_at_save(days):
    err = error_of(broken("  window_days: 14", f"  window_days: {days}"))
    assert err.key == "attribution.window_days" and "1 to 365" in err.message


@pytest.mark.parametrize(
    ("window", "key"),
    [
        ("{constant: 1000000000000000000000000000000}", "attribution.window_days.constant"),
        ("{source: win, default: 400}", "attribution.window_days.default"),
        ("{source: win, enum: {map: {'7d': 7, 'forever': 100000}}}", "attribution.window_days.enum.map.forever"),
    ],
)
def test_a_window_given_as_a_column_is_checked_too(window, key):
    err = error_of(broken("  window_days: 14", f"  window_days: {window}"))
    assert err.key == key and "1 to 365" in err.message


def test_windows_in_range_are_accepted():
    assert load_mapping(broken("  window_days: 14", "  window_days: 365")).attribution.window_days.constant == 365
    spec = load_mapping(broken("  window_days: 14", "  window_days: {source: win, enum: {map: {'7d': '7'}}}"))
    assert spec.attribution.window_days.enum.map == {"7d": "7"}
    assert load_mapping(GOOD).attribution.window_days.constant == 14
