"""Drawing a comparison: charts, the summary table, downloads. Shared by the live and the
cached views, so a finished comparison looks exactly like the one that grew."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core import charts, report
from core.cache import Run

PANELS_PER_ROW = 4


def curves_section(
    entries: Sequence[tuple[str, int, Sequence[dict]]], labels: Sequence[str], key: str
) -> None:
    """Loss and accuracy small multiples, the gap chart and the penalty chart."""
    tidy = report.tidy(entries)
    if tidy.empty:
        st.info("The first epoch is on its way…")
        return
    _small_multiples(tidy, "loss", labels, "Loss", f"{key}-loss")
    st.caption(charts.TRAIN_NOTE)
    if (tidy.metric == "accuracy").any():  # classification: the records carry accuracy
        _small_multiples(tidy, "accuracy", labels, "Accuracy", f"{key}-acc")
    left, right = st.columns(2)
    with left:
        _chart(charts.gap(tidy, labels), "Generalization gap", f"{key}-gap")
        st.caption("Validation minus training data loss: overfitting is this gap growing.")
    penalty = charts.penalty(tidy, labels)
    if penalty is not None:
        with right:
            _chart(penalty, "L2 penalty", f"{key}-penalty")
            st.caption(
                "Keras adds this to the loss it minimises (and reports); the curves "
                "above leave it out so variants compare on the same data loss."
            )


def _small_multiples(tidy, metric: str, labels: Sequence[str], title: str, key: str) -> None:
    """A panel per variant in columns (Streamlit cannot size one faceted chart); the
    download is the same figure in one piece."""
    st.subheader(title)
    st.markdown(f"`{charts.LINES}`")
    panels = charts.panels(tidy, metric, labels)
    per_row = min(PANELS_PER_ROW, len(panels))
    for start in range(0, len(panels), per_row):
        row = panels[start : start + per_row]
        for i, (column, panel) in enumerate(zip(st.columns(per_row), row, strict=False)):
            column.altair_chart(panel, key=f"{key}-{start + i}")
    _downloads(charts.curves(tidy, metric, labels, per_row), title, key)


def _chart(chart, title: str, key: str) -> None:
    st.subheader(title)
    st.altair_chart(chart, key=key)
    _downloads(chart, title, key)


def _downloads(chart, title: str, key: str) -> None:
    """PNG and SVG, rendered only when clicked."""
    spec = chart.to_json()
    row = st.container(horizontal=True)
    name = title.lower().replace(" ", "-")
    row.download_button(
        "PNG",
        data=lambda: _png(spec),
        file_name=f"{name}.png",
        mime="image/png",
        key=f"{key}-png",
        on_click="ignore",
    )
    row.download_button(
        "SVG",
        data=lambda: _svg(spec),
        file_name=f"{name}.svg",
        mime="image/svg+xml",
        key=f"{key}-svg",
        on_click="ignore",
    )


def _png(spec: str) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=2)


def _svg(spec: str) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(spec)


def summary_section(entries: Sequence[tuple[str, Run, bool]]) -> None:
    table = pd.DataFrame(report.summary_table(entries))
    st.subheader("Summary")
    number = st.column_config.NumberColumn
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "final val loss": number(format="%.4f"),
            "best val loss": number(format="%.4f"),
            "final val acc": number(format="%.3f"),
            "best val acc": number(format="%.3f"),
            "test loss": number(format="%.4f"),
            "test acc": number(format="%.3f"),
            "gap": number(format="%.4f"),
            "s/epoch": number(format="%.4f"),
            "params": number(format="localized"),
        },
    )
    st.caption(
        "Gap: final validation minus final training data loss. Test scores are the "
        "final model on the held-out test split, never used for choosing anything."
    )


def histories_csv(entries: Sequence[tuple[str, Run]]) -> bytes:
    """Every epoch record of the given runs, one row each, with what identifies the run."""
    rows = []
    for label, run in entries:
        spec = run.spec.to_dict()
        for record in run.history:
            rows.append({"variant": label, "key": run.key, **spec, **record})
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    return buffer.getvalue().encode()
