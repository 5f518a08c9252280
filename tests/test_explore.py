"""Exploring: drill-down to the customers behind a summary cell, one customer's history, period labels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, TODAY, snapshots
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit.errors import ParameterError
from kit.explore import CELLS, COUNT_CELLS, infer_netting
from kit.periods import select, window

SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"
NETTINGS = ("customer", "product")


@pytest.fixture(scope="module")
def sample() -> kit.Ledger:
    return kit.load_ledger(SAMPLE, fx=FX, today=TODAY)


def cell_of(drill: pd.DataFrame, cell: str) -> int:
    """What a drill-down says of its cell: the rows for a count, the amounts' sum for money."""
    return len(drill) if cell in COUNT_CELLS else int(drill["amount"].sum())


def check_every_cell(moves: pd.DataFrame, labels, ledger=None, netting=None) -> None:
    table = kit.summary(moves).set_index("period")
    for label in labels:
        for cell in CELLS:
            drill = kit.drill_down(moves, label, cell, ledger=ledger, netting=netting)
            assert cell_of(drill, cell) == int(table.loc[label, cell]), (label, cell)
            assert (drill["amount"] > 0).all() or cell in COUNT_CELLS, (label, cell)
            assert drill["amount"].is_monotonic_decreasing, (label, cell)
            assert drill["amount"].dtype == np.int64


# --- small hand-worked ledgers ------------------------------------------------------------------

ROWS = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
        ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4"),
        ("d", "P", "2024-01", "100"), ("d", "Q", "2024-01", "20"), ("d", "P", "2024-02", "60"),
        ("d", "R", "2024-02", "30")]  # fmt: skip


def test_cross_sell_drill_down_names_the_new_product():
    ledger = snapshots(ROWS)
    moves = kit.movements(ledger)
    drill = kit.drill_down(moves, "2024-02", "cross_sell", ledger=ledger)
    assert drill[["customer_id", "class", "mrr_start", "mrr_end", "amount", "changed"]].values.tolist() == [
        ["a", "expansion", 1000, 2000, 500, "P 10.00 → 15.00; + Q 5.00 (new product)"]
    ]  # d contracted net (120 → 90): no cross-sell under customer netting


def test_product_netting_gives_product_rows_that_add_up_per_customer():
    ledger = snapshots(ROWS)
    moves = kit.movements(ledger, netting="product")
    assert infer_netting(moves) == "product"
    drill = kit.drill_down(moves, "2024-02", "contraction", ledger=ledger)
    # d: P 100 → 60 (40 down), Q 20 dropped; R added is cross-sell, not contraction
    assert drill[["customer_id", "product", "mrr_start", "mrr_end", "amount", "changed"]].values.tolist() == [
        ["d", "P", 10000, 6000, 4000, "P 100.00 → 60.00"],
        ["d", "Q", 2000, 0, 2000, "− Q 20.00 (dropped)"],
    ]
    cross = kit.drill_down(moves, "2024-02", "cross_sell", ledger=ledger)
    assert cross[["customer_id", "product", "amount"]].values.tolist() == [["d", "R", 3000], ["a", "Q", 500]]
    # the count cells stay one row per customer, by net class: d contracted
    assert kit.drill_down(moves, "2024-02", "customers_contracted", ledger=ledger)["customer_id"].tolist() == ["d"]


def test_without_a_ledger_the_rows_are_customers_and_say_start_and_end():
    moves = kit.movements(snapshots(ROWS))
    drill = kit.drill_down(moves, "2024-02", "churn")
    assert drill[["customer_id", "amount", "changed"]].values.tolist() == [["c", 400, "churned from 4.00"]]
    expanded = kit.drill_down(moves, "2024-02", "customers_expanded")
    assert expanded[["customer_id", "amount", "changed"]].values.tolist() == [["a", 1000, "10.00 → 20.00"]]
    assert kit.drill_down(moves, "2024-02", "new")["changed"].tolist() == ["new at 8.00"]


def test_plan_change_is_named_and_attributes_come_along():
    frame = pd.DataFrame([("a", "P", "2024-01", "10", "Starter", "SMB"), ("a", "P", "2024-02", "18", "Pro", "SMB")],
                         columns=["customer_id", "product", "month", "mrr", "plan", "segment"])  # fmt: skip
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    drill = kit.drill_down(kit.movements(ledger), "2024-02", "upsell", ledger=ledger)
    assert list(drill.columns) == ["customer_id", "period", "class", "plan", "segment", "mrr_start", "mrr_end",
                                   "amount", "changed"]  # fmt: skip
    assert drill["changed"].tolist() == ["P 10.00 → 18.00; plan Starter → Pro"]
    assert drill["segment"].astype(str).tolist() == ["SMB"]


def test_rows_sorted_by_amount_then_customer():
    rows = [(c, "P", "2024-01", "10") for c in "xyz"] + [("x", "P", "2024-02", "12"), ("y", "P", "2024-02", "15"),
                                                         ("z", "P", "2024-02", "12")]  # fmt: skip
    drill = kit.drill_down(kit.movements(snapshots(rows)), "2024-02", "upsell")
    assert drill[["customer_id", "amount"]].values.tolist() == [["y", 500], ["x", 200], ["z", 200]]


def test_period_may_be_a_pandas_period():
    moves = kit.movements(snapshots(ROWS))
    by_period = kit.drill_down(moves, pd.Period("2024-02", "M"), "expansion")
    pd.testing.assert_frame_equal(by_period, kit.drill_down(moves, "2024-02", "expansion"))


def test_unknown_period_names_the_valid_range_and_grain():
    moves = kit.movements(snapshots(ROWS))
    with pytest.raises(ParameterError, match=r"^period '2024-03' is not among the periods here: months, 2024-02 to "
                                             r"2024-02$"):  # fmt: skip
        kit.drill_down(moves, "2024-03", "expansion")
    with pytest.raises(ParameterError, match=r"is a quarter; the periods here are months, 2024-02 to 2024-02; "
                                             r"2024-Q1 holds 2024-02$"):  # fmt: skip
        kit.drill_down(moves, "2024-Q1", "expansion")
    with pytest.raises(ParameterError, match="drill_down needs a period"):
        kit.drill_down(moves, [], "expansion")


def test_a_list_of_periods_adds_up_to_the_sum_of_their_cells(sample):
    moves = kit.movements(sample, period="quarter", netting="product")
    table = kit.summary(moves).set_index("period")
    quarters = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    for cell in ("cross_sell", "contraction", "customers_expanded"):
        drill = kit.drill_down(moves, quarters, cell, ledger=sample)
        assert cell_of(drill, cell) == int(table.loc[quarters, cell].sum())
        assert drill["amount"].is_monotonic_decreasing and set(drill["period"]) <= set(quarters)
    assert "product" in kit.drill_down(moves, quarters, "upsell", ledger=sample).columns


def test_unknown_movement_suggests_the_closest():
    moves = kit.movements(snapshots(ROWS))
    with pytest.raises(ParameterError, match=r"movement 'crosssell' .* did you mean 'cross_sell'\?"):
        kit.drill_down(moves, "2024-02", "crosssell")


def test_a_ledger_that_is_not_the_movements_one_is_refused():
    moves = kit.movements(snapshots(ROWS))
    other = snapshots([(c, p, m, "1" if c == "a" else v) for c, p, m, v in ROWS])
    with pytest.raises(ParameterError, match=r"the ledger is not the one these movements come from: customer a"):
        kit.drill_down(moves, "2024-02", "expansion", ledger=other)


def test_customer_netting_movements_passed_as_product_netting_are_refused():
    ledger = snapshots(ROWS)
    moves = kit.movements(ledger)
    with pytest.raises(ParameterError, match=r"not netting='product' ones"):
        kit.drill_down(moves, "2024-02", "contraction", ledger=ledger, netting="product")


# --- the sample: every cell, every grain, both nettings -----------------------------------------


@pytest.mark.parametrize("netting", NETTINGS)
@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_sample_every_cell_adds_up_to_the_summary(sample, period, netting):
    moves = kit.movements(sample, period=period, netting=netting)
    labels = list(kit.summary(moves)["period"])
    # every period of quarters and years; months: every sixth and the last two (the sample has 36)
    chosen = labels if period != "month" else sorted({*labels[::6], *labels[-2:]})
    check_every_cell(moves, chosen, ledger=sample)
    check_every_cell(moves, chosen[-2:])  # without the ledger: customer rows, same sums


def test_sample_drill_down_of_last_quarter_cross_sell(sample):
    moves = kit.movements(sample, period="quarter")
    drill = kit.drill_down(moves, "2025-Q4", "cross_sell", ledger=sample)
    assert int(drill["amount"].sum()) == int(kit.summary(moves).set_index("period").loc["2025-Q4", "cross_sell"])
    assert drill["changed"].str.contains("(new product)", regex=False).all()
    assert {"customer_name", "plan", "size", "region"} <= set(drill.columns)


# --- a property on random ledgers ---------------------------------------------------------------

CUSTOMERS = ["a", "b", "c", "d"]
PRODUCTS = ["P", "Q", "R"]
cents = st.one_of(st.sampled_from([0, 0, 500, 1000]), st.integers(1, 40_000))


@st.composite
def ledgers(draw):
    """A few customers · products over a random window, dense or with gaps: swaps, drops and returns."""
    start, months = draw(st.integers(0, 11)), draw(st.integers(2, 15))
    rows = []
    for customer in CUSTOMERS[: draw(st.integers(1, 4))]:
        for product in draw(st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True)):
            values = draw(st.lists(cents, min_size=months, max_size=months))
            rows += [(customer, product, start + i, v) for i, v in enumerate(values) if v]
    if not rows:
        rows = [("a", "P", start, 100)]
    first = 2023 * 12 + 10
    return snapshots([(c, p, f"{(first + m) // 12}-{(first + m) % 12 + 1:02d}", f"{v // 100}.{v % 100:02d}")
                      for c, p, m, v in rows])  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(), st.sampled_from(["month", "quarter", "year"]), st.sampled_from(NETTINGS),
       st.one_of(st.none(), st.integers(0, 2)), st.data())  # fmt: skip
def test_property_drill_down_adds_up_to_every_cell(ledger, period, netting, window_, data):
    moves = kit.movements(ledger, period=period, netting=netting, reactivation_window=window_)
    labels = list(kit.summary(moves)["period"])
    if labels:
        label = data.draw(st.sampled_from(labels))
        check_every_cell(moves, [label], ledger=ledger, netting=netting)  # the netting given
        check_every_cell(moves, [label], ledger=ledger)  # the netting told from the rows


# --- one customer's history ---------------------------------------------------------------------


def test_customer_history_by_month_and_movements():
    ledger = snapshots(ROWS)
    history = kit.customer_history(ledger, "d")
    assert history.by_month.reset_index().values.tolist() == [["2024-01", 10000, 2000, 0, 12000],
                                                              ["2024-02", 6000, 0, 3000, 9000]]  # fmt: skip
    assert list(history.by_month.columns) == ["P", "Q", "R", "total"]
    assert history.mrr["month"].isin(["2024-02"]).sum() == 2  # labels, not Periods
    assert history.movements[["period", "class", "contraction"]].astype(str).values.tolist() == [
        ["2024-02", "contraction", "3000"]]  # fmt: skip


def test_customer_history_movements_equal_the_whole_ledgers(sample):
    whole = kit.movements(sample, period="quarter", netting="product")
    history = kit.customer_history(sample, "C00001", period="quarter", netting="product")
    mine = whole.loc[whole["customer_id"].astype(str) == "C00001"].reset_index(drop=True)
    mine = mine.assign(customer_id=mine["customer_id"].astype(str))
    pd.testing.assert_frame_equal(history.movements.astype(str), mine.astype(str))
    assert {"plan", "size", "region"} <= set(history.mrr.columns)
    assert (history.by_month["total"] == history.by_month.drop(columns="total").sum(axis=1)).all()


def test_unknown_customer_suggests_near_misses(sample):
    with pytest.raises(ParameterError, match=r"^customer 'C0001' is not in the ledger \(2,998 customers\); did you "
                                             r"mean C0"):  # fmt: skip
        kit.customer_history(sample, "C0001")
    with pytest.raises(ParameterError, match=r"^customer 'zzz' is not in the ledger \(4 customers\)$"):
        kit.customer_history(snapshots(ROWS), "zzz")


# --- period labels ------------------------------------------------------------------------------

MONTHS = [f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(24)]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("2025-03", ["2025-03"]), (["2025-04", "2025-03", "2025-04"], ["2025-03", "2025-04"]),
     (pd.Period("2025-09", "M"), ["2025-09"]), ([], [])],
    ids=["label", "list-deduplicated-in-order", "period", "empty"],
)  # fmt: skip
def test_select_resolves_labels(wanted, expected):
    assert select(wanted, MONTHS) == expected


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("2026-01", "period '2026-01' is not among the periods here: months, 2024-01 to 2025-12"),
        ("2025-13", "period '2025-13' is not a period label like 2025-01; the periods here are months, 2024-01 to "
                    "2025-12"),
        ("2025", "period '2025' is a year; the periods here are months, 2024-01 to 2025-12; 2025 holds 2025-01 to "
                 "2025-12"),
        (2025, "period must be a period label like 2025-01, 2025-Q1 or 2025 (or a list of them), not 2025"),
    ],
    ids=["outside", "not-a-label", "other-grain", "number"],
)  # fmt: skip
def test_select_errors_name_the_range(wanted, message):
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        select(wanted, MONTHS)


def test_select_a_month_at_quarter_grain_says_its_quarter():
    with pytest.raises(ParameterError, match=r"2025-11 lies in 2025-Q4$"):
        select("2025-11", ["2025-Q3", "2025-Q4"])


def test_window_start_end_last():
    assert window(MONTHS, start="2025-10") == ["2025-10", "2025-11", "2025-12"]
    assert window(MONTHS, end="2024-02") == ["2024-01", "2024-02"]
    assert window(MONTHS, start="2025-01", end="2025-06", last=2) == ["2025-05", "2025-06"]
    assert window(MONTHS, last=100) == MONTHS
    with pytest.raises(ParameterError, match=r"^last must be a whole number of periods ≥ 1, not 0$"):
        window(MONTHS, last=0)
    with pytest.raises(ParameterError, match=r"^start 2025-02 is after end 2025-01$"):
        window(MONTHS, start="2025-02", end="2025-01")
    with pytest.raises(ParameterError, match=r"^end '2026-01' is not among"):
        window(MONTHS, end="2026-01")


# --- labels everywhere: summarize's start / end / last, top_expanders' periods ------------------


def test_summarize_last_start_end_are_slices_of_the_whole(sample):
    whole = kit.summarize(sample, period="quarter")
    last4 = kit.summarize(sample, period="quarter", last=4)
    assert last4["period"].tolist() == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    pd.testing.assert_frame_equal(last4, whole.tail(4).reset_index(drop=True))  # the history still counts
    middle = kit.summarize(sample, period="quarter", start="2024-Q2", end=pd.Period("2024Q4", "Q"))
    assert middle["period"].tolist() == ["2024-Q2", "2024-Q3", "2024-Q4"]
    segments = kit.summarize(sample, period="quarter", by="size", last=2)
    assert sorted(set(segments["period"])) == ["2025-Q3", "2025-Q4"] and len(segments) == 2 * 3
    moves = kit.movements(sample, period="quarter")
    pd.testing.assert_frame_equal(kit.summary(moves, last=4), last4)
    pd.testing.assert_frame_equal(kit.summary(moves, start="2024-Q2", end="2024-Q4"), middle)


def test_summarize_unknown_start_names_the_range(sample):
    with pytest.raises(ParameterError, match=r"^start '2026-Q1' is not among the periods here: quarters, 2023-Q1 to "
                                             r"2025-Q4$"):  # fmt: skip
        kit.summarize(sample, period="quarter", start="2026-Q1")
    with pytest.raises(ParameterError, match=r"^end '2025-11' is a month; .*; 2025-11 lies in 2025-Q4$"):
        kit.summarize(sample, period="quarter", end="2025-11")
    with pytest.raises(ParameterError, match=r"^last must be a whole number of periods ≥ 1, not -2$"):
        kit.summarize(sample, period="quarter", last=-2)


def test_top_expanders_takes_one_label_a_list_or_periods(sample):
    moves = kit.movements(sample, period="quarter")
    one = kit.top_expanders(moves, periods="2025-Q4")
    pd.testing.assert_frame_equal(one, kit.top_expanders(moves, periods=["2025-Q4"]))
    pd.testing.assert_frame_equal(one, kit.top_expanders(moves, periods=pd.Period("2025Q4", "Q")))
    drill = kit.drill_down(moves, "2025-Q4", "expansion")
    assert one["expansion"].tolist() == drill["amount"].head(10).tolist()
    with pytest.raises(ParameterError, match=r"^periods '2026-Q1' is not among the periods here: quarters, 2023-Q1 "
                                             r"to 2025-Q4$"):  # fmt: skip
        kit.top_expanders(moves, periods=["2025-Q4", "2026-Q1"])


# --- cohorts' customer expansion rate, the cross-sell matrix's MRR, the reactivation window -----


def test_cohorts_count_expanded_customers_and_their_rate():
    # cohort 2024-01: a expands, d contracts, c churns in 2024-02 → 1 of 3 expanded
    table = kit.cohorts(snapshots(ROWS), kit.movements(snapshots(ROWS)))
    assert table[["cohort", "age", "customers_start", "customers_expanded"]].values.tolist() == [["2024-01", 1, 3, 1]]
    assert table["customer_expansion_rate"].tolist() == [pytest.approx(1 / 3, abs=1e-12)]
    assert list(table.columns)[-2:] == ["customers_expanded", "customer_expansion_rate"]


def test_cohorts_counts_add_up_to_the_summary(sample):
    moves = kit.movements(sample, period="quarter")
    table, summary = kit.cohorts(sample, moves), kit.summary(moves)
    assert table["customers_expanded"].sum() == summary["customers_expanded"].sum()
    assert table["customers_start"].sum() == summary["customers_start"].sum()


def test_cross_sell_matrix_mrr_added_beside_the_counts():
    ledger = snapshots(ROWS)  # a (holding P) adds Q 5.00; d (holding P and Q) adds R 30.00
    counts = kit.cross_sell_matrix(ledger)
    mrr = kit.cross_sell_matrix(ledger, values="mrr_added")
    assert counts.values.tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert mrr.values.tolist() == [[0, 500, 3000], [0, 0, 3000], [0, 0, 0]]
    both = kit.cross_sell_matrix(ledger, values="both")
    assert both.values.tolist() == [["P", "R", 1, 3000], ["Q", "R", 1, 3000], ["P", "Q", 1, 500]]
    with pytest.raises(ParameterError, match=r"^values must be one of customers, mrr_added, both, not 'mrr'$"):
        kit.cross_sell_matrix(ledger, values="mrr")


def test_no_reactivation_window_is_none_in_the_api_and_the_report_parameter():
    from kit.params import reactivation_window
    from kit.report import validate_parameters

    for value in (None, -1):  # the report parameter takes the API's None, and keeps -1
        assert reactivation_window(validate_parameters({"reactivation_window": value})["reactivation_window"]) is None
    ledger = snapshots(ROWS)
    pd.testing.assert_frame_equal(kit.summarize(ledger, reactivation_window=None), kit.summarize(ledger))


def test_by_age_adds_cohorts_up_and_ties_to_the_summary():
    from kit import config

    ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)
    moves = kit.movements(ledger, period="month")
    ages, cohorts, summary = kit.by_age(ledger, moves), kit.cohorts(ledger, moves), kit.summary(moves)
    assert ages["age"].is_monotonic_increasing and ages["age"].min() >= 1
    for column in ("mrr_start", "expansion", "contraction", "churn", "customers_start", "customers_expanded"):
        assert ages[column].sum() == cohorts[column].sum() == summary[column].sum(), column
    first = ages.iloc[0]
    assert first["customer_expansion_rate"] == first["customers_expanded"] / first["customers_start"]
    assert kit.by_age(moves, ledger).equals(ages)  # either argument order, as cohorts


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda L, m: kit.summarize(L, start=[]), r"start takes one period label \(like 2025-01\), not \[\]"),
        (lambda L, m: kit.summarize(L, end=["2024-01", "2024-02"]), r"end takes one period label"),
        (lambda L, m: kit.summary(m, start=["2025-Q1"]), r"start takes one period label \(like 2025-Q1\)"),
        (lambda L, m: kit.top_expanders(m, periods=[]), r"periods was given none"),
        (lambda L, m: kit.top_expanders(m, n=0), r"n must be a whole number of customers ≥ 1, not 0"),
        (lambda L, m: kit.top_expanders(m, n=2.5), r"not 2.5"),
        (lambda L, m: kit.drill_down(m, "2025-Q4", "contraction", netting="product"), r"need the ledger: pass ledger="),
        (lambda L, m: kit.cohorts(L, m, cohort="week"), r"cohort must be one of month, quarter, year, not 'week'"),
    ],
)
def test_arguments_out_of_their_range_are_errors_not_quiet_results(sample, call, message):
    with pytest.raises(kit.ParameterError, match=message):
        call(sample, kit.movements(sample, period="quarter"))


def test_a_frame_pandas_derives_with_other_rows_loses_the_kit_display(sample):
    from kit import display

    table = kit.summarize(sample, period="quarter")
    assert display.meta(table)["table"] == "summary" and display.meta(table[table["nrr"] > 1])["table"] == "summary"
    assert display.meta(table.describe()) == {} and display.meta(table.set_index("period")) == {}


def test_a_customer_history_displays_as_a_card(sample):
    history = kit.customer_history(sample, "C00042")
    assert repr(history).startswith("<CustomerHistory C00042: 2023-01 to 2025-12, 1 product(s) (Core)")
    page = history._repr_html_()
    assert "MRR by month and product" in page and "Movements per period" in page and "$" in page
