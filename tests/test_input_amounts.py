"""
Review of issue 8 (a new user's findings): ambiguous number marks, Excel subtotal and pivot
rows, and messages that say what to do.

Each class runs through the Python API and through the CLI (``python -m kit summary``
in-process: exit status 2 and a one- or two-line ``error:``). Amounts are worked by hand
in the comments; the decimal-mark rule also has a hypothesis property.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import TODAY, write
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reliability import assert_cli_error, cents, excluded, run_cli

import kit
from kit import parse, roles
from kit.errors import LoadError, ParameterError, ValidationError

SNAP = "customer_id,month,product,mrr\n"
EU = (
    "customer_id;month;product;mrr\nC1;2024-01;Core;1.200\nC2;2024-01;Core;2.500\n"
    "C1;2024-02;Core;1.350\nC2;2024-02;Core;2.500\n"
)
AMBIGUOUS = r"eu2\.csv, column mrr: the decimal mark '\.' is ambiguous: .*\('1\.200', '2\.500', '1\.350'\)"
TOTAL_ROW = "a total row, not a customer (remove it)"


# --- 1. a decimal mark that may separate thousands ------------------------------------------------


def test_thousands_dot_without_cents_is_an_error_naming_the_column_and_both_ways(tmp_path, capsys):
    path = write(tmp_path, "eu2.csv", EU)
    for on_invalid in ("raise", "quarantine"):  # a column error, not a row error: lenient or not
        with pytest.raises(LoadError, match=AMBIGUOUS + r".*thousands='\.', decimal=','.*thousands=','"):
            kit.load_ledger(path, today=TODAY, on_invalid=on_invalid)
    message = AMBIGUOUS + r".*CLI --thousands \. --decimal ,.*three decimals.*CLI --thousands ,\)"
    assert_cli_error(*run_cli(capsys, "summary", path), message)
    assert_cli_error(*run_cli(capsys, "summary", path, "--lenient"), AMBIGUOUS)


def test_stating_the_thousands_separator_settles_it(tmp_path, capsys):
    path = write(tmp_path, "eu2.csv", EU)
    # thousands: C1 1,200.00 + C2 2,500.00 = 3,700.00 in January, 1,350.00 + 2,500.00 = 3,850.00 in February
    ledger = kit.load_ledger(path, today=TODAY, thousands=".", decimal=",")
    assert cents(ledger) == {("C1", "2024-01"): 120000, ("C2", "2024-01"): 250000, ("C1", "2024-02"): 135000,
                             ("C2", "2024-02"): 250000}  # fmt: skip
    # prices with three decimals: 1.200 -> 1.20, 2.500 -> 2.50, 1.350 -> 1.35
    ledger = kit.load_ledger(path, today=TODAY, thousands=",")
    assert cents(ledger)[("C1", "2024-02")] == 135 and cents(ledger)[("C2", "2024-01")] == 250
    code, out, err = run_cli(capsys, "summary", path, "--thousands", ".", "--decimal", ",")
    assert code == 0 and out.splitlines()[1].startswith("2024-02,3700.00,0.00,0.00,150.00,"), err
    code, out, err = run_cli(capsys, "summary", path, "--thousands", ",")
    assert code == 0 and out.splitlines()[1].startswith("2024-02,3.70,0.00,0.00,0.15,"), err


def test_a_decimal_comma_with_three_digits_after_it_is_ambiguous_too(tmp_path, capsys):
    path = write(tmp_path, "c.csv", SNAP + 'A,2024-01,P,"1,200"\nB,2024-01,P,"2,000"\nA,2024-02,P,"1,350"\n')
    match = r"c\.csv, column mrr: the decimal mark ',' is ambiguous.*thousands=',', decimal='\.'.*thousands='\.'"
    with pytest.raises(LoadError, match=match):
        kit.load_ledger(path, today=TODAY, decimal=",")
    assert_cli_error(
        *run_cli(capsys, "summary", path, "--decimal", ","),
        r"column mrr: the decimal mark ',' is ambiguous.*--thousands , --decimal \.",
    )
    # stated: 1,200 is 1.20 with --thousands . (three decimals), 1,200.00 with --thousands ,
    assert cents(kit.load_ledger(path, today=TODAY, decimal=",", thousands="."))[("A", "2024-01")] == 120
    assert cents(kit.load_ledger(path, today=TODAY, thousands=","))[("A", "2024-01")] == 120000


def test_the_subscription_amount_is_checked_as_well():
    frame = pd.DataFrame({"customer_id": ["A", "B"], "start_date": "2024-01-01", "end_date": "",
                          "amount": ["1.500", "12.000"], "billing_period": "month"})  # fmt: skip
    with pytest.raises(LoadError, match=r"column amount: the decimal mark '\.' is ambiguous: .*'1\.500', '12\.000'"):
        kit.load_ledger(frame, today=TODAY)


@pytest.mark.parametrize("values", [
    ["1.200", "12.50"], ["1.200", "0.125"], ["1.200", "2.500", "1234.500"], ["1.200", "2.5"], ["1.20", "2.50"],
], ids=["a-cent-value", "leading-zero", "four-digit-whole", "one-decimal", "two-decimals"])  # fmt: skip
def test_one_amount_written_otherwise_shows_the_mark_is_decimal(values):
    parse.check_decimal_mark(pd.Series(values, dtype=object))  # no error
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(values))], "month": "2024-01", "product": "P",
                          "mrr": values})  # fmt: skip
    kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")


def test_numbers_and_a_stated_separator_are_never_checked():
    parse.check_decimal_mark(pd.Series([1.2, 2.5]))
    parse.check_decimal_mark(pd.Series(["1.200", "2.500"]), thousands=",")
    parse.check_decimal_mark(pd.Series(["1.200", "2.500"], dtype="category"), thousands="'")
    with pytest.raises(parse.AmbiguousDecimalMark):
        parse.check_decimal_mark(pd.Series(["1.200", "2.500", "1.200"], dtype="category"))
    with pytest.raises(parse.AmbiguousDecimalMark, match=r"'1\.200', '2\.500'"):  # marks stripped first
        parse.check_decimal_mark(pd.Series(["$1.200", "€2.500"]), currency_symbols=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99_999), st.integers(0, 99), st.sampled_from([0, 1, 2, 3])), min_size=1,
                max_size=20))  # fmt: skip
def test_two_decimals_or_mixed_decimals_never_trigger_the_check(numbers):
    # every value with two decimals, or one value at least with 1 or 2 decimals: the mark is decimal
    texts = [f"{whole}.{cent:02d}" if digits == 2 else f"{whole}.{cent % 10}" if digits == 1 else
             f"{whole}.{cent:02d}5" if digits == 3 else str(whole) for whole, cent, digits in numbers]  # fmt: skip
    if not any(d in (1, 2) for _, _, d in numbers):
        texts.append("1.25")
    parse.check_decimal_mark(pd.Series(texts, dtype=object))
    parse.check_decimal_mark(pd.Series([t.replace(".", ",") for t in texts]), decimal=",")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 999_999), min_size=1, max_size=10, unique=True))
def test_grouped_thousands_alone_always_trigger_it(numbers):
    texts = [f"{n:,}".replace(",", ".") if n >= 1000 else f"{n}" for n in numbers]
    if not any("." in t for t in texts):
        return
    with pytest.raises(parse.AmbiguousDecimalMark):
        parse.check_decimal_mark(pd.Series(texts, dtype=object))


# --- 2. Excel subtotal rows and pivot labels -----------------------------------------------------

EXCEL_TOTALS = ["Core Total", "2024-02 Total", "Sum of MRR", "Count of customers", "Grand Total", "EMEA total:",
                "Average of MRR", "Core Subtotal", "EMEA Total (USD)", "Core Totals"]  # fmt: skip
NAMES = ["Total Wine & More", "Sum Labs", "Totally Legit", "TotalEnergies", "Subtotal Ltd", "Discount Co",
         "Countess Ltd", "Coretotal", "Sum-of-parts Ltd", "Total - Acme"]  # fmt: skip


@pytest.mark.parametrize("word", EXCEL_TOTALS)
def test_excel_subtotal_and_pivot_rows_are_total_rows(word):
    frame = pd.DataFrame({"customer_id": ["A", "B", word], "month": "2024-01", "product": "P",
                          "mrr": ["1.00", "2.00", "3.00"]})  # fmt: skip
    with pytest.raises(ValidationError, match=rf"{TOTAL_ROW.replace('(', '.').replace(')', '.')}: 1 row, e.g. row 3"):
        kit.load_ledger(frame, today=TODAY)
    ledger = kit.load_ledger(frame, today=TODAY, on_invalid="quarantine")
    assert excluded(ledger) == {TOTAL_ROW: 1} and cents(ledger) == {("A", "2024-01"): 100, ("B", "2024-01"): 200}


def test_names_around_total_words_stay_customers():
    assert roles.is_total(pd.Series(NAMES)).tolist() == [False] * len(NAMES)
    frame = pd.DataFrame({"customer_id": NAMES, "month": "2024-01", "product": "P", "mrr": "1.00"})
    assert len(cents(kit.load_ledger(frame, today=TODAY))) == len(NAMES)


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 &-]{0,15}", fullmatch=True), st.sampled_from(["Total", "total", "TOTALS"]),
       st.sampled_from(["", ":", " ", " (USD)"]))  # fmt: skip
def test_any_value_then_a_total_word_is_total(value, word, tail):
    assert roles.is_total(pd.Series([f"{value} {word}{tail}"])).tolist() == [True]


def test_cli_subtotal_rows_error_and_lenient(tmp_path, capsys):
    body = (
        "A,2024-01,Core,10\nB,2024-01,Core,5\nCore Total,2024-01,Core,15\n"
        "A,2024-02,Core,12\nSum of MRR,2024-02,Core,12\n"
    )
    path = write(tmp_path, "sub.csv", SNAP + body)
    assert_cli_error(
        *run_cli(capsys, "summary", path),
        r"sub\.csv: 2 invalid rows.*a total row, not a customer.*row 4, column customer_id: 'Core Total'",
    )
    code, out, err = run_cli(capsys, "summary", path, "--lenient")
    # January 10 + 5 = 15.00; February A 12 (upsell 2), B churned 5 (churn is shown as a positive amount)
    assert code == 0 and "2 of 5 rows excluded (a total row, not a customer (remove it): 2)" in err
    assert out.splitlines()[1].startswith("2024-02,15.00,0.00,0.00,2.00,0.00,2.00,0.00,5.00,12.00,"), out


# --- 3. messages that say what to do ----------------------------------------------------------------


def test_title_rows_above_the_header_name_header_row(tmp_path, capsys):
    path = write(tmp_path, "title.csv", "Revenue report\nQ1 2024\n" + SNAP + "C1,2024-01,Core,1\nC1,2024-02,Core,2\n")
    hint = r"if the header is not on the first row, pass header_row= \(CLI --header-row, counted from 1\)"
    with pytest.raises(LoadError, match=r"title\.csv: the header has 1 field but 3 rows do not .*" + hint):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), hint)
    assert_cli_error(*run_cli(capsys, "summary", path, "--header-row", "2"), r"if the header is not on row 2")
    code, out, err = run_cli(capsys, "summary", path, "--header-row", "3")
    assert code == 0 and out.splitlines()[1].startswith("2024-02,1.00,0.00,0.00,1.00,"), err


def test_a_row_one_field_too_wide_gets_no_header_hint(tmp_path, capsys):
    path = write(tmp_path, "s.csv", SNAP + "A,2024-01,P,1,extra\nA,2024-02,P,2\n")
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"the header has 4 fields but 1 row does not \(row 2 has 5\)")
    assert "header_row" not in err


def test_the_same_mark_for_decimals_and_thousands_says_they_must_differ(tmp_path, capsys):
    path = write(tmp_path, "m.csv", SNAP + "A,2024-01,P,1\n")
    match = (r"thousands=',' is also the decimal mark \(decimal=','\); the two marks must differ, e\.g\. "
             r"thousands=',', decimal='\.' \(CLI --thousands , --decimal \.\)")  # fmt: skip
    with pytest.raises(ParameterError, match=match):
        kit.load_ledger(path, today=TODAY, decimal=",", thousands=",")
    code, out, err = run_cli(capsys, "summary", path, "--decimal", ",", "--thousands", ",")
    assert_cli_error(code, out, err, match)
    assert "pass decimal= too" not in err


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", " "], ids=["nbsp", "narrow-nbsp", "space"])
@pytest.mark.parametrize("stated", [" ", "\u00a0", "\u202f"], ids=["as-space", "as-nbsp", "as-narrow-nbsp"])
def test_french_thousands_with_any_space_are_read_when_a_space_is_stated(tmp_path, capsys, space, stated):
    path = write(tmp_path, "fr.csv", SNAP + f'A,2024-01,P,"1{space}200,50"\nA,2024-02,P,"12{space}345{space}678,9"\n')
    ledger = kit.load_ledger(path, today=TODAY, decimal=",", thousands=stated)
    assert cents(ledger) == {("A", "2024-01"): 120050, ("A", "2024-02"): 1234567890}
    code, out, err = run_cli(capsys, "summary", path, "--decimal", ",", "--thousands", stated)
    assert code == 0 and out.splitlines()[1].startswith("2024-02,1200.50,0.00,0.00,12344478.40,"), err


def test_a_spaced_amount_without_a_space_separator_hints_at_thousands(tmp_path, capsys):
    path = write(tmp_path, "fr.csv", SNAP + 'A,2024-01,P,"1\u00a0200,50"\nA,2024-02,P,"1 300,50"\n')
    hint = r"not a number \(for a space between thousands, NBSP included, pass thousands=' ', CLI --thousands ' '\)"
    with pytest.raises(ValidationError, match=hint + r": 2 rows, e\.g\. row 2, column mrr"):
        kit.load_ledger(path, today=TODAY, decimal=",")
    assert_cli_error(*run_cli(capsys, "summary", path, "--decimal", ","), hint)
    assert_cli_error(*run_cli(capsys, "summary", path, "--decimal", ",", "--thousands", "."), hint)


def test_a_swallowed_line_is_counted_in_good_grammar(tmp_path, capsys):
    header = "customer_id,month,product,mrr,note\n"
    one = 'A,2024-01,Core,100.00,"hello\nB,2024-01,Core,200.00,x"\nA,2024-02,Core,100.00,ok\n'
    path = write(tmp_path, "one.csv", header + one)
    with pytest.raises(LoadError, match=r"row 2, column note: a quoted field holds 1 line that looks like a row of 5 "):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"holds 1 line that looks like a row of 5 fields")
    two = 'A,2024-01,Core,100.00,"hello\nB,2024-01,Core,200.00,x\nC,2024-01,Core,300.00,"\nA,2024-02,Core,1,ok\n'
    path = write(tmp_path, "two.csv", header + two)
    assert_cli_error(*run_cli(capsys, "summary", path), r"holds 2 lines that look like rows of 5 fields")


# --- 1b. one distinct grouped-looking value is enough (review of issue 8) -----------------------
# BigCo pays 1.200 every month: read as 1.20 it would be off by a thousand, so one value stops too.

ONE_VALUE = ("customer_id,month,product,mrr\nBigCo,2026-01,p,1.200\nBigCo,2026-02,p,1.200\nBigCo,2026-03,p,1.200\n"
             "S1,2026-01,p,49\nS1,2026-02,p,99\n")  # fmt: skip


@pytest.mark.parametrize("values", [["2.675"], ["1.200", "1200", "abc"], ["1.200", "1.200", "49", "99"]],
                         ids=["one-value", "one-value-with-others", "one-value-repeated"])  # fmt: skip
def test_a_single_distinct_grouped_value_is_ambiguous(values):
    with pytest.raises(parse.AmbiguousDecimalMark, match=r"\('" + values[0].replace(".", r"\.") + r"'\)"):
        parse.check_decimal_mark(pd.Series(values, dtype=object))
    parse.check_decimal_mark(pd.Series(values, dtype=object), thousands=",")  # stated: settled
    parse.check_decimal_mark(pd.Series([*values, "12.50"], dtype=object))  # one amount written otherwise: decimal


def test_one_repeated_value_stops_the_load_and_a_stated_separator_reads_it(tmp_path, capsys):
    path = tmp_path / "d1.csv"
    path.write_text(ONE_VALUE, encoding="utf-8")
    message = r"d1\.csv, column mrr: the decimal mark '\.' is ambiguous: .*\('1\.200'\)"
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), message + r".*--thousands \. --decimal ,")
    assert cents(kit.load_ledger(path, today=TODAY, thousands=".", decimal=","))[("BigCo", "2026-01")] == 120000
    assert cents(kit.load_ledger(path, today=TODAY, thousands=","))[("BigCo", "2026-01")] == 120
    code, out, err = run_cli(capsys, "summary", path, "--thousands", ".", "--decimal", ",")
    assert code == 0 and "\n2026-02,1249.00,0.00,0.00,50.00," in out  # BigCo 1,200 + S1 49; S1 up 50


# --- one factorize per money column (issue 9) --------------------------------------------------------


@pytest.mark.parametrize("values", [["1.200", "2.500", "1200", None, "1.200"], ["12.50", " 3.005 ", "x", None, "7"],
                                    ["1,234.567", "2", "", "1,234.567"]])  # fmt: skip
@pytest.mark.parametrize("as_category", [False, True], ids=["object", "category"])
def test_money_checks_given_the_distinct_values_answer_as_without(values, as_category):
    series = pd.Series(values, dtype="category" if as_category else object)
    distinct = parse.factorize(series)
    for options in ({}, {"thousands": ","}, {"decimal": ",", "thousands": "."}):
        problems = parse.parse_money_problems(series, **options)
        given = parse.parse_money_problems(series, **options, distinct=distinct)
        assert [a.tolist() for a in given] == [a.tolist() for a in problems]
        assert (parse.rounded_positions(series, **options, distinct=distinct).tolist()
                == parse.rounded_positions(series, **options).tolist())  # fmt: skip
        check = {k: v for k, v in options.items() if k != "thousands_grouping"}
        try:
            parse.check_decimal_mark(series, **check)
        except parse.AmbiguousDecimalMark as exc:
            with pytest.raises(parse.AmbiguousDecimalMark, match="^" + re.escape(str(exc)) + "$"):
                parse.check_decimal_mark(series, **check, distinct=distinct)
        else:
            parse.check_decimal_mark(series, **check, distinct=distinct)
