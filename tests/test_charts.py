import json

import pytest
import vl_convert

from core import charts, report
from tests.support import history_run as run

LABELS = ["baseline", "dropout", "l2"]


def spec_of(chart) -> dict:
    """A builder's Vega-Lite dict (Altair charts for those that still return one)."""
    return json.loads(json.dumps(chart if isinstance(chart, dict) else chart.to_dict()))


def valid(figure: dict) -> None:
    """Against the Vega-Lite schema (pages skip this: it was the slowest part of a page)."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema import load_schema

    validate_jsonschema(figure, load_schema())


def tidy(seeds=1, labels=LABELS):
    shapes = {
        "baseline": ([0.5, 0.3, 0.4], [0.4, 0.2, 0.1], 0.0),
        "dropout": ([0.5, 0.35, 0.33], [0.45, 0.3, 0.25], 0.0),
        "l2": ([0.5, 0.32, 0.31], [0.42, 0.3, 0.28], 0.05),
    }
    curves = []
    for seed in range(seeds):
        for label in labels:
            val, train, penalty = shapes[label]
            curves.append((label, seed, run(seed, val, train, penalty * (seed + 1)).history))
    return report.tidy(curves)


def renders(figure: dict) -> bool:
    text = json.dumps(figure, allow_nan=False)  # strict JSON: what pages and exports draw
    return vl_convert.vegalite_to_svg(text).startswith("<svg")


def line_layer(figure: dict) -> dict:
    layers = figure.get("layer") or figure["spec"]["layer"]
    return next(layer for layer in layers if layer["mark"]["type"] == "line")


def test_a_variant_has_the_same_colour_in_every_comparison_and_chart():
    one = charts.colors(["baseline", "dropout", "l2"])
    other = charts.colors(["l2", "combined", "dropout", "custom"])
    assert one["dropout"] == other["dropout"] == charts.VARIANT_COLORS["dropout"]
    assert one["l2"] == other["l2"] and len(set(charts.VARIANT_COLORS.values())) == 9
    overlay = line_layer(spec_of(charts.overlay(tidy(), LABELS)))
    gap = line_layer(spec_of(charts.gap(tidy(), LABELS)))
    panel = line_layer(charts.panels(tidy(), "loss", LABELS)[1])
    for encoding in (overlay["encoding"], gap["encoding"], panel["encoding"]):
        scale = encoding["color"]["scale"]
        assert dict(zip(scale["domain"], scale["range"], strict=True)) == one


def test_the_headline_overlays_validation_solid_and_training_dashed_on_one_axis():
    figure = spec_of(charts.overlay(tidy(), LABELS))
    line = line_layer(figure)
    dash = line["encoding"]["strokeDash"]["scale"]
    assert dict(zip(dash["domain"], map(tuple, dash["range"]), strict=True)) == {
        "train": (6, 4), "validation": (1, 0)}  # fmt: skip
    values = line["data"]["values"] if "data" in line else figure["data"]["values"]
    assert {(r["variant"], r["split"]) for r in values} == {
        (v, s) for v in LABELS for s in ("train", "validation")}  # fmt: skip
    marks = next(layer for layer in figure["layer"] if layer["mark"]["type"] == "point")
    assert {r["variant"]: r["epoch"] for r in marks["data"]["values"]} == {
        "baseline": 2, "dropout": 3, "l2": 3}  # fmt: skip
    assert renders(charts.overlay(tidy(), LABELS))


def test_the_linear_loss_axis_makes_a_rising_validation_loss_visible():
    """Zero up to a little above the settled validation curves: the baseline's rise from 0.3
    to 0.4 takes a quarter of the height, not a sliver of a log axis."""
    scale = line_layer(spec_of(charts.overlay(tidy(), LABELS)))["encoding"]["y"]["scale"]
    low, high = scale["domain"]
    assert low == 0 and high == pytest.approx(0.4 * 1.15)
    assert (0.4 - 0.3) / (high - low) > 0.2
    log = line_layer(spec_of(charts.overlay(tidy(), LABELS, "log")))["encoding"]["y"]["scale"]
    assert log["type"] == "log"


def test_chart_text_is_large_and_dark():
    config = charts.gap(tidy(), LABELS)["config"]
    assert (
        min(
            config["axis"]["labelFontSize"],
            config["axis"]["titleFontSize"],
            config["legend"]["labelFontSize"],
            config["title"]["fontSize"],
        )
        >= 16
    )
    for colour in (config["axis"]["labelColor"], config["axis"]["titleColor"],
                   config["legend"]["labelColor"]):  # fmt: skip
        assert int(colour[1:3], 16) < 0x60  # dark on the white background
    big = charts.gap(tidy(), LABELS, presentation=True)["config"]
    assert big["axis"]["labelFontSize"] > config["axis"]["labelFontSize"]


def test_several_seeds_become_a_mean_with_a_band():
    summary = charts.seed_summary(tidy(seeds=3))
    penalty = [r for r in summary if r["metric"] == "penalty" and r["variant"] == "l2"]
    assert [r["seeds"] for r in penalty] == [3, 3, 3]
    assert penalty[0]["value"] == pytest.approx(0.1)
    assert (penalty[0]["low"], penalty[0]["high"]) == (pytest.approx(0.05), pytest.approx(0.15))
    panel = charts.panels(tidy(seeds=3), "loss", LABELS)[0]
    assert any(layer["mark"]["type"] == "area" for layer in panel["layer"])


def test_while_training_every_chart_spans_the_planned_epochs():
    """Three epochs in of fifty: the curves start at the left of a fixed frame instead of
    the axis stretching on every refresh."""

    def domain(figure: dict) -> list:
        return line_layer(figure)["encoding"]["x"]["scale"]["domain"]

    assert all(domain(p) == [1, 50] for p in charts.panels(tidy(), "loss", LABELS, epochs=50))
    assert domain(spec_of(charts.overlay(tidy(), LABELS, epochs=50))) == [1, 50]
    assert domain(spec_of(charts.gap(tidy(), LABELS, epochs=50))) == [1, 50]
    assert domain(charts.panels(tidy(), "loss", LABELS)[0]) == [1, 3]


def test_gap_is_validation_minus_training_and_penalty_only_where_present():
    values = line_layer(spec_of(charts.gap(tidy(), LABELS)))["data"]["values"]
    last = {(v["variant"], v["epoch"]): v["gap"] for v in values}
    assert last[("baseline", 3)] == pytest.approx(0.3)
    penalty = spec_of(charts.penalty(tidy(), LABELS))
    assert {row["variant"] for row in penalty["data"]["values"]} == {"l2"}
    assert penalty["encoding"]["color"]["scale"] == {
        "domain": ["l2"], "range": [charts.VARIANT_COLORS["l2"]]}  # fmt: skip
    assert charts.penalty([r for r in tidy() if r["metric"] != "penalty"], LABELS) is None


def test_every_chart_validates_and_renders():
    data = tidy(seeds=2)
    figures = [charts.overlay(data, LABELS), charts.overlay(data, LABELS, "log"),
               charts.gap(data, LABELS), charts.penalty(data, LABELS)]  # fmt: skip
    figures += [p for metric in ("loss", "accuracy") for p in charts.panels(data, metric, LABELS)]
    for figure in figures:
        valid(figure)
        assert renders(figure)


def test_screen_panels_share_axis_domains_and_draw_only_their_variant():
    panels = charts.panels(tidy(seeds=2), "loss", LABELS)
    assert [p["title"]["text"] for p in panels] == LABELS
    scales = [line_layer(p)["encoding"] for p in panels]
    assert len({json.dumps(s["y"]["scale"]) for s in scales}) == 1
    assert len({json.dumps(s["x"]["scale"]) for s in scales}) == 1
    assert all(s["strokeDash"].get("legend") is None for s in scales)  # said once, above
    for label, panel in zip(LABELS, panels, strict=True):
        assert {row["variant"] for row in panel["data"]["values"]} == {label}


def test_an_export_has_a_title_and_no_empty_cells():
    labels = ["baseline", "small", "l2", "dropout", "batchnorm", "augment", "combined"]
    rows = report.tidy([(label, 0, run(0, [0.5, 0.3], [0.4, 0.2]).history) for label in labels])
    figure = charts.grid(charts.panels(rows, "loss", labels), 4, 210, "Digits: loss",
                         "Digits 8x8 · 7 variants · 60 epochs")  # fmt: skip
    assert [len(row["hconcat"]) for row in figure["vconcat"]] == [4, 3]
    assert figure["title"]["text"] == "Digits: loss" and "60 epochs" in figure["title"]["subtitle"]
    png = vl_convert.vegalite_to_png(json.dumps(figure))
    assert png[:4] == b"\x89PNG"


def test_pictures_of_what_a_network_computes_render():
    probe = {"kind": "grid", "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0]}
    snapshot = {"values": [0, 50, 100, 20, 80, 40], "epoch": 7}
    points = [{"x": 0.5, "y": 0.5, "class": "class 0", "split": "train"},
              {"x": 1.5, "y": 0.2, "class": "class 1", "split": "validation"}]  # fmt: skip
    boundary = charts.boundary(probe, snapshot, points, "l2", ("class 0", "class 1"), "#0072b2")
    assert boundary["title"]["subtitle"] == "epoch 7" and renders(boundary)
    several = snapshot | {"classes": [0, 1, 2, 0, 1, 2]}
    assert renders(charts.boundary(probe, several, points, "l2", ("a", "b", "c"), "#000"))
    line = {"kind": "curve", "x": [0.0, 0.5, 1.0]}
    fitted = charts.fitted(
        line,
        {"values": [0.1, 0.2, 0.1], "epoch": 3},
        [{"x": 0.2, "y": 0.3, "split": "train"}],
        "baseline",
        "#222",
    )
    assert renders(fitted)  # fmt: skip


def test_sweep_weights_and_histogram_charts_render():
    points = report.sweep_points(
        [
            ("tiny", run(0, [0.5, 0.4], [0.4, 0.3]).history),
            ("huge", run(0, [0.5, 0.6], [0.4, 0.0]).history),
        ]
    )
    sweep = charts.sweep_chart(points, "Network size", ["tiny", "huge"])
    norms = [{"variant": "l2", "epoch": e, "norm": 10.0 / e} for e in (1, 2, 3)]
    for figure in (sweep, charts.norms(norms, LABELS)):
        valid(figure)
        assert renders(figure)
    histogram = {"edges": [-1.0, 0.0, 1.0], "counts": [5, 15]}
    panels = charts.histograms([("l2", histogram), ("baseline", histogram)], LABELS)
    assert all(renders(p) for p in panels)
