"""Teacher presets: one comparison (or sweep) per lesson of the course notes, each with the
claims its text makes, which bench/lessons.py checks on three seeds, on the validation
split and on the held-out test split: every seed must agree, by more than their spread.

A lesson's text is a template: sizes and epochs come from the data and the specs
({train} training {noun}, {epochs} epochs), never typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core import datasets, metrics
from core.cache import Run
from core.metrics import CHANCE_BAND, MEMORISED, RISE, Margin, above_bar, below, below_bar
from core.models import mlp_widths
from core.report import count, series
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

    def deciding(self) -> tuple[str, Margin]:
        """The comparison the verdict turns on: the narrowest of those that must all hold,
        or the widest of those of which one is enough."""
        pick = max if self.any_of else min
        return pick(self.margins.items(), key=lambda item: (item[1].holds, item[1].lead))


def _number(value: float | None) -> float:
    """A measure that does not exist (no best epoch, never fitted) fails every claim."""
    return math.nan if value is None else value


def _final_loss(history, split: str) -> float:
    return metrics.finals([history], split)[0]


def _held_out_accuracy(history, split: str) -> float:
    return metrics.finals([history], split, "accuracy")[0]


def _epochs_to_fit(history, split: str) -> float:
    return _number(metrics.epochs_to_fit(history))  # the training set's: the same on both


# kind -> (per-seed measure, True when the subjects' must be higher than the other's)
PAIRED = {
    "beats": (_final_loss, False),
    "any_beats": (_final_loss, False),
    "worse": (_final_loss, True),
    "narrower": (lambda h, split: _number(metrics.gap(h, split)), False),
    "slower": (_epochs_to_fit, True),
}


def loss_words(value: float) -> str:
    """A difference of losses (or gaps) as a class reads it: two decimals, or one
    significant figure when smaller."""
    return f"{value:.2f}" if value >= 0.01 else f"{value:.1g}"


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.2 else f"{value:.1%}"


# Threshold claims: the worst seed's own value from its margin (how far the loss rose, the
# training accuracy reached, how many points above chance), not the distance to the bar.
BARS = {
    "overfits": lambda m: RISE - 1 + min(m.differences),
    "memorises": lambda m: MEMORISED + min(m.differences),
    "chance": lambda m: CHANCE_BAND - min(m.differences),
}
UNITS = {
    "overfits": _percent,
    "memorises": lambda v: f"{v:.1%}",
    "chance": lambda v: f"{v * 100:.1f} points",
    "slower": lambda v: count(round(v), "epoch"),
}
# kind -> (the word for a positive amount, for a negative one)
WORDS = {
    "overfits": ("rise", "fall"),
    "beats": ("lower", "higher"),
    "any_beats": ("lower", "higher"),
    "worse": ("higher", "lower"),
    "narrower": ("narrower", "wider"),
    "shrinks": ("narrower", "wider"),
    "memorises": ("of them", "of them"),
    "valley": ("below", "above"),
    "slower": ("later", "sooner"),
    "chance": ("above chance", "below chance"),
    "printed_above": ("above", "below"),
    "measured_below": ("below", "above"),
}
ON_TRAINING = ("memorises", "slower")  # measured on the training set: one figure for both


@dataclass(frozen=True)
class Claim:
    """One sentence of a lesson that the numbers must bear out on both held-out splits, on
    every seed and by more than the spread between seeds (core.metrics.Margin)."""

    # overfits | beats | any_beats | worse | narrower | shrinks | memorises | valley |
    # slower | chance | printed_above | measured_below
    kind: str
    subjects: tuple[str, ...]  # variant labels (for a sweep: in order of the values)
    other: str = ""  # what the subjects are compared with

    def says(self) -> str:
        """The claim as a sentence, without its numbers."""
        s, one = series(self.subjects), len(self.subjects) == 1
        end, fit, train = ("ends", "fits", "it trains") if one else ("end", "fit", "they train")
        return {
            "overfits": f"the loss of {s} ends at least {RISE - 1:.0%} above its value at the "
            "best epoch",
            "beats": f"{s} {end} with a lower loss than {self.other}",
            "any_beats": f"at least one of {s} ends with a lower loss than {self.other}",
            "worse": f"{s} {end} with a higher loss than {self.other}",
            "narrower": f"{s} {end} with a narrower gap than {self.other}",
            "shrinks": f"the gap narrows at each step from {self.subjects[0]} to "
            f"{self.subjects[-1]}",
            "memorises": f"{s} {fit} at least {MEMORISED:.0%} of the labels {train} on",
            "valley": f"the lowest final loss lies strictly between {self.subjects[0]} and "
            f"{self.subjects[-1]}",
            "slower": f"reaching {MEMORISED:.0%} training accuracy takes {s} more epochs than "
            f"{self.other}",
            "chance": f"the held-out accuracy of {s} stays at most {CHANCE_BAND * 100:.0f} "
            "percentage points above chance (1 / classes)",
            "printed_above": f"the training loss Keras prints for {s} ends above the held-out loss",
            "measured_below": f"measured in inference mode, the training loss of {s} ends "
            "below the held-out loss",
        }[self.kind]

    def amount(self, margin: Margin) -> tuple[str, str]:
        """How far one comparison clears this claim, in the claim's own unit, and which
        way: ("0.08", "lower"), ("26 epochs", "later"), ("99.6%", "of them"). A threshold
        claim gives its worst seed's value: how far the loss rose, the accuracy reached."""
        value = BARS[self.kind](margin) if self.kind in BARS else margin.difference
        if math.isnan(value):  # a measure some run does not have (never fitted its labels)
            return ("never reached" if self.kind == "slower" else "not measured"), ""
        forward, back = WORDS[self.kind]
        return UNITS.get(self.kind, loss_words)(abs(value)), forward if value >= 0 else back

    def sentence(self, verdicts: dict[str, Verdict]) -> str:
        """The claim with its margins on each split, as a class reads it: "✓ Measured in
        inference mode, … — 0.09 below on validation, 0.01 below on test." (✓: it holds on
        every split)."""
        mark = "✓" if all(v.holds for v in verdicts.values()) else "✗"
        on = list(verdicts.items())[:1] if self.kind in ON_TRAINING else verdicts.items()
        compared = list(next(iter(verdicts.values())).margins)
        parts = []
        for what in compared:
            words = []
            for split, verdict in on:
                margin = verdict.margins[what]
                number, way = self.amount(margin)
                where = "" if self.kind in ON_TRAINING else f" on {split}"
                unit = UNITS.get(self.kind, loss_words)
                spread = f" (seeds spread {unit(margin.noise)})" if margin.noise > 0 else ""
                words.append(f"{number} {way}".rstrip() + where + spread)
            who = f"{what.replace(' < ', ' against ')}: " if len(compared) > 1 else ""
            parts.append(who + ", ".join(words))
        says = self.says()
        return f"{mark} {says[0].upper()}{says[1:]} — {'; '.join(parts)}."

    def check(self, runs: dict[str, list[Run]], split: str) -> Verdict:
        """The verdict on one split, from every label's runs (one per seed, in seed order)."""
        seeds = {label: [r.history for r in group] for label, group in runs.items()}
        if self.kind in PAIRED:
            measure, higher = PAIRED[self.kind]
            theirs = [measure(h, split) for h in seeds[self.other]]
            margins = {}
            for s in self.subjects:
                mine = [measure(h, split) for h in seeds[s]]
                margins[s] = below(theirs, mine) if higher else below(mine, theirs)
            return Verdict(margins, any_of=self.kind == "any_beats")
        if self.kind == "shrinks":
            gaps = {s: [_number(metrics.gap(h, split)) for h in seeds[s]] for s in self.subjects}
            pairs = zip(self.subjects, self.subjects[1:], strict=False)
            return Verdict({f"{b} < {a}": below(gaps[b], gaps[a]) for a, b in pairs})
        if self.kind == "valley":
            return self._valley(seeds, split)
        return Verdict({s: self._bar(seeds[s], runs[s][0], split) for s in self.subjects})

    def _bar(self, histories: list, run: Run, split: str) -> Margin:
        """A claim about each seed of one label on its own, against a threshold."""
        if self.kind == "overfits":
            return above_bar([_number(metrics.rise(h, split)) for h in histories], RISE)
        if self.kind == "memorises":
            return above_bar(metrics.finals(histories, "train", "accuracy"), MEMORISED)
        if self.kind == "chance":
            chance = 1 / datasets.info(run.spec.dataset).num_classes
            accuracy = [_held_out_accuracy(h, split) for h in histories]
            return below_bar(accuracy, chance + CHANCE_BAND)
        if self.kind == "printed_above":
            return below_bar([_number(metrics.printed_gap(h, split)) for h in histories], 0.0)
        if self.kind == "measured_below":
            return above_bar([_number(metrics.gap(h, split)) for h in histories], 0.0)
        raise ValueError(f"unknown claim kind {self.kind!r}")

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
            sizes=series(sorted({counts[s.train_size] for _, s in labelled})),
            epochs=base.epochs,
            noun=info.noun,
            features=info.input_shape[0],
            val=f"{counts['validation']:,}",
            test=f"{counts['test']:,}",
            label_noise=f"{base.label_noise:.0%}",
            network="-".join(map(str, mlp_widths(base))),
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
# Digits' default makes a fifth of the labels random; lessons about something else start
# from clean labels (the same runs for each of them: one cache entry).
CLEAN_DIGITS = (("label_noise", 0.0), ("epochs", 60))


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
            "upward. Less capacity, L2 and all combined end with a narrower gap; BatchNorm "
            "and all combined also with a lower validation and test loss than the baseline.",
            variants=("baseline", "small", "l2", "batchnorm", "combined"),
            claims=_overfits_and_beaten("batchnorm", "combined")
            + (Claim("narrower", ("small", "l2", "combined"), "baseline"),),
        ),
        Lesson(
            "mnist-course",
            "MNIST: the course's network",
            "mnist5k",
            "The course's MNIST network: hidden layers of 512 and 256 units; L2 at 1e-5 on "
            "every kernel; Dropout 0.4 after the first hidden layer and 0.2 after the second "
            "(each deeper layer drops half as much: a Dropout taper of 0.5); BatchNorm between "
            "each Dense layer and its ReLU. On {train} training {noun} over {epochs} epochs "
            "the baseline overfits, and BatchNorm ends with a lower validation and test loss "
            "and a narrower gap. The course trained on all 60,000 MNIST digits; on these few, "
            "its L2 and Dropout are not checked to help: compare their curves yourself.",
            variants=(
                "baseline",
                ("L2 1e-5", {"l2": 1e-5}),
                ("Dropout 0.4/0.2", {"dropout": 0.4, "dropout_taper": 0.5}),
                "batchnorm",
            ),
            base=(("widths", "512,256"),),
            claims=_overfits_and_beaten("batchnorm")
            + (Claim("narrower", ("batchnorm",), "baseline"),),
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
            "iris-course",
            "Iris: the course's 16-8 network",
            "iris",
            "The course's iris network has two small hidden layers of 16 and 8 units. With "
            "{label_noise} of the {train} training labels random, it has too few weights to "
            "memorise them, and ends with a far lower validation and test loss than a 512-512 "
            "network, which does memorise them: its held-out loss climbs. Capacity that fits "
            "the data is the first regularizer.",
            variants=(("16-8", {}), ("512-512", {"widths": ""})),
            base=(("widths", "16,8"),),
            claims=(
                Claim("overfits", ("512-512",)),
                Claim("beats", ("16-8",), "512-512"),
            ),
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
                ("50 examples", {"train_size": 50}),
                ("200 examples", {"train_size": 200}),
                ("all examples", {"train_size": 0}),
            ),
            base=(*CLEAN_DIGITS, ("train_size", 0)),  # the page counts the base's size too
            claims=(Claim("shrinks", ("50 examples", "200 examples", "all examples")),),
        ),
        Lesson(
            "digits-augmentation",
            "Augmentation: more data for free",
            "digits",
            "{label_noise} of the {train} training labels are random. Shifted copies of the "
            "{noun} (and, when strong, rotated and zoomed ones; never flipped: a mirrored 2 is "
            "not a 2) show the network new examples every epoch, so it cannot memorise the "
            "noisy labels: light and strong augmentation both end with a far lower validation "
            "and test loss than the baseline, and a narrower gap. (On clean labels, strong "
            "augmentation costs more than it saves: see 'A narrower gap is not better by "
            "itself'.)",
            variants=("baseline", "augment", ("strong augmentation", {"augment": "strong"})),
            claims=(
                Claim("beats", ("augment", "strong augmentation"), "baseline"),
                Claim("narrower", ("augment", "strong augmentation"), "baseline"),
            ),
        ),
        Lesson(
            "narrower-gap",
            "A narrower gap is not better by itself",
            "digits",
            "Strong L2 (0.01) keeps the training loss of the {train} clean training {noun} "
            "high, so its gap between training and validation loss is far narrower than the "
            "baseline's — and yet it ends with a higher validation and test loss: it "
            "underfits. Strong augmentation ends higher too. A narrow gap bought with a higher "
            "training loss is not a better model; compare held-out losses, not gaps "
            "(Valdenegro-Toro & Sabatelli, 'Machine Learning Students Overfit to Overfitting', "
            "2023).",
            variants=(
                "baseline",
                ("strong L2", {"l2": 1e-2}),
                ("strong augmentation", {"augment": "strong"}),
            ),
            base=CLEAN_DIGITS,
            claims=(
                Claim("narrower", ("strong L2",), "baseline"),
                Claim("worse", ("strong L2", "strong augmentation"), "baseline"),
            ),
        ),
        Lesson(
            "keras-view",
            "Validation below training ≠ underfitting",
            "digits",
            "Keras's fit prints the training loss as a running mean over each epoch with "
            "Dropout active. With heavy Dropout (0.8: four in five hidden units dropped at "
            "every step), the printed training loss ends above the validation loss, and above "
            "the test loss: students read underfitting. It is not: measured like the "
            "validation loss, at the end of the epoch in inference mode, its training loss is "
            "below both, and it classifies over 95% of its {train} training {noun} right. "
            "This lesson opens in Keras's view; switch to the data loss to see both.",
            variants=("baseline", ("dropout 0.8", {"dropout": 0.8})),
            base=(("label_noise", 0.0), ("train_size", 0), ("epochs", 20)),
            claims=(
                Claim("printed_above", ("dropout 0.8",)),
                Claim("measured_below", ("dropout 0.8",)),
                Claim("memorises", ("dropout 0.8",)),
            ),
            view="keras",
        ),
        Lesson(
            "random-labels",
            "Random labels",
            "digits",
            "Every one of the {train} training labels is replaced by a random class (validation "
            "and test labels stay clean): nothing is left to learn, yet the big network fits "
            "them anyway — over 95% training accuracy — taking more epochs than on the true "
            "labels, while its validation and test accuracy stay at chance. It memorised "
            "(Zhang et al., 'Understanding deep learning requires rethinking generalization', "
            "2017).",
            variants=(
                ("true labels", {"label_noise": 0.0}),
                ("random labels", {"label_noise": 1.0}),
            ),
            base=CLEAN_DIGITS,
            claims=(
                Claim("memorises", ("true labels", "random labels")),
                Claim("slower", ("random labels",), "true labels"),
                Claim("chance", ("random labels",)),
            ),
        ),
        Lesson(
            "breast-cancer-l2",
            "L2 on a small medical table",
            "breast_cancer",
            "{train} training {noun}, {features} features, and {label_noise} of the labels "
            "random (records get mislabelled): over {epochs} epochs the baseline grows sure of "
            "its mistakes and its validation and test loss climb. L2 keeps weights small, so "
            "mistakes stay unconfident: strong L2 (0.01) ends with a lower validation and test "
            "loss than the baseline and a narrower gap, as does all combined. The penalty is "
            "its own curve: it is not part of the loss.",
            variants=("baseline", ("strong L2", {"l2": 1e-2}), "combined"),
            base=(("epochs", 150),),
            claims=_overfits_and_beaten("strong L2", "combined")
            + (Claim("narrower", ("strong L2", "combined"), "baseline"),),
        ),
        Lesson(
            "moons-boundary",
            "See it: the decision boundary",
            "moons",
            "{train} noisy {noun} of two interleaving moons and a {network} network trained for "
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
            "{train} noisy samples of a sine and a {network} network trained for {epochs} "
            "epochs. The baseline's curve bends towards the noisy training points, fitting the "
            "noise; less capacity and L2 fit something closer to the sine underneath, and end "
            "with lower validation and test loss. Dropout helps on some seeds and not on "
            "others: on twenty points its own noise is as large as its effect.",
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
            claims=(Claim("memorises", ("baseline",)),)
            + _overfits_and_beaten("small", "l2", "dropout"),
        ),
        Lesson(
            "capacity-sweep",
            "Capacity sweep: tiny to huge",
            "digits",
            "The TensorFlow tutorial's first lesson: the same data, networks from tiny to "
            "huge, all trained together for {epochs} epochs on {train} clean {noun}. The tiny "
            "one underfits, the huge one overfits: validation and test loss are lowest in "
            "between.",
            sweep="capacity",
            values=CAPACITIES,
            base=CLEAN_DIGITS,
            claims=valley("capacity", CAPACITIES),
        ),
        Lesson(
            "l2-sweep",
            "L2 strength sweep",
            "digits",
            "One network, L2 from none to very strong, on {train} training {noun} of which "
            "{label_noise} have random labels: too little and it memorises them, too much and "
            "it cannot fit even the true ones. The validation curve is a valley, and the test "
            "loss agrees: both are lowest strictly inside the range.",
            sweep="l2",
            values=L2_SWEEP,
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
# baseline by the margin rule on three seeds (bench/lessons.py measured them).
DEFAULT_WINNERS: dict[str, tuple[str, ...]] = {
    "iris": REGULARIZERS,
    "wine": ("small", "dropout", "combined"),
    "breast_cancer": ("dropout", "combined"),
    "digits": ("small", "l2", "dropout", "augment", "combined"),
    "mnist5k": ("batchnorm", "augment", "combined"),
    "moons": REGULARIZERS,
    "circles": REGULARIZERS,
    "spiral": ("l2", "dropout"),
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
        names = series([NAMES[w] for w in winners])
        names = names[0].upper() + names[1:]
    noisy = datasets.defaults(dataset).get("label_noise")
    text = (
        "{train} training {noun} are few for this network"
        + (", and {label_noise} of their labels are random here (validation and test labels "
           "stay clean), so memorising shows" if noisy else "")
        + ": the baseline's validation and test loss turn upward while its training loss "
        "keeps falling. "
        + f"{names} end{'s' if len(winners) == 1 or winners == REGULARIZERS else ''} with a "
        "lower validation and test loss than the baseline."
    )  # fmt: skip
    variants = variants_for(datasets.info(dataset).modality)
    variants = tuple(v for v in DEFAULT_VARIANTS if v in variants)
    return Lesson(f"{dataset}-default", f"Regularization on {dataset}", dataset, text,
                  variants=variants, claims=_overfits_and_beaten(*winners))  # fmt: skip


__all__ = ["DEFAULT_VARIANTS", "LESSONS", "Claim", "Lesson", "lesson", "variant_specs"]
