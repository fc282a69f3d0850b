"""Whole comparisons and sweeps: ours (every run a branch of one compiled loop, branches of
one shape stacked) against two Keras peers, on the same data, epochs and batch size:

- naive: a plain Keras script calling model.fit once per variant (or per value of a sweep),
  as the TensorFlow "Overfit and underfit" tutorial does;
- fused Keras: what a skilled Keras user writes — one functional model holding every
  variant as a branch (its own output, loss and labels), one fit with the best of a few
  steps_per_execution values, evaluating the training subset, validation and test sets
  every epoch as the app records them (validation inside fit, the others from a callback).
  A learning curve's branches learn from different examples: no single fit does that, so
  this peer sits that case out.

Cases:
- iris, digits, mnist5k: each dataset's default 7-variant comparison;
- moons-boundaries: the 7 variants on 2-D data with a decision-boundary grid predicted at
  every snapshot epoch; the peers predict the same grid at the same epochs from a callback;
- l2-sweep: 8 values of L2 on digits; learning-curve: 8 training-set sizes on digits (each
  branch its own examples).

For the cases with targets, the comparison's matrix products alone are timed too (see
matmuls_alone): what no implementation on TensorFlow's kernels could beat on this machine,
and so the highest ratios the targets could reach here.

Each side runs in a fresh process. Imports, data loading and a runtime warm-up (one tiny
fit) are timed apart and reported separately; the timed part is what a user waits for after
pressing Run: building the models, tracing, every epoch, and the test-set score. "ours" in a
fresh process pays for tracing its loop; "ours, warm" is the same comparison with other
strengths trained next in that process (a warm server: no tracing). Sides alternate order
across repeats; ratios are the medians of per-repeat ratios, all measured in this run.

    python bench/compare.py [--cases iris,digits,l2-sweep] [--repeats 1] [--no-xla]

--no-xla compiles no whole step with XLA on any side (by default, ours and Keras's do where
a GPU makes it pay; ours always compiles its optimizer update).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = ["iris", "digits", "mnist5k", "moons-boundaries", "l2-sweep", "learning-curve"]
SWEEPS = {
    "l2-sweep": ("digits", "l2", (0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)),
    "learning-curve": ("digits", "train_size", (25, 50, 100, 200, 300, 400, 600, 800)),
}
# Targets, each a ratio measured in one run: (numerator side, denominator side, ratio).
TARGETS = {
    "iris": [("naive", "ours", 15.0), ("ours", "one", 1 / 2)],
    "digits": [("naive", "ours", 15.0), ("keras", "ours", 4.0), ("ours", "one", 1 / 2)],
    "l2-sweep": [("keras", "ours", 4.0)],
}
SPE = (1, 8, 32)  # steps_per_execution values the fused-Keras peer tries; it keeps the best
LOSSES = {"multiclass": "sparse_categorical_crossentropy", "binary": "binary_crossentropy",
          "regression": "mse"}  # fmt: skip


def labelled(case: str, which: str) -> list:
    """The specs a case trains; "one" is the first alone (ours), for the cost of fusion."""
    from core import datasets
    from core.spec import DEFAULT_VARIANTS, sweep_specs, variant_specs

    if case in SWEEPS:
        dataset, knob, values = SWEEPS[case]
        base = datasets.base_spec(dataset, epochs=60)
        return sweep_specs(base, knob, values[:1] if which == "one" else values)
    dataset = "moons" if case == "moons-boundaries" else case
    names = ("baseline",) if which == "one" else DEFAULT_VARIANTS
    return variant_specs(datasets.base_spec(dataset), names)


def side(which: str, case: str, spe: int, xla: bool) -> dict:
    started = time.perf_counter()
    from core import datasets, probes, training
    from core.runtime import tf_runtime
    from core.training import train

    if not xla:
        training.xla_friendly = lambda specs, data: False

    tf = tf_runtime() if which in ("ours", "one") else __import__("tensorflow")
    import keras

    imported = time.perf_counter()
    specs = [spec for _, spec in labelled(case, which)]
    data = datasets.for_spec(specs[0])
    probe = probes.axes(data)
    loaded = time.perf_counter()

    # Warm-up, the same on every side: start the runtime with one tiny fit.
    warm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    warm.compile("adam", "mse")
    warm.fit(tf.zeros((8, 4)), tf.zeros((8, 2)), epochs=1, verbose=0)
    keras.backend.clear_session()
    warmed = time.perf_counter()

    out = {"epochs": max(s.epochs for s in specs), "runs": len(specs)}
    if which == "naive":
        for spec in specs:
            naive_fit(spec, data, probe, xla)
    elif which == "keras":
        fused_keras_fit(specs, data, probe, spe, xla)
    else:
        train(specs, data)
        if which == "ours":  # the next comparison on a warm server: other strengths
            tick = time.perf_counter()
            train([replace(s, l2=s.l2 * 3, dropout=s.dropout and 0.3) for s in specs], data)
            out["warm"] = time.perf_counter() - tick
    done = time.perf_counter() - out.get("warm", 0.0)
    return out | {"imports": imported - started, "load": loaded - imported,
                  "warmup": warmed - loaded, "timed": done - warmed}  # fmt: skip


def matmuls_alone(case: str) -> dict:
    """The comparison's matrix products and nothing else, on TensorFlow's own kernels, in the
    app's threading: every epoch, each stack's forward, weight-gradient and input-gradient
    products of every training step (at the loop's batch shapes), and the forward products
    of the examples measured each epoch (in the loop's chunks). No loss, activation,
    optimizer or data movement: a floor for any implementation built on these kernels, on
    this machine. Dense layers only: the cases it is printed for are MLPs."""
    import keras
    import numpy as np

    from core import datasets
    from core.models import build_model
    from core.runtime import tf_runtime
    from core.stacked import stack_key
    from core.training import EVAL_BATCH, EVAL_TRAIN_MAX

    tf = tf_runtime()
    specs = [spec for _, spec in labelled(case, "ours")]
    data = datasets.for_spec(specs[0])
    stacks: dict[tuple, list] = {}
    for spec in specs:
        stacks.setdefault(stack_key(spec, data.info), []).append(spec)
    n = max(data.train_count(s.train_size) for s in specs)
    batch = min(specs[0].batch_size, n)
    steps = -(-n // batch)
    measured = min(n, EVAL_TRAIN_MAX) + len(data.y_val) + len(data.y_test)
    chunks = -(-measured // EVAL_BATCH)
    chunk = -(-measured // chunks)
    rng = np.random.default_rng(0)

    def variable(*shape):
        return tf.Variable(rng.normal(0, 0.1, shape).astype(np.float32))

    products = []  # per Dense layer of each stack: its kernel, a batch in, a gradient out
    for members in stacks.values():
        dense = [layer for layer in build_model(members[0], data.info).layers
                 if isinstance(layer, keras.layers.Dense)]  # fmt: skip
        for k, layer in enumerate(dense):
            (fan_in, fan_out), b = layer.kernel.shape, len(members)
            products.append((k == 0, variable(b, fan_in, fan_out), variable(b, batch, fan_in),
                             variable(b, batch, fan_out), variable(b, chunk, fan_in)))  # fmt: skip
        keras.backend.clear_session()

    @tf.function(autograph=False)
    def epoch():
        out = []
        for first, w, h, g, x in products:
            # Loop variables keep every product alive; the inputs are read afresh each step.
            def step(i, *_, first=first, w=w, h=h, g=g):
                input_grad = tf.zeros([]) if first else tf.matmul(g, w, transpose_b=True)
                return (i + 1, tf.matmul(h, w), tf.matmul(h, g, transpose_a=True),
                        input_grad)  # fmt: skip

            shapes = [tf.zeros([]), tf.zeros([]), tf.zeros([])]
            invariants = (tf.TensorShape([]),) + (tf.TensorShape(None),) * 3
            out += tf.while_loop(lambda i, *_: i < steps, step, (0, *shapes),
                                 shape_invariants=invariants)[1:]  # fmt: skip
            out += tf.while_loop(
                lambda i, _: i < chunks,
                lambda i, _, w=w, x=x: (i + 1, tf.matmul(x, w)),
                (0, tf.zeros([])),
                shape_invariants=(tf.TensorShape([]), tf.TensorShape(None)),
            )[1:]
        return [tf.reduce_sum(t[..., :1]) for t in out]

    epoch()  # traced and run once: not timed
    start = time.perf_counter()
    for _ in range(max(s.epochs for s in specs)):
        done = epoch()
    float(done[0])
    return {"timed": time.perf_counter() - start}


def naive_fit(spec, data, probe, xla: bool) -> None:
    """One model.fit, as the tutorial writes it, with the test score at the end."""
    import keras

    from core.models import build_model

    subset = data.training(spec.train_size, spec.label_noise)
    keras.utils.set_random_seed(spec.seed)
    model = build_model(spec, data.info)
    metrics = ["accuracy"] if data.info.task != "regression" else None
    model.compile(keras.optimizers.Adam(spec.learning_rate), LOSSES[data.info.task],
                  metrics=metrics, jit_compile="auto" if xla else False)  # fmt: skip
    callbacks = [_Snapshots(probe, spec.epochs)] if probe else []
    model.fit(subset.x_train, subset.y_train, batch_size=spec.batch_size, epochs=spec.epochs,
              validation_data=(subset.x_val, subset.y_val), verbose=0,
              callbacks=callbacks)  # fmt: skip
    model.evaluate(subset.x_test, subset.y_test, verbose=0)
    keras.backend.clear_session()


def fused_keras_fit(specs, data, probe, spe: int, xla: bool) -> None:
    """Every variant a branch of one functional model: one input, one output, loss and set
    of labels per branch (Adam's update is per parameter, so this trains each branch as
    alone), one fit; train, validation and test measured every epoch."""
    import keras

    from core.models import build_model
    from core.training import EVAL_BATCH, EVAL_TRAIN_MAX

    keras.utils.set_random_seed(specs[0].seed)
    inputs = keras.Input(data.info.input_shape)
    outputs = []
    for i, spec in enumerate(specs):
        branch = build_model(spec, data.info)  # named apart: a model's names must be unique
        outputs.append(keras.Model(branch.inputs, branch.outputs, name=f"branch_{i}")(inputs))
    model = keras.Model(inputs, outputs)
    task = data.info.task
    metrics = [["accuracy"]] * len(specs) if task != "regression" else None
    model.compile(keras.optimizers.Adam(specs[0].learning_rate), [LOSSES[task]] * len(specs),
                  metrics=metrics, steps_per_execution=spe,
                  jit_compile="auto" if xla else False)  # fmt: skip
    subset = data.training(specs[0].train_size)
    labels = [data.training(s.train_size, s.label_noise).y_train for s in specs]
    measured = subset.x_train[:EVAL_TRAIN_MAX], [y[:EVAL_TRAIN_MAX] for y in labels]
    tested = subset.x_test, [subset.y_test] * len(specs)

    class Measure(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for x, y in (measured, tested):
                self.model.evaluate(x, y, batch_size=EVAL_BATCH, verbose=0)

    callbacks = [Measure()] + ([_Snapshots(probe, specs[0].epochs)] if probe else [])
    model.fit(subset.x_train, labels, batch_size=specs[0].batch_size, epochs=specs[0].epochs,
              validation_data=(subset.x_val, [subset.y_val] * len(specs)),
              validation_batch_size=EVAL_BATCH, verbose=0, callbacks=callbacks)  # fmt: skip


class _Snapshots:
    """For the peers: predict over the probe grid at the epochs ours snapshots, as a Keras
    callback (what a notebook would write to draw decision boundaries)."""

    def __new__(cls, probe, epochs):
        import keras

        from core import probes

        points = probes.inputs(probe)
        at = set(probes.snapshot_epochs(epochs))

        class Snapshots(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 in at:
                    self.model.predict(points, verbose=0, batch_size=4096)

        return Snapshots()


def main() -> int:
    from bench._harness import alternate, header, run_side

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--no-xla", action="store_true", help="XLA off on every side")
    parser.add_argument("--spe", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "matmuls":
        print(json.dumps(matmuls_alone(args.case)))
        return 0
    if args.side:
        print(json.dumps(side(args.side, args.case, args.spe, not args.no_xla)))
        return 0

    header("Comparisons and sweeps: ours vs one model.fit per run vs one fused Keras model")
    script = Path(__file__)
    failures = 0
    for case in args.cases.split(","):
        sides = ["naive", "ours", "one"] + ([] if case == "learning-curve" else ["keras"])
        sides += ["matmuls"] if case in TARGETS else []
        times: dict[str, list[dict]] = {which: [] for which in sides}
        xla = ["--no-xla"] if args.no_xla else []
        for order in alternate(sides, args.repeats):
            for which in order:
                if which != "keras":
                    times[which].append(run_side(script, "--side", which, "--case", case, *xla))
                    continue
                tries = {spe: run_side(script, "--side", "keras", "--case", case, "--spe",
                                       str(spe), *xla) for spe in SPE}  # fmt: skip
                best = min(tries, key=lambda spe: tries[spe]["timed"])
                times["keras"].append(tries[best] | {"spe": best})
        failures += report(case, times, args.repeats)
    return 1 if failures else 0


def report(case: str, times: dict[str, list[dict]], repeats: int) -> int:
    """Print one case's seconds and ratios; return how many targets it missed."""
    from bench._harness import median

    info = times["ours"][0]
    print(f"\n{case}: {info['runs']} runs x {info['epochs']} epochs, {repeats} repeat(s)")
    labels = {"naive": "naive: fit per run", "keras": "fused Keras, one fit",
              "ours": "ours", "one": "ours: first run alone"}  # fmt: skip
    for which, runs in times.items():
        if which == "matmuls":
            continue
        extra = f", steps_per_execution {runs[0]['spe']}" if which == "keras" else ""
        print(f"  {labels[which]:24s} timed {median([r['timed'] for r in runs]):7.2f} s   "
              f"(warm-up {median([r['warmup'] for r in runs]):.2f} s, imports "
              f"{median([r['imports'] for r in runs]):.2f} s, data "
              f"{median([r['load'] for r in runs]):.2f} s, not timed{extra})")  # fmt: skip
    print(
        f"  {'ours, warm (new strengths)':24s} timed "
        f"{median([r['warm'] for r in times['ours']]):7.2f} s"
    )

    def ratio(top: str, bottom: str) -> float:
        return median([a["timed"] / b["timed"]
                       for a, b in zip(times[top], times[bottom], strict=True)])  # fmt: skip

    if "matmuls" in times:
        floor = median([r["timed"] for r in times["matmuls"]])
        best = ", ".join(f"{top} / floor {ratio(top, 'matmuls'):.1f}x"
                         for top in ("naive", "keras") if top in times)  # fmt: skip
        print(
            f"  {'its matmuls alone':24s} timed {floor:7.2f} s   (the ceiling for any "
            f"implementation on TensorFlow's kernels here: {best})"
        )
    missed = 0
    shown = [("naive", "ours"), ("keras", "ours"), ("ours", "one")]
    for top, bottom in shown:
        if top not in times or bottom not in times:
            continue
        value = ratio(top, bottom)
        wanted = {(t, b): goal for t, b, goal in TARGETS.get(case, [])}.get((top, bottom))
        verdict = ""
        if wanted is not None:
            met = value >= wanted if wanted >= 1 else value <= 1 / wanted
            verdict = (f"target {'>=' if wanted >= 1 else '<='} "
                       f"{wanted if wanted >= 1 else 1 / wanted:g}x: "
                       f"{'met' if met else 'NOT met'}")  # fmt: skip
            missed += not met
        print(f"  {top} / {bottom}: {value:5.1f}x  {verdict}")
    # A server pre-traces the offline defaults and keeps what it traced: there, the wait
    # after Run is the warm time (the targets above are judged on the cold one).
    warm = {top: median([a["timed"] / b["warm"] for a, b in
                         zip(times[top], times["ours"], strict=True)])
            for top in ("naive", "keras") if top in times}  # fmt: skip
    print("  on a warm server: " + ", ".join(f"{top} / ours warm {v:.1f}x"
                                             for top, v in warm.items()))  # fmt: skip
    return missed


if __name__ == "__main__":
    sys.exit(main())
