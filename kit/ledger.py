"""
Turn a raw source into the ledger: validated, normalised to MRR, in integer cents.

The ledger has one row per ``customer_id · product · month`` with ``mrr_cents`` (int64,
reporting currency) and the customer attributes of that month (``segment``, ``plan``,
…). A month with no row means zero MRR. It comes with a :class:`DataQuality` record in
which every input row is accounted for: rows read = rows used + rows excluded.

Two input shapes reach it (see DESIGN.md, "The ledger"):

* **snapshots**: ``customer_id, month, product, mrr`` with ``mrr`` in major units;
* **subscriptions**: ``customer_id, start_date, end_date, amount, billing_period`` (+
  ``product, quantity, billing_interval_count, currency, plan, subscription_id``);
  ``end_date`` is exclusive and empty while the subscription runs. The MRR of a month is
  the sum over subscriptions in force on its last day of
  ``amount × quantity / (months_in(billing_period) × billing_interval_count)``, rounded
  half-even to the cent per subscription-month.

Policies chosen where DESIGN.md leaves room (also stated in the report's methodology):

* an empty ``quantity`` or ``billing_interval_count`` cell means 1, like a missing column;
* amounts with more than two decimals are rounded half-even to the cent (counted); a text
  amount column whose decimal mark may as well separate thousands (``1.200``, ``2.500``
  and no amount written otherwise, no thousands separator stated) is an error naming the
  column and how to settle it (:func:`kit.parse.check_decimal_mark`);
* the window never runs past the day the kit runs: the default ``as_of`` is the latest
  date in the file but not after today, and snapshot rows after ``as_of`` are excluded
  and counted; dates after today or before 1990 are counted as warnings;
* ``as_of`` is ISO ``YYYY-MM-DD`` text (or a date through the API), never guessed; an
  ``as_of`` after today is an error: the window never runs into the future;
* customer attributes of a month are those of the customer's largest row that month,
  so every row of one customer · month carries the same segment;
* which column plays which role (synonyms such as ``seats`` for ``quantity``, taken with a
  note), total rows and line breaks or NUL bytes in key fields: see :mod:`kit.roles`;
* snapshot rows of one customer · product on different dates of one month (weekly or daily
  snapshots) are an error by default; ``snapshot_dates="last"`` uses, per customer · month
  where some product has several dates, the rows of the customer's latest date in the month
  (all its products: a product absent on that date was dropped) and excludes the customer's
  earlier rows of the month (counted); other customer · months keep all their rows.
  Rows whose month is written ``YYYY-MM`` name no date and are always added, unless a
  date-named column beside ``month`` (``snapshot_date``) holds several distinct values for
  one customer · product · month, whatever their format: the same error, naming the column
  (``last`` orders its values as ISO dates, else under ``date_format``, or says it cannot);
* ``date_format`` is tried per column after ISO: a column written all ISO is read as ISO;
* snapshot rows of as_of's month dated after as_of (``month`` or ``snapshot_date`` a full
  date) are excluded and counted (``snapshot dated after as_of``), before ``last`` picks a date;
* for snapshots, an ``as_of`` whose month is after the file's last month is an error naming
  both months (the file says nothing of that month; every customer would seem to churn); an
  ``as_of`` inside the file's months ends the window there, later rows excluded and counted;
* for subscriptions, the window's last month is measured on ``as_of`` itself (in force on
  as_of: ``start_date <= as_of < end_date``), a reading of the design's "the window runs to
  as_of": nothing after as_of enters any figure (a subscription starting later is noted
  and contributes nothing; one ending later is still in force). Every other month is
  measured on its last day. When as_of is not the month's last day, the data-quality details
  say so (``window note``: "last month YYYY-MM measured on as_of YYYY-MM-DD, not its last
  day"); the month keeps its row, and a quarter or year ending with it keeps its row too,
  measured on as_of;
* ``fx_mode="constant"`` (the default) converts every month at the rate of the window's
  last month, so exchange-rate moves create no expansion or contraction: the kit
  measures what customers bought. ``fx_mode="monthly"`` converts each month at its own
  rate (what the billing was worth that month); the report shows the difference.

FX tables and their base. A table's rates say what one unit of a currency is worth in the
table's *base*: the currency whose rate is 1 in every month it is listed. When the base
is the reporting currency (or the table lists neither a base nor the reporting currency,
and is then read as based on the reporting currency, as its rates are documented), an
amount is ``amount × rate[currency, month]``. Otherwise the reporting currency must be in
the table and amounts are converted through the base:
``amount × rate[currency, month] / rate[reporting, month]``, in exact fractions, rounded
half-even to the cent once, and noted. A table based on another currency that does not list
the reporting currency (or with several currencies at 1 and not the reporting one) is refused.

Integer limits. Amounts are at most :data:`kit.parse.MAX_AMOUNT` in major units, and so is
the MRR of one subscription (amount × quantity per month) and an amount after conversion;
larger ones are row errors. The rows of one customer · product · month are added in
int64; a key whose sum would pass 2**53 cents (beyond which the engine's sums are not
exact) is an error naming the key and its rows. Nothing wraps round.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit import parse, roles
from kit.errors import LoadError, ParameterError, ValidationError
from kit.narrative import plural
from kit.roles import OPTIONAL, REQUIRED, SYNONYMS  # noqa: F401 - SYNONYMS: part of the API
from kit.sources import RawTable, categorical_of, normalise_column, read_source

if TYPE_CHECKING:
    import pandera.pandas as pa

KINDS = ("snapshots", "subscriptions")
ON_INVALID = ("raise", "quarantine")
FX_MODES = ("monthly", "constant")
SNAPSHOT_DATES = ("raise", "last")
BILLING_PERIODS = ("day", "week", "month", "quarter", "half-year", "year")
#: Months in one billing period, as a fraction (numerator, denominator).
MONTHS_IN = {"day": (12, 365), "week": (12, 52), "month": (1, 1), "quarter": (3, 1), "half-year": (6, 1), "year": (12, 1)}
_PERIOD_ALIASES = {
    "daily": "day", "days": "day", "weekly": "week", "weeks": "week", "monthly": "month", "months": "month",
    "quarterly": "quarter", "quarters": "quarter", "half_year": "half-year", "halfyear": "half-year",
    "half-yearly": "half-year", "semiannual": "half-year", "semi-annual": "half-year", "semi-annually": "half-year",
    "annual": "year", "annually": "year", "yearly": "year", "years": "year",
}  # fmt: skip
PRODUCT_DEFAULT = "all"
#: The parsed rows' column of months since 1970-01 (a space: never the name of a normalised source column).
MONTH_ORDINAL = "month ordinal"
EARLIEST_PLAUSIBLE = pd.Timestamp("1990-01-01")


# --- the result ---------------------------------------------------------------------


@dataclass
class DataQuality:
    """
    What happened to every input row, and what in the data deserves a second look.

    Attributes
    ----------
    source : str
        The source as errors name it.
    details : dict
        Format, sheet, delimiter, encoding, kind, parameters that shaped the ledger.
    rows_read, rows_used : int
        Input rows, and those that entered the ledger (``read = used + excluded``).
    excluded : DataFrame
        ``reason, rows, examples``: rows left out, one reason per row.
    problems : DataFrame
        ``row, column, value, reason``: every problem found (a row may have several).
    notes : DataFrame
        ``note, count, examples``: valid but noteworthy rows (duplicates, overlaps, …).
    """

    source: str
    details: dict
    rows_read: int
    rows_used: int
    excluded: pd.DataFrame
    problems: pd.DataFrame
    notes: pd.DataFrame
    facts: dict = field(default_factory=dict)

    @property
    def rows_excluded(self) -> int:
        """Rows left out of the ledger."""
        return int(self.excluded["rows"].sum()) if len(self.excluded) else 0

    def table(self) -> pd.DataFrame:
        """Return the data-quality table: one ``item, value`` row per fact, exclusion and note."""
        items = [("source", self.source)]
        items += [(k, str(v)) for k, v in self.details.items() if v is not None]
        items += [("rows read", f"{self.rows_read:,}"), ("rows used", f"{self.rows_used:,}")]
        items += [("rows excluded", f"{self.rows_excluded:,}")]
        items += [(f"excluded: {r.reason}", f"{r.rows:,}") for r in self.excluded.itertuples()]
        items += [(k, str(v)) for k, v in self.facts.items()]
        items += [(f"note: {n.note}", f"{n.count:,}") for n in self.notes.itertuples()]
        return pd.DataFrame(items, columns=["item", "value"])


@dataclass
class Ledger:
    """
    The canonical input of the engine.

    Attributes
    ----------
    frame : DataFrame
        ``customer_id`` (categorical), ``product`` (categorical), ``month`` (period[M]),
        ``mrr_cents`` (int64, > 0), then attribute columns (categorical). One row per
        customer · product · month; sorted by customer, month, product.
    kind : {"snapshots", "subscriptions"}
        Decides the baseline: for snapshots the first period of the window has no
        movements; subscription periods hold the whole history.
    first_month, last_month : Period
        The data window (see DESIGN.md, "The data window").
    currency : str or None
        The reporting currency, where the data names one.
    quality : DataQuality
    """

    frame: pd.DataFrame
    kind: str
    first_month: pd.Period
    last_month: pd.Period
    currency: str | None
    quality: DataQuality

    @property
    def attributes(self) -> list[str]:
        """Names of the customer attribute columns."""
        return [c for c in self.frame.columns if c not in ("customer_id", "product", "month", "mrr_cents")]

    def monthly_mrr(self) -> pd.DataFrame:
        """Return ``month, mrr_cents, customers`` for every month of the window (zeros included)."""
        months = pd.period_range(self.first_month, self.last_month, freq="M")
        grouped = self.frame.groupby("month", observed=True).agg(
            mrr_cents=("mrr_cents", "sum"), customers=("customer_id", "nunique")
        )
        out = grouped.reindex(months, fill_value=0).rename_axis("month").reset_index()
        return out.astype({"mrr_cents": "int64", "customers": "int64"})


# --- schemas (pandera): the typed rows, after parsing ----------------------------------------


def _pandera():
    """The pandera API, imported when first needed (its import costs a tenth of a second)."""
    import pandera.pandas

    return pandera.pandas


def _schema(kind: str) -> pa.DataFrameSchema:
    """Return the pandera schema of parsed rows of ``kind``; checks carry the user-facing reason."""
    pa = _pandera()
    money_checks = [
        pa.Check(lambda s: s >= 0, error="negative amount (credits and refunds are not MRR)"),
        pa.Check(lambda s: s <= parse.MAX_AMOUNT * 100, error=f"amount above {parse.MAX_AMOUNT:,}"),
    ]
    if kind == "snapshots":
        return pa.DataFrameSchema({"mrr_cents": pa.Column("int64", money_checks)}, name="snapshot rows")
    return pa.DataFrameSchema(
        {
            "amount_cents": pa.Column("int64", money_checks),
            "billing_period": pa.Column(
                checks=pa.Check(lambda s: s.isin(BILLING_PERIODS), error=f"not one of {', '.join(BILLING_PERIODS)}")
            ),
            "quantity": pa.Column("int64", pa.Check(lambda s: s >= 0, error="negative quantity")),
            "billing_interval_count": pa.Column(
                "int64", pa.Check(lambda s: s >= 1, error="billing_interval_count must be 1 or more")
            ),
            "end_date": pa.Column("datetime64[ns]", nullable=True),
        },
        checks=[pa.Check(lambda df: ~(df["end_date"] < df["start_date"]), error="end_date before start_date")],
        name="subscription rows",
    )


# --- loading ----------------------------------------------------------------------------


def load_ledger(
    source,
    *,
    kind: str | None = None,
    mapping: dict[str, str] | None = None,
    defaults: dict[str, object] | None = None,
    as_of=None,
    fx=None,
    fx_mode: str = "constant",
    currency: str | None = None,
    on_invalid: str = "raise",
    date_format: str | None = None,
    decimal: str = ".",
    thousands: str | None = None,
    currency_symbols: bool = False,
    thousands_grouping: str = "western",
    table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    header_row: int = 0,
    sep: str | None = None,
    encoding: str = "utf-8",
    snapshot_dates: str = "raise",
    today: date | None = None,
) -> Ledger:
    """
    Load a source into a validated :class:`Ledger`.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV, Excel, Parquet or SQLite file, a SQLAlchemy URL (with ``table`` or
        ``query``), or a DataFrame.
    kind : {"snapshots", "subscriptions"}, optional
        The input shape; detected from the columns when omitted.
    mapping : dict, optional
        Source column → kit column, e.g. ``{"monthly_amount": "amount"}``.
    defaults : dict, optional
        Constant values for columns the source lacks, e.g. ``{"billing_period": "month"}``.
    as_of : str or date, optional
        Last day of the window (its month is the last month, measured on as_of for
        subscriptions): ``YYYY-MM-DD`` text or a ``date``/``Timestamp``; not after ``today``;
        for snapshots, not in a month after the file's last.
    fx : str, Path or DataFrame, optional
        FX table ``currency, month, rate``: one unit of ``currency`` is ``rate`` units of
        the reporting currency.
    fx_mode : {"constant", "monthly"}
        Every month at the rate of the window's last month (default), or each month at its own rate.
    currency : str, optional
        The reporting currency (default: the only currency, or the one whose FX rate is 1).
    on_invalid : {"raise", "quarantine"}
        Invalid rows are an error listing every problem, or excluded and counted.
    date_format : str, optional
        ``strftime`` pattern for non-ISO dates (never guessed).
    decimal, thousands, currency_symbols, thousands_grouping
        How to read text amounts; see :func:`kit.parse.parse_money`
        (``thousands_grouping="indian"`` accepts ``12,34,567.00``).
    table, query, sheet, header_row, sep, encoding
        How to read the source; see :func:`kit.sources.read_source`.
    snapshot_dates : {"raise", "last"}
        Snapshot rows of one customer · product on different dates of one month (weekly or
        daily snapshots): an error (default), or only the rows of the customer's last snapshot
        date of the month (all its products) are used, its earlier rows excluded and counted.
    today : date, optional
        The run date (for the as_of cap and future-date warnings); tests pin it.

    Returns
    -------
    Ledger

    Raises
    ------
    LoadError
        Structural faults: missing file, unreadable bytes, missing columns, no rows.
    ValidationError
        Invalid rows with ``on_invalid="raise"``; ``.problems`` lists them all.
    """
    if on_invalid not in ON_INVALID:
        raise ParameterError(f"on_invalid must be one of {', '.join(ON_INVALID)}, not {on_invalid!r}")
    thousands = _check_number_marks(decimal, thousands)
    if thousands_grouping not in parse.THOUSANDS_GROUPINGS:
        raise ParameterError(f"thousands_grouping must be one of {', '.join(parse.THOUSANDS_GROUPINGS)}, "
                             f"not {thousands_grouping!r}")  # fmt: skip
    if thousands_grouping != "western" and not thousands:
        raise ParameterError(f"thousands_grouping={thousands_grouping!r} needs a thousands separator (thousands=, "
                             "CLI --thousands)")  # fmt: skip
    if fx_mode not in FX_MODES:
        raise ParameterError(f"fx_mode must be one of {', '.join(FX_MODES)}, not {fx_mode!r}")
    if kind is not None and kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if snapshot_dates not in SNAPSHOT_DATES:
        raise ParameterError(f"snapshot_dates must be one of {', '.join(SNAPSHOT_DATES)}, not {snapshot_dates!r}")
    today = pd.Timestamp(today or date.today())
    as_of_day = parse_as_of(as_of, today)

    raw = read_source(source, table=table, query=query, sheet=sheet, header_row=header_row, sep=sep, encoding=encoding)
    frame, explicit = _apply_mapping(raw, mapping, defaults)
    kind = kind or _detect_kind(raw.name, frame)
    frame, column_notes = roles.take_synonyms(raw.name, frame, kind, explicit)
    _check_columns(raw.name, frame, kind)
    ctx = _Context(raw, frame, kind, on_invalid, today)
    for text in column_notes:  # said once per column; counted over the rows it concerns (all)
        ctx.note(text, np.arange(ctx.n))
    if kind == "subscriptions":
        _check_status(ctx, explicit)
    if kind == "snapshots":
        rows = _parse_snapshots(ctx, date_format, decimal, thousands, currency_symbols, thousands_grouping)
    else:
        rows = _parse_subscriptions(ctx, date_format, decimal, thousands, currency_symbols, thousands_grouping)
    ctx.validate(rows, kind)
    ctx.settle()  # raises in strict mode; drops invalid rows in quarantine mode
    if not ctx.valid.all():
        rows = rows.loc[ctx.valid]
    if not len(rows):
        raise ctx.no_valid_rows()
    if kind == "snapshots":
        # the window first: a snapshot after as_of is not the month's last one
        months, first, last = _snapshot_window(ctx, rows, as_of_day, today, date_format)
        if len(months) < len(rows):
            rows = rows.loc[ctx.valid[rows.index]]
        rows = _snapshot_dates(ctx, rows, snapshot_dates, date_format)
        months = rows[MONTH_ORDINAL].to_numpy()
    else:
        first, last, as_of_day = _subscription_window(rows, as_of_day, today, ctx.raw.name)
        rows, months = _expand_subscriptions(ctx, rows, last, as_of_day)
    reporting, amounts, rows, months = _convert_currency(ctx, rows, months, fx, fx_mode, currency, last)
    if MONTH_ORDINAL not in rows.columns:
        rows[MONTH_ORDINAL] = months
    rows, amounts = _check_key_sums(ctx, rows, amounts)
    del months  # _build_frame takes the months out of rows, and frees them once used
    ledger_frame, shared = _build_frame(rows, amounts, ctx.attributes)
    # identical snapshot rows share their customer · product · month: only those need comparing
    ctx.add_notes(rows.index[shared] if kind == "snapshots" else None)
    details = {"kind": kind, **raw.details, "reporting currency": reporting, "FX mode": fx_mode if fx is not None else None}
    if kind == "subscriptions" and as_of_day < last.to_timestamp(how="end").normalize():
        details["window note"] = (f"last month {last} measured on as_of {as_of_day.date()}, not its last day "
                                  "(nothing after as_of enters any figure)")  # fmt: skip
    facts = {
        "window": f"{first} to {last}",
        "customers": f"{len(ledger_frame['customer_id'].cat.categories):,}",  # only those present
        "products": ", ".join(map(str, ledger_frame["product"].cat.categories)),
        "currencies": ", ".join(ctx.currencies) or "not stated",
    }
    quality = ctx.quality(details, facts)
    del ctx, raw, frame, rows, amounts
    _release_arrow_memory()  # the source's columns: their memory is free for the engine to reuse
    return Ledger(ledger_frame, kind, first, last, reporting, quality)


#: Decimal marks of text amounts.
DECIMAL_MARKS = (".", ",")
_NOT_THOUSANDS = "+-()"  # signs and the brackets of negative amounts


def _check_number_marks(decimal, thousands) -> str | None:
    """
    Check the decimal mark and the thousands separator; return the separator (``None``: none).

    The decimal mark is ``.`` or ``,``. The thousands separator is empty or ``None`` (none) or
    one character that is not a letter, digit, control character, sign or bracket, and not
    the decimal mark: ``,`` ``.`` space ``'`` NBSP, narrow NBSP, ``_`` and the like.
    """
    import unicodedata

    if not isinstance(decimal, str) or decimal not in DECIMAL_MARKS:
        raise ParameterError(f"decimal must be '.' or ',' (the decimal mark of amounts), not {decimal!r} "
                             "(CLI --decimal)")  # fmt: skip
    if thousands is None or thousands == "":
        return None
    if not isinstance(thousands, str) or len(thousands) != 1:
        raise ParameterError(f"thousands must be one character (the thousands separator of amounts, e.g. ',' "
                             f"or ' '), not {thousands!r} (CLI --thousands)")  # fmt: skip
    if unicodedata.category(thousands)[0] in "LNC" or thousands in _NOT_THOUSANDS:
        raise ParameterError(f"thousands={thousands!r} cannot separate thousands (a letter, digit, control "
                             "character, sign or bracket); pass one of , . ' _ space or NBSP (CLI --thousands)")  # fmt: skip
    if thousands == decimal:
        other = "," if decimal == "." else "."
        raise ParameterError(f"thousands={thousands!r} is also the decimal mark (decimal={decimal!r}); the two "
                             f"marks must differ, e.g. thousands={thousands!r}, decimal={other!r} "
                             f"(CLI --thousands {thousands} --decimal {other})")  # fmt: skip
    return thousands


def _release_arrow_memory() -> None:
    """Give memory Arrow has freed back to the system (Arrow's allocator keeps it otherwise)."""
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def parse_as_of(as_of, today) -> pd.Timestamp | None:
    """
    Return the last day of the window: ISO ``YYYY-MM-DD`` text or a date, not after ``today``.

    Other text (``03/04/2024``, ``2024-03``) is refused, never guessed, as dates are elsewhere.

    >>> parse_as_of("2024-02-29", today=date(2024, 3, 1))
    Timestamp('2024-02-29 00:00:00')
    """
    today = pd.Timestamp(today)
    if as_of is None:
        return None
    if isinstance(as_of, str):
        text = as_of.strip()
        if not _ISO_DAY.fullmatch(text):
            raise ParameterError(f"as_of {as_of!r} is not a date in the form YYYY-MM-DD "
                                 "(other forms are never guessed)")  # fmt: skip
        try:
            day = pd.Timestamp(date.fromisoformat(text))
        except (ValueError, OverflowError):
            raise ParameterError(f"as_of {as_of!r} is not a valid date (YYYY-MM-DD)") from None
    elif isinstance(as_of, (date, np.datetime64)) and not pd.isna(as_of):  # datetime and Timestamp are dates
        day = pd.Timestamp(as_of)
        if day.tzinfo is not None:
            day = day.tz_convert("UTC").tz_localize(None)
        day = day.normalize()
    else:
        raise ParameterError(f"as_of must be YYYY-MM-DD text or a date, not {as_of!r}")
    if day > today.normalize():
        raise ParameterError(f"as_of {day.date()} is after today ({today.date()}): "
                             "the window cannot run into the future")  # fmt: skip
    if day < pd.Timestamp(str(parse.FIRST_DAY)):
        raise ParameterError(f"as_of {day.date()} is before {parse.FIRST_DAY}, the earliest date the kit can hold")
    return day.as_unit("ns")


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _apply_mapping(raw: RawTable, mapping, defaults) -> tuple[pd.DataFrame, set[str]]:
    """Rename mapped columns and add defaults; return the frame and the names the caller chose (not to be guessed)."""
    frame = raw.frame
    explicit: set[str] = set()
    if mapping:
        mapping = {normalise_column(k): normalise_column(v) for k, v in mapping.items()}
        absent = [k for k in mapping if k not in frame.columns]
        if absent:
            raise LoadError(
                f"{raw.name}: the mapping names columns the file does not have: {', '.join(absent)} "
                f"(columns found: {', '.join(frame.columns)})"
            )
        frame = frame.rename(columns=mapping)
        explicit |= set(mapping) | set(mapping.values())
        if frame.columns.duplicated().any():
            dup = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise LoadError(f"{raw.name}: after the mapping, several columns are named {', '.join(dup)}")
    for column, value in (defaults or {}).items():
        column = normalise_column(column)
        if column not in frame.columns:
            frame = frame.assign(**{column: value})
            explicit.add(column)
    return frame, explicit


def _detect_kind(name: str, frame: pd.DataFrame) -> str:
    if "start_date" in frame.columns:
        return "subscriptions"
    if "month" in frame.columns:
        return "snapshots"
    guessed = roles.kind_from_synonyms(frame.columns)
    if guessed:
        return guessed
    raise LoadError(
        f"{name}: cannot tell the kind of data: snapshots need {', '.join(REQUIRED['snapshots'])}; "
        f"subscriptions need {', '.join(REQUIRED['subscriptions'])} (columns found: {', '.join(frame.columns)}); "
        "pass kind= and a mapping for differently named columns"
        + _HEADER_HINT
    )


def _check_columns(name: str, frame: pd.DataFrame, kind: str) -> None:
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if not missing:
        return
    suggestions = roles.suggestions(frame, missing)
    message = (
        f"{name}: missing required columns for {kind}: {', '.join(missing)} "
        f"(columns found: {', '.join(frame.columns)})"
    )
    if suggestions:
        message += f"; if they are named differently, pass mapping={suggestions!r}"
    if kind == "subscriptions" and "billing_period" in missing:
        message += "; a file of monthly amounts can pass defaults={'billing_period': 'month'}"
    if len(missing) == len(REQUIRED[kind]) or len(missing) > 2:
        message += _HEADER_HINT
    raise LoadError(message)


_HEADER_HINT = "; if the header is not on the first row, pass header_row= (CLI --header-row)"


# --- the working state of one load -------------------------------------------------------


class _Context:
    """Problems, exclusions and notes gathered while one source is loaded."""

    def __init__(self, raw: RawTable, frame: pd.DataFrame, kind: str, on_invalid: str, today: pd.Timestamp):
        self.raw = raw
        self.frame = frame
        self.kind = kind
        self.on_invalid = on_invalid
        self.today = today
        self.n = len(frame)
        self.valid = pd.Series(True, index=frame.index)
        self.problem_parts: list[pd.DataFrame] = []
        self.window_excluded: dict[str, np.ndarray] = {}
        self.notes: list[tuple[str, int, str]] = []
        self.currencies: list[str] = []
        self.snapshot_days: tuple[np.ndarray, np.ndarray] | None = None  # row codes and dates, if a month has several
        known = set(REQUIRED[kind]) | set(OPTIONAL[kind])
        self.attributes = [c for c in frame.columns if c not in known]

    # problems -------------------------------------------------------------------
    def add_reasons(self, column: str, reasons: np.ndarray) -> None:
        """Record per-row parse reasons (None = fine) for ``column``."""
        bad = np.flatnonzero(pd.notna(reasons))
        if len(bad):
            self._add(bad, column, reasons[bad])

    def add_problems(self, column: str, positions: np.ndarray, reasons: np.ndarray) -> None:
        """Record the rows at ``positions`` as invalid in ``column`` for ``reasons``."""
        if len(positions):
            self._add(np.asarray(positions), column, np.asarray(reasons, dtype=object))

    def add_reason_where(self, column: str, mask: np.ndarray, reason: str) -> None:
        """Record ``reason`` for ``column`` on the rows where ``mask`` is true."""
        bad = np.flatnonzero(mask)
        if len(bad):
            self._add(bad, column, np.full(len(bad), reason, dtype=object))

    def _add(self, positions: np.ndarray, column: str | None, reasons) -> None:
        values = self._raw_values(positions, column)
        self.problem_parts.append(
            pd.DataFrame(
                {
                    "position": positions,
                    "row": self.raw.row_numbers[positions],
                    "column": column or "",
                    "value": values,
                    "reason": reasons,
                }
            )
        )

    def _raw_values(self, positions: np.ndarray, column: str | None) -> list[str]:
        if column is None or column not in self.frame.columns:
            return [""] * len(positions)
        return [_shown(v) for v in self.frame[column].to_numpy()[positions]]

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

    @property
    def problems(self) -> pd.DataFrame:
        if not self.problem_parts:
            return pd.DataFrame({"row": [], "column": [], "value": [], "reason": []}).astype(
                {"row": "int64", "column": object, "value": object, "reason": object}
            )
        problems = pd.concat(self.problem_parts, ignore_index=True)
        problems = problems.sort_values(["row", "column"], kind="stable")
        return problems.drop(columns="position").reset_index(drop=True)

    def settle(self) -> None:
        """Raise on invalid rows (strict), or mark them excluded (quarantine)."""
        if not self.problem_parts:
            return
        problems = pd.concat(self.problem_parts, ignore_index=True)
        if self.on_invalid == "raise":
            raise ValidationError(self._error_message(problems), self.problems)
        self.valid.iloc[problems["position"].unique()] = False

    def _error_message(self, problems: pd.DataFrame) -> str:
        rows = problems["position"].nunique()
        lines = [f"{self.raw.name}: {rows:,} invalid row{'s' if rows != 1 else ''}; nothing was loaded."]
        for reason, group in problems.groupby("reason", sort=False):
            examples = "; ".join(
                f"row {r.row}, column {r.column}: {r.value!r}" if r.column else f"row {r.row}"
                for r in group.head(3).itertuples()
            )
            count = group["position"].nunique()
            lines.append(f"  {reason}: {count:,} row{'s' if count != 1 else ''}, e.g. {examples}")
        lines.append(
            "Fix these rows, or pass on_invalid='quarantine' (CLI --lenient) to exclude them and count them "
            "in the data-quality table."
        )
        return "\n".join(lines)

    def refuse_late(self, column: str, positions: np.ndarray, reasons) -> pd.Index:
        """
        Record problems found after validation (conversions, sums) on the rows at ``positions``.

        Strict: raise as :meth:`settle` does. Quarantine: exclude those rows and return their
        labels, for the caller to drop what it built from them.
        """
        positions = np.asarray(positions)
        reasons = np.broadcast_to(np.asarray(reasons, dtype=object), positions.shape).copy()
        positions, first = np.unique(positions, return_index=True)
        self._add(positions, column, reasons[first])
        if self.on_invalid == "raise":
            raise ValidationError(self._error_message(pd.concat(self.problem_parts, ignore_index=True)), self.problems)
        self.valid.iloc[positions] = False
        return self.frame.index[positions]

    def no_valid_rows(self) -> LoadError:
        return LoadError(f"{self.raw.name}: no valid rows ({self.n:,} read, all excluded as invalid)")

    def exclude_window(self, reason: str, positions: np.ndarray) -> None:
        """Exclude valid rows that fall outside the data window (not invalid, but not used)."""
        if len(positions):
            self.window_excluded[reason] = positions
            self.valid.iloc[positions] = False

    # notes ----------------------------------------------------------------------
    def note(self, text: str, positions: np.ndarray) -> None:
        """Count valid but noteworthy rows, with the first few row numbers as examples."""
        if len(positions):
            rows = self.raw.row_numbers[np.sort(positions)[:5]]
            self.notes.append((text, int(len(positions)), ", ".join(f"row {r}" for r in rows)))

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

    def quality(self, details: dict, facts: dict) -> DataQuality:
        problems = self.problems
        excluded_rows = []
        if self.problem_parts:
            first = pd.concat(self.problem_parts, ignore_index=True).drop_duplicates("position")
            for reason, group in first.groupby("reason", sort=False):
                excluded_rows.append((reason, len(group), _examples(group["row"])))
        for reason, positions in self.window_excluded.items():
            excluded_rows.append((reason, len(positions), _examples(self.raw.row_numbers[positions])))
        excluded = pd.DataFrame(excluded_rows, columns=["reason", "rows", "examples"])
        notes = pd.DataFrame(self.notes, columns=["note", "count", "examples"])
        used = int(self.valid.sum())
        return DataQuality(self.raw.name, details, self.n, used, excluded, problems, notes, facts)


def _money_in_range(cents: pd.Series) -> bool:
    """Whether integer cents pass the money checks of the schemas (0 … MAX_AMOUNT), tested by NumPy."""
    values = cents.to_numpy()
    return values.dtype == np.int64 and (not len(values) or (values.min() >= 0 and values.max() <= parse.MAX_AMOUNT * 100))


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _examples(rows) -> str:
    rows = np.sort(np.asarray(rows))[:5]
    return ", ".join(f"row {r}" for r in rows)


def _source_column(column, check) -> str | None:
    if not isinstance(column, str):
        return "end_date" if "end_date" in str(check) else None
    return {"mrr_cents": "mrr", "amount_cents": "amount"}.get(column, column)


# --- parsing each kind -------------------------------------------------------------------


_TOTAL_ROW = "a total row, not a customer (remove it)"
_BROKEN_KEY = "a line break or NUL byte in a key field (a quoting fault? fix the file)"
_NUL_TEXT = "a NUL byte in the text (fix the file)"


def _check_text(ctx: _Context) -> None:
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


def _parse_common(ctx: _Context) -> pd.DataFrame:
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


def _check_status(ctx: _Context, explicit: set[str]) -> None:
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
            f"{ctx.raw.name}, column {column}: statuses that are not billing: {shown} (e.g. rows {rows}); the kit does not "
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
    rows[MONTH_ORDINAL] = pd.Series(months, index=rows.index, copy=False)
    return rows


def _months(ctx: _Context, column: str, date_format) -> np.ndarray:
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
    ordinals = np.where(missing, np.iinfo(np.int32).min, _month_ordinals(known)).astype(np.int32)  # invalid: unused
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
    _check_subscription_mrr(ctx, rows)
    _note_date_range(ctx, np.concatenate([start, end]))
    return rows


def _serial_dates(raw) -> bool:
    """Whether numbers in the source's date columns are dates (Excel serial days): in Excel only."""
    return raw.details.get("format") == "Excel"


def _check_subscription_mrr(ctx: _Context, rows: pd.DataFrame) -> None:
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


def _dates(ctx: _Context, column: str, date_format, allow_empty: bool = False) -> np.ndarray:
    """Parse a date column into ``datetime64[D]`` days, recording its problems."""
    try:
        days, positions, reasons = parse.parse_dates_problems(ctx.frame[column], what=column, date_format=date_format,
                                                              allow_empty=allow_empty,
                                                              serial_dates=_serial_dates(ctx.raw))  # fmt: skip
    except ValueError as exc:  # MixedDateFormats, or a bad date_format directive ('%Q')
        raise LoadError(f"{ctx.raw.name}, column {column}: {exc}") from None
    ctx.add_problems(column, positions, reasons)
    return days


def _check_decimal_mark(ctx: _Context, column: str, money: dict) -> None:
    """Refuse an amount column whose decimal mark may separate thousands (a column error, lenient or not)."""
    try:
        parse.check_decimal_mark(ctx.frame[column], decimal=money["decimal"], thousands=money["thousands"],
                                 currency_symbols=money["currency_symbols"])  # fmt: skip
    except parse.AmbiguousDecimalMark as exc:
        raise LoadError(f"{ctx.raw.name}, column {column}: {exc}") from None


def _note_rounding(ctx: _Context, column: str, money: dict) -> None:
    """Note the amounts with more than two decimals under the parse options in use (``money``)."""
    ctx.note(f"{column} with more than 2 decimals (rounded half-even to the cent)",
             parse.rounded_positions(ctx.frame[column], **money))  # fmt: skip


def _note_date_range(ctx: _Context, days: np.ndarray) -> None:
    days = np.asarray(days)
    unit = np.datetime_data(days.dtype)[0]  # compare in the days' own unit: no cast of the array
    n = ctx.n
    old = np.flatnonzero(days < EARLIEST_PLAUSIBLE.to_datetime64().astype(f"datetime64[{unit}]")) % n  # NaT: False
    future = np.flatnonzero(days > ctx.today.normalize().to_datetime64().astype(f"datetime64[{unit}]")) % n
    ctx.note("dates before 1990 (check them)", np.unique(old))
    ctx.note(f"dates after {ctx.today.date()} (in the future; outside the window)", np.unique(future))


# --- windows and months ------------------------------------------------------------------


def _month_ordinals(days) -> np.ndarray:
    """Months since 1970-01 of datetime64 days (NaT: the smallest int64)."""
    values = np.asarray(days)
    if len(values) >= 10_000 and values.dtype.kind == "M":
        # many dates over a short range: convert each day of the range once, then look them up
        # (NumPy converts days to months element by element through calendar code)
        day = parse.as_days(values).view(np.int64)
        missing = day == np.iinfo(np.int64).min
        known = day[~missing] if missing.any() else day
        first, last = (int(known.min()), int(known.max())) if len(known) else (0, 0)
        if last - first < 1_000_000:
            table = np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype("int64")
            months = table[np.where(missing, 0, day - first)]
            months[missing] = np.iinfo(np.int64).min
            return months
    return np.asarray(values, dtype="datetime64[M]").astype("int64")


def _snapshot_dates(ctx: _Context, rows: pd.DataFrame, mode: str, date_format=None) -> pd.DataFrame:
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
    month = _month_ordinals(days)
    valid = ~np.isnat(days)
    dates_in_month = pd.Series(day[valid]).groupby(month[valid]).nunique()
    several = np.zeros(len(days), dtype=bool)
    several[valid] = np.isin(month[valid], dates_in_month.index[dates_in_month.to_numpy() > 1])
    candidates = np.flatnonzero(several[codes[positions]])
    return _several_dates(ctx, rows, positions, candidates, day[codes[positions[candidates]]], mode, "month")


def _attribute_snapshot_dates(ctx: _Context, rows: pd.DataFrame, column: str, mode: str, date_format) -> pd.DataFrame:
    """
    The several-snapshots check on an attribute column of dates beside ``month`` (weekly ``snapshot_date``).

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


def _order_values(ctx: _Context, column: str, uniques, used: np.ndarray, date_format) -> np.ndarray:
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
    """The error of ``snapshot_dates="raise"``: the first customer · product with several dates in a month."""
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
        f"{len(shown)} snapshot dates in {_ordinal_to_str(row[MONTH_ORDINAL])} ({', '.join(shown[:6])}"
        f"{', …' if len(shown) > 6 else ''}{blank}; rows {', '.join(str(r) for r in ctx.raw.row_numbers[positions[candidates[same[:6]]]])}); "
        f"{plural(keys_hit, 'customer · product · month')} with several dates in all; adding "
        "weekly or daily snapshots would overstate MRR.\nPass snapshot_dates='last' (CLI --snapshot-dates last) to use each "
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


def _snapshot_window(ctx: _Context, rows: pd.DataFrame, as_of_day, today, date_format=None):
    """
    The window's months of snapshot rows; rows after it excluded and counted.

    Rows of months after ``as_of`` (or after today's month) are excluded. With an ``as_of``
    before the last day of its month, rows of that month whose snapshot has a full date
    (``month`` written as a day, else a date column beside it: :func:`_snapshot_days`) after
    as_of are excluded too (``snapshot dated after as_of``): nothing after as_of enters a
    figure. If that leaves the month with no row, the as_of is an error (every customer would
    seem to churn).
    """
    months = rows[MONTH_ORDINAL].to_numpy()
    cap = _month_ordinals(np.array([as_of_day if as_of_day is not None else today], dtype="datetime64[ns]"))[0]
    late = months > cap
    reason = "month after as_of" if as_of_day is not None else f"month after {today.date()} (in the future)"
    if late.any():
        ctx.exclude_window(reason, ctx.frame.index.get_indexer(rows.index[late]))
    in_cap = np.flatnonzero(months == cap)
    if as_of_day is not None and len(in_cap) and as_of_day < pd.Period(as_of_day, "M").to_timestamp(how="end").normalize():
        days = _snapshot_days(ctx, ctx.frame.index.get_indexer(rows.index[in_cap]), date_format)
        after = in_cap[days > np.datetime64(as_of_day.date(), "D")]  # NaT compares False
        if len(after) == len(in_cap):
            first = str(days[~np.isnat(days)].min())
            raise ParameterError(
                f"{ctx.raw.name}: as_of {as_of_day.date()} is before every snapshot of {_ordinal_to_str(cap)} "
                f"(the first is dated {first}): the snapshots say nothing of {_ordinal_to_str(cap)} by as_of, so "
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
        file_last, asked = _ordinal_to_str(months.max()), _ordinal_to_str(cap)
        raise ParameterError(
            f"{ctx.raw.name}: as_of {as_of_day.date()} is in {asked}, after the last month of the snapshots "
            f"({file_last}): they say nothing of {asked}, so every customer would seem to churn.\n"
            f"Pass an as_of in {file_last} or earlier (CLI --as-of), or leave it out to end the window at {file_last}."
        )
    first, last = months.min(), (cap if as_of_day is not None else months.max())
    return months, pd.Period(_ordinal_to_str(first), "M"), pd.Period(_ordinal_to_str(last), "M")


def _refuse_unknown_at_as_of(ctx: _Context, rows: pd.DataFrame, months, cap, in_cap, after, as_of_day) -> None:
    """
    Refuse a mid-month as_of that leaves a customer of the month before with no snapshot of
    as_of's month dated by as_of: its MRR on as_of is unknown, and leaving its later rows out
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
    month = _ordinal_to_str(cap)
    shown = ", ".join(repr(str(c)) for c in unknown[:5]) + ("…" if len(unknown) > 5 else "")
    raise ParameterError(
        f"{ctx.raw.name}: as_of {as_of_day.date()} falls before the {month} snapshots of "
        f"{plural(len(unknown), 'customer')} active in {_ordinal_to_str(cap - 1)} ({shown}): their MRR on as_of is "
        f"unknown, and leaving those snapshots out would make them seem to churn.\nPass an as_of at the end of "
        f"{month} or in an earlier month (CLI --as-of)."
    )


def _snapshot_days(ctx: _Context, positions: np.ndarray, date_format) -> np.ndarray:
    """
    The snapshot date (``datetime64[D]``) of the rows at ``positions``, NaT where none is known.

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


def _subscription_window(rows: pd.DataFrame, as_of_day, today, name: str):
    """The window's first and last months and the day the last month is measured on (``as_of``, given or found)."""
    start = rows["start_date"]
    given = as_of_day is not None
    if as_of_day is None:
        latest = pd.concat([start, rows["end_date"].dropna()])
        latest = latest[latest <= today]
        as_of_day = latest.max() if len(latest) else today
    first = pd.Period(start.min(), "M")
    last = pd.Period(as_of_day, "M")
    if as_of_day < start.min():  # nothing was in force yet: an empty window, not the first month anyway
        said = f"as_of {as_of_day.date()}" if given else f"today ({today.date()})"
        raise LoadError(f"{name}: no subscription starts by {said} (the first starts in {first}); "
                        f"the earliest start_date is {start.min().date()}")  # fmt: skip
    return first, last, pd.Timestamp(as_of_day).normalize().as_unit("ns")


def _ordinal_to_str(ordinal: int) -> str:
    return str(np.datetime64(int(ordinal), "M"))


def _expand_subscriptions(ctx: _Context, rows: pd.DataFrame, last: pd.Period, as_of_day: pd.Timestamp):
    """
    One row per subscription · month in force on the month's last day, within the window.

    The window's last month is measured on ``as_of`` (``start_date <= as_of < end_date``),
    which is its last day only when as_of is: nothing after as_of enters any month.
    """
    start = rows["start_date"].to_numpy()
    start_m = _month_ordinals(start)
    last_m = int(_month_ordinals(np.array([last.to_timestamp()], dtype="datetime64[ns]"))[0])
    end = rows["end_date"].to_numpy()
    ongoing = pd.isna(end)
    end_m = np.where(ongoing, last_m + 1, _month_ordinals(np.where(ongoing, np.datetime64("1970-01-01"), end)))
    measured = as_of_day.to_datetime64().astype(start.dtype)
    started = start <= measured
    # the months before the last are measured on their last day; the last month on as_of
    in_last = started & (ongoing | (end > measured))  # NaT (ongoing) compares False
    lengths = np.maximum(np.minimum(end_m, last_m) - start_m, 0) + in_last
    positions = ctx.frame.index.get_indexer(rows.index)
    ctx.note("subscriptions with start_date equal to end_date (contribute nothing)",
             positions[(rows["end_date"] == rows["start_date"]).to_numpy()])  # fmt: skip
    ctx.note("subscriptions ending before the last day of their first month (contribute nothing)",
             positions[(lengths == 0) & (rows["end_date"] != rows["start_date"]).to_numpy() & started])  # fmt: skip
    ctx.note("subscriptions starting after as_of (contribute nothing)", positions[~started])
    ctx.note("rows with amount 0 (trials and free plans are not active)", positions[rows["amount_cents"].to_numpy() == 0])
    ctx.note("rows with quantity 0 (not active)", positions[rows["quantity"].to_numpy() == 0])
    _note_overlaps(ctx, rows, start_m, end_m, positions)
    mrr = _subscription_mrr(rows)
    take = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(len(take)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    months = start_m[take] + offsets
    expanded = rows.iloc[take].assign(mrr_cents=mrr[take])
    return expanded, months


def _subscription_mrr(rows: pd.DataFrame, *, exact: bool = False):
    """
    MRR cents of one subscription-month: amount × quantity / (months_in × interval), half-even.

    int64 (the rows passed :func:`_check_subscription_mrr`, so each fits), or with ``exact``
    a list of Python integers.
    """
    num_months = rows["billing_period"].map(lambda p: MONTHS_IN[p][0]).to_numpy(dtype=object)
    den_months = rows["billing_period"].map(lambda p: MONTHS_IN[p][1]).to_numpy(dtype=object)
    amount = rows["amount_cents"].to_numpy(dtype=object)
    quantity = rows["quantity"].to_numpy(dtype=object)
    interval = rows["billing_interval_count"].to_numpy(dtype=object)
    numerator = amount * quantity * den_months  # Python integers: exact, no overflow
    denominator = num_months * interval
    values = [divide_half_even(a, b) for a, b in zip(numerator, denominator)]
    return values if exact else np.array(values, dtype=np.int64)


def divide_half_even(numerator: int, denominator: int) -> int:
    """
    Divide two non-negative integers, rounding half to even.

    >>> divide_half_even(200000, 12), divide_half_even(5, 2), divide_half_even(7, 2)
    (16667, 2, 4)
    """
    quotient, remainder = divmod(int(numerator), int(denominator))  # Python integers: NumPy's would wrap
    denominator = int(denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _note_overlaps(ctx, rows, start_m, end_m, positions) -> None:
    """
    Note subscriptions starting before an earlier one of the same customer and product ends.

    The rows of each customer · product in start order (ties: file order); a row overlaps
    when it starts before the latest end among the rows before it (an empty end: never).
    Vectorised: that running latest end is one ``maximum.accumulate`` over ranks offset by
    group, so groups never mix.
    """
    customer = pd.factorize(rows["customer_id"].to_numpy())[0]
    product = pd.factorize(rows["product"].to_numpy())[0]
    nat = np.iinfo(np.int64).min
    start = rows["start_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = rows["end_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = np.where(end == nat, np.iinfo(np.int64).max, end)  # still running
    order = np.lexsort((start, product, customer))  # stable
    customer, product, start, end = customer[order], product[order], start[order], end[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (customer[1:] != customer[:-1]) | (product[1:] != product[:-1])
    group = np.cumsum(first) - 1
    ends, rank = np.unique(end, return_inverse=True)
    width = len(ends)
    latest = ends[np.maximum.accumulate(group * width + rank) - group * width]  # the running latest end, by group
    overlapping = np.zeros(len(order), dtype=bool)
    overlapping[1:] = ~first[1:] & (start[1:] < latest[:-1]) & (start[1:] != nat)
    ctx.note("overlapping subscriptions of one customer and product (both counted)",
             np.asarray(positions)[order[overlapping]])  # fmt: skip


# --- currencies ---------------------------------------------------------------------------


def _convert_currency(ctx, rows, months, fx, fx_mode, currency, last):
    """
    Convert the rows' MRR into the reporting currency; return ``reporting, amounts, rows, months``.

    See the module docstring ("FX tables and their base") for the rule. Rows whose converted
    amount passes the amount limit are row errors (in quarantine: excluded, and dropped
    from the returned rows).
    """
    amounts = rows["mrr_cents"].to_numpy(dtype=np.int64)
    if "currency" not in rows.columns:
        if fx is not None:
            raise ParameterError(f"{ctx.raw.name}: an FX table was given but the data has no currency column")
        return currency, amounts, rows, months
    present = sorted(set(rows["currency"].astype(str)))
    ctx.currencies = present
    if fx is None:
        if len(present) == 1 and (currency is None or currency.upper() == present[0]):
            return present[0], amounts, rows, months
        raise LoadError(
            f"{ctx.raw.name}: several currencies ({', '.join(present)}) and no FX table; "
            "pass fx= a table of currency, month, rate (CLI --fx FILE)"
            if len(present) > 1
            else f"{ctx.raw.name}: the data is in {present[0]}, not {currency}; pass an FX table (CLI --fx FILE)"
        )
    rates = load_fx(fx)
    reporting = (currency or _infer_reporting(rates, present)).upper()
    through = _fx_base(rates, reporting, _fx_name(fx))  # None: the table is based on the reporting currency
    last_m = int(_month_ordinals(np.array([last.to_timestamp()], dtype="datetime64[ns]"))[0])
    need_months = np.full(len(months), last_m) if fx_mode == "constant" else months
    need = pd.DataFrame({"currency": rows["currency"].astype(str).to_numpy(), "m": need_months})
    foreign = (need["currency"] != reporting).to_numpy()
    pairs = need.loc[foreign].drop_duplicates()
    table = rates.set_index(["currency", "m"])["rate"]
    missing = [(c, m) for c, m in pairs.itertuples(index=False) if (c, m) not in table.index]
    if through is not None:  # the reporting currency's rate is needed in each month converted
        missing += [(reporting, m) for m in sorted(set(pairs["m"])) if (reporting, m) not in table.index]
    if missing:
        shown = ", ".join(f"{c} {_ordinal_to_str(m)}" for c, m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        if through == _CROSS_RATES:
            raise LoadError(f"FX table: no rate for {shown}{more} " + _cross_rates_hint(rates, reporting, missing))
        how = f"; the table is based on {through}, so amounts convert through {reporting}'s rate" if through else ""
        raise LoadError(f"FX table: no rate for {shown}{more} (reporting currency {reporting}{how})")
    converted = amounts.copy()
    idx = np.flatnonzero(foreign)
    if len(idx):
        factors = {}  # (currency, month) -> (numerator, denominator) of the exact conversion factor
        for c, m in pairs.itertuples(index=False):
            num, den = table[(c, m)].as_integer_ratio()
            if through is not None:
                r_num, r_den = table[(reporting, m)].as_integer_ratio()
                num, den = num * r_den, den * r_num
            factors[(c, m)] = (num, den)
        keys = zip(need["currency"].to_numpy()[idx].tolist(), need["m"].to_numpy()[idx].tolist())
        values = [divide_half_even(a * factors[k][0], factors[k][1]) for a, k in zip(amounts[idx].tolist(), keys)]
        values = np.array(values, dtype=object)
        over = values > parse.MAX_AMOUNT * 100
        values[over] = 0
        converted[idx] = values.astype(np.int64)
        if through is not None:
            label = f"the FX table's base {through}" if through != _CROSS_RATES else "the FX table's cross rates"
            ctx.note(f"amounts converted to {reporting} through {label} (amount × rate of its currency / rate of "
                     f"{reporting})", np.unique(ctx.frame.index.get_indexer(rows.index[idx])))  # fmt: skip
        if over.any():
            positions = ctx.frame.index.get_indexer(rows.index[idx[over]])
            dropped = ctx.refuse_late("mrr" if "mrr" in ctx.frame.columns else "amount", positions,
                                      f"amount above {parse.MAX_AMOUNT:,} after conversion to {reporting}")  # fmt: skip
            keep = ~rows.index.isin(dropped)
            rows, converted, months = rows.loc[keep], converted[keep], np.asarray(months)[keep]
    return reporting, converted, rows, months


def _cross_rates_hint(rates: pd.DataFrame, reporting: str, missing: list[tuple[str, int]]) -> str:
    """What a table of cross rates (no currency at 1, the reporting one not at 1) is taken to mean, and what to fix."""
    listed = rates.loc[rates["currency"] == reporting].sort_values("m")
    shown = ", ".join(f"{r:g} in {_ordinal_to_str(m)}" for r, m in zip(listed["rate"].head(3), listed["m"].head(3)))
    shown += ", …" if len(listed) > 3 else ""
    absent = ", ".join(dict.fromkeys(c for c, _ in missing if c != reporting)) or reporting
    return (
        f"(reporting currency {reporting}): no currency is at rate 1 in every month and {reporting}'s rate is not 1 "
        f"({shown}), so the rates are read as cross rates, each the value of one unit in a common base the table "
        f"does not list, and amounts convert as amount × rate of their currency / rate of {reporting}.\n"
        f"Add the missing rates ({absent}) in that same base; or, if the rates are the value of one unit in "
        f"{reporting}, give {reporting} rate 1 in every month (or leave {reporting} out of the table)."
    )


def _fx_name(fx) -> str:
    return "FX table" if isinstance(fx, pd.DataFrame) else f"FX table {fx}"


_CROSS_RATES = "(cross rates)"  # _fx_base: no listed base; amounts convert through the reporting currency's rates


def _fx_base(rates: pd.DataFrame, reporting: str, name: str) -> str | None:
    """
    The currency to convert through, or None where rates are already in the reporting currency.

    None when the reporting currency is at 1 wherever the table lists it, or when the table
    lists neither it nor any currency at 1 in every month. Otherwise the table's base (the
    one currency at 1 in every month), or :data:`_CROSS_RATES` for a table without one: amounts
    convert at cross rates through the reporting currency's own rates, which must be listed.
    """
    at_one = rates.groupby("currency")["rate"].apply(lambda r: bool((r == 1).all()))
    ones = sorted(at_one[at_one].index)
    if reporting in at_one.index:
        if at_one[reporting]:
            return None
        return ones[0] if len(ones) == 1 else _CROSS_RATES
    if not ones:
        return None
    if len(ones) == 1:
        raise LoadError(
            f"{name}: the table is based on {ones[0]} (rate 1 in every month) and has no rates for {reporting}, "
            f"the reporting currency; add {reporting} rates (the value of one {reporting} in {ones[0]}) "
            f"or report in {ones[0]} (currency=, CLI --currency)"
        )
    raise LoadError(
        f"{name}: no consistent base: {', '.join(ones)} are all at rate 1 and {reporting}, the reporting currency, "
        f"is not listed; add {reporting} rates or report in one of them (currency=, CLI --currency)"
    )


def _infer_reporting(rates: pd.DataFrame, present: list[str]) -> str:
    at_one = rates.groupby("currency")["rate"].apply(lambda r: bool((r == 1).all()))
    ones = sorted(at_one[at_one].index)
    if len(ones) == 1:
        return ones[0]
    missing = [c for c in present if c not in set(rates["currency"])]
    if len(missing) == 1:
        return missing[0]
    raise ParameterError(
        "cannot tell the reporting currency from the FX table; pass currency= (CLI --currency), "
        f"e.g. one of {', '.join(present)}"
    )


def load_fx(fx) -> pd.DataFrame:
    """
    Read an FX table into ``currency, m, rate`` (``m``: months since 1970-01; ``rate``: Decimal).

    Errors name the file and rows: unknown columns, unparseable months, zero or negative
    or non-numeric rates, two rates for one currency · month.
    """
    raw = read_source(fx)
    missing = [c for c in ("currency", "month", "rate") if c not in raw.frame.columns]
    if missing:
        raise LoadError(
            f"{raw.name}: the FX table needs columns currency, month, rate; missing {', '.join(missing)} "
            f"(columns found: {', '.join(raw.frame.columns)})"
        )
    frame = raw.frame
    try:
        days, reasons = parse.parse_dates(frame["month"], what="month", serial_dates=_serial_dates(raw))
    except parse.MixedDateFormats as exc:
        raise LoadError(f"{raw.name}, column month: {exc}") from None
    problems = [f"row {raw.row_numbers[i]}, column month: {frame['month'].iloc[i]!r} {reasons[i]}"
                for i in np.flatnonzero(pd.notna(reasons))]  # fmt: skip
    rates = []
    for i, value in enumerate(frame["rate"].to_numpy()):
        text = repr(float(value)) if isinstance(value, float) else str(value).strip()
        try:
            rate = Decimal(text)
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate <= 0:
            problems.append(f"row {raw.row_numbers[i]}, column rate: {text!r} is not a positive number")
        rates.append(rate)
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise LoadError(f"{raw.name}: invalid FX rows: {'; '.join(problems[:5])}{more}")
    out = pd.DataFrame({
        "currency": parse.clean_text(frame["currency"]).astype(str).str.upper().to_numpy(),
        "m": _month_ordinals(days),
        "rate": rates,
    })  # fmt: skip
    dup = out.duplicated(["currency", "m"], keep=False)
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise LoadError(f"{raw.name}: two rates for {first['currency']} {_ordinal_to_str(first['m'])}")
    return out


# --- the ledger frame ------------------------------------------------------------------------


#: Sums of cents beyond this are not exact in the engine (float64 bincounts); a key's sum must stay below.
EXACT_SUM = 2**53


def _check_key_sums(ctx: _Context, rows: pd.DataFrame, amounts: np.ndarray):
    """
    Refuse customer · product · month keys whose rows add up to 2**53 cents or more.

    Each row is at most the amount limit, so only a ledger whose total reaches 2**53 can
    hold such a key: below that (one vectorised sum) nothing is looked at. Above it the keys
    are summed (floats find the candidates, Python integers decide), and each bad key is
    named with its rows. Returns the rows and amounts without them (quarantine).
    """
    amounts = np.asarray(amounts, dtype=np.int64)
    if not len(amounts) or float(amounts.sum(dtype=np.float64)) < EXACT_SUM * (1 - 1e-9):
        return rows, amounts
    keys = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy(),
                         "product": rows["product"].astype(str).to_numpy(), "m": rows[MONTH_ORDINAL].to_numpy(),
                         "cents": amounts.astype(np.float64)})  # fmt: skip
    estimate = keys.groupby(["customer_id", "product", "m"], sort=False)["cents"].transform("sum").to_numpy()
    candidates = np.flatnonzero(estimate >= EXACT_SUM * (1 - 1e-9))
    if not len(candidates):
        return rows, amounts
    positions, reasons = [], []
    for (customer, product, m), group in keys.iloc[candidates].groupby(["customer_id", "product", "m"], sort=False):
        at = group.index.to_numpy()  # positions in rows (keys has a default index)
        total = sum(int(a) for a in amounts[at])
        if total < EXACT_SUM:
            continue
        inputs = np.unique(ctx.frame.index.get_indexer(rows.index[at]))
        shown = ", ".join(str(r) for r in ctx.raw.row_numbers[inputs[:5]])
        shown += f" and {len(inputs) - 5:,} more" if len(inputs) > 5 else ""
        reason = (f"customer {customer} · product {product} · {_ordinal_to_str(m)}: its {len(inputs):,} rows "
                  f"(rows {shown}) add up to {total:,} cents, beyond 2**53 cents, the limit of exact sums")  # fmt: skip
        positions.append(inputs)
        reasons.append(np.full(len(inputs), reason, dtype=object))
    if not positions:
        return rows, amounts
    column = "mrr" if "mrr" in ctx.frame.columns else "amount"
    dropped = ctx.refuse_late(column, np.concatenate(positions), np.concatenate(reasons))
    keep = ~rows.index.isin(dropped)
    return rows.loc[keep], amounts[keep]



def _build_frame(rows: pd.DataFrame, amounts: np.ndarray, attributes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """
    Aggregate to one row per customer · product · month; attributes of the customer's largest row.

    ``rows`` hold ``customer_id, product``, the attributes and ``month_ordinal`` (months since
    1970-01), which is taken out of them (``pop``) so that its memory is free once the keys
    are built. Returns the ledger frame and the positions (in ``rows``) of the rows that share their
    customer · product · month and amount with another row: the only rows that can be
    identical to another. Works on integer codes: ids and products are ranked
    in text order and packed with the month into one integer key (customer, month,
    product), the rows sorted once by it and the rows of one key added with ``reduceat``;
    no string is hashed again and the ledger's columns are read back from the sorted keys.
    """
    extra = [a for a in attributes] + (["currency"] if "currency" in rows.columns else [])
    customer, customers = _ranked_codes(rows["customer_id"])
    product, products = _ranked_codes(rows["product"])
    months = rows.pop(MONTH_ORDINAL).to_numpy()
    amounts = np.asarray(amounts, dtype=np.int64)
    n = len(months)
    first = int(months.min()) if n else 0
    span = int(months.max()) - first + 1 if n else 1
    n_products = max(len(products), 1)
    bound = max(len(customers), 1) * span * n_products
    if bound + abs(first) >= 2**63:
        raise LoadError(f"too many customers × months × products ({bound:,}) to index in 64 bits")
    # key = ((customer · span) + month − first) · products + product, built in place
    key = np.empty(n, dtype=np.int64)
    spare = customer if customer.dtype.itemsize >= 4 else np.empty(n, dtype=np.int32)  # for the codes below

    def build(part):
        chunk = key[part]
        np.multiply(customer[part], np.int64(span), out=chunk)
        chunk -= first
        chunk += months[part]
        chunk *= n_products
        chunk += product[part]

    _in_halves(build, n)
    del customer, product, months
    order, key = _sort_keys(key, bound)
    summed = _take(amounts, order)
    repeats = np.flatnonzero(key[1:] == key[:-1]) + 1  # rows with the key of the row before (few, if any)
    shared = _identical_candidates(key, summed, order, repeats)
    source = _largest_rows(key, order, summed, repeats, n_products) if extra else None  # one per key
    del order
    if len(repeats):  # add the rows of one key into its first, then drop the others, in place
        np.add.at(summed, _run_heads(repeats), summed[repeats])
        key, summed = _drop_rows([key, summed], repeats)
    positive = summed > 0
    if not bool(positive.all()):
        keep = np.flatnonzero(positive)
        key, summed = key[keep], summed[keep]
        source = source[keep] if source is not None else None
    del positive
    unique_key = key
    # the ledger's columns from the sorted keys, in the buffers at hand: the keys become the months
    size = len(unique_key)
    codes = spare[:size]
    product_codes = np.empty(size, dtype=_code_type(n_products))

    def columns_of(part):
        chunk = unique_key[part]
        np.floor_divide(chunk, span * n_products, out=codes[part], casting="unsafe")
        np.remainder(chunk, n_products, out=product_codes[part], casting="unsafe")
        np.floor_divide(chunk, n_products, out=chunk)
        np.remainder(chunk, span, out=chunk)
        chunk += first

    _in_halves(columns_of, size)
    ordinals = unique_key
    del unique_key, key
    columns = {
        "customer_id": _categorical(codes, customers, ascending=True),
        "product": _categorical(product_codes, products),
        "month": pd.PeriodIndex.from_ordinals(ordinals, freq="M").array,
        "mrr_cents": summed,
    }
    for column in extra:
        codes, categories = _ranked_codes(rows[column])
        columns[column] = _categorical(codes[source], categories)
    return pd.DataFrame(columns, copy=False), shared


#: Passes over at least this many rows are split between two threads (NumPy releases the GIL).
_PARALLEL_ROWS = 4_000_000


def _in_halves(work, n: int) -> None:
    """Run ``work(slice)`` over the two halves of ``range(n)`` in two threads (one, for short ranges)."""
    if n < _PARALLEL_ROWS:
        work(slice(0, n))
        return
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, (slice(0, n // 2), slice(n // 2, n))))


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` (``-1``: the last), the halves in two threads for long ones."""
    out = np.empty(len(index), dtype=values.dtype)
    _in_halves(lambda part: np.take(values, index[part], out=out[part], mode="wrap"), len(index))
    return out


def _run_heads(repeats: np.ndarray) -> np.ndarray:
    """For each repeated row (sorted positions), the first row of its run of equal keys."""
    new_run = np.concatenate([[True], np.diff(repeats) != 1])
    return (repeats[new_run] - 1)[np.cumsum(new_run) - 1]


def _identical_candidates(key, amounts, order, repeats) -> np.ndarray:
    """Input positions of the rows sharing their key and amount with another row (the rows of ``repeats``' runs)."""
    if not len(repeats):
        return np.empty(0, dtype=np.int64)
    rows = np.union1d(repeats, _run_heads(repeats))
    twin = pd.DataFrame({"key": key[rows], "cents": amounts[rows]}).duplicated(keep=False).to_numpy()
    return np.sort(order[rows[twin]]).astype(np.int64)


def _drop_rows(arrays: list[np.ndarray], drop: np.ndarray) -> list[np.ndarray]:
    """Remove the rows at sorted positions ``drop`` from each array, moving the rest down in place."""
    n = len(arrays[0])
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    out = []
    for array in arrays:
        written = 0
        step = 1 << 20
        for start in range(0, n, step):  # a chunk at a time: the rows kept move to ``written`` ≤ ``start``
            part = array[start : start + step][keep[start : start + step]]
            array[written : written + len(part)] = part
            written += len(part)
        out.append(array[:written])
    return out


def _largest_rows(key, order, amounts, repeats, n_products) -> np.ndarray:
    """For each key (sorted rows), the input row whose attributes it takes: the customer's largest that month, first on ties."""
    n = len(key)
    customer_month = key // n_products
    new_month = np.ones(n, dtype=bool)
    np.not_equal(customer_month[1:], customer_month[:-1], out=new_month[1:])
    del customer_month
    group = np.cumsum(new_month) - 1
    group_starts = np.flatnonzero(new_month)
    largest = np.maximum.reduceat(amounts, group_starts)
    candidate = np.where(amounts == largest[group], order, n)
    first_of_key = np.ones(n, dtype=bool)
    first_of_key[repeats] = False
    return np.minimum.reduceat(candidate, group_starts)[group[first_of_key]]


def _ranked_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of values as text, numbered in sorted text order, and the sorted distinct texts."""
    categories = None
    if isinstance(values.dtype, pd.CategoricalDtype) and not values.hasnans:
        codes = values.array.codes  # a view (``.cat.codes`` copies)
        categories = values.cat.categories
        if categories.dtype != "str":
            categories = categories.astype(str)
            if categories.has_duplicates:  # e.g. 1 and "1": one text
                categories = None
    if categories is None:
        codes, categories = pd.factorize(values.astype(str))
        categories = pd.Index(categories, dtype="str")
    try:  # Arrow sorts UTF-8 bytes, which is code point order, as Python does, only faster
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = pa.array(categories)
        order = pc.sort_indices(texts).to_numpy()
        ordered = pd.Index(pd.array(texts.take(order), dtype="str"))
    except (ImportError, UnicodeError, ValueError, TypeError, ArithmeticError, LookupError):  # e.g. lone surrogates
        texts = np.asarray(categories, dtype=object)
        order = np.argsort(texts, kind="stable")
        ordered = pd.Index(texts[order], dtype="str")
    rank = np.empty(len(order), dtype=_code_type(len(order)))
    rank[order] = np.arange(len(order))
    return _take(rank, codes), ordered


def _present(codes: np.ndarray, size: int) -> np.ndarray:
    """Which of the codes 0 … size − 1 occur (negative codes, for missing values, are left out)."""
    used = np.zeros(size, dtype=bool)
    used[codes if not len(codes) or codes.min() >= 0 else codes[codes >= 0]] = True
    return used


def _code_type(size: int):
    """The smallest signed integer type for codes below ``size``."""
    return np.int8 if size < 2**7 else np.int16 if size < 2**15 else np.int32 if size < 2**31 else np.int64


def _categorical(codes: np.ndarray, categories: pd.Index, *, ascending: bool = False) -> pd.Categorical:
    """A categorical of the given codes, keeping only the categories that occur (in their order)."""
    distinct = 1 + np.count_nonzero(codes[1:] != codes[:-1]) if ascending and len(codes) else None
    used = None
    if distinct != len(categories):  # for sorted codes the distinct ones are where they change
        used = _present(codes, len(categories))
        used = None if used.all() else used
    if used is not None:
        codes = (np.cumsum(used) - 1)[codes]
        categories = categories[used]
    return categorical_of(codes, categories)


def _sort_keys(key: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Sort non-negative int64 keys below ``bound`` stably: return the order and the sorted keys.

    Sorted keys cost one comparison pass. Otherwise, when a key and its position fit in 63
    bits together, each key is packed with its position into one integer and the integers
    are sorted by value, in place: equal keys stay in position order, and NumPy sorts
    integers by value with SIMD, several times faster than any argsort. ``key`` is consumed.
    """
    n = len(key)
    if n < 2 or not bool((key[1:] < key[:-1]).any()):
        return np.arange(n, dtype=_code_type(n)), key
    bits = (n - 1).bit_length()
    if (int(bound) - 1).bit_length() + bits > 63:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    key <<= bits
    step = 1 << 20
    for start in range(0, n, step):  # the positions, a chunk at a time (no second array of the full size)
        key[start : start + step] |= np.arange(start, min(n, start + step))
    key.sort()
    order = np.bitwise_and(key, (1 << bits) - 1, out=np.empty(n, dtype=_code_type(n)), casting="unsafe")
    key >>= bits
    return order, key


def filter_customers(ledger: Ledger, filters: dict[str, object]) -> Ledger:
    """
    Keep the customers whose attributes match ``filters`` (``{"region": ["EMEA"]}``).

    A customer is judged by its attribute in its latest month in the ledger, and is kept
    or dropped whole, so a filter never creates fake new or churned customers when an
    attribute changes over time.
    """
    if not filters:
        return ledger
    frame = ledger.frame
    latest = frame.sort_values("month", kind="stable").drop_duplicates("customer_id", keep="last")
    keep = pd.Series(True, index=latest.index)
    for column, wanted in filters.items():
        if column not in ledger.attributes:
            raise ParameterError(f"cannot filter on {column!r}; the attributes are {', '.join(ledger.attributes) or 'none'}")
        values = [str(v) for v in (wanted if isinstance(wanted, (list, tuple, set)) else [wanted])]
        held = latest[column].astype(str)
        known = sorted(held.unique())
        for value in values:  # a value no customer has is a typo, not an empty report
            if value not in known:
                alike = [k for k in known if k.casefold() == value.casefold()]
                hint = f"; did you mean {alike[0]!r}?" if alike else ""
                named = [k if k.strip() else "(empty)" for k in known[:20]]
                shown = ", ".join(named) + (f" and {len(known) - 20:,} more" if len(known) > 20 else "")
                raise ParameterError(f"filter {column}={value} matches no customer{hint} ({column} values: {shown})")
        keep &= held.isin(values)
    if not keep.any():
        wanted = "; ".join(f"{c}={'+'.join(map(str, v)) if isinstance(v, (list, tuple, set)) else v}"
                           for c, v in filters.items())  # fmt: skip
        raise ParameterError(f"no customer matches all the filters ({wanted})")
    customers = set(latest.loc[keep, "customer_id"].astype(str))
    subset = frame.loc[frame["customer_id"].astype(str).isin(customers)].reset_index(drop=True)
    for column in ["customer_id", "product", *ledger.attributes]:  # values only the other customers had are gone
        if isinstance(subset[column].dtype, pd.CategoricalDtype):
            subset[column] = subset[column].cat.remove_unused_categories()
    return Ledger(subset, ledger.kind, ledger.first_month, ledger.last_month, ledger.currency, ledger.quality)
