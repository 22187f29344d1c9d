import pytest

from harmonization.engine import MappingError, load_mapping

GOOD = """\
version: 1
name: walmart_item
retailer: walmart
source:
  format: csv
  timezone: America/Chicago
date:
  column: date
  format: "%Y-%m-%d"
columns:
  campaign_id: {source: campaignId}
  placement_type: {constant: sponsored_product}
  retailer_item_id: {source: itemId}
  impressions: {source: numAdsShown}
  clicks: {source: numAdsClicks}
  spend: {source: adSpend}
  attributed_sales: {source: directAttributedSales14days}
  attributed_units: {source: attributedUnits14days}
  currency: {constant: USD}
attribution:
  window_days: 14
  model: last_click
sku:
  match: retailer_item_id
"""


def broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def error_of(text: str) -> MappingError:
    with pytest.raises(MappingError) as info:
        load_mapping(text, origin="walmart.yaml")
    return info.value


def test_it_loads_a_valid_mapping():
    spec = load_mapping(GOOD, origin="walmart.yaml")
    assert spec.name == "walmart_item"
    assert spec.retailer == "walmart"
    assert spec.columns["clicks"].source == "numAdsClicks"
    assert spec.columns["spend"].type == "decimal"
    assert spec.attribution.window_days.constant == 14
    assert spec.required_columns[:2] == ["date", "campaignId"]
    assert spec.raw["source"]["timezone"] == "America/Chicago"


def test_it_names_line_and_key_of_an_unknown_key_with_a_suggestion():
    err = error_of(broken("  timezone: America/Chicago", "  timezone: America/Chicago\n  delimeter: ';'"))
    assert err.line == 7
    assert err.key == "source.delimeter"
    assert "did you mean 'delimiter'" in str(err)
    assert str(err).startswith("walmart.yaml:7: source.delimeter: unknown key")


def test_it_names_a_column_without_source_constant_or_expr():
    err = error_of(broken("  clicks: {source: numAdsClicks}", "  clicks: {type: integer}"))
    assert str(err) == "walmart.yaml:15: columns.clicks.source: required (or give constant or expr)"


def test_it_reports_a_missing_required_field():
    err = error_of(broken("  clicks: {source: numAdsClicks}\n", ""))
    assert err.key == "columns.clicks"
    assert "required" in err.message


def test_it_rejects_an_unknown_time_zone_on_its_line():
    err = error_of(broken("America/Chicago", "America/Chicgo"))
    assert err.line == 6
    assert err.key == "source.timezone"
    assert "America/Chicgo" in err.message


def test_it_rejects_a_bad_expression_with_its_position():
    err = error_of(broken("  spend: {source: adSpend}", '  spend: {expr: "adSpend * (2 +"}'))
    assert err.line == 16
    assert err.key == "columns.spend.expr"
    assert "position 15" in err.message  # just past the end: the expression stops early


def test_it_rejects_unknown_functions_in_expressions():
    err = error_of(broken("  spend: {source: adSpend}", "  spend: {expr: \"__import__('os')\"}"))
    assert err.key == "columns.spend.expr"
    assert "not allowed" in err.message


def test_it_rejects_bad_enum_values_currencies_and_formats():
    assert "is not one of" in error_of(broken("{constant: sponsored_product}", "{constant: banner}")).message
    assert "ISO 4217" in error_of(broken("currency: {constant: USD}", "currency: {constant: usd}")).message
    err = error_of(broken('format: "%Y-%m-%d"', 'format: "%Y-%m-%Q"'))
    assert err.key == "date.format"
    assert "%Q" in err.message
    err = error_of(broken("  model: last_click", "  model: last_clik"))
    assert "did you mean 'last_click'" in err.message


def test_it_checks_enum_maps_against_rmis_values():
    text = broken(
        "  placement_type: {constant: sponsored_product}",
        "  placement_type:\n    source: adType\n    enum:\n"
        "      map: {SP: sponsored_product, SB: brand}\n      unknown: quarantine",
    )
    err = error_of(text)
    assert err.key == "columns.placement_type.enum.map.SB"
    assert err.line == 15


def test_it_reports_yaml_syntax_errors_with_a_line():
    err = error_of(GOOD.replace("  clicks: {source: numAdsClicks}", "  clicks: {source: numAdsClicks"))
    assert err.key == "(yaml)"
    assert err.line >= 15


def test_it_requires_version_1():
    err = error_of(GOOD.replace("version: 1", "version: 2"))
    assert str(err) == "walmart.yaml:1: version: must be 1, not 2"


# --- documents built to exhaust the server ---------------------------------------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_aliases_are_refused_before_anything_is_built():
    # Nine levels of nine aliases: 9**9 (387 million) strings once composed; refused from the event stream.
    with pytest.raises(MappingError) as err:
        load_mapping(LAUGHS)
    assert err.value.line == 2 and "aliases (*a) are not allowed" in err.value.message


def test_a_single_alias_in_an_otherwise_good_mapping_is_refused_with_its_line():
    text = GOOD.replace("  timezone: America/Chicago", "  timezone: &tz America/Chicago").replace(
        "  currency: {constant: USD}", "  currency: {constant: *tz}"
    )
    with pytest.raises(MappingError) as err:
        load_mapping(text)
    assert err.value.line == 19 and "aliases (*tz)" in err.value.message


def test_too_large_too_deep_or_too_many_values_is_refused():
    from harmonization.engine.spec import MAX_MAPPING_CHARS, MAX_MAPPING_DEPTH, MAX_MAPPING_NODES

    with pytest.raises(MappingError, match="characters; at most"):
        load_mapping(GOOD + "#" * MAX_MAPPING_CHARS)
    deep = "a: " + "[" * (MAX_MAPPING_DEPTH + 5) + "]" * (MAX_MAPPING_DEPTH + 5) + "\n"
    with pytest.raises(MappingError, match="nested deeper than"):
        load_mapping(deep)
    wide = "a: [" + ", ".join("1" for _ in range(MAX_MAPPING_NODES + 1)) + "]\n"
    with pytest.raises(MappingError, match="more than 20,000 values"):
        load_mapping(wide)


def test_an_expression_built_to_overflow_the_stack_is_an_error_on_its_key():
    cases = {
        "(" * 20_000 + "adSpend" + ")" * 20_000: "characters; at most 2,000",
        "-" * 5000 + "adSpend": "characters; at most 2,000",
        "+".join(["adSpend"] * 200): "more than 300 terms",
        "(" * 40 + "adSpend" + ")" * 40: "nested deeper than 32",
    }
    for expr, message in cases.items():
        text = GOOD.replace("  spend: {source: adSpend}", f"  spend: {{expr: '{expr}'}}")
        with pytest.raises(MappingError) as err:
            load_mapping(text)
        assert err.value.key.startswith("columns.spend") and message in err.value.message, err.value
    # 150,000 terms (1.2 MB) is refused as a document before any parsing
    text = GOOD.replace("  spend: {source: adSpend}", f"  spend: {{expr: '{' + '.join(['adSpend'] * 150_000)}'}}")
    with pytest.raises(MappingError, match="characters; at most 262,144"):
        load_mapping(text)
