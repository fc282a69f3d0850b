"""The app's pages and the comparison they share: set up by the entry script, read by
every page."""

from __future__ import annotations

import streamlit as st

from core.comparison import Comparison


def pages() -> list:
    return [
        st.Page("pages/compare.py", title="Compare", icon=":material/monitoring:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
        st.Page("pages/model.py", title="Model", icon=":material/schema:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/inventory_2:"),
    ]


def comparison() -> Comparison:
    """The comparison chosen in the sidebar, for the page being drawn.

    A shared link to a page (say /data?ds=...) opened first on a freshly started server
    runs that file on its own: with a pages/ folder next to it, Streamlit starts in its
    old multipage mode and stays there until some run calls st.navigation. Calling it
    turns that mode off for the whole server; the rerun then goes through the entry
    script, sidebar included, to the same page (both modes name it by its URL path)."""
    if "comparison" not in st.session_state:
        st.navigation(pages(), position="hidden")
        st.rerun()
    return st.session_state["comparison"]
