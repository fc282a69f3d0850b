"""What runs on a Dask worker: training tasks that publish their progress (with their own
time-left figure) and read their stop flag in the scheduler's metadata store, the one-off
tasks the pages ask for (model summaries, augmentation previews, dataset preparation), and
the plugin that sets up the embedded cluster's workers. Imported by worker processes; the
web server only names these functions.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

from core import config
from core.cache import CACHE_ENV, RunStore
from core.spec import ExperimentSpec

TRAININGS_TOPIC = "trainings"  # one event per run actually trained, for operators and tests
WARMED_TOPIC = "warmed"  # a task's next comparisons, or a page's ask, are warm on a worker
META = "overfitting-lab"  # this project's corner of the scheduler's metadata store
CANCELLED = "cancelled"  # what a stopped training task returns: it ends normally, nothing cached
PUBLISH_SECONDS = 0.3
BOARD_POINTS = 150
STOP_CHECK_SECONDS = 0.5  # the stop flag costs a scheduler round trip: at most this often
SUMMARY_WIDTH = 100
WORKER_NICENESS = 10
PACE_SECONDS = 60.0  # the pace of a training: taken over at most about the last minute
ASKED_MAX = 8  # expected comparisons queued at most: clicking around grows nothing
GLIDE_SECONDS = 2.0  # the figure moves to a new estimate over about this long: no jitter


class TimeLeft:
    """One time-left figure per training, from its own pace, the same for every viewer.

    Fed (time, epochs done) between chunks of epochs, when every epoch it counts is done.
    None until two epochs after the first have been measured: the first also pays for
    tracing the graph and is never part of the pace. The pace is taken over the later half
    of the time measured so far, at most the last minute, so the slower first chunks drop
    out as the training goes on and a change of pace (another training on the same CPU)
    shows within a minute. Between estimates the figure counts down like a clock and glides
    towards each new one over a couple of seconds: one fast or slow chunk does not make it
    jump."""

    def __init__(self) -> None:
        self.marks: deque[tuple[float, int]] = deque()  # (time, epochs done)
        self.first = 0.0  # when the first mark was taken
        self.figure: float | None = None
        self.at = 0.0

    def update(self, now: float, done: int, total: int) -> float | None:
        """The figure after `done` of `total` epochs at time `now` (seconds, monotonic)."""
        marks = self.marks
        if not marks:
            self.first = now
        marks.append((now, done))
        span = min(PACE_SECONDS, (now - self.first) / 2)
        while len(marks) > 2 and now - marks[1][0] >= span and done - marks[1][1] >= 2:
            marks.popleft()
        start, first = marks[0]
        if done - first < 2 or now <= start:
            return self.figure
        estimate = (now - start) / (done - first) * (total - done)
        if self.figure is None:
            self.figure = estimate
        else:
            clock = max(0.0, self.figure - (now - self.at))  # counted down since the last
            pull = 1 - math.exp(-(now - self.at) / GLIDE_SECONDS)
            self.figure = clock + (estimate - clock) * pull
        self.at = now
        return self.figure


class Progress:
    """A training task's two callbacks for core.runner.execute, and what they tell the
    scheduler. The records of a chunk of epochs arrive together when the chunk ends, and
    the training asks should_stop() before the next chunk: that is when every record of
    the chunk is in, so that is where the records and the time left are published (at most
    every PUBLISH_SECONDS) and the stop flag is read (at most every STOP_CHECK_SECONDS).
    Publishing at a chunk's first record counted a whole chunk too few epochs done, and
    the first figures came out several times too long."""

    def __init__(
        self,
        planned: dict[str, int],
        publish: Callable[[dict], None],
        stopped: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.planned = planned  # run key -> its epochs
        self.publish, self.stopped, self.clock = publish, stopped, clock
        self.records: dict[str, list[dict]] = {}
        self.done = 0  # epochs done: fused runs advance together
        self.time_left = TimeLeft()
        self.left: float | None = None
        self.published = self.checked = -math.inf
        self.fresh = False  # records not yet published

    def on_progress(self, key: str, record: dict) -> None:
        self.records.setdefault(key, []).append(record)
        self.done = max(self.done, record["epoch"])
        self.fresh = True

    def should_stop(self) -> bool:
        now = self.clock()
        if self.fresh and now - self.published >= PUBLISH_SECONDS:
            self.published, self.fresh = now, False
            total = max(self.planned[k] for k in self.records)
            self.left = self.time_left.update(now, self.done, total)
            self.send()
        if now - self.checked < STOP_CHECK_SECONDS:
            return False
        self.checked = now
        return self.stopped()

    def finish(self) -> None:
        self.left = 0.0
        self.send()

    def send(self) -> None:
        self.publish({"runs": board(self.records), "seconds_left": self.left})


def board(records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What a task publishes for the live view: at most about BOARD_POINTS records per run
    (every k-th epoch and the last: a curve on a screen needs no more) and only the latest
    probe snapshot. The cache keeps every epoch and every snapshot."""
    out = {}
    for key, rows in records.items():
        step = -(-len(rows) // BOARD_POINTS)  # ceiling division
        last = max((i for i, r in enumerate(rows) if "probe" in r), default=None)
        out[key] = [
            r if i == last or "probe" not in r else _without_probe(r)
            for i, r in enumerate(rows)
            if i % step == 0 or i in (len(rows) - 1, last)
        ]
    return out


def _without_probe(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "probe"}


def train_task(spec_dicts: list[dict], cache: str, task: str,
               warm: Sequence[list[dict]] = ()) -> list[str] | str:  # fmt: skip
    """Run or load every spec, publishing the records so far and the time left to the
    scheduler. Once the engine sets this task's stop flag the training stops
    (core.training.Cancelled) and the task ends normally, returning CANCELLED: nothing of
    the unfinished runs is cached, and a stop is no error in the worker's log. Once it has
    trained, the loops of the `warm` comparisons (what the page expects next) are warmed."""
    from distributed import get_client, get_worker

    from core.runner import execute, run_key
    from core.training import Cancelled

    os.environ[CACHE_ENV] = cache  # uploads and downloads live in the client's cache folder
    client, worker = get_client(), get_worker()
    specs = [ExperimentSpec.from_dict(d) for d in spec_dicts]
    progress = Progress(
        {run_key(s): s.epochs for s in specs},
        publish=lambda content: client.set_metadata([META, "progress", task], content),
        stopped=lambda: bool(client.get_metadata([META, "stop", task], False)),
    )
    untrained: dict[str, dict] = {}

    def start(key: str, snapshot: dict) -> None:
        untrained[key] = snapshot  # the first picture, long before the first epoch
        client.set_metadata([META, "untrained", task], untrained)

    if progress.should_stop():  # withdrawn while it waited for this worker: not even the data
        return CANCELLED
    client.set_metadata([META, "started", task], time.time())
    started = time.time()
    try:
        results = execute(specs, RunStore(cache), on_progress=progress.on_progress,
                          should_stop=progress.should_stop, on_start=start)  # fmt: skip
    except Cancelled:
        return CANCELLED
    progress.finish()
    ended = time.time()
    if warm and any(not r.cached for r in results):
        # What Run would train: a loop's layout is that of the runs missing from the cache.
        store = RunStore(cache)
        missing = [[s for s in map(ExperimentSpec.from_dict, specs) if not store.has(run_key(s))]
                   for specs in warm]  # fmt: skip
        _warm_expected(missing, worker, task)
    for result in results:
        if not result.cached:
            worker.log_event(
                TRAININGS_TOPIC,
                {
                    "key": result.run.key,
                    "task": task,
                    "start": started,
                    "end": ended,
                    "worker": worker.address,
                },
            )
    return [r.run.key for r in results]


def describe_task(spec_dicts: list[dict], cache: str) -> list[dict]:
    """Keras's own summary and parameter count of each spec's model."""
    from core import datasets
    from core.models import build_model
    from core.runtime import tf_runtime

    os.environ[CACHE_ENV] = cache
    # Keras captures the summary on a Rich console that, without a terminal, is 80 columns
    # wide and crops the table (the "Param #" column went missing); Rich reads COLUMNS.
    os.environ["COLUMNS"] = str(SUMMARY_WIDTH + 4)
    tf_runtime()
    out = []
    for raw in spec_dicts:
        spec = ExperimentSpec.from_dict(raw)
        model = build_model(spec, datasets.info(spec.dataset))
        lines: list[str] = []
        model.summary(print_fn=lambda line, *a, _lines=lines, **k: _lines.append(line),
                      line_length=SUMMARY_WIDTH)  # fmt: skip
        out.append({"summary": "\n".join(lines), "params": int(model.count_params())})
    return out


def augment_task(spec_dict: dict, examples, draws: int, cache: str):
    """The training-time augmentation layers of a spec applied to some examples, `draws`
    times: images, or rows of a table (Gaussian noise)."""
    import numpy as np

    from core import datasets
    from core.models import augmentation_layers
    from core.runtime import tf_runtime

    os.environ[CACHE_ENV] = cache
    tf = tf_runtime()
    spec = ExperimentSpec.from_dict(spec_dict)
    layers = augmentation_layers(spec, datasets.info(spec.dataset))
    out = []
    for _ in range(draws):
        x = tf.constant(np.asarray(examples, np.float32))
        for layer in layers:
            x = layer(x, training=True)
        out.append(np.asarray(x))
    return np.stack(out, axis=1)  # [example, draw, ...]


def prepare_task(name: str, cache: str) -> dict:
    """Load a dataset once on a worker: image folders and IMDB need Keras the first time,
    and then leave a plain .npz that the web server reads without it."""
    from core import datasets

    os.environ[CACHE_ENV] = cache
    return datasets.load(name).sizes()


def warm_up(trains: bool = True) -> str:
    """Import TensorFlow in a fresh worker before anyone waits for it; on a worker that
    trains, queue for warming the loops a class asks for first: every offline dataset's
    default comparison, and what moving one of its strength sliders retrains. A first Run,
    or a slider's move, then trains at once."""
    from core.runtime import device_name

    name = device_name()
    if trains:
        warm_soon(_offline_defaults())
    return name


class _Queued(NamedTuple):
    """Comparisons (spec lists) to warm, one at a time, what to call once they are warm,
    and whether a page expects them next (core.worker.warm_soon)."""

    comparisons: Iterator[list[ExperimentSpec]]
    then: Callable[[], None] | None
    expected: bool


_warming: deque[_Queued] = deque()  # what this process warms next
_warming_ready = threading.Condition()
_warmer: threading.Thread | None = None


def warm_soon(what: Iterable[list[ExperimentSpec]], expected: bool = False,
              then: Callable[[], None] | None = None) -> None:  # fmt: skip
    """Queue comparisons whose loops this process traces in the background (core.training
    keeps a process's loops by layout). `expected`: what a page that just trained expects
    next, which goes ahead of every comparison not yet warmed and may push out the least
    recently used loop; the rest (other datasets' defaults) only fill free room. `then` is
    called once they are warm.

    Off the request path: one thread, which starts a layout only while no training runs in
    this process; a training never waits for it (another layout is another loop; the one
    being warmed would take no less to trace again). A request arriving meanwhile shares the
    CPU with that one layout's warming, a second or two at most."""
    global _warmer
    if not config.current().pretrace:
        return
    with _warming_ready:
        _enqueue(_warming, _Queued(iter(what), then, expected))
        if _warmer is None:
            _warmer = threading.Thread(target=_warm_forever, name="pretrace", daemon=True)
            _warmer.start()
        _warming_ready.notify()


def _enqueue(queue: deque[_Queued], queued: _Queued) -> None:
    """Expected comparisons go first, the latest first (what a page shows now); past
    ASKED_MAX of them the oldest is dropped, so that a student clicking through structures
    neither grows the queue nor keeps the class's next move waiting. Guesses go last."""
    if not queued.expected:
        queue.append(queued)
        return
    queue.appendleft(queued)
    expected = [q for q in queue if q.expected]
    if len(expected) > ASKED_MAX:
        queue.remove(expected[-1])


def warm_asked(spec_dicts: list[dict], ask: str, dask_worker) -> None:
    """Run on a training worker outside the task queue (JobEngine.warm): a page shows runs
    nobody has trained, so warm the loop Run would train them in, and log WARMED_TOPIC
    {"task": ask} once it is warm. Returns at once."""
    _warm_expected([[ExperimentSpec.from_dict(d) for d in spec_dicts]], dask_worker, ask)


def _warm_expected(comparisons: list[list[ExperimentSpec]], worker, name: str) -> None:
    """Warm what a page expects next; the scheduler's WARMED_TOPIC event names the task or
    ask once it is warm (operators read it, tests wait on it)."""
    warm_soon(comparisons, expected=True,
              then=lambda: worker.log_event(WARMED_TOPIC, {"task": name}))  # fmt: skip


def stop_heartbeat(dask_worker) -> None:
    """The server closes its embedded cluster: this worker stops telling the scheduler it
    is alive (core.jobs.JobEngine.close)."""
    dask_worker.periodic_callbacks["heartbeat"].stop()


def _warm_forever() -> None:
    from core import datasets
    from core.training import pretrace

    while True:
        try:
            with _warming_ready:  # one comparison; the rest of its iterator stays in place
                _warming_ready.wait_for(lambda: _warming)
                queued = _warming[0]
                specs = next(queued.comparisons, None)
                if specs is None:
                    _warming.popleft()
            if specs:
                pretrace(specs, datasets.for_spec(specs[0]), evict=queued.expected)
            elif specs is None and queued.then:
                queued.then()
        except Exception as exc:  # a warm-up is a guess: a bad one must not end the thread
            logging.getLogger(__name__).warning("warming a loop failed: %s", exc)


def _offline_defaults() -> Iterator[list[ExperimentSpec]]:
    """The default comparison of each offline dataset, the app's default first, then the
    runs of a first move of each strength slider."""
    from core import datasets
    from core.comparison import DEFAULT_DATASET, Comparison

    offline = [name for name, entry in datasets.registry().items() if entry.source != "download"]
    for name in sorted(offline, key=lambda n: n != DEFAULT_DATASET):
        comparison = Comparison(dataset=name)
        specs = [spec for _, spec in comparison.labelled_specs()]
        yield specs
        for knob in comparison.shown_strengths():
            moved = comparison.with_value(knob, _another(knob, comparison.value(knob)))
            yield [spec for _, spec in moved.labelled_specs() if spec not in specs]


def _another(knob: str, value):
    """Another value of a strength: what a first move of its slider asks for."""
    from core.settings import SETTINGS, SpecError

    setting = SETTINGS[knob]
    for candidate in (
        setting.steps or setting.choices or (value + setting.step, value - setting.step)
    ):
        try:
            setting.check(candidate)
        except SpecError:
            continue
        if candidate != value:
            return candidate
    return value


def embedded_worker_setup():
    """A worker plugin for the embedded cluster's workers: trainings yield the CPU to the
    web server on the same machine, so pages stay quick while a class trains (idle cycles
    still all go to training); and a Ctrl-C or SIGTERM sent to the server's process group
    leaves the workers to the engine's orderly close instead of killing them mid-task
    (their nanny would restart them, with warnings in the server log). A worker still ends
    with the server: it watches its parent process."""
    from distributed import WorkerPlugin

    class Setup(WorkerPlugin):
        name = "overfitting-lab-setup"

        def setup(self, worker) -> None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICENESS)
            with contextlib.suppress(ValueError):  # only the main thread may; it does here
                for number in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(number, signal.SIG_IGN)

    return Setup()
