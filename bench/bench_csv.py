"""
Benchmark ``python -m kit summary FILE.csv`` against the same monthly summary in DuckDB SQL over the CSV.

Issue 8: on the CSV export of 1M customers × 36 months × up to 5 products (about 20M
rows, 0.7 GB) the kit must take at most half of DuckDB's wall time, with peak memory under
4 GiB; on 5M customers, under 12 GiB; and give the same numbers.

What it does:

1. generates (seeded, cached under ``bench/data/``) the Parquet snapshot file of
   ``bench_summary.py`` and writes the same rows as CSV (``customer_id,month,product,mrr``:
   ``C0000001,2022-01-01,Core,1234.56``), the way a warehouse or billing export writes
   them (pyarrow's CSV writer: a header, every string quoted, ``\\n`` line ends);
2. runs ``python -m kit summary FILE.csv --period month --output kit.csv`` in a subprocess;
3. runs ``bench_summary.py``'s SQL with ``read_csv`` (every column typed by DuckDB's own
   sniffer: ``month`` a DATE, ``mrr`` a DECIMAL) in a DuckDB subprocess;
4. repeats 2 and 3 alternately (``--repeat``), measuring each subprocess's wall time and
   peak RSS (``os.wait4``); checks the two summaries are equal; exits 1 if they differ,
   2 if a run failed, 3 with ``--require-target`` if the kit misses its target.

Run ``python bench/bench_csv.py`` (1M customers), or ``--customers 20000`` for a smoke run.
See ``bench/README.md`` for the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GIB = 1024**3


def _summary_bench():
    """``bench_summary.py`` as a module (its generator, SQL, measuring and comparing)."""
    if "bench_summary" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_summary", HERE / "bench_summary.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_summary"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_summary"]


bench = _summary_bench()

#: bench_summary's SQL, reading the CSV (DuckDB sniffs the types: DATE and DECIMAL).
SQL = bench.SQL.replace("read_parquet('{file}')", "read_csv('{file}')")


def ensure_csv(customers: int, months: int, products: int, seed: int, data: Path = DATA) -> tuple[Path, dict]:
    """Return the cached CSV for these parameters, generating it (from the Parquet file) if needed."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    parquet, meta = bench.ensure_data(customers, months, products, seed, data)
    path = parquet.with_suffix(".csv")
    if path.is_file():
        return path, meta
    print(f"writing {path.name} ...", flush=True)
    started = time.perf_counter()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    source = pq.ParquetFile(parquet)
    with pacsv.CSVWriter(tmp, source.schema_arrow) as writer:
        for group in range(source.metadata.num_row_groups):
            writer.write_table(source.read_row_group(group))
    os.replace(tmp, path)
    print(f"  {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s", flush=True)
    return path, meta


def main(argv: list[str] | None = None) -> int:
    parser = bench.common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--max-gib", type=float, default=4.0, help="the kit's memory target for --require-target (4)")
    parser.add_argument("--require-target", action="store_true",
                        help="exit 3 when the kit takes more than half of DuckDB's time "
                             "or --max-gib or more")  # fmt: skip
    args = parser.parse_args(argv)

    path, meta = ensure_csv(args.customers, args.months, args.products, args.seed, args.data_dir)
    out_dir = args.data_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    kit_out, duck_out = out_dir / f"{path.stem}.csv.kit.csv", out_dir / f"{path.stem}.csv.duckdb.csv"

    def duckdb_side():
        sql = SQL if args.threads is None else f"SET threads = {args.threads};\n" + SQL
        return bench.measure("duckdb", [sys.executable, "-c", bench.DUCKDB_SCRIPT, str(path), str(duck_out)], stdin=sql)

    return bench.compare(args, path, meta, kit_out, duck_out, duckdb_side, max_gib=args.max_gib,
                         extra={"bytes": path.stat().st_size})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
