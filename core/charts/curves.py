"""Curves over the epochs: the headline (every variant's validation loss solid and training
loss dashed on one axis, the TensorFlow tutorial's view), the generalization gap, the L1/L2
penalty, weight norms, and a panel per variant. With several seeds a variant is the mean,
with a band from the lowest seed to the highest.

The variants a lesson's claims name are drawn in colour and strength, the rest thin and
grey, with one checkbox to show them all; the loss axis is chosen from the settled part of
the stressed curves, so a validation loss that turns upward visibly rises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import altair as alt

from core.charts.palette import GREY, Palette
from core.charts.theme import INK, SCREEN, Theme, filled, spec
from core.metrics import best_epochs, gap_rows, seed_summary

Rows = list[dict[str, Any]]

HEADINGS = {  # which losses the headline draws (core.comparison.VIEWS)
    "data": "Data loss: validation ━━  training ╍╍  ● best",
    "keras": "As Keras prints it: val_loss ━━  loss ╍╍  ● best",
}
LINES = "━━ validation set     ╍╍ training set     ● best validation epoch"
DASHES = {"train": [6, 4], "validation": [1, 0]}
EVERYONE = "everyone"  # the checkbox that draws the variants no claim names in colour


def epoch_axis(rows: Rows, epochs: int | None = None) -> alt.X:
    """The epoch axis every chart of a comparison shares. Given the planned number of
    epochs, it stays put while a run is training, so the curves grow across the frame."""
    last = epochs or max((r["epoch"] for r in rows), default=1)
    return alt.X("epoch:Q", title="epoch",
                 scale=alt.Scale(domain=[1, max(2, last)], nice=False),
                 axis=alt.Axis(tickMinStep=1))  # fmt: skip


def settled_from(summary: Rows, palette: Palette, epochs: int | None = None) -> int:
    """Where the curves have settled: the epoch at which the first stressed variant reaches
    its best validation loss; not before a tenth of the run (a curve that never improves
    must not bring back the first epochs' losses) nor after half of it (curves still
    falling at the end are shown from their middle). A run's length is its planned
    `epochs` when given: early in a training nothing has settled yet."""
    last = epochs or max((r["epoch"] for r in summary), default=1)
    best = [b["epoch"] for b in best_epochs(summary) if palette.stressed(b["variant"])]
    return max(2, last // 10, min(min(best, default=1), last // 2))


def loss_scale(summary: Rows, palette: Palette, scale: str, epochs: int | None = None) -> alt.Scale:
    """Linear: from zero to a little above the stressed curves once settled, so a 10% rise
    is a visible rise (the first epochs, far above, run off the top). Log: every curve
    whole, training losses falling by decades."""
    values = [v for r in summary for v in (r["value"], r["low"], r["high"])]
    if scale == "log":
        positive = [v for v in values if v > 0] or [1e-4, 1.0]
        return alt.Scale(type="log", domain=[min(positive) * 0.8, max(positive) * 1.25])
    start = settled_from(summary, palette, epochs)
    settled = [r["value"] for r in summary if r["epoch"] >= start
               and palette.stressed(r["variant"])] or values or [1.0]  # fmt: skip
    return alt.Scale(domain=[0, max(settled) * 1.12], nice=False, zero=True)


def _styled(summary: Rows, palette: Palette, theme: Theme) -> Rows:
    """Each point with how its line is drawn: whether a claim names its variant, its width
    as drawn, and its width once every variant is shown."""
    widths = {"validation": theme.line, "train": theme.train_line}
    out = []
    for r in summary:
        stressed = palette.stressed(r["variant"])
        full = widths[r["split"]]
        out.append(r | {"stressed": stressed, "full": full,
                        "width": full if stressed else theme.thin})  # fmt: skip
    return out


def _everyone(palette: Palette) -> list:
    """The checkbox under a chart that stresses every variant, when a claim names only
    some of them."""
    if not palette.focus or set(palette.focus) == set(palette.labels):
        return []
    return [alt.param(name=EVERYONE, value=False,
                      bind=alt.binding_checkbox(name="every variant in colour "))]  # fmt: skip


def _colour(palette: Palette, legend: dict | None, everyone: bool) -> dict:
    """The variant's colour where stressed (or every variant is shown), grey elsewhere;
    the legend fades the variants drawn grey."""
    shown = f" || {EVERYONE}" if everyone else ""
    if legend is not None and palette.focus:
        stressed = f"indexof({json.dumps(sorted(palette.focus))}, datum.value) >= 0{shown}"
        legend = legend | {"symbolOpacity": {"expr": f"{stressed} ? 1 : 0.3"},
                           "labelOpacity": {"expr": f"{stressed} ? 1 : 0.55"}}  # fmt: skip
    field = {"field": "variant", "type": "nominal", "scale": palette.scale().to_dict(),
             "legend": legend}  # fmt: skip
    return {"condition": {"test": "datum.stressed" + shown, **field}, "value": GREY}


def overlay(
    rows: Rows,
    palette: Palette,
    theme: Theme = SCREEN,
    scale: str = "linear",
    epochs: int | None = None,
    height: int = 300,
    heading: str = HEADINGS["data"],
    legend_title: str | None = None,
    at: int | None = None,
) -> dict:
    """The headline: every variant's validation loss (solid) and training loss (dashed) on
    one shared axis, each stressed variant's best validation epoch marked. Given `at`, it
    marks that epoch (the snapshot the pictures beside it show) and leaves the legend to
    their coloured titles."""
    summary = seed_summary([r for r in rows if r["metric"] == "loss"])
    y = loss_scale(summary, palette, scale, epochs)
    everyone = _everyone(palette)
    legend = None if at is not None else {
        "title": legend_title, "orient": "top", "direction": "horizontal", "labelLimit": 200,
        "columns": legend_columns(palette.labels, theme), "columnPadding": 4,
        "symbolSize": 200}  # fmt: skip
    lines = (
        alt.Chart(alt.NamedData("curves"))
        .mark_line(clip=True)
        .encode(x=epoch_axis(rows, epochs),
                y=alt.Y("value:Q", title="loss" + (" (log scale)" if scale == "log" else ""),
                        scale=y),
                color=_colour(palette, legend, bool(everyone)),
                strokeWidth=alt.StrokeWidth("drawn:Q", scale=None),
                strokeDash=alt.StrokeDash("split:N", legend=None, scale=alt.Scale(
                    domain=list(DASHES), range=list(DASHES.values()))),
                detail="split:N", tooltip=_tooltip("loss"))
    )  # fmt: skip
    # The checkbox gives every curve its stressed width.
    lines = lines.transform_calculate(
        drawn=f"{EVERYONE} ? datum.full : datum.width" if everyone else "datum.width"
    )
    # The grey curves first, so the stressed ones are drawn over them.
    lines = [lines.transform_filter("!datum.stressed"), lines.transform_filter("datum.stressed")]
    best = [b for b in best_epochs(summary) if palette.stressed(b["variant"])]
    marks = (
        alt.Chart(alt.NamedData("best"))
        .mark_point(size=theme.point, filled=True, clip=True, stroke="white", strokeWidth=1.5,
                    opacity=1)
        .encode(x="epoch:Q", y=alt.Y("value:Q", scale=y),
                color=alt.Color("variant:N", scale=palette.scale(), legend=None),
                tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("epoch:Q", title="best epoch"),
                         alt.Tooltip("value:Q", format=".4f", title="lowest val loss")])
    )  # fmt: skip
    layers = [*lines, marks]
    if at is not None:
        layers.append(alt.Chart(alt.Data(values=[{"epoch": at}]))
                      .mark_rule(color=INK, strokeWidth=2, strokeDash=[2, 3])
                      .encode(x="epoch:Q"))  # fmt: skip
    head = alt.Title(heading, anchor="start", fontSize=theme.heading)
    chart = alt.layer(*layers).add_params(*everyone)
    chart = chart.properties(height=height, width="container", title=head)
    return filled(chart, theme, curves=_styled(summary, palette, theme), best=best)


def legend_columns(labels: Sequence[str], theme: Theme) -> int:
    """As many columns as fit above the chart: a label cut short names no variant. An
    entry is its symbol and its label, about half the type size per letter."""
    entry = max((len(label) for label in labels), default=1) * theme.ticks * 0.5 + 34
    return max(1, min(len(labels), int(theme.legend_width // entry)))


def _tooltip(metric: str) -> list:
    return [alt.Tooltip("variant:N"), alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"),
            alt.Tooltip("value:Q", format=".4f", title=metric),
            alt.Tooltip("seeds:Q", title="seeds")]  # fmt: skip


def _over_variants(field: str, title: str, number: str, palette: Palette, theme: Theme,
                   x: alt.X) -> alt.Chart:  # fmt: skip
    """One line per variant on a shared axis, in the variant's colour, drawing the named
    dataset `field` (rows with variant, epoch and field)."""
    return (
        alt.Chart(alt.NamedData(field))
        .mark_line(strokeWidth=theme.train_line + 0.5)
        .encode(
            x=x,
            y=alt.Y(f"{field}:Q", title=title),
            color=alt.Color("variant:N", scale=palette.scale(),
                            legend=alt.Legend(title=None, orient="right")),
            tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("epoch:Q"),
                     alt.Tooltip(f"{field}:Q", format=number, title=field)],
        )
    )  # fmt: skip


def gap(rows: Rows, palette: Palette, theme: Theme = SCREEN, epochs: int | None = None,
        height: int = 300) -> dict:  # fmt: skip
    """Generalization gap, validation minus training loss, every variant overlaid."""
    lines = _over_variants("gap", "val − train loss", ".4f", palette, theme,
                           epoch_axis(rows, epochs))  # fmt: skip
    zero = alt.Chart(alt.Data(values=[{"gap": 0.0}])).mark_rule(color="#888").encode(y="gap:Q")
    chart = (zero + lines).properties(height=height, width="container")
    return filled(chart, theme, gap=gap_rows(rows))


def penalty(rows: Rows, palette: Palette, theme: Theme = SCREEN, epochs: int | None = None,
            height: int = 300) -> dict | None:  # fmt: skip
    """The L1/L2 penalty of the variants that have one, on its own axis."""
    summary = seed_summary([r for r in rows if r["metric"] == "penalty"])
    present = {r["variant"] for r in summary if r["value"] > 0}
    data = [r | {"penalty": r["value"]} for r in summary if r["variant"] in present]
    if not data:
        return None
    shown = Palette(tuple(p for p in palette.colours if p[0] in present))
    chart = _over_variants("penalty", "penalty", ".5f", shown, theme, epoch_axis(rows, epochs))
    return filled(chart.properties(height=height, width="container"), theme, penalty=data)


def norms(rows: Rows, palette: Palette, theme: Theme = SCREEN, epochs: int | None = None,
          height: int = 300) -> dict:  # fmt: skip
    """Every variant's total kernel norm per epoch: how big the weights grow."""
    chart = _over_variants("norm", "weight norm (all kernels)", ".3f", palette, theme,
                           epoch_axis(rows, epochs))  # fmt: skip
    return filled(chart.properties(height=height, width="container"), theme, norm=rows)


def _curve_data(
    rows: Rows, metric: str, palette: Palette, scale: str, epochs: int | None
) -> tuple[Rows, alt.Scale]:
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
    if metric == "loss":  # every panel is stressed: each shows one variant whole
        return data, loss_scale(summary, Palette(palette.colours), scale, epochs)
    low = min([0.0] + [v for r in summary for v in (r["value"], r["low"])])
    return data, alt.Scale(domain=[low, 1.0])


def panels(
    rows: Rows,
    metric: str,
    palette: Palette,
    theme: Theme = SCREEN,
    epochs: int | None = None,
    scale: str = "linear",
    height: int = 280,
) -> list[dict]:
    """Small multiples of one metric as separate Vega-Lite specs with identical axis
    domains, so the page can lay them out in columns that stretch with the screen. No
    legend inside: the page says once which line is which."""  # fmt: skip
    data, y = _curve_data(rows, metric, palette, scale, epochs)
    title = metric + (" (log scale)" if scale == "log" and metric == "loss" else "")
    colour = alt.Color("variant:N", scale=palette.scale(), legend=None)
    base = alt.Chart().encode(x=epoch_axis(rows, epochs))
    band = (base.mark_area(opacity=0.18, clip=True)
            .encode(y=alt.Y("low:Q", title=title, scale=y), y2="high:Q", color=colour,
                    detail="split:N")
            .transform_filter("datum.kind == 'curve' && datum.seeds > 1"))  # fmt: skip
    widths = alt.Scale(domain=list(DASHES), range=[theme.train_line, theme.line - 0.5])
    line = (base.mark_line(clip=True)
            .encode(y=alt.Y("value:Q", title=title, scale=y), color=colour,
                    strokeDash=alt.StrokeDash("split:N", legend=None, scale=alt.Scale(
                        domain=list(DASHES), range=list(DASHES.values()))),
                    strokeWidth=alt.StrokeWidth("split:N", legend=None, scale=widths),
                    detail="split:N", tooltip=_tooltip(metric))
            .transform_filter("datum.kind == 'curve'"))  # fmt: skip
    best = (base.mark_point(size=90, filled=True, color=INK, clip=True)
            .encode(y=alt.Y("value:Q", scale=y),
                    tooltip=[alt.Tooltip("variant:N"),
                             alt.Tooltip("epoch:Q", title="best val epoch")])
            .transform_filter("datum.kind == 'best'"))  # fmt: skip
    # One chart, serialized once; each panel is that spec with its own title and data.
    # Building and serializing a chart per panel was most of the time a cached page took.
    template = spec(alt.layer(band, line, best, data=alt.NamedData("panel"))
                    .properties(height=height, width="container", title=""), theme)  # fmt: skip
    return [template | {"title": _panel_title(label, palette.colour(label), theme),
                        "data": {"values": [r for r in data if r["variant"] == label]}}
            for label in palette.labels]  # fmt: skip


def _panel_title(label: str, colour: str, theme: Theme) -> dict:
    return {"text": label, "fontSize": theme.heading, "color": colour, "anchor": "start",
            "limit": 0}  # fmt: skip


def histograms(runs: Sequence[tuple[str, dict]], palette: Palette, theme: Theme = SCREEN,
               height: int = 220) -> list[dict]:  # fmt: skip
    """Final kernel weights of each variant, as a share of its weights per bin, on one
    weight axis: L2 narrows the distribution, L1 piles weights up at zero."""
    edge = max(max(abs(h["edges"][0]), abs(h["edges"][-1])) for _, h in runs)
    out = []
    for label, h in runs:
        total = sum(h["counts"]) or 1
        bars = [
            {"low": a, "high": b, "share": c / total}
            for a, b, c in zip(h["edges"], h["edges"][1:], h["counts"], strict=False)
        ]
        chart = alt.Chart(alt.Data(values=bars)).mark_rect(color=palette.colour(label)).encode(
            x=alt.X("low:Q", scale=alt.Scale(domain=[-edge, edge]), title="weight"),
            x2="high:Q", y=alt.Y("share:Q", title="share of weights",
                                  axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                     alt.Tooltip("share:Q", format=".1%")])  # fmt: skip
        panel = spec(chart.properties(height=height, width="container"), theme)
        out.append(panel | {"title": _panel_title(label, palette.colour(label), theme)})
    return out
