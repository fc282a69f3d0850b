"""What the machine is, said without importing TensorFlow: the sidebar shows it before
any training, and runs record it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version


def gpu_names() -> list[str]:
    """GPU names from nvidia-smi: no TensorFlow import needed to describe the machine."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def device_summary() -> str:
    gpus = gpu_names()
    return gpu_label(gpus) if gpus else cpu_name()


def gpu_label(names: list[str]) -> str:
    return f"GPU: {names[0]}" + (f" (x{len(names)})" if len(names) > 1 else "")


def cpu_name() -> str:
    return f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            )
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def library_versions(
    names: tuple[str, ...] = ("tensorflow", "keras", "streamlit", "dask", "numpy"),
) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
