"""The job engine: training runs on Dask distributed, never in the web server's threads.

- By default an embedded cluster: one training worker process per GPU (each sees one GPU)
  or one on a CPU-only machine, one task at a time each, plus a light worker that never
  trains, so that one-off tasks (augmentation previews, dataset preparation, model
  summaries) never wait behind a training.
- With a scheduler address ($OVERFITTING_LAB_SCHEDULER, or .streamlit/secrets.toml), an
  existing cluster; its workers must have this project installed and see the same cache.
  Workers started with `--resources training=1` are the only ones that train, and one
  started with `--resources light=1` takes the one-off tasks; without these, any worker
  does either, and a one-off task may wait for a training to end.

A comparison is cut into tasks, one per seed and fusion group. The engine holds them and
releases them to Dask as training slots free up, taking turns between requesters (round
robin): a small request waits for at most one task of a big one. Identical runs in flight
are joined. The engine knows every run key in flight on this server, so any page that
opens a comparison being trained (a reload, a second tab, another student's link) follows
it; the workers' per-key file locks (core.runner) catch requests from other servers.

A task trains while someone waits for it. A requester (a browser session, a command line)
waits for a task when it asks for it, and every call that names it with the task's keys
(a page polling the progress, a session's heartbeat, the command line's loop) renews that
for one lease; a requester that stops calling (a closed or reloaded tab) lapses after it.
Cancel withdraws one requester, whose polls then no longer count until it asks again. A
task nobody waits for any more stops, and its worker takes the next.

Workers publish progress, their time left, and read their stop flag in the scheduler's
metadata store. The engine's lock guards its own bookkeeping only: every call to the
scheduler happens outside it, so a page polling progress never waits on another's.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import logging
import math
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core import config, machine
from core.cache import cache_root
from core.config import SCHEDULER_ENV as SCHEDULER_ENV  # ui/engine.py reads its name here
from core.report import count
from core.spec import ExperimentSpec
from core.worker import (
    META,
    TRAININGS_TOPIC,
    augment_task,
    describe_task,
    embedded_worker_setup,
    prepare_task,
    stop_heartbeat,
    train_task,
    warm_asked,
    warm_up,
)

KEEP_RECENT = 64  # stopped runs' curves, failures, ended tasks: the newest are kept
TRAINING, LIGHT = "training", "light"  # Dask resources: workers that train; the one-off one
ONE_OFF_PRIORITY = 100  # ahead of anything queued on a worker that does both
SHAPE_SECONDS = 5.0  # how long an external cluster's count of training slots is trusted
LEASE_SECONDS = 60.0  # a requester that has not called for this long no longer waits
LEASE_CHECK_SECONDS = 1.0  # how often lapsed requesters are looked for
# Closing waits this long for stopped trainings to end, and for each worker process to exit
# (TensorFlow's own teardown takes seconds; Dask's nanny kills a worker still alive at 4 s).
CLOSE_SECONDS = 30.0
CONNECT_SECONDS = 20  # a scheduler that has not answered by then is reported unreachable
CORNERS = ("progress", "started", "stop", "untrained")  # a task's entries on the scheduler
log = logging.getLogger(__name__)


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


@dataclass(eq=False)
class Task:
    """One task: the runs it trains, who waits for it, and where it is."""

    id: str
    specs: dict[str, ExperimentSpec]  # run key -> spec
    cache: str  # the cache folder of whoever asked first
    about: dict[str, Any] = field(default_factory=dict)  # what the pages say about it
    warm: tuple[tuple[ExperimentSpec, ...], ...] = ()  # comparisons its worker warms next
    # who waits for it -> when that lapses (time.monotonic()), in the order they came
    requesters: dict[str, float] = field(default_factory=dict)
    withdrawn: set[str] = field(default_factory=set)  # pressed Cancel: their polls don't count
    released: bool = False  # handed to Dask (it holds a training slot until it ends)
    stopping: bool = False  # nobody waits for it any more: told to stop
    future: Any = None  # once released

    @property
    def keys(self) -> list[str]:
        return list(self.specs)

    @property
    def owner(self) -> str:
        """Whose turn in the fair queue it takes: the first requester still waiting."""
        return next(iter(self.requesters), "")


@dataclass(frozen=True)
class Watch:
    """What a page shows about some run keys that are in flight right now."""

    records: dict[str, list[dict]]  # run key -> epoch records so far
    untrained: dict[str, dict]  # run key -> probe snapshot of the untrained network
    running: int  # runs of these keys training now
    queued: int  # runs of these keys waiting for a worker
    ahead: int  # runs of other requests on the workers or queued before these queued ones
    seconds_left: float | None  # until the running ones end, from the workers; None: estimating
    tasks: tuple[str, ...]
    requesters: int = 0  # how many requesters wait for these runs
    mine: bool = False  # the requester watching waits for them (it has not pressed Cancel)
    starting: int = 0  # runs handed to a worker that has not begun them yet


@dataclass(frozen=True)
class Status:
    """What became of some runs: the one status of the engine, answered without asking the
    scheduler."""

    pending: tuple[str, ...] = ()  # run keys in flight: queued or training
    failed: dict[str, str] = field(default_factory=dict)  # run key -> why its training failed
    # run key -> its curves when it was stopped (one stopped before its first epoch has none)
    cancelled: dict[str, list[dict]] = field(default_factory=dict)
    # pending keys the requester asked about withdrew from (Cancel) while others wait
    withdrawn: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """pending | failed | cancelled | finished (what it is not told about is finished:
        the cache has it, or it never was asked for)."""
        if self.pending:
            return "pending"
        return "failed" if self.failed else "cancelled" if self.cancelled else "finished"

    @property
    def error(self) -> str | None:
        return next(iter(self.failed.values()), None)


class JobEngine:
    """Shared by every session of the web app: thread-safe, started on first use."""

    def __init__(
        self, address: str | None = None, workers: int | None = None, lease: float = LEASE_SECONDS
    ):
        self.address = address or config.current().scheduler
        self.workers = workers or config.current().workers
        self.lease = lease
        self._client = None
        self._cluster = None
        self._closed = False
        self._connecting = threading.Lock()  # held while a cluster starts (seconds)
        self._lock = threading.Lock()  # the bookkeeping below; never held across a Dask call
        self._tasks: dict[str, Task] = {}  # every task held or running, in submit order
        self._by_key: dict[str, str] = {}  # run key in flight -> its task
        self._served: dict[str, int] = {}  # requester with tasks -> its last turn
        self._turns = itertools.count()
        self._cancelled = _Recent()  # run key -> its curves when it was stopped
        self._errors = _Recent()  # run key -> why its training failed
        self._shape: tuple[int, dict | None, dict | None] | None = None
        self._shape_at = -math.inf
        self._ending = None  # distributed.as_completed: the released tasks, as they end
        self._wake = threading.Event()  # a task was released: follow it too
        self._closing = threading.Event()

    @property
    def started(self) -> bool:
        return self._client is not None

    @property
    def client(self):
        if self._client is None:
            with self._connecting:
                if self._closed:
                    raise RuntimeError("the job engine is closed")
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self):
        from distributed import as_completed

        # Closed before Dask's own exit handlers run (atexit runs the newest first): a
        # client left to the garbage collector at exit logs "IOLoop is closed".
        atexit.register(self.close)
        client = _reach(self.address) if self.address else self._embedded()
        self._ending = as_completed(loop=client.loop)
        threading.Thread(target=self._follow, name="job-engine", daemon=True).start()
        threading.Thread(target=self._expire, name="job-engine-leases", daemon=True).start()
        return client

    def _embedded(self):
        """A client of a fresh embedded cluster, its workers set up and warming up."""
        from distributed import Client, fire_and_forget

        gpus = len(machine.gpu_names())
        trainers = self.workers or max(1, gpus)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # inherited by the workers
        self._cluster = _embedded_cluster(trainers, gpus)
        client = Client(self._cluster)
        client.register_plugin(embedded_worker_setup())
        self._shape, self._shape_at = (trainers, {TRAINING: 1}, {LIGHT: 1}), math.inf
        for address, worker in client.scheduler_info()["workers"].items():
            trains = TRAINING in worker.get("resources", {})  # the light one only imports
            fire_and_forget(client.submit(warm_up, trains, pure=False, workers=[address]))
        return client

    # --- submitting and withdrawing -------------------------------------------------------

    def submit(
        self,
        specs: Sequence[ExperimentSpec],
        keys: Sequence[str],
        about: dict | None,
        requester: str,
        warm: Sequence[Sequence[ExperimentSpec]] = (),
    ) -> list[str]:
        """Queue the training of every spec not in flight, one task per seed and fusion
        group, and join the tasks already training the others; returns the ids of every
        task these keys wait for. `warm`: the comparisons (spec lists) a page expects to be
        asked for next, whose loops the worker traces once it has trained these
        (core.worker.warm_soon)."""
        with self._lock:
            groups: dict[tuple, dict[str, ExperimentSpec]] = {}
            for key, spec in zip(keys, specs, strict=True):
                task = self._live(key)
                if task is not None:
                    task.withdrawn.discard(requester)  # asking again: waits again
                    self._wait_for(task, requester)
                else:
                    groups.setdefault((spec.seed, spec.fusion_group()), {})[key] = spec
            for fresh in groups.values():
                self._hold(fresh, about or {}, requester, tuple(map(tuple, warm)))
            for key in keys:
                self._cancelled.pop(key, None)
                self._errors.pop(key, None)
            ids = self._ids_of(keys)
        self._release()
        return ids

    def warm(self, specs: Sequence[ExperimentSpec]) -> str | None:
        """A page shows runs nobody has trained: ask the training workers to trace the loop
        Run would train them in while they idle (core.worker.warm_asked), so that Run, if it
        comes, trains at once. Off the page's path: it never starts a cluster and never
        waits for one. Returns the ask's id, which the WARMED_TOPIC event names."""
        if not specs or not self.started or self._closed:
            return None
        ask = f"ask-{uuid.uuid4().hex[:12]}"
        dicts = [s.to_dict() for s in specs]
        threading.Thread(target=self._ask_to_warm, args=(dicts, ask), name="warm-ask",
                         daemon=True).start()  # fmt: skip
        return ask

    def _ask_to_warm(self, spec_dicts: list[dict], ask: str) -> None:
        try:
            workers = self.client.scheduler_info()["workers"]
            trainers = [a for a, w in workers.items() if TRAINING in (w.get("resources") or {})]
            self.client.run(warm_asked, spec_dicts, ask, workers=trainers or list(workers),
                            on_error="ignore")  # fmt: skip
        except Exception as exc:  # a guess: the scheduler may be gone, Run will say so
            log.info("asking the workers to warm a loop failed: %s", exc)

    def _release(self) -> None:
        """Release what the queue allows; before the first connection, on a thread of its
        own (an embedded cluster takes seconds to start, and a page shows its runs starting
        meanwhile, with Cancel, instead of a Run button that seems not to have worked)."""
        if self.started:
            self._dispatch()
        else:
            threading.Thread(target=self._connect_and_release, name="job-engine-start",
                             daemon=True).start()  # fmt: skip

    def _connect_and_release(self) -> None:
        try:
            self._dispatch()
        except Exception as exc:  # no cluster to talk to: the runs fail, saying so
            why = f"the job engine cannot be reached ({_message(exc)})"
            with self._lock:
                for task in [t for t in self._tasks.values() if not t.released]:
                    for key in task.keys:
                        self._errors.put(key, why)
                    self._end(task)

    def _hold(self, fresh: dict[str, ExperimentSpec], about: dict, requester: str,
              warm: tuple[tuple[ExperimentSpec, ...], ...]) -> None:  # fmt: skip
        digest = hashlib.sha256(",".join(sorted(fresh)).encode()).hexdigest()[:16]
        # A fresh Dask key every time, unique across engines and processes: reusing one would
        # hand back an old result, without training, for a run deleted from the cache since,
        # or find an old task's stop flag still on the scheduler (an engine closed before it
        # cleared it) and stop at once.
        task = Task(f"train-{digest}-{uuid.uuid4().hex[:16]}", dict(fresh),
                    str(cache_root()), dict(about), warm)  # fmt: skip
        self._wait_for(task, requester)
        self._tasks[task.id] = task
        for key in fresh:
            self._by_key[key] = task.id

    def withdraw(self, keys: Sequence[str], requester: str) -> list[str]:
        """This requester no longer waits for these runs, and its polls no longer count
        until it asks again; returns the tasks it withdrew from. A task nobody waits for
        any more stops."""
        with self._lock:
            tasks = [self._tasks[t] for t in self._ids_of(keys)]
            for task in tasks:
                task.requesters.pop(requester, None)
                task.withdrawn.add(requester)
            stopping = self._orphans(tasks)
        self._stop(stopping)
        return [t.id for t in tasks]

    def keep(self, tasks: Sequence[str], requester: str) -> None:
        """This requester still waits for these tasks (a session's heartbeat, from any page,
        for the trainings it asked for), unless it withdrew from them."""
        with self._lock:
            for task in map(self._tasks.get, tasks):
                if task is not None and not task.stopping:
                    self._wait_for(task, requester)

    def _wait_for(self, task: Task, requester: str | None) -> None:
        """The requester waits for the task for one more lease (the lock is held)."""
        if requester is not None and requester not in task.withdrawn:
            task.requesters[requester] = time.monotonic() + self.lease

    def _expire(self) -> None:
        """The engine's second thread: requesters that stopped calling lapse, and the tasks
        nobody waits for any more stop."""
        while not self._closing.wait(LEASE_CHECK_SECONDS):
            now = time.monotonic()
            with self._lock:
                live = [t for t in self._tasks.values() if not t.stopping]
                for task in live:
                    for requester, until in list(task.requesters.items()):
                        if until < now:
                            del task.requesters[requester]
                stopping = self._orphans(live)
            self._stop(stopping)

    def _orphans(self, tasks: Sequence[Task]) -> list[Task]:
        """Of these tasks, mark those nobody waits for as stopping: a queued one is dropped
        at once; the running ones are returned, to be stopped (the lock is held)."""
        running = []
        for task in tasks:
            if task.requesters or task.stopping:
                continue
            task.stopping = True
            if task.released:
                running.append(task)
            else:  # never reached a worker: nothing trained, which the page says
                self._keep_cancelled(task, {})
                self._end(task)
        return running

    def _stop(self, tasks: Sequence[Task]) -> None:
        """Tell running tasks to stop (the lock is not held: this asks the scheduler). Their
        curves so far stay for the pages; each ends within an epoch or two, nothing of it
        cached, and its worker takes the next task."""
        for task in tasks:
            runs = (self._metadata("progress", task.id) or {}).get("runs", {})
            with self._lock:
                self._keep_cancelled(task, runs)
                self._untrack(task)
            self._set_metadata("stop", task.id, True)

    def _keep_cancelled(self, task: Task, runs: dict[str, list[dict]]) -> None:
        """Each of a stopped task's runs, with its curves so far (none before its first
        epoch), for the pages that ask (the lock is held)."""
        for key in task.keys:
            self._cancelled.put(key, runs.get(key, []))

    # --- the fair queue ---------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Release queued tasks to Dask while training slots are free, taking turns."""
        with self._lock:
            if self._closing.is_set() or all(t.released for t in self._tasks.values()):
                return
        slots, resources, _ = self._cluster_shape()  # may ask the scheduler: not locked
        with self._lock:
            free = slots - sum(t.released for t in self._tasks.values())
            chosen = self._queue()[: max(0, free)]
            for task in chosen:
                task.released = True
                self._served[task.owner] = next(self._turns)
        for task in chosen:
            future = self.client.submit(
                train_task, [s.to_dict() for s in task.specs.values()], task.cache, task.id,
                [[s.to_dict() for s in specs] for specs in task.warm],
                key=task.id, pure=False, retries=0, resources=resources,
            )  # fmt: skip
            task.future = future
            self._ending.add(future)
            self._wake.set()

    def _follow(self) -> None:
        """The engine's own thread: as released tasks end, it records how and releases the
        next ones (Dask's done-callbacks would fail at interpreter exit, with a traceback)."""
        while not self._closed:
            self._wake.clear()
            for future in self._ending:  # until every released task has ended
                self._on_done(future)
            self._wake.wait()

    def _queue(self) -> list[Task]:
        """The tasks not yet released, in the order the fair queue releases them."""
        served = dict(self._served)
        turns = itertools.count(max(served.values(), default=0) + 1)  # after every real one
        waiting = [t for t in self._tasks.values() if not t.released]
        order = []
        while waiting:
            # The requester served longest ago (or never) first; its oldest task first.
            task = min(waiting, key=lambda t: served.get(t.owner, -1))
            waiting.remove(task)
            served[task.owner] = next(turns)
            order.append(task)
        return order

    def _cluster_shape(self) -> tuple[int, dict | None, dict | None]:
        """(training slots, a training's Dask resources, a one-off task's): fixed for the
        embedded cluster; for another, read from its workers every few seconds."""
        client = self.client  # connected first: the embedded cluster sets its shape
        if time.monotonic() - self._shape_at < SHAPE_SECONDS:
            return self._shape
        workers = list(client.scheduler_info()["workers"].values())
        has = {kind: [w for w in workers if kind in (w.get("resources") or {})]
               for kind in (TRAINING, LIGHT)}  # fmt: skip
        if has[TRAINING]:
            slots = sum(int(w["resources"][TRAINING]) for w in has[TRAINING])
        else:
            slots = sum(w.get("nthreads", 1) for w in workers)
        self._shape = (max(1, slots), {TRAINING: 1} if has[TRAINING] else None,
                       {LIGHT: 1} if has[LIGHT] else None)  # fmt: skip
        self._shape_at = time.monotonic()
        return self._shape

    def _on_done(self, future) -> None:
        """A released task ended: record how, empty its entries on the scheduler, and give
        its slot to the next in turn."""
        with self._lock:
            task = self._tasks.get(future.key)
            if task is None:
                return
            if not task.stopping and future.status != "finished":
                why = _message(future.exception()) if future.status == "error" else None
                for key in task.keys:
                    self._errors.put(key, why or f"training {future.status}")
            self._end(task)
        if self._closed:
            return
        try:
            # Dask has no way to delete a key; what stays is the task's name, a few bytes.
            for corner in CORNERS:
                self._set_metadata(corner, task.id, None)
            self._dispatch()
        except Exception as exc:  # the scheduler is gone: the next submit or poll retries
            log.warning("the job engine could not release the next task: %s", exc)

    def _end(self, task: Task) -> None:
        """Forget a task (the lock is held)."""
        self._tasks.pop(task.id, None)
        self._untrack(task)
        owners = {t.owner for t in self._tasks.values()}
        for requester in [r for r in self._served if r not in owners]:
            del self._served[requester]  # a requester with nothing queued: first when back

    def _untrack(self, task: Task) -> None:
        for key in task.keys:
            if self._by_key.get(key) == task.id:
                del self._by_key[key]

    # --- watching ---------------------------------------------------------------------------

    def _live(self, key: str) -> Task | None:
        task = self._tasks.get(self._by_key.get(key, ""))
        return task if task is not None and not task.stopping else None

    def _ids_of(self, keys: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(t.id for k in keys if (t := self._live(k)) is not None))

    def inflight(self, keys: Sequence[str]) -> list[str]:
        """The tasks training (or queued to train) any of these keys."""
        with self._lock:
            return self._ids_of(keys)

    def mine(self, tasks: Sequence[str]) -> list[Task]:
        """Those of these tasks still in flight."""
        with self._lock:
            return [t for t in map(self._tasks.get, tasks) if t is not None and not t.stopping]

    def status(self, keys: Sequence[str], requester: str | None = None) -> Status:
        """Which of these runs are in flight (the requester, if named, waits for them unless
        it withdrew), which failed and why, which were stopped (with their curves so far)."""
        with self._lock:
            live = {k: t for k in keys if (t := self._live(k)) is not None}
            for task in set(live.values()):
                self._wait_for(task, requester)
            withdrawn = tuple(k for k, t in live.items() if requester in t.withdrawn)
            return Status(tuple(live), self._errors.pick(keys), self._cancelled.pick(keys),
                          withdrawn)  # fmt: skip

    def watch(self, keys: Sequence[str], requester: str | None = None) -> Watch | None:
        """Progress of the runs of these keys in flight, or None if none is. The requester,
        if named, waits for them (unless it withdrew): a page polling is an open page."""
        wanted = set(keys)
        with self._lock:
            chosen = [self._tasks[t] for t in self._ids_of(keys)]
            if not chosen:
                return None
            for task in chosen:
                self._wait_for(task, requester)
            mine = [(t.id, [k for k in t.keys if k in wanted], t.released) for t in chosen]
            waiting = set().union(*(t.requesters for t in chosen))
            ahead = self._ahead(chosen)
        if self.started:  # (until then, the runs are starting: see _release)
            self._dispatch()  # workers may have joined an external cluster since
        records: dict[str, list[dict]] = {}
        untrained: dict[str, dict] = {}
        running = starting = queued = 0
        lefts: list[float | None] = []
        for task, task_keys, released in mine:
            board = (self._metadata("progress", task) or {}) if released else {}
            runs = board.get("runs", {})
            records |= {k: runs[k] for k in task_keys if runs.get(k)}
            if released and not runs:  # perhaps a picture of the untrained networks
                first_picture = self._metadata("untrained", task) or {}
                untrained |= {k: first_picture[k] for k in task_keys if k in first_picture}
            if runs or (released and self._metadata("started", task)):
                running += len(task_keys)
                lefts.append(board.get("seconds_left"))
            elif released or not self.started:
                starting += len(task_keys)
            else:
                queued += len(task_keys)
        # Running tasks train side by side on their workers: the last to end decides.
        left = max(lefts) if lefts and None not in lefts else None
        return Watch(records, untrained, running, queued, ahead, left,
                     tuple(t[0] for t in mine), len(waiting), requester in waiting,
                     starting)  # fmt: skip

    def _ahead(self, chosen: list[Task]) -> int:
        """Runs of other requests that go before the first queued one of these tasks: those
        holding the workers, and those the fair queue releases first (the lock is held)."""
        queue = self._queue()
        first = next((i for i, t in enumerate(queue) if t in chosen), None)
        if first is None:  # none of them waits in the queue
            return 0
        busy = [t for t in self._tasks.values() if t.released and t not in chosen]
        return sum(len(t.keys) for t in busy + queue[:first])

    def _metadata(self, corner: str, task: str):
        """One task's entry in a corner of the scheduler's metadata (None if it has none):
        a page asks only for the tasks it watches, never for everyone's boards."""
        try:
            return self.client.get_metadata([META, corner, task], None)
        except Exception:  # the scheduler is gone: nothing to show, the page says so
            return None

    def _set_metadata(self, corner: str, task: str, value) -> None:
        with contextlib.suppress(Exception):  # the scheduler may be gone
            self.client.set_metadata([META, corner, task], value)

    def trainings(self) -> list[dict]:
        """One record per run trained by this cluster's workers: its key, task, and the
        task's start and end times."""
        return [event for _, event in self.client.get_events(TRAININGS_TOPIC)]

    # --- one-off work ---------------------------------------------------------------------

    def run(self, function, *args, timeout: float = 600):
        """Run a function on the light worker (where there is one) and wait for its result:
        a training never holds it up."""
        _, _, light = self._cluster_shape()
        future = self.client.submit(function, *args, pure=False, resources=light,
                                    priority=ONE_OFF_PRIORITY)  # fmt: skip
        return future.result(timeout=timeout)

    def describe(self, specs: Sequence[ExperimentSpec]) -> list[dict]:
        return self.run(describe_task, [s.to_dict() for s in specs], str(cache_root()))

    def augment(self, spec: ExperimentSpec, examples, draws: int = 4):
        return self.run(augment_task, spec.to_dict(), examples, draws, str(cache_root()))

    def prepare(self, name: str) -> dict:
        return self.run(prepare_task, name, str(cache_root()), timeout=3600)

    def close(self) -> None:
        """Stop the trainings this engine released, and let them end, so that the workers
        close idle; then the client, and the embedded cluster."""
        self._closing.set()  # nothing more is released, and the lease thread ends
        with self._lock:
            # Those already stopping are waited for too: a worker still training is killed.
            released = [t for t in self._tasks.values() if t.future is not None]
            telling = [t for t in released if not t.stopping]
            for task in telling:
                task.stopping = True
        for task in telling:
            self._set_metadata("stop", task.id, True)
        _let_end([t.future for t in released])
        with self._connecting:
            self._closed = True
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
        self._wake.set()  # the engine's thread ends
        if client is not None and cluster is not None:
            # Dask closes the embedded scheduler while its workers still run their periodic
            # heartbeat: one in flight then logs a traceback (seen on a loaded machine).
            with contextlib.suppress(Exception):
                client.run(stop_heartbeat, on_error="ignore")
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _reach(address: str):
    """A client of the scheduler at this address, or an error within CONNECT_SECONDS. Dask's
    own timeout does not cover a scheduler that accepts the connection and never answers
    (a frozen one): its Client waits for ever, and so would a page or the command line."""
    from distributed import Client

    made: list = []

    def connect() -> None:
        try:
            made.append(Client(address, timeout=f"{CONNECT_SECONDS}s"))
        except Exception as exc:
            made.append(exc)

    thread = threading.Thread(target=connect, name="job-engine-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS + 1)
    if not made:  # the thread stays blocked; a daemon, it ends with the process
        raise TimeoutError(f"no answer from the scheduler within {CONNECT_SECONDS} s")
    if isinstance(made[0], Exception):
        raise made[0]
    return made[0]


def _let_end(futures: list) -> None:
    """Wait for stopped trainings to end. One that does not end in time (a first epoch
    that takes minutes) has its worker killed as the cluster closes: say so in one line,
    so that an operator reading the log knows why Dask warns about killing a process."""
    if not futures:
        return
    from distributed import wait

    # A timeout, or the scheduler gone: either way, count what is still running.
    with contextlib.suppress(Exception):
        wait(futures, timeout=CLOSE_SECONDS)
    alive = sum(not f.done() for f in futures)
    if alive:
        log.warning("%s did not stop within %g s of shutting down; the worker will be "
                    "killed", count(alive, "training"), CLOSE_SECONDS)  # fmt: skip


def _embedded_cluster(trainers: int, gpus: int):
    """Worker processes, not threads: TensorFlow and Keras keep process-global state, and a
    crash in one training must not take the web server down. One task at a time each;
    with several GPUs each trainer sees its own; the light worker sees none."""
    from distributed import Nanny, Scheduler, SpecCluster

    class PatientNanny(Nanny):
        """A worker process that imported TensorFlow takes seconds to exit: wait for it
        rather than kill it (with a warning in the server log) after Dask's 4 s."""

        async def close(self, timeout: float = CLOSE_SECONDS, reason: str = "nanny-close"):
            return await super().close(timeout=timeout, reason=reason)

    memory = 1 / trainers  # a share of the machine's memory, as LocalCluster gives

    def worker(resources: dict, env: dict) -> dict:
        return {"cls": PatientNanny, "options": {
            "host": "127.0.0.1", "nthreads": 1, "memory_limit": memory, "resources": resources,
            "env": env, "dashboard": False, "dashboard_address": None,
            "silence_logs": logging.WARN}}  # fmt: skip

    pin = (lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}) if gpus > 1 else (lambda i: {})
    workers = {f"train-{i}": worker({TRAINING: 1}, pin(i)) for i in range(trainers)}
    workers["light"] = worker({LIGHT: 1}, {"CUDA_VISIBLE_DEVICES": "-1"} if gpus else {})
    # No dashboard; its HTTP server (health checks) on any free port, never a warning
    # that 8787 is taken.
    scheduler = {"cls": Scheduler, "options": {
        "host": "127.0.0.1", "dashboard": False, "dashboard_address": "127.0.0.1:0"}}  # fmt: skip
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.WARN)


def _message(exc: BaseException | None) -> str:
    """One line for a user: the error's own message, without a traceback."""
    if exc is None:
        return "training failed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
