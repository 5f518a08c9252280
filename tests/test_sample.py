"""Tests of the sample-data generator and of the committed sample files (pandas only, no other kit module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit import sample

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTIONS_CSV = ROOT / "data" / "sample_subscriptions.csv"
FX_CSV = ROOT / "data" / "fx_rates.csv"

COLUMNS = [
    "subscription_id",
    "customer_id",
    "customer_name",
    "product",
    "plan",
    "start_date",
    "end_date",
    "amount",
    "billing_period",
    "billing_interval_count",
    "quantity",
    "currency",
    "size",
    "region",
]
TRICKY = [
    '<script>alert("x")</script> Labs',
    "**Bold** & _Sons_ $5 Plan",
    '=HYPERLINK("http://example.com","click")',
]
TIERS = {  # plan -> (product, rank within product)
    "Core Starter": ("Core", 0),
    "Core Pro": ("Core", 1),
    "Core Enterprise": ("Core", 2),
    "Analytics Standard": ("Analytics", 0),
    "Analytics Advanced": ("Analytics", 1),
    "Automation Team": ("Automation", 0),
    "Automation Scale": ("Automation", 1),
    "Support Plus Business": ("Support Plus", 0),
    "Support Plus Premium": ("Support Plus", 1),
}
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
QUARTERS = [str(q) for q in pd.period_range("2023Q1", "2025Q4", freq="Q")]
FAR_FUTURE = pd.Timestamp("2100-01-01")


def read_text_csv(path: Path) -> pd.DataFrame:
    """Read a CSV with every field as text, empty fields as empty strings."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """The committed subscriptions as text."""
    return read_text_csv(SUBSCRIPTIONS_CSV)


@pytest.fixture(scope="module")
def fx() -> pd.DataFrame:
    """The committed FX rates as text."""
    return read_text_csv(FX_CSV)


@pytest.fixture(scope="module")
def typed(rows) -> pd.DataFrame:
    """The committed subscriptions with parsed dates, cents, tiers and native MRR."""
    frame = rows.copy()
    frame["start"] = pd.to_datetime(frame["start_date"], format="%Y-%m-%d")
    frame["end"] = pd.to_datetime(frame["end_date"].replace("", None), format="%Y-%m-%d").fillna(FAR_FUTURE)
    frame["cents"] = frame["amount"].str.replace(".", "", regex=False).astype("int64")
    frame["qty"] = frame["quantity"].astype("int64")
    frame["tier"] = frame["plan"].map(lambda plan: TIERS[plan][1])
    months = frame["billing_period"].map(MONTHS_PER_PERIOD) * frame["billing_interval_count"].astype("int64")
    frame["mrr"] = frame["cents"] * frame["qty"] / months
    return frame


@pytest.fixture(scope="module")
def subscriptions(typed) -> pd.DataFrame:
    """One row per subscription: customer, product, first start and last end."""
    return (
        typed.groupby("subscription_id")
        .agg(
            customer_id=("customer_id", "first"),
            product=("product", "first"),
            start=("start", "min"),
            end=("end", "max"),
        )
        .reset_index()
    )


def quarter_of(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("Q").astype(str)


def count_by_quarter(dates: pd.Series) -> dict[str, int]:
    counts = quarter_of(dates).value_counts()
    return {q: int(counts.get(q, 0)) for q in QUARTERS}


# --- determinism and the committed files ------------------------------------------------


def test_same_seed_gives_equal_frames():
    first_subs, first_fx = sample.generate(customers=200)
    second_subs, second_fx = sample.generate(customers=200)
    pd.testing.assert_frame_equal(first_subs, second_subs)
    pd.testing.assert_frame_equal(first_fx, second_fx)
    assert first_subs["customer_id"].nunique() == 200


def test_same_seed_gives_identical_bytes(tmp_path):
    first = sample.write(tmp_path / "a", customers=200, seed=7)
    second = sample.write(tmp_path / "b", customers=200, seed=7)
    assert [p.name for p in first] == ["sample_subscriptions.csv", "fx_rates.csv"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_different_seeds_give_different_data():
    subs_one, fx_one = sample.generate(customers=200, seed=1)
    subs_two, fx_two = sample.generate(customers=200, seed=2)
    assert not subs_one.equals(subs_two)
    assert not fx_one.equals(fx_two)


def test_committed_files_equal_generator_output(tmp_path, rows, fx):
    written = sample.write(tmp_path)
    pd.testing.assert_frame_equal(read_text_csv(written[0]), rows)
    pd.testing.assert_frame_equal(read_text_csv(written[1]), fx)


def test_generated_frame_holds_text_as_written(rows):
    subs, fx_frame = sample.generate(customers=50)
    assert list(subs.columns) == COLUMNS
    assert subs["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert subs["amount"].str.fullmatch(r"\d+\.\d{2}").all()
    assert subs["quantity"].dtype == np.int64 and subs["billing_interval_count"].dtype == np.int64
    assert fx_frame["rate"].str.fullmatch(r"\d\.\d{4}").all()


def test_other_windows_keep_every_date_inside_them():
    subs, fx_frame = sample.generate(customers=100, start="2024-06", months=6, seed=3)
    dates = pd.concat([subs["start_date"], subs.loc[subs["end_date"] != "", "end_date"]])
    assert dates.min() >= "2024-06-01" and dates.max() <= "2024-11-30"
    assert fx_frame["month"].unique().tolist() == ["2024-06", "2024-07", "2024-08", "2024-09", "2024-10", "2024-11"]


def test_too_few_customers_is_refused():
    with pytest.raises(ValueError, match="at least 10"):
        sample.generate(customers=3)


# --- shape and values of the committed subscriptions -----------------------------------


def test_columns_are_exactly_the_documented_ones(rows, fx):
    assert list(rows.columns) == COLUMNS
    assert list(fx.columns) == ["currency", "month", "rate"]
    assert SUBSCRIPTIONS_CSV.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)


def test_customer_ids_keep_leading_zeros(rows):
    ids = rows["customer_id"]
    assert ids.str.fullmatch(r"C\d{5}").all()
    assert {"C00001", "C00017", "C03000"} <= set(ids)
    raw_lines = SUBSCRIPTIONS_CSV.read_text(encoding="utf-8").splitlines()
    assert raw_lines[1].split(",")[1] == "C00001"


def test_about_three_thousand_customers_with_constant_attributes(rows):
    assert rows["customer_id"].nunique() == 3000
    per_customer = rows.groupby("customer_id")[["customer_name", "currency", "size", "region"]].nunique()
    assert (per_customer == 1).all().all()
    assert rows.drop_duplicates("customer_id")["customer_name"].is_unique
    assert 7000 <= len(rows) <= 10000


def test_categorical_values(rows):
    assert set(rows["billing_period"]) == {"month", "quarter", "year"}
    assert set(rows["billing_interval_count"]) == {"1", "6"}
    assert set(rows.loc[rows["billing_interval_count"] == "6", "billing_period"]) == {"month"}
    assert 1 <= (rows["billing_interval_count"] == "6").sum() <= 100
    assert set(rows["size"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert set(rows["region"]) == {"North America", "EMEA", "APAC"}
    assert set(rows["product"]) == {"Core", "Analytics", "Automation", "Support Plus"}
    assert (rows["plan"].map(lambda plan: TIERS[plan][0]) == rows["product"]).all()
    assert rows["quantity"].str.fullmatch(r"[1-9]\d*").all()
    assert (rows.loc[rows["product"] == "Support Plus", "quantity"] == "1").all()
    assert rows["subscription_id"].str.fullmatch(r"S\d{6}").all()


def test_dates_are_iso_within_the_window_and_ordered(typed):
    assert typed["start_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert typed["end_date"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    assert typed["start_date"].min() == "2023-01-01"
    assert typed["start_date"].max() <= "2025-12-31"
    assert typed.loc[typed["end_date"] != "", "end_date"].max() <= "2025-12-31"
    assert (typed["end"] >= typed["start"]).all()
    assert 1 <= (typed["start_date"] == typed["end_date"]).sum() <= 5
    # mostly first of the month or mid-month
    day = typed["start_date"].str[8:]
    assert day.isin(["01", "15"]).mean() > 0.6


def test_periods_of_a_subscription_chain_without_overlap(typed):
    ordered = typed.sort_values(["subscription_id", "start", "end"])
    same = ordered["subscription_id"].eq(ordered["subscription_id"].shift())
    previous_end = ordered["end"].shift()
    assert (ordered.loc[same, "start"] >= previous_end[same]).all()
    assert (ordered.loc[same, "start"] == previous_end[same]).mean() > 0.95  # changes happen on the same date
    assert ordered.groupby("subscription_id")["customer_id"].nunique().max() == 1
    assert ordered.groupby("subscription_id")["product"].nunique().max() == 1


def test_amounts_are_plain_text_with_two_decimals(rows):
    assert rows["amount"].str.fullmatch(r"\d+\.\d{2}").all()
    assert "," not in "".join(rows["amount"])
    trials = rows["amount"] == "0.00"
    assert 5 <= trials.sum() <= 60
    assert set(rows.loc[trials, "product"]) == {"Core"}


def test_annual_prices_are_cheaper_per_month_than_monthly(typed):
    """Where a subscription moves from monthly to annual billing, it pays 10-17% less a month."""
    ordered = typed.sort_values(["subscription_id", "start"])
    nxt = ordered.groupby("subscription_id").shift(-1)
    switched = ordered[
        (ordered["billing_period"] == "month")
        & (ordered["billing_interval_count"] == "1")
        & (nxt["billing_period"] == "year")
        & (nxt["plan"] == ordered["plan"])
        & (ordered["cents"] > 0)
    ]
    assert len(switched) >= 20
    ratio = nxt.loc[switched.index, "cents"] / 12 / switched["cents"]
    assert 0.83 <= ratio.median() <= 0.90
    assert ratio.between(0.75, 0.92).mean() > 0.9


def test_tricky_and_special_names_are_present(rows):
    names = rows.drop_duplicates("customer_id")["customer_name"]
    for name in TRICKY + ["Café Ñandú Ltd"]:
        assert (names == name).sum() == 1, name
    assert names.str.contains("&", regex=False).sum() >= 20
    assert names.str.contains("'", regex=False).sum() >= 20
    assert names.str.contains(r"[^\x00-\x7f]").sum() >= 10
    assert names.str.contains(",", regex=False).sum() >= 1


def test_two_currencies_customer_shares_and_regions(rows):
    customers = rows.drop_duplicates("customer_id")
    assert set(customers["currency"]) == {"USD", "EUR"}
    assert 0.70 <= (customers["currency"] == "USD").mean() <= 0.80
    eur_regions = customers.loc[customers["currency"] == "EUR", "region"].value_counts(normalize=True)
    assert eur_regions["EMEA"] > 0.8
    sizes = customers["size"].value_counts(normalize=True)
    assert sizes["SMB"] > sizes["Mid-Market"] > sizes["Enterprise"] > 0.05


# --- FX ----------------------------------------------------------------------------------


def test_fx_covers_every_month_for_both_currencies(fx):
    months = [str(m) for m in pd.period_range("2023-01", "2025-12", freq="M")]
    for currency in ["USD", "EUR"]:
        assert fx.loc[fx["currency"] == currency, "month"].tolist() == months
    assert len(fx) == 72
    assert (fx.loc[fx["currency"] == "USD", "rate"] == "1.0000").all()
    eur = fx.loc[fx["currency"] == "EUR", "rate"]
    assert eur.str.fullmatch(r"1\.\d{4}").all()
    values = eur.astype(float)
    assert values.between(1.05, 1.12).all()
    assert values.diff().abs().max() < 0.03
    assert values.nunique() > 20


# --- dynamics, computed from the rows -----------------------------------------------------


def transitions(typed: pd.DataFrame) -> pd.DataFrame:
    """Consecutive periods of one subscription, the second starting when the first ends."""
    ordered = typed.sort_values(["subscription_id", "start"])
    nxt = ordered.groupby("subscription_id").shift(-1)
    pairs = ordered.assign(
        next_start=nxt["start"],
        next_qty=nxt["qty"],
        next_tier=nxt["tier"],
        next_cents=nxt["cents"],
        next_mrr=nxt["mrr"],
    )
    return pairs[pairs["next_start"].notna() & (pairs["next_start"] == pairs["end"]) & (pairs["cents"] > 0)]


def test_new_customers_sign_up_every_quarter(typed):
    first_start = typed.groupby("customer_id")["start"].min()
    counts = count_by_quarter(first_start)
    assert all(n >= 50 for n in counts.values()), counts
    assert (first_start == pd.Timestamp("2023-01-01")).sum() > 100  # an opening book


def test_upsell_and_contraction_every_quarter(typed):
    pairs = transitions(typed)
    more_seats = pairs[pairs["next_qty"] > pairs["qty"]]
    fewer_seats = pairs[pairs["next_qty"] < pairs["qty"]]
    upgrades = pairs[pairs["next_tier"] > pairs["tier"]]
    downgrades = pairs[pairs["next_tier"] < pairs["tier"]]
    for name, frame, least in [
        ("more seats", more_seats, 10),
        ("fewer seats", fewer_seats, 5),
        ("upgrade", upgrades, 1),
        ("downgrade", downgrades, 1),
    ]:
        counts = count_by_quarter(frame["end"])
        assert all(n >= least for n in counts.values()), (name, counts)
    assert set(zip(upgrades["plan"], upgrades["next_tier"], strict=True)) >= {("Core Starter", 1), ("Core Pro", 2)}
    assert (pairs["next_cents"] > pairs["cents"]).sum() > 10  # price uplifts


def test_larger_customers_expand_more_and_churn_less(typed):
    pairs = transitions(typed)
    customers = typed.drop_duplicates("customer_id").set_index("customer_id")["size"]
    expansions = pairs[pairs["next_mrr"] > pairs["mrr"]].groupby("customer_id").size()
    per_customer = expansions.reindex(customers.index, fill_value=0).groupby(customers).mean()
    assert per_customer["SMB"] < per_customer["Mid-Market"] < per_customer["Enterprise"]
    last_end = typed.groupby("customer_id")["end"].max()
    churned = (last_end < FAR_FUTURE).groupby(customers).mean()
    assert churned["SMB"] > churned["Mid-Market"] > churned["Enterprise"]


def test_cross_sell_every_quarter(subscriptions):
    """A product starts while the customer keeps another product and did not hold the new one."""
    pairs = subscriptions.merge(subscriptions, on="customer_id", suffixes=("", "_other"))
    kept = pairs[
        (pairs["product_other"] != pairs["product"])
        & (pairs["start_other"] < pairs["start"])
        & (pairs["end_other"] > pairs["start"])
    ]
    held_before = pairs[
        (pairs["product_other"] == pairs["product"])
        & (pairs["subscription_id_other"] != pairs["subscription_id"])
        & (pairs["start_other"] < pairs["start"])
        & (pairs["end_other"] >= pairs["start"])
    ]
    cross_sells = subscriptions[
        subscriptions["subscription_id"].isin(kept["subscription_id"])
        & ~subscriptions["subscription_id"].isin(held_before["subscription_id"])
    ]
    counts = count_by_quarter(cross_sells["start"])
    assert all(n >= 5 for n in counts.values()), counts


def test_product_swaps_and_dropped_add_ons(subscriptions):
    """A product ends on the day another starts while Core continues; add-ons end while Core continues."""
    core = subscriptions[subscriptions["product"] == "Core"]
    add_ons = subscriptions[subscriptions["product"] != "Core"]
    ended = add_ons[add_ons["end"] < FAR_FUTURE].merge(core, on="customer_id", suffixes=("", "_core"))
    ended = ended[(ended["start_core"] < ended["end"]) & (ended["end_core"] > ended["end"])]
    swaps = ended.merge(
        add_ons, left_on=["customer_id", "end"], right_on=["customer_id", "start"], suffixes=("", "_new")
    )
    swaps = swaps[swaps["product_new"] != swaps["product"]]
    assert len(swaps.drop_duplicates("subscription_id")) >= 50
    swap_counts = count_by_quarter(swaps["end"])
    assert all(n >= 1 for n in swap_counts.values()), swap_counts
    drops = ended[~ended["subscription_id"].isin(swaps["subscription_id"])].drop_duplicates("subscription_id")
    drop_counts = count_by_quarter(drops["end"])
    assert all(n >= 1 for n in drop_counts.values()), drop_counts


def test_churn_every_quarter_and_reactivation(typed):
    """Churn: every row of a customer has ended. Reactivation: rows again at least a month after all ended."""
    ordered = typed.sort_values(["customer_id", "start", "end"])
    covered_until = ordered.groupby("customer_id")["end"].cummax()
    previous_cover = covered_until.groupby(ordered["customer_id"]).shift()
    returns = ordered[previous_cover.notna() & (ordered["start"] >= previous_cover + pd.DateOffset(months=1))]
    assert returns["customer_id"].nunique() >= 100
    gaps_months = (returns["start"] - previous_cover[returns.index]).dt.days / 30.4
    assert gaps_months.min() >= 0.9 and gaps_months.max() <= 8
    react_counts = count_by_quarter(returns["start"])
    assert all(n >= 3 for q, n in react_counts.items() if q != "2023Q1"), react_counts  # 2023Q1: little churn yet

    churn_dates = pd.concat([previous_cover[returns.index], typed.groupby("customer_id")["end"].max()])
    churn_dates = churn_dates[churn_dates < FAR_FUTURE]
    counts = count_by_quarter(churn_dates)
    assert all(n >= 10 for n in counts.values()), counts


def test_parallel_subscriptions_of_one_product(subscriptions):
    pairs = subscriptions.merge(subscriptions, on=["customer_id", "product"], suffixes=("", "_other"))
    parallel = pairs[
        (pairs["subscription_id"] < pairs["subscription_id_other"])
        & (pairs["start"] < pairs["end_other"])
        & (pairs["start_other"] < pairs["end"])
    ]
    assert 5 <= parallel["customer_id"].nunique() <= 150
    assert "Core" in set(parallel["product"])


def test_monthly_logo_churn_and_net_revenue_retention(typed):
    """Month-end snapshots in each customer's own currency: logo churn 1-3% a month, NRR 100-115% a year."""
    month_ends = pd.period_range("2023-01", "2025-12", freq="M").to_timestamp(how="end").normalize()
    snapshots = {}
    for day in month_ends:
        in_force = typed[(typed["start"] <= day) & (typed["end"] > day)]
        snapshots[day] = in_force.groupby("customer_id")["mrr"].sum()
    mrr = pd.DataFrame(snapshots).fillna(0.0)
    active = mrr > 0
    churn = [
        (active.iloc[:, i - 1] & ~active.iloc[:, i]).sum() / active.iloc[:, i - 1].sum()
        for i in range(1, len(month_ends))
    ]
    assert 0.01 <= np.mean(churn) <= 0.03
    assert max(churn) < 0.05
    nrr = [
        mrr.iloc[:, i][active.iloc[:, i - 12]].sum() / mrr.iloc[:, i - 12][active.iloc[:, i - 12]].sum()
        for i in range(12, len(month_ends))
    ]
    assert 1.00 <= np.mean(nrr) <= 1.15, nrr
    assert 0.95 <= min(nrr) and max(nrr) <= 1.20, nrr
