"""What a comparison says, in numbers: one summary row per variant, and the tidy per-epoch
records the charts draw. Standard library only: showing a cached comparison must not pay
for TensorFlow, or even for pandas."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from core.cache import Run


def summary_row(label: str, run: Run, cached: bool) -> dict[str, Any]:
    """The figures a user compares variants by. The gap is final validation data loss minus
    final training data loss, both measured in inference mode, penalty excluded."""
    last = run.history[-1]
    val_losses = [r["val_loss"] for r in run.history if r["val_loss"] is not None]
    val_accs = [r["val_accuracy"] for r in run.history if r.get("val_accuracy") is not None]
    gap = (
        last["val_loss"] - last["loss"]
        if last["val_loss"] is not None and last["loss"] is not None
        else None
    )
    return {
        "variant": label,
        "final val loss": last["val_loss"],
        "best val loss": min(val_losses) if val_losses else None,
        "final val acc": last.get("val_accuracy"),
        "best val acc": max(val_accs) if val_accs else None,
        "test loss": run.test.get("loss"),
        "test acc": run.test.get("accuracy"),
        "gap": gap,
        "best epoch": run.best_epoch,
        "params": run.params,
        "s/epoch": statistics.median(r["seconds"] for r in run.history),
        "source": "cached" if cached else "trained",
    }


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


# Columns where lower is better, and where higher is better: the best gets bold.
LOWER_IS_BETTER = ("final val loss", "best val loss", "test loss", "gap")
HIGHER_IS_BETTER = ("final val acc", "best val acc", "test acc")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table, the best value of each column in bold."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    best = {}
    for column in (*LOWER_IS_BETTER, *HIGHER_IS_BETTER):
        values = [row.get(column) for row in rows if isinstance(row.get(column), int | float)]
        if len(values) > 1:
            best[column] = min(values) if column in LOWER_IS_BETTER else max(values)
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
