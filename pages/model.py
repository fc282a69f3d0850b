"""Model: each variant's network — Keras's own summary, its size, and the code that builds
and trains it, ready to paste into a notebook."""

import streamlit as st

from core import datasets, models
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
    shapes = [models.shapes(spec, info) for _, spec in labelled]
except (DatasetError, SpecError) as exc:
    st.error(str(exc))
    st.stop()
st.caption(
    "The networks of this comparison, as Keras builds them: the summary is model.summary() "
    "worked out from the same list of layers the training worker builds (a test checks "
    "both agree), so this page opens at once, even while the workers are busy. The code "
    "loads the data itself, with exactly this app's preprocessing, and runs in a fresh "
    "notebook."
)
model_view.table(labelled, shapes)
for (label, spec), layers in zip(labelled, shapes, strict=True):
    params = sum(layer.params for layer in layers)
    with st.expander(f"{label}: {params:,} parameters", expanded=len(labelled) == 1):
        code, summary = st.tabs(["Keras code", "model.summary()"])
        code.code(keras_code(spec, info), language="python")
        summary.code(models.summary(spec, info), language=None)
