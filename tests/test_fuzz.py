"""
Fuzzing of every loader, and property tests of CSV structure (RELIABILITY.md rows 47-58).

**The fuzz invariant.** From small valid seeds of both shapes (snapshots, subscriptions),
built here in temporary folders (CSV as bytes, ``.xlsx`` with openpyxl, Parquet with
pyarrow, SQLite with :mod:`sqlite3`), mutated inputs go through
:func:`kit.ledger.load_ledger`, strict and lenient. Each load either returns a ledger
whose data-quality record says rows read = rows used + rows excluded and whose
``mrr_cents`` are int64 and never negative, or raises one of the kit's own exceptions
(:class:`kit.errors.KitError`) whose message names the file. Any other exception, a
crash of the interpreter or a load that runs longer than ``KIT_FUZZ_SECONDS`` (default
10 s) or needs more than ``KIT_FUZZ_MEMORY_MB`` (default 2048 MB) is a failure. Every
example is loaded in a forked child process, so a hang, a runaway allocation or a
segfault in a C library is reported as such instead of stopping the run. For SQLite the
database file and its folder must also be left exactly as they were, and a statement
that is not a query (``DROP``, ``DELETE … RETURNING``, ``VACUUM INTO``, ``PRAGMA``, …)
must be refused.

Mutations: byte-level for CSV (flip, delete, insert, duplicate and truncate ranges;
quotes, delimiters, ``\\r``, ``\\n``, NUL, byte-order marks, very long fields, huge
numbers, ``Total`` rows); for ``.xlsx`` the XML parts inside the zip (edited, dropped)
and the zip's own bytes; for Parquet the values through pyarrow (types, nulls, extreme
integers, strings, nested columns, names, row groups) and the file's raw bytes; for
SQLite the rows and declared types, and the query text.

**The structure properties.** Random tables of valid rows written with random quoting
(``csv.QUOTE_ALL``/``MINIMAL``/``NONNUMERIC``), delimiters (``, ; tab |``), line endings
(``\\n``, ``\\r\\n``), with or without a byte-order mark, with blank lines, and with
delimiters, quotes and line breaks inside attribute fields load to the same ledger and
the same row accounting as the same rows written plainly, in any row order.

**Budget.** Everything is derandomised (a failure reproduces on every run) and each
test runs ``KIT_FUZZ_EXAMPLES`` examples (default 20, so the file takes well under a
minute inside ``make test``). A longer run, e.g. before a release::

    KIT_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py -p no:cacheprovider

A failure prints the shrunk example and the outcome: the exception, its message and
where it was raised (the deepest frame in ``kit/`` and the last frame). ``REPRODUCERS``
(at the end) holds the minimal inputs of the failure classes found so far; they run
through the API and through ``python -m kit summary`` (exit status 2, no traceback).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pickle
import resource
import select
import signal
import sqlite3
import subprocess
import sys
import traceback
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.errors import KitError
from kit.ledger import load_ledger

EXAMPLES = int(os.environ.get("KIT_FUZZ_EXAMPLES", "20"))
SECONDS = float(os.environ.get("KIT_FUZZ_SECONDS", "10"))
MEMORY_MB = int(os.environ.get("KIT_FUZZ_MEMORY_MB", "2048"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])  # fmt: skip
ON_INVALID = st.sampled_from(["raise", "quarantine"])

# --- the seeds: small valid tables of both shapes ------------------------------------------------

SNAPSHOT_ROWS = [
    {"customer_id": "A", "month": "2024-01", "product": "Core", "mrr": "10.00", "segment": "SMB"},
    {"customer_id": "A", "month": "2024-02", "product": "Core", "mrr": "12.50", "segment": "SMB"},
    {"customer_id": "B", "month": "2024-01", "product": "Addon", "mrr": "99.99", "segment": "Mid, market"},
    {"customer_id": "B", "month": "2024-03", "product": "Core", "mrr": "5", "segment": "Mid, market"},
    {"customer_id": "00123", "month": "2024-03", "product": "Core", "mrr": "0.29", "segment": "Ent"},
]
SUBSCRIPTION_ROWS = [
    {"customer_id": "A", "product": "Core", "start_date": "2024-01-01", "end_date": "", "amount": "10.00",
     "billing_period": "month", "quantity": "2", "billing_interval_count": "1", "plan": "Pro"},
    {"customer_id": "B", "product": "Addon", "start_date": "2024-02-15", "end_date": "2024-06-01", "amount": "120",
     "billing_period": "year", "quantity": "1", "billing_interval_count": "1", "plan": "Basic"},
    {"customer_id": "C", "product": "Core", "start_date": "2024-03-01", "end_date": "2024-05-31", "amount": "30",
     "billing_period": "quarter", "quantity": "", "billing_interval_count": "2", "plan": "Pro"},
]  # fmt: skip
SEEDS = {"snapshots": SNAPSHOT_ROWS, "subscriptions": SUBSCRIPTION_ROWS}
SHAPE = st.sampled_from(sorted(SEEDS))


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


# --- running one load: a forked child, bounded in time and memory ----------------------------------


def _where(exc: BaseException) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    kit_dir = str(ROOT / "kit")
    ours = [f for f in frames if f.filename.startswith(kit_dir)]

    def shown(frame):
        name = frame.filename
        name = os.path.relpath(name, ROOT) if name.startswith(str(ROOT)) else name.split("site-packages/")[-1]
        return f"{name}:{frame.lineno} ({frame.name})"

    return {"kit_frame": shown(ours[-1]) if ours else None, "last_frame": shown(frames[-1]) if frames else None}


def _classify(path: Path, options: dict) -> dict:
    """Load once (in the child); return a picklable account of what happened."""
    try:
        ledger = load_ledger(path, today=TODAY, **options)
    except KitError as exc:
        message = str(exc)
        return {"status": "kit error", "type": type(exc).__name__, "message": message[:600],
                "names file": path.name in message, **_where(exc)}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the point of the harness
        return {"status": "other exception", "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "message": str(exc)[:600], **_where(exc)}  # fmt: skip
    q = ledger.quality
    cents = ledger.frame["mrr_cents"]
    return {"status": "ledger", "rows_read": q.rows_read, "rows_used": q.rows_used,
            "rows_excluded": q.rows_excluded, "dtype": str(cents.dtype),
            "min": int(cents.min()) if len(cents) else 0}  # fmt: skip


def _limit_memory() -> None:
    with open("/proc/self/status") as status:
        data_kb = next(int(line.split()[1]) for line in status if line.startswith("VmData:"))
    limit = (data_kb + MEMORY_MB * 1024) * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def outcome(path: Path, **options) -> dict:
    """Load ``path`` in a forked child with the time and memory bounds; return what happened."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: load, report, leave without running any of the parent's clean-up
        try:
            os.close(read_end)
            _limit_memory()
            try:
                result = _classify(path, options)
            except MemoryError:
                result = {"status": "memory", "message": f"more than {MEMORY_MB} MB"}
            payload = pickle.dumps(result)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, deadline = [], SECONDS
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], deadline)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"status": "hang", "message": f"still loading after {SECONDS:g} s"}
            chunk = pipe.read1(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return {"status": "crash", "message": f"the child died (wait status {status}, "
                f"signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else None})"}  # fmt: skip
    return pickle.loads(b"".join(chunks))


def check(result: dict) -> None:
    """The invariant: a sound ledger, or a kit error naming the file."""
    shown = "\n".join(f"  {k}: {v}" for k, v in result.items())
    if result["status"] == "ledger":
        assert result["rows_read"] == result["rows_used"] + result["rows_excluded"], "read != used + excluded\n" + shown
        assert result["dtype"] == "int64" and result["min"] >= 0, "mrr_cents not int64 >= 0\n" + shown
    elif result["status"] == "kit error":
        assert result["names file"], "the kit's error does not name the file\n" + shown
    else:
        raise AssertionError(f"{result['status']}\n{shown}")
    assert not result.get("folder changed"), "the load changed the database folder\n" + shown
    assert not result.get("statement run"), "a statement that is not a query was run\n" + shown


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """Load a valid seed of every format once here, so each forked child inherits the imports ready."""
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("warm")
    (folder / "s.csv").write_bytes(csv_bytes(SNAPSHOT_ROWS))
    (folder / "s.xlsx").write_bytes(xlsx_bytes(SNAPSHOT_ROWS))
    pq.write_table(parquet_table(SUBSCRIPTION_ROWS, True), folder / "s.parquet")
    sqlite_file(folder / "s.db", SNAPSHOT_ROWS, ["TEXT"], [])
    for name, options in [("s.csv", {}), ("s.xlsx", {}), ("s.parquet", {}), ("s.db", {"table": "t"})]:
        assert outcome(folder / name, **options)["status"] == "ledger", name  # the seeds themselves are valid
        load_ledger(folder / name, today=TODAY, **options)


def load_and_check(path: Path, on_invalid: str, *, write: bool = False, **options) -> dict:
    """Load in a child and check the invariant; for a database, also that its folder is unchanged."""
    folder = path.parent
    before = folder_state(folder) if path.suffix == ".db" else None
    result = outcome(path, on_invalid=on_invalid, **options)
    if before is not None:
        result["folder changed"] = folder_state(folder) != before
    if write:
        result["statement run"] = result["status"] != "kit error"
    check(result)
    return result


# --- byte-level mutations ---------------------------------------------------------------------------------

CSV_TOKENS = [b'"', b'""', b",", b";", b"\t", b"|", b"\r", b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe",
              b"\xfe\xff", b"\x0c", b"\xe2\x80\xa8", b"\xc3", b"x" * 100_000, b"9" * 40, b"1e999", b"-0", b"NaN",
              b"1,234.5", b"Total", b"\nTotal,,,,", b"\nGrand total,,,1000", b"Subtotal", b" ", b"\\",
              b"'"]  # fmt: skip
XML_TOKENS = [b"<", b">", b"/>", b"</c>", b"</row>", b"</sheetData>", b'<c r="XFD1048576"><v>1</v></c>',
              b'<dimension ref="A1:XFD1048576"/>', b"&", b"&#0;", b"&amp;", b"<v>1e400</v>", b"<v>-1</v>", b't="s"',
              b't="e"', b't="b"', b't="inlineStr"', b"<is><t>Total</t></is>", b'"', b"\x00", b"Total", b"9" * 40,
              b'<?xml version="1.0"?>', b'<!DOCTYPE x [<!ENTITY a "aaaa">]>', b"&a;", b"\xff"]  # fmt: skip
POSITION = st.integers(0, 1 << 20)
LENGTH = st.integers(1, 64)


def byte_mutation(tokens: list[bytes]):
    return st.one_of(
        st.tuples(st.just("flip"), POSITION, st.integers(0, 7)),
        st.tuples(st.just("delete"), POSITION, LENGTH),
        st.tuples(st.just("insert"), POSITION, st.one_of(st.sampled_from(tokens), st.binary(min_size=1, max_size=8))),
        st.tuples(st.just("duplicate"), POSITION, LENGTH),
        st.tuples(st.just("truncate"), POSITION),
    )


def mutate_bytes(data: bytes, mutations) -> bytes:
    """Apply ``(operation, position, argument)`` mutations; positions wrap round the data's length."""
    for op, position, *rest in mutations:
        at = position % (len(data) + 1)
        if op == "flip" and data:
            at %= len(data)
            data = data[:at] + bytes([data[at] ^ (1 << rest[0])]) + data[at + 1 :]
        elif op == "delete":
            data = data[:at] + data[at + rest[0] :]
        elif op == "insert":
            data = data[:at] + rest[0] + data[at:]
        elif op == "duplicate":
            data = data[:at] + data[at : at + rest[0]] + data[at:]
        elif op == "truncate":
            data = data[:at]
    return data


CSV_MUTATIONS = st.lists(byte_mutation(CSV_TOKENS), min_size=1, max_size=4)


# --- CSV ------------------------------------------------------------------------------------------


@FUZZ
@given(shape=SHAPE, mutations=CSV_MUTATIONS, on_invalid=ON_INVALID)
def test_fuzz_csv(tmp_path_factory, shape, mutations, on_invalid):
    path = tmp_path_factory.mktemp("csv") / f"{shape}.csv"
    path.write_bytes(mutate_bytes(csv_bytes(SEEDS[shape]), mutations))
    load_and_check(path, on_invalid)


# --- Excel --------------------------------------------------------------------------------------------


def xlsx_bytes(rows: list[dict], *, dates: bool = False) -> bytes:
    """A workbook of one sheet; ``dates``: month and date columns as Excel dates, not text."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append(list(rows[0]))
    for row in rows:
        values = []
        for column, value in row.items():
            if dates and value and column in ("month", "start_date", "end_date"):
                value = datetime.strptime(value if len(value) == 10 else value + "-01", "%Y-%m-%d")
            values.append(value)
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_MUTATION = st.one_of(
    st.tuples(st.just("part"), st.integers(0, 100), st.lists(byte_mutation(XML_TOKENS), min_size=1, max_size=3)),
    st.tuples(st.just("drop"), st.integers(0, 100)),
    st.tuples(st.just("zip"), st.lists(byte_mutation([b"PK", b"\x00" * 4, b"\xff" * 4]), min_size=1, max_size=3)),
)


def mutate_xlsx(data: bytes, mutation) -> bytes:
    """Edit or drop one part inside the zip, or damage the zip's own bytes."""
    if mutation[0] == "zip":
        return mutate_bytes(data, mutation[1])
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    names = sorted(parts)
    target = names[mutation[1] % len(names)]
    if mutation[0] == "drop":
        del parts[target]
    else:
        parts[target] = mutate_bytes(parts[target], mutation[2])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in parts.items():
            out.writestr(name, content)
    return buffer.getvalue()


@FUZZ
@given(shape=SHAPE, dates=st.booleans(), mutation=XLSX_MUTATION, on_invalid=ON_INVALID)
def test_fuzz_xlsx(tmp_path_factory, shape, dates, mutation, on_invalid):
    path = tmp_path_factory.mktemp("xlsx") / f"{shape}.xlsx"
    path.write_bytes(mutate_xlsx(xlsx_bytes(SEEDS[shape], dates=dates), mutation))
    load_and_check(path, on_invalid)


# --- Parquet ------------------------------------------------------------------------------------------

BIG = 2**63 - 1
PARQUET_VALUES = {  # pyarrow type name -> values a column of it may take (None: a null)
    "int64": [0, 1, -1, BIG, -BIG - 1, 10**12, None],
    "uint64": [0, 2**64 - 1, None],
    "int8": [0, 127, -128, None],
    "float64": [0.0, -0.0, 0.125, 12.5, 1e308, float("inf"), float("-inf"), float("nan"), 2.0**63, None],
    "float32": [0.1, 3.4e38, float("nan"), None],
    "decimal128(38, 10)": [Decimal("0"), Decimal("12.5000000001"), Decimal("9" * 28), Decimal("-1"), None],
    "decimal128(5, 2)": [Decimal("10.00"), Decimal("999.99"), Decimal("-0.01"), None],
    "decimal256(76, 0)": [Decimal("9" * 76), Decimal("1"), None],
    "string": [
        "",
        " ",
        "A",
        "Total",
        "Grand total",
        "\x00",
        "a\nb",
        "2024-13",
        "2024-01",
        "2024-01-31",
        "１２",
        "x" * 100_000,
        "9" * 40,
        "1e400",
        "month",
        "year",
        "fortnight",
        "NaN",
        None,
    ],
    "large_string": ["A", "2024-02", "10.00", None],
    "binary": [b"A", b"\xff\xfe", b"", None],
    "bool": [True, False, None],
    "date32": [date(2024, 1, 1), date(1, 1, 1), date(9999, 12, 31), date(1970, 1, 1), None],
    "timestamp_ns_utc": [datetime(2024, 1, 31, 23), datetime(2262, 4, 11), datetime(1677, 9, 22), None],
    "timestamp_s": [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(2024, 3, 1), None],
    "duration_s": [0, BIG, None],
    "null": [None],
    "list_int64": [[1, 2], [], None],
    "struct": [{"a": 1}, None],
    "dictionary_string": ["A", "Core", "Total", None],
}


def _arrow_type(name: str):
    import pyarrow as pa

    special = {
        "decimal128(38, 10)": pa.decimal128(38, 10), "decimal128(5, 2)": pa.decimal128(5, 2),
        "decimal256(76, 0)": pa.decimal256(76, 0), "timestamp_ns_utc": pa.timestamp("ns", tz="UTC"),
        "timestamp_s": pa.timestamp("s"), "duration_s": pa.duration("s"), "list_int64": pa.list_(pa.int64()),
        "struct": pa.struct([("a", pa.int64())]), "dictionary_string": pa.dictionary(pa.int32(), pa.string()),
        "bool": pa.bool_(),
    }  # fmt: skip
    return special.get(name) or getattr(pa, name)()


PARQUET_MUTATION = st.one_of(
    st.tuples(st.just("column"), st.integers(0, 20), st.sampled_from(sorted(PARQUET_VALUES)), st.data()),
    st.tuples(st.just("nulls"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("rename"), st.integers(0, 20),
              st.sampled_from(["", "customer_id", "MRR ", "amount", "month", "a b", "\x00", "__index_level_0__"])),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("rows"), st.integers(0, 3)),
)  # fmt: skip


def parquet_table(rows: list[dict], typed: bool):
    """The seed as an Arrow table: all text, or (``typed``) amounts as decimals, months and dates as date32."""
    import pyarrow as pa

    columns = {}
    for column in rows[0]:
        values = [row[column] for row in rows]
        if typed and column in ("mrr", "amount"):
            columns[column] = pa.array([Decimal(v).quantize(Decimal("0.01")) for v in values], pa.decimal128(12, 2))
        elif typed and column in ("month", "start_date", "end_date"):
            days = [date.fromisoformat(v if len(v) == 10 else v + "-01") if v else None for v in values]
            columns[column] = pa.array(days, pa.date32())
        else:
            columns[column] = pa.array(values, pa.string())
    return pa.table(columns)


def mutate_table(table, mutations):
    import pyarrow as pa

    for mutation in mutations:
        op, index = mutation[0], mutation[1] % table.num_columns
        if op == "column":
            kind, data = mutation[2], mutation[3]
            values = data.draw(st.lists(st.sampled_from(PARQUET_VALUES[kind]), min_size=table.num_rows,
                                        max_size=table.num_rows), label=f"values of {kind}")  # fmt: skip
            if kind == "dictionary_string":
                array = pa.array(values, pa.string()).dictionary_encode()
            else:
                array = pa.array(values, _arrow_type(kind))
            table = table.set_column(index, table.schema.field(index).name, array)
        elif op == "nulls":
            mask = [(i + mutation[2]) % 3 == 0 for i in range(table.num_rows)]
            column = table.column(index)
            table = table.set_column(
                index,
                table.schema.field(index).name,
                pa.chunked_array(
                    [pa.array([None if m else v for m, v in zip(mask, column.to_pylist(), strict=True)], column.type)]
                ),
            )
        elif op == "rename":
            names = table.column_names
            names[index] = mutation[2]
            table = table.rename_columns(names)
        elif op == "drop" and table.num_columns > 1:
            table = table.remove_column(index)
        elif op == "rows":
            table = table.slice(0, mutation[1]) if mutation[1] < 2 else pa.concat_tables([table] * mutation[1])
    return table


@FUZZ
@given(shape=SHAPE, typed=st.booleans(), mutations=st.lists(PARQUET_MUTATION, min_size=1, max_size=3),
       row_group_size=st.sampled_from([None, 1, 2]), on_invalid=ON_INVALID)  # fmt: skip
def test_fuzz_parquet_values(tmp_path_factory, shape, typed, mutations, row_group_size, on_invalid):
    import pyarrow.parquet as pq

    table = mutate_table(parquet_table(SEEDS[shape], typed), mutations)
    path = tmp_path_factory.mktemp("parquet") / f"{shape}.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    load_and_check(path, on_invalid)


@FUZZ
@given(shape=SHAPE, typed=st.booleans(), mutations=st.lists(byte_mutation([b"PAR1", b"\x00" * 8, b"\xff" * 8]),
                                                            min_size=1, max_size=3), on_invalid=ON_INVALID)  # fmt: skip
def test_fuzz_parquet_bytes(tmp_path_factory, shape, typed, mutations, on_invalid):
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(parquet_table(SEEDS[shape], typed), buffer)
    path = tmp_path_factory.mktemp("parquet") / f"{shape}.parquet"
    path.write_bytes(mutate_bytes(buffer.getvalue(), mutations))
    load_and_check(path, on_invalid)


# --- SQLite --------------------------------------------------------------------------------------------

SQL_VALUES = [None, 0, 1, -1, BIG, -BIG - 1, str(2**70), 0.1, 1e308, float("inf"), float("nan"), "", " ", "Total",
              "a\nb", "\x00", "2024-13-01", "2024-02-30", "99999999999999999999.99", "-5", "1e400", b"\xff\x00",
              b"A", "x" * 10_000, "month", "fortnight", "2024-01", "2024-01-01"]  # fmt: skip
DECLARED = ["TEXT", "INTEGER", "REAL", "BLOB", "NUMERIC", "DATE", "", "DECIMAL(10,2)", "BOOLEAN"]
SQL_MUTATION = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 20), st.integers(0, 20), st.sampled_from(SQL_VALUES)),
    st.tuples(st.just("row"), st.integers(0, 20)),
    st.tuples(st.just("column"), st.sampled_from(["segment", "quantity", "currency", "x y"]),
              st.sampled_from(SQL_VALUES)),
)  # fmt: skip


def sqlite_file(path: Path, rows: list[dict], declared: list[str], mutations) -> None:
    """Write table ``t`` of ``rows`` (columns of the declared types), then mutate rows and columns."""
    columns = list(rows[0])
    values = [[row[c] for c in columns] for row in rows]
    for mutation in mutations:
        if mutation[0] == "value" and values:
            values[mutation[1] % len(values)][mutation[2] % len(columns)] = mutation[3]
        elif mutation[0] == "row" and values:
            values.append(list(values[mutation[1] % len(values)]))
        elif mutation[0] == "column" and mutation[1] not in columns:
            columns.append(mutation[1])
            for row in values:
                row.append(mutation[2])
    types = [declared[i % len(declared)] for i in range(len(columns))]
    with sqlite3.connect(path) as connection:
        definition = ", ".join(f'"{c}" {t}' for c, t in zip(columns, types, strict=True))
        connection.execute(f"CREATE TABLE t ({definition})")
        connection.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", values)
    connection.close()


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


READ_QUERIES = ["SELECT * FROM t", "select * from t where 1", "SELECT * FROM t ORDER BY rowid DESC",
                "WITH x AS (SELECT * FROM t) SELECT * FROM x", "SELECT * FROM t UNION ALL SELECT * FROM t",
                "SELECT * FROM t LIMIT 0", "SELECT * FROM t WHERE customer_id = 'A'",
                "SELECT customer_id, customer_id FROM t", "SELECT 1", "SELECT * FROM missing", "SELECT * FROM t;",
                "SELECT * FROM t -- comment", "/* c */ SELECT * FROM t", "SELEC * FROM t", "SELECT * FROM t WHERE",
                "", "   ", ";"]  # fmt: skip
WRITE_STATEMENTS = ["DROP TABLE t", "DELETE FROM t RETURNING *", "UPDATE t SET customer_id = 'Z' RETURNING *",
                    "INSERT INTO t SELECT * FROM t RETURNING *", "VACUUM INTO '{folder}/copy.db'", "VACUUM",
                    "PRAGMA journal_mode = wal", "PRAGMA user_version = 7", "PRAGMA table_info(t)",
                    "ATTACH DATABASE '{folder}/other.db' AS other", "CREATE TABLE u AS SELECT * FROM t",
                    "SELECT * FROM t; DROP TABLE t", "WITH x AS (SELECT 1) DELETE FROM t RETURNING *",
                    "REPLACE INTO t SELECT * FROM t RETURNING *", "CREATE VIEW v AS SELECT * FROM t",
                    "BEGIN; DELETE FROM t; COMMIT", "ANALYZE", "REINDEX"]  # fmt: skip


def _query_variant(query: str, style: int) -> str:
    """The same statement spelt another way: case, leading space or comment, trailing semicolon."""
    return [query, query.lower(), "  \n" + query, "-- note\n" + query, "/* x */ " + query, query + " ;"][style]


@FUZZ
@given(
    shape=SHAPE,
    declared=st.lists(st.sampled_from(DECLARED), min_size=1, max_size=4),
    mutations=st.lists(SQL_MUTATION, max_size=4),
    how=st.sampled_from(["table", "query"]),
    on_invalid=ON_INVALID,
)
def test_fuzz_sqlite_rows(tmp_path_factory, shape, declared, mutations, how, on_invalid):  # fmt: skip
    folder = tmp_path_factory.mktemp("sqlite")
    path = folder / f"{shape}.db"
    sqlite_file(path, SEEDS[shape], declared, mutations)
    source = {"table": "t"} if how == "table" else {"query": "SELECT * FROM t"}
    load_and_check(path, on_invalid, **source)


@FUZZ
@given(shape=SHAPE, write=st.booleans(), index=st.integers(0, 100), style=st.integers(0, 5), on_invalid=ON_INVALID)
def test_fuzz_sqlite_query_text(tmp_path_factory, shape, write, index, style, on_invalid):
    folder = tmp_path_factory.mktemp("sqlite")
    path = folder / f"{shape}.db"
    sqlite_file(path, SEEDS[shape], ["TEXT"], [])
    statements = WRITE_STATEMENTS if write else READ_QUERIES
    query = _query_variant(statements[index % len(statements)].format(folder=folder), style)
    load_and_check(path, on_invalid, write=write, query=query)


# --- the CSV structure properties ------------------------------------------------------------------

ID = st.text(st.sampled_from("AbZ09-_. ,;|\"'é"), min_size=1, max_size=5).filter(lambda s: s.strip() != "")
ATTRIBUTE = st.text(st.sampled_from("ab ,;|\t\"'\n\r\r\né"), min_size=1, max_size=8).filter(lambda s: s.strip() != "")
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
SNAPSHOT = st.tuples(st.sampled_from(MONTHS), st.sampled_from(["Core", "Add on", "x,y"]),
                     st.integers(1, 10**8).map(lambda c: f"{c // 100}.{c % 100:02d}"))  # fmt: skip
SUBSCRIPTION = st.tuples(
    st.sampled_from(["2024-01-01", "2024-02-15", "2024-03-31"]),
    st.sampled_from(["", "2024-04-01", "2024-07-31"]),
    st.sampled_from(["Core", "Add on"]),
    st.sampled_from(["10", "99.99", "1200.01", "0.29"]),
    st.sampled_from(["month", "year", "quarter", "week"]),
    st.sampled_from(["1", "3", ""]),
)


@st.composite
def tables(draw):
    """``(columns, rows)``: valid rows of one shape; each customer keeps one segment (its attributes are its own)."""
    shape = draw(SHAPE)
    customers = draw(st.dictionaries(ID, ATTRIBUTE, min_size=1, max_size=4))
    ids = sorted(customers)
    if shape == "snapshots":
        columns = ["customer_id", "month", "product", "mrr", "segment"]
        keys = draw(st.lists(st.tuples(st.sampled_from(ids), SNAPSHOT), min_size=1, max_size=12,
                             unique_by=lambda r: (r[0], r[1][0], r[1][1])))  # fmt: skip
        rows = [[c, month, product, mrr, customers[c]] for c, (month, product, mrr) in keys]
    else:
        columns = ["customer_id", "start_date", "end_date", "product", "amount", "billing_period", "quantity",
                   "segment"]  # fmt: skip
        drawn = draw(st.lists(st.tuples(st.sampled_from(ids), SUBSCRIPTION), min_size=1, max_size=10))
        rows = [[c, *values, customers[c]] for c, values in drawn]
    return shape, columns, rows


def written(columns, rows, *, quoting=csv.QUOTE_MINIMAL, delimiter=",", newline="\n", bom=False,
            blank_after=()) -> bytes:  # fmt: skip
    """
    The rows as CSV. Each line is written with ``\r\n`` and its terminator then replaced:
    Python's writer quotes a field holding ``\r`` only when ``\r`` is in the line terminator.
    """
    lines = []
    for i, row in enumerate([columns, *rows]):
        buffer = io.StringIO(newline="")
        csv.writer(buffer, quoting=quoting, delimiter=delimiter, lineterminator="\r\n").writerow(row)
        lines.append(buffer.getvalue()[:-2] + newline + (newline if i - 1 in blank_after else ""))
    return (b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode()


def fingerprint(ledger) -> dict:
    """What must not depend on how the file was written: the ledger and the row accounting."""
    frame = ledger.frame.astype({c: str for c in ledger.frame.columns if c != "mrr_cents"})
    mrr = {tuple(k): int(v) for k, v in frame.groupby(["customer_id", "product", "month"])["mrr_cents"].sum().items()}
    q = ledger.quality
    return {"mrr": mrr, "segments": sorted(set(zip(frame["customer_id"], frame.get("segment", ""), strict=True))),
            "read": q.rows_read, "used": q.rows_used,
            "excluded": dict(zip(q.excluded["reason"], q.excluded["rows"], strict=True)),
            "notes": dict(zip(q.notes["note"], q.notes["count"], strict=True)), "window": (str(ledger.first_month),
                                                                           str(ledger.last_month))}  # fmt: skip


STRUCTURE = settings(FUZZ, max_examples=max(EXAMPLES, 10))


@STRUCTURE
@given(table=tables(), quoting=st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC]),
       delimiter=st.sampled_from([",", ";", "\t", "|"]), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(),
       blank_after=st.sets(st.integers(0, 12), max_size=3), data=st.data())  # fmt: skip
def test_csv_structure_does_not_change_the_ledger(tmp_path_factory, table, quoting, delimiter, newline, bom,
                                                  blank_after, data):  # fmt: skip
    shape, columns, rows = table
    folder = tmp_path_factory.mktemp("structure")
    # snapshots end at their last month (an as_of past it is an error); subscriptions run to as_of
    options = {"kind": shape, "as_of": "2024-12-31" if shape == "subscriptions" else None, "today": TODAY}
    (folder / "plain.csv").write_bytes(written(columns, rows))
    expected = fingerprint(load_ledger(folder / "plain.csv", **options))
    assert expected["read"] == len(rows) == expected["used"] + sum(expected["excluded"].values())
    styled = written(columns, rows, quoting=quoting, delimiter=delimiter, newline=newline, bom=bom,
                     blank_after=blank_after)  # fmt: skip
    (folder / "styled.csv").write_bytes(styled)
    assert fingerprint(load_ledger(folder / "styled.csv", **options)) == expected, styled
    order = data.draw(st.permutations(range(len(rows))), label="row order")
    (folder / "shuffled.csv").write_bytes(written(columns, [rows[i] for i in order], quoting=quoting,
                                                  delimiter=delimiter, newline=newline))  # fmt: skip
    assert fingerprint(load_ledger(folder / "shuffled.csv", **options)) == expected


# --- the failure classes found so far: minimal inputs, through the API and the CLI --------------------


def _xlsx_without(part: str) -> bytes:
    return mutate_xlsx(xlsx_bytes(SNAPSHOT_ROWS), ("drop", sorted(_xlsx_parts()).index(part)))


def _xlsx_parts() -> list[str]:
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(SNAPSHOT_ROWS))) as workbook:
        return workbook.namelist()


def _xlsx_cut_sheet() -> bytes:
    """The sheet's XML cut in the middle of its cells (a download that stopped)."""
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(SNAPSHOT_ROWS))) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:600]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, content in parts.items():
            out.writestr(name, content)
    return buffer.getvalue()


def _parquet_uint64_count() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = parquet_table(SUBSCRIPTION_ROWS, False)
    index = table.column_names.index("billing_interval_count")
    table = table.set_column(index, "billing_interval_count", pa.array([2**64 - 1] * table.num_rows, pa.uint64()))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _parquet_with(rows: list[dict], column: str, array) -> bytes:
    import pyarrow.parquet as pq

    table = parquet_table(rows, False)
    table = table.set_column(table.column_names.index(column), column, array)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _nested_mrr() -> bytes:
    import pyarrow as pa

    return _parquet_with(SNAPSHOT_ROWS, "mrr", pa.array([[1]] * len(SNAPSHOT_ROWS), pa.list_(pa.int64())))


def _decimal_end_date() -> bytes:
    import pyarrow as pa

    return _parquet_with(SUBSCRIPTION_ROWS, "end_date", pa.array([Decimal("999.99")] * 3, pa.decimal128(5, 2)))


def _sqlite(rows: list[dict], mutations=(), declared=("TEXT",)) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kit-fuzz-") as folder:
        path = Path(folder) / "seed.db"
        sqlite_file(path, rows, list(declared), list(mutations))
        return path.read_bytes()


#: name -> (file name, a function making the file's bytes, load options). Each is the shrunk
#: input of one failure class the harness found on the code of its day; all must pass.
REPRODUCERS = {
    "xlsx without its worksheet part": ("book.xlsx", lambda: _xlsx_without("xl/worksheets/sheet1.xml"), {}),
    "xlsx with the sheet XML cut short": ("book.xlsx", _xlsx_cut_sheet, {}),
    "parquet uint64 count above int64": ("subs.parquet", _parquet_uint64_count, {}),
    "parquet nested (list) mrr column": ("snap.parquet", _nested_mrr, {}),
    "parquet decimal in a date column": ("subs.parquet", _decimal_end_date, {}),
    "sqlite INTEGER quantity at int64 max": ("subs.db", lambda: _sqlite(SUBSCRIPTION_ROWS, [("value", 2, 6, BIG)],
                                                                       ["INTEGER"]), {"table": "t"}),
    "sqlite BLOB customer id": ("subs.db", lambda: _sqlite(SUBSCRIPTION_ROWS, [("value", 0, 0, b"\xff\x00")]),
                                {"table": "t"}),
    "sqlite DELETE ... RETURNING": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "DELETE FROM t RETURNING *"}),
    "sqlite WITH ... DELETE ... RETURNING": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS),
                                             {"query": "WITH x AS (SELECT 1) DELETE FROM t RETURNING *"}),
    "sqlite DROP TABLE": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "DROP TABLE t"}),
    "sqlite CREATE TABLE AS": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS),
                               {"query": "CREATE TABLE u AS SELECT * FROM t"}),
    "sqlite VACUUM": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "VACUUM"}),
    "sqlite PRAGMA user_version": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "PRAGMA user_version = 7"}),
    "sqlite PRAGMA journal_mode": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "PRAGMA journal_mode = wal"}),
    "sqlite ANALYZE": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "ANALYZE"}),
    "sqlite ATTACH": ("snap.db", lambda: _sqlite(SNAPSHOT_ROWS), {"query": "ATTACH DATABASE 'other.db' AS other"}),
}  # fmt: skip
WRITES = {name for name, (_, _, options) in REPRODUCERS.items() if "query" in options}


def _reproducer(tmp_path: Path, name: str) -> tuple[Path, dict]:
    file_name, make, options = REPRODUCERS[name]
    path = tmp_path / file_name
    path.write_bytes(make())
    return path, options


@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_reproducer_api(tmp_path, name, monkeypatch):
    path, options = _reproducer(tmp_path, name)
    monkeypatch.chdir(tmp_path)  # a relative ATTACH lands here, where the folder check sees it
    for on_invalid in ("raise", "quarantine"):
        load_and_check(path, on_invalid, write=name in WRITES, **options)


@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_reproducer_cli(tmp_path, name):
    path, options = _reproducer(tmp_path, name)
    before = folder_state(tmp_path)
    argv = [sys.executable, "-m", "kit", "summary", str(path)]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr
    assert path.name in done.stderr and done.stdout == ""
    assert folder_state(tmp_path) == before, "the command changed the data's folder"
