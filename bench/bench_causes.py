"""
Benchmark ``python -m kit causes`` beside ``python -m kit summary`` on snapshots with quantities (issue 11).

It takes the Parquet file of ``bench_summary.py`` (1M customers × 36 months × 5 products, about
23M rows; generated and cached under ``bench/data/`` on first use) and writes beside it a copy with
two more columns: ``quantity`` (an INT64 count: the MRR in units of $10.00, at least 1, so a change
of MRR is mostly seats and the rest price) and ``plan`` (one of two tiers per product, the higher for
the larger half of the keys). Then it runs, alternately, in subprocesses:

* ``kit summary`` on the file without quantities (the path with no quantity or plan: its cost);
* ``kit summary`` on the file with quantities and plans (the ledger carries them; the summary ignores them);
* ``kit causes`` on the file with quantities and plans;

measuring each one's wall time and peak RSS (``os.wait4``), and prints best and median. It checks the
cause bridge against the summary of product netting (``mrr_start, new, reactivation, churn, mrr_end,
cross_sell`` equal in every period). Run ``python bench/bench_causes.py`` (``--customers 20000`` for a
smoke run); the figures are in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_summary as base  # noqa: E402  (the data set and the measuring of bench_summary.py)


def with_quantities(path: Path) -> Path:
    """Write (once) a copy of ``path`` with ``quantity`` and ``plan`` columns; return its path."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = path.with_name(path.stem + "_q.parquet")
    if out.exists():
        return out
    table = pq.read_table(path)
    cents = pc.cast(pc.multiply(table["mrr"], 100), pa.int64())
    quantity = np.maximum(cents.to_numpy() // 1000, 1)
    product = table["product"].to_numpy(zero_copy_only=False)
    plan = np.where(quantity >= np.median(quantity), np.char.add(product.astype(str), " Pro"),
                    np.char.add(product.astype(str), " Team"))  # fmt: skip
    table = table.append_column("quantity", pa.array(quantity, pa.int64()))
    table = table.append_column("plan", pa.array(plan.tolist(), pa.string()).dictionary_encode())
    pq.write_table(table, out)
    return out


def run(name: str, command: str, path: Path, out: Path, cwd: Path = base.ROOT) -> base.Run:
    extra = ["--netting", "product"] if command == "summary" else []
    argv = [sys.executable, "-m", "kit", command, str(path), "--period", "month", *extra, "--output", str(out)]
    return base.measure(name, argv, cwd=cwd)


def read(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["period"]: row for row in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=base.DATA)
    parser.add_argument("--base", type=Path, help="also run kit summary (no quantities) in this older checkout")
    args = parser.parse_args(argv)
    plain, facts = base.ensure_data(args.customers, 36, 5, 3, args.data_dir)
    rich = with_quantities(plain)
    print(base.machine())
    print(f"data: {plain.name} ({facts.get('rows', '?'):,} rows) and {rich.name} (+ quantity, plan)")
    sides = [("summary, no quantities", "summary", plain), ("summary, quantities", "summary", rich),
             ("causes, quantities", "causes", rich)]  # fmt: skip
    if args.base:
        sides.insert(0, ("summary, no q., --base", "summary", plain))
    runs: dict[str, list[base.Run]] = {name: [] for name, _, _ in sides}
    outputs = {}
    for _ in range(args.repeat):
        for name, command, path in sides:
            out = args.data_dir / f"bench_{name.split(',')[0]}_{len(outputs)}_{path.stem}.csv"
            cwd = args.base if name.endswith("--base") else base.ROOT
            result = run(name, command, path, out, cwd)
            if result.status != 0:
                print(f"{name} failed:\n{result.stderr}")
                return 2
            runs[name].append(result)
            outputs[name] = out
    print(f"{'':24}  best (s)  median (s)  peak RSS (GiB)   runs (s)")
    for name, results in runs.items():
        walls = [r.wall for r in results]
        peak = max(r.peak_rss for r in results) / base.GIB
        print(f"{name:24}  {min(walls):8.2f}  {statistics.median(walls):10.2f}  {peak:14.2f}   "
              + ", ".join(f"{w:.2f}" for w in walls))  # fmt: skip
    summary, causes = read(outputs["summary, quantities"]), read(outputs["causes, quantities"])
    wrong = [(p, c) for p in summary for c in ("mrr_start", "new", "reactivation", "churn", "mrr_end", "cross_sell")
             if summary[p][c] != causes[p][c]]  # fmt: skip
    print("causes equal the product-netting summary in every period" if not wrong else f"DIFFERENT: {wrong[:5]}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
