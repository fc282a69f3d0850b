"""Shared fixtures: every test gets its own cache folder, and the network is off."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh cache per test, so no test reads another's runs or the developer's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("OVERFITTING_LAB_CACHE", str(folder))
    # Workers the tests start would otherwise warm every offline dataset's loops, minutes of
    # CPU beside the test on two cores; test_training checks the warming itself.
    monkeypatch.setenv("OVERFITTING_LAB_PRETRACE", "off")
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def apptest_navigation(monkeypatch):
    """AppTest re-detects the legacy pages/ folder before every run (Streamlit issue #9446;
    this project's layout requires a pages/ folder), so its reruns skip the entry script.
    A real server detects it once, and the first st.navigation call switches it off for
    good (ui/app.py handles a page opened before that); do the same here."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
