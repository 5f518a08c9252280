"""Loaders to the ledger: hand-worked MRR, every source format, FX, mapping, the playbook fixture."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY, snapshots, subscriptions, write
from hypothesis import given, settings
from hypothesis import strategies as st

import kit
from kit.errors import LoadError, ParameterError, ValidationError
from kit.ledger import divide_half_even


def month_total(ledger, month: str) -> int:
    frame = ledger.frame
    return int(frame.loc[frame["month"].astype(str) == month, "mrr_cents"].sum())


# --- hand-worked MRR (issue 2) ------------------------------------------------------------


def test_2000_billed_yearly_is_166_67():
    ledger = subscriptions([("A", "Gold", "2024-01-01", "", "2000", "year", "1")], as_of="2024-03-31")
    assert ledger.frame["mrr_cents"].tolist() == [16667, 16667, 16667]


def test_120_yearly_with_10_percent_discount_is_9():
    # the discount is applied to the amount: 120 × 0.9 = 108 a year
    ledger = subscriptions([("A", "P", "2024-01-01", "", "108.00", "year", "1")], as_of="2024-01-31")
    assert ledger.frame["mrr_cents"].tolist() == [900]


def test_100_monthly_subscribers_and_50_yearly_is_12500():
    rows = [(f"m{i}", "P", "2024-01-01", "", "100", "month", "1") for i in range(100)]
    rows += [(f"y{i}", "P", "2024-01-01", "", "600", "year", "1") for i in range(50)]
    assert month_total(subscriptions(rows, as_of="2024-01-31"), "2024-01") == 1_250_000


@pytest.mark.parametrize(
    ("period", "interval"), [("month", "3"), ("quarter", "1")], ids=["month-interval-3", "quarter"]
)
def test_90_for_a_3_month_plan_is_30(period, interval):
    frame = pd.DataFrame({"customer_id": ["A"], "start_date": ["2024-01-01"], "end_date": [""], "amount": ["90"],
                          "billing_period": [period], "billing_interval_count": [interval]})  # fmt: skip
    ledger = kit.load_ledger(frame, as_of="2024-01-31", today=TODAY)
    assert ledger.frame["mrr_cents"].tolist() == [3000]


def test_day_and_week_normalisation():
    rows = [("D", "P", "2024-01-01", "", "1.00", "day", "1"), ("W", "P", "2024-01-01", "", "10.00", "week", "1")]
    frame = subscriptions(rows, as_of="2024-01-31").frame
    # 1.00 × 365 / 12 = 30.4166… → 30.42; 10.00 × 52 / 12 = 43.333… → 43.33
    assert dict(zip(frame["customer_id"].astype(str), frame["mrr_cents"], strict=True)) == {"D": 3042, "W": 4333}


def test_quantity_multiplies_and_zero_quantity_is_inactive():
    rows = [("A", "P", "2024-01-01", "", "25", "month", "4"), ("B", "P", "2024-01-01", "", "25", "month", "0")]
    frame = subscriptions(rows, as_of="2024-01-31").frame
    assert frame["customer_id"].astype(str).tolist() == ["A"]
    assert frame["mrr_cents"].tolist() == [10000]


def test_in_force_on_the_last_day_counts_and_ending_on_it_does_not():
    rows = [
        ("ends-on-last-day", "P", "2024-01-01", "2024-01-31", "10", "month", "1"),  # exclusive end: not in force
        ("starts-on-last-day", "P", "2024-01-31", "2024-02-01", "10", "month", "1"),  # in force on 31 Jan only
        ("mid-month-end", "P", "2024-01-01", "2024-02-15", "10", "month", "1"),  # in force 31 Jan, not 29 Feb
    ]
    frame = subscriptions(rows, as_of="2024-02-29").frame
    months = frame.assign(month=frame["month"].astype(str), customer_id=frame["customer_id"].astype(str))
    assert sorted(zip(months["customer_id"], months["month"], strict=True)) == [
        ("mid-month-end", "2024-01"),
        ("starts-on-last-day", "2024-01"),
    ]


def test_half_even_rounding_per_subscription_month():
    assert divide_half_even(5, 2) == 2 and divide_half_even(7, 2) == 4 and divide_half_even(200000, 12) == 16667
    # 0.25 a month billed monthly in 2 seats = 0.50; 0.125 rounds half-even to 0.12
    ledger = snapshots([("A", "P", "2024-01", "0.125"), ("B", "P", "2024-01", "0.135")])
    assert dict(zip(ledger.frame["customer_id"].astype(str), ledger.frame["mrr_cents"], strict=True)) == {
        "A": 12,
        "B": 14,
    }


def test_several_rows_of_one_key_are_added_and_duplicates_noted():
    rows = [("A", "P", "2024-01", "10.00"), ("A", "P", "2024-01", "10.00"), ("A", "P", "2024-01-15", "5.00")]
    ledger = snapshots(rows)
    assert ledger.frame["mrr_cents"].tolist() == [2500]
    notes = ledger.quality.notes.set_index("note")["count"]
    assert notes["rows identical in every column (likely duplicates; both counted)"] == 2


def test_window_and_attributes_of_the_largest_row():
    frame = pd.DataFrame({
        "customer_id": ["A", "A", "A"], "month": ["2024-01", "2024-01", "2024-03"], "product": ["P", "Q", "P"],
        "mrr": ["10", "30", "10"], "segment": ["SMB", "Enterprise", "SMB"],
    })  # fmt: skip
    ledger = kit.load_ledger(frame, today=TODAY)
    assert (str(ledger.first_month), str(ledger.last_month)) == ("2024-01", "2024-03")
    jan = ledger.frame.loc[ledger.frame["month"].astype(str) == "2024-01"]
    assert set(jan["segment"].astype(str)) == {"Enterprise"}
    assert ledger.attributes == ["segment"]


# --- the mrr-playbook fixture ---------------------------------------------------------------


def test_playbook_loads_into_55_customers(playbook):
    q = playbook.quality
    assert (q.rows_read, q.rows_used, q.rows_excluded) == (121, 121, 0)
    assert playbook.frame["customer_id"].nunique() == 55
    assert (str(playbook.first_month), str(playbook.last_month)) == ("2017-09", "2020-02")
    customer_1 = playbook.frame.loc[playbook.frame["customer_id"] == "1", "month"].astype(str).tolist()
    assert "2019-01" in customer_1 and "2019-02" not in customer_1 and "2019-03" not in customer_1
    assert "2019-04" in customer_1  # leaves in 2019-02, returns in 2019-04


def test_playbook_mrr_of_may_2019(playbook):
    monthly = playbook.monthly_mrr().set_index(playbook.monthly_mrr()["month"].astype(str))
    assert monthly.loc["2019-05", "mrr_cents"] == 96500
    assert monthly.loc["2019-05", "customers"] == 21


def test_playbook_without_mapping_suggests_one(playbook_path):
    with pytest.raises(
        LoadError,
        match=r"missing required columns for subscriptions: amount, billing_period.*"
        r"mapping=\{'monthly_amount': 'amount'\}.*defaults=\{'billing_period'",
    ):
        kit.load_ledger(playbook_path, today=TODAY)


# --- formats: CSV, Parquet, Excel, SQLite give the same ledger ------------------------------------

SNAPSHOT_ROWS = pd.DataFrame({
    "customer_id": ["00123", "00123", "B7", "B7"],
    "month": ["2024-01", "2024-02", "2024-01", "2024-02"],
    "product": ["Core", "Core", "Core", "Add-on"],
    "mrr": ["12.50", "20.00", "100.00", "5.25"],
})  # fmt: skip


def _expected_ledger():
    return kit.load_ledger(SNAPSHOT_ROWS, today=TODAY).frame


def test_csv_semicolon_bom_and_leading_zeros(tmp_path):
    text = "\ufeff" + SNAPSHOT_ROWS.to_csv(index=False, sep=";")
    ledger = kit.load_ledger(write(tmp_path, "s.csv", text), today=TODAY)
    pd.testing.assert_frame_equal(ledger.frame, _expected_ledger())
    assert "00123" in set(ledger.frame["customer_id"].astype(str))
    assert ledger.quality.details["delimiter"] == "semicolon"


def test_parquet_with_float_and_decimal_amounts(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    floats = SNAPSHOT_ROWS.assign(mrr=SNAPSHOT_ROWS["mrr"].astype(float))
    floats.to_parquet(tmp_path / "f.parquet")
    decimals = pa.table({**{c: SNAPSHOT_ROWS[c].tolist() for c in ("customer_id", "month", "product")},
                         "mrr": pa.array([Decimal(v) for v in SNAPSHOT_ROWS["mrr"]],
                                         pa.decimal128(12, 2))})  # fmt: skip
    pq.write_table(decimals, tmp_path / "d.parquet")
    for name in ("f.parquet", "d.parquet"):
        pd.testing.assert_frame_equal(kit.load_ledger(tmp_path / name, today=TODAY).frame, _expected_ledger())


def test_excel_with_title_rows_and_second_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": ["cover"]}).to_excel(writer, sheet_name="Cover", index=False)
        pd.DataFrame([["MRR export"], [""]]).to_excel(writer, sheet_name="Data", index=False, header=False)
        SNAPSHOT_ROWS.to_excel(writer, sheet_name="Data", index=False, startrow=2)
    ledger = kit.load_ledger(path, sheet="Data", header_row=2, today=TODAY)
    pd.testing.assert_frame_equal(ledger.frame, _expected_ledger())
    assert ledger.quality.details["sheet"] == "Data"
    with pytest.raises(LoadError, match=r"missing required columns.*customer_id.*header_row"):
        kit.load_ledger(path, sheet="Data", kind="snapshots", today=TODAY)
    with pytest.raises(LoadError, match=r"cannot tell the kind.*header_row"):
        kit.load_ledger(path, sheet="Data", today=TODAY)


def test_sqlite_table_and_query(tmp_path):
    db = tmp_path / "billing.db"
    with sqlite3.connect(db) as connection:
        SNAPSHOT_ROWS.to_sql("mrr", connection, index=False)
    by_table = kit.load_ledger(db, table="mrr", today=TODAY)
    by_query = kit.load_ledger(f"sqlite:///{db}", query="SELECT * FROM mrr WHERE mrr > 0", today=TODAY)
    pd.testing.assert_frame_equal(by_table.frame, _expected_ledger())
    pd.testing.assert_frame_equal(by_query.frame, _expected_ledger())


# --- currencies ------------------------------------------------------------------------------------

FX = pd.DataFrame({"currency": ["EUR", "EUR", "USD", "USD"], "month": ["2024-01", "2024-02"] * 2,
                   "rate": ["1.10", "1.20", "1", "1"]})  # fmt: skip


def _two_currencies():
    return pd.DataFrame({"customer_id": ["A", "A", "B", "B"], "month": ["2024-01", "2024-02"] * 2,
                         "product": "P", "mrr": ["100.00"] * 4, "currency": ["EUR", "EUR", "USD", "USD"]})  # fmt: skip


def test_fx_monthly_and_constant():
    monthly = kit.load_ledger(_two_currencies(), fx=FX, fx_mode="monthly", today=TODAY)
    assert monthly.currency == "USD"
    a = monthly.frame.loc[monthly.frame["customer_id"] == "A", "mrr_cents"].tolist()
    assert a == [11000, 12000]  # FX moves look like expansion …
    constant = kit.load_ledger(_two_currencies(), fx=FX, fx_mode="constant", today=TODAY)
    assert constant.frame.loc[constant.frame["customer_id"] == "A", "mrr_cents"].tolist() == [12000, 12000]


def test_several_currencies_without_fx_table_is_an_error():
    with pytest.raises(LoadError, match=r"several currencies \(EUR, USD\) and no FX table"):
        kit.load_ledger(_two_currencies(), today=TODAY)


def test_fx_table_missing_a_pair_names_it():
    with pytest.raises(LoadError, match=r"no rate for EUR 2024-02"):
        kit.load_ledger(_two_currencies(), fx=FX.iloc[[0, 2, 3]], today=TODAY)


@pytest.mark.parametrize("rate", ["0", "-1.2", "abc"], ids=["zero", "negative", "text"])
def test_fx_rate_must_be_positive(rate):
    with pytest.raises(LoadError, match=r"column rate: .* is not a positive number"):
        kit.load_ledger(_two_currencies(), fx=FX.assign(rate=[rate, "1.2", "1", "1"]), today=TODAY)


def test_sample_data_loads_in_usd_with_every_row_used():
    from kit import config

    ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX, today=TODAY)
    q = ledger.quality
    assert ledger.currency == "USD" and q.rows_read == q.rows_used and q.rows_excluded == 0
    assert ledger.frame["customer_id"].nunique() > 2900
    assert set(ledger.attributes) >= {"size", "region", "plan", "customer_name"}
    assert (str(ledger.first_month), str(ledger.last_month)) == ("2023-01", "2025-12")


# --- quarantine and exactness ------------------------------------------------------------------------


def test_quarantine_counts_every_excluded_row():
    rows = [("A", "P", "2024-01", "10"), ("B", "P", "2024-01", "abc"), ("C", "P", "2024-01", "-5"),
            ("", "P", "2024-01", "3"), ("D", "P", "2024-13", "4")]  # fmt: skip
    with pytest.raises(ValidationError) as info:
        snapshots(rows)
    assert len(info.value.problems) == 4
    ledger = snapshots(rows, on_invalid="quarantine")
    q = ledger.quality
    assert (q.rows_read, q.rows_used, q.rows_excluded) == (5, 1, 4)
    assert dict(zip(q.excluded["reason"], q.excluded["rows"], strict=True)) == {
        "blank customer id": 1,
        "not a valid date (expected YYYY-MM-DD or YYYY-MM)": 1,
        "not a number": 1,
        "negative amount (credits and refunds are not MRR)": 1,
    }


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", ""]), st.sampled_from(["2024-01", "2024-02", "x"]),
                          st.one_of(st.decimals(-100, 10**6, places=2, allow_nan=False).map(str),
                                    st.sampled_from(["", "abc", "1e400"]))), min_size=1, max_size=30))  # fmt: skip
def test_read_equals_used_plus_excluded_and_order_does_not_matter(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "mrr"]).assign(product="P")
    try:
        ledger = kit.load_ledger(frame, on_invalid="quarantine", today=TODAY)
    except LoadError as exc:
        assert "no valid rows" in str(exc) or "no rows in the window" in str(exc)
        return
    q = ledger.quality
    assert q.rows_read == len(rows) == q.rows_used + q.rows_excluded
    shuffled = kit.load_ledger(frame.sample(frac=1, random_state=1), on_invalid="quarantine", today=TODAY)
    pd.testing.assert_frame_equal(shuffled.frame, ledger.frame)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.decimals(0, 10**9, places=2, allow_nan=False), min_size=1, max_size=200))
def test_sums_are_exact_against_decimal(amounts):
    frame = pd.DataFrame({"customer_id": "A", "product": "P", "month": "2024-01", "mrr": [str(a) for a in amounts]})
    ledger = kit.load_ledger(frame, today=TODAY)
    expected = int(sum(amounts, Decimal(0)) * 100)
    assert int(ledger.frame["mrr_cents"].sum()) == expected or expected == 0


def test_kind_detection_and_bad_parameters():
    with pytest.raises(LoadError, match="cannot tell the kind of data"):
        kit.load_ledger(pd.DataFrame({"x": [1]}), today=TODAY)
    with pytest.raises(ParameterError, match="on_invalid must be one of raise, quarantine"):
        kit.load_ledger(SNAPSHOT_ROWS, on_invalid="skip")
    assert np.issubdtype(kit.load_ledger(SNAPSHOT_ROWS, today=TODAY).frame["mrr_cents"].dtype, np.int64)


# --- the window and the filters -------------------------------------------------------------


def test_as_of_before_the_first_subscription_is_an_error_not_its_first_month():
    rows = [("A", "P", "2024-03-01", "", "100", "month", "1")]
    with pytest.raises(LoadError, match=r"no subscription starts by as_of 2024-01-31 \(the first starts in 2024-03\)"):
        subscriptions(rows, as_of="2024-01-31")
    assert subscriptions(rows, as_of="2024-03-31").frame["mrr_cents"].tolist() == [10000]


def _with_regions():
    frame = pd.DataFrame({
        "customer_id": ["A", "A", "B", "C", "D"],
        "product": ["P", "P", "P", "Q", "Q"],
        "month": ["2024-01", "2024-02", "2024-02", "2024-02", "2024-02"],
        "mrr": ["10", "20", "30", "40", "5"],
        "region": ["EMEA", "EMEA", "APAC", "North America", ""],
        "size": ["SMB", "SMB", "SMB", "Enterprise", "SMB"],
    })  # fmt: skip
    return kit.load_ledger(frame, kind="snapshots", today=TODAY)


def test_a_filter_keeps_whole_customers_and_forgets_the_others_values():
    from kit.ledger import filter_customers

    kept = filter_customers(_with_regions(), {"region": ["EMEA"]})
    assert kept.frame["customer_id"].astype(str).tolist() == ["A", "A"]
    assert kept.frame["mrr_cents"].tolist() == [1000, 2000]
    # values only the dropped customers had are gone, so no empty segment rows appear later
    assert list(kept.frame["region"].cat.categories) == ["EMEA"]
    assert list(kept.frame["size"].cat.categories) == ["SMB"]
    assert list(kept.frame["product"].cat.categories) == ["P"]
    by_region = kit.summarize(kept, by="region")
    assert sorted(by_region["region"].astype(str).unique()) == ["EMEA"]


@pytest.mark.parametrize(("filters", "message"), [
    ({"region": ["Mars"]},
     r"filter region=Mars matches no customer \(region values: \(empty\), APAC, EMEA, North America\)"),
    ({"size": ["smb"]}, r"filter size=smb matches no customer; did you mean 'SMB'\?"),
    ({"region": ["EMEA", "Mars"]}, r"filter region=Mars matches no customer"),
    ({"region": ["APAC"], "size": ["Enterprise"]},
     r"no customer matches all the filters \(region=APAC; size=Enterprise\)"),
], ids=["unknown-value", "wrong-case", "one-unknown-of-two", "empty-combination"])  # fmt: skip
def test_a_filter_that_matches_nobody_is_an_error(filters, message):
    from kit.ledger import filter_customers

    with pytest.raises(ParameterError, match=message):
        filter_customers(_with_regions(), filters)


# --- the fast ledger frame equals the plain rule (issue 9) --------------------------------


_TEXTS = st.sampled_from(["A", "b", "B", "10", "9", "é", "Z ", "a"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TEXTS,
            st.sampled_from(["p", "q", "Q"]),
            st.integers(-2, 3),
            st.sampled_from([0, 0, 1, 5, 5, 100, 7_000]),
            st.sampled_from(["x", "y", "z"]),
            st.sampled_from(["EUR", "USD"]),
        ),  # fmt: skip
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_fast_ledger_frame_equals_the_plain_rule(rows, with_currency):
    from kit._fast.frame import _build_frame
    from kit.ledger import ledger_frame
    from kit.months import MONTH_ORDINAL

    frame = pd.DataFrame(rows, columns=["customer_id", "product", MONTH_ORDINAL, "cents", "segment", "currency"])
    frame.index = frame.index * 3 + 7  # the source's labels, not positions
    amounts = frame.pop("cents").to_numpy(dtype=np.int64)
    if not with_currency:
        frame = frame.drop(columns="currency")
    plain, plain_shared = ledger_frame(frame.copy(), amounts.copy(), ["segment"])
    fast, fast_shared = _build_frame(frame.copy(), amounts.copy(), ["segment"])
    pd.testing.assert_frame_equal(fast, plain)
    np.testing.assert_array_equal(fast_shared, plain_shared)
