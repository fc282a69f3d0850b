"""Pictures of the data and of what a network computes: the decision boundary of 2-D classes
(TensorFlow Playground's picture), the fitted curve of 1-D regression beside the true curve,
and the class balance of the splits.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

import altair as alt

from core.charts.theme import INK, SCREEN, Theme, put, spec

Rows = list[dict[str, Any]]

PROBE_COLORS = ((33, 102, 172), (247, 247, 247), (178, 24, 43))  # P(class 1): 0, 50, 100
CLASS_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#4d4d4d")
# The points in darker tones of their class, ringed in white: visible on their own region,
# and a point on the other class's region (a training mistake) stands out.
POINT_COLORS = ("#08306b", "#67000d", "#00441b", "#3f007d", "#7f2704", "#000000")
TRUTH = "#5a5a5a"  # the curve the noisy points were drawn around, darker than the points
HELD_OUT_INK = "#c2c2c2"  # validation points: light, under the curves
PICTURE = 300  # pixels high, title included: about square in a column three to a row
SPLITS = ["train", "validation"]


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


def _title(label: str, epoch: int, colour: str, theme: Theme) -> dict:
    when = f"epoch {epoch}" if epoch else "before training"
    return {"text": label, "subtitle": when, "fontSize": theme.heading,
            "subtitleFontSize": theme.ticks - 1, "color": colour, "anchor": "start",
            "limit": 0}  # fmt: skip


def boundary(
    probe: dict, snapshot: dict, points: Rows, label: str, classes: Sequence[str],
    colour: str, theme: Theme = SCREEN, size: int = PICTURE,
) -> dict:  # fmt: skip
    """One variant's predicted class probability over the plane, with the training points
    on top and the validation points smaller: TensorFlow Playground's picture. The view
    takes its column's width; the picture fills the view, whatever its size."""
    xs, ys = probe["x"], probe["y"]
    image = probability_image(probe, snapshot, len(classes))
    centre = [{"x": (xs[0] + xs[-1]) / 2, "y": (ys[0] + ys[-1]) / 2, "url": image}]
    view = _boundary_view((xs[0], xs[-1]), (ys[0], ys[-1]), tuple(classes), theme, size)
    out = put(copy.deepcopy(view), centre=centre, points=points)
    return out | {"title": _title(label, snapshot["epoch"], colour, theme)}


@functools.lru_cache(maxsize=16)
def _boundary_view(xs: tuple, ys: tuple, classes: tuple, theme: Theme, size: int) -> dict:
    """A boundary picture without its data, built once per plane: every variant's picture
    shares it, and Altair took most of a live page's time building seven alike."""
    x = alt.X("x:Q", scale=alt.Scale(domain=list(xs), nice=False, zero=False), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(domain=list(ys), nice=False, zero=False), axis=None)
    heat = (alt.Chart(alt.Data(name="centre"))
            .mark_image(width={"expr": "width"}, height={"expr": "height"}, aspect=False)
            .encode(x=x, y=y, url="url:N"))  # fmt: skip
    dots = alt.Chart(alt.Data(name="points")).mark_point(filled=True, clip=True).encode(
        x=x, y=y,
        fill=alt.Color("class:N", scale=alt.Scale(domain=list(classes),
                                                  range=list(POINT_COLORS)), legend=None),
        stroke=alt.value("white"),
        size=alt.Size("split:N", scale=alt.Scale(domain=SPLITS, range=[70, 20]), legend=None),
        opacity=alt.Opacity("split:N", scale=alt.Scale(domain=SPLITS, range=[1.0, 0.5]),
                            legend=None),
        strokeWidth=alt.StrokeWidth("split:N", scale=alt.Scale(domain=SPLITS, range=[1.2, 0.5]),
                                    legend=None),
    )  # fmt: skip
    return spec(alt.layer(heat, dots).properties(width="container", height=size), theme)


def fitted(
    probe: dict, snapshot: dict, points: Rows, truth: Rows, label: str, colour: str,
    theme: Theme = SCREEN, size: int = PICTURE,
) -> dict:  # fmt: skip
    """One variant's fitted function over the line (in its colour) beside the true curve
    (grey), with the training points it was fitted to (dark) and validation points (grey),
    in the standardised units the network sees."""
    line = [{"x": x, "y": y} for x, y in zip(probe["x"], snapshot["values"], strict=True)]
    ys = [p["y"] for p in points + truth]
    spread = max(ys) - min(ys) or 1.0
    domain = (min(ys) - 0.15 * spread, max(ys) + 0.15 * spread)
    view = _fitted_view((probe["x"][0], probe["x"][-1]), domain, colour, theme, size)
    out = put(copy.deepcopy(view), points=points, truth=truth, line=line)
    return out | {"title": _title(label, snapshot["epoch"], colour, theme)}


@functools.lru_cache(maxsize=64)
def _fitted_view(xs: tuple, ys: tuple, colour: str, theme: Theme, size: int) -> dict:
    """A fitted-curve picture without its data, built once per line and colour (see
    _boundary_view)."""
    x = alt.X("x:Q", title="x (standardised)", scale=alt.Scale(domain=list(xs), nice=False))
    y = alt.Y("y:Q", title="y (standardised)", scale=alt.Scale(domain=list(ys), nice=False))
    dots = alt.Chart(alt.Data(name="points")).mark_point(filled=True, clip=True).encode(
        x=x, y=y, opacity=alt.value(0.9),
        size=alt.Size("split:N", scale=alt.Scale(domain=SPLITS, range=[60, 22]), legend=None),
        color=alt.Color("split:N", scale=alt.Scale(domain=SPLITS, range=[INK, HELD_OUT_INK]),
                        legend=None))  # fmt: skip
    true = (alt.Chart(alt.Data(name="truth"))
            .mark_line(strokeWidth=theme.train_line, color=TRUTH, strokeDash=[7, 4])
            .encode(x=x, y=y))  # fmt: skip
    curve = (alt.Chart(alt.Data(name="line")).mark_line(strokeWidth=theme.line, color=colour,
                                                        clip=True)
             .encode(x=x, y=y))  # fmt: skip
    return spec(alt.layer(dots, true, curve).properties(width="container", height=size), theme)


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
