"""How big the effect is: each variant's final validation and test data loss (or gap) as a
dot with the range of its seeds, the best validation loss as a ring, the reference
variant's value as a line, sorted, and beside each row the margin its claim holds by
(core.metrics.Margin, in the claim's words: "✓ 0.08 · 0.07 lower"). A class reads "Dropout
ends 0.08 lower than the baseline, and every seed agrees" off the chart, not off the
curves. A lesson about the losses Keras prints gets those instead: the held-out losses
with the penalty, and the training loss as fit prints it and in inference mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import altair as alt

from core import metrics
from core.charts.palette import GREY, Palette
from core.charts.theme import INK, SCREEN, Theme, filled
from core.metrics import History, Margin

Rows = list[dict[str, Any]]
SPLITS = ("validation", "test")
# The measure each kind of claim is about: the data loss, its gap, or the losses as Keras
# reports them (printed training loss against held-out loss).
# A lesson claiming a narrower gap and a higher loss is about the loss: its chart shows that.
MEASURE = {"overfits": "loss", "beats": "loss", "any_beats": "loss", "worse": "loss",
           "narrower": "gap", "shrinks": "gap", "printed_above": "printed",
           "measured_below": "printed"}  # fmt: skip
# Titles short enough for half a projector's width, each with its legend: what the symbols
# are and what the x axis measures.
TITLES = {
    "loss": ("Final data loss  ● val  ■ test  ○ best val", [], "final data loss"),
    "gap": ("Final gap  ● val  ■ test", [], "held-out − training data loss"),
    "printed": ("Final loss  ▲ fit  △ inference  ● val  ■ test",
                ["as Keras reports it: ▲ the training loss fit prints, △ in inference mode"],
                "final loss, penalty included"),
}  # fmt: skip
# Under the title of a chart of the data loss while the curves show what Keras prints.
JUDGED = "the data loss the claims judge, not the loss fit prints"
# Two short lines: one long line ran past the edge of a chart half a projector wide.
WAITING = "Each variant's dots appear\nonce it has trained every epoch"
# Beside a row of the printed chart, which training loss each claim is about.
MARKS = {"printed_above": "▲ ", "measured_below": "△ "}
# Where each kind of point sits in its variant's row, and its shape.
ROWS = {"validation": "circle", "test": "square", "train": "triangle-up"}


class Checked(Protocol):
    """A claim (core.lessons.Claim) with its verdicts (core.lessons.Verdict) per split."""

    kind: str
    subjects: tuple[str, ...]
    other: str

    def amount(self, margin: Margin) -> tuple[str, str]: ...


def measure_of(kinds: Iterable[str]) -> str:
    """The data loss, unless a lesson claims only something about gaps, or only about the
    losses as Keras prints them."""
    about = {MEASURE[k] for k in kinds if k in MEASURE}
    return about.pop() if len(about) == 1 and about != {"loss"} else "loss"


def effect_rows(histories: Mapping[str, Sequence[History]], measure: str = "loss") -> Rows:
    """Per variant and held-out split: the final value over seeds (mean, lowest, highest);
    for the loss, the best validation loss too; for the losses as Keras reports them, the
    training loss as fit prints it and as evaluated in inference mode."""
    rows = []
    for label, runs in histories.items():
        for split in SPLITS:
            if measure == "gap":
                values = [metrics.gap(h, split) for h in runs]
            elif measure == "printed":
                values = [metrics.evaluated(h[-1], split) for h in runs]
            else:
                values = [h[-1].get(metrics.key(split)) for h in runs]
            rows.append(_point(label, split, "final", values))
        if measure == "loss":
            best = [metrics.curve(h)[metrics.best_validation_epoch(h) - 1] for h in runs]
            rows.append(_point(label, "validation", "best", best))
        if measure == "printed":
            fit = [metrics.printed(h[-1])["loss"] for h in runs]
            rows.append(_point(label, "train", "final", fit))
            rows.append(_point(label, "train", "inference", [metrics.evaluated(h[-1], "train")
                                                             for h in runs]))  # fmt: skip
    return [r for r in rows if r["value"] is not None]


def _point(label: str, split: str, kind: str, values: list) -> dict:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return {"variant": label, "split": split, "kind": kind, "value": None}
    return {"variant": label, "split": split, "kind": kind, "value": metrics.mean(numbers),
            "low": min(numbers), "high": max(numbers), "seeds": len(numbers)}  # fmt: skip


def notes(checked: Sequence[tuple[Checked, str, Any]], measure: str) -> dict[str, str]:
    """variant -> what the claims about this measure say of it on validation · test, short
    enough to sit beside its row: "✓ 0.08 · 0.07 lower"; ✓ where the margin holds on both
    (core.metrics.Margin), a line per claim. `checked` holds (claim, split, verdict)."""
    said: dict[tuple[str, Checked], list[Margin]] = {}  # (variant, claim) -> by split
    for claim, _, verdict in sorted(checked, key=lambda c: SPLITS.index(c[1])):
        if MEASURE.get(claim.kind) == measure:
            for what, margin in verdict.margins.items():  # "shrinks" compares "b < a"
                said.setdefault((what.partition(" < ")[0], claim), []).append(margin)
    out: dict[str, list[str]] = {}
    for (label, claim), margins in said.items():
        mark = "✓" if all(m.holds for m in margins) else "✗"
        amounts = [claim.amount(m) for m in margins]
        ways = {way for _, way in amounts}
        if len(ways) == 1:
            sizes = " · ".join(number for number, _ in amounts) + f" {ways.pop()}"
        else:
            sizes = " · ".join(f"{number} {way}" for number, way in amounts)
        out.setdefault(label, []).append(f"{MARKS.get(claim.kind, '')}{mark} {sizes}")
    return {label: "\n".join(parts) for label, parts in out.items()}


def effect(
    rows: Rows,
    palette: Palette,
    theme: Theme = SCREEN,
    measure: str = "loss",
    reference: str | None = None,
    written: Mapping[str, str] | None = None,
    height: int = 300,
    view: str = "data",
) -> dict:
    """The dot chart: a row per variant, lowest final validation value on top; validation
    above test in each row (and the training losses under them, for the losses as Keras
    reports them); the reference variant's values as vertical lines (solid: validation,
    dashed: test); the claims' margins written at the right of each row. Beside curves
    drawn as Keras prints them (`view`), a chart of the data loss says so."""
    order = sorted({r["variant"] for r in rows},
                   key=lambda v: _final(rows, v, "validation"))  # fmt: skip
    data = [r | {"stressed": palette.stressed(r["variant"])} for r in rows]
    said = [{"variant": v, "note": note} for v, note in (written or {}).items() if v in order]
    values = [v for r in rows for v in (r["low"], r["high"])]
    low, high = min(values, default=0.0), max(values, default=1.0)
    pad = 0.08 * (high - low or abs(high) or 1.0)
    # The dots take what the longest margin leaves of the width (all of it with none).
    longest = max((len(line) for r in said for line in r["note"].split("\n")), default=0)
    room = round(longest * theme.notes * 0.55) + 24 if said else 0
    scale = alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False,
                      range=[0, {"expr": f"width - {room}"}])  # fmt: skip
    title, legend, x_title = TITLES[measure]
    axis = alt.Axis(title=x_title, tickCount=4)
    x = alt.X("value:Q", scale=scale, axis=axis)
    y = alt.Y("variant:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    splits = [s for s in ROWS if any(r["split"] == s for r in rows)]
    y_offset = alt.YOffset("split:N", scale=alt.Scale(domain=splits, paddingOuter=0.15))
    shape = alt.Shape(
        "split:N", legend=None, scale=alt.Scale(domain=list(ROWS), range=list(ROWS.values()))
    )
    colour = {"condition": {"test": "datum.stressed", "field": "variant", "type": "nominal",
                            "scale": palette.scale().to_dict(), "legend": None},
              "value": GREY}  # fmt: skip
    base = alt.Chart(alt.NamedData("effects")).encode(y=y, yOffset=y_offset)
    spread = (base.mark_rule(strokeWidth=theme.train_line)
              .encode(x=alt.X("low:Q", scale=scale, axis=axis), x2="high:Q", color=colour)
              .transform_filter("datum.kind == 'final' && datum.seeds > 1"))  # fmt: skip
    tooltip = [alt.Tooltip("variant:N"), alt.Tooltip("split:N"), alt.Tooltip("kind:N"),
               alt.Tooltip("value:Q", format=".4f"), alt.Tooltip("low:Q", format=".4f"),
               alt.Tooltip("high:Q", format=".4f"), alt.Tooltip("seeds:Q")]  # fmt: skip
    dots = (base.mark_point(filled=True, size=theme.point, opacity=1)
            .encode(x=x, color=colour, tooltip=tooltip, shape=shape)
            .transform_filter("datum.kind == 'final'"))  # fmt: skip
    # Hollow: the best validation loss, or the training loss measured in inference mode.
    rings = (base.mark_point(filled=False, size=theme.point, strokeWidth=2, opacity=1)
             .encode(x=x, color=colour, tooltip=tooltip, shape=shape)
             .transform_filter("datum.kind != 'final'"))  # fmt: skip
    text = (alt.Chart(alt.Data(values=said))
            .mark_text(align="left", baseline="middle", color=INK, limit=0, lineBreak="\n")
            .encode(y=y, text="note:N",
                    x=alt.value({"expr": f"width - {room} + 12"})))  # fmt: skip
    layers = [spread, dots, rings, text]  # a hollow mark stays visible over a filled one
    if not rows:  # while the first runs train: an empty frame would look like a failure
        layers.append(alt.Chart(alt.Data(values=[{"note": WAITING}]))
                      .mark_text(fontSize=theme.ticks, color=INK, lineBreak="\n")
                      .encode(text="note:N", x=alt.value({"expr": "width / 2"}),
                              y=alt.value({"expr": "height / 2"})))  # fmt: skip
    line = [r for r in rows if r["variant"] == reference and r["kind"] == "final"
            and r["split"] in SPLITS]  # fmt: skip
    if line:
        layers.insert(0, alt.Chart(alt.Data(values=line)).mark_rule(color="#777", strokeWidth=2)
                      .encode(x=alt.X("value:Q", scale=scale),
                              strokeDash=alt.StrokeDash("split:N", legend=None, scale=alt.Scale(
                                  domain=list(SPLITS), range=[[1, 0], [5, 4]]))))  # fmt: skip
    about = [f"lines: {reference}"] if line else []
    if said:
        about = [" · ".join([*about, "beside: validation · test"]), _rule(rows)]
    judged = [JUDGED] if view == "keras" and measure != "printed" else []
    head = alt.Title(
        title,
        anchor="start",
        fontSize=theme.heading,
        subtitleFontSize=theme.ticks - 3,
        subtitle=[*judged, *legend, *about],
    )
    chart = alt.layer(*layers).properties(height=height, width="container", title=head)
    return filled(chart, theme, effects=data)


def _rule(rows: Rows) -> str:
    """What a ✓ means: on one seed only the direction, which noise can decide."""
    if min((r.get("seeds", 1) for r in rows), default=1) > 1:
        return "✓ every seed agrees, by more than their spread"
    return "✓ on this one seed only: add seeds to check it against their spread"


def _final(rows: Rows, variant: str, split: str) -> float:
    return next((r["value"] for r in rows if r["variant"] == variant and r["split"] == split
                 and r["kind"] == "final"), float("inf"))  # fmt: skip
