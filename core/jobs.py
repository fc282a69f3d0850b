"""The job engine: training runs on Dask distributed, never in the web server's threads.

- By default an embedded LocalCluster: worker processes, one per GPU (pinned with
  CUDA_VISIBLE_DEVICES) or one on a CPU-only machine, one task at a time each, so the
  number of concurrent trainings is the number of workers and the rest queue.
- With a scheduler address ($OVERFITTING_LAB_SCHEDULER, or .streamlit/secrets.toml), an
  existing cluster; its workers must have this project installed and see the same cache.

A comparison is cut into tasks, one per seed and fusion group, so a cluster spreads it over
its workers. The engine knows every run key in flight on this server, so any session that
opens a comparison being trained (a reload, a second tab, another student's link) follows
it. Identical requests train once: runs in flight are joined, and the workers' per-key file
locks (core.runner) catch requests from other servers.

Workers publish progress, and read cancel flags, in the scheduler's metadata store: a read
of a key not yet written answers a default instead of raising, so the server log stays
free of timeouts.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core import config, machine
from core.cache import cache_root
from core.config import SCHEDULER_ENV as SCHEDULER_ENV  # ui/engine.py reads its name here
from core.spec import ExperimentSpec
from core.worker import (
    META,
    TRAININGS_TOPIC,
    augment_task,
    background_priority,
    describe_task,
    gpu_pinning,
    prepare_task,
    train_task,
    warm_up,
)

KEEP_RECENT = 64  # cancelled runs' curves, failures, ended tasks: the newest are kept


# --- the client side ----------------------------------------------------------------------


class _Recent(OrderedDict):
    """The newest KEEP_RECENT entries: what a long-lived server remembers of runs and
    tasks that have ended, without growing for ever."""

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > KEEP_RECENT:
            self.popitem(last=False)

    def pick(self, keys: Sequence[str]) -> dict[str, Any]:
        return {k: self[k] for k in keys if k in self}


@dataclass
class Task:
    """One task: the runs it trains, who asked, and when."""

    id: str
    keys: list[str]
    epochs: dict[str, int]  # run key -> epochs planned
    future: Any
    about: dict[str, Any] = field(default_factory=dict)  # what the pages say about it
    submitted: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Watch:
    """What a page shows about some run keys that are training right now."""

    records: dict[str, list[dict]]  # run key -> epoch records so far
    untrained: dict[str, dict]  # run key -> probe snapshot of the untrained network
    running: int  # runs of these keys training now
    queued: int  # runs of these keys waiting for a worker
    ahead: int  # runs of other requests in the queue before them
    seconds_left: float | None  # for the epochs of the running runs, from their own pace
    tasks: tuple[str, ...]


class JobEngine:
    """Shared by every session of the web app: thread-safe, started on first use."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address or config.current().scheduler
        self.workers = workers or config.current().workers
        self._client = None
        self._cluster = None
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}  # every task not yet forgotten, in submit order
        self._by_key: dict[str, str] = {}  # run key in flight -> its task
        self._cancelled = _Recent()  # run key -> its partial curves
        self._errors = _Recent()  # run key -> why its training failed
        self._ended = _Recent()  # task id -> (status, message): forgotten, not unknown
        self._ids = itertools.count(1)

    @property
    def started(self) -> bool:
        return self._client is not None

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
        client.register_plugin(background_priority())
        if len(gpus) > 1:
            client.register_plugin(gpu_pinning(len(gpus)))
        # Keep the futures: Dask forgets a task nobody holds.
        self._warm = [
            client.submit(warm_up, pure=False, workers=[address])
            for address in client.scheduler_info()["workers"]
        ]
        return client

    # --- submitting ---------------------------------------------------------------------

    def submit(
        self, specs: Sequence[ExperimentSpec], keys: Sequence[str], about: dict | None = None
    ) -> list[str]:
        """Start the training of every spec not already in flight, one task per seed and
        fusion group, and return the ids of every task these keys depend on."""
        with self._lock:
            self._forget_finished()
            groups: dict[tuple, dict[str, ExperimentSpec]] = {}
            for key, spec in zip(keys, specs, strict=True):
                if key not in self._by_key:
                    groups.setdefault((spec.seed, spec.fusion_group()), {})[key] = spec
            for fresh in groups.values():
                self._submit_task(fresh, about or {})
            for key in keys:
                self._cancelled.pop(key, None)
                self._errors.pop(key, None)
            return list(dict.fromkeys(self._by_key[k] for k in keys if k in self._by_key))

    def _submit_task(self, fresh: dict[str, ExperimentSpec], about: dict) -> None:
        digest = hashlib.sha256(",".join(sorted(fresh)).encode()).hexdigest()[:16]
        # A fresh Dask key every time: reusing one would hand back an old result, without
        # training, for a run deleted from the cache since.
        task = f"train-{digest}-{next(self._ids)}-{os.getpid()}"
        future = self.client.submit(
            train_task,
            [s.to_dict() for s in fresh.values()],
            str(cache_root()),
            task,
            key=task,
            pure=False,
            retries=0,
        )
        epochs = {k: s.epochs for k, s in fresh.items()}
        self._tasks[task] = Task(task, list(fresh), epochs, future, dict(about))
        for key in fresh:
            self._by_key[key] = task

    def _forget_finished(self) -> None:
        """Drop finished tasks, and empty their entries on the scheduler: a long-lived
        server must not keep every old progress board (Dask has no way to delete a key;
        what stays is the task's name, a few bytes)."""
        for task in [t for t in self._tasks.values() if t.future.done()]:
            del self._tasks[task.id]
            status = task.future.status
            message = _message(task.future.exception()) if status == "error" else None
            self._ended.put(task.id, (status, message))
            for key in task.keys if message else ():
                self._errors.put(key, message)
            for key in task.keys:
                if self._by_key.get(key) == task.id:
                    del self._by_key[key]
            with contextlib.suppress(Exception):  # the scheduler may be gone
                for corner in ("progress", "started", "cancel", "untrained"):
                    self.client.set_metadata([META, corner, task.id], None)

    # --- watching -------------------------------------------------------------------------

    def inflight(self, keys: Sequence[str]) -> list[str]:
        """The tasks training (or queued to train) any of these keys, without starting a
        cluster: a server that never started one has nothing in flight."""
        with self._lock:
            if not self.started:
                return []
            self._forget_finished()
            return list(dict.fromkeys(self._by_key[k] for k in keys if k in self._by_key))

    def mine(self, tasks: Sequence[str]) -> list[Task]:
        """Those of these tasks still in flight."""
        with self._lock:
            self._forget_finished()
            return [self._tasks[t] for t in tasks if t in self._tasks]

    def watch(self, keys: Sequence[str]) -> Watch | None:
        """Progress of the runs of these keys in flight, or None if none is."""
        tasks = self.inflight(keys)
        if not tasks:
            return None
        wanted = set(keys)
        records: dict[str, list[dict]] = {}
        untrained: dict[str, dict] = {}
        running = queued = 0
        seconds = 0.0
        with self._lock:
            chosen = [self._tasks[t] for t in tasks if t in self._tasks]
        for task in chosen:
            board = self._metadata("progress", task.id) or {}
            mine = [k for k in task.keys if k in wanted]
            records |= {k: board[k] for k in mine if board.get(k)}
            if not board:  # nothing trained yet: perhaps a picture of the untrained networks
                first = self._metadata("untrained", task.id) or {}
                untrained |= {k: first[k] for k in mine if k in first}
            if board or self._metadata("started", task.id):
                running += len(mine)
                seconds += _seconds_left(task, board)
            else:
                queued += len(mine)
        return Watch(records, untrained, running, queued, self._ahead(chosen),
                     seconds if running else None, tuple(tasks))  # fmt: skip

    def _ahead(self, tasks: list[Task]) -> int:
        """Runs of other requests submitted earlier and not yet finished: the queue in
        front of the first of these tasks."""
        if not tasks:
            return 0
        first = min(t.submitted for t in tasks)
        ids = {t.id for t in tasks}
        with self._lock:
            return sum(
                len(t.keys)
                for t in self._tasks.values()
                if t.id not in ids and t.submitted < first and not t.future.done()
            )

    def _metadata(self, corner: str, task: str):
        """One task's entry in a corner of the scheduler's metadata (None if it has none):
        a page asks only for the tasks it watches, never for everyone's boards."""
        try:
            return self.client.get_metadata([META, corner, task], None)
        except Exception:  # the scheduler is gone: nothing to show, the page says so
            return None

    def _ending(self, task: str) -> tuple[str, str | None]:
        """(status, message) of a task in flight or, once forgotten, as it ended."""
        if task in self._tasks:
            future = self._tasks[task].future
            failed = future.status == "error"
            return future.status, _message(future.exception()) if failed else None
        return self._ended.get(task, ("finished", None))

    def status(self, tasks: Sequence[str]) -> str:
        """finished | error | cancelled | pending, over some tasks."""
        with self._lock:
            states = [self._ending(t)[0] for t in tasks]
        if "error" in states or "lost" in states:
            return "error"
        if "cancelled" in states:
            return "cancelled"
        return "finished" if all(s == "finished" for s in states) else "pending"

    def error(self, tasks: Sequence[str]) -> str | None:
        """Why the first failed one of these tasks failed."""
        with self._lock:
            return next((m for m in (self._ending(t)[1] for t in tasks) if m), None)

    def errors(self, keys: Sequence[str]) -> dict[str, str]:
        """Why the latest training of these keys failed, for those that did."""
        with self._lock:
            if self.started:
                self._forget_finished()
            return self._errors.pick(keys)

    def cancel(self, keys: Sequence[str]) -> None:
        """Stop the tasks training these keys, keeping what they had drawn so far."""
        with self._lock:
            tasks = self.inflight(keys)
            for task_id in tasks:
                task = self._tasks[task_id]
                for key, records in (self._metadata("progress", task_id) or {}).items():
                    self._cancelled.put(key, records)
                for key in task.keys:
                    self._by_key.pop(key, None)
                self.client.set_metadata([META, "cancel", task_id], True)
                task.future.cancel()

    def cancelled(self, keys: Sequence[str]) -> dict[str, list[dict]]:
        """The partial curves of cancelled runs of these keys."""
        with self._lock:
            return self._cancelled.pick(keys)

    def trainings(self) -> list[dict]:
        """One record per run trained by this cluster's workers: its key, task, and the
        task's start and end times."""
        return [event for _, event in self.client.get_events(TRAININGS_TOPIC)]

    # --- one-off work ---------------------------------------------------------------------

    def run(self, function, *args, timeout: float = 600):
        """Run a function on a worker and wait for its result."""
        return self.client.submit(function, *args, pure=False).result(timeout=timeout)

    def describe(self, specs: Sequence[ExperimentSpec]) -> list[dict]:
        return self.run(describe_task, [s.to_dict() for s in specs], str(cache_root()))

    def augment(self, spec: ExperimentSpec, examples, draws: int = 4):
        return self.run(augment_task, spec.to_dict(), examples, draws, str(cache_root()))

    def prepare(self, name: str) -> dict:
        return self.run(prepare_task, name, str(cache_root()), timeout=3600)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None


def _message(exc: BaseException | None) -> str:
    """One line for a user: the error's own message, without a traceback."""
    if exc is None:
        return "training failed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _seconds_left(task: Task, board: dict[str, list[dict]]) -> float:
    """The epochs a running task has left, at the pace of its own latest epochs (each
    record's seconds is its share of a fused chunk; fused runs advance together)."""
    if not board:
        return 0.0
    pace = max(
        (sum(r["seconds"] for r in rows[-5:]) / len(rows[-5:]) for rows in board.values() if rows),
        default=0.0,
    )
    done = {k: rows[-1]["epoch"] for k, rows in board.items() if rows}
    # Runs of one fused group share their epochs: the longest one decides.
    return pace * max(task.epochs[k] - done.get(k, 0) for k in task.keys)
