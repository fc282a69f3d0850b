"""Model: each variant's network — Keras's own summary, its size, and the code to build it."""

from __future__ import annotations

import streamlit as st

from core import datasets
from core.codegen import keras_code
from core.datasets import DatasetError
from core.spec import SpecError
from ui import app
from ui.engine import engine, ensure_prepared

comparison = app.comparison()
st.title("Model")
try:
    labelled = [(label, spec) for label, spec in comparison.labelled_specs() if spec.seed == 0]
    ensure_prepared(comparison.dataset_name)
    info = datasets.info(comparison.dataset_name)
except (DatasetError, SpecError) as exc:
    st.error(str(exc))
    st.stop()

st.caption(
    "The networks of this comparison, as Keras builds them. Summaries come from a "
    "training worker, so this page never loads TensorFlow into the web server."
)


@st.cache_data(show_spinner=False, max_entries=256)
def summaries(spec_jsons: tuple[str, ...]) -> list[dict]:
    from core.spec import ExperimentSpec

    return engine().describe([ExperimentSpec.from_json(s) for s in spec_jsons])


try:
    with st.spinner("Building the models on a worker…"):
        described = summaries(tuple(spec.to_json() for _, spec in labelled))
except Exception as exc:  # shown, not raised: the page must not die with the worker
    st.error(f"Could not build the models: {exc}")
    described = [None] * len(labelled)

st.dataframe(
    [
        {
            "variant": label,
            "parameters": d["params"] if d else None,
            # Text columns: a column mixing numbers and "off" cannot go to Arrow as is.
            "L2": f"{spec.l2:g}" if spec.l2 else "off",
            "Dropout": f"{spec.dropout:g}" if spec.dropout else "off",
            "BatchNorm": "on" if spec.batchnorm else "off",
            "augmentation": spec.augment,
        }
        for (label, spec), d in zip(labelled, described, strict=True)
    ],
    hide_index=True,
)

for (label, spec), described_one in zip(labelled, described, strict=True):
    with st.expander(
        f"{label}: {described_one['params']:,} parameters" if described_one else label,
        expanded=len(labelled) == 1,
    ):
        code, summary = st.tabs(["Keras code", "model.summary()"])
        code.code(keras_code(spec, info), language="python")
        if described_one:
            summary.code(described_one["summary"], language=None)
