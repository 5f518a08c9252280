"""
Issue 8, formats: damaged or tricky Excel workbooks, Parquet columns of unusual types,
integer months from typed sources, SQLite columns of odd types.

Every case runs through the API (:func:`kit.load_ledger`: the kit's own error, naming the
file and what is wrong, or the exact ledger) and through the CLI (``python -m kit summary``
in-process: exit status 2, one or two lines starting ``error:``, no traceback). Damaged
workbooks are built in the test from a small valid one (openpyxl writes it; zipfile edits it).
"""

from __future__ import annotations

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
    ("missing-sheet-part", _no_sheet_part,
     r"x\.xlsx: not a readable Excel workbook \(sheet 'Data' has no worksheet part in the file "
     r"\(xl/worksheets/sheet1\.xml is missing\)\)"),
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
    match = r"x\.xlsx, sheet 'Data': cells B4 \(#N/A\), D3 \(#REF!\) hold an Excel error value, not data"
    with pytest.raises(LoadError, match=match.replace("B4 \\(#N/A\\), D3 \\(#REF!\\)", "D3 \\(#REF!\\), B4 \\(#N/A\\)")):
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
    match = (r"x\.xlsx, sheet 'Data': cells D2 \(=5\+5\), D4 \(=SUM\(D2:D3\)\) have formulas without a saved value"
             r".*open and save the file in Excel or LibreOffice")
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
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
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
    ledger = load(path, sheet="0 Old")
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
