"""
The same core on Spark: customer hash buckets through ``groupBy(bucket).applyInPandas``, the results combined here.

No engine of our own: Spark reads the source (a Parquet file or folder, a CSV file, or a table the
session can see), each row gets its customer's bucket (``xxhash64(customer_id) mod n``, Spark's own
hash: any split by customer gives the same figures) and its row number in the source, and each
bucket's rows go, as one pandas frame, to a Python worker that runs exactly what
:mod:`kit.parallel` runs on a chunk: the rows converted by the Parquet reader's steps
(:func:`kit.chunks.arrow_raw`), :func:`kit.load_ledger`, :func:`kit.summarize` under every spec. A
worker returns its chunk's result (window, currency, data-quality record, summaries) as one pickled
row; the driver combines them as :func:`kit.parallel.summarize_source` does, loading again, together
with one chunk on the whole's window, the chunks measured on another (:mod:`kit.chunks`, "The
window"). So the figures are those of the in-memory path; ``tests/test_spark.py`` holds them equal.

Row numbers are the source's where Spark reads a single file in its order (its rows numbered by
Spark's partition and the position within it, counted once); for a folder of files they follow
Spark's order of the files. The kit must be importable on the executors: install its wheel on the
cluster (README, "Spark").

The bucket count is the rows over :data:`BUCKET_ROWS` (a worker holds one bucket's rows as pandas),
at least the session's default parallelism; ``memory_limit`` (per worker) makes buckets smaller when
it asks for more.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pandas as pd

from kit import chunks as _chunks
from kit import parallel as _parallel
from kit.errors import ParameterError

#: Hand the groups to the workers as Arrow (``applyInArrow``, Spark 4) where the session has it; False: pandas.
ARROW = True
#: Rows per bucket by default: a Python worker converts and loads one bucket at a time (about 1 GiB).
BUCKET_ROWS = 4_000_000
_BUCKET, _GROUP = "__kit_bucket", "__kit_group"


def session(master: str = "local[*]", *, driver_memory: str = "4g"):
    """
    Return a Spark session (the active one if there is one, else a new one on ``master``).

    Raises
    ------
    ParameterError
        PySpark is not installed (``pip install pyspark``; Java 17 or later is needed too).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParameterError("--engine spark needs PySpark: pip install pyspark (and Java 17 or later)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder
    if master.startswith("local"):  # the workers run this interpreter (with the kit and its packages)
        import os
        import sys

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
    spark = (
        builder.master(master)
        .appName("expansion-kit")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read(spark, source, *, table: str | None = None, sep: str | None = None, encoding: str = "utf-8",
         header_row: int = 0):  # fmt: skip
    """
    Return ``(frame, name, details, first_row)``: a Spark DataFrame of the source's rows, every CSV column as text.

    ``source`` is a Parquet file or folder, a CSV file, or (with ``table``) a table of the session's
    catalog. ``first_row`` is the row number of the first data row (1 for Parquet and tables; the
    line after the header for CSV).
    """
    from kit.sources import CSV_SUFFIXES

    if table and not source:
        return spark.table(table), table, {"format": "Spark table"}, 1
    text = str(source)  # a local path or a URI Spark reads (s3://, abfss://, dbfs:/): never through Path
    name = text.rstrip("/").rsplit("/", 1)[-1] or text
    local = Path(text)
    if Path(name).suffix.lower() in CSV_SUFFIXES:
        if header_row:
            raise ParameterError("--engine spark reads a CSV whose header is its first line (no --header-row)")
        from kit.sources.csv import _delimiter_name, _sniff_delimiter

        delimiter = sep
        if delimiter is None and local.is_file():
            with open(local, encoding=encoding, errors="replace", newline="") as handle:
                delimiter = _sniff_delimiter(handle.readline().lstrip("\ufeff"))
        delimiter = delimiter or ","
        options = {"header": True, "inferSchema": False, "sep": delimiter, "encoding": encoding, "multiLine": True,
                   "escape": '"'}  # fmt: skip
        frame = spark.read.options(**options).csv(text)
        return frame, name, {"format": "CSV", "delimiter": _delimiter_name(delimiter), "encoding": encoding}, 2
    frame = spark.read.parquet(text)
    return frame, name, {"format": "Parquet dataset" if local.is_dir() or not local.exists() else "Parquet"}, 1


def summarize_source(
    source,
    *,
    master: str = "local[*]",
    spark=None,
    buckets: int | None = None,
    memory_limit=None,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
    by: str | None = None,
    start=None,
    end=None,
    last: int | None = None,
    specs: list[dict] | None = None,
    **load,
):
    """
    Summarise a source on Spark; equal to ``summarize(load_ledger(source, **load), ...)``.

    Parameters
    ----------
    source : str or Path
        A Parquet file or folder, a CSV file; or None with ``table=`` (a table the session can see).
    master : str
        The Spark master of a new session (default ``local[*]``); an active session is used as it is.
    spark : SparkSession, optional
        The session to use.
    buckets : int, optional
        The bucket count (default: the rows over :data:`BUCKET_ROWS`, at least the parallelism).
    memory_limit : int or str, optional
        Memory a worker may take for one bucket: more buckets when it asks for them.
    period, netting, reactivation_window, by, start, end, last, specs
        As for :func:`kit.parallel.summarize_source`.
    **load
        :func:`kit.load_ledger`'s keywords.

    Returns
    -------
    (DataFrame or list of DataFrame, DataQuality)
    """
    from kit.metrics import combine
    from kit.periods import keep

    spark = spark or session(master)
    one = specs is None
    specs = _parallel.full_specs(specs, period=period, netting=netting, reactivation_window=reactivation_window, by=by)
    reading = {k: load.pop(k) for k in ("table", "sep", "encoding", "header_row") if k in load}
    for key in ("query", "sheet"):
        if load.pop(key, None):
            raise ParameterError(f"--engine spark reads Parquet, CSV or a table of the session, not a {key}")
    frame, name, details, first_row = read(spark, source, **{k: v for k, v in reading.items() if v is not None})
    column = _chunks.customer_column(frame.columns, load.get("mapping"))
    frame, rows = _numbered(frame, first_row)
    n = buckets or _bucket_count(spark, rows, memory_limit)
    details = {**details, "chunks": n}
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own habit

    frame = frame.withColumn(_BUCKET, F.pmod(F.xxhash64(F.col(f"`{column}`").cast("string")), F.lit(n)).cast("int"))
    csv = details["format"] == "CSV"
    results = _run(frame, F.col(_BUCKET), load, specs, name, details, csv=csv)

    def rerun(group, last_try):  # rare (a bucket measured on another window): the source is read again
        merged = frame.where(F.col(_BUCKET).isin(group))
        return _run(merged, F.lit(0), load, specs, name, details, csv=csv, last_try=last_try)[0]

    results = _parallel.settle(results, rerun, name)
    _parallel._check_currencies(name, results)
    tables = [keep(combine([r.tables[i] for r in results], by=spec["by"]), start=start, end=end, last=last,
                   grain=spec["period"]) for i, spec in enumerate(specs)]  # fmt: skip
    quality = _chunks.combine_quality([r.quality for r in results], name=name, details=details,
                                      window=results[0].window)  # fmt: skip
    return (tables[0] if one else tables), quality


def _numbered(frame, first_row: int):
    """Add each row's number in the source (Spark's partitions in order, each counted once); return it and the rows."""
    from pyspark.sql import functions as F  # noqa: N812

    frame = frame.withColumn("__kit_id", F.monotonically_increasing_id())
    frame = frame.withColumn("__kit_part", F.spark_partition_id())
    counts = dict(frame.groupBy("__kit_part").count().collect())
    offsets, at = {}, first_row
    for part in sorted(counts):
        offsets[part] = at
        at += counts[part]
    spark = frame.sparkSession
    table = spark.createDataFrame([(int(p), int(o)) for p, o in offsets.items()], "__kit_part int, __kit_offset long")
    low = (1 << 33) - 1  # monotonically_increasing_id: the partition in the upper bits, the position in the lower 33
    frame = frame.join(F.broadcast(table), "__kit_part").withColumn(
        _chunks.ROW_COLUMN, F.col("__kit_offset") + F.col("__kit_id").bitwiseAND(F.lit(low))
    )
    return frame.drop("__kit_id", "__kit_part", "__kit_offset"), int(sum(counts.values()))


def _bucket_count(spark, rows: int, memory_limit) -> int:
    parallelism = max(int(spark.sparkContext.defaultParallelism), 1)
    n = max(parallelism, math.ceil(rows / BUCKET_ROWS))
    if memory_limit:
        n = max(n, _chunks.chunk_count(rows, memory_limit))
    return n


def _run(frame, key, load, specs, name, details, *, csv: bool, last_try: bool = False) -> list:
    """
    Run the per-chunk core on each group of ``key``; return the chunks' results.

    ``applyInArrow`` (Spark 4) hands each group to the worker as Arrow record batches, as the file
    holds them; ``applyInPandas`` (older Spark, or :data:`ARROW` False) as a pandas frame, decimals
    and dates as Python objects, turned back into Arrow with the source's schema. Either way the
    worker sees the same Arrow table.
    """
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow_schema = to_arrow_schema(frame.drop(_BUCKET).schema)
    chunk = _ChunkWork(load, specs, name, details, arrow_schema, csv, last_try)
    grouped = frame.withColumn(_GROUP, key).groupBy(_GROUP)
    if ARROW and hasattr(grouped, "applyInArrow"):

        def work_arrow(table):  # a plain function of one table, as applyInArrow inspects it
            return chunk.arrow(table)

        payloads = grouped.applyInArrow(work_arrow, schema="payload binary").collect()
    else:

        def work(rows: pd.DataFrame) -> pd.DataFrame:  # a plain function of one frame, as applyInPandas inspects it
            return chunk(rows)

        payloads = grouped.applyInPandas(work, schema="payload binary").collect()
    return [pickle.loads(row.payload) for row in payloads]


class _ChunkWork:
    """The function each group runs: rows → raw table → kit.parallel.run_chunk → a pickled result."""

    def __init__(self, load, specs, name, details, arrow_schema, csv, last_try):
        self.load, self.specs, self.name, self.details = load, specs, name, details
        self.arrow_schema, self.csv, self.last_try = arrow_schema, csv, last_try

    def __call__(self, rows: pd.DataFrame) -> pd.DataFrame:
        """applyInPandas: the group as a pandas frame."""
        import pyarrow as pa

        return self._result(pa.Table.from_pandas(rows, preserve_index=False))

    def arrow(self, table):
        """applyInArrow: the group as an Arrow table."""
        import pyarrow as pa

        payload = self._result(table)["payload"].tolist()
        return pa.table({"payload": pa.array(payload, type=pa.binary())})

    def _result(self, table) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.compute as pc

        buckets = sorted(int(b) for b in pc.unique(table.column(_BUCKET)).to_pylist())
        table = table.drop_columns([_BUCKET, _GROUP])
        table = table.take(pc.sort_indices(table.column(_chunks.ROW_COLUMN)))  # the source's order
        table = table.cast(self.arrow_schema) if table.schema != self.arrow_schema else table
        if self.csv:  # Spark reads an empty CSV field as null; the kit's CSV reader as empty text
            table = pa.table({c: (table.column(c).fill_null("") if pa.types.is_string(table.column(c).type)
                                  else table.column(c)) for c in table.column_names})  # fmt: skip
        raw = _chunks.arrow_raw(table, self.name, self.details)
        result = _parallel.run_chunk(_Rows(raw), buckets, self.load, self.specs, last_try=self.last_try)
        return pd.DataFrame({"payload": [pickle.dumps(result)]})


class _Rows:
    """A raw table standing for a partition of one chunk (what kit.parallel.run_chunk reads)."""

    def __init__(self, raw):
        self._raw = raw

    def raw(self, buckets):
        return self._raw
