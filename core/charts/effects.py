"""How big the effect is: each variant's final validation and test loss (or gap) as a dot
with the range of its seeds, the best validation loss as a ring, the reference variant's
value as a line, sorted, and beside each row the margin its claim holds by
(core.metrics.Margin: "by 0.08 (seeds spread 0.01)"). A class reads "Dropout ends 0.08
lower than the baseline, and every seed agrees" off the chart, not off the curves.
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
# The measure each kind of claim is about.
MEASURE = {"overfits": "loss", "beats": "loss", "any_beats": "loss", "narrower": "gap",
           "shrinks": "gap"}  # fmt: skip
# Short enough for half a projector's width (the legend is the title: no room for both).
TITLES = {"loss": "Final loss  ● val  ■ test  ○ best val",
          "gap": "Final gap (held-out − train)  ● val  ■ test"}  # fmt: skip


class Checked(Protocol):
    """A claim (core.lessons.Claim) with its verdicts (core.lessons.Verdict) per split."""

    kind: str
    subjects: tuple[str, ...]
    other: str


def measure_of(kinds: Iterable[str]) -> str:
    """The loss, unless a lesson claims only something about gaps."""
    about = {MEASURE[k] for k in kinds if k in MEASURE}
    return "gap" if about == {"gap"} else "loss"


def effect_rows(histories: Mapping[str, Sequence[History]], measure: str = "loss") -> Rows:
    """Per variant and held-out split: the final value over seeds (mean, lowest, highest),
    and for the loss the best validation loss too."""
    rows = []
    for label, runs in histories.items():
        for split in SPLITS:
            if measure == "gap":
                values = [metrics.gap(h, split) for h in runs]
            else:
                values = [h[-1].get(metrics.key(split)) for h in runs]
            rows.append(_point(label, split, "final", values))
        if measure == "loss":
            best = [metrics.curve(h)[metrics.best_validation_epoch(h) - 1] for h in runs]
            rows.append(_point(label, "validation", "best", best))
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
    (core.metrics.Margin). `checked` holds (claim, split, verdict)."""
    said: dict[tuple[str, str], list[Margin]] = {}  # (variant, claim kind) -> by split
    for claim, _, verdict in sorted(checked, key=lambda c: SPLITS.index(c[1])):
        if MEASURE.get(claim.kind) == measure:
            for what, margin in verdict.margins.items():  # "shrinks" compares "b < a"
                said.setdefault((what.partition(" < ")[0], claim.kind), []).append(margin)
    out: dict[str, list[str]] = {}
    for (label, kind), margins in said.items():
        mark = "✓" if all(m.holds for m in margins) else "✗"
        out.setdefault(label, []).append(f"{mark} {_sizes(kind, margins)}")
    return {label: " · ".join(parts) for label, parts in out.items()}


def _sizes(kind: str, margins: list[Margin]) -> str:
    """The margins' sizes in words, one per split, negative where a split goes the other
    way. "overfits" clears a bar on every seed, so its worst seed is the size."""
    if kind == "overfits":
        rises = [metrics.RISE + min(m.differences) - 1 for m in margins]
        return "rose " + " · ".join(f"{r:.0%}" if abs(r) >= 0.2 else f"{r:.1%}" for r in rises)
    word = "narrower" if kind in ("narrower", "shrinks") else "lower"
    return " · ".join(_number(m.difference) for m in margins) + f" {word}"


def size(margin: Margin, holds: str, fails: str) -> str:
    """A margin in words: "0.08 lower (spread 0.01)"; "0.02 higher" the other way. The
    spread between seeds is left out with one seed."""
    d = margin.difference
    spread = f" (spread {_number(margin.noise)})" if margin.noise else ""
    return f"{_number(abs(d))} {holds if d > 0 else fails}{spread}"


def _number(x: float) -> str:
    return (f"{x:.2f}" if abs(x) >= 0.01 else f"{x:.1g}").replace("-", "−")


def effect(
    rows: Rows,
    palette: Palette,
    theme: Theme = SCREEN,
    measure: str = "loss",
    reference: str | None = None,
    written: Mapping[str, str] | None = None,
    height: int = 300,
) -> dict:
    """The dot chart: a row per variant, lowest final validation value on top; validation
    above test in each row; the reference variant's values as vertical lines (solid:
    validation, dashed: test); the claims' margins written at the right of each row."""
    order = sorted({r["variant"] for r in rows},
                   key=lambda v: _final(rows, v, "validation"))  # fmt: skip
    data = [r | {"stressed": palette.stressed(r["variant"])} for r in rows]
    said = [{"variant": v, "note": note} for v, note in (written or {}).items() if v in order]
    values = [v for r in rows for v in (r["low"], r["high"])]
    low, high = min(values, default=0.0), max(values, default=1.0)
    pad = 0.08 * (high - low or abs(high) or 1.0)
    # The dots take what the longest margin leaves of the width (all of it with none).
    longest = max((len(r["note"]) for r in said), default=0)
    room = round(longest * theme.notes * 0.55) + 24 if said else 0
    scale = alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False,
                      range=[0, {"expr": f"width - {room}"}])  # fmt: skip
    axis = alt.Axis(title=f"final {measure}", tickCount=4)
    x = alt.X("value:Q", scale=scale, axis=axis)
    y = alt.Y("variant:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    y_offset = alt.YOffset("split:N", scale=alt.Scale(domain=list(SPLITS), paddingOuter=0.15))
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
            .encode(x=x, color=colour, tooltip=tooltip,
                    shape=alt.Shape("split:N", legend=None, scale=alt.Scale(
                        domain=list(SPLITS), range=["circle", "square"])))
            .transform_filter("datum.kind == 'final'"))  # fmt: skip
    rings = (base.mark_point(filled=False, size=theme.point, strokeWidth=2, opacity=1)
             .encode(x=x, color=colour, tooltip=tooltip)
             .transform_filter("datum.kind == 'best'"))  # fmt: skip
    text = (alt.Chart(alt.Data(values=said))
            .mark_text(align="left", baseline="middle", color=INK, limit=0)
            .encode(y=y, text="note:N",
                    x=alt.value({"expr": f"width - {room} + 12"})))  # fmt: skip
    layers = [spread, rings, dots, text]
    line = [r for r in rows if r["variant"] == reference and r["kind"] == "final"]
    if line:
        layers.insert(0, alt.Chart(alt.Data(values=line)).mark_rule(color="#777", strokeWidth=2)
                      .encode(x=alt.X("value:Q", scale=scale),
                              strokeDash=alt.StrokeDash("split:N", legend=None, scale=alt.Scale(
                                  domain=list(SPLITS), range=[[1, 0], [5, 4]]))))  # fmt: skip
    about = [f"lines: {reference}"] if line else []
    if said:
        about = [" · ".join([*about, "beside: validation · test"]),
                 "✓ every seed agrees, by more than their spread"]  # fmt: skip
    title = alt.Title(TITLES[measure], anchor="start", fontSize=theme.heading,
                      subtitleFontSize=theme.ticks - 3, subtitle=about)  # fmt: skip
    chart = alt.layer(*layers).properties(height=height, width="container", title=title)
    return filled(chart, theme, effects=data)


def _final(rows: Rows, variant: str, split: str) -> float:
    return next((r["value"] for r in rows if r["variant"] == variant and r["split"] == split
                 and r["kind"] == "final"), float("inf"))  # fmt: skip
