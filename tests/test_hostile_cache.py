"""The cache as a hostile user or a careless operator leaves it: any bytes or JSON as a run
record, folders and links where files belong, locks that are not locks, a full or
read-only disk. `runs`, `run` and the Runs page never raise, nothing is written or deleted
outside the cache, and every failure is one line."""

from __future__ import annotations

import errno
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import datasets, safefs
from core.cache import RunStore
from core.cli import main
from core.runner import execute, run_key
from tests.support import key, make_run

TINY = datasets.base_spec("iris", capacity="tiny", epochs=1, batch_size=32)
# The same run from the command line: a one-off variant of iris's defaults.
RUN = ["run", "--dataset", "iris", "--capacity", "tiny", "--epochs", "1", "--batch-size", "32",
       "--quiet"]  # fmt: skip
SLOW_OK = settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)  # fmt: skip


def plant(store: RunStore, name: str, data: bytes) -> str:
    folder = store.runs / key(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_bytes(data)
    return key(name)


@given(data=st.binary(max_size=2000))
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_bytes_as_a_record_are_a_miss_never_an_exception(cache_dir, data):
    store = RunStore()
    planted = plant(store, "fuzz", data)
    assert store.load(planted) is None
    assert store.list() == []


@given(value=json_values)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_json_value_as_a_record_is_a_miss(cache_dir, value):
    store = RunStore()
    planted = plant(store, "json", json.dumps(value).encode())
    assert store.load(planted) is None


@given(field=st.sampled_from(["history", "meta", "spec", "params", "layers", "probe",
                              "histogram", "fingerprint"]), value=json_values)  # fmt: skip
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_real_record_with_any_field_replaced_is_read_or_refused_never_a_crash(
    cache_dir, field, value
):
    store = RunStore()
    raw = make_run("real").to_dict() | {field: value}
    planted = plant(store, "real", json.dumps(raw).encode())
    run = store.load(planted)
    assert run is None or run.key == planted


@given(data=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
@SLOW_OK
def test_runs_and_run_on_the_cli_survive_any_record(cache_dir, capsys, data):
    execute([TINY])  # a real entry, then garbage in its place
    store = RunStore()
    (store.runs / run_key(TINY) / "run.json").write_bytes(data)
    plant(store, "other", data)
    assert main(["runs"]) == 0
    assert main(RUN) == 0  # set aside and trained again
    out = capsys.readouterr()
    assert "trained" in out.out and "Traceback" not in out.err
    assert RunStore().load(run_key(TINY)) is not None


@given(data=st.binary(max_size=200))
@SLOW_OK
def test_a_lock_entry_that_is_anything_does_not_stop_training(cache_dir, data):
    locks = cache_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = locks / f"{run_key(TINY)}.lock"
    if data[:1] == b"d":
        lock.mkdir(exist_ok=True)  # a folder where the lock file belongs
    else:
        lock.write_bytes(data)
    RunStore().delete(run_key(TINY))
    (result,) = execute([TINY])
    assert not result.cached


def test_folders_and_links_where_they_do_not_belong(cache_dir, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    store = RunStore()
    store.runs.mkdir(parents=True)
    # runs/<key> a file; runs/<key>/run.json a folder; runs/<key> a link out of the cache.
    (store.runs / key("file")).write_text("not a folder")
    (store.runs / key("dir") / "run.json").mkdir(parents=True)
    (store.runs / run_key(TINY)).symlink_to(outside, target_is_directory=True)
    assert main(["runs"]) == 0
    assert main(RUN) == 0
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"], "wrote through a link"
    assert not (store.runs / run_key(TINY)).is_symlink()
    assert RunStore().load(run_key(TINY)) is not None
    err = capsys.readouterr().err
    assert err.count("notice: set aside") >= 2 and "Traceback" not in err


def test_runs_as_a_file_or_a_link_is_set_aside(cache_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "runs").symlink_to(outside, target_is_directory=True)
    (result,) = execute([TINY])
    assert list(outside.iterdir()) == [], "a run was written through the runs/ link"
    assert (cache_dir / "runs").is_dir() and not (cache_dir / "runs").is_symlink()
    safefs.remove(cache_dir, cache_dir / "runs")
    (cache_dir / "runs").write_text("a file")
    assert RunStore().keys() == [] and RunStore().load(result.run.key) is None
    assert execute([TINY])[0].run.key == result.run.key


def test_delete_takes_run_keys_only_and_never_leaves_the_cache(cache_dir, tmp_path, capsys):
    victim = tmp_path / "somewhere"
    victim.mkdir()
    execute([TINY])
    for bad in ("..", "../..", str(victim), "../../somewhere", "runs", "*"):
        assert main(["runs", "--delete", bad]) == 2
    assert victim.exists() and RunStore().has(run_key(TINY))
    assert main(["runs", "--delete", run_key(TINY)]) == 0
    assert not RunStore().has(run_key(TINY))
    assert main(["runs", "--delete", run_key(TINY)]) == 2  # honest: it is gone already
    err = capsys.readouterr().err
    assert err.count("error: ") == 7 and "Traceback" not in err


def test_a_read_only_cache_reports_that_delete_failed(cache_dir, monkeypatch, capsys):
    execute([TINY])

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("core.safefs.shutil.rmtree", refuse)
    assert main(["runs", "--delete", run_key(TINY)]) == 2
    err = capsys.readouterr().err
    assert "cannot delete run" in err and "Read-only file system" in err
    assert RunStore().has(run_key(TINY)), "it said deleted but was not"


def test_a_full_disk_is_refused_before_training(cache_dir, monkeypatch, capsys):
    import core.training

    monkeypatch.setattr("core.safefs.free_bytes", lambda path: 1024)
    monkeypatch.setattr(core.training, "train", lambda *a, **k: pytest.fail("trained anyway"))
    assert main(RUN) == 2
    assert "not enough free space" in capsys.readouterr().err


def test_an_unwritable_lock_folder_is_one_line(cache_dir, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("core.runner.safefs.ensure_dir", refuse)
    assert main(RUN) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write to the cache") and "Traceback" not in err


def test_the_runs_page_survives_a_cache_full_of_garbage(cache_dir, apptest_navigation):
    from streamlit.testing.v1 import AppTest

    from tests.support import ROOT

    store = RunStore()
    store.save(make_run("good"))
    for i, data in enumerate([b"", b"[1,2,3]", b"null", b'"hello"', b"{", b"\xff" * 10]):
        plant(store, f"bad{i}", data)
    (store.runs / key("afile")).write_text("x")
    os.symlink("/etc", store.runs / key("link"))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1
    notices = [i.value for i in at.info if "set aside" in i.value]
    assert len(notices) == 8


# Any bytes a file system takes as a name, undecodable ones included.
entry_names = st.binary(min_size=1, max_size=40).filter(
    lambda n: b"/" not in n and b"\x00" not in n and n not in (b".", b"..")
)


@given(entries=st.lists(st.tuples(entry_names | st.just(key("x").encode()),
                                  st.sampled_from(["file", "dir", "link", "fifo"])),
                        max_size=6))  # fmt: skip
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_folder_entries_in_runs_leave_the_listing_whole(cache_dir, tmp_path, entries):
    store = RunStore()
    store.save(make_run("kept"))
    for name, kind in entries:
        path = os.path.join(os.fsencode(store.runs), name)
        if os.path.lexists(path):
            continue
        if kind == "file":
            with open(path, "wb") as handle:
                handle.write(b"\x00garbage")
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "link":
            os.symlink(os.fsencode(tmp_path), path)
        else:
            os.mkfifo(path)
    assert [r.key for r in RunStore().list()] == [key("kept")]
    assert main(["runs"]) == 0


@given(data=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)  # fmt: skip
def test_the_runs_page_never_raises_on_any_record(cache_dir, apptest_navigation, data):
    from streamlit.testing.v1 import AppTest

    from tests.support import ROOT

    store = RunStore()
    store.save(make_run("good"))
    plant(store, "bad", data)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1
