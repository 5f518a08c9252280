"""The large-file paths (Parquet columns read in halves, threads, chunks of customers) on small data.

Thresholds that switch them on at millions of rows are lowered, and every result is
compared with the plain path: the same ledger, the same summary.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kit
from kit import sources
from kit._fast import arrow as fast_arrow
from kit._fast import frame as fast_frame
from kit._fast import summary as fast_summary

TODAY = date(2026, 11, 24)


def _snapshot_table(seed: int = 0, rows: int = 3000) -> pa.Table:
    rng = np.random.default_rng(seed)
    months = np.sort(rng.integers(0, 14, rows))  # month by month, as exports are written
    customers = rng.integers(0, 250, rows)
    products = rng.choice(["Core", "Analytics", "API Access", " Support "], rows)  # one with spaces to strip
    cents = rng.integers(0, 50_000, rows)
    cents[rng.random(rows) < 0.05] = 0  # zero rows: used, but no MRR
    ids = [f"C{c:04d}" if c % 7 else f" C{c:04d}" for c in customers]  # some ids with a space to strip
    ids[5] = "c0001"  # differs from C0001 only by case
    # any day of the month, one per customer · month (several dates of one key in a month are weekly snapshots)
    day = (np.datetime64("2024-01-01", "M") + months).astype("datetime64[D]") + (customers * 7 + months) % 27
    return pa.table({
        "customer_id": pa.array(ids),
        "month": pa.array(day.astype("datetime64[D]"), pa.date32()),
        "product": pa.array(products),
        "mrr": pa.array([Decimal(int(c)) / 100 for c in cents], pa.decimal128(18, 2)),
        "segment": pa.array(rng.choice(["SMB", "Enterprise"], rows)),
    })  # fmt: skip


@pytest.fixture
def parquet_file(tmp_path):
    table = _snapshot_table()
    table = pa.concat_tables([table, table.slice(10, 40)])  # rows repeated: duplicates, added together
    path = tmp_path / "snapshots.parquet"
    pq.write_table(table, path, row_group_size=700)
    return path


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(fast_arrow, "PARALLEL_TEXT_ROWS", 0)
    monkeypatch.setattr(fast_frame, "_PARALLEL_ROWS", 0)
    monkeypatch.setattr(fast_summary, "PARALLEL_ROWS", 500)
    monkeypatch.setattr(fast_summary, "cpus", lambda: 2)


def test_parquet_in_halves_and_threads_gives_the_plain_ledger(parquet_file, small_thresholds, monkeypatch):
    fast = kit.load_ledger(parquet_file, today=TODAY)
    monkeypatch.setattr(fast_arrow, "PARALLEL_TEXT_ROWS", 10**12)
    monkeypatch.setattr(fast_frame, "_PARALLEL_ROWS", 10**12)
    plain = kit.load_ledger(parquet_file, today=TODAY)
    pd.testing.assert_frame_equal(fast.frame, plain.frame)
    pd.testing.assert_frame_equal(fast.quality.table(), plain.quality.table())


def test_parquet_and_csv_of_the_same_rows_give_the_same_ledger(parquet_file, small_thresholds, tmp_path):
    frame = pq.read_table(parquet_file).to_pandas()
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m-%d")
    frame["mrr"] = frame["mrr"].map(str)
    frame.to_csv(tmp_path / "snapshots.csv", index=False)
    from_parquet = kit.load_ledger(parquet_file, today=TODAY)
    from_csv = kit.load_ledger(tmp_path / "snapshots.csv", today=TODAY)
    pd.testing.assert_frame_equal(from_parquet.frame, from_csv.frame)
    notes = from_parquet.quality.notes.set_index("note")["count"]
    assert notes["rows identical in every column (likely duplicates; both counted)"] == 80
    assert notes["customer ids that differ only by case (kept apart: ids are case-sensitive)"] >= 2
    assert from_parquet.quality.rows_read == from_parquet.quality.rows_used == 3040


@pytest.mark.parametrize("by", [None, "segment"], ids=["total", "by-segment"])
@pytest.mark.parametrize("netting", ["customer", "product"])
def test_summary_in_chunks_of_customers_equals_the_summary_in_one(parquet_file, small_thresholds, by, netting):
    ledger = kit.load_ledger(parquet_file, today=TODAY)
    assert len(fast_summary.customer_parts(ledger)) > 2
    chunked = kit.summarize(ledger, netting=netting, by=by)
    assert chunked.equals(kit.summary(kit.movements(ledger, netting=netting), by=by))


def test_month_strings_and_dates_parse_alike_with_problems_counted(tmp_path):
    table = _snapshot_table(seed=1, rows=200)
    bad = table.to_pandas()
    bad["month"] = pd.to_datetime(bad["month"]).dt.strftime("%Y-%m")
    bad.loc[3, "month"] = "2024-13"
    bad.loc[4, "month"] = None
    bad.loc[5, "mrr"] = None
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False), path)
    ledger = kit.load_ledger(path, today=TODAY, on_invalid="quarantine")
    excluded = ledger.quality.excluded.set_index("reason")["rows"]
    assert excluded.to_dict() == {"not a valid date (expected YYYY-MM-DD or YYYY-MM)": 1, "missing month": 1,
                                  "missing amount": 1}  # fmt: skip
    assert ledger.quality.rows_used == 197
    with pytest.raises(kit.ValidationError, match="row 4, column month: '2024-13'"):
        kit.load_ledger(path, today=TODAY)


def test_row_numbers_of_a_parquet_file_are_counted_not_stored():
    rows = sources.RowNumbers(10)
    assert rows[0] == 1 and rows[-1] == 10
    assert rows[np.array([2, 3])].tolist() == [3, 4]
    assert np.asarray(rows).tolist() == list(range(1, 11))
    with pytest.raises(IndexError):
        rows[10]


def test_ids_of_one_width_read_as_fixed_size_binary_give_the_same_codes(tmp_path, small_thresholds):
    rng = np.random.default_rng(5)
    ids = [f"C{c:07d}" for c in rng.integers(0, 400, 5000)]
    table = pa.table({"id": ids, "n": np.arange(5000)})
    pq.write_table(table, tmp_path / "ids.parquet", row_group_size=600)
    raw = sources.read_parquet(tmp_path / "ids.parquet")
    assert raw.frame["id"].astype(str).tolist() == ids
    assert list(raw.frame["id"].cat.categories) == list(dict.fromkeys(ids))  # first-seen order, each once
    column = pa.chunked_array([pa.array(["ab", "cd"]), pa.array(["ef"])])
    assert fast_arrow.fixed_width(column).type == pa.binary(2)
    assert fast_arrow.fixed_width(pa.chunked_array([pa.array(["ab", None])])) is None  # a null takes no bytes
    assert fast_arrow.fixed_width(pa.chunked_array([pa.array(["ab", "c"])])) is None


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
@pytest.mark.parametrize("window", [None, 0, 2], ids=["no-window", "window-0", "window-2"])
def test_period_sums_equal_the_walk_summed(period, window):
    rng = np.random.default_rng(7)
    rows = [(f"c{c}", p, f"{2022 + m // 12}-{m % 12 + 1:02d}", str(rng.choice([10, 20, 30, 45.5])))
            for c in range(40) for m in range(30) for p in "ABC" if rng.random() < 0.3]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    from kit._fast.periods import period_sums

    sums = period_sums(ledger, period=period, reactivation_window=window)
    expected = kit.summary(kit.movements(ledger, period=period, reactivation_window=window))
    got = pd.DataFrame([sums[k] for k in sorted(sums)])
    for column in got.columns:
        assert got[column].tolist() == expected[column].tolist(), column
    shuffled = kit.Ledger(ledger.frame.sample(frac=1, random_state=1), ledger.kind, ledger.first_month,
                          ledger.last_month, ledger.currency, ledger.quality)  # fmt: skip
    assert period_sums(shuffled, period=period) is None  # not sorted by customer: the walk's job
    assert kit.summarize(shuffled, period=period, reactivation_window=window).equals(
        kit.summarize(ledger, period=period, reactivation_window=window)
    )


def test_categoricals_without_the_pandas_fast_path_are_the_same(parquet_file, monkeypatch):
    """``categorical_of`` uses a private pandas constructor when there is one; the public one gives the same."""
    fast = kit.load_ledger(parquet_file, today=TODAY)
    monkeypatch.delattr(pd.CategoricalDtype, "_from_fastpath", raising=False)
    codes = np.array([2, 0, 1, 2])
    made = sources.categorical_of(codes, pd.Index(["a", "b", "c"]))
    assert list(made) == ["c", "a", "b", "c"] and list(made.categories) == ["a", "b", "c"]
    plain = kit.load_ledger(parquet_file, today=TODAY)
    pd.testing.assert_frame_equal(plain.frame, fast.frame)
