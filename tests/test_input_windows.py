"""
Windows and snapshots a new user found silently wrong (review of issue 8), worked by hand.

1. Subscriptions: the window's last month is measured on ``as_of`` (``start <= as_of < end``).
   FUTURE (today 2026-12-02; default as_of = the latest date not in the future, 2026-12-01):
   C1 100 (Oct 1 – Dec 20), C2 50 (from Oct 1), C3 10 (from Dec 1), C4 999 (from Dec 15).
   Oct: new 150. Nov: flat 150. Dec measured on Dec 1: C1 (ends Dec 20, still in force), C2,
   C3 (new 10); C4 starts after as_of. So Dec: new 10, churn 0, mrr_end 160 (not new 1009, churn 100).
   PAST (as_of 2024-02-15): C1 100 (Jan 1 – Feb 20), C2 50 (from Jan 10), C3 10 (from Feb 10),
   C4 999 (from Feb 20). Jan: new 150. Feb on the 15th: C1, C2, C3: new 10, mrr_end 160.
   By quarter with as_of 2024-03-15: Q1 ends on Mar 15 with C2, C3, C4 = 1059, all new.
2. Snapshots Jan–Mar 2024 with as_of in April: an error naming both months.
3. ``snapshot_dates="last"``: the customer's latest date of the month, all its products.
4. A status column with statuses that do not bill stops the load; only ``active``: a note.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reliability import assert_cli_error, cents, excluded, notes, run_cli

import kit
from kit.errors import LoadError, ParameterError

MACHINE_TODAY = date(2026, 12, 2)
SUBS = "customer_id,start_date,end_date,amount,billing_period\n"
FUTURE = SUBS + ("C1,2026-10-01,2026-12-20,100.00,month\nC2,2026-10-01,,50.00,month\n"
                 "C3,2026-12-01,,10.00,month\nC4,2026-12-15,,999.00,month\n")  # fmt: skip
PAST = SUBS + ("C1,2024-01-01,2024-02-20,100.00,month\nC2,2024-01-10,,50.00,month\n"
               "C3,2024-02-10,,10.00,month\nC4,2024-02-20,,999.00,month\n")  # fmt: skip


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def row(table: pd.DataFrame, period: str) -> dict:
    return table.set_index("period").loc[period].to_dict()


class _MachineDay(date):
    """``date`` whose today is pinned, for the CLI (which loads with the real today)."""

    @classmethod
    def today(cls):
        return MACHINE_TODAY


# --- 1. the last month is measured on as_of ---------------------------------------------------


@pytest.mark.parametrize("as_of", [None, "2026-12-01"], ids=["default", "explicit"])
def test_nothing_after_as_of_enters_the_last_month(tmp_path, as_of):
    ledger = kit.load_ledger(write(tmp_path, "future.csv", FUTURE), as_of=as_of, today=MACHINE_TODAY)
    assert cents(ledger) == {("C1", "2026-10"): 10000, ("C1", "2026-11"): 10000, ("C1", "2026-12"): 10000,
                             ("C2", "2026-10"): 5000, ("C2", "2026-11"): 5000, ("C2", "2026-12"): 5000,
                             ("C3", "2026-12"): 1000}  # fmt: skip
    dec = row(kit.summarize(ledger), "2026-12")
    assert (dec["mrr_start"], dec["new"], dec["churn"], dec["mrr_end"]) == (15000, 1000, 0, 16000)
    assert ledger.quality.details["window note"] == ("last month 2026-12 measured on as_of 2026-12-01, not its last "
                                                     "day (nothing after as_of enters any figure)")  # fmt: skip
    assert notes(ledger)["subscriptions starting after as_of (contribute nothing)"] == 1
    assert "window note" in set(ledger.quality.table()["item"])


def test_an_explicit_as_of_in_the_past_measures_its_month_on_that_day(tmp_path):
    ledger = kit.load_ledger(write(tmp_path, "past.csv", PAST), as_of="2024-02-15", today=TODAY)
    table = kit.summarize(ledger)
    assert list(table["period"]) == ["2024-01", "2024-02"]
    feb = row(table, "2024-02")
    assert (feb["mrr_start"], feb["new"], feb["churn"], feb["mrr_end"], feb["customers_end"]) == (
        15000,
        1000,
        0,
        16000,
        3,
    )
    assert notes(ledger)["subscriptions starting after as_of (contribute nothing)"] == 1  # C4
    # the last day of the month is measured as before: C1 gone, C3 and C4 in force
    end = row(kit.summarize(kit.load_ledger(write(tmp_path, "past.csv", PAST), as_of="2024-02-29", today=TODAY)),
              "2024-02")  # fmt: skip
    assert (end["new"], end["churn"], end["mrr_end"]) == (100900, 10000, 105900)
    assert "window note" not in kit.load_ledger(tmp_path / "past.csv", as_of="2024-02-29", today=TODAY).quality.details


def test_a_quarter_ending_with_the_as_of_month_is_measured_on_as_of(tmp_path):
    path = write(tmp_path, "past.csv", PAST)
    q1 = row(kit.summarize(kit.load_ledger(path, as_of="2024-03-15", today=TODAY), period="quarter"), "2024-Q1")
    assert (q1["mrr_start"], q1["new"], q1["churn"], q1["mrr_end"], q1["customers_new"]) == (0, 105900, 0, 105900, 3)
    # a quarter whose last month is past the window is still left out
    assert kit.summarize(kit.load_ledger(path, as_of="2024-02-15", today=TODAY), period="quarter").empty


def test_cli_explicit_as_of_counts_nothing_after_it(tmp_path, capsys):
    path = write(tmp_path, "past.csv", PAST)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-15")
    assert code == 0, err
    assert out.splitlines()[2].startswith("2024-02,150.00,10.00,0.00,0.00,0.00,0.00,0.00,0.00,160.00,")
    assert "note: last month 2024-02 measured on as_of 2024-02-15, not its last day" in err


def test_cli_default_as_of_counts_nothing_after_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(kit.ledger, "date", _MachineDay)
    code, out, err = run_cli(capsys, "summary", write(tmp_path, "future.csv", FUTURE))
    assert code == 0, err
    assert out.splitlines()[3].startswith("2026-12,150.00,10.00,0.00,0.00,0.00,0.00,0.00,0.00,160.00,")
    assert "note: last month 2026-12 measured on as_of 2026-12-01, not its last day" in err
    assert "note: subscriptions starting after as_of (contribute nothing): 1 row (e.g. row 5)" in err


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 89), st.one_of(st.none(), st.integers(1, 60)), st.integers(1, 500)),
                min_size=1, max_size=12), st.integers(0, 89))  # fmt: skip
def test_every_month_equals_a_plain_reference(subs, as_of_offset):
    """Months before as_of's are measured on their last day, as_of's month on as_of; nothing later counts."""
    base = pd.Timestamp("2024-01-01")
    starts = [base + pd.Timedelta(days=s) for s, _, _ in subs]
    ends = [
        None if length is None else start + pd.Timedelta(days=length)
        for start, (_, length, _) in zip(starts, subs, strict=True)
    ]
    as_of = base + pd.Timedelta(days=as_of_offset)
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(subs))],
                          "start_date": [s.strftime("%Y-%m-%d") for s in starts],
                          "end_date": ["" if e is None else e.strftime("%Y-%m-%d") for e in ends],
                          "amount": [f"{a}.00" for _, _, a in subs], "billing_period": "month"})  # fmt: skip
    if min(starts) > as_of:  # nothing in force by as_of, even later in as_of's month: an error, not a zero row
        with pytest.raises(LoadError, match="no subscription starts by as_of"):
            kit.load_ledger(frame, as_of=as_of.date(), today=TODAY)
        return
    ledger = kit.load_ledger(frame, as_of=as_of.date(), today=TODAY)
    expected = {}
    for month in pd.period_range(pd.Period(min(starts), "M"), pd.Period(as_of, "M"), freq="M"):
        day = as_of if month == pd.Period(as_of, "M") else month.to_timestamp(how="end").normalize()
        for i, (start, end, (_, _, amount)) in enumerate(zip(starts, ends, subs, strict=True)):
            if start <= day and (end is None or day < end):
                expected[(f"C{i}", str(month))] = amount * 100
    assert cents(ledger) == expected
    assert ledger.quality.rows_read == ledger.quality.rows_used == len(subs)


# --- 2. snapshots: as_of after the file's last month ------------------------------------------

SNAPSHOTS = ("customer_id,month,product,mrr\n" + "".join(f"{c},2024-{m:02d},Core,{v}\n" for m in (1, 2, 3)
                                                        for c, v in (("A", "100.00"), ("B", "50.00"))))  # fmt: skip


def test_snapshot_as_of_after_the_last_month_is_an_error_naming_both_months(tmp_path, capsys):
    path = write(tmp_path, "snap.csv", SNAPSHOTS)
    message = (
        r"snap\.csv: as_of 2024-04-10 is in 2024-04, after the last month of the snapshots \(2024-03\): "
        r"they say nothing of 2024-04"
    )
    with pytest.raises(ParameterError, match=message):
        kit.load_ledger(path, as_of="2024-04-10", today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-04-10")
    assert_cli_error(code, out, err, message + r".*Pass an as_of in 2024-03 or earlier")


def test_snapshot_as_of_inside_the_file_keeps_todays_behaviour(tmp_path, capsys):
    path = write(tmp_path, "snap.csv", SNAPSHOTS)
    ledger = kit.load_ledger(path, as_of="2024-02-10", today=TODAY)
    assert (str(ledger.first_month), str(ledger.last_month)) == ("2024-01", "2024-02")
    assert excluded(ledger) == {"month after as_of": 2}
    for as_of in ("2024-03-01", "2024-03-31"):  # the file's last month itself
        assert str(kit.load_ledger(path, as_of=as_of, today=TODAY).last_month) == "2024-03"
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-03-05")
    assert code == 0 and out.splitlines()[-1].startswith("2024-03,150.00,")


# --- 3. snapshot_dates="last": the customer's last date, all its products -----------------------

DROPPED = (
    "customer_id,month,product,mrr\nC1,2024-01-05,Core,100.00\nC1,2024-01-05,Addon,30.00\n"
    "C1,2024-01-26,Core,100.00\nC1,2024-02-23,Core,100.00\nC2,2024-01-31,Core,40.00\nC2,2024-02-29,Core,40.00\n"
)


def test_last_snapshot_is_per_customer_so_a_dropped_product_is_gone(tmp_path, capsys):
    path = write(tmp_path, "dropped.csv", DROPPED)
    ledger = kit.load_ledger(path, snapshot_dates="last", today=TODAY)
    assert cents(ledger) == {("C1", "2024-01"): 10000, ("C1", "2024-02"): 10000,
                             ("C2", "2024-01"): 4000, ("C2", "2024-02"): 4000}  # fmt: skip
    reason = "snapshot rows before the last snapshot date of their month (snapshot_dates='last')"
    assert excluded(ledger) == {reason: 2}
    assert ledger.quality.excluded.set_index("reason").loc[reason, "examples"] == "row 2, row 3"
    assert (ledger.quality.rows_read, ledger.quality.rows_used) == (6, 4)
    code, out, err = run_cli(capsys, "summary", path, "--snapshot-dates", "last")
    assert code == 0 and f"2 of 6 rows excluded ({reason}: 2)" in err
    # February: no fake contraction of the Addon dropped in January
    assert out.splitlines()[1].startswith("2024-02,140.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,140.00,")


def test_last_snapshot_leaves_a_customer_month_where_each_product_has_one_date():
    # each product has one date in January: nothing to choose, all rows kept, as without the option
    frame = pd.DataFrame({"customer_id": "A", "product": ["P", "Q", "P"],
                          "month": ["2024-01-05", "2024-01-20", "2024-02-20"],
                          "mrr": ["1.00", "2.00", "4.00"]})  # fmt: skip
    assert cents(kit.load_ledger(frame, today=TODAY)) == {("A", "2024-01"): 300, ("A", "2024-02"): 400}  # raise: added
    ledger = kit.load_ledger(frame, today=TODAY, snapshot_dates="last")
    assert cents(ledger) == {("A", "2024-01"): 300, ("A", "2024-02"): 400}
    assert ledger.quality.rows_excluded == 0


# --- 4. a status column is not read: statuses that do not bill stop the load -------------------

STATUS = SUBS.replace("\n", ",Status\n") + ("C1,2024-01-01,,100.00,month,active\nC2,2024-01-01,,50.00,month,Trialing\n"
                                            "C3,2024-02-01,,10.00,month,past due\n"
                                            "C4,2024-02-01,,10.00,month,incomplete_expired\n")  # fmt: skip


def test_statuses_that_do_not_bill_stop_the_load_naming_column_values_and_rows(tmp_path, capsys):
    path = write(tmp_path, "stripe.csv", STATUS)
    # past_due bills (Stripe counts it as MRR): not named; the ongoing incomplete_expired and the trial stop
    message = (
        r"stripe\.csv, column status: statuses that are not billing: 'Trialing' \(1 row\), "
        r"'incomplete_expired' \(1 row\) \(e\.g\. rows 3, 5\)"
    )
    for on_invalid in ("raise", "quarantine"):  # not an invalid row: --lenient does not choose for the user
        with pytest.raises(LoadError, match=r"(?s)" + message + r".*--map status=sub_status"):
            kit.load_ledger(path, as_of="2024-02-29", today=TODAY, on_invalid=on_invalid)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert_cli_error(
        code, out, err, message + r".*End \(set end_date\) or remove the rows that do not bill.*--map status=sub_status"
    )


def test_a_status_mapped_to_an_attribute_is_acknowledged(tmp_path, capsys):
    path = write(tmp_path, "stripe.csv", STATUS)
    ledger = kit.load_ledger(path, as_of="2024-02-29", today=TODAY, mapping={"Status": "sub_status"})
    assert cents(ledger)[("C2", "2024-02")] == 5000 and "sub_status" in ledger.attributes
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29", "--map", "status=sub_status")
    assert code == 0 and out.splitlines()[-1].startswith("2024-02,150.00,20.00,")


def test_a_status_of_only_active_gets_a_note_and_other_states_are_attributes(tmp_path, capsys):
    text = (SUBS.replace("\n", ",subscription_status,state\n")
            + "C1,2024-01-01,,100.00,month,Active,CA\nC2,2024-01-01,,50.00,month,active,NY\n")  # fmt: skip
    path = write(tmp_path, "active.csv", text)
    ledger = kit.load_ledger(path, as_of="2024-01-31", today=TODAY)
    note = (
        "column 'subscription_status' holds only Active, active "
        "(the kit does not read status; every row is taken as billing)"
    )
    assert notes(ledger) == {note: 2}
    assert "state" in ledger.attributes
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-01-31")
    assert code == 0 and f"note: {note}: 2 rows" in err


# --- 5. review of issue 8 (snap2): snapshot dates a tester found added, dropped or used after as_of --

WEEKLY_BESIDE = ("customer_id,month,snapshot_date,product,mrr\nA,2026-10,10/31/2026,p1,100\n"
                 "A,2026-11,11/07/2026,p1,100\nA,2026-11,11/28/2026,p1,130\n")  # fmt: skip


@pytest.mark.parametrize("second", ["11/07/2026", "28.11.2026", "n/a", "week 1"])
def test_a_date_column_beside_month_is_checked_whatever_its_format(tmp_path, capsys, second):
    path = write(tmp_path, "w.csv", WEEKLY_BESIDE.replace("11/07/2026", second))
    message = (
        r"w\.csv, column snapshot_date \(beside column month, which gives the month\): "
        r"customer 'A', product 'p1' has 2 snapshot dates in 2026-11"
    )
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, today=MACHINE_TODAY)
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, message)


def test_last_orders_a_date_column_under_date_format_or_says_it_cannot(tmp_path, capsys):
    path = write(tmp_path, "w.csv", WEEKLY_BESIDE)
    with pytest.raises(LoadError, match=r"column snapshot_date .*values '11/07/2026', '11/28/2026' are not dates"):
        kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last")
    ledger = kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last", date_format="%m/%d/%Y")
    assert cents(ledger) == {("A", "2026-10"): 10000, ("A", "2026-11"): 13000}
    assert ledger.quality.rows_excluded == 1
    code, out, err = run_cli(capsys, "summary", path, "--snapshot-dates", "last", "--date-format", "%m/%d/%Y")
    assert code == 0 and out.splitlines()[-1].startswith("2026-11,100.00,") and ",130.00," in out.splitlines()[-1]
    blank = write(tmp_path, "b.csv", WEEKLY_BESIDE.replace("11/07/2026", "n/a"))
    message = r"column snapshot_date .*values 'n/a' are not dates .*cannot order them"
    code, out, err = run_cli(capsys, "summary", blank, "--snapshot-dates", "last", "--date-format", "%m/%d/%Y")
    assert_cli_error(code, out, err, message)


def test_a_blank_beside_several_dates_is_named_and_a_blank_beside_one_is_added():
    frame = pd.DataFrame({"customer_id": "A", "product": "p1", "month": ["2026-11"] * 3,
                          "snapshot_date": ["2026-11-07", None, "2026-11-28"],
                          "mrr": ["1.00", "2.00", "4.00"]})  # fmt: skip
    with pytest.raises(
        LoadError, match=r"2 snapshot dates in 2026-11 \(2026-11-07, 2026-11-28, and 1 row with a blank"
    ):
        kit.load_ledger(frame, today=MACHINE_TODAY)
    with pytest.raises(LoadError, match=r"blank values among the snapshot dates"):
        kit.load_ledger(frame, today=MACHINE_TODAY, snapshot_dates="last")
    one = frame.iloc[:2]
    assert cents(kit.load_ledger(one, today=MACHINE_TODAY)) == {("A", "2026-11"): 300}


N8 = ("customer_id,month,product,mrr\nA,2026-10-31,p1,100\nA,2026-10-31,p2,10\nA,2026-11-30,p1,130\n"
      "A,2026-11-29,p2,10\nB,2026-10-31,p1,50\nB,2026-11-07,p1,50\nB,2026-11-28,p1,60\n")  # fmt: skip


def test_last_keeps_customer_months_where_no_product_has_several_dates(tmp_path, capsys):
    # A: p1 and p2 one date each in November (kept: 140); B: p1 on two dates (the 28th: 60) -> 200
    path = write(tmp_path, "n8.csv", N8)
    ledger = kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last")
    assert cents(ledger) == {
        ("A", "2026-10"): 11000,
        ("A", "2026-11"): 14000,
        ("B", "2026-10"): 5000,
        ("B", "2026-11"): 6000,
    }
    assert excluded(ledger) == {"snapshot rows before the last snapshot date of their month (snapshot_dates='last')": 1}
    code, out, err = run_cli(capsys, "summary", path, "--snapshot-dates", "last")
    assert code == 0 and ",200.00,2,2," in out.splitlines()[-1]


N2B = "customer_id,month,product,mrr\nA,2026-10-31,p1,100\nA,2026-11-07,p1,100\nA,2026-11-28,p1,130\n"


def test_a_snapshot_dated_after_as_of_is_excluded_before_last_picks_a_date(tmp_path, capsys):
    path = write(tmp_path, "n2b.csv", N2B)
    ledger = kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last", as_of="2026-11-10")
    assert cents(ledger) == {("A", "2026-10"): 10000, ("A", "2026-11"): 10000}
    assert excluded(ledger) == {"snapshot dated after as_of": 1}
    accounted_rows = ledger.quality.rows_used + ledger.quality.rows_excluded
    assert accounted_rows == ledger.quality.rows_read == 3
    code, out, err = run_cli(capsys, "summary", path, "--snapshot-dates", "last", "--as-of", "2026-11-10")
    assert code == 0 and out.splitlines()[-1].startswith("2026-11,100.00,") and ",100.00,1,1," in out.splitlines()[-1]
    assert "snapshot dated after as_of: 1" in err
    # beside month, in a snapshot_date column
    beside = write(tmp_path, "w.csv", WEEKLY_BESIDE)
    ledger = kit.load_ledger(
        beside, today=MACHINE_TODAY, snapshot_dates="last", as_of="2026-11-10", date_format="%m/%d/%Y"
    )
    assert cents(ledger) == {("A", "2026-10"): 10000, ("A", "2026-11"): 10000}
    # an as_of before every snapshot of its month: an error, not a month where everyone churns
    message = r"n2b\.csv: as_of 2026-11-05 is before every snapshot of 2026-11 \(the first is dated 2026-11-07\)"
    with pytest.raises(ParameterError, match=message):
        kit.load_ledger(path, today=MACHINE_TODAY, as_of="2026-11-05")
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2026-11-05")
    assert_cli_error(code, out, err, message)


def test_a_mid_month_as_of_that_leaves_a_customer_without_a_snapshot_is_refused(tmp_path, capsys):
    # B was active in October; its only November snapshot (11-28) is after as_of: its MRR on 11-10 is unknown,
    # and dropping the row would make B churn. C first appears on 11-20: not a customer yet on 11-10.
    body = ("customer_id,month,product,mrr\nA,2026-10-31,p1,100\nA,2026-11-07,p1,100\nA,2026-11-28,p1,130\n"
            "B,2026-10-31,p1,50\nB,2026-11-28,p1,50\nC,2026-11-20,p1,10\n")  # fmt: skip
    path = write(tmp_path, "mid.csv", body)
    message = r"mid\.csv: as_of 2026-11-10 falls before the 2026-11 snapshots of 1 customer active in 2026-10 \('B'\)"
    with pytest.raises(ParameterError, match=message):
        kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last", as_of="2026-11-10")
    assert_cli_error(*run_cli(capsys, "summary", path, "--snapshot-dates", "last", "--as-of", "2026-11-10"), message)
    ledger = kit.load_ledger(path, today=MACHINE_TODAY, snapshot_dates="last", as_of="2026-11-30")  # month end: fine
    assert cents(ledger) == {("A", "2026-10"): 10000, ("A", "2026-11"): 13000, ("B", "2026-10"): 5000,
                             ("B", "2026-11"): 5000, ("C", "2026-11"): 1000}  # fmt: skip


# --- 4b. status rules row by row: final statuses with an end_date are history -------------------
# (review of issue 8: a canceled subscription with an end_date stopped the load, and the advice
# "remove the rows" would have deleted past MRR.)

HISTORY = ("customer_id,start_date,end_date,amount,billing_period,status\n"
           "A,2024-01-01,,100,month,active\nB,2024-01-01,2024-02-01,50,month,canceled\n"
           "C,2024-01-01,2024-02-01,20,month,Ended\nD,2024-01-01,2024-02-01,30,month,incomplete-expired\n"
           "E,2024-01-01,,7,month,past_due\nF,2024-01-01,2024-02-01,5,month,paused\n")  # fmt: skip


def test_final_statuses_on_rows_with_an_end_date_are_history_and_past_due_bills(tmp_path, capsys):
    path = write(tmp_path, "history.csv", HISTORY)
    ledger = kit.load_ledger(path, as_of="2024-02-29", today=TODAY)
    # January: A 100 + B 50 + C 20 + D 30 + E 7 + F 5 = 212; February: A 100 + E 7 (the others ended Feb 1)
    assert sum(v for (c, m), v in cents(ledger).items() if m == "2024-01") == 21200
    assert {c: v for (c, m), v in cents(ledger).items() if m == "2024-02"} == {"A": 10000, "E": 700}
    assert any("holds active, canceled, Ended, incomplete-expired, past_due, paused" in n for n in notes(ledger))
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert code == 0 and out.splitlines()[-1].startswith("2024-02,212.00,0.00,")


@pytest.mark.parametrize("status", ["canceled", "Cancelled", "ended", "expired", "incomplete_expired", "churned",
                                    "terminated", "inactive", "paused", "unpaid", "suspended", "on hold", "pending",
                                    "incomplete"])  # fmt: skip
def test_final_and_pause_like_statuses_on_ongoing_rows_stop(tmp_path, capsys, status):
    text = HISTORY.splitlines()[0] + f"\nA,2024-01-01,,100,month,active\nB,2024-01-01,,50,month,{status}\n"
    path = write(tmp_path, "open.csv", text)
    message = rf"open\.csv, column status: statuses that are not billing: '{status}' \(1 row\) \(e\.g\. rows 3\)"
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, as_of="2024-02-29", today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert_cli_error(code, out, err, message + r".*End \(set end_date\) or remove.*--map status=sub_status")


@pytest.mark.parametrize("status", ["trialing", "Trial", "in_trial", "free trial"])
def test_a_trial_status_stops_even_with_an_end_date(tmp_path, capsys, status):
    text = HISTORY.splitlines()[0] + f"\nA,2024-01-01,,100,month,active\nB,2024-01-01,2024-02-01,50,month,{status}\n"
    path = write(tmp_path, "trial.csv", text)
    message = rf"trial\.csv, column status: statuses that are not billing: '{status}' \(1 row\) \(e\.g\. rows 3\)"
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, as_of="2024-02-29", today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert_cli_error(code, out, err, message)


def test_a_hyphenated_status_column_is_checked_and_counts_only_the_rows_that_stop(tmp_path, capsys):
    text = ("customer_id,start_date,end_date,amount,billing_period,Subscription-Status\n"
            "A,2024-01-01,,100,month,active\nB,2024-01-01,2024-02-01,50,month,canceled\n"
            "C,2024-01-01,,50,month,canceled\nD,2024-01-01,,50,month,canceled\n")  # fmt: skip
    path = write(tmp_path, "hyphen.csv", text)
    # B is history; C and D (rows 4, 5) are ongoing
    message = (
        r"hyphen\.csv, column subscription-status: statuses that are not billing: 'canceled' \(2 rows\) "
        r"\(e\.g\. rows 4, 5\)"
    )
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, as_of="2024-02-29", today=TODAY)
    code, out, err = run_cli(capsys, "summary", path, "--as-of", "2024-02-29")
    assert_cli_error(code, out, err, message + r".*--map subscription-status=sub_subscription-status")


def test_an_as_of_in_the_first_month_before_any_start_is_an_error(tmp_path, capsys):
    # found by the tester: as_of 2026-11-15 with the only subscription starting 2026-11-20 gave an all-zero row
    path = write(tmp_path, "s2.csv", "customer_id,start_date,end_date,amount,billing_period\nA,2026-11-20,,100,month\n")
    message = (
        r"no subscription starts by as_of 2026-11-15 \(the first starts in 2026-11\); "
        r"the earliest start_date is 2026-11-20"
    )
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, today=MACHINE_TODAY, as_of="2026-11-15")
    assert_cli_error(*run_cli(capsys, "summary", path, "--as-of", "2026-11-15"), message)
    assert_cli_error(*run_cli(capsys, "summary", path, "--as-of", "2026-11-15", "--period", "quarter"), message)
    ledger = kit.load_ledger(path, today=MACHINE_TODAY, as_of="2026-11-20")  # on its start day it is in force
    assert cents(ledger) == {("A", "2026-11"): 10000}
