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
from core.datasets import DatasetError
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


def probed(probe: dict | None, snapshot: dict) -> dict:
    """A run record whose second epoch holds a probe snapshot, as the worker stores it."""
    raw = make_run("probed").to_dict() | {"probe": probe}
    raw["history"][1]["probe"] = snapshot
    return raw


GRID = {"kind": "grid", "x": [0.0, 0.5, 1.0], "y": [-1.0, 1.0]}
CURVE = {"kind": "curve", "x": [0.0, 1.0, 2.0, 3.0]}


@pytest.mark.parametrize(
    "probe,snapshot",
    [
        (GRID, {"values": [50, 60, 70]}),  # 3 values for a 3 x 2 grid
        (GRID, {"values": [50] * 6, "classes": [0] * 5}),
        (GRID | {"y": [1.0]}, {"values": [50] * 3}),  # a one-point axis
        (GRID | {"x": [0.0, 0.0, 1.0]}, {"values": [50] * 6}),  # not increasing
        (CURVE, {"values": [0.1, 0.2]}),
        (None, {"values": [0.1]}),  # a snapshot without axes
    ],
    ids=["short-grid", "short-classes", "one-point-axis", "flat-axis", "short-curve", "no-axes"],
)
def test_probe_grids_and_axes_are_shape_checked(cache_dir, probe, snapshot):
    """Each of these passed the schema and crashed the Compare page's pictures."""
    store = RunStore()
    planted = plant(store, "probed", json.dumps(probed(probe, snapshot)).encode())
    assert store.load(planted) is None and "set aside" in store.notices[0]


@pytest.mark.parametrize("probe,snapshot", [(GRID, {"values": [50] * 6, "classes": [1] * 6}),
                                            (CURVE, {"values": [0.5] * 4})])  # fmt: skip
def test_a_whole_probe_is_read(cache_dir, probe, snapshot):
    store = RunStore()
    planted = plant(store, "probed", json.dumps(probed(probe, snapshot)).encode())
    assert store.load(planted).history[1]["probe"] == snapshot


def test_a_link_at_uploads_is_never_followed(cache_dir, tmp_path):
    """It let ?ds=upload:ID read a CSV anywhere on the server."""
    elsewhere = tmp_path / "elsewhere" / ("ab" * 8)
    elsewhere.mkdir(parents=True)
    (elsewhere / "secret.csv").write_text("label,a\n" + "0,1\n1,2\n" * 20)
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "uploads").symlink_to(elsewhere.parent, target_is_directory=True)
    for name in (f"upload:{'ab' * 8}", f"upload:{'ab' * 8}".upper().replace("UPLOAD", "upload")):
        with pytest.raises(DatasetError):
            datasets.resolve(name)
    (cache_dir / "uploads").unlink()
    (cache_dir / "uploads" / ("ab" * 8)).mkdir(parents=True)
    (cache_dir / "uploads" / ("ab" * 8) / "x.csv").symlink_to(elsewhere / "secret.csv")
    with pytest.raises(DatasetError, match="no longer on this server"):
        datasets.resolve(f"upload:{'ab' * 8}")


def test_a_link_at_data_does_not_widen_the_data_roots(cache_dir, tmp_path):
    """It made ?ds=/elsewhere/secret.csv an allowed dataset."""
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("label,a\n" + "0,1\n1,2\n" * 20)
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "data").symlink_to(secret.parent, target_is_directory=True)
    for name in (str(secret), str(cache_dir / "data" / "secret.csv")):
        with pytest.raises(DatasetError, match="outside the folders this server may read"):
            datasets.check_allowed(name)
    (cache_dir / "data").unlink()
    (cache_dir / "data").mkdir()
    (cache_dir / "data" / "mine.csv").write_text("label,a\n" + "0,1\n1,2\n" * 20)
    datasets.check_allowed(str(cache_dir / "data" / "mine.csv"))  # a real folder: its files


LOCKED = """
import sys
from core.cache import RunStore
from core.runner import execute
from core import datasets
store = RunStore()
spec = datasets.base_spec("iris", capacity="tiny", epochs=1, batch_size=32)
for _ in range(2):
    (result,) = execute([spec], store)
print(result.cached, *store.notices, sep="\\n")
"""


# Root opens any file: the child drops that power, and is then refused as any user is.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
               "--inh-caps=-dac_override,-dac_read_search,-fowner"]  # fmt: skip


@pytest.mark.parametrize("shared", [False, True], ids=["own-folder", "another-users-lock"])
def test_a_lock_file_that_cannot_be_opened_is_reported_not_a_permanent_failure(cache_dir, shared):
    """A mode-000 lock file blocked its run for good. Now it is set aside and made afresh;
    where it cannot be moved either (another user's, in a shared sticky folder), training
    goes on without it, and the lock's path is told once."""
    import shutil
    import subprocess
    import sys

    from tests.support import ROOT

    root = os.geteuid() == 0
    if root and not shutil.which("setpriv") or shared and not root:
        pytest.skip("needs setpriv, or a second user to own the lock")
    locks = cache_dir / "locks"
    locks.mkdir(parents=True)
    lock = locks / f"{run_key(TINY)}.lock"
    lock.write_text("")
    lock.chmod(0o000)
    if shared:
        locks.chmod(0o1777)
        for path in (locks, lock):
            os.chown(path, 65534, 65534)
    done = subprocess.run(
        [*(NO_OVERRIDE if root else []), sys.executable, "-c", LOCKED],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    cached, *notices = done.stdout.strip().splitlines()
    assert cached == "True"  # trained the first time, read from the cache the second
    if shared:
        assert notices == [f"cannot open the lock file {lock} (Permission denied); "
                           "training without it"]  # fmt: skip
    else:
        assert notices == [] and lock.exists()
        assert len(list((cache_dir / "quarantine").iterdir())) == 1  # the old one, set aside


def test_delete_takes_run_keys_only_and_never_leaves_the_cache(cache_dir, tmp_path, capsys):
    victim = tmp_path / "somewhere"
    victim.mkdir()
    execute([TINY])
    bad = ("..", "../..", str(victim), "../../somewhere", "runs", "*", "", "0" * 23, "0" * 25,
           "A" * 24)  # fmt: skip
    for text in bad:
        assert main(["runs", "--delete", text]) == 2
    assert victim.exists() and RunStore().has(run_key(TINY))
    assert main(["runs", "--delete", run_key(TINY)]) == 0
    assert not RunStore().has(run_key(TINY))
    assert main(["runs", "--delete", run_key(TINY)]) == 2  # honest: it is gone already
    err = capsys.readouterr().err
    assert err.count("error: ") == len(bad) + 1 and "Traceback" not in err
    assert err.count("is not a run key") == len(bad)


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
