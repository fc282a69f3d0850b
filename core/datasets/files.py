"""The user's own data: a CSV with a label column, or a folder with one sub-folder per class."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from core import safefs
from core.datasets.base import DatasetError, DatasetInfo, Raw

LABEL_NAMES = ("label", "labels", "target", "class", "y", "species", "category", "diagnosis")
MAX_COLUMNS = 20_000
MAX_CLASSES = 1_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
FOLDER_IMAGE_SIZE = (64, 64)  # small enough to train on a laptop CPU
MAX_CSV_BYTES = 1024 * 2**20


def read_csv(path: Path, name: str, title: str) -> Raw:
    """Features and labels from a CSV. A CSV of 784 pixel columns (sign-language MNIST:
    label,pixel1..pixel784) is read as 28x28 grayscale images. Labels may be any values."""
    import pandas as pd

    text = _text(path)
    header, separator = _header(text)
    try:
        table = pd.read_csv(io.StringIO(text), sep=separator, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DatasetError(f"{path.name}: not a readable CSV ({_first_line(exc)})") from None
    if table.empty:
        raise DatasetError(f"{path.name}: the header has no data rows under it")
    table.columns = header  # stripped: 'label ' and ' LABEL' name the label column too
    label = _label_column(header, path.name)
    y, classes, task = _labels(table[label], path.name)
    features = table.drop(columns=[label])
    x = _features(features, path.name)
    if _looks_like_pixels(list(features.columns), x.shape[1]):
        side = math.isqrt(x.shape[1])
        if x.min() < 0 or x.max() > 255 or not np.all(x == np.round(x)):
            raise DatasetError(f"{path.name}: pixel columns must hold whole numbers 0..255")
        info = DatasetInfo(name, title, "image", (side, side, 1), classes, task)
        return Raw(x.astype(np.uint8).reshape(-1, side, side, 1), y, info)
    info = DatasetInfo(name, title, "tabular", (x.shape[1],), classes, task)
    return Raw(x, y, info)


def _text(path: Path) -> str:
    try:  # a regular file only: a FIFO or /dev/zero named x.csv must not hang the reader
        data = safefs.read_regular(path, MAX_CSV_BYTES, follow=True)
    except OSError as exc:
        raise DatasetError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if not data.strip():
        raise DatasetError(f"{path.name}: the file is empty")
    if b"\x00" in data[:65536]:
        raise DatasetError(f"{path.name}: this is a binary file, not a CSV")
    try:
        return data.decode("utf-8-sig")  # tolerate a byte-order mark from spreadsheet tools
    except UnicodeDecodeError:
        if _mostly_printable(data):
            return data.decode("latin-1")  # an old spreadsheet export, not junk
        raise DatasetError(f"{path.name}: this is not a text CSV file") from None


def _mostly_printable(data: bytes) -> bool:
    sample = data[:65536]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) or b >= 160 for b in sample)
    return printable >= 0.95 * len(sample)


def _header(text: str) -> tuple[list[str], str]:
    first = text.lstrip("\r\n").splitlines()[0]
    separator = max((",", ";", "\t", "|"), key=first.count)
    header = next(csv.reader([first], delimiter=separator, skipinitialspace=True))
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise DatasetError(
            "a CSV needs a header with a label column and at least one feature "
            "column, separated by commas"
        )
    if len(header) > MAX_COLUMNS:
        raise DatasetError(
            f"the CSV has {len(header):,} columns; at most {MAX_COLUMNS:,} are supported"
        )
    if any(not h for h in header):
        raise DatasetError("the CSV header has an empty column name")
    seen = {h for h in header if header.count(h) > 1}
    if seen:
        raise DatasetError(f"the CSV header repeats column name(s): {', '.join(sorted(seen))}")
    return header, separator


def _label_column(header: list[str], filename: str) -> str:
    lowered = {h.lower(): h for h in header}
    found = [lowered[n] for n in LABEL_NAMES if n in lowered]
    clashing = [h for h in header if h.lower() == (found[0].lower() if found else None)]
    if len(clashing) > 1:
        raise DatasetError(f"{filename}: more than one label column ({', '.join(clashing)})")
    if not found:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise DatasetError(
            f"{filename}: no label column; name the column that holds the "
            f"answer 'label' (columns: {shown})"
        )
    return found[0]


def _labels(column, filename: str) -> tuple[np.ndarray, tuple[str, ...], str]:
    import pandas as pd

    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 2
        raise DatasetError(f"{filename}: the label is missing on line {row}")
    numeric = pd.to_numeric(column, errors="coerce")
    is_numeric = not numeric.isna().any()
    values = numeric.to_numpy() if is_numeric else column.astype(str).str.strip().to_numpy()
    unique = np.unique(values)
    whole = is_numeric and np.all(unique == np.round(unique))
    if is_numeric and not whole and len(unique) > 20:
        with np.errstate(over="ignore"):  # checked right below
            y = values.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise DatasetError(
                f"{filename}: the label on line {int(bad[0]) + 2} is too large for 32-bit "
                "floats (beyond ±3.4e38)"
            )
        return y, (), "regression"
    if len(unique) < 2:
        raise DatasetError(
            f"{filename}: every row has the same label ({unique[0]}); "
            "a classifier needs at least two classes"
        )
    if len(unique) > MAX_CLASSES:
        raise DatasetError(
            f"{filename}: {len(unique):,} different labels; at most "
            f"{MAX_CLASSES:,} classes are supported"
        )
    names = tuple(_label_name(u, whole) for u in unique)
    y = np.searchsorted(unique, values).astype(np.int64)
    return y, names, "binary" if len(unique) == 2 else "multiclass"


def _label_name(value, whole: bool) -> str:
    return str(int(value)) if whole else str(value)


def _features(features, filename: str) -> np.ndarray:
    import pandas as pd

    for name in features.columns:
        column = features[name]
        if not pd.api.types.is_numeric_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce")
            bad = numbers.isna() & column.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DatasetError(
                    f"{filename}: column '{name}' has text ({column.iloc[row]!r} "
                    f"on line {row + 2}); feature columns must be numbers"
                )
            features[name] = numbers
    x = features.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(x)
    if missing.any():
        row, col = (int(i) for i in np.argwhere(missing)[0])
        raise DatasetError(
            f"{filename}: column '{features.columns[col]}' is empty, NaN or "
            f"infinite on line {row + 2}; fill or drop those rows first"
        )
    with np.errstate(over="ignore"):  # overflow is checked, and reported, right below
        x32 = x.astype(np.float32)
    overflow = ~np.isfinite(x32)
    if overflow.any():  # ±1e308 is a float64 but infinity in float32: training on NaNs
        row, col = (int(i) for i in np.argwhere(overflow)[0])
        raise DatasetError(
            f"{filename}: column '{features.columns[col]}' on line {row + 2} holds "
            f"{x[row, col]:g}, too large for 32-bit floats (beyond ±3.4e38)"
        )
    return x32


def _looks_like_pixels(columns: list[str], count: int) -> bool:
    """784 features, or a square number of columns named pixel*, are a grayscale image."""
    named = all(str(c).lower().startswith("pixel") for c in columns)
    return count == 784 or (named and count >= 16 and math.isqrt(count) ** 2 == count)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def image_files(folder: Path) -> list[Path]:
    """Every image in the class sub-folders. A link may point only inside the folder: a
    student's link must not make the server read (and show) files from elsewhere."""
    root = folder.resolve()
    found = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        here = Path(current)
        for name in dirs + names:
            path = here / name
            if path.is_symlink() and not safefs.inside(root, path.resolve()):
                raise DatasetError(
                    f"{path.relative_to(folder)} links to a place outside {folder.name}; "
                    "copy the images into the folder instead"
                )
        for name in names:
            path = here / name
            if path.suffix.lower() in IMAGE_SUFFIXES and here != folder:
                if not path.is_file():  # a FIFO or a device named like an image
                    raise DatasetError(f"{path.relative_to(folder)} is not a regular file")
                found.append(path)
    return sorted(found)


def folder_parts(folder: Path) -> list[str]:
    """What identifies a folder dataset's content: every image's path, size and mtime."""
    parts = []
    for p in image_files(folder):
        stat = p.stat()
        parts.append(f"{p.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return parts


MAX_DECODED_BYTES = 8 * 2**30


def read_folder(folder: Path, name: str, title: str, prepared: Path, cache: Path) -> Raw:
    """Images from folder/<class>/<image>, decoded once with Keras's own
    image_dataset_from_directory and kept in the cache as a uint8 .npz for fast,
    TensorFlow-free reloads."""
    try:
        data = safefs.read_regular(prepared, MAX_DECODED_BYTES)
    except FileNotFoundError:
        _prepare_folder(folder, prepared, cache)
        data = safefs.read_regular(prepared, MAX_DECODED_BYTES)
    except OSError as exc:
        raise DatasetError(f"cannot read the decoded copy {prepared}: {exc.strerror}") from None
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        x, y, classes = f["x"], f["y"], tuple(str(c) for c in f["classes"])
    task = "binary" if len(classes) == 2 else "multiclass"
    info = DatasetInfo(name, title, "image", tuple(x.shape[1:]), classes, task, flip_ok=True,
                       noun="images")  # fmt: skip
    return Raw(x, y, info)


def _prepare_folder(folder: Path, prepared: Path, cache: Path) -> None:
    images = image_files(folder)  # first: refuses links out of the folder
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DatasetError(
            f"{folder}: put the images in one sub-folder per class "
            "(at least two sub-folders, e.g. cats/ and dogs/)"
        )
    if not images:
        raise DatasetError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in its sub-folders")
    import keras

    try:
        dataset = keras.utils.image_dataset_from_directory(
            folder,
            labels="inferred",
            label_mode="int",
            color_mode="rgb",
            batch_size=None,
            image_size=FOLDER_IMAGE_SIZE,
            shuffle=False,
        )
        pairs = [(np.asarray(img), int(label)) for img, label in dataset.as_numpy_iterator()]
    except Exception as exc:  # TensorFlow raises its own errors for undecodable images
        raise DatasetError(f"{folder}: an image could not be read ({_first_line(exc)})") from None
    x = np.stack([np.clip(np.round(img), 0, 255).astype(np.uint8) for img, _ in pairs])
    y = np.array([label for _, label in pairs], np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, x=x, y=y, classes=np.array(dataset.class_names))
    try:
        safefs.write_atomic(cache, prepared.parent, prepared.name, buffer.getvalue())
    except OSError as exc:
        raise DatasetError(
            f"cannot keep the decoded images in the cache at {cache}: {exc.strerror or exc}"
        ) from None
