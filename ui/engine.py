"""One job engine per server process, shared by every session, who asks it for trainings,
and what the sidebar says about the machine."""

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


HEARTBEAT_SECONDS = 10  # well inside the engine's lease (core.jobs.LEASE_SECONDS)


def requester() -> str:
    """Who waits for a training: this browser session, that is this open tab (an id of its
    own, kept in its state: AppTest gives every session the same session_id). A reload or
    a closed tab is a session that stops calling, and its interest lapses."""
    return st.session_state.setdefault("requester", uuid.uuid4().hex)


def heartbeat() -> None:
    """While this tab is open, on any page, the session still waits for the trainings it
    asked for (a teacher reading the Model page keeps the class's training)."""
    if st.session_state.get("my_tasks"):
        _keep_waiting()


@st.fragment(run_every=HEARTBEAT_SECONDS)
def _keep_waiting() -> None:
    engine().keep(list(st.session_state.get("my_tasks", {})), requester())


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
