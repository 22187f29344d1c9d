"""Mapping suggestions: known exports map to known columns, value rules, one-to-one assignment, the YAML loads and
harmonizes like the shipped mappings, held-out F1, the commands and the page."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from harmonization.engine import Lookups, harmonize_table, load_mapping, load_mapping_file
from harmonization.suggest import (
    ExportSample,
    FieldSuggestion,
    RuleBasedSuggester,
    assign_one_to_one,
    ensemble,
    get_suggester,
    read_sample,
    sample_from_bytes,
    suggesters,
    suggestion_to_yaml,
)
from harmonization.suggest.evaluation import HELD_OUT, evaluate, held_out_exports, make_export
from harmonization.suggest.lexicon import PHRASES, normalise_header
from harmonization.suggest.values import gtin_valid

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "harmonization" / "samples"
MAPPINGS = ROOT / "config" / "mappings"
SHIPPED = [
    ("amazon_sp_advertised_product", "csv", "amazon"),
    ("walmart_sponsored_search_item", "csv", "walmart"),
    ("criteo_retail_media_campaign", "json", "criteo"),
    ("dsp_line_items_micros", "csv", "dsp"),
    ("eu_retailer_jsonl", "jsonl", "eu"),
    ("rmis_native", "csv", "amazon"),
]

AMAZON_CSV = """\
date,campaignId,campaignName,adGroupId,adGroupName,advertisedAsin,advertisedSku,impressions,clicks,cost,\
costPerClick,clickThroughRate,purchases7d,purchases14d,sales7d,sales14d,unitsSoldClicks7d,unitsSoldClicks14d,\
attributedSalesSameSku14d,campaignBudgetCurrencyCode,acosClicks14d,roasClicks14d
2025-03-10,123456789012,Snacks SP Auto,98765432101,Auto group,B0ABCDEFGH,ACME-CHIPS-1,1520,23,17.85,0.78,1.51,2,3,\
25.98,38.97,2,3,30.10,USD,45.80,2.18
2025-03-10,223456789012,Drinks SP Manual,98765432102,Manual group,B0ZZZZ1234,ACME-NUTS-2,980,11,8.40,0.76,1.12,1,1,\
12.99,12.99,1,1,12.99,USD,64.70,1.55
2025-03-11,123456789012,Snacks SP Auto,98765432101,Auto group,B0YYYY9876,ACME-COLA-3,2210,31,25.11,0.81,1.40,3,5,\
35.97,59.95,3,5,47.96,USD,41.90,2.39
"""


def _german_jsonl() -> bytes:
    rows = [
        {"Datum": "10.03.2025", "Kampagnen-ID": "DE-cmp-17", "Kampagnenname": "Chips Frühling", "EAN": "4006381333931",
         "Impressionen": "1.234", "Klicks": "31", "Kosten": "25,10", "Umsatz (7 Tage)": "80,00",
         "Umsatz (14 Tage)": "101,50", "Einheiten (14 Tage)": "9", "Währung": "EUR", "CTR": "2,51 %"},
        {"Datum": "11.03.2025", "Kampagnen-ID": "DE-cmp-18", "Kampagnenname": "Nüsse Sommer", "EAN": "4006381333931",
         "Impressionen": "980", "Klicks": "12", "Kosten": "9,35", "Umsatz (7 Tage)": "20,00",
         "Umsatz (14 Tage)": "31,00", "Einheiten (14 Tage)": "3", "Währung": "EUR", "CTR": "1,22 %"},
        {"Datum": "13.03.2025", "Kampagnen-ID": "DE-cmp-17", "Kampagnenname": "Chips Frühling", "EAN": "036000291452",
         "Impressionen": "2.045", "Klicks": "40", "Kosten": "30,00", "Umsatz (7 Tage)": "90,00",
         "Umsatz (14 Tage)": "120,25", "Einheiten (14 Tage)": "11", "Währung": "EUR", "CTR": "1,96 %"},
    ]  # fmt: skip
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode() + b"\n"


def _suggest(data: bytes, name: str):
    return get_suggester().suggest(sample_from_bytes(data, name))


# --- known exports ------------------------------------------------------------------------------------------------


def test_it_maps_amazon_headers_to_their_fields_and_the_14_day_window():
    s = _suggest(AMAZON_CSV.encode(), "sp_advertised_product.csv")
    assert s.chosen() == {
        "date": "date",
        "campaign_id": "campaignId",
        "campaign_name": "campaignName",
        "retailer_item_id": "advertisedAsin",
        "sku_code": "advertisedSku",
        "impressions": "impressions",
        "clicks": "clicks",
        "spend": "cost",
        "attributed_sales": "sales14d",
        "attributed_units": "unitsSoldClicks14d",
        "currency": "campaignBudgetCurrencyCode",
    }
    assert s.attribution.window_days == 14
    assert s.source.format == "csv" and s.source.delimiter == "," and s.source.date_format == "%Y-%m-%d"
    # The 7-day columns are only alternatives, well below the 14-day ones.
    assert dict(s.fields["attributed_sales"].alternatives).get("sales7d", 0) < 0.3


def test_it_maps_a_german_jsonl_export_with_comma_decimals():
    s = _suggest(_german_jsonl(), "export.jsonl")
    assert s.chosen() == {
        "date": "Datum",
        "campaign_id": "Kampagnen-ID",
        "campaign_name": "Kampagnenname",
        "gtin": "EAN",
        "impressions": "Impressionen",
        "clicks": "Klicks",
        "spend": "Kosten",
        "attributed_sales": "Umsatz (14 Tage)",
        "attributed_units": "Einheiten (14 Tage)",
        "currency": "Währung",
    }
    assert (s.source.format, s.source.decimal, s.source.thousands) == ("jsonl", ",", ".")
    assert s.source.date_format == "%d.%m.%Y"
    assert s.attribution.window_days == 14
    assert "CTR" not in s.chosen().values()


def test_distractors_never_fill_base_fields():
    headers = ("Date", "Campaign ID", "Impressions", "Clicks", "CTR", "CPC", "Spend", "ACoS", "ROAS", "Sales", "Budget")
    rows = [
        ("2025-03-10", "c1", "1000", "20", "2.00%", "0.50", "10.00", "25.00", "4.00", "40.00", "500.00"),
        ("2025-03-11", "c2", "2000", "30", "1.50%", "0.40", "12.00", "20.00", "5.00", "60.00", "500.00"),
    ]
    s = RuleBasedSuggester().suggest(ExportSample("x.csv", "csv", headers, tuple(rows), delimiter=","))
    assert set(s.chosen().values()).isdisjoint({"CTR", "CPC", "ACoS", "ROAS", "Budget"})
    assert s.chosen()["spend"] == "Spend" and s.chosen()["attributed_sales"] == "Sales"


# --- normalisation and value rules --------------------------------------------------------------------------------


def test_header_normalisation_splits_cases_strips_accents_and_reads_units_and_windows():
    assert normalise_header("campaignBudgetCurrencyCode").tokens == ("campaign", "budget", "currency", "code")
    assert normalise_header("CLICKTHROUGHRATE").tokens == ("click", "through", "rate")
    umsatz = normalise_header("Umsatz (14 Tage)")
    assert (umsatz.tokens, umsatz.window) == (("umsatz",), 14)
    assert normalise_header("attributedSales14days").window == 14
    assert normalise_header("cost_micros").unit == "micros"
    spend = normalise_header("Spend (EUR)")
    assert (spend.tokens, spend.currency) == (("spend",), "EUR")
    assert normalise_header("Dépenses").tokens == ("depenses",)


def test_gtin_check_digits():
    assert gtin_valid("4006381333931")  # EAN-13
    assert gtin_valid("036000291452")  # UPC-A
    assert gtin_valid("96385074")  # EAN-8
    assert not gtin_valid("4006381333932")
    assert not gtin_valid("40063813339")  # 11 digits is no GTIN length


def test_values_alone_identify_asins_gtins_currencies_and_dates():
    headers = ("Spalte A", "Spalte B", "Spalte C", "Spalte D")
    rows = [
        ("B0ABCDEFGH", "4006381333931", "EUR", "2025-03-10"),
        ("B0ZZZZ1234", "036000291452", "EUR", "2025-03-11"),
        ("B0YYYY9876", "96385074", "GBP", "2025-03-12"),
    ]
    s = RuleBasedSuggester().suggest(ExportSample("x.csv", "csv", headers, tuple(rows), delimiter=","))
    assert s.chosen() == {
        "retailer_item_id": "Spalte A",
        "gtin": "Spalte B",
        "currency": "Spalte C",
        "date": "Spalte D",
    }


def test_it_detects_micros_from_the_header_and_from_the_values():
    headers = ("date", "campaign_id", "impressions", "clicks", "{spend}", "sales")
    rows = [
        ("2025-03-10", "c-1", "12000", "40", "31250000", "120.50"),
        ("2025-03-11", "c-2", "9000", "25", "20000000", "80.00"),
    ]
    by_header = RuleBasedSuggester().suggest(
        ExportSample("d.csv", "csv", tuple(h.format(spend="cost_micros") for h in headers), tuple(rows), ",")
    )
    assert (by_header.fields["spend"].source, by_header.fields["spend"].unit) == ("cost_micros", "micros")
    by_values = RuleBasedSuggester().suggest(
        ExportSample("d.csv", "csv", tuple(h.format(spend="cost") for h in headers), tuple(rows), ",")
    )
    assert (by_values.fields["spend"].source, by_values.fields["spend"].unit) == ("cost", "micros")
    assert "unit: micros" in suggestion_to_yaml(by_values, retailer="dsp", name="d")


# --- assignment and the seam --------------------------------------------------------------------------------------


def test_one_to_one_assignment_gives_each_column_to_one_field():
    candidates = {
        "spend": [("cost", 0.9), ("costPerClick", 0.5)],
        "attributed_sales": [("cost", 0.95), ("sales", 0.8)],
        "currency": [("cost", 0.2)],
    }
    assert assign_one_to_one(candidates, threshold=0.3) == {
        "attributed_sales": ("cost", 0.95),
        "spend": ("costPerClick", 0.5),
        "currency": None,
    }


@pytest.mark.parametrize("stem,ext,retailer", SHIPPED)
def test_no_column_is_chosen_twice_in_the_shipped_samples(stem, ext, retailer):
    chosen = list(get_suggester().suggest(read_sample(SAMPLES / f"{stem}.{ext}")).chosen().values())
    assert len(chosen) == len(set(chosen))


def test_ensemble_merges_votes_by_confidence():
    base = _suggest(AMAZON_CSV.encode(), "a.csv")
    other = replace(
        base,
        suggester="other",
        fields={**base.fields, "spend": FieldSuggestion("spend", "costPerClick", 0.9, ["a second opinion"])},
    )
    assert ensemble([base]) is base
    # Each column gets half of what one suggester gave it (two equal weights): cost 1.0 / 2 beats costPerClick
    # 0.9 / 2, and the merged confidence shows the disagreement.
    merged = ensemble([base, other])
    assert merged.suggester == "rules+other"
    assert merged.fields["spend"].source == "cost"
    assert merged.fields["spend"].confidence == pytest.approx(0.5)
    assert merged.fields["attributed_sales"].source == "sales14d"
    assert "rules" in suggesters


# --- the YAML -------------------------------------------------------------------------------------------------------


def _lookups() -> Lookups:
    day = dt.date(2025, 1, 1)
    rates = [(day + dt.timedelta(days=i), c, r) for i in range(365) for c, r in (("EUR", 1.1), ("GBP", 1.3))]
    return Lookups(reporting_currency="USD", fx_rates=rates, resolve_skus=False, default_timezone="UTC")


@pytest.mark.parametrize("stem,ext,retailer", SHIPPED)
def test_suggested_yaml_loads_and_harmonizes_the_sample_like_the_shipped_mapping(stem, ext, retailer):
    path = SAMPLES / f"{stem}.{ext}"
    text = suggestion_to_yaml(get_suggester().suggest(read_sample(path)), retailer=retailer, name=stem)
    suggested = load_mapping(text, origin=f"suggested {stem}")
    shipped = load_mapping_file(MAPPINGS / f"{stem}.yaml")
    totals = []
    for spec in (suggested, shipped):
        table, report = harmonize_table(spec, _lookups(), path)
        assert report.rows_loaded == report.rows_read > 0
        totals.append(
            (
                sum((v for v in table["original_spend"].to_pylist()), Decimal(0)),
                sum((v for v in table["original_attributed_sales"].to_pylist()), Decimal(0)),
                sum(table["impressions"].to_pylist()),
                sum(table["clicks"].to_pylist()),
                sum(table["attributed_units"].to_pylist()),
            )
        )
    assert totals[0] == totals[1]


def test_yaml_marks_weak_fields_for_review_and_names_its_choices():
    suggestion = get_suggester().suggest(read_sample(SAMPLES / "walmart_sponsored_search_item.csv"))
    text = suggestion_to_yaml(suggestion, retailer="walmart", name="w")
    lines = {line.split(":")[0].strip(): line for line in text.splitlines() if line.startswith("  ")}
    assert "# review:" in lines["currency"] and '{constant: "USD"}' in lines["currency"]
    assert "# review:" not in lines["spend"] and 'source: "adSpend"' in lines["spend"]
    # Walmart has no plain sales column: direct + related sales, as the shipped mapping adds them.
    assert (
        "coalesce(directAttributedSales14days, 0) + coalesce(relatedAttributedSales14days, 0)"
        in lines["attributed_sales"]
    )
    assert load_mapping(text).retailer == "walmart"


# --- held-out evaluation --------------------------------------------------------------------------------------------


def test_held_out_phrasings_are_not_in_the_lexicon():
    lexicon = {" ".join(p) for phrases in PHRASES.values() for p in phrases}
    for phrasings in HELD_OUT.values():
        for phrasing in phrasings:
            assert " ".join(normalise_header(phrasing.format(w=14)).tokens) not in lexicon, phrasing


def test_held_out_exports_are_reproducible_and_renamed():
    a, b = make_export("amazon_sp_advertised_product", 1001), make_export("amazon_sp_advertised_product", 1001)
    assert a.sample == b.sample and a.truth == b.truth
    assert set(a.truth) >= {"date", "campaign_id", "impressions", "clicks", "spend", "attributed_sales"}


def test_held_out_f1_is_at_least_0_9_on_unseen_seeds():
    result = evaluate(get_suggester(), held_out_exports(3, start=2000))
    assert result.exports == 18
    assert result.micro.f1 >= 0.9, result.micro.as_dict()


# --- commands -------------------------------------------------------------------------------------------------------


def test_suggest_mapping_command_prints_loadable_yaml(capsys):
    call_command("suggest_mapping", input=str(SAMPLES / "eu_retailer_jsonl.jsonl.gz"), retailer="eu", name="eu-test")
    out, err = capsys.readouterr()
    spec = load_mapping(out)
    assert spec.name == "eu_test" and spec.retailer == "eu"
    assert 'spend: {source: "Kosten", type: decimal}' in out
    assert "compression: gzip" in out
    assert "spend" in err and "Kosten" in err and "1.00" in err


def test_eval_command_prints_per_field_and_micro_scores(tmp_path, capsys):
    out_path = tmp_path / "eval.json"
    call_command("eval_mapping_suggester", seeds=1, json_out=str(out_path))
    out, _ = capsys.readouterr()
    assert "micro-average" in out and "attributed_sales" in out
    payload = json.loads(out_path.read_text())
    assert payload["held_out"]["exports"] == 6
    micro = payload["held_out"]["micro"]
    assert micro["tp"] + micro["fn"] > 6 * 8  # at least eight fields present per export
    assert payload["shipped_samples"]["micro"]["f1"] >= 0.9


# --- the page -------------------------------------------------------------------------------------------------------

with_suggest_url = override_settings(ROOT_URLCONF="harmonization.tests.urls_suggest")


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (SAMPLES / name).read_bytes())


@with_suggest_url
def test_page_needs_edit_rights(client, personas, retailers):
    url = reverse("mapping_suggest")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(personas["reviewer"])
    assert client.get(url).status_code == 403
    client.force_login(personas["marketer"])
    assert client.get(url).status_code == 200


@with_suggest_url
def test_upload_shows_fields_with_confidence_and_the_yaml(client, personas, retailers):
    client.force_login(personas["marketer"])
    response = client.post(
        reverse("mapping_suggest"),
        {"action": "suggest", "file": _upload("amazon_sp_advertised_product.csv"), "retailer": "amazon"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="1.00"' in html and "<meter" in html
    assert "sales14d" in html and "unitsSoldClicks14d" in html
    yaml_text = response.context["save_form"].initial["yaml_text"]
    assert load_mapping(yaml_text).retailer == "amazon"
    assert response.context["save_form"].initial["name"] == "amazon_sp_advertised_product"


@with_suggest_url
def test_save_stores_a_valid_mapping_for_the_tenant(client, personas, retailers, tenants):
    from harmonization.models import Mapping

    client.force_login(personas["marketer"])
    suggestion = get_suggester().suggest(read_sample(SAMPLES / "amazon_sp_advertised_product.csv"))
    text = suggestion_to_yaml(suggestion, retailer="amazon", name="a")
    response = client.post(reverse("mapping_suggest"), {"action": "save", "name": "amazon-sp", "yaml_text": text})
    assert response.status_code == 302
    saved = Mapping.objects.get(tenant=tenants["acme"], name="amazon-sp")
    assert saved.retailer.code == "amazon" and saved.yaml_text == text


@with_suggest_url
def test_save_rejects_an_invalid_mapping_naming_line_and_key(client, personas, retailers):
    from harmonization.models import Mapping

    client.force_login(personas["marketer"])
    suggestion = get_suggester().suggest(read_sample(SAMPLES / "amazon_sp_advertised_product.csv"))
    text = suggestion_to_yaml(suggestion, retailer="amazon", name="a")
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("  clicks:")) + "\n"
    response = client.post(reverse("mapping_suggest"), {"action": "save", "name": "broken", "yaml_text": broken})
    assert response.status_code == 400
    errors = response.context["save_form"].errors["yaml_text"]
    assert any("columns.clicks" in e and ":" in e.split("columns.clicks")[0] for e in errors), errors
    assert not Mapping.objects.filter(name="broken").exists()


@with_suggest_url
def test_unreadable_upload_is_an_error_on_the_file(client, personas, retailers):
    client.force_login(personas["marketer"])
    empty = SimpleUploadedFile("empty.csv", b"   \n")
    response = client.post(reverse("mapping_suggest"), {"action": "suggest", "file": empty, "retailer": "amazon"})
    assert response.status_code == 400
    assert "empty" in " ".join(response.context["form"].errors["file"])


def test_save_refuses_a_billion_laughs_mapping_at_once(client, personas, retailers):
    from harmonization.models import Mapping
    from harmonization.tests.engine.test_spec import LAUGHS

    client.force_login(personas["marketer"])
    started = time.monotonic()
    response = client.post(reverse("mapping_suggest"), {"action": "save", "name": "laughs", "yaml_text": LAUGHS})
    assert time.monotonic() - started < 5
    assert response.status_code == 400
    assert any("aliases (*a) are not allowed" in e for e in response.context["save_form"].errors["yaml_text"])
    assert not Mapping.objects.filter(name="laughs").exists()
