"""Whole comparisons and sweeps: ours (fused, one compiled loop) against the peer approach —
a plain Keras script calling model.fit once per variant (or per value of a sweep), as the
TensorFlow "Overfit and underfit" tutorial does — on the same data, epochs and batch size.

Cases:
- iris, digits, mnist5k: each dataset's default 7-variant comparison;
- moons-boundaries: the 7 variants on 2-D data with a decision-boundary grid predicted at
  every snapshot epoch; the peer predicts the same grid at the same epochs from a callback;
- l2-sweep: 8 values of L2 on digits; learning-curve: 8 training-set sizes on digits (each
  branch its own examples: the ragged fused path).

Each side runs in a fresh process. Imports, data loading and a runtime warm-up (one tiny
fit) are timed apart and reported separately; the timed part is what a user waits for after
pressing Run: building the models, tracing, every epoch, and the test-set score. Sides
alternate order across repeats; the ratio is the median of per-repeat ratios.

    python bench/compare.py [--cases iris,moons-boundaries,l2-sweep] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = ["iris", "digits", "mnist5k", "moons-boundaries", "l2-sweep", "learning-curve"]
TARGETS = {"iris": 10.0, "digits": 5.0, "mnist5k": 3.0}
SWEEPS = {
    "l2-sweep": ("digits", "l2", (0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)),
    "learning-curve": ("digits", "train_size", (25, 50, 100, 200, 300, 400, 600, 800)),
}


def labelled(case: str, which: str) -> list:
    """The specs a case trains; "one" is the baseline alone (ours), for the cost of fusion."""
    from core import datasets
    from core.spec import DEFAULT_VARIANTS, sweep_specs, variant_specs

    if case in SWEEPS:
        dataset, knob, values = SWEEPS[case]
        base = datasets.base_spec(dataset, epochs=60)
        return sweep_specs(base, knob, values[:1] if which == "one" else values)
    dataset = "moons" if case == "moons-boundaries" else case
    names = ("baseline",) if which == "one" else DEFAULT_VARIANTS
    return variant_specs(datasets.base_spec(dataset), names)


def side(which: str, case: str) -> dict:
    started = time.perf_counter()
    from core import datasets, probes
    from core.runtime import tf_runtime
    from core.training import train

    tf = tf_runtime() if which != "peer" else __import__("tensorflow")
    import keras

    from core.models import build_model

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

    if which == "peer":
        for spec in specs:
            subset = data.training(spec.train_size, spec.label_noise)
            keras.utils.set_random_seed(spec.seed)
            model = build_model(spec, data.info)
            loss = {
                "multiclass": "sparse_categorical_crossentropy",
                "binary": "binary_crossentropy",
                "regression": "mse",
            }[data.info.task]
            model.compile(
                keras.optimizers.Adam(spec.learning_rate),
                loss,
                metrics=["accuracy"] if data.info.task != "regression" else None,
            )
            callbacks = [_Snapshots(probe, spec.epochs)] if probe else []
            model.fit(subset.x_train, subset.y_train, batch_size=spec.batch_size,
                      epochs=spec.epochs, validation_data=(subset.x_val, subset.y_val),
                      verbose=0, callbacks=callbacks)  # fmt: skip
            model.evaluate(subset.x_test, subset.y_test, verbose=0)
            keras.backend.clear_session()
    else:
        train(specs, data)
    done = time.perf_counter()
    return {
        "imports": imported - started,
        "load": loaded - imported,
        "warmup": warmed - loaded,
        "timed": done - warmed,
        "epochs": max(s.epochs for s in specs),
        "runs": len(specs),
    }


class _Snapshots:
    """For the peer: predict over the probe grid at the epochs ours snapshots, as a Keras
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
    from bench._harness import alternate, header, median, run_side

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.case)))
        return 0

    header("Comparisons and sweeps: ours (fused) vs one model.fit per run (peer)")
    script = Path(__file__)
    failures = 0
    for case in args.cases.split(","):
        times: dict[str, list[dict]] = {"ours": [], "peer": [], "one": []}
        for order in alternate(list(times), args.repeats):
            for which in order:
                times[which].append(run_side(script, "--side", which, "--case", case))
        speedups = [
            p["timed"] / o["timed"] for p, o in zip(times["peer"], times["ours"], strict=True)
        ]
        fused_vs_one = [
            o["timed"] / s["timed"] for o, s in zip(times["ours"], times["one"], strict=True)
        ]
        info = times["ours"][0]
        print(f"\n{case}: {info['runs']} runs x {info['epochs']} epochs, {args.repeats} repeats")
        for which, label in (
            ("peer", "peer: fit per run"),
            ("ours", "ours: fused"),
            ("one", "ours: first run alone"),
        ):
            runs = times[which]
            print(
                f"  {label:24s} timed {median([r['timed'] for r in runs]):7.2f} s   "
                f"(warm-up {median([r['warmup'] for r in runs]):.2f} s, imports "
                f"{median([r['imports'] for r in runs]):.2f} s, data "
                f"{median([r['load'] for r in runs]):.2f} s, not timed)"
            )
        speedup = median(speedups)
        target = TARGETS.get(case)
        verdict = (
            ""
            if target is None
            else (f"target >= {target:g}x: {'met' if speedup >= target else 'NOT met'}")
        )
        failures += target is not None and speedup < target
        print(
            f"  speedup, peer / ours: {speedup:.1f}x (per repeat: "
            f"{', '.join(f'{s:.1f}' for s in speedups)})  {verdict}"
        )
        print(f"  {info['runs']} fused / 1 alone:    {median(fused_vs_one):.2f}x")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
