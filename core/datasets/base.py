"""What a loaded dataset is: arrays split train / validation / test, and what they mean.

The functions that decide which examples and labels a run learns from (stratified_order,
noisy_labels) are plain numpy with their constants inside: the Model page pastes their
source into the notebook code it generates, so that code prepares exactly the same data.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from stat import S_ISREG

import numpy as np

# Bump when the split procedure changes: every run's key depends on it via the fingerprint.
SPLIT_VERSION = 2
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
    noun: str = "examples"  # what one example is called in a lesson's text

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Raw:
    """A reader's output before splitting. Images are uint8 NHWC; labels are class indices
    (or floats for regression). `test` (and `val`) are given when the source has its own
    splits: an official test set, or fresh draws of a generated dataset."""

    x: np.ndarray
    y: np.ndarray
    info: DatasetInfo
    test: tuple[np.ndarray, np.ndarray] | None = None
    val: tuple[np.ndarray, np.ndarray] | None = None
    features: tuple[str, ...] = ()  # a table's column names, for messages


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

    def train_count(self, n: int) -> int:
        """How many training examples a train_size of n means (0 = all)."""
        return len(self.y_train) if n <= 0 else min(n, len(self.y_train))

    def training(self, n: int = 0, label_noise: float = 0.0) -> Data:
        """The first n examples of the training split in a fixed, stratified order (0 = all),
        with a fraction of their labels replaced by random ones. Nested: 100 examples are
        the first 100 of 400, so a learning curve adds data rather than swapping it; and
        the same for every variant and seed."""
        count = self.train_count(n)
        keep = stratified_order(self.y_train, self.info.task == "regression")[:count]
        y = self.y_train[keep]
        if label_noise:
            check_label_noise(self.info, label_noise)
            y = noisy_labels(y, label_noise, self.info.num_classes)
        return replace(self, x_train=self.x_train[keep], y_train=y)


def check_label_noise(info: DatasetInfo, fraction: float) -> None:
    """Label noise draws random classes: regression data has none to draw."""
    if fraction and info.task == "regression":
        raise DatasetError(
            f"{info.title} is regression data: its targets are numbers, not classes, so "
            "there are no labels to make random; set label noise to 0"
        )


def stratified_order(y, regression=False):
    """A fixed order of the training examples in which every prefix keeps the class balance:
    each class's examples, shuffled, spread evenly through the order."""
    rng = np.random.default_rng(90210)
    if regression:
        return rng.permutation(len(y))
    rank = np.empty(len(y))
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        rank[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.argsort(rank, kind="stable")


def noisy_labels(y, fraction, num_classes):
    """Replace a fraction of labels with random classes (which may, by chance, be the true
    one, as in Zhang et al. 2017). Seeded by the number of labels, so the same examples are
    noisy for every variant and seed, and a larger fraction adds to a smaller one's."""
    rng = np.random.default_rng([31337, len(y)])
    chosen = rng.permutation(len(y))[: round(fraction * len(y))]
    random_labels = rng.integers(num_classes, size=len(y))[: len(chosen)]
    y = np.array(y, copy=True)
    y[chosen] = random_labels.astype(y.dtype)
    return y


def split(
    raw: Raw, fingerprint: str, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> Data:
    """Stratified, seeded train / validation / test. The test split is never used for
    validation: validation is carved out of the training data."""
    x, y = raw.x, raw.y
    try:
        if raw.test is None:
            x, x_test, y, y_test = _split(x, y, test_fraction, raw.info.task)
        else:
            x_test, y_test = raw.test
        if raw.val is None:
            x_train, x_val, y_train, y_val = _split(x, y, val_fraction, raw.info.task)
        else:
            (x_train, y_train), (x_val, y_val) = (x, y), raw.val
    except ValueError:
        raise DatasetError(_too_few(raw, val_fraction, test_fraction)) from None
    if raw.info.modality == "tabular":
        x_train, x_val, x_test = _standardize(x_train, x_val, x_test, names=raw.features)
    if raw.info.task == "regression":
        # MSE then reads in units of the target's variance: 1.0 is "predict the mean".
        y_train, y_val, y_test = _standardize(y_train, y_val, y_test, names=("target",))
    return Data(raw.info, fingerprint, x_train, y_train, x_val, y_val, x_test, y_test)


def _split(x: np.ndarray, y: np.ndarray, fraction: float, task: str):
    from sklearn.model_selection import train_test_split

    stratify = y if task != "regression" else None
    return train_test_split(x, y, test_size=fraction, random_state=SPLIT_SEED, stratify=stratify)


def _too_few(raw: Raw, val_fraction: float, test_fraction: float) -> str:
    """Why scikit-learn would not split this data, said in the data's own terms."""
    n = len(raw.y)
    if raw.info.task == "regression":
        return f"{n} examples are too few to split into training, validation and test sets"
    # The smallest held-out set the splits cut, as a share of the data: it must hold one
    # example of every class.
    shares = [test_fraction] if raw.test is None else []
    if raw.val is None:
        shares.append(val_fraction * (1 - test_fraction if raw.test is None else 1))
    smallest = math.ceil(min(shares) * n)
    classes, counts = np.unique(raw.y, return_counts=True)
    if smallest < len(classes):
        return (
            f"{n:,} examples are too few for {len(classes):,} classes: a held-out set of "
            f"{smallest:,} examples cannot hold one example of every class; use fewer "
            f"classes or about {math.ceil(len(classes) / min(shares)):,} examples"
        )
    rarest = raw.info.class_names[classes[np.argmin(counts)]]
    return (
        f"class '{rarest}' has only {counts.min()} example(s); each class needs at least 3 "
        "to be split into training, validation and test sets"
    )


def _standardize(train: np.ndarray, *others: np.ndarray, names=()) -> list[np.ndarray]:
    """Zero mean and unit variance per feature, with statistics from the training split only
    (nothing leaks from validation or test), computed in float64: a feature in units of
    1e20 standardises like one in units of 1e-20 (in float32 its variance overflowed, and
    the feature was silently zeroed). A feature that still overflows is refused by name."""
    with np.errstate(over="ignore", invalid="ignore"):  # checked right below
        mean = train.mean(axis=0, dtype=np.float64)
        std = train.std(axis=0, dtype=np.float64)
        std = np.where(std == 0, 1.0, std)
        out = [((a - mean) / std).astype(np.float32) for a in (train, *others)]
    stats = np.ravel(np.isfinite(mean) & np.isfinite(std))
    values = np.ravel(np.logical_and.reduce([np.isfinite(a).all(axis=0) for a in out]))
    if (stats & values).all():
        return out
    column = int(np.flatnonzero(~(stats & values))[0])
    name = names[column] if column < len(names) else f"feature {column + 1}"
    if not stats[column]:
        raise DatasetError(f"'{name}' holds values too large to standardise even in 64-bit "
                           "floats; rescale or drop it")  # fmt: skip
    raise DatasetError(f"'{name}' has a validation or test value too far from its training "
                       "values to standardise in 32-bit floats; rescale or drop it")  # fmt: skip


_hash_memo: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime) within a process.
    Regular files only: hashing a FIFO or /dev/zero would never end."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DatasetError(f"cannot read {path.name}: {exc.strerror}") from None
    if not S_ISREG(stat.st_mode):
        raise DatasetError(f"{path.name} is not a regular file")
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
