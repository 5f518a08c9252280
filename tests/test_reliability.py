"""
RELIABILITY.md, row by row: bad input and faults the loaders and the CLI must survive.

Each row that concerns loading or the command line (1–37, 42–46) has at least one case.
The table-driven cases (rows 1–34, 36–37) run twice: through the API
(:func:`kit.load_ledger`, which must raise the kit's own error with a message naming
the path, column, row and value) and through the CLI (``kit.cli.main`` in-process:
exit status 2, one or two lines on stderr starting ``error:``, never a traceback).
Then: strict against quarantine, hypothesis invariants (read = used + excluded, row
order irrelevant), a fuzz run of the CSV loader on raw bytes, and the rows about
outputs (42–46). Real files in ``tmp_path``, no mocks.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import subprocess
import sys
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit.cli import main
from kit.errors import KitError, LoadError, ParameterError, ValidationError
from kit.export import summary_csv

SNAP = "customer_id,month,product,mrr\n"
SUBS = "customer_id,product,start_date,end_date,amount,billing_period,quantity,billing_interval_count\n"
CURR = "customer_id,month,product,mrr,currency\n"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- helpers -------------------------------------------------------------------------------


def cents(ledger: kit.Ledger) -> dict[tuple[str, str], int]:
    """``{(customer, month): cents}`` summed over products."""
    frame = ledger.frame.assign(customer_id=ledger.frame["customer_id"].astype(str),
                                month=ledger.frame["month"].astype(str))  # fmt: skip
    return {k: int(v) for k, v in frame.groupby(["customer_id", "month"])["mrr_cents"].sum().items()}


def excluded(ledger: kit.Ledger) -> dict[str, int]:
    q = ledger.quality
    return dict(zip(q.excluded["reason"], q.excluded["rows"].astype(int), strict=True))


def notes(ledger: kit.Ledger) -> dict[str, int]:
    q = ledger.quality
    return dict(zip(q.notes["note"], q.notes["count"].astype(int), strict=True))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``python -m kit`` in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_error(code: int, out: str, err: str, match: str | None = None) -> None:
    """Exit status 2, one or two lines starting ``error:``, no traceback, nothing on stdout."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err and out == ""
    if match:
        assert re.search(match, err, re.S), (match, err)


# --- files ------------------------------------------------------------------------------------


def excel_with_title_rows(path: Path) -> None:
    rows = pd.DataFrame({"customer_id": ["A", "B"], "month": ["2024-01", "2024-02"], "product": "P",
                         "mrr": ["10.00", "20.00"]})  # fmt: skip
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["MRR export"], [""]]).to_excel(writer, sheet_name="Data", index=False, header=False)
        rows.to_excel(writer, sheet_name="Data", index=False, startrow=2)


def excel_two_sheets(path: Path) -> None:
    first = pd.DataFrame({"customer_id": ["A"], "month": ["2024-01"], "product": "P", "mrr": ["1.00"]})
    with pd.ExcelWriter(path) as writer:
        first.to_excel(writer, sheet_name="First", index=False)
        first.assign(mrr=["2.00"]).to_excel(writer, sheet_name="Second", index=False)


def sqlite_db(path: Path) -> None:
    rows = pd.DataFrame({"customer_id": ["00123", "B"], "month": ["2024-01", "2024-02"], "product": "P",
                         "mrr": ["10.00", "20.00"]})  # fmt: skip
    with sqlite3.connect(path) as connection:
        rows.to_sql("mrr", connection, index=False)


def parquet_no_rows(path: Path) -> None:
    pd.DataFrame({"customer_id": pd.Series([], dtype=str), "month": pd.Series([], dtype=str),
                  "product": pd.Series([], dtype=str), "mrr": pd.Series([], dtype=float)}).to_parquet(path)  # fmt: skip


def parquet_far_end_date(path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({
        "customer_id": ["A"], "start_date": pa.array([dt.date(2024, 1, 1)]),
        "end_date": pa.array([dt.date(9999, 12, 31)]), "amount": ["10.00"], "billing_period": ["month"],
    }), path)  # fmt: skip


def a_directory(path: Path) -> None:
    path.mkdir()


def unreadable(path: Path) -> None:
    """A path that exists but cannot be read: mode 000, or (as root, who reads anything) /proc/self/mem."""
    if IS_ROOT:
        if not Path("/proc/self/mem").exists():
            pytest.skip("running as root without /proc: no unreadable file available")
        path.symlink_to("/proc/self/mem")  # reading offset 0 fails with EIO
    else:
        path.write_text(SNAP + "A,2024-01,P,1\n")
        path.chmod(0)


def renamed_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", SNAP + "A,2024-01,P,1\n")


# --- the table-driven cases ---------------------------------------------------------------------


@dataclass
class Case:
    """One RELIABILITY row as input files, options and the expected outcome."""

    row: int
    source: str  # file name under tmp_path, or a URL with {tmp}
    files: dict = field(default_factory=dict)  # name -> text, bytes or a function(path)
    options: dict = field(default_factory=dict)  # load_ledger options (the CLI gets the matching flags)
    error: type | None = None  # the exception the API raises
    match: str | None = None  # regex on the message, API and CLI
    check: Callable | None = None  # valid cases: check(ledger)
    absent: str | None = None  # text that must never appear (a password, a spurious reason)


def case(row: int, name: str, source: str, files=None, **kw):
    return pytest.param(Case(row, source, files or {}, **kw), id=f"r{row:02d}-{name}")


def row_error(column: str, value: str, reason: str, row: int = 2) -> str:
    """Regex of one strict-mode problem: reason, then row, column and value."""
    return rf"{re.escape(reason)}: 1 row, e.g. row {row}, column {column}: {re.escape(repr(value))}"


def _money_check(expected: dict):
    def check(ledger):
        assert cents(ledger) == expected

    return check


def _check_r04_synonym(ledger):  # row 49 supersedes row 4 for plain synonyms: taken, with a note
    assert cents(ledger) == {("A", "2024-01"): 100}
    assert notes(ledger) == {"column 'monthly_amount' taken as mrr": 1}


def _check_r10(ledger):
    assert cents(ledger) == {("A", "2024-01"): 12, ("B", "2024-01"): 14, ("C", "2024-01"): 268}
    assert notes(ledger)["mrr with more than 2 decimals (rounded half-even to the cent)"] == 3


def _check_r13(ledger):
    # 23:30 at UTC-5 on 31 Jan is 04:30 UTC on 1 Feb; 10:00 UTC+2 on 1 Feb is 08:00 UTC, still 1 Feb
    assert cents(ledger) == {("A", "2024-02"): 100, ("B", "2024-01"): 200, ("C", "2024-02"): 300}


def _check_r14(ledger):
    assert cents(ledger) == {("OLD", "1985-01"): 100, ("NOW", "2024-01"): 200}
    assert excluded(ledger) == {f"month after {TODAY} (in the future)": 1}
    assert notes(ledger)["dates before 1990 (check them)"] == 1
    assert notes(ledger)[f"dates after {TODAY} (in the future; outside the window)"] == 1
    q = ledger.quality
    assert q.rows_read == q.rows_used + q.rows_excluded == 3


def _check_r14_far_snapshot(ledger):
    # 2262-05 is past what datetime64[ns] holds: a future month (excluded), never wrapped round to 1677
    assert cents(ledger) == {("NOW", "2024-01"): 200}
    assert excluded(ledger) == {f"month after {TODAY} (in the future)": 1}
    assert str(ledger.first_month) == "2024-01"


def _check_r14_open_end(ledger):
    # 9999-12-31, a common "no end" marker: ongoing within the window
    assert cents(ledger) == {("A", "2024-01"): 1000, ("A", "2024-02"): 1000}
    assert notes(ledger)[f"dates after {TODAY} (in the future; outside the window)"] == 1


def _check_r16(ledger):
    assert cents(ledger) == {("B", "2024-01"): 1000, ("B", "2024-02"): 1000, ("B", "2024-03"): 1000}
    assert notes(ledger)["subscriptions with start_date equal to end_date (contribute nothing)"] == 1
    assert ledger.quality.rows_used == 2


def _check_r17(ledger):
    assert cents(ledger) == {("A", "2024-01"): 1000, ("A", "2024-02"): 1000, ("A", "2024-03"): 1500,
                             ("A", "2024-04"): 1500}  # fmt: skip
    assert notes(ledger)["overlapping subscriptions of one customer and product (both counted)"] == 1


def _check_r18(ledger):
    assert cents(ledger) == {("A", "2024-01"): 2500}
    assert notes(ledger)["rows identical in every column (likely duplicates; both counted)"] == 2


def _check_r21(ledger):
    assert cents(ledger) == {("B", "2024-01"): 1000}
    assert notes(ledger)["rows with quantity 0 (not active)"] == 1
    assert ledger.quality.rows_used == 2 and ledger.quality.rows_excluded == 0


def _check_r24(ledger):
    assert cents(ledger) == {("Acme", "2024-01"): 1100, ("ACME", "2024-01"): 200}
    assert notes(ledger)["customer ids that differ only by case (kept apart: ids are case-sensitive)"] == 3


def _check_r25(ledger):
    assert cents(ledger) == {("00123", "2024-01"): 1000, ("123", "2024-01"): 100, ("1e5", "2024-01"): 1,
                             ("NA", "2024-01"): 2}  # fmt: skip


def _check_r29(ledger):
    assert cents(ledger) == {("Müller", "2024-01"): 100}
    assert ledger.quality.details["encoding"] == "latin-1"


def _check_r31(delimiter):
    def check(ledger):
        assert cents(ledger) == {("A", "2024-01"): 150}
        assert ledger.quality.details["delimiter"] == delimiter

    return check


def _check_r34_default(ledger):
    assert cents(ledger) == {("A", "2024-01"): 100}
    assert ledger.quality.details["sheet"] == "First"
    assert "First" in ledger.quality.table().set_index("item").loc["sheet", "value"]


LATIN = (SNAP + "Müller,2024-01,P,1\n").encode("latin-1")
OTHER_NAME = "customer_id,month,product,monthly_amount\nA,2024-01,P,1\n"
FX_HEAD = "currency,month,rate\n"
PG = "postgresql://analyst:s3cr3t-pw@127.0.0.1:1/billing"

CASES = [
    # 1 file does not exist / is a directory / unreadable
    case(1, "missing", "nope.csv", error=LoadError, match=r"nope\.csv: file not found"),
    case(1, "directory", "folder.csv", {"folder.csv": a_directory}, error=LoadError,
         match=r"folder\.csv: is a directory"),
    case(1, "unreadable", "locked.csv", {"locked.csv": unreadable}, error=LoadError,
         match=r"locked\.csv: cannot be read"),
    # 2 empty file; header only
    case(2, "empty", "e.csv", {"e.csv": ""}, error=LoadError, match=r"e\.csv: .*no rows"),
    case(2, "blank-lines", "e.csv", {"e.csv": "\n \n\n"}, error=LoadError, match=r"e\.csv: .*no rows"),
    case(2, "header-only", "h.csv", {"h.csv": SNAP}, error=LoadError, match=r"h\.csv: .*no rows"),
    case(2, "parquet-no-rows", "h.parquet", {"h.parquet": parquet_no_rows}, error=LoadError,
         match=r"h\.parquet: .*no rows"),
    case(2, "sql-no-rows", "b.db", {"b.db": sqlite_db}, options={"query": "SELECT * FROM mrr WHERE 0"},
         error=LoadError, match=r"b\.db.*no rows"),
    # 3 required column missing
    case(3, "no-mrr", "m.csv", {"m.csv": "customer_id,month,product\nA,2024-01,P\n"}, error=LoadError,
         match=r"m\.csv: missing required columns for snapshots: mrr "
               r"\(columns found: customer_id, month, product\)"),
    # 4 column named differently
    case(4, "case-and-spaces", "m.csv", {"m.csv": " Customer_ID ,MONTH, Product ,  MRR \nA,2024-01,P,1\n"},
         check=_money_check({("A", "2024-01"): 100})),
    case(4, "plain-synonym-taken-with-note", "m.csv", {"m.csv": OTHER_NAME}, check=_check_r04_synonym),
    case(4, "other-name-suggests-mapping", "m.csv", {"m.csv": OTHER_NAME.replace("monthly_amount", "revenue")},
         error=LoadError, match=r"missing required columns for snapshots: mrr .*mapping=\{'revenue': 'mrr'\}"),
    case(4, "other-name-with-mapping", "m.csv", {"m.csv": OTHER_NAME},
         options={"mapping": {"monthly_amount": "mrr"}}, check=_money_check({("A", "2024-01"): 100})),
    # 5 duplicated column names
    case(5, "duplicated", "d.csv", {"d.csv": "customer_id,month,product,mrr,MRR \nA,2024-01,P,1,2\n"},
         error=LoadError, match=r"d\.csv: duplicated column names: mrr"),
    # 6 amount not a number
    case(6, "abc", "m.csv", {"m.csv": SNAP + "A,2024-01,P,abc\n"}, error=ValidationError,
         match=r"m\.csv: 1 invalid row.*" + row_error("mrr", "abc", "not a number")),
    case(6, "decimal-comma", "m.csv", {"m.csv": SNAP + 'A,2024-01,P,"12,50"\n'}, error=ValidationError,
         match=r"decimal=','.*row 2, column mrr: '12,50'"),
    case(6, "decimal-comma-with-option", "m.csv", {"m.csv": SNAP + 'A,2024-01,P,"12,50"\n'},
         options={"decimal": ","}, check=_money_check({("A", "2024-01"): 1250})),
    case(6, "currency-symbol", "m.csv", {"m.csv": SNAP + 'A,2024-01,P,"$1,200.00"\n'}, error=ValidationError,
         match=r"currency_symbols=True.*row 2, column mrr: '\$1,200\.00'"),
    case(6, "currency-symbol-with-options", "m.csv", {"m.csv": SNAP + 'A,2024-01,P,"$1,200.00"\n'},
         options={"currency_symbols": True, "thousands": ","}, check=_money_check({("A", "2024-01"): 120000})),
    case(6, "thousands-without-option", "m.csv", {"m.csv": SNAP + 'A,2024-01,P,"1,200"\n'}, error=ValidationError,
         match=r"thousands=','.*'1,200'"),
    # 7 negative amount
    case(7, "negative", "m.csv", {"m.csv": SNAP + "A,2024-01,P,10\nB,2024-01,P,-5\n"}, error=ValidationError,
         match=row_error("mrr", "-5", "negative amount (credits and refunds are not MRR)", row=3)),
    # 8 NaN / empty: a row error, never 0
    case(8, "empty", "m.csv", {"m.csv": SNAP + "A,2024-01,P,\n"}, error=ValidationError,
         match=row_error("mrr", "", "missing amount")),
    case(8, "NaN", "m.csv", {"m.csv": SNAP + "A,2024-01,P,NaN\n"}, error=ValidationError,
         match=row_error("mrr", "NaN", "missing amount")),
    # 9 infinite or absurdly large
    case(9, "inf", "m.csv", {"m.csv": SNAP + "A,2024-01,P,inf\n"}, error=ValidationError,
         match=row_error("mrr", "inf", "amount is not finite")),
    case(9, "above-1e12", "m.csv", {"m.csv": SNAP + "A,2024-01,P,1000000000000.01\n"}, error=ValidationError,
         match=row_error("mrr", "1000000000000.01", "amount above 1,000,000,000,000")),
    case(9, "overflowing-exponent", "m.csv", {"m.csv": SNAP + "A,2024-01,P,1e400\n"}, error=ValidationError,
         match=r"row 2, column mrr: '1e400'"),
    # 10 more than 2 decimals: half-even to the cent, counted
    case(10, "half-even", "m.csv", {"m.csv": SNAP + "A,2024-01,P,0.125\nB,2024-01,P,0.135\nC,2024-01,P,2.675\n"},
         check=_check_r10),
    # 11 unparseable month / date
    case(11, "month-13", "m.csv", {"m.csv": SNAP + "A,2024-13,P,1\n"}, error=ValidationError,
         match=row_error("month", "2024-13", "not a valid date (expected YYYY-MM-DD or YYYY-MM)")),
    case(11, "feb-30", "m.csv", {"m.csv": SNAP + "A,2024-02-30,P,1\n"}, error=ValidationError,
         match=r"not a valid date.*row 2, column month: '2024-02-30'"),
    case(11, "13-13-2024", "m.csv", {"m.csv": SNAP + "A,13/13/2024,P,1\n"}, error=ValidationError,
         match=r"not a valid date.*row 2, column month: '13/13/2024'"),
    case(11, "subscription-start", "s.csv", {"s.csv": SUBS + "A,P,2024-02-30,,10,month,1,1\n"},
         error=ValidationError, match=r"row 2, column start_date: '2024-02-30'"),
    # 12 mixed formats: an error unless a format is given; never guessed per row
    case(12, "mixed", "m.csv", {"m.csv": SNAP + "A,2024-01-15,P,1\nB,15/01/2024,P,1\n"}, error=LoadError,
         match=r"m\.csv, column month: mixed date formats \('2024-01-15' and '15/01/2024'\).*date_format"),
    case(12, "ambiguous-not-guessed", "m.csv", {"m.csv": SNAP + "A,03/04/2024,P,1\n"}, error=LoadError,
         match=r"column month: dates like '03/04/2024' .*never guessed"),
    case(12, "format-given", "m.csv", {"m.csv": SNAP + "A,03/04/2024,P,1\nB,15/01/2024,P,2\n"},
         options={"date_format": "%d/%m/%Y"}, check=_money_check({("A", "2024-04"): 100, ("B", "2024-01"): 200})),
    case(12, "format-given-other-row", "m.csv", {"m.csv": SNAP + "A,03/04/2024,P,1\nB,2024-01-15,P,2\n"},
         options={"date_format": "%d/%m/%Y"}, error=ValidationError,
         match=r"does not match the date format '%d/%m/%Y'.*row 3, column month: '2024-01-15'"),
    case(12, "bad-format-directive", "m.csv", {"m.csv": SNAP + "A,03/04/2024,P,1\n"},
         options={"date_format": "%Q"}, error=LoadError, match=r"m\.csv, column month: .*%Q"),
    # 13 time zones and times: the date in UTC
    case(13, "utc-date", "m.csv", {"m.csv": SNAP + "A,2024-01-31T23:30:00-05:00,P,1\nB,2024-01-31 10:00,P,2\n"
                                   "C,2024-02-01T10:00:00+02:00,P,3\n"}, check=_check_r13),
    # 14 far future / before 1990: warnings; future months outside the window
    case(14, "future-and-old", "m.csv", {"m.csv": SNAP + "OLD,1985-01,P,1\nNOW,2024-01,P,2\nLATER,2099-01,P,3\n"},
         check=_check_r14),
    case(14, "beyond-2262", "m.csv", {"m.csv": SNAP + "NOW,2024-01,P,2\nFAR,2262-05,P,3\n"},
         check=_check_r14_far_snapshot),
    case(14, "open-end-9999-csv", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,9999-12-31,10,month,1,1\n"},
         options={"as_of": "2024-02-29"}, check=_check_r14_open_end),
    case(14, "open-end-9999-parquet", "s.parquet", {"s.parquet": parquet_far_end_date},
         options={"as_of": "2024-02-29"}, check=_check_r14_open_end),
    case(14, "year-1", "m.csv", {"m.csv": SNAP + "NOW,2024-01,P,2\nX,0001-01,P,3\n"}, error=ValidationError,
         match=r"out of range.*row 3, column month: '0001-01'"),
    # 15 end_date before start_date
    case(15, "end-before-start", "s.csv", {"s.csv": SUBS + "A,P,2024-03-01,2024-02-01,10,month,1,1\n"},
         error=ValidationError, match=row_error("end_date", "2024-02-01", "end_date before start_date")),
    # 16 start == end: valid, nothing, counted
    case(16, "start-equals-end", "s.csv", {"s.csv": SUBS + "A,P,2024-03-01,2024-03-01,10,month,1,1\n"
                                           "B,P,2024-01-01,,10,month,1,1\n"},
         options={"as_of": "2024-03-31"}, check=_check_r16),
    # 17 overlapping subscriptions: both count, noted
    case(17, "overlap", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,2024-06-01,10,month,1,1\n"
                                  "A,P,2024-03-01,,5,month,1,1\n"}, options={"as_of": "2024-04-30"}, check=_check_r17),
    # 18 several rows of one key are added; exact duplicates counted
    case(18, "same-key-added", "m.csv", {"m.csv": SNAP + "A,2024-01,P,10\nA,2024-01,P,10\nA,2024-01-15,P,5\n"},
         check=_check_r18),
    # 19 unknown billing_period
    case(19, "fortnight", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,fortnight,1,1\n"}, error=ValidationError,
         match=row_error("billing_period", "fortnight", "not one of day, week, month, quarter, half-year, year")),
    # 20 billing_interval_count zero, negative, non-integer
    case(20, "interval-zero", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,1,0\n"}, error=ValidationError,
         match=row_error("billing_interval_count", "0", "billing_interval_count must be 1 or more")),
    case(20, "interval-negative", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,1,-2\n"},
         error=ValidationError,
         match=row_error("billing_interval_count", "-2", "billing_interval_count must be 1 or more")),
    case(20, "interval-fraction", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,1,1.5\n"},
         error=ValidationError, match=row_error("billing_interval_count", "1.5", "not a whole number"),
         absent="must be 1 or more"),  # one problem, not a spurious second one
    # 21 quantity zero: valid, inactive
    case(21, "quantity-zero", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,0,1\nB,P,2024-01-01,,10,month,1,1\n"},
         options={"as_of": "2024-01-31"}, check=_check_r21),
    # 22 quantity negative or non-integer
    case(22, "quantity-negative", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,-1,1\n"},
         error=ValidationError, match=row_error("quantity", "-1", "negative quantity")),
    case(22, "quantity-fraction", "s.csv", {"s.csv": SUBS + "A,P,2024-01-01,,10,month,2.5,1\n"},
         error=ValidationError, match=row_error("quantity", "2.5", "not a whole number")),
    # 23 blank customer id
    case(23, "blank-id", "m.csv", {"m.csv": SNAP + "B,2024-01,P,1\n   ,2024-01,P,1\n"}, error=ValidationError,
         match=row_error("customer_id", "   ", "blank customer id", row=3)),
    # 24 ids differing by case or spaces
    case(24, "case-and-spaces", "m.csv", {"m.csv": SNAP + " Acme ,2024-01,P,10\nAcme,2024-01,P,1\nACME,2024-01,P,2\n"},
         check=_check_r24),
    # 25 leading zeros stay
    case(25, "leading-zeros", "m.csv",
         {"m.csv": SNAP + "00123,2024-01,P,10\n123,2024-01,P,1\n1e5,2024-01,P,0.01\nNA,2024-01,P,0.02\n"},
         check=_check_r25),
    # 26 several currencies, no FX table
    case(26, "no-fx", "m.csv", {"m.csv": CURR + "A,2024-01,P,1,EUR\nB,2024-01,P,1,USD\n"}, error=LoadError,
         match=r"m\.csv: several currencies \(EUR, USD\) and no FX table"),
    # 27 FX table missing a currency or month
    case(27, "fx-missing-month", "m.csv", {"m.csv": CURR + "A,2024-01,P,1,EUR\nA,2024-02,P,1,EUR\nB,2024-02,P,1,USD\n",
                                           "fx.csv": FX_HEAD + "EUR,2024-01,1.1\nUSD,2024-01,1\nUSD,2024-02,1\n"},
         options={"fx": "fx.csv"}, error=LoadError, match=r"no rate for EUR 2024-02"),
    case(27, "fx-missing-currency", "m.csv", {"m.csv": CURR + "A,2024-01,P,1,GBP\nB,2024-01,P,1,USD\n",
                                              "fx.csv": "currency,month,rate\nEUR,2024-01,1.1\nUSD,2024-01,1\n"},
         options={"fx": "fx.csv"}, error=LoadError, match=r"no rate for GBP 2024-01"),
    # 28 FX rate zero or negative
    case(28, "fx-zero", "m.csv", {"m.csv": CURR + "A,2024-01,P,1,EUR\nB,2024-01,P,1,USD\n",
                                  "fx.csv": "currency,month,rate\nEUR,2024-01,0\nUSD,2024-01,1\n"},
         options={"fx": "fx.csv"}, error=LoadError,
         match=r"fx\.csv: invalid FX rows: row 2, column rate: '0' is not a positive"),
    case(28, "fx-negative", "m.csv", {"m.csv": CURR + "A,2024-01,P,1,EUR\nB,2024-01,P,1,USD\n",
                                      "fx.csv": "currency,month,rate\nEUR,2024-01,-1.1\nUSD,2024-01,1\n"},
         options={"fx": "fx.csv"}, error=LoadError, match=r"row 2, column rate: '-1\.1' is not a positive"),
    # 29 Latin-1
    case(29, "latin1", "l.csv", {"l.csv": LATIN}, error=LoadError,
         match=r"l\.csv: not valid utf-8 text \(byte 0xfc on line 2\).*encoding='latin-1'"),
    case(29, "latin1-with-option", "l.csv", {"l.csv": LATIN}, options={"encoding": "latin-1"}, check=_check_r29),
    # 30 BOM
    case(30, "bom", "b.csv", {"b.csv": b"\xef\xbb\xbf" + (SNAP + "A,2024-01,P,1.5\n").encode()},
         check=_money_check({("A", "2024-01"): 150})),
    # 31 semicolon or tab
    case(31, "semicolon", "s.csv", {"s.csv": "customer_id;month;product;mrr\nA;2024-01;P;1,5\n"},
         options={"decimal": ","}, check=_check_r31("semicolon")),
    case(31, "tab", "t.tsv", {"t.tsv": "customer_id\tmonth\tproduct\tmrr\nA\t2024-01\tP\t1.50\n"},
         check=_check_r31("tab")),
    case(31, "wrong-sep-names-columns", "s.csv", {"s.csv": "customer_id;month;product;mrr\nA;2024-01;P;1\n"},
         options={"sep": ","}, error=LoadError, match=r"columns found: customer_id;month;product;mrr"),
    case(31, "field-count", "s.csv", {"s.csv": "customer_id,month,product,mrr\nA,2024-01,P,1,5\n"},
         error=LoadError, match=r"s\.csv: the header has 4 fields but 1 row does not \(row 2 has 5\).*delimiter"),
    case(31, "bad-sep-option", "s.csv", {"s.csv": SNAP + "A,2024-01,P,1\n"}, options={"sep": ";;"},
         error=ParameterError, match=r"sep must be one character"),
    # 32 binary garbage / a zip renamed .csv
    case(32, "zip", "z.csv", {"z.csv": renamed_zip}, error=LoadError, match=r"z\.csv: not a readable CSV file"),
    case(32, "binary", "g.csv", {"g.csv": bytes(range(256)) * 8}, error=LoadError,
         match=r"g\.csv: not a readable CSV file"),
    case(32, "utf16", "u.csv", {"u.csv": (SNAP + "A,2024-01,P,1\n").encode("utf-16")}, error=LoadError,
         match=r"u\.csv: not a readable CSV file"),
    # 33 Excel title rows above the header
    case(33, "title-rows", "b.xlsx", {"b.xlsx": excel_with_title_rows}, error=LoadError,
         match=r"b\.xlsx.*snapshots need customer_id, month, product, mrr.*columns found: mrr_export.*header_row="),
    case(33, "header-row-given", "b.xlsx", {"b.xlsx": excel_with_title_rows}, options={"header_row": 2},
         check=_money_check({("A", "2024-01"): 1000, ("B", "2024-02"): 2000})),
    # 34 several sheets
    case(34, "first-by-default", "b.xlsx", {"b.xlsx": excel_two_sheets}, check=_check_r34_default),
    case(34, "sheet-option", "b.xlsx", {"b.xlsx": excel_two_sheets}, options={"sheet": "Second"},
         check=_money_check({("A", "2024-01"): 200})),
    case(34, "unknown-sheet", "b.xlsx", {"b.xlsx": excel_two_sheets}, options={"sheet": "Third"},
         error=LoadError, match=r"b\.xlsx: no sheet 'Third'; the sheets are First, Second"),
    # 36 SQL query fails / table missing: the URL (no password) and the table
    case(36, "table-missing", "b.db", {"b.db": sqlite_db}, options={"table": "subs"}, error=LoadError,
         match=r"sqlite:///.*b\.db: table 'subs' not found \(tables: mrr\)"),
    case(36, "query-fails", "sqlite:///{tmp}/b.db", {"b.db": sqlite_db}, options={"query": "SELECT * FROM subs"},
         error=LoadError, match=r"sqlite:///.*b\.db: reading the query failed: .*no such table: subs"),
    case(36, "url-table-missing", "sqlite:///{tmp}/b.db", {"b.db": sqlite_db}, options={"table": "subs"},
         error=LoadError, match=r"table 'subs' not found"),
    case(36, "sqlite-file-missing", "sqlite:///{tmp}/none.db", options={"table": "mrr"}, error=LoadError,
         match=r"none\.db: SQLite file not found"),
    case(36, "sql-table-ok", "b.db", {"b.db": sqlite_db}, options={"table": "mrr"},
         check=_money_check({("00123", "2024-01"): 1000, ("B", "2024-02"): 2000})),
    # 37 database password never printed
    case(37, "postgres-table", PG, options={"table": "mrr"}, error=LoadError,
         match=r"postgresql://analyst:\*\*\*@127\.0\.0\.1:1/billing", absent="s3cr3t-pw"),
    case(37, "postgres-query", PG, options={"query": "SELECT 1"}, error=LoadError, match=r"analyst:\*\*\*@",
         absent="s3cr3t-pw"),
    case(37, "mysql-encoded-password", "mysql://analyst:p%40ss%3Aw0rd@127.0.0.1:1/billing", options={"table": "mrr"},
         error=LoadError, match=r"analyst:\*\*\*@", absent="w0rd"),
    case(37, "sqlite-url-with-password", "sqlite://analyst:s3cr3t-pw@/{tmp}/b.db", {"b.db": sqlite_db},
         options={"table": "mrr"}, error=LoadError, absent="s3cr3t-pw"),
    case(37, "unknown-dialect", "nosuchdb://analyst:s3cr3t-pw@host/billing", options={"table": "mrr"},
         error=LoadError, absent="s3cr3t-pw"),
]  # fmt: skip


def _materialise(c: Case, tmp_path: Path) -> tuple[str, dict]:
    for name, content in c.files.items():
        path = tmp_path / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    source = c.source.format(tmp=tmp_path) if "://" in c.source else str(tmp_path / c.source)
    options = dict(c.options)
    if "fx" in options:
        options["fx"] = str(tmp_path / options["fx"])
    return source, options


def _cli_flags(options: dict) -> list[str]:
    flags: list[str] = []
    for key, value in options.items():
        if key == "on_invalid":
            flags += ["--lenient"] if value == "quarantine" else []
        elif key == "currency_symbols":
            flags += ["--currency-symbols"] if value else []
        elif key == "mapping":
            for theirs, ours in value.items():
                flags += ["--map", f"{theirs}={ours}"]
        elif key == "header_row":
            flags += ["--header-row", str(value + 1)]  # the CLI counts rows from 1
        else:
            flags += ["--" + key.replace("_", "-"), str(value)]
    return flags


@pytest.mark.parametrize("c", CASES)
def test_row_through_the_api(c: Case, tmp_path):
    source, options = _materialise(c, tmp_path)
    if c.error is None:
        ledger = kit.load_ledger(source, today=TODAY, **options)
        q = ledger.quality
        assert q.rows_read == q.rows_used + q.rows_excluded
        c.check(ledger)
        return
    with pytest.raises(c.error) as info:
        kit.load_ledger(source, today=TODAY, **options)
    assert isinstance(info.value, KitError)
    message = str(info.value)
    if c.match:
        assert re.search(c.match, message, re.S), (c.match, message)
    if c.absent:
        assert c.absent not in message and c.absent not in repr(info.value)
    if isinstance(info.value, ValidationError):
        problems = info.value.problems
        assert len(problems) >= 1 and {"row", "column", "value", "reason"} <= set(problems.columns)


@pytest.mark.parametrize("c", CASES)
def test_row_through_the_cli(c: Case, tmp_path, capsys):
    source, options = _materialise(c, tmp_path)
    code, out, err = run_cli(capsys, "summary", source, *_cli_flags(options))
    if c.error is None:
        assert code == 0, err
        assert out.startswith("period,mrr_start,") and "Traceback" not in err and "error" not in err
        return
    assert_cli_error(code, out, err, c.match)
    if c.absent:
        assert c.absent not in out + err


def test_row_37_password_absent_even_with_debug(capsys):
    code, out, err = run_cli(capsys, "--debug", "summary", PG, "--table", "mrr")
    assert code == 2 and "Traceback" in err  # --debug shows the traceback …
    assert "s3cr3t-pw" not in out + err  # … and still not the password
    assert "analyst:***@" in err


# --- row 35: a large file ----------------------------------------------------------------------


def test_row_35_large_csv_is_exact_and_memory_bounded(tmp_path):
    n = 100_000
    rng = np.random.default_rng(35)
    amounts = rng.integers(0, 10**7, n)
    customers = np.char.add("c", (np.arange(n) % 4000).astype(str))
    months = 1 + (np.arange(n) // 4000) % 12
    lines = [f"{c},2024-{m:02d},P{i % 3},{a // 100}.{a % 100:02d}" for i, (c, m, a) in
             enumerate(zip(customers, months, amounts, strict=True))]  # fmt: skip
    path = tmp_path / "big.csv"
    path.write_text(SNAP + "\n".join(lines) + "\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        ledger = kit.load_ledger(path, today=TODAY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    q = ledger.quality
    assert (q.rows_read, q.rows_used, q.rows_excluded) == (n, n, 0)
    assert int(ledger.frame["mrr_cents"].sum()) == int(amounts.sum())
    # memory is bounded by a multiple of the file (about 20x today); a 5x regression fails here
    assert peak < 100 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.1f} MB file"


# --- strict against quarantine --------------------------------------------------------------------

MIXED = SUBS + "\n".join([
    "A,P,2024-01-01,,10,month,1,1",  # good
    "B,P,2024-01-01,,abc,month,1,1",  # not a number
    "C,P,2024-01-01,,-5,month,1,1",  # negative
    "D,P,2024-01-01,,,month,1,1",  # missing amount
    " ,P,2024-01-01,,10,month,1,1",  # blank id
    "E,P,2024-03-01,2024-02-01,10,month,1,1",  # end before start
    "F,P,2024-01-01,,10,fortnight,1,1",  # unknown period
    "G,P,2024-02-01,,20,month,2,1",  # good
    "H,P,2024-01-01,,10,month,-1,1",  # negative quantity
    "I,P,2024-01-01,,10,month,1,0",  # interval zero
    "J,P,2024-13-01,,10,month,1,1",  # bad date
]) + "\n"  # fmt: skip
MIXED_REASONS = {
    "not a number": 1,
    "negative amount (credits and refunds are not MRR)": 1,
    "missing amount": 1,
    "blank customer id": 1,
    "end_date before start_date": 1,
    "not one of day, week, month, quarter, half-year, year": 1,
    "negative quantity": 1,
    "billing_interval_count must be 1 or more": 1,
    "not a valid date (expected YYYY-MM-DD or YYYY-MM)": 1,
}


def test_strict_lists_every_problem_at_once(tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED)
    with pytest.raises(ValidationError) as info:
        kit.load_ledger(path, as_of="2024-03-31", today=TODAY)
    problems = info.value.problems
    assert sorted(problems["row"].unique()) == [3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert Counter(problems["reason"]) == Counter(MIXED_REASONS)
    message = str(info.value)
    assert message.startswith("mixed.csv: 9 invalid rows; nothing was loaded.")
    for reason in MIXED_REASONS:
        assert reason in message
    assert "row 3, column amount: 'abc'" in message and "row 12, column start_date: '2024-13-01'" in message
    # the CLI: the same problems folded into two lines
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-03-31")
    assert_cli_error(code, out, err, r"^error: mixed\.csv: 9 invalid rows; nothing was loaded\.")
    assert "row 3, column amount: 'abc'" in err and "row 12, column start_date: '2024-13-01'" in err
    assert "--lenient" in err.splitlines()[1]


def test_quarantine_counts_every_excluded_row_by_reason(tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED)
    ledger = kit.load_ledger(path, as_of="2024-03-31", on_invalid="quarantine", today=TODAY)
    q = ledger.quality
    assert (q.rows_read, q.rows_used, q.rows_excluded) == (11, 2, 9)
    assert excluded(ledger) == MIXED_REASONS
    table = q.table().set_index("item")["value"]
    assert (table["rows read"], table["rows used"], table["rows excluded"]) == ("11", "2", "9")
    assert table["excluded: not a number"] == "1"
    assert cents(ledger) == {("A", "2024-01"): 1000, ("A", "2024-02"): 1000, ("A", "2024-03"): 1000,
                             ("G", "2024-02"): 4000, ("G", "2024-03"): 4000}  # fmt: skip
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-03-31", "--lenient")
    assert code == 0 and out.startswith("period,")
    assert "note: 9 of 11 rows excluded (" in err and "not a number: 1" in err and "Traceback" not in err
    assert [line.split(",")[9] for line in out.splitlines()[1:]] == ["10.00", "50.00", "50.00"]  # mrr_end


def test_quarantine_with_every_row_invalid_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(SNAP + "A,2024-01,P,x\nB,2024-01,P,-1\n")
    with pytest.raises(LoadError, match=r"bad\.csv: no valid rows \(2 read, all excluded as invalid\)"):
        kit.load_ledger(path, on_invalid="quarantine", today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path, "--lenient"), r"no valid rows")


# --- hypothesis: read = used + excluded, row order irrelevant -------------------------------------

GOOD_ROWS = st.tuples(
    st.sampled_from(["A", "b", "00123", " C "]), st.sampled_from(["Core", "Addon"]),
    st.sampled_from(["2024-01-01", "2024-02-15", "2024-03-31"]), st.sampled_from(["", "2024-04-01", "2024-06-30"]),
    st.sampled_from(["10", "99.99", "0", "1200.005", "0.29"]), st.sampled_from(["month", "year", "quarter", "week"]),
    st.sampled_from(["1", "3", "0", ""]), st.sampled_from(["1", "2", ""]),
).map(lambda r: (None, r))  # fmt: skip
BAD_ROWS = {
    "blank customer id": ("  ", "Core", "2024-01-01", "", "10", "month", "1", "1"),
    "not a number": ("A", "Core", "2024-01-01", "", "abc", "month", "1", "1"),
    "negative amount (credits and refunds are not MRR)": ("A", "Core", "2024-01-01", "", "-5", "month", "1", "1"),
    "missing amount": ("A", "Core", "2024-01-01", "", "", "month", "1", "1"),
    "amount above 1,000,000,000,000": ("A", "Core", "2024-01-01", "", "2000000000000", "month", "1", "1"),
    "not one of day, week, month, quarter, half-year, year":
        ("A", "Core", "2024-01-01", "", "10", "fortnight", "1", "1"),
    "negative quantity": ("A", "Core", "2024-01-01", "", "10", "month", "-2", "1"),
    "not a whole number": ("A", "Core", "2024-01-01", "", "10", "month", "1.5", "1"),
    "billing_interval_count must be 1 or more": ("A", "Core", "2024-01-01", "", "10", "month", "1", "0"),
    "end_date before start_date": ("A", "Core", "2024-03-01", "2024-02-01", "10", "month", "1", "1"),
    "not a valid date (expected YYYY-MM-DD or YYYY-MM)": ("A", "Core", "2024-02-30", "", "10", "month", "1", "1"),
}  # fmt: skip
ANY_ROW = st.one_of(GOOD_ROWS, st.sampled_from(sorted(BAD_ROWS.items())))


def _subscriptions_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUBS.strip().split(","))
    writer.writerows(values for _, values in rows)
    return buffer.getvalue()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ANY_ROW, min_size=1, max_size=25), data=st.data())
def test_read_equals_used_plus_excluded_and_row_order_is_irrelevant(tmp_path_factory, rows, data):
    folder = tmp_path_factory.mktemp("mix")
    expected = Counter(reason for reason, _ in rows if reason is not None)
    good = sum(1 for reason, _ in rows if reason is None)
    order = data.draw(st.permutations(range(len(rows))))
    shuffled = [rows[i] for i in order]
    (folder / "a.csv").write_text(_subscriptions_csv(rows))
    (folder / "b.csv").write_text(_subscriptions_csv(shuffled))
    options = {"on_invalid": "quarantine", "as_of": "2024-06-30", "today": TODAY}
    if good == 0:
        with pytest.raises(LoadError, match="no valid rows"):
            kit.load_ledger(folder / "a.csv", **options)
        return
    ledger = kit.load_ledger(folder / "a.csv", **options)
    q = ledger.quality
    assert q.rows_read == len(rows) == q.rows_used + q.rows_excluded
    assert (q.rows_used, excluded(ledger)) == (good, dict(expected))
    other = kit.load_ledger(folder / "b.csv", **options)
    pd.testing.assert_frame_equal(other.frame, ledger.frame)
    assert excluded(other) == excluded(ledger) and notes(other) == notes(ledger)


# --- fuzz: the CSV loader on raw bytes raises only the kit's errors -------------------------------

HEADERS = [SNAP.encode(), SUBS.encode(), CURR.encode(), b"customer_id;month;product;mrr\n", b""]
TOKENS = [b"A", b"00123", b"2024-01", b"2024-02-30", b"2262-05-01", b"0001-01-01", b"9999-12-31", b"13/01/2024",
          b"2024-01-31T23:00:00+05:00", b"P", b"1", b"-1", b"1.5", b"0.125", b"1e400", b"inf", b"nan", b"", b"month",
          b"fortnight", b"EUR", b"USD", b'"', b",", b";", b"\t", b"\r", b"\xff", b"\xc3\xa9", b"\x00",
          b" "]  # fmt: skip
RAW = st.one_of(
    st.binary(max_size=400),
    st.tuples(st.sampled_from(HEADERS), st.binary(max_size=200)).map(b"".join),
    st.tuples(st.sampled_from(HEADERS), st.lists(st.lists(st.sampled_from(TOKENS), max_size=9).map(b",".join),
                                                 max_size=6).map(b"\n".join)).map(b"".join),
)  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=RAW, lenient=st.booleans())
def test_fuzz_csv_loader_raises_only_kit_errors(tmp_path_factory, data, lenient):
    path = tmp_path_factory.mktemp("fuzz") / "x.csv"
    path.write_bytes(data)
    try:
        ledger = kit.load_ledger(path, on_invalid="quarantine" if lenient else "raise", today=TODAY)
    except KitError:
        return
    q = ledger.quality
    assert q.rows_read == q.rows_used + q.rows_excluded
    assert (ledger.frame["mrr_cents"] > 0).all()


# --- row 42: outputs are checked before any work ---------------------------------------------------


def test_row_42_output_checked_before_loading(tmp_path, capsys):
    # the data file does not exist either: the output error comes first, so nothing was read
    code, out, err = run_cli(capsys, "summary", tmp_path / "absent.csv", "--output", tmp_path / "no" / "s.csv")
    assert_cli_error(code, out, err, r"the folder .*no does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("name", ["../../x", "a/b", ".."])
def test_row_42_report_name_escaping_the_folder(tmp_path, capsys, name):
    code, out, err = run_cli(capsys, "report", "--name", name, "--output-dir", tmp_path / "out")
    assert_cli_error(code, out, err, r"report name .* no folders")
    leftovers = [p for p in (tmp_path / "out").rglob("*")] if (tmp_path / "out").exists() else []
    assert leftovers == [] and not (tmp_path.parent / "x").exists()


def test_row_42_report_output_dir_not_writable(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, out, err = run_cli(capsys, "report", "--output-dir", tmp_path / "file" / "sub")
    assert_cli_error(code, out, err, r"cannot create the output folder")


# --- row 43: names from the data are literal text; formulas neutralised in CSV ------------------------

NASTY = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)", "<script>alert(1)</script>",
         "**bold** [link](http://x)", "Plan $5 to $10"]  # fmt: skip


def test_row_43_segment_text_is_literal_and_formulas_neutralised(tmp_path, capsys):
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(NASTY))] * 2,
                          "month": ["2024-01"] * len(NASTY) + ["2024-02"] * len(NASTY),
                          "product": "P", "mrr": "10.00", "segment": NASTY * 2})  # fmt: skip
    path = tmp_path / "nasty.csv"
    frame.to_csv(path, index=False)
    api = summary_csv(kit.summarize(kit.load_ledger(path, today=TODAY), by="segment"))
    code, out, err = run_cli(capsys, "summary", path, "--by", "segment")
    assert code == 0 and out == api
    cells = [row[1] for row in csv.reader(io.StringIO(out))][1:]
    for text in NASTY:
        shown = "'" + text if text[0] in "=+-@" else text
        assert shown in cells, (text, cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


# --- row 44: zero starting MRR gives NaN rates, shown empty ------------------------------------------

RATES = ["customer_expansion_rate", "expansion_mrr_rate", "upsell_rate", "cross_sell_rate", "nrr", "grr"]


def test_row_44_zero_starting_mrr_gives_empty_rates(tmp_path, capsys):
    path = tmp_path / "s.csv"
    path.write_text(SUBS + "A,P,2024-01-01,,10,month,1,1\n")
    table = kit.summarize(kit.load_ledger(path, as_of="2024-02-29", today=TODAY))
    first = table.iloc[0]
    assert first["period"] == "2024-01" and first["mrr_start"] == 0 and first["new"] == 1000
    assert all(np.isnan(first[r]) for r in [*RATES, "quick_ratio"])  # never 0, never inf
    assert np.isnan(table.iloc[1]["quick_ratio"]) and table.iloc[1]["nrr"] == 1.0
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["period"] for r in rows] == ["2024-01", "2024-02"]
    assert all(rows[0][r] == "" for r in [*RATES, "quick_ratio"])
    assert rows[1]["nrr"] == "1" and rows[1]["quick_ratio"] == ""
    assert "inf" not in out.lower() and "nan" not in out.lower()


# --- row 45: a single customer, a single month ----------------------------------------------------------


def test_row_45_single_customer_single_month(tmp_path, capsys):
    snap = tmp_path / "one.csv"
    snap.write_text(SNAP + "A,2024-01,P,10\n")
    table = kit.summarize(kit.load_ledger(snap, today=TODAY))
    assert table.empty and list(table.columns) == kit.SUMMARY_COLUMNS
    code, out, err = run_cli(capsys, "summary", snap)
    assert code == 0 and out.strip() == ",".join(kit.SUMMARY_COLUMNS)
    assert err.startswith("note: no summary rows") and "baseline period 2024-01" in err
    subs = tmp_path / "one_sub.csv"
    subs.write_text(SUBS + "A,P,2024-01-01,,10,month,1,1\n")
    code, out, err = run_cli(capsys, "summary", subs, "--as-of", "2024-01-31")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 1
    assert (rows[0]["period"], rows[0]["new"], rows[0]["mrr_end"], rows[0]["customers_new"]) == (
        "2024-01",
        "10.00",
        "10.00",
        "1",
    )


# --- row 46: sums exact in integer cents, equal to Decimal ----------------------------------------------


def test_row_46_a_million_amounts_sum_like_decimal():
    n = 1_000_000
    rng = np.random.default_rng(46)
    # amounts that float arithmetic gets wrong: 0.29 * 100 = 28.999…, 0.1 + 0.2 != 0.3, large + small
    menu = np.array(["0.29", "0.1", "0.2", "0.3", "19.99", "0.07", "1234567.89", "999999999.99", "0.01", "33.33"]
                    + [f"{rng.integers(0, 10**8) / 100:.2f}" for _ in range(990)], dtype=object)  # fmt: skip
    amounts = menu[rng.integers(0, len(menu), n)]
    frame = pd.DataFrame({"customer_id": np.char.add("c", (np.arange(n) % 5000).astype(str)).astype(object),
                          "month": np.where(np.arange(n) < n // 2, "2024-01", "2024-02").astype(object),
                          "product": "P", "mrr": amounts})  # fmt: skip
    ledger = kit.load_ledger(frame, today=TODAY)
    months = frame["month"].to_numpy()
    expected = {m: sum((Decimal(a) for a in amounts[months == m]), Decimal(0)) for m in ("2024-01", "2024-02")}
    monthly = ledger.monthly_mrr().set_index(ledger.monthly_mrr()["month"].astype(str))["mrr_cents"]
    assert {m: int(monthly[m]) for m in expected} == {m: int(v * 100) for m, v in expected.items()}
    table = kit.summarize(ledger)
    assert int(table.loc[0, "mrr_start"]) == int(expected["2024-01"] * 100)
    assert int(table.loc[0, "mrr_end"]) == int(expected["2024-02"] * 100)
    row = next(csv.DictReader(io.StringIO(summary_csv(table))))
    assert (row["mrr_start"], row["mrr_end"]) == (str(expected["2024-01"]), str(expected["2024-02"]))


# --- end to end: a real process ----------------------------------------------------------------------------


def test_cli_error_end_to_end_in_a_subprocess(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(SNAP + "A,2024-01,P,abc\nB,2024-13,P,1\n")
    result = subprocess.run([sys.executable, "-m", "kit", "summary", str(path)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)  # fmt: skip
    assert_cli_error(result.returncode, result.stdout, result.stderr, r"^error: m\.csv: 2 invalid rows")
    assert "row 2, column mrr: 'abc'" in result.stderr and "row 3, column month: '2024-13'" in result.stderr
