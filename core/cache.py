"""Content-addressed store of finished runs: cache/runs/<key>/run.json, plain JSON, no pickle.

Reading a run needs only the standard library, so pages that replay cached comparisons never
import TensorFlow. Every file here may have been tampered with: a record is read only if it
is a regular file (not a link) of bounded size holding valid UTF-8 JSON with finite numbers
that matches the one schema below; anything else is set aside into cache/quarantine, once,
with a one-line notice, and counts as absent (so it is trained again). Writes and deletes
go through core.safefs: never outside the cache, never through a link.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import config, safefs
from core.config import CACHE_ENV as CACHE_ENV  # where the workers' tasks read its name
from core.spec import SCHEMA_VERSION, ExperimentSpec, SpecError

UPLOADS = "uploads"  # accepted uploads: uploads/<content hash>/<name>.csv
KEY = re.compile(r"[0-9a-f]{24}")
UPLOAD_ID = re.compile(r"[0-9a-f]{16}")
MAX_RECORD_BYTES = 64 * 2**20
MAX_PROBE_AXIS = 1000
MAX_PROBE_POINTS = 10_000  # predictions per snapshot

log = logging.getLogger("overfitting_lab")


def cache_root() -> Path:
    """The cache folder (core.config: $OVERFITTING_LAB_CACHE, or its default)."""
    return config.current().cache


def is_key(text: str) -> bool:
    return bool(KEY.fullmatch(text))


class CacheError(RuntimeError):
    """The cache cannot be written (full disk, read-only folder); reads still work."""

    @classmethod
    def unwritable(cls, root: Path, exc: OSError) -> CacheError:
        return cls(f"cannot write to the cache at {root}: {exc.strerror or exc}")


class SchemaError(ValueError):
    """A stored record that is not a run record."""


# One record per epoch. Losses and accuracies are None when not finite (or, for accuracy,
# for regression); the test split is measured every epoch for early stopping's report and
# is never shown as a curve.
# In the order the training loop computes them, one column each.
EPOCH_NUMBERS = ("fit_loss", "fit_accuracy", "fit_penalty", "loss", "accuracy", "val_loss",
                 "val_accuracy", "test_loss", "test_accuracy", "penalty")  # fmt: skip
META_TYPES = {
    "created": (int, float),
    "device": str,
    "versions": dict,
    "fused_with": int,
    "seconds": (int, float),
    "first_call_seconds": (int, float),
    "traced": bool,  # the first call traced the loop (its layout was new to the process)
    "xla": bool,
    "train_examples": int,
    "sizes": dict,
    "diverged": int,  # the epoch from which a run's numbers are None: its loss overflowed
}


@dataclass(frozen=True)
class Run:
    """One finished run: what was asked, what happened per epoch, and what it ended as."""

    key: str
    spec: ExperimentSpec
    fingerprint: str
    history: tuple[dict[str, Any], ...]
    params: int
    layers: tuple[str, ...] = ()  # the kernel layers, in the order of each epoch's norms
    histogram: dict[str, list] | None = None  # final kernel weights: edges and counts
    probe: dict[str, Any] | None = None  # the inputs of each epoch's probe predictions
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def test(self) -> dict[str, float | None]:
        """The final weights on the held-out test split."""
        last = self.history[-1]
        return {"loss": last.get("test_loss"), "accuracy": last.get("test_accuracy")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "key": self.key,
            "spec": self.spec.to_dict(),
            "fingerprint": self.fingerprint,
            "history": list(self.history),
            "params": self.params,
            "layers": list(self.layers),
            "histogram": self.histogram,
            "probe": self.probe,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Run:
        """Validate every field: this reads files from disk, which anyone may have edited."""
        _need(isinstance(raw, dict), "not a JSON object")
        _need(raw.get("schema") == SCHEMA_VERSION, f"schema is not {SCHEMA_VERSION}")
        known = {"schema", "key", "spec", "fingerprint", "history", "params", "layers",
                 "histogram", "probe", "meta"}  # fmt: skip
        _need(set(raw) == known, "fields missing or unknown")
        _need(isinstance(raw["key"], str) and is_key(raw["key"]), "bad key")
        fingerprint = raw["fingerprint"]
        _need(isinstance(fingerprint, str) and 0 < len(fingerprint) <= 64, "bad fingerprint")
        try:
            spec = ExperimentSpec.from_dict(raw["spec"])
        except SpecError as exc:
            raise SchemaError(f"spec: {exc}") from None
        layers = raw["layers"]
        _need(_list_of(layers, str, 256), "bad layers")
        probe = _probe(raw["probe"])
        history = _history(raw["history"], len(layers), spec.epochs, _probe_points(probe))
        params = raw["params"]
        _need(_int(params) and params >= 0, "bad params")
        return cls(
            key=raw["key"],
            spec=spec,
            fingerprint=fingerprint,
            history=history,
            params=params,
            layers=tuple(layers),
            histogram=_histogram(raw["histogram"]),
            probe=probe,
            meta=_meta(raw["meta"]),
        )


def _need(ok: bool, why: str) -> None:
    if not ok:
        raise SchemaError(why)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _list_of(value: Any, kind, limit: int) -> bool:
    if not isinstance(value, list) or len(value) > limit:
        return False
    if kind is float:
        return all(_number(v) for v in value)
    return all(isinstance(v, kind) and not isinstance(v, bool) for v in value)


def _history(raw: Any, layers: int, epochs: int, points: int) -> tuple[dict[str, Any], ...]:
    """Every epoch's record; a probe snapshot holds one prediction per probe point."""
    _need(isinstance(raw, list) and len(raw) == epochs, "history does not cover the epochs")
    out = []
    for epoch, record in enumerate(raw, 1):
        _need(isinstance(record, dict), "an epoch is not an object")
        _need(record.get("epoch") == epoch and _int(record["epoch"]), "epochs out of order")
        for name in EPOCH_NUMBERS:
            value = record.get(name, "missing")
            _need(value is None or _number(value), f"epoch {epoch}: bad {name}")
        _need(_number(record.get("seconds")) and record["seconds"] >= 0, "bad seconds")
        allowed = {"epoch", "seconds", "norms", "probe", *EPOCH_NUMBERS}
        _need(set(record) <= allowed, f"epoch {epoch}: unknown fields")
        if "norms" in record:
            _need(_list_of(record["norms"], float, layers), f"epoch {epoch}: bad norms")
        if "probe" in record:
            _probe_values(record["probe"], points, epoch)
        out.append(record)
    return tuple(out)


def _probe_values(raw: Any, points: int, epoch: int) -> None:
    _need(isinstance(raw, dict) and set(raw) <= {"values", "classes"}, "bad probe")
    _need(points > 0, f"epoch {epoch}: a probe snapshot, but the run has no probe axes")
    values = raw.get("values")
    _need(_list_of(values, float, points) and len(values) == points,
          f"epoch {epoch}: the probe snapshot does not hold one value per probe point")  # fmt: skip
    if "classes" in raw:
        classes = raw["classes"]
        _need(_list_of(classes, int, points) and len(classes) == points, "bad probe classes")


def _histogram(raw: Any) -> dict[str, list] | None:
    if raw is None:
        return None
    _need(isinstance(raw, dict) and set(raw) == {"edges", "counts"}, "bad histogram")
    edges, counts = raw["edges"], raw["counts"]
    _need(_list_of(edges, float, 201) and _list_of(counts, int, 200), "bad histogram")
    _need(len(edges) == len(counts) + 1 and all(c >= 0 for c in counts), "bad histogram")
    return raw


def _probe(raw: Any) -> dict[str, Any] | None:
    """The probe's axes: each at least two increasing points (a chart's domain runs from the
    first to the last), a grid x by y or a curve along x."""
    if raw is None:
        return None
    _need(isinstance(raw, dict) and raw.get("kind") in ("grid", "curve"), "bad probe")
    axes = ("x", "y") if raw["kind"] == "grid" else ("x",)
    _need(set(raw) == {"kind", *axes}, "bad probe")
    for name in axes:
        axis = raw[name]
        _need(_list_of(axis, float, MAX_PROBE_AXIS) and len(axis) >= 2, f"bad probe axis {name}")
        _need(all(a < b for a, b in itertools.pairwise(axis)), f"probe axis {name} not increasing")
    _need(_probe_points(raw) <= MAX_PROBE_POINTS, "too many probe points")
    return raw


def _probe_points(probe: dict[str, Any] | None) -> int:
    """Predictions per snapshot: one per grid point, or per point of the curve."""
    if probe is None:
        return 0
    return len(probe["x"]) * len(probe.get("y", [None]))


def _meta(raw: Any) -> dict[str, Any]:
    _need(isinstance(raw, dict) and set(raw) <= set(META_TYPES), "bad meta")
    for name, value in raw.items():
        kinds = META_TYPES[name]
        # bool is an int in Python: only a field declared bool may hold one.
        typed = isinstance(value, kinds) and (kinds is bool or not isinstance(value, bool))
        _need(typed and (not isinstance(value, float) or math.isfinite(value)), f"bad {name}")
    sizes = raw.get("sizes", {})
    _need(all(isinstance(k, str) and _int(v) for k, v in sizes.items()), "bad meta sizes")
    versions = raw.get("versions", {})
    _need(all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items()),
          "bad meta versions")  # fmt: skip
    return raw


def _reject_constant(name: str) -> None:
    raise SchemaError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as infinity
        raise SchemaError(f"{text[:20]} is out of range")
    return value


def parse(data: bytes) -> Run:
    """A run from the bytes of a run.json; SchemaError for anything else."""
    try:
        raw = json.loads(
            data.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError:
        raise SchemaError("not UTF-8 text") from None
    except RecursionError:
        raise SchemaError("nested too deeply") from None
    except ValueError as exc:
        raise SchemaError(f"not JSON ({str(exc)[:60]})") from None
    return Run.from_dict(raw)


_reported: set[str] = set()  # notices told in this process (once each)


class RunStore:
    """Runs on disk, and the accepted uploads they share the cache's cap with. Every write is
    a temporary file renamed into place, so a reader sees either the whole entry or none,
    even if the writer is killed half-way."""

    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else cache_root()
        self.runs = self.root / "runs"
        self.uploads = self.root / UPLOADS
        self.quarantine = self.root / safefs.QUARANTINE
        # Runs and uploads together; downloads and decoded image folders are not evicted.
        self.max_bytes = max_bytes if max_bytes is not None else config.current().cache_max_bytes
        self.notices: list[str] = []  # one line per problem this store met, told once

    def path(self, key: str) -> Path:
        return self.runs / key / "run.json"

    def has(self, key: str) -> bool:
        return is_key(key) and self._entry_ok(key) and os.path.isfile(self.path(key))

    def load(self, key: str) -> Run | None:
        """The run, or None when absent. A corrupt or older-schema entry is set aside and
        reported as absent, so it is trained again instead of crashing the reader."""
        if not is_key(key) or not os.path.lexists(self.runs / key):
            return None
        if not self._folder_ok(self.runs):
            self._set_aside(self.runs, "runs is not a folder")
            return None
        if not self._entry_ok(key):
            self._set_aside(self.runs / key, "not a folder")
            return None
        try:
            data = safefs.read_regular(self.path(key), MAX_RECORD_BYTES)
            run = parse(data)
            if run.key != key:
                raise SchemaError(f"it claims key {run.key}")
        except FileNotFoundError:
            return None
        except (OSError, SchemaError) as exc:
            self._set_aside(self.runs / key, getattr(exc, "strerror", None) or str(exc))
            return None
        with contextlib.suppress(OSError):  # last use, for eviction; a read-only cache is fine
            os.utime(self.path(key), follow_symlinks=False)
        return run

    def save(self, run: Run) -> None:
        text = json.dumps(run.to_dict(), indent=None, separators=(",", ":"), allow_nan=False)
        try:
            safefs.write_atomic(self.root, self.runs / run.key, "run.json", text.encode())
        except OSError as exc:
            raise CacheError.unwritable(self.root, exc) from exc
        self.evict(keep=self.runs / run.key)

    def size(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last use, size, folder) of every run and upload the cap counts; nothing is
        followed. An upload's last use is its folder's time, touched when it is opened."""
        out = []
        for key in self.keys():
            with contextlib.suppress(OSError):
                info = os.lstat(self.path(key))
                out.append((info.st_mtime, info.st_size, self.runs / key))
        for folder in self._upload_folders():
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                size = sum(e.stat(follow_symlinks=False).st_size for e in entries)
                out.append((os.lstat(folder).st_mtime, size, folder))
        return out

    def _upload_folders(self) -> list[Path]:
        """uploads/<content hash>/ folders, when uploads/ is a real folder (a link planted
        there is never followed)."""
        if not self._folder_ok(self.uploads):
            return []
        with contextlib.suppress(OSError), os.scandir(self.uploads) as entries:
            return [Path(e.path) for e in entries
                    if UPLOAD_ID.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]  # fmt: skip
        return []

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete the least recently used runs and uploads until they fit the size cap (and
        the temporary files of writers that were killed half-way)."""
        self._sweep_temporary_files()
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        evicted = []
        for _, size, folder in sorted(entries):
            if total <= self.max_bytes:
                break
            if folder != keep and self._remove(folder, str(folder.relative_to(self.root))):
                total -= size
                evicted.append(folder)
        return evicted

    def _remove(self, folder: Path, what: str) -> bool:
        try:
            return safefs.remove(self.root, folder)
        except OSError as exc:
            raise CacheError(f"cannot delete {what}: {exc.strerror or exc}") from exc

    def _sweep_temporary_files(self) -> None:
        stale = time.time() - 600
        folders = [self.runs / key for key in self.keys()]
        folders += [self.uploads] if self._folder_ok(self.uploads) else []
        for folder in folders:
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    old = entry.stat(follow_symlinks=False).st_mtime < stale
                    temporary = entry.name.startswith(".tmp-")
                    if temporary and old and entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)

    def keys(self) -> list[str]:
        """Every entry name that is a run key; nothing is followed (load checks each)."""
        if not self._folder_ok(self.runs):
            if os.path.lexists(self.runs):
                self._set_aside(self.runs, "runs is not a folder")
            return []
        try:
            with os.scandir(self.runs) as entries:
                return sorted(e.name for e in entries if is_key(e.name))
        except OSError:
            return []

    def load_many(self, keys: Sequence[str]) -> dict[str, Run]:
        """The runs of these keys that are in the cache, by key."""
        return {k: run for k in dict.fromkeys(keys) if (run := self.load(k)) is not None}

    def list(self) -> list[Run]:
        """Every readable run, newest first."""
        runs = [run for key in self.keys() if (run := self.load(key)) is not None]
        return sorted(runs, key=lambda r: r.meta.get("created", 0), reverse=True)

    def delete(self, key: str) -> bool:
        """Remove one run by its key; False if there was none. CacheError if it cannot."""
        if not is_key(key):
            raise CacheError(f"{key[:40]!r} is not a run key (24 hexadecimal digits)")
        if not self._folder_ok(self.runs):
            return False
        return self._remove(self.runs / key, f"run {key}")

    def _folder_ok(self, path: Path) -> bool:
        return os.path.isdir(path) and not os.path.islink(path)

    def _entry_ok(self, key: str) -> bool:
        return self._folder_ok(self.runs) and self._folder_ok(self.runs / key)

    def _set_aside(self, path: Path, why: str) -> None:
        moved = safefs.set_aside(self.root, path)
        name = path.name if path != self.runs else "runs/"
        where = f"moved to {moved}" if moved else "left in place: the cache is read-only"
        self.tell(f"set aside a corrupt cache entry {name} ({why}); {where}")

    def tell(self, notice: str) -> None:
        """A one-line notice for whoever drives this store (the command line prints them,
        the Runs page shows them) and for the log; the same line is told once a process."""
        if notice in _reported:
            return
        _reported.add(notice)
        self.notices.append(notice)
        log.warning(notice)
