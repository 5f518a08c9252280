"""
Settle the months of snapshot rows: the data window, rows after as_of, and months with several snapshot dates.

Rules (see :mod:`kit.ledger`): rows of months after ``as_of`` (or today) are excluded and
counted; a mid-month ``as_of`` excludes that month's rows dated after it; several snapshot
dates of one customer · product in a month are an error, or (``snapshot_dates="last"``) the
customer's latest date of the month is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit import parse, roles
from kit.errors import LoadError, ParameterError
from kit.kinds import _month_only
from kit.months import MONTH_ORDINAL, month_ordinals, ordinal_to_str
from kit.narrative import plural

if TYPE_CHECKING:
    from kit.kinds import LoadState


def _snapshot_dates(ctx: LoadState, rows: pd.DataFrame, mode: str, date_format=None) -> pd.DataFrame:
    """
    Find customer · product · months whose snapshot rows carry different dates; raise, or keep the last date's rows.

    Rows of one key on one date, and months written ``YYYY-MM``, are added, as the design says;
    only full dates that differ within a month for one key are weekly or daily snapshots, whose
    sum would be a fake level. Costs nothing unless some month of the file holds several dates
    (``_months`` keeps the rows' dates only then); then only the rows of those months are compared.
    The dates may also be in an attribute column beside ``month`` whose name means a date
    (``snapshot_date``, ``date``, ``as_of``: :func:`kit.roles.month_date_columns`); see
    :func:`_attribute_snapshot_dates`.
    """
    for column in roles.month_date_columns(ctx.attributes):
        rows = _attribute_snapshot_dates(ctx, rows, column, mode, date_format)
    if ctx.snapshot_days is None:
        return rows
    codes, days = ctx.snapshot_days
    ctx.snapshot_days = None
    positions = ctx.frame.index.get_indexer(rows.index)
    day = days.astype("datetime64[D]").view(np.int64)
    month = month_ordinals(days)
    valid = ~np.isnat(days)
    dates_in_month = pd.Series(day[valid]).groupby(month[valid]).nunique()
    several = np.zeros(len(days), dtype=bool)
    several[valid] = np.isin(month[valid], dates_in_month.index[dates_in_month.to_numpy() > 1])
    candidates = np.flatnonzero(several[codes[positions]])
    return _several_dates(ctx, rows, positions, candidates, day[codes[positions[candidates]]], mode, "month")


def _attribute_snapshot_dates(ctx: LoadState, rows: pd.DataFrame, column: str, mode: str, date_format) -> pd.DataFrame:
    """
    Run the several-snapshots check on an attribute column of dates beside ``month`` (weekly ``snapshot_date``).

    The check reads the column's raw values, whatever their format: several distinct non-blank
    values of it within one customer · product · month are several snapshots (``10/31/2026``,
    ``28.11.2026`` or ``n/a`` count as values too); one value per customer · product · month,
    or blanks beside a single value, leave it an attribute. ``raise`` names the column, the
    values (and the blanks beside them); ``last`` must order the values of the customer ·
    months concerned: they are parsed as ISO dates, else under ``date_format``, and values
    neither reads (or blanks among them) are an error naming the column and those values.
    Each distinct value is read once; the months holding several values are found on a
    bitmap of (month, value) codes, and only their rows are compared by key.
    """
    codes, uniques = parse.factorize(ctx.frame[column])
    if len(uniques) < 2:
        return rows
    positions = ctx.frame.index.get_indexer(rows.index)
    row_codes = codes[positions]
    month = rows[MONTH_ORDINAL].to_numpy().astype(np.int64)
    dated = row_codes >= 0
    if not dated.any():
        return rows
    low, high = int(month[dated].min()), int(month[dated].max())
    width = len(uniques)
    if (high - low + 1) * width <= 50_000_000:  # which values each month holds: a bitmap over (month, value)
        seen = np.zeros((high - low + 1) * width, dtype=bool)
        seen[(month[dated] - low) * width + row_codes[dated]] = True
        per_month = seen.reshape(high - low + 1, width).sum(axis=1)
        several = np.flatnonzero(per_month > 1) + low
    else:
        pairs = np.unique((month[dated] - low) * width + row_codes[dated])
        counts = np.bincount(pairs // width)
        several = np.flatnonzero(counts > 1) + low
    if not len(several):
        return rows
    candidates = np.flatnonzero(np.isin(month, several))  # blanks too: an error about them names them
    values = row_codes[candidates]
    keys = _date_keys(rows, candidates, np.where(values >= 0, values, np.nan))
    hit = _several_per_key(keys)
    if not hit.any():
        return rows
    texts = np.array([str(v) for v in uniques], dtype=object)
    if mode == "raise":
        _raise_several(ctx, rows, positions, candidates, keys, hit, column,
                       lambda vs: sorted({texts[int(v)] for v in vs if v == v}))  # fmt: skip
    concerned = _concerned(keys, hit)
    used = np.unique(values[concerned])
    days = _order_values(ctx, column, uniques, used, date_format)
    keys.loc[concerned, "value"] = days[values[concerned]]
    return _keep_last(ctx, rows, positions, candidates, keys, concerned)


def _order_values(ctx: LoadState, column: str, uniques, used: np.ndarray, date_format) -> np.ndarray:
    """Days (int64) of the values ``used`` of a date column, to order them: ISO, else ``date_format``; else an error."""
    blank = used < 0
    used = used[~blank]
    chosen = uniques.iloc[used].reset_index(drop=True)
    failed = None
    for pattern in dict.fromkeys([None, date_format]):
        try:
            parsed, bad, _ = parse.parse_dates_problems(chosen, what=column, date_format=pattern)
        except ValueError:  # mixed formats, not ISO, a bad pattern
            failed = list(chosen)
            continue
        if not len(bad):
            days = np.zeros(len(uniques), dtype=np.int64)
            days[used] = parse.as_days(np.asarray(parsed)).view(np.int64)
            if not blank.any():
                return days
            failed = []
            break
        failed = list(chosen.iloc[bad])
    shown = ", ".join(repr(str(v)) for v in failed[:6]) + (", …" if len(failed) > 6 else "")
    said = [f"values {shown} are not dates" if failed else "", "blank values" if blank.any() else ""]
    tried = "ISO (YYYY-MM-DD)" + (f" or date_format {date_format!r}" if date_format else "")
    raise LoadError(
        f"{ctx.raw.name}, column {column} (beside column month, which gives the month): "
        f"{' and '.join(s for s in said if s)} among the snapshot dates of a customer · month with several, so "
        f"snapshot_dates='last' cannot order them (read as {tried}).\n"
        "Give each row a date (pass date_format=, CLI --date-format, for dates not written YYYY-MM-DD), "
        "or give one row per customer · product · month."
    )


#: The exclusion of ``snapshot_dates="last"``: the month's last date is the customer's (see :func:`_several_dates`).
LAST_DATE_REASON = "snapshot rows before the last snapshot date of their month (snapshot_dates='last')"


def _date_keys(rows: pd.DataFrame, candidates: np.ndarray, values) -> pd.DataFrame:
    sub = rows.iloc[candidates]
    return pd.DataFrame({
        "customer": pd.factorize(sub["customer_id"].astype(str).to_numpy())[0],
        "product": pd.factorize(sub["product"].astype(str).to_numpy())[0],
        "month": sub[MONTH_ORDINAL].to_numpy(),
        "value": values,  # days, or value codes with NaN for blanks
    })  # fmt: skip


def _several_per_key(keys: pd.DataFrame) -> np.ndarray:
    """Per row: its customer · product · month holds several distinct (non-blank) values."""
    return keys.groupby(["customer", "product", "month"], sort=False)["value"].transform("nunique").to_numpy() > 1


def _concerned(keys: pd.DataFrame, hit: np.ndarray) -> np.ndarray:
    """Per row: its customer · month has a product with several dates (the only ones ``last`` changes)."""
    return keys.assign(hit=hit).groupby(["customer", "month"], sort=False)["hit"].transform("any").to_numpy()


def _raise_several(ctx, rows, positions, candidates, keys, hit, column, show) -> None:
    """Raise the error of ``snapshot_dates="raise"``: the first customer · product with several dates in a month."""
    sub = rows.iloc[candidates]
    first = int(np.flatnonzero(hit)[0])
    same = np.flatnonzero((keys[["customer", "product", "month"]] == keys.iloc[first][["customer", "product", "month"]])
                          .all(axis=1).to_numpy())  # fmt: skip
    values = keys["value"].to_numpy()[same]
    shown = show(values)
    blanks = int(pd.isna(values).sum())
    keys_hit = int(keys[hit].groupby(["customer", "product", "month"], sort=False).ngroups)
    row = sub.iloc[first]
    beside = " (beside column month, which gives the month)" if column != "month" else ""
    blank = f", and {plural(blanks, 'row')} with a blank {column}" if blanks else ""
    raise LoadError(
        f"{ctx.raw.name}, column {column}{beside}: customer {row['customer_id']!r}, product {row['product']!r} has "
        f"{len(shown)} snapshot dates in {ordinal_to_str(row[MONTH_ORDINAL])} ({', '.join(shown[:6])}"
        f"{', …' if len(shown) > 6 else ''}{blank}; rows "
        f"{', '.join(str(r) for r in ctx.raw.row_numbers[positions[candidates[same[:6]]]])}); "
        f"{plural(keys_hit, 'customer · product · month')} with several dates in all; adding "
        "weekly or daily snapshots would overstate MRR.\n"
        "Pass snapshot_dates='last' (CLI --snapshot-dates last) to use each "
        "month's last snapshot date, or give one row per customer · product · month."
    )


def _keep_last(ctx, rows, positions, candidates, keys, concerned) -> pd.DataFrame:
    """
    ``last``: in each customer · month ``concerned`` (a product has several dates), keep the customer's latest date.

    All the customer's products on that date are kept (a product absent on it was dropped
    during the month); its earlier rows of the month are excluded (counted).
    """
    part = keys[concerned]
    latest = part.groupby(["customer", "month"], sort=False)["value"].transform("max").to_numpy()
    earlier = candidates[np.flatnonzero(concerned)[part["value"].to_numpy() < latest]]
    if not len(earlier):
        return rows
    ctx.exclude_window(LAST_DATE_REASON, positions[earlier])
    return rows.loc[ctx.valid[rows.index]]


def _several_dates(ctx, rows, positions, candidates, candidate_days, mode: str, column: str) -> pd.DataFrame:
    """
    Of the ``candidates`` (rows of months with several dates), the keys with several: raise, or keep the last.

    ``raise`` stops on a customer · product with several dates in a month (added, they would
    overstate MRR). ``last`` keeps, per customer · month where some product has several dates,
    the rows of the customer's latest date in the month (all its products) and excludes its
    earlier rows (counted); customer · months where each product has one date keep all their
    rows, as without the option. Rows of months without several dates never reach it.
    """
    if not len(candidates):
        return rows
    keys = _date_keys(rows, candidates, candidate_days)
    hit = _several_per_key(keys)
    if not hit.any():
        return rows
    if mode == "raise":
        _raise_several(ctx, rows, positions, candidates, keys, hit, column,
                       lambda vs: sorted({str(np.datetime64(int(d), "D")) for d in vs}))  # fmt: skip
    return _keep_last(ctx, rows, positions, candidates, keys, _concerned(keys, hit))


#: The exclusion of snapshot rows of as_of's month whose own date is after as_of (see :func:`_snapshot_window`).
AFTER_AS_OF_REASON = "snapshot dated after as_of"


def _snapshot_window(ctx: LoadState, rows: pd.DataFrame, as_of_day, today, date_format=None):
    """
    Return the window's months of snapshot rows; rows after it excluded and counted.

    Rows of months after ``as_of`` (or after today's month) are excluded. With an ``as_of``
    before the last day of its month, rows of that month whose snapshot has a full date
    (``month`` written as a day, else a date column beside it: :func:`_snapshot_days`) after
    as_of are excluded too (``snapshot dated after as_of``): nothing after as_of enters a
    figure. If that leaves the month with no row, the as_of is an error (every customer would
    seem to churn).
    """
    months = rows[MONTH_ORDINAL].to_numpy()
    cap = month_ordinals(np.array([as_of_day if as_of_day is not None else today], dtype="datetime64[ns]"))[0]
    late = months > cap
    reason = "month after as_of" if as_of_day is not None else f"month after {today.date()} (in the future)"
    if late.any():
        ctx.exclude_window(reason, ctx.frame.index.get_indexer(rows.index[late]))
    in_cap = np.flatnonzero(months == cap)
    if (
        as_of_day is not None
        and len(in_cap)
        and as_of_day < pd.Period(as_of_day, "M").to_timestamp(how="end").normalize()
    ):
        days = _snapshot_days(ctx, ctx.frame.index.get_indexer(rows.index[in_cap]), date_format)
        after = in_cap[days > np.datetime64(as_of_day.date(), "D")]  # NaT compares False
        if len(after) == len(in_cap):
            first = str(days[~np.isnat(days)].min())
            raise ParameterError(
                f"{ctx.raw.name}: as_of {as_of_day.date()} is before every snapshot of {ordinal_to_str(cap)} "
                f"(the first is dated {first}): the snapshots say nothing of {ordinal_to_str(cap)} by as_of, so "
                f"every customer would seem to churn.\nPass an as_of on or after {first} (CLI --as-of), or one in an "
                "earlier month."
            )
        if len(after):
            _refuse_unknown_at_as_of(ctx, rows, months, cap, in_cap, after, as_of_day)
            ctx.exclude_window(AFTER_AS_OF_REASON, ctx.frame.index.get_indexer(rows.index[after]))
            late[after] = True
    months = months[~late]
    if not len(months):
        raise LoadError(f"{ctx.raw.name}: no rows in the window (every month is after {reason.split('after ')[1]})")
    if as_of_day is not None and cap > months.max():  # the snapshots say nothing of as_of's month
        file_last, asked = ordinal_to_str(months.max()), ordinal_to_str(cap)
        raise ParameterError(
            f"{ctx.raw.name}: as_of {as_of_day.date()} is in {asked}, after the last month of the snapshots "
            f"({file_last}): they say nothing of {asked}, so every customer would seem to churn.\n"
            f"Pass an as_of in {file_last} or earlier (CLI --as-of), or leave it out to end the window at {file_last}."
        )
    first, last = months.min(), (cap if as_of_day is not None else months.max())
    return months, pd.Period(ordinal_to_str(first), "M"), pd.Period(ordinal_to_str(last), "M")


def _refuse_unknown_at_as_of(ctx: LoadState, rows: pd.DataFrame, months, cap, in_cap, after, as_of_day) -> None:
    """
    Refuse a mid-month as_of leaving a customer of the month before with no snapshot of as_of's month dated by as_of.

    Its MRR on as_of is unknown, and leaving its later rows out
    would make it seem to churn. (A customer whose first snapshot is after as_of is simply
    not a customer yet.)
    """
    ids = rows["customer_id"].to_numpy()
    kept = np.setdiff1d(in_cap, after)
    unknown = np.setdiff1d(np.unique(ids[after]), np.unique(ids[kept]))
    if not len(unknown):
        return
    before = np.unique(ids[np.flatnonzero(months == cap - 1)])
    unknown = np.intersect1d(unknown, before)
    if not len(unknown):
        return
    month = ordinal_to_str(cap)
    shown = ", ".join(repr(str(c)) for c in unknown[:5]) + ("…" if len(unknown) > 5 else "")
    raise ParameterError(
        f"{ctx.raw.name}: as_of {as_of_day.date()} falls before the {month} snapshots of "
        f"{plural(len(unknown), 'customer')} active in {ordinal_to_str(cap - 1)} ({shown}): their MRR on as_of is "
        f"unknown, and leaving those snapshots out would make them seem to churn.\nPass an as_of at the end of "
        f"{month} or in an earlier month (CLI --as-of)."
    )


def _snapshot_days(ctx: LoadState, positions: np.ndarray, date_format) -> np.ndarray:
    """
    Return the snapshot date (``datetime64[D]``) of the rows at ``positions``, NaT where none is known.

    ``month`` written as a day gives it; a row whose month is ``YYYY-MM`` takes a date column
    beside it (:func:`kit.roles.month_date_columns`) if that column reads as dates (ISO, else
    ``date_format``; values neither reads stay unknown).
    """
    days = np.full(len(positions), np.datetime64("NaT"), dtype="datetime64[D]")
    for column in ["month", *roles.month_date_columns(ctx.attributes)]:
        unknown = np.flatnonzero(np.isnat(days))
        if not len(unknown):
            break
        codes, uniques = parse.factorize(ctx.frame[column].iloc[positions[unknown]].reset_index(drop=True))
        if not len(uniques):
            continue
        found = None
        for pattern in dict.fromkeys([None, date_format]):
            try:
                parsed, _, _ = parse.parse_dates_problems(uniques, what=column, date_format=pattern, allow_empty=True)
            except ValueError:
                continue
            found = parse.as_days(np.asarray(parsed))
            found[_month_only(uniques, pattern)] = np.datetime64("NaT")  # a month names no day
            break
        if found is not None:
            days[unknown] = np.append(found, np.datetime64("NaT"))[codes]
    return days
