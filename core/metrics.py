"""The numbers a comparison is judged by, each defined once: best epoch, overfitting, gap,
means and spreads over seeds, early stopping, and the margin a claim must hold by.

Charts, the summary table, the lessons' checks and the cache all call these, so the page
and the lesson check can never disagree about the same run. Standard library only: a
cached comparison is judged without TensorFlow, numpy or pandas.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

History = Sequence[dict[str, Any]]  # one record per epoch, as core.cache stores them
Rows = list[dict[str, Any]]  # tidy points: variant, seed, epoch, split, metric, value

RISE = 1.10  # "overfits": the loss ends at least 10% above its value at the best epoch
MEMORISED = 0.95  # "fits its noisy labels": final training accuracy at least this
CHANCE_BAND = 0.05  # "at chance": held-out accuracy at most this above 1 / classes
PREFIX = {"train": "", "validation": "val_", "test": "test_"}


def key(split: str, metric: str = "loss") -> str:
    """The record field of a split's metric: ("validation", "loss") -> "val_loss"."""
    return PREFIX[split] + metric


def printed(record: dict[str, Any]) -> dict[str, float | None]:
    """An epoch's losses as Keras's fit prints them: `loss` is the running mean over the
    epoch's steps in training mode (Dropout and augmentation active) plus the L1/L2
    penalty; `val_loss` is measured at the end of the epoch in inference mode plus the
    penalty. The app's own view (loss, val_loss) is the data loss alone, both sets
    measured at the end of the epoch in inference mode."""
    return {"loss": _plus(record.get("fit_loss"), record.get("fit_penalty")),
            "val_loss": _plus(record.get("val_loss"), record.get("penalty"))}  # fmt: skip


def _plus(value: float | None, penalty: float | None) -> float | None:
    return None if value is None or penalty is None else value + penalty


# --- one run ----------------------------------------------------------------------------


def best_epoch(values: Sequence[float | None]) -> int:
    """The epoch (from 1) with the lowest value, the first on ties; None counts as worst."""
    finite = [math.inf if v is None else v for v in values]
    return finite.index(min(finite)) + 1


def curve(history: History, split: str = "validation", metric: str = "loss") -> list:
    return [r.get(key(split, metric)) for r in history]


def best_validation_epoch(history: History) -> int:
    """Where the validation data loss was lowest: the run's best epoch everywhere."""
    return best_epoch(curve(history))


def gap(history: History, split: str = "validation") -> float | None:
    """Final loss on a held-out split minus final training loss, both in inference mode."""
    last = history[-1]
    held, train = last.get(key(split)), last.get("loss")
    return None if held is None or train is None else held - train


def printed_gap(history: History, split: str = "validation") -> float | None:
    """gap() as Keras shows the numbers: the final held-out loss with the L1/L2 penalty
    (fit's val_loss; evaluate's loss on the test split) minus fit's printed training loss.
    Below 0, the printed training loss lies above the held-out loss."""
    last = history[-1]
    held = _plus(last.get(key(split)), last.get("penalty"))
    train = printed(last)["loss"]
    return None if held is None or train is None else held - train


def epochs_to_fit(history: History) -> int | None:
    """The first epoch whose training accuracy (on the labels trained on) reaches MEMORISED:
    how fast a network fits its training set; None when it never does."""
    return next((r["epoch"] for r in history if (r.get("accuracy") or 0) >= MEMORISED), None)


def rise(history: History, split: str = "validation") -> float | None:
    """Final loss on a split over its loss at the best validation epoch: above 1, the run
    got worse after its best epoch (the validation curve turned upward)."""
    values = curve(history, split)
    at_best = values[best_validation_epoch(history) - 1]
    if at_best is None or values[-1] is None or at_best <= 0:
        return None
    return values[-1] / at_best


def overfitting_onset(history: History) -> int | None:
    """The best validation epoch of a run that overfits (ends RISE above it), else None."""
    q = rise(history)
    return best_validation_epoch(history) if q is not None and q >= RISE else None


def early_stop(history: History, patience: int) -> dict[str, Any] | None:
    """Where Keras's EarlyStopping(monitor=<validation data loss>, patience,
    restore_best_weights=True) would have stopped, the epoch whose weights it restores (the
    best so far), and those weights' test scores — measured during training for this
    report, never used to choose anything. None when patience is off."""
    if not patience:
        return None
    best, best_at, wait, stopped = math.inf, 1, 0, None
    for record in history:  # Keras's on_epoch_end, epoch by epoch
        wait += 1
        value = record["val_loss"]
        if value is not None and value < best:
            best, best_at, wait = value, record["epoch"], 0
        elif wait >= patience and record["epoch"] > 1:
            stopped = record["epoch"]
            break
    restored = history[best_at - 1]
    return {"stopped": stopped, "restored": best_at, "test_loss": restored.get("test_loss"),
            "test_accuracy": restored.get("test_accuracy")}  # fmt: skip


# --- several seeds ----------------------------------------------------------------------


def finals(histories: Sequence[History], split: str, metric: str = "loss") -> list[float]:
    """The last epoch's value on a split, one per seed."""
    return [h[-1][key(split, metric)] for h in histories]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def spread(values: Sequence[float]) -> float:
    """Highest minus lowest: how far seeds disagree."""
    return max(values) - min(values) if values else 0.0


def seed_summary(rows: Rows) -> Rows:
    """Mean, lowest and highest value over seeds per (variant, split, metric, epoch)."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["split"], r["metric"], r["epoch"]), []).append(
            r["value"]
        )
    return [
        {"variant": v, "split": s, "metric": m, "epoch": e, "value": statistics.fmean(x),
         "low": min(x), "high": max(x), "seeds": len(x)}
        for (v, s, m, e), x in groups.items()
    ]  # fmt: skip


def best_epochs(summary: Rows) -> Rows:
    """Per variant, the epoch with the lowest mean validation loss (the first, on ties)."""
    curves: dict[str, dict[int, float]] = {}
    for r in summary:
        if r["metric"] == "loss" and r["split"] == "validation":
            curves.setdefault(r["variant"], {})[r["epoch"]] = r["value"]
    out = []
    for variant, by_epoch in curves.items():
        epochs = sorted(by_epoch)
        epoch = epochs[best_epoch([by_epoch[e] for e in epochs]) - 1]
        out.append({"variant": variant, "epoch": epoch, "value": by_epoch[epoch]})
    return out


def gap_rows(rows: Rows) -> Rows:
    """Validation minus training data loss per variant and epoch (means over seeds)."""
    loss = {
        (r["variant"], r["epoch"], r["split"]): r["value"]
        for r in seed_summary([r for r in rows if r["metric"] == "loss"])
    }
    return [
        {"variant": v, "epoch": e, "gap": value - loss[(v, e, "train")]}
        for (v, e, split), value in loss.items()
        if split == "validation" and (v, e, "train") in loss
    ]


# --- the margin a claim holds by ----------------------------------------------------------


@dataclass(frozen=True)
class Margin:
    """How far per-seed values clear what a claim says, in its own direction (positive
    where it holds). A comparison holds when every seed agrees and the mean difference is
    larger than the spread between seeds; a bar (a threshold) when every seed clears it."""

    differences: tuple[float, ...]  # per seed
    noise: float  # the spread between seeds the difference must exceed (0 for a bar)

    @property
    def difference(self) -> float:
        return mean(self.differences)

    @property
    def holds(self) -> bool:
        agree = all(d > 0 for d in self.differences)
        return agree and self.difference > self.noise

    @property
    def lead(self) -> float:
        """How far the narrower of the two conditions is cleared (the worst seed, or the
        mean difference over the spread): which comparison a verdict turns on."""
        return min(min(self.differences), self.difference - self.noise)

    def __str__(self) -> str:
        if not self.noise:
            return f"clears by {min(self.differences):.3g} on the worst seed"
        return f"by {self.difference:.3g} (seeds spread {self.noise:.3g})"


def below(mine: Sequence[float], theirs: Sequence[float]) -> Margin:
    """`mine` lower than `theirs`, seed by seed (paired: seed s against seed s)."""
    differences = tuple(t - m for m, t in zip(mine, theirs, strict=True))
    return Margin(differences, max(spread(mine), spread(theirs)))


def above_bar(values: Sequence[float], bar: float) -> Margin:
    """Every seed above a threshold."""
    return Margin(tuple(v - bar for v in values), 0.0)


def below_bar(values: Sequence[float], bar: float) -> Margin:
    """Every seed below a threshold."""
    return Margin(tuple(bar - v for v in values), 0.0)
