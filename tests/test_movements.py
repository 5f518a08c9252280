"""Movements: hand-worked classes and amounts in both nettings, windows, baselines, and properties."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY, snapshots, subscriptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit.errors import ParameterError
from kit.metrics import COUNTS, MONEY, RATES
from kit.movements import AMOUNTS, _split_cross_sell, period_label

SIZE = {"month": 1, "quarter": 3, "year": 12}


def rows_of(table: pd.DataFrame, period: str) -> dict:
    """The summary row of ``period`` as a plain dict (ints for money and counts)."""
    row = table.loc[table["period"] == period]
    assert len(row) == 1, f"{period} is not exactly one row of {table['period'].tolist()}"
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.iloc[0].items()}


def picked(row: dict, columns) -> dict:
    return {c: row[c] for c in columns}


def moves_of(ledger, **options) -> list[tuple]:
    """Movements as (customer, period, class, upsell, cross_sell, contraction) tuples, non-flat only."""
    m = kit.movements(ledger, **options).astype({"customer_id": str, "period": str, "class": str})
    return [
        (r["customer_id"], r["period"], r["class"], r["upsell"], r["cross_sell"], r["contraction"])
        for r in m.to_dict("records")
    ]


# --- product swap, cross-sell with contraction, the integer split (cases 1-3) ------------------------


@pytest.mark.parametrize(
    ("b_mrr", "customer", "product"),
    [
        # A 100 → 0, B 0 → 150: net +50, all of it cross-sell (U = 0, X = 150)
        ("150", {"upsell": 0, "cross_sell": 5000, "contraction": 0, "customers_expanded": 1,
                 "customers_contracted": 0}, {"upsell": 0, "cross_sell": 15000, "contraction": 10000,
                                              "customers_expanded": 1, "customers_contracted": 0}),
        # A 100 → 0, B 0 → 100: flat for the customer; product netting books both sides
        ("100", {"upsell": 0, "cross_sell": 0, "contraction": 0, "customers_expanded": 0,
                 "customers_contracted": 0}, {"upsell": 0, "cross_sell": 10000, "contraction": 10000,
                                              "customers_expanded": 0, "customers_contracted": 0}),
        # A 100 → 0, B 0 → 60: net −40 contraction; product netting: cross-sell 60 and contraction 100
        ("60", {"upsell": 0, "cross_sell": 0, "contraction": 4000, "customers_expanded": 0,
                "customers_contracted": 1}, {"upsell": 0, "cross_sell": 6000, "contraction": 10000,
                                             "customers_expanded": 0, "customers_contracted": 1}),
    ],
    ids=["swap-up", "swap-even", "swap-down"],
)  # fmt: skip
def test_product_swap_in_both_nettings(b_mrr, customer, product):
    ledger = snapshots([("C", "A", "2024-01", "100"), ("C", "B", "2024-02", b_mrr)])
    for netting, expected in (("customer", customer), ("product", product)):
        row = rows_of(kit.summarize(ledger, netting=netting), "2024-02")
        assert picked(row, expected) == expected, netting
        assert row["expansion"] == expected["upsell"] + expected["cross_sell"]
        assert (row["mrr_start"], row["mrr_end"]) == (10000, int(b_mrr) * 100)
        assert row["new"] == row["churn"] == row["reactivation"] == 0
        assert row["customers_start"] == row["customers_end"] == 1


def test_cross_sell_in_the_same_month_as_a_contraction():
    # A 100 → 40, B 0 → 30: S = 100, E = 70
    ledger = snapshots([("C", "A", "2024-01", "100"), ("C", "A", "2024-02", "40"), ("C", "B", "2024-02", "30")])
    by_customer = rows_of(kit.summarize(ledger, netting="customer"), "2024-02")
    by_product = rows_of(kit.summarize(ledger, netting="product"), "2024-02")
    money = ["upsell", "cross_sell", "expansion", "contraction", "churn"]
    assert picked(by_customer, money) == {"upsell": 0, "cross_sell": 0, "expansion": 0, "contraction": 3000,
                                          "churn": 0}  # fmt: skip
    assert picked(by_product, money) == {"upsell": 0, "cross_sell": 3000, "expansion": 3000, "contraction": 6000,
                                         "churn": 0}  # fmt: skip
    for row in (by_customer, by_product):
        assert (row["customers_expanded"], row["customers_contracted"]) == (0, 1)
        assert row["nrr"] == pytest.approx(0.7, abs=1e-12)
        assert row["mrr_end"] == 7000
    assert by_customer["grr"] == pytest.approx(0.7, abs=1e-12)
    assert by_product["grr"] == pytest.approx(0.4, abs=1e-12)  # (100 − 60) / 100
    assert moves_of(ledger, netting="product") == [("C", "2024-02", "contraction", 0, 3000, 6000)]


def test_product_netting_books_the_upsell_of_a_contracting_customer():
    # A 100 → 150 (+50), B 100 → 20 (−80): S = 200, E = 170
    rows = [("C", "A", "2024-01", "100"), ("C", "B", "2024-01", "100"),
            ("C", "A", "2024-02", "150"), ("C", "B", "2024-02", "20")]  # fmt: skip
    ledger = snapshots(rows)
    money = ["upsell", "cross_sell", "expansion", "contraction", "customers_expanded", "customers_contracted"]
    assert picked(rows_of(kit.summarize(ledger), "2024-02"), money) == {
        "upsell": 0, "cross_sell": 0, "expansion": 0, "contraction": 3000, "customers_expanded": 0,
        "customers_contracted": 1}  # fmt: skip
    assert picked(rows_of(kit.summarize(ledger, netting="product"), "2024-02"), money) == {
        "upsell": 5000, "cross_sell": 0, "expansion": 5000, "contraction": 8000, "customers_expanded": 0,
        "customers_contracted": 1}  # fmt: skip


def test_cross_sell_split_floors_to_the_cent():
    # A 100 → 160 (U = 60), B 0 → 30 (X = 30), Z 50 → 0 (dropped): S = 150, E = 190, D = 40
    rows = [("C", "A", "2024-01", "100"), ("C", "Z", "2024-01", "50"),
            ("C", "A", "2024-02", "160"), ("C", "B", "2024-02", "30")]  # fmt: skip
    ledger = snapshots(rows)
    row = rows_of(kit.summarize(ledger), "2024-02")
    # cross_sell = 4000 · 3000 // 9000 = 1333 (1333.33 floored); upsell = 4000 − 1333
    assert picked(row, ["upsell", "cross_sell", "expansion", "contraction"]) == {
        "upsell": 2667, "cross_sell": 1333, "expansion": 4000, "contraction": 0}  # fmt: skip
    assert moves_of(ledger) == [("C", "2024-02", "expansion", 2667, 1333, 0)]
    gross = rows_of(kit.summarize(ledger, netting="product"), "2024-02")
    assert picked(gross, ["upsell", "cross_sell", "expansion", "contraction"]) == {
        "upsell": 6000, "cross_sell": 3000, "expansion": 9000, "contraction": 5000}  # fmt: skip
    assert gross["customers_expanded"] == 1 and gross["customers_contracted"] == 0


def test_split_is_exact_where_int64_products_would_overflow():
    # A 50M → 80M (U = 30M), B 0 → 40M (X = 40M), Z 10M → 0: S = 60M, E = 120M, D = 60M (in dollars)
    # cross_sell = 6e9 · 4e9 // 7e9 cents = 3_428_571_428 (6e9 · 4e9 = 2.4e19 does not fit in int64)
    rows = [("C", "A", "2024-01", "50000000"), ("C", "Z", "2024-01", "10000000"),
            ("C", "A", "2024-02", "80000000"), ("C", "B", "2024-02", "40000000")]  # fmt: skip
    row = rows_of(kit.summarize(snapshots(rows)), "2024-02")
    assert (row["cross_sell"], row["upsell"]) == (3_428_571_428, 6_000_000_000 - 3_428_571_428)
    diff, up, cross = (np.array(v, dtype=np.int64) for v in ([5 * 10**12, 4000], [3 * 10**12, 6000],
                                                             [4 * 10**12, 3000]))  # fmt: skip
    assert _split_cross_sell(diff, up, cross, np.array([True, True])).tolist() == [2_857_142_857_142, 1333]


def test_split_never_rounds_up_and_upsell_alone_stays_upsell():
    # D = 1 cent, U = 2, X = 1: cross_sell = 1·1 // 3 = 0, upsell = 1
    tiny = snapshots([("C", "A", "2024-01", "1.00"), ("C", "A", "2024-02", "1.01"), ("C", "Z", "2024-01", "0.01"),
                      ("C", "B", "2024-02", "0.01")])  # fmt: skip
    # S = 1.01, E = 1.02; U = 0.01 (A), X = 0.01 (B), Z dropped 0.01 → D = 0.01 split 1·1 // 2 = 0
    assert picked(rows_of(kit.summarize(tiny), "2024-02"), ["upsell", "cross_sell"]) == {"upsell": 1, "cross_sell": 0}
    only_upsell = snapshots([("C", "A", "2024-01", "10"), ("C", "A", "2024-02", "25")])
    assert picked(rows_of(kit.summarize(only_upsell), "2024-02"), ["upsell", "cross_sell"]) == {
        "upsell": 1500, "cross_sell": 0}  # fmt: skip


# --- reactivation and the window (case 4) --------------------------------------------------------------

# R: active in the baseline month, gone in February and March (2 periods in a row), back in April
REACTIVATION_ROWS = [("R", "P", "2024-01", "10"), ("R", "P", "2024-04", "12"), ("K", "P", "2024-03", "5")]


@pytest.mark.parametrize(
    ("window", "react", "new"),
    [(None, 1200, 0), (5, 1200, 0), (2, 1200, 0), (1, 0, 1200), (0, 0, 1200)],
    ids=["no-window", "window-5", "window-2-equal-gap", "window-1", "window-0"],
)
def test_reactivation_window(window, react, new):
    ledger = snapshots(REACTIVATION_ROWS)
    table = kit.summarize(ledger, reactivation_window=window)
    april = rows_of(table, "2024-04")
    assert (april["reactivation"], april["new"]) == (react, new)
    assert (april["customers_reactivated"], april["customers_new"]) == (int(react > 0), int(new > 0))
    # K's first appearance is new whatever the window; R churned in February
    assert rows_of(table, "2024-03")["new"] == 500
    assert rows_of(table, "2024-02")["churn"] == 1000
    moves = kit.movements(ledger, reactivation_window=window).astype(str)
    cls = dict(zip(zip(moves["customer_id"], moves["period"], strict=True), moves["class"], strict=True))
    assert cls[("R", "2024-04")] == ("reactivation" if react else "new")


def test_reactivation_window_counts_periods_not_months():
    # quarterly: R active at the end of 2024-Q1, inactive at the end of Q2, back at the end of Q3
    rows = [("R", "P", "2024-03", "10"), ("R", "P", "2024-09", "10"), ("X", "P", "2024-12", "1")]
    ledger = snapshots(rows)
    q3 = {w: rows_of(kit.summarize(ledger, period="quarter", reactivation_window=w), "2024-Q3") for w in (0, 1)}
    assert (q3[1]["reactivation"], q3[1]["new"]) == (1000, 0)
    assert (q3[0]["reactivation"], q3[0]["new"]) == (0, 1000)


def test_reactivation_after_being_counted_new_again():
    # a customer who returned as new (window 0) and leaves again is a reactivation with no window
    rows = [("R", "P", "2024-01", "10"), ("R", "P", "2024-03", "20"), ("R", "P", "2024-05", "30")]
    ledger = snapshots(rows)
    assert [(r["new"], r["reactivation"]) for r in kit.summarize(ledger, reactivation_window=0).to_dict("records")
            if r["period"] in ("2024-03", "2024-05")] == [(2000, 0), (3000, 0)]  # fmt: skip
    assert [(r["new"], r["reactivation"]) for r in kit.summarize(ledger, reactivation_window=1).to_dict("records")
            if r["period"] in ("2024-03", "2024-05")] == [(0, 2000), (0, 3000)]  # fmt: skip


@pytest.mark.parametrize("window", [-1, 1.5, "2"], ids=["negative", "fraction", "text"])
def test_bad_reactivation_window_is_a_parameter_error(window):
    ledger = snapshots(REACTIVATION_ROWS)
    with pytest.raises(ParameterError, match="reactivation_window must be a whole number"):
        kit.summarize(ledger, reactivation_window=window)


def test_bad_period_and_netting_are_parameter_errors():
    ledger = snapshots(REACTIVATION_ROWS)
    with pytest.raises(ParameterError, match=r"period must be one of month, quarter, year, not 'week'"):
        kit.summarize(ledger, period="week")
    with pytest.raises(ParameterError, match=r"netting must be one of customer, product, not 'gross'"):
        kit.movements(ledger, netting="gross")


# --- grain (case 5) -------------------------------------------------------------------------------------


def test_churn_and_return_inside_a_quarter_is_invisible_quarterly():
    # C pays 10 every month of 2024-H1 except May; S stays 10
    rows = [("C", "P", f"2024-0{m}", "10") for m in (1, 2, 3, 4, 6)] + [("D", "P", "2024-06", "0")]
    ledger = snapshots(rows)
    quarterly = kit.summarize(ledger, period="quarter")
    assert quarterly["period"].tolist() == ["2024-Q2"]
    q2 = rows_of(quarterly, "2024-Q2")
    assert picked(q2, MONEY) == {"mrr_start": 1000, "new": 0, "reactivation": 0, "upsell": 0, "cross_sell": 0,
                                 "expansion": 0, "contraction": 0, "churn": 0, "mrr_end": 1000}  # fmt: skip
    assert picked(q2, COUNTS) == dict.fromkeys(COUNTS, 0) | {"customers_start": 1, "customers_end": 1}
    assert len(kit.movements(ledger, period="quarter").query("`class` != 'flat'")) == 0
    monthly = kit.summarize(ledger)
    assert (rows_of(monthly, "2024-05")["churn"], rows_of(monthly, "2024-05")["customers_churned"]) == (1000, 1)
    june = rows_of(monthly, "2024-06")
    assert (june["reactivation"], june["customers_reactivated"], june["new"]) == (1000, 1, 0)


# --- the ChartMogul-style story from subscription periods (case 6) ---------------------------------------------

CHARTMOGUL = [
    ("C", "Gold", "2024-01-01", "2024-04-01", "500.00", "year", "4"),  # 4 × 500 / 12 = 166.67
    ("C", "Silver", "2024-02-01", "2024-03-01", "30", "month", "2"),  # 60.00, February only
    ("C", "Gold", "2024-05-01", "", "50", "month", "3"),  # 150.00 from May
]


def test_chartmogul_story_monthly():
    ledger = subscriptions(CHARTMOGUL, as_of="2024-05-31")
    table = kit.summarize(ledger)
    columns = ["period", "mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction",
               "churn", "mrr_end", "customers_start", "customers_end", "customers_new", "customers_reactivated",
               "customers_expanded", "customers_contracted", "customers_churned"]  # fmt: skip
    expected = pd.DataFrame(
        [
            ["2024-01", 0, 16667, 0, 0, 0, 0, 0, 0, 16667, 0, 1, 1, 0, 0, 0, 0],
            ["2024-02", 16667, 0, 0, 0, 6000, 6000, 0, 0, 22667, 1, 1, 0, 0, 1, 0, 0],
            ["2024-03", 22667, 0, 0, 0, 0, 0, 6000, 0, 16667, 1, 1, 0, 0, 0, 1, 0],
            ["2024-04", 16667, 0, 0, 0, 0, 0, 0, 16667, 0, 1, 0, 0, 0, 0, 0, 1],
            ["2024-05", 0, 0, 15000, 0, 0, 0, 0, 0, 15000, 0, 1, 0, 1, 0, 0, 0],
        ],
        columns=columns,
    )
    pd.testing.assert_frame_equal(table[columns], expected.astype({c: "int64" for c in columns[1:]}))
    feb = rows_of(table, "2024-02")
    assert feb["nrr"] == pytest.approx(22667 / 16667, abs=1e-12)
    assert feb["cross_sell_rate"] == pytest.approx(6000 / 16667, abs=1e-12)
    assert feb["customer_expansion_rate"] == 1.0
    classes = [str(c) for c in kit.movements(ledger)["class"]]
    assert classes == ["new", "expansion", "contraction", "churn", "reactivation"]
    # the same story in product netting: Silver is a product added then dropped
    gross = kit.summarize(ledger, netting="product")
    assert gross["cross_sell"].tolist() == [0, 6000, 0, 0, 0]
    assert gross["contraction"].tolist() == [0, 0, 6000, 0, 0]


# --- baselines, empty periods, a single customer (cases 9-10) --------------------------------------------------


def test_snapshot_baseline_is_not_a_row_and_empty_periods_are():
    # A leaves after January; nobody is active at the end of March; B arrives in April
    ledger = snapshots([("A", "P", "2024-01", "10"), ("B", "P", "2024-04", "20")])
    table = kit.summarize(ledger)
    assert table["period"].tolist() == ["2024-02", "2024-03", "2024-04"]
    assert table["mrr_start"].tolist() == [1000, 0, 0]
    assert table["churn"].tolist() == [1000, 0, 0]
    assert table["new"].tolist() == [0, 0, 2000]
    assert table["mrr_end"].tolist() == [0, 0, 2000]
    march = rows_of(table, "2024-03")
    assert all(march[c] == 0 for c in [*MONEY, *COUNTS])
    assert table.loc[1, ["nrr", "grr", "quick_ratio", "customer_expansion_rate"]].isna().all()
    plan = kit.plan_periods(ledger)
    assert (plan.baseline, plan.labels, plan.dropped) == ("2024-01", ["2024-02", "2024-03", "2024-04"], None)


def test_subscription_baseline_makes_the_first_period_a_row_of_new():
    rows = [("A", "P", "2024-02-01", "", "30", "month", "1"), ("B", "P", "2024-03-15", "", "12", "month", "2")]
    ledger = subscriptions(rows, as_of="2024-06-30")
    monthly = kit.summarize(ledger)
    assert monthly["period"].tolist() == ["2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert rows_of(monthly, "2024-02")["new"] == 3000 and rows_of(monthly, "2024-02")["mrr_start"] == 0
    assert rows_of(monthly, "2024-03")["new"] == 2400
    quarterly = kit.summarize(ledger, period="quarter")
    assert quarterly["period"].tolist() == ["2024-Q1", "2024-Q2"]
    q1 = rows_of(quarterly, "2024-Q1")
    assert (q1["mrr_start"], q1["new"], q1["mrr_end"], q1["customers_new"]) == (0, 5400, 5400, 2)
    assert kit.plan_periods(ledger, "quarter").baseline == "2023-Q4"
    yearly = kit.summarize(ledger, period="year")
    assert yearly["period"].tolist() == []  # 2024 is not over by the as_of date
    assert kit.plan_periods(ledger, "year").dropped == "2024"


def test_trailing_partial_period_is_dropped():
    rows = [("A", "P", f"2024-{m:02d}", "10") for m in range(1, 9)]  # January to August
    ledger = snapshots(rows)
    plan = kit.plan_periods(ledger, "quarter")
    assert (plan.baseline, plan.labels, plan.dropped) == ("2024-Q1", ["2024-Q2"], "2024-Q3")
    assert kit.summarize(ledger, period="quarter")["period"].tolist() == ["2024-Q2"]


def test_single_customer_single_month():
    snap = snapshots([("A", "P", "2024-01", "10")])
    table = kit.summarize(snap)
    assert list(table.columns) == kit.SUMMARY_COLUMNS and len(table) == 0  # the baseline only: no rows
    assert len(kit.movements(snap)) == 0
    assert list(kit.movements(snap).columns) == list(kit.movements(snapshots(REACTIVATION_ROWS)).columns)
    assert len(kit.summary(kit.movements(snap))) == 0
    subs = subscriptions([("A", "P", "2024-01-01", "", "10", "month", "1")], as_of="2024-01-31")
    row = rows_of(kit.summarize(subs), "2024-01")  # subscriptions: the first month is a row, all new
    assert (row["mrr_start"], row["new"], row["mrr_end"], row["customers_new"]) == (0, 1000, 1000, 1)
    assert np.isnan([row[c] for c in RATES]).all()
    assert kit.summarize(subs, period="quarter").empty  # 2024-Q1 ends after the window


def test_a_ledger_of_zero_rows_only_has_empty_periods():
    ledger = snapshots([("A", "P", "2024-01", "0"), ("A", "P", "2024-03", "0")])
    table = kit.summarize(ledger)
    assert table["period"].tolist() == ["2024-02", "2024-03"]
    assert (table[[*MONEY, *COUNTS]] == 0).all().all()


def test_movements_columns_and_attributes_at_start():
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "month": ["2024-01", "2024-02", "2024-02"],
            "product": ["P", "P", "P"],
            "mrr": ["10", "15", "5"],
            "segment": ["SMB", "ENT", "ENT"],
        }
    )
    ledger = kit.load_ledger(frame, today=TODAY)
    moves = kit.movements(ledger)
    assert list(moves.columns) == ["customer_id", "period", "class", "mrr_start", "mrr_end", "new", "reactivation",
                                   "upsell", "cross_sell", "contraction", "churn", "expansion", "segment"]  # fmt: skip
    assert moves.astype(str).values.tolist() == [
        ["A", "2024-02", "expansion", "1000", "1500", "0", "0", "500", "0", "0", "0", "500", "SMB"],
        ["B", "2024-02", "new", "0", "500", "500", "0", "0", "0", "0", "0", "0", "ENT"],
    ]
    assert all(moves[c].dtype == np.int64 for c in ["mrr_start", "mrr_end", *AMOUNTS])


# --- properties (case 11) -----------------------------------------------------------------------------------

CUSTOMERS = ["a", "b", "c", "d", "e"]
PRODUCTS = ["P", "Q", "R"]
FIRST = 2023 * 12 + 10  # 2023-11, so months cross quarter and year boundaries


def month_text(offset: int) -> str:
    m = FIRST + offset
    return f"{m // 12}-{m % 12 + 1:02d}"


def money_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# zeros and repeated amounts make gaps, flat customers and even swaps common
cents = st.one_of(st.sampled_from([0, 0, 0, 1, 500, 1000]), st.integers(1, 40_000))
sparse_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(PRODUCTS), st.integers(0, 27), cents),
    min_size=1,
    max_size=30,
)


@st.composite
def dense_rows(draw):
    """Every month of a random window for a few customers · products: many products held at both ends."""
    start, months = draw(st.integers(0, 11)), draw(st.integers(1, 26))
    rows = []
    for customer in CUSTOMERS[: draw(st.integers(1, 4))]:
        for product in draw(st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True)):
            values = draw(st.lists(cents, min_size=months, max_size=months))
            rows += [(customer, product, start + i, v) for i, v in enumerate(values)]
    return rows


snapshot_rows = st.one_of(sparse_rows, dense_rows())


def snapshot_ledger(rows) -> kit.Ledger:
    return snapshots([(c, p, month_text(m), money_text(v)) for c, p, m, v in rows])


subscription_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(PRODUCTS), st.integers(0, 20),
              st.one_of(st.none(), st.integers(1, 14)), cents),
    min_size=1,
    max_size=12,
)  # fmt: skip


def subscription_ledger(rows) -> kit.Ledger:
    def day(offset):
        return month_text(offset) + "-01"

    table = [(c, p, day(s), "" if d is None else day(s + d), money_text(v), "month", "1") for c, p, s, d, v in rows]
    return subscriptions(table, as_of=month_text(28) + "-28")


def reference(ledger: kit.Ledger, period: str, netting: str, window: int | None = None) -> pd.DataFrame:
    """DESIGN.md's movements, customer by customer in plain Python: money and counts per period."""
    size = SIZE[period]
    held = defaultdict(Counter)
    frame = ledger.frame
    for c, p, m, v in zip(frame["customer_id"].astype(str), frame["product"].astype(str),
                          frame["month"].array.asi8, frame["mrr_cents"], strict=True):  # fmt: skip
        held[c][(int(m), p)] += int(v)
    first, last = ledger.first_month.ordinal, ledger.last_month.ordinal
    base = first // size - (0 if ledger.kind == "snapshots" else 1)
    final = (last + 1) // size - 1  # the last period that ends inside the window
    periods = list(range(base + 1, final + 1))
    out = {k: Counter({c: 0 for c in [*MONEY, *COUNTS]}) for k in periods}
    for rows in held.values():

        def at(k, rows=rows):
            month = (k + 1) * size - 1
            return {p: v for (m, p), v in rows.items() if m == month and v > 0}

        prev = at(base)
        last_active = base if prev else None
        for k in periods:
            now = at(k)
            s, e = sum(prev.values()), sum(now.values())
            r = out[k]
            r["mrr_start"] += s
            r["mrr_end"] += e
            r["customers_start"] += s > 0
            r["customers_end"] += e > 0
            if s == 0 and e > 0:
                back = last_active is not None and (window is None or (k - 1) - last_active <= window)
                r["reactivation" if back else "new"] += e
                r["customers_reactivated" if back else "customers_new"] += 1
            elif s > 0 and e == 0:
                r["churn"] += s
                r["customers_churned"] += 1
            elif s > 0:
                u = sum(v - prev[p] for p, v in now.items() if p in prev and v > prev[p])
                x = sum(v for p, v in now.items() if p not in prev)
                down = sum(v - now.get(p, 0) for p, v in prev.items() if now.get(p, 0) < v)
                if netting == "product":
                    r["upsell"] += u
                    r["cross_sell"] += x
                    r["contraction"] += down
                elif e > s:
                    cross = (e - s) * x // (u + x)
                    r["cross_sell"] += cross
                    r["upsell"] += e - s - cross
                else:
                    r["contraction"] += s - e
                r["customers_expanded"] += e > s
                r["customers_contracted"] += e < s
            if e > 0:
                last_active = k
            prev = now
    labels = [period_label(k, period) for k in periods]
    table = pd.DataFrame([dict(out[k]) for k in periods], columns=[*MONEY, *COUNTS]).astype("int64")
    table["expansion"] = table["upsell"] + table["cross_sell"]
    table.insert(0, "period", labels)
    return table.astype({"period": object})


def check_against_reference(ledger, window=None):
    for period in SIZE:
        for netting in ("customer", "product"):
            table = kit.summarize(ledger, period=period, netting=netting, reactivation_window=window)
            expected = reference(ledger, period, netting, window)
            pd.testing.assert_frame_equal(table[["period", *MONEY, *COUNTS]], expected, check_dtype=False)
            assert (table[[*MONEY, *COUNTS]].dtypes == np.int64).all()
            flow = (table["mrr_start"] + table["new"] + table["reactivation"] + table["upsell"] + table["cross_sell"]
                    - table["contraction"] - table["churn"])  # fmt: skip
            assert (flow == table["mrr_end"]).all(), (period, netting)
            assert (table["expansion"] == table["upsell"] + table["cross_sell"]).all()
            assert (table["mrr_start"].iloc[1:].to_numpy() == table["mrr_end"].iloc[:-1].to_numpy()).all()
            rates = table[RATES].to_numpy()
            assert not np.isinf(rates).any()


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(snapshot_rows, st.one_of(st.none(), st.integers(0, 3)))
def test_property_snapshots_match_the_definitions_and_reconcile(rows, window):
    check_against_reference(snapshot_ledger(rows), window)


@PROPERTY
@given(subscription_rows, st.one_of(st.none(), st.integers(0, 3)))
def test_property_subscriptions_match_the_definitions_and_reconcile(rows, window):
    ledger = subscription_ledger(rows)
    check_against_reference(ledger, window)


@settings(max_examples=50, deadline=None)
@given(snapshot_rows, st.randoms(use_true_random=False))
def test_property_row_order_is_irrelevant(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = snapshot_ledger(rows), snapshot_ledger(shuffled)
    for period in SIZE:
        for netting in ("customer", "product"):
            pd.testing.assert_frame_equal(kit.summarize(a, period=period, netting=netting),
                                          kit.summarize(b, period=period, netting=netting))  # fmt: skip
    pd.testing.assert_frame_equal(kit.movements(a, period="quarter"), kit.movements(b, period="quarter"))


@settings(max_examples=50, deadline=None)
@given(snapshot_rows, st.integers(1, 7), st.lists(st.integers(0, 2), min_size=len(CUSTOMERS), max_size=5),
       st.sampled_from(list(SIZE)), st.sampled_from(["customer", "product"]))  # fmt: skip
def test_property_chunks_combine_to_the_whole(rows, chunks, assignment, period, netting):
    ledger = snapshot_ledger(rows)
    options = {"period": period, "netting": netting}
    whole = kit.summarize(ledger, **options)
    # kit.split_customers, any number of chunks (more chunks than customers included)
    parts = [kit.summarize(part, **options) for part in kit.split_customers(ledger, chunks)]
    pd.testing.assert_frame_equal(kit.combine(parts), whole)
    # random chunks by filtering the ledger's frame by customer, keeping the window
    owner = dict(zip(CUSTOMERS, assignment, strict=True))
    frame = ledger.frame
    chunk_of = frame["customer_id"].astype(str).map(owner)
    random_parts = []
    for i in range(3):
        sub = frame.loc[chunk_of == i].reset_index(drop=True)
        sub["customer_id"] = sub["customer_id"].cat.remove_unused_categories()
        random_parts.append(kit.summarize(dataclasses.replace(ledger, frame=sub), **options))
    pd.testing.assert_frame_equal(kit.combine(random_parts), whole)


@settings(max_examples=50, deadline=None)
@given(snapshot_rows, st.sampled_from(list(SIZE)), st.sampled_from(["customer", "product"]),
       st.one_of(st.none(), st.integers(0, 2)), st.booleans())  # fmt: skip
def test_property_summarize_equals_summary_of_movements(rows, period, netting, window, as_subscriptions):
    ledger = snapshot_ledger(rows)
    if as_subscriptions:  # the same months under the subscriptions baseline rule
        ledger = dataclasses.replace(ledger, kind="subscriptions")
    options = {"period": period, "netting": netting, "reactivation_window": window}
    moves = kit.movements(ledger, **options)
    pd.testing.assert_frame_equal(kit.summarize(ledger, **options), kit.summary(moves))
    # movements are customer-local: each customer's rows are the same computed alone
    assert (moves["expansion"] == moves["upsell"] + moves["cross_sell"]).all()
    flow = moves["mrr_start"] + moves[["new", "reactivation", "upsell", "cross_sell"]].sum(axis=1) - moves[
        ["contraction", "churn"]].sum(axis=1)  # fmt: skip
    assert (flow == moves["mrr_end"]).all()
