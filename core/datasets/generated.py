"""Datasets drawn from a seeded generator: 2-D classes whose decision boundary can be drawn,
and a noisy 1-D function whose fitted curve can be drawn.

A generated dataset has two knobs, the noise level and how many training points to draw.
Validation and test sets are fresh draws of a fixed, large size from the same generator, so
their scores measure generalization rather than the luck of a small split. Each generator
is a standalone function: the Model page pastes its source into the code it shows.
"""

from __future__ import annotations

import numpy as np

from core.datasets.base import DatasetInfo, Raw

HELD_OUT = {"classes": 1000, "curve": 500}  # validation and test points, each
SEEDS = {"train": 1, "validation": 2, "test": 3}


def moons(n, noise, seed):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=seed)


def circles(n, noise, seed):
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)


def xor(n, noise, seed):
    """Points in [-1, 1]^2, class 1 where x*y > 0, then moved by Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x + noise * rng.normal(size=x.shape), y


def spiral(n, noise, seed):
    """Two interleaved spiral arms (TensorFlow Playground's picture), plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0.15, 1.0, size=n)
    angle = 3 * np.pi * t + np.pi * y
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return x + noise * rng.normal(size=x.shape), y.astype(np.int64)


def sine(n, noise, seed):
    """y = sin(pi x) on [-1, 1], plus Gaussian noise on y."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1))
    return x, np.sin(np.pi * x[:, 0]) + noise * rng.normal(size=n)


GENERATORS = {"moons": moons, "circles": circles, "xor": xor, "spiral": spiral, "sine": sine}
KIND = {"moons": "classes", "circles": "classes", "xor": "classes", "spiral": "classes",
        "sine": "curve"}  # fmt: skip


def read(info: DatasetInfo, noise: float, size: int) -> Raw:
    generate = GENERATORS[info.name]
    held_out = HELD_OUT[KIND[info.name]]
    x, y = generate(size, noise, SEEDS["train"])
    val = generate(held_out, noise, SEEDS["validation"])
    test = generate(held_out, noise, SEEDS["test"])
    return Raw(_x(x), _y(y, info), info, test=(_x(test[0]), _y(test[1], info)),
               val=(_x(val[0]), _y(val[1], info)))  # fmt: skip


def _x(x) -> np.ndarray:
    return np.asarray(x, np.float32)


def _y(y, info: DatasetInfo) -> np.ndarray:
    return np.asarray(y, np.float32 if info.task == "regression" else np.int64)
