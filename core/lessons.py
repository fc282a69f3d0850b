"""Teacher presets: one comparison (or sweep) per lesson of the course notes, each with the
claims its text makes, which bench/lessons.py checks on three seeds, on the validation
split and on the held-out test split: every seed must agree, by more than their spread.

A lesson's text is a template: sizes and epochs come from the data and the specs
({train} training {noun}, {epochs} epochs), never typed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core import datasets, metrics
from core.cache import Run
from core.metrics import MEMORISED, RISE, Margin, above_bar, below
from core.spec import (
    CAPACITIES,
    DEFAULT_VARIANTS,
    NEEDS_AUGMENTATION,
    STRENGTHS,
    ExperimentSpec,
    sweep_label,
    sweep_specs,
    variant_specs,
    variants_for,
)

SPLITS = ("validation", "test")


@dataclass(frozen=True)
class Verdict:
    """A claim on one split: whether it holds, and the margin of each comparison in it."""

    margins: dict[str, Margin] = field(default_factory=dict)  # what is compared -> margin
    any_of: bool = False  # one comparison holding is enough

    @property
    def holds(self) -> bool:
        held = [m.holds for m in self.margins.values()]
        return bool(held) and (any(held) if self.any_of else all(held))

    def __str__(self) -> str:
        return "; ".join(f"{what} {margin}" for what, margin in self.margins.items())


def _histories(runs: Sequence[Run]) -> list:
    return [r.history for r in runs]


@dataclass(frozen=True)
class Claim:
    """One sentence of a lesson that the numbers must bear out on both held-out splits, on
    every seed and by more than the spread between seeds (core.metrics.Margin)."""

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
            "memorises": f"{s} fits its noisy training labels (≥{MEMORISED:.0%} accuracy)",
            "valley": f"the lowest final loss lies strictly inside {s[:60]}…",
        }[self.kind]

    def check(self, runs: dict[str, list[Run]], split: str) -> Verdict:
        """The verdict on one split, from every label's runs (one per seed, in seed order)."""
        seeds = {label: _histories(r) for label, r in runs.items()}
        if self.kind == "overfits":
            return Verdict({s: above_bar([metrics.rise(h, split) or 0 for h in seeds[s]], RISE)
                            for s in self.subjects})  # fmt: skip
        if self.kind == "memorises":
            return Verdict({s: above_bar(metrics.finals(seeds[s], "train", "accuracy"),
                                         MEMORISED) for s in self.subjects})  # fmt: skip
        if self.kind in ("beats", "any_beats"):
            theirs = metrics.finals(seeds[self.other], split)
            return Verdict({s: below(metrics.finals(seeds[s], split), theirs)
                            for s in self.subjects}, any_of=self.kind == "any_beats")  # fmt: skip
        gaps = {s: [metrics.gap(h, split) for h in seeds[s]]
                for s in (*self.subjects, self.other) if s}  # fmt: skip
        if self.kind == "narrower":
            return Verdict({s: below(gaps[s], gaps[self.other]) for s in self.subjects})
        if self.kind == "shrinks":
            pairs = zip(self.subjects, self.subjects[1:], strict=False)
            return Verdict({f"{b} < {a}": below(gaps[b], gaps[a]) for a, b in pairs})
        return self._valley(seeds, split)

    def _valley(self, seeds: dict[str, list], split: str) -> Verdict:
        """The best value inside the range (lowest mean final loss) is below both ends,
        by a margin."""
        losses = {s: metrics.finals(seeds[s], split) for s in self.subjects}
        inside = min(self.subjects[1:-1], key=lambda s: metrics.mean(losses[s]))
        ends = (self.subjects[0], self.subjects[-1])
        return Verdict({f"{inside} < {end}": below(losses[inside], losses[end]) for end in ends})


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
    view: str = "data"  # which losses its curves draw (core.comparison.VIEWS)

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
    named = {v for v in variants if isinstance(v, str)}
    users = {"l2": {"l2", "combined"}, "l1": {"l1"}, "dropout": {"dropout", "combined"},
             "augment": set(NEEDS_AUGMENTATION)}  # fmt: skip
    return tuple(k for k in STRENGTHS if named & users[k])


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
