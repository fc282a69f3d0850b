"""train(specs, data) -> runs: every variant of a comparison trained as branches of one
compiled loop, with honest per-epoch records.

Why one compiled loop rather than model.fit per variant:
- fusion: variants that see the same batches (same dataset, training-set size, batch size,
  epochs) share one graph and one pass over the data. Each branch is its own keras.Model with
  its own optimizer, L2, Dropout and BatchNorm, and the summed loss gives each branch exactly
  its own gradient, so this is the same computation as training each alone;
- overhead: on small data, fit's per-epoch and per-step Python overhead dominates; here many
  epochs run inside one tf.function call and Python only wakes up to report progress.

What is recorded, per branch and epoch:
- loss / accuracy: the training set re-measured in inference mode at the end of the epoch
  (Dropout off, augmentation off, BatchNorm moving statistics), directly comparable with
- val_loss / val_accuracy: the validation split, same mode;
- fit_loss / fit_accuracy: the running average during the epoch, as Keras's fit reports it
  (Dropout and augmentation active);
- penalty: the L2 term at the end of the epoch. Losses above never include it.

TensorFlow is imported here, inside functions, never when `core` is imported.
"""

from __future__ import annotations

import math
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.cache import Run
from core.datasets.base import Data
from core.machine import cpu_name, gpu_label
from core.models import build_model
from core.optimizers import FusedOptimizer
from core.spec import ExperimentSpec

ORDER_SEED = 1234  # batch order belongs to the data, not to the spec's seed
EVAL_TRAIN_MAX = 10_000  # inference-mode training metrics use at most this many examples
EVAL_BATCH = 1024
CHUNK_SECONDS = 0.5  # report progress about this often
XLA_CHUNK = 16  # epochs per compiled call under XLA: a fixed shape, compiled once

OnEpoch = Callable[[int, dict[str, Any]], None]
OnRun = Callable[[int, Run], None]


class Cancelled(RuntimeError):
    """Training stopped because should_stop() said so; nothing was stored."""


_runtime_ready = False
# Keras's seeding and clear_session() are process-global: one training at a time per process.
# Parallel trainings belong in separate worker processes (the job engine).
_one_at_a_time = threading.Lock()


def tf_runtime():
    """TensorFlow, imported once per process, with GPU memory growth set before any GPU
    work — it cannot be changed once a GPU is initialised."""
    global _runtime_ready
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if not _runtime_ready:
        gpus = tf.config.list_physical_devices("GPU")
        try:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            if not gpus:
                # Branches are independent: on a CPU, running them side by side with
                # single-threaded ops beat splitting each small op across cores (7 variants
                # on a 2-core machine: 98 ms/epoch against 179 ms with TF's defaults).
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 2)
        except RuntimeError:  # the runtime was started by someone else: keep its settings
            pass
        _runtime_ready = True
    return tf


def device_name() -> str:
    tf = tf_runtime()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details
        return gpu_label([details(gpu).get("device_name", gpu.name) for gpu in gpus])
    return cpu_name()  # TensorFlow sees no GPU, whatever nvidia-smi may say


def versions() -> dict[str, str]:
    import keras

    tf = tf_runtime()
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def train(
    specs: Sequence[ExperimentSpec],
    data: Data,
    on_epoch: OnEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_run: OnRun | None = None,
) -> list[Run]:
    """Train every spec on `data`, fusing those that can share batches. Callbacks get the
    index of the spec in `specs`: on_epoch after each epoch, on_run when a run is done."""
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.fusion_group(), []).append(i)
    results: list[Run | None] = [None] * len(specs)
    for indices in groups.values():

        def report(k: int, record: dict, indices=indices) -> None:
            if on_epoch:
                on_epoch(indices[k], record)

        runs = train_fused([specs[i] for i in indices], data, report, should_stop)
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
) -> list[Run]:
    """One compiled loop for specs that agree on spec.fusion_group()."""
    if len({s.fusion_group() for s in specs}) != 1:
        raise ValueError("fused specs must share dataset, train_size, batch_size and epochs")
    with _one_at_a_time:
        return _train_fused(specs, data, on_epoch, should_stop)


def _train_fused(specs, data, on_epoch, should_stop) -> list[Run]:
    tf = tf_runtime()
    started = time.perf_counter()
    loop = _FusedLoop(tf, specs, data.with_train_size(specs[0].train_size))
    try:
        histories, first_call = _run_epochs(loop, specs, data.info.task, on_epoch, should_stop)
        test = loop.test()
        params = [int(m.count_params()) for m in loop.models]
    finally:
        loop.release()
    meta = {
        "device": device_name(),
        "versions": versions(),
        "fused_with": len(specs),
        "seconds": round(time.perf_counter() - started, 3),
        "first_call_seconds": round(first_call, 3),
        "xla": loop.xla,
        "train_examples": loop.n,
        "created": time.time(),
    }
    runs = []
    for k, spec in enumerate(specs):
        val = [r["val_loss"] if r["val_loss"] is not None else math.inf for r in histories[k]]
        runs.append(
            Run(
                key=spec.key(data.fingerprint),
                spec=spec,
                fingerprint=data.fingerprint,
                history=tuple(histories[k]),
                test={"loss": _finite(test[k, 0]), "accuracy": _accuracy(test[k, 1], data)},
                best_epoch=int(np.argmin(val)) + 1,
                params=params[k],
                meta=meta,
            )
        )
    return runs


def _run_epochs(loop, specs, task, on_epoch, should_stop) -> tuple[list[list[dict]], float]:
    """All epochs, in chunks sized so progress arrives about every CHUNK_SECONDS; the first
    chunk is one epoch, since it also pays for tracing the graph."""
    epochs = specs[0].epochs
    histories: list[list[dict]] = [[] for _ in specs]
    done, chunk, first_call = 0, 1, 0.0
    while done < epochs:
        if should_stop and should_stop():
            raise Cancelled("training was cancelled")
        chunk = min(chunk, epochs - done, loop.max_chunk)
        tick = time.perf_counter()
        rows = loop.run(done, chunk)  # [chunk, branches, 7]
        seconds = time.perf_counter() - tick
        first_call = first_call or seconds
        for e in range(chunk):
            for k in range(len(specs)):
                record = _record(done + e + 1, rows[e, k], seconds / chunk, task)
                histories[k].append(record)
                if on_epoch:
                    on_epoch(k, record)
        done += chunk
        chunk = max(1, int(CHUNK_SECONDS / max(seconds / chunk, 1e-4)))
    return histories, first_call


def _finite(value) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def _accuracy(value, data: Data) -> float | None:
    return None if data.info.task == "regression" else _finite(value)


def _record(epoch: int, row: np.ndarray, seconds: float, task: str) -> dict[str, Any]:
    fit_loss, fit_acc, loss, acc, val_loss, val_acc, penalty = (float(v) for v in row)
    classify = task != "regression"
    return {
        "epoch": epoch,
        "loss": _finite(loss),
        "val_loss": _finite(val_loss),
        "penalty": _finite(penalty),
        "accuracy": _finite(acc) if classify else None,
        "val_accuracy": _finite(val_acc) if classify else None,
        "fit_loss": _finite(fit_loss),
        "fit_accuracy": _finite(fit_acc) if classify else None,
        "seconds": round(seconds, 5),
    }


def epoch_orders(n: int, first_epoch: int, count: int) -> np.ndarray:
    """The batch order of each epoch: a function of the data size and epoch number only,
    so a variant sees the same batches fused or alone."""
    return np.stack(
        [
            np.random.default_rng([ORDER_SEED, n, first_epoch + e]).permutation(n)
            for e in range(count)
        ]
    ).astype(np.int32)


def xla_friendly(specs: Sequence[ExperimentSpec], data: Data) -> bool:
    """XLA only pays on a GPU, and "strong" image augmentation (rotation, zoom) has no XLA
    kernel, which would turn it off for the whole graph; "light" (flips, shifts) compiles."""
    tf = tf_runtime()
    if not tf.config.list_physical_devices("GPU"):
        return False
    return data.info.modality != "image" or all(s.augment != "strong" for s in specs)


class _FusedLoop:
    """The compiled graph for one fusion group: data on the device, a step that updates
    every branch, and per-epoch evaluation of all branches in inference mode.

    Each branch's Keras graph is traced as few times as possible (tracing seven branches is
    most of the fixed cost): one training step serves every batch, the last smaller one
    included, and the training-set and validation measurements share one evaluation pass.
    XLA (on a GPU) needs static shapes instead: full batches and the remainder are two steps,
    and every compiled call covers XLA_CHUNK epochs' worth of batch orders.
    """

    def __init__(self, tf, specs: Sequence[ExperimentSpec], data: Data):
        import keras

        self.tf, self.task = tf, data.info.task
        self.n = len(data.y_train)
        self.batch = min(specs[0].batch_size, self.n)
        self.models, self.optimizers = [], []
        for spec in specs:
            keras.utils.set_random_seed(spec.seed)  # same weights and masks as training alone
            model = build_model(spec, data.info)
            optimizer = FusedOptimizer(
                tf, spec.optimizer, spec.learning_rate, model.trainable_variables
            )
            self.models.append(model)
            self.optimizers.append(optimizer)
        keep = np.sort(np.random.default_rng(ORDER_SEED).permutation(self.n)[:EVAL_TRAIN_MAX])
        self.n_eval = len(keep)
        device = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            self.x, self.y = self._tensors(data.x_train, data.y_train)
            # Training subset then validation, measured together each epoch.
            self.x_measure, self.y_measure = self._tensors(
                np.concatenate([data.x_train[keep], data.x_val]),
                np.concatenate([data.y_train[keep], data.y_val]),
            )
            self.x_test, self.y_test = self._tensors(data.x_test, data.y_test)
        self.xla = xla_friendly(specs, data)
        self._epochs = self._compile(self.xla)

    def _tensors(self, x: np.ndarray, y: np.ndarray):
        tf = self.tf
        label_type = tf.int32 if self.task == "multiclass" else tf.float32
        return tf.constant(x), tf.constant(y, dtype=label_type)

    def run(self, first_epoch: int, count: int) -> np.ndarray:
        """Train `count` epochs (at most max_chunk); rows[e, branch] = fit loss/acc, train
        loss/acc, val loss/acc, penalty."""
        orders = epoch_orders(self.n, first_epoch, count)
        if self.xla:  # XLA compiles per input shape: always hand it the same one
            orders = np.concatenate([orders, np.zeros((XLA_CHUNK - count, self.n), np.int32)])
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

    def test(self) -> np.ndarray:
        """[branch] = (loss, accuracy) on the test split, final weights."""
        sums = self.tf.function(lambda: self._measure(self.x_test, self.y_test))()
        return (sums.numpy() / len(self.y_test))[:, :2]

    def release(self) -> None:
        import keras

        self.models.clear()
        self.optimizers.clear()
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

    def _penalties(self):
        tf = self.tf
        return tf.stack([tf.add_n(m.losses) if m.losses else tf.constant(0.0) for m in self.models])

    def _step(self, index):
        """One optimizer step of every branch on the same batch; returns the batch's summed
        data loss and correct count per branch."""
        tf = self.tf
        x = tf.cast(tf.gather(self.x, index), tf.float32)
        y = tf.gather(self.y, index)
        with tf.GradientTape() as tape:
            stats = [self._per_example(y, m(x, training=True)) for m in self.models]
            total = tf.add_n([tf.reduce_mean(loss) for loss, _ in stats]) + tf.reduce_sum(
                self._penalties()
            )
        variables = [m.trainable_variables for m in self.models]
        grads = tape.gradient(total, [v for vs in variables for v in vs])
        start = 0
        for optimizer, vs in zip(self.optimizers, variables, strict=True):
            optimizer.apply(grads[start : start + len(vs)])
            start += len(vs)
        return tf.stack([tf.stack([tf.reduce_sum(loss), tf.reduce_sum(c)]) for loss, c in stats])

    def _measure(self, x, y, split: int | None = None, static: bool = False):
        """Inference-mode sums per branch: [branch, (loss, correct)] for examples before
        `split`, then the same for the rest (when `split` is given), in chunks: one loop of
        any-size chunks, or (static, for XLA) fixed-size chunks and the remainder."""
        tf = self.tf
        n = int(x.shape[0])
        size = min(EVAL_BATCH, n)
        split = n if split is None else split

        def chunk(xs, ys, start):
            after = tf.cast(start + tf.range(tf.shape(ys)[0]) >= split, tf.float32)
            before = 1.0 - after
            rows = []
            for m in self.models:
                loss, correct = self._per_example(ys, m(tf.cast(xs, tf.float32), training=False))
                rows.append(
                    tf.stack(
                        [
                            tf.reduce_sum(loss * before),
                            tf.reduce_sum(correct * before),
                            tf.reduce_sum(loss * after),
                            tf.reduce_sum(correct * after),
                        ]
                    )
                )
            return tf.stack(rows)

        sums = tf.zeros([len(self.models), 4])
        if not static:
            for start in tf.range(0, n, size):
                sums += chunk(x[start : start + size], y[start : start + size], start)
            return sums
        full, rest = divmod(n, size)
        if full:
            xs = tf.reshape(x[: full * size], [full, size, *x.shape[1:]])
            ys = tf.reshape(y[: full * size], [full, size])
            for i in tf.range(full):
                sums += chunk(xs[i], ys[i], i * size)
        if rest:
            sums += chunk(x[full * size :], y[full * size :], full * size)
        return sums

    def _compile(self, xla: bool):
        tf = self.tf
        n, batch, n_eval = self.n, self.batch, self.n_eval
        n_val = int(self.x_measure.shape[0]) - n_eval
        k = len(self.models)
        full, rest = divmod(n, batch)

        def one_epoch(order):
            fit = tf.zeros([k, 2])
            if xla:  # static shapes: full batches, then the smaller last one as its own step
                if full:
                    batches = tf.reshape(order[: full * batch], [full, batch])
                    for s in tf.range(full):
                        fit += self._step(batches[s])
                if rest:
                    fit += self._step(order[full * batch :])
            else:  # one step traced once for every batch, the last smaller one included
                for start in tf.range(0, n, batch):
                    fit += self._step(order[start : start + batch])
            sums = self._measure(self.x_measure, self.y_measure, split=n_eval, static=xla)
            return tf.concat(
                [fit / n, sums[:, :2] / n_eval, sums[:, 2:] / n_val, self._penalties()[:, None]],
                axis=1,
            )

        @tf.function(
            input_signature=[tf.TensorSpec([None, n], tf.int32), tf.TensorSpec([], tf.int32)],
            jit_compile=xla,
        )
        def epochs(orders, count):
            rows = tf.TensorArray(tf.float32, size=tf.shape(orders)[0])
            for e in tf.range(count):
                rows = rows.write(e, one_epoch(orders[e]))
            return rows.stack()

        return epochs
