"""Run or load: the one path from specs to finished runs, shared by the command line and the
job engine's workers.

Identical requests train once: each run key has a lock file. Whoever holds it trains;
anyone else waits for it and then reads the cache. The operating system drops the lock if
its holder dies, so a crashed trainer never blocks a key for good.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from core import datasets
from core.cache import CacheError, Run, RunStore
from core.spec import ExperimentSpec

OnProgress = Callable[[str, dict[str, Any]], None]  # (run key, epoch record)


@dataclass(frozen=True)
class Result:
    run: Run
    cached: bool  # True: read from the cache; False: trained by this call


def run_key(spec: ExperimentSpec) -> str:
    return spec.key(datasets.fingerprint(spec.dataset))


def execute(
    specs: Sequence[ExperimentSpec],
    store: RunStore | None = None,
    on_progress: OnProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
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
        with _KeyLocks(store.root / "locks", list(todo)) as held:
            mine = {}
            for key in held:
                run = store.load(key)  # finished by someone else while we were waiting?
                if run is not None:
                    done[key] = Result(run, cached=True)
                else:
                    mine[key] = todo[key]
            for key, run in _train(mine, store, on_progress, should_stop).items():
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
) -> dict[str, Run]:
    if not specs:
        return {}
    from core.training import train  # TensorFlow only when something must be trained

    finished: dict[str, Run] = {}
    by_dataset: dict[str, list[tuple[str, ExperimentSpec]]] = {}
    for key, spec in specs.items():
        by_dataset.setdefault(spec.dataset, []).append((key, spec))
    for name, items in by_dataset.items():
        data = datasets.load(name)
        keys = [k for k, _ in items]

        def progress(i: int, record: dict, keys=keys) -> None:
            if on_progress:
                on_progress(keys[i], record)

        def keep(i: int, run: Run, keys=keys) -> None:
            store.save(run)  # each run is stored the moment it finishes
            finished[keys[i]] = run

        train([s for _, s in items], data, on_epoch=progress, should_stop=should_stop, on_run=keep)
    return finished


class _KeyLocks:
    """Try to take each key's lock without waiting; `held` lists the keys we got."""

    def __init__(self, folder: Path, keys: list[str]):
        self.folder, self.keys = folder, keys
        self.locks: list[FileLock] = []
        self.held: list[str] = []

    def __enter__(self) -> list[str]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError.unwritable(self.folder.parent, exc) from exc
        for key in self.keys:
            lock = FileLock(self.folder / f"{key}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            self.locks.append(lock)
            self.held.append(key)
        return self.held

    def __exit__(self, *exc) -> None:
        for lock in self.locks:
            with contextlib.suppress(OSError):
                lock.release()


def _wait(folder: Path, key: str) -> None:
    with FileLock(folder / f"{key}.lock"):
        pass
