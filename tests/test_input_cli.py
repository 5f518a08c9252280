"""
The command line's inputs and outputs, as a new user met them: sheets, outputs, URLs, stray messages.

Each class is checked through the Python API and through ``python -m kit`` (exit status
and message). The data are snapshots worked out by hand: a workbook's sheets each hold
one customer with a distinct MRR, so the summary's ``mrr_end`` of February names the
sheet that was read (sheet "1": 200.00, "2023": 300.00, "2024": 400.00, "Old": 900.00).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import TODAY
from hypothesis import given
from hypothesis import strategies as st

import kit
from kit.cli import main
from kit.errors import LoadError, ParameterError
from kit.export import check_not_input, write_atomic
from kit.sources import _sheet_named, absolute_sqlite_url, check_readable, read_database, shown_path, sqlite_url_file

HEADER = ["customer_id", "month", "product", "mrr"]
#: Sheet title -> the MRR (major units) of its one customer in January and February.
MRR = {"1": 200, "2023": 300, "2024": 400, "Old": 900}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def february_mrr(out: str) -> str:
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["period"] for r in rows] == ["2024-02"], out
    return rows[0]["mrr_end"]


def workbook(path: Path, titles: list[str], hidden: tuple[str, ...] = ()) -> Path:
    """A workbook with one sheet per title, in this order, each holding its customer of :data:`MRR`."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title in titles:
        sheet = book.create_sheet(title)
        sheet.append(HEADER)
        for month in ("2024-01", "2024-02"):
            sheet.append([f"C{title}", month, "P", MRR[title]])
        sheet.sheet_state = "hidden" if title in hidden else "visible"
    book.save(path)
    return path


def load(path, **options) -> kit.Ledger:
    return kit.load_ledger(path, today=TODAY, as_of="2024-02-29", **options)


def customers(ledger: kit.Ledger) -> set[str]:
    return set(ledger.frame["customer_id"].astype(str))


# --- 1. --sheet: a name first, else a position -------------------------------------------------------


@pytest.fixture
def years(tmp_path) -> Path:
    """Sheets "1", "2023", "2024": position 1 is "2023", but the sheet *named* "1" is position 0."""
    return workbook(tmp_path / "years.xlsx", ["1", "2023", "2024"])


def test_a_sheet_named_like_a_number_is_that_sheet(years, capsys):
    ledger = load(years, sheet="1")
    assert customers(ledger) == {"C1"} and ledger.quality.details["sheet"] == "1"
    assert "sheet note" not in ledger.quality.details  # named: nothing to explain
    assert customers(load(years, sheet="2023")) == {"C2023"}
    code, out, err = run_cli(capsys, "summary", years, "--sheet", "1", "--as-of", "2024-02-29")
    assert code == 0, err
    assert february_mrr(out) == "200.00"  # sheet "1", not the second sheet "2023" (300.00)
    code, out, err = run_cli(capsys, "summary", years, "--sheet", "2024", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "400.00")


def test_digits_naming_no_sheet_are_a_position_and_the_note_says_which(years, capsys):
    ledger = load(years, sheet="2")
    assert customers(ledger) == {"C2024"}
    note = "sheet '2024' (position 2, counted from 0, hidden sheets included) was read: no sheet is named '2'"
    assert ledger.quality.details["sheet note"] == note
    code, out, err = run_cli(capsys, "summary", years, "--sheet", "2", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "400.00")
    assert f"note: {note}" in err


def test_an_int_sheet_is_a_zero_based_position(years):
    ledger = load(years, sheet=1)
    assert customers(ledger) == {"C2023"}
    assert ledger.quality.details["sheet note"] == ("sheet '2023' (position 1, counted from 0, "
                                                    "hidden sheets included) was read")  # fmt: skip
    assert customers(load(years, sheet=0)) == {"C1"}


def test_a_hidden_sheet_chosen_by_position_says_so(tmp_path, capsys):
    path = workbook(tmp_path / "x.xlsx", ["Old", "2024"], hidden=("Old",))
    assert customers(load(path)) == {"C2024"}  # by default: the first visible sheet
    ledger = load(path, sheet="0")
    assert customers(ledger) == {"COld"}
    assert ledger.quality.details["sheet note"].endswith("no sheet is named '0'; it is hidden in the workbook")
    code, out, err = run_cli(capsys, "summary", path, "--sheet", "0", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "900.00")
    assert "it is hidden in the workbook" in err


def test_no_such_sheet_or_position_is_one_line(years, capsys):
    message = (
        r"years\.xlsx: no sheet named '7' and no sheet at position 7 \(counted from 0\); "
        r"the sheets are 1, 2023, 2024"
    )
    with pytest.raises(LoadError, match=message):
        load(years, sheet="7")
    with pytest.raises(LoadError, match=r"years\.xlsx: no sheet at position 3 \(counted from 0\)"):
        load(years, sheet=3)
    with pytest.raises(LoadError, match=r"years\.xlsx: no sheet 'Data'; the sheets are 1, 2023, 2024"):
        load(years, sheet="Data")
    with pytest.raises(ParameterError, match="sheet must be a sheet name or a 0-based position"):
        load(years, sheet=True)
    code, out, err = run_cli(capsys, "summary", years, "--sheet", "7")
    assert code == 2 and out == ""
    assert err.startswith("error: years.xlsx: no sheet named '7'") and "Traceback" not in err


@given(
    titles=st.lists(
        st.sampled_from(["0", "1", "2", "3", "10", "2024", "Data", "01"]), min_size=1, max_size=5, unique=True
    ),
    asked=st.one_of(st.sampled_from(["0", "1", "2", "3", "10", "2024", "Data", "01", "4"]), st.integers(-1, 6)),
)
def test_the_sheet_rule_over_names_and_numbers(titles, asked):
    sheets = [SimpleNamespace(title=t) for t in titles]
    if isinstance(asked, str) and asked in titles:  # a name wins over a position
        expected, position = titles.index(asked), None
    else:
        position = int(asked) if isinstance(asked, int) or asked.isdigit() else None
        if position is None or not 0 <= position < len(titles):
            with pytest.raises(LoadError):
                _sheet_named(sheets, "x.xlsx", asked)
            return
        expected = position
    chosen, said = _sheet_named(sheets, "x.xlsx", asked)
    assert chosen is sheets[expected] and said == position


# --- 2. --output: never an input; mode kept; "-" is standard output ---------------------------------------


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "victim.csv"
    rows = [HEADER, ["A", "2024-01", "P", "100"], ["A", "2024-02", "P", "150"]]
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    return path


def test_the_output_is_never_the_data_or_fx_file(victim, tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match=r"victim\.csv: --output is the data file .*victim\.csv; the kit does not"):
        check_not_input(victim, {"data": str(victim)})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match="is the data file"):  # another spelling of the same path
        check_not_input(Path("./sub/../victim.csv"), {"data": victim})
    os.link(victim, tmp_path / "hard.csv")
    with pytest.raises(ParameterError, match="is the data file"):  # a hard link: the same file
        check_not_input(tmp_path / "hard.csv", {"data": victim})
    with pytest.raises(ParameterError, match="is the data file"):  # an SQLite URL's file
        check_not_input(tmp_path / "bill.db", {"data": "sqlite:///bill.db"})
    check_not_input(tmp_path / "out.csv", {"data": victim, "FX": None})  # another file: fine


def test_the_cli_refuses_to_overwrite_its_input_before_any_work(victim, tmp_path, capsys):
    before = victim.read_bytes()
    code, out, err = run_cli(capsys, "summary", victim, "--output", victim, "--as-of", "2024-02-29")
    assert code == 2 and out == ""
    assert err.startswith(f"error: {victim}: --output is the data file") and "Traceback" not in err
    assert victim.read_bytes() == before
    fx = tmp_path / "fx.csv"
    fx.write_text("currency,month,rate\nEUR,2024-01,1.1\n")
    code, out, err = run_cli(capsys, "summary", victim, "--fx", fx, "--output", fx, "--as-of", "2024-02-29")
    assert code == 2 and "--output is the FX file" in err
    assert fx.read_text() == "currency,month,rate\nEUR,2024-01,1.1\n"


def test_a_replaced_file_keeps_its_mode_a_new_one_is_0644(tmp_path, victim, capsys):
    old = tmp_path / "old.csv"
    old.write_text("x\n")
    old.chmod(0o640)
    write_atomic(old, "y\n")
    assert (old.read_text(), stat.S_IMODE(old.stat().st_mode)) == ("y\n", 0o640)
    write_atomic(old, "z\n", mode=0o600)  # an explicit mode wins
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    new = write_atomic(tmp_path / "new.csv", "n\n")
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    out_file = tmp_path / "summary.csv"
    out_file.write_text("old\n")
    out_file.chmod(0o640)
    code, out, err = run_cli(capsys, "summary", victim, "--output", out_file, "--as-of", "2024-02-29")
    assert code == 0, err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o640
    assert february_mrr(out_file.read_text()) == "150.00"


def test_output_dash_is_standard_output(victim, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "summary", victim, "--output", "-", "--as-of", "2024-02-29")
    assert code == 0, err
    assert february_mrr(out) == "150.00"
    assert not (tmp_path / "-").exists() and "wrote" not in err


# --- 3. a relative sqlite:/// URL: the caller's folder, for the report too -----------------------------------


def snapshot_db(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE mrr (customer_id TEXT, month TEXT, product TEXT, mrr TEXT)")
        connection.executemany("INSERT INTO mrr VALUES (?, ?, ?, ?)",
                               [("A", "2024-01", "P", "100.00"), ("A", "2024-02", "P", "150.00"),
                                ("B", "2024-02", "P", "50.00")])  # fmt: skip
    return path


def test_a_relative_sqlite_url_is_made_absolute_against_the_working_folder(tmp_path, monkeypatch):
    assert absolute_sqlite_url("sqlite:///bill.db?timeout=5", Path("/data")) == "sqlite:////data/bill.db?timeout=5"
    assert absolute_sqlite_url("sqlite:////srv/bill.db") == "sqlite:////srv/bill.db"  # absolute: unchanged
    assert absolute_sqlite_url("postgresql://me:pw@h/db") == "postgresql://me:pw@h/db"
    assert absolute_sqlite_url("sqlite://") == "sqlite://"  # in memory
    assert sqlite_url_file("sqlite+pysqlite:///sub/bill.db") == Path("sub/bill.db")
    monkeypatch.chdir(tmp_path)
    assert absolute_sqlite_url("sqlite:///bill.db") == f"sqlite:///{tmp_path}/bill.db"


def test_a_report_on_a_missing_relative_sqlite_file_fails_before_a_kernel(tmp_path, monkeypatch, capsys):
    from kit.report import render_report

    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError, match=rf"sqlite:///{tmp_path}/nosuch\.db: SQLite file not found"):
        render_report({"data": "sqlite:///nosuch.db", "table": "mrr"}, output_dir=tmp_path / "out", name="db")
    code, out, err = run_cli(capsys, "report", "sqlite:///nosuch.db", "--table", "mrr", "--output-dir", "out")
    assert code == 2 and "SQLite file not found" in err and "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []  # no .failed.ipynb: no kernel ran


@pytest.mark.slow
def test_a_report_reads_a_relative_sqlite_url_from_the_callers_folder(tmp_path, monkeypatch, capsys):
    from kit.report import read_headline

    snapshot_db(tmp_path / "bill.db")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "summary", "sqlite:///bill.db", "--table", "mrr", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "200.00")  # January 100 + A's upsell 50 + B new 50
    code, out, err = run_cli(capsys, "report", "sqlite:///bill.db", "--table", "mrr", "--as-of", "2024-02-29",
                             "--output-dir", "out", "--name", "db")  # fmt: skip
    assert code == 0, err
    assert out.strip() == "wrote out/db.html"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["db.html", "db.ipynb"]
    headline = read_headline(tmp_path / "out" / "db.ipynb")
    # February by hand: A's upsell 50.00 is the expansion; NRR (100 + 50) / 100; B's new 50 is not in it
    assert (headline["period"], headline["expansion"], headline["nrr"]) == ("2024-02", 5000, 1.5), headline


# --- 4. no stray warnings, no password in a path ----------------------------------------------------------


def test_database_warnings_become_one_note_without_the_secret(tmp_path, monkeypatch, capsys):
    snapshot_db(tmp_path / "bill.db")
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///bill.db?password=S3cretPW&x=1"
    raw = read_database(url, table="mrr")
    note = raw.details["database note"]
    assert note.startswith("the database library warned: Query string argument(s) 'password', 'x' are not accepted")
    assert "S3cretPW" not in note and "Background" not in note and "sources.py" not in note and ".py" not in note
    assert "database note" not in read_database("sqlite:///bill.db", table="mrr").details  # no warning, no note
    code, out, err = run_cli(capsys, "summary", url, "--table", "mrr", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "200.00")
    assert err.splitlines() == [f"note: {note}"]  # one line; no SAWarning, file path or source line
    assert "S3cretPW" not in err


def test_a_url_without_its_scheme_hides_its_password(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert shown_path("bob:S3cretPW@host/db") == "bob:***@host/db"
    assert shown_path("data/x.csv") == "data/x.csv"
    message = r"^bob:\*\*\*@host/db: file not found; it looks like a database URL without its dialect:// scheme"
    with pytest.raises(LoadError, match=message) as caught:
        check_readable(Path("bob:S3cretPW@host/db"))
    assert "S3cretPW" not in str(caught.value)
    with pytest.raises(LoadError, match=message):
        kit.load_ledger("bob:S3cretPW@host/db", table="mrr")
    with pytest.raises(LoadError, match=r"^nosuch\.csv: file not found$"):  # a plain missing file: as before
        check_readable(Path("nosuch.csv"))
    for argv in (["bob:S3cretPW@host/db", "--table", "mrr"], ["bob:S3cretPW@host/db.csv"]):
        code, out, err = run_cli(capsys, "summary", *argv)
        assert code == 2 and out == "" and "S3cretPW" not in err, err
        assert err.startswith("error: bob:***@host/db") and "without its dialect:// scheme" in err


# --- 1b. sheet names match regardless of case when one sheet does (review of issue 8) -------------


def test_a_sheet_name_in_another_case_is_that_sheet_with_a_note(tmp_path, capsys):
    from openpyxl import load_workbook

    path = workbook(tmp_path / "c.xlsx", ["Old", "2024"], hidden=("Old",))
    book = load_workbook(path)
    book["2024"].title = "Data"  # customer C2024, 400.00
    book.save(path)
    note = "sheet 'Data' was read for 'data' (sheet names match regardless of case)"
    for asked in ("data", "DATA"):
        ledger = load(path, sheet=asked)
        assert customers(ledger) == {"C2024"} and ledger.quality.details["sheet"] == "Data"
        assert ledger.quality.details["sheet note"] == note.replace("'data'", repr(asked))
    assert customers(load(path, sheet="old")) == {"COld"}
    assert load(path, sheet="old").quality.details["sheet note"].endswith("; it is hidden in the workbook")
    assert "sheet note" not in load(path, sheet="Data").quality.details  # exact: nothing to explain
    code, out, err = run_cli(capsys, "summary", path, "--sheet", "data", "--as-of", "2024-02-29")
    assert (code, february_mrr(out)) == (0, "400.00") and f"note: {note}" in err
    with pytest.raises(LoadError, match=r"c\.xlsx: no sheet 'Dat'; the sheets are Old, Data"):
        load(path, sheet="Dat")
    code, out, err = run_cli(capsys, "summary", path, "--sheet", "Dat", "--as-of", "2024-02-29")
    assert code == 2 and "error: " in err and "no sheet 'Dat'" in err


def test_two_sheets_alike_regardless_of_case_are_not_chosen_between():
    # Excel refuses such names, but a generated workbook may hold them: no guess, one error
    sheets = [SimpleNamespace(title=t) for t in ("DATA", "data")]
    assert _sheet_named(sheets, "w.xlsx", "data")[0].title == "data"  # the exact one
    with pytest.raises(LoadError, match=r"w\.xlsx: no sheet 'Data'; the sheets are DATA, data"):
        _sheet_named(sheets, "w.xlsx", "Data")
