"""
Parse the columns of each kind (snapshots, subscriptions) into typed rows, recording every problem.

The rows keep the source's index; each column is parsed once per distinct value where the
values repeat (months, currencies); the checks of the typed rows are pandera schemas whose
errors carry the user-facing reason. See :mod:`kit.ledger` for the rules of each kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit import parse, roles
from kit._fast.frame import _in_halves, _present
from kit.errors import LoadError
from kit.months import MONTH_ORDINAL, month_ordinals
from kit.narrative import plural
from kit.problems import ProblemLog
from kit.roles import OPTIONAL, REQUIRED
from kit.sources import RawTable
from kit.subscriptions import _PERIOD_ALIASES, MONTHS_IN, _subscription_mrr

if TYPE_CHECKING:
    import pandera.pandas as pa

PRODUCT_DEFAULT = "all"
EARLIEST_PLAUSIBLE = pd.Timestamp("1990-01-01")


def _pandera():
    """Return the pandera API, imported when first needed (its import costs a tenth of a second)."""
    import pandera.pandas

    return pandera.pandas


def _schema(kind: str) -> pa.DataFrameSchema:
    """Return the schema of parsed rows of ``kind``: :func:`kit.contracts.parsed_rows`, imported on first use."""
    from kit.contracts import parsed_rows

    return parsed_rows(kind)


# --- the working state of one load -------------------------------------------------------


class LoadState(ProblemLog):
    """The working state of one load: its problem log, plus what the parse steps hand on to the later steps."""

    def __init__(self, raw: RawTable, frame: pd.DataFrame, kind: str, on_invalid: str, today: pd.Timestamp):
        super().__init__(raw, frame, on_invalid)
        self.kind = kind
        self.today = today
        self.currencies: list[str] = []
        self.snapshot_days: tuple[np.ndarray, np.ndarray] | None = None  # row codes and dates, if a month has several
        known = set(REQUIRED[kind]) | set(OPTIONAL[kind]) | {"quantity"}  # a snapshot quantity is read, as a count
        self.attributes = [c for c in frame.columns if c not in known]
        #: The source states quantities and plans: the ledger carries them per key (the cause bridge reads them).
        self.has_quantity = "quantity" in frame.columns
        self.has_plan = "plan" in frame.columns
        if "plans" in self.attributes:
            raise LoadError(f"{raw.name}: a column is named 'plans', the name of the ledger's plans per customer · "
                            "product · month; rename it (mapping={'plans': 'plan_list'}, CLI --map "
                            "plans=plan_list)")  # fmt: skip
        self.cleaned_ids: pd.Series | None = None  # the cleaned customer ids (set by _parse_common)

    def validate(self, rows: pd.DataFrame, kind: str) -> None:
        """Run the pandera schema of ``kind`` lazily over the parsed rows and record every failure."""
        if kind == "snapshots" and _money_in_range(rows["mrr_cents"]):
            return  # the snapshot schema's only checks pass: pandera would report nothing
        pa = _pandera()
        schema = _schema(kind)
        checked = rows[[c for c in schema.columns if c in rows.columns]]
        if "end_date" in rows.columns:
            checked = checked.assign(start_date=rows["start_date"])
        try:
            schema.validate(checked, lazy=True, inplace=True)  # ``checked`` is ours: no copy of it
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            cases = cases[cases["index"].notna()]
            # a frame-wide check (end_date before start_date) fails once per column: keep its end_date case
            wide = (cases["schema_context"] == "DataFrameSchema") & cases["column"].notna()
            cases = cases[~(wide & (cases["column"] != "end_date"))]
            for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
                positions = self.frame.index.get_indexer(group["index"].astype("int64"))
                source_column = _source_column(column, check)
                self._add(positions, source_column, np.full(len(positions), str(check), dtype=object))

    def add_notes(self, candidates: pd.Index | None = None) -> None:
        """
        Note used rows identical in every column, and customer ids that differ only by case.

        ``candidates``: labels of the only used rows that can be identical to another (for
        snapshots, rows sharing their customer · product · month); ``None``: every used row.
        """
        valid = self.valid.to_numpy()
        if candidates is None:
            check = np.flatnonzero(valid)
        else:
            check = np.sort(self.frame.index.get_indexer(candidates))
        if len(check):
            duplicated = self.frame.iloc[check].astype(str).duplicated(keep=False).to_numpy()
            if duplicated.any():
                self.note("rows identical in every column (likely duplicates; both counted)", check[duplicated])
        ids = self.cleaned_ids
        if isinstance(ids.dtype, pd.CategoricalDtype) and not ids.hasnans:  # each distinct id once
            codes = ids.array.codes  # a view (``.cat.codes`` copies)
            present = np.flatnonzero(_present(codes if valid.all() else codes[valid], len(ids.cat.categories)))
            distinct = pd.Series(ids.cat.categories[present])
            lower = distinct.str.lower()
            collide = np.zeros(len(lower), dtype=bool) if pd.Index(lower).is_unique else (
                lower.duplicated(keep=False).to_numpy())  # fmt: skip
            if collide.any():
                clashing = np.zeros(len(ids.cat.categories), dtype=bool)
                clashing[present[collide]] = True
                self.note("customer ids that differ only by case (kept apart: ids are case-sensitive)",
                          np.flatnonzero(valid & clashing[codes]))  # fmt: skip
            return
        used = np.flatnonzero(valid)
        ids = ids.iloc[used]
        distinct = pd.Series(ids.unique())
        collide = distinct.groupby(distinct.str.lower()).transform("size") > 1
        if collide.any():
            clashing = set(distinct[collide])
            self.note(
                "customer ids that differ only by case (kept apart: ids are case-sensitive)",
                used[ids.isin(clashing).to_numpy()],
            )


def _money_in_range(cents: pd.Series) -> bool:
    """Whether integer cents pass the money checks of the schemas (0 … MAX_AMOUNT), tested by NumPy."""
    values = cents.to_numpy()
    return values.dtype == np.int64 and (
        not len(values) or (values.min() >= 0 and values.max() <= parse.MAX_AMOUNT * 100)
    )


def _source_column(column, check) -> str | None:
    if not isinstance(column, str):
        return "end_date" if "end_date" in str(check) else None
    return {"mrr_cents": "mrr", "amount_cents": "amount"}.get(column, column)


# --- parsing each kind -------------------------------------------------------------------


_TOTAL_ROW = "a total row, not a customer (remove it)"
_BROKEN_KEY = "a line break or NUL byte in a key field (a quoting fault? fix the file)"
_NUL_TEXT = "a NUL byte in the text (fix the file)"


def _check_text(ctx: LoadState) -> None:
    """Record total rows, and line breaks or NUL bytes in key fields or NUL bytes in attributes (see kit.roles)."""
    frame = ctx.frame
    for column in frame.columns:
        key = column in roles.KEY_COLUMNS
        flag = roles.has_break if key else roles.has_nul
        ctx.add_problems(column, *_same(roles.distinct_flags(frame[column], flag), _BROKEN_KEY if key else _NUL_TEXT))
    for column in ("customer_id", "product"):
        if column in frame.columns:
            ctx.add_problems(column, *_same(roles.distinct_flags(frame[column], roles.is_total), _TOTAL_ROW))


def _same(positions: np.ndarray, reason: str) -> tuple[np.ndarray, np.ndarray]:
    return positions, np.full(len(positions), reason, dtype=object)


def _parse_common(ctx: LoadState) -> pd.DataFrame:
    """Parse the columns both kinds share: ids, product, currency, attributes."""
    frame = ctx.frame
    _check_text(ctx)
    ids = parse.clean_text(frame["customer_id"])
    ctx.cleaned_ids = ids
    blank = (ids == "").to_numpy()
    ctx.add_reason_where("customer_id", blank, "blank customer id")
    rows = pd.DataFrame({"customer_id": ids}, index=frame.index, copy=False)
    if "product" in frame.columns:
        product = parse.clean_text(frame["product"])
        ctx.add_reason_where("product", (product == "").to_numpy(), "blank product")
        rows["product"] = product
    else:
        rows["product"] = PRODUCT_DEFAULT
    if "currency" in frame.columns:
        cur = parse.clean_text(frame["currency"]).astype(str).str.upper()
        ctx.add_reason_where("currency", (cur == "").to_numpy(), "missing currency")
        rows["currency"] = cur
    if ctx.attributes:  # at once: one column at a time fragments the frame (a warning a column past 100)
        attributes = {attribute: parse.clean_text(frame[attribute]) for attribute in ctx.attributes}
        rows = pd.concat([rows, pd.DataFrame(attributes, index=rows.index)], axis=1)
    return rows


def _check_status(ctx: LoadState, explicit: set[str]) -> None:
    """
    Stop on a status column holding rows that do not bill; note one where every row bills (see kit.roles).

    A row *with* an ``end_date`` (any non-blank text; a bad date is an invalid row later)
    that says ``canceled``/``ended``/``expired`` … is history; the same status on an ongoing
    row, a trial status on any row and a pause-like status on an ongoing row stop the load.
    """
    known = set(REQUIRED[ctx.kind]) | set(OPTIONAL[ctx.kind]) | set(roles.ROLES[ctx.kind])
    ended = None
    if "end_date" in ctx.frame.columns:
        ended = (parse.clean_text(ctx.frame["end_date"]).astype(str) != "").to_numpy()
    for column, values, positions in roles.status_columns(ctx.frame, explicit, known, ended):
        if positions is None:
            if all(roles.normalise_status(v) in roles.ACTIVE_LIKE for v in values):
                ctx.note(f"column {column!r} holds only {', '.join(values)} (the kit does not read status; "
                         "every row is taken as billing)", np.arange(ctx.n))  # fmt: skip
            else:
                ctx.note(f"column {column!r} holds {', '.join(values)} (the kit does not read status; final "
                         "statuses are on rows with an end_date, past_due bills: each row counts from start_date "
                         "to end_date)", np.arange(ctx.n))  # fmt: skip
            continue
        stopping = list(values.items())
        shown = ", ".join(f"{v!r} ({plural(n, 'row')})" for v, n in stopping[:8])
        shown += ", …" if len(stopping) > 8 else ""
        rows = ", ".join(str(r) for r in ctx.raw.row_numbers[np.sort(positions)[:5]])
        raise LoadError(
            f"{ctx.raw.name}, column {column}: statuses that are not billing: {shown} (e.g. rows {rows}); "
            "the kit does not "
            "read status, so trials, and cancelled or paused subscriptions without an end_date, would count as MRR.\n"
            "End (set end_date) or remove the rows that do not bill, or map the column to a plain attribute name "
            f"(mapping={{{column!r}: 'sub_{column}'}}, CLI --map {column}=sub_{column}) to acknowledge it is only an "
            "attribute."
        )


def _parse_snapshots(ctx, date_format, decimal, thousands, currency_symbols, thousands_grouping) -> pd.DataFrame:
    rows = _parse_common(ctx)
    months = _months(ctx, "month", date_format)
    money = {"decimal": decimal, "thousands": thousands, "currency_symbols": currency_symbols,
             "thousands_grouping": thousands_grouping}  # fmt: skip
    _check_decimal_mark(ctx, "mrr", money)
    cents, positions, reasons = parse.parse_money_problems(ctx.frame["mrr"], **money)
    ctx.add_problems("mrr", positions, reasons)
    rows["mrr_cents"] = pd.Series(cents, index=rows.index, copy=False)  # an array would be copied
    _note_rounding(ctx, "mrr", money)
    if ctx.has_quantity:  # a whole count; an empty cell is not stated (-1 here, NA in the ledger)
        column = ctx.frame["quantity"]
        values, reasons = parse.parse_count(column, default=-1)
        ctx.add_reasons("quantity", reasons)
        if pd.api.types.is_numeric_dtype(column.dtype):
            stated = column.notna().to_numpy()
        else:  # an empty cell takes the default: a second default tells the empty cells from a written -1
            stated = (values != -1) | (parse.parse_count(column, default=-2)[0] != -2)
        ctx.add_reason_where("quantity", stated & (values < 0) & pd.isna(reasons), "negative quantity")
        rows["quantity"] = np.where(stated, values, -1)
    rows[MONTH_ORDINAL] = pd.Series(months, index=rows.index, copy=False)
    return rows


def _months(ctx: LoadState, column: str, date_format) -> np.ndarray:
    """
    Parse a date column into month ordinals (int32), with its problems and date-range notes.

    Each distinct value is parsed once and the rows take its results through their codes:
    a snapshot file holds a few dozen distinct months in millions of rows. A ``date_format``
    is used for a column it fits; a column written all ISO (``YYYY-MM``, ``YYYY-MM-DD``) is
    read as ISO whatever the ``date_format`` (so ``--date-format`` for a ``snapshot_date``
    column leaves a ``YYYY-MM`` month column readable); a column mixing both is an error.
    """
    codes, uniques = parse.factorize(ctx.frame[column])
    if date_format is not None and len(uniques) and _all_iso(uniques):
        date_format = None
    try:
        days, positions, reasons = parse.parse_dates_problems(uniques, what=column, date_format=date_format,
                                                              serial_dates=_serial_dates(ctx.raw))  # fmt: skip
    except ValueError as exc:  # MixedDateFormats, or a bad date_format directive ('%Q')
        raise LoadError(f"{ctx.raw.name}, column {column}: {exc}") from None
    # one more entry, last, for the missing values (code -1)
    reason = np.full(len(uniques) + 1, None, dtype=object)
    reason[positions] = reasons
    reason[-1] = f"missing {column}"
    bad = pd.notna(reason)
    rows = np.flatnonzero(bad[codes]) if bad[:-1].any() else np.flatnonzero(codes < 0)
    ctx.add_problems(column, rows, reason[codes[rows]])
    days = np.append(days, np.datetime64("NaT", "D"))
    unit = np.datetime_data(days.dtype)[0]
    for note, flagged in (
        ("dates before 1990 (check them)", days < EARLIEST_PLAUSIBLE.to_datetime64().astype(f"datetime64[{unit}]")),
        (f"dates after {ctx.today.date()} (in the future; outside the window)",
         days > ctx.today.normalize().to_datetime64().astype(f"datetime64[{unit}]")),
    ):  # fmt: skip
        if flagged.any():
            ctx.note(note, np.flatnonzero(flagged[codes]))
    missing = np.isnat(days)
    known = np.where(missing, np.datetime64("1970-01-01", "D").astype(days.dtype), days)
    ordinals = np.where(missing, np.iinfo(np.int32).min, month_ordinals(known)).astype(np.int32)  # invalid: unused
    present = ~missing
    if len(np.unique(days[present])) > len(np.unique(ordinals[present])):  # a month with several dates
        dated = np.append(~_month_only(uniques, date_format), False)  # rows written as a month name no date
        full = np.where(dated, days, np.datetime64("NaT", "D").astype(days.dtype))
        ctx.snapshot_days = (codes.astype(np.int32, copy=True), full)  # which date each row has (for _snapshot_dates)
    codes = codes.astype(np.int32, copy=False)  # ours: the months replace the codes, a chunk at a time

    def months_of(part):
        for start in range(part.start, part.stop, 1 << 20):
            stop = min(part.stop, start + (1 << 20))
            codes[start:stop] = np.take(ordinals, codes[start:stop], mode="wrap")  # code -1: the last entry

    _in_halves(months_of, len(codes))
    return codes


def _all_iso(uniques: pd.Series) -> bool:
    """Every value is ISO text, ``YYYY-MM`` or ``YYYY-MM-DD`` (ISO is tried before a ``date_format``, per column)."""
    if uniques.dtype.kind in "mMiufb" or not pd.api.types.is_string_dtype(uniques.dtype):
        return False
    texts = pd.Series([v if isinstance(v, str) else "" for v in uniques], dtype=object)
    return bool(texts.str.fullmatch(r"\s*\d{4}-\d{2}(?:-\d{2})?\s*").all())


def _month_only(values: pd.Series, date_format) -> np.ndarray:
    """Which values name a month, not a day: ``YYYY-MM`` text, or any text under a ``date_format`` without a day."""
    if date_format is not None and not any(d in date_format for d in ("%d", "%j", "%e")):
        return np.ones(len(values), dtype=bool)
    if values.dtype.kind in "mM" or values.dtype == "object" and not len(values):
        return np.zeros(len(values), dtype=bool)
    texts = values.map(lambda v: v if isinstance(v, str) else "") if values.dtype == object else values.astype(str)
    return texts.str.fullmatch(r"\s*\d{4}[-/.]\d{1,2}\s*").to_numpy(dtype=bool, na_value=False)


def _parse_subscriptions(ctx, date_format, decimal, thousands, currency_symbols, thousands_grouping) -> pd.DataFrame:
    rows = _parse_common(ctx)
    frame = ctx.frame
    start = parse.days_to_ns(_dates(ctx, "start_date", date_format))
    end = parse.days_to_ns(_dates(ctx, "end_date", date_format, allow_empty=True))
    rows["start_date"], rows["end_date"] = start, end
    money = {"decimal": decimal, "thousands": thousands, "currency_symbols": currency_symbols,
             "thousands_grouping": thousands_grouping}  # fmt: skip
    _check_decimal_mark(ctx, "amount", money)
    cents, reasons = parse.parse_money(frame["amount"], **money)
    ctx.add_reasons("amount", reasons)
    rows["amount_cents"] = cents
    _note_rounding(ctx, "amount", money)
    period = parse.clean_text(frame["billing_period"]).astype(str).str.lower()
    rows["billing_period"] = period.map(lambda p: _PERIOD_ALIASES.get(p, p))
    for column in ("quantity", "billing_interval_count"):
        if column in frame.columns:
            values, reasons = parse.parse_count(frame[column])
            ctx.add_reasons(column, reasons)
        else:
            values = np.ones(len(frame), dtype=np.int64)
        rows[column] = values
    if "subscription_id" in frame.columns:
        rows["subscription_id"] = parse.clean_text(frame["subscription_id"])
    if "discount_amount" in frame.columns:
        _parse_discount(ctx, rows, money)
    _check_subscription_mrr(ctx, rows)
    _note_date_range(ctx, np.concatenate([start, end]))
    return rows


def _parse_discount(ctx: LoadState, rows: pd.DataFrame, money: dict) -> None:
    """
    Read ``discount_amount``: the discount on a row's ``amount × quantity`` for one billing period.

    Major units like ``amount`` (a blank is no discount). A row's MRR is then
    ``(amount × quantity − discount_amount) / (months_in × interval)``; a discount above
    ``amount × quantity`` or below 0 is an invalid row, never a negative MRR.
    """
    cents, reasons = parse.parse_money(ctx.frame["discount_amount"], **money)
    blank = reasons == "missing amount"
    reasons = np.where(blank, None, reasons)
    cents = np.where(blank, 0, cents)
    ctx.add_reasons("discount_amount", reasons)
    gross = rows["amount_cents"].to_numpy(dtype=object) * rows["quantity"].to_numpy(dtype=object)
    checked = np.flatnonzero(pd.isna(reasons) & (rows["amount_cents"].to_numpy() >= 0))
    over = checked[[int(cents[i]) > gross[i] or int(cents[i]) < 0 for i in checked]]
    reason = "discount_amount above amount × quantity (or negative)"
    ctx.add_problems("discount_amount", over, np.full(len(over), reason, dtype=object))
    rows["discount_cents"] = cents.astype(np.int64)


def _serial_dates(raw) -> bool:
    """Whether numbers in the source's date columns are dates (Excel serial days): in Excel only."""
    return raw.details.get("format") == "Excel"


def _check_subscription_mrr(ctx: LoadState, rows: pd.DataFrame) -> None:
    """
    Record rows whose MRR (amount × quantity per month) would pass the amount limit.

    A float estimate finds the candidates (vectorised); only rows near the limit are
    computed exactly. Rows already invalid in these columns are left to their own reasons.
    """
    limit = parse.MAX_AMOUNT * 100
    amount = rows["amount_cents"].to_numpy(dtype=np.float64)
    quantity = rows["quantity"].to_numpy(dtype=np.float64)
    interval = rows["billing_interval_count"].to_numpy(dtype=np.float64)
    period = rows["billing_period"]
    num = period.map({p: v[0] for p, v in MONTHS_IN.items()}).to_numpy(dtype=np.float64, na_value=np.nan)
    den = period.map({p: v[1] for p, v in MONTHS_IN.items()}).to_numpy(dtype=np.float64, na_value=np.nan)
    fine = (amount >= 0) & (amount <= limit) & (quantity >= 0) & (interval >= 1) & ~np.isnan(num)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        estimate = amount * quantity * den / (num * interval)
    candidates = np.flatnonzero(fine & (estimate > limit * (1 - 1e-9)))
    if not len(candidates):
        return
    exact = _subscription_mrr(rows.iloc[candidates], exact=True)
    over = candidates[[value > limit for value in exact]]
    reason = f"MRR (amount × quantity per month) above {parse.MAX_AMOUNT:,}"
    ctx.add_problems("amount", over, np.full(len(over), reason, dtype=object))  # rows share the frame's positions


def _dates(ctx: LoadState, column: str, date_format, allow_empty: bool = False) -> np.ndarray:
    """Parse a date column into ``datetime64[D]`` days, recording its problems."""
    try:
        days, positions, reasons = parse.parse_dates_problems(ctx.frame[column], what=column, date_format=date_format,
                                                              allow_empty=allow_empty,
                                                              serial_dates=_serial_dates(ctx.raw))  # fmt: skip
    except ValueError as exc:  # MixedDateFormats, or a bad date_format directive ('%Q')
        raise LoadError(f"{ctx.raw.name}, column {column}: {exc}") from None
    ctx.add_problems(column, positions, reasons)
    return days


def _check_decimal_mark(ctx: LoadState, column: str, money: dict) -> None:
    """Refuse an amount column whose decimal mark may separate thousands (a column error, lenient or not)."""
    if ctx.raw.decimal_known:
        return
    try:
        parse.check_decimal_mark(ctx.frame[column], decimal=money["decimal"], thousands=money["thousands"],
                                 currency_symbols=money["currency_symbols"])  # fmt: skip
    except parse.AmbiguousDecimalMark as exc:
        raise LoadError(f"{ctx.raw.name}, column {column}: {exc}") from None


def _note_rounding(ctx: LoadState, column: str, money: dict) -> None:
    """Note the amounts with more than two decimals under the parse options in use (``money``)."""
    ctx.note(f"{column} with more than 2 decimals (rounded half-even to the cent)",
             parse.rounded_positions(ctx.frame[column], **money))  # fmt: skip


def _note_date_range(ctx: LoadState, days: np.ndarray) -> None:
    days = np.asarray(days)
    unit = np.datetime_data(days.dtype)[0]  # compare in the days' own unit: no cast of the array
    n = ctx.n
    old = np.flatnonzero(days < EARLIEST_PLAUSIBLE.to_datetime64().astype(f"datetime64[{unit}]")) % n  # NaT: False
    future = np.flatnonzero(days > ctx.today.normalize().to_datetime64().astype(f"datetime64[{unit}]")) % n
    ctx.note("dates before 1990 (check them)", np.unique(old))
    ctx.note(f"dates after {ctx.today.date()} (in the future; outside the window)", np.unique(future))
