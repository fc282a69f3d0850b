"""Pure functions: the tidy per-epoch table (core.report.tidy) -> Altair charts.

Made for a projector: one panel per variant with shared axes, one colour per variant kept
across every chart, training solid and validation dashed, thick lines, large type. With
several seeds a variant is drawn as the mean with a band from the lowest to the highest
seed, so a class can see whether a difference is larger than the noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

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


def seed_summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean, lowest and highest value over seeds per (variant, split, metric, epoch)."""
    grouped = tidy.groupby(["variant", "split", "metric", "epoch"], sort=False)["value"]
    return grouped.agg(value="mean", low="min", high="max", seeds="count").reset_index()


def best_epochs(summary: pd.DataFrame) -> pd.DataFrame:
    """Per variant, the epoch with the lowest mean validation loss."""
    val = summary[(summary.metric == "loss") & (summary.split == "validation")]
    if val.empty:
        return pd.DataFrame(columns=["variant", "epoch", "value"])
    rows = val.loc[val.groupby("variant", sort=False)["value"].idxmin()]
    return rows[["variant", "epoch", "value"]].reset_index(drop=True)


def curves(
    tidy: pd.DataFrame, metric: str, labels: Sequence[str], columns: int = 4, height: int = 220
) -> alt.FacetChart:
    """Small multiples of one metric as one figure: a panel per variant, shared axes. For
    export (PNG/SVG): Streamlit cannot size faceted charts, so the page draws panels()."""
    columns = min(columns, max(1, len(labels)))
    width = min(420, ROW_WIDTH // columns - 70)
    data, x, y = _curve_frame(tidy, metric)
    layered = alt.layer(*_curve_layers(metric, labels, x, y), data=data).properties(
        height=height, width=width
    )
    chart = layered.facet(
        facet=alt.Facet(
            "variant:N",
            sort=list(labels),
            title=None,
            header=alt.Header(labelFontSize=18, labelFontWeight="bold"),
        ),
        columns=columns,
    ).resolve_scale(x="shared", y="shared")
    return _style(chart)


def panels(
    tidy: pd.DataFrame, metric: str, labels: Sequence[str], height: int = 330
) -> list[alt.LayerChart]:
    """The same small multiples as separate charts with identical axis domains, so that
    the page can lay them out in columns that stretch with the screen. No legend inside:
    the page says once which line is which (the height includes title and axes)."""
    data, x, y = _curve_frame(tidy, metric)
    out = []
    for label in labels:
        layers = _curve_layers(metric, labels, x, y, legend=False)
        chart = alt.layer(*layers, data=data[data.variant == label]).properties(
            height=height,
            width="container",
            title=alt.TitleParams(label, fontSize=18, anchor="middle"),
        )
        out.append(_style(chart))
    return out


def _curve_frame(tidy: pd.DataFrame, metric: str):
    """Per-epoch mean/low/high over seeds, each variant's best validation epoch, and the
    axis scales every panel shares."""
    summary = seed_summary(tidy[tidy.metric == metric])
    summary["kind"] = "curve"
    best = best_epochs(seed_summary(tidy)).assign(kind="best", split="validation", metric=metric)
    # Missing low/high stay float NaN, which Altair writes as null; None in an object column
    # would be written as NaN, which is not JSON and breaks the whole chart.
    data = pd.concat([summary, best], ignore_index=True)
    epochs = int(tidy.epoch.max()) if len(tidy) else 1
    x = alt.Scale(domain=[1, max(2, epochs)])
    values = pd.concat([summary.low, summary.high, summary.value]).dropna()
    if metric == "loss":
        # Log scale: the training loss falls by orders of magnitude while the validation
        # loss turns up by a few percent; on a linear axis that turn is invisible.
        positive = values[values > 0]
        low = float(positive.min()) * 0.8 if len(positive) else 1e-4
        high = float(positive.max()) * 1.25 if len(positive) else 1.0
        y = alt.Scale(type="log", domain=[low, high])
    else:
        y = alt.Scale(domain=[min(0.0, float(values.min())) if len(values) else 0.0, 1.0])
    return data, x, y


def _curve_layers(
    metric: str, labels: Sequence[str], x_scale: alt.Scale, y_scale: alt.Scale, legend: bool = True
) -> list[alt.Chart]:
    colour = alt.Color("variant:N", scale=color_scale(labels), legend=None)
    title = TITLES.get(metric, metric) if metric != "loss" else "loss (log scale)"
    x = alt.X("epoch:Q", title="epoch", scale=x_scale, axis=alt.Axis(tickMinStep=1))
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


def gap(tidy: pd.DataFrame, labels: Sequence[str], height: int = 300) -> alt.LayerChart:
    """Generalization gap, validation minus training data loss, all variants overlaid."""
    loss = seed_summary(tidy[tidy.metric == "loss"])
    wide = loss.pivot_table(index=["variant", "epoch"], columns="split", values="value")
    if "validation" not in wide or "train" not in wide:
        wide = pd.DataFrame(columns=["train", "validation"])
    data = (wide["validation"] - wide["train"]).rename("gap").reset_index()
    colour = alt.Color(
        "variant:N", scale=color_scale(labels), legend=alt.Legend(title=None, orient="right")
    )
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=3)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("gap:Q", title="validation − training loss"),
            color=colour,
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("epoch:Q"),
                alt.Tooltip("gap:Q", format=".4f"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"gap": [0.0]})).mark_rule(color="#888").encode(y="gap:Q")
    return _style((zero + lines).properties(height=height, width="container"))


def penalty(tidy: pd.DataFrame, labels: Sequence[str], height: int = 300) -> alt.Chart | None:
    """The L2 penalty of the variants that have one, on its own axis."""
    data = seed_summary(tidy[tidy.metric == "penalty"])
    data = data[data.groupby("variant")["value"].transform("max") > 0]
    if data.empty:
        return None
    chart = (
        alt.Chart(data)
        .mark_line(strokeWidth=3)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title="L2 penalty"),
            color=alt.Color(
                "variant:N",
                scale=color_scale(labels, data.variant.unique()),
                legend=alt.Legend(title=None, orient="right"),
            ),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("epoch:Q"),
                alt.Tooltip("value:Q", format=".5f", title="penalty"),
            ],
        )
    )
    return _style(chart.properties(height=height, width="container"))


def class_balance(counts: pd.DataFrame) -> alt.Chart:
    """Examples per class in each split: counts has columns class, split, examples."""
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=None, title=None),
            y=alt.Y("examples:Q"),
            color=alt.Color("split:N", legend=alt.Legend(title=None, orient="top")),
            xOffset="split:N",
            tooltip=["class:N", "split:N", "examples:Q"],
        )
    )
    return _style(chart.properties(height=260, width="container"))


def _style(chart):
    return (
        chart.configure_axis(labelFontSize=14, titleFontSize=16, gridOpacity=0.4)
        .configure_legend(labelFontSize=15, symbolStrokeWidth=3, symbolSize=300)
        .configure_title(fontSize=18)
        .configure_view(strokeOpacity=0.3)
    )
