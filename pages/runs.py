"""Runs: everything in the cache — filter, export the histories, delete."""

import streamlit as st

from core.cache import RunStore
from core.report import count, run_row
from ui import app, render, runs_view

app.comparison()  # through the entry script: the sidebar, even here
store = RunStore()
st.title("Runs")
runs = store.list()
for notice in store.notices:
    st.info(notice)
if "runs_error" in st.session_state:
    st.error(st.session_state.pop("runs_error"))
st.caption(
    f"{count(len(runs), 'run')} in {store.root}. Each is a plain JSON file named by its content: "
    "the spec, the exact data and the cache schema."
)
if not runs:
    st.info("Nothing cached yet: run a comparison first.")
    st.stop()

by_key = {run.key: run for run in runs}
shown = runs_view.filtered([run_row(run) for run in runs])
selected = runs_view.picked(shown)
export = selected or [row["key"] for row in shown]
st.download_button(
    f"Export {'selected' if selected else 'shown'} ({len(export)}) as CSV",
    render.histories_csv([(run_row(by_key[k])["variant"], by_key[k]) for k in export]),
    file_name="runs.csv",
    mime="text/csv",
    key="runs_export",
)
runs_view.delete_flow(store, selected, by_key)
