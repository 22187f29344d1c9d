import datetime as dt

import pytest

from campaigns.charts import compact_number, line_chart, nice_step, nice_ticks, partial_weeks, pivot_weekly


def test_it_picks_round_tick_steps():
    assert nice_step(100, 4) == 25
    assert nice_step(870, 4) == 250
    assert nice_step(0.9, 4) == 0.25
    assert nice_ticks(870) == [0, 250, 500, 750, 1000]
    assert nice_ticks(1000) == [0, 250, 500, 750, 1000]
    assert nice_ticks(0) == [0, 1]


def test_it_abbreviates_axis_numbers():
    assert compact_number(0) == "0"
    assert compact_number(250) == "250"
    assert compact_number(2.5) == "2.5"
    assert compact_number(1500) == "1.5k"
    assert compact_number(20000) == "20k"
    assert compact_number(2_500_000) == "2.5M"


def test_it_pivots_weekly_rows_and_fills_missing_weeks_with_zero():
    w1, w2 = dt.date(2026, 3, 2), dt.date(2026, 3, 9)
    weeks, series = pivot_weekly([(w1, "amazon", 10.0), (w2, "amazon", 20.0), (w2, "walmart", 5.0)])
    assert weeks == [w1, w2]
    assert series == {"amazon": [10.0, 20.0], "walmart": [0.0, 5.0]}


def test_it_maps_values_onto_the_plot_area():
    chart = line_chart(
        x_labels=["a", "b", "c"],
        series=[("s", "Spend", [0.0, 50.0, 100.0])],
        width=300,
        height=200,
        margin=(10, 10, 20, 40),
    )
    dots = chart.series[0].dots
    # x runs from the left edge to the right edge; y from the bottom (0) to the top tick (100).
    assert [(d.x, d.y) for d in dots] == [(40.0, 180.0), (165.0, 95.0), (290.0, 10.0)]
    assert chart.series[0].points == "40.0,180.0 165.0,95.0 290.0,10.0"
    assert [t.label for t in chart.y_ticks] == ["0", "25", "50", "75", "100"]
    assert chart.y_ticks[0].position == 180.0 and chart.y_ticks[-1].position == 10.0
    assert [t.label for t in chart.x_ticks] == ["a", "b", "c"]


def test_it_thins_x_labels_and_keeps_colors_stable_by_key():
    labels = [f"w{i}" for i in range(13)]
    chart = line_chart(
        x_labels=labels,
        series=[("walmart", "Walmart", [1.0] * 13), ("amazon", "Amazon", [2.0] * 13)],
        colors={"amazon": "#000001", "walmart": "#000002"},
    )
    assert len(chart.x_ticks) <= 6 and chart.x_ticks[0].label == "w0"
    assert [s.color for s in chart.series] == ["#000002", "#000001"]


def test_it_centres_a_single_week_and_survives_all_zero_values():
    chart = line_chart(x_labels=["only"], series=[("s", "S", [0.0])], width=200, margin=(0, 0, 0, 0))
    assert chart.series[0].dots[0].x == 100.0
    assert chart.series[0].dots[0].y == chart.bottom


def test_it_refuses_misaligned_series():
    with pytest.raises(ValueError, match="'s' has 2 values for 3"):
        line_chart(x_labels=["a", "b", "c"], series=[("s", "S", [1.0, 2.0])])


def test_it_flags_weeks_the_date_range_cuts():
    weeks = [dt.date(2026, 2, 23), dt.date(2026, 3, 2), dt.date(2026, 3, 9)]  # Mondays
    assert partial_weeks(weeks, first=dt.date(2026, 2, 23), last=dt.date(2026, 3, 15)) == [False, False, False]
    assert partial_weeks(weeks, first=dt.date(2026, 2, 25), last=dt.date(2026, 3, 9)) == [True, False, True]
    chart = line_chart(x_labels=["a", "b", "c"], series=[("s", "S", [1.0, 2.0, 3.0])], partial=[True, False, True])
    assert [d.partial for d in chart.series[0].dots] == [True, False, True]
    with pytest.raises(ValueError, match="2 partial flags for 3"):
        line_chart(x_labels=["a", "b", "c"], series=[("s", "S", [1.0, 2.0, 3.0])], partial=[True, False])


def test_a_curve_chart_puts_the_chosen_point_on_the_line_and_its_interval_around_it():
    from campaigns.charts import curve_chart

    x = [0, 1000, 2000, 3000, 4000]
    expected = [0, 1800, 2900, 3500, 3800]
    low, high = [v * 0.8 for v in expected], [v * 1.2 for v in expected]
    chart = curve_chart(x=x, expected=expected, low=low, high=high, chosen=(2000, 2900, 2320, 3480))
    # Axes from 0 to nice maxima in 3 steps: 4000 across, 6000 up (2000 a step to pass 3800 * 1.2 = 4560).
    assert [t.label for t in chart.x_ticks] == ["0", "2k", "4k"]
    assert [t.label for t in chart.y_ticks] == ["0", "2k", "4k", "6k"]
    points = [tuple(map(float, p.split(","))) for p in chart.line.split()]
    assert points[0] == (chart.left, chart.bottom)
    assert (chart.marker.x, chart.marker.y) == points[2]  # 2000 is the third point of the line
    assert chart.marker.y_high < chart.marker.y < chart.marker.y_low  # SVG y grows downwards
    assert chart.marker.y == pytest.approx(chart.bottom - (chart.bottom - chart.top) * 2900 / 6000, abs=0.01)
    assert len(chart.band.split()) == 2 * len(x)
    with pytest.raises(ValueError, match="at least 2 points"):
        curve_chart(x=[1], expected=[1], low=[1], high=[1])
