"""Content-addressed store of finished runs: cache/runs/<key>/run.json, plain JSON, no pickle.

Reading a run needs only the standard library, so pages that replay cached comparisons never
import TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.spec import SCHEMA_VERSION, ExperimentSpec, SpecError

CACHE_ENV = "OVERFITTING_LAB_CACHE"
MAX_MB_ENV = "OVERFITTING_LAB_CACHE_MAX_MB"
DEFAULT_MAX_MB = 2048
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "cache"


def cache_root() -> Path:
    """The cache folder: $OVERFITTING_LAB_CACHE, or cache/ beside the code."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_ROOT).expanduser().resolve()


class CacheError(RuntimeError):
    """The cache cannot be written (full disk, read-only folder); reads still work."""

    @classmethod
    def unwritable(cls, root: Path, exc: OSError) -> CacheError:
        return cls(f"cannot write to the cache at {root}: {exc.strerror}")


@dataclass(frozen=True)
class Run:
    """One finished run: what was asked, what happened per epoch, and how it ended."""

    key: str
    spec: ExperimentSpec
    fingerprint: str
    history: tuple[dict[str, Any], ...]
    test: dict[str, float | None]
    best_epoch: int
    params: int
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["spec"] = self.spec.to_dict()
        out["history"] = list(self.history)
        out["schema"] = SCHEMA_VERSION
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Run:
        if raw.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"schema {raw.get('schema')!r}, expected {SCHEMA_VERSION}")
        history = tuple(raw["history"])
        if not history or not all(isinstance(r, dict) and "val_loss" in r for r in history):
            raise ValueError("history is empty or malformed")
        return cls(
            key=str(raw["key"]),
            spec=ExperimentSpec.from_dict(raw["spec"]),
            fingerprint=str(raw["fingerprint"]),
            history=history,
            test=dict(raw["test"]),
            best_epoch=int(raw["best_epoch"]),
            params=int(raw["params"]),
            meta=dict(raw.get("meta") or {}),
        )


class RunStore:
    """Runs on disk. Every write is a temporary file renamed into place, so a reader sees
    either the whole entry or none, even if the writer is killed half-way."""

    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else cache_root()
        self.runs = self.root / "runs"
        self.quarantine = self.root / "quarantine"
        if max_bytes is None:
            max_bytes = int(float(os.environ.get(MAX_MB_ENV) or DEFAULT_MAX_MB) * 2**20)
        self.max_bytes = max_bytes  # runs only; downloads and uploads are not evicted

    def path(self, key: str) -> Path:
        return self.runs / key / "run.json"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> Run | None:
        """The run, or None when absent. A corrupt or older-schema entry is set aside and
        reported as absent, so it is trained again instead of crashing the reader."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            run = Run.from_dict(json.loads(text))
            if run.key != key:
                raise ValueError(f"entry claims key {run.key}")
        except (ValueError, KeyError, TypeError, SpecError):
            self._set_aside(key)
            return None
        with contextlib.suppress(OSError):  # last use, for eviction; a read-only cache is fine
            os.utime(path)
        return run

    def save(self, run: Run) -> None:
        folder = self.runs / run.key
        text = json.dumps(run.to_dict(), indent=1, allow_nan=False)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(folder / "run.json", text)
        except OSError as exc:
            raise CacheError.unwritable(self.root, exc) from exc
        self.evict(keep=run.key)

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.runs.glob("*/run.json") if p.is_file())

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete the least recently used runs until the runs fit the size cap (and the
        temporary files of writers that were killed half-way)."""
        stale = time.time() - 600
        for tmp in self.runs.glob("*/.tmp-*"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < stale:
                    tmp.unlink()
        entries = []
        for path in self.runs.glob("*/run.json"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path.parent.name))
        total = sum(size for _, size, _ in entries)
        evicted = []
        for _, size, key in sorted(entries):
            if total <= self.max_bytes:
                break
            if key != keep and self.delete(key):
                total -= size
                evicted.append(key)
        return evicted

    def keys(self) -> list[str]:
        if not self.runs.is_dir():
            return []
        return sorted(p.parent.name for p in self.runs.glob("*/run.json"))

    def load_many(self, keys: Sequence[str]) -> dict[str, Run]:
        """The runs of these keys that are in the cache, by key."""
        return {k: run for k in dict.fromkeys(keys) if (run := self.load(k)) is not None}

    def list(self) -> list[Run]:
        """Every readable run, newest first."""
        runs = [run for key in self.keys() if (run := self.load(key)) is not None]
        return sorted(runs, key=lambda r: r.meta.get("created", 0), reverse=True)

    def delete(self, key: str) -> bool:
        folder = self.runs / key
        if not folder.is_dir():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _set_aside(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self.quarantine.mkdir(parents=True, exist_ok=True)
            os.replace(self.runs / key, self.quarantine / f"{key}-{time.time_ns()}")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
