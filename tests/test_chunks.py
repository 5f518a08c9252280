"""Out-of-core and all cores (kit.chunks, kit.parallel): chunked and whole give the same figures, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit import chunks
from kit.errors import LoadError, ParameterError, ValidationError
from kit.parallel import summarize_source

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"
GRAINS = [(period, netting) for period in ("month", "quarter", "year") for netting in ("customer", "product")]
SPECS = [{"period": p, "netting": n} for p, n in GRAINS]


def quality_items(quality) -> dict:
    """The data-quality table as a dict, without the chunked reader's own detail."""
    return {r.item: r.value for r in quality.table().itertuples() if r.item != "chunks"}


# --- sizes and buckets -----------------------------------------------------------------------------


def test_sizes_read_binary_and_decimal_units():
    assert chunks.parse_size("2GiB") == 2 * 2**30
    assert chunks.parse_size("2 G") == 2 * 2**30
    assert chunks.parse_size("500MB") == 500_000_000
    assert chunks.parse_size(4096) == 4096


@pytest.mark.parametrize(
    "text", ["2 gallons", "", "-1G", "0", "GiB"], ids=["unit", "empty", "negative", "zero", "no-number"]
)
def test_a_size_that_is_not_one_is_refused(text):
    with pytest.raises(ParameterError, match="memory_limit"):
        chunks.parse_size(text)


def test_the_chunk_count_follows_the_limit_and_the_processes():
    # 20M rows × 160 B = 3.2e9 B over (2 GiB − 400 MiB) = 1.68e9 B: 2 chunks; with 2 processes, 1 GiB − 400 MiB each
    assert chunks.chunk_count(20_000_000, "2GiB") == 2
    assert chunks.chunk_count(20_000_000, "2GiB", jobs=2) == 5
    assert chunks.chunk_count(1000, "24GiB") == 1
    with pytest.raises(ParameterError, match="less than 64 MiB"):
        chunks.chunk_count(1000, "256MiB")


def plain_hash(text: str) -> int:
    """The ids' hash in plain Python integers: Σ byte_i × M**i + length (mod 2**64), murmur3's finaliser."""
    mask, value = 2**64 - 1, 0
    data = text.encode("utf-8")
    for i, byte in enumerate(data):
        value = (value + byte * pow(0x100000001B3, i, 2**64)) & mask
    value = (value + len(data)) & mask
    for constant in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        value ^= value >> 33
        value = (value * constant) & mask
    return value ^ (value >> 33)


def test_a_customer_s_bucket_is_its_id_hash_worked_in_plain_integers():
    ids = ["C0000001", "acme", "C0000001", "Ünïcode", ""]
    assert chunks.id_hash(ids).tolist() == [plain_hash(i) for i in ids]
    same_width = ["C0000001", "C0000002", "C0000003"]  # one width: the bytes hashed as rows
    assert chunks.id_hash(same_width).tolist() == [plain_hash(i) for i in same_width]
    assert chunks.buckets_of(ids, 5).tolist() == [plain_hash(i) % 5 for i in ids]
    assert chunks.buckets_of(pd.Series([17, 17, 4]), 3).tolist() == [plain_hash("17") % 3] * 2 + [plain_hash("4") % 3]


@given(st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_property_the_vectorised_hash_equals_the_plain_one(ids):
    assert chunks.id_hash(ids).tolist() == [plain_hash(i) for i in ids]


def test_the_customer_column_is_found_by_name_mapping_or_synonym():
    assert chunks.customer_column(["Customer_ID", "month"]) == "Customer_ID"
    assert chunks.customer_column(["acct", "month"], {"acct": "customer_id"}) == "acct"
    assert chunks.customer_column(["account_id", "month"]) == "account_id"
    with pytest.raises(LoadError, match="no column to cut"):
        chunks.customer_column(["who", "month"])


# --- the bundled sample, every grain and netting ----------------------------------------------------


@pytest.fixture(scope="module")
def sample_whole():
    ledger = kit.load_ledger(SAMPLE, fx=FX, today=TODAY)
    return ledger, [kit.summarize(ledger, **spec) for spec in SPECS]


@pytest.mark.parametrize("n", [1, 2, 5, 16], ids=lambda n: f"{n}-chunks")
def test_the_sample_in_chunks_equals_the_sample_whole(sample_whole, n):
    ledger, whole = sample_whole
    tables, quality = summarize_source(SAMPLE, chunks=n, specs=SPECS, fx=FX, today=TODAY)
    for table, expected in zip(tables, whole, strict=True):
        pd.testing.assert_frame_equal(table, expected)
    assert quality_items(quality) == quality_items(ledger.quality)
    assert (quality.rows_read, quality.rows_used) == (9_698, 9_698)


def test_the_sample_in_two_processes_equals_the_sample_whole(sample_whole):
    ledger, whole = sample_whole
    tables, quality = summarize_source(SAMPLE, chunks=4, jobs=2, specs=SPECS, fx=FX, today=TODAY)
    for table, expected in zip(tables, whole, strict=True):
        pd.testing.assert_frame_equal(table, expected)
    assert quality_items(quality) == quality_items(ledger.quality)


def test_a_segment_breakdown_in_chunks_equals_the_whole(sample_whole):
    ledger, _ = sample_whole
    by = ledger.attributes[0]
    for netting in ("customer", "product"):
        table, _ = summarize_source(SAMPLE, chunks=3, by=by, netting=netting, period="quarter", fx=FX, today=TODAY)
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, by=by, netting=netting, period="quarter"))


def test_start_end_and_last_keep_the_same_rows(sample_whole):
    ledger, _ = sample_whole
    table, _ = summarize_source(SAMPLE, chunks=3, period="quarter", last=3, fx=FX, today=TODAY)
    pd.testing.assert_frame_equal(table, kit.summarize(ledger, period="quarter", last=3))


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory):
    """The sample as one Parquet file and as a folder of three (a dataset), every column as text."""
    folder = tmp_path_factory.mktemp("parquet")
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    path = folder / "sample.parquet"
    frame.to_parquet(path, index=False)
    dataset = folder / "dataset"
    dataset.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(dataset / f"part-{i}.parquet", index=False)
    return path, dataset


def test_a_parquet_file_in_chunks_equals_it_whole(sample_parquet):
    path, _ = sample_parquet
    ledger = kit.load_ledger(path, fx=FX, today=TODAY)
    tables, quality = summarize_source(path, chunks=3, specs=SPECS, fx=FX, today=TODAY)
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert quality_items(quality) == quality_items(ledger.quality)


def test_a_parquet_dataset_folder_equals_its_rows_in_one_file(sample_parquet):
    path, dataset = sample_parquet
    ledger = kit.load_ledger(path, fx=FX, today=TODAY)
    tables, quality = summarize_source(dataset, chunks=2, specs=SPECS, fx=FX, today=TODAY)
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert quality.rows_read == ledger.quality.rows_read == 9_698


def test_the_memory_limit_chooses_the_chunks_and_not_the_figures(sample_whole, monkeypatch):
    ledger, whole = sample_whole
    monkeypatch.setattr(chunks, "BYTES_PER_ROW", 10**6)  # 9,698 rows × 1 MB over 2 GiB − 400 MiB: 6 chunks
    table, quality = summarize_source(SAMPLE, memory_limit="2GiB", fx=FX, today=TODAY)
    assert quality.details["chunks"] == 6
    pd.testing.assert_frame_equal(table, whole[0])


# --- the data-quality record and errors ------------------------------------------------------------


def test_excluded_rows_and_their_examples_add_up_across_chunks(tmp_path):
    rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "x"), ("b", "P", "2024-01", "5"),
            ("b", "P", "2024-02", "oops"), ("c", "P", "2024-02", "7"), ("d", "P", "2024-01", "-")]  # fmt: skip
    path = tmp_path / "snap.csv"
    pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"]).to_csv(path, index=False)
    whole = kit.load_ledger(path, on_invalid="quarantine", today=TODAY)
    table, quality = summarize_source(path, chunks=4, on_invalid="quarantine", today=TODAY)
    assert (quality.rows_read, quality.rows_used, quality.rows_excluded) == (6, 3, 3)
    assert quality_items(quality) == quality_items(whole.quality)
    # the examples name the rows of the file: the header is row 1, "a, 2024-02, x" row 3
    assert set(quality.problems["row"]) == {3, 5, 7}
    pd.testing.assert_frame_equal(table, kit.summarize(whole))


def test_an_invalid_row_is_an_error_naming_its_row_in_the_source(tmp_path):
    path = tmp_path / "snap.csv"
    path.write_text("customer_id,product,month,mrr\na,P,2024-01,10\nb,P,2024-02,ten\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="row 3, column mrr: 'ten'"):
        summarize_source(path, chunks=3, today=TODAY)


def test_several_currencies_without_fx_are_refused_as_whole():
    months = ["2024-01", "2024-01", "2024-02", "2024-02"]
    frame = pd.DataFrame({"customer_id": ["a", "b", "a", "b"], "product": "P", "month": months, "mrr": "10",
                          "currency": ["EUR", "USD", "EUR", "USD"]})  # fmt: skip
    with pytest.raises(LoadError):
        kit.load_ledger(frame, today=TODAY)
    ids = frame["customer_id"].tolist()
    if len(set(chunks.buckets_of(ids, 2).tolist())) == 2:  # a and b in different chunks: each has one currency
        with pytest.raises(LoadError, match="several currencies"):
            summarize_source(frame, chunks=2, today=TODAY)


def test_jobs_and_chunks_below_one_are_refused():
    with pytest.raises(ParameterError, match="jobs must be 1 or more"):
        summarize_source(SAMPLE, jobs=0)
    with pytest.raises(ParameterError, match="chunks must be 1 or more"):
        summarize_source(SAMPLE, chunks=0)


# --- random ledgers: chunked == whole, every grain and netting ---------------------------------------

CUSTOMERS = [f"c{i}" for i in range(9)]
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01", "2025-02"]
snapshot_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(["P", "Q", "R"]), st.sampled_from(MONTHS),
              st.sampled_from(["5", "10", "12.50", "30", "99.99"]), st.sampled_from(["smb", "ent"])),
    min_size=1, max_size=40,
)  # fmt: skip
DATES = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 15, 28)]
subscription_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(["P", "Q"]), st.sampled_from(DATES),
              st.one_of(st.just(""), st.sampled_from(DATES)), st.sampled_from(["10", "25.50", "120"]),
              st.sampled_from(["month", "quarter", "year"])),
    min_size=1, max_size=25,
)  # fmt: skip


def _snapshot_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr", "segment"])


def _subscription_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "start_date", "end_date", "amount", "billing_period"])
    # an end before its start is an invalid row: keep the valid ones, and let both paths read the same rows
    ends = frame["end_date"]
    return frame.loc[(ends == "") | (ends >= frame["start_date"])].reset_index(drop=True)


def _check_all_grains(frame, n, kind, **options):
    try:
        ledger = kit.load_ledger(frame, kind=kind, today=TODAY, **options)
    except kit.KitError:
        return
    tables, quality = summarize_source(frame, chunks=n, kind=kind, today=TODAY, specs=SPECS, **options)
    for table, spec in zip(tables, SPECS, strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert (quality.rows_read, quality.rows_used) == (ledger.quality.rows_read, ledger.quality.rows_used)
    assert quality_items(quality) == quality_items(ledger.quality)
    return ledger


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(snapshot_rows, st.integers(1, 6))
def test_property_snapshots_in_chunks_equal_them_whole(rows, n):
    frame = _snapshot_frame(rows)
    ledger = _check_all_grains(frame, n, "snapshots", snapshot_dates="last")
    if ledger is not None:  # a segment breakdown too
        table, _ = summarize_source(frame, chunks=n, kind="snapshots", today=TODAY, by="segment", netting="product",
                                    snapshot_dates="last")  # fmt: skip
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, by="segment", netting="product"))


@PROPERTY
@given(subscription_rows, st.integers(1, 6), st.one_of(st.none(), st.integers(0, 2)))
def test_property_subscriptions_in_chunks_equal_them_whole(rows, n, window):
    frame = _subscription_frame(rows)
    if not len(frame):
        return
    ledger = _check_all_grains(frame, n, "subscriptions")
    if ledger is not None:
        table, _ = summarize_source(frame, chunks=n, kind="subscriptions", today=TODAY, period="quarter",
                                    reactivation_window=window)  # fmt: skip
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, period="quarter", reactivation_window=window))


# --- the command line ---------------------------------------------------------------------------------


def _cli(argv, capsys) -> tuple[int, str, str]:
    from kit.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("options", [["--memory-limit", "2GiB"], ["--jobs", "2"], ["--memory-limit", "3G", "-j", "2"]],
                         ids=["memory-limit", "jobs", "both"])  # fmt: skip
def test_kit_summary_in_chunks_prints_the_same_csv(options, capsys):
    base = ["summary", SAMPLE, "--fx", FX, "--period", "quarter", "--netting", "product"]
    code, whole, whole_err = _cli(base, capsys)
    assert code == 0
    code, chunked, chunked_err = _cli([*base, *options], capsys)
    assert code == 0
    assert chunked == whole
    assert chunked_err == whole_err  # the same notes: 128 overlapping rows, the as_of of the last month, …
    assert "overlapping subscriptions of one customer and product (both counted): 128 rows" in chunked_err


def test_kit_summary_refuses_a_memory_limit_that_is_not_a_size(capsys):
    code, _, err = _cli(["summary", SAMPLE, "--memory-limit", "lots"], capsys)
    assert code == 2
    assert "memory_limit must be a size such as 2GiB" in err


# --- a database read bucket by bucket ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    import sqlite3

    path = tmp_path_factory.mktemp("db") / "sample.db"
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    with sqlite3.connect(path) as connection:
        frame.to_sql("subscriptions", connection, index=False)
    return path


@pytest.mark.parametrize("read", [{"table": "subscriptions"},
                                  {"query": "SELECT * FROM subscriptions WHERE customer_id < 'C01500'"}],
                         ids=["table", "query"])  # fmt: skip
def test_an_sqlite_table_read_with_a_hash_predicate_equals_it_whole(sample_db, read):
    ledger = kit.load_ledger(sample_db, fx=FX, today=TODAY, **read)
    tables, quality = summarize_source(sample_db, chunks=3, specs=SPECS[:2], fx=FX, today=TODAY, **read)
    for table, spec in zip(tables, SPECS[:2], strict=True):
        pd.testing.assert_frame_equal(table, kit.summarize(ledger, **spec))
    assert quality_items(quality) == quality_items(ledger.quality)  # row numbers of the whole result included


def test_the_sql_bucket_splits_customers_as_its_python_reading_says(sample_db):
    import sqlite3

    with sqlite3.connect(sample_db) as connection:
        rows = connection.execute(f"SELECT customer_id, {chunks.sql_bucket('customer_id', 5, 'sqlite')} "
                                  "FROM subscriptions").fetchall()  # fmt: skip
    by_customer = {}
    for customer, bucket in rows:
        by_customer.setdefault(customer, set()).add(bucket)
    assert all(len(b) == 1 for b in by_customer.values())  # every row of a customer in one bucket
    # C00042: length 6 + 1×'2' (50) + 31×'4' (52) + 961×'0' (48) + 29791×'0' (48) = 1,477,764; mod 5 = 4
    assert by_customer["C00042"] == {4}
    assert len({b for s in by_customer.values() for b in s}) == 5
