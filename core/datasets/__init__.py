"""Datasets: a name (or a CSV path, an image folder, an upload) resolves to a reader, its
availability, a fingerprint of its exact content, and defaults chosen so that the baseline
visibly overfits within the default epochs — that is the lesson.

- registry: names, defaults, resolving and loading;
- base: the split arrays and what they mean; bundled, generated, downloads, files: readers.
"""

from core.datasets.base import Data, DatasetError, DatasetInfo
from core.datasets.registry import (
    DATA_ROOTS_ENV,
    Dataset,
    base_spec,
    check_allowed,
    check_name,
    check_spec,
    data_roots,
    datasets_folder,
    defaults,
    download,
    fingerprint,
    fingerprint_for,
    for_spec,
    info,
    load,
    needs_keras,
    registry,
    resolve,
    save_upload,
    training_sizes,
    uploads_folder,
)

__all__ = [
    "DATA_ROOTS_ENV",
    "Data",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "base_spec",
    "check_allowed",
    "check_name",
    "check_spec",
    "data_roots",
    "datasets_folder",
    "defaults",
    "download",
    "fingerprint",
    "fingerprint_for",
    "for_spec",
    "info",
    "load",
    "needs_keras",
    "registry",
    "resolve",
    "save_upload",
    "training_sizes",
    "uploads_folder",
]
