"""Pure functions: tidy per-epoch records (core.report.tidy) -> Altair charts, and
spec(chart) -> the Vega-Lite dict a page or an exporter draws.

Made for a projector: one panel per variant with shared axes, one colour per variant kept
across every chart, training solid and validation dashed, thick lines, large type. With
several seeds a variant is drawn as the mean with a band from the lowest to the highest
seed, so a class can see whether a difference is larger than the noise.

Records are plain dicts, not DataFrames: a cached comparison is drawn in a fresh process,
and pandas alone costs half a second to import.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import altair as alt

Rows = list[dict[str, Any]]

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
DASHES = {"train": [1, 0], "validation": [7, 4]}
TITLES = {"loss": "loss", "accuracy": "accuracy", "penalty": "L2 penalty"}
LINES = "━━ training set     ┅┅ validation set     ┆ best validation epoch"
TRAIN_NOTE = (
    "The training set is re-measured at the end of each epoch in inference mode "
    "(Dropout and augmentation off), like the validation set. The loss is the data "
    "loss alone: it never includes the L2 penalty."
)
ROW_WIDTH = 1150  # pixels a row of panels fills in an exported figure


def color_scale(labels: Sequence[str], present: Sequence[str] | None = None) -> alt.Scale:
    """The same colour for the same variant in every chart of a comparison; `present`
    limits the legend to the variants a chart actually shows."""
    colours = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    shown = [label for label in labels if present is None or label in set(present)]
    return alt.Scale(domain=shown, range=[colours[label] for label in shown])


def seed_summary(rows: Rows) -> Rows:
    """Mean, lowest and highest value over seeds per (variant, split, metric, epoch)."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["split"], r["metric"], r["epoch"]), []).append(
            r["value"]
        )
    return [
        {
            "variant": v,
            "split": s,
            "metric": m,
            "epoch": e,
            "value": statistics.fmean(x),
            "low": min(x),
            "high": max(x),
            "seeds": len(x),
        }
        for (v, s, m, e), x in groups.items()
    ]


def best_epochs(summary: Rows) -> Rows:
    """Per variant, the epoch with the lowest mean validation loss (the first, on ties)."""
    best: dict[str, dict[str, Any]] = {}
    for r in summary:
        if r["metric"] == "loss" and r["split"] == "validation":
            current = best.get(r["variant"])
            if current is None or (r["value"], r["epoch"]) < (current["value"], current["epoch"]):
                best[r["variant"]] = {
                    "variant": r["variant"],
                    "epoch": r["epoch"],
                    "value": r["value"],
                }
    return list(best.values())


def curves(
    rows: Rows,
    metric: str,
    labels: Sequence[str],
    columns: int = 4,
    height: int = 220,
    epochs: int | None = None,
) -> alt.FacetChart:
    """Small multiples of one metric as one figure: a panel per variant, shared axes. For
    export (PNG/SVG): Streamlit cannot size faceted charts, so the page draws panels()."""
    columns = min(columns, max(1, len(labels)))
    width = min(420, ROW_WIDTH // columns - 70)
    data, y = _curve_data(rows, metric)
    x = epoch_axis(rows, epochs)
    layered = alt.layer(
        *_curve_layers(metric, labels, x, y), data=alt.Data(values=data)
    ).properties(height=height, width=width)
    return layered.facet(
        facet=alt.Facet(
            "variant:N",
            sort=list(labels),
            title=None,
            header=alt.Header(labelFontSize=18, labelFontWeight="bold"),
        ),
        columns=columns,
    ).resolve_scale(x="shared", y="shared")


def panels(
    rows: Rows, metric: str, labels: Sequence[str], height: int = 330, epochs: int | None = None
) -> list[dict]:
    """The same small multiples as separate Vega-Lite specs with identical axis domains, so
    that the page can lay them out in columns that stretch with the screen. No legend
    inside: the page says once which line is which (the height includes title and axes)."""
    data, y = _curve_data(rows, metric)
    x = epoch_axis(rows, epochs)
    # One Altair chart, serialized once, drawing a named dataset; each panel is that spec
    # with its own title and data. Building and serializing a chart per panel was most of
    # the time it took to show a cached comparison.
    template = spec(
        alt.layer(
            *_curve_layers(metric, labels, x, y, legend=False), data=alt.NamedData("panel")
        ).properties(height=height, width="container", title="")
    )
    return [
        template
        | {
            "title": {"text": label, "fontSize": 18, "anchor": "middle"},
            "data": {"values": [r for r in data if r["variant"] == label]},
        }
        for label in labels
    ]


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


def _curve_data(rows: Rows, metric: str) -> tuple[Rows, alt.Scale]:
    """Per-epoch mean/low/high over seeds, each variant's best validation epoch, and the
    value scale every panel shares."""
    summary = seed_summary([r for r in rows if r["metric"] == metric])
    best = best_epochs(seed_summary([r for r in rows if r["metric"] == "loss"]))
    data = [r | {"kind": "curve"} for r in summary] + [
        b | {"kind": "best", "split": "validation", "metric": metric} for b in best
    ]
    values = [v for r in summary for v in (r["value"], r["low"], r["high"])]
    if metric == "loss":
        # Log scale: the training loss falls by orders of magnitude while the validation
        # loss turns up by a few percent; on a linear axis that turn is invisible.
        positive = [v for v in values if v > 0] or [1e-4, 1.0]
        y = alt.Scale(type="log", domain=[min(positive) * 0.8, max(positive) * 1.25])
    else:
        y = alt.Scale(domain=[min([0.0, *values]), 1.0])
    return data, y


def _curve_layers(
    metric: str, labels: Sequence[str], x: alt.X, y_scale: alt.Scale, legend: bool = True
) -> list[alt.Chart]:
    colour = alt.Color("variant:N", scale=color_scale(labels), legend=None)
    title = TITLES.get(metric, metric) if metric != "loss" else "loss (log scale)"
    base = alt.Chart().encode(x=x)
    band = (
        base.mark_area(opacity=0.18, clip=True)
        .encode(
            y=alt.Y("low:Q", title=title, scale=y_scale),
            y2="high:Q",
            color=colour,
            detail="split:N",
        )
        .transform_filter("datum.kind == 'curve' && datum.seeds > 1")
    )
    line = (
        base.mark_line(strokeWidth=3, clip=True)
        .encode(
            y=alt.Y("value:Q", title=title, scale=y_scale),
            color=colour,
            strokeDash=alt.StrokeDash(
                "split:N",
                scale=alt.Scale(domain=list(DASHES), range=list(DASHES.values())),
                legend=alt.Legend(title=None, orient="top") if legend else None,
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("split:N"),
                alt.Tooltip("epoch:Q"),
                alt.Tooltip("value:Q", format=".4f", title=metric),
                alt.Tooltip("seeds:Q", title="seeds"),
            ],
        )
        .transform_filter("datum.kind == 'curve'")
    )
    rule = (
        base.mark_rule(strokeWidth=2, color="#444", strokeDash=[2, 2])
        .encode(
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("epoch:Q", title="best val epoch"),
                alt.Tooltip("value:Q", format=".4f", title="lowest val loss"),
            ],
        )
        .transform_filter("datum.kind == 'best'")
    )
    return [band, line, rule]


def gap_rows(rows: Rows) -> Rows:
    """Validation minus training data loss per variant and epoch (means over seeds)."""
    loss = {
        (r["variant"], r["epoch"], r["split"]): r["value"]
        for r in seed_summary([r for r in rows if r["metric"] == "loss"])
    }
    return [
        {"variant": v, "epoch": e, "gap": value - loss[(v, e, "train")]}
        for (v, e, split), value in loss.items()
        if split == "validation" and (v, e, "train") in loss
    ]


def gap(
    rows: Rows, labels: Sequence[str], height: int = 300, epochs: int | None = None
) -> alt.LayerChart:
    """Generalization gap, validation minus training data loss, all variants overlaid."""
    lines = _overlay(
        gap_rows(rows), "gap", "validation − training loss", "gap", ".4f", color_scale(labels)
    )
    zero = alt.Chart(alt.Data(values=[{"gap": 0.0}])).mark_rule(color="#888").encode(y="gap:Q")
    return (zero + lines.encode(x=epoch_axis(rows, epochs))).properties(
        height=height, width="container"
    )


def penalty(
    rows: Rows, labels: Sequence[str], height: int = 300, epochs: int | None = None
) -> alt.Chart | None:
    """The L2 penalty of the variants that have one, on its own axis."""
    summary = seed_summary([r for r in rows if r["metric"] == "penalty"])
    present = {r["variant"] for r in summary if r["value"] > 0}
    data = [r for r in summary if r["variant"] in present]
    if not data:
        return None
    colours = color_scale(labels, sorted(present))
    chart = _overlay(data, "value", "L2 penalty", "penalty", ".5f", colours)
    return chart.encode(x=epoch_axis(rows, epochs)).properties(height=height, width="container")


def _overlay(
    data: Rows, field: str, title: str, name: str, number: str, colours: alt.Scale
) -> alt.Chart:
    """One line per variant on a shared axis, in the variant's colour, legend on the right."""
    return (
        alt.Chart(alt.Data(values=data))
        .mark_line(strokeWidth=3)
        .encode(
            y=alt.Y(f"{field}:Q", title=title),
            color=alt.Color(
                "variant:N", scale=colours, legend=alt.Legend(title=None, orient="right")
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("epoch:Q"),
                alt.Tooltip(f"{field}:Q", format=number, title=name),
            ],
        )
    )


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


# Large type and thick lines for a projector, added to the final dict: Altair's configure_*
# copies every layer of every chart and cost more than drawing them.
CONFIG = {
    "axis": {"labelFontSize": 14, "titleFontSize": 16, "gridOpacity": 0.4},
    "legend": {"labelFontSize": 15, "symbolStrokeWidth": 3, "symbolSize": 300},
    "title": {"fontSize": 18},
    "view": {"strokeOpacity": 0.3},
}


def spec(chart) -> dict:
    """The Vega-Lite dict to draw. Not validated against the schema here: every chart
    builder is validated by the tests, and validation was the slowest part of a page."""
    out = chart.to_dict(validate=False)
    out["config"] = {**CONFIG, **out.get("config", {})}
    return out
