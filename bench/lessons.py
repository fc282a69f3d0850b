"""Does each offline dataset's default comparison show the lesson? Measured over seeds.

For every offline dataset, trains the default comparison (all variants, dataset defaults)
for each seed through the normal cached path, then prints, per dataset:
- the baseline's final validation data loss as a ratio of its minimum (overfitting shows
  as a ratio clearly above 1 and a best epoch well before the last), per seed;
- each variant's generalization gap (final validation minus final training data loss,
  both in inference mode) as a ratio of the baseline's gap, mean over seeds (< 1 narrows).

    python bench/lessons.py [--seeds 0,1,2] [--datasets iris,wine,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import datasets  # noqa: E402
from core.lessons import STANDARD, variant_specs  # noqa: E402
from core.runner import execute  # noqa: E402

OFFLINE = ["iris", "wine", "breast_cancer", "digits", "mnist5k"]
CLEARLY_ABOVE = 1.10  # final validation loss at least 10% above its minimum


def gap(run) -> float:
    last = run.history[-1]
    return last["val_loss"] - last["loss"]


def check(name: str, seeds: list[int]) -> bool:
    labelled = [
        pair
        for seed in seeds
        for pair in variant_specs(datasets.base_spec(name, seed=seed), STANDARD)
    ]
    results = execute([spec for _, spec in labelled])
    runs: dict[str, list] = {}
    for (label, _), result in zip(labelled, results, strict=True):
        runs.setdefault(label, []).append(result.run)

    base = runs["baseline"]
    epochs = base[0].spec.epochs
    ratios = [r.history[-1]["val_loss"] / min(h["val_loss"] for h in r.history) for r in base]
    best = [r.best_epoch for r in base]
    overfits = all(q >= CLEARLY_ABOVE for q in ratios) and all(b < 0.8 * epochs for b in best)
    print(
        f"\n{name}: baseline final/min validation loss per seed = "
        f"{', '.join(f'{q:.2f}' for q in ratios)}; best epoch {best} of {epochs} -> "
        f"{'overfits' if overfits else 'DOES NOT clearly overfit'}"
    )
    base_gap = statistics.mean(gap(r) for r in base)
    ok = overfits
    print(f"  {'variant':10s} {'mean gap':>9s} {'vs baseline':>11s} {'val loss':>9s}")
    for label, group in runs.items():
        mean_gap = statistics.mean(gap(r) for r in group)
        val = statistics.mean(r.history[-1]["val_loss"] for r in group)
        ratio = mean_gap / base_gap
        verdict = "" if label == "baseline" else ("narrower" if ratio < 1 else "WIDER")
        ok &= label == "baseline" or ratio < 1
        print(f"  {label:10s} {mean_gap:9.4f} {ratio:11.2f} {val:9.4f}  {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--datasets", default=",".join(OFFLINE))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {name: check(name, seeds) for name in args.datasets.split(",")}
    print("\nlesson shown:", ", ".join(f"{n}={'yes' if ok else 'NO'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
