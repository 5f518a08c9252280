"""
Benchmark ``python -m kit summary`` against the same monthly summary in DuckDB SQL.

Issue 3: on 1M customers × 36 months × up to 5 products (about 20M snapshot rows) the kit
must take at most half of DuckDB's wall time, with peak memory under 4 GiB, and give the
same numbers.

What it does:

1. generates (seeded, cached under ``bench/data/``) a Parquet file of monthly MRR
   snapshots, ``customer_id, month, product, mrr``, shaped like a warehouse export:
   string ids (``C0000001``), product names, ``month`` a DATE (first of the month),
   ``mrr`` a DECIMAL(18,2) (stored as INT64, as Spark and DuckDB write it); the rows of
   one month together, in customer order. Customers sign up (a quarter are already
   customers in the first month), churn, come back after a gap, add seats (upsell), add
   products (cross-sell), shrink or drop a product (contraction); a few customer ·
   product · months come as two rows (two subscriptions of one product);
2. runs ``python -m kit summary FILE --period month --output kit.csv`` in a subprocess;
3. runs the equivalent SQL (DESIGN.md's movements, customer netting, previous calendar
   month, new vs reactivation, ``cross_sell = D·X // (U+X)``) in a DuckDB subprocess;
4. repeats 2 and 3 alternately (``--repeat``, default 3), measuring each subprocess's wall
   time and peak RSS (``os.wait4``); checks the two summaries are equal (money in cents,
   customer counts); prints the figures and the ratio of the best wall times; exits 1 if
   the summaries differ, 2 if a run failed, 3 with ``--require-target`` if the kit misses
   its target.

Run ``make bench`` (1M customers; generating the file takes about 10 s the first time),
or ``python bench/bench_summary.py --customers 20000`` for a quick smoke run. See
``bench/README.md`` for the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PRODUCTS = ("Core", "Analytics", "Automation", "Support Plus", "API Access")
#: Price of one seat per month, in cents (low, high), and seats drawn per product.
PRICES = {"Core": (2_900, 9_900), "Analytics": (1_500, 4_900), "Automation": (1_000, 3_900),
          "Support Plus": (9_900, 49_900), "API Access": (4_900, 19_900)}  # fmt: skip
FIRST_MONTH = (2022, 1)
#: Version of the generated files (part of the cache name): bump it when the generator changes.
FORMAT = 2
MONEY = ["mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn", "mrr_end"]
COUNTS = ["customers_start", "customers_end", "customers_new", "customers_reactivated", "customers_expanded",
          "customers_contracted", "customers_churned"]  # fmt: skip
GIB = 1024**3


# --- the data --------------------------------------------------------------------------


def data_path(customers: int, months: int, products: int, seed: int, data: Path = DATA) -> Path:
    """Return the cache path of a generated file."""
    return data / f"snapshots_v{FORMAT}_c{customers}_m{months}_p{products}_s{seed}.parquet"


def generate(path: Path, *, customers: int, months: int, products: int, seed: int) -> dict:
    """
    Write a seeded snapshot file to ``path`` (atomically) and return its row count.

    The simulation runs month by month over a dense customer × product array of cents.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = PRODUCTS[:products]
    n, p = customers, len(names)
    ids = pa.array([f"C{i:07d}" for i in range(1, n + 1)], type=pa.string())
    product_names = pa.array(list(names), type=pa.string())
    low = np.array([PRICES[x][0] for x in names], dtype=np.int64)
    high = np.array([PRICES[x][1] for x in names], dtype=np.int64)
    # customer traits: size (seats), signup month; a quarter are customers before the file starts
    size = np.minimum(rng.lognormal(1.2, 1.0, n), 400).astype(np.int64) + 1
    signup = np.where(rng.random(n) < 0.25, 0, rng.integers(1, months, n))
    churn_p = np.where(size > 20, 0.008, np.where(size > 5, 0.015, 0.03))
    mrr = np.zeros((n, p), dtype=np.int64)
    churned = np.zeros(n, dtype=bool)

    def price(count, columns):
        unit = rng.integers(low[columns], high[columns] + 1)
        seats = np.maximum((size[count] * rng.uniform(0.3, 1.0, len(count))).astype(np.int64), 1)
        return unit * seats

    def start_with_core_or_other(who):
        first = np.where(rng.random(len(who)) < 0.8, 0, rng.integers(0, p, len(who)))
        mrr[who, first] = price(who, first)
        if p > 1:  # some start with two products
            second = rng.random(len(who)) < 0.10
            extra = (first[second] + rng.integers(1, p, second.sum())) % p
            mrr[who[second], extra] = price(who[second], extra)

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    schema = pa.schema([("customer_id", pa.string()), ("month", pa.date32()), ("product", pa.string()),
                        ("mrr", pa.decimal128(18, 2))])  # fmt: skip
    rows = 0
    # decimals of up to 18 digits stored as INT64, as Spark, DuckDB and warehouse exports write them
    with pq.ParquetWriter(tmp, schema, store_decimal_as_integer=True) as writer:
        for m in range(months):
            active = mrr.sum(axis=1) > 0
            if m > 0:
                # churn, then returns after a gap, then changes of those staying
                leave = active & (rng.random(n) < churn_p)
                mrr[leave] = 0
                churned |= leave
                back = np.flatnonzero(churned & ~leave & (rng.random(n) < 0.04))
                churned[back] = False
                start_with_core_or_other(back)
                held = (mrr > 0) & ~leave[:, None] & active[:, None]
                draw = rng.random((n, p))
                up = held & (draw < 0.03)
                down = held & (draw >= 0.03) & (draw < 0.045)
                drop = held & (draw >= 0.045) & (draw < 0.055) & (held.sum(axis=1) > 1)[:, None]
                mrr[up] = np.rint(mrr[up] * rng.uniform(1.1, 1.8, up.sum())).astype(np.int64)
                mrr[down] = np.maximum(np.rint(mrr[down] * rng.uniform(0.5, 0.9, down.sum())), 1).astype(np.int64)
                mrr[drop] = 0
                stay = np.flatnonzero(active & ~leave)
                adders = stay[rng.random(len(stay)) < 0.025]
                add = rng.integers(0, p, len(adders))
                fresh = mrr[adders, add] == 0
                mrr[adders[fresh], add[fresh]] = price(adders[fresh], add[fresh])
                churned |= active & (mrr.sum(axis=1) == 0)  # dropped their last product
            start_with_core_or_other(np.flatnonzero((signup == m) & ~active & ~churned))
            c, k = np.nonzero(mrr)
            v = mrr[c, k]
            # a few keys held as two subscriptions of one product: two rows that add up
            split = (rng.random(len(v)) < 0.002) & (v >= 2)
            part = (v[split] * rng.uniform(0.2, 0.8, split.sum())).astype(np.int64).clip(1)
            c = np.concatenate([c, c[split]])
            k = np.concatenate([k, k[split]])
            v = v.copy()
            v[split] -= part
            v = np.concatenate([v, part])
            order = np.lexsort((k, c))
            c, k, v = c[order], k[order], v[order]
            year, month0 = divmod(FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1 + m, 12)
            day = np.datetime64(f"{year:04d}-{month0 + 1:02d}-01").astype("datetime64[D]").astype(np.int32)
            writer.write_table(pa.table({
                "customer_id": ids.take(pa.array(c)),
                "month": pa.array(np.full(len(c), day, dtype=np.int32)).cast(pa.date32()),
                "product": product_names.take(pa.array(k)),
                "mrr": _decimal_cents(v),
            }, schema=schema))  # fmt: skip
            rows += len(c)
    os.replace(tmp, path)
    meta = {"rows": rows, "customers": customers, "months": months, "products": products, "seed": seed}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return meta


def _decimal_cents(cents: np.ndarray):
    """DECIMAL(18,2) Arrow array of integer cents, built from the 128-bit two's complement words (exact)."""
    import pyarrow as pa

    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def ensure_data(customers: int, months: int, products: int, seed: int, data: Path = DATA) -> tuple[Path, dict]:
    """Return the cached file for these parameters, generating it if needed."""
    path = data_path(customers, months, products, seed, data)
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        return path, json.loads(meta_path.read_text())
    data.mkdir(parents=True, exist_ok=True)
    print(f"generating {path.name} ...", flush=True)
    started = time.perf_counter()
    meta = generate(path, customers=customers, months=months, products=products, seed=seed)
    print(f"  {meta['rows']:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return path, meta


# --- the DuckDB side -----------------------------------------------------------------------

#: The monthly movements and summary of DESIGN.md (snapshots, customer netting), in SQL.
#: ``{file}`` is the Parquet file. Months are ordinals (year·12 + month − 1); the first month
#: of the file is the baseline; every later month up to the last is a row. Window functions
#: over each customer's months (no self-joins), the customer steps materialised once: the
#: fastest of the formulations tried (self-joins took twice as long).
SQL = """
WITH ledger AS (            -- one row per customer · product · month in cents; rows of one key added
    SELECT customer_id AS c, product AS p, year(month) * 12 + month(month) - 1 AS m,
           sum(CAST(mrr * 100 AS BIGINT)) AS v
    FROM read_parquet('{file}')
    GROUP BY ALL
    HAVING sum(CAST(mrr * 100 AS BIGINT)) > 0
),
window_ AS (                -- the data window: first to last month of the file
    SELECT min(year(month) * 12 + month(month) - 1) AS lo, max(year(month) * 12 + month(month) - 1) AS hi
    FROM read_parquet('{file}')
),
product_steps AS (          -- s_p: the product's cents at the end of the previous calendar month
    SELECT c, m, v,
           CASE WHEN lag(m) OVER w = m - 1 THEN lag(v) OVER w ELSE 0 END AS s_p
    FROM ledger
    WINDOW w AS (PARTITION BY c, p ORDER BY m)
),
customer_month AS (         -- E, and U (more on products held) and X (products not held) of each month
    SELECT c, m, sum(v) AS e,
           sum(CASE WHEN s_p > 0 AND v > s_p THEN v - s_p ELSE 0 END) AS u,
           sum(CASE WHEN s_p = 0 THEN v ELSE 0 END) AS x
    FROM product_steps GROUP BY c, m
),
steps AS MATERIALIZED (     -- S: the customer's cents at the end of the previous calendar month
    SELECT c, m, e, u, x,
           CASE WHEN lag(m) OVER w = m - 1 THEN lag(e) OVER w ELSE 0 END AS s,
           lag(m) OVER w AS previous_m,  -- NULL: never active before (new, not reactivation)
           lead(m) OVER w AS next_m      -- not the next month: churn then
    FROM customer_month
    WINDOW w AS (PARTITION BY c ORDER BY m)
),
moves AS (                  -- customer netting; the first month of the window is the baseline
    SELECT m AS k, s, e,
           CASE WHEN s = 0 AND previous_m IS NULL THEN e ELSE 0 END AS new,
           CASE WHEN s = 0 AND previous_m IS NOT NULL THEN e ELSE 0 END AS reactivation,
           CASE WHEN s > 0 AND e > s THEN e - s ELSE 0 END AS expansion,
           CASE WHEN s > 0 AND e > s
                THEN CAST((CAST(e - s AS HUGEINT) * x) // (u + x) AS BIGINT) ELSE 0 END AS cross_sell,
           CASE WHEN s > 0 AND e < s THEN s - e ELSE 0 END AS contraction,
           0 AS churn
    FROM steps WHERE m > (SELECT lo FROM window_)
    UNION ALL
    SELECT m + 1 AS k, e AS s, 0 AS e, 0, 0, 0, 0, 0, e AS churn
    FROM steps WHERE (next_m IS NULL OR next_m > m + 1) AND m < (SELECT hi FROM window_)
),
periods AS (SELECT range AS k FROM range((SELECT lo + 1 FROM window_), (SELECT hi + 1 FROM window_)))
SELECT printf('%04d-%02d', periods.k // 12, periods.k % 12 + 1) AS period,
       coalesce(sum(s), 0) AS mrr_start,
       coalesce(sum(new), 0) AS new,
       coalesce(sum(reactivation), 0) AS reactivation,
       coalesce(sum(expansion - cross_sell), 0) AS upsell,
       coalesce(sum(cross_sell), 0) AS cross_sell,
       coalesce(sum(expansion), 0) AS expansion,
       coalesce(sum(contraction), 0) AS contraction,
       coalesce(sum(churn), 0) AS churn,
       coalesce(sum(e), 0) AS mrr_end,
       count(*) FILTER (WHERE s > 0) AS customers_start,
       count(*) FILTER (WHERE e > 0) AS customers_end,
       count(*) FILTER (WHERE new > 0) AS customers_new,
       count(*) FILTER (WHERE reactivation > 0) AS customers_reactivated,
       count(*) FILTER (WHERE expansion > 0) AS customers_expanded,
       count(*) FILTER (WHERE contraction > 0) AS customers_contracted,
       count(*) FILTER (WHERE churn > 0) AS customers_churned
FROM periods LEFT JOIN moves ON moves.k = periods.k
GROUP BY periods.k
ORDER BY periods.k
"""

DUCKDB_SCRIPT = """
import csv, sys
import duckdb
file, out, sql = sys.argv[1], sys.argv[2], sys.stdin.read()
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
cursor = con.execute(sql.format(file=file.replace("'", "''")))
columns = [d[0] for d in cursor.description]
rows = cursor.fetchall()
with open(out, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(columns)
    writer.writerows(rows)
"""


# --- running and measuring -----------------------------------------------------------------


@dataclass
class Run:
    """Wall time and peak resident memory of one subprocess."""

    name: str
    wall: float
    peak_rss: int  # bytes
    status: int
    stderr: str


def measure(name: str, command: list[str], *, stdin: str | None = None, cwd: Path = ROOT) -> Run:
    """Run ``command``; return its wall time and its own peak RSS (``os.wait4`` of that child)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(name, wall, usage.ru_maxrss * 1024, process.returncode, stderr)


def run_kit(path: Path, out: Path) -> Run:
    """Run the kit's CLI on ``path``."""
    command = [sys.executable, "-m", "kit", "summary", str(path), "--period", "month", "--output", str(out)]
    return measure("kit", command)


def run_duckdb(path: Path, out: Path, threads: int | None = None) -> Run:
    """Run the SQL in a fresh DuckDB process."""
    sql = SQL if threads is None else f"SET threads = {threads};\n" + SQL
    return measure("duckdb", [sys.executable, "-c", DUCKDB_SCRIPT, str(path), str(out)], stdin=sql)


# --- comparing ------------------------------------------------------------------------------


def _cents(text: str) -> int:
    """Integer cents of a money cell written as ``123.45`` (kit) or an integer of cents (DuckDB)."""
    sign = -1 if text.startswith("-") else 1
    whole, _, part = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int((part + "00")[:2]))


def read_summary(path: Path, *, money_in_cents: bool) -> dict[str, dict[str, int]]:
    """Read a summary CSV into ``{period: {column: int}}`` (money in cents, counts)."""
    out = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            values = {c: (int(row[c]) if money_in_cents else _cents(row[c])) for c in MONEY}
            values.update({c: int(row[c]) for c in COUNTS})
            out[row["period"]] = values
    return out


def differences(kit: dict, duck: dict) -> list[str]:
    """Return the cells where the two summaries differ (empty when equal)."""
    problems = []
    if list(kit) != list(duck):
        problems.append(f"periods differ: kit {list(kit)[:3]}… ({len(kit)}), duckdb {list(duck)[:3]}… ({len(duck)})")
    for period in kit.keys() & duck.keys():
        for column in [*MONEY, *COUNTS]:
            if kit[period][column] != duck[period][column]:
                problems.append(f"{period} {column}: kit {kit[period][column]}, duckdb {duck[period][column]}")
    return problems


# --- main -------------------------------------------------------------------------------------


def machine() -> str:
    """One line about the machine and the libraries the figures depend on."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = "? GiB"
    libraries = []
    for name in ("numpy", "pandas", "pyarrow", "duckdb"):
        try:
            libraries.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            libraries.append(f"{name} -")
    return f"{cpu}, {os.cpu_count()} CPUs, {memory}; Python {platform.python_version()}, {', '.join(libraries)}"


def common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options both benchmarks take: the data set's size and seed, the runs, the output."""
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--products", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side, alternating (default 3); the best wall time is compared")  # fmt: skip
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--only", choices=["kit", "duckdb"], help="run one side only (no comparison)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="where generated files are cached (bench/data)")
    return parser


def compare(
    args,
    path: Path,
    meta: dict,
    kit_out: Path,
    duck_out: Path,
    duckdb_side,
    *,
    max_gib: float = 4.0,
    extra: dict | None = None,
) -> int:
    """
    Run the kit (``run_kit``) and DuckDB (``duckdb_side()``) alternately ``args.repeat`` times,
    print best, median and peak memory, compare the two summaries, write ``--json``.

    Returns the exit status: 0, 1 when the summaries differ, 2 when a side failed, 3 when
    ``--require-target`` and the kit is over half of DuckDB's time or ``max_gib``.
    """
    runs: dict[str, list[Run]] = {"kit": [], "duckdb": []}
    for _ in range(args.repeat):
        for side in ("kit", "duckdb"):
            if args.only and side != args.only:
                continue
            run = run_kit(path, kit_out) if side == "kit" else duckdb_side()
            if run.status != 0:
                print(f"{side} failed (exit {run.status}):\n{run.stderr}", file=sys.stderr)
                return 2
            runs[side].append(run)

    best = {side: min(r, key=lambda x: x.wall) for side, r in runs.items() if r}
    median = {side: statistics.median(x.wall for x in r) for side, r in runs.items() if r}
    peak = {side: max(x.peak_rss for x in r) for side, r in runs.items() if r}
    print(f"machine: {machine()}")
    size = f"{path.stat().st_size / 1e6:,.0f} MB, " if path.suffix == ".csv" else ""
    print(f"data: {path.name}: {meta['rows']:,} rows, {size}{args.customers:,} customers, {args.months} months, "
          f"{args.products} products")  # fmt: skip
    print(f"{'':8} {'best (s)':>9} {'median (s)':>11} {'peak RSS (GiB)':>15}   runs (s)")
    for side, run in best.items():
        walls = ", ".join(f"{x.wall:.2f}" for x in runs[side])
        print(f"{side:8} {run.wall:9.2f} {median[side]:11.2f} {peak[side] / GIB:15.2f}   {walls}")
    figures = {"rows": meta["rows"], "customers": args.customers, "months": args.months, "products": args.products,
               **(extra or {}),
               **{f"{s}_wall_s": round(r.wall, 3) for s, r in best.items()},
               **{f"{s}_median_wall_s": round(v, 3) for s, v in median.items()},
               **{f"{s}_runs_s": [round(x.wall, 3) for x in r] for s, r in runs.items() if r},
               **{f"{s}_peak_rss_gib": round(v / GIB, 3) for s, v in peak.items()}}  # fmt: skip
    status = 0
    if len(best) == 2:
        ratio = best["kit"].wall / best["duckdb"].wall
        figures["ratio"] = round(ratio, 3)
        figures["median_ratio"] = round(median["kit"] / median["duckdb"], 3)
        kit_summary = read_summary(kit_out, money_in_cents=False)
        duck_summary = read_summary(duck_out, money_in_cents=True)
        problems = differences(kit_summary, duck_summary)
        figures["equal"] = not problems
        print(f"kit / duckdb wall time: {ratio:.2f} best, {figures['median_ratio']:.2f} median (target ≤ 0.50); "
              f"kit peak {peak['kit'] / GIB:.2f} GiB (target < {max_gib:g} GiB)")  # fmt: skip
        if problems:
            print(f"SUMMARIES DIFFER in {len(problems)} cells:", *problems[:20], sep="\n  ")
            status = 1
        else:
            print(f"summaries equal: {len(kit_summary)} periods, money in cents and customer counts")
        if status == 0 and args.require_target and (ratio > 0.5 or peak["kit"] >= max_gib * GIB):
            status = 3
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--require-target", action="store_true",
                        help="exit 3 when the kit takes more than half of DuckDB's time or 4 GiB or more")  # fmt: skip
    args = parser.parse_args(argv)

    path, meta = ensure_data(args.customers, args.months, args.products, args.seed, args.data_dir)
    out_dir = args.data_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    kit_out, duck_out = out_dir / f"{path.stem}.kit.csv", out_dir / f"{path.stem}.duckdb.csv"
    return compare(args, path, meta, kit_out, duck_out, lambda: run_duckdb(path, duck_out, args.threads))


if __name__ == "__main__":
    sys.exit(main())
