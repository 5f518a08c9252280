"""Spark (kit.spark): the same core through applyInPandas on a local[2] session gives the in-memory figures exactly."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY

import kit

pytest.importorskip("pyspark", reason="PySpark is not installed (requirements.txt installs it)")
if shutil.which("java") is None:
    pytest.skip("no Java here (.ci/run installs default-jre-headless)", allow_module_level=True)

from kit import spark as kit_spark  # noqa: E402 - after the skips

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"
SPECS = [{"period": p, "netting": n} for p in ("month", "quarter", "year") for n in ("customer", "product")]

pytestmark = [
    pytest.mark.slow,  # a JVM starts: about 10-20 s, then a few seconds a run
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@pytest.fixture(scope="module")
def spark():
    session = kit_spark.session("local[2]", driver_memory="1g")
    yield session
    session.stop()


def quality_items(quality) -> dict:
    return {r.item: r.value for r in quality.table().itertuples() if r.item not in ("chunks", "format")}


def _bench_module():
    if "bench_summary" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "bench" / "bench_summary.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_summary"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_summary"]


@pytest.mark.parametrize("arrow", [True, False], ids=["applyInArrow", "applyInPandas"])
def test_the_sample_on_spark_equals_the_sample_in_memory(spark, arrow, monkeypatch):
    monkeypatch.setattr(kit_spark, "ARROW", arrow)
    ledger = kit.load_ledger(SAMPLE, fx=FX, today=TODAY)
    tables, quality = kit_spark.summarize_source(SAMPLE, spark=spark, buckets=3, specs=SPECS, fx=FX, today=TODAY)
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert quality_items(quality) == quality_items(ledger.quality)  # 9,698 rows, the 128 overlapping, row numbers
    by = ledger.attributes[0]
    table, _ = kit_spark.summarize_source(SAMPLE, spark=spark, buckets=2, by=by, netting="product", fx=FX, today=TODAY)
    pd.testing.assert_frame_equal(table, kit.summarize(ledger, by=by, netting="product"))


def test_a_generated_parquet_set_on_spark_equals_it_in_memory(spark, tmp_path):
    bench = _bench_module()
    path = tmp_path / "generated.parquet"
    bench.generate(path, customers=3_000, months=24, products=4, seed=5)
    ledger = kit.load_ledger(path, today=TODAY)
    tables, quality = kit_spark.summarize_source(path, spark=spark, buckets=4, specs=SPECS, today=TODAY)
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert quality.rows_read == ledger.quality.rows_read > 40_000


def test_a_parquet_folder_and_buckets_on_other_windows(spark, tmp_path):
    # customers a, b active only early: alone in a bucket, their window ends before the whole's
    rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("b", "P", "2024-01", "5"),
            ("c", "P", "2024-02", "8"), ("c", "Q", "2024-04", "4"), ("d", "P", "2024-03", "7")]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 2)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    tables, quality = kit_spark.summarize_source(folder, spark=spark, buckets=4, specs=SPECS, kind="snapshots",
                                                 today=TODAY)  # fmt: skip
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert (quality.rows_read, quality.rows_used) == (6, 6)


def test_kit_summary_engine_spark_prints_the_in_memory_csv(spark, capsys):
    from kit.cli import main

    base = ["summary", str(SAMPLE), "--fx", str(FX), "--period", "quarter"]
    assert main(base) == 0
    whole, whole_err = capsys.readouterr()
    assert main([*base, "--engine", "spark", "--spark-master", "local[2]"]) == 0
    on_spark, spark_err = capsys.readouterr()
    assert on_spark == whole
    assert "overlapping subscriptions of one customer and product (both counted): 128 rows" in spark_err
