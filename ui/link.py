"""The link is the app's state. Each run parses the query into one Comparison; every widget
is drawn from it (`linked`), and every widget's change goes through one callback that
builds the next Comparison (Comparison.changed) and writes its canonical link. Widget keys
hold nothing between runs: each is set from the link just before its widget is drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.comparison import Comparison
from core.datasets import DatasetError
from core.spec import SpecError

S = st.session_state
PREFIX = "cmp_"
NOTES = "cmp_notes"  # what the last change had to adjust: shown once, then gone


def parse() -> tuple[Comparison, list[str]]:
    """This run's comparison, and what its link (or the change that wrote it) adjusted."""
    comparison, notes = Comparison.from_query(st.query_params.to_dict())
    return comparison, S.pop(NOTES, []) + notes


def write(comparison: Comparison) -> None:
    """Make the address bar say exactly this comparison."""
    query = comparison.to_query()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def change(name: str, value: Any) -> None:
    """The next comparison from the link and one field's new value, written as the
    canonical link. Input that is no value keeps the link as it was, with one line saying
    why."""
    before, _ = Comparison.from_query(st.query_params.to_dict())
    try:
        after, notes = before.changed(name, value)
    except (ValueError, DatasetError, SpecError) as exc:
        after, notes = before, [f"{name}: {exc}; nothing changed"]
    S[NOTES] = notes
    write(after)


def _changed(name: str) -> None:
    change(name, S[PREFIX + name])


def linked(widget: Callable, name: str, label: str, value: Any, **kwargs) -> Any:
    """A widget showing one field of the comparison; its change goes through change()."""
    S[PREFIX + name] = value
    return widget(label, key=PREFIX + name, on_change=_changed, args=(name,), **kwargs)
