"""A key whose plans are not stated (a row with an empty plan) is NA in the ledger, not another key's plan."""

from __future__ import annotations

import pandas as pd
from conftest import TODAY

import kit


def test_an_empty_plan_makes_the_keys_plans_na():
    rows = [("A", "P", "2024-01", "10", "1", "Pro"), ("A", "P", "2024-01", "5", "1", ""),
            ("B", "P", "2024-01", "10", "1", ""), ("C", "P", "2024-01", "10", "1", "Starter")]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr", "quantity", "plan"])
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    plans = ledger.frame.set_index(ledger.frame["customer_id"].astype(str))["plans"]
    assert plans.isna().tolist() == [True, True, False]
    assert plans["C"] == "Starter" and list(plans.cat.categories) == ["Starter"]
