"""The user's own data: a CSV with a label column, or a folder with one sub-folder per class."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core import safefs
from core.datasets.base import DatasetError, DatasetInfo, Raw

# Names of the label column, most certain first: a name of an earlier group wins over the
# later ones (x, y, label: 'y' is a coordinate), and two of one group are ambiguous (label
# and target: either may be the answer, and the other must not become a feature).
LABEL_NAMES = (("label", "labels", "target", "class"), ("species", "category", "diagnosis"),
               ("y",))  # fmt: skip
MAX_COLUMNS = 20_000
MAX_CLASSES = 1_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
KERAS_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "GIF")  # what TensorFlow's decoders read
FOLDER_IMAGE_SIZE = (64, 64)  # small enough to train on a laptop CPU
MAX_CSV_BYTES = 1024 * 2**20
SAMPLE_BYTES = 65536  # what the encoding is judged on
MAX_HEADER_CHARS = 4 * 2**20
BLOCK = 2**20
CHUNK_CELLS = 2**19  # parsed at a time: 4 MB of float64, small enough for glibc to give back
BYTE_ORDER_MARKS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                    (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


def read_csv(path: Path, name: str, title: str) -> Raw:
    """Features and labels from a CSV, parsed from the file a few thousand rows at a time
    into compact arrays (never a copy of the whole text, nor a whole table of it). A CSV of
    784 pixel columns (sign-language MNIST: label,pixel1..pixel784) is read as 28x28
    grayscale images. Labels may be any values."""
    import pandas as pd

    with _open(path) as handle:
        encoding = _encoding(handle, path.name)
        header, separator = _header(_header_line(handle, encoding, path.name))
        label = _label_column(header, path.name)
        columns = [h for h in header if h != label]
        pixels = _looks_like_pixels(columns)
        handle.seek(0)
        labels, parts, rows = [], [], 0
        try:
            for table in pd.read_csv(handle, sep=separator, encoding=encoding,
                                     skipinitialspace=True,
                                     chunksize=max(1, CHUNK_CELLS // len(header))):  # fmt: skip
                table.columns = header  # stripped: ' LABEL' names the label column too
                labels.append(table[label])
                parts.append(_features(table[columns], path.name, rows, pixels))
                rows += len(table)
        except DatasetError:
            raise
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise DatasetError(f"{path.name}: not a readable CSV ({_first_line(exc)})") from None
    if not rows:
        raise DatasetError(f"{path.name}: the header has no data rows under it")
    y, classes, task = _labels(pd.concat(labels, ignore_index=True), path.name)
    x = np.concatenate(parts)
    if pixels:
        side = math.isqrt(len(columns))
        info = DatasetInfo(name, title, "image", (side, side, 1), classes, task)
        return Raw(x.reshape(-1, side, side, 1), y, info)
    info = DatasetInfo(name, title, "tabular", (len(columns),), classes, task)
    return Raw(x, y, info, features=tuple(columns))


@contextlib.contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    try:  # a regular file only: a FIFO or /dev/zero named x.csv must not hang the reader
        handle = safefs.open_regular(path, MAX_CSV_BYTES, follow=True)
    except OSError as exc:
        raise DatasetError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def _encoding(handle: BinaryIO, filename: str) -> str:
    """The CSV's text encoding: UTF-8 (a byte-order mark tolerated), UTF-16 as Windows tools
    save it, or Latin-1 for an old spreadsheet export; anything else is refused. UTF-8 is
    checked over the whole file, a block at a time."""
    sample = handle.read(SAMPLE_BYTES)
    if not sample.strip() and not handle.read(1):
        raise DatasetError(f"{filename}: the file is empty")
    for mark, encoding in BYTE_ORDER_MARKS:
        if sample.startswith(mark):
            return encoding
    if b"\x00" in sample:
        # UTF-16 without a mark: text in which one byte of every pair is zero.
        for encoding, zeros in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
            if zeros.count(0) >= 0.9 * len(zeros):
                return encoding
        raise DatasetError(f"{filename}: this is a binary file, not a CSV")
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in iter(lambda: handle.read(BLOCK), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        if _mostly_printable(sample):
            return "latin-1"  # an old spreadsheet export, not junk
        raise DatasetError(f"{filename}: this is not a text CSV file") from None


def _mostly_printable(sample: bytes) -> bool:
    printable = sum(32 <= b < 127 or b in (9, 10, 13) or b >= 160 for b in sample)
    return printable >= 0.95 * len(sample)


def _header_line(handle: BinaryIO, encoding: str, filename: str) -> str:
    """The first line that is not blank."""
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
    try:
        while line := text.readline(MAX_HEADER_CHARS):
            if len(line) == MAX_HEADER_CHARS:
                raise DatasetError(f"{filename}: the header line is too long")
            if line.strip("\r\n"):
                return line.rstrip("\r\n")
        raise DatasetError(f"{filename}: the file is empty")
    finally:
        text.detach()  # the handle stays open, for pandas


def _header(first: str) -> tuple[list[str], str]:
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
    lowered = [h.lower() for h in header]
    for names in LABEL_NAMES:
        found = [h for h, low in zip(header, lowered, strict=True) if low in names]
        if len(found) > 1:
            raise DatasetError(
                f"{filename}: more than one label column ({', '.join(found)}); keep the one "
                "that holds the answer and drop or rename the others"
            )
        if found:
            return found[0]
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise DatasetError(
        f"{filename}: no label column; name the column that holds the answer 'label' "
        f"(columns: {shown})"
    )


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
        return values.astype(np.float64), (), "regression"  # standardised in float64
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


def _features(features, filename: str, first: int, pixels: bool) -> np.ndarray:
    """One chunk of feature columns (its first row the file's row `first`) as numbers:
    pixels as uint8, anything else as float64 until it is standardised."""
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
                    f"on line {first + row + 2}); feature columns must be numbers"
                )
            features[name] = numbers
    x = features.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(x)
    if missing.any():
        row, col = (int(i) for i in np.argwhere(missing)[0])
        raise DatasetError(
            f"{filename}: column '{features.columns[col]}' is empty, NaN or "
            f"infinite on line {first + row + 2}; fill or drop those rows first"
        )
    if not pixels:
        return x
    if x.min() < 0 or x.max() > 255 or not np.all(x == np.round(x)):
        raise DatasetError(f"{filename}: pixel columns must hold whole numbers 0..255")
    return x.astype(np.uint8)


def _looks_like_pixels(columns: list[str]) -> bool:
    """784 features, or a square number of columns named pixel*, are a grayscale image."""
    count = len(columns)
    named = all(c.lower().startswith("pixel") for c in columns)
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


def _check_image(path: Path, folder: Path) -> None:
    """Name the file that Keras would refuse with TensorFlow's internal text: an empty file,
    or one that is not an image its decoders read."""
    from PIL import Image

    where = f"{folder.name}/{path.relative_to(folder)}"
    if path.stat().st_size == 0:
        raise DatasetError(f"{where} is empty (0 bytes); remove it or copy the image again")
    try:
        with Image.open(path) as image:
            kind = image.format
    except Exception:  # Pillow's errors for a file it cannot identify or that is cut short
        raise DatasetError(f"{where} is not an image (not JPEG, PNG, BMP or GIF)") from None
    if kind not in KERAS_FORMATS:
        raise DatasetError(f"{where} is a {kind} image; Keras reads only JPEG, PNG, BMP and GIF")


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
    for image in images:
        _check_image(image, folder)
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
    except Exception as exc:  # TensorFlow raises its own errors
        raise DatasetError(f"{folder}: the images could not be read ({_first_line(exc)})") from None
    pairs: list[tuple[np.ndarray, int]] = []
    try:
        for img, label in dataset.as_numpy_iterator():
            pairs.append((np.asarray(img), int(label)))
    except Exception as exc:  # TensorFlow's own text, without the file: the next one in order
        paths = dataset.file_paths
        where = Path(paths[len(pairs)]).relative_to(folder) if len(pairs) < len(paths) else "?"
        detail = _first_line(exc).rsplit(": ", 1)[-1]  # "Invalid PNG data, size 60"
        raise DatasetError(
            f"{folder.name}/{where} could not be decoded: is it damaged or cut short? ({detail})"
        ) from None
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
