"""The operator's settings: the OVERFITTING_LAB_* environment variables, each read against its
range, once per environment.

A bad value is one line (ConfigError) at start-up: the command line exits 2 with it, the app
shows it on the page. Never a traceback later, and never a silent default: a cap of -1 MB
used to delete every other run on the next save, and a misspelt name would be ignored.

Imports only the settings table (which imports nothing), so every module may read it.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.settings import MAX_COST, SETTINGS, SpecError, convert

PREFIX = "OVERFITTING_LAB_"
CACHE_ENV = PREFIX + "CACHE"
MAX_MB_ENV = PREFIX + "CACHE_MAX_MB"
DATA_ROOTS_ENV = PREFIX + "DATA_ROOTS"
WORKERS_ENV = PREFIX + "WORKERS"
SCHEDULER_ENV = PREFIX + "SCHEDULER"
MAX_COST_ENV = PREFIX + "MAX_COST"
PRETRACE_ENV = PREFIX + "PRETRACE"
KNOWN = (CACHE_ENV, MAX_MB_ENV, DATA_ROOTS_ENV, WORKERS_ENV, SCHEDULER_ENV, MAX_COST_ENV,
         PRETRACE_ENV)  # fmt: skip
SWITCH = {"on": True, "1": True, "off": False, "0": False}

DEFAULT_MAX_MB = 2048
# The cap holds at least one run record of the largest size the store reads (64 MB).
MAX_MB = (64, 2**30)
WORKERS = (1, 256)
# What dask.distributed.Client takes: a protocol and host[:port], or host:port.
ADDRESS = re.compile(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+|[^\s/:]+:\d+")
CHECKOUT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """An operator setting that cannot be used; the message names it and its range."""


@dataclass(frozen=True)
class Config:
    cache: Path
    cache_max_bytes: int  # runs and uploads together
    data_roots: tuple[Path, ...]  # the operator's folders (the cache's data/ is added apart)
    workers: int | None  # None: one per GPU, or one
    scheduler: str | None  # None: an embedded Dask cluster
    max_cost: float  # the most training one request may ask for (core.budget), trillions
    pretrace: bool  # a new worker warms the offline datasets' loops (core.worker.warm_up)


def current() -> Config:
    """The settings of this process's environment. Parsed once per distinct environment:
    tests, and the workers' tasks, set OVERFITTING_LAB_CACHE as they go."""
    return _parse(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX))))


def problem() -> str | None:
    """The one line to show at start-up when a setting is bad, else None."""
    try:
        current()
    except ConfigError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=16)
def _parse(items: tuple[tuple[str, str], ...]) -> Config:
    env = {k: v.strip() for k, v in items}
    unknown = sorted(set(env) - set(KNOWN))
    if unknown:
        raise ConfigError(
            f"{unknown[0]} is not a setting of this app (misspelt?); the settings are "
            f"{', '.join(KNOWN)}"
        )
    return Config(
        cache=_cache(env.get(CACHE_ENV, "")),
        cache_max_bytes=_megabytes(env.get(MAX_MB_ENV, "")),
        data_roots=_roots(env.get(DATA_ROOTS_ENV, "")),
        workers=_workers(env.get(WORKERS_ENV, "")),
        scheduler=_scheduler(env.get(SCHEDULER_ENV, "")),
        max_cost=_max_cost(env.get(MAX_COST_ENV, "")),
        pretrace=_switch(PRETRACE_ENV, env.get(PRETRACE_ENV) or "on"),
    )


def _cache(text: str) -> Path:
    """$OVERFITTING_LAB_CACHE; else cache/ in a checkout of the project; else, for an
    installed engine, the user's cache folder (never site-packages)."""
    if text:
        path = _path(CACHE_ENV, text)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{CACHE_ENV}={text[:200]} is a file, not a folder")
        return path
    if (CHECKOUT / "streamlit_app.py").is_file():
        return CHECKOUT / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("overfitting-lab"))


def _path(name: str, text: str) -> Path:
    try:
        return Path(text).expanduser().resolve()
    except RuntimeError:  # ~nosuchuser, or a loop of links
        raise ConfigError(
            f"{name}={text[:200]} names no folder: no such user's home, or a loop of links"
        ) from None


def _megabytes(text: str) -> int:
    if not text:
        return DEFAULT_MAX_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    low, high = MAX_MB
    if not low <= megabytes <= high:  # NaN, infinity (inf, 1e400) and -1 all land here
        raise ConfigError(f"{MAX_MB_ENV}={text[:40]} must be megabytes from {low} to {high:,}")
    return int(megabytes * 2**20)


def _roots(text: str) -> tuple[Path, ...]:
    roots = []
    for part in (p for p in text.split(os.pathsep) if p.strip()):
        path = _path(DATA_ROOTS_ENV, part.strip())
        if not path.is_dir():
            raise ConfigError(f"{DATA_ROOTS_ENV}: {part[:200]} is not a folder")
        roots.append(path)
    return tuple(roots)


def _workers(text: str) -> int | None:
    if not text:
        return None
    low, high = WORKERS
    if not (re.fullmatch(r"[0-9]{1,4}", text) and low <= int(text) <= high):
        raise ConfigError(f"{WORKERS_ENV}={text[:40]} must be a whole number from {low} to {high}")
    return int(text)


def _scheduler(text: str) -> str | None:
    if not text:
        return None
    if not ADDRESS.fullmatch(text):
        raise ConfigError(
            f"{SCHEDULER_ENV}={text[:80]!r} is not a Dask scheduler address such as tcp://host:8786"
        )
    return text


def _max_cost(text: str) -> float:
    setting = SETTINGS["max_cost"]
    if not text:
        return MAX_COST
    try:
        value = convert(float, text)
        setting.check(value)
    except (ValueError, SpecError):
        raise ConfigError(
            f"{MAX_COST_ENV}={text[:40]} must be a number of trillions from "
            f"{setting.describe(setting.low)} to {setting.describe(setting.high)}"
        ) from None
    return value


def _switch(name: str, text: str) -> bool:
    if text.lower() not in SWITCH:
        raise ConfigError(f"{name}={text[:40]} must be on or off")
    return SWITCH[text.lower()]
