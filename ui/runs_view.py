"""The Runs page's pieces: the table of cached runs (the same rows `python -m core runs`
prints), filtering, and deleting exactly the runs a user picked."""

from __future__ import annotations

import streamlit as st

from core.cache import CacheError, Run, RunStore
from core.report import count, run_row

S = st.session_state


def filtered(rows: list[dict]) -> list[dict]:
    left, right = st.columns([2, 3])
    chosen = left.multiselect("Datasets", sorted({r["dataset"] for r in rows}),
                              key="runs_datasets")  # fmt: skip
    text = right.text_input("Filter (any column contains)", key="runs_filter").strip().lower()
    return [
        r for r in rows
        if (not chosen or r["dataset"] in chosen)
        and (not text or any(text in str(v).lower() for v in r.values()))
    ]  # fmt: skip


def picked(shown: list[dict]) -> list[str]:
    """The keys of the ticked rows. The table's key changes after every delete, so a row
    that moves up is never shown ticked; a selection left over from a longer table (the
    filter changed) is ignored beyond its end."""
    generation = S.setdefault("runs_generation", 0)
    event = st.dataframe(shown, hide_index=True, on_select="rerun",
                         selection_mode="multi-row", key=f"runs_table_{generation}")  # fmt: skip
    return selected_keys(event.selection.rows if event and event.selection else [], shown)


def selected_keys(rows: list[int], shown: list[dict]) -> list[str]:
    """The keys of the ticked rows; an index a shorter table no longer has is no row."""
    return [shown[i]["key"] for i in rows if 0 <= i < len(shown)]


def delete_flow(store: RunStore, selected: list[str], by_key: dict[str, Run]) -> None:
    if st.button(f"Delete selected ({len(selected)})", disabled=not selected, key="runs_delete"):
        S["runs_confirm"] = selected
    doomed = [k for k in S.get("runs_confirm", []) if k in by_key]
    if not doomed:
        S.pop("runs_confirm", None)
        return
    names = "\n".join(f"- {_name(by_key[k])}" for k in doomed)
    st.warning(f"Delete {count(len(doomed), 'run')}? They will be trained again when asked "
               f"for.\n\n{names}")  # fmt: skip
    yes, no = st.columns(2)
    if yes.button("Yes, delete", type="primary", key="runs_yes"):
        try:
            for key in doomed:
                store.delete(key)
        except CacheError as exc:
            S["runs_error"] = str(exc)
        _done()
    if no.button("Keep them", key="runs_no"):
        _done()


def _name(run: Run) -> str:
    row = run_row(run)
    return f"{row['dataset']} · {row['variant']} · seed {row['seed']} · `{row['key']}`"


def _done() -> None:
    S.pop("runs_confirm", None)
    S["runs_generation"] = S.get("runs_generation", 0) + 1  # a fresh table: nothing ticked
    st.rerun()
