"""One job engine per server process, shared by every session, and what the sidebar says
about the machine."""

from __future__ import annotations

import uuid

import streamlit as st

from core import config
from core.jobs import JobEngine
from core.machine import device_summary, library_versions


def scheduler_address() -> str | None:
    """A Dask scheduler from .streamlit/secrets.toml (scheduler = "tcp://...") or the
    environment; None starts an embedded cluster."""
    try:
        address = st.secrets.get("scheduler")
    except Exception:  # no secrets.toml, or a malformed one: neither may take the app down
        address = None
    return address or config.current().scheduler


@st.cache_resource(show_spinner=False)
def engine() -> JobEngine:
    """Started on first use: showing cached results never starts a cluster."""
    return JobEngine(address=scheduler_address())


def requester() -> str:
    """Who asks the job engine for a training: this browser session (an id of its own, kept
    in its state: AppTest gives every session the same session_id). Cancel withdraws only
    its own requests; a session that follows a training it did not start has none."""
    return st.session_state.setdefault("requester", uuid.uuid4().hex)


@st.cache_resource(show_spinner=False)
def machine() -> tuple[str, dict[str, str]]:
    return device_summary(), library_versions()


def ensure_prepared(name: str) -> None:
    """Datasets whose first load decodes with Keras (image folders, IMDB) are decoded once
    on a worker, so that this process never imports TensorFlow."""
    from core import datasets

    if datasets.needs_keras(name):
        with st.spinner("Decoding the dataset once on a worker…"):
            engine().prepare(name)
