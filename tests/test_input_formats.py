"""
Issue 8, formats: damaged or tricky Excel workbooks, Parquet columns of unusual types,
integer months from typed sources, SQLite columns of odd types.

Every case runs through the API (:func:`kit.load_ledger`: the kit's own error, naming the
file and what is wrong, or the exact ledger) and through the CLI (``python -m kit summary``
in-process: exit status 2, one or two lines starting ``error:``, no traceback). Damaged
workbooks are built in the test from a small valid one (openpyxl writes it; zipfile edits it).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, TODAY

import kit
from kit.cli import main
from kit.errors import LoadError

#: Snapshot rows of the small valid data set: (customer_id, month, product, mrr).
ROWS = [("A", "2024-01", "P", 10), ("A", "2024-02", "P", 12.5), ("B", "2024-02", "P", 20)]
#: Its MRR in cents per (customer, month).
CENTS = {("A", "2024-01"): 1000, ("A", "2024-02"): 1250, ("B", "2024-02"): 2000}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``python -m kit`` in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_error(capsys, path: Path, match: str, *options) -> str:
    """``kit summary path``: exit status 2, one or two lines starting ``error:`` matching, no traceback."""
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29", *options)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err and out == ""
    assert re.search(match, err, re.S), (match, err)
    return err


def cents(ledger: kit.Ledger) -> dict[tuple[str, str], int]:
    frame = ledger.frame.assign(customer_id=ledger.frame["customer_id"].astype(str),
                                month=ledger.frame["month"].astype(str))  # fmt: skip
    return {k: int(v) for k, v in frame.groupby(["customer_id", "month"])["mrr_cents"].sum().items()}


def load(path, **options) -> kit.Ledger:
    return kit.load_ledger(path, today=TODAY, as_of="2024-02-29", **options)


# --- Excel: building and damaging workbooks ----------------------------------------------------------


def workbook(path: Path, rows=ROWS, *, sheets=None, edit=None) -> Path:
    """A valid workbook of ``rows`` under the header customer_id, month, product, mrr (sheet "Data").

    ``sheets``: ``{title: state}`` for more sheets holding other data (created before "Data"
    when their title starts with "0"); ``edit(ws)`` changes the data sheet before saving.
    """
    from openpyxl import Workbook

    book = Workbook()
    data = book.active
    data.title = "Data"
    data.append(["customer_id", "month", "product", "mrr"])
    for row in rows:
        data.append(list(row))
    for title, state in (sheets or {}).items():
        other = book.create_sheet(title, 0 if title.startswith("0") else None)
        other.append(["customer_id", "month", "product", "mrr"])
        other.append(["HIDDEN", "2024-01", "P", 999])
        other.sheet_state = state
    if edit:
        edit(data)
    book.save(path)
    return path


def rezip(path: Path, change) -> Path:
    """Rewrite the zip at ``path``: ``change(name, bytes)`` returns new bytes, or None to leave the part out."""
    with zipfile.ZipFile(path) as source:
        parts = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts:
            new = change(name, data)
            if new is not None:
                target.writestr(name, new)
    return path


def part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


SHEET = "xl/worksheets/sheet1.xml"


def _cut_sheet(name, data):
    return data[: len(data) // 2] if name == SHEET else data


def _unclosed_row(name, data):
    return data.replace(b"</row>", b"", 1) if name == SHEET else data


def _bad_cell_reference(name, data):
    return re.sub(rb'r="A2"', b'r="2A"', data, count=1) if name == SHEET else data


def _no_sheet_part(name, data):
    return None if name == SHEET else data


def _no_sheets(name, data):
    return re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data, flags=re.S) if name == "xl/workbook.xml" else data


def _content_types_lie(name, data):  # the manifest names no workbook part
    if name != "[Content_Types].xml":
        return data
    return re.sub(rb'<Override PartName="/xl/workbook.xml"[^>]*/>', b"", data)


def _content_types_garbage(name, data):
    return b"<Types><not xml" if name == "[Content_Types].xml" else data


DAMAGED = [
    ("cut-worksheet-xml", _cut_sheet, r"x\.xlsx, sheet 'Data': not a readable worksheet \(.*\); the file is damaged"),
    ("unclosed-row", _unclosed_row, r"x\.xlsx, sheet 'Data': not a readable worksheet"),
    ("bad-cell-reference", _bad_cell_reference, r"x\.xlsx, sheet 'Data': not a readable worksheet"),
    (
        "missing-sheet-part",
        _no_sheet_part,
        r"x\.xlsx: not a readable Excel workbook \(sheet 'Data' has no worksheet part in the file "
        r"\(xl/worksheets/sheet1\.xml is missing\)\)",
    ),
    ("no-sheets", _no_sheets, r"x\.xlsx: the workbook has no worksheet"),
    ("content-types-lie", _content_types_lie, r"x\.xlsx: not a readable Excel workbook \(.*workbook part"),
    ("content-types-garbage", _content_types_garbage, r"x\.xlsx: not a readable Excel workbook \(.*\)"),
]


@pytest.mark.parametrize("change, match", [c[1:] for c in DAMAGED], ids=[c[0] for c in DAMAGED])
def test_damaged_xlsx(tmp_path, capsys, change, match):
    path = rezip(workbook(tmp_path / "x.xlsx"), change)
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_the_undamaged_workbook_reads_exactly(tmp_path, capsys):
    path = workbook(tmp_path / "x.xlsx")
    ledger = load(path)
    assert cents(ledger) == CENTS
    assert ledger.quality.details["sheet"] == "Data" and "sheet note" not in ledger.quality.details
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0 and "note:" not in err, err


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_broken_zip(tmp_path, capsys, cut):
    path = workbook(tmp_path / "x.xlsx")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    match = r"x\.xlsx: not a readable Excel workbook \(.*\)"
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_not_a_zip_at_all(tmp_path, capsys):
    path = tmp_path / "x.xlsx"
    path.write_text("customer_id,month,product,mrr\nA,2024-01,P,10\n")
    match = r"x\.xlsx: not a readable Excel workbook \(not a zip archive"
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_cells_with_excel_errors(tmp_path, capsys):
    def errors(ws):
        ws["D3"] = "#REF!"
        ws["B4"] = "#N/A"

    path = workbook(tmp_path / "x.xlsx", edit=errors)
    assert b't="e"' in part(path, SHEET)  # stored as error cells, not as text
    match = r"x\.xlsx, sheet 'Data': cells D3 \(#REF!\), B4 \(#N/A\) hold an Excel error value, not data"
    with pytest.raises(LoadError, match=match):  # in the order of the sheet: row 3, then row 4
        load(path)
    assert_cli_error(capsys, path, r"cells D3 \(#REF!\), B4 \(#N/A\) hold an Excel error value")


def test_an_error_in_a_title_row_above_the_header_is_not_data(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["#DIV/0!"])
    ws.append(["customer_id", "month", "product", "mrr"])
    for row in ROWS:
        ws.append(list(row))
    book.save(tmp_path / "t.xlsx")
    assert cents(load(tmp_path / "t.xlsx", header_row=1)) == CENTS


def test_formulas_without_saved_values(tmp_path, capsys):
    def formulas(ws):
        ws["D2"] = "=5+5"
        ws["D4"] = "=SUM(D2:D3)"

    path = workbook(tmp_path / "x.xlsx", edit=formulas)
    assert b"<f>5+5</f><v />" in part(path, SHEET)  # openpyxl saves no value (it does not calculate)
    match = (
        r"x\.xlsx, sheet 'Data': cells D2 \(=5\+5\), D4 \(=SUM\(D2:D3\)\) have formulas without a saved value"
        r".*open and save the file in Excel or LibreOffice"
    )
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_formulas_with_saved_values_read_as_their_values(tmp_path):
    path = workbook(tmp_path / "x.xlsx", edit=lambda ws: ws.__setitem__("D2", "=5+5"))
    # what Excel saves: the formula and its value
    rezip(path, lambda n, d: d.replace(b"<f>5+5</f><v />", b"<f>5+5</f><v>10</v>") if n == SHEET else d)
    assert b"<f>5+5</f><v>10</v>" in part(path, SHEET)
    assert cents(load(path)) == CENTS


def test_a_formula_whose_saved_value_is_empty_text_is_an_empty_cell(tmp_path):
    path = workbook(tmp_path / "x.xlsx")
    cell = b'<c r="E2" t="str"><f>IF(1,"","x")</f><v></v></c>'
    rezip(path, lambda n, d: d.replace(b'</row><row r="3"', cell + b'</row><row r="3"') if n == SHEET else d)
    assert cell in part(path, SHEET)
    ledger = load(path)
    assert cents(ledger) == CENTS and "columns note" not in ledger.quality.details


def test_values_right_of_the_header_are_named(tmp_path, capsys):
    path = workbook(tmp_path / "x.xlsx", edit=lambda ws: ws.__setitem__("F3", "a stray note"))
    ledger = load(path)
    assert cents(ledger) == CENTS
    assert ledger.quality.details["columns note"] == "1 cell right of the header (column D) not read: F3"
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0 and "note: 1 cell right of the header (column D) not read: F3" in err, err


# --- Excel: a dimension claiming the last cell ----------------------------------------------------------


def _claim_last_cell(path: Path) -> Path:
    return rezip(path, lambda n, d: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', d)
                 if n == SHEET else d)  # fmt: skip


def test_dimension_claiming_the_last_cell_reads_the_real_cells(tmp_path, capsys):
    path = _claim_last_cell(workbook(tmp_path / "x.xlsx"))
    assert b'<dimension ref="A1:XFD1048576"' in part(path, SHEET)
    assert path.stat().st_size < 10_000
    ledger = load(path)
    assert cents(ledger) == CENTS and ledger.quality.rows_read == 3
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0, err


def test_dimension_claiming_the_last_cell_in_bounded_memory_and_time(tmp_path):
    """In a child process with its peak memory measured: under 400 MB and 60 s (it once took 24 GB)."""
    path = _claim_last_cell(workbook(tmp_path / "x.xlsx"))
    script = (
        "import resource, sys, time\n"
        "import kit\n"
        "from datetime import date\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.perf_counter()\n"
        "ledger = kit.load_ledger(sys.argv[1], today=date(2026, 11, 24))\n"
        "print(len(ledger.frame), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,\n"
        "      time.perf_counter() - start)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows, grown_kb, seconds = done.stdout.split()
    assert int(rows) == 3
    assert int(grown_kb) < 400_000, f"peak memory grew by {int(grown_kb) // 1024} MB"
    assert float(seconds) < 60


# --- Excel: hidden sheets --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_first_sheet_is_not_read_by_default(tmp_path, capsys, state):
    path = workbook(tmp_path / "x.xlsx", sheets={"0 Old": state})
    from openpyxl import load_workbook

    assert load_workbook(path).sheetnames == ["0 Old", "Data"]
    ledger = load(path)
    assert cents(ledger) == CENTS  # not the HIDDEN customer of the first sheet
    details = ledger.quality.details
    assert details["sheet"] == "Data"
    note = "hidden sheet '0 Old' not read; the first visible sheet 'Data' was (name a sheet with sheet=, CLI --sheet)"
    assert details["sheet note"] == note
    table = ledger.quality.table().set_index("item")["value"]
    assert table["sheet"] == "Data" and table["sheet note"] == note  # the report's appendix shows this table
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0 and f"note: {note}" in err, err


def test_a_hidden_sheet_named_is_read_with_a_note(tmp_path, capsys):
    path = workbook(tmp_path / "x.xlsx", sheets={"0 Old": "hidden"})
    ledger = kit.load_ledger(path, today=TODAY, as_of="2024-01-31", sheet="0 Old")  # the sheet ends in 2024-01
    assert cents(ledger) == {("HIDDEN", "2024-01"): 99900}
    assert ledger.quality.details["sheet note"] == "sheet '0 Old' is hidden in the workbook (read because it was named)"
    code, out, err = run_cli(capsys, "summary", path, "--sheet", "0 Old", "--as-of", "2024-01-31")
    assert code == 0 and "note: sheet '0 Old' is hidden in the workbook" in err, err


def test_a_hidden_sheet_after_the_visible_one_says_nothing(tmp_path):
    ledger = load(workbook(tmp_path / "x.xlsx", sheets={"Later": "hidden"}))
    assert cents(ledger) == CENTS and "sheet note" not in ledger.quality.details


def test_every_sheet_hidden_reads_the_first_with_a_note(tmp_path):
    path = workbook(tmp_path / "x.xlsx", sheets={"0 Old": "hidden"})
    rezip(path, lambda n, d: d.replace(b'state="visible"', b'state="hidden"') if n == "xl/workbook.xml" else d)
    assert part(path, "xl/workbook.xml").count(b'state="hidden"') == 2
    ledger = kit.load_ledger(path, today=TODAY, as_of="2024-01-31")
    assert cents(ledger) == {("HIDDEN", "2024-01"): 99900}
    assert ledger.quality.details["sheet note"] == "every sheet is hidden; the first, '0 Old', was read"


# --- Parquet: nested columns and unusual types -------------------------------------------------------


def parquet(path: Path, **changes) -> Path:
    """The small data set as Parquet, columns replaced or added by ``changes`` (Arrow arrays)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"customer_id": pa.array([r[0] for r in ROWS]), "month": pa.array([r[1] for r in ROWS]),
               "product": pa.array([r[2] for r in ROWS]), "mrr": pa.array([float(r[3]) for r in ROWS])}  # fmt: skip
    columns.update(changes)
    pq.write_table(pa.table(columns), path)
    return path


def _nested_cases():
    import pyarrow as pa

    return {
        "id-list": ("customer_id", pa.array([["A"], ["A"], ["B"]]), r"list<element: string>"),
        "id-struct": ("customer_id", pa.array([{"x": "A"}, {"x": "A"}, {"x": "B"}]), r"struct<x: string>"),
        "amount-map": (
            "mrr",
            pa.array([[("k", 1.0)]] * 3, type=pa.map_(pa.string(), pa.float64())),
            r"map<string, double",
        ),
        "month-large-list": ("month", pa.array([["2024-01"]] * 3, type=pa.large_list(pa.string())), r"large_list<"),
        "extra-list": ("tags", pa.array([["a"], ["b"], []]), r"list<element: string>"),
        "extra-struct": ("meta", pa.array([{"x": 1}, {"x": 2}, {"x": 3}]), r"struct<x: int64>"),
    }


@pytest.mark.parametrize("case", ["id-list", "id-struct", "amount-map", "month-large-list", "extra-list",
                                  "extra-struct"])  # fmt: skip
def test_nested_parquet_columns_are_refused_by_name_and_type(tmp_path, capsys, case):
    column, values, kind = _nested_cases()[case]
    path = parquet(tmp_path / "n.parquet", **{column: values})
    match = (
        rf"n\.parquet: column '{column}' holds nested values \({kind}.*\), which the kit cannot read"
        r".*write the file without it"
    )
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_a_dictionary_of_structs_is_refused_before_reading(tmp_path):
    import pyarrow as pa

    from kit.sources import _check_parquet_types

    kind = pa.dictionary(pa.int8(), pa.struct([("x", pa.string())]))
    with pytest.raises(LoadError, match=r"d\.parquet: column 'customer_id' holds nested values \(dictionary<"):
        _check_parquet_types("d.parquet", pa.schema([("customer_id", kind)]), pa)


def test_float16_amounts_are_refused(tmp_path, capsys):
    import pyarrow as pa

    path = parquet(tmp_path / "h.parquet", mrr=pa.array([10.0, 12.5, 1234.56], type=pa.float32()).cast(pa.float16()))
    match = r"h\.parquet: column 'mrr' is float16 \(half precision, about 3 significant digits\)"
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def _exact_cases():
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa

    day = [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), dt.datetime(2024, 2, 1)]
    return {
        "large-string-ids": {"customer_id": pa.array(["A", "A", "B"], type=pa.large_string())},
        "dictionary-int8-ids": {
            "customer_id": pa.array(["A", "A", "B"]).dictionary_encode().cast(pa.dictionary(pa.int8(), pa.string()))
        },
        "binary-ids": {"customer_id": pa.array([b"A", b"A", b"B"])},
        "fixed-binary-ids": {"customer_id": pa.array([b"A", b"A", b"B"], type=pa.binary(1))},
        "dictionary-binary-ids": {"customer_id": pa.array([b"A", b"A", b"B"]).dictionary_encode()},
        "timestamp-utc-months": {"month": pa.array(day, type=pa.timestamp("us", tz="UTC"))},
        "timestamp-tz-months": {
            "month": pa.array(day, type=pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz="America/New_York"))
        },  # the same instants: the date in UTC
        "date64-months": {"month": pa.array([d.date() for d in day], type=pa.date64())},
        "large-string-months": {"month": pa.array(["2024-01", "2024-02", "2024-02"], type=pa.large_string())},
        "decimal256-amounts": {
            "mrr": pa.array([Decimal("10.00"), Decimal("12.50"), Decimal("20.00")], type=pa.decimal256(40, 2))
        },
        "uint64-amounts-in-cents-of-major-units": {"mrr": pa.array([10, 12, 20], type=pa.uint64())},
    }


@pytest.mark.parametrize("case", list(_exact_cases()))
def test_unusual_parquet_types_read_exactly(tmp_path, capsys, case):
    path = parquet(tmp_path / "u.parquet", **_exact_cases()[case])
    expected = dict(CENTS)
    if case.startswith("uint64"):
        expected[("A", "2024-02")] = 1200  # 12, an integer amount: 12.00
    ledger = load(path)
    assert cents(ledger) == expected
    if "binary" in case:
        assert ledger.quality.details["columns note"] == "binary columns read as UTF-8 text: customer_id"
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0, err
    assert out.splitlines()[1].startswith("2024-02,10.00,20.00,")


def test_a_timestamp_with_a_time_zone_is_dated_in_utc(tmp_path):
    """RELIABILITY row 13: 2024-02-01 08:30 in Tokyo is 2024-01-31 23:30 UTC, a January month."""
    import datetime as dt

    import pyarrow as pa

    instants = pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), dt.datetime(2024, 1, 31, 23, 30)],
                        type=pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz="Asia/Tokyo"))  # fmt: skip
    assert instants[2].as_py().day == 1  # in Tokyo, February
    ledger = load(parquet(tmp_path / "t.parquet", month=instants))
    assert cents(ledger) == {("A", "2024-01"): 1000, ("A", "2024-02"): 1250, ("B", "2024-01"): 2000}


def test_binary_that_is_not_utf8_is_refused(tmp_path, capsys):
    import pyarrow as pa

    path = parquet(tmp_path / "b.parquet", customer_id=pa.array([b"\xff\xfe", b"A", b"B"]))
    match = r"b\.parquet: column 'customer_id' holds bytes \(binary\) that are not UTF-8 text"
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_large_integers_read_exactly_even_with_nulls(tmp_path):
    import pyarrow as pa

    big = 2**60 + 1  # float64 would make it 2**60
    path = parquet(tmp_path / "i.parquet", customer_id=pa.array([big, big, 2**64 - 1], type=pa.uint64()),
                   score=pa.array([big, None, 3]))  # fmt: skip
    ledger = load(path, on_invalid="quarantine")
    ids = set(ledger.frame["customer_id"].astype(str))
    assert ids == {str(big), str(2**64 - 1)}
    assert set(ledger.frame["score"].astype(str)) == {str(big), "", "3"}


def test_uint64_amounts_beyond_int64_are_too_large_not_negative(tmp_path):
    import pyarrow as pa

    path = parquet(tmp_path / "a.parquet", mrr=pa.array([10, 12, 2**64 - 1], type=pa.uint64()))
    with pytest.raises(kit.ValidationError, match=r"amount above 1,000,000,000,000: 1 row, e.g. row 3"):
        load(path)


# --- integer months: never an Excel serial outside Excel ------------------------------------------------------


@pytest.mark.parametrize("months, shown", [([202401, 202402, 202402], "202401"), ([45292, 45323, 45323], "45292"),
                                           ([1, 2, 2], "1")])  # fmt: skip
def test_integer_months_from_parquet_are_an_error(tmp_path, capsys, months, shown):
    import pyarrow as pa

    path = parquet(tmp_path / "m.parquet", month=pa.array(months))
    match = (
        rf"m\.parquet, column month: holds numbers \(e\.g\. {shown}\), which are not read as dates outside Excel"
        r".*store dates, or text YYYY-MM or YYYY-MM-DD.*date_format='%Y%m' \(CLI --date-format %Y%m\)"
    )
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)


def test_integer_yyyymm_months_read_with_date_format(tmp_path, capsys):
    import pyarrow as pa

    path = parquet(tmp_path / "m.parquet", month=pa.array([202401, 202402, 202402]))
    assert cents(load(path, date_format="%Y%m")) == CENTS
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29", "--date-format", "%Y%m")
    assert code == 0 and out.splitlines()[1].startswith("2024-02,10.00,20.00,"), err
    bad = parquet(tmp_path / "bad.parquet", month=pa.array([202401, 202413, 202402]))
    with pytest.raises(kit.ValidationError, match=r"row 2, column month: '202413'"):
        load(bad, date_format="%Y%m")


def test_integer_months_in_a_dataframe_are_an_error(capsys):
    frame = pd.DataFrame({"customer_id": ["A", "A", "B"], "month": [202401, 202402, 202402],
                          "product": "P", "mrr": ["10", "12.5", "20"]})  # fmt: skip
    with pytest.raises(LoadError, match=r"the DataFrame, column month: holds numbers \(e\.g\. 202401\)"):
        load(frame)
    assert cents(load(frame, date_format="%Y%m")) == CENTS


def test_integer_dates_in_subscriptions_are_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "customer_id": ["A"],
            "product": ["P"],
            "start_date": pa.array([20240101]),
            "end_date": pa.array([None], type=pa.int64()),
            "amount": [10.0],
            "billing_period": ["month"],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    with pytest.raises(LoadError, match=r"s\.parquet, column start_date: holds numbers \(e\.g\. 20240101\)"):
        load(tmp_path / "s.parquet")
    ledger = load(tmp_path / "s.parquet", date_format="%Y%m%d")
    assert cents(ledger) == {("A", "2024-01"): 1000, ("A", "2024-02"): 1000}


def test_excel_serial_dates_still_read_in_excel(tmp_path):
    rows = [("A", 45292, "P", 10), ("A", 45323, "P", 12.5), ("B", 45323.5, "P", 20)]  # 2024-01-01, 2024-02-01
    path = workbook(tmp_path / "s.xlsx", rows)
    assert cents(load(path)) == CENTS


def test_excel_numbers_shaped_like_yyyymm_are_an_error(tmp_path, capsys):
    rows = [("A", 202401, "P", 10), ("A", 202402, "P", 12.5), ("B", 202402, "P", 20)]
    path = workbook(tmp_path / "y.xlsx", rows)
    match = (
        r"y\.xlsx \(sheet 'Data'\), column month: holds numbers like 202401, which look like dates written as "
        r"digits \(YYYYMM or YYYYMMDD\), not Excel dates; pass date_format=, e\.g\. '%Y%m'"
    )
    with pytest.raises(LoadError, match=match):
        load(path)
    assert_cli_error(capsys, path, match)
    assert cents(load(path, date_format="%Y%m")) == CENTS


def test_numbers_in_the_month_column_of_an_fx_table_outside_excel(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"currency": ["EUR"], "month": [202401], "rate": [1.1]}), tmp_path / "fx.parquet")
    with pytest.raises(LoadError, match=r"fx\.parquet, column month: holds numbers \(e\.g\. 202401\)"):
        kit.ledger.load_fx(tmp_path / "fx.parquet")


# --- SQLite columns of odd types -----------------------------------------------------------------------------


def sqlite_table(path: Path, rows, declared="customer_id BLOB, month TEXT, product TEXT, mrr REAL") -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute(f"create table t ({declared})")
        connection.executemany("insert into t values (?, ?, ?, ?)", rows)
    return path


def test_sqlite_blob_ids_and_real_amounts(tmp_path, capsys):
    rows = [(b"A", "2024-01", "P", 10.0), (b"A", "2024-02", "P", 12.5), (b"B", "2024-02", "P", 20.0)]
    path = sqlite_table(tmp_path / "s.db", rows)
    ledger = load(path, table="t")
    assert cents(ledger) == CENTS  # ids "A", "B": never "b'A'"
    assert ledger.quality.details["columns note"] == "binary columns read as UTF-8 text: customer_id"
    code, out, err = run_cli(capsys, "summary", path, "--table", "t", "--as-of", "2024-02-29")
    assert code == 0 and out.splitlines()[1].startswith("2024-02,10.00,20.00,"), err
    assert "note: binary columns read as UTF-8 text: customer_id" in err


def test_sqlite_real_amounts_round_to_the_nearest_cent(tmp_path):
    rows = [("A", "2024-01", "P", 0.1 + 0.2), ("A", "2024-02", "P", 12.345), ("B", "2024-02", "P", 2.675)]
    ledger = load(sqlite_table(tmp_path / "r.db", rows, "customer_id, month, product, mrr REAL"), table="t")
    # 0.30000000000000004 -> 30; 12.345 and 2.675 are stored as 12.3449… and 2.67499…: their shortest text rounds
    # half-even to 12.34 and 2.68 (the kit's float rule, kit/parse.py)
    assert cents(ledger) == {("A", "2024-01"): 30, ("A", "2024-02"): 1234, ("B", "2024-02"): 268}


def test_sqlite_blob_that_is_not_utf8(tmp_path, capsys):
    rows = [(b"\xff", "2024-01", "P", 10.0), (b"A", "2024-02", "P", 12.5), (b"B", "2024-02", "P", 20.0)]
    path = sqlite_table(tmp_path / "s.db", rows)
    match = r"s\.db \(table t\): column 'customer_id' holds bytes that are not UTF-8 text \(row 1\)"
    with pytest.raises(LoadError, match=match):
        load(path, table="t")
    assert_cli_error(capsys, path, match, "--table", "t")


def test_sqlite_integer_months(tmp_path, capsys):
    rows = [("A", 202401, "P", 10), ("A", 202402, "P", 12.5), ("B", 202402, "P", 20)]
    path = sqlite_table(tmp_path / "m.db", rows, "customer_id TEXT, month INTEGER, product TEXT, mrr NUMERIC")
    match = r"m\.db \(table t\), column month: holds numbers \(e\.g\. 202401\)"
    with pytest.raises(LoadError, match=match):
        load(path, table="t")
    assert_cli_error(capsys, path, match, "--table", "t")
    assert cents(load(path, table="t", date_format="%Y%m")) == CENTS


# --- properties of numbers in date columns ----------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kit import parse  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), min_size=1, max_size=5))
def test_numbers_are_never_dates_outside_excel(values):
    with pytest.raises(parse.MixedDateFormats, match=r"not read as dates outside Excel"):
        parse.parse_dates(pd.Series(values), what="month")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1900, max_value=2261), st.integers(min_value=1, max_value=12))  # within datetime64[ns]
def test_yyyymm_integers_with_date_format_are_that_month(year, month):
    days, reasons = parse.parse_dates(pd.Series([year * 100 + month]), what="month", date_format="%Y%m")
    assert reasons[0] is None
    assert str(days[0])[:10] == f"{year:04d}-{month:02d}-01"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=109_574))  # 1900-01-01 … 2199-12-31
def test_excel_serials_count_from_1899_12_30(serial):
    days, reasons = parse.parse_dates(pd.Series([serial]), what="month", serial_dates=True)
    expected = np.datetime64("1899-12-30") + np.timedelta64(serial, "D")
    assert reasons[0] is None and days[0] == expected.astype("datetime64[ns]")


def test_decimal_ids_read_as_their_text(tmp_path):
    # found by a longer fuzz run: pandas cannot factorize an Arrow decimal64 column
    import decimal

    import pyarrow as pa

    ids = pa.array([decimal.Decimal("10.00"), decimal.Decimal("10.00"), decimal.Decimal("11.50")], pa.decimal128(5, 2))
    path = parquet(tmp_path / "d.parquet", customer_id=ids)
    ledger = load(path)
    assert sorted(set(ledger.frame["customer_id"].astype(str))) == ["10.00", "11.50"]
    assert ledger.quality.rows_read == ledger.quality.rows_used + ledger.quality.rows_excluded
