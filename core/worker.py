"""What runs on a Dask worker: training tasks that publish their progress (with their own
time-left figure) and read their stop flag in the scheduler's metadata store, the one-off
tasks the pages ask for (model summaries, augmentation previews, dataset preparation), and
the plugin that sets up the embedded cluster's workers. Imported by worker processes; the
web server only names these functions.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections import deque

from core.cache import CACHE_ENV, RunStore
from core.spec import ExperimentSpec

TRAININGS_TOPIC = "trainings"  # one event per run actually trained, for operators and tests
META = "overfitting-lab"  # this project's corner of the scheduler's metadata store
PUBLISH_SECONDS = 0.3
BOARD_POINTS = 150
STOP_CHECK_SECONDS = 0.5  # the stop flag costs a scheduler round trip: at most this often
SUMMARY_WIDTH = 100
WORKER_NICENESS = 10
PACE_SECONDS = 60.0  # the pace of a training: epochs per second over about the last minute
GLIDE_SECONDS = 20.0  # the time-left figure moves to a new estimate over about this long


class TimeLeft:
    """One time-left figure per training, from its own pace, the same for every viewer.

    None until two epochs after the first have been measured (the first epoch also pays
    for tracing the graph). The pace is taken over about the last minute, never less than
    two epochs; the figure then counts down like a clock and glides towards each new
    estimate, so that one fast or slow chunk of epochs does not make it jump."""

    def __init__(self) -> None:
        self.marks: deque[tuple[float, int]] = deque()  # (time, epochs done)
        self.figure: float | None = None
        self.at = 0.0

    def update(self, now: float, done: int, total: int) -> float | None:
        """The figure after `done` of `total` epochs at time `now` (seconds, monotonic)."""
        marks = self.marks
        marks.append((now, done))
        while len(marks) > 2 and now - marks[1][0] > PACE_SECONDS and done - marks[1][1] >= 2:
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


def train_task(spec_dicts: list[dict], cache: str, task: str) -> list[str]:
    """Run or load every spec, publishing the records so far and the time left to the
    scheduler; stop (core.training.Cancelled) once the engine sets this task's stop flag."""
    from distributed import get_client, get_worker

    from core.runner import execute, run_key
    from core.training import Cancelled

    os.environ[CACHE_ENV] = cache  # uploads and downloads live in the client's cache folder
    client, worker = get_client(), get_worker()
    specs = [ExperimentSpec.from_dict(d) for d in spec_dicts]
    planned = {run_key(s): s.epochs for s in specs}
    records: dict[str, list[dict]] = {}
    clock = TimeLeft()
    last = {"check": -math.inf, "publish": -math.inf, "done": 0, "left": None}

    def should_stop() -> bool:
        now = time.monotonic()
        if now - last["check"] < STOP_CHECK_SECONDS:
            return False
        last["check"] = now
        return bool(client.get_metadata([META, "stop", task], False))

    def publish() -> None:
        runs = board(records)
        client.set_metadata([META, "progress", task], {"runs": runs, "seconds_left": last["left"]})

    def progress(key: str, record: dict) -> None:
        records.setdefault(key, []).append(record)
        last["done"] = max(last["done"], record["epoch"])  # fused runs advance together
        now = time.monotonic()
        if now - last["publish"] >= PUBLISH_SECONDS:
            last["publish"] = now
            last["left"] = clock.update(now, last["done"], max(planned[k] for k in records))
            publish()

    untrained: dict[str, dict] = {}

    def start(key: str, snapshot: dict) -> None:
        untrained[key] = snapshot  # the first picture, long before the first epoch
        client.set_metadata([META, "untrained", task], untrained)

    if should_stop():  # withdrawn while it waited for this worker: not even the data
        raise Cancelled("training was cancelled before it started")
    client.set_metadata([META, "started", task], time.time())
    started = time.time()
    results = execute(specs, RunStore(cache), on_progress=progress, should_stop=should_stop,
                      on_start=start)  # fmt: skip
    last["left"] = 0.0
    publish()
    ended = time.time()
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


def warm_up() -> str:
    """Import TensorFlow in a fresh worker before anyone waits for it, then warm, in a
    background thread, the loops a class asks for first (core.training keeps a process's
    loops by layout): every offline dataset's default comparison, and what moving one of
    its strength sliders retrains. A first Run, or a slider's move, then trains at once.

    Off the request path: the thread starts a layout only while no training runs in this
    process, and a training never waits for it (another layout is another loop; the one
    being warmed would take no less to trace again). A request arriving meanwhile shares
    the CPU with that one layout's warming, a second or two at most."""
    import threading

    from core.runtime import device_name

    name = device_name()
    threading.Thread(target=_pretrace_defaults, name="pretrace", daemon=True).start()
    return name


def _pretrace_defaults() -> None:
    from core import datasets
    from core.comparison import DEFAULT_DATASET, Comparison
    from core.training import pretrace

    offline = [name for name, entry in datasets.registry().items() if entry.source != "download"]
    for name in sorted(offline, key=lambda n: n != DEFAULT_DATASET):  # the app's default first
        comparison = Comparison(dataset=name)
        specs = [spec for _, spec in comparison.labelled_specs()]
        data = datasets.for_spec(specs[0])
        pretrace(specs, data)
        for knob in comparison.shown_strengths():
            moved = comparison.with_value(knob, _another(knob, comparison.value(knob)))
            pretrace([spec for _, spec in moved.labelled_specs() if spec not in specs], data)


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
