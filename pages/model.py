"""Model: each variant's network — Keras's own summary, its size, and the code that builds
and trains it, ready to paste into a notebook."""

import streamlit as st

from core import datasets
from core.codegen import keras_code
from core.datasets import DatasetError
from core.spec import SpecError
from ui import app, model_view
from ui.engine import ensure_prepared

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
    "The networks of this comparison, as Keras builds them. Summaries come from a training "
    "worker, so this page never loads TensorFlow into the web server. The code loads the "
    "data itself, with exactly this app's preprocessing, and runs in a fresh notebook."
)
described = model_view.summaries(labelled)
model_view.table(labelled, described)
for (label, spec), one in zip(labelled, described, strict=True):
    with st.expander(f"{label}: {one['params']:,} parameters" if one else label,
                     expanded=len(labelled) == 1):  # fmt: skip
        code, summary = st.tabs(["Keras code", "model.summary()"])
        code.code(keras_code(spec, info), language="python")
        if one:
            summary.code(one["summary"], language=None)
