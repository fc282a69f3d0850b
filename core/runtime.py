"""The TensorFlow runtime of a training process: imported once, set up before the GPU is
touched, and described for the run records. Only worker processes and the command line
call this; the web server never does."""

from __future__ import annotations

import os
import platform

from core.machine import cpu_name, gpu_label

_ready = False


def tf_runtime():
    """TensorFlow, imported once per process, with GPU memory growth set before any GPU
    work — it cannot be changed once a GPU is initialised."""
    global _ready
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if not _ready:
        gpus = tf.config.list_physical_devices("GPU")
        try:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            if not gpus:
                # Branches are independent: on a CPU, running them side by side with
                # single-threaded ops beat splitting each small op across cores (7 variants
                # on a 2-core machine: 98 ms/epoch against 179 ms with TF's defaults); so
                # a loop cuts heavy stacks into one per core (parallel_stacks).
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 2)
        except RuntimeError:  # the runtime was started by someone else: keep its settings
            pass
        _ready = True
    return tf


def has_gpu() -> bool:
    return bool(tf_runtime().config.list_physical_devices("GPU"))


def parallel_stacks() -> int:
    """Into how many stacks a loop cuts branches of one shape (core.training): one on a GPU,
    else one per core this process may run on (each runs its ops on one core)."""
    if has_gpu():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def device_name() -> str:
    """Where training runs, as TensorFlow sees it (whatever nvidia-smi may say)."""
    tf = tf_runtime()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details
        return gpu_label([details(gpu).get("device_name", gpu.name) for gpu in gpus])
    return cpu_name()


def versions() -> dict[str, str]:
    import keras
    import numpy as np

    tf = tf_runtime()
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
