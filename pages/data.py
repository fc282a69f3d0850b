"""Data: what the network learns from — split sizes, class balance, examples, and what
augmentation does to the same examples."""

import streamlit as st

from core import datasets
from core.datasets import DatasetError
from core.spec import SpecError
from ui import app, data_view
from ui.engine import ensure_prepared

comparison = app.comparison()
try:
    entry = datasets.resolve(comparison.dataset_name)
    st.title(f"Data: {entry.title}")
    st.caption(entry.description)
    if entry.missing():
        st.warning(entry.missing())
        st.stop()
    base = comparison.base_spec()
    ensure_prepared(base.dataset)
    data = datasets.for_spec(base)
except (DatasetError, SpecError) as exc:
    st.error(str(exc))
    st.stop()
used = data.training(base.train_size, base.label_noise)
data_view.overview(data, used)
data_view.balance(data, used)
data_view.examples(used)

st.subheader("Augmentation preview")
data_view.augmentation_preview(base, used)
