"""The job engine a class shares, on its embedded cluster (one training worker and a light
one): requests take turns, Cancel withdraws only its requester's interest, one-off tasks
never wait behind a training, the time left is one steady figure per training, and
stopping the server leaves no traceback."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid

import numpy as np
import pytest

from core.cache import RunStore
from core.jobs import TRAINING, JobEngine
from core.runner import run_key
from core.spec import ExperimentSpec
from core.worker import TimeLeft
from tests.support import ROOT

# --- the time-left figure, on a made-up progress stream ----------------------------------


def progress_stream(paces, first: float = 30.0, chunk_seconds: float = 0.5, seed: int = 0):
    """(seconds, epochs done) as a worker reports them: the first epoch also traces the
    graph; then chunks of about half a second, each a little faster or slower than the
    pace of its epoch (paces: seconds per epoch, one per epoch)."""
    rng = random.Random(seed)
    now, done, out = first, 1, [(first, 1)]
    while done < len(paces):
        chunk = min(max(1, int(chunk_seconds / paces[done])), len(paces) - done)
        now += sum(paces[done : done + chunk]) * rng.uniform(0.7, 1.3)
        done += chunk
        out.append((now, done))
    return out


def true_left(paces, done: int) -> float:
    return sum(paces[done:])


def figures(paces, **stream):
    clock = TimeLeft()
    return [(now, done, clock.update(now, done, len(paces)))
            for now, done in progress_stream(paces, **stream)]  # fmt: skip


def test_time_left_waits_for_two_measured_epochs_then_counts_down_steadily():
    paces = [0.1] * 3000  # five minutes of training after a 30-second first epoch
    seen = figures(paces)
    for _, done, figure in seen:
        assert (figure is None) == (done < 3)  # the first epoch (tracing) is never measured
    measured = [(now, done, figure) for now, done, figure in seen if figure is not None]
    for (before, _, old), (now, _, new) in zip(measured, measured[1:], strict=False):
        # like a clock between chunks, and never a jump: at most 5% off the countdown
        assert abs(new - (old - (now - before))) <= 0.05 * old + 0.5
    for now, done, figure in measured:
        if now > 60:  # after a minute of training, within 15% of the truth
            assert abs(figure - true_left(paces, done)) <= 0.15 * true_left(paces, done) + 2


def test_time_left_follows_a_change_of_pace_within_a_few_minutes():
    """A second training starts on the same CPU: every epoch now takes twice as long."""
    paces = [0.1] * 2000 + [0.2] * 3000
    seen = figures(paces, seed=1)
    changed = 30 + 200  # when the slower epochs began, in seconds
    for now, done, figure in seen:
        if now > changed + 180:
            assert abs(figure - true_left(paces, done)) <= 0.15 * true_left(paces, done) + 2


# --- a real embedded cluster -----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    """The engine as the app starts it: its own cluster, one training worker, a light one."""
    engine = JobEngine()
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
    big = [ExperimentSpec(dataset="iris", capacity="large", epochs=60, seed=seed)
           for seed in (31, 32, 33)]  # fmt: skip
    small = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=34)
    engine.submit(big, keys(big), {"title": "big"}, "teacher")
    until(lambda: (watch := engine.watch(keys(big))) is not None and watch.running)
    engine.submit([small], [run_key(small)], {"title": "small"}, "student")
    watch = engine.watch([run_key(small)], "student")
    assert watch.ahead == 0 and watch.running + watch.queued == 1 and watch.mine
    until(lambda: engine.status(keys(big) + [run_key(small)]).state == "finished")
    order = [t["key"] for t in sorted(trained(engine, keys([*big, small])),
                                      key=lambda t: t["start"])]  # fmt: skip
    # One worker, one task at a time: the small one went before the big one's last.
    assert order.index(run_key(small)) < order.index(run_key(big[-1]))


def test_cancel_withdraws_one_requester_and_stops_when_none_is_left(engine):
    spec = ExperimentSpec(dataset="iris", capacity="large", epochs=1000, seed=41)
    key = run_key(spec)
    engine.submit([spec], [key], {"title": "class"}, "teacher")
    (task,) = engine.submit([spec], [key], {"title": "class"}, "student")  # joins it
    until(lambda: (watch := engine.watch([key])) is not None and watch.records)
    watch = engine.watch([key], "student")
    assert watch.tasks == (task,) and watch.requesters == 2 and watch.mine

    engine.withdraw([key], "follower")  # never pressed Run: nothing to withdraw
    engine.withdraw([key], "student")
    watch = engine.watch([key], "student")
    assert watch is not None and watch.requesters == 1 and not watch.mine
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


def test_one_off_tasks_never_wait_behind_a_training(engine):
    """The training worker is held by a task that waits for this test, with a training
    queued behind it; an augmentation preview still comes back, from the light worker."""
    from distributed import Event

    name = f"hold-{uuid.uuid4().hex}"
    holding, release = Event(f"{name}-on", engine.client), Event(name, engine.client)

    def hold() -> None:
        from distributed import Event

        Event(f"{name}-on").set()
        Event(name).wait()

    held = engine.client.submit(hold, pure=False, resources={TRAINING: 1})
    assert holding.wait(timeout=300)
    spec = ExperimentSpec(dataset="iris", capacity="tiny", epochs=3, seed=52)
    engine.submit([spec], [run_key(spec)], None, "teacher")

    digits = ExperimentSpec(dataset="digits", augment="light")
    drawn = engine.augment(digits, np.zeros((3, 8, 8, 1), np.float32), draws=2)
    assert drawn.shape == (3, 2, 8, 8, 1)
    assert engine.status([run_key(spec)]).pending  # the training still waits; the preview did not

    release.set()
    held.result(timeout=300)
    until(lambda: RunStore().has(run_key(spec)))


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
        assert asyncio.run(teacher(stream, 300, "ds=iris&v=baseline&cap=large&ep=1000"))["started"]
        until(lambda: any((cache_dir / "locks").glob("*.lock")))  # a worker is training it
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]
