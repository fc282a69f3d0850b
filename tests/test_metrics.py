"""The numbers every page and check shares: one definition each."""

import pytest

from core import metrics
from tests.support import history_run


def test_best_epoch_is_the_first_lowest_and_ignores_missing_values():
    assert metrics.best_epoch([0.5, 0.3, 0.3, 0.4]) == 2
    assert metrics.best_epoch([None, 0.9, 0.2]) == 3


def test_a_run_overfits_when_it_ends_ten_percent_above_its_best():
    turned = history_run(0, [0.5, 0.3, 0.34], [0.4, 0.2, 0.1]).history
    flat = history_run(0, [0.5, 0.3, 0.32], [0.4, 0.2, 0.1]).history
    assert metrics.rise(turned) == pytest.approx(0.34 / 0.3)
    assert metrics.overfitting_onset(turned) == 2 and metrics.overfitting_onset(flat) is None
    assert metrics.gap(turned) == pytest.approx(0.24)


def test_a_difference_holds_only_if_every_seed_agrees_and_it_exceeds_the_seed_spread():
    clear = metrics.below([0.30, 0.31, 0.29], [0.40, 0.41, 0.42])
    assert clear.holds and clear.difference == pytest.approx(0.11)
    assert clear.noise == pytest.approx(0.02)
    # Every seed agrees, but the baseline's seeds spread wider than the difference.
    noisy = metrics.below([0.30, 0.31, 0.29], [0.32, 0.45, 0.33])
    assert all(d > 0 for d in noisy.differences) and not noisy.holds
    # One seed disagrees: never a claim, however large the mean.
    split = metrics.below([0.1, 0.1, 0.5], [0.9, 0.9, 0.45])
    assert split.difference > split.noise and not split.holds


def test_a_bar_holds_when_every_seed_clears_it():
    assert metrics.above_bar([1.2, 1.3, 1.15], metrics.RISE).holds
    assert not metrics.above_bar([1.2, 1.3, 1.05], metrics.RISE).holds


def test_early_stopping_restores_the_best_epoch_seen_before_it_stops():
    history = history_run(0, [0.5, 0.3, 0.4, 0.45, 0.2], [0.4] * 5).history
    stop = metrics.early_stop(history, patience=2)
    assert stop["stopped"] == 4 and stop["restored"] == 2
    assert metrics.early_stop(history, patience=0) is None


def test_what_keras_prints_adds_the_penalty_to_the_training_mode_and_validation_losses():
    record = {"fit_loss": 0.3, "fit_penalty": 0.05, "val_loss": 0.4, "penalty": 0.04,
              "loss": 0.1}  # fmt: skip
    assert metrics.printed(record) == {"loss": pytest.approx(0.35), "val_loss": pytest.approx(0.44)}
    assert metrics.printed({"fit_loss": None, "val_loss": 0.4, "penalty": 0.0})["loss"] is None


def test_the_printed_gap_compares_held_out_and_training_losses_as_keras_prints_them():
    # Dropout's training-mode running mean (0.3) above the inference-mode validation (0.2).
    run = history_run(0, [0.5, 0.2], [0.4, 0.05], penalty=0.01)
    history = [dict(r, fit_loss=0.3) for r in run.history]
    assert metrics.printed_gap(history) == pytest.approx((0.2 + 0.01) - (0.3 + 0.01))
    assert metrics.gap(history) == pytest.approx(0.15)  # measured alike: training below
    assert metrics.printed_gap(history, "test") == pytest.approx((0.51 + 0.01) - 0.31)


def test_epochs_to_fit_is_the_first_epoch_at_the_memorised_accuracy():
    run = history_run(0, [0.5] * 4, [0.4] * 4)
    history = [dict(r, accuracy=a) for r, a in zip(run.history, (0.5, 0.94, 0.96, 0.99),
                                                     strict=True)]  # fmt: skip
    assert metrics.epochs_to_fit(history) == 3
    assert metrics.epochs_to_fit(history[:2]) is None


def test_a_bar_below_holds_when_every_seed_stays_under_it():
    assert metrics.below_bar([0.09, 0.11, 0.12], 0.15).holds
    assert not metrics.below_bar([0.09, 0.16, 0.12], 0.15).holds
