import json

import pytest

from harmonization.suggest.lexicon import FIELDS, SYNONYMS, split_words
from ml.engine.datasets import (
    DatasetError,
    budgeting,
    build,
    build_preference_pairs,
    creative,
    harmonization,
    measurement,
    read_jsonl,
    write_jsonl,
)
from ml.engine.policy import check_copy
from ml.engine.prompts import TASKS, parse_answer, retailer_code


def _answers(rows):
    return [json.loads(r["completion"][0]["content"]) for r in rows]


@pytest.mark.parametrize("task", TASKS)
def test_it_builds_the_same_rows_for_the_same_seed_and_others_for_another(task):
    first = build(task, seed=3, n_train=30, n_heldout=10)
    assert first == build(task, seed=3, n_train=30, n_heldout=10)
    assert first != build(task, seed=4, n_train=30, n_heldout=10)
    train, heldout = first
    assert (len(train), len(heldout)) == (30, 10)
    for row in train + heldout:
        assert row["task"] == task and [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert parse_answer(task, row["completion"][0]["content"]) is not None


def test_budgeting_heldout_templates_and_retailers_never_appear_in_training():
    train, heldout = build("budgeting", seed=0, n_train=400, n_heldout=100)
    train_templates = {r["meta"]["template"] for r in train}
    heldout_templates = {r["meta"]["template"] for r in heldout}
    assert train_templates == set(budgeting.TRAIN_TEMPLATES) and heldout_templates == set(budgeting.HELDOUT_TEMPLATES)
    assert not train_templates & heldout_templates
    named = lambda rows: {c for a in _answers(rows) for c in [*a["retailer_caps"], *a["exclude_retailers"]]}  # noqa: E731
    assert named(heldout) and not named(train) & named(heldout)
    # Retailer names in the text map to codes by one rule: lower case, spaces as underscores
    # (ml.engine.prompts.retailer_code).
    for row, answer in zip(train + heldout, _answers(train + heldout), strict=True):
        for code in [*answer["retailer_caps"], *answer["exclude_retailers"]]:
            assert code.replace("_", " ") in row["prompt"][1]["content"].lower()
            assert retailer_code(code.replace("_", " ").title()) == code
    # Training names many more retailers than the built-in dozen, so the rule is learned rather than the names.
    assert len(named(train)) > 40


@pytest.mark.parametrize(
    "text,expected",
    [(1_000_000 * 2.5, {"$2.5M", "$2.5 million", "2.5 million dollars", "$2,500,000", "USD 2.5M", "2.5M USD",
                        "$2.5m", "2.5mm dollars", "$2500k"}),
     (400_000.0, {"$400k", "$400K", "400 thousand dollars", "$400,000", "USD 400k", "400k dollars", "$400 thousand"})],
)  # fmt: skip
def test_it_writes_money_in_the_ways_people_do(text, expected):
    import random

    rng = random.Random(0)
    assert {budgeting.money(text, rng) for _ in range(400)} == expected


def test_budgeting_answers_match_the_words():
    train, _ = build("budgeting", seed=1, n_train=200, n_heldout=1)
    for row, answer in zip(train, _answers(train), strict=True):
        text = row["prompt"][1]["content"]
        assert answer["objective"] in budgeting.OBJECTIVE_PHRASES
        assert any(
            p in text
            for p in budgeting.OBJECTIVE_PHRASES[answer["objective"]]
            + tuple(p[:1].upper() + p[1:] for p in budgeting.OBJECTIVE_PHRASES[answer["objective"]])
        )
        assert (answer["roas_basis"] == "incremental") == any(
            w in text for w in ("iROAS", "incremental ROAS", "incremental return")
        )
        assert (answer["min_roas"] is None) == ("ROAS" not in text and "return" not in text)
        assert all(0 < cap < answer["budget"] for cap in answer["retailer_caps"].values())


def test_harmonization_heldout_headers_are_spellings_training_never_saw():
    assert harmonization.heldout_spellings_unseen() == []
    train, heldout = build("harmonization", seed=0, n_train=400, n_heldout=160)
    norm = lambda h: " ".join(w for w in split_words(h) if not w.isdigit() and w not in {"d", "day", "days"})  # noqa: E731
    columns = lambda rows: {norm(r["prompt"][1]["content"].split("\n")[1].removeprefix("column: ")) for r in rows}  # noqa: E731
    assert not columns(train) & columns(heldout)
    retailers = lambda rows: {r["prompt"][1]["content"].split("\n")[0] for r in rows}  # noqa: E731
    assert not retailers(train) & retailers(heldout)
    fields = {a["field"] for a in _answers(heldout)}
    assert fields == {*FIELDS, None}


def test_harmonization_uses_stored_mapping_columns_but_never_a_heldout_spelling():
    source = {"mappings": [{"retailer": "amazon", "columns": {"spend": "Total Outlay Amt", "clicks": "Ad Views"}}]}
    train, _ = build("harmonization", seed=0, n_train=900, n_heldout=1, source=source)
    headers = {r["prompt"][1]["content"].split("\n")[1].removeprefix("column: ") for r in train}
    assert {h for h in headers if "outlay" in h.lower().replace("_", " ")}  # the stored spelling, in some style
    assert not {h for h in headers if " ".join(split_words(h)) == "ad views"}  # held out: never trained on
    assert "Ad Views" not in SYNONYMS["impressions"]


def test_creative_answers_follow_their_policy_and_pairs_break_it_one_way():
    train, heldout = build("creative", seed=0, n_train=80, n_heldout=30)
    for row, answer in zip(train + heldout, _answers(train + heldout), strict=True):
        assert check_copy(answer, row["meta"]["policy"]) == []
    assert not {r["meta"]["retailer"] for r in train} & {r["meta"]["retailer"] for r in heldout}
    pairs_train, pairs_heldout = build_preference_pairs(seed=0, n_train=120, n_heldout=40)
    seen = set()
    for pair in pairs_train + pairs_heldout:
        chosen, rejected = (json.loads(pair[k][0]["content"]) for k in ("chosen", "rejected"))
        assert check_copy(chosen, pair["meta"]["policy"]) == []
        assert pair["meta"]["violation"] in {v.rule for v in check_copy(rejected, pair["meta"]["policy"])}
        seen.add(pair["meta"]["violation"])
    assert seen == {"banned_claim", "headline_length", "missing_disclosure", "price_claim"}
    assert not {p["meta"]["retailer"] for p in pairs_train} & {p["meta"]["retailer"] for p in pairs_heldout}


def test_creative_uses_the_tenants_skus_and_the_databases_retailers():
    source = {
        "retailers": [{"code": c, "name": c.title(), "policy_specs": {"headline_max_chars": 40,
                                                                       "required_disclosures": ["Ad"]}}
                      for c in ("alpha", "beta", "gamma", "delta")],
        "brands": [{"name": "Acme", "skus": [{"code": "A-1", "name": "Acme Oat Bar, 6 ct", "price": 3.5}]}],
    }  # fmt: skip
    train, heldout = build("creative", seed=0, n_train=20, n_heldout=5, source=source)
    assert {r["meta"]["retailer"] for r in heldout} == {"delta"}  # every third code in sorted order
    assert {r["meta"]["retailer"] for r in train} == {"alpha", "beta", "gamma"}
    assert all("product: Acme Oat Bar, 6 ct" in r["prompt"][1]["content"] for r in train)


def test_measurement_heldout_questions_use_other_templates():
    train, heldout = build("measurement", seed=0, n_train=100, n_heldout=40)
    assert {a["design"] for a in _answers(heldout)} == set(measurement.DEFAULT_SHARE)
    templates = {t for ts in measurement.HELDOUT_TEMPLATES.values() for t in ts}
    stems = {t.split("{")[0] for t in templates}
    assert not any(r["prompt"][1]["content"].startswith(tuple(s for s in stems if s)) for r in train)


def test_it_refuses_unknown_tasks_and_empty_splits():
    with pytest.raises(ValueError, match="Unknown task 'poetry'"):
        build("poetry")
    with pytest.raises(ValueError, match="n_heldout must be at least 1"):
        build("budgeting", n_heldout=0)


def test_jsonl_round_trips_and_errors_name_the_file_and_line(tmp_path):
    rows = [{"a": 1, "text": "Größe ≥ 3"}, {"b": [1, 2]}]
    path = write_jsonl(rows, tmp_path / "sub" / "rows.jsonl")
    assert read_jsonl(path) == rows
    path.write_text('{"a": 1}\n\n{"a": 2,\n')
    with pytest.raises(DatasetError, match=r"rows\.jsonl, line 3: not valid JSON"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(DatasetError, match=r"rows\.jsonl, line 2: expected a JSON object, got list"):
        read_jsonl(path)
    with pytest.raises(DatasetError, match="cannot read"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_creative_module_products_fall_back_to_the_built_in_catalog():
    assert creative.products(None) == list(creative.BUILTIN_PRODUCTS)


@pytest.mark.django_db
def test_build_dataset_reads_retailers_skus_and_stored_mappings_from_the_database(catalog, retailers, tmp_path):
    from pathlib import Path

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from harmonization.models import Mapping

    policy = {"headline_max_chars": 30, "banned_claims": ["#1"], "required_disclosures": ["Sponsored"]}
    retailers["walmart"].policy_specs = {**policy, "price_claims_allowed": False}
    retailers["walmart"].save()
    retailers["amazon"].policy_specs = {"banned_claims": ["top rated"]}
    retailers["amazon"].save()
    yaml_text = (Path(__file__).resolve().parents[2] / "config/mappings/amazon_sp_advertised_product.yaml").read_text()
    Mapping.objects.create(name="amazon-custom", retailer=retailers["amazon"], yaml_text=yaml_text)

    call_command("build_dataset", task="creative", out=str(tmp_path / "c"), tenant="acme", n_train=12, n_heldout=6)
    heldout = read_jsonl(tmp_path / "c" / "heldout.jsonl")
    assert len(heldout) == 6 and len(read_jsonl(tmp_path / "c" / "pairs-heldout.jsonl")) == 6
    assert {r["meta"]["retailer"] for r in heldout} == {"walmart"}  # two retailers: the last one is held out
    assert all(r["meta"]["policy"]["headline_max_chars"] == 30 for r in heldout)
    products = {r["prompt"][1]["content"].split("\n")[2] for r in read_jsonl(tmp_path / "c" / "train.jsonl")}
    assert products <= {"product: acme product 0", "product: acme product 1"}

    call_command("build_dataset", task="harmonization", out=str(tmp_path / "h"), n_train=900, n_heldout=4)
    columns = {r["prompt"][1]["content"].split("\n")[1] for r in read_jsonl(tmp_path / "h" / "train.jsonl")}
    # advertisedAsin is the stored mapping's spelling for retailer_item_id: in the lexicon only as "advertised asin".
    assert any("advertised" in c.lower() and "asin" in c.lower() for c in columns)

    with pytest.raises(CommandError, match="no tenant with slug 'nobody'"):
        call_command("build_dataset", task="budgeting", out=str(tmp_path / "b"), tenant="nobody")
    with pytest.raises(CommandError, match="n_train must be at least 1"):
        call_command("build_dataset", task="budgeting", out=str(tmp_path / "b"), n_train=0)


@pytest.mark.django_db
def test_dataset_source_reads_single_column_fields_of_stored_mappings(retailers):
    from pathlib import Path

    from harmonization.models import Mapping
    from ml.dataset_sources import dataset_source

    yaml_text = (Path(__file__).resolve().parents[2] / "config/mappings/amazon_sp_advertised_product.yaml").read_text()
    Mapping.objects.create(name="amazon-custom", retailer=retailers["amazon"], yaml_text=yaml_text)
    source = dataset_source()
    assert source["brands"] == []
    assert [r["code"] for r in source["retailers"]] == sorted(r.code for r in retailers.values())
    (mapping,) = source["mappings"]
    assert mapping["retailer"] == "amazon"
    assert mapping["columns"]["spend"] == "cost" and mapping["columns"]["attributed_sales"] == "sales14d"
    assert mapping["columns"]["date"] == "date" and "placement_type" not in mapping["columns"]  # a constant
