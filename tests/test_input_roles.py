"""
What each column and row means (RELIABILITY.md rows 47–50): total rows, line breaks and NUL
bytes in key fields, column synonyms taken for their roles, several snapshot dates of one
key in a month. Each class through the API (:func:`kit.load_ledger`) and the CLI
(``python -m kit summary``, in-process), with hand-worked values.
"""

from __future__ import annotations

import re
import sqlite3

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TODAY
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_reliability import assert_cli_error, cents, excluded, notes, run_cli

import kit
from kit import roles
from kit.errors import LoadError, ParameterError, ValidationError
from kit.report import load_options, validate_parameters

SNAP = "customer_id,month,product,mrr\n"


def accounted(ledger: kit.Ledger) -> None:
    q = ledger.quality
    assert q.rows_read == q.rows_used + q.rows_excluded


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- 1. total rows ------------------------------------------------------------------------------

TOTAL_WORDS = ["Total", "Grand total", "Sum", "Subtotal", "Totals", "Total:", " GRAND TOTAL ", "sub-total",
               "Grand Total.", "TOTALS:", "Overall total"]  # fmt: skip
TOTAL_ROWS = pd.DataFrame({"customer_id": ["A", "B", "Grand total"], "month": "2024-01", "product": "P",
                           "mrr": ["10.00", "20.00", "30.00"]})  # fmt: skip


@pytest.mark.parametrize("word", TOTAL_WORDS)
def test_total_word_in_customer_id_is_refused_naming_the_row(word):
    frame = TOTAL_ROWS.assign(customer_id=["A", "B", word])
    with pytest.raises(
        ValidationError,
        match=r"a total row, not a customer \(remove it\): 1 row, e.g. row 3, "
        rf"column customer_id: {re.escape(repr(word))}",
    ):
        kit.load_ledger(frame, today=TODAY)


def _csv(path):
    path.write_text(TOTAL_ROWS.to_csv(index=False))


def _excel(path):
    TOTAL_ROWS.to_excel(path, index=False)


def _parquet(path):
    TOTAL_ROWS.to_parquet(path)


def _sqlite(path):
    with sqlite3.connect(path) as connection:
        TOTAL_ROWS.to_sql("mrr", connection, index=False)


@pytest.mark.parametrize(("name", "make", "options", "row"), [
    ("t.csv", _csv, {}, 4), ("t.xlsx", _excel, {}, 4), ("t.parquet", _parquet, {}, 3),
    ("t.db", _sqlite, {"table": "mrr"}, 3),
], ids=["csv", "excel", "parquet", "sql"])  # fmt: skip
def test_total_row_refused_in_every_format_and_excluded_when_lenient(tmp_path, name, make, options, row):
    path = tmp_path / name  # row numbers as the user sees them: under a header line in CSV and Excel
    make(path)
    with pytest.raises(ValidationError, match=rf"row {row}, column customer_id: 'Grand total'"):
        kit.load_ledger(path, today=TODAY, **options)
    ledger = kit.load_ledger(path, today=TODAY, on_invalid="quarantine", **options)
    assert cents(ledger) == {("A", "2024-01"): 1000, ("B", "2024-01"): 2000}
    assert excluded(ledger) == {"a total row, not a customer (remove it)": 1}
    accounted(ledger)


def test_names_that_go_on_after_total_are_customers():
    frame = pd.DataFrame({"customer_id": ["Total Wine & More", "Summit", "Sum Labs", "Totally Legit"],
                          "month": "2024-01", "product": "P", "mrr": ["1.00", "2.00", "3.00", "4.00"]})  # fmt: skip
    ledger = kit.load_ledger(frame, today=TODAY)
    assert cents(ledger) == {("Total Wine & More", "2024-01"): 100, ("Summit", "2024-01"): 200,
                             ("Sum Labs", "2024-01"): 300, ("Totally Legit", "2024-01"): 400}  # fmt: skip


def test_total_in_product_is_a_subtotal_row():
    frame = pd.DataFrame({"customer_id": ["A", "A", "A"], "month": "2024-01", "product": ["P", "Q", "Total"],
                          "mrr": ["1.00", "2.00", "3.00"]})  # fmt: skip
    with pytest.raises(ValidationError, match=r"row 3, column product: 'Total'"):
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")
    assert cents(ledger) == {("A", "2024-01"): 300}
    accounted(ledger)


@given(st.sampled_from(["total", "totals", "grand total", "subtotal", "sub-total", "sum", "grandtotal"]),
       st.lists(st.booleans(), min_size=12, max_size=12), st.sampled_from(["", " ", ":", ".", " :", "  =", "*"]),
       st.sampled_from(["", " ", "  "]))  # fmt: skip
def test_any_case_spacing_and_trailing_punctuation_of_a_total_word_is_total(word, upper, tail, lead):
    text = lead + "".join(c.upper() if u else c for c, u in zip(word, upper + [False] * len(word), strict=False)) + tail
    assert roles.is_total(pd.Series([text])).tolist() == [True]


@given(st.sampled_from(["Total", "Sum", "Grand total"]), st.from_regex(r"[A-Za-z&][A-Za-z& ]{0,10}", fullmatch=True))
def test_a_total_word_followed_by_a_name_is_not_total(word, rest):
    # a currency code in capitals after the word, and "Sum total", are total rows (see the review tests below);
    # so are a text ending in a total word ("Total A total") and a pivot label ("Sum of X", tests/test_input_amounts.py)
    assume(rest.strip() not in roles.CURRENCY_CODES and not (word == "Sum" and re.fullmatch(r"(?i)totals?\s*", rest)))
    assume(not re.search(r"(?i)(?:(?<![a-z])|grand|sub|overall)totals?\s*$", rest))
    assume(not (word == "Sum" and re.match(r"(?i)of(\s|$)", rest)))
    assert roles.is_total(pd.Series([f"{word} {rest}"])).tolist() == [False]


def test_cli_total_row_error_and_lenient(tmp_path, capsys):
    path = write(tmp_path, "t.csv", SNAP + "A,2024-01,P,10\nA,2024-02,P,12\nTotal:,2024-02,P,12\n")
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"t\.csv: 1 invalid row.*a total row, not a customer.*row 4, column customer_id: "
                                     r"'Total:'.*--lenient")  # fmt: skip
    code, out, err = run_cli(capsys, "summary", path, "--lenient")
    assert code == 0 and "1 of 3 rows excluded (a total row, not a customer (remove it): 1)" in err
    assert out.splitlines()[1].startswith("2024-02,10.00,0.00,0.00,2.00,0.00,2.00,")


# --- 2. line breaks and NUL in key fields --------------------------------------------------------

BREAKS = "a line break or NUL byte in a key field (a quoting fault? fix the file)"


@pytest.mark.parametrize(
    "value", ["A\nB", "A\r\nB", "A\rB", "A\x00", "\nA"], ids=["lf", "crlf", "cr", "nul", "leading"]
)
@pytest.mark.parametrize("column", ["customer_id", "product", "month"])
def test_break_or_nul_in_a_snapshot_key_field(column, value):
    frame = pd.DataFrame({"customer_id": ["A", "B"], "month": ["2024-01", "2024-01"], "product": "P",
                          "mrr": ["1.00", "2.00"]})  # fmt: skip
    frame.loc[1, column] = value if column != "month" else value.replace("A", "2024-01")
    with pytest.raises(ValidationError, match=rf"{re.escape(BREAKS)}: 1 row, e.g. row 2, column {column}:"):
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")
    assert cents(ledger) == {("A", "2024-01"): 100}
    assert excluded(ledger) == {BREAKS: 1}
    accounted(ledger)


SUB_ROW = {"customer_id": "A", "product": "P", "start_date": "2024-01-01", "end_date": "", "amount": "10.00",
           "billing_period": "month", "quantity": "2", "billing_interval_count": "1", "currency": "USD",
           "plan": "Pro", "subscription_id": "s1"}  # fmt: skip


@pytest.mark.parametrize("column", ["start_date", "end_date", "currency", "billing_period", "quantity",
                                    "billing_interval_count", "plan", "subscription_id", "amount"])  # fmt: skip
def test_break_in_a_subscription_key_field(column):
    frame = pd.DataFrame([SUB_ROW, {**SUB_ROW, "customer_id": "B", column: SUB_ROW[column] + "\nx"}])
    with pytest.raises(ValidationError, match=rf"{re.escape(BREAKS)}: 1 row, e.g. row 2, column {column}:"):
        kit.load_ledger(frame, today=TODAY, as_of="2024-01-31")
    ledger = kit.load_ledger(frame, today=TODAY, as_of="2024-01-31", on_invalid="quarantine")
    assert cents(ledger) == {("A", "2024-01"): 2000}
    accounted(ledger)


def test_attributes_may_hold_line_breaks_but_not_nul():
    frame = pd.DataFrame({"customer_id": ["A", "B"], "month": "2024-01", "product": "P", "mrr": ["1.00", "2.00"],
                          "company": ["Acme\nEurope", "Beta"]})  # fmt: skip
    ledger = kit.load_ledger(frame, today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 100, ("B", "2024-01"): 200}
    assert "Acme\nEurope" in set(ledger.frame["company"].astype(str))
    frame.loc[1, "company"] = "Be\x00ta"
    with pytest.raises(
        ValidationError, match=r"a NUL byte in the text \(fix the file\): 1 row, e.g. row 2, column company"
    ):
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")
    assert cents(ledger) == {("A", "2024-01"): 100}
    accounted(ledger)


def test_nul_in_a_parquet_id(tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"customer_id": ["A", "B\x00"], "month": ["2024-01", "2024-01"], "product": ["P", "P"],
                             "mrr": ["1.00", "2.00"]}), path)  # fmt: skip
    with pytest.raises(ValidationError, match=r"row 2, column customer_id: 'B\\x00'"):
        kit.load_ledger(path, today=TODAY)


def test_cli_line_break_in_a_quoted_csv_id(tmp_path, capsys):
    path = write(tmp_path, "b.csv", SNAP + 'A,2024-01,P,1\n"B\nC",2024-01,P,2\n')
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"b\.csv: 1 invalid row.*line break or NUL byte in a key field.*"
                                     r"row 3, column customer_id: 'B\\nC'")  # fmt: skip
    code, out, err = run_cli(capsys, "summary", path, "--lenient")
    assert code == 0 and "1 of 2 rows excluded" in err


# --- 3. role synonyms -------------------------------------------------------------------------------

EXPORT = ("customer_id,product,start_date,end_date,unit price,{seats},billing_period\n"
          "A,Core,2024-01-01,,10.00,100,month\nB,Core,2024-01-01,,20.00,20,month\n"
          "A,Core,2023-12-01,2024-01-01,5.00,1,month\n")  # fmt: skip


@pytest.mark.parametrize("header", ["seats", "Seats", "licenses", "Licences", "users", "UNITS", "qty", "Seat count",
                                    "no. of seats", "Number of Seats", "seat_count", "Quantity"])  # fmt: skip
def test_seat_column_is_taken_as_quantity_with_a_note(tmp_path, header):
    ledger = kit.load_ledger(write(tmp_path, "e.csv", EXPORT.format(seats=header)), today=TODAY, as_of="2024-01-31")
    assert cents(ledger) == {("A", "2023-12"): 500, ("A", "2024-01"): 100000, ("B", "2024-01"): 40000}  # 1,400.00
    taken = {k: v for k, v in notes(ledger).items() if "taken as" in k}
    name = kit.ledger.normalise_column(header)
    expected = {"column 'unit_price' taken as amount": 3}
    if name != "quantity":
        expected[f"column {name!r} taken as quantity"] = 3
    assert taken == expected
    table = ledger.quality.table().set_index("item")["value"]
    assert table["note: column 'unit_price' taken as amount"] == "3"
    assert "quantity" not in ledger.attributes and name not in ledger.attributes
    accounted(ledger)


def test_cli_takes_seats_and_says_so(tmp_path, capsys):
    code, out, err = run_cli(capsys, "summary", write(tmp_path, "e.csv", EXPORT.format(seats="licenses")),
                             "--as-of", "2024-01-31")  # fmt: skip
    assert code == 0, err
    assert "note: column 'licenses' taken as quantity: 3 rows" in err
    # January: A from 5.00 (one seat) to 1,000.00 (100 × 10.00), B new at 400.00 (20 × 20.00)
    assert out.splitlines()[2].startswith("2024-01,5.00,400.00,0.00,995.00,0.00,995.00,0.00,0.00,1400.00,")


@pytest.mark.parametrize(("header", "role", "kind"), [
    ("Customer", "customer_id", "snapshots"), ("Account ID", "customer_id", "snapshots"),
    ("Snapshot Month", "month", "snapshots"), ("Product Name", "product", "snapshots"),
    ("MRR Amount", "mrr", "snapshots"), ("monthly_amount", "mrr", "snapshots"),
    ("Started At", "start_date", "subscriptions"), ("ended_at", "end_date", "subscriptions"),
    ("Price", "amount", "subscriptions"), ("Interval", "billing_period", "subscriptions"),
    ("Interval Count", "billing_interval_count", "subscriptions"), ("Plan Name", "plan", "subscriptions"),
    ("Currency Code", "currency", "subscriptions"), ("sub_id", "subscription_id", "subscriptions"),
    ("Billing-Period", "billing_period", "subscriptions"),
])  # fmt: skip
def test_synonym_of_each_role_is_taken(header, role, kind):
    if kind == "snapshots":
        frame = pd.DataFrame({"customer_id": ["A"], "month": ["2024-01"], "product": ["P"], "mrr": ["12.00"]})
    else:
        frame = pd.DataFrame([{**SUB_ROW, "billing_interval_count": "3", "billing_period": "year"}])
    frame = frame.rename(columns={role: header})
    ledger = kit.load_ledger(frame, today=TODAY, as_of="2024-01-31")
    assert notes(ledger)[f"column {kit.ledger.normalise_column(header)!r} taken as {role}"] == 1
    product = "P"
    expected = 1200 if kind == "snapshots" else 56  # 10.00 × 2 per 3 years: 2000 / 36 = 55.6 → 56
    assert cents(ledger) == {("A", "2024-01"): expected}
    assert set(ledger.frame["product"].astype(str)) == {product}
    if role == "plan":
        assert set(ledger.frame["plan"].astype(str)) == {"Pro"}


def test_started_at_alone_makes_subscriptions():
    frame = pd.DataFrame([SUB_ROW]).rename(columns={"start_date": "started_at", "end_date": "ended_at"})
    ledger = kit.load_ledger(frame, today=TODAY, as_of="2024-01-31")
    assert ledger.kind == "subscriptions" and cents(ledger) == {("A", "2024-01"): 2000}


def test_two_synonyms_for_one_role_ask_for_a_mapping(tmp_path, capsys):
    text = "customer_id,product,start_date,end_date,amount,billing_period,seats,users\nA,P,2024-01-01,,10,month,3,4\n"
    path = write(tmp_path, "two.csv", text)
    message = (
        r"two\.csv: columns 'seats' and 'users' could each be quantity; say which with mapping=\{'seats': 'quantity'\}"
    )
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, today=TODAY)
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, message.replace("mapping=", r".*--map seats=quantity|mapping="))
    ledger = kit.load_ledger(path, today=TODAY, as_of="2024-01-31", mapping={"users": "quantity"})
    assert cents(ledger) == {("A", "2024-01"): 4000}
    assert notes(ledger)["column 'seats' kept as an attribute (quantity is given by the mapping or a default)"] == 1
    assert "seats" in ledger.attributes
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-01-31", "--map", "seats=quantity")
    assert code == 0 and out.splitlines()[1].startswith("2024-01,0.00,30.00,")


def test_canonical_column_wins_and_the_synonym_stays_an_attribute():
    frame = pd.DataFrame([{**SUB_ROW, "seats": "9"}])
    ledger = kit.load_ledger(frame, today=TODAY, as_of="2024-01-31")
    assert cents(ledger) == {("A", "2024-01"): 2000}  # quantity 2, not 9
    assert notes(ledger)["column 'seats' kept as an attribute (quantity is column 'quantity')"] == 1
    assert "seats" in ledger.attributes


def test_a_column_mapped_to_itself_stays_an_attribute_without_a_note():
    frame = pd.DataFrame([{k: v for k, v in SUB_ROW.items() if k != "quantity"} | {"users": "7"}])
    ledger = kit.load_ledger(frame, today=TODAY, as_of="2024-01-31", mapping={"users": "users"})
    assert cents(ledger) == {("A", "2024-01"): 1000}
    assert "users" in ledger.attributes and not any("users" in n for n in notes(ledger))


@pytest.mark.parametrize(("header", "role"), [("revenue", "mrr"), ("amount", "mrr"), ("date", "month")])
def test_names_that_are_not_plain_synonyms_still_suggest_a_mapping(tmp_path, capsys, header, role):
    frame = pd.DataFrame({"customer_id": ["A"], "month": ["2024-01"], "product": ["P"], "mrr": ["1"]})
    path = tmp_path / "s.csv"
    frame.rename(columns={role: header}).to_csv(path, index=False)
    kind = {"kind": "snapshots"}
    with pytest.raises(
        LoadError,
        match=rf"missing required columns for snapshots: {role} .*"
        rf"mapping=\{{'{header}': '{role}'\}}",
    ):
        kit.load_ledger(path, today=TODAY, **kind)
    code, out, err = run_cli(capsys, "summary", path, "--kind", "snapshots")
    assert_cli_error(code, out, err, rf"mapping=\{{'{header}': '{role}'\}}")


# --- 4. several snapshot dates of one key in a month -----------------------------------------------

WEEKLY = SNAP + ("A,2024-01-07,Core,100\nA,2024-01-14,Core,100\nA,2024-01-21,Core,120\n"
                 "B,2024-01-31,Core,50\nB,2024-01-31,Core,25\n"
                 "A,2024-02-04,Core,120\nB,2024-02-29,Core,75\n")  # fmt: skip


def test_weekly_snapshots_stop_naming_customer_product_month_and_dates(tmp_path, capsys):
    path = write(tmp_path, "w.csv", WEEKLY)
    message = (
        r"w\.csv, column month: customer 'A', product 'Core' has 3 snapshot dates in 2024-01 "
        r"\(2024-01-07, 2024-01-14, 2024-01-21; rows 2, 3, 4\); 1 customer · product · month with several dates"
    )
    with pytest.raises(LoadError, match=r"(?s)" + message + r".*snapshot_dates='last' \(CLI --snapshot-dates last\)"):
        kit.load_ledger(path, today=TODAY)
    with pytest.raises(LoadError, match=message):  # not an invalid row: --lenient does not choose for the user
        kit.load_ledger(path, today=TODAY, on_invalid="quarantine")
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, message + r".*--snapshot-dates last")


def test_last_snapshot_date_of_each_month_is_used_and_the_rest_counted(tmp_path, capsys):
    path = write(tmp_path, "w.csv", WEEKLY)
    ledger = kit.load_ledger(path, today=TODAY, snapshot_dates="last")
    # A: January's last date (01-21) 120; B: two rows of one date, added: 75
    assert cents(ledger) == {("A", "2024-01"): 12000, ("A", "2024-02"): 12000,
                             ("B", "2024-01"): 7500, ("B", "2024-02"): 7500}  # fmt: skip
    reason = "snapshot rows before the last snapshot date of their month (snapshot_dates='last')"
    assert excluded(ledger) == {reason: 2}
    assert ledger.quality.excluded.set_index("reason").loc[reason, "examples"] == "row 2, row 3"
    assert (ledger.quality.rows_read, ledger.quality.rows_used) == (7, 5)
    code, out, err = run_cli(capsys, "summary", path, "--snapshot-dates", "last")
    assert code == 0 and f"2 of 7 rows excluded ({reason}: 2)" in err
    assert out.splitlines()[1].startswith("2024-02,195.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,195.00,")


def test_month_rows_and_one_date_per_key_are_added():
    ledger = kit.load_ledger(pd.DataFrame({
        "customer_id": ["A", "A", "B", "C", "C"], "product": "P",
        "month": ["2024-01", "2024-01", "2024-01-14", "2024-01-07", "2024-01-07"],
        "mrr": ["1.00", "2.00", "4.00", "8.00", "16.00"],
    }), today=TODAY)  # fmt: skip
    assert cents(ledger) == {("A", "2024-01"): 300, ("B", "2024-01"): 400, ("C", "2024-01"): 2400}


def test_daily_snapshots_in_parquet_dates(tmp_path):
    import datetime as dt

    path = tmp_path / "d.parquet"
    days = [dt.date(2024, 1, d) for d in (1, 2, 3)] + [dt.date(2024, 2, 1)]
    pq.write_table(pa.table({"customer_id": ["A"] * 4, "month": pa.array(days, pa.date32()), "product": ["P"] * 4,
                             "mrr": ["1.00", "2.00", "3.00", "4.00"]}), path)  # fmt: skip
    with pytest.raises(LoadError, match=r"has 3 snapshot dates in 2024-01 \(2024-01-01, 2024-01-02, 2024-01-03"):
        kit.load_ledger(path, today=TODAY)
    ledger = kit.load_ledger(path, today=TODAY, snapshot_dates="last")
    assert cents(ledger) == {("A", "2024-01"): 300, ("A", "2024-02"): 400}
    accounted(ledger)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(["P", "Q"]), st.integers(0, 2), st.integers(1, 28),
                          st.integers(0, 10_000)), min_size=1, max_size=30))  # fmt: skip
def test_last_equals_a_plain_reference(rows):
    frame = _dated_rows(rows)
    data = pd.DataFrame({"customer_id": frame["customer_id"], "product": frame["product"],
                         "month": frame["date"].dt.strftime("%Y-%m-%d"), "mrr": _texts(frame["cents"])})  # fmt: skip
    _assert_last_is_the_plain_reference(frame, kit.load_ledger(data, today=TODAY, snapshot_dates="last"))


def _dated_rows(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "m", "day", "cents"])
    frame["date"] = pd.to_datetime({"year": 2024, "month": frame["m"] + 1, "day": frame["day"]})
    return frame


def _texts(cents: pd.Series) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents]


def _assert_last_is_the_plain_reference(frame: pd.DataFrame, ledger) -> None:
    """
    Where some product of a customer · month has several dates: the customer's last date of the month, all its
    products on that date added, its other rows of the month excluded. Other customer · months keep all their rows.
    """
    accounted(ledger)
    several = frame.groupby(["customer_id", "product", "m"])["date"].transform("nunique") > 1
    concerned = several.groupby([frame["customer_id"], frame["m"]]).transform("any")
    latest = frame.groupby(["customer_id", "m"])["date"].transform("max")
    kept = frame[~concerned | (frame["date"] == latest)]
    expected = kept.assign(month=kept["date"].dt.strftime("%Y-%m")).groupby(["customer_id", "month"])["cents"].sum()
    assert cents(ledger) == {k: int(v) for k, v in expected.items() if v > 0}
    assert ledger.quality.rows_excluded == len(frame) - len(kept)


def test_snapshot_dates_option_is_checked_and_reaches_the_report():
    with pytest.raises(ParameterError, match="snapshot_dates must be one of raise, last, not 'first'"):
        kit.load_ledger(pd.DataFrame({"customer_id": ["A"]}), snapshot_dates="first")
    params = validate_parameters({"snapshot_dates": "last"})
    assert load_options(params)["snapshot_dates"] == "last"
    assert validate_parameters({})["snapshot_dates"] == "raise"
    with pytest.raises(ParameterError, match="snapshot_dates must be one of raise, last"):
        validate_parameters({"snapshot_dates": "first"})


# --- review of issue 8: total rows the first pattern missed --------------------------------------

MORE_TOTALS = ["Total (USD)", "** Total **", "Sum total", "TOTAL:", "Total EUR", "Grand Total (all regions)", "[Total]",
               "Sub total", "sum-total", "TOTAL (USD) :", "--Totals--", "Overall Total [EMEA]",
               "<<Grand total>>"]  # fmt: skip
MORE_NAMES = ["Total Wine & More", "Sum Labs", "Totally Legit", "Total Gym", "Summit Partners", "Total (Europe) Ltd",
              "Total - Acme", "Total usd", "Sumo Logic", "Subtotal Software Inc", "Total: 3 customers"]  # fmt: skip


@pytest.mark.parametrize("word", MORE_TOTALS)
def test_total_words_with_marks_remarks_or_a_currency_code_are_refused(word):
    frame = TOTAL_ROWS.assign(customer_id=["A", "B", word])
    with pytest.raises(ValidationError, match=r"a total row, not a customer \(remove it\): 1 row, e.g. row 3, "
                                              rf"column customer_id: {re.escape(repr(word))}"):  # fmt: skip
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")
    assert cents(ledger) == {("A", "2024-01"): 1000, ("B", "2024-01"): 2000}
    assert excluded(ledger) == {"a total row, not a customer (remove it)": 1}
    accounted(ledger)
    product = TOTAL_ROWS.assign(customer_id="A", product=["P", "Q", word])
    with pytest.raises(ValidationError, match=rf"row 3, column product: {re.escape(repr(word))}"):
        kit.load_ledger(product, today=TODAY)


def test_names_that_begin_with_a_total_word_are_customers():
    frame = pd.DataFrame({"customer_id": MORE_NAMES, "month": "2024-01", "product": "P", "mrr": "1.00"})
    ledger = kit.load_ledger(frame, today=TODAY)
    assert cents(ledger) == {(name, "2024-01"): 100 for name in MORE_NAMES}


_MARKS = st.text(alphabet=" :.,;=-–—*#_~!|()[]{}<>", max_size=4)
_WORDS = ["total", "totals", "grand total", "grand-total", "grandtotal", "subtotal", "sub-total", "sub total", "sum",
          "sum total", "sumtotal", "overall total"]  # fmt: skip


def _any_case(word, upper):
    return "".join(c.upper() if u else c for c, u in zip(word, upper + [False] * len(word), strict=False))


@settings(max_examples=300)
@given(st.sampled_from(_WORDS), st.lists(st.booleans(), min_size=13, max_size=13), _MARKS, _MARKS, _MARKS,
       st.one_of(st.just(""), st.sampled_from(sorted(roles.CURRENCY_CODES)),
                 st.from_regex(r"\([A-Za-z0-9 ,./&-]{0,20}\)", fullmatch=True),
                 st.from_regex(r"\[[A-Za-z0-9 ,./&-]{0,20}\]", fullmatch=True)))  # fmt: skip
def test_property_a_total_word_in_marks_with_a_remark_or_code_is_total(word, upper, lead, middle, tail, suffix):
    text = lead + _any_case(word, upper) + middle + (" " if suffix and not middle.strip() else "") + suffix + tail
    assert roles.is_total(pd.Series([text])).tolist() == [True], text


@settings(max_examples=300)
@given(st.sampled_from(["Total", "TOTAL", "total", "Sum", "SUM", "Grand total", "Subtotal"]), _MARKS,
       st.from_regex(r"[A-Za-z][a-z&']{1,8}( [A-Za-z&][a-z&.]{0,8}){0,2}", fullmatch=True), st.booleans())  # fmt: skip
def test_property_a_total_word_followed_by_a_name_is_kept(word, middle, name, glued):
    # a name goes on after the word: other words, or letters glued to it (Totally, Summit)
    assume(not re.fullmatch(r"(?i)totals?", name))  # "Sum total", "Subtotals": a total word, not a name
    text = word + name if glued else word + middle + " " + name
    assert roles.is_total(pd.Series([text])).tolist() == [False], text


def test_cli_total_row_with_a_remark_and_lenient(tmp_path, capsys):
    path = write(tmp_path, "t.csv", SNAP + 'A,2024-01,P,10\nA,2024-02,P,12\n"Total (USD)",2024-02,P,12\n')
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"t\.csv: 1 invalid row.*a total row, not a customer.*row 4, column customer_id: "
                                     r"'Total \(USD\)'.*--lenient")  # fmt: skip
    code, out, err = run_cli(capsys, "summary", path, "--lenient")
    assert code == 0 and "1 of 3 rows excluded (a total row, not a customer (remove it): 1)" in err
    assert out.splitlines()[1].startswith("2024-02,10.00,0.00,0.00,2.00,0.00,2.00,")


def test_is_total_at_a_million_distinct_ids_is_prefiltered():
    import time

    ids = pd.Series([f"cus_{i:08x}" for i in range(1_000_000)] + ["Total (USD)"], dtype=object)
    start = time.perf_counter()
    flags = roles.is_total(ids)
    assert flags.sum() == 1 and flags[-1]
    assert time.perf_counter() - start < 10  # about half a second here; the pattern sees only "tot"/"sum" texts


# --- review of issue 8: weekly snapshot dates in an attribute beside month --------------------------

WEEKLY_BESIDE = ("customer_id,month,snapshot_date,product,mrr\n"
                 "a,2024-01,2024-01-07,p,100\na,2024-01,2024-01-14,p,100\na,2024-01,2024-01-21,p,100\n"
                 "a,2024-01,2024-01-28,p,100\na,2024-02,2024-02-04,p,100\n")  # fmt: skip


def test_weekly_dates_beside_a_month_column_stop_naming_the_column(tmp_path, capsys):
    path = write(tmp_path, "wk.csv", WEEKLY_BESIDE)
    message = (r"wk\.csv, column snapshot_date \(beside column month, which gives the month\): customer 'a', product "
               r"'p' has 4 snapshot dates in 2024-01 \(2024-01-07, 2024-01-14, 2024-01-21, 2024-01-28; rows 2, 3, 4, "
               r"5\); 1 customer · product · month with several dates")  # fmt: skip
    with pytest.raises(LoadError, match=r"(?s)" + message + r".*snapshot_dates='last' \(CLI --snapshot-dates last\)"):
        kit.load_ledger(path, today=TODAY, as_of="2024-02-29")
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert_cli_error(code, out, err, message + r".*--snapshot-dates last")


def test_last_date_beside_a_month_column_is_used_and_the_rest_counted(tmp_path, capsys):
    path = write(tmp_path, "wk.csv", WEEKLY_BESIDE)
    ledger = kit.load_ledger(path, today=TODAY, as_of="2024-02-29", snapshot_dates="last")
    assert cents(ledger) == {("a", "2024-01"): 10000, ("a", "2024-02"): 10000}  # not 400.00 then a fake contraction
    reason = "snapshot rows before the last snapshot date of their month (snapshot_dates='last')"
    assert excluded(ledger) == {reason: 3}
    assert ledger.quality.excluded.set_index("reason").loc[reason, "examples"] == "row 2, row 3, row 4"
    accounted(ledger)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29", "--snapshot-dates", "last")
    assert code == 0 and f"3 of 5 rows excluded ({reason}: 3)" in err
    assert out.splitlines()[1].startswith("2024-02,100.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,100.00,")


@pytest.mark.parametrize("column", ["date", "as_of", "Snapshot Date", "report_date"])
def test_other_date_names_beside_month_are_checked_too(column):
    frame = pd.DataFrame({"customer_id": "A", "month": ["2024-01", "2024-01", "2024-02"], column: ["2024-01-15",
                          "2024-01-31", "2024-02-29"], "product": "P", "mrr": ["1.00", "2.00", "4.00"]})  # fmt: skip
    shown = re.escape(kit.ledger.normalise_column(column))
    with pytest.raises(LoadError, match=rf"column {shown} \(beside column month.*has 2 snapshot dates in 2024-01"):
        kit.load_ledger(frame, today=TODAY)
    assert cents(kit.load_ledger(frame, today=TODAY, snapshot_dates="last")) == {("A", "2024-01"): 200,
                                                                                ("A", "2024-02"): 400}  # fmt: skip


@pytest.mark.parametrize("values", [
    ["2024-01-31", "2024-01-31", "2024-02-29", "2024-01-15"],  # one date per customer · product · month
    ["2024-01-31", "2024-01-14", "2024-02-29", "2024-01-15"],  # two dates in January, but for two keys
    ["week 1", "week 2", "week 1", "week 3"],  # not dates
    ["2024-01", "2023-12", "2024-02", "2024-01"],  # months, not dates
    ["2024-01-07", "n/a", "2024-02-04", "2024-01-14"],  # not all dates
], ids=["one-date-per-key", "one-per-key-two-keys", "text", "months", "mixed"])  # fmt: skip
def test_a_date_column_without_several_dates_per_key_stays_an_attribute(values):
    frame = pd.DataFrame({"customer_id": ["A", "A", "A", "B"], "month": ["2024-01", "2024-01", "2024-02", "2024-01"],
                          "product": ["P", "Q", "P", "P"], "snapshot_date": values,
                          "mrr": ["1.00", "2.00", "4.00", "8.00"]})  # fmt: skip
    ledger = kit.load_ledger(frame, today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 300, ("A", "2024-02"): 400, ("B", "2024-01"): 800}
    assert notes(ledger)["column 'snapshot_date' kept as an attribute (month is column 'month')"] == 4
    assert ledger.quality.rows_excluded == 0


def test_a_date_column_of_parquet_dates_beside_month(tmp_path):
    import datetime as dt

    path = tmp_path / "w.parquet"
    days = [dt.date(2024, 1, 7), dt.date(2024, 1, 14), dt.date(2024, 2, 4)]
    pq.write_table(pa.table({"customer_id": ["A"] * 3, "month": ["2024-01", "2024-01", "2024-02"],
                             "snapshot_date": pa.array(days, pa.date32()), "product": ["P"] * 3,
                             "mrr": ["1.00", "2.00", "4.00"]}), path)  # fmt: skip
    with pytest.raises(
        LoadError, match=r"column snapshot_date .*has 2 snapshot dates in 2024-01 \(2024-01-07, 2024-01-14"
    ):
        kit.load_ledger(path, today=TODAY)
    ledger = kit.load_ledger(path, today=TODAY, snapshot_dates="last")
    assert cents(ledger) == {("A", "2024-01"): 200, ("A", "2024-02"): 400}
    accounted(ledger)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(["P", "Q"]), st.integers(0, 2), st.integers(1, 28),
                          st.integers(0, 10_000)), min_size=1, max_size=30))  # fmt: skip
def test_last_beside_month_equals_a_plain_reference(rows):
    frame = _dated_rows(rows)
    data = pd.DataFrame({"customer_id": frame["customer_id"], "product": frame["product"],
                         "month": frame["date"].dt.strftime("%Y-%m"),
                         "snapshot_date": frame["date"].dt.strftime("%Y-%m-%d"),
                         "mrr": _texts(frame["cents"])})  # fmt: skip
    _assert_last_is_the_plain_reference(frame, kit.load_ledger(data, today=TODAY, snapshot_dates="last"))
