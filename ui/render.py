"""Drawing a comparison: charts, the summary table, downloads. Shared by the live and the
cached views, so a finished comparison looks exactly like the one that grew.

Nothing here needs pandas: chart data goes to the browser inline in the Vega-Lite spec,
tables as Markdown. A cached comparison opened in a fresh process shows up faster.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import streamlit as st

from core import charts, report
from core.cache import Run

PANELS_PER_ROW = 4


def figures(
    entries: Sequence[tuple[str, int, Sequence[dict]]],
    labels: Sequence[str],
    epochs: int | None = None,
) -> dict:
    """Every chart of a comparison as Vega-Lite dicts, plus the records they draw (for the
    exports). Pure: a finished comparison's figures can be cached and shared. `epochs`
    fixes the epoch axis while runs are still training."""
    rows = report.tidy(entries)
    penalty = charts.penalty(rows, labels, epochs=epochs)
    classification = any(r["metric"] == "accuracy" for r in rows)
    return {
        "rows": rows,
        "labels": list(labels),
        "epochs": epochs,
        "loss": charts.panels(rows, "loss", labels, epochs=epochs),
        "accuracy": (
            charts.panels(rows, "accuracy", labels, epochs=epochs) if classification else None
        ),
        "gap": charts.spec(charts.gap(rows, labels, epochs=epochs)),
        "penalty": charts.spec(penalty) if penalty is not None else None,
    }


def curves_section(figs: dict, key: str) -> None:
    """Loss and accuracy small multiples, the gap chart and the penalty chart."""
    if not figs["rows"]:
        st.info("The first epoch is on its way…")
        return
    _small_multiples(figs, "loss", "Loss", f"{key}-loss")
    st.caption(charts.TRAIN_NOTE)
    if figs["accuracy"] is not None:
        _small_multiples(figs, "accuracy", "Accuracy", f"{key}-acc")
    left, right = st.columns(2)
    with left:
        _chart(figs["gap"], "Generalization gap", f"{key}-gap")
        st.caption("Validation minus training data loss: overfitting is this gap growing.")
    if figs["penalty"] is not None:
        with right:
            _chart(figs["penalty"], "L2 penalty", f"{key}-penalty")
            st.caption(
                "Keras adds this to the loss it minimises (and reports); the curves "
                "above leave it out so variants compare on the same data loss."
            )


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


def _small_multiples(figs: dict, metric: str, title: str, key: str) -> None:
    """A panel per variant in columns (Streamlit cannot size one faceted chart); the
    download is the same figure in one piece."""
    st.subheader(title)
    st.markdown(f"`{charts.LINES}`")
    panels = figs[metric]
    per_row = min(PANELS_PER_ROW, len(panels))
    for start in range(0, len(panels), per_row):
        row = panels[start : start + per_row]
        for i, (column, panel) in enumerate(zip(st.columns(per_row), row, strict=False)):
            draw(panel, key=f"{key}-{start + i}", where=column)
    _downloads(
        lambda: charts.spec(
            charts.curves(figs["rows"], metric, figs["labels"], per_row, epochs=figs["epochs"])
        ),
        title,
        key,
    )


def _chart(spec: dict, title: str, key: str) -> None:
    st.subheader(title)
    draw(spec, key=key)
    _downloads(lambda: spec, title, key)


def _downloads(figure, title: str, key: str) -> None:
    """PNG and SVG of the Vega-Lite dict `figure()`, built and rendered only when clicked."""
    row = st.container(horizontal=True)
    name = title.lower().replace(" ", "-")
    for kind, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
        row.download_button(
            kind.upper(),
            data=lambda kind=kind: _export(figure(), kind),
            file_name=f"{name}.{kind}",
            mime=mime,
            key=f"{key}-{kind}",
            on_click="ignore",
        )


def _export(spec: dict, kind: str):
    import json

    import vl_convert

    text = json.dumps(spec)
    if kind == "png":
        return vl_convert.vegalite_to_png(text, scale=2)
    return vl_convert.vegalite_to_svg(text)


def summary_section(entries: Sequence[tuple[str, Run, bool]]) -> None:
    st.subheader("Summary")
    st.markdown(report.markdown_table(report.summary_table(entries)))
    st.caption(
        "Best of each column in bold. Gap: final validation minus final training data "
        "loss. Test scores are the final model on the held-out test split, never used "
        "for choosing anything."
    )


def histories_csv(entries: Sequence[tuple[str, Run]]) -> bytes:
    """Every epoch record of the given runs, one row each, with what identifies the run."""
    rows = [
        {"variant": label, "key": run.key, **run.spec.to_dict(), **record}
        for label, run in entries
        for record in run.history
    ]
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue().encode()
