"""The command line: its output, its JSON, and its errors."""

import json
import os
import subprocess
import sys

import pytest

from core.cache import RunStore
from core.cli import main
from tests.support import ROOT

HISTORY_FIELDS = {"epoch", "loss", "val_loss", "penalty", "accuracy", "val_accuracy", "seconds"}


def cli(*args, check_no_tensorflow=False):
    """Run `python -m core ...` in a fresh process; optionally prove it never imported
    TensorFlow or Keras."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['core', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('core', run_name='__main__')\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        f"if {check_no_tensorflow} and heavy:\n"
        "    print('IMPORTED', heavy, file=sys.stderr); code = 99\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        timeout=300,
    )


def test_run_writes_json_then_answers_from_the_cache_without_tensorflow(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = [
        "run",
        "--dataset",
        "digits",
        "--variants",
        "baseline,dropout,l2",
        "--epochs",
        "3",
        "--json",
        str(out),
    ]
    assert main(args) == 0  # trains, in this process
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:2] == ["variant", "final"]
    assert table.count("trained") == 3
    runs = json.loads(out.read_text())["runs"]
    assert [r["variant"] for r in runs] == ["baseline", "dropout", "l2"]
    for r in runs:
        assert {"variant", "key", "spec", "params", "cached", "history", "test"} <= set(r)
        assert r["cached"] is False and r["spec"]["epochs"] == 3
        assert len(r["history"]) == 3 and set(r["history"][0]) >= HISTORY_FIELDS
        assert {"loss", "accuracy"} <= set(r["test"])
    assert runs[2]["history"][-1]["penalty"] > 0 and runs[0]["history"][-1]["penalty"] == 0

    again = cli(*args, check_no_tensorflow=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("cached") == 3
    cached = json.loads(out.read_text())["runs"]
    assert all(r["cached"] for r in cached)
    assert [r["history"] for r in cached] == [r["history"] for r in runs]


def test_custom_toggles_describe_a_one_off_variant(tmp_path):
    out = tmp_path / "custom.json"
    assert (
        main(
            [
                "run",
                "--dataset",
                "iris",
                "--epochs",
                "2",
                "--l2",
                "0.05",
                "--batchnorm",
                "--capacity",
                "tiny",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    (run,) = json.loads(out.read_text())["runs"]
    assert run["variant"] == "custom"
    assert (run["spec"]["l2"], run["spec"]["batchnorm"], run["spec"]["capacity"]) == (
        0.05,
        True,
        "tiny",
    )


@pytest.mark.parametrize(
    "args,words",
    [
        (["run", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["run", "--dataset", "cifar10"], "python -m core download cifar10"),
        (["run", "--dataset", "iris", "--variants", "baseline,magic"], "unknown variant"),
        (["run", "--dataset", "iris", "--dropout", "1.5"], "dropout must be"),
        (["run", "--dataset", "iris", "--seeds", "1,x"], "--seeds takes whole numbers"),
        (["precompute", "--preset", "nope"], "unknown preset"),
        (["runs", "--delete", "0" * 24], "no cached run"),
        (["runs", "--delete", ".."], "not a run key"),
        (["run", "--dataset", ""], "must be named"),
        (["run", "--dataset", "x" * 300], "too long"),
        (["run", "--dataset", "iris", "--variants", ""], "--variants names none"),
        (["run", "--dataset", "iris", "--variants", ",,,"], "--variants names none"),
        (["run", "--dataset", "iris", "--seeds", " "], "--seeds names no seed"),
        (["run", "--dataset", "iris", "--noise", "0.3"], "no noise or size setting"),
        (["run", "--dataset", "imdb", "--variants", "augment"], "python -m core download imdb"),
        (["run", "--dataset", "iris", "--sweep", "colour=1,2"], "--sweep runs along one of"),
        (["run", "--dataset", "iris", "--sweep", "l2=0.1"], "at least two different values"),
        (["run", "--dataset", "iris", "--epochs", "lots"], "'lots' is not a whole number"),
        (["run", "--dataset", "iris", "--l2", "strong"], "'strong' is not a number or off"),
        (["run", "--dataset", "iris", "--seed", "-1"], "seed must be between 0 and"),
        (["run", "--dataset", "iris", "--sweep", "dropout=0.1,0.9"], "dropout must be between"),
        (["run", "--dataset", "iris", "--sweep", "l1=off,x"], "--sweep l1: 'x' is not a number"),
        (
            [
                "run",
                "--dataset",
                "sine",
                "--label-noise",
                "0.2",
                "--variants",
                "baseline",
                "--epochs",
                "2",
            ],
            "Noisy sine is regression data",
        ),  # fmt: skip
        (["run", "--dataset", "sine", "--sweep", "label_noise=0,0.2"], "is regression data"),
    ],
)
def test_errors_are_one_readable_line_and_exit_2(args, words):
    result = cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_moons_with_noise_label_noise_l1_and_patience_carries_the_grids_in_json(tmp_path):
    out = tmp_path / "moons.json"
    args = ["run", "--dataset", "moons", "--noise", "0.3", "--size", "60", "--epochs", "4",
            "--label-noise", "0.2", "--l1", "1e-4", "--patience", "2", "--capacity", "small",
            "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    (run,) = json.loads(out.read_text())["runs"]
    spec = run["spec"]
    assert (spec["data_noise"], spec["data_size"], spec["label_noise"], spec["l1"],
            spec["patience"]) == (0.3, 60, 0.2, 1e-4, 2)  # fmt: skip
    assert run["probe"]["kind"] == "grid" and len(run["probe"]["x"]) == 50
    grids = [r["probe"]["values"] for r in run["history"] if "probe" in r]
    assert len(grids) >= 2 and all(len(g) == 2500 for g in grids)
    assert run["early_stopping"]["restored"] >= 1 and run["histogram"]["counts"]


def test_a_sweep_trains_one_fused_run_per_value_and_lists_them(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    args = ["run", "--dataset", "digits", "--sweep", "l2=0,1e-4,1e-3,1e-2", "--epochs", "2",
            "--capacity", "small", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "L2 strength = off" in table and "L2 strength = 0.01" in table
    runs = json.loads(out.read_text())["runs"]
    assert [r["spec"]["l2"] for r in runs] == [0.0, 1e-4, 1e-3, 1e-2]
    assert {r["meta"]["fused_with"] for r in runs} == {4}  # one loop for all four


def test_off_and_minus_zero_read_as_the_settings_table_says(tmp_path):
    """`--l1 off` was refused although the help said "off"; `--noise -0` was a
    `ValueError: scale < 0` traceback from numpy."""
    out = tmp_path / "off.json"
    args = ["run", "--dataset", "moons", "--noise", "-0", "--size", "40", "--epochs", "1",
            "--l1", "off", "--l2", "OFF", "--dropout", " off", "--augment", "none",
            "--capacity", "tiny", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    (run,) = json.loads(out.read_text())["runs"]
    spec = run["spec"]
    assert (spec["l1"], spec["l2"], spec["dropout"], spec["augment"]) == (0.0, 0.0, 0.0, "none")
    assert json.dumps(spec["data_noise"]) == "0.0"  # not -0.0: one value, one cache key


def test_help_offers_what_the_flags_take(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(1e-06 to 0.01, or off)" in text and "(0.05 to 0.8, or off)" in text
    assert "(one of light, strong, or none)" in text and "(10 to 10000000, or all)" in text


def test_a_learning_curve_past_the_data_trains_all_of_it_once(tmp_path, capsys):
    """Iris has 96 training examples: 500 and 5000 were two runs on the same 96, plotted
    at 500 and 5000 and kept as two cache entries."""
    out = tmp_path / "sizes.json"
    args = ["run", "--dataset", "iris", "--sweep", "train_size=10,500,5000", "--epochs", "1",
            "--quiet", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["variant"], r["spec"]["train_size"]) for r in runs] == [
        ("Training examples = 10", 10), ("Training examples = all", 0)]  # fmt: skip
    assert len(RunStore().keys()) == 2
    err = capsys.readouterr().err
    assert "note: training sizes 500, 5,000 are not below the 96 training examples" in err
    assert main(["run", "--dataset", "iris", "--train-size", "500", "--epochs", "1",
                 "--variants", "baseline", "--quiet"]) == 0  # fmt: skip
    assert "cached" in capsys.readouterr().out and len(RunStore().keys()) == 2


def test_divergence_is_a_result_and_a_note_not_a_traceback(tmp_path, capsys):
    """Issue 17.5: SGD at learning rate 1 on iris overflowed, and the weight histogram's
    `supplied range of [nan, nan] is not finite` ended the run. Here, with today's batch
    orders, the loss passes 1e4 by epoch 5 and overflows a few epochs later."""
    out = tmp_path / "wild.json"
    args = ["run", "--dataset", "iris", "--variants", "baseline", "--learning-rate", "1",
            "--optimizer", "sgd", "--epochs", "10", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    (run,) = json.loads(out.read_text())["runs"]
    epoch = run["meta"]["diverged"]
    assert len(run["history"]) == 10 and run["history"][0]["loss"] is not None
    assert run["history"][-1]["loss"] is None and 1 < epoch <= 10
    err = capsys.readouterr().err
    assert "note: baseline diverged at epoch" in err and "try 0.1 or lower" in err


def test_a_malformed_csv_is_an_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = cli("run", "--dataset", str(bad))
    assert result.returncode == 2 and "no label column" in result.stderr
    assert "Traceback" not in result.stderr


def test_datasets_and_presets_list_availability(capsys):
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert "mnist5k" in listing and "python -m core download cifar10" in listing
    assert main(["presets"]) == 0
    assert "mnist-capacity" in capsys.readouterr().out


def test_precompute_fills_the_cache_and_runs_lists_and_deletes(monkeypatch, capsys):
    import core.lessons as lessons

    lesson = lessons.Lesson(
        "tiny",
        "tiny",
        "iris",
        "text",
        ("baseline", "dropout"),
        base=(("epochs", 2), ("capacity", "tiny")),
    )
    monkeypatch.setitem(lessons.LESSONS, "tiny", lesson)
    assert main(["precompute", "--preset", "tiny", "--seeds", "0,1"]) == 0
    assert capsys.readouterr().out.count("trained") == 4
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 5
    assert listing[0].split()[:3] == ["key", "dataset", "variant"]
    names = {" ".join(line.split()[2:5]) for line in listing[1:]}
    assert names == {"baseline (tiny) mlp", "dropout 0.5 (tiny)"}
    key = listing[1].split()[0]
    assert main(["runs", "--delete", key]) == 0
    assert capsys.readouterr().out.strip() == f"deleted {key}"
    assert main(["runs"]) == 0
    remaining = capsys.readouterr().out.splitlines()
    assert len(remaining) == 4 and key not in "".join(remaining)
