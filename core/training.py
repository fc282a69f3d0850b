"""train(specs, data) -> runs: every variant of a comparison (or every value of a sweep)
trained in one compiled loop, with honest per-epoch records.

How the loop is built:
- fusion: specs that share the data pool, batch size and seed share one loop and one pass
  over the data;
- stacks: within it, branches of one shape train as one stacked network (core.stacked),
  each with its own strengths, switches, optimizer state, training subset and (noisy)
  labels; other shapes (another capacity, another optimizer) are further stacks in the same
  loop. On a CPU, branches of one shape are cut into a stack per core, run side by side.
  Every branch is the same computation as training it alone (up to the rounding of a
  batched matmul), which also runs through this code (a stack of one), and tests pin that
  code to Keras's model.fit;
- no retrace for new values: a loop's graph depends only on its layout (shapes, the stacks'
  layers, which switches and penalties exist, the room for the training pool); strengths,
  data, labels, seeds, training sizes and initial weights are values in its variables.
  Each process keeps its recent loops, traced, by layout, so a comparison that changes a
  strength, or the number of generated points within a power of two, starts at once;
- prefixes: a run of 20 epochs is the first 20 epochs of a run of 80 with the same spec
  (the batch order is a function of the seed and the epoch only), so an epochs sweep, or
  early stopping's patience, trains one branch;
- overhead: many epochs run inside one tf.function call, and Python only wakes up to report
  progress; between steps the loop reads a stop flag, so a cancel ends it within a step;
- divergence: a branch whose loss, weights or measurements stop being finite stops updating;
  its epochs from then on are recorded as None and its run says where it diverged.

What is recorded, per branch and epoch:
- loss / accuracy: the training set (with the labels it trains on, noisy or not)
  re-measured in inference mode at the end of the epoch (Dropout and augmentation off,
  BatchNorm's moving statistics), directly comparable with
- val_loss / val_accuracy: the validation split, same mode;
- test_loss / test_accuracy: the test split, same mode, for reporting only (the final
  score, and early stopping's restored weights); nothing is ever chosen by it;
- fit_loss / fit_accuracy / fit_penalty: running averages during the epoch, in training
  mode (Dropout and augmentation active), as Keras's fit reports them: its printed `loss`
  is fit_loss + fit_penalty;
- penalty: the L1/L2 term at the end of the epoch (Keras's printed `val_loss` is val_loss +
  penalty). The losses above never include it;
- norms: each kernel's L2 norm; and at snapshot epochs, `probe`: the predictions over the
  input plane or line (core.probes).
Per run, the histogram of the final kernel weights.

TensorFlow is imported here, inside functions, never when `core` is imported.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import probes
from core.cache import EPOCH_NUMBERS, Run
from core.datasets.base import Data
from core.runtime import device_name, has_gpu, parallel_stacks, tf_runtime, versions
from core.spec import ExperimentSpec
from core.stacked import (
    STEP_SPACE,
    Design,
    Stack,
    heavy,
    kernel_names,
    parameter_count,
    per_example,
    probabilities,
    stack_key,
)

ORDER_SEED = 1234  # mixed with the spec's seed: each seed its own batch order
EVAL_TRAIN_MAX = 10_000  # inference-mode training metrics use at most this many examples
EVAL_BATCH = 1024
CHUNK_SECONDS = 0.5  # report progress about this often
STOP_POLL_SECONDS = 0.2  # how often a thread asks should_stop() during a compiled call
ROOM_MAX = 16_384  # training pools up to this size may get room to grow (pool_room)
ROOM_WASTE = 0.05  # ...where measuring the room costs at most this much more
MAX_LOOPS = 24  # warm loops a process keeps, ~65 MB each: the offline defaults, then requests
HISTOGRAM_BINS = 40
COLUMNS = len(EPOCH_NUMBERS)  # per branch and epoch, then each kernel's norm, then alive
FIT_COLUMNS = 3  # the first columns, summed over the epoch's steps: loss, accuracy, penalty
TRACES: Counter = Counter()  # how often this process traced each compiled function

OnEpoch = Callable[[int, dict[str, Any]], None]
OnRun = Callable[[int, Run], None]
OnStart = Callable[[int, dict[str, Any]], None]  # (spec index, the untrained probe snapshot)


class Cancelled(RuntimeError):
    """Training stopped because should_stop() said so; nothing was stored."""

    def __init__(self, epochs: int, steps: int):
        super().__init__(f"training was cancelled after {epochs} epochs and {steps} steps")
        self.epochs, self.steps = epochs, steps  # whole epochs done, then steps of the next


def train(
    specs: Sequence[ExperimentSpec],
    data: Data,
    on_epoch: OnEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_run: OnRun | None = None,
    on_start: OnStart | None = None,
) -> list[Run]:
    """Train every spec on `data`, fusing those that can share a loop. Callbacks get the
    index of the spec in `specs`: on_start with the untrained networks' probe predictions
    (2-D and 1-D data: the first picture, before the first step), on_epoch after each
    epoch, on_run when a run is done."""
    results: list[Run | None] = [None] * len(specs)
    for indices in _fusion_groups(specs):

        def report(k: int, record: dict, indices=indices) -> None:
            if on_epoch:
                on_epoch(indices[k], record)

        def start(k: int, snapshot: dict, indices=indices) -> None:
            if on_start:
                on_start(indices[k], snapshot)

        runs = train_fused([specs[i] for i in indices], data, report, should_stop, start)
        for i, run in zip(indices, runs, strict=True):
            results[i] = run
            if on_run:
                on_run(i, run)
    return [r for r in results if r is not None]


def _fusion_groups(specs: Sequence[ExperimentSpec]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.fusion_group(), []).append(i)
    return list(groups.values())


def train_fused(
    specs: Sequence[ExperimentSpec],
    data: Data,
    on_epoch: OnEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_start: OnStart | None = None,
) -> list[Run]:
    """One compiled loop for specs that agree on spec.fusion_group()."""
    if len({s.fusion_group() for s in specs}) != 1:
        raise ValueError("fused specs must share the dataset, its parameters and batch size")
    with _training():
        return _train_fused(specs, data, on_epoch, should_stop, on_start)


@dataclass
class _Plan:
    """Which branch each spec is a prefix of, and the epochs where the loop must pause."""

    branches: list[ExperimentSpec]  # distinct trainings, each run for `epochs` epochs
    of_spec: list[int]  # spec index -> branch index
    epochs: int
    report: set[int]  # a spec ends here: keep a histogram
    snapshots: set[int]  # predict over the probe inputs here

    @classmethod
    def of(cls, specs: Sequence[ExperimentSpec], probing: bool) -> _Plan:
        branches = list(dict.fromkeys(s.branch() for s in specs))
        epochs = max(s.epochs for s in specs)
        report = {s.epochs for s in specs}
        snapshots = set(probes.snapshot_epochs(epochs)) | report if probing else set()
        of_spec = [branches.index(s.branch()) for s in specs]
        return cls(branches, of_spec, epochs, report, snapshots)


def _train_fused(specs, data, on_epoch, should_stop, on_start=None) -> list[Run]:
    tf = tf_runtime()
    started = time.perf_counter()
    probe = probes.axes(data)
    plan = _Plan.of(specs, probe is not None)
    layout, members = _Layout.of(plan.branches, data, probe)
    with _loop(tf, layout) as loop:
        traced = not loop.warm  # this training pays for tracing its loop
        loop.load(plan.branches, members, data, probe)
        if probe and on_start:
            untrained = loop.probe()
            for i, b in enumerate(plan.of_spec):
                on_start(i, probes.values(untrained[loop.rows[b]], data.info.task) | {"epoch": 0})
        rows, extras, first_call, diverged = _run_epochs(loop, plan, specs, data.info.task,
                                                         on_epoch, should_stop)  # fmt: skip
        xla = loop.xla
    meta = {
        "device": device_name(),
        "versions": versions(),
        "fused_with": len(plan.branches),
        "seconds": round(time.perf_counter() - started, 3),
        "first_call_seconds": round(first_call, 3),
        "traced": traced,
        "xla": xla,
        "created": time.time(),
        "sizes": data.sizes(),  # the whole splits: pages state them without loading the data
    }
    runs = []
    for spec, b in zip(specs, plan.of_spec, strict=True):
        own = {"train_examples": data.train_count(spec.train_size)}
        if diverged[b] is not None and diverged[b] <= spec.epochs:
            own["diverged"] = diverged[b]
        runs.append(
            Run(
                key=spec.key(data.fingerprint),
                spec=spec,
                fingerprint=data.fingerprint,
                history=tuple(rows[b][: spec.epochs]),
                params=parameter_count(spec, data.info),
                layers=kernel_names(spec, data.info),
                histogram=extras[b].get(spec.epochs),
                probe=probe,
                meta=meta | own,
            )
        )
    return runs


def _run_epochs(loop: _Loop, plan: _Plan, specs, task, on_epoch, should_stop):
    """All epochs, in chunks sized so progress arrives about every CHUNK_SECONDS and that
    end where a histogram or a probe snapshot is due; the first chunk is one epoch, since it
    also pays for tracing the graph when the layout is new."""
    rows: list[list[dict]] = [[] for _ in plan.branches]
    extras: list[dict[int, dict]] = [{} for _ in plan.branches]
    diverged: list[int | None] = [None] * len(plan.branches)
    pauses = sorted(plan.report | plan.snapshots | {plan.epochs})
    done, chunk, first_call = 0, 1, 0.0
    with _watching(loop, should_stop) as reported:
        while done < plan.epochs:
            until = next(p for p in pauses if p > done)
            chunk = min(chunk, until - done)
            tick = time.perf_counter()
            values, steps = loop.run(done, chunk)  # [epoch, branch, columns]
            seconds = time.perf_counter() - tick
            if len(values) < chunk:
                raise Cancelled(done + len(values), steps)
            first_call = first_call or seconds
            done += chunk
            snapshot = loop.probe() if done in plan.snapshots else None
            for e in range(chunk):
                epoch = done - chunk + e + 1
                for b in range(len(plan.branches)):
                    row = values[e, loop.rows[b]]
                    if diverged[b] is None and row[-1] < 0.5:
                        diverged[b] = epoch
                    dead = diverged[b] is not None
                    record = _record(epoch, row, loop.layer_counts[b], seconds / chunk, task,
                                     dead)  # fmt: skip
                    if snapshot is not None and epoch == done and not dead:
                        record["probe"] = probes.values(snapshot[loop.rows[b]], task)
                    rows[b].append(record)
            if done in plan.report:
                for b, histogram in enumerate(loop.histograms()):
                    extras[b][done] = histogram
            if on_epoch:
                for i, b in enumerate(plan.of_spec):
                    for record in rows[b][done - chunk : min(done, specs[i].epochs)]:
                        on_epoch(i, record)
                reported.set()
            chunk = max(1, int(CHUNK_SECONDS / max(seconds / chunk, 1e-4)))
    return rows, extras, first_call, diverged


@contextlib.contextmanager
def _watching(loop: _Loop, should_stop: Callable[[], bool] | None):
    """Ask should_stop() from a thread while the loop runs, and raise the loop's stop flag
    (which it reads between steps) when it says so. Yields an event to set once a chunk's
    records are all reported: the thread asks at once, and a caller that publishes progress
    from should_stop() (core.worker.Progress) sends the first epoch without waiting."""
    reported = threading.Event()
    if should_stop is None:
        yield reported
        return
    finished = threading.Event()

    def watch() -> None:
        while not should_stop():
            reported.wait(STOP_POLL_SECONDS)
            reported.clear()
            if finished.is_set():
                return
        loop.stop.assign(True)

    watcher = threading.Thread(target=watch, name="should-stop", daemon=True)
    watcher.start()
    try:
        yield reported
    finally:
        finished.set()
        reported.set()
        watcher.join()


def _finite(value, digits: int = 6) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _record(epoch: int, row: np.ndarray, layers: int, seconds: float, task: str,
            dead: bool = False) -> dict:  # fmt: skip
    """One epoch's record; a branch that diverged has no numbers left, only its epochs."""
    record: dict[str, Any] = {"epoch": epoch}
    for name, value in zip(EPOCH_NUMBERS, row[:COLUMNS], strict=True):
        classify = task != "regression" or not name.endswith("accuracy")
        record[name] = _finite(value) if classify and not dead else None
    record["seconds"] = round(seconds, 5)
    norms = [_finite(n, 5) for n in row[COLUMNS : COLUMNS + layers]]
    # All or none: a norm missing from the middle would shift the rest onto other layers.
    record["norms"] = norms if None not in norms and not dead else []
    return record


def epoch_orders(n: int, first_epoch: int, count: int, seed: int) -> np.ndarray:
    """The batch order of each epoch: a function of the seed, the training-set size and
    the epoch number only, so a variant sees the same batches fused or alone, every
    variant of a seed sees the same ones, and another seed reshuffles as a rerun of
    Keras's fit(shuffle=True) does."""
    return np.stack(
        [
            np.random.default_rng([ORDER_SEED, seed, n, first_epoch + e]).permutation(n)
            for e in range(count)
        ]
    ).astype(np.int32)


def xla_friendly(specs: Sequence[ExperimentSpec], data: Data) -> bool:
    """XLA only pays on a GPU, and "strong" image augmentation (rotation, zoom) has no XLA
    kernel, which would turn it off for the whole graph; "light" (flips, shifts) compiles."""
    if not has_gpu():
        return False
    return data.info.modality != "image" or all(s.augment != "strong" for s in specs)


def _no_xla_kernel(exc: Exception) -> bool:
    """Whether an error means "this graph has an op XLA cannot compile" (and nothing else:
    never out of memory, never a bug)."""
    text = str(exc)
    return "unsupported operations" in text or ("No registered" in text and "XLA" in text)


# --- the compiled loop, one per layout and process -----------------------------------------


@dataclass(frozen=True)
class _Layout:
    """What a fusion group's compiled loop depends on: shapes and stacks, never values. One
    traced loop per layout serves every comparison that differs only in strengths, data,
    labels, seeds, or pools that fit the same room (pool_room)."""

    stacks: tuple[Design, ...]
    input_shape: tuple[int, ...]
    dtype: str
    task: str
    pool: int  # room for the training pool every branch takes a prefix of (see pool_room)
    batch: int
    measured: tuple[int, int, int]  # room for the examples measured per epoch: training
    # (at most the pool's), validation, test
    probe: int  # probe points, 0 for none
    xla: bool

    @classmethod
    def of(cls, branches: Sequence[ExperimentSpec], data: Data, probe: dict | None):
        """The layout, and which branches each stack holds (in the order of its rows)."""
        info = data.info
        by_key: dict[tuple, list[int]] = {}
        for i, spec in enumerate(branches):
            by_key.setdefault(stack_key(spec, info), []).append(i)
        parts = [part for group in by_key.values()
                 for part in _cut(group, _parts([branches[i] for i in group], info))]  # fmt: skip
        stacks = []
        for members in parts:
            sizes = {data.train_count(branches[i].train_size) for i in members}
            stacks.append((Design.of([branches[i] for i in members], info, len(sizes) > 1),
                           members))  # fmt: skip
        stacks.sort(key=lambda pair: repr(pair[0]))  # the same layout whatever the order
        counts = {data.train_count(s.train_size) for s in branches}
        largest = max(counts)
        xla = len(counts) == 1 and xla_friendly(branches, data)
        held_out = len(data.y_val) + len(data.y_test)
        pool = largest if xla else pool_room(largest, held_out)
        layout = cls(
            stacks=tuple(design for design, _ in stacks),
            input_shape=tuple(info.input_shape),
            dtype=str(data.x_train.dtype),
            task=info.task,
            pool=pool,
            batch=min(branches[0].batch_size, largest),
            measured=(min(pool, EVAL_TRAIN_MAX), len(data.y_val), len(data.y_test)),
            probe=len(probes.inputs(probe)) if probe else 0,
            xla=xla,
        )
        return layout, [members for _, members in stacks]


def _parts(specs: Sequence[ExperimentSpec], info) -> int:
    """Into how many stacks branches of one shape are cut, run side by side: on a CPU each
    op is single-threaded (core.runtime), so one stack's batched matmul keeps one core busy
    while the others wait (digits' comparison: an epoch 20-40% shorter on 2 cores, cut in
    two). Only where a step is heavy enough to pay for tracing another stack
    (core.stacked.heavy). On a GPU, one batched op fills it best."""
    return parallel_stacks() if heavy(specs, info) else 1


def _cut(members: list[int], parts: int) -> list[list[int]]:
    """Members in up to `parts` runs of nearly equal length, in order."""
    k = min(parts, len(members))
    return [members[i * len(members) // k : (i + 1) * len(members) // k] for i in range(k)]


def pool_room(n: int, held_out: int) -> int:
    """Room for a pool of n training examples, measured each epoch with `held_out` more:
    the next power of two, so that another number of generated points (a teacher's
    slider) fits the loop already traced. Steps stop at the sizes load() sets, but the
    measuring runs in equal chunks, the last one over some of the room: the room is the
    pool itself where that would cost more than ROOM_WASTE of the measuring (iris, digits:
    their held-out sets are small beside the pool), or memory (a pool above ROOM_MAX). XLA
    compiles a graph per shape anyway: there, too, the room is the pool."""
    room = 1 << max(0, n - 1).bit_length()
    return room if room - n <= ROOM_WASTE * (n + held_out) and n <= ROOM_MAX else n


_loops: OrderedDict[_Layout, _Loop] = OrderedDict()
_loops_lock = threading.Lock()
_idle = threading.Condition()  # notified when no training runs in this process
_running = 0


@contextlib.contextmanager
def _loop(tf, layout: _Layout, wait: bool = True):
    """This process's loop for a layout, held (one training at a time per loop); None when
    `wait` is off and someone else holds it."""
    with _loops_lock:
        loop = _loops.pop(layout, None) or _Loop(tf, layout)
        _loops[layout] = loop
        while len(_loops) > MAX_LOOPS:
            _loops.popitem(last=False)
    if not loop.lock.acquire(blocking=wait):
        yield None
        return
    try:
        yield loop
    finally:
        loop.lock.release()


@contextlib.contextmanager
def _training():
    """Count trainings in progress: pre-tracing waits while any runs."""
    global _running
    with _idle:
        _running += 1
    try:
        yield
    finally:
        with _idle:
            _running -= 1
            _idle.notify_all()


def pretrace(specs: Sequence[ExperimentSpec], data: Data, evict: bool = True) -> int:
    """Warm the loops these specs would train in: trace each new layout and run it for one
    epoch (which compiles what XLA compiles and lets TensorFlow optimise the graph), so
    that a later comparison of the same layout starts training at once. Returns how many
    layouts were new. Without `evict`, only while the process has room for another loop:
    a guess must not push out what a class trained, or a better guess.

    Off the request path: it starts a layout only while no training runs in this process,
    and skips a layout that a training holds. A request never waits for it: another layout
    is another loop, and the layout being warmed would take no less to trace again."""
    tf = tf_runtime()
    probe = probes.axes(data)
    warmed = 0
    for indices in _fusion_groups(specs):
        plan = _Plan.of([specs[i] for i in indices], probe is not None)
        layout, members = _Layout.of(plan.branches, data, probe)
        with _idle:
            _idle.wait_for(lambda: _running == 0)
        with _loops_lock:
            if not evict and layout not in _loops and len(_loops) >= MAX_LOOPS:
                continue
        with _loop(tf, layout, wait=False) as loop:
            if loop is None or loop.warm:
                continue
            loop.load(plan.branches, members, data, probe)
            loop.run(0, 1)
            if probe:
                loop.probe()
            warmed += 1
    return warmed


class _Feed:
    """What one stack's branches learn from: labels over the pool and over the measuring
    set, training-set sizes, and which row of each epoch's batch orders each one follows."""

    def __init__(self, tf, branches: int, pool: int, measured: int, label_dtype):
        self.labels = _data(tf, [branches, pool], label_dtype)
        self.measure_labels = _data(tf, [branches, measured], label_dtype)
        self.sizes = _data(tf, [branches], tf.int32)
        self.eval_sizes = _data(tf, [branches], tf.int32)
        self.rows = _data(tf, [branches], tf.int32)


def _filled(values: np.ndarray, room: int, axis: int = 0) -> np.ndarray:
    """Values padded with zeros along an axis to the room a loop's variable has for them."""
    pad = [(0, 0)] * values.ndim
    pad[axis] = (0, room - values.shape[axis])
    return np.pad(values, pad)


def _data(tf, shape, dtype):
    """A variable that holds values, never trained: load() assigns what a comparison needs."""
    return tf.Variable(tf.zeros(shape, dtype), trainable=False)


class _Loop:
    """The compiled loop of one layout: its variables (data, weights, strengths, optimizer
    state) and its graph, traced once. load() puts a comparison in; run() trains it.

    Every step takes a fixed-size window of each branch's batch order, with weights that
    mark the examples past the end of a branch's training set (the last batch of an epoch,
    and a learning curve's smaller sets): one shape for every step, which XLA needs, and
    one graph whatever the training sizes. The measuring set (training subset, validation,
    test) is cut into equal chunks the same way. Under XLA (on a GPU) the step and the
    end-of-epoch measurement are compiled; the loops around them are not, so that they can
    read the stop flag between steps.
    """

    def __init__(self, tf, layout: _Layout):
        self.tf, self.layout = tf, layout
        self.lock = threading.Lock()
        self.xla = layout.xla
        self.stacks = [Stack(tf, design, layout.task) for design in layout.stacks]
        self.branches = sum(s.branches for s in self.stacks)
        self.width = max(len(s.kernels) for s in self.stacks)
        total = sum(layout.measured)
        self.chunks = -(-total // EVAL_BATCH)
        self.chunk = -(-total // self.chunks)  # equal chunks, at most EVAL_BATCH each
        self.steps_max = -(-layout.pool // layout.batch)
        dtype = tf.as_dtype(layout.dtype)
        labels = tf.int32 if layout.task == "multiclass" else tf.float32
        measured = self.chunks * self.chunk
        self.x = _data(tf, [layout.pool, *layout.input_shape], dtype)
        self.x_measure = _data(tf, [measured, *layout.input_shape], dtype)
        self.x_probe = _data(tf, [layout.probe, *layout.input_shape], tf.float32)
        self.feeds = [_Feed(tf, s.branches, layout.pool, measured, labels) for s in self.stacks]
        self.steps = _data(tf, [], tf.int32)  # per epoch: the largest set's
        # Where the measured training part, validation and test end in x_measure: the pool
        # loaded may be smaller than the room for it.
        self.ends = _data(tf, [3], tf.int32)
        self.stop = _data(tf, [], tf.bool)
        self.warm = False  # it has run: traced, optimised, compiled
        self._compile()

    # --- loading a comparison ---------------------------------------------------------

    def load(self, branches, members, data: Data, probe: dict | None) -> None:
        """Put these branches in (members: the branches of each stack, in layout order)."""
        self._loaded = (branches, members, data, probe)
        layout = self.layout
        sizes = [data.train_count(s.train_size) for s in branches]
        pool = data.training(max(sizes))  # every branch's examples are a prefix of this
        evaluated = min(max(sizes), EVAL_TRAIN_MAX)
        room = self.chunks * self.chunk
        self.x.assign(_filled(pool.x_train, layout.pool))
        self.x_measure.assign(_filled(np.concatenate(
            [pool.x_train[:evaluated], data.x_val, data.x_test]), room))  # fmt: skip
        held_out_labels = np.concatenate([data.y_val, data.y_test])
        self.ends.assign(np.cumsum([evaluated, len(data.y_val), len(data.y_test)]))
        if probe:
            self.x_probe.assign(probes.inputs(probe))
        self.seed = branches[0].seed  # one per fusion group
        self.distinct = sorted(set(sizes))  # each its own row of batch orders
        self.rows = [0] * len(branches)  # branch -> its row in the loop's output
        self.layer_counts = [0] * len(branches)
        offset = 0
        for stack, feed, indices in zip(self.stacks, self.feeds, members, strict=True):
            own = [branches[i] for i in indices]
            stack.load(own, data.info)
            labels = np.stack([self._labels(pool, data, branches[i], sizes[i]) for i in indices])
            held_out = np.broadcast_to(held_out_labels, (len(indices), len(held_out_labels)))
            measure = np.concatenate([labels[:, :evaluated], held_out], axis=1)
            feed.labels.assign(_filled(labels, layout.pool, axis=1))
            feed.measure_labels.assign(_filled(measure, room, axis=1))
            feed.sizes.assign([sizes[i] for i in indices])
            feed.eval_sizes.assign([min(sizes[i], EVAL_TRAIN_MAX) for i in indices])
            feed.rows.assign([self.distinct.index(sizes[i]) for i in indices])
            for k, i in enumerate(indices):
                self.rows[i] = offset + k
                self.layer_counts[i] = len(stack.kernels)
            offset += stack.branches
        self.steps.assign(-(-max(sizes) // layout.batch))
        self.stop.assign(False)

    @staticmethod
    def _labels(pool: Data, data: Data, spec: ExperimentSpec, n: int) -> np.ndarray:
        """A branch's training labels over the whole pool: its own first n, with its label
        noise (exactly as data.training gives them to it alone), then unused clean ones."""
        own = data.training(n, spec.label_noise).y_train
        return np.concatenate([own, pool.y_train[n:]])

    # --- running ----------------------------------------------------------------------

    def run(self, first_epoch: int, count: int) -> tuple[np.ndarray, int]:
        """Train up to `count` epochs: [epoch, row, columns] for each epoch done (fewer
        when the stop flag was raised), and the steps done of the epoch it stopped in.
        Columns: the EPOCH_NUMBERS, each kernel's norm, then 1 while the branch is alive."""
        orders = np.zeros((count, len(self.distinct), self.steps_max * self.layout.batch),
                          np.int32)  # fmt: skip
        for k, n in enumerate(self.distinct):
            orders[:, k, :n] = epoch_orders(n, first_epoch, count, self.seed)
        tf = self.tf
        args = tf.constant(orders), tf.constant(first_epoch), tf.constant(count)
        try:
            rows, _, steps = self._epochs(*args)
        except tf.errors.InvalidArgumentError as exc:
            if not (self.xla and _no_xla_kernel(exc)):
                raise
            # A layer without an XLA kernel: the plain graph, from the same starting point
            # (XLA compiles at the first call, before anything was updated).
            self.xla = False
            self._compile()
            self.load(*self._loaded)
            rows, _, steps = self._epochs(*args)
        self.warm = True
        return rows.numpy(), int(steps)

    def probe(self) -> np.ndarray:
        """[row, point, output]: every branch's predictions over the probe inputs."""
        return self._probe().numpy()

    def histograms(self) -> list[dict[str, list]]:
        """Each branch's kernel weights now, as a histogram over a range symmetric about 0;
        weights that are not finite (a branch that diverged) are left out."""
        per_row = []
        for stack in self.stacks:
            kernels = [np.asarray(k).reshape(stack.branches, -1) for k in stack.kernels]
            per_row += [np.concatenate([k[b] for k in kernels]) for b in range(stack.branches)]
        out = []
        for row in self.rows:
            weights = per_row[row][np.isfinite(per_row[row])]
            edge = float(np.abs(weights).max(initial=0.0)) or 1.0
            counts, edges = np.histogram(weights, bins=HISTOGRAM_BINS, range=(-edge, edge))
            out.append({"edges": [round(float(e), 6) for e in edges],
                        "counts": counts.astype(int).tolist()})  # fmt: skip
        return out

    # --- the graph --------------------------------------------------------------------

    def _compile(self) -> None:
        tf = self.tf
        step = tf.function(self._step, jit_compile=self.xla, autograph=False)
        end = tf.function(self._end_of_epoch, jit_compile=self.xla, autograph=False)
        width = COLUMNS + self.width + 1
        n = self.steps_max * self.layout.batch

        def running():
            return tf.logical_not(self.stop)

        @tf.function(
            input_signature=[tf.TensorSpec([None, None, n], tf.int32),
                             tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)],
            autograph=False,
        )  # fmt: skip
        def epochs(orders, first, count):
            TRACES["epochs"] += 1

            def one_epoch(e, steps, rows):
                def one_step(s, fit):
                    draw = (first + e) * STEP_SPACE + s
                    return s + 1, fit + step(self._windows(orders[e], s), draw)

                steps, fit = tf.while_loop(
                    lambda s, _: (s < self.steps) & running(), one_step,
                    (tf.constant(0), tf.zeros([self.branches, FIT_COLUMNS])))  # fmt: skip
                finished = tf.equal(steps, self.steps)
                rows = tf.cond(finished, lambda: rows.write(e, end(fit)), lambda: rows)
                return e + tf.cast(finished, tf.int32), steps, rows

            rows = tf.TensorArray(tf.float32, size=0, dynamic_size=True,
                                  element_shape=[self.branches, width])  # fmt: skip
            done, steps, rows = tf.while_loop(
                lambda e, _, __: (e < count) & running(), one_epoch,
                (tf.constant(0), tf.constant(0), rows))  # fmt: skip
            return rows.stack(), done, steps

        self._epochs, self._end = epochs, end
        self._probe = tf.function(self._predict_probe, autograph=False)
        # Each loop traces once, by design; TensorFlow's warning about frequent retracing
        # counts the traces of every loop's function as if they were one function's.
        for function in (self._epochs, self._probe):
            function._omit_frequent_tracing_warning = True

    def _windows(self, order, s):
        """Each stack's batch for step s: positions in the pool ([batch], or [branch, batch]
        when its branches have training sets of different sizes) and weights [branch,
        batch] that are 0 past the end of a branch's set."""
        tf = self.tf
        batch = self.layout.batch
        start = s * batch
        out = []
        for stack, feed in zip(self.stacks, self.feeds, strict=True):
            b = stack.branches
            if stack.design.own_windows:
                index = tf.slice(tf.gather(order, feed.rows), [0, start], [b, batch])
            else:
                index = tf.slice(order, [feed.rows[0], start], [1, batch])[0]
            inside = (start + tf.range(batch))[None, :] < feed.sizes[:, None]
            out.append((index, tf.cast(inside, tf.float32)))
        return out

    def _step(self, windows, draw):
        """One optimizer step of every branch: [row, FIT_COLUMNS] sums."""
        tf = self.tf
        out = []
        for stack, feed, (index, weights) in zip(self.stacks, self.feeds, windows, strict=True):
            own = stack.design.own_windows
            y = tf.gather(feed.labels, index, axis=1, batch_dims=1 if own else 0)
            out.append(stack.train_step(tf.gather(self.x, index), y, weights, draw))
        return tf.concat(out, 0)

    def _end_of_epoch(self, fit):
        """[row, columns]: the epoch's fit averages, the inference-mode measurements, the
        penalty, the kernel norms, and whether the branch is still alive (everything it
        reports is finite)."""
        tf = self.tf
        _, val, test = self.layout.measured
        out, offset = [], 0
        for stack, feed in zip(self.stacks, self.feeds, strict=True):
            b = stack.branches
            sizes = tf.cast(feed.sizes, tf.float32)[:, None]
            evaluated = tf.cast(feed.eval_sizes, tf.float32)
            denominators = tf.stack([evaluated, evaluated] + [tf.fill([b], float(val))] * 2
                                    + [tf.fill([b], float(test))] * 2, axis=1)  # fmt: skip
            measured = self._measure(stack, feed) / denominators
            norms = stack.norms()
            padded = tf.pad(norms, [[0, 0], [0, self.width - norms.shape[1]]])
            finite = tf.reduce_all(tf.math.is_finite(tf.concat([measured, norms], 1)), 1)
            stack.alive.assign(stack.alive & finite)
            alive = tf.cast(stack.alive, tf.float32)[:, None]
            out.append(tf.concat([fit[offset : offset + b] / sizes, measured,
                                  stack.penalty()[:, None], padded, alive], axis=1))  # fmt: skip
            offset += b
        return tf.concat(out, 0)

    def _measure(self, stack: Stack, feed: _Feed):
        """Inference-mode sums per branch, [branch, (train loss, train correct, val loss, val
        correct, test loss, test correct)], over the measuring set in equal chunks. A
        branch's training part is its own first eval_sizes examples, with its own labels."""
        tf = self.tf
        train_end, val_end, test_end = self.ends[0], self.ends[1], self.ends[2]
        size, b = self.chunk, stack.branches
        tail = [0] * len(self.layout.input_shape)

        def chunk(c, sums):
            start = c * size
            xs = tf.slice(self.x_measure, [start, *tail], [size, *self.layout.input_shape])
            ys = tf.slice(feed.measure_labels, [0, start], [b, size])
            position = start + tf.range(size)
            train = tf.cast(position[None, :] < feed.eval_sizes[:, None], tf.float32)
            val = tf.cast((position >= train_end) & (position < val_end), tf.float32)[None]
            test = tf.cast((position >= val_end) & (position < test_end), tf.float32)[None]
            loss, correct = per_example(tf, self.layout.task, ys, stack.forward(xs, False))
            sums += tf.stack([tf.reduce_sum(v * w, 1) for w in (train, val, test)
                              for v in (loss, correct)], axis=1)  # fmt: skip
            return c + 1, sums

        filled = (test_end + size - 1) // size  # chunks that hold what is measured
        _, sums = tf.while_loop(lambda c, _: c < filled, chunk,
                                (tf.constant(0), tf.zeros([b, 6])))  # fmt: skip
        return sums

    def _predict_probe(self):
        tf = self.tf
        TRACES["probe"] += 1
        return tf.concat([probabilities(tf, self.layout.task, s.forward(self.x_probe, False))
                          for s in self.stacks], axis=0)  # fmt: skip
