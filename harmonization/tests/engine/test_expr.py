import pyarrow as pa
import pytest

from harmonization.engine.expr import EvalContext, ExprError, evaluate, parse
from harmonization.engine.numbers import NumberFormat

TABLE = pa.table(
    {
        "cost_micros": ["1500000", "250000", None],
        "Ad Spend": ["1.5", "2", "3"],
        "name": [" Shoes ", "Bags", None],
        "kind": ["SP", "SB", "SP"],
    }
)


def run(text: str, table: pa.Table = TABLE) -> list:
    numbers = NumberFormat()
    ctx = EvalContext(
        table.num_rows,
        lambda name: table.column(name).combine_chunks(),
        lambda arr, name: numbers.parse(arr, "float")[0],
    )
    return evaluate(parse(text), ctx).to_pylist()


def test_it_does_arithmetic_with_precedence_and_parentheses():
    assert run("cost_micros / 1000000") == [1.5, 0.25, None]
    assert run("1 + 2 * 3") == [7, 7, 7]
    assert run("(1 + 2) * 3 - -1") == [10, 10, 10]


def test_it_reads_columns_with_spaces_through_col():
    assert run('col("Ad Spend") * 2') == [3.0, 4.0, 6.0]


def test_it_evaluates_if_coalesce_and_comparisons():
    assert run("if(kind == 'SP', 'sponsored_product', 'search')") == [
        "sponsored_product",
        "search",
        "sponsored_product",
    ]
    assert run("coalesce(cost_micros / 1000000, 0)") == [1.5, 0.25, 0.0]
    assert run("if(cost_micros > 1000000 and kind == 'SP', 1, 0)") == [1, 0, None]
    assert run("not (kind == 'SB')") == [True, False, True]


def test_it_has_string_and_number_functions():
    assert run("lower(strip(name))") == ["shoes", "bags", None]
    assert run("concat(kind, '-', upper(kind))") == ["SP-SP", "SB-SB", "SP-SP"]
    assert run("round(cost_micros / 3, 2)") == [500000.0, 83333.33, None]
    assert run("abs(0 - 2)") == [2, 2, 2]
    assert run('max(col("Ad Spend"), 2)') == [2.0, 2.0, 3.0]
    assert run("min(1, 2, 3)") == [1, 1, 1]


def test_division_by_zero_gives_null():
    assert run("1 / 0") == [None, None, None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "not allowed"),
        ("name.upper()", "attribute access is not allowed"),
        ("open('x')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("1 +", "ended too early"),
        ("if(1, 2)", "if() takes 3 argument(s), got 2"),
        ("col(name)", "col() takes a quoted column name"),
        ("a ; b", "unexpected character ';'"),
        ("'abc", "unterminated string"),
        ("round(1, x)", "constant number of digits"),
    ],
)
def test_it_rejects_what_is_not_in_the_language(text, message):
    with pytest.raises(ExprError) as info:
        parse(text)
    assert message in str(info.value)
    assert "position" in str(info.value)


def test_it_knows_which_columns_an_expression_reads():
    assert parse('coalesce(cost_micros, col("Ad Spend")) / 2').columns == {"cost_micros", "Ad Spend"}


def test_nesting_and_length_are_bounded_with_a_clear_error():
    from harmonization.engine.expr import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_TOKENS

    ok = "(" * MAX_EXPRESSION_DEPTH + "cost_micros" + ")" * MAX_EXPRESSION_DEPTH
    assert parse(ok).columns == frozenset({"cost_micros"})
    with pytest.raises(ExprError, match="nested deeper than 32"):
        parse("(" * (MAX_EXPRESSION_DEPTH + 1) + "cost_micros" + ")" * (MAX_EXPRESSION_DEPTH + 1))
    with pytest.raises(ExprError, match="nested deeper than 32"):
        parse("abs(" * (MAX_EXPRESSION_DEPTH + 1) + "cost_micros" + ")" * (MAX_EXPRESSION_DEPTH + 1))
    with pytest.raises(ExprError, match="more than 300 terms"):
        parse("+".join(["1"] * (MAX_EXPRESSION_TOKENS // 2 + 2)))
    # the longest chain allowed still evaluates (evaluation recurses too)
    chain = "+".join(["1"] * (MAX_EXPRESSION_TOKENS // 2))
    assert run(chain) == [150.0, 150.0, 150.0]
