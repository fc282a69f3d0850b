"""Teacher presets: one comparison per lesson of the course notes (shared/seeds/)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core import datasets
from core.spec import VARIANTS, ExperimentSpec, make_variant

STANDARD = tuple(VARIANTS)  # every named variant, in display order


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    dataset: str
    text: str
    # Each variant is a named variant ("dropout") or a label with spec overrides.
    variants: tuple[str | tuple[str, dict[str, Any]], ...] = STANDARD
    base: tuple[tuple[str, Any], ...] = ()  # overrides of the dataset's defaults

    def specs(self, seed: int = 0) -> list[tuple[str, ExperimentSpec]]:
        return variant_specs(
            datasets.base_spec(self.dataset, seed=seed, **dict(self.base)), self.variants
        )


def variant_specs(base: ExperimentSpec, variants, **strengths) -> list[tuple[str, ExperimentSpec]]:
    """(label, spec) for named variants and (label, overrides) pairs over one base."""
    out = []
    for item in variants:
        if isinstance(item, str):
            out.append((item, make_variant(base, item, **strengths)))
        else:
            label, overrides = item
            spec = replace(base, **overrides)
            spec.validate()
            out.append((label, spec))
    return out


LESSONS = {
    lesson.name: lesson
    for lesson in [
        Lesson(
            "mnist-capacity",
            "MNIST: why the big network overfits",
            "mnist5k",
            "A 512-512 network has far more parameters than 1,000 training digits can pin down: "
            "its training loss falls to zero while its validation loss turns upward after a few "
            "epochs. Each remedy from the course — less capacity, L2, Dropout, BatchNorm — "
            "narrows that gap in its own way; watch which one keeps validation loss lowest.",
            variants=("baseline", "small", "l2", "dropout", "batchnorm", "combined"),
        ),
        Lesson(
            "iris-batchnorm",
            "Does BatchNorm help on iris?",
            "iris",
            "The course trains a dense network on iris with and without BatchNorm and Dropout. "
            "With 96 training flowers, a big network memorises them; Dropout makes memorising "
            "harder. BatchNorm's curves may dive for a few dozen epochs: with six batches per "
            "epoch, the moving averages it uses at inference lag behind the batch statistics "
            "it trains with (Keras's own training loss, `fit_loss` in the CSV, stays low).",
            variants=("baseline", "batchnorm", "dropout", "combined"),
        ),
        Lesson(
            "digits-more-data",
            "More data is the best regularizer",
            "digits",
            "The same network trained on 100, 400 and all 1,149 training digits. Nothing in the "
            "model changes, yet the gap between training and validation loss shrinks as the "
            "training set grows: collecting data is the first cure for overfitting.",
            variants=(
                ("100 examples", {"train_size": 100}),
                ("400 examples", {"train_size": 400}),
                ("all examples", {"train_size": 0}),
            ),
        ),
        Lesson(
            "digits-augmentation",
            "Augmentation: more data for free",
            "digits",
            "Shifted copies of the training digits (and, when strong, rotated and zoomed ones; "
            "never flipped: a mirrored 2 is not a 2) show the network new examples every "
            "epoch. Training loss stays higher, validation loss stays lower: the network "
            "cannot memorise what keeps changing.",
            variants=("baseline", "augment", ("strong augmentation", {"augment": "strong"})),
        ),
        Lesson(
            "breast-cancer-l2",
            "L2 on a small medical table",
            "breast_cancer",
            "With 364 training tumours and 30 features, the baseline is sure of itself within a "
            "few epochs and its validation loss climbs. L2 keeps weights small, so mistakes stay "
            "unconfident. The penalty is shown as its own curve: it is not part of the loss.",
            variants=("baseline", "l2", ("strong L2", {"l2": 1e-2}), "dropout", "combined"),
        ),
        Lesson(
            "cifar10-dnn-vs-cnn",
            "CIFAR-10: DNN vs CNN",
            "cifar10",
            "A dense network sees a photo as 3,072 unrelated numbers; a CNN looks at small "
            "neighbourhoods and reuses the same filters everywhere. On the same 10,000 photos "
            "the CNN generalises far better with fewer parameters.",
            variants=(
                ("DNN", {"arch": "mlp", "capacity": "large"}),
                ("CNN", {"arch": "cnn", "capacity": "medium"}),
            ),
        ),
        Lesson(
            "cifar10-augmentation",
            "Augmentation on CIFAR-10",
            "cifar10",
            "The course's CIFAR-10 CNN uses rotations, shifts and horizontal flips (a mirrored "
            "cat is still a cat). Augmentation slows the fall of training loss and keeps "
            "validation loss from turning upward; combined with Dropout it is the course's best "
            "model. Light augmentation is flips and shifts; strong adds rotation and zoom.",
            variants=(
                "baseline",
                "augment",
                ("strong augmentation", {"augment": "strong"}),
                "dropout",
                "combined",
            ),
        ),
        Lesson(
            "cifar10-vgg",
            "The course's VGG-style CNN on CIFAR-10",
            "cifar10",
            "Thirteen 3x3 convolutions, BatchNorm before LeakyReLU, Dropout only in the dense "
            "head, with augmentation: the course reached 0.96 training and 0.87 test accuracy "
            "after 50 epochs on all 50,000 photos. Needs a GPU.",
            variants=(("VGG", {}), ("VGG + augmentation", {"augment": "light"})),
            base=(
                ("arch", "vgg_cifar"),
                ("capacity", "large"),
                ("batchnorm", True),
                ("dropout", 0.5),
                ("train_size", 0),
                ("epochs", 50),
                ("batch_size", 128),
            ),
        ),
        Lesson(
            "imdb-overfitting",
            "IMDB: the Keras book's first overfitting",
            "imdb",
            "Reviews as bags of the 10,000 most frequent words, classified positive or negative. "
            "Validation loss bottoms out after a few epochs while training loss keeps falling; "
            "a smaller network, L2 or Dropout each push that turning point later.",
            variants=("baseline", "small", "l2", "dropout"),
        ),
    ]
}


def lesson(name: str) -> Lesson:
    if name not in LESSONS:
        raise KeyError(f"unknown preset '{name}'; choose from {', '.join(LESSONS)}")
    return LESSONS[name]


__all__ = ["LESSONS", "STANDARD", "VARIANTS", "Lesson", "lesson", "variant_specs"]
