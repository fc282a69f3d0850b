"""Is every lesson the app teaches true? Each claim, checked on three seeds, on the validation
split and on the held-out test split: every seed must agree, and the mean difference must be
larger than the spread between seeds (core.metrics.Margin).

Checks every offline preset and every offline dataset's default comparison (the text the
Compare page shows for it), training through the normal cached path, and prints one row per
claim. Where a claim does not hold, the lesson's settings or text change — never this check.
`--explore` also prints every label's numbers, for writing a lesson.

    python bench/lessons.py [--seeds 0,1,2] [--only moons-boundary,digits-default] [--explore]
                            [--markdown] [--jobs 2]

Lessons are checked in `--jobs` processes at once (one per core by default): the small
networks of the 2-D and 1-D lessons keep one core busy each, not two. The runs are the same
whichever process trains them (a run trains once; the others wait for its cache entry).

`--markdown` ends with the README's lesson table: per claim, the margin it turns on, on
each split ("0.04 over 0.022": the mean difference over the spread between seeds; "+0.05":
the worst seed past a threshold).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import datasets, lessons, metrics  # noqa: E402
from core.lessons import SPLITS, Lesson  # noqa: E402
from core.runner import execute  # noqa: E402


def targets() -> list[Lesson]:
    """Every offline preset, then every offline dataset's default comparison."""
    presets = [lessons.lesson(name) for name in lessons.offline()]
    defaults = [
        lessons.default_lesson(name)
        for name, entry in datasets.registry().items()
        if entry.source != "download" and lessons.default_lesson(name)
    ]
    return presets + defaults


def runs_of(lesson: Lesson, seeds: list[int]) -> dict[str, list]:
    """Every label's runs, one per seed, trained (or read from the cache) as the app does."""
    labelled = [pair for seed in seeds for pair in lesson.specs(lesson.base_spec(seed))]
    results = execute([spec for _, spec in labelled])
    runs: dict[str, list] = {}
    for (label, _), result in zip(labelled, results, strict=True):
        runs.setdefault(label, []).append(result.run)
    return runs


def check(lesson: Lesson, seeds: list[int]) -> list[dict]:
    """One row per claim: what it says, and its verdict on each split (core.lessons)."""
    runs = runs_of(lesson, seeds)
    rows = []
    for claim in lesson.claims:
        row = {"lesson": lesson.name, "claim": claim.says()}
        for split in SPLITS:
            row[split] = claim.check(runs, split)
        rows.append(row)
    return rows


def explore(lesson: Lesson, seeds: list[int]) -> None:
    runs = runs_of(lesson, seeds)
    print(f"\n{lesson.name} ({lesson.dataset}): {len(seeds)} seeds, mean (spread)")
    print(f"  {'label':24s} {'val':>15s} {'test':>15s} {'train':>15s} {'gap v':>15s}"
          f" {'rise v':>13s}")  # fmt: skip
    for label, group in runs.items():
        histories = [r.history for r in group]
        columns = [
            metrics.finals(histories, "validation"),
            metrics.finals(histories, "test"),
            metrics.finals(histories, "train"),
            [metrics.gap(h) for h in histories],
            [metrics.rise(h) or 0.0 for h in histories],
        ]
        cells = " ".join(f"{metrics.mean(v):8.4f} ({metrics.spread(v):.3f})" for v in columns)
        print(f"  {label[:24]:24s} {cells}")


def timed_check(name: str, seeds: list[int]) -> tuple[list[dict], float]:
    """One lesson's rows and the seconds they took, in whichever process runs it."""
    started = time.perf_counter()
    (lesson,) = [t for t in targets() if t.name == name]
    return check(lesson, seeds), time.perf_counter() - started


def checked(chosen: list[Lesson], seeds: list[int], jobs: int):
    """Each lesson's rows and seconds, in the lessons' order, from `jobs` processes."""
    if jobs <= 1:
        return (timed_check(lesson.name, seeds) for lesson in chosen)
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        return list(pool.map(timed_check, [t.name for t in chosen], [seeds] * len(chosen)))


def cell(verdict) -> str:
    """One split's margin for the README: the comparison the verdict turns on."""
    what, margin = verdict.deciding()
    if margin.noise:
        text = f"{margin.difference:.2g} over {margin.noise:.2g}"
    else:
        text = f"{min(margin.differences):+.2g}"
    who = f" ({what})" if len(verdict.margins) > 1 else ""
    return ("" if verdict.holds else "**fails** ") + text + who


def markdown(rows: list[dict]) -> str:
    lines = ["| lesson | claim | validation | test |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r['lesson']}` | {r['claim']} | {cell(r['validation'])} | {cell(r['test'])} |"
              for r in rows]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", help="lesson names (presets, or <dataset>-default)")
    parser.add_argument("--explore", action="store_true", help="print every label's numbers")
    parser.add_argument("--markdown", action="store_true", help="end with the README's table")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="lessons checked at once (default: one per core)")  # fmt: skip
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = targets()
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [t for t in chosen if t.name in wanted]
    failures, rows, begun = 0, [], time.perf_counter()
    print(f"{'lesson':22s} {'claim':64s} {'validation':>10s} {'test':>6s}")
    if args.explore:
        for lesson in chosen:
            explore(lesson, seeds)
    for lesson_rows, seconds in checked(chosen, seeds, min(args.jobs, len(chosen))):
        for row in lesson_rows:
            rows.append(row)
            verdicts = ["yes" if row[s].holds else "NO" for s in SPLITS]
            failures += "NO" in verdicts
            print(
                f"{row['lesson'][:22]:22s} {row['claim'][:64]:64s} {verdicts[0]:>10s} "
                f"{verdicts[1]:>6s}   val: {row['validation']} | test: {row['test']}"
            )
        print(f"{'':22s} ({seconds:.0f} s)")
    if args.markdown:
        print("\n" + markdown(rows))
    print(f"\n{len(rows)} claims of {len(chosen)} lessons in {time.perf_counter() - begun:.0f} s")
    print(f"{failures} claim(s) do not hold" if failures else "every claim holds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
