"""Strict readers of the optimizer's file contract (H.csv, S.csv, L.csv, BOUNDS.json; docs/optimization.md) and of
an exposure test's unit-level file for uplift (U.csv; docs/measurement.md, "Uplift workflow").

Every error names the file, the line (1 is the header), the column and the value, so a partner can fix the file
without guessing. Extra columns are ignored; missing ones are listed.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.engine.errors import OptimizerInputError

HISTORY_COLUMNS = (
    "date",
    "retailer",
    "placement_type",
    "campaign_id",
    "sku_id",
    "impressions",
    "clicks",
    "spend",
    "attributed_sales",
    "attributed_units",
    "attribution_window_days",
    "currency",
)
SKU_COLUMNS = ("sku_id", "brand", "category", "product_name", "price", "unit_cost")
LIFT_COLUMNS = (
    "retailer",
    "placement_type",
    "start_date",
    "end_date",
    "spend",
    "incremental_sales",
    "incremental_sales_se",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _read(path, columns: tuple[str, ...], *, name: str | None = None) -> tuple[pd.DataFrame, str]:
    """``path``: a file path, or the file's bytes or a binary file object (an upload) when ``name`` is given."""
    name = name or Path(path).name
    if isinstance(path, bytes):
        path = io.BytesIO(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise OptimizerInputError(f"{path}: no such file.", field=name) from None
    except pd.errors.EmptyDataError:
        raise OptimizerInputError(
            f"{name} is empty; it needs a header line with {', '.join(columns) or 'the column names'}.", field=name
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise OptimizerInputError(f"{name} is not a readable UTF-8 CSV file: {exc}", field=name) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise OptimizerInputError(
            f"{name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {', '.join(frame.columns)}); the header must name {', '.join(columns)}.",
            field=name,
            details={"missing": missing},
        )
    frame = frame[list(columns or frame.columns)].apply(lambda col: col.str.strip())
    return frame, name


# --- U.csv: an exposure test, one line per unit (shopper, store, household) ------------------------------------------

EXPOSURE_COLUMNS = ("treatment", "outcome")
EXPOSURE_ID = "unit_id"
MAX_FEATURES = 40
MAX_CATEGORIES = 50  # more distinct text values than this is an id or free text, not a segment
_REPEATED = re.compile(r"^(.*)\.(\d+)$")
_NUMBER_SHARE = 0.5  # a column with at least this share of numbers is numeric, and its other values are typos


def read_exposure_test(source, *, name: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """U.csv: ``treatment`` (1 exposed, 0 control), ``outcome`` (a number: sales, units or a 0/1 conversion), an
    optional ``unit_id`` (unique, not used as a feature) and one or more feature columns: every other column. A
    feature whose values are all numbers is numeric; one whose values are all text is a category (at most
    MAX_CATEGORIES distinct values); a mostly numeric column with a stray text value is refused at that line.

    Returns ``unit_id`` (when given), the features in the file's order, then ``treatment`` (int) and ``outcome``
    (float), indexed from 0 (line = index + 2); :func:`exposure_parts` splits it. Errors name the file, line, column
    and value.
    """
    frame, name = _read(source, (), name=name)
    if not isinstance(frame.index, pd.RangeIndex):  # pandas takes surplus leading values of every line as an index
        raise OptimizerInputError(
            f"{name} line 2: more values than the header line names columns ({len(frame.columns)}); every line needs "
            "one value per column.",
            field=name,
        )
    # pandas renames a repeated header "x" to "x.1": a second column of the same name would silently be another one.
    repeated = (_REPEATED.match(c) for c in frame.columns)
    duplicated = sorted({m.group(1) for m in repeated if m and m.group(1) in frame.columns})
    if "" in frame.columns or any(c.startswith("Unnamed:") for c in frame.columns):
        raise OptimizerInputError(f"{name}: a column has no name in the header line; name every column.", field=name)
    missing = [c for c in EXPOSURE_COLUMNS if c not in frame.columns]
    if missing:
        raise OptimizerInputError(
            f"{name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (found: "
            f"{', '.join(frame.columns)}); the header must name treatment, outcome and at least one feature.",
            field=name,
            details={"missing": missing},
        )
    if duplicated:
        raise OptimizerInputError(
            f"{name}: the header names {', '.join(duplicated)} more than once; every column needs its own name.",
            field=name,
        )
    features = [c for c in frame.columns if c not in (*EXPOSURE_COLUMNS, EXPOSURE_ID)]
    if not features:
        raise OptimizerInputError(
            f"{name} has no feature column: add the columns that describe each unit (audience, region, past "
            "spend ...) beside treatment and outcome.",
            field=name,
        )
    if len(features) > MAX_FEATURES:
        raise OptimizerInputError(
            f"{name} has {len(features)} feature columns; at most {MAX_FEATURES} are supported.", field=name
        )
    _nonempty(frame, name)
    if max_rows is not None and len(frame) > max_rows:
        raise OptimizerInputError(
            f"{name} has {len(frame):,} data lines; at most {max_rows:,} are accepted.", field=name
        )
    treatment = frame["treatment"]
    bad = np.flatnonzero(~treatment.isin(("0", "1")).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise _bad(name, i, "treatment", treatment.iloc[i], "1 (exposed) or 0 (control)")
    outcome = _number(frame, name, "outcome", minimum=None)
    if EXPOSURE_ID in frame.columns:
        ids = _text(frame, name, EXPOSURE_ID)
        dup = ids.duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise _bad(name, i, EXPOSURE_ID, ids.iloc[i], "a new unit_id (it repeats an earlier line)")
    out = {EXPOSURE_ID: ids} if EXPOSURE_ID in frame.columns else {}
    for column in features:
        raw = _text(frame, name, column)
        numbers = pd.to_numeric(raw, errors="coerce")
        finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
        if finite.all():
            out[column] = numbers.astype(float)
        elif finite.mean() >= _NUMBER_SHARE:
            i = int(np.flatnonzero(~finite)[0])
            raise _bad(name, i, column, raw.iloc[i], "a number like the column's other values")
        else:
            levels = raw.nunique()
            if levels > MAX_CATEGORIES:
                raise OptimizerInputError(
                    f"{name}, column {column}: {levels:,} distinct text values; a feature must be a number or a "
                    f"category with at most {MAX_CATEGORIES} values (an id column? name it unit_id).",
                    field=name,
                    details={"column": column, "distinct": int(levels)},
                )
            out[column] = raw.astype(str)
    out["treatment"] = treatment.astype(int)
    out["outcome"] = outcome
    return pd.DataFrame(out).reset_index(drop=True)


def exposure_parts(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(features, treatment, outcome) of a read_exposure_test frame: unit_id is no feature."""
    features = frame.drop(columns=[*EXPOSURE_COLUMNS, EXPOSURE_ID], errors="ignore")
    return features, frame["treatment"].to_numpy(), frame["outcome"].to_numpy()


def _bad(name: str, row: int, column: str, value: str, expected: str) -> OptimizerInputError:
    return OptimizerInputError(
        f"{name} line {row + 2}, column {column}: {value!r} is not {expected}.",
        field=name,
        details={"line": row + 2, "column": column, "value": value},
    )


def _text(frame: pd.DataFrame, name: str, column: str, *, required: bool = True) -> pd.Series:
    col = frame[column]
    if required:
        empty = np.flatnonzero(col.to_numpy() == "")
        if len(empty):
            raise _bad(name, int(empty[0]), column, "", "a value (it is empty)")
    return col


def _number(
    frame: pd.DataFrame, name: str, column: str, *, minimum: float | None = 0.0, integer: bool = False, strict=False
) -> pd.Series:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    what = "a whole number" if integer else "a number"
    if minimum is not None:
        what += f" {'above' if strict else 'of at least'} {minimum:g}"
        bad |= (values <= minimum) if strict else (values < minimum)
    if integer:
        bad |= values.notna() & (values.round() != values)
    rows = np.flatnonzero(bad.to_numpy())
    if len(rows):
        i = int(rows[0])
        raise _bad(name, i, column, raw.iloc[i], what + " (plain digits and a decimal point, e.g. 1234.56)")
    return values.astype("int64" if integer else "float64")


def _dates(frame: pd.DataFrame, name: str, column: str) -> pd.Series:
    raw = frame[column]
    ok = raw.str.match(_DATE)
    parsed = pd.to_datetime(raw.where(ok), format="%Y-%m-%d", errors="coerce")
    rows = np.flatnonzero((~ok | parsed.isna()).to_numpy())
    if len(rows):
        i = int(rows[0])
        raise _bad(name, i, column, raw.iloc[i], "a date written YYYY-MM-DD")
    return parsed.astype("datetime64[ns]")


def _nonempty(frame: pd.DataFrame, name: str) -> None:
    if len(frame) == 0:
        raise OptimizerInputError(f"{name} has a header but no data lines.", field=name)


def read_history(path) -> pd.DataFrame:
    """H.csv: one line per day, channel, campaign and (for SKU-level placements) SKU."""
    frame, name = _read(path, HISTORY_COLUMNS)
    _nonempty(frame, name)
    out = pd.DataFrame(
        {
            "date": _dates(frame, name, "date"),
            "retailer": _text(frame, name, "retailer"),
            "placement_type": _text(frame, name, "placement_type"),
            "campaign_id": _text(frame, name, "campaign_id"),
            "sku_id": _text(frame, name, "sku_id", required=False),
            "impressions": _number(frame, name, "impressions"),
            "clicks": _number(frame, name, "clicks"),
            "spend": _number(frame, name, "spend"),
            "attributed_sales": _number(frame, name, "attributed_sales"),
            "attributed_units": _number(frame, name, "attributed_units"),
            "attribution_window_days": _number(
                frame, name, "attribution_window_days", integer=True, minimum=0, strict=True
            ),
        }
    )
    currency = _text(frame, name, "currency")
    rows = np.flatnonzero(~currency.str.match(_CURRENCY).to_numpy())
    if len(rows):
        i = int(rows[0])
        raise _bad(name, i, "currency", currency.iloc[i], "an ISO 4217 currency code (three capital letters, e.g. USD)")
    out["currency"] = currency
    key = out["retailer"] + "|" + out["placement_type"]
    for column, what in (("currency", "currencies"), ("attribution_window_days", "attribution windows")):
        per = out.groupby(key)[column].unique()
        mixed = per[per.map(len) > 1]
        if len(mixed):
            channel = mixed.index[0]
            values = ", ".join(str(v) for v in sorted(mixed.iloc[0]))
            raise OptimizerInputError(
                f"{name}: channel {channel} mixes {what} ({values}); one channel must report in one "
                f"{'currency' if column == 'currency' else 'attribution window'} (convert or split the channel).",
                field=name,
                details={"channel": channel, "column": column, "values": [str(v) for v in mixed.iloc[0]]},
            )
    currencies = sorted(out["currency"].unique())
    if len(currencies) > 1:
        raise OptimizerInputError(
            f"{name} mixes currencies across channels ({', '.join(currencies)}); convert the history to one "
            f"currency first, since the budget is one amount.",
            field=name,
            details={"column": "currency", "values": currencies},
        )
    return out


def read_skus(path) -> pd.DataFrame:
    """S.csv: the catalog the history's sku_id values refer to (price and unit cost give each SKU's margin)."""
    frame, name = _read(path, SKU_COLUMNS)
    _nonempty(frame, name)
    out = pd.DataFrame(
        {
            "sku_id": _text(frame, name, "sku_id"),
            "brand": _text(frame, name, "brand"),
            "category": _text(frame, name, "category", required=False),
            "product_name": _text(frame, name, "product_name", required=False),
            "price": _number(frame, name, "price", minimum=0, strict=True),
            "unit_cost": _number(frame, name, "unit_cost"),
        }
    )
    dup = out["sku_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise _bad(name, i, "sku_id", out["sku_id"].iloc[i], "a new sku_id (it repeats an earlier line)")
    return out


def read_lift_studies(path) -> pd.DataFrame:
    """L.csv: measured incremental sales of a channel over a window, with its standard error."""
    frame, name = _read(path, LIFT_COLUMNS)
    if len(frame) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LIFT_COLUMNS})
    out = pd.DataFrame(
        {
            "retailer": _text(frame, name, "retailer"),
            "placement_type": _text(frame, name, "placement_type"),
            "start_date": _dates(frame, name, "start_date"),
            "end_date": _dates(frame, name, "end_date"),
            "spend": _number(frame, name, "spend"),
            "incremental_sales": _number(frame, name, "incremental_sales", minimum=None),
            "incremental_sales_se": _number(frame, name, "incremental_sales_se", minimum=0, strict=True),
        }
    )
    backwards = np.flatnonzero((out["end_date"] < out["start_date"]).to_numpy())
    if len(backwards):
        i = int(backwards[0])
        raise _bad(
            name, i, "end_date", frame["end_date"].iloc[i], f"on or after start_date {frame['start_date'].iloc[i]}"
        )
    return out


def read_bounds(path, known_channels: Iterable[str]) -> dict[str, tuple[float, float]]:
    """BOUNDS.json: ``{"retailer|placement_type": [min_spend, max_spend]}`` for the whole period (max may be null)."""
    name = Path(path).name
    known = list(known_channels)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptimizerInputError(f"{path}: no such file.", field=name) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OptimizerInputError(f"{name} is not valid JSON: {exc}", field=name) from None
    if not isinstance(data, dict):
        raise OptimizerInputError(
            f'{name} must be a JSON object like {{"amazon|sponsored_product": [1000, 5000]}}, '
            f"got {type(data).__name__}.",
            field=name,
        )
    out: dict[str, tuple[float, float]] = {}
    for key, value in data.items():
        if key not in known:
            raise OptimizerInputError(
                f"{name}: unknown channel {key!r}; the history has {', '.join(known)} (keys are "
                f"'retailer|placement_type').",
                field=name,
                details={"channel": key, "known": known},
            )
        ok = isinstance(value, list) and len(value) == 2
        lo = value[0] if ok else None
        hi = value[1] if ok else None
        ok = ok and _is_number(lo) and (hi is None or _is_number(hi))
        if not ok or lo < 0 or (hi is not None and hi < 0):
            raise OptimizerInputError(
                f"{name}: {key} must be [min_spend, max_spend] with non-negative numbers (max may be null), "
                f"got {json.dumps(value)}.",
                field=name,
                details={"channel": key, "value": value},
            )
        hi = math.inf if hi is None else float(hi)
        if lo > hi:
            raise OptimizerInputError(
                f"{name}: {key} has a minimum {lo:,.2f} above its maximum {hi:,.2f}.",
                field=name,
                details={"channel": key, "value": value},
            )
        out[key] = (float(lo), hi)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def channel_keys(history: pd.DataFrame) -> list[str]:
    """The history's channels as 'retailer|placement_type', in first-seen order."""
    return list(dict.fromkeys(history["retailer"] + "|" + history["placement_type"]))
