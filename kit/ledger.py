"""
Turn a raw source into the ledger: validated, normalised to MRR, in integer cents.

The ledger has one row per ``customer_id · product · month`` with ``mrr_cents`` (int64,
reporting currency) and the customer attributes of that month (``segment``, ``plan``,
…). A month with no row means zero MRR. It comes with a :class:`DataQuality` record in
which every input row is accounted for: rows read = rows used + rows excluded.

Two input shapes reach it (see docs/definitions.md, "The ledger"):

* **snapshots**: ``customer_id, month, product, mrr`` with ``mrr`` in major units;
* **subscriptions**: ``customer_id, start_date, end_date, amount, billing_period`` (+
  ``product, quantity, billing_interval_count, currency, plan, subscription_id``);
  ``end_date`` is exclusive and empty while the subscription runs. The MRR of a month is
  the sum over subscriptions in force on its last day of
  ``amount × quantity / (months_in(billing_period) × billing_interval_count)``, rounded
  half-even to the cent per subscription-month.

Policies chosen where the design leaves room (also stated in the report's methodology):

* an empty ``quantity`` or ``billing_interval_count`` cell means 1, like a missing column;
* where the source has a ``quantity`` (or ``plan``) column, the ledger carries per key its sum
  ``quantity`` (nullable Int64) and its ``plans`` (the distinct plans, sorted, joined by a line
  break); a snapshot row with an empty quantity or any row with an empty plan makes the key's
  value NA (not stated, never guessed); the cause bridge (:mod:`kit.bridges`) reads them;
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
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from kit import parse, roles
from kit._fast.frame import _build_frame
from kit.currency import _convert_currency, load_fx  # noqa: F401 - load_fx: part of the API
from kit.errors import LoadError, ParameterError, ValidationError
from kit.keys import _check_key_sums, ledger_frame  # noqa: F401 - ledger_frame: the plain rule, its old home
from kit.kinds import (  # noqa: F401 - EARLIEST_PLAUSIBLE, PRODUCT_DEFAULT: part of the API
    EARLIEST_PLAUSIBLE,
    PRODUCT_DEFAULT,
    LoadState,
    _check_status,
    _parse_snapshots,
    _parse_subscriptions,
)
from kit.months import MONTH_ORDINAL
from kit.narrative import other_fx_mode
from kit.problems import DataQuality
from kit.roles import OPTIONAL, REQUIRED, SYNONYMS  # noqa: F401 - SYNONYMS, OPTIONAL: part of the API
from kit.rules import EXACT
from kit.snapshots import AFTER_AS_OF_REASON, LAST_DATE_REASON, _snapshot_dates, _snapshot_window  # noqa: F401
from kit.sources import RawTable, normalise_column, read_source
from kit.subscriptions import (  # noqa: F401 - BILLING_PERIODS, MONTHS_IN, divide_half_even: part of the API
    BILLING_PERIODS,
    MONTHS_IN,
    _expand_subscriptions,
    _subscription_window,
    divide_half_even,
)

KINDS = ("snapshots", "subscriptions", "stripe")
#: The ledger's own columns (the rest are customer attributes); ``quantity`` and ``plans`` only where the source
#: has a quantity and a plan column.
LEDGER_COLUMNS = ("customer_id", "product", "month", "mrr_cents", "quantity", "plans")
ON_INVALID = ("raise", "quarantine")
FX_MODES = ("monthly", "constant")
SNAPSHOT_DATES = ("raise", "last")


# --- the result ---------------------------------------------------------------------


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
        The data window (see docs/definitions.md, "The data window").
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
    #: The same rows in the other FX mode, when asked (``load_ledger(fx_reference=True)``) and
    #: an FX table converts several currencies; None otherwise.
    fx_reference: Ledger | None = None
    #: The day the window's last month is measured on (given or found); chunked loads compare it (kit.chunks).
    as_of: pd.Timestamp | None = None

    @property
    def attributes(self) -> list[str]:
        """Names of the customer attribute columns."""
        return [c for c in self.frame.columns if c not in LEDGER_COLUMNS]

    def monthly_mrr(self) -> pd.DataFrame:
        """Return ``month, mrr_cents, customers`` for every month of the window (zeros included)."""
        months = pd.period_range(self.first_month, self.last_month, freq="M")
        grouped = self.frame.groupby("month", observed=True).agg(
            mrr_cents=("mrr_cents", "sum"), customers=("customer_id", "nunique")
        )
        out = grouped.reindex(months, fill_value=0).rename_axis("month").reset_index()
        return out.astype({"mrr_cents": "int64", "customers": "int64"})

    def __repr__(self) -> str:
        """Say the ledger in one line (window, customers, products, currency, rows), not its rows."""
        from kit.display import ledger_text

        return ledger_text(self)

    def _repr_html_(self) -> str:
        """Show the ledger in a notebook as a card (:func:`kit.display.ledger_html`)."""
        from kit.display import ledger_html

        return ledger_html(self)


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
    fx_reference: bool | str = False,
    preset: str | None = None,
) -> Ledger:
    """
    Load a source into a validated :class:`Ledger`.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV, Excel, Parquet or SQLite file, a SQLAlchemy URL (with ``table`` or
        ``query``), or a DataFrame.
    kind : {"snapshots", "subscriptions", "stripe"}, optional
        The input shape; detected from the columns when omitted. ``"stripe"``: Stripe objects
        (a ``.json``/``.jsonl`` file of subscriptions and/or invoices, read by Stripe's MRR
        rules: :mod:`kit.stripe`) or one of Stripe's dashboard CSV exports (:mod:`kit.presets`),
        loaded as subscriptions; a ``.json``/``.jsonl`` file is read so whatever the kind.
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
    preset : str, optional
        A billing system's export (:data:`kit.presets.PRESETS`: ``stripe-subscriptions``,
        ``chargebee``, …): its column names and rules map onto the kit's. Detected from the
        header when omitted (and no ``mapping`` is given).
    fx_reference : bool
        Also convert the same parsed rows in the other FX mode and attach that ledger as
        ``ledger.fx_reference`` when an FX table converts several currencies (the report
        compares the two): one read and one parse, exactly what a second load in the other
        mode would give, its errors included. Default False (``fx_reference`` is None).
        ``"always"``: whenever an FX table is given, even for one currency (a chunk of customers
        of a source with several: :mod:`kit.analysis_chunks`).

    Returns
    -------
    Ledger

    Raises
    ------
    LoadError
        Structural faults: missing file, unreadable bytes, missing columns, no rows.
    ValidationError
        Invalid rows with ``on_invalid="raise"``; ``.problems`` lists them all.
    ParameterError
        An option out of its choices (``kind``, ``on_invalid``, ``fx_mode``, …) or an
        ``as_of`` after ``today``.

    Examples
    --------
    >>> import datetime
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> ledger.frame
      customer_id product    month  mrr_cents
    0           a       P  2024-01       1000
    1           a       P  2024-02       1500
    2           a       Q  2024-02        500
    3           b       P  2024-02        800
    4           c       P  2024-01        400
    >>> ledger.kind, str(ledger.first_month), str(ledger.last_month)
    ('snapshots', '2024-01', '2024-02')
    >>> load_ledger("subscriptions.csv")  # doctest: +SKIP
    """
    thousands = _check_options(on_invalid, decimal, thousands, thousands_grouping, fx_mode, kind, snapshot_dates)
    today = pd.Timestamp(today or date.today())
    as_of_day = parse_as_of(as_of, today)

    raw = read_source(source, table=table, query=query, sheet=sheet, header_row=header_row, sep=sep, encoding=encoding)
    raw, read_by_rules = _billing_system(raw, kind, preset, mapping, on_invalid)
    if raw.excluded or raw.refused or kind == "stripe" or read_by_rules:
        kind = "subscriptions"  # a billing system's rows are subscription periods
    frame, explicit = _apply_mapping(raw, mapping, defaults)
    explicit |= read_by_rules  # the preset's rules read these (its status column): no note that the kit does not
    kind = kind or _detect_kind(raw.name, frame)
    frame, column_notes = roles.take_synonyms(raw.name, frame, kind, explicit)
    _check_columns(raw.name, frame, kind)
    ctx = LoadState(raw, frame, kind, on_invalid, today)
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
            rows = rows.loc[ctx.valid[rows.index]]  # here, not in a helper: the rows before it are freed
        rows = _snapshot_dates(ctx, rows, snapshot_dates, date_format)
        months = rows[MONTH_ORDINAL].to_numpy()
    else:
        first, last, as_of_day = _subscription_window(rows, as_of_day, today, ctx.raw.name)
        rows, months = _expand_subscriptions(ctx, rows, last, as_of_day)
    # the other FX mode converts the same parsed rows, on its own copy of the problem log
    other = (ctx.fork(), rows.copy(deep=False), months) if fx_reference and fx is not None else None
    window = (first, last, as_of_day)
    ledger = _convert_and_build(ctx, rows, months, window, fx, fx_mode, currency)
    if other is not None and (fx_reference == "always" or len(ledger.quality.currencies) > 1):
        ledger.fx_reference = _convert_and_build(*other, window, fx, other_fx_mode(fx_mode), currency)
    del ctx, raw, frame, rows, other
    _release_arrow_memory()  # the source's columns: their memory is free for the engine to reuse
    return ledger


def _billing_system(raw: RawTable, kind, preset, mapping, on_invalid: str) -> tuple[RawTable, set[str]]:
    """
    Read a billing system's export by its preset, and refuse or exclude what its reader refused.

    The preset is the one given, or the one detected from the header when neither the kind nor a
    mapping says otherwise. A load that keeps nothing stops, naming what was left out and why.

    Returns the raw table and the columns the preset's rules read (its status column, say).
    """
    read_by_rules: set[str] = set()
    from_stripe = str(raw.details.get("format", "")).startswith("Stripe")
    if not from_stripe and (preset or kind in (None, "stripe")) and not mapping:
        from kit import presets  # the table of billing systems' column names

        name = preset or presets.detect(raw.frame.columns)
        if name is None and kind == "stripe":
            raise LoadError(f"{raw.name}: kind 'stripe' reads a file of Stripe objects (.json, .jsonl) or Stripe's "
                            f"subscriptions or invoice line items CSV export; this header is neither "
                            f"(columns found: {', '.join(raw.frame.columns[:12])})")  # fmt: skip
        if name is not None:
            raw = presets.apply(raw, name)
            rule = presets.PRESETS[name].status
            read_by_rules = {normalise_column(rule.column)} if rule is not None else set()
    elif preset:
        raise ParameterError("preset= names a CSV export's columns: it cannot be combined with mapping= "
                             "or with a file of Stripe objects")  # fmt: skip
    if from_stripe and kind == "snapshots":
        raise ParameterError(f"{raw.name} holds Stripe objects, read as subscription periods: kind='snapshots' "
                             "does not apply (leave kind out, or pass kind='stripe')")  # fmt: skip
    if raw.refused:
        _refuse(raw, on_invalid)
    if not len(raw.frame) and (raw.excluded or raw.refused):
        shown = "; ".join(f"{reason}: {len(labels):,} ({', '.join(labels[:3])})" for reason, labels in
                          [*raw.excluded, *raw.refused])  # fmt: skip
        raise LoadError(f"{raw.name}: nothing in it is MRR by its billing system's rules ({shown})")
    return raw, read_by_rules


def _refuse(raw: RawTable, on_invalid: str) -> None:
    """Raise on what a billing-system reader refused (strict), or exclude it with its reason (quarantine)."""
    if on_invalid == "quarantine":
        raw.excluded = [*raw.excluded, *((f"refused: {reason}", labels) for reason, labels in raw.refused)]
        raw.refused = []
        return
    count = sum(len(labels) for _, labels in raw.refused)
    said = "1 object or line holds" if count == 1 else f"{count:,} objects or lines hold"
    lines = [f"{raw.name}: {said} values no real account has (placeholders?); nothing was loaded."]
    problems = []
    for reason, labels in raw.refused:
        more = f", … ({len(labels):,})" if len(labels) > 3 else ""
        lines.append(f"  {reason}: {', '.join(labels[:3])}{more}")
        problems += [(label, "", "", reason) for label in labels]
    lines.append("Fix them in the billing system, or pass on_invalid='quarantine' (CLI --lenient) to exclude them "
                 "and count them in the data-quality table.")  # fmt: skip
    raise ValidationError("\n".join(lines), pd.DataFrame(problems, columns=["row", "column", "value", "reason"]))


def _convert_and_build(ctx, rows, months, window, fx, fx_mode, currency) -> Ledger:
    """Finish a load: convert to the reporting currency, check the key sums, build the frame and its quality."""
    first, last, as_of_day = window
    kind = ctx.kind
    reporting, amounts, rows, months = _convert_currency(ctx, rows, months, fx, fx_mode, currency, last)
    if MONTH_ORDINAL not in rows.columns:
        rows[MONTH_ORDINAL] = months
    rows, amounts = _check_key_sums(ctx, rows, amounts)
    del months  # _build_frame takes the months out of rows, and frees them once used
    keyed = {"quantity": rows["quantity"].to_numpy() if ctx.has_quantity else None,
             "plans": rows["plan"] if ctx.has_plan else None}  # fmt: skip
    built, shared = _build_frame(rows, amounts, ctx.attributes, **keyed)
    # identical snapshot rows share their customer · product · month: only those need comparing
    ctx.add_notes(rows.index[shared] if kind == "snapshots" else None)
    details = {
        "kind": kind,
        **ctx.raw.details,
        "reporting currency": reporting,
        "FX mode": fx_mode if fx is not None else None,
    }
    if kind == "subscriptions" and as_of_day < last.to_timestamp(how="end").normalize():
        details["window note"] = (f"last month {last} measured on as_of {as_of_day.date()}, not its last day "
                                  "(nothing after as_of enters any figure)")  # fmt: skip
    quality = ctx.quality(details, _facts(built, first, last, ctx.currencies))
    quality.currencies = tuple(ctx.currencies)
    return Ledger(built, kind, first, last, reporting, quality, as_of=as_of_day)


def _check_options(on_invalid, decimal, thousands, thousands_grouping, fx_mode, kind, snapshot_dates) -> str | None:
    """Refuse options outside their allowed values; return the thousands separator (``None``: none)."""
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
    return thousands


def _facts(built: pd.DataFrame, first: pd.Period, last: pd.Period, currencies: list[str]) -> dict:
    """Return the facts of the data-quality table: window, customers and products present, currencies."""
    return {
        "window": f"{first} to {last}",
        "customers": f"{len(built['customer_id'].cat.categories):,}",  # only those present
        "products": ", ".join(map(str, built["product"].cat.categories)),
        "currencies": ", ".join(currencies) or "not stated",
    }


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
                             "character, sign or bracket); pass one of , . ' _ space or NBSP "
                             "(CLI --thousands)")  # fmt: skip
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
        "pass kind= and a mapping for differently named columns" + _HEADER_HINT
    )


def _check_columns(name: str, frame: pd.DataFrame, kind: str) -> None:
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if not missing:
        return
    suggestions = roles.suggestions(frame, missing)
    message = (
        f"{name}: missing required columns for {kind}: {', '.join(missing)} (columns found: {', '.join(frame.columns)})"
    )
    if suggestions:
        message += f"; if they are named differently, pass mapping={suggestions!r}"
    if kind == "subscriptions" and "billing_period" in missing:
        message += "; a file of monthly amounts can pass defaults={'billing_period': 'month'}"
    if len(missing) == len(REQUIRED[kind]) or len(missing) > 2:
        message += _HEADER_HINT
    raise LoadError(message)


_HEADER_HINT = "; if the header is not on the first row, pass header_row= (CLI --header-row)"


EXACT_SUM = EXACT  # the old name of kit.rules.EXACT: a key's sum of cents must stay below it


def filter_customers(ledger: Ledger, filters: dict[str, object]) -> Ledger:
    """
    Keep the customers whose attributes match ``filters`` (``{"region": ["EMEA"]}``).

    A customer is judged by its attribute in its latest month in the ledger, and is kept
    or dropped whole, so a filter never creates fake new or churned customers when an
    attribute changes over time.

    Parameters
    ----------
    ledger : Ledger
    filters : dict
        Attribute → a value or a list of values (compared as text); a customer is kept when
        every attribute holds one of its values. Empty: the ledger as it is.

    Returns
    -------
    Ledger
        The kept customers' rows, with the same window, kind, currency and data quality;
        categories only the dropped customers had are removed.

    Raises
    ------
    ParameterError
        An attribute the ledger does not have, a value no customer has (with a
        did-you-mean for a different case), or no customer matching all the filters.

    Examples
    --------
    >>> import datetime
    >>> rows = [("a", "P", "2024-01", "10", "EMEA"), ("a", "P", "2024-02", "15", "EMEA"),
    ...         ("b", "P", "2024-02", "8", "US"), ("c", "P", "2024-01", "4", "US")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr", "region"])
    >>> ledger = load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> filter_customers(ledger, {"region": "EMEA"}).frame["customer_id"].tolist()
    ['a', 'a']
    >>> filter_customers(ledger, {"region": "emea"})
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: filter region=emea matches no customer; did you mean 'EMEA'? (region values: EMEA, US)
    """
    if not filters:
        return ledger
    latest = _latest(ledger)
    check_filters(filters, _held_values(ledger, filters, latest), ledger.attributes)
    keep = _kept(latest, filters)
    if not keep.any():
        raise ParameterError(f"no customer matches all the filters ({_shown_filters(filters)})")
    return _customers_kept(ledger, latest, keep)


def _latest(ledger: Ledger) -> pd.DataFrame:
    """Each customer's row of its latest month (the attributes filters read)."""
    return ledger.frame.sort_values("month", kind="stable").drop_duplicates("customer_id", keep="last")


def _held_values(ledger: Ledger, filters: dict, latest: pd.DataFrame) -> dict[str, list[str]]:
    """Return the values (text, sorted) of each filtered attribute the ledger has, in its customers' latest month."""
    return {column: sorted(latest[column].astype(str).unique()) for column in filters if column in ledger.attributes}


def check_filters(filters: dict, known: dict[str, list[str]], attributes) -> None:
    """
    Refuse a filter on an attribute the data does not have, or a value no customer has (a typo, not an empty report).

    ``known``: the values each attribute takes (:func:`_held_values`; a chunked report's, of every chunk).
    """
    for column, wanted in filters.items():
        if column not in attributes:
            raise ParameterError(f"cannot filter on {column!r}; the attributes are {', '.join(attributes) or 'none'}")
        for value in _wanted(wanted):
            if value not in known[column]:
                alike = [k for k in known[column] if k.casefold() == value.casefold()]
                hint = f"; did you mean {alike[0]!r}?" if alike else ""
                named = [k if k.strip() else "(empty)" for k in known[column][:20]]
                more = len(known[column]) - 20
                shown = ", ".join(named) + (f" and {more:,} more" if more > 0 else "")
                raise ParameterError(f"filter {column}={value} matches no customer{hint} ({column} values: {shown})")


def _wanted(wanted) -> list[str]:
    return [str(v) for v in (wanted if isinstance(wanted, (list, tuple, set)) else [wanted])]


def _shown_filters(filters: dict) -> str:
    return "; ".join(f"{c}={'+'.join(map(str, v)) if isinstance(v, (list, tuple, set)) else v}"
                     for c, v in filters.items())  # fmt: skip


def _kept(latest: pd.DataFrame, filters: dict) -> pd.Series:
    keep = pd.Series(True, index=latest.index)
    for column, wanted in filters.items():
        keep &= latest[column].astype(str).isin(_wanted(wanted))
    return keep


def filter_chunk(ledger: Ledger, filters: dict) -> tuple[Ledger | None, dict[str, list[str]]]:
    """
    Keep a chunk's customers matching the filters, unchecked (:func:`check_filters` checks the whole's values).

    Returns the kept ledger (None when the chunk keeps no customer; equal to :func:`filter_customers`
    where that keeps some) and the values the chunk's customers hold (:func:`_held_values`), for the check.
    """
    if not filters:
        return ledger, {}
    latest = _latest(ledger)
    keep = _kept(latest, {c: v for c, v in filters.items() if c in ledger.attributes})
    return (_customers_kept(ledger, latest, keep) if keep.any() else None), _held_values(ledger, filters, latest)


def _customers_kept(ledger: Ledger, latest: pd.DataFrame, keep: pd.Series) -> Ledger:
    frame = ledger.frame
    customers = set(latest.loc[keep, "customer_id"].astype(str))
    subset = frame.loc[frame["customer_id"].astype(str).isin(customers)].reset_index(drop=True)
    for column in ["customer_id", "product", *ledger.attributes]:  # values only the other customers had are gone
        if isinstance(subset[column].dtype, pd.CategoricalDtype):
            subset[column] = subset[column].cat.remove_unused_categories()
    return Ledger(subset, ledger.kind, ledger.first_month, ledger.last_month, ledger.currency, ledger.quality)
