"""The charts: what each one draws, in which colour, at which size; checked on the Vega-Lite
dicts the pages draw and rendered by Vega itself (vl_convert)."""

import colorsys
import json
from dataclasses import replace

import pytest
import vl_convert

from core import charts, datasets, lessons, metrics, report
from core.charts import palette as roles
from core.charts.palette import GREY
from core.comparison import Comparison
from core.settings import SETTINGS, SWEEPABLE
from core.spec import ExperimentSpec, make_variant
from tests.support import history_run as run
from tests.support import keras_reference

LABELS = ["baseline", "dropout", "l2"]
BASE = ExperimentSpec(dataset="digits")
PALETTE = charts.by_role([(v, make_variant(BASE, v)) for v in LABELS], BASE)


def valid(figure: dict) -> None:
    """Against the Vega-Lite schema (pages skip this: it was the slowest part of a page)."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema import load_schema

    validate_jsonschema(figure, load_schema())


def renders(figure: dict) -> bool:
    text = json.dumps(figure, allow_nan=False)  # strict JSON: what pages and exports draw
    return vl_convert.vegalite_to_svg(text).startswith("<svg")


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


def layers(figure: dict) -> list[dict]:
    return figure.get("layer") or figure["spec"]["layer"]


def lines(figure: dict) -> list[dict]:
    return [layer for layer in layers(figure) if layer["mark"]["type"] == "line"]


def values(layer: dict) -> list[dict]:
    return layer["data"]["values"]


def colour_scales(node) -> list[dict]:
    """Every colour channel's scale in a figure, wherever it sits (conditions included)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("color", "fill") and isinstance(value, dict):
                scale = (value.get("condition") or {}).get("scale") or value.get("scale")
                if scale and "range" in scale:
                    found.append(scale)
            found += colour_scales(value)
    elif isinstance(node, list):
        for value in node:
            found += colour_scales(value)
    return found


def drawn_colours(palette: charts.Palette) -> dict[str, str]:
    """Each label's colour as the headline and the panels draw it."""
    rows = report.tidy([(label, 0, run(0, [0.5, 0.4], [0.4, 0.3]).history)
                        for label in palette.labels])  # fmt: skip
    out: dict[str, str] = {}
    for scale in colour_scales(charts.overlay(rows, palette)):
        out |= dict(zip(scale["domain"], scale["range"], strict=True))
    for panel in charts.panels(rows, "loss", palette):
        assert out[panel["title"]["text"]] == panel["title"]["color"]
    return out


def every_comparison() -> list[tuple[str, Comparison]]:
    """Every lesson, every dataset's free comparison with every variant it allows, and a
    sweep of every knob: what a class may open."""
    out = [(name, Comparison(preset=name)) for name in lessons.LESSONS]
    for name in datasets.registry():
        free = Comparison(dataset=name)
        out.append((name, Comparison(dataset=name, variants=free.allowed_variants())))
    out += [
        (f"sweep {knob}", Comparison(sweep=knob, values=SETTINGS[knob].sweep)) for knob in SWEEPABLE
    ]
    return out


def meaning(comparison: Comparison, label: str, spec: ExperimentSpec, rank: float) -> tuple:
    """What a colour says about a run: its role and strength, or its place in a series."""
    base = comparison.base_spec()
    if comparison.is_sweep() or roles.series_knob(
        [s for _, s in comparison.labelled_specs()], base
    ):
        return ("lowest to highest value", round(rank, 3))
    role, strength = roles.role_of(spec, base)
    return ("role", role or "another network", round(strength, 3))


def test_no_colour_means_two_things_in_any_lesson_sweep_or_comparison():
    """Every lesson, sweep and free comparison drawn: a colour is one role (and strength)
    everywhere, a series or sweep takes the one sequential palette by value, and neither
    borrows the other's colours."""
    seen: dict[str, set] = {}
    for name, comparison in every_comparison():
        labelled = dict(comparison.labelled_specs())  # one seed: a spec per label
        palette = (charts.by_value(list(labelled)) if comparison.is_sweep()
                   else charts.by_role(list(labelled.items()), comparison.base_spec()))  # fmt: skip
        drawn = drawn_colours(palette)
        assert len(set(drawn.values())) == len(drawn), (name, drawn)  # one colour per run
        for i, label in enumerate(labelled):
            what = meaning(comparison, label, labelled[label], i / max(1, len(labelled) - 1))
            seen.setdefault(drawn[label], set()).add(what)
    doubles = {colour: what for colour, what in seen.items() if len(what) > 1}
    assert not doubles, doubles
    sequential = {c for c, what in seen.items() if "lowest to highest value" in next(iter(what))}
    role_colours = {c for stops in roles.ROLES.values() for c in stops}
    assert sequential and not sequential & role_colours and GREY not in seen
    series = Comparison(preset="digits-more-data")  # training sizes: never a variant's colour
    assert charts.by_role(series.labelled_specs(), series.base_spec()).sequential
    course = Comparison(preset="iris-course")  # 16-8 against 512-512: a network, not a series
    colours = dict(charts.by_role(course.labelled_specs(), course.base_spec()).colours)
    assert colours == {"16-8": roles.shade("baseline"), "512-512": roles.OTHERS[0]}


def test_a_strength_is_a_shade_of_its_roles_hue_and_stronger_is_darker():
    for knob, weak, strong in (("l2", 1e-4, 1e-2), ("dropout", 0.2, 0.8),
                               ("augment", "light", "strong")):  # fmt: skip
        shades = [roles.shade(knob, roles.strength(knob, v)) for v in (weak, strong)]
        hls = [colorsys.rgb_to_hls(*(c / 255 for c in roles._rgb(s))) for s in shades]
        assert hls[0][1] > hls[1][1] + 0.08, (knob, shades)  # lighter when weaker
        assert abs(hls[0][0] - hls[1][0]) < 0.06, (knob, shades)  # one hue
    assert roles.shade("l2", roles.strength("l2", SETTINGS["l2"].strength)) == "#0072b2"


def test_the_headline_stresses_the_variants_the_claim_names_and_greys_the_rest():
    stressed = PALETTE.stressing(["baseline", "l2"])
    figure = charts.overlay(tidy(), stressed)
    grey, coloured = lines(figure)[:2]
    assert grey["transform"][-1] == {"filter": "!datum.stressed"}  # drawn first, underneath
    assert {r["variant"] for r in values(grey) if not r["stressed"]} == {"dropout"}
    colour = coloured["encoding"]["color"]
    assert colour["value"] == GREY and "datum.stressed" in colour["condition"]["test"]
    widths = {(r["variant"], r["split"]): r["width"] for r in values(coloured)}
    assert widths[("baseline", "validation")] > widths[("baseline", "train")] > widths[
        ("dropout", "validation")]  # fmt: skip
    everyone = figure["params"][0]
    assert everyone["bind"]["input"] == "checkbox" and everyone["name"] in colour["condition"][
        "test"]  # fmt: skip
    assert {r["variant"] for r in values(layers(figure)[2])} == {"baseline", "l2"}  # best marks
    assert "params" not in charts.overlay(tidy(), PALETTE)  # nothing grey: no checkbox


def test_the_loss_axis_starts_where_the_stressed_curves_have_settled():
    """Huge first epochs and a grey variant far above do not set the axis: the baseline's
    10% rise after its best epoch takes a visible share of the height."""
    epochs = 100
    falling = [0.18 + 3.0 / e**2 for e in range(1, epochs + 1)]
    curves = {  # the baseline: best at 0.2 by epoch 11, then up 10% to 0.22 at the end
        "baseline": [
            0.2 + 0.02 * max(0, e - 30) / 70 if e > 10 else v for e, v in enumerate(falling, 1)
        ],  # fmt: skip
        "l2": falling,
        "dropout": [v + 0.4 for v in falling],
    }
    rows = report.tidy([(label, 0, run(0, val, [0.5 * v for v in val]).history)
                        for label, val in curves.items()])  # fmt: skip
    palette = PALETTE.stressing(["baseline", "l2"])
    low, high = lines(charts.overlay(rows, palette))[0]["encoding"]["y"]["scale"]["domain"]
    assert low == 0 and high == pytest.approx(0.22 * 1.12)
    assert 0.02 / high > 0.075  # the rise: over a thirteenth of the axis
    log = lines(charts.overlay(rows, palette, scale="log"))[0]["encoding"]["y"]["scale"]
    assert log["type"] == "log" and log["domain"][1] > 3.0  # log: every curve whole
    # Twenty epochs into a planned 300, nothing has settled: the curves are drawn whole,
    # not cut at the top by a range taken from their last few epochs.
    early = [r for r in rows if r["epoch"] <= 20]
    drawn = lines(charts.overlay(early, palette, epochs=300))[0]["encoding"]["y"]["scale"]
    assert drawn["domain"][1] >= max(r["value"] for r in early if r["variant"] != "dropout")


def seeds_of(finals: list[float], test: list[float]) -> list:
    """One run per seed whose validation and test loss end at the given values, after a
    best epoch at 0.3."""
    runs = [run(s, [0.5, 0.3, v], [0.4, 0.2, 0.1]) for s, v in enumerate(finals)]
    return [replace(r, history=r.history[:-1] + (r.history[-1] | {"test_loss": t},))
            for r, t in zip(runs, test, strict=True)]  # fmt: skip


def test_the_effect_chart_sorts_variants_draws_the_reference_and_writes_the_margins():
    runs = {"baseline": seeds_of([0.50, 0.52, 0.55], [0.60, 0.62, 0.64]),
            "l2": seeds_of([0.31, 0.33, 0.32], [0.35, 0.36, 0.37]),
            "dropout": seeds_of([0.49, 0.56, 0.50], [0.40, 0.41, 0.42])}  # fmt: skip
    claims = (lessons.Claim("overfits", ("baseline",)),
              lessons.Claim("beats", ("l2", "dropout"), "baseline"))  # fmt: skip
    checked = [(c, split, c.check(runs, split)) for c in claims for split in lessons.SPLITS]
    notes = charts.notes(checked, "loss")
    assert notes["l2"] == "✓ 0.20 · 0.26 lower"  # validation · test, means over seeds
    assert notes["dropout"] == "✗ 0.007 · 0.21 lower"  # one seed ends higher on validation
    assert claims[1].amount(metrics.below([0.5], [0.4])) == ("0.10", "higher")  # the other way
    assert notes["baseline"] == "✓ 67% · 17.6% rise"  # worst seeds: 0.50 / 0.30, 0.60 / 0.51
    rows = charts.effect_rows({k: [r.history for r in v] for k, v in runs.items()})
    figure = charts.effect(rows, PALETTE, measure="loss", reference="baseline", written=notes)
    valid(figure)
    assert renders(figure)
    dots = next(layer for layer in layers(figure) if layer["mark"]["type"] == "point"
                and layer["mark"]["filled"])  # fmt: skip
    assert dots["encoding"]["y"]["sort"] == ["l2", "dropout", "baseline"]  # lowest on top
    final = {(r["variant"], r["split"], r["kind"]): r for r in values(dots)}
    assert final[("l2", "validation", "final")]["value"] == pytest.approx(0.32)
    assert final[("l2", "test", "final")]["value"] == pytest.approx(0.36)
    assert (final[("l2", "validation", "final")]["low"],
            final[("l2", "validation", "final")]["high"]) == (0.31, 0.33)  # fmt: skip
    assert final[("baseline", "validation", "best")]["value"] == pytest.approx(0.3)
    spread = next(layer for layer in layers(figure) if layer["mark"]["type"] == "rule"
                  and "x2" in layer["encoding"])  # fmt: skip
    assert (spread["encoding"]["x"]["field"], spread["encoding"]["x2"]["field"]) == ("low", "high")
    reference = layers(figure)[0]
    assert reference["mark"]["type"] == "rule"
    assert {(r["variant"], r["split"]) for r in values(reference)} == {
        ("baseline", "validation"), ("baseline", "test")}  # fmt: skip
    text = next(layer for layer in layers(figure) if layer["mark"]["type"] == "text")
    assert {r["variant"]: r["note"] for r in values(text)} == notes
    assert "✓ every seed agrees, by more than their spread" in figure["title"]["subtitle"]
    one_seed = {k: v[:1] for k, v in runs.items()}  # a lesson opened with one seed
    rows = charts.effect_rows({k: [r.history for r in v] for k, v in one_seed.items()})
    figure = charts.effect(rows, PALETTE, measure="loss", reference="baseline", written=notes)
    assert not any("every seed agrees" in line for line in figure["title"]["subtitle"])
    assert "✓ on this one seed only" in " ".join(figure["title"]["subtitle"])


def test_a_run_still_training_is_left_out_of_the_effect_chart():
    """Cut at epoch 2 of 4 (training, or cancelled), a run ranked as if it had ended there:
    a half-trained variant could read as the best."""
    from ui import render

    done = render.Curve("baseline", 0, run(0, [0.5, 0.4, 0.45, 0.5], [0.4, 0.3, 0.2, 0.1]).history)
    cut = render.Curve("l2", 0, run(0, [0.3, 0.2], [0.4, 0.3]).history)
    look = render.Look(PALETTE)
    for epochs, shown in ((4, {"baseline"}), (None, {"baseline", "l2"})):
        figure = render.figures([done, cut], look, epochs=epochs, panels=False)["effect"]
        dots = next(layer for layer in layers(figure) if layer["mark"]["type"] == "point")
        assert {r["variant"] for r in values(dots)} == shown
        assert "dots appear" not in json.dumps(figure)
    # Before any run has finished: a line saying when the dots come, not an empty frame.
    figure = render.figures([cut], look, epochs=4, panels=False)["effect"]
    notes = [row["note"] for layer in layers(figure) if layer["mark"]["type"] == "text"
             for row in values(layer)]  # fmt: skip
    assert notes == ["Each variant's dots appear\nonce it has trained every epoch"]


def test_claims_under_the_charts_read_as_sentences_in_their_own_units():
    """Once "random labels reach(es) … later — ✓ (26.00 above)": epochs with decimals,
    accuracy as a fraction, no verb a class can read aloud."""
    never = run(0, [0.5, 0.4, 0.4, 0.4], [0.4, 0.3, 0.2, 0.1])  # accuracy stays at 0.9
    fast = replace(never, history=tuple(r | {"accuracy": 0.99} for r in never.history))
    slow = replace(fast, history=tuple(r | {"accuracy": 0.5 if r["epoch"] < 4 else 0.99}
                                       for r in fast.history))  # fmt: skip
    chance = replace(slow, spec=replace(slow.spec, dataset="iris"),
                     history=tuple(r | {"val_accuracy": 0.36, "test_accuracy": 0.35}
                                   for r in slow.history))  # fmt: skip
    runs = {"true labels": [fast], "random labels": [chance]}

    def sentence(claim: lessons.Claim) -> str:
        return claim.sentence({s: claim.check(runs, s) for s in lessons.SPLITS})

    slower = lessons.Claim("slower", ("random labels",), "true labels")
    assert sentence(slower) == ("✓ Reaching 95% training accuracy takes random labels more "
                                "epochs than true labels — 3 epochs later.")  # fmt: skip
    runs["true labels"] = [never]
    assert sentence(slower).startswith("✗") and sentence(slower).endswith("— never reached.")
    runs["true labels"] = [fast]
    assert sentence(lessons.Claim("memorises", ("random labels",))) == (
        "✓ Random labels fits at least 95% of the labels it trains on — 99.0% of them."
    )
    assert sentence(lessons.Claim("chance", ("random labels",))) == (
        "✓ The held-out accuracy of random labels stays at most 5 percentage points above "
        "chance (1 / classes) — 2.7 points above chance on validation, 1.7 points above "
        "chance on test.")  # fmt: skip
    below = lessons.Claim("measured_below", ("true labels",))
    assert sentence(below) == ("✓ Measured in inference mode, the training loss of true labels "
                               "ends below the held-out loss — 0.30 below on validation, 0.43 "
                               "below on test.")  # fmt: skip
    assert "(s)" not in " ".join(c.says() for item in lessons.LESSONS.values()
                                 for c in item.claims)  # fmt: skip


def test_a_lesson_about_what_keras_prints_charts_the_printed_losses_and_their_margins():
    """The keras-view lesson claims the printed training loss ends above the held-out loss
    and the one measured in inference mode below it: its effect chart shows exactly that."""
    base = run(0, [0.3, 0.2], [0.25, 0.1])
    dropout = replace(base, history=tuple(r | {"fit_loss": 0.45, "val_loss": 0.25}
                                          for r in base.history))  # fmt: skip
    runs = {"baseline": [base], "dropout 0.8": [dropout]}
    claims = lessons.LESSONS["keras-view"].claims
    assert charts.measure_of(c.kind for c in claims) == "printed"
    checked = [(c, split, c.check(runs, split)) for c in claims for split in lessons.SPLITS]
    notes = charts.notes(checked, "printed")
    # Printed: 0.20 above validation, but below the test loss (0.51): ✗, each way in words.
    assert notes == {"dropout 0.8": "▲ ✗ 0.20 above · 0.06 below\n△ ✓ 0.15 · 0.41 below"}
    rows = charts.effect_rows({k: [r.history for r in v] for k, v in runs.items()}, "printed")
    got = {(r["variant"], r["split"], r["kind"]): round(r["value"], 4) for r in rows}
    assert got[("dropout 0.8", "train", "final")] == 0.45  # as fit prints it
    assert got[("dropout 0.8", "train", "inference")] == 0.1  # the same weights, measured
    assert got[("dropout 0.8", "validation", "final")] == 0.25
    figure = charts.effect(rows, PALETTE, measure="printed", reference="baseline",
                           written=notes, view="keras")  # fmt: skip
    valid(figure)
    assert renders(figure)
    assert figure["title"]["text"].startswith("Final loss  ▲ fit  △ inference")
    assert charts.effects.JUDGED not in figure["title"]["subtitle"]  # it is what Keras prints
    text = next(layer for layer in layers(figure) if layer["mark"]["type"] == "text")
    assert text["mark"]["lineBreak"] == "\n"  # a claim per line beside the row


def test_charts_of_the_data_loss_say_so_beside_curves_drawn_as_keras_prints_them():
    """The view "As Keras prints it" redraws the loss curves; the effect chart and the validation
    curve stay on the data loss the claims judge, and say so, in either view."""
    histories = {"baseline": [run(0, [0.5, 0.4], [0.4, 0.3]).history]}
    rows = charts.effect_rows(histories)
    for view in ("data", "keras"):
        figure = charts.effect(rows, PALETTE, view=view)
        assert figure["title"]["text"].startswith("Final data loss")
        assert (charts.effects.JUDGED in figure["title"]["subtitle"]) == (view == "keras")
        points = report.sweep_points([("off", histories["baseline"][0])] * 2)
        sweep = charts.sweep_chart(points, "capacity", ["off"], view=view)
        assert lines(sweep)[0]["encoding"]["y"]["title"] == "data loss"
        assert (charts.effects.JUDGED in sweep["title"]["subtitle"]) == (view == "keras")


def test_a_lesson_about_gaps_gets_an_effect_chart_of_gaps():
    assert charts.measure_of(("shrinks",)) == "gap"
    assert charts.measure_of(("overfits", "beats", "narrower")) == "loss"
    # "A narrower gap is not better by itself": its chart shows the higher loss, the point
    narrower_gap = lessons.lesson("narrower-gap").claims
    assert charts.measure_of(c.kind for c in narrower_gap) == "loss"
    history = run(0, [0.5, 0.3, 0.45], [0.4, 0.2, 0.1]).history
    rows = charts.effect_rows({"baseline": [history]}, "gap")
    assert {(r["split"], round(r["value"], 4)) for r in rows} == {
        ("validation", 0.35), ("test", 0.42)}  # fmt: skip


def test_projector_type_is_large_and_lines_thick():
    screen, projector = charts.SCREEN.config(), charts.PROJECTOR.config()
    for config in (screen, projector):
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
    assert projector["axis"]["labelFontSize"] > screen["axis"]["labelFontSize"]
    figure = charts.overlay(tidy(), PALETTE, charts.PROJECTOR)
    assert figure["config"]["axis"] == projector["axis"]
    assert min(r["width"] for r in values(lines(figure)[1])) >= 3


def test_a_sweep_is_drawn_on_its_knobs_own_scale():
    points = report.sweep_points(
        [
            (label, run(0, [0.5, v], [0.4, 0.3]).history)
            for label, v in (("off", 0.4), ("0.001", 0.3), ("0.1", 0.6))
        ]
    )
    at = dict(zip(["off", "0.001", "0.1"], charts.positions("l2", [0.0, 1e-3, 1e-1]),
                  strict=True))  # fmt: skip
    assert at["off"] == pytest.approx(1e-4)  # a decade below the smallest strength
    figure = charts.sweep_chart(points, "l2", ["off", "0.001", "0.1"], at)
    valid(figure)
    assert renders(figure)
    x = lines(figure)[0]["encoding"]["x"]
    assert x["scale"]["type"] == "log" and x["axis"]["values"] == list(at.values())
    assert "'off'" in x["axis"]["labelExpr"].replace('"', "'")
    legend = lines(figure)[0]["encoding"]["color"]["legend"]
    assert legend["symbolType"] == "stroke"  # lines in the legend, not cogs
    inks = set(lines(figure)[0]["encoding"]["color"]["scale"]["range"])
    assert not inks & {c for stops in roles.ROLES.values() for c in stops} - {"#222222"}
    assert charts.positions("capacity", ["tiny", "huge"]) is None  # named: in order
    assert charts.positions("dropout", [0.1, 0.5]) == [0.1, 0.5]  # linear
    assert charts.sweeps.log_spaced("train_size") and not charts.sweeps.log_spaced("dropout")


def test_while_training_every_chart_spans_the_planned_epochs():
    """Three epochs in of fifty: the curves start at the left of a fixed frame instead of
    the axis stretching on every refresh."""

    def domain(figure: dict) -> list:
        return lines(figure)[0]["encoding"]["x"]["scale"]["domain"]

    assert all(domain(p) == [1, 50] for p in charts.panels(tidy(), "loss", PALETTE, epochs=50))
    assert domain(charts.overlay(tidy(), PALETTE, epochs=50)) == [1, 50]
    assert domain(charts.gap(tidy(), PALETTE, epochs=50)) == [1, 50]
    assert domain(charts.panels(tidy(), "loss", PALETTE)[0]) == [1, 3]


def test_gap_is_validation_minus_training_and_penalty_only_where_present():
    last = {
        (v["variant"], v["epoch"]): v["gap"] for v in values(lines(charts.gap(tidy(), PALETTE))[0])
    }
    assert last[("baseline", 3)] == pytest.approx(0.3)
    penalty = charts.penalty(tidy(), PALETTE)
    assert {row["variant"] for row in values(penalty)} == {"l2"}
    assert penalty["encoding"]["color"]["scale"] == {"domain": ["l2"], "range": ["#0072b2"]}
    assert charts.penalty([r for r in tidy() if r["metric"] != "penalty"], PALETTE) is None


def test_several_seeds_become_a_mean_with_a_band_in_each_panel():
    panels = charts.panels(tidy(seeds=3), "loss", PALETTE)
    assert [p["title"]["text"] for p in panels] == LABELS and panels[0]["title"]["limit"] == 0
    band = next(layer for layer in panels[2]["layer"] if layer["mark"]["type"] == "area")
    assert band["encoding"]["y"]["field"] == "low"
    l2 = [r for r in values(panels[2]) if r.get("kind") == "curve" and r["split"] == "train"]
    assert [r["seeds"] for r in l2] == [3, 3, 3]
    scales = [lines(p)[0]["encoding"] for p in panels]
    assert len({json.dumps(s["y"]["scale"]) for s in scales}) == 1  # one axis for all
    for label, panel in zip(LABELS, panels, strict=True):
        assert {row["variant"] for row in values(panel)} == {label}


def test_every_chart_validates_and_renders():
    data = tidy(seeds=2)
    stressed = PALETTE.stressing(["baseline"])
    figures = [charts.overlay(data, stressed), charts.overlay(data, PALETTE, scale="log"),
               charts.overlay(data, stressed, at=2), charts.gap(data, PALETTE),
               charts.penalty(data, PALETTE),
               charts.norms([{"variant": "l2", "epoch": e, "norm": 10.0 / e} for e in (1, 2)],
                            PALETTE)]  # fmt: skip
    figures += [p for metric in ("loss", "accuracy") for p in charts.panels(data, metric, PALETTE)]
    figures += charts.histograms([("l2", {"edges": [-1.0, 0.0, 1.0], "counts": [5, 15]})],
                                 PALETTE)  # fmt: skip
    for figure in figures:
        valid(figure)
        assert renders(figure)


def test_an_export_has_a_title_and_no_empty_cells():
    labels = ["baseline", "small", "l2", "dropout", "batchnorm", "augment", "combined"]
    rows = report.tidy([(label, 0, run(0, [0.5, 0.3], [0.4, 0.2]).history) for label in labels])
    palette = charts.by_role([(v, make_variant(BASE, v)) for v in labels], BASE)
    figure = charts.grid(charts.panels(rows, "loss", palette), 4, 210, "Digits: loss",
                         "Digits 8x8 · 7 variants · 60 epochs")  # fmt: skip
    assert [len(row["hconcat"]) for row in figure["vconcat"]] == [4, 3]
    assert figure["title"]["text"] == "Digits: loss" and "60 epochs" in figure["title"]["subtitle"]
    png = vl_convert.vegalite_to_png(json.dumps(figure))
    assert png[:4] == b"\x89PNG"


def test_pictures_of_what_a_network_computes():
    probe = {"kind": "grid", "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0]}
    snapshot = {"values": [0, 50, 100, 20, 80, 40], "epoch": 7}
    points = [{"x": 0.5, "y": 0.5, "class": "class 0", "split": "train"},
              {"x": 1.5, "y": 0.2, "class": "class 1", "split": "validation"}]  # fmt: skip
    boundary = charts.boundary(probe, snapshot, points, "l2", ("class 0", "class 1"), "#0072b2")
    assert boundary["title"]["subtitle"] == "epoch 7" and renders(boundary)
    several = snapshot | {"classes": [0, 1, 2, 0, 1, 2]}
    assert renders(charts.boundary(probe, several, points, "l2", ("a", "b", "c"), "#000"))
    # Pictures of one plane share a template: each keeps its own image, points and title.
    later = charts.boundary(probe, snapshot | {"values": [100] * 6, "epoch": 9}, points[:1],
                            "dropout", ("class 0", "class 1"), "#d55e00")  # fmt: skip
    heat, dots = layers(boundary)
    assert values(dots) == points and boundary["title"]["text"] == "l2"
    assert values(layers(later)[1]) == points[:1] and later["title"]["subtitle"] == "epoch 9"
    assert values(layers(later)[0])[0]["url"] != values(heat)[0]["url"]
    line = {"kind": "curve", "x": [-1.0, 0.0, 1.0]}
    truth = [{"x": x / 10, "y": x / 20} for x in range(-10, 11)]
    fitted = charts.fitted(
        line,
        {"values": [0.1, 0.2, 0.1], "epoch": 3},
        [{"x": 0.2, "y": 0.3, "split": "train"}],
        truth,
        "baseline",
        "#222",
    )
    dots, true, curve = layers(fitted)  # the true curve over the points, under the fit
    assert values(true) == truth and true["mark"]["color"] == charts.pictures.TRUTH
    assert curve["mark"]["color"] == "#222" and [p["y"] for p in values(curve)] == [0.1, 0.2, 0.1]
    assert fitted["layer"][0]["encoding"]["x"]["title"] == "x (standardised)"
    assert renders(fitted)


def test_the_keras_view_draws_what_model_fit_prints():
    """An L2 and a Dropout variant trained by the app, drawn "as Keras prints it", against
    plain Keras fit fed the same batches, weights and masks (tests.support.keras_reference):
    its loss (training mode, plus the penalty) and val_loss (plus the penalty), epoch by
    epoch."""
    from ui import render

    base = ExperimentSpec(dataset="iris", capacity="medium", epochs=4, batch_size=16, seed=3)
    labels = ["l2", "dropout"]
    specs = [make_variant(base, "l2", l2=1e-2), make_variant(base, "dropout")]
    printed = {}

    def note(label):
        def check(record, model, data, fit_loss):
            epoch = record["epoch"]
            printed[(label, "train", epoch)] = fit_loss
            printed[(label, "validation", epoch)] = model.evaluate(data.x_val, data.y_val,
                                                                   verbose=0)  # fmt: skip

        return check

    runs = [keras_reference(spec, datasets.load("iris"), note(label))[0]
            for label, spec in zip(labels, specs, strict=True)]  # fmt: skip
    curves = [render.Curve(label, 0, r.history) for label, r in zip(labels, runs, strict=True)]
    look = render.Look(charts.by_role(list(zip(labels, specs, strict=True)), base), view="keras")
    drawn = values(lines(render.figures(curves, look)["overlay"])[1])
    shown = {(r["variant"], r["split"], r["epoch"]): r["value"] for r in drawn}
    assert len(printed) == 2 * 2 * base.epochs
    for where, value in printed.items():
        assert shown[where] == pytest.approx(value, rel=2e-3), where
    data_view = values(lines(render.figures(curves, render.Look(look.palette))["overlay"])[1])
    l2_val = {r["epoch"]: r["value"] for r in data_view
              if r["variant"] == "l2" and r["split"] == "validation"}  # fmt: skip
    assert all(shown[("l2", "validation", e)] > v + 0.01 for e, v in l2_val.items())  # penalty


def test_the_zero_tick_label_sits_on_its_tick_under_streamlits_theme():
    """Streamlit's theme aligns the end labels of an axis flush with it: the bottom "0.0"
    was pushed up above its tick, so the axis looked unevenly spaced."""
    import re

    figure = charts.overlay(tidy(), PALETTE)
    figure["config"]["axis"] |= {"labelFlush": True}  # what Streamlit's theme adds
    svg = vl_convert.vegalite_to_svg(json.dumps(figure))
    at = {label: float(y) for y, label in re.findall(
        r'transform="translate\(-[\d.]+,([\d.]+)\)"[^>]*>(\d\.\d+)</text>', svg)}  # fmt: skip
    heights = [at[label] for label in sorted(at, key=float)]  # the y axis's labels, upwards
    steps = [low - high for low, high in zip(heights, heights[1:], strict=False)]
    assert len(steps) >= 2 and max(steps) - min(steps) < 0.5, at  # evenly spaced labels


def test_a_legend_above_a_headline_takes_only_the_columns_that_fit():
    """A label once cut ("all example"): three long labels in three columns."""
    sizes = ["50 examples", "200 examples", "all examples"]
    for theme, columns in ((charts.SCREEN, 2), (charts.PROJECTOR, 3)):
        assert charts.curves.legend_columns(sizes, theme) == columns
    rows = report.tidy([(label, 0, run(0, [0.5, 0.4], [0.4, 0.3]).history) for label in sizes])
    legend = lines(charts.overlay(rows, charts.by_value(sizes)))[0]["encoding"]["color"]
    assert legend["condition"]["legend"]["columns"] == 2
