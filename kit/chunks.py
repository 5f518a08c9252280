"""
Out-of-core: a source read in chunks of whole customers, each chunk through the same core, the results combined.

Movements are customer-local (docs/definitions.md): everything about one customer depends only on
that customer's rows, and everything after is a sum or a count. So a source too large for memory
is cut by customer, each part loaded and summarised by the kit's own functions, and the parts
combined. The rules:

* **Buckets.** A customer's bucket is ``id_hash(customer_id) mod n``, a 64-bit polynomial hash
  of the id's UTF-8 text (:func:`id_hash`, computed over Arrow's buffers at once): stable across
  runs, machines and processes. All rows of one customer land in one bucket. Any split by customer
  gives the same figures; the hash only makes the chunks even and the run repeatable.
* **Reading.** A Parquet file or a folder of Parquet files (a dataset) is read batch by batch
  (pyarrow), a CSV file streamed in blocks (pyarrow's CSV reader, every column as text), each
  batch's rows written to its bucket's spill file (Arrow IPC, uncompressed, in a temporary folder
  removed afterwards; read back memory-mapped, its columns converted as the Parquet reader
  converts them). A database (SQLite, PostgreSQL, MySQL) is read bucket by bucket with a hash
  predicate on the customer id (:func:`sql_bucket`); another database, an Excel sheet or a
  DataFrame is read whole, then cut (only the load and the figures are then out-of-core). Each row
  keeps its row number in the source, so errors and the data-quality examples name the rows as a
  whole load does (for CSV, the record's number counting the header, exact unless a quoted field
  spans lines or blank lines are skipped).
* **The window.** A chunk's own window (first and last month, the as_of day) may be narrower than
  the whole source's (no customer of that chunk active in the last month, say). Chunks whose window
  differs from the whole's are loaded again together with a chunk that has the whole's window, so
  every chunk's figures are measured on the whole's window, exactly as a whole load measures them.
* **Combining.** The summary's money and counts are plain sums per period (and segment); the rates
  are recomputed from the sums (:func:`kit.metrics.combine`). The data-quality record: rows read,
  used and excluded and the note counts are sums; the examples are the first row numbers of the
  union; the problems are concatenated in row order; the customers are added (disjoint), the
  products and currencies are the union. The report's tables, sums or not (top expanders,
  concentration), combine in :mod:`kit.partials`.
* **Errors.** An invalid row is an error of the chunk that holds it: with ``on_invalid="raise"``
  the error lists the problems of the first chunk found to have any (named by their source rows),
  not of every chunk. With an ``as_of`` whose month no row of a chunk reaches, a chunk may refuse
  the as_of where the whole would not: use fewer chunks (a larger memory limit) for such data.

The chunk count comes from the memory limit (:func:`chunk_count`): the rows of the source times a
measured cost per row, over the memory left after the process's own. The result never depends on
it: any chunk count gives the same figures, which ``tests/test_chunks.py`` holds.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import LoadError, ParameterError
from kit.problems import DataQuality
from kit.sources import RawTable, normalise_column

#: The column carrying each row's number in the source through the spill files.
ROW_COLUMN = "__kit_source_row"
#: Peak memory of a load and summary per source row (measured: 2.0 GiB for 19.3M Parquet rows, 1.7 GiB for
#: 22.9M CSV rows, a spill file's read included), with a margin.
BYTES_PER_ROW = 160
#: The same for a report's chunk (every table of the report, the FX reference's summary beside):
#: measured about 350 bytes a row (1M customers, 5 chunks of 4.6M rows: 1.88 GiB for the whole process
#: tree, the notebook's kernel included), and about 10 MB more held after each chunk (at 5M customers in
#: 30 chunks of 440 bytes a row the peak was 2.29 GiB under a 2 GiB limit): with a margin for both. With
#: each chunk's memory handed back after it (:mod:`kit.analysis_chunks`), 5M in 35 chunks peaked at 1.82 GiB.
REPORT_BYTES_PER_ROW = 520
#: The process's own memory before any data (interpreter, NumPy, pandas, pyarrow).
BASE_BYTES = 400 * 2**20
#: Rows per batch read from a Parquet or CSV source while cutting it into buckets.
BATCH_ROWS = 1_000_000
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}  # fmt: skip


def parse_size(text) -> int:
    """
    Read a memory size: a number of bytes, or a number and a unit (``2GiB``, ``512 MB``, ``1.5G``).

    ``K``, ``M``, ``G``, ``T`` alone are binary (2**10, …), as ``KiB`` … are; ``KB``, ``MB``, ``GB`` are decimal.

    >>> parse_size("2GiB"), parse_size("512MB"), parse_size(1024), parse_size("1.5g")
    (2147483648, 512000000, 1024, 1610612736)
    """
    if isinstance(text, int | np.integer) and not isinstance(text, bool):
        size = int(text)
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ParameterError(f"memory_limit must be a size such as 2GiB, 512MB or 4G (CLI --memory-limit), "
                                 f"not {text!r}")  # fmt: skip
        size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ParameterError(f"memory_limit must be more than 0 bytes, not {text!r}")
    return size


def chunk_count(rows: int, memory_limit, *, jobs: int = 1, bytes_per_row: int | None = None) -> int:
    """
    Return how many chunks of customers keep a load of ``rows`` source rows under ``memory_limit``.

    Each of ``jobs`` processes holds one chunk at a time, so each gets ``1/jobs`` of the limit
    (less the process's own :data:`BASE_BYTES`); a row takes ``bytes_per_row`` (:data:`BYTES_PER_ROW` for a
    summary, :data:`REPORT_BYTES_PER_ROW` for a report).

    >>> chunk_count(20_000_000, "2GiB"), chunk_count(20_000_000, "24GiB"), chunk_count(20_000_000, "2GiB", jobs=2)
    (2, 1, 5)
    """
    limit = parse_size(memory_limit)
    budget = limit // max(jobs, 1) - BASE_BYTES
    if budget < 64 * 2**20:
        raise ParameterError(f"memory_limit {memory_limit} leaves less than 64 MiB per process for the data "
                             f"({jobs} process{'es' if jobs != 1 else ''}, each about "
                             f"{BASE_BYTES // 2**20} MiB of its own); give at least "
                             f"{(BASE_BYTES + 64 * 2**20) * max(jobs, 1) // 2**20} MiB")  # fmt: skip
    return max(1, math.ceil(rows * (bytes_per_row or BYTES_PER_ROW) / budget))


#: The multiplier of the ids' polynomial hash (odd, 64-bit) and murmur3's 64-bit finaliser constants.
_MULTIPLIER = np.uint64(0x100000001B3)
_MIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def id_hash(ids) -> np.ndarray:
    """
    Return a stable 64-bit hash of each id's UTF-8 text: ``Σ byte_i × M**i`` (mod 2**64), mixed by murmur3's finaliser.

    Computed over the Arrow text buffers at once (no Python call per id): the same on every run,
    machine and process. ``ids`` is an Arrow array or anything pandas reads; numbers are hashed as
    their text (``17`` as ``"17"``), a missing id as the empty text.

    >>> h = id_hash(["C0000001", "C0000002", "C0000001"])
    >>> bool(h[0] == h[2] == id_hash(["C0000001"])[0]), bool(h[0] != h[1]), h.dtype
    (True, True, dtype('uint64'))
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array = ids if isinstance(ids, pa.Array | pa.ChunkedArray) else pa.array(pd.Series(ids).astype(str))
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return id_hash(array.dictionary)[array.indices.fill_null(0).to_numpy(zero_copy_only=False)]
    if not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.large_string())
    if array.null_count:
        array = array.fill_null("")
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    first, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(buffers[2], dtype=np.uint8)[first:end] if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    longest = int(lengths.max()) if n else 0
    powers = np.cumprod(np.r_[np.uint64(1), np.full(max(longest - 1, 0), _MULTIPLIER)], dtype=np.uint64)
    if longest and int(lengths.min()) == longest:  # ids of one width (C0000001): a row of bytes each
        value = np.zeros(n, dtype=np.uint64)
        for i, column in enumerate(data.reshape(n, longest).T):
            value += column.astype(np.uint64) * powers[i]  # modulo 2**64
        value += np.uint64(longest)
    else:
        position = np.arange(end - first, dtype=np.int64) - np.repeat(offsets[:-1] - first, lengths)
        sums = np.zeros(end - first + 1, dtype=np.uint64)
        np.cumsum(data.astype(np.uint64) * powers[position], out=sums[1:])
        value = sums[offsets[1:] - first] - sums[offsets[:-1] - first] + lengths.astype(np.uint64)  # modulo 2**64
    value ^= value >> np.uint64(33)
    value *= _MIX[0]
    value ^= value >> np.uint64(33)
    value *= _MIX[1]
    value ^= value >> np.uint64(33)
    return value


def buckets_of(ids, n: int) -> np.ndarray:
    """
    Return each customer id's bucket, ``id_hash(id) mod n`` (int32): all rows of one customer in one bucket.

    >>> ids = ["C0000001", "C0000002", "C0000001"]
    >>> buckets_of(ids, 4).tolist() == (id_hash(ids) % np.uint64(4)).astype(int).tolist()
    True
    """
    return (id_hash(ids) % np.uint64(n)).astype(np.int32)


def customer_column(names: list[str], mapping: dict | None = None, *, name: str = "") -> str:
    """
    Return the source column that holds the customer id: mapped to ``customer_id``, named so, or a synonym.

    Raises
    ------
    LoadError
        No column can be the customer id (the message lists the columns).
    """
    from kit.roles import SYNONYMS, squash

    normal = {normalise_column(c): c for c in names}
    for source, target in (mapping or {}).items():
        if normalise_column(target) == "customer_id" and normalise_column(source) in normal:
            return normal[normalise_column(source)]
    if "customer_id" in normal:
        return normal["customer_id"]
    words = {squash(s) for s in ["customer_id", *SYNONYMS["customer_id"]]}
    found = [c for c in normal if squash(c) in words]
    if len(found) == 1:
        return normal[found[0]]
    where = f"{name}: " if name else ""
    shown = ", ".join(repr(str(c))[1:-1][:40] for c in names[:20]) + (
        f" and {len(names) - 20} more" if len(names) > 20 else ""
    )
    raise LoadError(f"{where}no column to cut into customer chunks (customer_id or a synonym); columns: {shown}; "
                    "name the customer column with a mapping (CLI --map THEIRS=customer_id)")  # fmt: skip


# --- cutting a source into buckets ------------------------------------------------------------------


@dataclass
class Partition:
    """
    A source cut into buckets of customers, each bucket a spill file (or rows of a table read whole).

    Use as a context manager: the spill folder is removed on leaving it.
    """

    name: str
    details: dict
    rows: int
    n: int
    folder: Path | None = None
    paths: dict[int, Path] = field(default_factory=dict)
    reader: object = None  # for a database: reads one bucket (callable)

    def __enter__(self) -> Partition:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the spill folder."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def raw(self, buckets: list[int]) -> RawTable:
        """Return the raw table of the customers of ``buckets``, rows in source order, row numbers of the source."""
        if self.reader is not None:
            return self.reader(buckets)
        import pyarrow as pa

        paths = [self.paths[b] for b in sorted(buckets) if b in self.paths]
        if not paths:
            raise LoadError(f"{self.name}: no rows in buckets {buckets}")
        tables = [pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in paths]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables).sort_by(ROW_COLUMN)  # source order
        del tables
        return arrow_raw(table, self.name, self.details)

    def buckets(self) -> list[int]:
        """Return the buckets that hold rows, in order."""
        if self.reader is not None:
            return list(range(self.n))
        return sorted(self.paths)


def partition(source, n: int, *, mapping: dict | None = None, table: str | None = None, query: str | None = None,
              sep: str | None = None, encoding: str = "utf-8", header_row: int = 0,
              folder: str | Path | None = None) -> Partition:  # fmt: skip
    """
    Cut ``source`` into ``n`` buckets of customers (see the module docstring).

    Parameters
    ----------
    source : str, Path or DataFrame
        A Parquet file or folder of Parquet files, a CSV file, an SQLite file or SQLAlchemy URL
        (with ``table`` or ``query``), an Excel file or a DataFrame (these read whole, then cut).
    n : int
        The number of buckets (1 or more).
    mapping : dict, optional
        The load's mapping: which source column is the customer id.
    table, query, sep, encoding, header_row
        As for :func:`kit.load_ledger`.
    folder : str or Path, optional
        Where the spill folder goes (default: the system's temporary folder).

    Returns
    -------
    Partition
    """
    from kit.sources import CSV_SUFFIXES, PARQUET_SUFFIXES, is_database_url, read_source

    if n < 1:
        raise ParameterError(f"chunks must be 1 or more, not {n}")
    if isinstance(source, pd.DataFrame):
        return _partition_raw(read_source(source), n, mapping)
    if not (is_database_url(source) or table or query):
        path = Path(source)
        if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
            return _partition_parquet(path, n, mapping, folder)
        if path.suffix.lower() in CSV_SUFFIXES:
            return _partition_csv(path, n, mapping, folder, sep=sep, encoding=encoding, header_row=header_row)
    if is_database_url(source) or table or query or Path(str(source)).suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        part = _partition_sql(source, n, mapping, table, query)
        if part is not None:
            return part
    raw = read_source(source, table=table, query=query, sep=sep, encoding=encoding, header_row=header_row)
    return _partition_raw(raw, n, mapping)


def _partition_raw(raw: RawTable, n: int, mapping) -> Partition:
    """
    Cut a raw table already in memory (an Excel sheet, a DataFrame, a database).

    A billing system's reading (Stripe objects: what was left out or refused beside the rows)
    stays one chunk: its periods are few beside the objects they came from, and what was left out
    is counted once, with its ids.
    """
    if raw.excluded or raw.refused or raw.decimal_known:
        return Partition(raw.name, dict(raw.details), len(raw.frame), 1, reader=lambda wanted: raw)
    column = customer_column(list(raw.frame.columns), mapping)
    buckets = buckets_of(raw.frame[column].astype(str).to_numpy(), n)
    rows = np.asarray(raw.row_numbers[np.arange(len(raw.frame))])

    def reader(wanted):
        keep = np.flatnonzero(np.isin(buckets, wanted))
        frame = raw.frame.iloc[keep].reset_index(drop=True)
        return RawTable(frame, raw.name, rows[keep], dict(raw.details))

    return Partition(raw.name, dict(raw.details), len(raw.frame), n, reader=reader)


#: Per SQL dialect: the code of the character ``k`` places from the end of a text (0 past its start).
_CHAR_FROM_END = {
    "sqlite": "coalesce(unicode(substr(CAST({c} AS TEXT), -{k}, 1)), 0)",
    "postgresql": "coalesce(ascii(substr(CAST({c} AS TEXT), greatest(length(CAST({c} AS TEXT)) - {k} + 1, 1), "
                  "CASE WHEN length(CAST({c} AS TEXT)) >= {k} THEN 1 ELSE 0 END)), 0)",
    "mysql": "coalesce(ascii(substr(CAST({c} AS CHAR), -{k}, 1)), 0)",
}  # fmt: skip


def sql_bucket(column: str, n: int, dialect: str) -> str:
    """
    Return the SQL expression of a customer's bucket in a database: its id's last four characters and length, mod n.

    Any function of the id splits the customers (every row of one customer in one bucket); this one
    needs only ``substr`` and a character's code, which the dialects have (SQLite, PostgreSQL, MySQL).

    >>> sql = sql_bucket("customer_id", 4, "sqlite")
    >>> sql.startswith('((length(CAST("customer_id" AS TEXT)) + 1 * coalesce(unicode(substr('), sql.endswith(") % 4)")
    (True, True)
    """
    quoted = '"' + column.replace('"', '""') + '"' if dialect != "mysql" else "`" + column.replace("`", "``") + "`"
    text = "CAST({c} AS CHAR)" if dialect == "mysql" else "CAST({c} AS TEXT)"
    parts = [f"length({text.format(c=quoted)})"]
    for k, weight in zip(range(1, 5), (1, 31, 961, 29791), strict=True):
        parts.append(f"{weight} * {_CHAR_FROM_END[dialect].format(c=quoted, k=k)}")
    return f"(({' + '.join(parts)}) % {n})"


def _partition_sql(source, n: int, mapping, table, query) -> Partition | None:
    """
    Read a database bucket by bucket with a hash predicate (``WHERE <bucket of customer_id> = i``); None: cannot.

    Each bucket's query numbers the rows of the whole result (``ROW_NUMBER() OVER ()``) before it
    keeps its customers, so rows are named as a whole read names them (its result's order, which
    a database without ORDER BY keeps from one run to the next in practice, not by promise).
    """
    from kit.sources import read_database
    from kit.sources.database import _database_url
    from kit.sources.paths import _safe_url

    url = _database_url(source)
    dialect = url.get_backend_name()
    if dialect not in _CHAR_FROM_END or (table is None) == (query is None):
        return None
    if table is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", table):
            return None  # a name the kit would have to quote: read whole
        base = f"SELECT * FROM {table}"
    else:
        base = query.strip().rstrip(";")
    name = f"{_safe_url(url)} ({'table ' + table if table else 'query'})"
    probe = read_database(source, query=f"SELECT * FROM ({base}) AS kit_probe LIMIT 1")
    column = customer_column(list(probe.frame.columns), mapping)
    predicate = sql_bucket(column, n, dialect)  # the name as the kit normalised it (lower case, trimmed)

    def reader(wanted):
        keep = ", ".join(str(int(b)) for b in sorted(wanted))
        numbered = f"SELECT kit_rows.*, ROW_NUMBER() OVER () AS {ROW_COLUMN} FROM ({base}) AS kit_rows"
        raw = read_database(source, query=f"SELECT * FROM ({numbered}) AS kit_numbered WHERE {predicate} IN ({keep})")
        frame = raw.frame
        rows = pd.to_numeric(frame.pop(ROW_COLUMN)).to_numpy(dtype=np.int64)
        return RawTable(frame, name, rows, dict(raw.details))

    return Partition(name, {"format": "SQL", "chunks": n}, 0, n, reader=reader)


class _Spill:
    """The spill files of one partition: an Arrow IPC writer per bucket, opened on its first rows."""

    def __init__(self, folder: Path, n: int):
        self.folder, self.n = folder, n
        self.writers: dict = {}
        self.paths: dict[int, Path] = {}

    def write(self, batch, buckets: np.ndarray) -> None:
        import pyarrow as pa

        order = np.argsort(buckets, kind="stable")
        sorted_buckets = buckets[order]
        cuts = np.flatnonzero(np.diff(sorted_buckets)) + 1
        taken = batch.take(pa.array(order))
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(order)], strict=True):
            if stop <= start:
                continue
            b = int(sorted_buckets[start])
            if b not in self.writers:
                self.paths[b] = self.folder / f"bucket-{b}.arrow"
                self.writers[b] = pa.ipc.new_file(str(self.paths[b]), taken.schema)
            self.writers[b].write_batch(taken.slice(start, stop - start))

    def close(self) -> dict[int, Path]:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
        return self.paths


def arrow_raw(table, name: str, details: dict) -> RawTable:
    """
    Turn an Arrow table of source rows (with :data:`ROW_COLUMN`) into the raw table the Parquet reader would give.

    Each column is converted by the Parquet reader's own steps (:mod:`kit.sources.parquet`): types
    refused or decoded as there, text as categoricals, decimals of up to 18 digits as ``decimal64``.
    """
    import pyarrow as pa

    from kit.sources.parquet import _check_parquet_types, _column_to_pandas, _flat_column
    from kit.sources.table import _with_normalised_columns

    rows = table.column(ROW_COLUMN).to_numpy()
    table = table.drop_columns([ROW_COLUMN])
    _check_parquet_types(name, table.schema, pa)
    names = table.column_names
    columns, decoded = {}, []
    while table.num_columns:  # column by column, each Arrow column released once converted
        column = table.column(0)
        if pa.types.is_decimal128(column.type) and column.type.precision <= 18:
            column = column.cast(pa.decimal64(column.type.precision, column.type.scale))
        columns[len(columns)] = _column_to_pandas(_flat_column(name, names[len(columns)], column, pa, decoded), pa)
        table = table.remove_column(0)
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = names
    frame = _with_normalised_columns(frame, name)
    details = dict(details)
    if decoded:
        details["columns note"] = f"binary columns read as UTF-8 text: {', '.join(decoded)}"
    return RawTable(frame, name, rows, details)


def _spill_folder(folder) -> Path:
    return Path(tempfile.mkdtemp(prefix="kit-chunks-", dir=folder))


def _partition_parquet(path: Path, n: int, mapping, folder) -> Partition:
    """Cut a Parquet file or a folder of them (a dataset) batch by batch."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from kit.sources import check_readable

    if not path.is_dir():
        check_readable(path)
    try:
        dataset = ds.dataset(path, format="parquet")
        schema = dataset.schema
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{path.name}: not a readable Parquet file or dataset ({exc})") from None
    if ROW_COLUMN in schema.names:
        raise LoadError(f"{path.name}: has a column named {ROW_COLUMN}, which the chunked reader uses itself")
    column = customer_column(schema.names, mapping, name=path.name)
    spill_folder = _spill_folder(folder)
    spill = _Spill(spill_folder, n)
    rows = 0
    try:
        if path.is_dir():
            batches = dataset.to_batches(batch_size=BATCH_ROWS, fragment_readahead=1, batch_readahead=2)
        else:  # one file: its own reader is about twice as fast as a dataset scan
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        for batch in batches:
            numbers = pa.array(np.arange(rows + 1, rows + batch.num_rows + 1, dtype=np.int64))
            batch = pa.RecordBatch.from_arrays([*batch.columns, numbers], names=[*batch.schema.names, ROW_COLUMN])
            spill.write(batch, buckets_of(batch.column(column), n))
            rows += batch.num_rows
        paths = spill.close()
    except BaseException:
        spill.close()
        shutil.rmtree(spill_folder, ignore_errors=True)
        raise
    pa.default_memory_pool().release_unused()  # the batches' memory back to the system, for the chunks
    if rows == 0:
        shutil.rmtree(spill_folder, ignore_errors=True)
        raise LoadError(f"{path.name}: the file has columns but no rows")
    details = {"format": "Parquet" if not path.is_dir() else "Parquet dataset", "chunks": n}
    return Partition(path.name, details, rows, n, spill_folder, paths)


def _partition_csv(path: Path, n: int, mapping, folder, *, sep, encoding, header_row) -> Partition:
    """Stream a CSV file in blocks, every column as text, each block's rows to their buckets' spill files."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from kit.sources import check_readable
    from kit.sources.csv import _delimiter_name, _reject_binary, _sniff_delimiter

    check_readable(path)
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    _reject_binary(head, path.name, encoding.lower())  # the whole reader's own words for a file that is no CSV
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        lines = [handle.readline() for _ in range(header_row + 1)]
    header_line = lines[-1].lstrip("\ufeff")
    if not header_line.strip():
        raise LoadError(f"{path.name}: the file is empty (no rows)" if not head.strip()
                        else f"{path.name}: no header on row {header_row + 1}")  # fmt: skip
    delimiter = sep or _sniff_delimiter(header_line)
    import csv
    import io

    names = [normalise_column(c) for c in next(csv.reader(io.StringIO(header_line), delimiter=delimiter))]
    column = customer_column(names, mapping, name=path.name)
    read = pcsv.ReadOptions(encoding="utf8" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding,
                            skip_rows=header_row + 1, column_names=names, block_size=1 << 26)  # fmt: skip
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)  # fmt: skip
    spill_folder = _spill_folder(folder)
    spill = _Spill(spill_folder, n)
    rows = 0
    first_row = header_row + 2  # the record after the header, counted from 1 with the header and titles
    try:
        reader = pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        for batch in reader:
            numbers = pa.array(np.arange(first_row + rows, first_row + rows + batch.num_rows, dtype=np.int64))
            batch = pa.RecordBatch.from_arrays([*batch.columns, numbers], names=[*names, ROW_COLUMN])
            spill.write(batch, buckets_of(batch.column(column), n))
            rows += batch.num_rows
        paths = spill.close()
    except pa.ArrowInvalid as exc:
        spill.close()
        shutil.rmtree(spill_folder, ignore_errors=True)
        raise LoadError(f"{path.name}: cannot be read in chunks ({exc}); read it whole (without --memory-limit) "
                        "for the kit's own account of the fault") from None  # fmt: skip
    except BaseException:
        spill.close()
        shutil.rmtree(spill_folder, ignore_errors=True)
        raise
    if rows == 0:
        shutil.rmtree(spill_folder, ignore_errors=True)
        raise LoadError(f"{path.name}: no rows below the header")
    details = {"format": "CSV", "delimiter": _delimiter_name(delimiter), "encoding": encoding, "chunks": n}
    return Partition(path.name, details, rows, n, spill_folder, paths)


# --- loading a chunk, and combining the data-quality records ------------------------------------------


def window_of(ledger) -> tuple:
    """Return what a chunk's figures are measured on: (first month, last month, as_of day)."""
    return (ledger.first_month, ledger.last_month, ledger.as_of)


def load_chunk(part: Partition, buckets: list[int], options: dict):
    """Load the customers of ``buckets`` as a ledger with the load keywords ``options`` (kit.load_ledger's)."""
    from kit.ledger import load_ledger

    reading = {k: v for k, v in options.items() if k not in ("table", "query", "sheet", "header_row", "sep",
                                                             "encoding")}  # fmt: skip
    return load_ledger(part.raw(buckets), **reading)


def combine_quality(records: list[DataQuality], *, name: str, details: dict, window: tuple) -> DataQuality:
    """
    Combine the data-quality records of disjoint chunks of customers of one source into the whole's.

    Rows read, used and excluded, and note counts, are added; examples are the first five row numbers
    of the union; the problems are concatenated in row order; customers are added; products and
    currencies are the union.
    """
    first = records[0]
    excluded = _combine_counted([q.excluded for q in records], "reason", "rows")
    notes = _combine_counted([q.notes for q in records], "note", "count")
    problems = pd.concat([q.problems for q in records], ignore_index=True)
    problems = problems.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
    customers = sum(int(str(q.facts.get("customers", "0")).replace(",", "")) for q in records)
    products = sorted({p for q in records for p in str(q.facts.get("products", "")).split(", ") if p})
    currencies = tuple(sorted({c for q in records for c in q.currencies}))
    facts = dict(first.facts)
    facts.update({"window": f"{window[0]} to {window[1]}", "customers": f"{customers:,}",
                  "products": ", ".join(products), "currencies": ", ".join(currencies) or "not stated"})  # fmt: skip
    merged_details = {**first.details, **details}
    left_out = [q.left_out for q in records if q.left_out is not None]
    quality = DataQuality(name, merged_details, sum(q.rows_read for q in records), sum(q.rows_used for q in records),
                          excluded, problems, notes, facts,
                          left_out=pd.concat(left_out, ignore_index=True) if left_out else None)  # fmt: skip
    quality.currencies = currencies
    return quality


def _combine_counted(frames: list[pd.DataFrame], key: str, count: str) -> pd.DataFrame:
    """
    Add the counts of rows of one ``key`` across chunks; their examples: the first five of the union.

    Examples are row numbers (``row 12``: the five lowest of the union) or ids (``sub_1/si_1``, a
    billing system's: the first five in chunk order); ``…`` follows where a chunk's had it, or where
    the union holds more than five ids. One chunk's frame is its own combination.
    """
    if len(frames) == 1:
        return frames[0].copy()
    order: dict[str, int] = {}
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    more: dict[str, bool] = {}
    for frame in frames:
        for row in frame.itertuples(index=False):
            name = getattr(row, key)
            order.setdefault(name, len(order))
            counts[name] = counts.get(name, 0) + int(getattr(row, count))
            text = str(row.examples)
            more[name] = more.get(name, False) or text.endswith("…")
            examples.setdefault(name, []).extend(p for p in text.split(", ") if p and p != "…")
    names = _merged_order([list(frame[key]) for frame in frames], order)
    records = [(name, counts[name], _union_examples(examples[name], more[name])) for name in names]
    return pd.DataFrame(records, columns=[key, count, "examples"]).astype({count: "int64"})


def _union_examples(items: list[str], more: bool) -> str:
    rows = [re.fullmatch(r"row (\d+)", item) for item in items]
    if items and all(rows):
        distinct = sorted({int(m.group(1)) for m in rows})
        return ", ".join(f"row {r}" for r in distinct[:5]) + (", …" if more else "")
    distinct = list(dict.fromkeys(items))
    return ", ".join(distinct[:5]) + (", …" if more or len(distinct) > 5 else "")


def _merged_order(sequences: list[list[str]], first_seen: dict[str, int]) -> list[str]:
    """
    Merge the chunks' orders of notes (or reasons) into one that keeps every chunk's order.

    The loader adds them in the order of its checks, so each chunk's list is in that order: a
    name that comes after another in any chunk comes after it in the whole's (the earliest seen
    first where no chunk orders two).

    >>> _merged_order([["b", "c"], ["a", "b"]], {"b": 0, "c": 1, "a": 2})
    ['a', 'b', 'c']
    """
    after: dict[str, set[str]] = {name: set() for name in first_seen}
    before_count = dict.fromkeys(first_seen, 0)
    for sequence in sequences:
        for earlier, later in zip(sequence, sequence[1:], strict=False):
            if later not in after[earlier]:
                after[earlier].add(later)
                before_count[later] += 1
    ready = sorted((n for n, c in before_count.items() if c == 0), key=first_seen.get)
    out = []
    while ready:
        name = ready.pop(0)
        out.append(name)
        for later in after[name]:
            before_count[later] -= 1
            if before_count[later] == 0:
                ready.append(later)
        ready.sort(key=first_seen.get)
    if len(out) < len(first_seen):  # chunks that disagree (cannot be for one loader): the first seen order
        return sorted(first_seen, key=first_seen.get)
    return out


def whole_window(windows: list[tuple]) -> tuple:
    """Return the whole source's window from its chunks' windows: the earliest first, the latest last and as_of."""
    first = min(w[0] for w in windows)
    last = max(w[1] for w in windows)
    days = [w[2] for w in windows if w[2] is not None]
    return (first, last, max(days) if days else None)


def source_rows(source, *, header_row: int = 0, **_reading) -> int:
    """
    Return the rows of a source, or an estimate where only reading it all would tell (0: not known).

    Parquet: the files' metadata. CSV: the file's size over the mean length of its first lines.
    A DataFrame: its length. A database or Excel: 0 (the chunk count then follows the processes).
    """
    from kit.sources import CSV_SUFFIXES, PARQUET_SUFFIXES, is_database_url

    if isinstance(source, pd.DataFrame):
        return len(source)
    if is_database_url(source) or _reading.get("table") or _reading.get("query"):
        return 0
    path = Path(source)
    if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow.dataset as ds

        try:
            return int(ds.dataset(path, format="parquet").count_rows())
        except Exception:  # unreadable: the reader says why
            return 0
    if path.suffix.lower() in CSV_SUFFIXES and path.is_file():
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
        lines = head.count(b"\n") - header_row - 1
        if lines <= 0:
            return 1
        body = len(head) - len(b"\n".join(head.split(b"\n")[: header_row + 1]))
        return max(1, math.ceil(path.stat().st_size * lines / max(body, 1)))
    return 0
