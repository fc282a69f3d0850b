"""train(specs, data) -> runs: every variant of a comparison (or every value of a sweep)
trained as branches of one compiled loop, with honest per-epoch records.

Why one compiled loop rather than model.fit per variant:
- fusion: specs that share the data pool and batch size share one graph and one pass over
  the data. Each branch is its own keras.Model with its own optimizer, L1/L2, Dropout and
  BatchNorm, training subset and (noisy) labels, so this is the same computation as training
  each alone. Branches with the same training set share each batch; a learning curve's
  branches (different training sizes) each step through their own examples;
- prefixes: a run of 20 epochs is the first 20 epochs of a run of 80 with the same spec
  (the batch order is a function of the epoch number only), so an epochs sweep, or early
  stopping's patience, trains one branch;
- overhead: on small data, fit's per-epoch and per-step Python overhead dominates; here many
  epochs run inside one tf.function call and Python only wakes up to report progress.

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

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import probes
from core.cache import EPOCH_NUMBERS, Run
from core.datasets.base import Data
from core.models import build_model, kernel_layers
from core.optimizers import FusedOptimizer
from core.runtime import device_name, has_gpu, tf_runtime, versions
from core.spec import ExperimentSpec

ORDER_SEED = 1234  # mixed with the spec's seed: each seed its own batch order
EVAL_TRAIN_MAX = 10_000  # inference-mode training metrics use at most this many examples
EVAL_BATCH = 1024
CHUNK_SECONDS = 0.5  # report progress about this often
XLA_CHUNK = 16  # epochs per compiled call under XLA: a fixed shape, compiled once
HISTOGRAM_BINS = 40
COLUMNS = len(EPOCH_NUMBERS)  # per branch and epoch, then each kernel's norm
FIT_COLUMNS = 3  # the first columns, summed over the epoch's steps: loss, accuracy, penalty

OnEpoch = Callable[[int, dict[str, Any]], None]
OnRun = Callable[[int, Run], None]
OnStart = Callable[[int, dict[str, Any]], None]  # (spec index, the untrained probe snapshot)


class Cancelled(RuntimeError):
    """Training stopped because should_stop() said so; nothing was stored."""


# Keras's seeding and clear_session() are process-global: one training at a time per process.
# Parallel trainings belong in separate worker processes (the job engine).
_one_at_a_time = threading.Lock()


def train(
    specs: Sequence[ExperimentSpec],
    data: Data,
    on_epoch: OnEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_run: OnRun | None = None,
    on_start: OnStart | None = None,
) -> list[Run]:
    """Train every spec on `data`, fusing those that can share a graph. Callbacks get the
    index of the spec in `specs`: on_start with the untrained networks' probe predictions
    (2-D and 1-D data: the first picture, before the graph is traced), on_epoch after each
    epoch, on_run when a run is done."""
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.fusion_group(), []).append(i)
    results: list[Run | None] = [None] * len(specs)
    for indices in groups.values():

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
    with _one_at_a_time:
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
    loop = _FusedLoop(tf, plan.branches, data, probe)
    try:
        if probe and on_start:
            untrained = loop.probe()
            for i, b in enumerate(plan.of_spec):
                on_start(i, probes.values(untrained[b], data.info.task) | {"epoch": 0})
        rows, extras, first_call = _run_epochs(loop, plan, specs, data.info.task, on_epoch,
                                               should_stop)  # fmt: skip
        params = [int(m.count_params()) for m in loop.models]
        layers = [[layer.name for layer in kernel_layers(m)] for m in loop.models]
    finally:
        loop.release()
    meta = {
        "device": device_name(),
        "versions": versions(),
        "fused_with": len(plan.branches),
        "seconds": round(time.perf_counter() - started, 3),
        "first_call_seconds": round(first_call, 3),
        "xla": loop.xla,
        "created": time.time(),
        "sizes": data.sizes(),  # the whole splits: pages state them without loading the data
    }
    runs = []
    for spec, b in zip(specs, plan.of_spec, strict=True):
        history = tuple(rows[b][: spec.epochs])
        runs.append(
            Run(
                key=spec.key(data.fingerprint),
                spec=spec,
                fingerprint=data.fingerprint,
                history=history,
                params=params[b],
                layers=tuple(layers[b]),
                histogram=extras[b].get(spec.epochs),
                probe=probe,
                meta=meta | {"train_examples": loop.sizes[b]},
            )
        )
    return runs


def _run_epochs(loop, plan: _Plan, specs, task, on_epoch, should_stop):
    """All epochs, in chunks sized so progress arrives about every CHUNK_SECONDS and that
    end where a histogram or a probe snapshot is due; the first chunk is one epoch, since it
    also pays for tracing the graph."""
    rows: list[list[dict]] = [[] for _ in plan.branches]
    extras: list[dict[int, dict]] = [{} for _ in plan.branches]
    pauses = sorted(plan.report | plan.snapshots | {plan.epochs})
    done, chunk, first_call = 0, 1, 0.0
    while done < plan.epochs:
        if should_stop and should_stop():
            raise Cancelled("training was cancelled")
        until = next(p for p in pauses if p > done)
        chunk = min(chunk, until - done, loop.max_chunk)
        tick = time.perf_counter()
        values = loop.run(done, chunk)  # [chunk, branches, COLUMNS + layers]
        seconds = time.perf_counter() - tick
        first_call = first_call or seconds
        done += chunk
        snapshot = loop.probe() if done in plan.snapshots else None
        for e in range(chunk):
            epoch = done - chunk + e + 1
            for b in range(len(plan.branches)):
                record = _record(epoch, values[e, b], loop.layer_counts[b], seconds / chunk,
                                 task)  # fmt: skip
                if snapshot is not None and epoch == done:
                    record["probe"] = probes.values(snapshot[b], task)
                rows[b].append(record)
        if done in plan.report:
            for b, histogram in enumerate(loop.histograms()):
                extras[b][done] = histogram
        if on_epoch:
            for i, b in enumerate(plan.of_spec):
                for record in rows[b][done - chunk : min(done, specs[i].epochs)]:
                    on_epoch(i, record)
        chunk = max(1, int(CHUNK_SECONDS / max(seconds / chunk, 1e-4)))
    return rows, extras, first_call


def _finite(value, digits: int = 6) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _record(epoch: int, row: np.ndarray, layers: int, seconds: float, task: str) -> dict:
    record: dict[str, Any] = {"epoch": epoch}
    for name, value in zip(EPOCH_NUMBERS, row[:COLUMNS], strict=True):
        classify = task != "regression" or not name.endswith("accuracy")
        record[name] = _finite(value) if classify else None
    record["seconds"] = round(seconds, 5)
    norms = [_finite(n, 5) for n in row[COLUMNS : COLUMNS + layers]]
    # All or none: a norm missing from the middle would shift the rest onto other layers.
    record["norms"] = norms if None not in norms else []
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


class _FusedLoop:
    """The compiled graph for one fusion group: data on the device, steps that update every
    branch, and per-epoch evaluation of all branches in inference mode.

    Uniform branches (one training set) share each batch, and each branch's Keras graph is
    traced as few times as possible (tracing is most of the fixed cost): one training step
    serves every batch, the last smaller one included. Ragged branches (a learning curve)
    each loop over their own training set, so they run without XLA. XLA (on a GPU) needs
    static shapes: full batches and the remainder are two steps, and every compiled call
    covers XLA_CHUNK epochs' worth of batch orders.
    """

    def __init__(self, tf, specs: Sequence[ExperimentSpec], data: Data, probe: dict | None):
        import keras

        self.tf, self.task = tf, data.info.task
        self.seed = specs[0].seed  # one per fusion group
        self.sizes = [data.train_count(s.train_size) for s in specs]
        self.n = max(self.sizes)
        self.uniform = len(set(self.sizes)) == 1
        self.batch = min(specs[0].batch_size, self.n)
        pool = data.training(self.n)  # every branch's examples are a prefix of this pool
        labels = np.stack(
            [self._labels(pool, data, s, n) for s, n in zip(specs, self.sizes, strict=True)]
        )
        self.models, self.optimizers = [], []
        for spec in specs:
            keras.utils.set_random_seed(spec.seed)  # same weights and masks as training alone
            model = build_model(spec, data.info)
            optimizer = FusedOptimizer(
                tf, spec.optimizer, spec.learning_rate, model.trainable_variables
            )
            self.models.append(model)
            self.optimizers.append(optimizer)
        self.kernels = [[layer.kernel for layer in kernel_layers(m)] for m in self.models]
        self.layer_counts = [len(k) for k in self.kernels]
        evaluated = min(self.n, EVAL_TRAIN_MAX)
        self.eval_sizes = [min(n, EVAL_TRAIN_MAX) for n in self.sizes]
        self.segments = (evaluated, len(data.y_val), len(data.y_test))
        measure_labels = np.concatenate(
            [labels[:, :evaluated], np.broadcast_to(data.y_val, (len(specs), len(data.y_val))),
             np.broadcast_to(data.y_test, (len(specs), len(data.y_test)))], axis=1
        )  # fmt: skip
        device = "/GPU:0" if has_gpu() else "/CPU:0"
        with tf.device(device):
            self.x = tf.constant(pool.x_train)
            self.y = self._label_tensor(labels)  # [branch, example]
            x_measure = np.concatenate([pool.x_train[:evaluated], data.x_val, data.x_test])
            self.x_measure = tf.constant(x_measure)
            self.y_measure = self._label_tensor(measure_labels)
            self.x_probe = tf.constant(probes.inputs(probe)) if probe else None
        self.xla = self.uniform and xla_friendly(specs, data)
        self._epochs = self._compile(self.xla)
        self._probe = tf.function(self._predict_probe) if probe else None

    @staticmethod
    def _labels(pool: Data, data: Data, spec: ExperimentSpec, n: int) -> np.ndarray:
        """A branch's training labels over the whole pool: its own first n, with its label
        noise (exactly as data.training gives them to it alone), then unused clean ones."""
        own = data.training(n, spec.label_noise).y_train
        return np.concatenate([own, pool.y_train[n:]])

    def _label_tensor(self, labels: np.ndarray):
        tf = self.tf
        return tf.constant(labels, dtype=tf.int32 if self.task == "multiclass" else tf.float32)

    def run(self, first_epoch: int, count: int) -> np.ndarray:
        """Train `count` epochs (at most max_chunk); [epoch, branch] = the EPOCH_NUMBERS
        columns, then each kernel's norm."""
        if self.uniform:
            orders = epoch_orders(self.n, first_epoch, count, self.seed)
        else:  # each branch its own permutation of its own examples, padded to the pool
            orders = np.zeros((count, len(self.sizes), self.n), np.int32)
            for b, n in enumerate(self.sizes):
                orders[:, b, :n] = epoch_orders(n, first_epoch, count, self.seed)
        if self.xla:  # XLA compiles per input shape: always hand it the same one
            pad = np.zeros((XLA_CHUNK - count, *orders.shape[1:]), np.int32)
            orders = np.concatenate([orders, pad])
        args = self.tf.constant(orders), self.tf.constant(count)
        try:
            return self._epochs(*args).numpy()[:count]
        except Exception:
            if not self.xla:
                raise
            # A layer without an XLA kernel: fall back to the plain graph, same results.
            self.xla = False
            self._epochs = self._compile(False)
            return self._epochs(*args).numpy()[:count]

    @property
    def max_chunk(self) -> int:
        return XLA_CHUNK if self.xla else 10**6

    def probe(self) -> np.ndarray:
        """[branch, point, output]: every branch's predictions over the probe inputs."""
        return self._probe().numpy()

    def histograms(self) -> list[dict[str, list]]:
        """Each branch's kernel weights now, as a histogram over a range symmetric about 0."""
        out = []
        for kernels in self.kernels:
            weights = np.concatenate([np.asarray(k).ravel() for k in kernels])
            edge = float(np.abs(weights).max()) or 1.0
            counts, edges = np.histogram(weights, bins=HISTOGRAM_BINS, range=(-edge, edge))
            out.append({"edges": [round(float(e), 6) for e in edges],
                        "counts": counts.astype(int).tolist()})  # fmt: skip
        return out

    def release(self) -> None:
        import keras

        self.models.clear()
        self.optimizers.clear()
        self.kernels.clear()
        keras.backend.clear_session()

    # --- graph pieces ---------------------------------------------------------------

    def _per_example(self, y, out):
        """Data loss and correctness per example, without any penalty."""
        tf = self.tf
        import keras

        if self.task == "multiclass":
            loss = keras.losses.sparse_categorical_crossentropy(y, out)
            correct = tf.equal(tf.argmax(out, -1, output_type=tf.int32), y)
        elif self.task == "binary":
            loss = keras.losses.binary_crossentropy(y[:, None], out)
            correct = tf.equal(tf.cast(out[:, 0] > 0.5, tf.float32), y)
        else:
            loss = tf.square(out[:, 0] - y)
            correct = tf.zeros_like(loss, dtype=tf.bool)
        return loss, tf.cast(correct, tf.float32)

    def _penalty(self, model):
        tf = self.tf
        return tf.add_n(model.losses) if model.losses else tf.constant(0.0)

    def _step(self, branches: Sequence[int], index):
        """One optimizer step of the given branches on the same batch of positions in the
        pool; returns each branch's summed data loss, correct count and penalty (times the
        batch size) on that batch, the penalty as the step saw it, before its update."""
        tf = self.tf
        x = tf.cast(tf.gather(self.x, index), tf.float32)
        models = [self.models[b] for b in branches]
        with tf.GradientTape() as tape:
            stats = [
                self._per_example(tf.gather(self.y[b], index), m(x, training=True))
                for b, m in zip(branches, models, strict=True)
            ]
            penalties = [self._penalty(m) for m in models]
            # Each branch's loss depends on its own weights only: the sum gives each branch
            # exactly its own gradient.
            total = tf.add_n(
                [
                    tf.reduce_mean(loss) + penalty
                    for (loss, _), penalty in zip(stats, penalties, strict=True)
                ]
            )
        variables = [m.trainable_variables for m in models]
        grads = tape.gradient(total, [v for vs in variables for v in vs])
        start = 0
        for b, vs in zip(branches, variables, strict=True):
            self.optimizers[b].apply(grads[start : start + len(vs)])
            start += len(vs)
        # Keras's fit reports the running mean of data loss plus penalty, weighted by batch
        # size: the penalty is summed per example like the loss, so both divide by n.
        size = tf.cast(tf.shape(index)[0], tf.float32)
        return tf.stack([
            tf.stack([tf.reduce_sum(loss), tf.reduce_sum(c), size * penalty])
            for (loss, c), penalty in zip(stats, penalties, strict=True)
        ])  # fmt: skip

    def _measure(self, static: bool):
        """Inference-mode sums per branch, [branch, (train loss, train correct, val loss, val
        correct, test loss, test correct)], over the measuring set (training subset, then
        validation, then test) in chunks: one loop of any-size chunks, or (static, for XLA)
        fixed-size chunks and the remainder. A branch's training part is its own first
        eval_sizes[b] examples, with its own labels."""
        tf = self.tf
        x, y = self.x_measure, self.y_measure
        n = int(x.shape[0])
        size = min(EVAL_BATCH, n)
        train_end = self.segments[0]
        val_end = train_end + self.segments[1]

        def chunk(xs, ys, start):
            position = start + tf.range(tf.shape(xs)[0])
            val = tf.cast((position >= train_end) & (position < val_end), tf.float32)
            test = tf.cast(position >= val_end, tf.float32)
            xs = tf.cast(xs, tf.float32)
            rows = []
            for b, m in enumerate(self.models):
                train = tf.cast(position < self.eval_sizes[b], tf.float32)
                loss, correct = self._per_example(ys[b], m(xs, training=False))
                rows.append(tf.stack([tf.reduce_sum(v * w) for w in (train, val, test)
                                      for v in (loss, correct)]))  # fmt: skip
            return tf.stack(rows)

        sums = tf.zeros([len(self.models), 6])
        if not static:
            for start in tf.range(0, n, size):
                sums += chunk(x[start : start + size], y[:, start : start + size], start)
            return sums
        full, rest = divmod(n, size)
        if full:  # fixed-size chunks: static shapes for XLA
            xs = tf.reshape(x[: full * size], [full, size, *x.shape[1:]])
            ys = tf.reshape(y[:, : full * size], [len(self.models), full, size])
            for i in tf.range(full):
                sums += chunk(xs[i], ys[:, i], i * size)
        if rest:
            sums += chunk(x[full * size :], y[:, full * size :], full * size)
        return sums

    def _norms(self):
        tf = self.tf
        width = max(self.layer_counts)
        return tf.stack([
            tf.concat([tf.stack([tf.norm(k) for k in kernels]), tf.zeros([width - len(kernels)])],
                      axis=0)
            for kernels in self.kernels
        ])  # fmt: skip

    def _predict_probe(self):
        tf = self.tf
        return tf.stack([m(self.x_probe, training=False) for m in self.models])

    def _one_epoch_uniform(self, order, static: bool):
        tf = self.tf
        n, batch = self.n, self.batch
        everyone = range(len(self.models))
        fit = tf.zeros([len(self.models), FIT_COLUMNS])
        if static:  # full batches, then the smaller last one as its own step
            full, rest = divmod(n, batch)
            if full:
                batches = tf.reshape(order[: full * batch], [full, batch])
                for s in tf.range(full):
                    fit += self._step(everyone, batches[s])
            if rest:
                fit += self._step(everyone, order[full * batch :])
        else:  # one step traced once for every batch, the last smaller one included
            for start in tf.range(0, n, batch):
                fit += self._step(everyone, order[start : start + batch])
        return fit / n

    def _one_epoch_ragged(self, orders):
        tf = self.tf
        rows = []
        for b, n in enumerate(self.sizes):
            fit = tf.zeros([FIT_COLUMNS])
            for start in tf.range(0, n, self.batch):
                fit += self._step([b], orders[b, start : tf.minimum(start + self.batch, n)])[0]
            rows.append(fit / n)
        return tf.stack(rows)

    def _compile(self, xla: bool):
        tf = self.tf
        denominators = tf.constant(
            [[e, e, self.segments[1], self.segments[1], self.segments[2], self.segments[2]]
             for e in self.eval_sizes], tf.float32)  # fmt: skip

        def one_epoch(order):
            if self.uniform:
                fit = self._one_epoch_uniform(order, static=xla)
            else:
                fit = self._one_epoch_ragged(order)
            measured = self._measure(static=xla) / denominators
            penalties = tf.stack([self._penalty(m) for m in self.models])[:, None]
            return tf.concat([fit, measured, penalties, self._norms()], axis=1)

        shape = [None, self.n] if self.uniform else [None, len(self.sizes), self.n]

        @tf.function(
            input_signature=[tf.TensorSpec(shape, tf.int32), tf.TensorSpec([], tf.int32)],
            jit_compile=xla,
        )
        def epochs(orders, count):
            rows = tf.TensorArray(tf.float32, size=tf.shape(orders)[0])
            for e in tf.range(count):
                rows = rows.write(e, one_epoch(orders[e]))
            return rows.stack()

        return epochs
