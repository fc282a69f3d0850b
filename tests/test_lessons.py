"""Every lesson the app teaches is true: bench/lessons.py checks each claim of every offline
preset and every offline dataset's default comparison on the mean of three seeds, on the
validation split and on the held-out test split. Slow (a few minutes): CI runs it."""

from __future__ import annotations

import pytest

from core import lessons
from core.lessons import Claim, Lesson

pytestmark = pytest.mark.slow


def test_every_offline_lesson_holds_on_three_seeds_on_validation_and_test(capsys):
    from bench.lessons import main, targets

    names = {t.name for t in targets()}
    assert {"moons-boundary", "sine-curve", "memorising-noise", "capacity-sweep",
            "l2-sweep", "digits-default", "moons-default"} <= names  # fmt: skip
    assert main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "every claim holds" in out
    assert out.count(" yes    yes") >= sum(len(t.claims) for t in targets())


def test_every_offline_preset_and_default_makes_a_checked_claim():
    from bench.lessons import targets

    assert all(t.claims for t in targets())
    assert set(lessons.offline()) <= {t.name for t in targets()}


def test_a_false_claim_is_reported_not_hidden():
    """The check can fail: a claim the numbers contradict is a NO."""
    from bench.lessons import check

    wrong = Lesson("wrong", "", "iris", "", variants=("baseline", "dropout"),
                   base=(("epochs", 3), ("capacity", "tiny"), ("label_noise", 0.0)),
                   claims=(Claim("overfits", ("baseline",)),))  # fmt: skip
    (row,) = check(wrong, [0])
    assert not row["validation"].holds  # 3 epochs of a tiny network cannot overfit
