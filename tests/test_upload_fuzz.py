"""Any CSV either loads as a valid dataset or is refused with one clear line: generated
files, clean and broken in every way a stranger's upload can be broken."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import datasets
from core.datasets import DatasetError
from core.datasets.files import MAX_COLUMNS

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

cells = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.4g}"),
    st.sampled_from(["", "nan", "NaN", "inf", "abc", "1,5", '"quoted"', "  7 ", "é", "-0"]),
)


@st.composite
def tables(draw) -> tuple[list[str], list[list[str]]]:
    """A table that would load: a label column and numeric features."""
    n_features = draw(st.integers(1, 6))
    n_rows = draw(st.integers(0, 80))
    labels = draw(
        st.lists(
            st.sampled_from(["a", "b", "c", "0", "1", "2", "cat dog"]),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    rows = [[label] + [str(draw(st.integers(0, 9))) for _ in range(n_features)] for label in labels]
    header = ["label"] + [f"x{i}" for i in range(n_features)]
    return header, rows


def damage(draw, header, rows):
    """One of the ways an upload goes wrong, or none."""
    kind = draw(
        st.sampled_from(
            [
                "none",
                "drop label",
                "duplicate label",
                "ragged",
                "wrong count",
                "nan",
                "text",
                "bom",
                "semicolons",
                "single class",
                "cells",
                "huge header",
                "blank lines",
            ]
        )
    )
    if kind == "drop label":
        header, rows = header[1:], [r[1:] for r in rows]
    elif kind == "duplicate label":
        header, rows = header + ["label"], [r + [r[0]] for r in rows]
    elif kind == "ragged" and rows:
        i = draw(st.integers(0, len(rows) - 1))
        rows[i] = rows[i][: draw(st.integers(0, len(rows[i])))]
    elif kind == "wrong count":
        rows = [r + ["9"] * draw(st.integers(1, 3)) for r in rows]
    elif kind in ("nan", "text", "cells") and rows:
        value = {"nan": "nan", "text": "oops"}.get(kind) or draw(cells)
        i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
        if j < len(rows[i]):
            rows[i][j] = value
    elif kind == "single class":
        rows = [["same"] + r[1:] for r in rows]
    elif kind == "huge header":
        header = header + [f"extra{i}" for i in range(MAX_COLUMNS + 1)]
    separator = ";" if kind == "semicolons" else ","
    text = "\n".join(separator.join(r) for r in [header, *rows])
    if kind == "blank lines":
        text = "\n\n" + text.replace("\n", "\n\n")
    return ("\ufeff" if kind == "bom" else "") + text


@st.composite
def csv_files(draw) -> bytes:
    header, rows = draw(tables())
    return damage(draw, header, rows).encode("utf-8")


@st.composite
def pixel_files(draw) -> bytes:
    """The sign-language format, with pixels that may be out of range. Hypothesis draws the
    range, the size and a seed; NumPy draws the 784 pixels of each row."""
    low, high = draw(st.sampled_from([(0, 255), (-5, 255), (0, 300)]))
    n = draw(st.integers(15, 40))  # enough rows to split, so the image path is reached
    pixels = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(
        low, high + 1, (n, 784)
    )
    lines = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    lines += [f"{i % 3}," + ",".join(map(str, row)) for i, row in enumerate(pixels)]
    return "\n".join(lines).encode()


def check(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(content)
        try:
            data = datasets.load(str(path))
        except DatasetError as exc:
            message = str(exc)
            assert message and "\n" not in message and len(message) <= 400, message
            assert "Traceback" not in message and "Error(" not in message
            return
    # It loaded: then it is a dataset a model can train on.
    info = data.info
    total = sum(data.sizes().values())
    assert total >= 3 and all(
        len(x) == len(y)
        for x, y in (
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            (data.x_test, data.y_test),
        )
    )
    for x in (data.x_train, data.x_val, data.x_test):
        assert x.shape[1:] == info.input_shape
        assert np.isfinite(x.astype(np.float64)).all()
    if info.task != "regression":
        assert info.num_classes >= 2
        for y in (data.y_train, data.y_val, data.y_test):
            assert ((y >= 0) & (y < info.num_classes)).all()


@FUZZ
@given(csv_files())
def test_any_generated_csv_loads_or_is_refused_cleanly(content):
    check(content)


@FUZZ
@given(pixel_files())
def test_pixel_csvs_load_as_images_or_are_refused_cleanly(content):
    check(content)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_named_csv_are_refused_cleanly(content):
    check(content)


@pytest.mark.parametrize(
    "content,words",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\xff" * 100, "binary"),
        (("label," + ",".join(f"c{i}" for i in range(MAX_COLUMNS + 5)) + "\n").encode(), "columns"),
        (b"label;a;b\n" + b"x;1;2\ny;3;4\n" * 30, None),  # semicolons: loads
        ("\ufefflabel,a\n".encode() + b"x,1\ny,2\n" * 30, None),  # a byte-order mark: loads
    ],
)
def test_the_named_cases(tmp_path, content, words):
    path = tmp_path / "named.csv"
    path.write_bytes(content)
    if words is None:
        assert datasets.load(str(path)).info.num_classes == 2
    else:
        with pytest.raises(DatasetError, match=words):
            datasets.load(str(path))
