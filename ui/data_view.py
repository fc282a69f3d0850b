"""What the network learns from: split sizes, class balance, examples, and what the
training-time augmentation does to the same examples (the model's own layers, applied on a
worker: the web server never imports TensorFlow, and the page never waits for it)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import charts
from core.datasets import Data
from core.models import NOISE_AUGMENT, image_augmentation
from core.settings import SETTINGS
from core.spec import ExperimentSpec, augmentation_applies, make_variant
from ui import render
from ui.engine import engine

SAMPLES_PER_CLASS = 6
MAX_CLASSES_SHOWN = 12
TABLE_ROWS_PER_CLASS = 3
PREVIEWS_KEPT = 32  # drawn previews the server remembers


def overview(data: Data, used: Data) -> None:
    info = data.info
    cols = st.columns(5)
    kind = f"{info.num_classes} classes" if info.class_names else "regression"
    cols[0].metric(f"{info.modality.capitalize()} data", kind, help=f"task: {info.task}")
    cols[1].metric("Input shape", " × ".join(map(str, info.input_shape)))
    cols[2].metric(
        "Training examples used",
        f"{len(used.y_train):,}",
        help=f"of {len(data.y_train):,} in the training split",
    )
    cols[3].metric("Validation", f"{len(data.y_val):,}")
    cols[4].metric(
        "Test",
        f"{len(data.y_test):,}",
        help="Held out: scored at the end, never used to choose anything.",
    )
    st.caption(
        "Splits are stratified and seeded: the same for every variant, seed and visit. "
        "Validation comes out of the training data; the test split is never used for "
        "validation. A smaller training set is the first examples of a fixed, balanced "
        "order, so it is always part of a larger one."
    )


def balance(data: Data, used: Data) -> None:
    info = data.info
    if info.task == "regression":
        return
    st.subheader("Class balance")
    counts = [
        {"class": info.class_names[c], "split": split, "examples": int(n)}
        for split, y in (("train (used)", used.y_train), ("validation", data.y_val),
                         ("test", data.y_test))
        for c, n in enumerate(np.bincount(y, minlength=info.num_classes))
    ]  # fmt: skip
    render.draw(charts.spec(charts.class_balance(counts)))


def examples(used: Data) -> None:
    info = used.info
    st.subheader("Examples")
    if info.modality == "image":
        shown = list(range(min(info.num_classes, MAX_CLASSES_SHOWN)))
        for c in shown:
            index = np.flatnonzero(used.y_train == c)[:SAMPLES_PER_CLASS]
            st.markdown(f"**{info.class_names[c]}**")
            image_grid(used.x_train[index], [""] * len(index), SAMPLES_PER_CLASS)
        if info.num_classes > len(shown):
            st.caption(f"First {len(shown)} of {info.num_classes} classes.")
    elif info.input_shape[0] <= 2:
        render.draw(charts.spec(_scatter(used.x_train, used.y_train, info)))
    elif info.modality == "tabular":
        st.dataframe(_table(used), hide_index=True)
        st.caption("Features are standardized with the training split's mean and deviation.")
    else:
        words = used.x_train.sum(axis=1)
        st.write(
            f"Each review is a bag of the {info.input_shape[0]:,} most frequent words; "
            f"a review uses {np.median(words):.0f} of them (median)."
        )


def _table(used: Data) -> list[dict]:
    info = used.info
    rows = []
    if info.task == "regression":
        picks = [(i, f"{used.y_train[i]:.3f}") for i in range(min(10, len(used.y_train)))]
    else:
        picks = [(int(i), info.class_names[c]) for c in range(info.num_classes)
                 for i in np.flatnonzero(used.y_train == c)[:TABLE_ROWS_PER_CLASS]]  # fmt: skip
    for i, label in picks:
        row = {f"feature {j + 1}": round(float(v), 3) for j, v in enumerate(used.x_train[i])}
        rows.append(row | {"label": label})
    return rows


def _scatter(x: np.ndarray, y: np.ndarray, info, noisy: np.ndarray | None = None):
    """2-D points by class, or a 1-D regression as x against y."""
    import altair as alt

    if info.input_shape[0] == 1:
        points = [{"x": float(a[0]), "y": float(b)} for a, b in zip(x, y, strict=True)]
        return alt.Chart(alt.Data(values=points)).mark_point(filled=True, size=70,
                                                             color=charts.INK).encode(
            x=alt.X("x:Q", title="x (standardized)"), y=alt.Y("y:Q", title="y (standardized)")
        ).properties(height=320, width="container")  # fmt: skip
    points = [{"x": float(a[0]), "y": float(a[1]), "class": info.class_names[int(b)],
               "kind": "original"} for a, b in zip(x, y, strict=True)]  # fmt: skip
    if noisy is not None:
        points += [{"x": float(a[0]), "y": float(a[1]), "class": info.class_names[int(b)],
                    "kind": "with noise"} for a, b in zip(noisy, y, strict=True)]  # fmt: skip
    return alt.Chart(alt.Data(values=points)).mark_point(filled=True, size=60).encode(
        x=alt.X("x:Q", title="feature 1 (standardized)"),
        y=alt.Y("y:Q", title="feature 2 (standardized)"),
        color=alt.Color("class:N", scale=alt.Scale(range=list(charts.CLASS_COLORS)),
                        legend=alt.Legend(orient="top", title=None)),
        opacity=alt.Opacity("kind:N", scale=alt.Scale(domain=["original", "with noise"],
                                                      range=[1.0, 0.35]), legend=None),
    ).properties(height=360, width="container")  # fmt: skip


def image_grid(images: np.ndarray, captions: list[str], columns: int) -> None:
    """Small images scaled up with nearest-neighbour, so 8x8 digits stay readable."""
    from PIL import Image

    grid = st.columns(columns)
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        picture = image[..., 0] if image.shape[-1] == 1 else image
        big = Image.fromarray(picture).resize((112, 112), Image.NEAREST)
        grid[i % columns].image(big, caption=caption)


def augmentation_preview(base: ExperimentSpec, used: Data) -> None:
    """The same examples through the model's own augmentation layers, at each level, drawn
    on a worker. The rest of the page never waits for it; until the worker answers, this
    section says what it is waiting for."""
    info = used.info
    if not augmentation_applies(info.modality):
        st.caption("Augmentation is not defined for bags of words.")
        return
    rng = np.random.default_rng(0)
    count = 4 if info.modality == "image" else min(len(used.y_train), 200)
    pick = rng.choice(len(used.y_train), size=min(count, len(used.y_train)), replace=False)
    draws = 5 if info.modality == "image" else 1
    levels = SETTINGS["augment"].choices
    drawings = [_drawing(make_variant(base, "augment", augment=level), used.x_train[pick], draws)
                for level in levels]  # fmt: skip
    if not all(d.future.done() for d in drawings):
        _waiting(drawings)
        return
    for level, tab, drawing in zip(levels, st.tabs(list(levels)), drawings, strict=True):
        with tab:
            if drawing.future.exception() is not None:
                st.error(f"Could not compute the preview: {drawing.future.exception()}")
            elif info.modality == "image":
                _images(level, used.x_train[pick], drawing.future.result(), info.flip_ok)
            else:
                _noise(level, used.x_train[pick], used.y_train[pick], drawing.future.result(),
                       info)  # fmt: skip


@dataclass(frozen=True)
class Drawing:
    future: Future
    started: float


@st.cache_resource(show_spinner=False)
def _drawings() -> tuple[ThreadPoolExecutor, OrderedDict, threading.Lock]:
    """Previews drawn or being drawn on a worker, shared by every session: a class
    opening the Data page asks the worker once."""
    return ThreadPoolExecutor(2, thread_name_prefix="preview"), OrderedDict(), threading.Lock()


def _drawing(spec: ExperimentSpec, examples: np.ndarray, draws: int) -> Drawing:
    pool, kept, lock = _drawings()
    with lock:
        drawing = kept.get(spec.to_json())
        if drawing is None or (drawing.future.done() and drawing.future.exception()):
            future = pool.submit(engine().augment, spec, examples, draws)
            drawing = kept[spec.to_json()] = Drawing(future, time.monotonic())
        kept.move_to_end(spec.to_json())
        while len(kept) > PREVIEWS_KEPT:
            kept.popitem(last=False)
        return drawing


@st.fragment(run_every=1.0)
def _waiting(drawings: list[Drawing]) -> None:
    if all(d.future.done() for d in drawings):
        st.rerun()
    waited = time.monotonic() - min(d.started for d in drawings)
    st.info(f"A training worker is drawing these examples through the model's augmentation "
            f"layers ({waited:.0f} s so far; the first time, it starts TensorFlow). The "
            "rest of this page does not wait for it.", icon=":material/hourglass_top:")  # fmt: skip


def _images(level: str, originals: np.ndarray, drawn: np.ndarray, flip_ok: bool) -> None:
    changes = list(image_augmentation(level, flip_ok))
    no_flip = "" if flip_ok else "; no flips: a mirrored digit is another symbol"
    st.caption("Left: the original. Right: five draws of the training-time augmentation "
               f"({', '.join(changes)}{no_flip}).")  # fmt: skip
    for original, draws in zip(originals, drawn, strict=True):
        images = np.clip(np.round(np.concatenate([original[None], draws])), 0, 255)
        image_grid(
            images.astype(np.uint8),
            ["original"] + [f"draw {i + 1}" for i in range(len(draws))],
            6,
        )


def _noise(level: str, originals: np.ndarray, y: np.ndarray, drawn: np.ndarray, info) -> None:
    noisy = drawn[:, 0]
    if info.input_shape[0] >= 2 and info.task != "regression":
        render.draw(charts.spec(_scatter(originals[:, :2], y, info, noisy[:, :2])))
    st.caption(
        f"The first two features of {len(originals)} examples, and the same examples through "
        f"the model's GaussianNoise layer (standard deviation {NOISE_AUGMENT[level]}, in "
        "standardized units): new noise at every training step, none at inference."
    )
