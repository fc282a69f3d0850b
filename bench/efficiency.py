"""How close training gets to the hardware: achieved training FLOP/s of the large presets as a
fraction of this machine's dense float32 matmul peak, both measured in this run.

- peak: a 2048x2048 float32 matmul through TensorFlow with its default threading, in a
  fresh process; the best of several timed rounds after a warm-up;
- each preset: a two-variant comparison (baseline and Dropout: the smallest comparison the
  app runs; one stack of two branches, or a stack each on a CPU of two cores or more),
  steady-state epochs after the first (tracing) call, in a fresh process; one variant
  alone is shown for reference. FLOPs are counted from the layers: 2 x multiply-adds of
  every Dense and Conv2D forward, x3 for a training step (forward, input gradient, weight
  gradient). "training steps" is the epoch minus the inference-mode passes over the
  training subset, validation and test sets that every epoch records (timed on their
  own); "whole epoch" counts those passes' FLOPs too.
  Elementwise layers (BatchNorm, activations, pooling) are not counted, so the figures are
  lower bounds.

    python bench/efficiency.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (label, dataset or shape, spec overrides). Offline data; VGG uses CIFAR-shaped noise
# because the efficiency of a step does not depend on what the pixels show.
PRESETS = {
    "mlp-huge": (
        "mnist5k",
        {"arch": "mlp", "capacity": "huge", "batch_size": 128, "train_size": 3000},
    ),
    "cnn-large": (
        "mnist5k",
        {"arch": "cnn", "capacity": "large", "batch_size": 128, "train_size": 2000},
    ),
    "sign-cnn": (
        "mnist5k",
        {
            "arch": "sign_cnn",
            "capacity": "large",
            "batchnorm": True,
            "batch_size": 128,
            "train_size": 2000,
        },
    ),
    "vgg-cifar": (
        "noise32",
        {
            "arch": "vgg_cifar",
            "capacity": "large",
            "batchnorm": True,
            "batch_size": 128,
            "train_size": 512,
        },
    ),
}
TARGET = 0.5
# The target is for the large presets; the course's sign-language CNN (264k parameters, thin
# convolutions on 28x28 inputs) is small enough for per-op overhead to dominate, and is
# reported for reference.
SMALL = {"sign-cnn"}


def forward_flops(model) -> int:
    """FLOPs of one example's forward pass through Dense and Conv2D layers."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif kind == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
    return int(total)


def side_peak() -> dict:
    import tensorflow as tf

    n = 2048
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    best = 0.0
    for _ in range(5):
        reps = 10
        start = time.perf_counter()
        for _ in range(reps):
            out = matmul(a, b)
        out.numpy()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - start))
    return {"flops": best}


def side_preset(name: str, variants: int) -> dict:
    import numpy as np

    from core import datasets
    from core.datasets.base import Data, DatasetInfo
    from core.models import build_model
    from core.runtime import tf_runtime
    from core.spec import ExperimentSpec, make_variant
    from core.training import EVAL_TRAIN_MAX, _Layout, _Loop, _Plan

    tf = tf_runtime()
    source, overrides = PRESETS[name]
    if source == "noise32":
        rng = np.random.default_rng(0)
        info = DatasetInfo("noise32", "noise", "image", (32, 32, 3), tuple(map(str, range(10))),
                           "multiclass", flip_ok=True)  # fmt: skip

        def images(n):
            return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10

        data = Data(info, "noise", *images(overrides["train_size"]), *images(256), *images(256))
    else:
        data = datasets.load(source)
    base = ExperimentSpec(dataset=source, epochs=100, **overrides)
    specs = [base, make_variant(base, "dropout")][:variants]
    layout, members = _Layout.of(_Plan.of(specs, False).branches, data, None)
    loop = _Loop(tf, layout)
    loop.load(specs, members, data, None)
    loop.run(0, 1)  # traces and compiles: not part of the steady state
    epochs = 3
    start = time.perf_counter()
    loop.run(1, epochs)
    seconds = (time.perf_counter() - start) / epochs
    fit = tf.zeros([loop.branches, 3])
    loop._end(fit)  # the inference-mode passes alone (its first call traces them)
    start = time.perf_counter()
    for _ in range(epochs):
        loop._end(fit).numpy()
    measuring = (time.perf_counter() - start) / epochs
    subset = data.training(base.train_size)
    n_train = len(subset.y_train)
    measured = min(n_train, EVAL_TRAIN_MAX) + len(subset.y_val) + len(subset.y_test)
    flops = sum(forward_flops(build_model(s, data.info)) for s in specs)
    return {
        "flops": flops * (3 * n_train + measured) / seconds,
        "training_flops": flops * 3 * n_train / (seconds - measuring),
        "seconds": seconds,
    }


def main() -> int:
    from bench._harness import header, median, run_side

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--variants", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "peak":
        print(json.dumps(side_peak()))
        return 0
    if args.side:
        print(json.dumps(side_preset(args.side, args.variants)))
        return 0

    header("achieved training FLOP/s vs measured matmul peak")
    script = Path(__file__)
    peaks, results = [], {}
    names = args.presets.split(",")
    for r in range(args.repeats):
        peaks.append(run_side(script, "--side", "peak")["flops"])
        for name in names[r % len(names) :] + names[: r % len(names)]:
            for variants in (2, 1):
                results.setdefault((name, variants), []).append(
                    run_side(script, "--side", name, "--variants", str(variants))
                )
    peak = median(peaks)
    print(
        f"\nmatmul peak (2048^2 float32, TF default threads): {peak / 1e9:.0f} GFLOP/s "
        f"(per repeat: {', '.join(f'{p / 1e9:.0f}' for p in peaks)})"
    )
    print(f"{'preset':10s} {'variants':>8s} {'training steps':>21s} {'whole epoch':>19s} "
          f"{'s/epoch':>8s}")  # fmt: skip
    failures = 0
    for (name, variants), runs in results.items():
        steps = median([x["training_flops"] for x in runs])
        whole = median([x["flops"] for x in runs])
        verdict = "small preset, for reference"
        if variants == 1:
            verdict = "one alone, for reference"
        elif name not in SMALL:
            verdict = "target met" if steps / peak >= TARGET else "BELOW TARGET"
            failures += steps / peak < TARGET
        print(f"{name:10s} {variants:8d} {steps / 1e9:7.0f} GFLOP/s {steps / peak:5.0%} "
              f"{whole / 1e9:7.0f} GFLOP/s {whole / peak:4.0%} "
              f"{median([x['seconds'] for x in runs]):8.2f}  {verdict}")  # fmt: skip
    print(
        f"\ntarget: a comparison's training steps on a large preset reach >= {TARGET:.0%} of peak."
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
