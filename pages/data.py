"""Data: what the network learns from — samples per class, class balance, split sizes, and
what augmentation does to the same examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import charts, datasets
from core.datasets import DatasetError
from core.models import NOISE_AUGMENT, image_augmentation
from core.spec import SpecError, make_variant
from ui import app, render
from ui.engine import engine, ensure_prepared

SAMPLES_PER_CLASS = 6
MAX_CLASSES_SHOWN = 12

comparison = app.comparison()
name = comparison.dataset_name
try:
    entry = datasets.resolve(name)
    problem = entry.missing()
    base = comparison.labelled_specs()[0][1]
except (DatasetError, SpecError) as exc:
    st.error(str(exc))
    st.stop()
st.title(f"Data: {entry.title}")
if entry.description:
    st.caption(entry.description)
if problem:
    st.warning(problem)
    st.stop()

try:
    ensure_prepared(name)
    data = datasets.load(name)
except DatasetError as exc:
    st.error(str(exc))
    st.stop()
info = data.info
used = data.with_train_size(base.train_size)

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
    help="Held out: scored once at the end, never used to choose anything.",
)
st.caption(
    "Splits are stratified and seeded: the same for every variant, seed and visit. "
    "Validation comes out of the training data; the test split is never used for "
    "validation."
)

if info.task != "regression":
    st.subheader("Class balance")
    counts = [
        {"class": info.class_names[c], "split": split, "examples": int(n)}
        for split, y in (
            ("train (used)", used.y_train),
            ("validation", data.y_val),
            ("test", data.y_test),
        )
        for c, n in enumerate(np.bincount(y, minlength=info.num_classes))
    ]
    render.draw(charts.spec(charts.class_balance(counts)))


def image_grid(images: np.ndarray, captions: list[str], columns: int) -> None:
    """Small images scaled up with nearest-neighbour, so 8x8 digits stay readable."""
    from PIL import Image

    grid = st.columns(columns)
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        picture = image[..., 0] if image.shape[-1] == 1 else image
        big = Image.fromarray(picture).resize((112, 112), Image.NEAREST)
        grid[i % columns].image(big, caption=caption)


st.subheader("Examples per class")
if info.modality == "image":
    shown = list(range(min(info.num_classes, MAX_CLASSES_SHOWN)))
    for c in shown:
        index = np.flatnonzero(used.y_train == c)[:SAMPLES_PER_CLASS]
        st.markdown(f"**{info.class_names[c]}**")
        image_grid(used.x_train[index], [""] * len(index), SAMPLES_PER_CLASS)
    if info.num_classes > len(shown):
        st.caption(f"First {len(shown)} of {info.num_classes} classes.")
elif info.modality == "tabular":
    frames = []
    for c in range(info.num_classes) if info.task != "regression" else []:
        rows = used.x_train[used.y_train == c][:3]
        frames.append(pd.DataFrame(rows).assign(label=info.class_names[c]))
    table = pd.concat(frames) if frames else pd.DataFrame(used.x_train[:10])
    st.dataframe(table, hide_index=True)
    st.caption("Features are standardized with the training split's mean and deviation.")
else:
    words = used.x_train.sum(axis=1)
    st.write(
        f"Each review is a bag of the {info.input_shape[0]:,} most frequent words; "
        f"a review uses {np.median(words):.0f} of them (median)."
    )

st.subheader("Augmentation preview")
level = st.radio(
    "Level",
    ["light", "strong"],
    horizontal=True,
    key="preview_level",
    index=["light", "strong"].index(comparison.augment),
)
spec = make_variant(base, "augment", augment=level)
if info.modality == "image":
    rng = np.random.default_rng(0)
    pick = rng.choice(len(used.y_train), size=min(4, len(used.y_train)), replace=False)
    originals = used.x_train[pick]
    try:
        with st.spinner("Augmenting on a worker…"):
            drawn = engine().augment(spec, originals, draws=5)
    except Exception as exc:  # the worker's error, shown instead of a traceback
        st.error(f"Could not compute the preview: {exc}")
    else:
        changes = list(image_augmentation(level, info.flip_ok))
        no_flip = "" if info.flip_ok else "; no flips: a mirrored digit is another symbol"
        st.caption(
            "Left: the original. Right: five draws of the training-time augmentation "
            f"({', '.join(changes)}{no_flip})."
        )
        for original, draws in zip(originals, drawn, strict=True):
            image_grid(
                np.concatenate([original[None], draws]),
                ["original"] + [f"draw {i + 1}" for i in range(len(draws))],
                6,
            )
elif info.modality == "tabular":
    sigma = NOISE_AUGMENT[level]
    rng = np.random.default_rng(0)
    x = used.x_train[:, :2]
    noisy = x + rng.normal(scale=sigma, size=x.shape)
    points = pd.concat(
        [
            pd.DataFrame(x, columns=["feature 1", "feature 2"]).assign(kind="original"),
            pd.DataFrame(noisy, columns=["feature 1", "feature 2"]).assign(kind="with noise"),
        ]
    )
    st.scatter_chart(points, x="feature 1", y="feature 2", color="kind")
    st.caption(
        f"Gaussian noise with a standard deviation of {sigma} (in standardized units) "
        "is added to every feature at every training step; none at inference."
    )
else:
    st.caption("Augmentation is not defined for bags of words.")
