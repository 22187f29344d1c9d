"""The clean-room checker and executor on synthetic shopper tables, without a database."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from demo.engine.shoppers import default_rules, shopper_tables
from governance.cleanroom import RuleViolation, check_query, policy_from_dict, run_query

CAMPAIGNS = pd.DataFrame(
    {"campaign_id": ["c1", "c2"], "retailer": ["amazon", "walmart"], "placement_type": ["sponsored", "display"]}
)


@pytest.fixture(scope="module")
def room():
    tables = shopper_tables(campaign_ids=["c1", "c2"], shoppers=8000, seed=11)
    frames = {
        "shoppers": tables.shoppers,
        "exposures": tables.exposures,
        "purchases": tables.purchases,
        "campaigns": CAMPAIGNS,
    }
    return frames, policy_from_dict(default_rules())


def ask(room, sql, epsilon=None, frames=None):
    base, policy = room
    frames = frames or base
    checked = check_query(sql, policy=policy, schemas={name: list(f.columns) for name, f in frames.items()})
    return run_query(checked, policy=policy, frames=frames, epsilon=epsilon)


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("SELECT * FROM shoppers", "no_select_star"),
        ("SELECT s.* FROM shoppers s", "no_select_star"),
        ("SELECT shopper_id, COUNT(*) FROM shoppers GROUP BY shopper_id", "group_by_columns"),
        ("SELECT p.amount, COUNT(*) FROM purchases p", "row_level_column"),
        ("SELECT shopper_id FROM shoppers", "row_level_column"),
        (
            "SELECT region, COUNT(*) FROM shoppers s JOIN purchases p ON s.region = p.category GROUP BY region",
            "allowed_joins",
        ),
        ("SELECT COUNT(*) FROM shoppers s CROSS JOIN purchases p", "allowed_joins"),
        ("SELECT COUNT(*) FROM shoppers s, purchases p", "allowed_joins"),
        ("SELECT COUNT(*) FROM shoppers s FULL OUTER JOIN purchases p ON s.shopper_id = p.shopper_id", "allowed_joins"),
        ("SELECT MAX(amount) FROM purchases", "aggregate_functions"),
        ("SELECT AVG(units) FROM purchases", "aggregate_functions"),
        ("SELECT SUM(amount * 2) FROM purchases", "aggregate_functions"),
        ("SELECT COUNT(*) FROM shoppers WHERE shopper_id <> 'abc'", "filter_columns"),
        ("SELECT COUNT(*) FROM purchases WHERE amount > 100", "filter_columns"),
        ("SELECT COUNT(*) FROM shoppers WHERE region = age_band", "filter_form"),
        ("SELECT COUNT(*) FROM shoppers WHERE region LIKE 'n%'", "filter_form"),
        ("SELECT region, COUNT(*) FROM shoppers GROUP BY region HAVING COUNT(*) < 5", "no_having"),
        ("SELECT COUNT(*) FROM (SELECT * FROM shoppers) t", "single_select"),
        ("SELECT COUNT(*) FROM shoppers WHERE region IN (SELECT region FROM shoppers)", "single_select"),
        ("SELECT COUNT(*) FROM shoppers UNION SELECT COUNT(*) FROM purchases", "single_select"),
        ("DELETE FROM shoppers", "single_select"),
        ("SELECT COUNT(*) FROM shoppers; SELECT COUNT(*) FROM purchases", "single_select"),
        ("SELECT COUNT(*) FROM sqlite_master", "unknown_table"),
        ("SELECT COUNT(*) FROM campaigns", "shopper_table_required"),
        ("SELECT region FROM shoppers GROUP BY region", "aggregate_required"),
        ("SELECT COUNT(*) FROM shoppers s JOIN shoppers t ON s.shopper_id = t.shopper_id", "allowed_joins"),
        ("SELECT region AS __d0, COUNT(*) FROM shoppers GROUP BY region", "output_form"),
        ("SELECT region, COUNT(*) AS n, COUNT(*) AS n FROM shoppers GROUP BY region", "output_form"),
    ],
)
def test_it_refuses_queries_that_break_a_rule_and_names_it(room, sql, rule):
    with pytest.raises(RuleViolation) as refused:
        ask(room, sql)
    assert refused.value.rule == rule


def test_it_gives_the_same_numbers_as_pandas_on_an_allowed_query(room):
    frames, _ = room
    result = ask(
        room,
        "SELECT s.loyalty_tier, COUNT(DISTINCT s.shopper_id) AS buyers, SUM(p.amount) AS sales, AVG(p.amount) AS "
        "basket, COUNT(*) AS lines FROM shoppers s JOIN purchases p ON p.shopper_id = s.shopper_id "
        "WHERE s.region IN ('north', 'south') GROUP BY s.loyalty_tier ORDER BY sales DESC",
    )
    joined = frames["shoppers"].merge(frames["purchases"], on="shopper_id")
    joined = joined[joined.region.isin(["north", "south"])]
    truth = joined.groupby("loyalty_tier").agg(
        buyers=("shopper_id", "nunique"), sales=("amount", "sum"), basket=("amount", "mean"), lines=("amount", "size")
    )
    truth = truth.sort_values("sales", ascending=False)
    assert [r["loyalty_tier"] for r in result.rows] == list(truth.index)
    for row in result.rows:
        expected = truth.loc[row["loyalty_tier"]]
        assert row["buyers"] == expected.buyers and row["lines"] == expected.lines
        assert row["sales"] == pytest.approx(expected.sales, rel=1e-9)
        assert row["basket"] == pytest.approx(expected.basket, rel=1e-9)
    assert result.suppressed == {} and result.noise is None


def test_it_joins_harmonized_campaigns_and_matches_pandas(room):
    frames, _ = room
    result = ask(
        room,
        "SELECT c.placement_type, COUNT(DISTINCT e.shopper_id) AS reached, SUM(e.impressions) AS impressions "
        "FROM exposures e JOIN campaigns c ON c.campaign_id = e.campaign_id GROUP BY c.placement_type",
    )
    truth = frames["exposures"].merge(CAMPAIGNS, on="campaign_id").groupby("placement_type")
    got = {r["placement_type"]: (r["reached"], r["impressions"]) for r in result.rows}
    assert got == {k: (g.shopper_id.nunique(), g.impressions.sum()) for k, g in truth}


def test_it_suppresses_rows_under_the_shopper_threshold(room):
    frames, policy = room
    sql = (
        "SELECT s.region, s.age_band, p.category, COUNT(DISTINCT s.shopper_id) AS n FROM shoppers s "
        "JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.region, s.age_band, p.category"
    )
    result = ask(room, sql)
    joined = frames["shoppers"].merge(frames["purchases"], on="shopper_id")
    sizes = joined.groupby(["region", "age_band", "category"]).shopper_id.nunique()
    small = int((sizes < policy.min_shoppers).sum())
    assert 0 < small < len(sizes), "the fixture should have some small cells and some large ones"
    assert result.suppressed.get("min_shoppers") == small
    complementary = result.suppressed.get("complementary_suppression", 0)
    assert complementary >= 2  # small cells in a line are never left alone with their marginal shown
    assert len(result.rows) == len(sizes) - small - complementary
    assert min(r["n"] for r in result.rows) >= policy.min_shoppers
    shown = {(r["region"], r["age_band"], r["category"]): r["n"] for r in result.rows}
    assert all(sizes[key] == n for key, n in shown.items())


def test_complementary_suppression_can_be_turned_off_in_the_rules(room):
    frames, _ = room
    rules = default_rules()
    rules["complementary_suppression"] = False
    policy = policy_from_dict(rules)
    sql = (
        "SELECT s.region, s.age_band, p.category, COUNT(DISTINCT s.shopper_id) AS n FROM shoppers s "
        "JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.region, s.age_band, p.category"
    )
    result = ask((frames, policy), sql)
    joined = frames["shoppers"].merge(frames["purchases"], on="shopper_id")
    sizes = joined.groupby(["region", "age_band", "category"]).shopper_id.nunique()
    assert result.suppressed == {"min_shoppers": int((sizes < 50).sum())}
    assert len(result.rows) == int((sizes >= 50).sum())
    with pytest.raises(ValueError, match="complementary_suppression"):
        policy_from_dict({**rules, "complementary_suppression": "no"})


def _with_lone_shopper(room):
    """The fixture plus one shopper alone in region 'island', with one large purchase: the target of the attack."""
    frames, _ = room
    lone = pd.DataFrame([{"shopper_id": "target", "region": "island", "age_band": "35-54", "loyalty_tier": "basic"}])
    buy = pd.DataFrame([{"shopper_id": "target", "category": "snacks", "amount": 977.0, "units": 3}])
    return {
        **frames,
        "shoppers": pd.concat([frames["shoppers"], lone], ignore_index=True),
        "purchases": pd.concat([frames["purchases"], buy], ignore_index=True),
    }


def test_it_defeats_differencing_with_a_filter_that_removes_one_shopper(room):
    frames = _with_lone_shopper(room)
    everyone = (
        "SELECT s.loyalty_tier, SUM(p.amount) AS sales FROM shoppers s "
        "JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.loyalty_tier"
    )
    all_but_one = everyone.replace("GROUP BY", "WHERE s.region <> 'island' GROUP BY")
    first = {r["loyalty_tier"]: r["sales"] for r in ask(room, everyone, frames=frames).rows}
    second = ask(room, all_but_one, frames=frames)
    # Without the defence, first - second for 'basic' would be the target's 977.0.
    assert "basic" not in {r["loyalty_tier"] for r in second.rows}
    assert second.suppressed == {"filter_cell_threshold": 1}
    assert "basic" in first
    # Filtering on the shopper directly is refused outright.
    with pytest.raises(RuleViolation) as refused:
        ask(room, everyone.replace("GROUP BY", "WHERE s.shopper_id <> 'target' GROUP BY"), frames=frames)
    assert refused.value.rule == "filter_columns"
    # Filters whose cells are all large enough still answer, exactly.
    shown = ask(room, everyone.replace("GROUP BY", "WHERE s.region <> 'north' GROUP BY"))
    assert len(shown.rows) == 3 and shown.suppressed == {}


BY_TIER = (
    "SELECT s.loyalty_tier, SUM(p.amount) AS sales FROM shoppers s JOIN purchases p ON p.shopper_id = s.shopper_id "
    "GROUP BY s.loyalty_tier"
)
BY_TIER_AND_REGION = (
    "SELECT s.loyalty_tier, s.region, SUM(p.amount) AS sales FROM shoppers s "
    "JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.loyalty_tier, s.region"
)


def _without_complements(room):
    frames, _ = room
    rules = default_rules()
    rules["complementary_suppression"] = False
    return frames, policy_from_dict(rules)


def test_it_defeats_differencing_a_coarser_grouping_against_a_finer_one(room):
    """Sales by tier minus the shown tier x region rows: without complementary suppression that is exactly the lone
    shopper's 977.0; with it, the difference covers at least min_shoppers shoppers and the rule is named."""
    frames = _with_lone_shopper(room)
    _, policy = room

    def attack(on):
        coarse = {r["loyalty_tier"]: r["sales"] for r in ask(on, BY_TIER, frames=frames).rows}
        fine = ask(on, BY_TIER_AND_REGION, frames=frames)
        shown = sum(r["sales"] for r in fine.rows if r["loyalty_tier"] == "basic")
        return coarse["basic"] - shown, fine

    leaked, plain = attack(_without_complements(room))
    assert leaked == pytest.approx(977.0, abs=1e-6)  # the attack is real without the rule
    assert plain.suppressed == {"min_shoppers": 1}

    difference, fine = attack(room)
    assert fine.suppressed["min_shoppers"] == 1 and fine.suppressed["complementary_suppression"] >= 1
    assert abs(difference - 977.0) > 1000  # far from the target's value: other shoppers' sales are mixed in
    joined = frames["shoppers"].merge(frames["purchases"], on="shopper_id")
    basic = joined[joined.loyalty_tier == "basic"]
    shown_regions = {r["region"] for r in fine.rows if r["loyalty_tier"] == "basic"}
    hidden = basic[~basic.region.isin(shown_regions)]
    assert difference == pytest.approx(hidden.amount.sum(), rel=1e-9)
    assert hidden.shopper_id.nunique() >= policy.min_shoppers + 1  # the target and at least min_shoppers others
    # The rows shown are still exact.
    truth = joined.groupby(["loyalty_tier", "region"]).amount.sum()
    for row in fine.rows:
        assert row["sales"] == pytest.approx(truth[(row["loyalty_tier"], row["region"])], rel=1e-9)


@pytest.mark.parametrize(
    "statistic",
    [
        "SUM(p.amount) AS sales FROM shoppers s JOIN purchases p ON p.shopper_id = s.shopper_id",
        "COUNT(DISTINCT s.shopper_id) AS shoppers FROM shoppers s",
    ],
)
def test_no_combination_of_groupings_and_filters_pins_down_the_lone_shopper(room, statistic):
    """An exact audit: every answer to sales (or shoppers) grouped by each subset of (region, age band, tier),
    unfiltered and with seven filters on the three columns (64 queries), is a sum over the finest cells; the lone
    shopper's cell is not a linear combination of all the shown rows together (with complementary suppression off,
    it is)."""
    frames = _with_lone_shopper(room)
    columns = ["region", "age_band", "loyalty_tier"]
    cells = sorted(frames["shoppers"].groupby(columns).size().index)
    target = cells.index(("island", "35-54", "basic"))
    filters = [
        None,
        ("region", "<>", "island"),
        ("region", "=", "north"),
        ("region", "=", "island"),
        ("region", "<>", "south"),
        ("loyalty_tier", "=", "basic"),
        ("loyalty_tier", "<>", "premium"),
        ("age_band", "<>", "35-54"),
    ]

    def shown_rows(on):
        vectors = []
        for size in range(4):
            for group in itertools.combinations(columns, size):
                for flt in filters:
                    select = ", ".join(f"s.{c}" for c in group)
                    sql = (
                        f"SELECT {select + ', ' if select else ''}{statistic}"
                        + (f" WHERE s.{flt[0]} {flt[1]} '{flt[2]}'" if flt else "")
                        + (f" GROUP BY {select}" if select else "")
                    )
                    for row in ask(on, sql, frames=frames).rows:
                        vectors.append(
                            [
                                float(
                                    all(cell[columns.index(c)] == row[c] for c in group)
                                    and (flt is None or (cell[columns.index(flt[0])] == flt[2]) == (flt[1] == "="))
                                )
                                for cell in cells
                            ]
                        )
        return np.array(vectors)

    def determined(matrix):
        unit = np.zeros(len(cells))
        unit[target] = 1.0
        return np.linalg.matrix_rank(np.vstack([matrix, unit])) == np.linalg.matrix_rank(matrix)

    assert determined(shown_rows(_without_complements(room)))
    assert not determined(shown_rows(room))


def test_dp_noise_also_hides_one_shopper_when_complements_are_off(room):
    """The second layer: released answers carry Laplace noise whose spread is far wider than one shopper's clamped
    contribution, so even without complementary suppression the difference does not reveal the shopper."""
    frames = _with_lone_shopper(room)
    plain = _without_complements(room)
    coarse = ask(
        plain,
        "SELECT s.loyalty_tier, COUNT(DISTINCT s.shopper_id) AS n FROM shoppers s GROUP BY s.loyalty_tier",
        epsilon=0.5,
        frames=frames,
    )
    fine = ask(
        plain,
        "SELECT s.loyalty_tier, s.region, COUNT(DISTINCT s.shopper_id) AS n FROM shoppers s "
        "GROUP BY s.loyalty_tier, s.region",
        epsilon=0.5,
        frames=frames,
    )
    assert fine.suppressed == {"min_shoppers": 1}  # the island row
    visible = sum(r["n"] for r in fine.rows if r["loyalty_tier"] == "basic")
    difference = next(r["n"] for r in coarse.rows if r["loyalty_tier"] == "basic") - visible
    regions = sum(1 for r in fine.rows if r["loyalty_tier"] == "basic")
    stated_std = np.sqrt(coarse.noise["n"].std ** 2 + regions * fine.noise["n"].std ** 2)
    assert stated_std > 5  # one shopper moves this count by 1: the noise drowns it
    truth = 1
    assert abs(difference - truth) < 10 * stated_std


def test_it_releases_noised_answers_within_the_stated_noise(room):
    frames, _ = room
    exact = ask(
        room,
        "SELECT s.loyalty_tier, COUNT(DISTINCT s.shopper_id) AS buyers, SUM(p.units) AS units "
        "FROM shoppers s JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.loyalty_tier",
    )
    noised = ask(
        room,
        "SELECT s.loyalty_tier, COUNT(DISTINCT s.shopper_id) AS buyers, SUM(p.units) AS units "
        "FROM shoppers s JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.loyalty_tier",
        epsilon=1.0,
    )
    assert noised.epsilon == 1.0
    assert noised.noise["buyers"].scale == pytest.approx(1 / 0.5)  # sensitivity 1, half of epsilon
    assert noised.noise["units"].scale == pytest.approx(20 / 0.5)  # units clamped to 20 per shopper
    truth = {r["loyalty_tier"]: r for r in exact.rows}
    per_shopper_units = frames["purchases"].groupby("shopper_id").units.sum()
    assert per_shopper_units.max() <= 20  # the bound does not bind here, so exact sums are the truth
    for row in noised.rows:
        for name in ("buyers", "units"):
            # Laplace: P(|noise| > 10 b) = e^-10.
            assert abs(row[name] - truth[row["loyalty_tier"]][name]) < 10 * noised.noise[name].scale


def test_it_clamps_each_shoppers_contribution_before_noising(room):
    frames = _with_lone_shopper(room)
    result = ask(
        room,
        "SELECT COUNT(DISTINCT s.shopper_id) AS n, SUM(p.amount) AS sales FROM shoppers s "
        "JOIN purchases p ON p.shopper_id = s.shopper_id",
        epsilon=2.0,
        frames=frames,
    )
    per_shopper = frames["purchases"].groupby("shopper_id").amount.sum().clip(0, 100)
    assert result.noise["sales"].sensitivity == 100
    assert abs(result.rows[0]["sales"] - per_shopper.sum()) < 10 * result.noise["sales"].scale


def test_it_refuses_dp_sums_without_bounds(room):
    frames, _ = room
    rules = default_rules()
    del rules["tables"]["purchases"]["bounds"]["amount"]
    policy = policy_from_dict(rules)
    checked = check_query(
        "SELECT SUM(amount) FROM purchases", policy=policy, schemas={n: list(f.columns) for n, f in frames.items()}
    )
    with pytest.raises(RuleViolation) as refused:
        run_query(checked, policy=policy, frames=frames, epsilon=1.0)
    assert refused.value.rule == "dp_bounds"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(min_shoppers=0), "min_shoppers"),
        (lambda r: r["tables"]["purchases"]["aggregates"].update(amount=["MEDIAN"]), "MEDIAN"),
        (lambda r: r["tables"]["shoppers"].update(dimensions=["shopper_id"]), "subject"),
        (lambda r: r["tables"]["purchases"]["bounds"].update(amount=[10, 1]), "low must not exceed high"),
        (lambda r: r["tables"]["shoppers"].update(colour="red"), "unknown keys"),
    ],
)
def test_it_refuses_malformed_rules_naming_the_key(change, message):
    rules = default_rules()
    change(rules)
    with pytest.raises(ValueError, match=message):
        policy_from_dict(rules)
