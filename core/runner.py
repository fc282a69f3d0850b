"""Run or load: the one path from specs to finished runs, shared by the command line and the
job engine's workers.

Identical requests train once: each run key has a lock file. Whoever holds it trains;
anyone else waits for it and then reads the cache. The operating system drops the lock if
its holder dies, so a crashed trainer never blocks a key for good.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from core import datasets, safefs
from core.cache import CacheError, Run, RunStore
from core.spec import ExperimentSpec

OnProgress = Callable[[str, dict[str, Any]], None]  # (run key, epoch record)
OnStart = Callable[[str, dict[str, Any]], None]  # (run key, untrained probe snapshot)


@dataclass(frozen=True)
class Result:
    run: Run
    cached: bool  # True: read from the cache; False: trained by this call


# What a run record takes on disk, roughly: bytes per epoch, and per probe snapshot point.
BYTES_PER_EPOCH = 600
BYTES_PER_PROBE_POINT = 4
SPARE_BYTES = 20 * 2**20


def run_key(spec: ExperimentSpec) -> str:
    """The spec's cache key; DatasetError for settings its data cannot take."""
    datasets.check_spec(spec)
    return spec.key(datasets.fingerprint_for(spec))


def check_free_space(specs: Sequence[ExperimentSpec], store: RunStore) -> None:
    """Refuse before training, not after: on a full disk the result could not be kept."""
    from core.probes import GRID, SNAPSHOTS

    needed = SPARE_BYTES + sum(
        s.epochs * BYTES_PER_EPOCH + SNAPSHOTS * GRID * GRID * BYTES_PER_PROBE_POINT for s in specs
    )
    free = safefs.free_bytes(store.root)
    if free < needed:
        raise CacheError(
            f"not enough free space in the cache at {store.root}: {free // 2**20} MB free, "
            f"about {needed // 2**20 + 1} MB needed; free some space or delete old runs"
        )


def execute(
    specs: Sequence[ExperimentSpec],
    store: RunStore | None = None,
    on_progress: OnProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_start: OnStart | None = None,
) -> list[Result]:
    """A Result per spec, in order: from the cache where possible, trained otherwise."""
    store = store or RunStore()
    keys = [run_key(s) for s in specs]
    done: dict[str, Result] = {}
    for key in dict.fromkeys(keys):
        run = store.load(key)
        if run is not None:
            done[key] = Result(run, cached=True)
    todo = {k: s for k, s in zip(keys, specs, strict=True) if k not in done}
    while todo:
        with _KeyLocks(store, list(todo)) as held:
            mine = {}
            for key in held:
                run = store.load(key)  # finished by someone else while we were waiting?
                if run is not None:
                    done[key] = Result(run, cached=True)
                else:
                    mine[key] = todo[key]
            for key, run in _train(mine, store, on_progress, should_stop, on_start).items():
                done[key] = Result(run, cached=False)
        for key in held:
            todo.pop(key)
        # Keys someone else is training: wait for their lock, then read the cache; if the
        # other trainer gave up, the next round trains them here.
        for key in list(todo):
            _wait(store.root / "locks", key)
            run = store.load(key)
            if run is not None:
                done[key] = Result(run, cached=True)
                todo.pop(key)
    return [done[k] for k in keys]


def _train(
    specs: dict[str, ExperimentSpec],
    store: RunStore,
    on_progress: OnProgress | None,
    should_stop: Callable[[], bool] | None,
    on_start: OnStart | None = None,
) -> dict[str, Run]:
    if not specs:
        return {}
    check_free_space(list(specs.values()), store)
    from core.training import train  # TensorFlow only when something must be trained

    finished: dict[str, Run] = {}
    by_data: dict[tuple, list[tuple[str, ExperimentSpec]]] = {}
    for key, spec in specs.items():
        by_data.setdefault(spec.data(), []).append((key, spec))
    for items in by_data.values():
        data = datasets.for_spec(items[0][1])
        keys = [k for k, _ in items]

        def progress(i: int, record: dict, keys=keys) -> None:
            if on_progress:
                on_progress(keys[i], record)

        def keep(i: int, run: Run, keys=keys) -> None:
            store.save(run)  # each run is stored the moment it finishes
            finished[keys[i]] = run

        def start(i: int, snapshot: dict, keys=keys) -> None:
            if on_start:
                on_start(keys[i], snapshot)

        train([s for _, s in items], data, on_epoch=progress, should_stop=should_stop,
              on_run=keep, on_start=start)  # fmt: skip
    return finished


class _KeyLocks:
    """Try to take each key's lock without waiting; `held` lists the keys we got."""

    def __init__(self, store: RunStore, keys: list[str]):
        self.store, self.keys = store, keys
        self.folder = store.root / "locks"
        self.locks: list[FileLock] = []
        self.held: list[str] = []

    def __enter__(self) -> list[str]:
        root = self.folder.parent
        try:
            safefs.ensure_dir(root, self.folder.name)
        except OSError as exc:
            raise CacheError.unwritable(root, exc) from exc
        for key in self.keys:
            try:
                lock = _try_lock(self.folder, key)
            except PermissionError as exc:
                # A lock file this process cannot open, nor set aside (another user's, mode
                # 000): train without it. Another server may then train this key too, which
                # costs only time; refusing would block the key for good.
                self.store.tell(f"cannot open the lock file {self.folder / f'{key}.lock'} "
                                f"({exc.strerror or exc}); training without it")  # fmt: skip
                self.held.append(key)
                continue
            except OSError as exc:
                self.__exit__()
                raise CacheError.unwritable(root, exc) from exc
            if lock is not None:
                self.locks.append(lock)
                self.held.append(key)
        return self.held

    def __exit__(self, *exc) -> None:
        for lock in self.locks:
            with contextlib.suppress(OSError):
                lock.release()


def _try_lock(folder: Path, key: str) -> FileLock | None:
    """The key's lock if it is free now, else None. A lock file this process may not open
    (mode 000, another user's) is set aside and made afresh, once."""
    for fresh in (False, True):
        lock = _lock(folder, key)
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            return None
        except PermissionError:
            if fresh or safefs.set_aside(folder.parent, Path(lock.lock_file)) is None:
                raise
    return None


def _lock(folder: Path, key: str) -> FileLock:
    """The lock of one key. Whatever sits there that is not a plain file (a folder, a link
    someone planted) is set aside first: filelock refuses links, and must not fail for
    good on a key."""
    path = folder / f"{key}.lock"
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
        safefs.set_aside(folder.parent, path)
    return FileLock(path)


def _wait(folder: Path, key: str) -> None:
    try:
        with _lock(folder, key):
            pass
    except OSError as exc:
        raise CacheError.unwritable(folder.parent, exc) from exc
