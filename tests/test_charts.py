import json

import pytest

from core import charts, report
from tests.test_report import run

LABELS = ["baseline", "dropout", "l2"]


def spec_of(chart) -> dict:
    return json.loads(chart.to_json())


def tidy(seeds=1):
    curves = []
    for seed in range(seeds):
        curves += [
            ("baseline", seed, run(seed, [0.5, 0.3, 0.4], [0.4, 0.2, 0.1]).history),
            ("dropout", seed, run(seed, [0.5, 0.35, 0.33], [0.45, 0.3, 0.25]).history),
            (
                "l2",
                seed,
                run(seed, [0.5, 0.32, 0.31], [0.42, 0.3, 0.28], penalty=0.05 * (seed + 1)).history,
            ),
        ]
    return report.tidy(curves)


def test_small_multiples_share_axes_and_keep_one_colour_per_variant():
    spec = spec_of(charts.curves(tidy(), "loss", LABELS))
    assert spec["facet"]["field"] == "variant" and spec["facet"]["sort"] == LABELS
    assert spec["resolve"]["scale"] == {"x": "shared", "y": "shared"}
    line = next(layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "line")
    scale = line["encoding"]["color"]["scale"]
    assert scale["domain"] == LABELS and scale["range"] == list(charts.PALETTE[:3])
    dash = line["encoding"]["strokeDash"]["scale"]
    assert dash["domain"] == ["train", "validation"] and dash["range"][0] == [1, 0]
    gap = spec_of(charts.gap(tidy(), LABELS))
    gap_line = next(layer for layer in gap["layer"] if layer["mark"]["type"] == "line")
    assert gap_line["encoding"]["color"]["scale"] == scale  # same colours in every chart


def test_best_validation_epoch_is_marked_per_variant():
    best = charts.best_epochs(charts.seed_summary(tidy()))
    assert {b["variant"]: b["epoch"] for b in best} == {"baseline": 2, "dropout": 3, "l2": 3}


def test_several_seeds_become_a_mean_with_a_band():
    summary = charts.seed_summary(tidy(seeds=3))
    penalty = [r for r in summary if r["metric"] == "penalty" and r["variant"] == "l2"]
    assert [r["seeds"] for r in penalty] == [3, 3, 3]
    assert penalty[0]["value"] == pytest.approx(0.1)
    assert penalty[0]["low"] == pytest.approx(0.05)
    assert penalty[0]["high"] == pytest.approx(0.15)
    spec = spec_of(charts.curves(tidy(seeds=3), "loss", LABELS))
    assert any(layer["mark"]["type"] == "area" for layer in spec["spec"]["layer"])


def test_while_training_every_chart_spans_the_planned_epochs():
    """Three epochs in of fifty: the curves start at the left of a fixed frame instead of
    the axis stretching on every refresh."""

    def domain(layer: dict) -> list:
        return layer["encoding"]["x"]["scale"]["domain"]

    panels = charts.panels(tidy(), "loss", LABELS, epochs=50)
    assert all(domain(panel["layer"][1]) == [1, 50] for panel in panels)
    gap = spec_of(charts.gap(tidy(), LABELS, epochs=50))
    assert domain(gap["layer"][1]) == [1, 50]
    assert domain(spec_of(charts.penalty(tidy(), LABELS, epochs=50))) == [1, 50]
    finished = charts.panels(tidy(), "loss", LABELS)
    assert domain(finished[0]["layer"][1]) == [1, 3]


def test_gap_is_validation_minus_training_and_penalty_only_where_present():
    spec = spec_of(charts.gap(tidy(), LABELS))
    values = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    last = {(v["variant"], v["epoch"]): v["gap"] for v in values["data"]["values"]}
    assert abs(last[("baseline", 3)] - 0.3) < 1e-9
    penalty = spec_of(charts.penalty(tidy(), LABELS))
    assert {row["variant"] for row in penalty["data"]["values"]} == {"l2"}
    assert charts.penalty([r for r in tidy() if r["metric"] != "penalty"], LABELS) is None


def test_every_chart_is_strict_json_that_vega_lite_can_render():
    """NaN is not JSON: one NaN makes strict parsers (and PNG export) reject the chart."""
    import vl_convert

    data = tidy(seeds=2)
    for chart in (
        charts.curves(data, "loss", LABELS),
        charts.curves(data, "accuracy", LABELS),
        charts.gap(data, LABELS),
        charts.penalty(data, LABELS),
    ):
        chart.to_dict()  # validates against the Vega-Lite schema (pages skip this)
        text = json.dumps(charts.spec(chart), allow_nan=False)  # what pages and exports draw
        assert vl_convert.vegalite_to_svg(text).startswith("<svg")


def test_screen_panels_share_axis_domains_and_carry_no_legend():
    panels = charts.panels(tidy(), "loss", LABELS)
    json.dumps(panels, allow_nan=False)
    assert [p["title"]["text"] for p in panels] == LABELS
    scales = [
        next(layer for layer in p["layer"] if layer["mark"]["type"] == "line")["encoding"]
        for p in panels
    ]
    assert len({json.dumps(s["y"]["scale"]) for s in scales}) == 1  # same y domain
    assert scales[0]["y"]["scale"]["type"] == "log"
    assert len({json.dumps(s["x"]["scale"]) for s in scales}) == 1
    assert all(s["strokeDash"].get("legend") is None for s in scales)  # said once, above


def test_penalty_legend_lists_only_variants_with_a_penalty():
    spec = spec_of(charts.penalty(tidy(), LABELS))
    assert spec["encoding"]["color"]["scale"] == {"domain": ["l2"], "range": [charts.PALETTE[2]]}


def test_each_panel_draws_only_its_variant_and_renders():
    import vl_convert

    panels = charts.panels(tidy(seeds=2), "accuracy", LABELS)
    for label, panel in zip(LABELS, panels, strict=True):
        rows = panel["data"]["values"]
        assert rows and {row["variant"] for row in rows} == {label}
        assert vl_convert.vegalite_to_svg(json.dumps(panel)).startswith("<svg")
