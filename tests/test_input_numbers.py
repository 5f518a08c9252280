"""
RELIABILITY.md rows 10 and 51–54: amounts, exchange rates, dates and integer limits.

Each class runs through the Python API (:func:`kit.load_ledger`, :mod:`kit.parse`) and
through the CLI (``python -m kit summary`` in-process: exit status 2 and a one- or
two-line ``error:`` for bad input). Numbers are worked by hand in the comments; the
number grammar and the integer bounds also have hypothesis properties.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reliability import assert_cli_error, cents, excluded, notes, run_cli

import kit
from kit import parse
from kit.errors import KitError, LoadError, ParameterError, ValidationError
from kit.report import load_options, validate_parameters

SNAP = "customer_id,month,product,mrr\n"
CURR = "customer_id,month,product,mrr,currency\n"
SUBS = "customer_id,product,start_date,end_date,amount,billing_period,quantity,billing_interval_count\n"
ROUNDING = "mrr with more than 2 decimals (rounded half-even to the cent)"
LIMIT = parse.MAX_AMOUNT * 100


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_amount(tmp_path, value: str):
    """A snapshot file with one customer over two months, the second month's MRR being ``value``."""
    return write(tmp_path, "m.csv", SNAP + f'A,2024-01,P,1\nA,2024-02,P,"{value}"\n')


def money(values, **options) -> tuple[list[int], list]:
    amounts, reasons = parse.parse_money(pd.Series(values, dtype=object), **options)
    return amounts.tolist(), reasons.tolist()


# --- 51: thousands separators in groups of three (or the Indian 2-2-3 form, when asked) ---------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1,234", 123400), ("12,345,678.90", 1234567890), ("999", 99900), ("1234", 123400), ("1,000,000", 100000000),
    ("123,456.789", 12345679),  # three decimals: half-even to the cent
], ids=["one-group", "three-groups-and-cents", "no-group-needed", "no-separator-at-all", "a-million",
        "rounded"])  # fmt: skip
def test_well_formed_western_groups_are_read(text, expected):
    assert money([text], thousands=",") == ([expected], [None])


@pytest.mark.parametrize("text", ["1,2", "12,00,0", "1,23", "1234,567", "0,123", ",123", "1,,234", "1,234.5,6",
                                  "1,2345", "12,34,567.00"])  # fmt: skip
def test_malformed_groups_are_row_errors(text):
    amounts, reasons = money([text], thousands=",")
    assert amounts == [0]
    assert reasons[0].startswith("not a number (thousands separator ',' in malformed groups; expected e.g. 1,234,567")


def test_indian_grouping_only_where_asked_for():
    _, (reason,) = money(["12,34,567.00"], thousands=",")
    assert "for Indian grouping pass thousands_grouping='indian', CLI --thousands-grouping indian" in reason
    indian = {"thousands": ",", "thousands_grouping": "indian"}
    assert money(["12,34,567.00", "1,234", "1,00,00,000", "999"], **indian) == (
        [123456700, 123400, 1000000000, 99900], [None] * 4)  # fmt: skip
    amounts, reasons = money(["1,234,567", "123,456", "1,2,345"], **indian)
    assert amounts == [0, 0, 0] and all("expected e.g. 12,34,567" in r for r in reasons)


def test_dot_groups_with_a_decimal_comma():
    assert money(["1.234,56", "12.345.678,9", "1234,5"], decimal=",", thousands=".") == (
        [123456, 1234567890, 123450], [None] * 3)  # fmt: skip
    amounts, reasons = money(["1.2,00", "12.00.0"], decimal=",", thousands=".")
    assert amounts == [0, 0] and all("thousands separator '.' in malformed groups" in r for r in reasons)


def test_malformed_group_through_the_api_names_row_value_and_hint(tmp_path):
    path = one_amount(tmp_path, "12,00,0")
    with pytest.raises(ValidationError, match=r"malformed groups; expected e\.g\. 1,234,567\): 1 row, e\.g\. row 3, "
                                              r"column mrr: '12,00,0'"):  # fmt: skip
        kit.load_ledger(path, thousands=",", today=TODAY)
    ledger = kit.load_ledger(path, thousands=",", on_invalid="quarantine", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 100}
    assert sum(excluded(ledger).values()) == 1 and ledger.quality.rows_read == 2


def test_malformed_group_through_the_cli(tmp_path, capsys):
    code, out, err = run_cli(capsys, "summary", one_amount(tmp_path, "1,2"), "--thousands", ",")
    assert_cli_error(code, out, err, r"malformed groups.*row 3, column mrr: '1,2'")


def test_indian_grouping_through_the_cli(tmp_path, capsys):
    path = one_amount(tmp_path, "12,34,567.00")
    code, out, err = run_cli(capsys, "summary", path, "--thousands", ",")
    assert_cli_error(code, out, err, r"--thousands-grouping indian")
    code, out, err = run_cli(capsys, "summary", path, "--thousands", ",", "--thousands-grouping", "indian")
    assert code == 0, err
    assert out.splitlines()[1].startswith("2024-02,1.00,0.00,0.00,1234566.00,")  # upsell 1,234,567.00 − 1.00


def test_grouping_option_is_checked(tmp_path, capsys):
    path = one_amount(tmp_path, "1")
    with pytest.raises(ParameterError, match=r"thousands_grouping='indian' needs a thousands separator"):
        kit.load_ledger(path, thousands_grouping="indian", today=TODAY)
    with pytest.raises(ParameterError, match=r"thousands_grouping must be one of western, indian, not 'swiss'"):
        kit.load_ledger(path, thousands=",", thousands_grouping="swiss", today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--thousands-grouping", "swiss")
    assert_cli_error(code, out, err, r"invalid choice: 'swiss'")
    with pytest.raises(ParameterError, match=r"thousands_grouping must be one of western, indian"):
        validate_parameters({"thousands_grouping": "swiss"})
    params = validate_parameters({"thousands": ",", "thousands_grouping": "indian"})
    assert load_options(params)["thousands_grouping"] == "indian"


def _indian(whole: int) -> str:
    text = str(whole)
    if len(text) <= 3:
        return text
    head, tail = text[:-3], text[-3:]
    pairs = []
    while len(head) > 2:
        head, pairs = head[:-2], [head[-2:], *pairs]
    return ",".join([head, *pairs, tail])


AMOUNTS = st.decimals(min_value=0, max_value=parse.MAX_AMOUNT, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(amount=AMOUNTS, sign=st.sampled_from(["", "-", "+"]))
def test_property_formatted_amounts_read_back_to_the_same_cents(amount, sign):
    expected = int(amount * 100) * (-1 if sign == "-" else 1)
    western = sign + f"{amount:,.2f}"
    assert money([western], thousands=",") == ([expected], [None])
    european = western.replace(",", " ").replace(".", ",").replace(" ", ".")
    assert money([european], decimal=",", thousands=".") == ([expected], [None])
    whole, _, fraction = f"{amount:.2f}".partition(".")
    indian = sign + _indian(int(whole)) + "." + fraction
    assert money([indian], thousands=",", thousands_grouping="indian") == ([expected], [None])


@st.composite
def malformed(draw):
    """Digit groups joined by commas where at least one group is not a well-formed western group."""
    lead = draw(st.text("0123456789", min_size=1, max_size=4))
    rest = draw(st.lists(st.text("0123456789", min_size=0, max_size=5), min_size=1, max_size=4))
    well_formed = 1 <= len(lead) <= 3 and lead[0] != "0" and all(len(g) == 3 for g in rest)
    if well_formed:  # break one group
        rest[draw(st.integers(0, len(rest) - 1))] += "4"  # four digits
    tail = draw(st.sampled_from(["", ".5", ".50", ",5"]))
    return ",".join([lead, *rest]) + tail


@settings(max_examples=300, deadline=None)
@given(text=malformed())
def test_property_malformed_groups_are_rejected(text):
    amounts, reasons = money([text], thousands=",")
    assert amounts == [0] and reasons[0].startswith("not a number"), (text, reasons)


# --- 10: the rounding note counts decimals under the parse options ----------------------------------------


@pytest.mark.parametrize(("values", "options", "expected", "rounded"), [
    (["1.200,00", "3,5"], {"decimal": ",", "thousands": "."}, [120000, 350], 0),
    (["2,675", "1,5"], {"decimal": ","}, [268, 150], 1),  # 2.675 is three decimals: 2.68
    (["1,234.567", "1,234.5"], {"thousands": ","}, [123457, 123450], 1),
    (["$1,000.125", "$2"], {"thousands": ",", "currency_symbols": True}, [100012, 200], 1),  # half-even: .12
    (["12,34,567.005", "1"], {"thousands": ",", "thousands_grouping": "indian"}, [123456700, 100], 1),
    (["2.500", "0.125", "1.2", "abc,123"], {}, [250, 12, 120, 0], 2),  # the invalid one is not counted
], ids=["groups-not-decimals", "decimal-comma", "thousands-comma", "currency-symbols", "indian", "plain"])  # fmt: skip
def test_rounding_note_counts_exactly_the_values_with_more_than_two_decimals(values, options, expected, rounded):
    assert parse.parse_money(pd.Series(values), **options)[0].tolist() == expected
    assert len(parse.rounded_positions(pd.Series(values), **options)) == rounded
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(values))], "month": "2024-01", "product": "P",
                          "mrr": values})  # fmt: skip
    ledger = kit.load_ledger(frame, on_invalid="quarantine", today=TODAY, **options)
    assert notes(ledger).get(ROUNDING, 0) == rounded


def test_rounding_note_through_the_cli(tmp_path, capsys):
    path = write(tmp_path, "m.csv", SNAP + 'A,2024-01,P,"1.200,00"\nA,2024-02,P,"2,675"\n')
    code, out, err = run_cli(capsys, "summary", path, "--decimal", ",", "--thousands", ".")
    assert code == 0, err
    assert f"note: {ROUNDING}: 1 row (e.g. row 3)" in err
    assert out.splitlines()[1].startswith("2024-02,1200.00,0.00,0.00,0.00,0.00,0.00,1197.32,")  # 1200 − 2.68


def test_rounding_note_for_subscription_amounts():
    frame = pd.DataFrame({"customer_id": ["A", "B"], "start_date": "2024-01-01", "end_date": "",
                          "amount": ["1.234,5", "9,999"], "billing_period": "month"})  # fmt: skip
    ledger = kit.load_ledger(frame, decimal=",", thousands=".", as_of="2024-01-31", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 123450, ("B", "2024-01"): 1000}
    assert notes(ledger)["amount with more than 2 decimals (rounded half-even to the cent)"] == 1


# --- 52: an FX table based on another currency than the reporting one --------------------------------------

DATA = CURR + "A,2024-01,P,100,USD\nA,2024-02,P,100,USD\nB,2024-01,P,100,EUR\nB,2024-02,P,100,EUR\n"
USD_BASED = "currency,month,rate\nUSD,2024-01,1.0\nUSD,2024-02,1.0\nEUR,2024-01,1.3\nEUR,2024-02,1.25\n"
THROUGH_USD = ("amounts converted to EUR through the FX table's base USD (amount × rate of its currency / rate of "
               "EUR)")  # fmt: skip


@pytest.mark.parametrize(("mode", "expected"), [
    # constant: both months at February's rates, USD 100 = EUR 100 × 1.0 / 1.25 = 80.00
    ("constant", {("A", "2024-01"): 8000, ("A", "2024-02"): 8000, ("B", "2024-01"): 10000, ("B", "2024-02"): 10000}),
    # monthly: January 100 / 1.3 = 76.923… → 76.92; February 100 / 1.25 = 80.00
    ("monthly", {("A", "2024-01"): 7692, ("A", "2024-02"): 8000, ("B", "2024-01"): 10000, ("B", "2024-02"): 10000}),
])  # fmt: skip
def test_fx_table_based_on_usd_reported_in_eur_converts_through_usd(tmp_path, mode, expected):
    data, fx = write(tmp_path, "d.csv", DATA), write(tmp_path, "fx.csv", USD_BASED)
    ledger = kit.load_ledger(data, fx=fx, fx_mode=mode, currency="EUR", today=TODAY)
    assert ledger.currency == "EUR" and cents(ledger) == expected
    assert notes(ledger)[THROUGH_USD] == 2
    usd = kit.load_ledger(data, fx=fx, fx_mode=mode, today=TODAY)  # the table's own base: as before
    assert usd.currency == "USD" and THROUGH_USD not in notes(usd)
    assert cents(usd)[("B", "2024-01")] == (12500 if mode == "constant" else 13000)


def test_fx_through_the_base_through_the_cli(tmp_path, capsys):
    data, fx = write(tmp_path, "d.csv", DATA), write(tmp_path, "fx.csv", USD_BASED)
    code, out, err = run_cli(capsys, "summary", data, "--fx", fx, "--currency", "EUR", "--fx-mode", "monthly")
    assert code == 0, err
    assert f"note: {THROUGH_USD}: 2 rows" in err
    # January 76.92 + 100.00; February 80.00 + 100.00: upsell 3.08 (the euro's move)
    assert out.splitlines()[1].startswith("2024-02,176.92,0.00,0.00,3.08,0.00,3.08,0.00,0.00,180.00,")


def test_fx_conversion_is_exact_and_half_even(tmp_path):
    data = write(tmp_path, "d.csv", CURR + "A,2024-01,P,0.05,USD\nB,2024-01,P,0.07,USD\nC,2024-01,P,1,EUR\n")
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nUSD,2024-01,1\nEUR,2024-01,2\n")
    ledger = kit.load_ledger(data, fx=fx, currency="EUR", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 2, ("B", "2024-01"): 4, ("C", "2024-01"): 100}  # 2.5 → 2, 3.5 → 4
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nUSD,2024-01,1\nEUR,2024-01,3\n")
    ledger = kit.load_ledger(write(tmp_path, "d.csv", CURR + "A,2024-01,P,100,USD\n"), fx=fx, currency="EUR",
                             today=TODAY)  # fmt: skip
    assert cents(ledger) == {("A", "2024-01"): 3333}  # 10000 / 3 = 3333.33…, never a float's 3333.3333333333335


def test_fx_cross_rates_without_a_listed_base(tmp_path):
    # rates against an unlisted base (USD): GBP 100 in EUR is 100 × 1.3 / 1.1 = 118.1818… → 118.18
    data = write(tmp_path, "d.csv", CURR + "A,2024-01,P,100,GBP\nB,2024-01,P,100,EUR\n")
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nEUR,2024-01,1.1\nGBP,2024-01,1.3\n")
    ledger = kit.load_ledger(data, fx=fx, currency="EUR", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 11818, ("B", "2024-01"): 10000}
    assert notes(ledger)["amounts converted to EUR through the FX table's cross rates (amount × rate of its currency "
                         "/ rate of EUR)"] == 1  # fmt: skip


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (
            "GBP,2024-01,1.3\nGBP,2024-02,1.3\nUSD,2024-01,1\nUSD,2024-02,1\n",
            r"the table is based on USD \(rate 1 in every month\) and has no rates for EUR, the reporting currency",
        ),
        (
            "USD,2024-01,1\nUSD,2024-02,1\nGBP,2024-01,1\nGBP,2024-02,1\n",
            r"no consistent base: GBP, USD are all at rate 1 and EUR, the reporting currency, is not listed",
        ),
        (
            "USD,2024-01,1\nUSD,2024-02,1\nEUR,2024-01,1.3\n",
            r"no rate for EUR 2024-02 \(reporting currency EUR; the table is based on USD",
        ),
    ],
    ids=["reporting-currency-absent", "no-consistent-base", "reporting-rate-missing-in-a-month"],
)
def test_fx_table_that_cannot_convert_to_the_reporting_currency_is_refused(tmp_path, capsys, table, match):
    data = write(tmp_path, "d.csv", DATA)
    fx = write(tmp_path, "fx.csv", "currency,month,rate\n" + table)
    with pytest.raises(LoadError, match=match):
        kit.load_ledger(data, fx=fx, currency="EUR", fx_mode="monthly", today=TODAY)
    code, out, err = run_cli(capsys, "summary", data, "--fx", fx, "--currency", "EUR", "--fx-mode", "monthly")
    assert_cli_error(code, out, err, match)


def test_fx_base_for_subscriptions(tmp_path):
    data = write(tmp_path, "s.csv", "customer_id,start_date,end_date,amount,billing_period,currency\n"
                                    "A,2024-01-01,,120,year,USD\n")  # fmt: skip
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nUSD,2024-01,1\nEUR,2024-01,1.25\n")
    ledger = kit.load_ledger(data, fx=fx, currency="EUR", as_of="2024-01-31", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 800}  # USD 120 a year = 10.00 a month = EUR 8.00


# --- 53: as_of in ISO form only, and never in the future ----------------------------------------------------

AS_OF_DATA = SNAP + "A,2024-01,P,1\nA,2024-02,P,2\nA,2024-03,P,3\n"


@pytest.mark.parametrize("as_of", ["03/04/2024", "2024-3-4", "2024-03", "20240304", "2024/03/04", "4 March 2024",
                                   "2024-03-04T00:00"])  # fmt: skip
def test_as_of_not_iso_is_a_parameter_error(tmp_path, capsys, as_of):
    path = write(tmp_path, "m.csv", AS_OF_DATA)
    message = rf"as_of {re.escape(repr(as_of))} is not a date in the form YYYY-MM-DD \(other forms are never guessed\)"
    with pytest.raises(ParameterError, match=message):
        kit.load_ledger(path, as_of=as_of, today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", as_of)
    assert_cli_error(code, out, err, message)


def test_as_of_impossible_or_of_another_type_is_a_parameter_error(tmp_path):
    path = write(tmp_path, "m.csv", AS_OF_DATA)
    with pytest.raises(ParameterError, match=r"as_of '2024-02-30' is not a valid date \(YYYY-MM-DD\)"):
        kit.load_ledger(path, as_of="2024-02-30", today=TODAY)
    for value in (20240229, pd.NaT, 2024.5):
        with pytest.raises(ParameterError, match=r"as_of must be YYYY-MM-DD text or a date"):
            kit.load_ledger(path, as_of=value, today=TODAY)


def test_as_of_as_a_date_or_timestamp_through_the_api(tmp_path):
    path = write(tmp_path, "m.csv", AS_OF_DATA)
    text = kit.load_ledger(path, as_of="2024-02-29", today=TODAY)
    assert cents(text) == {("A", "2024-01"): 100, ("A", "2024-02"): 200} and str(text.last_month) == "2024-02"
    for value in (date(2024, 2, 29), pd.Timestamp("2024-02-29 13:00"), np.datetime64("2024-02-29")):
        assert cents(kit.load_ledger(path, as_of=value, today=TODAY)) == cents(text)


@pytest.mark.parametrize("kind", ["snapshots", "subscriptions"])
def test_as_of_after_today_is_an_error(tmp_path, capsys, kind):
    text = AS_OF_DATA if kind == "snapshots" else SUBS + "A,P,2024-01-01,,10,month,1,1\n"
    path = write(tmp_path, "d.csv", text)
    tomorrow = TODAY + timedelta(days=1)
    with pytest.raises(ParameterError, match=rf"as_of {tomorrow} is after today \({TODAY}\): the window cannot run "
                                             "into the future"):  # fmt: skip
        kit.load_ledger(path, as_of=str(tomorrow), today=TODAY)
    if kind == "subscriptions":
        assert kit.load_ledger(path, as_of=str(TODAY), today=TODAY).last_month == pd.Period(TODAY, "M")  # today itself
    else:  # today itself is a valid as_of, but the snapshots end in 2024-03: they say nothing of today's month
        with pytest.raises(ParameterError, match=rf"as_of {TODAY} is in {TODAY:%Y-%m}, after the last month of the "
                                                 r"snapshots \(2024-03\)"):  # fmt: skip
            kit.load_ledger(path, as_of=str(TODAY), today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2205-01-31")  # the CLI's today is the real one
    assert_cli_error(code, out, err, rf"as_of 2205-01-31 is after today \({date.today()}\)")
    code, out, err = run_cli(capsys, "summary", path, "--as-of", str(date.today() + timedelta(days=1)))
    assert_cli_error(code, out, err, r"is after today")


def test_default_as_of_is_unchanged(tmp_path):
    # the default: the latest date in the file not after today (the 2027 end is a future note, not the window)
    path = write(tmp_path, "s.csv", SUBS + "A,P,2024-01-01,2027-01-01,10,month,1,1\nB,P,2024-03-05,,10,month,1,1\n")
    ledger = kit.load_ledger(path, today=TODAY)
    assert str(ledger.last_month) == "2024-03"


# --- 54: amounts, sums and products beyond int64 --------------------------------------------------------------


def frame_of(mrr, **columns) -> pd.DataFrame:
    n = len(mrr)
    base = {"customer_id": [f"C{i}" for i in range(n)], "month": "2024-01", "product": "P"}
    return pd.DataFrame({**base, **columns, "mrr": mrr})


@pytest.mark.parametrize(("values", "dtype", "reason"), [
    ([5, -(2**63)], "int64", "negative amount (credits and refunds are not MRR)"),
    ([5, 2**63 - 1], "int64", "amount above 1,000,000,000,000"),
    ([5, 2**64 - 1], "uint64", "amount above 1,000,000,000,000"),
    ([5, -(2**63)], "Int64", "negative amount (credits and refunds are not MRR)"),
    ([5, None], "Int64", "missing amount"),
    ([5, -(2**63)], "int64[pyarrow]", "negative amount (credits and refunds are not MRR)"),
], ids=["int64-min", "int64-max", "uint64-max", "nullable-int64-min", "nullable-missing",
        "arrow-int64-min"])  # fmt: skip
def test_extreme_integer_amounts_are_row_errors_never_wrapped(values, dtype, reason):
    column = np.array(values, dtype=dtype) if dtype in ("int64", "uint64") else pd.array(values, dtype=dtype)
    frame = frame_of(column)
    with pytest.raises(ValidationError, match=rf"{re.escape(reason)}: 1 row, e\.g\. row 2, column mrr"):
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, on_invalid="quarantine", today=TODAY)
    assert cents(ledger) == {("C0", "2024-01"): 500} and excluded(ledger) == {reason: 1}


def test_int64_minimum_in_parquet_through_the_cli(tmp_path, capsys):
    # before: -2**63 × 100 wrapped round to 0 cents, and the customer silently churned (Parquet rows count from 1)
    path = tmp_path / "m.parquet"
    pd.DataFrame({"customer_id": ["A", "A"], "month": ["2024-01", "2024-02"], "product": "P",
                  "mrr": np.array([100, -(2**63)], dtype=np.int64)}).to_parquet(path)  # fmt: skip
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"negative amount .*row 2, column mrr: '-9223372036854775808'")


@settings(max_examples=200, deadline=None)
@given(value=st.integers(-(2**63), 2**63 - 1))
def test_property_int64_amounts_scale_exactly_or_are_flagged(value):
    (got,), _ = parse.parse_money(pd.Series([value], dtype="int64"))
    if abs(value) <= parse.MAX_AMOUNT:
        assert got == value * 100
    else:
        assert got == (parse.TOO_LARGE_CENTS if value > 0 else -parse.TOO_LARGE_CENTS)


def subscription_frame(amount, quantity, interval=1, period="month") -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["A", "B"], "start_date": "2024-01-01", "end_date": "",
                         "amount": ["10", amount], "billing_period": ["month", period],
                         "quantity": pd.array([1, quantity], dtype="int64"),
                         "billing_interval_count": pd.array([1, interval], dtype="int64")})  # fmt: skip


@pytest.mark.parametrize(("amount", "quantity", "interval", "column", "reason"), [
    ("1", 2**62, 1, "quantity", "implausibly large"),
    ("1", 1, 2**62, "billing_interval_count", "implausibly large"),
    ("1000000000000", 2, 1, "amount", "MRR (amount × quantity per month) above 1,000,000,000,000"),
    ("1000000", 1_000_000_000, 1, "amount", "MRR (amount × quantity per month) above 1,000,000,000,000"),
], ids=["quantity-2**62", "interval-2**62", "amount-times-quantity", "million-times-billion"])  # fmt: skip
def test_huge_quantities_and_products_are_row_errors(amount, quantity, interval, column, reason):
    frame = subscription_frame(amount, quantity, interval)
    with pytest.raises(ValidationError, match=rf"{re.escape(reason)}: 1 row, e\.g\. row 2, column {column}"):
        kit.load_ledger(frame, as_of="2024-01-31", today=TODAY)
    ledger = kit.load_ledger(frame, as_of="2024-01-31", on_invalid="quarantine", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 1000} and excluded(ledger) == {reason: 1}


def test_mrr_at_the_limit_is_accepted():
    # 1,000,000,000,000 a year × 12 seats = exactly 1,000,000,000,000 a month: at the limit, not above
    frame = subscription_frame("1000000000000", 12, period="year")
    assert cents(kit.load_ledger(frame, as_of="2024-01-31", today=TODAY))[("B", "2024-01")] == LIMIT


def test_huge_quantity_through_the_cli(tmp_path, capsys):
    path = write(tmp_path, "s.csv", SUBS + "A,P,2024-01-01,,1000000000000,month,10,1\n")
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-01-31")
    assert_cli_error(code, out, err, r"MRR \(amount × quantity per month\) above 1,000,000,000,000: 1 row, "
                                     r"e\.g\. row 2, column amount")  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(amount=st.integers(0, LIMIT), quantity=st.integers(0, 10**9), interval=st.integers(1, 10**9),
       period=st.sampled_from(sorted(kit.ledger.MONTHS_IN)))  # fmt: skip
def test_property_subscription_mrr_is_exact_or_a_row_error(amount, quantity, interval, period):
    frame = pd.DataFrame({"customer_id": ["A"], "start_date": "2024-01-01", "end_date": "",
                          "amount": [str(Decimal(amount) / 100)], "billing_period": period,
                          "quantity": [quantity], "billing_interval_count": [interval]})  # fmt: skip
    num, den = kit.ledger.MONTHS_IN[period]
    exact = (Decimal(amount) * quantity * den / (num * interval)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    try:
        ledger = kit.load_ledger(frame, as_of="2024-01-31", today=TODAY)
    except ValidationError as exc:
        assert exact > LIMIT and "above 1,000,000,000,000" in str(exc)
        return
    except LoadError:  # every row's MRR rounds to zero or quantity 0: nothing active, never a wrapped number
        assert exact == 0 or quantity == 0
        return
    assert exact <= LIMIT and cents(ledger).get(("A", "2024-01"), 0) == int(exact)


def test_amount_times_rate_beyond_the_limit_is_a_row_error(tmp_path, capsys):
    data = write(tmp_path, "d.csv", CURR + "A,2024-01,P,900000000000,EUR\nB,2024-01,P,1,EUR\nC,2024-01,P,5,USD\n")
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nUSD,2024-01,1\nEUR,2024-01,1.5\n")
    reason = "amount above 1,000,000,000,000 after conversion to USD"
    with pytest.raises(ValidationError, match=rf"{re.escape(reason)}: 1 row, e\.g\. row 2, column mrr"):
        kit.load_ledger(data, fx=fx, today=TODAY)
    ledger = kit.load_ledger(data, fx=fx, on_invalid="quarantine", today=TODAY)
    assert cents(ledger) == {("B", "2024-01"): 150, ("C", "2024-01"): 500} and excluded(ledger) == {reason: 1}
    assert ledger.quality.rows_read == ledger.quality.rows_used + ledger.quality.rows_excluded == 3
    code, out, err = run_cli(capsys, "summary", data, "--fx", fx)
    assert_cli_error(code, out, err, re.escape(reason))
    rate = write(tmp_path, "fx.csv", "currency,month,rate\nUSD,2024-01,1\nEUR,2024-01,1e30\n")
    with pytest.raises(ValidationError, match=r"after conversion to USD: 2 rows"):  # never an OverflowError
        kit.load_ledger(data, fx=rate, today=TODAY)


def test_sum_of_many_huge_amounts_for_one_key_names_the_key_and_its_rows(tmp_path, capsys):
    rows = "".join("A,2024-01,P,1000000000000\n" for _ in range(100)) + "B,2024-01,P,1\n"
    path = write(tmp_path, "m.csv", SNAP + rows)
    reason = ("customer A · product P · 2024-01: its 100 rows (rows 2, 3, 4, 5, 6 and 95 more) add up to "
              "10,000,000,000,000,000 cents, beyond 2**53 cents, the limit of exact sums")  # fmt: skip
    with pytest.raises(ValidationError, match=re.escape(reason)):
        kit.load_ledger(path, today=TODAY)
    ledger = kit.load_ledger(path, on_invalid="quarantine", today=TODAY)
    assert cents(ledger) == {("B", "2024-01"): 100} and excluded(ledger) == {reason: 100}
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, re.escape("customer A · product P · 2024-01: its 100 rows"))


def test_total_beyond_exact_sums_is_a_clear_error(tmp_path, capsys):
    # 100 customers at the amount limit: each key is fine, the ledger's total (10**16 cents) is not
    rows = "".join(f"C{i},2024-0{m},P,1000000000000\n" for i in range(100) for m in (1, 2))
    path = write(tmp_path, "m.csv", SNAP + rows)
    ledger = kit.load_ledger(path, today=TODAY)
    assert sum(cents(ledger).values()) == 200 * LIMIT  # exact: no key wrapped
    with pytest.raises(KitError, match=r"total MRR exceeds 2\*\*53 cents"):
        kit.summarize(ledger)
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"total MRR exceeds 2\*\*53 cents")


def test_as_of_report_parameter_is_checked_before_a_report_runs(tmp_path, capsys):
    with pytest.raises(ParameterError, match=r"as_of '03/04/2024' is not a date in the form YYYY-MM-DD"):
        validate_parameters({"as_of": "03/04/2024"})
    with pytest.raises(ParameterError, match=r"as_of 2205-01-31 is after today"):
        validate_parameters({"as_of": "2205-01-31"})
    assert validate_parameters({"as_of": "2024-02-29"})["as_of"] == "2024-02-29"
    code, out, err = run_cli(capsys, "report", "--as-of", "03/04/2024", "--output-dir", tmp_path)
    assert_cli_error(code, out, err, r"as_of '03/04/2024' is not a date in the form YYYY-MM-DD")
    assert not list(tmp_path.iterdir())  # stopped before any work


RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4)


@settings(max_examples=60, deadline=None)
@given(amount=st.integers(1, 10**9), usd_rate=RATES, eur_rate=RATES)
def test_property_conversion_through_the_base_equals_decimal_arithmetic(amount, usd_rate, eur_rate):
    # a table based on GBP (at 1): USD cents in EUR are amount × rate[USD] / rate[EUR], half-even to the cent
    data = pd.DataFrame({"customer_id": ["A", "B"], "month": "2024-01", "product": "P",
                         "mrr": [str(Decimal(amount) / 100), "1"], "currency": ["USD", "EUR"]})  # fmt: skip
    fx = pd.DataFrame({"currency": ["GBP", "USD", "EUR"], "month": "2024-01",
                       "rate": ["1", str(usd_rate), str(eur_rate)]})  # fmt: skip
    expected = round(Fraction(amount) * Fraction(usd_rate) / Fraction(eur_rate))  # exact; round() is half-even
    try:
        ledger = kit.load_ledger(data, fx=fx, currency="EUR", today=TODAY)
    except ValidationError as exc:
        assert expected > LIMIT and "after conversion to EUR" in str(exc)
        return
    assert cents(ledger).get(("A", "2024-01"), 0) == int(expected)


def test_arrow_decimal_beyond_its_declared_precision_is_flagged_not_wrapped():
    import pyarrow as pa

    # a decimal128(18, 2) buffer holding ±(7 × 2**64 + 12345) cents (a writer that ignored the precision): read by
    # its low word alone, that was 123.45 and −123.45
    v = 7 * 2**64 + 12345
    words = np.array([v % 2**64, v >> 64, -v % 2**64, (-v >> 64) % 2**64], dtype=np.uint64).view("<i8")
    beyond = pa.Array.from_buffers(pa.decimal128(18, 2), 2, [None, pa.py_buffer(words.tobytes())])
    series = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([beyond])))
    assert parse.parse_money(series)[0].tolist() == [parse.TOO_LARGE_CENTS, -parse.TOO_LARGE_CENTS]
    whole = pa.array([Decimal("12"), Decimal("-9"), None], type=pa.decimal128(10, 0))  # scaled by 100 after the bound
    series = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([whole])))
    assert parse.parse_money(series)[0].tolist() == [1200, -900, 0]
    frame = frame_of(series.iloc[:2])
    with pytest.raises(ValidationError, match=r"negative amount .*row 2, column mrr"):
        kit.load_ledger(frame, today=TODAY)


# --- review of issue 8: parse options, encodings, FX cross rates -------------------------------------


@pytest.mark.parametrize(("options", "flag", "match"), [
    ({"decimal": ""}, "--decimal=", r"decimal must be '\.' or ',' \(the decimal mark of amounts\), "
     r"not '' \(CLI --decimal\)"),
    ({"decimal": "x"}, "--decimal=x", r"decimal must be '\.' or ',' .*not 'x' \(CLI --decimal\)"),
    ({"decimal": ";"}, "--decimal=;", r"not ';' \(CLI --decimal\)"),
    ({"thousands": "ab"}, "--thousands=ab", r"thousands must be one character .*not 'ab' \(CLI --thousands\)"),
    ({"thousands": "x"}, "--thousands=x", r"thousands='x' cannot separate thousands .*\(CLI --thousands\)"),
    ({"thousands": "7"}, "--thousands=7", r"thousands='7' cannot separate thousands"),
    ({"thousands": "-"}, "--thousands=-", r"thousands='-' cannot separate thousands .*sign or bracket"),
    ({"thousands": "\t"}, "--thousands=\t", r"thousands='\\t' cannot separate thousands"),
    ({"thousands": "."}, "--thousands=.", r"thousands='\.' is also the decimal mark \(decimal='\.'\); "
     r"the two marks must differ, "
     r"e\.g\. thousands='\.', decimal=',' \(CLI --thousands \. --decimal ,\)"),
], ids=["decimal-empty", "decimal-letter", "decimal-semicolon", "thousands-two", "thousands-letter", "thousands-digit",
        "thousands-minus", "thousands-tab", "thousands-is-decimal"])  # fmt: skip
def test_decimal_and_thousands_options_are_checked(tmp_path, capsys, options, flag, match):
    path = one_amount(tmp_path, "1,234.50")
    with pytest.raises(ParameterError, match=match):
        kit.load_ledger(path, today=TODAY, **options)
    code, out, err = run_cli(capsys, "summary", path, flag)
    assert_cli_error(code, out, err, match)


@pytest.mark.parametrize(("thousands", "decimal", "text"), [
    (",", ".", "1,234.50"), (".", ",", "1.234,50"), (" ", ".", "1 234.50"), ("'", ".", "1'234.50"),
    ("\u00a0", ",", "1\u00a0234,50"), ("\u202f", ",", "1\u202f234,50"), ("_", ".", "1_234.50"), ("", ".", "1234.50"),
], ids=["comma", "dot", "space", "apostrophe", "nbsp", "narrow-nbsp", "underscore", "empty-is-none"])  # fmt: skip
def test_common_thousands_separators_are_accepted(tmp_path, capsys, thousands, decimal, text):
    path = one_amount(tmp_path, text)
    ledger = kit.load_ledger(path, today=TODAY, thousands=thousands, decimal=decimal)
    assert cents(ledger) == {("A", "2024-01"): 100, ("A", "2024-02"): 123450}
    code, out, err = run_cli(capsys, "summary", path, f"--thousands={thousands}", f"--decimal={decimal}")
    assert code == 0, err
    assert out.splitlines()[1].startswith("2024-02,1.00,0.00,0.00,1233.50,")


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "hex", "bz2", "uu", "quopri"])
def test_codecs_that_are_not_text_encodings_are_refused(tmp_path, capsys, encoding):
    path = one_amount(tmp_path, "12.50")
    match = rf"m\.csv: '{encoding}' is not a text encoding \(it does not decode bytes to text\) \(CLI --encoding\)"
    with pytest.raises(LoadError, match=match):
        kit.load_ledger(path, today=TODAY, encoding=encoding)
    code, out, err = run_cli(capsys, "summary", path, "--encoding", encoding)
    assert_cli_error(code, out, err, match)


def test_unknown_and_text_encodings(tmp_path, capsys):
    path = one_amount(tmp_path, "12.50")
    with pytest.raises(LoadError, match=r"m\.csv: unknown encoding 'nope' \(CLI --encoding\)"):
        kit.load_ledger(path, today=TODAY, encoding="nope")
    code, out, err = run_cli(capsys, "summary", path, "--encoding", "nope")
    assert_cli_error(code, out, err, r"unknown encoding 'nope'")
    for encoding in ("latin-1", "cp1252", "UTF8", "ascii"):
        assert cents(kit.load_ledger(path, today=TODAY, encoding=encoding))[("A", "2024-02")] == 1250


def test_fx_cross_rates_missing_a_currency_say_what_the_rates_mean(tmp_path, capsys):
    # only EUR listed, at 1.3 and 1.25, reporting in EUR: no base, so cross rates, and USD has none
    data = write(tmp_path, "d.csv", DATA)
    fx = write(tmp_path, "fx.csv", "currency,month,rate\nEUR,2024-01,1.3\nEUR,2024-02,1.25\n")
    match = (r"FX table: no rate for USD 2024-02 \(reporting currency EUR\): no currency is at rate 1 in every month "
             r"and EUR's rate is not 1 \(1\.3 in 2024-01, 1\.25 in 2024-02\), so the rates are read as cross rates, "
             r"each the value of one unit in a common base the table does not list, and amounts convert as "
             r"amount × rate of their currency / rate of EUR\.\nAdd the missing rates \(USD\) in that same base; or, "
             r"if the rates are the value of one unit in EUR, give EUR rate 1 in every month "
             r"\(or leave EUR out")  # fmt: skip
    with pytest.raises(LoadError, match=match) as caught:
        kit.load_ledger(data, fx=fx, currency="EUR", today=TODAY)
    assert "(none)" not in str(caught.value)
    code, out, err = run_cli(capsys, "summary", data, "--fx", fx, "--currency", "EUR")
    assert_cli_error(code, out, err, match)
    assert "(none)" not in err
    # the fix the message names: EUR at 1 (or left out) reads the USD rates as values in EUR
    fixed = write(tmp_path, "fx2.csv", "currency,month,rate\nUSD,2024-01,0.9\nUSD,2024-02,0.8\n")
    ledger = kit.load_ledger(data, fx=fixed, currency="EUR", today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 8000, ("A", "2024-02"): 8000,
                             ("B", "2024-01"): 10000, ("B", "2024-02"): 10000}  # fmt: skip
