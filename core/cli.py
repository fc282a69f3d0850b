"""python -m core ... (or `overfitting-lab ...` once installed): the stable interface for
scripts.

Flags come from core.settings, the table the app's widgets and links use. Every expected
failure (unknown dataset, malformed CSV, missing download, full disk, a bad value) prints
one readable line and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from core import config, datasets, lessons, metrics, settings
from core.budget import budget_problem
from core.cache import CacheError, RunStore
from core.config import ConfigError
from core.datasets import DatasetError
from core.report import diverged, early_stop, format_table, run_row, summary_row
from core.settings import SETTINGS
from core.spec import VARIANTS, ExperimentSpec, SpecError, sweep_specs, variant_specs, variants_for

EXIT_USAGE = 2
# Toggles that make a one-off "custom" variant; every other flag applies to all variants.
VARIANT_KNOBS = ("capacity", "l2", "l1", "dropout", "batchnorm", "augment")
BASE_KNOBS = ("data_noise", "data_size", "arch", "widths", "dropout_taper", "batch_size",
              "learning_rate", "optimizer", "epochs", "train_size", "label_noise",
              "patience")  # fmt: skip


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage screen: main() prints it
        raise CliError(message)


def console() -> None:
    """`python -m core`, or the `overfitting-lab` command of an installed project."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("overfitting_lab").addHandler(logging.NullHandler())  # notices below
    notices: list[str] = []
    try:
        args = _parser().parse_args(argv)
        config.current()  # the operator's settings, before anything reads one
        store = RunStore()
        notices = store.notices
        return args.handler(args, store)
    except (ConfigError, DatasetError, SpecError, CacheError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are in the cache, the rest was not stored", file=sys.stderr
        )
        return 130
    finally:
        for notice in notices:
            print(f"notice: {notice}", file=sys.stderr)


def _flag(group, name: str) -> None:
    """An argparse option from the settings table: same name, type, range and help."""
    setting = SETTINGS[name]
    if setting.kind is bool:
        group.add_argument(setting.cli, action="store_true", default=None, help=setting.help)
        return
    group.add_argument(
        setting.cli,
        dest=name,
        type=_typed(setting),
        help=f"{setting.help} {_span(setting)}".strip(),
    )


def _typed(setting: settings.Setting):
    def convert(text: str):
        try:
            return _value(setting, text)
        except (ValueError, SpecError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = setting.kind.__name__
    return convert


KIND_NAMES = {int: "whole number", float: "number", str: "word"}


def _value(setting: settings.Setting, text: str):
    """A value typed on the command line, read as the settings table says: its off word
    ("off", "all", "none"), or a value of its kind within its range. ValueError or
    SpecError, whose message is the one line to print, otherwise."""
    text = text.strip()
    if setting.off_label and text.lower() == setting.off_label:
        return setting.off
    try:
        value = setting.read(text)
    except ValueError as exc:
        if setting.spelling:  # free text with its own grammar: its own message
            raise ValueError(f"{text[:40]!r}: {exc}") from None
        off = f" or {setting.off_label}" if setting.off_label else ""
        raise ValueError(f"{text[:40]!r} is not a {KIND_NAMES[setting.kind]}{off}") from None
    setting.check(value)
    return value


def _span(setting: settings.Setting) -> str:
    """The allowed values in brackets; "" for free text (its help says how to write it)."""
    if setting.choices:
        span = "one of " + ", ".join(map(str, setting.choices))
    elif setting.low is None:
        return ""
    else:
        span = f"{setting.describe(setting.low)} to {setting.describe(setting.high)}"
    return f"({span}" + (f", or {setting.off_label}" if setting.off_label else "") + ")"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m core", description="Train and compare regularization variants."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    p = commands.add_parser("datasets", help="list every dataset and whether it is available")
    p.set_defaults(handler=cmd_datasets)

    p = commands.add_parser("download", help="fetch a dataset once into the cache folder")
    p.add_argument("name", help="mnist, fashion_mnist, cifar10 or imdb")
    p.set_defaults(handler=cmd_download)

    p = commands.add_parser("run", help="train what is not cached, load the rest, compare")
    p.add_argument("--dataset", required=True, help="a dataset name, a .csv path or a folder")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--variants",
        help=f"comma-separated, from: {', '.join(VARIANTS)} "
        "(default: all of them, or only the custom one when toggles are given)",
    )
    what.add_argument(
        "--sweep",
        metavar="KNOB=V1,V2,...",
        help=f"train one run per value of one knob, fused ({', '.join(settings.SWEEPABLE)})",
    )
    _seed_flags(p)
    _budget_flag(p)
    p.add_argument("--json", type=Path, metavar="OUT", help="also write every run to OUT")
    base = p.add_argument_group("the base network and data (apply to every variant)")
    for name in BASE_KNOBS:
        _flag(base, name)
    custom = p.add_argument_group("toggles of a one-off 'custom' variant")
    for name in VARIANT_KNOBS:
        _flag(custom, name)
    p.set_defaults(handler=cmd_run)

    p = commands.add_parser("precompute", help="fill the cache for a teacher preset")
    p.add_argument("--preset", required=True, help=", ".join(lessons.LESSONS))
    _seed_flags(p, default="0")
    _budget_flag(p)
    p.set_defaults(handler=cmd_precompute)

    p = commands.add_parser("presets", help="list the teacher presets")
    p.set_defaults(handler=cmd_presets)

    p = commands.add_parser("runs", help="list cached runs, or delete some by key")
    p.add_argument("--delete", metavar="KEY", nargs="+", help="run keys, as `runs` lists them")
    p.set_defaults(handler=cmd_runs)
    return parser


def _seed_flags(p, default: str | None = None) -> None:
    p.add_argument("--seed", type=_typed(SETTINGS["seed"]), default=0)
    p.add_argument("--seeds", default=default, help="several seeds, e.g. 0,1,2 (overrides --seed)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train on this Dask cluster (tcp://host:8786) instead of in this process",
    )


def _budget_flag(p) -> None:
    p.add_argument(
        "--ignore-budget",
        action="store_true",
        help="train even what is over the server's limit for one request "
        "($OVERFITTING_LAB_MAX_COST); a teacher filling the cache before class",
    )


def cmd_datasets(args, store: RunStore) -> int:
    rows = []
    for entry in datasets.registry().values():
        info = entry.info
        missing = entry.missing()
        rows.append(
            {
                "name": entry.name,
                "title": entry.title,
                "source": entry.source,
                "modality": info.modality,
                "shape": "x".join(map(str, info.input_shape)),
                "classes": info.num_classes or "regression",
                "available": "yes" if not missing else f"no: python -m core download {entry.name}",
            }
        )
    print(format_table(rows))
    print("\nAlso: --dataset path/to/file.csv (a 'label' column) or a folder of class folders.")
    return 0


def cmd_download(args, store: RunStore) -> int:
    for path in datasets.download(args.name):
        print(path)
    return 0


def cmd_run(args, store: RunStore) -> int:
    entry = datasets.resolve(args.dataset)
    problem = entry.missing()
    if problem:
        raise CliError(problem)
    base = datasets.base_spec(args.dataset, **_given(args, BASE_KNOBS))
    if args.train_size:
        (size,), note = datasets.training_sizes(base, [base.train_size])
        base = replace(base, train_size=size)
        _note(note)
    toggles = _given(args, VARIANT_KNOBS)
    sweep = _sweep(args.sweep, base) if args.sweep else None
    if not sweep:
        names = _variant_names(args.variants, datasets.info(args.dataset).modality, toggles)
        variants = [v for v in names if v != "custom"]
        variants += [("custom", toggles)] if "custom" in names else []
    labelled = []
    for seed in _seeds(args.seeds, args.seed):
        seeded = replace(base, seed=seed)
        if sweep:
            labelled += sweep_specs(replace(seeded, **toggles), *sweep)
        else:
            labelled += variant_specs(seeded, variants)
    return _run_and_report(labelled, store, args)


def cmd_precompute(args, store: RunStore) -> int:
    try:
        lesson = lessons.lesson(args.preset)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    problem = datasets.resolve(lesson.dataset).missing()
    if problem:
        raise CliError(problem)
    labelled = [
        pair
        for seed in _seeds(args.seeds, args.seed)
        for pair in lesson.specs(lesson.base_spec(seed))
    ]
    print(f"{lesson.title}: {len(labelled)} runs on {lesson.dataset}")
    args.json = None
    return _run_and_report(labelled, store, args)


def cmd_presets(args, store: RunStore) -> int:
    rows = [
        {
            "preset": lesson.name,
            "dataset": lesson.dataset,
            "title": lesson.title,
            "available": "yes" if datasets.resolve(lesson.dataset).available() else "no",
        }
        for lesson in lessons.LESSONS.values()
    ]
    print(format_table(rows))
    return 0


def cmd_runs(args, store: RunStore) -> int:
    if args.delete:
        for key in args.delete:
            if not store.delete(key.strip()):
                raise CliError(f"no cached run with key {key}")
            print(f"deleted {key}")
        return 0
    print(format_table([run_row(run) for run in store.list()]))
    return 0


def _given(args, names) -> dict:
    """The options the user actually gave."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _variant_names(text: str | None, modality: str, toggles: dict) -> list[str]:
    custom = ["custom"] if toggles else []
    if text is None:
        return custom or list(variants_for(modality))
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names and not custom:
        raise CliError(f"--variants names none; choose from {', '.join(VARIANTS)}")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise CliError(
            f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    useless = [v for v in names if v not in variants_for(modality)]
    if useless:
        raise CliError(f"{', '.join(useless)} do(es) not apply to {modality} data")
    return list(dict.fromkeys(names)) + custom


def _sweep(text: str, base: ExperimentSpec) -> tuple[str, list]:
    knob, _, values = text.partition("=")
    knob = knob.strip().replace("-", "_")
    if knob not in settings.SWEEPABLE:
        raise CliError(f"--sweep runs along one of {', '.join(settings.SWEEPABLE)}, not {knob!r}")
    texts = list(dict.fromkeys(v.strip() for v in values.split(",") if v.strip()))
    _at_most("--sweep", "values", len(texts), SETTINGS["sweep_values"])  # before any work
    try:
        parsed = list(dict.fromkeys(_value(SETTINGS[knob], v) for v in texts))
    except (ValueError, SpecError) as exc:
        raise CliError(f"--sweep {knob}: {exc}") from None
    if len(parsed) < 2:
        raise CliError("--sweep needs at least two different values, e.g. l2=0,1e-4,1e-3")
    if knob == "train_size":
        parsed, note = datasets.training_sizes(base, parsed)
        _note(note)
    return knob, parsed


def _note(text: str | None) -> None:
    if text:
        print(f"note: {text}", file=sys.stderr)


def _at_most(flag: str, what: str, count: int, setting: settings.Setting) -> None:
    """No more values than the settings table allows, or one line."""
    if count > setting.high:
        raise CliError(f"{flag} takes at most {setting.high} different {what}, not {count:,}")


def _seeds(text: str | None, default: int) -> list[int]:
    if text is None:
        return [default]
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CliError(f"--seeds takes whole numbers separated by commas, not {text!r}") from None
    if not seeds:
        raise CliError("--seeds names no seed; give whole numbers such as 0,1,2")
    seeds = list(dict.fromkeys(seeds))
    _at_most("--seeds", "seeds", len(seeds), SETTINGS["seeds"])
    for seed in seeds:
        SETTINGS["seed"].check(seed)
    return seeds


def _run_and_report(labelled: list[tuple[str, ExperimentSpec]], store: RunStore, args) -> int:
    from core.runner import execute, run_key

    keys = [run_key(spec) for _, spec in labelled]  # fails early, before any training
    missing = {k: s for k, (_, s) in zip(keys, labelled, strict=True) if not store.has(k)}
    problem = None if args.ignore_budget else budget_problem(list(missing.values()))
    if problem:
        raise CliError(f"{problem} (--ignore-budget trains it anyway)")
    remote = set()
    if args.scheduler:
        _train_on_cluster(args.scheduler, missing, args.quiet)
        remote, missing = set(missing), {}  # trained there: all of it loads from the cache
    # In-process runs draw their bar on a terminal only; a log gets just the table.
    bar = _Bar(sum(s.epochs for s in missing.values()), args.quiet or not sys.stderr.isatty())
    results = execute([spec for _, spec in labelled], store, on_progress=bar.epoch)
    bar.finish()
    rows = [
        summary_row(_label(label, spec, labelled), r.run, r.cached and r.run.key not in remote)
        for (label, spec), r in zip(labelled, results, strict=True)
    ]
    print(format_table(rows))
    for (label, spec), r in zip(labelled, results, strict=True):
        if note := diverged(_label(label, spec, labelled), r.run):
            print(f"note: {note}", file=sys.stderr)
    if args.json:
        _write_json(args.json, labelled, results)
    return 0


def _train_on_cluster(address: str, missing: dict[str, ExperimentSpec], quiet: bool) -> None:
    """Submit the runs that are not cached to a Dask cluster and wait, with a progress bar;
    the runs are then read from the shared cache like any other."""
    from core.jobs import JobEngine

    engine = JobEngine(address=address)
    try:
        engine.client  # noqa: B018 - connect now: a wrong address is one clear line
    except (OSError, TimeoutError) as exc:
        raise CliError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    me = f"cli-{os.getpid()}"
    try:
        engine.submit(list(missing.values()), list(missing), None, me)
        bar = _Bar(sum(s.epochs for s in missing.values()), quiet)
        # Each poll names this command: it waits for its runs (the engine's lease).
        while (status := engine.status(list(missing), me)).pending:
            bar.watched(engine.watch(list(missing), me))
            time.sleep(0.5)
        bar.finish()
        if status.failed:
            raise CliError(f"training failed on the cluster: {status.error}")
    finally:
        engine.withdraw(list(missing), me)  # interrupted: the cluster stops what it trains
        engine.close()


class _Bar:
    """A progress bar on stderr: epochs done of all the epochs to train. Redrawn in place
    on a terminal; into a log, a line every few seconds."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.last = max(total, 1), quiet, 0.0
        self.tty = sys.stderr.isatty()
        self.epochs: dict[str, int] = {}  # run key -> epochs done

    def epoch(self, key: str, record: dict) -> None:
        """The in-process runner's on_progress."""
        self.epochs[key] = record["epoch"]
        self._show(f"{len(self.epochs)} training")

    def watched(self, watch) -> None:
        """What the cluster's tasks have drawn so far (None: nothing to show)."""
        if watch is not None:
            self.epochs = {k: rows[-1]["epoch"] for k, rows in watch.records.items() if rows}
            self._show(f"{watch.running} running, {watch.queued} queued")

    def _show(self, detail: str) -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < (0.5 if self.tty else 5):
            return
        self.last = now
        share = min(1.0, sum(self.epochs.values()) / self.total)
        filled = round(30 * share)
        text = f"[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  {detail}"
        print(f"\r{text}" if self.tty else text, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)  # fmt: skip

    def finish(self) -> None:
        if not self.quiet and self.tty and self.last:
            print(file=sys.stderr)


def _label(label: str, spec: ExperimentSpec, labelled) -> str:
    several_seeds = len({s.seed for _, s in labelled}) > 1
    return f"{label} (seed {spec.seed})" if several_seeds else label


def _write_json(path: Path, labelled, results) -> None:
    runs = []
    for (label, _), result in zip(labelled, results, strict=True):
        run = result.run
        runs.append(
            {
                "variant": label,
                "key": run.key,
                "spec": run.spec.to_dict(),
                "params": run.params,
                "cached": result.cached,
                "best_epoch": metrics.best_validation_epoch(run.history),
                "test": run.test,
                "early_stopping": early_stop(run),
                "history": list(run.history),
                "layers": list(run.layers),
                "histogram": run.histogram,
                "probe": run.probe,
                "meta": run.meta,
            }
        )
    try:
        path.write_text(json.dumps({"runs": runs}, indent=1))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
