"""The validation curve (scikit-learn's name; the learning curve when the knob is the number
of training examples): final and best loss against the values of one knob, on the knob's
own scale — decades evenly spaced for a log-spaced knob on every page, an "off" value one
decade below the smallest strength.

Measures are told apart by ink and dash, not by hue: hues on a sweep page mean values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from core.charts.theme import SCREEN, Theme, filled
from core.settings import SETTINGS

Rows = list[dict[str, Any]]

MEASURES = {  # measure -> (ink, dash)
    "validation (final)": ("#111111", [1, 0]),
    "test (final)": ("#555555", [9, 4]),
    "validation (best)": ("#111111", [2, 3]),
    "training (final)": ("#9a9a9a", [5, 3]),
}


def log_spaced(knob: str) -> bool:
    """A knob whose sweep spans decades (L2, L1, training examples, epochs): drawn on a
    log axis. Read from its default sweep in the settings table."""
    values = [v for v in SETTINGS[knob].sweep if isinstance(v, int | float) and v > 0]
    return len(values) > 1 and max(values) / min(values) >= 10


def positions(knob: str, values: Sequence) -> list[float] | None:
    """Where each value sits on the x axis, or None for a knob of named choices (drawn in
    order). On a log axis a zero ("off") sits one decade below the smallest value."""
    if SETTINGS[knob].choices:
        return None
    numbers = [float(v) for v in values]
    if not log_spaced(knob):
        return numbers
    smallest = min((v for v in numbers if v > 0), default=1.0)
    return [v if v > 0 else smallest / 10 for v in numbers]


def sweep_chart(
    points: Rows,
    knob: str,
    order: Sequence[str],
    at: Mapping[str, float] | None = None,
    theme: Theme = SCREEN,
    written: Sequence[str] = (),
    height: int = 320,
) -> dict:
    """Final training, validation and test loss, and the best validation loss, against one
    knob's values (labels in `order`; `at` their positions, from positions()): the mean
    over seeds, with the lowest and highest seed as error bars. `written`: the claim's
    margins, under the title."""
    title = SETTINGS[knob].label
    if at is None:
        x = alt.X("label:N", sort=list(order), title=title, axis=alt.Axis(labelAngle=0))
    else:
        ticks = {at[label]: label for label in order}
        names = " : ".join(f"datum.value == {v!r} ? {json.dumps(n)}" for v, n in ticks.items())
        log = log_spaced(knob)
        x = alt.X("at:Q", title=title + (" (log scale)" if log else ""),
                  scale=_span(list(ticks), log),
                  axis=alt.Axis(values=list(ticks), labelExpr=f"{names} : ''", labelAngle=0,
                                labelOverlap=True, grid=False))  # fmt: skip
        points = [p | {"at": at[p["label"]]} for p in points]
    inks = alt.Scale(domain=list(MEASURES), range=[ink for ink, _ in MEASURES.values()])
    measure = alt.Color("measure:N", scale=inks, legend=alt.Legend(
        title=None, orient="top", direction="horizontal", columns=2, symbolType="stroke",
        symbolStrokeWidth=3, symbolSize=600, labelLimit=0))  # fmt: skip
    dash = alt.StrokeDash("measure:N", legend=None, scale=alt.Scale(
        domain=list(MEASURES), range=[d for _, d in MEASURES.values()]))  # fmt: skip
    base = alt.Chart(alt.NamedData("points")).encode(x=x)
    lines = base.mark_line(strokeWidth=theme.train_line + 0.5).encode(
        y=alt.Y("loss:Q", title="loss"), color=measure, strokeDash=dash,
        tooltip=[alt.Tooltip("label:N", title=title), alt.Tooltip("measure:N"),
                 alt.Tooltip("loss:Q", format=".4f"), alt.Tooltip("seeds:Q")])  # fmt: skip
    dots = base.mark_point(filled=True, size=theme.point * 0.6, opacity=1).encode(
        y="loss:Q", color=measure
    )
    bars = base.mark_rule(strokeWidth=2).encode(
        y=alt.Y("low:Q", title="loss"), y2="high:Q",
        color=measure)  # fmt: skip
    head = alt.Title("Validation curve" if knob != "train_size" else "Learning curve",
                     anchor="start", fontSize=theme.heading, subtitle=list(written),
                     subtitleFontSize=theme.ticks - 3)  # fmt: skip
    chart = alt.layer(bars, lines, dots).properties(height=height, width="container",
                                                     title=head)  # fmt: skip
    return filled(chart, theme, points=points)


def _span(ticks: list[float], log: bool) -> alt.Scale:
    """The values' range with a little room on both sides, on the axis's own scale."""
    low, high = min(ticks), max(ticks)
    if log:
        pad = 10 ** (0.08 * (math.log10(high) - math.log10(low) or 1))
        return alt.Scale(type="log", domain=[low / pad, high * pad], nice=False)
    pad = 0.05 * (high - low or 1)
    return alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False)
