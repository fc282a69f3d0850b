"""Pure functions: tidy per-epoch records (core.report.tidy) -> Altair charts, and
spec(chart) -> the Vega-Lite dict a page or an exporter draws.

Made for a projector: the headline is every variant's validation loss on one shared axis
with the training loss dashed beside it (the TensorFlow tutorial's view) and the
generalization gap; small multiples follow. One colour per variant in every chart, page
and export; thick lines; text at least 16 px, dark on light. With several seeds a variant
is the mean with a band from the lowest to the highest seed.

Records are plain dicts, not DataFrames: a cached comparison is drawn in a fresh process,
and pandas alone costs half a second to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

from core.metrics import best_epochs, gap_rows, seed_summary

Rows = list[dict[str, Any]]

# One colour per named variant, whatever else a chart shows (colour-blind safe: Okabe-Ito
# and Tableau tones); lesson-specific labels take the extra colours in order.
VARIANT_COLORS = {
    "baseline": "#222222",
    "small": "#e69f00",
    "l1": "#cc79a7",
    "l2": "#0072b2",
    "dropout": "#d55e00",
    "batchnorm": "#009e73",
    "augment": "#56b4e9",
    "combined": "#7b4fb0",
    "custom": "#8c564b",
}
EXTRA_COLORS = ("#17becf", "#bcbd22", "#7f7f7f", "#1f3a93", "#b5651d", "#2e8b57", "#c71585")
SWEEP_COLORS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#b5a000", "#e67e22", "#c0392b",
                "#7f1d1d", "#2c3e50", "#8e44ad")  # fmt: skip  # ordered: low -> high value
DASHES = {"train": [6, 4], "validation": [1, 0]}
TITLES = {"loss": "loss", "accuracy": "accuracy", "penalty": "penalty"}
INK, SOFT_INK = "#111111", "#333333"
LINES = "━━ validation set     ╍╍ training set     ● best validation epoch"
TRAIN_NOTE = (
    "Both sets are measured at the end of each epoch in inference mode (Dropout and "
    "augmentation off), so their curves compare like with like. The loss is the data loss "
    "alone: it never includes the L1/L2 penalty."
)
ROW_WIDTH = 1150  # pixels a row of panels fills in an exported figure


def colors(labels: Sequence[str], sweep: bool = False) -> dict[str, str]:
    """The colour of each label: fixed for named variants, in order for the others, and
    an ordered ramp for the values of a sweep."""
    if sweep:
        return {label: SWEEP_COLORS[i % len(SWEEP_COLORS)] for i, label in enumerate(labels)}
    extra = iter(EXTRA_COLORS * 4)
    return {label: VARIANT_COLORS.get(label) or next(extra) for label in labels}


def color_scale(
    labels: Sequence[str], present: Sequence[str] | None = None, sweep: bool = False
) -> alt.Scale:
    """`present` limits the legend to the labels a chart actually shows."""
    palette = colors(labels, sweep)
    shown = [label for label in labels if present is None or label in set(present)]
    return alt.Scale(domain=shown, range=[palette[label] for label in shown])


def epoch_axis(rows: Rows, epochs: int | None = None) -> alt.X:
    """The epoch axis every chart of a comparison shares. Given the planned number of
    epochs, it stays put while a run is training, so the curves grow across the frame."""
    last = epochs or max((r["epoch"] for r in rows), default=1)
    return alt.X(
        "epoch:Q",
        title="epoch",
        scale=alt.Scale(domain=[1, max(2, last)], nice=False),
        axis=alt.Axis(tickMinStep=1),
    )


def loss_scale(summary: Rows, scale: str) -> alt.Scale:
    """Linear: from zero to a little above the validation curves once past their first
    epochs, so a validation loss that turns upward visibly rises (early epochs, far above,
    run off the top). Log: every curve whole, training losses falling by decades."""
    values = [v for r in summary for v in (r["value"], r["low"], r["high"])]
    if scale == "log":
        positive = [v for v in values if v > 0] or [1e-4, 1.0]
        return alt.Scale(type="log", domain=[min(positive) * 0.8, max(positive) * 1.25])
    last = max((r["epoch"] for r in summary), default=1)
    settled = [r["value"] for r in summary if r["split"] == "validation"
               and r["epoch"] >= max(2, last // 10)] or values or [1.0]  # fmt: skip
    return alt.Scale(domain=[0, max(settled) * 1.15], nice=False, zero=True)


def overlay(
    rows: Rows,
    labels: Sequence[str],
    scale: str = "linear",
    epochs: int | None = None,
    height: int = 300,
    sweep: bool = False,
    presentation: bool = False,
    legend_title: str | None = None,
) -> dict:
    """The headline: every variant's validation loss (solid) and training loss (dashed) on
    one shared axis, each variant's best validation epoch marked."""
    summary = seed_summary([r for r in rows if r["metric"] == "loss"])
    best = best_epochs(summary)
    y = loss_scale(summary, scale)
    title = "loss" + (" (log scale)" if scale == "log" else "")
    colour = alt.Color("variant:N", scale=color_scale(labels, sweep=sweep),
                       legend=alt.Legend(title=legend_title, orient="right", labelLimit=180,
                                         titleFontSize=16))  # fmt: skip
    base = alt.Chart(alt.NamedData("curves")).encode(x=epoch_axis(rows, epochs))
    lines = base.mark_line(clip=True).encode(
        y=alt.Y("value:Q", title=title, scale=y),
        color=colour,
        **_split_style(widths=(2, 4)),
        tooltip=_tooltip("loss"),
    )  # fmt: skip
    marks = (
        alt.Chart(alt.NamedData("best"))
        .mark_point(size=170, filled=True, clip=True, stroke="white", strokeWidth=1.5,
                    opacity=1)  # fmt: skip
        .encode(x="epoch:Q", y=alt.Y("value:Q", scale=y), color=alt.Color(
            "variant:N", scale=color_scale(labels, sweep=sweep), legend=None),
            tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("epoch:Q", title="best epoch"),
                     alt.Tooltip("value:Q", format=".4f", title="lowest val loss")])
    )  # fmt: skip
    head = alt.Title("Loss: validation ━━  training ╍╍  ● best", anchor="start", fontSize=18)
    chart = alt.layer(lines, marks).properties(height=height, width="container", title=head)
    return filled(chart, presentation, curves=summary, best=best)


def _split_style(widths: tuple[float, float]) -> dict:
    """Training dashed and thinner, validation solid and thicker: which line is which,
    without a second legend."""
    splits = list(DASHES)
    return {
        "strokeDash": alt.StrokeDash(
            "split:N", legend=None, scale=alt.Scale(domain=splits, range=list(DASHES.values()))
        ),
        "strokeWidth": alt.StrokeWidth(
            "split:N", legend=None, scale=alt.Scale(domain=splits, range=list(widths))
        ),
        "detail": "split:N",
    }


def _tooltip(metric: str) -> list:
    return [alt.Tooltip("variant:N"), alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"),
            alt.Tooltip("value:Q", format=".4f", title=metric),
            alt.Tooltip("seeds:Q", title="seeds")]  # fmt: skip


def gap(
    rows: Rows, labels: Sequence[str], height: int = 300, epochs: int | None = None,
    sweep: bool = False, presentation: bool = False,
) -> dict:  # fmt: skip
    """Generalization gap, validation minus training data loss, all variants overlaid; its
    colours are the loss chart's, so it needs no legend of its own."""
    lines = _overlay("gap", "val − train loss", ".4f", color_scale(labels, sweep=sweep),
                     legend=False)  # fmt: skip
    zero = alt.Chart(alt.Data(values=[{"gap": 0.0}])).mark_rule(color="#888").encode(y="gap:Q")
    head = alt.Title("Generalization gap", anchor="start", fontSize=18)
    chart = (zero + lines.encode(x=epoch_axis(rows, epochs))).properties(
        height=height, width="container", title=head
    )
    return filled(chart, presentation, gap=gap_rows(rows))


def penalty(
    rows: Rows, labels: Sequence[str], height: int = 300, epochs: int | None = None,
    presentation: bool = False,
) -> dict | None:  # fmt: skip
    """The L1/L2 penalty of the variants that have one, on its own axis."""
    summary = seed_summary([r for r in rows if r["metric"] == "penalty"])
    present = {r["variant"] for r in summary if r["value"] > 0}
    data = [r | {"penalty": r["value"]} for r in summary if r["variant"] in present]
    if not data:
        return None
    colours = color_scale(labels, [label for label in labels if label in present])
    chart = _overlay("penalty", "penalty", ".5f", colours).encode(x=epoch_axis(rows, epochs))
    return filled(chart.properties(height=height, width="container"), presentation,
                  penalty=data)  # fmt: skip


def _overlay(field: str, title: str, number: str, colours: alt.Scale, legend: bool = True):
    """One line per variant on a shared axis, in the variant's colour, drawing the named
    dataset `field` (rows with variant, epoch and field)."""
    return (
        alt.Chart(alt.NamedData(field))
        .mark_line(strokeWidth=3)
        .encode(
            y=alt.Y(f"{field}:Q", title=title),
            color=alt.Color("variant:N", scale=colours,
                            legend=alt.Legend(title=None, orient="right") if legend else None),
            tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("epoch:Q"),
                     alt.Tooltip(f"{field}:Q", format=number, title=field)],
        )
    )  # fmt: skip


def _curve_data(rows: Rows, metric: str, scale: str) -> tuple[Rows, alt.Scale]:
    """Per-epoch mean/low/high over seeds, each variant's best validation epoch, and the
    value scale every panel shares."""
    summary = seed_summary([r for r in rows if r["metric"] == metric])
    best = best_epochs(seed_summary([r for r in rows if r["metric"] == "loss"]))
    values = {(r["variant"], r["epoch"]): r["value"] for r in summary
              if r["split"] == "validation"}  # fmt: skip
    data = [r | {"kind": "curve"} for r in summary] + [
        b | {"kind": "best", "value": values.get((b["variant"], b["epoch"]), b["value"])}
        for b in best
    ]
    if metric == "loss":
        return data, loss_scale(summary, scale)
    low = min([0.0] + [v for r in summary for v in (r["value"], r["low"])])
    return data, alt.Scale(domain=[low, 1.0])


def _curve_layers(
    metric: str, labels: Sequence[str], x: alt.X, y_scale: alt.Scale, sweep: bool = False,
    log: bool = False,
) -> list[alt.Chart]:  # fmt: skip
    colour = alt.Color("variant:N", scale=color_scale(labels, sweep=sweep), legend=None)
    title = TITLES.get(metric, metric) + (" (log scale)" if log and metric == "loss" else "")
    base = alt.Chart().encode(x=x)
    band = (
        base.mark_area(opacity=0.18, clip=True)
        .encode(y=alt.Y("low:Q", title=title, scale=y_scale), y2="high:Q", color=colour,
                detail="split:N")
        .transform_filter("datum.kind == 'curve' && datum.seeds > 1")
    )  # fmt: skip
    line = (
        base.mark_line(clip=True)
        .encode(
            y=alt.Y("value:Q", title=title, scale=y_scale),
            color=colour,
            **_split_style(widths=(2, 3.5)),
            tooltip=_tooltip(metric),
        )
        .transform_filter("datum.kind == 'curve'")
    )  # fmt: skip
    best = (
        base.mark_point(size=90, filled=True, color=INK, clip=True)
        .encode(y=alt.Y("value:Q", scale=y_scale),
                tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("epoch:Q", title="best val epoch")])
        .transform_filter("datum.kind == 'best'")
    )  # fmt: skip
    return [band, line, best]


def panels(
    rows: Rows, metric: str, labels: Sequence[str], height: int = 280,
    epochs: int | None = None, scale: str = "linear", sweep: bool = False,
) -> list[dict]:  # fmt: skip
    """Small multiples of one metric as separate Vega-Lite specs with identical axis
    domains, so the page can lay them out in columns that stretch with the screen. No
    legend inside: the page says once which line is which."""
    data, y = _curve_data(rows, metric, scale)
    x = epoch_axis(rows, epochs)
    # One chart, serialized once; each panel is that spec with its own title and data.
    # Building and serializing a chart per panel was most of the time a cached page took.
    template = spec(
        alt.layer(*_curve_layers(metric, labels, x, y, sweep, scale == "log"),
                  data=alt.NamedData("panel"))
        .properties(height=height, width="container", title="")
    )  # fmt: skip
    palette = colors(labels, sweep)
    return [
        template
        | {
            "title": {"text": label, "fontSize": 18, "color": palette[label], "anchor": "start"},
            "data": {"values": [r for r in data if r["variant"] == label]},
        }
        for label in labels
    ]


def grid(panels_: Sequence[dict], columns: int, width: int, title: str, subtitle: str = "") -> dict:
    """Panels laid out row by row in one figure, for export: only real panels, so a last
    row that is not full shows no empty axes."""
    sized = [p | {"width": width} for p in panels_]
    rows = [{"hconcat": sized[i : i + columns]} for i in range(0, len(sized), columns)]
    head = {"text": title, "fontSize": 22, "anchor": "start", "color": INK}
    if subtitle:
        head |= {"subtitle": subtitle, "subtitleFontSize": 16, "subtitleColor": SOFT_INK}
    return {"$schema": panels_[0].get("$schema", ""), "vconcat": rows, "title": head,
            "config": panels_[0].get("config", CONFIG)}  # fmt: skip


def titled(figure: dict, title: str, subtitle: str = "", width: int = 900) -> dict:
    """A chart with a title for a slide, at a fixed width (exports cannot fill a screen)."""
    head = {"text": title, "fontSize": 22, "anchor": "start", "color": INK}
    if subtitle:
        head |= {"subtitle": subtitle, "subtitleFontSize": 16, "subtitleColor": SOFT_INK}
    return figure | {"title": head, "width": width}


# --- pictures of what a network computes ------------------------------------------------

PROBE_COLORS = ((33, 102, 172), (247, 247, 247), (178, 24, 43))  # P(class 1): 0, 50, 100
CLASS_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#4d4d4d")
# The points in darker tones of their class, ringed in white: visible on their own region,
# and a point on the other class's region (a training mistake) stands out.
POINT_COLORS = ("#08306b", "#67000d", "#00441b", "#3f007d", "#7f2704", "#000000")
PICTURE = 270  # pixels high, title included: about square in a column four to a row


def probability_image(probe: dict, snapshot: dict, classes: int) -> str:
    """A snapshot's grid as a tiny PNG (one pixel per grid point; the browser smooths it
    when it scales it up), as a data URL: a few kilobytes instead of thousands of marks.
    Binary: blue -> white -> red with P(class 1). Several classes: the likeliest class's
    colour, paler where the network is unsure."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    side_x, side_y = len(probe["x"]), len(probe["y"])
    p = np.asarray(snapshot["values"], float).reshape(side_y, side_x) / 100
    if "classes" in snapshot:
        palette = np.array([_rgb(c) for c in CLASS_COLORS[: max(classes, 1)]] or [(0, 0, 0)])
        which = np.asarray(snapshot["classes"]).reshape(side_y, side_x) % len(palette)
        strength = (p - 1 / max(classes, 1)) / (1 - 1 / max(classes, 1))
        rgb = 255 + (palette[which] - 255) * np.clip(strength, 0.15, 1)[..., None] * 0.8
    else:
        low, mid, high = (np.array(c, float) for c in PROBE_COLORS)
        t = p[..., None]
        rgb = np.where(
            t < 0.5, low + (mid - low) * (t / 0.5), mid + (high - mid) * ((t - 0.5) / 0.5)
        )
    pixels = np.clip(np.round(rgb), 0, 255).astype(np.uint8)[::-1]  # row 0 is the top
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _picture_title(label: str, epoch: int, color: str) -> dict:
    when = f"epoch {epoch}" if epoch else "before training"
    return {"text": label, "subtitle": when, "fontSize": 18,
            "subtitleFontSize": 15, "color": color, "anchor": "start"}  # fmt: skip


def boundary(
    probe: dict, snapshot: dict, points: Rows, label: str, classes: Sequence[str],
    color: str, size: int = PICTURE,
) -> dict:  # fmt: skip
    """One variant's predicted class probability over the plane, with the training points
    on top (validation points small and faint): TensorFlow Playground's picture. The view
    takes its column's width; the picture fills the view, whatever its size."""
    xs, ys = probe["x"], probe["y"]
    x_scale = alt.Scale(domain=[xs[0], xs[-1]], nice=False, zero=False)
    y_scale = alt.Scale(domain=[ys[0], ys[-1]], nice=False, zero=False)
    image = probability_image(probe, snapshot, len(classes))
    centre = [{"x": (xs[0] + xs[-1]) / 2, "y": (ys[0] + ys[-1]) / 2, "url": image}]
    fill = {"expr": "width"}, {"expr": "height"}
    heat = alt.Chart(alt.Data(values=centre)).mark_image(
        width=fill[0], height=fill[1], aspect=False).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        url="url:N")  # fmt: skip
    domain = ["train", "validation"]
    dots = alt.Chart(alt.Data(values=points)).mark_point(filled=True, clip=True).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        fill=alt.Color("class:N", scale=alt.Scale(domain=list(classes),
                                                  range=list(POINT_COLORS)), legend=None),
        stroke=alt.value("white"),
        size=alt.Size("split:N", scale=alt.Scale(domain=domain, range=[60, 12]), legend=None),
        opacity=alt.Opacity("split:N", scale=alt.Scale(domain=domain, range=[1.0, 0.5]),
                            legend=None),
        strokeWidth=alt.StrokeWidth("split:N", scale=alt.Scale(domain=domain, range=[1.2, 0]),
                                    legend=None),
    )  # fmt: skip
    out = spec(alt.layer(heat, dots).properties(width="container", height=size))
    out["title"] = _picture_title(label, snapshot["epoch"], color)
    return out


def fitted(
    probe: dict, snapshot: dict, points: Rows, label: str, color: str, size: int = PICTURE
) -> dict:
    """One variant's fitted function over the line, with the training points (and faint
    validation points) it was fitted to."""
    line = [{"x": x, "y": y} for x, y in zip(probe["x"], snapshot["values"], strict=True)]
    spread = max(p["y"] for p in points) - min(p["y"] for p in points) or 1.0
    y_scale = alt.Scale(
        domain=[
            min(p["y"] for p in points) - 0.3 * spread,
            max(p["y"] for p in points) + 0.3 * spread,
        ],
        nice=False,
    )
    x_scale = alt.Scale(domain=[probe["x"][0], probe["x"][-1]], nice=False)
    domain = ["train", "validation"]
    dots = (
        alt.Chart(alt.Data(values=points))
        .mark_point(filled=True, clip=True)
        .encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            size=alt.Size("split:N", scale=alt.Scale(domain=domain, range=[60, 10]), legend=None),
            color=alt.Color(
                "split:N", scale=alt.Scale(domain=domain, range=[INK, "#999999"]), legend=None
            ),
        )
    )
    curve = (
        alt.Chart(alt.Data(values=line))
        .mark_line(strokeWidth=4, color=color, clip=True)
        .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale))
    )
    out = spec(alt.layer(dots, curve).properties(width=size, height=size))
    out["title"] = _picture_title(label, snapshot["epoch"], color)
    return out  # fmt: skip


def sweep_chart(
    points: Rows, knob_title: str, order: Sequence[str], height: int = 320,
    presentation: bool = False,
) -> dict:  # fmt: skip
    """The validation curve (or learning curve): final and best loss against the values of
    one knob, mean over seeds with the lowest and highest seed as error bars."""
    measures = ["training (final)", "validation (final)", "validation (best)", "test (final)"]
    palette = alt.Scale(domain=measures, range=["#666666", "#0072b2", "#56b4e9", "#d55e00"])
    dash = alt.Scale(domain=measures, range=[[6, 4], [1, 0], [2, 2], [1, 0]])
    x = alt.X("label:N", sort=list(order), title=knob_title, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(alt.NamedData("points")).encode(
        x=x,
        color=alt.Color("measure:N", scale=palette,
                        legend=alt.Legend(title=None, orient="bottom", columns=2)),
    )  # fmt: skip
    lines = base.mark_line(strokeWidth=3, point=alt.OverlayMarkDef(size=90, filled=True)).encode(
        y=alt.Y("loss:Q", title="loss"),
        strokeDash=alt.StrokeDash("measure:N", scale=dash, legend=None),
        tooltip=[
            alt.Tooltip("label:N", title=knob_title),
            alt.Tooltip("measure:N"),
            alt.Tooltip("loss:Q", format=".4f"),
            alt.Tooltip("seeds:Q"),
        ],
    )
    bars = base.mark_errorbar(thickness=2).encode(y=alt.Y("low:Q", title="loss"), y2="high:Q")
    chart = alt.layer(lines, bars).properties(height=height, width="container")
    return filled(chart, presentation, points=points)  # fmt: skip


def norms(
    rows: Rows, labels: Sequence[str], epochs: int | None = None, height: int = 300,
    presentation: bool = False,
) -> dict:  # fmt: skip
    """Every variant's total kernel norm per epoch: how big the weights grow."""
    chart = (
        _overlay("norm", "weight norm (all kernels)", ".3f", color_scale(labels))
        .encode(x=epoch_axis(rows, epochs))
        .properties(height=height, width="container")
    )
    return filled(chart, presentation, norm=rows)  # fmt: skip


def histograms(runs: Sequence[tuple[str, dict]], labels: Sequence[str], height: int = 220):
    """Final kernel weights of each variant, as a share of its weights per bin, on one
    weight axis: L2 narrows the distribution, L1 piles weights up at zero."""
    palette = colors(labels)
    edge = max(max(abs(h["edges"][0]), abs(h["edges"][-1])) for _, h in runs)
    out = []
    for label, h in runs:
        total = sum(h["counts"]) or 1
        bars = [
            {"low": a, "high": b, "share": c / total}
            for a, b, c in zip(h["edges"], h["edges"][1:], h["counts"], strict=False)
        ]
        chart = alt.Chart(alt.Data(values=bars)).mark_rect(color=palette[label]).encode(
            x=alt.X("low:Q", scale=alt.Scale(domain=[-edge, edge]), title="weight"),
            x2="high:Q", y=alt.Y("share:Q", title="share of weights",
                                  axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                     alt.Tooltip("share:Q", format=".1%")])  # fmt: skip
        panel = spec(chart.properties(height=height, width="container"))
        panel["title"] = {"text": label, "fontSize": 18, "color": palette[label],
                          "anchor": "start"}  # fmt: skip
        out.append(panel)
    return out


def class_balance(counts: Rows) -> alt.Chart:
    """Examples per class in each split: records with class, split, examples."""
    chart = (
        alt.Chart(alt.Data(values=counts))
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=None, title=None),
            y=alt.Y("examples:Q"),
            color=alt.Color("split:N", legend=alt.Legend(title=None, orient="top")),
            xOffset="split:N",
            tooltip=["class:N", "split:N", "examples:Q"],
        )
    )
    return chart.properties(height=260, width="container")


# Large dark type and thick lines for a projector, added to the final dict: Altair's
# configure_* copies every layer of every chart and cost more than drawing them.
CONFIG = {
    "axis": {"labelFontSize": 16, "titleFontSize": 17, "labelColor": SOFT_INK,
             "titleColor": INK, "gridOpacity": 0.45, "domainColor": "#555", "tickColor": "#555"},
    "legend": {"labelFontSize": 16, "labelColor": INK, "symbolStrokeWidth": 4,
               "symbolSize": 320, "labelLimit": 260},
    "title": {"fontSize": 18, "color": INK},
    "view": {"strokeOpacity": 0.3},
    "background": "white",
}  # fmt: skip
PRESENTATION = {"axis": {"labelFontSize": 20, "titleFontSize": 21},
                "legend": {"labelFontSize": 20}, "title": {"fontSize": 22}}  # fmt: skip


def filled(chart, presentation: bool = False, **datasets: Rows) -> dict:
    """The Vega-Lite dict of a chart built on named datasets, with their rows put in place
    afterwards: Altair neither validates nor walks thousands of points, which was most of
    the time a live page took to draw (tests validate the dicts against the schema)."""

    def fill(node) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and data.get("name") in datasets:
                node["data"] = {"values": datasets[data["name"]]}
            for value in node.values():
                fill(value)
        elif isinstance(node, list):
            for value in node:
                fill(value)

    out = spec(chart, presentation)
    fill(out)
    return out


def spec(chart, presentation: bool = False) -> dict:
    """The Vega-Lite dict to draw. Not validated against the schema here: every chart
    builder is validated by the tests, and validation was the slowest part of a page."""
    out = chart.to_dict(validate=False)
    config = {**CONFIG, **out.get("config", {})}
    if presentation:
        config = {k: v | PRESENTATION.get(k, {}) if isinstance(v, dict) else v
                  for k, v in config.items()}  # fmt: skip
    out["config"] = config
    return out
