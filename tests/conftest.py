"""Shared fixtures: small ledgers built from literal rows, and the shared fixtures folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

import kit

# No test is timed (speed is the benchmarks' work, bench/): hypothesis' per-example deadline would fail a
# property on a busy shared machine for its time, not its answer.
settings.register_profile("kit", deadline=None)
settings.load_profile("kit")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PLAYBOOK = SHARED / "fixtures" / "mrr-playbook" / "subscription_periods.csv"
TODAY = date(2026, 11, 24)


@pytest.fixture
def playbook_path() -> Path:
    """The public mrr-playbook fixture; tests using it skip where ../shared is absent."""
    if not PLAYBOOK.is_file():
        pytest.skip("../shared/fixtures is not present (a user's clone)")
    return PLAYBOOK


@pytest.fixture
def playbook(playbook_path) -> kit.Ledger:
    """The mrr-playbook subscription periods loaded with their column mapping."""
    return kit.load_ledger(playbook_path, mapping={"monthly_amount": "amount"}, defaults={"billing_period": "month"},
                           today=TODAY)  # fmt: skip


def snapshots(rows, **options) -> kit.Ledger:
    """Ledger from (customer_id, product, month, mrr) rows; mrr in major units as text or numbers."""
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"]).astype(str)
    return kit.load_ledger(frame, kind="snapshots", today=TODAY, **options)


def subscriptions(rows, **options) -> kit.Ledger:
    """Ledger from (customer_id, product, start_date, end_date, amount, billing_period, quantity) rows."""
    columns = ["customer_id", "product", "start_date", "end_date", "amount", "billing_period", "quantity"]
    frame = pd.DataFrame(rows, columns=columns).astype(str)
    return kit.load_ledger(frame, kind="subscriptions", today=TODAY, **options)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """Write a file under tmp_path and return its path."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
