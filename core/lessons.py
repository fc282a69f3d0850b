"""Teacher presets: one comparison (or sweep) per lesson of the course notes, each with the
claims its text makes, which bench/lessons.py checks on the mean of three seeds, on the
validation split and on the held-out test split.

A lesson's text is a template: sizes and epochs come from the data and the specs
({train} training {noun}, {epochs} epochs), never typed by hand.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from core import datasets
from core.cache import Run
from core.spec import CAPACITIES, DEFAULT_VARIANTS, ExperimentSpec, make_variant

SPLITS = ("validation", "test")
PREFIX = {"validation": "val_", "test": "test_"}
RISE = 1.10  # "the validation loss turns upward": it ends at least 10% above its best


def final(runs: Sequence[Run], split: str, metric: str = "loss") -> float:
    """The mean over seeds of the last epoch's value on a split ("train" included)."""
    key = metric if split == "train" else PREFIX[split] + metric
    return statistics.fmean(r.history[-1][key] for r in runs)


def rise(runs: Sequence[Run], split: str) -> float:
    """Mean final loss over the mean loss at the epoch where the mean validation loss was
    lowest: above 1, the run got worse on this split after its best validation epoch."""

    def curve(key: str) -> list[float]:
        return [statistics.fmean(r.history[e][key] for r in runs)
                for e in range(len(runs[0].history))]  # fmt: skip

    val = curve("val_loss")
    best = val.index(min(val))
    values = curve(PREFIX[split] + "loss")
    return values[-1] / values[best]


def gap(runs: Sequence[Run], split: str) -> float:
    """Final loss on the split minus final training loss (both in inference mode)."""
    return final(runs, split) - final(runs, "train")


@dataclass(frozen=True)
class Claim:
    """One sentence of a lesson that the numbers must bear out, on both held-out splits."""

    kind: str  # overfits | beats | any_beats | narrower | shrinks | memorises | valley
    subjects: tuple[str, ...]  # variant labels (for a sweep: in order of the values)
    other: str = ""  # what the subjects are compared with

    def says(self) -> str:
        s = ", ".join(self.subjects)
        return {
            "overfits": f"{s}: loss ends ≥{RISE - 1:.0%} above its value at the best epoch",
            "beats": f"{s} end(s) with lower loss than {self.other}",
            "any_beats": f"at least one of {s} ends with lower loss than {self.other}",
            "narrower": f"{s} end(s) with a narrower gap than {self.other}",
            "shrinks": f"the gap shrinks along {s}",
            "memorises": f"{s} fits its noisy training labels (≥95% accuracy)",
            "valley": f"the lowest final loss lies strictly inside {s[:60]}…",
        }[self.kind]

    def check(self, runs: dict[str, list[Run]], split: str) -> tuple[bool, str]:
        """(holds, the numbers) on one split, from every label's runs (one per seed)."""
        subjects = [runs[s] for s in self.subjects]
        if self.kind == "overfits":
            rises = [rise(r, split) for r in subjects]
            return all(q >= RISE for q in rises), _numbers(rises, "x")
        if self.kind in ("beats", "any_beats"):
            mine, theirs = [final(r, split) for r in subjects], final(runs[self.other], split)
            wins = [m < theirs for m in mine]
            ok = all(wins) if self.kind == "beats" else any(wins)
            return ok, f"{_numbers(mine)} vs {theirs:.4f}"
        if self.kind == "narrower":
            mine, theirs = [gap(r, split) for r in subjects], gap(runs[self.other], split)
            return all(m < theirs for m in mine), f"{_numbers(mine)} vs {theirs:.4f}"
        if self.kind == "shrinks":
            gaps = [gap(r, split) for r in subjects]
            return all(a > b for a, b in zip(gaps, gaps[1:], strict=False)), _numbers(gaps)
        if self.kind == "memorises":
            accuracy = [final(r, "train", "accuracy") for r in subjects]
            return all(a >= 0.95 for a in accuracy), _numbers(accuracy)
        losses = [final(r, split) for r in subjects]  # valley
        lowest = losses.index(min(losses))
        return 0 < lowest < len(losses) - 1, _numbers(losses)


def _numbers(values: Sequence[float], unit: str = "") -> str:
    return ", ".join(f"{v:.4f}{unit}" if unit == "" else f"{v:.2f}{unit}" for v in values)


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    dataset: str
    text: str  # a template: see fill()
    # Each variant is a named variant ("dropout") or a label with spec overrides.
    variants: tuple[str | tuple[str, dict[str, Any]], ...] = DEFAULT_VARIANTS
    base: tuple[tuple[str, Any], ...] = ()  # overrides of the dataset's defaults
    sweep: str = ""  # a knob: the lesson is a sweep along it instead of variants
    values: tuple = ()
    claims: tuple[Claim, ...] = ()

    def base_spec(self, seed: int = 0, **overrides: Any) -> ExperimentSpec:
        return datasets.base_spec(self.dataset, seed=seed, **(dict(self.base) | overrides))

    def specs(self, base: ExperimentSpec, **strengths: Any) -> list[tuple[str, ExperimentSpec]]:
        if self.sweep:
            return sweep_specs(base, self.sweep, self.values)
        return variant_specs(base, self.variants, **strengths)

    def fill(self, base: ExperimentSpec, runs: Sequence[Run] = ()) -> str:
        """The text with its numbers taken from the data: as the worker recorded them in
        cached runs, or, when those do not say, from the data itself (a cached page must
        not pay for loading it)."""
        labelled = self.specs(base)
        counts = _counts(runs, {base.train_size, *(s.train_size for _, s in labelled)})
        if counts is None:
            data = datasets.for_spec(base)
            counts = {
                "all": len(data.y_train), "validation": len(data.y_val),
                "test": len(data.y_test),
                **{n: data.train_count(n) for n in {base.train_size,
                                                    *(s.train_size for _, s in labelled)}},
            }  # fmt: skip
        info = datasets.info(base.dataset)
        return self.text.format(
            train=f"{counts[base.train_size]:,}",
            all=f"{counts['all']:,}",
            sizes=_series(sorted({counts[s.train_size] for _, s in labelled})),
            epochs=base.epochs,
            noun=info.noun,
            features=info.input_shape[0],
            val=f"{counts['validation']:,}",
            test=f"{counts['test']:,}",
            label_noise=f"{base.label_noise:.0%}",
        )


def _counts(runs: Sequence[Run], train_sizes: set[int]) -> dict | None:
    """Split sizes and training-set counts as the worker measured them, or None if the
    runs do not cover every training-set size asked for."""
    sizes = next((r.meta["sizes"] for r in runs if "sizes" in r.meta), None)
    counts = {r.spec.train_size: r.meta["train_examples"] for r in runs
              if "train_examples" in r.meta}  # fmt: skip
    if sizes is None or not train_sizes <= set(counts):
        return None
    return counts | {"all": sizes["train"], "validation": sizes["validation"],
                     "test": sizes["test"]}  # fmt: skip


def _series(items: list) -> str:
    words = [f"{n:,}" if isinstance(n, int) else str(n) for n in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def strengths_used(variants) -> tuple[str, ...]:
    """The strengths (L2, L1, Dropout, augmentation) that change these variants: a slider
    for any other would do nothing."""
    from core.spec import NEEDS_AUGMENTATION, STRENGTHS

    named = {v for v in variants if isinstance(v, str)}
    users = {"l2": {"l2", "combined"}, "l1": {"l1"}, "dropout": {"dropout", "combined"},
             "augment": set(NEEDS_AUGMENTATION)}  # fmt: skip
    return tuple(k for k in STRENGTHS if named & users[k])


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


def sweep_label(knob: str, value: Any) -> str:
    from core.settings import SETTINGS

    return f"{SETTINGS[knob].label} = {SETTINGS[knob].describe(value)}"


def sweep_specs(
    base: ExperimentSpec, knob: str, values: Sequence
) -> list[tuple[str, ExperimentSpec]]:
    """One spec per value of one knob over a base: what a sweep trains, fused."""
    out = []
    for value in values:
        spec = replace(base, **{knob: value})
        spec.validate()
        out.append((sweep_label(knob, value), spec))
    return out


def valley(knob: str, values: Sequence) -> tuple[Claim, ...]:
    """A sweep's claim: the best value lies strictly inside the range."""
    return (Claim("valley", tuple(sweep_label(knob, v) for v in values)),)


REGULARIZERS = ("small", "l2", "dropout", "batchnorm", "augment", "combined")
L2_SWEEP = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)


def _overfits_and_beaten(*winners: str) -> tuple[Claim, ...]:
    return (Claim("overfits", ("baseline",)), Claim("beats", winners, "baseline"))


LESSONS = {
    lesson.name: lesson
    for lesson in [
        Lesson(
            "mnist-capacity",
            "MNIST: why the big network overfits",
            "mnist5k",
            "A 512-512 network has far more parameters than {train} training {noun} can pin "
            "down: its training loss falls towards zero while its validation loss turns "
            "upward. Less capacity, L2 and Dropout each end with a lower validation and test "
            "loss than the baseline; watch how each one narrows the gap.",
            variants=("baseline", "small", "l2", "dropout", "batchnorm", "combined"),
            claims=_overfits_and_beaten("small", "l2", "dropout")
            + (Claim("narrower", ("small", "l2", "dropout"), "baseline"),),
        ),
        Lesson(
            "iris-batchnorm",
            "Does BatchNorm help on iris?",
            "iris",
            "The course trains a dense network on iris with and without BatchNorm and Dropout. "
            "Iris is easy, so here {label_noise} of the {train} training labels are random: "
            "over {epochs} epochs the big network memorises them and its validation and test "
            "loss climb. BatchNorm, Dropout and both together end far lower. BatchNorm's "
            "curves may dive early on: with few batches per epoch, the moving averages it "
            "uses at inference lag behind the batch statistics it trains with.",
            variants=("baseline", "batchnorm", "dropout", "combined"),
            claims=_overfits_and_beaten("batchnorm", "dropout", "combined"),
        ),
        Lesson(
            "digits-more-data",
            "More data is the best regularizer",
            "digits",
            "The same network trained on {sizes} training {noun} (each set contains the "
            "smaller ones). Nothing in the model changes, yet the gap between training and "
            "held-out loss shrinks as the training set grows: collecting data is the first "
            "cure for overfitting.",
            variants=(
                ("100 examples", {"train_size": 100}),
                ("400 examples", {"train_size": 400}),
                ("all examples", {"train_size": 0}),
            ),
            base=(("epochs", 60),),
            claims=(Claim("shrinks", ("100 examples", "400 examples", "all examples")),),
        ),
        Lesson(
            "digits-augmentation",
            "Augmentation: more data for free",
            "digits",
            "Shifted copies of the {train} training {noun} (and, when strong, rotated and "
            "zoomed ones; never flipped: a mirrored 2 is not a 2) show the network new "
            "examples every epoch. Training loss stays higher and the gap stays narrower: the "
            "network cannot memorise what keeps changing.",
            variants=("baseline", "augment", ("strong augmentation", {"augment": "strong"})),
            base=(("epochs", 60),),
            claims=(Claim("narrower", ("augment", "strong augmentation"), "baseline"),),
        ),
        Lesson(
            "breast-cancer-l2",
            "L2 on a small medical table",
            "breast_cancer",
            "{train} training {noun}, {features} features, and {label_noise} of the labels "
            "random (records get mislabelled): the baseline grows sure of its mistakes and its "
            "validation and test loss climb. L2 keeps weights small, so mistakes stay "
            "unconfident: both strengths narrow the gap, and strong L2 ends lower, as do "
            "Dropout and all combined. The penalty is its own curve: it is not part of the loss.",
            variants=("baseline", "l2", ("strong L2", {"l2": 1e-2}), "dropout", "combined"),
            claims=(Claim("narrower", ("l2", "strong L2"), "baseline"),)
            + _overfits_and_beaten("strong L2", "dropout", "combined"),
        ),
        Lesson(
            "moons-boundary",
            "See it: the decision boundary",
            "moons",
            "{train} noisy {noun} of two interleaving moons and a 512-512 network trained for "
            "{epochs} epochs. The baseline's boundary bends around single noise points to "
            "classify every training point right; less capacity, L2 and Dropout draw smoother "
            "boundaries that end with lower validation and test loss.",
            variants=("baseline", "small", "l2", "dropout"),
            claims=_overfits_and_beaten("small", "l2", "dropout"),
        ),
        Lesson(
            "sine-curve",
            "See it: the fitted curve",
            "sine",
            "{train} noisy samples of a sine and a 512-512 network trained for {epochs} "
            "epochs. The baseline's curve bends towards the noisy training points, fitting the "
            "noise; L2 and less capacity fit something closer to the sine underneath, and end "
            "with lower validation and test loss.",
            variants=("baseline", "small", "l2", "dropout"),
            claims=_overfits_and_beaten("small", "l2"),
        ),
        Lesson(
            "memorising-noise",
            "Memorising noise",
            "digits",
            "{label_noise} of the {train} training labels are replaced by random classes "
            "(validation and test labels stay clean). The big network learns them anyway — "
            "its training accuracy on the noisy labels approaches 100% — while its validation "
            "loss climbs: it memorises. Dropout, L2 and less capacity resist and end lower.",
            variants=("baseline", "small", "l2", "dropout"),
            base=(("label_noise", 0.4), ("epochs", 100)),
            claims=(Claim("memorises", ("baseline",)),)
            + _overfits_and_beaten("small", "l2", "dropout"),
        ),
        Lesson(
            "capacity-sweep",
            "Capacity sweep: tiny to huge",
            "digits",
            "The TensorFlow tutorial's first lesson: the same data, networks from tiny to "
            "huge, all trained together for {epochs} epochs on {train} {noun}. The tiny one "
            "underfits, the huge one overfits: validation and test loss are lowest in between.",
            sweep="capacity",
            values=CAPACITIES,
            base=(("epochs", 60),),
            claims=valley("capacity", CAPACITIES),
        ),
        Lesson(
            "l2-sweep",
            "L2 strength sweep",
            "breast_cancer",
            "One network, L2 from none to very strong, on {train} training {noun}: "
            "too little and it overfits, too much and it underfits. The validation curve is "
            "a valley, and the test loss agrees.",
            sweep="l2",
            values=L2_SWEEP,
            base=(("label_noise", 0.0), ("epochs", 30)),
            claims=valley("l2", L2_SWEEP),
        ),
        Lesson(
            "cifar10-dnn-vs-cnn",
            "CIFAR-10: DNN vs CNN",
            "cifar10",
            "A dense network sees a photo as 3,072 unrelated numbers; a CNN looks at small "
            "neighbourhoods and reuses the same filters everywhere. On the same {train} "
            "{noun} the CNN generalises far better with fewer parameters.",
            variants=(
                ("DNN", {"arch": "mlp", "capacity": "large"}),
                ("CNN", {"arch": "cnn", "capacity": "medium"}),
            ),
            claims=(Claim("beats", ("CNN",), "DNN"),),
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
            claims=(Claim("beats", ("augment", "combined"), "baseline"),),
        ),
        Lesson(
            "cifar10-vgg",
            "The course's VGG-style CNN on CIFAR-10",
            "cifar10",
            "Thirteen 3x3 convolutions, BatchNorm before LeakyReLU, Dropout only in the dense "
            "head, with augmentation: the course reached 0.96 training and 0.87 test accuracy "
            "after {epochs} epochs on all 50,000 photos. Needs a GPU.",
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
            claims=_overfits_and_beaten("small", "l2", "dropout"),
        ),
    ]
}


def lesson(name: str) -> Lesson:
    if name not in LESSONS:
        raise KeyError(f"unknown preset '{name}'; choose from {', '.join(LESSONS)}")
    return LESSONS[name]


def offline() -> list[str]:
    """The presets whose data needs no download: the ones CI checks."""
    return [n for n, item in LESSONS.items() if datasets.resolve(item.dataset).available()
            and datasets.resolve(item.dataset).source != "download"]  # fmt: skip


# What each offline dataset's default comparison claims on the Compare page, checked like
# any lesson: which regularizers end with a lower validation and test loss than the
# baseline, on the mean of three seeds (bench/lessons.py measured them).
DEFAULT_WINNERS: dict[str, tuple[str, ...]] = {
    "iris": REGULARIZERS,
    "wine": ("small", "dropout"),
    "breast_cancer": ("dropout", "combined"),
    "digits": ("batchnorm", "augment", "combined"),
    "mnist5k": REGULARIZERS,
    "moons": REGULARIZERS,
    "circles": REGULARIZERS,
    "spiral": ("l2", "dropout", "batchnorm", "augment"),
    "xor": REGULARIZERS,
    "sine": ("small", "l2"),
}
NAMES = {
    "small": "less capacity",
    "l2": "L2",
    "l1": "L1",
    "batchnorm": "BatchNorm",
    "augment": "augmentation",
    "combined": "all combined",
    "dropout": "Dropout",
}


def default_lesson(dataset: str) -> Lesson | None:
    """The claim of a dataset's default comparison, or None where none was checked."""
    winners = DEFAULT_WINNERS.get(dataset)
    if winners is None:
        return None
    from core.spec import variants_for

    if winners == REGULARIZERS:
        names = (
            "Every remedy here (less capacity, L2, Dropout, BatchNorm, augmentation, all combined)"
        )
    else:
        names = _series([NAMES[w] for w in winners])
        names = names[0].upper() + names[1:]
    noisy = datasets.defaults(dataset).get("label_noise")
    text = (
        ("{label_noise} of the training labels are random here, so memorising shows. "
         if noisy else "")
        + "{train} training {noun} are few for this network: the baseline's validation and "
        "test loss turn upward while its training loss keeps falling. "
        + f"{names} end{'s' if len(winners) == 1 or winners == REGULARIZERS else ''} with a "
        "lower validation and test loss than the baseline."
    )  # fmt: skip
    variants = variants_for(datasets.info(dataset).modality)
    variants = tuple(v for v in DEFAULT_VARIANTS if v in variants)
    return Lesson(f"{dataset}-default", f"Regularization on {dataset}", dataset, text,
                  variants=variants, claims=_overfits_and_beaten(*winners))  # fmt: skip


__all__ = ["DEFAULT_VARIANTS", "LESSONS", "Claim", "Lesson", "lesson", "variant_specs"]
