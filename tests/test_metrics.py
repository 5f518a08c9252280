"""Summary and the tables around it: columns, rates, the playbook, segments, cohorts, matrix, concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY, snapshots, subscriptions

import kit
from kit.metrics import COUNTS, MONEY, RATES, ratio

#: DESIGN.md, "Summary": the contract, written out here so that a change to the constant fails.
DESIGN_COLUMNS = [
    "period", "mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn",
    "mrr_end", "customers_start", "customers_end", "customers_new", "customers_reactivated", "customers_expanded",
    "customers_contracted", "customers_churned", "customer_expansion_rate", "expansion_mrr_rate", "upsell_rate",
    "cross_sell_rate", "nrr", "grr", "quick_ratio",
]  # fmt: skip


def row_of(table: pd.DataFrame, period: str, **keys) -> pd.Series:
    mask = table["period"] == period
    for column, value in keys.items():
        mask &= table[column] == value
    assert mask.sum() == 1
    return table.loc[mask].iloc[0]


def attributed(rows, column: str) -> kit.Ledger:
    """Snapshot ledger from (customer_id, month, product, mrr, attribute) rows."""
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "product", "mrr", column]).astype(str)
    return kit.load_ledger(frame, kind="snapshots", today=TODAY)


# --- columns and rates (cases 8-9) ---------------------------------------------------------------------


def test_summary_columns_are_the_contract():
    assert kit.SUMMARY_COLUMNS == DESIGN_COLUMNS
    ledger = snapshots([("A", "P", "2024-01", "10"), ("A", "P", "2024-02", "12")])
    for table in (kit.summarize(ledger), kit.summary(kit.movements(ledger)), kit.combine([kit.summarize(ledger)])):
        assert list(table.columns) == DESIGN_COLUMNS
        assert (table[[*MONEY, *COUNTS]].dtypes == np.int64).all()
        assert (table[RATES].dtypes == np.float64).all()
    by = kit.summarize(attributed([("A", "2024-01", "P", "10", "SMB"), ("A", "2024-02", "P", "12", "SMB")], "segment"),
                       by="segment")  # fmt: skip
    assert list(by.columns) == ["period", "segment", *DESIGN_COLUMNS[1:]]


def test_rates_hand_worked():
    # A 100 → 150 (expansion 50), B 200 → 150 (contraction 50), C 100 → 0 (churn), D new 40
    rows = [("A", "P", "2024-01", "100"), ("A", "P", "2024-02", "150"), ("B", "P", "2024-01", "200"),
            ("B", "P", "2024-02", "150"), ("C", "P", "2024-01", "100"), ("D", "P", "2024-02", "40")]  # fmt: skip
    row = row_of(kit.summarize(snapshots(rows)), "2024-02")
    assert (row["mrr_start"], row["expansion"], row["contraction"], row["churn"], row["new"]) == (
        40000, 5000, 5000, 10000, 4000)  # fmt: skip
    assert row["customer_expansion_rate"] == pytest.approx(1 / 3, abs=1e-12)
    assert row["expansion_mrr_rate"] == pytest.approx(0.125, abs=1e-12)
    assert row["upsell_rate"] == pytest.approx(0.125, abs=1e-12) and row["cross_sell_rate"] == 0.0
    assert row["nrr"] == pytest.approx(30000 / 40000, abs=1e-12)
    assert row["grr"] == pytest.approx(25000 / 40000, abs=1e-12)
    assert row["quick_ratio"] == pytest.approx(9000 / 15000, abs=1e-12)


def test_zero_denominators_are_nan_never_zero_or_inf():
    # January: nothing at the start (subscriptions: all new); February: growth only
    rows = [("A", "P", "2024-01-01", "", "10", "month", "1"), ("A", "Q", "2024-02-01", "", "5", "month", "1")]
    table = kit.summarize(subscriptions(rows, as_of="2024-02-29"))
    january, february = row_of(table, "2024-01"), row_of(table, "2024-02")
    assert january["mrr_start"] == 0 and january["new"] == 1000
    assert january[RATES].isna().all()  # every rate: mrr_start, customers_start and contraction + churn are 0
    assert np.isnan(february["quick_ratio"])  # no contraction or churn
    assert february["nrr"] == pytest.approx(1.5, abs=1e-12) and february["customer_expansion_rate"] == 1.0
    assert not np.isinf(table[RATES].to_numpy()).any()
    assert np.isnan(ratio(np.array([0, 3, -1]), np.array([0, 0, 0]))).all()
    assert ratio(np.array([0]), np.array([5])).tolist() == [0.0]  # a zero numerator is a real 0


def test_quick_ratio_is_zero_when_nothing_grows_but_something_shrinks():
    table = kit.summarize(snapshots([("A", "P", "2024-01", "10"), ("A", "P", "2024-02", "4")]))
    assert table["quick_ratio"].tolist() == [0.0]
    assert table["contraction"].tolist() == [600]


# --- the mrr-playbook fixture (case 7) ----------------------------------------------------------------------


def test_playbook_june_2019_monthly(playbook):
    june = row_of(kit.summarize(playbook), "2019-06")
    assert (june["mrr_start"], june["expansion"], june["contraction"]) == (96500, 15000, 3000)
    assert (june["customers_start"], june["customers_expanded"]) == (21, 6)
    assert round(june["nrr"], 6) == 1.124352  # (96500 + 15000 − 3000 − 0) / 96500
    assert june["nrr"] == pytest.approx(108500 / 96500, abs=1e-12)
    assert june["upsell"] == 15000 and june["cross_sell"] == 0  # one product: all expansion is upsell


def test_playbook_2019_q4_quarterly(playbook):
    table = kit.summarize(playbook, period="quarter")
    q4 = row_of(table, "2019-Q4")
    assert (q4["expansion"], q4["contraction"], q4["churn"]) == (8500, 7500, 44500)
    assert table["period"].iloc[-1] == "2019-Q4"  # 2020-Q1 ends after the window (2020-02)
    assert kit.plan_periods(playbook, "quarter").dropped == "2020-Q1"
    assert table["period"].iloc[0] == "2017-Q3"  # the first start is 2017-09: 2017-Q3 is all new


def test_playbook_bridge_and_engines_agree(playbook):
    for period in ("month", "quarter", "year"):
        for netting in ("customer", "product"):
            table = kit.summarize(playbook, period=period, netting=netting)
            flow = table["mrr_start"] + table[["new", "reactivation", "upsell", "cross_sell"]].sum(axis=1) - table[
                ["contraction", "churn"]].sum(axis=1)  # fmt: skip
            assert (flow == table["mrr_end"]).all()
            pd.testing.assert_frame_equal(table, kit.summary(kit.movements(playbook, period=period, netting=netting)))
            parts = [kit.summarize(p, period=period, netting=netting) for p in kit.split_customers(playbook, 4)]
            pd.testing.assert_frame_equal(kit.combine(parts), table)
    monthly = kit.summarize(playbook)
    assert monthly["period"].iloc[0] == "2017-09" and monthly["period"].iloc[-1] == "2020-02"
    assert len(monthly) == 30


# --- summary by segment -----------------------------------------------------------------------------------------

SEGMENT_ROWS = [
    ("A", "2024-01", "P", "100", "SMB"), ("A", "2024-02", "P", "300", "ENT"), ("A", "2024-03", "P", "300", "ENT"),
    ("B", "2024-02", "P", "50", "ENT"), ("B", "2024-03", "P", "50", "ENT"),
    ("C", "2024-01", "P", "80", "ENT"),
    ("D", "2024-01", "P", "40", "SMB"), ("D", "2024-03", "P", "70", "ENT"),
]  # fmt: skip


def test_summary_by_segment_uses_the_start_value_and_the_end_value_for_arrivals():
    ledger = attributed(SEGMENT_ROWS, "segment")
    table = kit.summarize(ledger, by="segment")
    assert list(zip(table["period"], table["segment"], strict=True)) == [
        ("2024-02", "ENT"), ("2024-02", "SMB"), ("2024-03", "ENT"), ("2024-03", "SMB")]  # fmt: skip
    columns = [
        "mrr_start",
        "new",
        "reactivation",
        "expansion",
        "churn",
        "mrr_end",
        "customers_start",
        "customers_end",
        "customers_new",
        "customers_reactivated",
        "customers_expanded",
        "customers_churned",
    ]
    got = {(r["period"], r["segment"]): [int(r[c]) for c in columns] for r in table.to_dict("records")}
    assert got == {
        # A moved SMB → ENT while expanding: counted in SMB (start); B new: ENT (end); C churns from ENT
        ("2024-02", "ENT"): [8000, 5000, 0, 0, 8000, 5000, 1, 1, 1, 0, 0, 1],
        # A expands 100 → 300 in SMB; D churns from SMB
        ("2024-02", "SMB"): [14000, 0, 0, 20000, 4000, 30000, 2, 1, 0, 0, 1, 1],
        # A and B start in ENT; D returns as ENT (its value at the end)
        ("2024-03", "ENT"): [35000, 0, 7000, 0, 0, 42000, 2, 3, 0, 1, 0, 0],
        ("2024-03", "SMB"): [0] * 12,
    }
    assert np.isnan(row_of(table, "2024-03", segment="SMB")["nrr"])
    pd.testing.assert_frame_equal(kit.summary(kit.movements(ledger), by="segment"), table)
    # segments add up to the whole
    whole = kit.summarize(ledger)
    sums = table.groupby("period")[[*MONEY, *COUNTS]].sum().reset_index()
    pd.testing.assert_frame_equal(sums, whole[["period", *MONEY, *COUNTS]])
    parts = [kit.summarize(p, by="segment") for p in kit.split_customers(ledger, 3)]
    pd.testing.assert_frame_equal(kit.combine(parts, by="segment"), table)


def test_summary_by_an_unknown_attribute_is_a_parameter_error():
    with pytest.raises(kit.ParameterError, match="unknown attribute region; the ledger has segment"):
        kit.summarize(attributed(SEGMENT_ROWS, "segment"), by="region")


# --- cohorts ------------------------------------------------------------------------------------------------


def test_cohorts_by_first_active_month():
    # A: baseline month (cohort 2024-01) 100 → 120 → 120; B: new in February (cohort 2024-02) 50 → 60
    rows = [("A", "P", "2024-01", "100"), ("A", "P", "2024-02", "120"), ("A", "P", "2024-03", "120"),
            ("B", "P", "2024-02", "50"), ("B", "P", "2024-03", "60"), ("C", "P", "2024-02", "30")]  # fmt: skip
    ledger = snapshots(rows)  # C: cohort 2024-02, churns in March
    table = kit.cohorts(ledger, kit.movements(ledger), cohort="month")
    got = table[["cohort", "age", "mrr_start", "expansion", "churn", "customers_start"]].values.tolist()
    assert got == [
        ["2024-01", 1, 10000, 2000, 0, 1],
        ["2024-01", 2, 12000, 0, 0, 1],
        ["2024-02", 1, 8000, 1000, 3000, 2],
    ]
    assert table["nrr"].tolist() == pytest.approx([1.2, 1.0, 6000 / 8000], abs=1e-12)
    assert table["expansion_mrr_rate"].tolist() == pytest.approx([0.2, 0.0, 0.125], abs=1e-12)


def test_cohorts_quarterly_from_subscriptions():
    rows = [("A", "P", "2024-01-01", "", "100", "month", "1"), ("B", "P", "2024-05-01", "2024-09-01", "10", "month",
            "1"), ("A", "Q", "2024-08-01", "", "20", "month", "1")]  # fmt: skip
    ledger = subscriptions(rows, as_of="2024-12-31")
    table = kit.cohorts(ledger, kit.movements(ledger, period="quarter"), cohort="quarter")
    # A (2024-Q1): Q2 start 100, Q3 start 100 (+20 cross-sell), Q4 start 120; B (2024-Q2): Q3 start 10, churns
    got = table[["cohort", "age", "mrr_start", "expansion", "churn"]].values.tolist()
    assert got == [["2024-Q1", 1, 10000, 0, 0], ["2024-Q1", 2, 10000, 2000, 0], ["2024-Q1", 3, 12000, 0, 0],
                   ["2024-Q2", 1, 1000, 0, 1000]]  # fmt: skip


# --- cross-sell matrix ------------------------------------------------------------------------------------


def test_cross_sell_matrix_products_held_to_product_added():
    rows = [
        ("A", "P", "2024-01", "10"), ("A", "P", "2024-02", "10"), ("A", "Q", "2024-02", "5"),  # P → adds Q
        ("B", "P", "2024-01", "10"), ("B", "Q", "2024-01", "10"),  # holds P and Q, adds R
        ("B", "P", "2024-02", "10"), ("B", "Q", "2024-02", "10"), ("B", "R", "2024-02", "1"),
        ("C", "P", "2024-02", "10"), ("C", "Q", "2024-02", "10"),  # new customer: not cross-sell
        ("D", "Q", "2024-01", "10"), ("D", "R", "2024-02", "10"),  # swaps Q for R: still adds R
        ("E", "R", "2024-01", "10"), ("E", "P", "2024-03", "10"),  # churns, then returns with P: not cross-sell
    ]  # fmt: skip
    matrix = kit.cross_sell_matrix(snapshots(rows))
    assert list(matrix.index) == list(matrix.columns) == ["P", "Q", "R"]
    assert (matrix.index.name, matrix.columns.name) == ("held", "added")
    assert matrix.values.tolist() == [[0, 1, 1], [0, 0, 2], [0, 0, 0]]


def test_cross_sell_matrix_at_quarterly_grain():
    # A holds P at the end of Q1, takes Q in April, drops it in May, takes R in June: Q is invisible quarterly
    rows = [("A", "P", m, "10") for m in ("2024-03", "2024-04", "2024-05", "2024-06")]
    rows += [("A", "Q", "2024-04", "5"), ("A", "R", "2024-06", "5")]
    ledger = snapshots(rows)
    assert kit.cross_sell_matrix(ledger, period="quarter").loc["P"].tolist() == [0, 0, 1]
    assert kit.cross_sell_matrix(ledger).loc["P"].tolist() == [0, 1, 1]


# --- upgrade paths ------------------------------------------------------------------------------------------


def test_upgrade_paths_between_plans():
    rows = [
        ("A", "2024-01", "P", "100", "Basic"), ("A", "2024-02", "P", "300", "Pro"),  # +200
        ("B", "2024-01", "P", "100", "Basic"), ("B", "2024-02", "P", "250", "Pro"),  # +150
        ("C", "2024-01", "P", "300", "Pro"), ("C", "2024-02", "P", "100", "Basic"),  # −200
        ("D", "2024-01", "P", "100", "Basic"), ("D", "2024-02", "P", "150", "Basic"),  # same plan
        ("E", "2024-01", "P", "100", "Basic"),  # churn: not a path
        ("F", "2024-02", "P", "100", "Pro"),  # new: not a path
    ]  # fmt: skip
    ledger = attributed(rows, "plan")
    table = kit.upgrade_paths(kit.movements(ledger), ledger)
    assert table.values.tolist() == [["Basic", "Pro", 2, 35000], ["Pro", "Basic", 1, -20000]]
    assert list(table.columns) == ["from_plan", "to_plan", "customers", "mrr_change"]


def test_upgrade_paths_and_cohorts_take_the_ledger_and_the_movements_in_either_order():
    rows = [("A", "2024-01", "P", "100", "Basic"), ("A", "2024-02", "P", "300", "Pro"),
            ("B", "2024-01", "P", "100", "Basic"), ("B", "2024-03", "P", "100", "Basic")]  # fmt: skip
    ledger = attributed(rows, "plan")
    moves = kit.movements(ledger)
    assert kit.upgrade_paths(ledger, moves).equals(kit.upgrade_paths(moves, ledger))
    assert kit.upgrade_paths(ledger, moves).values.tolist() == [["Basic", "Pro", 1, 20000]]
    assert kit.cohorts(moves, ledger).equals(kit.cohorts(ledger, moves))


def test_a_cross_sell_is_not_a_plan_change():
    # A adds product Q on a bigger plan: its month's plan (largest row) becomes "Q Team", but it is a cross-sell.
    # B changes plan on the product it holds: a real upgrade, +50.00.
    rows = [
        ("A", "2024-01", "P", "100", "P Basic"), ("A", "2024-02", "P", "100", "P Basic"),
        ("A", "2024-02", "Q", "300", "Q Team"),
        ("B", "2024-01", "P", "100", "P Basic"), ("B", "2024-02", "P", "150", "P Pro"),
    ]  # fmt: skip
    ledger = attributed(rows, "plan")
    assert ledger.frame.loc[ledger.frame["customer_id"] == "A", "plan"].astype(str).tolist()[-1] == "Q Team"
    table = kit.upgrade_paths(kit.movements(ledger), ledger)
    assert table.values.tolist() == [["P Basic", "P Pro", 1, 5000]]


def test_upgrade_paths_quarterly_compare_period_ends_and_need_a_plan():
    # Pro only in April, back to Basic in May, Team in June: quarterly sees only Basic → Team
    rows = [("A", f"2024-{m:02d}", "P", v, plan) for m, v, plan in
            [(3, "10", "Basic"), (4, "20", "Pro"), (5, "10", "Basic"), (6, "30", "Team")]]  # fmt: skip
    ledger = attributed(rows, "plan")
    quarterly = kit.upgrade_paths(kit.movements(ledger, period="quarter"), ledger)
    assert quarterly.values.tolist() == [["Basic", "Team", 1, 2000]]
    monthly = kit.upgrade_paths(kit.movements(ledger), ledger)
    assert sorted(map(tuple, monthly.values.tolist())) == [("Basic", "Pro", 1, 1000), ("Basic", "Team", 1, 2000),
                                                           ("Pro", "Basic", 1, -1000)]  # fmt: skip
    plain = snapshots([("A", "P", "2024-01", "10"), ("A", "P", "2024-02", "20")])
    empty = kit.upgrade_paths(kit.movements(plain), plain)
    assert empty.empty and list(empty.columns) == ["from_plan", "to_plan", "customers", "mrr_change"]


# --- top expanders and concentration --------------------------------------------------------------------


def expanders_ledger() -> kit.Ledger:
    """Eleven customers at 100 in January; in February c01..c10 gain 10·i, c11 stays; in March only c11 gains."""
    rows = [(f"c{i:02d}", "P", "2024-01", "100") for i in range(1, 12)]
    rows += [(f"c{i:02d}", "P", "2024-02", str(100 + 10 * i)) for i in range(1, 11)] + [("c11", "P", "2024-02", "100")]
    rows += [(f"c{i:02d}", "P", "2024-03", str(100 + 10 * i)) for i in range(1, 11)] + [("c11", "P", "2024-03", "400")]
    rows += [("z", "P", "2024-01", "50"), ("z", "P", "2024-04", "50")]  # April: nobody expands
    rows += [(f"c{i:02d}", "P", "2024-04", str(100 + 10 * i + i)) for i in range(1, 11)]
    rows += [("c11", "P", "2024-04", "400")]
    return snapshots(rows)


def test_top_expanders():
    moves = kit.movements(expanders_ledger())
    top = kit.top_expanders(moves, n=3)
    # c11: 300 in March; c10: 100 (Feb) + 10 (Apr); c09: 90 + 9. All expansion: 550 + 300 + 55 = 905
    assert top[["customer_id", "expansion", "upsell", "cross_sell", "periods_expanded"]].astype(
        {"customer_id": str}).values.tolist() == [["c11", 30000, 30000, 0, 1], ["c10", 11000, 11000, 0, 2],
                                                  ["c09", 9900, 9900, 0, 2]]  # fmt: skip
    assert top["share"].tolist() == pytest.approx([30000 / 90500, 11000 / 90500, 9900 / 90500], abs=1e-12)
    february = kit.top_expanders(moves, n=2, periods=["2024-02"])
    assert february["customer_id"].astype(str).tolist() == ["c10", "c09"]
    assert february["share"].tolist() == pytest.approx([10000 / 55000, 9000 / 55000], abs=1e-12)


def test_concentration_share_from_the_top_tenth_of_expanders():
    table = kit.concentration(kit.movements(expanders_ledger()))
    assert table["period"].tolist() == ["2024-02", "2024-03", "2024-04"]
    assert table[["expanders", "top_expanders", "expansion", "top_expansion"]].values.tolist() == [
        [10, 1, 55000, 10000],  # 10 expanders: the top 1 (c10, +100) of 10 + 20 + … + 100 = 550
        [1, 1, 30000, 30000],  # one expander: it is the whole
        [10, 1, 5500, 1000],  # c01..c10 gain i each: top is c10's 10 of 55
    ]
    assert table["top_share"].tolist() == pytest.approx([10000 / 55000, 1.0, 1000 / 5500], abs=1e-12)


def test_concentration_rounds_the_top_group_up_and_is_nan_without_expanders():
    # eleven expanders: the top 10% is ceil(1.1) = 2 customers
    rows = [(f"c{i:02d}", "P", "2024-01", "100") for i in range(1, 12)]
    rows += [(f"c{i:02d}", "P", "2024-02", str(100 + i)) for i in range(1, 12)]
    rows += [(f"c{i:02d}", "P", "2024-03", str(100 + i)) for i in range(1, 12)]
    table = kit.concentration(kit.movements(snapshots(rows)))
    assert table[["expanders", "top_expanders", "expansion", "top_expansion"]].values.tolist() == [
        [11, 2, 6600, 2100], [0, 0, 0, 0]]  # fmt: skip
    assert table["top_share"].iloc[0] == pytest.approx(2100 / 6600, abs=1e-12)
    assert np.isnan(table["top_share"].iloc[1])


# --- trailing NRR --------------------------------------------------------------------------------------------


def test_trailing_twelve_month_nrr():
    rows = [("A", "P", f"2024-{m:02d}", "100") for m in range(1, 13)] + [("A", "P", "2025-01", "130"),
                                                                          ("A", "P", "2025-02", "160")]  # fmt: skip
    rows += [("B", "P", f"2024-{m:02d}", "50") for m in range(1, 13)]  # leaves after 2024-12
    rows += [("D", "P", "2025-01", "999"), ("D", "P", "2025-02", "999")]  # new since: not counted
    rows += [("E", "P", "2024-02", "20"), ("E", "P", "2025-02", "25")]  # gone between, back by 2025-02
    table = kit.trailing_nrr(snapshots(rows))
    assert table[["month", "mrr_base", "mrr_now"]].values.tolist() == [
        ["2025-01", 15000, 13000],  # A 100 + B 50 → A 130 + B 0
        ["2025-02", 17000, 18500],  # A 100 + B 50 + E 20 → A 160 + B 0 + E 25
    ]
    assert table["nrr"].tolist() == pytest.approx([13000 / 15000, 18500 / 17000], abs=1e-12)


def test_trailing_nrr_is_empty_under_a_year_and_nan_on_an_empty_base():
    short = snapshots([("A", "P", f"2024-{m:02d}", "10") for m in range(1, 13)])
    assert kit.trailing_nrr(short).empty  # 2024-01 .. 2024-12: no month has one 12 months before
    gap = snapshots([("A", "P", "2024-01", "10"), ("B", "P", "2025-02", "10")])
    table = kit.trailing_nrr(gap)
    assert table[["month", "mrr_base", "mrr_now"]].values.tolist() == [["2025-01", 1000, 0], ["2025-02", 0, 0]]
    assert table["nrr"].iloc[0] == 0.0 and np.isnan(table["nrr"].iloc[1])


def test_trailing_nrr_on_the_playbook(playbook):
    table = kit.trailing_nrr(playbook).set_index("month")
    # the customers active in 2018-06, measured in 2019-06: check the base against the monthly MRR
    monthly = playbook.monthly_mrr().set_index(playbook.monthly_mrr()["month"].astype(str))
    assert table.loc["2019-06", "mrr_base"] == monthly.loc["2018-06", "mrr_cents"]
    assert table.index[0] == "2018-09" and table.index[-1] == "2020-02"
    assert (table["mrr_now"] <= monthly.loc[table.index, "mrr_cents"].to_numpy()).all()
