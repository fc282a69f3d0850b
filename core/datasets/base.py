"""What a loaded dataset is: arrays split train / validation / test, and what they mean."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# Bump when the split procedure changes: every run's key depends on it via the fingerprint.
SPLIT_VERSION = 1
SPLIT_SEED = 20240517


class DatasetError(ValueError):
    """A dataset that cannot be used; the message tells the user what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    modality: str  # tabular | image | text
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]  # empty for regression
    task: str  # binary | multiclass | regression
    flip_ok: bool = False  # a mirrored example keeps its label (cats yes, digits no)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Raw:
    """A reader's output before splitting. Images are uint8 NHWC; labels are class indices
    (or floats for regression). `test` is the source's official test split, if it has one."""

    x: np.ndarray
    y: np.ndarray
    info: DatasetInfo
    test: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True, eq=False)
class Data:
    info: DatasetInfo
    fingerprint: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def with_train_size(self, n: int) -> Data:
        """A stratified, seeded subsample of n training examples (0 = all).
        Fixed per dataset, so every variant and seed trains on the same examples."""
        if n <= 0 or n >= len(self.y_train):
            return self
        keep = _stratified_subset(self.y_train, n, self.info.task)
        return replace(self, x_train=self.x_train[keep], y_train=self.y_train[keep])


def split(
    raw: Raw, fingerprint: str, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> Data:
    """Stratified, seeded train / validation / test. The test split is never used for
    validation: validation is carved out of the training data."""
    x, y = raw.x, raw.y
    if raw.test is None:
        x, x_test, y, y_test = _split(x, y, test_fraction, raw.info.task)
    else:
        x_test, y_test = raw.test
    x_train, x_val, y_train, y_val = _split(x, y, val_fraction, raw.info.task)
    if raw.info.modality == "tabular":
        x_train, x_val, x_test = _standardize(x_train, x_val, x_test)
    if raw.info.task == "regression":
        # MSE then reads in units of the target's variance: 1.0 is "predict the mean".
        y_train, y_val, y_test = _standardize(y_train, y_val, y_test)
    return Data(raw.info, fingerprint, x_train, y_train, x_val, y_val, x_test, y_test)


def _split(x: np.ndarray, y: np.ndarray, fraction: float, task: str):
    from sklearn.model_selection import train_test_split

    stratify = y if task != "regression" else None
    try:
        return train_test_split(
            x, y, test_size=fraction, random_state=SPLIT_SEED, stratify=stratify
        )
    except ValueError:
        classes = f" in {len(np.unique(y))} classes" if stratify is not None else ""
        raise DatasetError(
            f"{len(y)} examples{classes} are too few to split into training, validation and "
            "test sets; each class needs at least 5 examples"
        ) from None


def _stratified_subset(y: np.ndarray, n: int, task: str) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    stratify = y if task != "regression" else None
    try:
        keep, _ = train_test_split(index, train_size=n, random_state=SPLIT_SEED, stratify=stratify)
    except ValueError:  # too few per class for the requested size: fall back to random
        keep, _ = train_test_split(index, train_size=n, random_state=SPLIT_SEED)
    return np.sort(keep)


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    # Statistics from the training split only: nothing leaks from validation or test.
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


_hash_memo: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime) within a process."""
    stat = path.stat()
    memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _hash_memo:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _hash_memo[memo_key] = digest.hexdigest()
    return _hash_memo[memo_key]


def fingerprint_of(name: str, parts: list[str]) -> str:
    text = "\n".join([f"split-v{SPLIT_VERSION}", name, *parts])
    return hashlib.sha256(text.encode()).hexdigest()[:24]
