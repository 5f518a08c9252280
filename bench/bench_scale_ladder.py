"""
The scale ladder (issue 13): ``kit summary`` at 100k, 1M, 5M and 20M customers × 36 months, on four paths.

Prints figures; not a timed test. For each size (the seeded snapshot Parquet file of
``bench_summary.py``, generated once into ``bench/data/``) and each path:

* ``in-memory``: ``python -m kit summary FILE --period month``;
* ``memory-limit``: the same with ``--memory-limit 2GiB`` (``--limit`` to change it);
* ``jobs-2``: ``--jobs 2`` (the chunks, one per process, in a pool of two);
* ``spark``: ``--engine spark --spark-master local[2]`` (PySpark and Java needed; else skipped);
* ``report`` and ``report-memory-limit`` (asked with ``--paths``, not run by default): the whole HTML
  report, ``python -m kit report FILE``, loaded whole and with ``--memory-limit``; their HTML must be
  the same but for the data-quality table's "chunks" row and the cells' ids (the charts included).

Each run is a subprocess; its wall time, and its peak memory as the largest sum of the resident
memory of its whole process tree (the pool's processes, Spark's JVM and Python workers included),
sampled every 0.1 s from ``/proc``. A run whose tree passes ``--max-gib`` (default 22 of this
machine's 24 GiB) is stopped and reported as not fitting; so is one past ``--max-seconds``. Every
completed run's CSV must equal the first completed run's of its size (exit 1 otherwise).

    .venv/bin/python bench/bench_scale_ladder.py --sizes 100000 1000000
    .venv/bin/python bench/bench_scale_ladder.py --sizes 20000000 --paths memory-limit --limit 4GiB
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_summary  # noqa: E402 - the data generator beside this script

PATHS = ("in-memory", "memory-limit", "jobs-2", "spark", "report", "report-memory-limit")
#: The paths run when ``--paths`` is not given (a report at 20M customers takes long and does not fit whole).
DEFAULT_PATHS = PATHS[:4]
SIZES = (100_000, 1_000_000, 5_000_000, 20_000_000)
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Rung:
    """One run of the ladder."""

    customers: int
    rows: int
    path: str
    wall: float | None
    peak_gib: float | None
    outcome: str  # "ok", "over memory", "over time", "failed", "skipped"
    equal: bool | None = None


def tree_rss(root: int) -> int:
    """Return the resident bytes of ``root`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError):
            pass
        todo.extend(children.get(pid, []))
    return total


def run(command: list[str], *, max_bytes: int, max_seconds: float) -> tuple[float, int, str, str]:
    """Run ``command`` in its own process group; return wall time, peak tree RSS, outcome and stderr's tail."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        peak, outcome = 0, "ok"
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            if peak > max_bytes or time.perf_counter() - started > max_seconds:
                outcome = "over memory" if peak > max_bytes else "over time"
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                break
            time.sleep(0.1)
        wall = time.perf_counter() - started
        if outcome == "ok" and process.returncode != 0:
            outcome = "failed"
        err.seek(0)
        tail = err.read().decode(errors="replace")[-600:]
    return wall, peak, outcome, tail


def command_of(path: str, data: Path, out: Path, limit: str) -> list[str]:
    """The ``kit summary`` (or ``kit report``) command of one path."""
    if path.startswith("report"):
        command = [sys.executable, "-m", "kit", "report", str(data), "--output-dir", str(out.parent),
                   "--name", out.stem]  # fmt: skip
        return command + (["--memory-limit", limit] if path == "report-memory-limit" else [])
    base = [sys.executable, "-m", "kit", "summary", str(data), "--period", "month", "--output", str(out)]
    return base + {"in-memory": [], "memory-limit": ["--memory-limit", limit], "jobs-2": ["--jobs", "2"],
                   "spark": ["--engine", "spark", "--spark-master", "local[2]"]}[path]  # fmt: skip


def _comparable(out: Path) -> bytes:
    """A summary's CSV as it is; a report's HTML without the cells' ids and the "chunks" row of its data quality."""
    if out.suffix != ".html":
        return out.read_bytes()
    import re

    text = out.read_text(encoding="utf-8")
    text = re.sub(r'id="cell-id=[^"]*"', "", text)
    return re.sub(r"<tr><td>chunks</td><td>\d+</td></tr>", "", text).encode()


def spark_available() -> bool:
    """Whether PySpark imports and Java is on the PATH."""
    import importlib.util
    import shutil

    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="customers per rung")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(DEFAULT_PATHS))
    parser.add_argument("--limit", default="2GiB", help="--memory-limit of the memory-limit path (default 2GiB)")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--max-gib", type=float, default=22.0, help="stop a run whose process tree passes this")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop a run that takes longer")
    parser.add_argument("--data-dir", type=Path, default=bench_summary.DATA)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rungs: list[Rung] = []
    equal = True
    print(f"{'customers':>11} {'rows':>12} {'path':<13} {'wall (s)':>9} {'peak (GiB)':>10}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for customers in args.sizes:
            data, meta = bench_summary.ensure_data(customers, args.months, 5, 3, args.data_dir)
            references = {}  # the first completed run's digest, for the summaries and for the reports
            for path in args.paths:
                if path == "spark" and not spark_available():
                    rung = Rung(customers, meta["rows"], path, None, None, "skipped (no PySpark or Java)")
                else:
                    out = Path(folder) / f"{customers}-{path}.{'html' if path.startswith('report') else 'csv'}"
                    limits = {"max_bytes": int(args.max_gib * 2**30), "max_seconds": args.max_seconds}
                    wall, peak, outcome, tail = run(command_of(path, data, out, args.limit), **limits)
                    rung = Rung(customers, meta["rows"], path, round(wall, 2), round(peak / 2**30, 2), outcome)
                    if outcome == "ok":
                        digest = hashlib.sha256(_comparable(out)).hexdigest()
                        kind = out.suffix
                        references.setdefault(kind, digest)
                        rung.equal = digest == references[kind]
                        equal &= rung.equal
                    elif outcome == "failed":
                        print(tail, file=sys.stderr)
                rungs.append(rung)
                wall = f"{rung.wall:9.2f}" if rung.wall is not None else f"{'':>9}"
                peak = f"{rung.peak_gib:10.2f}" if rung.peak_gib is not None else f"{'':>10}"
                what = "HTML" if path.startswith("report") else "CSV"
                same = "" if rung.equal is None else (f", same {what}" if rung.equal else f", {what} DIFFERS")
                print(f"{customers:>11,} {rung.rows:>12,} {path:<13} {wall} {peak}  {rung.outcome}{same}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rungs], indent=2))
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
