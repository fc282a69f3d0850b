"""The operator's settings: every OVERFITTING_LAB_* value is checked once, at start-up, and a
bad one is one line on the command line and on the page, never a traceback or a silent
default."""

from __future__ import annotations

import pytest

from core import config
from core.cache import RunStore
from core.cli import main
from core.settings import MAX_COST
from tests.support import ROOT, make_run

BAD = [
    ("OVERFITTING_LAB_CACHE_MAX_MB", "inf", "CACHE_MAX_MB=inf must be megabytes from 64"),
    ("OVERFITTING_LAB_CACHE_MAX_MB", "1e400", "CACHE_MAX_MB=1e400 must be megabytes"),
    ("OVERFITTING_LAB_CACHE_MAX_MB", "-1", "CACHE_MAX_MB=-1 must be megabytes"),
    ("OVERFITTING_LAB_CACHE_MAX_MB", "nan", "CACHE_MAX_MB=nan must be megabytes"),
    ("OVERFITTING_LAB_CACHE_MAX_MB", "2 GB", "CACHE_MAX_MB=2 GB must be megabytes"),
    ("OVERFITTING_LAB_CACHE", "~nosuchuser/x", "CACHE=~nosuchuser/x names no folder"),
    ("OVERFITTING_LAB_CACHE", str(ROOT / "README.md"), "is a file, not a folder"),
    ("OVERFITTING_LAB_DATA_ROOTS", "/no/such/folder", "DATA_ROOTS: /no/such/folder is not a"),
    ("OVERFITTING_LAB_WORKERS", "two", "WORKERS=two must be a whole number from 1 to 256"),
    ("OVERFITTING_LAB_WORKERS", "-1", "WORKERS=-1 must be a whole number"),
    ("OVERFITTING_LAB_WORKERS", "²", "WORKERS=² must be a whole number"),
    ("OVERFITTING_LAB_SCHEDULER", "my laptop", "is not a Dask scheduler address"),
    ("OVERFITTING_LAB_PRETRACE", "maybe", "PRETRACE=maybe must be on or off"),
    ("OVERFITTING_LAB_CACHE_MAXMB", "100", "CACHE_MAXMB is not a setting of this app"),
]


@pytest.mark.parametrize("name,value,words", BAD, ids=[f"{n[16:]}={v}" for n, v, _ in BAD])
def test_a_bad_setting_is_one_line_and_the_command_line_exits_2(
    monkeypatch, capsys, name, value, words
):
    monkeypatch.setenv(name, value)
    assert words in config.problem()
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err


def test_a_negative_cap_no_longer_deletes_every_other_run(cache_dir, monkeypatch):
    """OVERFITTING_LAB_CACHE_MAX_MB=-1 read as a cap of -1 MB: the next save deleted every
    other run. Now nothing starts, and nothing is deleted."""
    store = RunStore()
    store.save(make_run("a"))
    monkeypatch.setenv("OVERFITTING_LAB_CACHE_MAX_MB", "-1")
    assert main(["run", "--dataset", "iris", "--epochs", "1", "--quiet"]) == 2
    with pytest.raises(config.ConfigError):
        RunStore()
    assert store.keys() == [make_run("a").key]


def test_good_settings_are_read_with_their_defaults(tmp_path, monkeypatch):
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        root.mkdir()
    monkeypatch.setenv("OVERFITTING_LAB_CACHE", "~/lab-cache")
    monkeypatch.setenv("OVERFITTING_LAB_CACHE_MAX_MB", " 512 ")
    monkeypatch.setenv("OVERFITTING_LAB_DATA_ROOTS", f"{roots[0]}::{roots[1]}")
    monkeypatch.setenv("OVERFITTING_LAB_WORKERS", "2")
    monkeypatch.setenv("OVERFITTING_LAB_SCHEDULER", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("OVERFITTING_LAB_MAX_COST", "250")
    monkeypatch.setenv("OVERFITTING_LAB_PRETRACE", "OFF")
    monkeypatch.setenv("HOME", str(tmp_path))
    got = config.current()
    assert got == config.Config(tmp_path / "lab-cache", 512 * 2**20, tuple(roots), 2,
                                "tcp://10.0.0.5:8786", 250.0, False)  # fmt: skip
    for name in ("CACHE_MAX_MB", "WORKERS", "SCHEDULER", "DATA_ROOTS", "MAX_COST", "PRETRACE"):
        monkeypatch.setenv(f"OVERFITTING_LAB_{name}", "")  # empty: the default
    got = config.current()
    defaults = (config.DEFAULT_MAX_MB * 2**20, None, None, (), MAX_COST, True)
    assert (got.cache_max_bytes, got.workers, got.scheduler, got.data_roots, got.max_cost,
            got.pretrace) == defaults  # fmt: skip


def test_the_app_says_what_is_wrong_on_the_page(monkeypatch, apptest_navigation):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("OVERFITTING_LAB_CACHE_MAX_MB", "inf")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "This server cannot start: OVERFITTING_LAB_CACHE_MAX_MB=inf must be megabytes from 64 "
        "to 1,073,741,824"
    ]
