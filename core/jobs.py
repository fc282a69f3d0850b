"""The job engine: training runs on Dask distributed, never in the web server's threads.

- By default an embedded LocalCluster: worker processes, one per GPU (pinned with
  CUDA_VISIBLE_DEVICES) or one on a CPU-only machine, one task at a time each, so the
  number of concurrent trainings is the number of workers and the rest queue.
- With a scheduler address ($OVERFITTING_LAB_SCHEDULER, or .streamlit/secrets.toml), an
  existing cluster; its workers must see the same cache folder.

Identical requests train once: runs already in flight are joined rather than resubmitted,
and the workers' per-key file locks (see core.runner) catch requests from other servers.
A task's Dask key is its run keys' digest plus a counter: reusing a bare digest would hand
back an old result, without training, for a run deleted from the cache since. Progress
streams back through a Dask Variable per task, deleted when the task is done.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import machine
from core.cache import CACHE_ENV, RunStore, cache_root
from core.spec import ExperimentSpec

SCHEDULER_ENV = "OVERFITTING_LAB_SCHEDULER"
WORKERS_ENV = "OVERFITTING_LAB_WORKERS"
TRAININGS_TOPIC = "trainings"  # one event per run actually trained, for operators and tests


# --- what runs on a worker ---------------------------------------------------------------


def train_task(spec_dicts: list[dict], cache: str, task: str) -> list[str]:
    """Run or load every spec, publishing the records so far to the task's Variable."""
    from distributed import Event, Variable, get_worker

    from core.runner import execute

    os.environ[CACHE_ENV] = cache  # uploads and downloads live in the client's cache folder
    worker = get_worker()
    specs = [ExperimentSpec.from_dict(d) for d in spec_dicts]
    cancel, board = Event(f"cancel-{task}"), Variable(f"progress-{task}")
    records: dict[str, list[dict]] = {}
    last = {"check": 0.0, "publish": 0.0}

    def should_stop() -> bool:
        now = time.monotonic()  # one scheduler round-trip at most every half second
        if now - last["check"] < 0.5:
            return False
        last["check"] = now
        return cancel.is_set()

    def progress(key: str, record: dict) -> None:
        records.setdefault(key, []).append(record)
        now = time.monotonic()
        if now - last["publish"] >= 0.3:
            last["publish"] = now
            board.set(records)

    started = time.time()
    results = execute(specs, RunStore(cache), on_progress=progress, should_stop=should_stop)
    board.set(records)
    ended = time.time()
    for result in results:
        if not result.cached:
            worker.log_event(
                TRAININGS_TOPIC,
                {"key": result.run.key, "task": task, "start": started, "end": ended},
            )
    return [r.run.key for r in results]


def describe_task(spec_dicts: list[dict], cache: str) -> list[dict]:
    """Keras's own summary and parameter count of each spec's model."""
    from core import datasets
    from core.models import build_model
    from core.training import tf_runtime

    os.environ[CACHE_ENV] = cache
    tf_runtime()
    out = []
    for raw in spec_dicts:
        spec = ExperimentSpec.from_dict(raw)
        model = build_model(spec, datasets.info(spec.dataset))
        lines: list[str] = []
        model.summary(
            print_fn=lambda line, *a, _lines=lines, **k: _lines.append(line), line_length=100
        )
        out.append({"summary": "\n".join(lines), "params": int(model.count_params())})
    return out


def augment_task(spec_dict: dict, images, draws: int, cache: str):
    """The training-time augmentation of a spec applied to some images, `draws` times."""
    import numpy as np

    from core import datasets
    from core.models import augmentation_layers
    from core.training import tf_runtime

    os.environ[CACHE_ENV] = cache
    tf = tf_runtime()
    spec = ExperimentSpec.from_dict(spec_dict)
    layers = augmentation_layers(spec, datasets.info(spec.dataset))
    out = []
    for _ in range(draws):
        x = tf.constant(np.asarray(images, np.float32))
        for layer in layers:
            x = layer(x, training=True)
        out.append(np.clip(np.round(np.asarray(x)), 0, 255).astype(np.uint8))
    return np.stack(out, axis=1)  # [image, draw, ...]


def prepare_task(name: str, cache: str) -> dict:
    """Load a dataset once on a worker: image folders and IMDB need Keras the first time,
    and then leave a plain .npz that the web server reads without it."""
    from core import datasets

    os.environ[CACHE_ENV] = cache
    return datasets.load(name).sizes()


def warm_up() -> str:
    """Import TensorFlow in a fresh worker before anyone waits for it."""
    from core.training import device_name

    return device_name()


# --- the client side ----------------------------------------------------------------------


@dataclass
class Job:
    """One user's request: the runs they asked for, and the tasks computing them."""

    id: str
    keys: list[str]
    tasks: dict[str, Any]  # Dask key -> Future
    engine: JobEngine
    cancelled: bool = False

    def progress(self) -> dict[str, list[dict]]:
        """Per run key, the epoch records received so far."""
        out: dict[str, list[dict]] = {}
        for task in self.tasks:
            for key, records in self.engine.progress(task).items():
                if key in self.keys:
                    out[key] = records
        return out

    def status(self) -> str:
        """pending | finished | cancelled | error (pending: queued or training; progress()
        tells which)."""
        states = [f.status for f in self.tasks.values()]
        if self.cancelled or "cancelled" in states:
            return "cancelled"
        if "error" in states or "lost" in states:
            return "error"
        if all(s == "finished" for s in states):
            return "finished"
        return "pending"

    def error(self) -> str | None:
        for future in self.tasks.values():
            if future.status == "error":
                exc = future.exception()
                return f"{type(exc).__name__}: {exc}" if exc else "training failed"
        return None

    def done(self) -> bool:
        return self.status() in ("finished", "cancelled", "error")

    def cancel(self) -> None:
        self.cancelled = True
        self.engine.release(self)


class JobEngine:
    """Shared by every session of the web app: thread-safe, started on first use."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address or os.environ.get(SCHEDULER_ENV) or None
        self.workers = workers or int(os.environ.get(WORKERS_ENV, "0") or 0) or None
        self._client = None
        self._cluster = None
        self._lock = threading.RLock()
        self._inflight: dict[str, tuple[str, Any]] = {}  # run key -> (Dask key, Future)
        self._followers: dict[str, set[str]] = {}  # Dask key -> ids of jobs following it
        self._ids = itertools.count(1)

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.address:
            return Client(self.address, timeout="20s")
        gpus = machine.gpu_names()
        workers = self.workers or max(1, len(gpus))
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # inherited by the workers
        # Worker processes, not threads: TensorFlow and Keras keep process-global state,
        # and a crash in one training must not take the web server down.
        self._cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        )
        client = Client(self._cluster)
        client.register_plugin(_background_priority())
        if len(gpus) > 1:
            client.register_plugin(_gpu_pinning(len(gpus)))
        # Keep the futures: Dask forgets a task nobody holds.
        self._warm = [
            client.submit(warm_up, pure=False, workers=[address])
            for address in client.scheduler_info()["workers"]
        ]
        return client

    def submit(self, specs: Sequence[ExperimentSpec], keys: Sequence[str]) -> Job:
        """Start (or join) the training of every spec not yet in the cache."""
        with self._lock:
            job = Job(
                id=f"job-{next(self._ids)}",
                keys=list(keys),
                tasks={},
                engine=self,
            )
            self._forget_finished()
            fresh: dict[str, ExperimentSpec] = {}
            for key, spec in zip(keys, specs, strict=True):
                running = self._inflight.get(key)
                if running and not running[1].done():
                    job.tasks[running[0]] = running[1]
                elif key not in fresh:
                    fresh[key] = spec
            if fresh:
                digest = hashlib.sha256(",".join(sorted(fresh)).encode()).hexdigest()[:16]
                task = f"train-{digest}-{next(self._ids)}"
                future = self.client.submit(
                    train_task,
                    [s.to_dict() for s in fresh.values()],
                    str(cache_root()),
                    task,
                    key=task,
                    pure=False,
                    retries=0,
                )
                job.tasks[task] = future
                for key in fresh:
                    self._inflight[key] = (task, future)
            for task in job.tasks:
                self._followers.setdefault(task, set()).add(job.id)
            return job

    def _forget_finished(self) -> None:
        finished = set()
        for key, (task, future) in list(self._inflight.items()):
            if future.done():
                del self._inflight[key]
                self._followers.pop(task, None)
                finished.add(task)
        from distributed import Variable

        for task in finished:  # a long-lived server must not keep every old progress board
            Variable(f"progress-{task}", client=self.client).delete()

    def release(self, job: Job) -> None:
        """A job no longer wants its tasks; a task nobody follows is cancelled."""
        from distributed import Event

        with self._lock:
            for task, future in job.tasks.items():
                followers = self._followers.get(task, set())
                followers.discard(job.id)
                if not followers and not future.done():
                    Event(f"cancel-{task}", client=self.client).set()
                    future.cancel()

    def progress(self, task: str) -> dict[str, list[dict]]:
        """The records a task has published so far, by run key."""
        from distributed import Variable

        try:
            return Variable(f"progress-{task}", client=self.client).get(timeout=0.05)
        except TimeoutError:
            return {}

    def trainings(self) -> list[dict]:
        """One record per run trained by this cluster's workers: its key, task, and the
        task's start and end times."""
        return [event for _, event in self.client.get_events(TRAININGS_TOPIC)]

    def run(self, function, *args, timeout: float = 600):
        """Run a function on a worker and wait for its result."""
        return self.client.submit(function, *args, pure=False).result(timeout=timeout)

    def describe(self, specs: Sequence[ExperimentSpec]) -> list[dict]:
        return self.run(describe_task, [s.to_dict() for s in specs], str(cache_root()))

    def augment(self, spec: ExperimentSpec, images, draws: int = 4):
        return self.run(augment_task, spec.to_dict(), images, draws, str(cache_root()))

    def prepare(self, name: str) -> dict:
        return self.run(prepare_task, name, str(cache_root()), timeout=3600)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None


WORKER_NICENESS = 10


def _background_priority():
    """A worker plugin: trainings yield the CPU to the web server on the same machine, so
    pages stay quick while a class trains; idle cycles still all go to training."""
    from distributed import WorkerPlugin

    class Background(WorkerPlugin):
        name = "background-priority"

        def setup(self, worker) -> None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICENESS)

    return Background()


def _gpu_pinning(count: int):
    """A worker plugin: each worker sees one GPU, chosen by its name (0, 1, ...), before
    TensorFlow is imported there."""
    from distributed import WorkerPlugin

    class PinGPU(WorkerPlugin):
        name = "pin-gpu"

        def setup(self, worker) -> None:
            try:
                index = int(worker.name) % count
            except (TypeError, ValueError):
                index = 0
            os.environ["CUDA_VISIBLE_DEVICES"] = str(index)

    return PinGPU()
