"""The Model page's pieces: the table of variants and their sizes. Summaries and parameter
counts come from the layer list (core.models.shapes) in this process, so the page never
waits for a worker and never imports TensorFlow."""

from __future__ import annotations

import streamlit as st

from core.models import Shape
from core.spec import ExperimentSpec


def table(labelled: list[tuple[str, ExperimentSpec]], shapes: list[list[Shape]]) -> None:
    def switch(value, text: str) -> str:
        # Text columns: a column mixing numbers and "off" cannot go to Arrow as is.
        return text if value else "off"

    st.dataframe(
        [
            {
                "variant": label,
                "parameters": sum(layer.params for layer in layers),
                "capacity": spec.capacity,
                "L1": switch(spec.l1, f"{spec.l1:g}"),
                "L2": switch(spec.l2, f"{spec.l2:g}"),
                "Dropout": switch(spec.dropout, f"{spec.dropout:g}"),
                "BatchNorm": switch(spec.batchnorm, "on"),
                "augmentation": spec.augment,
            }
            for (label, spec), layers in zip(labelled, shapes, strict=True)
        ],
        hide_index=True,
    )
