"""The job engine a class shares, on its embedded cluster (one training worker and a light
one): requests take turns and a queued one says what is ahead of it, Cancel withdraws only
its requester's interest, one-off tasks never wait behind a training, the time left is one
honest, steady figure per training, and neither a Cancel nor stopping the server leaves a
traceback in the log. (Leases that lapse when a page closes: test_concurrency.)"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import replace

import numpy as np
import pytest

from core.cache import RunStore
from core.jobs import TRAINING, JobEngine
from core.runner import run_key
from core.spec import ExperimentSpec
from core.worker import Progress
from tests.support import ROOT

# --- the time-left figure, on a made-up progress stream ----------------------------------


def drive(paces, first: float = 5.0, jitter: float = 0.1, seed: int = 0):
    """A task's callbacks (core.worker.Progress) driven as core.training drives them, on a
    made-up clock: should_stop() before each chunk of epochs; when a chunk ends, the
    records of all its epochs for both fused runs at once. The first chunk is one epoch
    that also traces the graph (`first` seconds); then chunks of about half a second, each
    a little faster or slower than its epochs' paces (seconds per epoch, one per epoch).
    Returns (time, epochs done, time left published) at each publish, and when it ended."""
    rng, now, seen = random.Random(seed), [0.0], []
    progress = Progress(
        {"a": len(paces), "b": len(paces)},
        publish=lambda content: seen.append((now[0], progress.done, content["seconds_left"])),
        stopped=lambda: False,
        clock=lambda: now[0],
    )
    done, chunk = 0, 1
    while done < len(paces):
        assert not progress.should_stop()
        chunk = min(chunk, len(paces) - done)
        seconds = first if done == 0 else sum(paces[done : done + chunk])
        seconds *= rng.uniform(1 - jitter, 1 + jitter)
        now[0] += seconds
        for epoch in range(done + 1, done + chunk + 1):
            for key in ("a", "b"):
                progress.on_progress(key, {"epoch": epoch})
        done += chunk
        chunk = max(1, int(0.5 / (seconds / chunk)))
    progress.finish()
    return seen[:-1], now[0]  # the last one is finish()'s zero


def test_time_left_is_honest_within_a_few_updates_and_counts_down_steadily():
    """An iris run as the review timed it (860 epochs, 37 s): its first figures said
    "about 12 min left"; the truth was half a minute."""
    for seed in range(5):
        seen, end = drive([0.04] * 860, seed=seed)
        for _, done, figure in seen:
            assert (figure is None) == (done < 3)  # the first epoch (tracing) is never measured
        figures = [(now, figure, end - now) for now, _, figure in seen if figure is not None]
        for now, figure, truth in figures[2:]:  # from the third figure on: within 15%
            assert abs(figure - truth) <= 0.15 * truth + 1, (seed, now, figure, truth)
        for (before, old, _), (now, new, truth) in zip(figures, figures[1:], strict=False):
            # like a clock between figures, and never a jump up or down
            assert abs(new - (old - (now - before))) <= 0.1 * truth + 0.5, (seed, now)


def test_time_left_follows_a_change_of_pace_within_two_minutes():
    """A second training starts on the same CPU: every epoch now takes twice as long."""
    paces = [0.1] * 2000 + [0.2] * 3000
    seen, end = drive(paces, jitter=0.3, seed=1)
    changed = next(now for now, done, _ in seen if done > 2000)
    for now, _, figure in seen:
        if now > changed + 120:
            assert abs(figure - (end - now)) <= 0.15 * (end - now) + 2


# --- a real embedded cluster -----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    """The engine as the app starts it: its own cluster, one training worker, a light one;
    its lease long enough for the blocking calls these tests make between polls."""
    engine = JobEngine(lease=600)
    engine.client  # noqa: B018 - start it now, not inside the first test's timing
    yield engine
    engine.close()


def until(done, timeout: float = 900) -> None:
    """Poll for an event; the limit only keeps a broken run from hanging for ever."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.2)


def keys(specs) -> list[str]:
    return [run_key(s) for s in specs]


def trained(engine, wanted) -> list[dict]:
    """The trainings of these keys, once each has reported (asynchronously)."""
    until(lambda: set(wanted) <= {t["key"] for t in engine.trainings()})
    return [t for t in engine.trainings() if t["key"] in set(wanted)]


def test_a_small_request_goes_before_the_rest_of_a_big_one(engine):
    """The one training worker is held (by a task that waits for this test), so what is
    released and what waits does not depend on how fast anything trains."""
    held, release = hold_the_training_worker(engine)
    big = [ExperimentSpec(dataset="iris", capacity="large", epochs=60, seed=seed)
           for seed in (31, 32, 33)]  # fmt: skip
    small = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=34)
    engine.submit(big, keys(big), {"title": "big"}, "teacher")
    engine.submit([small], [run_key(small)], {"title": "small"}, "student")
    watch = engine.watch([run_key(small)], "student")
    # Queued behind the one run handed to the worker, and before the rest of the big request.
    assert watch.queued == 1 and watch.ahead == 1 and watch.mine
    release.set()
    held.result(timeout=300)
    until(lambda: engine.status(keys(big) + [run_key(small)]).state == "finished")
    order = [t["key"] for t in sorted(trained(engine, keys([*big, small])),
                                      key=lambda t: t["start"])]  # fmt: skip
    # One worker, one task at a time: the small one went right after the big one's first.
    assert order == keys([big[0], small, *big[1:]])


def test_cancel_withdraws_one_requester_and_stops_when_none_is_left(engine):
    spec = ExperimentSpec(dataset="digits", capacity="huge", epochs=1000, seed=41)
    key = run_key(spec)
    engine.submit([spec], [key], {"title": "class"}, "teacher")
    (task,) = engine.submit([spec], [key], {"title": "class"}, "student")  # joins it
    until(lambda: (watch := engine.watch([key])) is not None and watch.records)
    watch = engine.watch([key], "student")
    assert watch.tasks == (task,) and watch.requesters == 2 and watch.mine

    engine.withdraw([key], "follower")  # never pressed Run: nothing to withdraw
    assert engine.withdraw([key], "student") == [task]
    watch = engine.watch([key], "student")  # its polls no longer count...
    assert watch is not None and watch.requesters == 1 and not watch.mine
    assert engine.status([key], "student").withdrawn == (key,)
    engine.submit([spec], [key], {"title": "class"}, "student")  # ...until it asks again
    assert engine.watch([key], "student").mine and engine.status([key], "student").withdrawn == ()
    engine.withdraw([key], "student")
    epoch = watch.records[key][-1]["epoch"]  # and it keeps training for the teacher
    until(lambda: (w := engine.watch([key])) is not None and w.records[key][-1]["epoch"] > epoch)

    engine.withdraw([key], "teacher")
    assert engine.watch([key]) is None
    status = engine.status([key])
    assert status.state == "cancelled" and status.cancelled[key][-1]["epoch"] > epoch

    # The one worker is free again: the next request trains, and the stopped run was
    # never cached (had it gone on, it would have finished first, and been cached).
    follow = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=42)
    engine.submit([follow], [run_key(follow)], None, "student")
    store = RunStore()
    until(lambda: store.has(run_key(follow)))
    assert not store.has(key) and not list(store.runs.glob(f"{key}/*"))
    assert engine.status([key]).state == "cancelled"
    # The stopped task ended before the next one took the worker, and it ended cleanly:
    # a stop raised through Dask is logged as "Compute Failed" with its traceback, which
    # the server log shows and the browser test fails on.
    assert not failures_logged(engine)


def failures_logged(engine) -> list[str]:
    """What the workers and the scheduler logged about a task that raised."""
    logs = [*engine.client.get_worker_logs().values(), engine.client.get_scheduler_logs()]
    return [message for lines in logs for _, message in lines
            if "Traceback" in message or "Compute Failed" in message]  # fmt: skip


def hold_the_training_worker(engine):
    """A task that holds the one training worker until the returned event is set."""
    from distributed import Event

    name = f"hold-{uuid.uuid4().hex}"
    holding, release = Event(f"{name}-on", engine.client), Event(name, engine.client)

    def hold() -> None:
        from distributed import Event

        Event(f"{name}-on").set()
        Event(name).wait()

    held = engine.client.submit(hold, pure=False, resources={TRAINING: 1})
    assert holding.wait(timeout=300)
    return held, release


def test_one_off_tasks_never_wait_behind_a_training(engine):
    """The training worker is held by a task that waits for this test, with a training
    queued behind it; an augmentation preview still comes back, from the light worker."""
    held, release = hold_the_training_worker(engine)
    spec = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=52)
    engine.submit([spec], [run_key(spec)], None, "teacher")

    digits = ExperimentSpec(dataset="digits", augment="light")
    drawn = engine.augment(digits, np.zeros((3, 8, 8, 1), np.float32), draws=2)
    assert drawn.shape == (3, 2, 8, 8, 1)
    assert engine.status([run_key(spec)]).pending  # the training still waits; the preview did not

    release.set()
    held.result(timeout=300)
    until(lambda: RunStore().has(run_key(spec)))


def test_a_cancel_before_the_first_epoch_says_nothing_was_trained(engine):
    """Run, then Cancel while the runs still wait for the worker: the page is told they
    stopped (with no curves), and says so instead of nothing."""
    from ui.live import cancelled_note

    held, release = hold_the_training_worker(engine)
    specs = [ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=s) for s in (53, 54)]
    keys = [run_key(s) for s in specs]
    engine.submit(specs, keys, None, "teacher")
    assert engine.status(keys, "teacher").pending
    engine.withdraw(keys, "teacher")
    until(lambda: engine.status(keys).state == "cancelled")
    status = engine.status(keys)
    assert status.cancelled == {key: [] for key in keys}
    assert cancelled_note(status.cancelled) == (
        "Cancelled: 2 runs of this comparison stopped before their first epoch; nothing was "
        "trained. Press **Run** to train again.")  # fmt: skip
    release.set()
    held.result(timeout=300)
    # The worker is free again and trains the next request; the withdrawn runs never train.
    follow = ExperimentSpec(dataset="iris", capacity="tiny", epochs=2, seed=55)
    engine.submit([follow], [run_key(follow)], None, "teacher")
    until(lambda: RunStore().has(run_key(follow)))
    assert not any(RunStore().has(key) for key in keys)


def test_a_worker_warms_the_network_sizes_next_to_what_it_trained(cache_dir, monkeypatch):
    """Once a comparison has trained, its worker traces, while idle, the loops a step of the
    Network size slider trains in: that move then trains without tracing, as a strength's
    move does. A run the move shares with the comparison before (its "less capacity"
    variant) is in the cache, so the loop warmed is that of the others. The worker says when
    they are warm (an event), so nothing here waits on a clock."""
    from core.comparison import Comparison
    from core.worker import WARMED_TOPIC

    monkeypatch.setenv("OVERFITTING_LAB_PRETRACE", "on")  # as a server runs
    comparison = Comparison(dataset="iris", variants=("baseline", "small", "dropout"), epochs=2)
    specs = [spec for _, spec in comparison.labelled_specs()]
    moved = [spec for _, spec in replace(comparison, capacity="medium").labelled_specs()]
    assert moved in comparison.size_moves()
    engine = JobEngine(lease=600)
    try:
        [task] = engine.submit(specs, keys(specs), None, "teacher",
                               warm=comparison.size_moves())  # fmt: skip

        def warmed() -> list[str]:
            return [event["task"] for _, event in engine.client.get_events(WARMED_TOPIC)]

        until(lambda: task in warmed())
        store = RunStore()
        missing = [spec for spec in moved if not store.has(run_key(spec))]
        assert [s.capacity for s in missing] == ["medium", "medium"]  # "small" is cached
        engine.submit(missing, keys(missing), None, "teacher")
        until(lambda: engine.status(keys(specs + missing)).state == "finished")
        assert [store.load(k).meta["traced"] for k in keys(specs)] == [True] * 3
        assert [store.load(k).meta["traced"] for k in keys(missing)] == [False, False]
        # The move warms nothing more: nobody asked for what comes after it.
        assert warmed() == [task]
    finally:
        engine.close()


def test_a_comparison_shown_before_run_is_warm_when_run_comes(cache_dir, monkeypatch):
    """A page shows runs nobody trained (here: hand-typed widths, a structure no default
    has) and asks the workers to warm their loop while the teacher reads; Run then trains
    without tracing. The worker says when the loop is warm (an event), so nothing here
    waits on a clock. An engine that has not started asks nothing: showing a page never
    starts a cluster."""
    from core.comparison import Comparison
    from core.worker import WARMED_TOPIC

    monkeypatch.setenv("OVERFITTING_LAB_PRETRACE", "on")  # as a server runs
    first = Comparison(dataset="iris", variants=("baseline",), epochs=2)
    shown = Comparison(dataset="iris", variants=("baseline", "dropout"), widths="24,12",
                       epochs=2)  # fmt: skip
    specs = [spec for _, spec in shown.labelled_specs()]
    engine = JobEngine(lease=600)
    try:
        assert engine.warm(specs) is None and not engine.started
        started = [spec for _, spec in first.labelled_specs()]
        engine.submit(started, keys(started), None, "teacher")  # the class's first Run
        until(lambda: engine.status(keys(started)).state == "finished")
        ask = engine.warm(specs)
        until(lambda: ask in [e["task"] for _, e in engine.client.get_events(WARMED_TOPIC)])
        engine.submit(specs, keys(specs), None, "teacher")
        until(lambda: engine.status(keys(specs)).state == "finished")
        store = RunStore()
        assert [store.load(k).meta["traced"] for k in keys(specs)] == [False, False]
        assert store.load(keys(started)[0]).meta["traced"]
    finally:
        engine.close()


def test_pages_asking_to_warm_never_grow_the_queue_and_the_latest_goes_first():
    from collections import deque

    from core.worker import ASKED_MAX, _enqueue, _Queued

    queue: deque = deque()
    _enqueue(queue, _Queued(iter([]), None, expected=False))  # a default: only a guess
    asked = [_Queued(iter([]), None, expected=True) for _ in range(ASKED_MAX + 5)]
    for queued in asked:
        _enqueue(queue, queued)
    assert list(queue) == [*asked[::-1][:ASKED_MAX], queue[-1]]
    assert not queue[-1].expected


def test_run_answers_at_once_and_a_scheduler_that_never_answers_fails_the_runs_saying_so():
    """Run returns before the cluster is reached (an embedded one takes seconds to start):
    the page shows its runs starting, with Cancel, at once. Here the scheduler never
    answers at all (a socket that accepts and stays mute), so the runs fail in one line."""
    import socket

    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        engine = JobEngine(address=f"tcp://127.0.0.1:{mute.getsockname()[1]}")
        spec = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=56)
        key = run_key(spec)
        try:
            engine.submit([spec], [key], None, "teacher")  # back although nothing answers
            watch = engine.watch([key], "teacher")
            assert not engine.started and watch.starting == 1 and not watch.queued
            assert engine.status([key], "teacher").pending  # the page shows Cancel
            until(lambda: not engine.status([key], "teacher").pending)
            error = engine.status([key]).error
            assert engine.status([key]).state == "failed" and "\n" not in error
            assert error.startswith("the job engine cannot be reached (")
        finally:
            engine.close()


def test_a_training_that_does_not_stop_at_shutdown_is_named_in_the_log(engine, monkeypatch, caplog):
    """Closing waits for stopped trainings; one still running when the wait is over (a
    first epoch of minutes) is said in one line before Dask kills its worker."""
    import logging

    from core import jobs

    held, release = hold_the_training_worker(engine)
    monkeypatch.setattr(jobs, "CLOSE_SECONDS", 0.5)
    with caplog.at_level(logging.WARNING, logger="core.jobs"):
        jobs._let_end([held])
    assert "1 training did not stop within 0.5 s of shutting down" in caplog.text
    release.set()
    held.result(timeout=300)
    caplog.clear()
    jobs._let_end([held])  # ended: nothing to say
    assert caplog.text == ""


def test_a_server_stopped_mid_training_leaves_no_traceback(cache_dir, tmp_path):
    """`streamlit run` as a user starts it, Run pressed over its websocket as a browser
    does, and SIGTERM to its process group (Ctrl-C in a terminal does the same) while the
    training runs: the server log shows no traceback."""
    from bench._harness import serve_app
    from bench.load import teacher

    env = os.environ | {"OVERFITTING_LAB_CACHE": str(cache_dir), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "server.log"
    with serve_app(env, log) as url:
        stream = url.replace("http://", "ws://") + "/_stcore/stream"
        assert asyncio.run(teacher(stream, 300, "ds=digits&v=baseline&cap=huge&ep=1000"))["started"]
        until(lambda: any((cache_dir / "locks").glob("*.lock")))  # a worker is training it
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]
    assert "killing" not in text, text[-3000:]  # the workers ended; Dask had to kill none


def test_a_cancel_on_the_web_leaves_no_traceback_in_the_server_log(cache_dir, tmp_path):
    """The browser test's check, without a browser: Run and then Cancel pressed over the
    websocket while the training runs. The training ends (its lock is free again, nothing
    cached), and the server log, where the workers write too, has no traceback: a stop
    that raised through Dask showed up there as "Compute Failed ... Traceback"."""
    from bench._harness import serve_app

    env = os.environ | {"OVERFITTING_LAB_CACHE": str(cache_dir), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "server.log"
    with serve_app(env, log) as url:
        stream = url.replace("http://", "ws://") + "/_stcore/stream"
        asyncio.run(run_then_cancel(stream, cache_dir / "locks"))
    assert not RunStore(cache_dir).keys()  # stopped, never cached as finished
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]


async def run_then_cancel(url: str, locks, query: str = "ds=digits&v=baseline&cap=huge&ep=1000"):
    """One tab: press Run, wait until a worker trains (holds the run's lock), press
    Cancel, and wait until the worker has let the lock go (the task has ended)."""
    import websockets
    from filelock import FileLock, Timeout

    from bench.load import one_run

    def free(lock) -> bool:
        try:
            FileLock(lock).acquire(timeout=0).lock.release()
        except Timeout:
            return False
        return True

    async def until_async(done, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "gave up waiting"
            await asyncio.sleep(0.2)

    async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26) as ws:
        page = await one_run(ws, query, 300)
        run = next(i for label, i in page["buttons"].items() if label.startswith("Run ("))
        page = await one_run(ws, query, 300, trigger=run)
        cancel = page["buttons"]["Cancel"]
        await until_async(lambda: any(not free(lock) for lock in locks.glob("*.lock")))
        await one_run(ws, query, 300, trigger=cancel)
        await until_async(lambda: all(free(lock) for lock in locks.glob("*.lock")))
