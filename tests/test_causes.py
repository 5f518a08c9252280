"""The cause bridge (kit.causes), its drill-down, the bridge per product and the ledger's quantity and plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit import bridges
from kit.cli import main

MONEY = list(bridges.MONEY)


def ledger_of(rows, columns=("customer_id", "product", "month", "mrr", "quantity", "plan"), **options):
    """Load snapshot rows (``mrr`` in major units as text) with the given columns."""
    frame = pd.DataFrame(rows, columns=list(columns))
    return kit.load_ledger(frame, kind="snapshots", today=TODAY, **options)


def row_of(table, period="2024-02"):
    """The cause bridge's row of one period, as a dict of Python values."""
    return table.loc[table["period"] == period].iloc[0].to_dict()


def causes_of(rows, **options):
    return row_of(kit.causes(ledger_of(rows, **options)))


# --- hand-worked: each row of the definitions' table ---------------------------------------------


def test_seats_and_price_worked_example_10_seats_at_10_to_12_at_12():
    got = causes_of([("a", "P", "2024-01", "100.00", 10, "Team"), ("a", "P", "2024-02", "144.00", 12, "Team")])
    assert (got["seats"], got["price"], got["plan"], got["unattributed"]) == (2000, 2400, 0, 0)
    assert (got["customers_seats_up"], got["customers_price_up"]) == (1, 1)


def test_seats_added_at_a_lower_unit_price_3_at_10_to_7_at_9_99():
    got = causes_of([("a", "P", "2024-01", "30.00", 3, "Team"), ("a", "P", "2024-02", "69.93", 7, "Team")])
    assert (got["seats"], got["price"]) == (4000, -7)  # +$40.00 of seats, −$0.07 of price
    assert (got["customers_seats_up"], got["customers_price_down"], got["customers_price_up"]) == (1, 1, 0)
    assert got["expansion"] == 3993 and got["expansion_seats"] == 4000 and got["expansion_price"] == -7


def test_plan_upgrade_starter_50_to_pro_80():
    got = causes_of([("a", "P", "2024-01", "50.00", 1, "Starter"), ("a", "P", "2024-02", "80.00", 1, "Pro")])
    assert (got["plan"], got["seats"], got["price"], got["customers_plan_up"]) == (3000, 0, 0, 1)


def test_plan_change_takes_the_whole_change_even_with_seats():
    got = causes_of([("a", "P", "2024-01", "50.00", 5, "Starter"), ("a", "P", "2024-02", "160.00", 10, "Pro")])
    assert (got["plan"], got["seats"], got["price"]) == (11000, 0, 0)


def test_plan_downgrade_is_negative():
    got = causes_of([("a", "P", "2024-01", "80.00", 1, "Pro"), ("a", "P", "2024-02", "50.00", 1, "Starter")])
    assert (got["plan"], got["customers_plan_down"], got["customers_plan_up"]) == (-3000, 1, 0)


def test_cross_sell_and_dropped():
    got = causes_of([("a", "P", "2024-01", "50.00", 1, "T"), ("a", "Q", "2024-01", "7.00", 1, "T"),
                     ("a", "P", "2024-02", "50.00", 1, "T"), ("a", "R", "2024-02", "20.00", 2, "T")])  # fmt: skip
    assert (got["cross_sell"], got["dropped"], got["customers_cross_sell"], got["customers_dropped"]) == (
        2000,
        700,
        1,
        1,
    )
    assert got["seats"] == got["price"] == got["plan"] == got["unattributed"] == 0


def test_quantity_not_stated_is_unattributed():
    got = causes_of([("a", "P", "2024-01", "50.00", None, "T"), ("a", "P", "2024-02", "55.00", 3, "T")])
    assert (got["unattributed"], got["seats"], got["price"]) == (500, 0, 0)


def test_without_a_plan_column_seats_are_measured_and_the_rest_unattributed():
    columns = ("customer_id", "product", "month", "mrr", "quantity")
    got = causes_of([("a", "P", "2024-01", "100.00", 10), ("a", "P", "2024-02", "144.00", 12)], columns=columns)
    assert (got["seats"], got["price"], got["unattributed"]) == (2000, 0, 2400)


def test_without_quantity_or_plan_everything_held_is_unattributed_and_inputs_say_why():
    columns = ("customer_id", "product", "month", "mrr")
    ledger = ledger_of([("a", "P", "2024-01", "100.00"), ("a", "P", "2024-02", "144.00")], columns=columns)
    got = row_of(kit.causes(ledger))
    assert (got["unattributed"], got["seats"], got["price"], got["plan"]) == (4400, 0, 0, 0)
    missing = bridges.inputs(ledger)["missing"]
    assert len(missing) == 1 and "quantity column" in missing[0] and "plan column" in missing[0]


def test_seats_round_half_even():
    # s = 1.00 × (q 3 → 4) / 3 = 33.33… cents → 33; s = 0.05 × (2 → 3) / 2 = 2.5 cents → 2 (half to even)
    got = causes_of([("a", "P", "2024-01", "1.00", 3, "T"), ("a", "P", "2024-02", "1.50", 4, "T"),
                     ("b", "P", "2024-01", "0.05", 2, "T"), ("b", "P", "2024-02", "0.08", 3, "T")])  # fmt: skip
    assert got["seats"] == 33 + 2 and got["price"] == (150 - 100 - 33) + (8 - 5 - 2)


def test_new_reactivation_and_churn_are_the_movements():
    rows = [("a", "P", "2024-01", "10.00", 1, "T"), ("b", "P", "2024-02", "8.00", 1, "T"),
            ("c", "P", "2024-01", "4.00", 1, "T"), ("c", "P", "2024-03", "4.00", 1, "T"),
            ("a", "P", "2024-02", "10.00", 1, "T"), ("a", "P", "2024-03", "10.00", 1, "T"),
            ("b", "P", "2024-03", "8.00", 1, "T")]  # fmt: skip
    table = kit.causes(ledger_of(rows))
    feb, mar = row_of(table, "2024-02"), row_of(table, "2024-03")
    assert (feb["new"], feb["churn"], mar["reactivation"]) == (800, 400, 400)


def test_subscriptions_quantities_of_two_subscriptions_are_added():
    frame = pd.DataFrame({
        "customer_id": ["a", "a", "a"], "product": ["P", "P", "P"], "plan": ["Team", "Team", "Team"],
        "start_date": ["2024-01-01", "2024-01-01", "2024-02-10"], "end_date": ["", "", ""],
        "amount": ["10.00", "10.00", "10.00"], "billing_period": ["month"] * 3, "quantity": ["10", "2", "3"],
    })  # fmt: skip
    ledger = kit.load_ledger(frame, kind="subscriptions", today=TODAY, as_of="2024-02-29")
    assert ledger.frame["quantity"].tolist() == [12, 15]
    got = row_of(kit.causes(ledger))
    assert (got["seats"], got["price"]) == (3000, 0)  # 12 → 15 seats at $10.00


def test_a_product_with_several_plans_is_a_plan_set():
    rows = [("a", "P", "2024-01", "10.00", 1, "Pro"), ("a", "P", "2024-01", "5.00", 1, "Starter"),
            ("a", "P", "2024-02", "15.00", 2, "Pro")]  # fmt: skip
    ledger = ledger_of(rows)
    assert ledger.frame["plans"].astype(str).tolist() == ["Pro\nStarter", "Pro"]
    assert ledger.frame["quantity"].tolist() == [2, 2]
    assert "plans" not in ledger.attributes and "quantity" not in ledger.attributes
    assert row_of(kit.causes(ledger))["plan"] == 0  # 15.00 → 15.00


def test_an_attribute_named_plans_is_refused():
    frame = pd.DataFrame({"customer_id": ["a"], "product": ["P"], "month": ["2024-01"], "mrr": ["1"], "plans": ["x"]})
    with pytest.raises(kit.LoadError, match="named 'plans'"):
        kit.load_ledger(frame, kind="snapshots", today=TODAY)


def test_a_bad_snapshot_quantity_is_a_row_problem():
    rows = [("a", "P", "2024-01", "10.00", "ten", "T"), ("a", "P", "2024-02", "10.00", "-2", "T"),
            ("a", "P", "2024-03", "10.00", "3", "T")]  # fmt: skip
    with pytest.raises(kit.ValidationError) as raised:
        ledger_of(rows)
    text = str(raised.value)
    assert "quantity" in text and "negative quantity" in text
    ledger = ledger_of(rows, on_invalid="quarantine")
    assert ledger.quality.rows_excluded == 2


# --- the invariants, on random ledgers ----------------------------------------------------------

PLANS = ["Starter", "Pro", "Enterprise", ""]


@st.composite
def books(draw):
    n_customers = draw(st.integers(1, 6))
    rows = []
    for c in range(n_customers):
        for m in range(1, 6):
            for product in ("P", "Q", "R"):
                if draw(st.integers(0, 2)) == 0:
                    continue
                cents = draw(st.integers(1, 50_000))
                quantity = draw(st.one_of(st.none(), st.integers(0, 40)))
                plan = draw(st.sampled_from(PLANS))
                copies = draw(st.integers(1, 2))  # two rows of one key: added
                for _ in range(copies):
                    rows.append((f"c{c}", product, f"2024-0{m}", f"{cents / 100:.2f}", quantity, plan))
    if not rows:
        rows.append(("c0", "P", "2024-01", "1.00", 1, "Pro"))
    return rows


def check_bridge(table):
    flow = (table["mrr_start"] + table["new"] + table["reactivation"] - table["churn"] + table["cross_sell"]
            - table["dropped"] + table["seats"] + table["price"] + table["plan"] + table["unattributed"])  # fmt: skip
    assert (flow == table["mrr_end"]).all()
    parts = table["cross_sell"] + table["expansion_seats"] + table["expansion_price"] + table["expansion_plan"]
    assert (parts + table["expansion_unattributed"] == table["expansion"]).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.sampled_from(["month", "quarter"]), st.randoms(use_true_random=False))
def test_the_cause_bridge_reconciles_and_ties_to_product_netting(rows, period, rng):
    ledger = ledger_of(rows)
    table = kit.causes(ledger, period=period)
    check_bridge(table)
    product = kit.summarize(ledger, period=period, netting="product")
    assert table["period"].tolist() == product["period"].tolist()
    for column in ("mrr_start", "new", "reactivation", "churn", "mrr_end", "cross_sell"):
        assert table[column].tolist() == product[column].tolist(), column
    held = table["seats"] + table["price"] + table["plan"] + table["unattributed"] - table["dropped"]
    assert held.tolist() == (product["upsell"] - product["contraction"]).tolist()
    assert table["expansion"].tolist() == product["expansion"].tolist()
    # row order does not matter
    shuffled = list(rows)
    rng.shuffle(shuffled)
    again = kit.causes(ledger_of(shuffled), period=period)
    pd.testing.assert_frame_equal(again, table)
    # chunks of customers add up to the whole
    parts = [kit.causes(part, period=period) for part in kit.split_customers(ledger, 2)]
    summed = sum(part[[*MONEY, *bridges.COUNTS, *bridges.EXPANSION]] for part in parts)
    pd.testing.assert_frame_equal(summed, table[[*MONEY, *bridges.COUNTS, *bridges.EXPANSION]])
    # the customer · product rows add up to the cause columns
    detail = bridges.cause_rows(ledger, period=period)
    sums = detail.groupby("period", observed=True)[list(bridges.CAUSES)].sum()
    for label, row in table.set_index("period").iterrows():
        expected = sums.loc[label].tolist() if label in sums.index else [0] * len(bridges.CAUSES)
        assert [int(row[c]) for c in bridges.CAUSES] == [int(v) for v in expected]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.booleans())
def test_the_product_bridge_reconciles_per_product_and_adds_up_to_the_causes(rows, plans):
    ledger = ledger_of(rows)
    table = kit.product_bridge(ledger, plans=plans)
    flow = (table["mrr_start"] + table["new"] + table["reactivation"] + table["cross_sell"] + table["seats"]
            + table["price"] + table["plan"] + table["unattributed"] - table["dropped"] - table["churn"])  # fmt: skip
    assert (flow == table["mrr_end"]).all()
    assert (table["plan"] == table["plan_in"] - table["plan_out"]).all()
    whole = kit.causes(ledger).set_index("period")
    per_period = table.groupby("period")[["mrr_start", "new", "reactivation", "cross_sell", "dropped", "churn",
                                          "mrr_end"]].sum()  # fmt: skip
    for label, row in per_period.iterrows():
        for column in per_period.columns:
            assert int(row[column]) == int(whole.loc[label, column]), (label, column)
    if not plans:
        by_period = table.groupby("period")[["seats", "price", "plan", "unattributed"]].sum()
        for label, row in by_period.iterrows():
            assert [int(v) for v in row] == [
                int(whole.loc[label, c]) for c in ("seats", "price", "plan", "unattributed")
            ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_drill_down_adds_up_to_every_cause_cell(rows):
    ledger = ledger_of(rows)
    table = kit.causes(ledger)
    for label in table["period"]:
        row = row_of(table, label)
        for cell in bridges.MONEY_CELLS:
            drilled = kit.drill_down(table, label, cell, ledger=ledger)
            assert int(drilled["amount"].sum()) == int(row[cell]), (label, cell)
        for cell in bridges.COUNT_CELLS:
            assert len(kit.drill_down(table, label, cell, ledger=ledger)) == int(row[cell]), (label, cell)


# --- the product bridge, drill-down and CLI on hand-worked data ----------------------------------


def test_product_bridge_new_versus_cross_sell_and_plans_entering_and_leaving():
    rows = [("a", "P", "2024-01", "50.00", 1, "Starter"), ("a", "P", "2024-02", "80.00", 1, "Pro"),
            ("a", "Q", "2024-02", "20.00", 2, "Basic"), ("b", "Q", "2024-02", "10.00", 1, "Basic")]  # fmt: skip
    ledger = ledger_of(rows)
    table = kit.product_bridge(ledger).set_index("product")
    assert (table.loc["Q", "new"], table.loc["Q", "cross_sell"], table.loc["Q", "customers_new"]) == (1000, 2000, 1)
    assert (table.loc["P", "plan"], table.loc["P", "plan_in"], table.loc["P", "plan_out"]) == (3000, 8000, 5000)
    by_plan = kit.product_bridge(ledger, plans=True).set_index(["product", "plans"])
    assert (by_plan.loc[("P", "Starter"), "plan_out"], by_plan.loc[("P", "Starter"), "mrr_end"]) == (5000, 0)
    assert (by_plan.loc[("P", "Pro"), "plan_in"], by_plan.loc[("P", "Pro"), "mrr_start"]) == (8000, 0)


def test_product_bridge_by_plan_needs_plans():
    ledger = ledger_of([("a", "P", "2024-01", "1.00")], columns=("customer_id", "product", "month", "mrr"))
    with pytest.raises(kit.ParameterError, match="plan column"):
        kit.product_bridge(ledger, plans=True)


def test_drill_down_names_the_customers_behind_a_cause():
    rows = [("a", "P", "2024-01", "30.00", 3, "T"), ("a", "P", "2024-02", "69.93", 7, "T"),
            ("b", "P", "2024-01", "100.00", 10, "T"), ("b", "P", "2024-02", "90.00", 9, "T")]  # fmt: skip
    ledger = ledger_of(rows)
    out = kit.drill_down(kit.causes(ledger), "2024-02", "seats", ledger=ledger)
    assert out["customer_id"].tolist() == ["a", "b"] and out["amount"].tolist() == [4000, -1000]
    assert out["changed"].iloc[0] == "P: 3 → 7 (30.00 → 69.93; 10.00 → 9.99 a unit)"
    with pytest.raises(kit.ParameterError, match="needs the ledger"):
        kit.drill_down(kit.causes(ledger), "2024-02", "seats")
    with pytest.raises(kit.ParameterError, match="did you mean 'seats'"):
        kit.drill_down(kit.causes(ledger), "2024-02", "seat", ledger=ledger)


def test_cli_causes_writes_major_units(tmp_path, capsys):
    path = tmp_path / "book.csv"
    columns = ["customer_id", "product", "month", "mrr", "quantity", "plan"]
    rows = [("a", "P", "2024-01", "30.00", 3, "T"), ("a", "P", "2024-02", "69.93", 7, "T")]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    out = tmp_path / "causes.csv"
    assert main(["causes", str(path), "--output", str(out)]) == 0
    table = pd.read_csv(out, dtype=str)
    assert list(table.columns[:12]) == ["period", *MONEY]
    row = table.iloc[0]
    assert (row["seats"], row["price"], row["mrr_end"], row["customers_seats_up"]) == ("40.00", "-0.07", "69.93", "1")
    assert main(["causes", str(path), "--netting", "product"]) == 2  # the causes are product-level: no such option
    assert "unrecognized arguments" in capsys.readouterr().err


def test_cli_causes_says_which_column_is_missing(tmp_path, capsys):
    path = tmp_path / "book.csv"
    path.write_text("customer_id,product,month,mrr\na,P,2024-01,10\na,P,2024-02,12\n")
    assert main(["causes", str(path)]) == 0
    captured = capsys.readouterr()
    assert "note: a quantity column" in captured.err
    assert captured.out.splitlines()[1].split(",")[8] == "2.00"  # unattributed


def test_sample_shows_every_cause():
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    ledger = kit.load_ledger(root / "data" / "sample_subscriptions.csv", fx=root / "data" / "fx_rates.csv")
    table = kit.causes(ledger, period="quarter")
    last = table.iloc[-1]
    for column in ("cross_sell", "expansion_seats", "expansion_price", "expansion_plan", "dropped", "churn"):
        assert last[column] > 0, column
    assert (table["unattributed"] == 0).all()  # the sample states quantity and plan on every row
    assert last["expansion_seats"] > last["expansion_plan"] > 0 and last["expansion_price"] > 0
    assert np.isnan(kit.causes(ledger, period="quarter")["seats_rate"].iloc[0])  # the first quarter starts at 0
