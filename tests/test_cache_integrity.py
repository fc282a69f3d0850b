"""The cache under abuse: writers killed mid-write, readers racing writers, full and
read-only disks, and a size cap."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from core.cache import CacheError, RunStore
from core.runner import execute
from core.spec import ExperimentSpec
from tests.support import ROOT, key, make_run

KEYS = [key(f"k{i}") for i in range(6)]

# A writer that saves big runs (long histories: a wide window to be killed in) forever.
WRITER = textwrap.dedent("""
    import sys, random
    sys.path.insert(0, {root!r})
    from core.cache import Run, RunStore
    from core.spec import ExperimentSpec
    store = RunStore({folder!r}, max_bytes=10**12)
    rng = random.Random()
    while True:
        key = rng.choice({keys!r})
        epochs = rng.randint(300, 1000)  # within what a spec allows
        history = tuple({{"epoch": e, "loss": rng.random(), "val_loss": rng.random(),
                         "test_loss": 1.0, "fit_loss": 1.0, "fit_penalty": 0.0,
                         "penalty": 0.0, "accuracy": 0.5,
                         "val_accuracy": 0.5, "test_accuracy": 0.5, "fit_accuracy": 0.5,
                         "seconds": 0.01}} for e in range(1, epochs + 1))
        store.save(Run(key=key, spec=ExperimentSpec(epochs=epochs), fingerprint="f",
                       history=history, params=1, meta={{}}))
        print(key, flush=True)
""")


def writer(folder) -> subprocess.Popen:
    code = WRITER.format(root=str(ROOT), folder=str(folder), keys=KEYS)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def assert_every_entry_whole_or_absent(store: RunStore) -> int:
    whole = 0
    for name in KEYS:
        run = store.load(name)  # a torn entry would be set aside and read as None
        if run is not None:
            assert run.key == name and len(run.history) == run.spec.epochs
            whole += 1
    assert not store.quarantine.exists(), "a torn entry was found and set aside"
    return whole


def test_killing_the_writer_at_any_moment_leaves_entries_whole_or_absent(cache_dir):
    store = RunStore()
    rng = random.Random(7)
    saved = 0
    for _ in range(12):
        process = writer(cache_dir)
        # Once it writes (however long Python took to start), kill it at a random moment.
        first = process.stdout.readline()
        time.sleep(rng.uniform(0.0, 1.0))
        os.kill(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL, err
        saved += len((first + out).split())
        assert_every_entry_whole_or_absent(store)
    assert saved >= 12, "the writer never got to write: the test proved nothing"
    assert assert_every_entry_whole_or_absent(store) >= 3


def test_readers_never_see_a_half_written_entry(cache_dir):
    """Reads race a writer that keeps replacing the entries, until they have seen 30
    versions come and go (a count of events, not a span of time)."""
    process = writer(cache_dir)
    store = RunStore()
    versions: set[tuple] = set()
    deadline = time.monotonic() + 600  # only a limit
    try:
        while len(versions) < 30:
            assert time.monotonic() < deadline, "the writer never got to write"
            for name in KEYS:
                run = store.load(name)
                if run is not None:
                    assert len(run.history) == run.spec.epochs
                    versions.add((name, run.history[0]["loss"]))
    finally:
        process.kill()
        process.communicate()
    assert not store.quarantine.exists()


def test_a_corrupt_entry_is_trained_again_instead_of_crashing(cache_dir):
    spec = ExperimentSpec(dataset="iris", capacity="tiny", epochs=2)
    (first,) = execute([spec])
    path = RunStore().path(first.run.key)
    path.write_text(path.read_text()[:100])  # torn by something outside our control
    (again,) = execute([spec])

    def curves(run):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in run.history]

    assert not again.cached and curves(again.run) == curves(first.run)
    assert list((cache_dir / "quarantine").iterdir())


def failing(code: int, message: str):
    def fail(*args, **kwargs):
        raise OSError(code, message)

    return fail


@pytest.mark.parametrize(
    "code,message",
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EROFS, "Read-only file system"),
    ],
)
def test_a_full_or_read_only_disk_is_a_clear_error_and_reads_still_work(monkeypatch, code, message):
    store = RunStore()
    store.save(make_run("old"))
    monkeypatch.setattr("core.safefs.tempfile.mkstemp", failing(code, message))
    with pytest.raises(CacheError, match=f"cannot write to the cache at .*: {message}"):
        store.save(make_run("new"))
    assert store.load(key("old")) is not None and store.load(key("new")) is None
    assert [r.key for r in store.list()] == [key("old")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_a_really_read_only_cache_folder(cache_dir):
    store = RunStore()
    store.save(make_run("old"))
    os.chmod(cache_dir / "runs", 0o555)
    try:
        with pytest.raises(CacheError, match="cannot write to the cache"):
            store.save(make_run("new"))
        assert store.load(key("old")) is not None
    finally:
        os.chmod(cache_dir / "runs", 0o755)


def test_a_file_where_the_lock_folder_belongs_is_set_aside(cache_dir):
    (cache_dir).mkdir(parents=True, exist_ok=True)
    (cache_dir / "locks").write_text("not a folder")
    (result,) = execute([ExperimentSpec(dataset="iris", capacity="tiny", epochs=1)])
    assert not result.cached and (cache_dir / "locks").is_dir()
    assert [p.read_text() for p in (cache_dir / "quarantine").iterdir()] == ["not a folder"]


def test_training_into_an_unwritable_cache_fails_with_one_clear_message(cache_dir, monkeypatch):
    monkeypatch.setattr("core.safefs.os.mkdir", failing(errno.EROFS, "Read-only file system"))
    with pytest.raises(CacheError, match="cannot write to the cache.*Read-only file system"):
        execute([ExperimentSpec(dataset="iris", capacity="tiny", epochs=1)])


def test_the_size_cap_evicts_the_least_recently_used_runs(cache_dir):
    store = RunStore()
    for i in range(4):
        store.save(make_run(f"r{i}"))
        os.utime(store.path(key(f"r{i}")), (1000 + i, 1000 + i))  # r0 oldest
    one = store.path(key("r0")).stat().st_size
    store.load(key("r0"))  # reading it makes r0 the most recently used
    small = RunStore(max_bytes=int(one * 2.5))
    small.save(make_run("r4"))
    assert sorted(small.keys()) == sorted([key("r0"), key("r4")])  # r1..r3: least recent
    assert small.size() <= small.max_bytes


def test_stale_temporary_files_of_killed_writers_are_swept(cache_dir):
    store = RunStore()
    store.save(make_run("a"))
    stale = store.runs / key("a") / ".tmp-dead.json"
    fresh = store.runs / key("a") / ".tmp-live.json"
    stale.write_text("{")
    fresh.write_text("{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    store.save(make_run("b"))
    assert not stale.exists() and fresh.exists()  # a live writer's file is left alone
