"""Server memory for one upload: what the sidebar's upload handler adds to the web server at
its peak, and what it leaves behind, for a CSV of about 47 MB (a sign-language-MNIST-style
file of 784 pixel columns). This checkout's handler against a baseline revision's, each in
a fresh process that has already imported what a running server has, side by side.

    python bench/upload_memory.py [--mb 47] [--baseline 8b12a3d] [--repeats 1]

The peak is the kernel's high-water mark of resident memory (reset just before the handler
runs); "retained" is resident memory after it, less before, once garbage is collected;
"held by the app" is what remains of that once glibc returns the freed memory it keeps for
reuse (malloc_trim). The upload itself (Streamlit's UploadedFile, in memory before the
handler runs) is in none of them. Linux only (/proc/self).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "8b12a3d"  # the last revision that copied the upload and parsed it from memory


def write_csv(path: Path, megabytes: float) -> int:
    """label,pixel1..pixel784 rows of random pixels until the file holds `megabytes`."""
    import numpy as np

    rng = np.random.default_rng(0)
    with path.open("w") as out:
        out.write("label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n")
        while out.tell() < megabytes * 2**20:
            rows = rng.integers(0, 256, (500, 785))
            rows[:, 0] %= 24
            out.write("\n".join(",".join(map(str, row)) for row in rows.tolist()) + "\n")
    return path.stat().st_size


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def side(csv: Path) -> dict:
    """In this process: the server's imports, an upload as Streamlit holds it, then the
    handler, measured."""
    import ctypes
    import gc

    import pandas  # noqa: F401 - loaded in a running server already
    import sklearn.model_selection  # noqa: F401
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    from ui import sidebar

    record = UploadedFileRec("id", csv.name, "text/csv", csv.read_bytes())
    upload = UploadedFile(record, None)
    taken: dict = {}
    sidebar.S = {"cmp_upload": upload}
    sidebar.max_upload_mb = lambda: 50
    sidebar._use_own = lambda name, title: taken.update(name=name, title=title)
    gc.collect()
    before = rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts here
    sidebar._take_upload()
    peak = rss_mb("VmHWM")
    gc.collect()
    after = rss_mb("VmRSS")
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what glibc keeps of freed memory, for reuse
    trimmed = rss_mb("VmRSS")
    if "own_data_error" in sidebar.S or not taken:
        raise RuntimeError(f"the upload was refused: {sidebar.S.get('own_data_error')}")
    return {"peak": peak - before, "retained": after - before, "held": trimmed - before,
            "server": before}  # fmt: skip


def measure(root: Path, csv: Path) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        from bench._harness import run_side

        return run_side(
            Path(__file__),
            "--side",
            str(csv),
            env={"PYTHONPATH": str(root), "OVERFITTING_LAB_CACHE": cache},
            timeout=1800,
        )


def checkout(revision: str, folder: Path) -> Path:
    """The project as it was at `revision`, extracted from git (no working tree touched)."""
    import io
    import tarfile

    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=47)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench._harness import alternate, header, median

    header(f"server memory for one {args.mb:g} MB CSV upload (the sidebar's handler)")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sign_mnist_upload.csv"
        size = write_csv(csv, args.mb)
        roots = {args.baseline: checkout(args.baseline, Path(tmp) / "baseline"), "this": ROOT}
        results: dict[str, list[dict]] = {name: [] for name in roots}
        for order in alternate(list(roots), args.repeats):
            for name in order:
                results[name].append(measure(roots[name], csv))
    print(f"# upload: {size / 2**20:.1f} MB, label + 784 pixel columns; a server of about "
          f"{median([r['server'] for r in results['this']]):.0f} MB before it")  # fmt: skip
    print(f"{'handler':>12} {'peak MB':>9} {'retained MB':>12} {'held by the app MB':>19}")
    summary = {}
    for name, rows in results.items():
        summary[name] = {k: median([r[k] for r in rows]) for k in ("peak", "retained", "held")}
        row = summary[name]
        print(f"{name:>12} {row['peak']:9.0f} {row['retained']:12.0f} {row['held']:19.0f}")
    base, this = summary[args.baseline], summary["this"]
    print(f"this / {args.baseline}: " + ", ".join(
        f"{k} {this[k] / base[k]:.2f}x" for k in ("peak", "retained", "held")))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
