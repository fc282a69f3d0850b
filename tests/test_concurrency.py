"""Many users at once: identical requests train once (threads are in test_runner; here
processes and the job engine), different ones queue within the worker limit, a closed page
stops holding the worker after its lease while an open one keeps its training, a failure
keeps its message, memory stays flat. (Turns between requesters, Cancel and one-off tasks:
test_queue.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from core.cache import RunStore
from core.jobs import JobEngine
from core.runner import run_key
from core.spec import ExperimentSpec
from tests.support import ROOT

TINY = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, batch_size=16)

RACER = textwrap.dedent("""
    import sys, time, pathlib
    sys.path.insert(0, {root!r})
    import core.training  # pay for TensorFlow before the race starts
    core.training.tf_runtime()
    from core.runner import execute
    from core.spec import ExperimentSpec
    go = pathlib.Path({go!r})
    pathlib.Path({ready!r}).touch()
    while not go.exists():
        time.sleep(0.01)
    (result,) = execute([ExperimentSpec.from_json({spec!r})])
    print("cached" if result.cached else "trained", result.run.key)
""")


def test_concurrent_processes_asking_for_one_run_train_it_once(tmp_path):
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACER.format(
                    root=str(ROOT),
                    go=str(go),
                    spec=TINY.to_json(),
                    ready=str(tmp_path / f"ready-{i}"),
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(3)
    ]
    until(lambda: len(list(tmp_path.glob("ready-*"))) == 3 or any(r.poll() for r in racers))
    go.touch()  # all three have TensorFlow loaded and wait at the line
    outcomes = [r.communicate(timeout=300) for r in racers]
    lines = [out.split() for out, _ in outcomes]
    assert all(r.returncode == 0 for r in racers), [err[-2000:] for _, err in outcomes]
    assert sorted(word for word, _ in lines) == ["cached", "cached", "trained"]
    assert len({key for _, key in lines}) == 1


@pytest.fixture(scope="module")
def two_workers():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no "8787 is in use"
    ) as cluster:  # fmt: skip
        engine = JobEngine(address=cluster.scheduler_address)
        yield engine
        engine.close()


def until(done, timeout: float = 600) -> None:
    """Poll for an event; the limit only keeps a broken run from hanging for ever."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.2)


def wait(engine, keys, requester: str, timeout=600) -> str:
    """Poll as the requester's page does (each poll says it still waits), until it ends."""
    until(lambda: not engine.status(keys, requester).pending, timeout)
    return engine.status(keys).state


def trained(engine, keys) -> list[dict]:
    """The trainings of these keys, once each has reported (workers report asynchronously,
    and an earlier test's events may still arrive: only these keys count)."""
    wanted = set(keys)
    until(lambda: wanted <= {t["key"] for t in engine.trainings()})
    return [t for t in engine.trainings() if t["key"] in wanted]


def test_different_requests_queue_within_the_number_of_workers(two_workers):
    engine = two_workers
    specs = [ExperimentSpec(dataset="iris", capacity="small", epochs=25, seed=s) for s in range(5)]
    students = [f"student-{i}" for i in range(5)]
    for spec, student in zip(specs, students, strict=True):  # one request each
        engine.submit([spec], [run_key(spec)], None, student)
    until(lambda: not [s for s, student in zip(specs, students, strict=True)
                       if engine.status([run_key(s)], student).pending])  # fmt: skip
    assert [engine.status([run_key(s)]).state for s in specs] == ["finished"] * 5
    events = trained(engine, [run_key(s) for s in specs])
    assert sorted(t["key"] for t in events) == sorted(run_key(s) for s in specs)
    # At any moment, at most two tasks were training: one per worker...
    moments = sorted(m for t in events for m in ((t["start"], 1), (t["end"], -1)))
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    assert peak <= 2
    assert len({t["worker"] for t in events}) == 2  # ...and both workers took some


def test_a_closed_page_stops_holding_the_worker_and_an_open_one_keeps_its_training(two_workers):
    """Two tabs ask for one training, the first also for one of its own; then the first tab
    is closed and stops polling. After its lease nobody waits for its own training, which
    stops (its curves so far kept, nothing cached) and frees its worker for the next
    request; the shared training goes on for the tab still open, until that tab closes too.
    Both trainings last far longer than a lease on any machine (minutes here: 1,000 epochs
    of the huge network on digits; iris ended within one lease on a fast machine), and
    every step waits on an event (a poll that lapses, a task that ends), not on a clock."""
    engine = JobEngine(address=two_workers.address, lease=10)  # > a poll on a busy machine
    alone = ExperimentSpec(dataset="digits", capacity="huge", epochs=1000, seed=61)
    shared = ExperimentSpec(dataset="digits", capacity="huge", epochs=1000, seed=62)
    follow = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=63)
    mine, ours, next_key = run_key(alone), run_key(shared), run_key(follow)
    try:
        engine.submit([alone], [mine], None, "closed tab")
        engine.submit([shared], [ours], None, "closed tab")
        engine.submit([shared], [ours], None, "open tab")

        def training(key: str, tab: str) -> bool:  # a page's poll, as the live view makes it
            watch = engine.watch([key], tab)
            return watch is not None and bool(watch.records)

        # Both tabs open, each polling what it shows, until both trainings run.
        until(lambda: all([training(mine, "closed tab"), training(ours, "closed tab"),
                           training(ours, "open tab")]))  # fmt: skip

        def open_tab_until(done) -> None:
            """From now on only the open tab polls."""

            def poll() -> bool:
                training(ours, "open tab")
                return done()

            until(poll)

        open_tab_until(lambda: not engine.status([mine]).pending)
        status = engine.status([mine])
        assert status.state == "cancelled" and 0 < status.cancelled[mine][-1]["epoch"] < 1000
        # The closed tab lapses from the shared training too; the open tab keeps it.
        open_tab_until(lambda: engine.watch([ours]).requesters == 1)

        # The freed worker takes the next request while the shared training goes on (it
        # holds the other of the two workers, so the next one can only end on the freed one).
        engine.submit([follow], [next_key], None, "next tab")
        open_tab_until(lambda: not engine.status([next_key], "next tab").pending)
        assert engine.status([next_key]).state == "finished"
        assert engine.status([ours]).pending  # still training for the open tab
        reached = engine.watch([ours], "open tab").records[ours][-1]["epoch"]

        # Now the open tab closes too: the shared training stops, its curves kept.
        until(lambda: not engine.status([ours]).pending)
        status = engine.status([ours])
        assert status.state == "cancelled" and status.cancelled[ours][-1]["epoch"] >= reached
        store = RunStore()
        assert store.has(next_key)
        for key in (mine, ours):
            assert not store.has(key) and not list(store.runs.glob(f"{key}/*"))
    finally:
        engine.close()


def test_a_new_engine_trains_what_a_closed_one_stopped(two_workers):
    """A run stopped (Cancel) just before its engine closed, then asked for again from a
    new engine on the same cluster (as the tests' app sessions do; a server whose engine
    restarts): it trains. Task ids once repeated across engines of one process, so the new
    task found the old one's stop flag still on the scheduler and stopped at once."""
    spec = ExperimentSpec(dataset="digits", capacity="huge", epochs=1000, seed=64)
    key = run_key(spec)

    def started(engine) -> list[str]:
        tasks = engine.submit([spec], [key], None, "tab")
        until(lambda: not engine.status([key], "tab").pending
              or engine.watch([key], "tab").records)  # fmt: skip
        return tasks

    first = JobEngine(address=two_workers.address)
    before = started(first)
    first.withdraw([key], "tab")
    first.close()  # whether it cleared the stop flag first is a race: the ids must differ
    second = JobEngine(address=two_workers.address)
    try:
        assert set(started(second)).isdisjoint(before)
        assert second.status([key], "tab").pending, second.status([key])  # training
    finally:
        second.withdraw([key], "tab")
        second.close()


def test_a_comparison_is_split_into_tasks_per_seed_and_any_watcher_sees_it(two_workers):
    """3 seeds x 2 variants: three tasks, spread over both workers, merged in one watch
    that a second, unrelated caller (another session) gets by the keys alone."""
    engine = two_workers
    specs = [
        ExperimentSpec(dataset="wine", capacity="small", epochs=300, seed=seed, dropout=rate)
        for seed in (21, 22, 23)
        for rate in (0.0, 0.5)
    ]
    keys = [run_key(s) for s in specs]
    tasks = engine.submit(specs, keys, {"title": "wine"}, "teacher")
    assert len(tasks) == 3
    first = engine.watch(keys, "student")  # what another session opening the link sees
    assert first.running + first.starting + first.queued == 6 and set(first.tasks) == set(tasks)
    assert first.requesters == 2 and first.mine  # an open page showing it waits for it too
    assert wait(engine, keys, "teacher") == "finished"
    events = trained(engine, keys)
    assert sorted(t["key"] for t in events) == sorted(keys)
    assert len({t["task"] for t in events}) == 3
    assert len({t["worker"] for t in events}) == 2  # spread over both workers


def test_memory_stays_flat_over_fifty_trainings():
    from bench.memory import measure

    rss = measure(trainings=50)
    settled = rss[10:]  # TensorFlow's first traces and pools warm up over the first few
    growth = (sum(settled[-10:]) / 10) - (sum(settled[:10]) / 10)
    assert growth < 40, f"RSS grew {growth:.0f} MB from trainings 11-20 to 41-50: {rss}"


def test_a_failed_task_stays_failed_after_the_engine_forgets_it(two_workers):
    """The CLI's --scheduler loop watches between status checks; the engine forgets ended
    tasks, and a forgotten failure must still read as one, with its message."""
    engine = two_workers
    spec = ExperimentSpec(dataset="cifar10", capacity="tiny", epochs=1)  # not downloaded
    key = "f" * 24
    engine.submit([spec], [key], None, "cli")
    until(lambda: engine.watch([key], "cli") is None)  # the task has ended and is forgotten
    status = engine.status([key])
    assert status.state == "failed" and "python -m core download cifar10" in status.error
    assert status.failed == {key: status.error}
