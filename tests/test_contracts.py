"""The frame contracts (kit.contracts): the kit's frames pass them; a frame breaking a rule is rejected by name."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from conftest import ROOT, TODAY, snapshots

import kit
from kit import contracts
from kit.errors import ParameterError

SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"
GRAINS = ("month", "quarter", "year")
NETTINGS = ("customer", "product")


@pytest.fixture(scope="module")
def sample() -> kit.Ledger:
    return kit.load_ledger(SAMPLE, fx=FX, today=TODAY)


def small() -> kit.Ledger:
    """Three customers over four months: a expands (cross-sell, upsell), b contracts and churns, c is new."""
    return snapshots([
        ("a", "p", "2024-01", "10"), ("a", "p", "2024-02", "10"), ("a", "q", "2024-02", "5"),
        ("a", "p", "2024-03", "12"), ("a", "q", "2024-03", "5"),
        ("a", "p", "2024-04", "12"), ("a", "q", "2024-04", "5"),
        ("b", "p", "2024-01", "7"), ("b", "p", "2024-02", "3"),
        ("c", "p", "2024-02", "4"), ("c", "p", "2024-03", "4"), ("c", "p", "2024-04", "4"),
    ])  # fmt: skip


def validate_all(ledger: kit.Ledger) -> None:
    contracts.Ledger.validate(ledger.frame, lazy=True)
    for period in GRAINS:
        for netting in NETTINGS:
            moves = kit.movements(ledger, period=period, netting=netting)
            contracts.Movements.validate(moves, lazy=True)
            contracts.Summary.validate(kit.summary(moves), lazy=True)
            contracts.Summary.validate(kit.summarize(ledger, period=period, netting=netting), lazy=True)
            for by in ledger.attributes[:2]:
                contracts.Summary.validate(kit.summarize(ledger, period=period, netting=netting, by=by), lazy=True)


def test_the_sample_follows_the_contracts(sample):
    validate_all(sample)


def test_the_sample_in_parts_follows_the_contracts(sample):
    parts = kit.split_customers(sample, 3)
    for part in parts:
        contracts.Ledger.validate(part.frame, lazy=True)
    contracts.Summary.validate(kit.combine([kit.summarize(p, period="quarter") for p in parts]), lazy=True)


def test_the_playbook_follows_the_contracts(playbook):
    validate_all(playbook)


def test_a_small_ledger_follows_the_contracts():
    validate_all(small())


# --- broken frames: each check rejects, by name ----------------------------------------------


def rejects(model, frame: pd.DataFrame, message: str) -> pd.DataFrame:
    """Validate lazily, expect a failure whose text names ``message``; return the failure cases."""
    with pytest.raises(pa.errors.SchemaErrors, match=re.escape(message)) as caught:
        model.validate(frame, lazy=True)
    return caught.value.failure_cases


def test_ledger_rejects_a_missing_column():
    rejects(contracts.Ledger, small().frame.drop(columns="mrr_cents"), "column 'mrr_cents' not in dataframe")


def test_ledger_rejects_a_float_mrr():
    frame = small().frame.astype({"mrr_cents": "float64"})
    rejects(contracts.Ledger, frame, "expected series 'mrr_cents' to have type int64")


def test_ledger_rejects_a_zero_mrr():
    frame = small().frame
    frame.loc[0, "mrr_cents"] = 0
    failures = rejects(contracts.Ledger, frame, "greater_than(0)")
    assert failures["index"].tolist() == [0]


def test_ledger_rejects_a_month_that_is_a_date():
    frame = small().frame.assign(month=lambda f: f["month"].dt.to_timestamp())
    rejects(contracts.Ledger, frame, "expected series 'month' to have type period[M]")


def test_ledger_rejects_a_repeated_key():
    frame = small().frame
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    rejects(contracts.Ledger, frame, "columns '('customer_id', 'product', 'month')' not unique")


def test_ledger_rejects_unsorted_rows():
    frame = small().frame.iloc[::-1].reset_index(drop=True)
    rejects(contracts.Ledger, frame, "rows not sorted by customer, month, product")


def test_ledger_rejects_a_text_attribute():
    frame = small().frame.assign(segment=["x"] * len(small().frame))
    rejects(contracts.Ledger, frame, "attribute columns must be categorical")


def moves() -> pd.DataFrame:
    return kit.movements(small())


def test_movements_reject_a_broken_bridge():
    frame = moves()
    frame.loc[0, "mrr_end"] += 1
    failures = rejects(contracts.Movements, frame, "bridge: mrr_start + new + reactivation")
    assert 0 in failures["index"].tolist()


def test_movements_reject_negative_churn():
    frame = moves()
    churned = frame.index[frame["class"] == "churn"][0]
    frame.loc[churned, "churn"] *= -1
    rejects(contracts.Movements, frame, "greater_than_or_equal_to(0)")


def test_movements_reject_an_expansion_not_of_its_parts():
    frame = moves()
    frame.loc[frame["expansion"] > 0, "expansion"] += 1
    rejects(contracts.Movements, frame, "expansion != upsell + cross_sell")


def test_movements_reject_a_class_against_the_ends():
    frame = moves()
    frame.loc[frame["class"] == "churn", "class"] = "contraction"
    rejects(contracts.Movements, frame, "class does not follow mrr_start and mrr_end")


def test_movements_reject_an_unknown_class():
    frame = moves().assign(**{"class": lambda f: f["class"].cat.rename_categories({"churn": "lost"})})
    rejects(contracts.Movements, frame, "isin(")


def test_movements_reject_a_new_row_booked_as_upsell():
    frame = moves()
    first = frame.index[frame["class"] == "new"][0]
    frame.loc[first, ["new", "upsell", "expansion"]] = [0, frame.loc[first, "mrr_end"], frame.loc[first, "mrr_end"]]
    rejects(contracts.Movements, frame, "new, reactivation and churn rows carry their whole amount and nothing else")


def test_movements_reject_a_repeated_customer_period():
    frame = moves()
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    rejects(contracts.Movements, frame, "columns '('customer_id', 'period')' not unique")


def test_movements_reject_a_text_attribute():
    rejects(contracts.Movements, moves().assign(segment="x"), "attribute columns must be categorical")


def table() -> pd.DataFrame:
    return kit.summarize(small())


def test_summary_rejects_a_broken_bridge():
    frame = table()
    frame.loc[0, "churn"] += 1
    rejects(contracts.Summary, frame, "bridge: mrr_start + new + reactivation")


def test_summary_rejects_an_expansion_not_of_its_parts():
    frame = table()
    frame.loc[0, "expansion"] += 1
    rejects(contracts.Summary, frame, "expansion != upsell + cross_sell")


def test_summary_rejects_customer_counts_that_do_not_reconcile():
    frame = table()
    frame.loc[0, "customers_end"] += 1
    rejects(contracts.Summary, frame, "customers_end != customers_start + customers_new")


def test_summary_rejects_a_wrong_rate():
    frame = table()
    frame.loc[0, "nrr"] = 1.5
    rejects(contracts.Summary, frame, "a rate differs from its definition")


def test_summary_rejects_a_rate_of_zero_for_a_zero_denominator():
    frame = table()
    zero = frame.index[frame["contraction"] + frame["churn"] == 0][0]
    frame.loc[zero, "quick_ratio"] = 0.0
    rejects(contracts.Summary, frame, "a rate differs from its definition")


def test_summary_rejects_a_repeated_period():
    frame = table()
    rejects(contracts.Summary, pd.concat([frame, frame.iloc[[0]]], ignore_index=True), "one row per period")


def test_summary_rejects_money_in_major_units():
    frame = table().astype({"mrr_end": "float64"})
    rejects(contracts.Summary, frame, "expected series 'mrr_end' to have type int64")


# --- at the public boundary: the structure, with the kit's own error ---------------------------


def test_require_names_the_missing_columns_and_the_fix():
    frame = moves().drop(columns=["mrr_end", "churn"])
    message = (
        "summary() needs movements with columns period, class, mrr_start, mrr_end, new, reactivation, upsell, "
        "cross_sell, contraction, churn: missing mrr_end, churn; pass the output of kit.movements(ledger)"
    )
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        kit.summary(frame)


def test_require_names_a_wrong_dtype():
    frame = moves().astype({"expansion": "float64"})
    with pytest.raises(ParameterError, match=re.escape("expansion is float64, not int64")):
        kit.concentration(frame)


def test_require_refuses_what_is_not_a_frame():
    with pytest.raises(ParameterError, match=re.escape("top_expanders() needs a DataFrame of movements, not list")):
        kit.top_expanders([1, 2])


def test_require_checks_no_row():
    """The boundary reads only names and dtypes: a broken row passes it (full validation is the models')."""
    frame = moves()
    frame.loc[0, "mrr_end"] += 1
    contracts.require(frame, contracts.Movements, contracts.Movements.to_schema().columns, function="f", fix="")
    assert np.isfinite(kit.summary(frame)["mrr_end"]).all()


def test_each_frame_taking_function_checks_its_columns():
    ledger = small()
    bare = moves()[["customer_id", "period"]]
    calls = {
        "cohorts": lambda: kit.cohorts(ledger, bare),
        "upgrade_paths": lambda: kit.upgrade_paths(bare, ledger),
        "top_expanders": lambda: kit.top_expanders(bare),
        "concentration": lambda: kit.concentration(bare),
        "summary": lambda: kit.summary(bare),
    }
    for name, call in calls.items():
        with pytest.raises(ParameterError, match=rf"^{name}\(\) needs movements with columns .*; pass the output of"):
            call()


def test_summary_checks_its_by_column():
    with pytest.raises(ParameterError, match=re.escape("mrr_end, new, reactivation, upsell, cross_sell, contraction, "
                                                       "churn, segment: missing segment;")):  # fmt: skip
        kit.summary(moves(), by="segment")


def test_combine_checks_each_summary_and_reads_a_generator_once():
    whole = kit.summarize(small())
    pd.testing.assert_frame_equal(kit.combine(t for t in [whole]), whole)
    with pytest.raises(ParameterError, match=r"^combine\(\) needs summary with columns .*: missing mrr_end; pass"):
        kit.combine([whole, whole.drop(columns="mrr_end")])
    with pytest.raises(ParameterError, match=re.escape("combine() needs a list of summary frames, not one DataFrame")):
        kit.combine(whole)


def test_import_kit_does_not_import_pandera():
    code = "import sys, kit; kit.summarize; assert 'pandera' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
