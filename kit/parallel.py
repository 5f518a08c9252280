"""
The summary of a source in chunks of customers: out-of-core, on all cores, the results combined exactly.

:func:`summarize_source` cuts a source into buckets of customers (:mod:`kit.chunks`), loads and
summarises each bucket with the kit's own :func:`kit.load_ledger` and :func:`kit.summarize` (the
same core as the whole path, no second copy of a rule), in this process or in a pool of
``jobs`` processes (``concurrent.futures``), and combines: the summary by
:func:`kit.metrics.combine` (money and counts added, rates recomputed), the data-quality record by
:func:`kit.chunks.combine_quality`. A chunk whose own window is not the whole source's is loaded
again with another chunk so that every figure is measured on the whole's window
(:mod:`kit.chunks`, "The window"). Several summaries (grains, nettings, segments) can be asked of
one pass over the data (``specs``).

Plain function it must equal: ``summarize(load_ledger(source, ...), ...)``;
``tests/test_chunks.py`` holds the two equal on random ledgers and on the bundled sample, for
every grain and netting, whatever the chunk count and the number of processes.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pandas as pd

from kit import chunks as _chunks
from kit.errors import LoadError, ParameterError

#: With ``jobs`` and no memory limit: rows per chunk (a chunk's arrays stay in cache, a process's memory small).
CHUNK_ROWS = 5_000_000
#: What a summary of a chunk is asked: kit.summarize's keywords (start, end and last apply after combining).
SPEC_KEYS = ("period", "netting", "reactivation_window", "by")


@dataclass
class ChunkResult:
    """What one chunk (one or more buckets) gives: its window, currency, data-quality record and summaries."""

    buckets: list[int]
    window: tuple
    currency: str | None
    quality: object
    tables: list[pd.DataFrame]


#: Errors a chunk may raise of its own few customers where the whole source would not (all its rows
#: quarantined, after as_of, or starting after it): such a chunk is loaded again with others.
CHUNK_LOCAL = (
    "no valid rows",
    "no rows in the window",
    "no subscription starts by",
    "every customer would seem to churn",
)


def run_chunk(part, buckets: list[int], options: dict, specs: list[dict], *, last_try: bool = False,
              work=None) -> ChunkResult:  # fmt: skip
    """
    Load the customers of ``buckets`` and summarise them under every spec (the per-chunk core).

    An error of :data:`CHUNK_LOCAL` gives a result with no window (to be loaded again with other
    chunks), unless ``last_try``. ``work(ledger)``, when given, makes the chunk's tables instead of
    the summaries (a report's parts: :mod:`kit.analysis_chunks`).
    """
    from kit.errors import KitError
    from kit.metrics import summarize

    try:
        ledger = _chunks.load_chunk(part, buckets, options)
    except KitError as exc:
        if last_try or not any(text in str(exc) for text in CHUNK_LOCAL):
            raise
        return ChunkResult(list(buckets), None, None, None, [])
    window, currency, quality = _chunks.window_of(ledger), ledger.currency, ledger.quality
    tables = work(ledger) if work is not None else [summarize(ledger, **spec) for spec in specs]
    return ChunkResult(list(buckets), window, currency, quality, tables)


def summarize_source(
    source,
    *,
    memory_limit=None,
    chunks: int | None = None,
    jobs: int = 1,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
    by: str | None = None,
    start=None,
    end=None,
    last: int | None = None,
    specs: list[dict] | None = None,
    spill_folder=None,
    **load,
):
    """
    Summarise a source in chunks of customers; equal to ``summarize(load_ledger(source, **load), ...)``.

    Parameters
    ----------
    source : str, Path or DataFrame
        As for :func:`kit.load_ledger`; a folder of Parquet files is read as one dataset.
    memory_limit : int or str, optional
        The memory the work may take (``"2GiB"``): it chooses the chunk count
        (:func:`kit.chunks.chunk_count`). Default: ``chunks``; else, with ``jobs``, chunks of about
        :data:`CHUNK_ROWS` rows (at least one per process); else one chunk.
    chunks : int, optional
        The chunk count, given directly (wins over ``memory_limit``).
    jobs : int
        Processes that load and summarise chunks at once (1: in this process).
    period, netting, reactivation_window, by, start, end, last
        As for :func:`kit.summarize`.
    specs : list of dict, optional
        Several summaries from one pass: each a dict of ``period, netting, reactivation_window, by``;
        then a list of summaries is returned (``start``, ``end``, ``last`` apply to each).
    spill_folder : str or Path, optional
        Where the chunks' spill files go (default: the system's temporary folder).
    **load
        :func:`kit.load_ledger`'s keywords (``kind``, ``mapping``, ``as_of``, ``fx``, ``on_invalid``, …).

    Returns
    -------
    (DataFrame or list of DataFrame, DataQuality)
        The summary (or one per spec) and the data-quality record of the whole source.

    Raises
    ------
    ParameterError
        ``jobs`` or ``chunks`` below 1, a memory limit too small, and kit.summarize's own.
    LoadError, ValidationError
        As kit.load_ledger; a chunk's invalid rows are an error of that chunk (see :mod:`kit.chunks`).
    """
    from kit.metrics import combine
    from kit.periods import keep

    if jobs < 1:
        raise ParameterError(f"jobs must be 1 or more, not {jobs} (CLI --jobs)")
    one = specs is None
    specs = full_specs(specs, period=period, netting=netting, reactivation_window=reactivation_window, by=by)
    with _partition(source, memory_limit, chunks, jobs, load, spill_folder) as part:
        results = _run_all(part, load, specs, jobs)
    _check_currencies(part.name, results)
    window = results[0].window
    tables = []
    for i, spec in enumerate(specs):
        table = combine([r.tables[i] for r in results], by=spec["by"])
        tables.append(keep(table, start=start, end=end, last=last, grain=spec["period"]))
    quality = _chunks.combine_quality([r.quality for r in results], name=part.name, details=part.details,
                                      window=window)  # fmt: skip
    return (tables[0] if one else tables), quality


def _partition(source, memory_limit, chunks, jobs, load, folder, *, bytes_per_row: int | None = None):
    """Cut the source into the chunk count asked, or the one the memory limit gives."""
    reading = {k: load.get(k) for k in ("table", "query", "sep", "header_row", "encoding") if load.get(k) is not None}
    if chunks is not None:
        if chunks < 1:
            raise ParameterError(f"chunks must be 1 or more, not {chunks}")
        return _chunks.partition(source, chunks, mapping=load.get("mapping"), folder=folder, **reading)
    rows = _chunks.source_rows(source, **reading)
    if memory_limit is None:  # processes alone: chunks of about CHUNK_ROWS rows, each process one at a time
        n = max(jobs, math.ceil(rows / CHUNK_ROWS)) if jobs > 1 else 1
        return _chunks.partition(source, n, mapping=load.get("mapping"), folder=folder, **reading)
    per_row = bytes_per_row or _chunks.BYTES_PER_ROW
    n = _chunks.chunk_count(rows, memory_limit, jobs=jobs, bytes_per_row=per_row) if rows else max(jobs, 1)
    return _chunks.partition(source, max(n, jobs), mapping=load.get("mapping"), folder=folder, **reading)


def full_specs(specs: list[dict] | None, **one) -> list[dict]:
    """Return the specs asked (or the one of ``one``: period, netting, reactivation_window, by), each complete."""
    defaults = {"period": "month", "netting": "customer", "reactivation_window": None, "by": None}
    return [{**defaults, **spec} for spec in (specs or [one])]


def _run_all(part, load: dict, specs: list[dict], jobs: int) -> list[ChunkResult]:
    """Run every bucket; then again, together, those measured on a window other than the whole's."""
    buckets = [[b] for b in part.buckets()]
    if jobs > 1 and part.reader is None and len(buckets) > 1:
        with ProcessPoolExecutor(min(jobs, len(buckets))) as pool:
            futures = [pool.submit(run_chunk, part, b, load, specs) for b in buckets]
            results = [f.result() for f in futures]
    else:
        results = [run_chunk(part, b, load, specs) for b in buckets]
    return settle(results, lambda group, last_try: run_chunk(part, group, load, specs, last_try=last_try), part.name)


def settle(results: list[ChunkResult], rerun, name: str) -> list[ChunkResult]:
    """
    Return chunk results all measured on the whole source's window.

    Chunks measured on another window (or that failed alone, :data:`CHUNK_LOCAL`) are run again as
    one group (``rerun(buckets, last_try)``), with one chunk on the whole's window added while the
    group's window is still not the whole's.
    """
    windows = [r.window for r in results if r.window is not None]
    whole = _chunks.whole_window(windows) if windows else None
    odd = [r for r in results if r.window is None or r.window != whole]
    if not odd:
        return results
    kept = [r for r in results if r.window is not None and r.window == whole]
    group = sorted(b for r in odd for b in r.buckets)
    merged = rerun(group, not kept)
    while merged.window != whole and kept:  # one chunk measured on the whole's window settles it
        group = sorted(group + kept.pop(0).buckets)
        merged = rerun(group, not kept)
    if whole is None:  # every bucket alone failed: the whole, loaded as one, gave its figures (or its error)
        return [merged]
    if merged.window != whole:  # cannot be: the union of every bucket is the whole source
        raise LoadError(f"{name}: the chunks' windows do not add up to the whole's ({merged.window} vs {whole})")
    return [*kept, merged]


def _check_currencies(name: str, results: list[ChunkResult]) -> None:
    """Refuse chunks that found different reporting currencies (the whole has several and needs an FX table)."""
    found = sorted({r.currency for r in results if r.currency is not None})
    if len(found) > 1:
        raise LoadError(f"{name}: the data has several currencies ({', '.join(found)}) and no FX table to "
                        "convert them to one; pass an FX table (fx=, CLI --fx)")  # fmt: skip


#: The engines of ``kit summary --engine``: the kit's own (in this process, or chunks in processes) or Spark.
ENGINES = ("kit", "spark")


def add_options(parser) -> None:
    """Add ``--memory-limit``, ``--jobs``, ``--engine`` and ``--spark-master`` to a command's parser."""
    group = parser.add_argument_group("scale (out-of-core, all cores, Spark)")
    group.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="read the data in chunks of customers so the work fits SIZE (2GiB, 512MB); same figures",
    )
    group.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        default=1,
        help="chunks of customers in N processes at once (default 1); same figures",
    )
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="kit",
        help="kit (default) or spark: the same core through PySpark applyInPandas",
    )
    group.add_argument("--spark-master", metavar="URL", default="local[*]",
                       help="Spark master for --engine spark (default local[*])")  # fmt: skip


def scaled(args) -> bool:
    """Whether a command's arguments ask for chunks, processes or Spark (else the plain in-memory path)."""
    return (
        bool(getattr(args, "memory_limit", None))
        or getattr(args, "jobs", 1) != 1
        or (getattr(args, "engine", "kit") != "kit")
    )


def summary_from_args(args, load: dict):
    """Run ``kit summary`` in chunks, in processes or on Spark, as its arguments say; return (summary, quality)."""
    options = {"period": args.period, "netting": args.netting, "reactivation_window": args.reactivation_window,
               "by": args.by}  # fmt: skip
    load = dict(load)
    source = load.pop("source")
    if args.engine == "spark":
        from kit import spark

        return spark.summarize_source(source, master=args.spark_master, memory_limit=args.memory_limit, **options,
                                      **load)  # fmt: skip
    if args.memory_limit:
        _chunks.parse_size(args.memory_limit)  # a wrong size is refused before any reading
    return summarize_source(source, memory_limit=args.memory_limit, jobs=args.jobs, **options, **load)
