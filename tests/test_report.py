import pytest

from core import report
from core.cache import Run
from core.spec import ExperimentSpec


def run(seed: int, val: list[float], train: list[float], penalty=0.0) -> Run:
    history = tuple(
        {
            "epoch": i + 1,
            "loss": t,
            "val_loss": v,
            "penalty": penalty,
            "accuracy": 0.9,
            "val_accuracy": 0.8 + 0.01 * i,
            "seconds": 0.1,
        }
        for i, (v, t) in enumerate(zip(val, train, strict=True))
    )
    best = min(range(len(val)), key=val.__getitem__) + 1
    return Run(
        key=f"k{seed}",
        spec=ExperimentSpec(seed=seed),
        fingerprint="f",
        history=history,
        test={"loss": 0.5, "accuracy": 0.75},
        best_epoch=best,
        params=100,
        meta={},
    )


def test_summary_row_reads_what_a_user_compares():
    row = report.summary_row("baseline", run(0, [0.5, 0.3, 0.4], [0.4, 0.2, 0.1]), True)
    assert row["final val loss"] == 0.4 and row["best val loss"] == 0.3
    assert row["gap"] == pytest.approx(0.3) and row["best epoch"] == 2
    assert row["final val acc"] == pytest.approx(0.82) and row["source"] == "cached"


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


def test_format_table_aligns_columns():
    text = report.format_table([{"variant": "a", "loss": 0.5}, {"variant": "bb", "loss": 12.25}])
    lines = text.splitlines()
    assert lines[0].startswith("variant") and lines[1].endswith("0.5000")
    assert len({len(line) for line in lines}) == 1
