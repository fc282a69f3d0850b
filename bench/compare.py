"""A whole 7-variant comparison: ours (fused, one compiled loop) against the peer approach —
a plain Keras script calling model.fit once per variant, as the TensorFlow "Overfit and
underfit" tutorial does — on the same data, epochs and batch size.

Each side runs in a fresh process. Imports, data loading and a runtime warm-up (one tiny
fit) are timed apart and reported separately; the timed part is what a user waits for after
pressing Run: building the models, tracing, every epoch, and the test-set score. Sides
alternate order across repeats; the ratio is the median of per-repeat ratios.

    python bench/compare.py [--datasets iris,digits,mnist5k] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = {"iris": 10.0, "digits": 5.0, "mnist5k": 3.0}


def side(which: str, dataset: str) -> dict:
    started = time.perf_counter()
    from core import datasets
    from core.spec import make_variant
    from core.training import tf_runtime, train

    tf = tf_runtime() if which != "peer" else __import__("tensorflow")
    import keras

    from core.models import build_model

    imported = time.perf_counter()
    data = datasets.load(dataset)
    base = datasets.base_spec(dataset)
    from core.lessons import STANDARD

    names = ["baseline"] if which == "one" else STANDARD
    specs = [make_variant(base, v) for v in names]
    subset = data.with_train_size(base.train_size)
    loaded = time.perf_counter()

    # Warm-up, the same on every side: start the runtime with one tiny fit.
    warm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    warm.compile("adam", "mse")
    warm.fit(tf.zeros((8, 4)), tf.zeros((8, 2)), epochs=1, verbose=0)
    keras.backend.clear_session()
    warmed = time.perf_counter()

    if which == "peer":
        for spec in specs:
            keras.utils.set_random_seed(spec.seed)
            model = build_model(spec, data.info)
            model.compile(
                keras.optimizers.Adam(spec.learning_rate),
                "sparse_categorical_crossentropy"
                if data.info.task == "multiclass"
                else "binary_crossentropy",
                metrics=["accuracy"],
            )
            model.fit(
                subset.x_train,
                subset.y_train,
                batch_size=spec.batch_size,
                epochs=spec.epochs,
                validation_data=(subset.x_val, subset.y_val),
                verbose=0,
            )
            model.evaluate(subset.x_test, subset.y_test, verbose=0)
    else:
        train(specs, data)
    done = time.perf_counter()
    return {
        "imports": imported - started,
        "load": loaded - imported,
        "warmup": warmed - loaded,
        "timed": done - warmed,
        "epochs": base.epochs,
        "variants": len(specs),
    }


def main() -> int:
    from bench._harness import alternate, header, median, run_side

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="iris,digits,mnist5k")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.dataset)))
        return 0

    header("7-variant comparison: ours (fused) vs one model.fit per variant (peer)")
    script = Path(__file__)
    failures = 0
    for dataset in args.datasets.split(","):
        times: dict[str, list[dict]] = {"ours": [], "peer": [], "one": []}
        for order in alternate(list(times), args.repeats):
            for which in order:
                times[which].append(run_side(script, "--side", which, "--dataset", dataset))
        speedups = [
            p["timed"] / o["timed"] for p, o in zip(times["peer"], times["ours"], strict=True)
        ]
        fused_vs_one = [
            o["timed"] / s["timed"] for o, s in zip(times["ours"], times["one"], strict=True)
        ]
        info = times["ours"][0]
        print(
            f"\n{dataset}: {info['variants']} variants x {info['epochs']} epochs, "
            f"{args.repeats} repeats"
        )
        for which, label in (
            ("peer", "peer: fit per variant"),
            ("ours", "ours: fused"),
            ("one", "ours: baseline alone"),
        ):
            runs = times[which]
            print(
                f"  {label:24s} timed {median([r['timed'] for r in runs]):7.2f} s   "
                f"(warm-up {median([r['warmup'] for r in runs]):.2f} s, imports "
                f"{median([r['imports'] for r in runs]):.2f} s, data "
                f"{median([r['load'] for r in runs]):.2f} s, not timed)"
            )
        speedup = median(speedups)
        target = TARGETS.get(dataset)
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
        print(f"  7 fused / 1 alone:    {median(fused_vs_one):.2f}x")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
