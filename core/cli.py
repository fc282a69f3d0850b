"""python -m core ...: the stable interface for scripts.

Every expected failure (unknown dataset, malformed CSV, missing download, full disk) prints
one readable line and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core import datasets, lessons
from core.cache import CacheError, RunStore
from core.datasets import DatasetError
from core.report import format_table, summary_row
from core.spec import AUGMENTATIONS, CAPACITIES, VARIANTS, ExperimentSpec, SpecError

EXIT_USAGE = 2


class CliError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (DatasetError, SpecError, CacheError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are in the cache, the rest was not stored", file=sys.stderr
        )
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    p.add_argument(
        "--variants",
        help=f"comma-separated, from: {', '.join(VARIANTS)} "
        "(default: all of them, or only the custom one when toggles are given)",
    )
    p.add_argument("--epochs", type=int, help="default: the dataset's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", help="several seeds, e.g. 0,1,2 (overrides --seed)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write every run to OUT")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    base = p.add_argument_group("the base network (applies to every variant)")
    base.add_argument("--arch", choices=("mlp", "cnn", "sign_cnn", "vgg_cifar"))
    base.add_argument("--batch-size", type=int)
    base.add_argument("--learning-rate", type=float)
    custom = p.add_argument_group("toggles of a one-off 'custom' variant")
    custom.add_argument("--l2", type=float)
    custom.add_argument("--dropout", type=float)
    custom.add_argument("--batchnorm", action="store_true", default=None)
    custom.add_argument("--augment", choices=AUGMENTATIONS)
    custom.add_argument("--capacity", choices=CAPACITIES)
    custom.add_argument("--train-size", type=int)
    p.set_defaults(handler=cmd_run)

    p = commands.add_parser("precompute", help="fill the cache for a teacher preset")
    p.add_argument("--preset", required=True, help=", ".join(lessons.LESSONS))
    p.add_argument("--seeds", default="0", help="e.g. 0,1,2 for seed bands")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=cmd_precompute)

    p = commands.add_parser("presets", help="list the teacher presets")
    p.set_defaults(handler=cmd_presets)

    p = commands.add_parser("runs", help="list cached runs, or delete one")
    p.add_argument("--delete", metavar="KEY")
    p.set_defaults(handler=cmd_runs)
    return parser


def cmd_datasets(args) -> int:
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
                "classes": info.num_classes,
                "available": "yes" if not missing else f"no: python -m core download {entry.name}",
            }
        )
    print(format_table(rows))
    print("\nAlso: --dataset path/to/file.csv (a 'label' column) or a folder of class folders.")
    return 0


def cmd_download(args) -> int:
    for path in datasets.download(args.name):
        print(path)
    return 0


def cmd_run(args) -> int:
    spec_overrides = _given(
        arch=args.arch,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
    )
    toggles = _given(
        l2=args.l2,
        dropout=args.dropout,
        batchnorm=args.batchnorm,
        augment=args.augment,
        capacity=args.capacity,
        train_size=args.train_size,
    )
    names = _variant_names(args.variants, datasets.info(args.dataset), bool(toggles))
    labelled = []
    for seed in _seeds(args.seeds, args.seed):
        base = datasets.base_spec(args.dataset, seed=seed, **spec_overrides)
        variants = [v for v in names if v != "custom"]
        if "custom" in names:
            variants.append(("custom", toggles))
        labelled += lessons.variant_specs(base, variants)
    return _run_and_report(labelled, args.json, args.quiet)


def cmd_precompute(args) -> int:
    try:
        lesson = lessons.lesson(args.preset)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    problem = datasets.resolve(lesson.dataset).missing()
    if problem:
        raise CliError(problem)
    labelled = [pair for seed in _seeds(args.seeds, 0) for pair in lesson.specs(seed)]
    print(f"{lesson.title}: {len(labelled)} runs on {lesson.dataset}")
    return _run_and_report(labelled, None, args.quiet)


def cmd_presets(args) -> int:
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


def cmd_runs(args) -> int:
    store = RunStore()
    if args.delete:
        if not store.delete(args.delete):
            raise CliError(f"no cached run with key {args.delete}")
        print(f"deleted {args.delete}")
        return 0
    rows = [
        {
            "key": run.key,
            "dataset": run.spec.dataset,
            "arch": run.spec.arch,
            "capacity": run.spec.capacity,
            "l2": run.spec.l2,
            "dropout": run.spec.dropout,
            "batchnorm": run.spec.batchnorm,
            "augment": run.spec.augment,
            "epochs": run.spec.epochs,
            "seed": run.spec.seed,
            "val loss": run.history[-1]["val_loss"],
        }
        for run in store.list()
    ]
    print(format_table(rows))
    return 0


def _given(**options) -> dict:
    """The options the user actually gave."""
    return {name: value for name, value in options.items() if value is not None}


def _variant_names(text: str | None, info, custom: bool) -> list[str]:
    if text is None:
        if custom:
            return ["custom"]
        return [
            v
            for v in VARIANTS
            if not (v == "augment" or v == "combined") or info.modality != "text"
        ]
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise CliError(
            f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    return names + (["custom"] if custom else [])


def _seeds(text: str | None, default: int) -> list[int]:
    if not text:
        return [default]
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CliError(f"--seeds takes whole numbers separated by commas, not {text!r}") from None


def _run_and_report(
    labelled: list[tuple[str, ExperimentSpec]], json_path: Path | None, quiet: bool
) -> int:
    from core.runner import execute, run_key

    for _, spec in labelled:
        datasets.resolve(spec.dataset)  # fail early, before any training
    labels = {run_key(spec): label for label, spec in labelled}
    progress = None if quiet or not sys.stderr.isatty() else _Progress(labels)
    results = execute([spec for _, spec in labelled], on_progress=progress)
    if progress:
        progress.finish()
    rows = [
        summary_row(_label(label, spec, labelled), r.run, r.cached)
        for (label, spec), r in zip(labelled, results, strict=True)
    ]
    print(format_table(rows))
    if json_path:
        _write_json(json_path, labelled, results)
    return 0


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
                "best_epoch": run.best_epoch,
                "test": run.test,
                "history": list(run.history),
                "meta": run.meta,
            }
        )
    try:
        path.write_text(json.dumps({"runs": runs}, indent=1))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


class _Progress:
    """One status line on stderr, refreshed at most twice a second."""

    def __init__(self, labels: dict[str, str]):
        self.labels = labels
        self.epochs: dict[str, int] = {}
        self.last = 0.0

    def __call__(self, key: str, record: dict) -> None:
        self.epochs[key] = record["epoch"]
        now = time.monotonic()
        if now - self.last > 0.5:
            self.last = now
            done = min(self.epochs.values())
            print(
                f"\rtraining {len(self.epochs)} run(s): epoch {done}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def finish(self) -> None:
        if self.epochs:
            print(file=sys.stderr)
