"""What a comparison says, in numbers: one summary row per variant, and the tidy per-epoch
records the charts draw. Standard library only: showing a cached comparison must not pay
for TensorFlow, or even for pandas."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from core import metrics
from core.cache import Run
from core.spec import ExperimentSpec


def early_stop(run: Run) -> dict[str, Any] | None:
    """Where Keras's EarlyStopping would have stopped this run (core.metrics.early_stop)."""
    return metrics.early_stop(run.history, run.spec.patience)


def summary_row(label: str, run: Run, cached: bool) -> dict[str, Any]:
    """The figures a user compares variants by. The gap is final validation data loss minus
    final training data loss, both measured in inference mode, penalty excluded."""
    last = run.history[-1]
    val_losses = [r["val_loss"] for r in run.history if r["val_loss"] is not None]
    val_accs = [r["val_accuracy"] for r in run.history if r.get("val_accuracy") is not None]
    row = {
        "variant": label,
        "final val loss": last["val_loss"],
        "best val loss": min(val_losses) if val_losses else None,
        "final val acc": last.get("val_accuracy"),
        "best val acc": max(val_accs) if val_accs else None,
        "test loss": run.test.get("loss"),
        "test acc": run.test.get("accuracy"),
        "gap": metrics.gap(run.history),
        "best epoch": metrics.best_validation_epoch(run.history),
    }
    stop = early_stop(run)
    if stop is not None:
        row |= {
            "stopped at": stop["stopped"],
            "restored test loss": stop["test_loss"],
            "restored test acc": stop["test_accuracy"],
        }
    if last.get("accuracy") is None:  # regression: no accuracy columns
        row = {k: v for k, v in row.items() if "acc" not in k}
    # No time per epoch: the variants of a comparison train in one loop, so each would show
    # the loop's, the same for a network of 500 weights as for one of 270,000.
    return row | {"params": run.params, "source": "cached" if cached else "trained"}


def run_row(run: Run) -> dict[str, Any]:
    """One cached run as the Runs page and `python -m core runs` list it."""
    import time

    val = [r["val_loss"] for r in run.history if r["val_loss"] is not None]
    spec = run.spec
    return {
        "key": run.key,
        "dataset": spec.dataset,
        "variant": variant_name(spec),
        "arch": spec.arch,
        "capacity": spec.capacity,
        "epochs": spec.epochs,
        "seed": spec.seed,
        "final val loss": run.history[-1]["val_loss"],
        "best val loss": min(val, default=None),
        "test acc": run.test.get("accuracy"),
        "trained": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.meta.get("created", 0))),
    }


def variant_name(spec: ExperimentSpec) -> str:
    """What a run is, in a few words (core.spec.describe), against its dataset's network."""
    from core import datasets
    from core.datasets import DatasetError
    from core.spec import describe

    try:
        capacity = datasets.defaults(spec.dataset).get("capacity", spec.capacity)
    except (DatasetError, OSError):
        capacity = spec.capacity  # a dataset no longer on this server
    return describe(spec, capacity)


def diverged(label: str, run: Run) -> str | None:
    """Where a variant diverged (its loss or weights overflowed) and what to try."""
    if not run.meta.get("diverged"):
        return None
    spec = run.spec
    return (
        f"{label} diverged at epoch {run.meta['diverged']}: its loss or weights overflowed "
        f"and it stopped learning there. The learning rate ({spec.learning_rate:g}) is too "
        f"high for {spec.optimizer} here; try {spec.learning_rate / 10:g} or lower."
    )


def surprise(label: str, run: Run, classes: int) -> str | None:
    """Why a variant diverged, or why one that learned (high accuracy while training)
    scores near chance on the same training data in inference mode, and what to try; None
    when nothing surprising happened. Training data on both sides: held-out accuracy at
    chance is what a network that memorised random labels should show, not a mismatch
    between the two modes."""
    if note := diverged(label, run):
        return note
    last = run.history[-1]
    fit, inference = last.get("fit_accuracy"), last.get("accuracy")
    if fit is None or inference is None or classes < 2:
        return None
    chance = 1 / classes
    if not (fit >= 0.8 and inference <= chance + 0.15 * (1 - chance)):
        return None
    spec = run.spec
    steps = math.ceil(run.meta.get("train_examples", 0) / spec.batch_size) or 1
    reasons = []
    if spec.batchnorm:
        reasons.append(
            f"BatchNorm normalises with each batch's statistics while training, but at "
            f"inference with moving averages that need a few hundred steps to settle; "
            f"{run.spec.epochs} epochs of {steps} batches is {run.spec.epochs * steps} steps. "
            "Try more epochs, a smaller batch size, or leave BatchNorm out"
        )
    if spec.dropout >= 0.5:
        reasons.append(
            f"Dropout {spec.dropout:g} drops {spec.dropout:.0%} of each layer at every step; "
            "try a lower rate"
        )
    why = "; ".join(reasons) or "training and inference behave differently here"
    return (
        f"{label} reaches {fit:.0%} accuracy while training but {inference:.0%} on the "
        f"same training data in inference mode (chance is {chance:.0%}): {why}."
    )


def sweep_points(entries: Sequence[tuple[str, Sequence[dict]]]) -> list[dict[str, Any]]:
    """A validation curve: per value of the knob (its label), final training, final and
    best validation, and final test loss, as mean / low / high over seeds."""
    groups: dict[str, list[Sequence[dict]]] = {}
    for label, records in entries:
        groups.setdefault(label, []).append(records)
    rows = []
    for label, histories in groups.items():
        measures = {
            "training (final)": [h[-1]["loss"] for h in histories],
            "validation (final)": [h[-1]["val_loss"] for h in histories],
            "validation (best)": [
                min((r["val_loss"] for r in h if r["val_loss"] is not None), default=None)
                for h in histories
            ],
            "test (final)": [h[-1].get("test_loss") for h in histories],
        }
        for measure, values in measures.items():
            numbers = [v for v in values if v is not None]
            if numbers:
                rows.append({"label": label, "measure": measure,
                             "loss": statistics.fmean(numbers), "low": min(numbers),
                             "high": max(numbers), "seeds": len(numbers)})  # fmt: skip
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table for the terminal."""
    if not rows:
        return "(no runs)"
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    numeric = [
        all(isinstance(row[c], int | float) or row[c] is None for row in rows) for c in columns
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns)] + [line(r) for r in cells])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def tidy(curves: Sequence[tuple[str, int, Sequence[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """(variant label, seed, epoch records) -> one record per (variant, seed, epoch, split,
    metric): what the charts draw. Works on finished runs and on live, partial histories."""
    rows = []
    for label, seed, history in curves:
        for r in history:
            for split, prefix in (("train", ""), ("validation", "val_")):
                for metric in ("loss", "accuracy"):
                    value = r.get(prefix + metric)
                    if value is not None:
                        rows.append(_point(label, seed, r["epoch"], split, metric, value))
            if r.get("penalty") is not None:
                rows.append(_point(label, seed, r["epoch"], "train", "penalty", r["penalty"]))
    return rows


def _point(variant, seed, epoch, split, metric, value) -> dict[str, Any]:
    return {
        "variant": variant,
        "seed": seed,
        "epoch": epoch,
        "split": split,
        "metric": metric,
        "value": value,
    }


def summary_table(entries: Sequence[tuple[str, Run, bool]]) -> list[dict[str, Any]]:
    """One row per variant; with several seeds, the mean over seeds and their count."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for label, run, cached in entries:
        by_label.setdefault(label, []).append(summary_row(label, run, cached))
    table = []
    for label, rows in by_label.items():
        merged: dict[str, Any] = {"variant": label}
        for column in rows[0]:
            if column == "variant":
                continue
            values = [r[column] for r in rows]
            numbers = [v for v in values if isinstance(v, int | float)]
            if column == "source":
                merged[column] = "cached" if all(v == "cached" for v in values) else "trained"
            elif len(numbers) == len(values) and numbers:
                mean = statistics.mean(numbers)
                merged[column] = round(mean) if column in ("params", "best epoch") else mean
            else:
                merged[column] = None
        if len(rows) > 1:
            merged["seeds"] = len(rows)
        table.append(merged)
    return table


# Columns where lower is better, higher is better, and nearer zero is better (a gap below
# zero, validation under training loss on noisy training labels, is no better than none):
# the best gets bold.
LOWER_IS_BETTER = ("final val loss", "best val loss", "test loss", "restored test loss")
HIGHER_IS_BETTER = ("final val acc", "best val acc", "test acc", "restored test acc")
NEAREST_ZERO = ("gap",)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table, the best value of each column in bold."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    best = {}
    for column in (*LOWER_IS_BETTER, *HIGHER_IS_BETTER, *NEAREST_ZERO):
        values = [row.get(column) for row in rows if isinstance(row.get(column), int | float)]
        if len(values) > 1:
            best[column] = min(values, key=abs) if column in NEAREST_ZERO else (
                min(values) if column in LOWER_IS_BETTER else max(values))  # fmt: skip
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if c == "variant" or c == "source" else "---:" for c in columns) + "|",
    ]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            text = _cell(value)
            cells.append(f"**{text}**" if column in best and value == best[column] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- words ------------------------------------------------------------------------------


def count(n: int, noun: str, plural: str = "") -> str:
    """A number with its noun, singular or plural: "1 seed", "3 seeds", "1,149 runs"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def series(items: Sequence) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c" (numbers with commas)."""
    words = [f"{n:,}" if isinstance(n, int) else str(n) for n in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def span(numbers: Sequence[int]) -> str:
    """One number, or the range of several: "400", "50 to 1,149"."""
    low, high = min(numbers), max(numbers)
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"
