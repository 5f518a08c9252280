"""
What a report costs beyond the fixed price of running any notebook.

Times, in the same run and on the same machine:

* ``make report``: the sample report end to end (``python -m kit report``: papermill,
  the notebook's work, nbconvert export, atomic publish), with the venv already made;
* the fixed cost: a papermill run of a trivial three-cell notebook from the command line,
  plus its HTML export with ``jupyter nbconvert``.

Each is run ``--repeat`` times (default 3) and the median is reported. The target
(issue 4) is a report costing at most 3× the fixed cost; the script prints the ratio and
exits with status 1 when the target is missed.

Usage: ``python bench/bench_report.py [--repeat N]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 3.0

TRIVIAL = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "params", "metadata": {"tags": ["parameters"]},
         "outputs": [], "source": ["x = 1"]},
        {"cell_type": "code", "execution_count": None, "id": "work", "metadata": {}, "outputs": [],
         "source": ["y = x + 1"]},
        {"cell_type": "code", "execution_count": None, "id": "show", "metadata": {}, "outputs": [],
         "source": ["print(y)"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}  # fmt: skip


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    bindir = Path(python).parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        notebook = work / "trivial.ipynb"
        notebook.write_text(json.dumps(TRIVIAL), encoding="utf-8")
        report_cmd = [python, "-m", "kit", "report", "--output-dir", str(work / "reports")]
        fixed_cmds = [
            [str(bindir / "papermill"), "--log-level", "WARNING", str(notebook), str(work / "out.ipynb"),
             "-p", "x", "2", "-k", "python3"],
            [str(bindir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(work / "out.ipynb"),
             "--output-dir", str(work)],
        ]  # fmt: skip
        report_times, fixed_times = [], []
        for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits both alike
            fixed_times.append(sum(_timed(cmd, ROOT) for cmd in fixed_cmds))
            report_times.append(_timed(report_cmd, ROOT))
        size = (work / "reports" / "expansion-sample-month.html").stat().st_size
    report, fixed = statistics.median(report_times), statistics.median(fixed_times)
    ratio = report / fixed
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'run':<52} {'median s':>9}  all runs")
    print(
        f"{'make report (python -m kit report, sample data)':<52} {report:9.2f}  "
        + " ".join(f"{t:.2f}" for t in report_times)
    )
    print(
        f"{'trivial 3-cell notebook: papermill CLI + nbconvert':<52} {fixed:9.2f}  "
        + " ".join(f"{t:.2f}" for t in fixed_times)
    )
    print(f"ratio {ratio:.2f} (target at most {TARGET:.1f}); report HTML {size / 1e6:.2f} MB")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
