"""The benchmark's DuckDB SQL and the kit agree, on small generated files (keeps the SQL honest)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import kit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "bench_summary.py"


def _bench_module():
    if "bench_summary" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_summary", BENCH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_summary"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_summary"]


@pytest.mark.parametrize(("seed", "products"), [(3, 5), (11, 2)], ids=["5-products", "2-products"])
def test_duckdb_and_kit_give_the_same_monthly_summary(tmp_path, seed, products):
    pytest.importorskip("duckdb")
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--customers", "2000", "--products", str(products), "--seed", str(seed),
         "--repeat", "1", "--data-dir", str(tmp_path), "--json", str(figures)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(figures.read_text())
    assert out["equal"] is True
    assert out["rows"] > 20_000 and out["customers"] == 2000


def test_generated_file_is_seeded_and_has_every_kind_of_movement(tmp_path):
    bench = _bench_module()
    first, meta = bench.ensure_data(1500, 24, 5, 7, tmp_path / "a")
    second, _ = bench.ensure_data(1500, 24, 5, 7, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    import kit

    ledger = kit.load_ledger(first, today=date(2030, 1, 1))
    assert ledger.quality.rows_read == meta["rows"] == ledger.quality.rows_used
    summary = kit.summarize(ledger)
    for column in ["new", "reactivation", "upsell", "cross_sell", "contraction", "churn"]:
        assert summary[column].sum() > 0, column


def test_differences_names_the_cells_that_differ():
    bench = _bench_module()
    row = {c: 1 for c in [*bench.MONEY, *bench.COUNTS]}
    assert bench.differences({"2024-01": row}, {"2024-01": dict(row)}) == []
    assert bench.differences({"2024-01": row}, {"2024-01": {**row, "churn": 2}}) == ["2024-01 churn: kit 1, duckdb 2"]
    assert bench._cents("-12.05") == -1205 and bench._cents("3.5") == 350


def test_generated_stripe_invoices_read_as_the_equivalent_subscriptions(tmp_path):
    """gen_stripe.py --check: the kit reads the invoices as the CSV of the same history, every month."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_stripe.py"), "--customers", "300", "--check", "--data-dir",
         str(tmp_path)], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EQUAL in 24 of 24 months" in result.stdout
    invoices = tmp_path / "stripe_invoices_300.jsonl"
    csv = tmp_path / "stripe_equivalent_300.csv"
    options = {"as_of": "2026-11-30", "today": date(2026, 12, 1)}
    stripe, plain = kit.load_ledger(invoices, kind="stripe", **options), kit.load_ledger(csv, **options)
    assert stripe.monthly_mrr().equals(plain.monthly_mrr())
    assert kit.summarize(stripe).equals(kit.summarize(plain))
