"""Every lesson the app teaches is true: bench/lessons.py checks each claim of every offline
preset and every offline dataset's default comparison on three seeds, on the validation
split and on the held-out test split, by the margin rule (core.metrics.Margin). Slow (about
ten minutes on two busy cores): CI runs it."""

from __future__ import annotations

import pytest

from core import lessons
from core.lessons import Claim, Lesson

pytestmark = pytest.mark.slow


@pytest.mark.timeout(3600)  # from an empty cache; a machine three times slower still passes
def test_every_offline_lesson_holds_on_three_seeds_on_validation_and_test(capsys):
    from bench.lessons import main, targets

    names = {t.name for t in targets()}
    assert {"moons-boundary", "sine-curve", "memorising-noise", "capacity-sweep", "l2-sweep",
            "narrower-gap", "keras-view", "random-labels", "mnist-course", "iris-course",
            "digits-default", "moons-default"} <= names  # fmt: skip
    assert main(["--markdown"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "every claim holds" in out
    claims = sum(len(t.claims) for t in targets())
    assert out.count(" yes    yes") == claims
    table = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(table) == claims and not any("fails" in line for line in table)


def test_every_offline_preset_and_default_makes_a_checked_claim():
    from bench.lessons import targets

    assert all(t.claims for t in targets())
    assert set(lessons.offline()) <= {t.name for t in targets()}
    for lesson in targets():  # every claim names labels the lesson trains
        labels = {label for label, _ in lesson.specs(lesson.base_spec())}
        for claim in lesson.claims:
            assert {*claim.subjects, *([claim.other] if claim.other else [])} <= labels, claim


def test_false_claims_are_reported_not_hidden():
    """The check can fail: a tiny real training whose numbers contradict each claim kind
    gets a NO, while what they do show gets a yes."""
    from bench.lessons import check

    said = (
        Claim("overfits", ("true",)),  # 10 epochs of a tiny network cannot overfit
        Claim("worse", ("true",), "random"),
        Claim("chance", ("true",)),
        Claim("slower", ("true",), "random"),
        Claim("beats", ("true",), "random"),  # the one that holds
    )
    lesson = Lesson("wrong", "", "iris", "", base=(("epochs", 10), ("capacity", "tiny")),
                    variants=(("true", {"label_noise": 0.0}), ("random", {"label_noise": 1.0})),
                    claims=said)  # fmt: skip
    # 10 epochs, not 3: after 3 the true labels were still at chance on some seeds' weights
    verdicts = [row["validation"].holds for row in check(lesson, [0])]
    assert verdicts == [False, False, False, False, True]


def test_the_views_claims_read_the_numbers_keras_prints():
    """Dropout's printed training loss (a running mean with Dropout active) lies above
    what the same network scores on the same epoch in inference mode."""
    from bench.lessons import runs_of

    lesson = Lesson("printed", "", "digits", "", base=(("epochs", 2), ("label_noise", 0.0)),
                    variants=(("dropout 0.8", {"dropout": 0.8}),))  # fmt: skip
    (run,) = runs_of(lesson, [0])["dropout 0.8"]
    above = Claim("printed_above", ("dropout 0.8",)).check({"dropout 0.8": [run]}, "validation")
    below = Claim("measured_below", ("dropout 0.8",)).check({"dropout 0.8": [run]}, "validation")
    last = run.history[-1]
    assert above.holds == (last["fit_loss"] > last["val_loss"])
    assert below.holds == (last["loss"] < last["val_loss"])
    assert last["fit_loss"] > last["loss"]  # Dropout on while fitting, off when measured
