"""The report's tables in chunks of customers (kit.partials): combined, each equals the whole's table exactly."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit import partials

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"


def whole_tables(ledger, *, period, netting, cohort=None):
    moves = kit.movements(ledger, period=period, netting=netting)
    cohort = cohort or period
    cohort_moves = moves if cohort == period else kit.movements(ledger, period=cohort, netting=netting)
    matrix, pairs = kit.tables.cross_sell_tables(ledger, period=period)
    return {
        "summary": kit.summary(moves),
        "cohorts": kit.cohorts(ledger, cohort_moves, cohort=cohort),
        "cross_sell_matrix": matrix,
        "cross_sell_pairs": pairs,
        "trailing_nrr": kit.trailing_nrr(ledger),
        "top_expanders": kit.top_expanders(moves, n=10),
        "concentration": kit.concentration(moves),
    }


def chunked_tables(ledger, n, **options):
    """The ledger's customers split into ``n`` chunks on the whole's window, each chunk's partials combined."""
    return partials.combine_tables([partials.chunk_tables(part, **options) for part in kit.split_customers(ledger, n)])


def assert_same(combined: dict, whole: dict):
    for name, expected in whole.items():
        if name == "top_expanders":  # the whole's ids are a categorical of every customer; a chunk knows its own
            expected = expected.assign(customer_id=expected["customer_id"].astype(str))
        pd.testing.assert_frame_equal(combined[name], expected, check_dtype=True, obj=name)


@pytest.fixture(scope="module")
def sample():
    return kit.load_ledger(SAMPLE, fx=FX, today=TODAY)


@pytest.mark.parametrize("n", [2, 5], ids=lambda n: f"{n}-chunks")
@pytest.mark.parametrize(
    ("period", "netting", "cohort"),
    [("month", "customer", "quarter"), ("quarter", "product", None), ("year", "customer", None)],
    ids=["month", "quarter", "year"],
)
def test_the_sample_s_report_tables_in_chunks_equal_them_whole(sample, n, period, netting, cohort):
    combined = chunked_tables(sample, n, period=period, netting=netting, cohort=cohort)
    assert_same(combined, whole_tables(sample, period=period, netting=netting, cohort=cohort))


def test_concentration_takes_the_top_tenth_across_chunks():
    # 11 expanders in one period: the top group is ceil(1.1) = 2, both of them in the second chunk
    rows = [(f"c{i:02d}", "P", "2024-01", "10") for i in range(11)]
    rows += [(f"c{i:02d}", "P", "2024-02", str(10 + (i + 1) * (100 if i >= 9 else 1))) for i in range(11)]
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    first, second = (dataclasses.replace(ledger, frame=ledger.frame.loc[mask].reset_index(drop=True))
                     for mask in (ledger.frame["customer_id"].astype(str) < "c09",
                                  ledger.frame["customer_id"].astype(str) >= "c09"))  # fmt: skip
    combined = partials.combine_tables([partials.chunk_tables(first), partials.chunk_tables(second)])
    row = combined["concentration"].iloc[0]
    assert (row["expanders"], row["top_expanders"], row["top_expansion"]) == (
        11,
        2,
        100_000 + 110_000,
    )  # c09 +$1,000.00, c10 +$1,100.00
    pd.testing.assert_frame_equal(combined["concentration"], kit.concentration(kit.movements(ledger)))


CUSTOMERS = [f"c{i}" for i in range(8)]
rows_strategy = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(["P", "Q", "R"]),
              st.sampled_from(["2024-01", "2024-02", "2024-03", "2024-05", "2024-06", "2024-09"]),
              st.sampled_from(["5", "10", "10", "30", "99.99"])),
    min_size=2, max_size=40,
)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows_strategy, st.integers(2, 5), st.sampled_from(["month", "quarter"]), st.sampled_from(["customer", "product"])
)
def test_property_report_tables_in_chunks_equal_them_whole(rows, n, period, netting):
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    assert_same(chunked_tables(ledger, n, period=period, netting=netting),
                whole_tables(ledger, period=period, netting=netting))  # fmt: skip


@pytest.mark.parametrize(("netting", "cell", "with_ledger"), [("customer", "cross_sell", False),
                                                             ("customer", "customers_churned", True),
                                                             ("product", "contraction", True)],
                         ids=["cross-sell", "churned", "product-contraction"])  # fmt: skip
def test_a_drill_down_in_chunks_equals_it_whole(sample, netting, cell, with_ledger):
    periods = ["2025-Q3", "2025-Q4"]
    whole_moves = kit.movements(sample, period="quarter", netting=netting)
    whole = kit.drill_down(whole_moves, periods, cell, ledger=sample if with_ledger else None)
    parts = []
    for part in kit.split_customers(sample, 3):
        moves = kit.movements(part, period="quarter", netting=netting)
        parts.append(kit.drill_down(moves, periods, cell, ledger=part if with_ledger else None))
    pd.testing.assert_frame_equal(partials.combine_drill(parts), whole)
    assert len(whole) > 10
