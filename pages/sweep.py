"""Sweep: one knob over several values, every value a branch of one fused training; the
validation curve (or learning curve) beside the loss over the epochs."""

import streamlit as st

from ui import app, live

if not app.comparison().is_sweep():
    st.title("Sweep")
    st.info("Choose a knob to sweep in the sidebar, or a sweep lesson.")
    st.stop()
live.page()
