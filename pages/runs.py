"""Runs: everything in the cache — filter, export the histories, delete."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.cache import CacheError, RunStore
from ui import app, render

app.comparison()  # through the entry script: the sidebar, even here
store = RunStore()
st.title("Runs")
runs = store.list()
st.caption(
    f"{len(runs)} run(s) in {store.root}. Each is a plain JSON file named by its "
    "content: the spec, the exact data and the cache schema."
)
if not runs:
    st.info("Nothing cached yet: run a comparison first.")
    st.stop()

table = pd.DataFrame(
    [
        {
            "key": run.key,
            "dataset": run.spec.dataset,
            "arch": run.spec.arch,
            "capacity": run.spec.capacity,
            "L2": run.spec.l2,
            "dropout": run.spec.dropout,
            "batchnorm": run.spec.batchnorm,
            "augment": run.spec.augment,
            "train size": run.spec.train_size,
            "epochs": run.spec.epochs,
            "seed": run.spec.seed,
            "final val loss": run.history[-1]["val_loss"],
            "best val loss": min(
                (r["val_loss"] for r in run.history if r["val_loss"] is not None), default=None
            ),
            "test acc": run.test.get("accuracy"),
            "trained": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.meta.get("created", 0))),
        }
        for run in runs
    ]
)

left, right = st.columns([2, 3])
chosen = left.multiselect("Datasets", sorted(table["dataset"].unique()), key="runs_datasets")
text = right.text_input("Filter (any column contains)", key="runs_filter")
shown = table
if chosen:
    shown = shown[shown["dataset"].isin(chosen)]
if text:
    shown = shown[
        shown.astype(str).apply(
            lambda row: row.str.contains(text, case=False, regex=False).any(), axis=1
        )
    ]

picked = st.dataframe(
    shown, hide_index=True, on_select="rerun", selection_mode="multi-row", key="runs_table"
)
rows = picked.selection.rows if picked and picked.selection else []
selected = shown.iloc[rows]["key"].tolist() if rows else []
by_key = {run.key: run for run in runs}
export = selected or shown["key"].tolist()

cols = st.columns(3)
cols[0].download_button(
    f"Export {'selected' if selected else 'shown'} ({len(export)}) as CSV",
    render.histories_csv([(by_key[k].spec.dataset, by_key[k]) for k in export]),
    file_name="runs.csv",
    mime="text/csv",
    key="runs_export",
)
if cols[1].button(f"Delete selected ({len(selected)})", disabled=not selected, key="runs_delete"):
    st.session_state["runs_confirm"] = selected
if st.session_state.get("runs_confirm"):
    doomed = st.session_state["runs_confirm"]
    st.warning(f"Delete {len(doomed)} run(s)? They will be trained again when asked for.")
    yes, no = st.columns(2)
    if yes.button("Yes, delete", type="primary", key="runs_yes"):
        try:
            for key in doomed:
                store.delete(key)
        except CacheError as exc:
            st.error(str(exc))
        st.session_state.pop("runs_confirm")
        st.rerun()
    if no.button("Keep them", key="runs_no"):
        st.session_state.pop("runs_confirm")
        st.rerun()
