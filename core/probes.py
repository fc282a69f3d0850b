"""What a network predicts over its whole input space, for data small enough to draw:

- 2-D classes: class probabilities on a regular grid (TensorFlow Playground's picture of a
  decision boundary);
- 1-D regression: the fitted function over a dense line.

The worker predicts at snapshot epochs and stores the values in the run record, so a cached
comparison draws them without TensorFlow. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from core.datasets.base import Data, DatasetInfo

GRID = 50  # points per side: 2,500 predictions per snapshot
CURVE = 200
SNAPSHOTS = 12  # per run, denser early, when the picture changes fastest
MARGIN = 0.1  # beyond the data's range, as a fraction of it


def kind(info: DatasetInfo) -> str | None:
    """ "grid" for 2-D classes, "curve" for 1-D regression, None for data too big to draw:
    decided from what the data is, without loading it."""
    if info.input_shape == (2,) and info.task != "regression":
        return "grid"
    if info.input_shape == (1,) and info.task == "regression":
        return "curve"
    return None


def axes(data: Data) -> dict | None:
    """The probe inputs a dataset gets, as axes (kind, x[, y]), or None."""
    points = np.concatenate([data.x_train, data.x_val])
    if kind(data.info) == "grid":
        return {"kind": "grid", "x": _axis(points[:, 0], GRID), "y": _axis(points[:, 1], GRID)}
    if kind(data.info) == "curve":
        return {"kind": "curve", "x": _axis(points[:, 0], CURVE)}
    return None


def _axis(values: np.ndarray, count: int) -> list[float]:
    low, high = float(values.min()), float(values.max())
    pad = MARGIN * (high - low or 1.0)
    return [round(v, 4) for v in np.linspace(low - pad, high + pad, count).tolist()]


def inputs(probe: dict) -> np.ndarray:
    """The points to predict at: the grid row by row (y outer, x inner), or the line."""
    if probe["kind"] == "grid":
        gx, gy = np.meshgrid(probe["x"], probe["y"])
        return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    return np.asarray(probe["x"], np.float32)[:, None]


def values(outputs: np.ndarray, task: str) -> dict[str, list]:
    """A snapshot as stored: P(class 1) in percent (binary), the most likely class and its
    probability in percent (multiclass), or the predicted value (regression)."""
    if task == "binary":
        return {"values": np.rint(outputs[:, 0] * 100).astype(int).tolist()}
    if task == "multiclass":
        return {
            "values": np.rint(outputs.max(axis=1) * 100).astype(int).tolist(),
            "classes": outputs.argmax(axis=1).astype(int).tolist(),
        }
    return {"values": [round(float(v), 4) for v in outputs[:, 0]]}


def snapshot_epochs(epochs: int) -> list[int]:
    """The epochs to predict at: spaced geometrically from the first to the last."""
    spaced = np.geomspace(1, epochs, num=min(SNAPSHOTS, epochs))
    return sorted({int(round(e)) for e in spaced} | {epochs})
