"""
Billing systems' CSV exports as the kit's subscription periods: one table entry per system.

A *preset* (:class:`Preset`, the table :data:`PRESETS`) says how one billing system writes its
export: which of its columns are the kit's subscription columns (``customer_id, start_date,
end_date, amount, billing_period, billing_interval_count, quantity, product, plan, currency,
subscription_id, discount_amount``), in which unit it writes amounts, how it writes the billing
period and dates, and which rows are not MRR by the system's own rules (a status, a trial, a
proration or one-off invoice line). :func:`apply` turns a :class:`~kit.sources.RawTable` of such
an export into one the kit's subscription parser reads; :func:`detect` finds the preset from the
header. A new system is a new entry in :data:`PRESETS`, not code.

The presets, and where their column names come from (each entry's ``source``):

======================== ============================================================================
``stripe-subscriptions`` Stripe Dashboard, Billing > Subscriptions > Export. Header of an anonymised
                         export: https://github.com/75016paris/dishpatch-analytics-dashboard/blob/main/
                         sample_data/subscriptions.csv (``id``, ``Customer ID``, ``Status``,
                         ``Created (UTC)``, ``Start (UTC)``, ``Current Period Start/End (UTC)``,
                         ``Trial Start/End (UTC)``, ``Canceled At (UTC)``, ``Ended At (UTC)``);
                         ``Plan``, ``Quantity``, ``Amount``, ``Interval`` and the older
                         ``Start Date (UTC)`` from public code reading such exports. ``Product``,
                         ``Currency`` and ``Interval Count`` were not confirmed: optional.
``stripe-invoice-lines`` Stripe's ``invoice_line_items`` table as Stripe Sigma and Stripe Data
                         Pipeline export it (fields: https://docs.stripe.com/api/invoice-line-item/object;
                         columns as read in https://github.com/dagster-io/dagster-open-platform/blob/
                         main/dbt/models/staging/stripe/stg_stripe__invoice_line_items.sql), with the
                         invoice's ``customer_id`` joined from ``invoices``. The Dashboard's own
                         invoice line export could not be found: its names are not assumed.
``chargebee``            Chargebee subscription attributes (Product Catalog 1.0), as the API and the
                         exports name them: https://apidocs.au.chargebee.com/docs/api/v2/pcv-1/
                         subscriptions, https://datacatalog.chargebee.com/subscriptions.
``recurly``              Recurly's Subscriptions export (https://docs.recurly.com/docs/
                         subscriptions-exports: ``uuid``, ``account_code``, …); the other names are
                         the Recurly API's subscription fields (https://developers.recurly.com/api/
                         v2021-02-25/: ``plan_code``, ``state``, ``quantity``, ``unit_amount``,
                         ``currency``, ``activated_at``, ``expires_at``, ``current_period_started_at``,
                         ``trial_ends_at``); the export's full header could not be seen.
``chartmogul``           ChartMogul's CSV import, invoice line items file
                         (https://chartmogul-samples.s3-eu-west-1.amazonaws.com/public/
                         04_Invoice_line_items.csv, https://help.chartmogul.com/hc/en-us/articles/
                         360013881659), with ``Customer external ID`` and ``Currency`` joined from
                         its invoices file (the line file holds neither).
======================== ============================================================================

How a preset reads a row (:func:`apply`), every rule counted:

* **Columns.** The system's column names are matched as the kit folds them
  (:func:`kit.sources.normalise_column`: ``Customer ID`` → ``customer_id``, ``Start (UTC)`` →
  ``start_(utc)``); an entry's ``aliases`` are other names of a column (older exports). A column
  of the preset missing from the file is a :class:`~kit.errors.LoadError` naming the column and
  the preset, unless the entry lists it as ``optional``. Columns the preset does not map to a kit
  column stay as attributes, under their own names; one whose name is a kit column (ChartMogul's
  ``Discount amount`` is ``discount_amount``, in cents) is kept with the system's prefix
  (``chartmogul_discount_amount``) so the kit does not read it as its own, with a note.
* **Rules** (``filters``, then ``status``): each value of the rule's column (compared as
  :func:`kit.roles.normalise_status` folds it) keeps the row (``"keep"``; a status ``"mrr"``),
  keeps it until its ``end_date`` (a status ``"ended"``: a row without one is left out), or
  leaves it out with the entry's reason. Every row left out is in :attr:`RawTable.excluded`
  under its reason, labelled ``row N`` (its row in the file): rows in = rows kept + rows left out.
* **Trials** (``trial_end``): a row whose trial ended after its start starts at the trial's end
  (a trial is not MRR); one whose trial lasts to its end, or (periods read from dates) covers
  its whole period, is left out.
* **Billing period** (``interval``): a unit column (with a count column, 1 when empty), or, for
  invoice lines, the length of the row's own period: whole months (1: month, 3: quarter,
  6: half-year, 12: year, other counts as months × count; the end on the start's day of the
  month, or both on a month's last day, as billing anchors fall), whole weeks, or one day. An
  end written inclusively (one day short of whole months) is read as the next day. A period of
  no such length is left out.
* **Amounts** (``amount_unit``): ``major`` amounts pass as written (the kit reads them);
  ``minor`` ones are divided exactly (decimal arithmetic, never floats) by 100, by 1 for Stripe's
  zero-decimal currencies and by 1000 for its three-decimal ones
  (:data:`kit.stripe.ZERO_DECIMAL`, :data:`kit.stripe.THREE_DECIMAL`). An invoice line's amount
  (``line_amount``) is the line's total: the unit amount is that total over the quantity; a
  total that is not a whole multiple of its quantity is read as one unit of the total (said in a
  note). Tax is never read.
* **Dates**: ``YYYY-MM-DD`` and anything after it (a time, a zone) keep the date as written; a
  9- or 10-digit number is a Unix timestamp, read as its UTC date; other text passes unchanged
  (the kit's date parser reports it, or reads it with ``date_format``).
* **Refused** (:attr:`RawTable.refused`: an error, or excluded with ``on_invalid="quarantine"``):
  an empty amount, a minor-unit amount that is not a number or has no three-letter currency, an
  unreadable date or a period ending before it starts where the preset must compare dates.

To add a system: add a :class:`Preset` to :data:`PRESETS` with its ``source`` (where its column
names come from), ``detect`` (normalised header names that only its export has), ``columns``
(its column → the kit's) and its rules, and a test with a CSV in its real header.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from kit import roles
from kit.errors import LoadError, ParameterError
from kit.sources.table import RawTable, normalise_column
from kit.stripe import THREE_DECIMAL, ZERO_DECIMAL

__all__ = ["PRESETS", "Interval", "Preset", "Rule", "apply", "detect"]

#: The kit columns a preset may fill (kit.roles, subscriptions).
KIT_COLUMNS = ("customer_id", "start_date", "end_date", "amount", "billing_period", "billing_interval_count",
               "quantity", "product", "plan", "currency", "subscription_id", "discount_amount")  # fmt: skip
#: Amounts converted from the preset's unit.
MONEY_COLUMNS = ("amount", "discount_amount")
KEEP, MRR, ENDED = "keep", "mrr", "ended"


@dataclass(frozen=True)
class Rule:
    """
    Which rows one column of an export keeps, and why it leaves the others out.

    Attributes
    ----------
    column : str
        The column as the system names it.
    values : mapping
        Each value (folded: lower case, spaces and hyphens as ``_``) → ``"keep"``, or for a status
        ``"mrr"`` (kept) or ``"ended"`` (kept until its ``end_date``), or the reason it is left out.
    other : str, optional
        The reason for any other value (``{value}`` is replaced by it); ``None`` keeps it.
    """

    column: str
    values: Mapping[str, str]
    other: str | None = None


@dataclass(frozen=True)
class Interval:
    """
    How an export writes the billing period: unit and count columns, or the period's own dates.

    Attributes
    ----------
    unit, count : str, optional
        Columns of the unit (``month``) and of the count of units (empty: 1).
    units : mapping
        Each unit as the system writes it (folded) → the kit's billing period.
    from_dates : tuple of str, optional
        The columns of the row's own period (start, end): its length is the billing period.
    """

    unit: str | None = None
    count: str | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    from_dates: tuple[str, str] | None = None


@dataclass(frozen=True)
class Preset:
    """
    One billing system's export, declared: its column names and its MRR rules (see the module).

    Attributes
    ----------
    system : str
        The system and export, as a user knows them.
    source : str
        Where the column names come from (URLs), and what could not be confirmed.
    kind : str
        The kit kind the export becomes (``"subscriptions"``).
    detect : tuple of str
        Normalised header names that together identify the export.
    columns : mapping
        System column → kit column (:data:`KIT_COLUMNS`).
    amount_unit : {"major", "minor"}
        ``12.50`` or ``1250`` for 12.50.
    interval : Interval
        How the billing period is written.
    dates : str
        How dates are written, and what is read of them.
    status : Rule, optional
        The status column and each status's meaning.
    filters : tuple of Rule
        Other rules (line type, proration), applied before the status.
    trial_end : str, optional
        The column of the trial's end (a trial is not MRR).
    line_amount : bool
        The amount is an invoice line's total for its quantity, not a unit price.
    aliases : mapping
        System column → other names it has in some exports.
    optional : tuple of str
        System columns that may be absent.
    notes : str
        What the preset cannot see in this export.
    """

    system: str
    source: str
    kind: str
    detect: tuple[str, ...]
    columns: Mapping[str, str]
    amount_unit: str
    interval: Interval
    dates: str
    status: Rule | None = None
    filters: tuple[Rule, ...] = ()
    trial_end: str | None = None
    line_amount: bool = False
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    optional: tuple[str, ...] = ()
    notes: str = ""


_STRIPE_UNITS = {"day": "day", "week": "week", "month": "month", "year": "year"}
_RECURRING = {"subscription": KEEP, "subscription_item": KEEP}

PRESETS: dict[str, Preset] = {
    "stripe-subscriptions": Preset(
        system="Stripe subscriptions export (Dashboard > Billing > Subscriptions > Export)",
        source=(
            "https://github.com/75016paris/dishpatch-analytics-dashboard/blob/main/sample_data/subscriptions.csv "
            "(header of an anonymised export); Plan, Quantity, Amount, Interval, Customer Email and the older "
            "'Start Date (UTC)' from public code reading these exports; Product, Currency and Interval Count "
            "not confirmed (optional)"
        ),
        kind="subscriptions",
        detect=("id", "customer_id", "status", "current_period_start_(utc)", "current_period_end_(utc)"),
        columns={
            "id": "subscription_id",
            "Customer ID": "customer_id",
            "Plan": "plan",
            "Product": "product",
            "Quantity": "quantity",
            "Amount": "amount",
            "Currency": "currency",
            "Start (UTC)": "start_date",
            "Ended At (UTC)": "end_date",
        },
        amount_unit="major",
        interval=Interval(unit="Interval", count="Interval Count", units=_STRIPE_UNITS),
        dates="'2024-01-05 14:03' (UTC): the date part",
        status=Rule(
            "Status",
            {
                "active": MRR,
                "past_due": MRR,
                "trialing": "status trialing (not MRR until the trial ends)",
                "canceled": ENDED,
                "incomplete": "status incomplete (never MRR)",
                "incomplete_expired": "status incomplete_expired (never MRR)",
                "unpaid": "status unpaid (not MRR)",
                "paused": "status paused (not MRR)",
            },
            other="status {value} (not a Stripe subscription status)",
        ),
        trial_end="Trial End (UTC)",
        aliases={"Start (UTC)": ("Start Date (UTC)",)},
        optional=("Product", "Currency", "Interval Count", "Trial End (UTC)"),
        notes="one row per subscription: a subscription's second item is not in this export; metered prices "
        "and coupons cannot be told from it",
    ),
    "stripe-invoice-lines": Preset(
        system="Stripe invoice line items (Sigma / Data Pipeline invoice_line_items, with the invoice's customer_id)",
        source=(
            "https://docs.stripe.com/api/invoice-line-item/object (the fields); column names as read in "
            "https://github.com/dagster-io/dagster-open-platform/blob/main/dbt/models/staging/stripe/"
            "stg_stripe__invoice_line_items.sql (invoice_id, subscription, subscription_item_id, source_type, "
            "amount, currency, quantity, period_start, period_end, proration, price_id); customer_id joined from "
            "invoices. The Dashboard's invoice line export names could not be found"
        ),
        kind="subscriptions",
        detect=("invoice_id", "subscription_item_id", "period_start", "period_end", "proration"),
        columns={
            "customer_id": "customer_id",
            "subscription": "subscription_id",
            "price_id": "plan",
            "quantity": "quantity",
            "amount": "amount",
            "currency": "currency",
            "period_start": "start_date",
            "period_end": "end_date",
        },
        amount_unit="minor",
        interval=Interval(from_dates=("period_start", "period_end")),
        dates="'2024-01-05 14:03:00' (UTC) or a Unix timestamp: the date; period_end is the next period's start",
        filters=(
            Rule(
                "source_type",
                {
                    **_RECURRING,
                    "invoiceitem": "one-off invoice item line (not recurring)",
                    "invoice_item": "one-off invoice item line (not recurring)",
                },
                other="line type {value} (not a subscription line)",
            ),
            Rule(
                "proration",
                {"true": "proration line (a partial period, not a price)", "false": KEEP, "": KEEP},
                other="proration {value} (not true or false)",
            ),
        ),
        line_amount=True,
        aliases={"source_type": ("type",), "price_id": ("plan_id",)},
        notes="metered usage lines cannot be told from licensed ones without the price; discounts (in "
        "discount_amounts) are not read",
    ),
    "chargebee": Preset(
        system="Chargebee subscriptions export (Product Catalog 1.0 attributes)",
        source=(
            "https://apidocs.au.chargebee.com/docs/api/v2/pcv-1/subscriptions and "
            "https://datacatalog.chargebee.com/subscriptions (attribute names; the export's exact header could "
            "not be seen)"
        ),
        kind="subscriptions",
        detect=("customer_id", "plan_id", "plan_unit_price", "billing_period_unit"),
        columns={
            "id": "subscription_id",
            "customer_id": "customer_id",
            "plan_id": "plan",
            "plan_quantity": "quantity",
            "plan_unit_price": "amount",
            "currency_code": "currency",
            "started_at": "start_date",
            "cancelled_at": "end_date",
        },
        amount_unit="minor",
        interval=Interval(unit="billing_period_unit", count="billing_period", units=_STRIPE_UNITS),
        dates="Unix timestamps (UTC) or ISO date-times: the date",
        status=Rule(
            "status",
            {
                "active": MRR,
                "non_renewing": MRR,
                "in_trial": "status in_trial (not MRR until the trial ends)",
                "future": "status future (not started)",
                "paused": "status paused (not MRR)",
                "cancelled": ENDED,
                "transferred": "status transferred (moved to another business entity)",
            },
            other="status {value} (not a Chargebee subscription status)",
        ),
        trial_end="trial_end",
        optional=("trial_end",),
        notes="addons and Product Catalog 2.0 subscription items are not in these columns; an empty "
        "plan_unit_price (the plan's own price) is refused",
    ),
    "recurly": Preset(
        system="Recurly subscriptions export",
        source=(
            "https://docs.recurly.com/docs/subscriptions-exports (uuid, account_code, …); the other names are "
            "the Recurly API's subscription fields (https://developers.recurly.com/api/v2021-02-25/): the "
            "export's full header could not be seen"
        ),
        kind="subscriptions",
        detect=("uuid", "account_code", "plan_code", "state", "current_period_started_at"),
        columns={
            "uuid": "subscription_id",
            "account_code": "customer_id",
            "plan_code": "plan",
            "quantity": "quantity",
            "unit_amount": "amount",
            "currency": "currency",
            "activated_at": "start_date",
            "expires_at": "end_date",
        },
        amount_unit="major",
        interval=Interval(from_dates=("current_period_started_at", "current_period_ends_at")),
        dates="ISO date-times (UTC): the date",
        status=Rule(
            "state",
            {
                "active": MRR,
                "canceled": ENDED,  # will not renew: MRR until it expires
                "expired": ENDED,
                "future": "state future (not started)",
                "paused": "state paused (not MRR)",
                "failed": "state failed (never active)",
            },
            other="state {value} (not a Recurly subscription state)",
        ),
        trial_end="trial_ends_at",
        optional=("trial_ends_at",),
        notes="add-ons (add_ons_total) and coupons are not read",
    ),
    "chartmogul": Preset(
        system="ChartMogul CSV import: invoice line items (with the invoice's customer and currency)",
        source=(
            "https://chartmogul-samples.s3-eu-west-1.amazonaws.com/public/04_Invoice_line_items.csv (header as "
            "read by a public ChartMogul CSV writer) and https://help.chartmogul.com/hc/en-us/articles/"
            "360013881659; 'Customer external ID' and 'Currency' are the invoices file's (03_Invoices.csv), "
            "joined on 'Invoice external ID': not confirmed letter for letter"
        ),
        kind="subscriptions",
        detect=(
            "invoice_external_id",
            "subscription_external_id",
            "amount_in_cents",
            "service_period_start",
            "service_period_end",
        ),
        columns={
            "Customer external ID": "customer_id",
            "Subscription external ID": "subscription_id",
            "Plan": "plan",
            "Quantity": "quantity",
            "Amount in cents": "amount",
            "Currency": "currency",
            "Service period start": "start_date",
            "Service period end": "end_date",
        },
        amount_unit="minor",
        interval=Interval(from_dates=("Service period start", "Service period end")),
        dates="ISO dates or date-times: the date; a period end written inclusively is read as the next day",
        filters=(
            Rule(
                "Type",
                {"subscription": KEEP, "one_time": "one-time line (not recurring)"},
                other="line type {value} (not subscription or one_time)",
            ),
            Rule(
                "Proration",
                {"true": "prorated line (a partial period, not a price)", "false": KEEP, "": KEEP},
                other="proration {value} (not true or false)",
            ),
        ),
        line_amount=True,
        aliases={"Customer external ID": ("Customer ID",)},
        notes="'Amount in cents' is read as ChartMogul reads it: net of 'Discount amount', without tax",
    ),
}


# --- choosing a preset -------------------------------------------------------------------


#: The presets' names: the choices of ``preset=`` (CLI ``--preset``).
PRESET_NAMES = tuple(PRESETS)


def detect(columns: Iterable) -> str | None:
    """
    Return the one preset whose ``detect`` names are all in a header, or None.

    Parameters
    ----------
    columns : iterable of str
        The header (normalised by :func:`kit.sources.normalise_column`, here or before).

    Raises
    ------
    LoadError
        Two presets match the header.

    Examples
    --------
    >>> detect(["id", "Customer ID", "Status", "Current Period Start (UTC)", "Current Period End (UTC)"])
    'stripe-subscriptions'
    >>> detect(["customer_id", "start_date", "end_date", "amount"]) is None
    True
    """
    header = {normalise_column(c) for c in columns}
    found = [name for name, preset in PRESETS.items() if set(preset.detect) <= header]
    if len(found) > 1:
        raise LoadError(f"the header fits several billing-system presets: {', '.join(found)}; "
                        f"say which with preset= (CLI --preset NAME)")  # fmt: skip
    return found[0] if found else None


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ParameterError(f"preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]


# --- values --------------------------------------------------------------------------------


def _texts(series: pd.Series) -> np.ndarray:
    """Return a column as stripped texts (an object array; empty or missing cells are ``""``)."""
    codes, uniques = pd.factorize(series.astype(object) if not isinstance(series.dtype, pd.CategoricalDtype)
                                  else series, use_na_sentinel=True)  # fmt: skip
    texts = np.array([_text(u) for u in uniques] + [""], dtype=object)
    return texts[codes]


def _text(value) -> str:
    """Return a cell as text (numbers from typed sources without a spurious ``.0``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return str(value).strip()


_ISO_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ].*)?")


def _day(text: str) -> str:
    """
    Return the ISO date a text holds (the date part, or a Unix timestamp's UTC date), else the text.

    >>> _day("2024-01-05 14:03"), _day("1704067200"), _day("05/01/2024"), _day("")
    ('2024-01-05', '2024-01-01', '05/01/2024', '')
    """
    found = _ISO_DAY.fullmatch(text)
    if found:
        return found.group(1)
    if text.isdigit() and 9 <= len(text) <= 10:
        return datetime.fromtimestamp(int(text), tz=UTC).date().isoformat()
    return text


def _date(text: str) -> date | None:
    """Return an ISO date text as a date, or None."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _decimals(currency: str) -> int | None:
    """Return the decimals of a currency's minor unit (2, Stripe's 0 or 3); None for no three-letter code."""
    if len(currency) != 3 or not currency.isalpha():
        return None
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def _major(minor: Decimal, decimals: int) -> str:
    """
    Return an amount in minor units as major-unit text, exactly.

    >>> _major(Decimal("12345"), 2), _major(Decimal("500"), 0), _major(Decimal("12345"), 3)
    ('123.45', '500', '12.345')
    """
    return format(minor.scaleb(-decimals), "f")


def _number(text: str) -> Decimal | None:
    """Return a plain number (``-12``, ``1234.5``) as a Decimal, or None."""
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def _months_apart(start: date, end: date) -> int | None:
    """Return the whole months from start to end, as billing anchors fall, or None."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months < 1:
        return None
    last = calendar.monthrange(end.year, end.month)[1]
    start_last = calendar.monthrange(start.year, start.month)[1]
    if end.day == start.day or (end.day == last and start.day >= last) or (start.day == start_last and end.day == last):
        return months
    return None


_MONTHS = {1: "month", 3: "quarter", 6: "half-year", 12: "year"}


def period_of(start: date, end: date) -> tuple[str, int, date] | None:
    """
    Return the billing period, its count and the exclusive end of a service period, or None.

    The end is exclusive (the next period's start); one written inclusively (a day short of
    whole months) is read as the next day. Weeks and days are read with the end exclusive.

    >>> period_of(date(2024, 1, 31), date(2024, 2, 29))
    ('month', 1, datetime.date(2024, 2, 29))
    >>> period_of(date(2024, 1, 1), date(2024, 3, 31))
    ('quarter', 1, datetime.date(2024, 4, 1))
    >>> period_of(date(2024, 1, 5), date(2025, 1, 5)), period_of(date(2024, 1, 1), date(2024, 1, 15))
    (('year', 1, datetime.date(2025, 1, 5)), ('week', 2, datetime.date(2024, 1, 15)))
    >>> period_of(date(2024, 1, 1), date(2024, 1, 20)) is None
    True
    """
    for exclusive in (end, end + timedelta(days=1)):
        months = _months_apart(start, exclusive)
        if months:
            if months in _MONTHS:
                return _MONTHS[months], 1, exclusive
            return ("year", months // 12, exclusive) if months % 12 == 0 else ("month", months, exclusive)
    days = (end - start).days  # weeks and days: the end exclusive only (a one-day line is not a week short)
    if days == 1:
        return "day", 1, end
    if days > 0 and days % 7 == 0:
        return "week", days // 7, end
    return None


# --- applying a preset ---------------------------------------------------------------------


def _resolve(raw: RawTable, name: str, preset: Preset) -> dict[str, str | None]:
    """Map each column the preset reads to the file's column (None if optional and absent)."""
    present = set(raw.frame.columns)
    wanted = [*preset.columns, *(r.column for r in preset.filters)]
    wanted += [c for c in (preset.status and preset.status.column, preset.trial_end, preset.interval.unit,
                           preset.interval.count, *(preset.interval.from_dates or ())) if c]  # fmt: skip
    found: dict[str, str | None] = {}
    missing = []
    for column in dict.fromkeys(wanted):
        names = [normalise_column(n) for n in (column, *preset.aliases.get(column, ()))]
        hit = next((n for n in names if n in present), None)
        if hit is None and column not in preset.optional:
            missing.append(column)
        found[column] = hit
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        plural = "s" if len(missing) > 1 else ""
        raise LoadError(f"{raw.name}: the {name} preset ({preset.system}) needs column{plural} {shown}, missing "
                        f"from the file (columns found: {', '.join(raw.frame.columns[:20])})")  # fmt: skip
    return found


def _rule_reasons(rule: Rule, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's reason under a rule (None: kept) and whether its status ends it (``"ended"``)."""
    codes, uniques = pd.factorize(texts)
    reasons, ended = [], []
    for value in uniques:
        folded = roles.normalise_status(value) if value else ""
        meaning = rule.values.get(folded)
        if meaning is None:
            meaning = rule.other.replace("{value}", repr(value)) if rule.other else KEEP
        reasons.append(None if meaning in (KEEP, MRR, ENDED) else meaning)
        ended.append(meaning == ENDED)
    return np.array(reasons + [None], dtype=object)[codes], np.array(ended + [False], dtype=bool)[codes]


class _Rows:
    """The rows of one export as the preset reads them: kit values, and why rows are left out or refused."""

    def __init__(self, raw: RawTable, name: str, preset: Preset, found: dict[str, str | None]):
        self.raw, self.name, self.preset, self.found = raw, name, preset, found
        self.n = len(raw.frame)
        self.reason = np.full(self.n, None, dtype=object)  # the first reason a row is left out
        self.refused = np.full(self.n, None, dtype=object)
        self.notes: list[str] = []
        self.cache: dict[str, np.ndarray] = {}

    def texts(self, column: str | None) -> np.ndarray:
        """Return the texts of one of the preset's columns ('' everywhere when absent)."""
        source = self.found.get(column) if column else None
        if source is None:
            return np.full(self.n, "", dtype=object)
        if source not in self.cache:
            self.cache[source] = _texts(self.raw.frame[source])
        return self.cache[source]

    def leave_out(self, where: np.ndarray, reason) -> None:
        """Give rows a reason to be left out, unless they have one already."""
        where = np.asarray(where, dtype=bool) & pd.isna(self.reason) & pd.isna(self.refused)
        self.reason[where] = reason[where] if isinstance(reason, np.ndarray) else reason

    def refuse(self, where: np.ndarray, reason) -> None:
        """Refuse rows (impossible values), unless they are already left out or refused."""
        where = np.asarray(where, dtype=bool) & pd.isna(self.reason) & pd.isna(self.refused)
        self.refused[where] = reason[where] if isinstance(reason, np.ndarray) else reason

    def open(self) -> np.ndarray:
        """Return which rows are neither left out nor refused."""
        return pd.isna(self.reason) & pd.isna(self.refused)


def apply(raw: RawTable, name: str | None) -> RawTable:
    """
    Read a billing system's export as the kit's subscription periods, by its preset.

    Parameters
    ----------
    raw : RawTable
        The export as read (:func:`kit.sources.read_source`).
    name : str or None
        A key of :data:`PRESETS`; None detects it from the header (:func:`detect`).

    Returns
    -------
    RawTable
        A new table: the kit's subscription columns as text (ISO dates, empty ``end_date`` while
        a row runs, major-unit amounts), the export's other columns unchanged, the row numbers of
        the rows kept, ``details["preset"]``, and in ``excluded`` (reason, ``["row N", …]``) every
        row left out by a rule, in ``refused`` every row with an impossible value.

    Raises
    ------
    ParameterError
        ``name`` is not a preset.
    LoadError
        No preset fits the header (``name`` None), or a column of the preset is missing.
    """
    if name is None:
        name = detect(raw.frame.columns)
        if name is None:
            raise LoadError(f"{raw.name}: the header fits none of the billing-system presets ({', '.join(PRESETS)}); "
                            f"columns found: {', '.join(raw.frame.columns[:20])}")  # fmt: skip
    preset = _preset(name)
    rows = _Rows(raw, name, preset, _resolve(raw, name, preset))
    for rule in preset.filters:
        reasons, _ = _rule_reasons(rule, rows.texts(rule.column))
        rows.leave_out(pd.notna(reasons), reasons)
    ended = np.zeros(rows.n, dtype=bool)
    if preset.status is not None:
        reasons, ended = _rule_reasons(preset.status, rows.texts(preset.status.column))
        rows.leave_out(pd.notna(reasons), reasons)
    out = _kit_values(rows, ended)
    return _result(raw, name, preset, rows, out)


def _kit_values(rows: _Rows, ended: np.ndarray) -> dict[str, np.ndarray]:
    """Return the kit's columns of every row (only the rows kept are used)."""
    preset = rows.preset
    kit = {kit_column: column for column, kit_column in preset.columns.items()}
    out: dict[str, np.ndarray] = {}
    for kit_column in KIT_COLUMNS:
        column = kit.get(kit_column)
        if column is not None and rows.found.get(column) is not None:
            out[kit_column] = rows.texts(column).copy()
    for kit_column in ("start_date", "end_date"):
        out[kit_column] = _map(out.get(kit_column, np.full(rows.n, "", dtype=object)), _day)
    if "currency" in out:
        out["currency"] = _map(out["currency"], str.upper)
    _billing_period(rows, out)
    _trial(rows, out)
    if preset.status is not None:
        end_column = kit.get("end_date", "end_date")
        status = _map(
            rows.texts(preset.status.column), lambda s: f"status {s} without {end_column} (its end is unknown)"
        )
        rows.leave_out(ended & (out["end_date"] == ""), status)
    _amounts(rows, out, kit)
    return out


def _map(texts: np.ndarray, func) -> np.ndarray:
    """Apply ``func`` to each distinct text once."""
    codes, uniques = pd.factorize(texts)
    return np.array([func(u) for u in uniques] + [""], dtype=object)[codes]


def _billing_period(rows: _Rows, out: dict[str, np.ndarray]) -> None:
    """Fill billing_period and billing_interval_count from unit columns or from the row's own period."""
    interval = rows.preset.interval
    if interval.from_dates is None:
        units = _map(rows.texts(interval.unit), lambda u: interval.units.get(u.lower(), u.lower()))
        out["billing_period"] = units
        counts = rows.texts(interval.count)
        out["billing_interval_count"] = np.where(counts == "", "1", counts).astype(object)
        return
    starts = _map(rows.texts(interval.from_dates[0]), _day)
    ends = _map(rows.texts(interval.from_dates[1]), _day)
    period = np.full(rows.n, "", dtype=object)
    count = np.full(rows.n, "", dtype=object)
    exclusive = ends.copy()
    reason = np.full(rows.n, None, dtype=object)
    refused = np.full(rows.n, None, dtype=object)
    trial = _map(rows.texts(rows.preset.trial_end), _day)
    cache: dict[tuple[str, str], tuple] = {}
    for i in np.flatnonzero(rows.open()):
        key = (starts[i], ends[i])
        if key not in cache:
            cache[key] = _read_period(*key, interval.from_dates)
        kind, value = cache[key]
        if kind == "period":
            period[i], count[i], exclusive[i] = value
            if _date(trial[i]) is not None and trial[i] >= exclusive[i]:
                reason[i] = "in trial (not MRR until the trial ends)"
        elif kind == "reason":
            reason[i] = value
        else:
            refused[i] = value
    rows.refuse(pd.notna(refused), refused)
    rows.leave_out(pd.notna(reason), reason)
    out["billing_period"], out["billing_interval_count"] = period, count
    for kit_column, column in (("start_date", interval.from_dates[0]), ("end_date", interval.from_dates[1])):
        if rows.preset.columns.get(column) == kit_column:  # the period is the row's own: its end, exclusive
            out[kit_column] = starts if kit_column == "start_date" else exclusive


def _read_period(start: str, end: str, columns: tuple[str, str]) -> tuple[str, object]:
    """Return ``("period", (period, count, exclusive end))``, ``("reason", why left out)`` or ``("refused", why)``."""
    first, last = _date(start), _date(end)
    if first is None or last is None:
        bad = columns[0] if first is None else columns[1]
        return "refused", f"{bad} {(start if first is None else end)!r} is not a date"
    if last < first:
        return "refused", f"{columns[1]} before {columns[0]}"
    found = period_of(first, last)
    if found is None:
        return "reason", f"a period of {(last - first).days} days (not a whole billing period)"
    return "period", (found[0], str(found[1]), found[2].isoformat())


def _trial(rows: _Rows, out: dict[str, np.ndarray]) -> None:
    """Start rows at their trial's end (a trial is not MRR); leave out rows whose trial lasts to their end."""
    if rows.preset.trial_end is None:
        return
    trial = _map(rows.texts(rows.preset.trial_end), _day)
    start, end = out["start_date"], out["end_date"]
    later = np.zeros(rows.n, dtype=bool)
    for i in np.flatnonzero(rows.open() & (trial != "")):
        later[i] = _date(trial[i]) is not None and _date(start[i]) is not None and trial[i] > start[i]
    whole = later & (end != "") & (trial >= np.where(later, end, ""))
    rows.leave_out(whole, "trial to its end (never MRR)")
    out["start_date"] = np.where(later & ~whole, trial, start).astype(object)


def _amounts(rows: _Rows, out: dict[str, np.ndarray], kit: dict[str, str]) -> None:
    """Write amounts as major-unit text: minor units divided exactly; an invoice line's total over its quantity."""
    preset = rows.preset
    column = kit["amount"]
    empty = out["amount"] == ""
    rows.refuse(empty, f"{column} empty (no price in the export)")
    minor = preset.amount_unit == "minor"
    currency = out.get("currency", np.full(rows.n, "", dtype=object))
    if "quantity" in out:
        out["quantity"] = np.where(out["quantity"] == "", "1", out["quantity"]).astype(object)
    whole: list[int] = []
    refused = np.full(rows.n, None, dtype=object)
    for money in MONEY_COLUMNS:
        if money not in out or not (minor or preset.line_amount and money == "amount"):
            continue
        texts = out[money]
        for i in np.flatnonzero(rows.open() & (texts != "")):
            value = _number(texts[i])
            decimals = _decimals(currency[i]) if minor else 0
            if value is None or decimals is None:
                refused[i] = (f"{kit[money]} {texts[i]!r} is not a number" if value is None else
                              f"currency {currency[i]!r} is not a three-letter code (the decimals of {kit[money]} "
                              "are unknown)")  # fmt: skip
                continue
            if money == "amount" and preset.line_amount:
                quantity = _number(out["quantity"][i]) if "quantity" in out else Decimal(1)
                if quantity is not None and quantity > 0 and quantity == quantity.to_integral_value():
                    unit = value / quantity
                    if unit * quantity == value and (unit == unit.to_integral_value() if minor else
                                                     unit.as_tuple().exponent >= -2):  # fmt: skip
                        value = unit
                    else:
                        out["quantity"][i] = "1"
                        whole.append(i)
            texts[i] = _major(value, decimals) if minor else format(value.normalize(), "f")
    rows.refuse(pd.notna(refused), refused)
    if whole:
        labels = ", ".join(_labels(rows.raw, np.array(whole[:5])))
        rows.notes.append(f"{len(whole):,} line{'s' if len(whole) > 1 else ''} whose {column} is not a whole "
                          f"multiple of the quantity read as one unit of the line's amount ({labels})")  # fmt: skip


def _labels(raw: RawTable, positions: np.ndarray) -> list[str]:
    """Return ``row N`` for the rows at positions of the raw frame."""
    return [f"row {r}" for r in np.asarray(raw.row_numbers[np.asarray(positions, dtype=np.int64)]).tolist()]


def _by_reason(raw: RawTable, reasons: np.ndarray) -> list[tuple[str, list[str]]]:
    """Return ``(reason, labels)`` for each reason, in order of first appearance."""
    given = np.flatnonzero(pd.notna(reasons))
    if not len(given):
        return []
    codes, uniques = pd.factorize(reasons[given])
    labels = _labels(raw, given)
    grouped: list[tuple[str, list[str]]] = [(str(u), []) for u in uniques]
    for code, label in zip(codes, labels, strict=True):
        grouped[code][1].append(label)
    return grouped


def _result(raw: RawTable, name: str, preset: Preset, rows: _Rows, out: dict[str, np.ndarray]) -> RawTable:
    """Build the new table: kit columns of the rows kept, the export's other columns, what was left out."""
    kept = np.flatnonzero(rows.open())
    consumed = {rows.found[c] for c in preset.columns if rows.found.get(c)}
    consumed |= {rows.found[c] for c in (preset.interval.unit, preset.interval.count) if c and rows.found.get(c)}
    prefix = name.split("-")[0]
    frame = {}
    for column in raw.frame.columns:
        if column in consumed:
            continue
        values = raw.frame[column].iloc[kept].to_numpy()
        kept_name = column
        if column in KIT_COLUMNS or column in roles.ROLES["subscriptions"]:
            kept_name = f"{prefix}_{column}"
            rows.notes.append(f"column {column!r} kept as {kept_name!r} (the kit reads {column} as its own)")
        frame[kept_name] = values
    for kit_column in KIT_COLUMNS:
        if kit_column in out:
            frame[kit_column] = out[kit_column][kept]
    details = {**raw.details, "preset": f"{name} ({preset.system})"}
    if rows.notes:
        details["preset note"] = "; ".join(rows.notes)
    return dataclasses.replace(
        raw,
        frame=pd.DataFrame(frame, index=pd.RangeIndex(len(kept))),
        row_numbers=np.asarray(raw.row_numbers[kept], dtype=np.int64),
        details=details,
        excluded=[*getattr(raw, "excluded", []), *_by_reason(raw, rows.reason)],
        refused=[*getattr(raw, "refused", []), *_by_reason(raw, rows.refused)],
    )
