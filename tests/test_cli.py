"""
The command line: ``python -m kit``, checked against values worked out by hand.

The data set (snapshots, January to June 2024, money in major units):

======  =========================================  =================================
id      MRR                                        segment
======  =========================================  =================================
A       Core 100 (Jan–Mar); Core 150 + Addon 50    SMB
        (Apr–Jun)
B       Core 200 (Jan–May); Core 120 (Jun)         Ent
C       Core 80 (Jan); Core 90 (Jun)               SMB
D       Core 30 (Apr–Jun)                          ``=HYPERLINK(...)`` (formula text)
E       Core 100 + Addon 50 (Jan–Mar); Core 200    Ent
        (Apr–Jun)
======  =========================================  =================================

January is the baseline (snapshots). By hand, netting by customer:
Feb: C churns 80 (530 → 450). Mar: nothing. Apr: D new 30; A +100 with U = 50 (Core)
and X = 50 (Addon), so cross-sell 100·50 // 100 = 50 and upsell 50; E +50 with U = 100,
X = 0, so upsell 50 (450 → 630). May: nothing. Jun: B contracts 80, C returns with 90
after 4 inactive months (reactivation; new with ``--reactivation-window`` below 4)
(630 → 640). Netting by product, April books E's Core +100 as upsell and its dropped
Addon 50 as contraction. By quarter: Q1 is the baseline (end of March 450), and Q2 ends
at 640; C was not active at the end of Q1, so it is new at quarterly grain.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest
from conftest import ROOT

import kit
from kit.cli import build_parser, main

FORMULA = '=HYPERLINK("http://evil.example","x")'
SEGMENTS = {"A": "SMB", "B": "Ent", "C": "SMB", "D": FORMULA, "E": "Ent"}
HOLDINGS = {  # customer -> {month: {product: major units}}
    "A": {**{m: {"Core": "100.00"} for m in ("01", "02", "03")}, **{m: {"Core": "150.00", "Addon": "50.00"}
                                                                   for m in ("04", "05", "06")}},
    "B": {**{m: {"Core": "200.00"} for m in ("01", "02", "03", "04", "05")}, "06": {"Core": "120.00"}},
    "C": {"01": {"Core": "80.00"}, "06": {"Core": "90.00"}},
    "D": {m: {"Core": "30.00"} for m in ("04", "05", "06")},
    "E": {**{m: {"Core": "100.00", "Addon": "50.00"} for m in ("01", "02", "03")},
          **{m: {"Core": "200.00"} for m in ("04", "05", "06")}},
}  # fmt: skip
MONEY = ["mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn", "mrr_end"]
COUNTS = ["customers_start", "customers_end", "customers_new", "customers_reactivated", "customers_expanded",
          "customers_contracted", "customers_churned"]  # fmt: skip


def data_frame(with_segment: bool = True) -> pd.DataFrame:
    rows = [{"customer_id": c, "month": f"2024-{m}", "product": p, "mrr": v, "segment": SEGMENTS[c]}
            for c, months in HOLDINGS.items() for m, products in months.items()
            for p, v in products.items()]  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame if with_segment else frame.drop(columns="segment")


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    data_frame().to_csv(path, index=False)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def summary_rows(capsys, *argv) -> list[dict]:
    code, out, err = run(capsys, "summary", *argv)
    assert code == 0, err
    assert "Traceback" not in err
    return list(csv.DictReader(io.StringIO(out)))


# --- expected rows, by hand --------------------------------------------------------------------


def expected(period, start, new, react, upsell, cross, contraction, churn, end, counts) -> dict:
    """One summary row from hand-worked money (cents) and counts; rates by DESIGN.md's formulas."""
    m = {"mrr_start": start, "new": new, "reactivation": react, "upsell": upsell, "cross_sell": cross,
         "expansion": upsell + cross, "contraction": contraction, "churn": churn, "mrr_end": end}  # fmt: skip
    assert start + new + react + upsell + cross - contraction - churn == end  # the bridge, by hand
    c = dict(zip(COUNTS, counts, strict=True))
    exp = m["expansion"]

    def rate(num, den):
        return None if den == 0 else Fraction(num, den)

    rates = {
        "customer_expansion_rate": rate(c["customers_expanded"], c["customers_start"]),
        "expansion_mrr_rate": rate(exp, start),
        "upsell_rate": rate(upsell, start),
        "cross_sell_rate": rate(cross, start),
        "nrr": rate(start + exp - contraction - churn, start),
        "grr": rate(start - contraction - churn, start),
        "quick_ratio": rate(new + react + exp, contraction + churn),
    }
    return {"period": period, **m, **c, **rates}


MONTHLY = [
    expected("2024-02", 53000, 0, 0, 0, 0, 0, 8000, 45000, (4, 3, 0, 0, 0, 0, 1)),
    expected("2024-03", 45000, 0, 0, 0, 0, 0, 0, 45000, (3, 3, 0, 0, 0, 0, 0)),
    expected("2024-04", 45000, 3000, 0, 10000, 5000, 0, 0, 63000, (3, 4, 1, 0, 2, 0, 0)),
    expected("2024-05", 63000, 0, 0, 0, 0, 0, 0, 63000, (4, 4, 0, 0, 0, 0, 0)),
    expected("2024-06", 63000, 0, 9000, 0, 0, 8000, 0, 64000, (4, 5, 0, 1, 0, 1, 0)),
]


def money_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def assert_rate(cell: str, value: Fraction | None) -> None:
    """A fraction (not a percentage) good to at least 6 significant digits; empty for NaN."""
    if value is None:
        assert cell == "", cell
        return
    assert re.fullmatch(r"-?\d+(\.\d+)?(e[-+]\d+)?", cell), cell
    shown = Fraction(Decimal(cell))
    assert abs(shown - value) <= abs(value) * Fraction(5, 10**6), (cell, float(value))


def assert_row(row: dict, want: dict) -> None:
    assert row["period"] == want["period"]
    for column in MONEY:
        assert re.fullmatch(r"\d+\.\d{2}", row[column]), (column, row[column])
        assert row[column] == money_text(want[column]), (want["period"], column, row[column])
    for column in COUNTS:
        assert row[column] == str(want[column]), (want["period"], column, row[column])
    for column in kit.SUMMARY_COLUMNS[-7:]:
        assert_rate(row[column], want[column])


# --- help and end to end ----------------------------------------------------------------------------


def test_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "kit", "--help"], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"summary", "report"} <= set(commands)
    for command in commands:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command


def test_summary_end_to_end_in_a_subprocess(data_csv, capsys):
    result = subprocess.run([sys.executable, "-m", "kit", "summary", str(data_csv)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    code, out, _ = run(capsys, "summary", data_csv)
    assert result.stdout == out
    assert result.stdout.splitlines()[0] == ",".join(kit.SUMMARY_COLUMNS)


# --- the summary, by hand ------------------------------------------------------------------------------


def test_summary_monthly_by_hand(data_csv, capsys):
    code, out, err = run(capsys, "summary", data_csv)
    assert code == 0 and err == ""
    assert out.splitlines()[0].split(",") == kit.SUMMARY_COLUMNS  # DESIGN.md's columns, in order
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["period"] for r in rows] == ["2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    for row, want in zip(rows, MONTHLY, strict=True):
        assert_row(row, want)
    # a few rates spelled out: Feb NRR 450/530, Apr expansion rate 150/450, Jun quick ratio 90/80
    assert Decimal(rows[0]["nrr"]).quantize(Decimal("0.000001")) == Decimal("0.849057")
    assert Decimal(rows[2]["expansion_mrr_rate"]).quantize(Decimal("0.000001")) == Decimal("0.333333")
    assert rows[4]["quick_ratio"] == "1.125"
    assert rows[1]["quick_ratio"] == "" and rows[2]["quick_ratio"] == ""  # 0 / 0 and 180 / 0: NaN, empty


def test_output_file_holds_the_same_csv(data_csv, tmp_path, capsys):
    _, printed, _ = run(capsys, "summary", data_csv)
    target = tmp_path / "out" / "summary.csv"
    target.parent.mkdir()
    code, out, err = run(capsys, "summary", data_csv, "--output", target)
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert f"wrote {target} (5 rows)" in err
    assert [p.name for p in target.parent.iterdir()] == ["summary.csv"]  # no temporary file left


def test_period_quarter(data_csv, capsys):
    rows = summary_rows(capsys, data_csv, "--period", "quarter")
    assert len(rows) == 1
    assert_row(rows[0], expected("2024-Q2", 45000, 12000, 0, 10000, 5000, 8000, 0, 64000, (3, 5, 2, 0, 2, 1, 0)))


def test_netting_product(data_csv, capsys):
    rows = summary_rows(capsys, data_csv, "--netting", "product")
    april = expected("2024-04", 45000, 3000, 0, 15000, 5000, 5000, 0, 63000, (3, 4, 1, 0, 2, 0, 0))
    for row, want in zip(rows, [MONTHLY[0], MONTHLY[1], april, MONTHLY[3], MONTHLY[4]], strict=True):
        assert_row(row, want)
    assert rows[2]["quick_ratio"] == "4.6"  # (30 + 200) / 50


@pytest.mark.parametrize(("window", "june_new", "june_reactivation"), [(None, 0, 9000), (4, 0, 9000), (3, 9000, 0)])
def test_reactivation_window(data_csv, capsys, window, june_new, june_reactivation):
    extra = [] if window is None else ["--reactivation-window", str(window)]
    rows = summary_rows(capsys, data_csv, *extra)
    counts = (4, 5, 1 if june_new else 0, 1 if june_reactivation else 0, 0, 1, 0)
    assert_row(rows[4], expected("2024-06", 63000, june_new, june_reactivation, 0, 0, 8000, 0, 64000, counts))
    for row, want in zip(rows[:4], MONTHLY[:4], strict=True):
        assert_row(row, want)


def test_by_segment(data_csv, capsys):
    rows = summary_rows(capsys, data_csv, "--by", "segment")
    code, out, _ = run(capsys, "summary", data_csv, "--by", "segment")
    assert out.splitlines()[0].split(",") == ["period", "segment", *kit.SUMMARY_COLUMNS[1:]]
    by = {(r["period"], r["segment"]): r for r in rows}
    assert len(rows) == 15 and {s for _, s in by} == {"SMB", "Ent", "'" + FORMULA}
    assert_row(by[("2024-02", "SMB")], expected("2024-02", 18000, 0, 0, 0, 0, 0, 8000, 10000, (2, 1, 0, 0, 0, 0, 1)))
    assert_row(by[("2024-04", "SMB")], expected("2024-04", 10000, 0, 0, 5000, 5000, 0, 0, 20000, (1, 1, 0, 0, 1, 0, 0)))
    assert_row(by[("2024-04", "Ent")], expected("2024-04", 35000, 0, 0, 5000, 0, 0, 0, 40000, (2, 2, 0, 0, 1, 0, 0)))
    assert_row(by[("2024-04", "'" + FORMULA)], expected("2024-04", 0, 3000, 0, 0, 0, 0, 0, 3000, (0, 1, 1, 0, 0, 0, 0)))
    # a returning customer counts in its segment at the end of the period
    assert_row(by[("2024-06", "SMB")], expected("2024-06", 20000, 0, 9000, 0, 0, 0, 0, 29000, (1, 2, 0, 1, 0, 0, 0)))
    # the segments add up to the whole
    for want in MONTHLY:
        for column in MONEY:
            total = sum(Decimal(r[column]) for r in rows if r["period"] == want["period"])
            assert total == Decimal(money_text(want[column])), (want["period"], column)


def test_formula_text_in_a_segment_is_neutralised(data_csv, capsys):
    code, out, _ = run(capsys, "summary", data_csv, "--by", "segment")
    cells = [row[1] for row in csv.reader(io.StringIO(out))][1:]
    assert "'" + FORMULA in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_as_of_cuts_the_window_and_says_what_it_left_out(data_csv, capsys):
    code, out, err = run(capsys, "summary", data_csv, "--as-of", "2024-04-30")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["period"] for r in rows] == ["2024-02", "2024-03", "2024-04"]
    for row, want in zip(rows, MONTHLY[:3], strict=True):
        assert_row(row, want)
    assert "note: 11 of 29 rows excluded (month after as_of: 11)" in err


# --- kinds, currencies, formats ------------------------------------------------------------------------

SUBSCRIPTIONS = (
    "customer_id,product,start_date,end_date,amount,billing_period,quantity\n"
    "A,Core,2024-01-01,,1200.00,year,1\n"  # 100.00 a month
    "B,Core,2024-02-01,2024-03-01,50.00,month,1\n"  # in force on 29 Feb only
    "C,Core,2024-01-15,2024-03-15,30.00,month,2\n"  # 60.00 on 31 Jan and 29 Feb; ended before 31 Mar
)


def test_kind_subscriptions(tmp_path, capsys):
    path = tmp_path / "subs.csv"
    path.write_text(SUBSCRIPTIONS)
    detected = run(capsys, "summary", path)
    given = run(capsys, "summary", path, "--kind", "subscriptions")
    assert detected == given and detected[0] == 0
    rows = list(csv.DictReader(io.StringIO(given[1])))
    # window: the first start (Jan) to the latest date (15 Mar); the baseline is Dec 2023 at zero
    assert [r["period"] for r in rows] == ["2024-01", "2024-02", "2024-03"]
    assert_row(rows[0], expected("2024-01", 0, 16000, 0, 0, 0, 0, 0, 16000, (0, 2, 2, 0, 0, 0, 0)))
    assert_row(rows[1], expected("2024-02", 16000, 5000, 0, 0, 0, 0, 0, 21000, (2, 3, 1, 0, 0, 0, 0)))
    assert_row(rows[2], expected("2024-03", 21000, 0, 0, 0, 0, 0, 11000, 10000, (3, 1, 0, 0, 0, 0, 2)))
    code, out, err = run(capsys, "summary", path, "--kind", "snapshots")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("error: subs.csv: missing required columns for snapshots: month, mrr")


FX_DATA = "customer_id,month,product,mrr,currency\nA,2024-01,P,100.00,EUR\nA,2024-02,P,100.00,EUR\n" \
          "B,2024-01,P,100.00,USD\nB,2024-02,P,100.00,USD\n"  # fmt: skip
FX_TABLE = "currency,month,rate\nEUR,2024-01,1.10\nEUR,2024-02,1.20\nUSD,2024-01,1\nUSD,2024-02,1\n"


@pytest.mark.parametrize(("mode", "want"), [
    ("monthly", expected("2024-02", 21000, 0, 0, 1000, 0, 0, 0, 22000, (2, 2, 0, 0, 1, 0, 0))),  # FX looks like growth
    ("constant", expected("2024-02", 22000, 0, 0, 0, 0, 0, 0, 22000, (2, 2, 0, 0, 0, 0, 0))),  # every month at 1.20
])  # fmt: skip
def test_fx_modes(tmp_path, capsys, mode, want):
    (tmp_path / "d.csv").write_text(FX_DATA)
    (tmp_path / "fx.csv").write_text(FX_TABLE)
    rows = summary_rows(capsys, tmp_path / "d.csv", "--fx", tmp_path / "fx.csv", "--fx-mode", mode)
    assert len(rows) == 1
    assert_row(rows[0], want)


@pytest.fixture
def plain_summary(tmp_path, capsys):
    """The summary of the data set without the segment column, from CSV."""
    path = tmp_path / "plain.csv"
    data_frame(with_segment=False).to_csv(path, index=False)
    code, out, _ = run(capsys, "summary", path)
    assert code == 0
    return out


def test_sqlite_table_and_query(tmp_path, capsys, plain_summary):
    db = tmp_path / "billing.sqlite"
    with sqlite3.connect(db) as connection:
        data_frame(with_segment=False).to_sql("mrr", connection, index=False)
    assert run(capsys, "summary", db, "--table", "mrr")[1] == plain_summary
    assert run(capsys, "summary", f"sqlite:///{db}", "--table", "mrr")[1] == plain_summary
    # a query: without customer C, February has no churn and June no reactivation
    code, out, err = run(capsys, "summary", f"sqlite:///{db}", "--query", "SELECT * FROM mrr WHERE customer_id <> 'C'")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0, err
    assert_row(rows[0], expected("2024-02", 45000, 0, 0, 0, 0, 0, 0, 45000, (3, 3, 0, 0, 0, 0, 0)))
    assert_row(rows[4], expected("2024-06", 63000, 0, 0, 0, 0, 8000, 0, 55000, (4, 4, 0, 0, 0, 1, 0)))


def test_excel_sheet_and_header_row(tmp_path, capsys, plain_summary):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover page"]}).to_excel(writer, sheet_name="Cover", index=False)
        pd.DataFrame([["MRR export, June 2024"], [""]]).to_excel(writer, sheet_name="Data", index=False, header=False)
        data_frame(with_segment=False).assign(mrr=lambda f: f["mrr"].astype(float)).to_excel(
            writer, sheet_name="Data", index=False, startrow=2
        )
    assert run(capsys, "summary", path, "--sheet", "Data", "--header-row", "3")[1] == plain_summary
    code, out, err = run(capsys, "summary", path, "--sheet", "Data")
    assert code == 2 and "header_row" in err and "Traceback" not in err


def test_parquet(tmp_path, capsys, plain_summary):
    path = tmp_path / "data.parquet"
    data_frame(with_segment=False).to_parquet(path)
    assert run(capsys, "summary", path)[1] == plain_summary


# --- errors ------------------------------------------------------------------------------------------------


def _not_writable(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return folder / "s.csv"
    pytest.skip("running as root: permissions do not stop writing (folder-is-a-file covers the check)")


def _under_a_file(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    return tmp_path / "file.txt" / "s.csv"


@pytest.mark.parametrize(("target", "message"), [
    (lambda t: t / "missing" / "s.csv", r"the folder .*missing does not exist"),
    (lambda t: t, r": is a directory"),
    (_under_a_file, r"cannot write in the folder .*file\.txt"),
    (_not_writable, r"cannot write in the folder .*locked"),
], ids=["missing-folder", "is-a-directory", "folder-is-a-file", "read-only-folder"])  # fmt: skip
def test_output_errors_are_clear_and_early(data_csv, tmp_path, capsys, target, message):
    path = target(tmp_path)
    code, out, err = run(capsys, "summary", data_csv, "--output", path)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert re.match(r"error: .*" + message, lines[0]), err


def test_debug_shows_the_traceback(tmp_path, capsys):
    code, out, err = run(capsys, "--debug", "summary", tmp_path / "none.csv")
    assert code == 2 and "Traceback (most recent call last)" in err and "kit.errors.LoadError" in err
    assert err.rstrip().splitlines()[-1] == f"error: {tmp_path / 'none.csv'}: file not found"
    code, out, err = run(capsys, "summary", tmp_path / "none.csv")
    assert code == 2 and "Traceback" not in err and err == f"error: {tmp_path / 'none.csv'}: file not found\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["summary", "{data}", "--period", "week"], r"argument --period: invalid choice: 'week'"),
    (["summary"], r"the following arguments are required: data"),
    (["summary", "{data}", "--header-row", "0"], r"argument --header-row: a row number counts from 1, not 0"),
    (["summary", "{data}", "--reactivation-window", "abc"], r"argument --reactivation-window: invalid int"),
    (["summary", "{data}", "--output", "{tmp}/s.xlsx"], r"s\.xlsx: --output writes CSV text; name the file \.csv"),
    (["summary", "{data}", "--output", "{tmp}/s.sqlite3"], r"s\.sqlite3: --output writes CSV text"),
], ids=["bad-choice", "missing-data", "header-row-0", "not-a-number", "not-csv", "not-csv-2"])  # fmt: skip
def test_option_errors_are_one_line_with_status_2(data_csv, tmp_path, capsys, argv, message):
    code, out, err = run(capsys, *[a.format(data=data_csv, tmp=tmp_path) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "usage:" not in err, err
    assert re.match(r"error: .*" + message, lines[0]), err
    assert not (tmp_path / "s.xlsx").exists()


@pytest.mark.parametrize(("command", "option"), [("summary", "--period"), ("report", "--output-dir"),
                                                 ("batch", "--jobs")])  # fmt: skip
def test_help_is_status_0(capsys, command, option):
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and option in out and err == ""


def test_a_missing_database_driver_is_named(capsys):
    pytest.importorskip("sqlalchemy")
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the MySQL driver is installed here")
    code, out, err = run(capsys, "summary", "mysql+mysqldb://me:s3cret@localhost/billing", "--table", "mrr")
    assert code == 2 and "Traceback" not in err and "s3cret" not in err
    assert err.startswith(
        "error: mysql+mysqldb://me:***@localhost/billing: cannot open the database: its driver "
        "(Python module 'MySQLdb') is not installed"
    )


def test_summary_says_the_data_notes_on_stderr(tmp_path, capsys):
    path = tmp_path / "subs.csv"
    path.write_text("customer_id,start_date,end_date,amount,billing_period\n"
                    "A,2024-01-01,,100,month\nB,2024-01-01,,0,month\nC,2024-02-01,,50,month\n")  # fmt: skip
    code, out, err = run(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0 and out.splitlines()[2].startswith("2024-02,100.00,50.00,")  # 2024-01: A new
    assert err == "note: rows with amount 0 (trials and free plans are not active): 1 row (e.g. row 3)\n"
