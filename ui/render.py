"""Drawing a comparison: the headline, small multiples, pictures of what each network
computes, weights, the summary, downloads. Shared by the live and the cached views, so a
finished comparison looks exactly like the one that grew.

Nothing here needs pandas: chart data goes to the browser inline in the Vega-Lite spec,
tables as Markdown. A cached comparison opened in a fresh process shows up faster.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st

from core import charts, metrics, report
from core.cache import Run

PANELS_PER_ROW = 4
PICTURES_PER_ROW = 3  # at least ~280 pixels each on a projector's 1280
HEADLINE = 370  # pixels, title and legend included: what a 720-pixel screen has left
ROW_WIDTH = 1150  # pixels a row of panels fills in an exported figure


@dataclass(frozen=True)
class Curve:
    """One run's records so far: finished (from the cache) or growing (from a worker)."""

    label: str
    seed: int
    records: Sequence[dict]


@dataclass(frozen=True)
class Look:
    """How a comparison is drawn: colours and what they stress, type sizes, the loss axis
    ("linear"/"log") and which losses ("data", or "keras": as Keras's fit prints them)."""

    palette: charts.Palette
    theme: charts.Theme = charts.SCREEN
    scale: str = "linear"
    view: str = "data"


@dataclass(frozen=True)
class Claims:
    """What the first screen says about the runs: the claims' kinds (they decide whether
    the effect chart shows losses or gaps), what the variants are compared with, and the
    margins as written beside each row (variant -> text)."""

    kinds: tuple[str, ...] = ()
    reference: str | None = None
    written: dict[str, str] = field(default_factory=dict)


def tidy(curves: Sequence[Curve], view: str = "data") -> list[dict]:
    """The points the curves draw; in the "keras" view, the loss and val_loss Keras's fit
    prints (core.metrics.printed) instead of the data losses."""
    if view == "keras":
        curves = [Curve(c.label, c.seed, [r | metrics.printed(r) for r in c.records])
                  for c in curves]  # fmt: skip
    return report.tidy([(c.label, c.seed, c.records) for c in curves])


def figures(
    curves: Sequence[Curve], look: Look, claims: Claims = Claims(), epochs: int | None = None,
    panels: bool = True, weights: Sequence[tuple[str, dict]] = (),
) -> dict:  # fmt: skip
    """Every chart of a comparison as Vega-Lite dicts, plus the records they draw (for the
    exports). Pure: a finished comparison's figures can be cached and shared. `epochs`
    fixes the epoch axis while runs are still training; the live view skips the panels.
    The effect chart draws what the claims judge, whatever the view: the data loss (or
    gap), or the losses as Keras reports them for a lesson about those."""
    rows = tidy(curves, look.view)
    classification = any(r["metric"] == "accuracy" for r in rows)
    measure = charts.measure_of(claims.kinds)
    p, t = look.palette, look.theme
    return {
        "rows": rows,
        "overlay": charts.overlay(
            rows, p, t, look.scale, epochs, HEADLINE, charts.HEADINGS[look.view]
        ),  # fmt: skip
        "effect": charts.effect(
            charts.effect_rows(histories(finished(curves, epochs)), measure),
            p,
            t,
            measure,
            claims.reference,
            claims.written,
            HEADLINE,
            look.view,
        ),  # fmt: skip
        "gap": charts.gap(rows, p, t, epochs),
        "loss": charts.panels(rows, "loss", p, t, epochs, look.scale) if panels else None,
        "accuracy": (
            charts.panels(rows, "accuracy", p, t, epochs) if classification and panels else None
        ),  # fmt: skip
        "penalty": charts.penalty(rows, p, t, epochs),
        "norms": charts.norms(norm_rows(curves), p, t, epochs),
        "histograms": charts.histograms(weights, p, t) if weights else [],
    }


def finished(curves: Sequence[Curve], epochs: int | None) -> list[Curve]:
    """The runs that trained every epoch: a final loss compares only these (a run cut at
    epoch 40 of 300 would rank as if it had ended there)."""
    if epochs is None:
        return list(curves)
    return [c for c in curves if c.records and c.records[-1].get("epoch", 0) >= epochs]


def histories(curves: Sequence[Curve]) -> dict[str, list]:
    """Each label's records, one list per seed in seed order."""
    out: dict[str, list] = {}
    for c in sorted(curves, key=lambda c: c.seed):
        out.setdefault(c.label, []).append(c.records)
    return out


def norm_rows(curves: Sequence[Curve]) -> list[dict]:
    """Total kernel norm per variant and epoch, mean over seeds."""
    sums: dict[tuple, list[float]] = {}
    for c in curves:
        for r in c.records:
            if r.get("norms"):
                total = math.sqrt(sum(n * n for n in r["norms"]))
                sums.setdefault((c.label, r["epoch"]), []).append(total)
    return [{"variant": v, "epoch": e, "norm": sum(x) / len(x)} for (v, e), x in sums.items()]


# What describes a view (and moves into the nested layer) as opposed to the whole figure.
VIEW_KEYS = ("data", "mark", "encoding", "transform", "layer", "params")


def draw(spec: dict, key: str | None = None, where=st) -> None:
    """Hand a Vega-Lite dict to Streamlit with its data one layer down. Streamlit converts
    top-level chart data to Arrow through pandas (and pyarrow imports pandas too), half a
    second of imports in a fresh process; data nested in a layer reaches Vega untouched."""
    data = spec.get("data")
    if data is not None and "values" in data:
        outer = {k: v for k, v in spec.items() if k not in VIEW_KEYS}
        spec = outer | {"layer": [{k: v for k, v in spec.items() if k in VIEW_KEYS}]}
    where.vega_lite_chart(spec, key=key)


def headline(figs: dict, about: dict, key: str) -> None:
    """Above the fold, side by side in two equal halves of the screen: every variant's
    validation (and dashed training) loss on one axis, and how big the effect is."""
    left, right = st.columns(2, gap="small")
    for column, name, what in ((left, "overlay", "loss"), (right, "effect", "final loss")):
        with column:
            draw(figs[name], key=f"{key}-{name}")
            downloads(lambda n=name, w=what: charts.titled(figs[n], *_titles(about, w)),
                      about, what.replace(" ", "-"), f"{key}-{name}")  # fmt: skip


def small_multiples(figs: dict, about: dict, key: str) -> None:
    """The gap over the epochs, then a panel per variant in columns (Streamlit cannot size
    one faceted chart); each download is the same panels in one titled figure."""
    st.subheader("Generalization gap: validation minus training loss")
    draw(figs["gap"], key=f"{key}-gap")
    downloads(lambda: charts.titled(figs["gap"], *_titles(about, "generalization gap")),
              about, "gap", f"{key}-gap")  # fmt: skip
    for metric, title in (("loss", "Loss per variant"), ("accuracy", "Accuracy per variant")):
        panels = figs[metric]
        if panels is None:
            continue
        st.subheader(title)
        st.markdown(f"`{charts.LINES}`")
        grid(panels, PANELS_PER_ROW, f"{key}-{metric}")
        columns = min(PANELS_PER_ROW, len(panels))
        downloads(lambda p=panels, m=metric, c=columns: charts.grid(
            p, c, ROW_WIDTH // c - 70, *_titles(about, m)), about, metric,
            f"{key}-{metric}")  # fmt: skip


def pictures(
    panels: Sequence[dict], about: dict, what: str, key: str, lead: dict | None = None
) -> None:
    """Boundary or fitted-curve pictures, one per variant, after the `lead` chart (the loss
    marked at their epoch), and their download (the pictures alone)."""
    grid(([lead] if lead else []) + list(panels), PICTURES_PER_ROW, key)
    columns = min(PICTURES_PER_ROW, len(panels))
    downloads(lambda: charts.grid(panels, columns, charts.PICTURE, *_titles(about, what)),
              about, what.replace(" ", "-"), key)  # fmt: skip


def grid(panels: Sequence[dict], per_row: int, key: str) -> None:
    per_row = min(per_row, len(panels))
    for start in range(0, len(panels), per_row):
        for i, (column, panel) in enumerate(
            zip(st.columns(per_row), panels[start : start + per_row], strict=False)
        ):
            draw(panel, key=f"{key}-{start + i}", where=column)


def _titles(about: dict, what: str) -> tuple[str, str]:
    return f"{about['title']}: {what}", about["subtitle"]


def downloads(figure, about: dict, what: str, key: str) -> None:
    """PNG and SVG of the Vega-Lite dict `figure()`, built and rendered only when clicked,
    named for what they show."""
    row = st.container(horizontal=True)
    for kind, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
        row.download_button(
            kind.upper(),
            data=lambda kind=kind: export(figure(), kind),
            file_name=f"{about['file']}-{what}.{kind}",
            mime=mime,
            key=f"{key}-{kind}",
            on_click="ignore",
            type="tertiary",
        )


def export(spec: dict, kind: str):
    import json

    import vl_convert

    text = json.dumps(spec)
    if kind == "png":
        return vl_convert.vegalite_to_png(text, scale=2)
    return vl_convert.vegalite_to_svg(text)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "comparison"


def summary_section(entries: Sequence[tuple[str, Run, bool]], classes: int) -> None:
    st.subheader("Summary")
    st.markdown(report.markdown_table(report.summary_table(entries)))
    caption = (
        "Best of each column in bold. Gap: final validation minus final training data loss "
        "(the one nearest zero in bold). "
        "Test scores are the final weights on the held-out test split, never used for "
        "choosing anything."
    )
    if any(run.spec.patience for _, run, _ in entries):
        caption += (
            " Stopped at: where Keras's EarlyStopping(patience, restore_best_weights=True) "
            "would have stopped; restored test: the weights it would have kept."
        )
    st.caption(caption)
    seen = set()
    for label, run, _ in entries:
        note = report.surprise(label, run, classes)
        if note and label not in seen:
            seen.add(label)
            st.warning(note, icon=":material/help:")


def histories_csv(entries: Sequence[tuple[str, Run]]) -> bytes:
    """Every epoch record of the given runs, one row each, with what identifies the run.
    Probe snapshots and norms stay in the JSON export: they are not columns."""
    rows = [
        {"variant": label, "key": run.key, **run.spec.to_dict(),
         **{k: v for k, v in record.items() if k not in ("probe", "norms")}}
        for label, run in entries
        for record in run.history
    ]  # fmt: skip
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue().encode()
