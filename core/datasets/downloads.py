"""Datasets fetched once into cache/datasets/, then read offline.

Files keep the names and formats Keras's own downloads use, except where Keras's format is a
pickle: CIFAR-10 uses the official binary release and IMDB the raw review archive, so nothing
is ever unpickled.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets.base import DatasetError, DatasetInfo, Raw

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMDB_WORDS = 10_000  # as in the Keras book: the 10,000 most frequent words, multi-hot
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
IMDB_PREPARED = "imdb-multihot.npz"


@dataclass(frozen=True)
class Download:
    """A file to fetch once: where it goes under cache/datasets/ and where it comes from."""

    path: str
    url: str
    file_hash: str | None  # what Keras's get_file checks: SHA-256, or MD5 by its length
    size: str


DOWNLOADS: dict[str, tuple[Download, ...]] = {
    "mnist": (
        Download(
            "mnist.npz",
            KERAS_ORIGIN + "mnist.npz",
            "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
            "11 MB",
        ),
    ),
    "fashion_mnist": tuple(
        Download(f"fashion-mnist/{name}", KERAS_ORIGIN + name, None, size)
        for name, size in (
            ("train-labels-idx1-ubyte.gz", "29 KB"),
            ("train-images-idx3-ubyte.gz", "26 MB"),
            ("t10k-labels-idx1-ubyte.gz", "5 KB"),
            ("t10k-images-idx3-ubyte.gz", "4 MB"),
        )
    ),
    "cifar10": (
        Download(
            "cifar-10-binary.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            "c32a1d4ab5d03f1284b67883e8d87530",  # MD5 from the dataset's page
            "163 MB",
        ),
    ),
    "imdb": (
        Download(
            IMDB_ARCHIVE,
            f"https://ai.stanford.edu/~amaas/data/sentiment/{IMDB_ARCHIVE}",
            None,
            "84 MB",
        ),
    ),  # no published hash
}


def files(name: str, folder: Path) -> list[Path]:
    return [folder / d.path for d in DOWNLOADS[name]]


def missing_message(name: str, title: str, folder: Path) -> str:
    absent = [d for d in DOWNLOADS[name] if not (folder / d.path).is_file()]
    where = "; ".join(f"{folder / d.path} ({d.size}) from {d.url}" for d in absent)
    return (
        f"{title} is not downloaded yet. Run `python -m core download {name}` once with a "
        f"network, or put the file(s) there yourself: {where}"
    )


def download(name: str, folder: Path) -> list[Path]:
    """Fetch the dataset's files with Keras's downloader (hash-checked, resumable)."""
    from keras.utils import get_file

    paths = []
    for item in DOWNLOADS[name]:
        target = folder / item.path
        try:
            get_file(
                fname=target.name,
                origin=item.url,
                file_hash=item.file_hash,
                cache_dir=str(folder),
                cache_subdir=str(Path(item.path).parent),
            )
        except Exception as exc:  # Keras wraps every network failure in a bare Exception
            raise DatasetError(
                f"could not download {item.url} ({exc}). Without a network, copy that file "
                f"to {target} yourself."
            ) from None
        paths.append(target)
    return paths


def _corrupt(path: Path, exc: Exception) -> DatasetError:
    return DatasetError(
        f"{path} is not a valid dataset file ({exc}); delete it and download it again"
    )


def read_mnist(info: DatasetInfo, folder: Path) -> Raw:
    path = folder / "mnist.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise _corrupt(path, exc) from None
    return _images(info, arrays)


def _idx(path: Path, offset: int) -> np.ndarray:
    # IDX files: a big-endian header (offset bytes), then raw uint8 — as Keras reads them.
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def read_fashion_mnist(info: DatasetInfo, folder: Path) -> Raw:
    base = folder / "fashion-mnist"
    try:
        arrays = {
            "y_train": _idx(base / "train-labels-idx1-ubyte.gz", 8),
            "x_train": _idx(base / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
            "y_test": _idx(base / "t10k-labels-idx1-ubyte.gz", 8),
            "x_test": _idx(base / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
        }
    except (OSError, ValueError, EOFError) as exc:
        raise _corrupt(base, exc) from None
    return _images(info, arrays)


def read_cifar10(info: DatasetInfo, folder: Path) -> Raw:
    # Binary release: records of 1 label byte + 3072 bytes (3 planes of 32x32), no pickle.
    path = folder / "cifar-10-binary.tar.gz"
    parts: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive.getmembers():
                base = Path(member.name).name
                if not member.isfile() or not base.endswith(".bin"):
                    continue
                which = "test" if base.startswith("test_batch") else "train"
                data = archive.extractfile(member).read()
                parts[which].append(np.frombuffer(data, np.uint8).reshape(-1, 3073))
        arrays = {}
        for which in ("train", "test"):
            records = np.concatenate(parts[which])
            arrays[f"y_{which}"] = records[:, 0]
            arrays[f"x_{which}"] = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (OSError, ValueError, tarfile.TarError, EOFError) as exc:
        raise _corrupt(path, exc) from None
    return _images(info, arrays)


def _images(info: DatasetInfo, arrays: dict) -> Raw:
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    y_train = arrays["y_train"].astype(np.int64).ravel()
    y_test = arrays["y_test"].astype(np.int64).ravel()
    return Raw(
        np.ascontiguousarray(x_train, np.uint8),
        y_train,
        info,
        test=(np.ascontiguousarray(x_test, np.uint8), y_test),
    )


def read_imdb(info: DatasetInfo, folder: Path) -> Raw:
    """Multi-hot bags of the 10,000 most frequent training words, built once with Keras's
    TextVectorization and kept as compact token lists in imdb-multihot.npz."""
    prepared = folder / IMDB_PREPARED
    if imdb_needs_preparing(folder):
        _prepare_imdb(folder / IMDB_ARCHIVE, prepared)
    with np.load(prepared, allow_pickle=False) as f:
        tokens, offsets, labels, is_test = f["tokens"], f["offsets"], f["labels"], f["is_test"]
    x = np.zeros((len(labels), IMDB_WORDS), np.uint8)
    rows = np.repeat(np.arange(len(labels)), np.diff(offsets))
    x[rows, tokens] = 1
    test = is_test.astype(bool)
    return Raw(x[~test], labels[~test], info, test=(x[test], labels[test]))


def imdb_needs_preparing(folder: Path) -> bool:
    """True until the multi-hot arrays are built from the archive there (that needs Keras)."""
    prepared, archive = folder / IMDB_PREPARED, folder / IMDB_ARCHIVE
    return not (prepared.is_file() and prepared.stat().st_mtime >= archive.stat().st_mtime)


def _prepare_imdb(archive: Path, prepared: Path) -> None:
    texts: dict[str, list[str]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = Path(member.name).parts  # aclImdb/<train|test>/<pos|neg>/<id>.txt
                if (
                    not member.isfile()
                    or len(parts) != 4
                    or parts[1] not in texts
                    or parts[2] not in ("pos", "neg")
                ):
                    continue
                text = tar.extractfile(member).read().decode("utf-8", errors="replace")
                texts[parts[1]].append(text)
                labels[parts[1]].append(int(parts[2] == "pos"))
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise _corrupt(archive, exc) from None
    if not texts["train"] or not texts["test"]:
        raise _corrupt(archive, ValueError("no aclImdb/train and aclImdb/test reviews"))

    import keras

    vectorize = keras.layers.TextVectorization(max_tokens=IMDB_WORDS, output_mode="multi_hot")
    vectorize.adapt(texts["train"])
    token_lists = []
    for which in ("train", "test"):
        for start in range(0, len(texts[which]), 2048):
            hot = np.asarray(vectorize(texts[which][start : start + 2048]))
            token_lists.extend(np.flatnonzero(row).astype(np.int16) for row in hot)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in token_lists])])
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        tokens=np.concatenate(token_lists),
        offsets=offsets.astype(np.int64),
        labels=np.array(labels["train"] + labels["test"], np.int64),
        is_test=np.array([0] * len(texts["train"]) + [1] * len(texts["test"]), np.uint8),
    )
    tmp = prepared.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(prepared)
