"""The file contract readers: exact columns, errors that name the file, line, column and value."""

from __future__ import annotations

import json
import math

import pytest

from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.files import (
    HISTORY_COLUMNS,
    channel_keys,
    read_bounds,
    read_history,
    read_lift_studies,
    read_skus,
)

HEADER = ",".join(HISTORY_COLUMNS)
ROW_A = "2025-03-01,amazon,sponsored_product,c1,SKU-1,1000,5,120.50,600.00,40,14,USD"
ROW_B = "2025-03-01,walmart,search,c2,,800,2,80.00,300.00,20,14,USD"


def _write(tmp_path, name, *lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_it_reads_a_valid_history(tmp_path):
    path = _write(tmp_path, "H.csv", HEADER + ",extra", ROW_A + ",x", ROW_B + ",y")
    frame = read_history(path)
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert str(frame["date"].dtype) == "datetime64[ns]"
    assert frame["spend"].sum() == pytest.approx(200.5)
    assert frame["sku_id"].tolist() == ["SKU-1", ""]  # campaign-level rows have no SKU
    assert frame["attribution_window_days"].tolist() == [14, 14]
    assert channel_keys(frame) == ["amazon|sponsored_product", "walmart|search"]


def test_it_names_missing_columns(tmp_path):
    path = _write(tmp_path, "H.csv", HEADER.replace(",clicks", "").replace(",currency", ""), "x")
    with pytest.raises(OptimizerInputError) as err:
        read_history(path)
    assert "H.csv lacks the columns clicks, currency" in err.value.message
    assert err.value.details["missing"] == ["clicks", "currency"]


@pytest.mark.parametrize(
    ("bad_row", "column", "value"),
    [
        (ROW_B.replace("80.00", "eighty"), "spend", "eighty"),
        (ROW_B.replace("80.00", "-80.00"), "spend", "-80.00"),
        (ROW_B.replace("2025-03-01", "03/01/2025"), "date", "03/01/2025"),
        (ROW_B.replace("2025-03-01", "2025-02-30"), "date", "2025-02-30"),
        (ROW_B.replace(",14,", ",14.5,"), "attribution_window_days", "14.5"),
        (ROW_B.replace(",USD", ",usd"), "currency", "usd"),
        (ROW_B.replace(",walmart,", ",,"), "retailer", ""),
    ],
)
def test_it_names_the_line_column_and_value_of_a_bad_history_cell(tmp_path, bad_row, column, value):
    path = _write(tmp_path, "H.csv", HEADER, ROW_A, bad_row)
    with pytest.raises(OptimizerInputError) as err:
        read_history(path)
    assert err.value.message.startswith(f"H.csv line 3, column {column}: {value!r} is not")
    assert err.value.details == {"line": 3, "column": column, "value": value}


def test_it_refuses_mixed_currencies_or_windows_in_a_channel(tmp_path):
    other_day = ROW_A.replace("2025-03-01", "2025-03-02")
    path = _write(tmp_path, "H.csv", HEADER, ROW_A, other_day.replace(",USD", ",EUR"))
    with pytest.raises(OptimizerInputError, match=r"amazon\|sponsored_product mixes currencies \(EUR, USD\)"):
        read_history(path)
    path = _write(tmp_path, "H.csv", HEADER, ROW_A, other_day.replace(",14,", ",7,"))
    with pytest.raises(OptimizerInputError, match=r"mixes attribution windows \(7, 14\)"):
        read_history(path)
    path = _write(tmp_path, "H.csv", HEADER, ROW_A, ROW_B.replace(",USD", ",EUR"))
    with pytest.raises(OptimizerInputError, match="mixes currencies across channels"):
        read_history(path)


def test_it_refuses_an_empty_file_or_one_without_rows(tmp_path):
    with pytest.raises(OptimizerInputError, match=r"H\.csv is empty"):
        read_history(_write(tmp_path, "H.csv", ""))
    with pytest.raises(OptimizerInputError, match=r"H\.csv has a header but no data lines"):
        read_history(_write(tmp_path, "H.csv", HEADER))
    with pytest.raises(OptimizerInputError, match="no such file"):
        read_history(tmp_path / "missing.csv")


def test_it_reads_skus_and_refuses_bad_prices_and_duplicates(tmp_path):
    header = "sku_id,brand,category,product_name,price,unit_cost"
    frame = read_skus(_write(tmp_path, "S.csv", header, "SKU-1,Acme,Snacks,Chips,4.49,2.60"))
    assert frame.loc[0, "price"] == pytest.approx(4.49)
    with pytest.raises(OptimizerInputError) as err:
        read_skus(_write(tmp_path, "S.csv", header, "SKU-1,Acme,Snacks,Chips,0,2.60"))
    assert err.value.message.startswith("S.csv line 2, column price: '0' is not a number above 0")
    with pytest.raises(OptimizerInputError, match=r"S\.csv line 3, column sku_id: 'SKU-1' is not a new sku_id"):
        read_skus(_write(tmp_path, "S.csv", header, "SKU-1,Acme,Snacks,Chips,4,2", "SKU-1,Acme,Snacks,Chips,4,2"))


def test_it_reads_lift_studies_and_refuses_bad_windows_and_errors(tmp_path):
    header = "retailer,placement_type,start_date,end_date,spend,incremental_sales,incremental_sales_se"
    frame = read_lift_studies(
        _write(tmp_path, "L.csv", header, "amazon,sponsored_product,2025-03-01,2025-03-28,10000,-500,900")
    )
    assert frame.loc[0, "incremental_sales"] == -500  # a study may measure a negative effect
    assert len(read_lift_studies(_write(tmp_path, "L.csv", header))) == 0
    with pytest.raises(OptimizerInputError, match="column end_date: '2025-02-01' is not on or after start_date"):
        read_lift_studies(_write(tmp_path, "L.csv", header, "amazon,sp,2025-03-01,2025-02-01,1,1,1"))
    with pytest.raises(OptimizerInputError, match="column incremental_sales_se: '0' is not a number above 0"):
        read_lift_studies(_write(tmp_path, "L.csv", header, "amazon,sp,2025-03-01,2025-03-02,1,1,0"))


def test_bounds_read_and_refuse_unknown_channels(tmp_path):
    known = ["amazon|sponsored_product", "walmart|search"]
    path = tmp_path / "B.json"
    path.write_text(json.dumps({"amazon|sponsored_product": [100, 500], "walmart|search": [0, None]}))
    assert read_bounds(path, known) == {"amazon|sponsored_product": (100.0, 500.0), "walmart|search": (0.0, math.inf)}
    path.write_text(json.dumps({"amazon|ctv": [0, 1]}))
    with pytest.raises(OptimizerInputError) as err:
        read_bounds(path, known)
    assert "unknown channel 'amazon|ctv'; the history has amazon|sponsored_product, walmart|search" in err.value.message
    path.write_text(json.dumps({"walmart|search": [5, 1]}))
    with pytest.raises(OptimizerInputError, match=r"minimum 5\.00 above its maximum 1\.00"):
        read_bounds(path, known)
    path.write_text(json.dumps({"walmart|search": [-1, 1]}))
    with pytest.raises(OptimizerInputError, match="non-negative"):
        read_bounds(path, known)
    path.write_text("[1, 2]")
    with pytest.raises(OptimizerInputError, match="must be a JSON object"):
        read_bounds(path, known)
    path.write_text("{not json")
    with pytest.raises(OptimizerInputError, match=r"B\.json is not valid JSON"):
        read_bounds(path, known)
