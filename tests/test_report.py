import pytest

from core import report
from tests.support import history_run as run


def test_summary_row_reads_what_a_user_compares():
    row = report.summary_row("baseline", run(0, [0.5, 0.3, 0.4], [0.4, 0.2, 0.1]), True)
    assert row["final val loss"] == 0.4 and row["best val loss"] == 0.3
    assert row["gap"] == pytest.approx(0.3) and row["best epoch"] == 2
    assert row["final val acc"] == pytest.approx(0.82) and row["source"] == "cached"
    assert row["test loss"] == pytest.approx(0.52) and "stopped at" not in row


def test_early_stopping_columns_report_the_restored_weights_test_score():
    # Validation loss: best at epoch 2, then no improvement for 2 epochs -> stop at 4.
    stopped = run(0, [0.5, 0.3, 0.4, 0.45, 0.2], [0.4] * 5, patience=2)
    row = report.summary_row("baseline", stopped, True)
    assert row["stopped at"] == 4 and row["restored test loss"] == pytest.approx(0.51)
    patient = report.early_stop(run(0, [0.5, 0.3, 0.4, 0.45, 0.2], [0.4] * 5, patience=9))
    assert patient["stopped"] is None and patient["restored"] == 5  # best of all, kept


def test_summary_table_averages_seeds_per_variant():
    table = report.summary_table(
        [
            ("l2", run(0, [0.5, 0.3], [0.4, 0.2]), True),
            ("l2", run(1, [0.7, 0.5], [0.4, 0.2]), False),
            ("baseline", run(0, [0.5, 0.6], [0.4, 0.1]), True),
        ]
    )
    assert [r["variant"] for r in table] == ["l2", "baseline"]
    assert table[0]["final val loss"] == pytest.approx(0.4) and table[0]["seeds"] == 2
    assert table[0]["source"] == "trained" and "seeds" not in table[1]


def test_tidy_has_one_row_per_point_and_keeps_the_penalty_apart():
    tidy = report.tidy([("l2", 0, run(0, [0.5, 0.3], [0.4, 0.2], penalty=0.1).history)])
    assert {r["split"] for r in tidy} == {"train", "validation"}  # the test split is no curve
    assert len(tidy) == 2 * (4 + 1)  # epochs x (loss, acc for 2 splits + penalty)
    penalty = [r for r in tidy if r["metric"] == "penalty"]
    assert [r["value"] for r in penalty] == [0.1, 0.1]
    assert {r["split"] for r in penalty} == {"train"}
    assert {r["value"] for r in tidy if r["metric"] == "loss"} == {0.5, 0.3, 0.4, 0.2}


def test_markdown_summary_marks_the_best_of_each_column():
    table = report.markdown_table(
        report.summary_table(
            [
                ("baseline", run(0, [0.5, 0.6], [0.4, 0.1]), True),
                ("l2", run(1, [0.5, 0.3], [0.4, 0.2]), False),
            ]
        )
    ).splitlines()
    assert table[0].startswith("| variant | final val loss")
    baseline, l2 = table[2], table[3]
    # l2 wins final and best val loss and the gap; accuracies and test scores tie (both bold)
    assert "**0.3000**" in l2 and "0.6000" in baseline and "**0.6000**" not in baseline
    assert l2.count("**") == 2 * 7 and baseline.count("**") == 2 * 4


def test_the_gap_nearest_zero_is_the_best_not_the_most_negative():
    """Validation loss under the training loss (training labels made noisy) is a gap too."""
    rows = report.summary_table([("wide", run(0, [0.5, 0.6], [0.4, 0.1]), True),
                                 ("near", run(1, [0.5, 0.3], [0.4, 0.2]), True),
                                 ("under", run(2, [0.5, 0.2], [0.4, 0.35]), True)])  # fmt: skip
    assert [round(r["gap"], 2) for r in rows] == [0.5, 0.1, -0.15]
    table = report.markdown_table(rows).splitlines()
    assert "**0.1000**" in table[3] and "**-0.1500**" not in table[4]


def test_a_surprising_variant_says_why():
    learned = run(0, [2.3] * 3, [2.3] * 3)
    learned = type(learned)(**{**learned.__dict__, "history": tuple(
        r | {"fit_accuracy": 0.95, "accuracy": 0.05} for r in learned.history)})  # fmt: skip
    from dataclasses import replace

    batchnorm = replace(learned, spec=replace(learned.spec, batchnorm=True))
    note = report.surprise("batchnorm", batchnorm, classes=24)
    assert "95% accuracy while training but 5% on the same training data in inference" in note
    assert "BatchNorm" in note and "3 epochs of 2 batches is 6 steps" in note
    assert report.surprise("fine", run(0, [0.5] * 3, [0.4] * 3), classes=2) is None
    # Random labels: fitted in both modes, held-out at chance. That is the lesson, not a
    # surprise (it once said "reaches 100% while training but 10% on validation").
    memorised = replace(learned, history=tuple(
        r | {"accuracy": 0.99, "val_accuracy": 0.1} for r in learned.history))  # fmt: skip
    assert report.surprise("random labels", memorised, classes=10) is None


def test_sweep_points_are_means_with_the_seed_range():
    points = report.sweep_points([("a", run(0, [0.5, 0.3], [0.4, 0.2]).history),
                                  ("a", run(1, [0.5, 0.5], [0.4, 0.1]).history)])  # fmt: skip
    final = next(p for p in points if p["measure"] == "validation (final)")
    assert (final["loss"], final["low"], final["high"], final["seeds"]) == (0.4, 0.3, 0.5, 2)


def test_format_table_aligns_columns():
    text = report.format_table([{"variant": "a", "loss": 0.5}, {"variant": "bb", "loss": 12.25}])
    lines = text.splitlines()
    assert lines[0].startswith("variant") and lines[1].endswith("0.5000")
    assert len({len(line) for line in lines}) == 1
