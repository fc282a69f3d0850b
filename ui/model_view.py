"""The Model page's pieces: Keras's summaries, computed on a worker, and the table of
variants."""

from __future__ import annotations

import streamlit as st

from core.spec import ExperimentSpec
from ui.engine import engine


@st.cache_data(show_spinner=False, max_entries=256)
def _described(spec_jsons: tuple[str, ...]) -> list[dict]:
    return engine().describe([ExperimentSpec.from_json(s) for s in spec_jsons])


def summaries(labelled: list[tuple[str, ExperimentSpec]]) -> list[dict | None]:
    try:
        with st.spinner("Building the models on a worker…"):
            return _described(tuple(spec.to_json() for _, spec in labelled))
    except Exception as exc:  # shown, not raised: the page must not die with the worker
        st.error(f"Could not build the models: {exc}")
        return [None] * len(labelled)


def table(labelled: list[tuple[str, ExperimentSpec]], described: list[dict | None]) -> None:
    def switch(value, text: str) -> str:
        # Text columns: a column mixing numbers and "off" cannot go to Arrow as is.
        return text if value else "off"

    st.dataframe(
        [
            {
                "variant": label,
                "parameters": d["params"] if d else None,
                "capacity": spec.capacity,
                "L1": switch(spec.l1, f"{spec.l1:g}"),
                "L2": switch(spec.l2, f"{spec.l2:g}"),
                "Dropout": switch(spec.dropout, f"{spec.dropout:g}"),
                "BatchNorm": switch(spec.batchnorm, "on"),
                "augmentation": spec.augment,
            }
            for (label, spec), d in zip(labelled, described, strict=True)
        ],
        hide_index=True,
    )
