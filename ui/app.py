"""The app's pages, the comparison they share (parsed from the link by the entry script,
read by every page), and the page style: compact at the top, so the lesson fits a
projector's first screen, and larger in presentation mode."""

from __future__ import annotations

import streamlit as st

from core.comparison import Comparison

# Streamlit leaves 6rem above a page and 5rem beside it; a classroom projector (1280x720)
# cannot spare them: the two headline charts need the width. Its
# header (3.75rem, opaque) then hid the top of the Run button: it stays, see-through and
# click-through but for its own buttons. Lesson names wrap in the sidebar's menus, and the
# sidebar is wide enough for the longest one in its box.
STYLE = """
<style>
.block-container {padding: 3.2rem 2.5rem 2rem 2.5rem;}
h1 {font-size: 1.9rem !important; padding-top: 0 !important; margin-bottom: 0 !important;}
[data-testid="stCaptionContainer"], .stCaption {color: #333 !important;}
[data-testid="stHeader"] {background: transparent;}
[data-testid="stHeader"], [data-testid="stHeader"] * {pointer-events: none !important;}
[data-testid="stHeader"] :is(button, a, button *) {pointer-events: auto !important;}
section[data-testid="stSidebar"] {width: 22rem !important;}
[role="option"] div {white-space: normal !important; overflow: visible !important;}
</style>
"""
PRESENTATION = """
<style>
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] p,
[data-testid="stAlertContentInfo"] p {font-size: 1.25rem !important; line-height: 1.45;}
h1 {font-size: 2.4rem !important;}
</style>
"""


def pages() -> list:
    return [
        st.Page("pages/compare.py", title="Compare", icon=":material/monitoring:", default=True),
        st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:"),
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
        st.Page("pages/model.py", title="Model", icon=":material/schema:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/inventory_2:"),
    ]


def style() -> None:
    st.html(STYLE + (PRESENTATION if presentation() else ""))


def presentation() -> bool:
    return comparison().present


def on_page(comparison: Comparison, title: str) -> Comparison:
    """The comparison as a page shows it: variants on Compare, one knob on Sweep; the
    other pages show it as it is."""
    if title in ("Compare", "Sweep"):
        return comparison.for_page(title == "Sweep")
    return comparison


def comparison() -> Comparison:
    """The comparison of this run's link, for the page being drawn (the entry script
    parses the link on every run and leaves it here).

    A shared link to a page (say /data?ds=...) opened first on a freshly started server
    runs that file on its own: with a pages/ folder next to it, Streamlit starts in its
    old multipage mode and stays there until some run calls st.navigation. Calling it
    turns that mode off for the whole server; the rerun then goes through the entry
    script, sidebar included, to the same page (both modes name it by its URL path)."""
    if "comparison" not in st.session_state:
        st.navigation(pages(), position="hidden")
        st.rerun()
    return st.session_state["comparison"]
