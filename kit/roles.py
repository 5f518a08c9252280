r"""
Which source column plays which role, and which rows are not customers.

Rules (the reliability table's rows 4 and 47–49):

* **Roles and synonyms.** Each role of a kind (``customer_id``, ``month``, ``mrr``, …,
  see :data:`ROLES`) is filled, in this order, by: a column the caller mapped to it
  (``mapping=`` / ``--map``), or a default the caller gave (``defaults=`` / ``--default``);
  else the column of the role's own name (case, spaces and punctuation aside); else a
  column named by one of the role's plain synonyms (:data:`SYNONYMS`: ``seats``,
  ``licenses``, ``users``, ``qty`` … for ``quantity``), matched with case, spaces and
  punctuation ignored (``Seat count``, ``no. of seats``). A synonym taken is said in a
  data-quality note (``column 'seats' taken as quantity``). A synonym that is not
  taken because the role is filled otherwise stays a customer attribute, also with a
  note. Two synonyms for one unfilled role are an error that names both and asks for a
  mapping. Names that often but not always mean a role (``amount`` or ``revenue`` for
  ``mrr``, ``date`` or ``period`` for ``month``, Stripe's ``unit_amount`` in cents,
  ``canceled_at`` for ``end_date``, :data:`SUGGESTED`) are never taken: when the role is
  required and missing, the error suggests the mapping. To keep a synonym as an
  attribute, map it to itself (``--map users=users``).
* **Total rows.** A ``customer_id`` or ``product`` that is only a total word (``Total``,
  ``Totals``, ``Grand total``, ``Subtotal``, ``Sub-total``, ``Sum``, ``Sum total``,
  ``Overall total``, in any case and spacing), possibly surrounded by punctuation,
  asterisks or brackets (``Total:``, ``** Total **``, ``[Total]``), and optionally
  followed by one bracketed remark (``Total (USD)``, ``Grand Total (all regions)``) or an
  ISO 4217 currency code in capitals (``Total EUR``, :data:`CURRENCY_CODES`), marks a
  total row of a spreadsheet, not a customer: an invalid row (an error by default,
  excluded and counted under ``on_invalid="quarantine"``). A total word followed by other
  words, or glued to more letters, is a name (``Total Wine & More``, ``Sum Labs``,
  ``Totally Legit``, ``Total Gym``, ``Total usd``, ``TotalEnergies``, ``Subtotal Ltd``),
  never refused. What Excel's Subtotal feature and pivot tables write is a total row
  too: a text that *ends* in a total word after another word or value, separated by a
  space or a mark (``Core Total``, ``2024-02 Total``, ``EMEA total:``, ``Core Subtotal``,
  ``EMEA Total (USD)``), and a pivot label starting ``Sum of``, ``Count of`` or
  ``Average of`` (``Sum of MRR``, ``Count of customers``). A name ending in the word
  ``Total`` (``Health Total``) is thus refused too: rename it in the source (the
  message names its row). Only texts of at most 80 characters that hold ``tot``,
  ``sum``, ``count`` or ``average`` (any case) reach the patterns.
* **Line breaks and NUL.** A line break (``\n``, ``\r``) or a NUL byte anywhere in a
  key field (``customer_id``, ``product``, the month or dates, ``currency``,
  ``billing_period``, ``billing_interval_count``, ``quantity``, ``plan``,
  ``subscription_id``, and the amount) is an invalid row: it shows a quoting fault that
  merged lines, and a stripped or guessed value could join two customers. Attribute
  text (segment, region, names) may hold line breaks, but a NUL byte there is invalid
  too (never removed silently: that would change the data).

* **Status columns.** The kit does not read a subscription's status (Stripe's rules come
  later). A subscriptions column the caller did not map whose name means a status
  (``status``, ``state``, ``subscription_status``, ``subscription-status``, ``sub_state`` …:
  :func:`status_columns`) is checked row by row (any case, spaces or hyphens):

  - a final status (:data:`FINAL`: ``canceled``, ``ended``, ``expired``, ``churned`` …) on
    a row *with* an ``end_date`` is history and fine (the row bills until its end); on an
    ongoing row (no ``end_date``) it contradicts the row and stops the load;
  - a trial status (:data:`TRIAL`: ``trialing``, ``trial`` …) always stops the load (a
    trial period is not MRR);
  - a pause-like status (:data:`PAUSED`: ``paused``, ``unpaid``, ``suspended``,
    ``on_hold``, ``pending``, ``incomplete``) stops the load on an ongoing row;
  - ``past_due`` bills (Stripe counts it as MRR) and active-like values
    (:data:`ACTIVE_LIKE`) bill: neither stops.

  The fix is in the data: end or remove the rows that do not bill, or map the column to a
  plain attribute name (``--map status=sub_status``) to say it is only an attribute. A
  status column whose values are all known statuses and where no row stops gets a note;
  one holding other values (a ``state`` of addresses: ``CA``, ``NY``) is an attribute.

Checks run on each distinct value once, so millions of rows with a few thousand
distinct values cost one pass over integer codes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from kit import parse
from kit.errors import LoadError

REQUIRED = {
    "snapshots": ["customer_id", "month", "product", "mrr"],
    "subscriptions": ["customer_id", "start_date", "end_date", "amount", "billing_period"],
}
OPTIONAL = {
    "snapshots": ["currency"],
    "subscriptions": [
        "product",
        "quantity",
        "billing_interval_count",
        "currency",
        "subscription_id",
        "discount_amount",
    ],
}
#: Every role a column can play, by kind: the required and optional columns, and the
#: columns with a meaning of their own (``plan``; ``quantity`` of snapshots, read as a count).
ROLES = {
    "snapshots": [*REQUIRED["snapshots"], *OPTIONAL["snapshots"], "quantity", "plan"],
    "subscriptions": [*REQUIRED["subscriptions"], *OPTIONAL["subscriptions"], "plan"],
}
#: Plain synonyms, taken for their role (with a note) when the role has no column.
SYNONYMS = {
    "customer_id": ["customer", "customerid", "cust_id", "customer_no", "customer_number", "customer_key",
                    "account_id", "client_id"],
    "month": ["snapshot_month", "mrr_month", "billing_month", "revenue_month", "month_start", "snapshot_date",
              "month_of"],
    "product": ["product_name", "product_id", "product_line", "product_code"],
    "mrr": ["monthly_amount", "mrr_amount", "monthly_recurring_revenue", "mrr_value", "monthly_revenue"],
    "amount": ["price", "unit_price", "price_per_unit", "unit_cost", "price_each"],
    "quantity": ["seats", "seat_count", "number_of_seats", "num_seats", "no_of_seats", "nr_of_seats", "seat_quantity",
                 "licenses", "licences", "license_count", "licence_count", "number_of_licenses", "users",
                 "user_count", "number_of_users", "num_users", "units", "unit_count", "qty"],
    "billing_period": ["interval", "billing_interval", "plan_interval", "recurring_interval", "billing_cycle",
                       "billing_frequency", "billing_period", "frequency"],
    "billing_interval_count": ["interval_count", "billing_interval_count", "plan_interval_count",
                               "recurring_interval_count"],
    "start_date": ["start", "started_at", "starts_at", "start_at", "date_start", "start_date", "subscription_start",
                   "period_start", "begin_date", "valid_from"],
    "end_date": ["end", "ended_at", "ends_at", "end_at", "date_end", "end_date", "subscription_end", "period_end",
                 "valid_to", "valid_until"],
    "plan": ["plan_name", "plan_id", "tier", "plan_tier", "pricing_plan", "price_plan", "subscription_plan"],
    "currency": ["currency_code", "ccy", "curr", "iso_currency", "currency_iso"],
    "subscription_id": ["subscription", "sub_id", "subscriptionid", "subscription_number"],
}  # fmt: skip
#: Names that may mean a role but need the caller's word: only suggested in errors.
SUGGESTED = {
    "customer_id": ["account", "client", "user_id"],
    "month": ["date", "period"],
    "product": ["item", "sku"],
    "mrr": ["amount", "revenue", "mrr_cents"],
    "amount": ["monthly_amount", "unit_amount", "plan_amount", "mrr"],
    "start_date": ["current_period_start"],
    "end_date": ["canceled_at", "cancel_date", "cancelled_at", "current_period_end"],
    "billing_period": ["period"],
}
#: Columns whose values are keys: a line break or NUL in them is an invalid row.
KEY_COLUMNS = ["customer_id", "product", "month", "start_date", "end_date", "currency", "billing_period",
               "billing_interval_count", "quantity", "plan", "subscription_id", "mrr", "amount"]  # fmt: skip
#: ISO 4217 codes of the currencies in use: ``Total USD`` is a total row, ``Total Gym`` a name.
CURRENCY_CODES = frozenset((
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD "
    "CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ "
    "GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR "
    "LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN "
    "PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS "
    "TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG"
).split())  # fmt: skip
_TOTAL_MARKS = r"[\s:.,;=\-–—*#_~!|()\[\]{}<>]*"  # spacing, punctuation, asterisks and brackets around the word
_TOTAL = re.compile(
    rf"{_TOTAL_MARKS}(?:(?:(?:grand|sub|overall|sum)[\s\-]*)?totals?|sum){_TOTAL_MARKS}"
    rf"(?:(?:\([^()]*\)|\[[^\[\]]*\]|(?-i:{'|'.join(sorted(CURRENCY_CODES))})){_TOTAL_MARKS})?",
    re.IGNORECASE,
)
_TOTAL_WORD = r"(?:(?:grand|sub|overall)[\s\-]*)?totals?"
_TOTAL_TAIL = rf"{_TOTAL_MARKS}(?:(?:\([^()]*\)|\[[^\[\]]*\]|(?-i:{'|'.join(sorted(CURRENCY_CODES))})){_TOTAL_MARKS})?"
#: Excel's Subtotal rows (``Core Total``): a word or value, then a total word that is not glued to it.
_ENDS_IN_TOTAL = re.compile(rf"{_TOTAL_MARKS}[^\W_].*(?<![^\W_]){_TOTAL_WORD}{_TOTAL_TAIL}", re.IGNORECASE)
#: A pivot table's value labels (``Sum of MRR``).
_PIVOT_LABEL = re.compile(r"\s*(?:sum|count|average)\s+of(?:\s.*)?", re.IGNORECASE | re.DOTALL)
_TOTAL_LONGEST = 80  # longer texts are never a total word with a remark: not matched at all
_BREAK = re.compile(r"[\r\n\x00]")


def squash(name: object) -> str:
    """
    Return a column name with case, spaces and punctuation ignored: how synonyms are matched.

    >>> squash("No. of Seats"), squash("Seat-count"), squash(" qty ")
    ('noofseats', 'seatcount', 'qty')
    """
    return re.sub(r"[\W_]+", "", str(name).casefold())


def kind_from_synonyms(columns) -> str | None:
    """Return the kind whose date role a synonym names (``started_at``: subscriptions), if exactly one does."""
    found = {squash(c) for c in columns}
    starts = {squash(s) for s in SYNONYMS["start_date"]} & found
    months = {squash(s) for s in [*SYNONYMS["month"], "month"]} & found
    if starts and not months:
        return "subscriptions"
    if months and not starts:
        return "snapshots"
    return None


def take_synonyms(name: str, frame: pd.DataFrame, kind: str, explicit: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """
    Rename unmapped synonym columns to their roles; return the frame and the notes to make.

    ``explicit`` holds the roles the caller filled (mapping or defaults) and the source
    columns the caller named in the mapping: neither is touched.
    """
    columns = list(frame.columns)
    renames: dict[str, str] = {}
    notes: list[str] = []
    for role in ROLES[kind]:
        words = {squash(s) for s in [role, *SYNONYMS.get(role, [])]}
        found = [c for c in columns if c != role and c not in explicit and c not in renames
                 and squash(c) in words and c not in ROLES[kind]]  # fmt: skip
        if not found:
            continue
        if role in columns or role in explicit:
            by = "given by the mapping or a default" if role in explicit else f"column {role!r}"
            notes += [f"column {c!r} kept as an attribute ({role} is {by})" for c in found]
            continue
        if len(found) > 1:
            shown = " and ".join(repr(c) for c in found)
            raise LoadError(
                f"{name}: columns {shown} could each be {role}; say which with mapping={{{found[0]!r}: {role!r}}} "
                f"(CLI --map {found[0]}={role}), or map the other to itself to keep it as an attribute"
            )
        renames[found[0]] = role
        notes.append(f"column {found[0]!r} taken as {role}")
    return (frame.rename(columns=renames) if renames else frame), notes


#: Names of an attribute beside ``month`` that may hold each row's snapshot date.
MONTH_DATE_NAMES = frozenset(squash(n) for n in [
    *SYNONYMS["month"], *SUGGESTED["month"], "as_of", "as_of_date", "snapshot", "snapshot_day", "snapshot_at",
    "report_date", "reporting_date", "day", "week", "week_start", "week_ending", "week_of"])  # fmt: skip


def month_date_columns(attributes) -> list[str]:
    """Return the attribute columns whose name means a date (``snapshot_date``, ``date``, ``as_of``), in order."""
    return [c for c in attributes if squash(c) in MONTH_DATE_NAMES]


def suggestions(frame: pd.DataFrame, missing: list[str]) -> dict[str, str]:
    """``{source column: role}`` for missing roles a column name may mean (see :data:`SUGGESTED`)."""
    out: dict[str, str] = {}
    squashed = {squash(c): c for c in frame.columns}
    for role in missing:
        for candidate in SUGGESTED.get(role, []):
            column = squashed.get(squash(candidate))
            if column is not None and column not in out:
                out[column] = role
                break
    return out


_STATUS_NAME = re.compile(r"(?:.*[_\-])?(?:status|state)(?:[_\-].*)?")
#: Final statuses: history on a row with an ``end_date``, a contradiction on an ongoing row.
FINAL = frozenset(("canceled cancelled ended expired incomplete_expired churned terminated "
                   "inactive").split())  # fmt: skip
#: Trial statuses: a trial period is not MRR, whatever the row's dates.
TRIAL = frozenset("trialing trialling trial in_trial free_trial".split())
#: Pause-like statuses: not billing while the row is ongoing.
PAUSED = frozenset("paused unpaid suspended on_hold pending incomplete".split())
#: Statuses that bill: active-like, and ``past_due`` (Stripe counts it as MRR).
BILLING = frozenset(("active", "live", "current", "paid", "past_due"))
#: Statuses of a subscription that bills without doubt (a column of only these gets the plain note).
ACTIVE_LIKE = frozenset(("active", "live", "current", "paid"))
#: Every status the kit knows (see :func:`status_columns`).
NOT_BILLING = FINAL | TRIAL | PAUSED


def normalise_status(text: object) -> str:
    """
    Return a status as compared: lower case, spaces and hyphens as ``_``.

    >>> normalise_status(" Past Due "), normalise_status("Incomplete-Expired")
    ('past_due', 'incomplete_expired')
    """
    return re.sub(r"[\s\-]+", "_", str(text).strip().casefold())


def status_stops(status: str, ended: bool) -> bool:
    """
    Whether a normalised status on a row stops the load (``ended``: the row has an ``end_date``).

    >>> status_stops("canceled", True), status_stops("canceled", False), status_stops("trialing", True)
    (False, True, True)
    >>> status_stops("paused", True), status_stops("paused", False), status_stops("past_due", False)
    (False, True, False)
    """
    return status in TRIAL or (not ended and (status in FINAL or status in PAUSED))


def status_columns(
    frame: pd.DataFrame, explicit: set[str], known, ended: np.ndarray | None = None
) -> list[tuple[str, dict[str, int], np.ndarray | None]]:
    """
    Find the columns that look like a subscription status, with the values and rows that stop the load.

    Only columns outside ``known`` (the roles) and ``explicit`` (named in a mapping) whose
    name means a status. ``ended`` marks the rows with an ``end_date`` (none when omitted).
    Returns ``(column, {value: rows}, positions)``: with ``positions`` of the rows that stop
    (:func:`status_stops`) and ``{value: rows stopping}``; or, when no row stops and every
    value is a known status, ``positions`` ``None`` and ``{value: rows}`` of all values (a
    column of other values is left out: it is some other state).
    """
    found = []
    n = len(frame)
    ended = np.zeros(n, dtype=bool) if ended is None else np.asarray(ended, dtype=bool)
    for column in frame.columns:
        if column in known or column in explicit or not _STATUS_NAME.fullmatch(str(column)):
            continue
        if frame[column].dtype.kind in "biufcmM" or not _may_hold_text(frame[column].dtype):
            continue  # numbers, dates and flags are no status
        codes, uniques = parse.factorize(frame[column])
        if not len(uniques):
            continue
        statuses = [normalise_status(u) for u in uniques]
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        values = {}
        for u, c in zip(uniques, counts, strict=True):
            values[str(u).strip()] = values.get(str(u).strip(), 0) + int(c)
        # each distinct value once: stops when ongoing, stops when ended (two flags per value)
        stop_open = np.array([status_stops(v, False) for v in statuses] + [False], dtype=bool)
        stop_ended = np.array([status_stops(v, True) for v in statuses] + [False], dtype=bool)
        stopping = np.where(ended, stop_ended[codes], stop_open[codes])
        if stopping.any():
            positions = np.flatnonzero(stopping)
            stop_counts = np.bincount(codes[positions], minlength=len(uniques))
            shown: dict[str, int] = {}
            for u, c in zip(uniques, stop_counts, strict=True):
                if c:
                    shown[str(u).strip()] = shown.get(str(u).strip(), 0) + int(c)
            found.append((column, shown, positions))
        elif all(v in BILLING or v in NOT_BILLING for v in statuses):
            found.append((column, values, None))
    return found


# --- values -----------------------------------------------------------------------------


def distinct_flags(series: pd.Series, flag) -> np.ndarray:
    """Positions of the rows whose value, as text, ``flag`` marks; ``flag`` sees each distinct text once."""
    if series.dtype.kind in "biufcmM" or not _may_hold_text(series.dtype):  # numbers, dates and flags hold no text
        return np.empty(0, dtype=np.int64)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.array.codes, pd.Series(series.cat.categories)
    else:
        codes, uniques = parse.factorize(series)
    if not len(uniques):
        return np.empty(0, dtype=np.int64)
    texts = uniques.astype(str) if uniques.dtype != object else uniques.map(str)
    marked = np.append(np.asarray(flag(texts), dtype=bool), False)  # the last entry: missing values (code -1)
    if not marked[:-1].any():
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(marked[codes])


def _may_hold_text(dtype) -> bool:
    """Whether a column of ``dtype`` can hold text (an Arrow column only if it is of strings)."""
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        kind = dtype.pyarrow_dtype
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    return True


def has_break(texts: pd.Series) -> np.ndarray:
    """Which texts hold a line break or a NUL byte."""
    return texts.str.contains(_BREAK).to_numpy(dtype=bool, na_value=False)


def has_nul(texts: pd.Series) -> np.ndarray:
    """Which texts hold a NUL byte."""
    return texts.str.contains("\x00", regex=False).to_numpy(dtype=bool, na_value=False)


def is_total(texts: pd.Series) -> np.ndarray:
    """
    Which texts are a total word only (a spreadsheet's total row), not a name.

    >>> is_total(pd.Series(["Total", " grand TOTAL: ", "Sub-total", "Sum", "Total Wine & More", "Summit"])).tolist()
    [True, True, True, True, False, False]
    >>> is_total(pd.Series(["Total (USD)", "** Total **", "Sum total", "Total EUR", "Grand Total (all regions)",
    ...                     "Sum Labs", "Totally Legit", "Total Gym"])).tolist()
    [True, True, True, True, True, False, False, False]
    >>> is_total(pd.Series(["Core Total", "2024-02 Total", "EMEA total:", "Sum of MRR", "Count of customers",
    ...                     "TotalEnergies", "Subtotal Ltd", "Sum Labs"])).tolist()
    [True, True, True, True, True, False, False, False]
    """
    out = np.zeros(len(texts), dtype=bool)
    short = texts.str.len().to_numpy(dtype=np.int64, na_value=0) <= _TOTAL_LONGEST
    if not short.any():
        return out
    # the prefilter: only texts holding "tot", "sum", "count" or "average" (any case) can be a total
    lowered = texts[short].str.lower()
    maybe = np.zeros(len(lowered), dtype=bool)
    for word in ("tot", "sum", "count", "average"):
        maybe |= lowered.str.contains(word, regex=False).to_numpy(dtype=bool, na_value=False)
    if maybe.any():
        where = np.flatnonzero(short)[maybe]
        candidates = texts.iloc[where]
        found = np.zeros(len(where), dtype=bool)
        for pattern in (_TOTAL, _ENDS_IN_TOTAL, _PIVOT_LABEL):
            found |= candidates.str.fullmatch(pattern).to_numpy(dtype=bool, na_value=False)
        out[where] = found
    return out
