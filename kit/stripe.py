"""
Read Stripe objects (subscriptions and invoices, as the API returns them) as the kit's subscription periods.

A file of Stripe objects (``--kind stripe``, or any ``.json``/``.jsonl``/``.ndjson`` file) is an
API list object (``{"object": "list", "data": [...]}``), a JSON array (of objects or of list
pages), JSON lines (one object or one list page per line) or a single object. Its
``subscription`` and ``invoice`` objects become the rows of the kit's subscription periods
(``customer_id, start_date, end_date, amount, billing_period, billing_interval_count, quantity,
discount_amount, product, plan, currency, subscription_id``), which then load as any
subscription file does. ``price``, ``plan``, ``coupon``, ``discount`` and ``product`` objects in
the file are used to look up the ids the others name; every other object is left out and counted.

Both API shapes are read: the older one (``discount``, item ``plan``, line ``price``, line
``proration``, line ``type``) and the current one (``discounts``, line ``pricing``,
``parent.subscription_item_details``). The rules are Stripe's published MRR rules
(https://docs.stripe.com/billing/subscriptions/analytics, "How Stripe calculates MRR"):

* **Subscriptions** (the current state): each item is one period from the subscription's
  ``start_date`` (the item's ``created`` when the item was added on a later day than the
  subscription was created) to ``ended_at`` (exclusive; open while it runs), at the item's
  ``quantity`` × its price's ``unit_amount_decimal`` (or ``unit_amount``), per
  ``recurring.interval`` × ``interval_count``. Statuses ``active`` and ``past_due`` are MRR;
  ``trialing`` is not until ``trial_end`` (the period starts there); ``canceled`` ends at
  ``ended_at``; ``incomplete`` and ``incomplete_expired`` never are, and their invoices are
  left out too; ``unpaid`` and ``paused`` are not MRR (their invoiced history stays).
* **Invoices** (the history): each line of a subscription item that is not a proration gives
  the price, quantity and service period (``period.start`` to ``period.end``) of that item;
  an item's lines in order of their periods make its history, consecutive identical periods
  merged into one row, so seat and price changes become movements (and causes). Invoices
  ``paid``, ``open`` and ``uncollectible`` are read (each billed its service period; Stripe
  counts a ``past_due`` subscription as MRR); ``draft`` (not final) and ``void`` invoices are
  left out. Proration lines and one-off invoice items are left out: they are not recurring.
  Lines whose periods overlap an earlier line of the same item are refused (they would count
  twice). The same invoice twice in the file is read once.
* **Both**: the subscription continues each item from the end of its last invoiced period,
  at the subscription's current price and quantity (a change made inside the last invoiced
  period shows from that period's end: invoices hold no earlier date for it);
  a ``canceled`` subscription cuts its items' invoiced periods at ``ended_at``.
* **Amounts** are in Stripe's minor units: zero-decimal currencies (JPY, KRW, …) are used as
  they are, three-decimal ones (BHD, JOD, KWD, OMR, TND) divided by 1000, the others by 100
  (https://docs.stripe.com/currencies#zero-decimal), exactly (the kit rounds a fraction of a
  cent half-even, with a note). Tax is never MRR: only unit amounts are read, never totals.
* **Not MRR**: metered prices (``usage_type=metered``), prices without a unit amount (tiered
  or custom), one-time prices.
* **Coupons**: only ``forever`` ones are MRR. On a subscription, ``percent_off`` comes off each
  item's ``unit × quantity`` (rounded half-even to the minor unit, as Stripe rounds discounts),
  ``amount_off`` off each billing period: a subscription's is shared over its items by their
  amounts (largest remainder, so the shares add up to it exactly), an item's is its own. On an
  invoice line, the line's ``discount_amounts`` of forever coupons are the discount. ``once``
  and ``repeating`` coupons are not applied (noted); a discount whose coupon the file does not
  hold is not applied (noted).
* **Refused** (an error, or with ``on_invalid="quarantine"`` excluded and counted): values no
  real account holds, as in Stripe's documentation fixtures (an ``interval_count`` above three
  years, Stripe's limit; a service period that ends before it starts; an item whose legacy
  ``plan`` disagrees with its ``price``; a currency that is not a three-letter code; an
  ``active`` subscription with ``ended_at`` set; a negative or fractional quantity).

Every object or line left out is listed by reason with its id (:attr:`RawTable.excluded`),
and counted in the data-quality table.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import TypedDict

import msgspec
import numpy as np
import pandas as pd

from kit.errors import LoadError
from kit.problems import label_examples
from kit.roles import CURRENCY_CODES
from kit.sources.table import RawTable

#: Stripe's zero-decimal and three-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
#: The columns of the periods frame, in order (the kit's subscription columns).
COLUMNS = ["customer_id", "start_date", "end_date", "amount", "billing_period", "billing_interval_count",
           "quantity", "discount_amount", "product", "plan", "currency", "subscription_id"]  # fmt: skip
SUBSCRIPTION_LEFT_OUT = {
    "incomplete": "subscription status incomplete (never MRR)",
    "incomplete_expired": "subscription status incomplete_expired (never MRR)",
    "unpaid": "subscription status unpaid (not MRR)",
    "paused": "subscription status paused (not MRR)",
}
SUBSCRIPTION_MRR = ("active", "past_due", "trialing", "canceled")
INVOICE_READ = ("paid", "open", "uncollectible")
INVOICE_LEFT_OUT = {"draft": "invoice status draft (not final)", "void": "invoice status void"}
#: The objects the file may hold to look up what the others name by id.
LOOKUPS = ("price", "plan", "coupon", "discount", "product")
INTERVALS = ("day", "week", "month", "year")
#: The longest billing period Stripe allows: three years (https://docs.stripe.com/api/prices/create).
MAX_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}


@dataclass
class _Period:
    """One service period of one subscription item, in minor units."""

    customer: str
    item: str  # the subscription item (si_…), or the subscription/price when the item has no id
    subscription: str
    start: int  # days since 1970-01-01 (UTC)
    end: int | None  # exclusive; None while it runs
    unit: Decimal  # minor units per unit per billing period
    quantity: int
    discount: Decimal  # minor units per billing period, on unit × quantity
    interval: str
    count: int
    product: str
    plan: str
    currency: str  # upper case
    label: str  # the ids it came from, for messages

    @classmethod
    def of(cls, price: _Price, customer, item, subscription, start, end, quantity, discount, label) -> _Period:
        """Return the period of an item at ``price`` (its unit, interval, product, plan and currency)."""
        return cls(customer, item, subscription, start, end, price.unit, quantity, discount, price.interval,
                   price.count, price.product, price.plan, price.currency, label)  # fmt: skip

    def same_terms(self, other: _Period) -> bool:
        """Whether two periods bill the same (merged when consecutive)."""
        return (self.unit, self.quantity, self.discount, self.interval, self.count, self.product, self.plan,
                self.currency, self.customer) == (other.unit, other.quantity, other.discount, other.interval,
                                                  other.count, other.product, other.plan, other.currency,
                                                  other.customer)  # fmt: skip


class _Reading:
    """What the reader found: periods by item, and every object or line left out, refused or noted."""

    def __init__(self):
        self.history: dict[str, list[_Period]] = defaultdict(list)  # invoiced periods by item
        self.current: list[_Period] = []  # periods from subscriptions
        self.excluded: dict[str, list[str]] = defaultdict(list)
        self.refused: dict[str, list[str]] = defaultdict(list)
        self.notes: dict[str, list[str]] = defaultdict(list)
        self.lookup: dict[str, dict[str, dict]] = {kind: {} for kind in LOOKUPS}
        self.counts: dict[str, int] = defaultdict(int)  # objects read, by type
        self.prices: dict = {}  # _price of each distinct price read (lines repeat them)
        self.variants: dict = {}  # a price with a line's unit, product or currency (see _variant)

    def leave_out(self, reason: str, label: str) -> None:
        self.excluded[reason].append(label)

    def refuse(self, reason: str, label: str) -> None:
        self.refused[reason].append(label)

    def note(self, text: str, label: str) -> None:
        self.notes[text].append(label)


# --- reading the file ---------------------------------------------------------------------


class _Object(TypedDict, total=False):
    """
    Every field of every Stripe object the rules read, and only those.

    The typed decoder (msgspec) builds nothing else, which makes a large file several times
    faster to read than plain ``json``, with the same result (tests: every key the module reads is declared here,
    and both decoders give the same periods). A line whose values do not fit these types is
    read by plain ``json`` instead.
    """

    object: str
    id: str
    data: list[_Object]
    has_more: bool
    # subscriptions and items
    status: str
    customer: str | _Object | None
    start_date: int | float | None
    created: int | float | None
    ended_at: int | float | None
    trial_end: int | float | None
    items: _Object | list[_Object] | None
    quantity: int | float | str | None
    current_period_start: int | float | str | None
    current_period_end: int | float | str | None
    price: str | _Object | None
    plan: str | _Object | None
    discount: str | _Object | None
    discounts: list[str | _Object] | None
    # prices and plans
    currency: str | None
    unit_amount: int | float | str | None
    unit_amount_decimal: int | float | str | None
    amount: int | float | str | None
    amount_decimal: int | float | str | None
    recurring: _Object | None
    interval: str | None
    interval_count: int | float | str | None
    usage_type: str | None
    type: str | None
    billing_scheme: str | None
    product: str | _Object | None
    nickname: str | None
    lookup_key: str | None
    # coupons and discounts
    coupon: str | _Object | None
    source: _Object | None
    duration: str | None
    percent_off: int | float | str | None
    amount_off: int | float | str | None
    applies_to: _Object | None
    transform_quantity: _Object | None
    divide_by: int | float | str | None
    round: str | None
    currency_options: dict[str, _Object] | None
    products: list[str] | None
    # invoices and lines
    lines: _Object | list[_Object] | None
    period: _Object | None
    start: int | float | None
    end: int | float | None
    proration: bool | None
    subscription: str | _Object | None
    subscription_item: str | _Object | None
    parent: _Object | None
    subscription_item_details: _Object | None
    invoice_item_details: _Object | None
    subscription_details: _Object | None
    pricing: _Object | None
    price_details: _Object | None
    discount_amounts: list[_Object] | None


_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 24  # JSON lines are read 16 MiB at a time


class _ObjectFile:
    """
    The Stripe objects of a file, read once as they are iterated.

    The file is a list object, a JSON array (of objects or of list pages), JSON lines (an
    object or a list page per line) or one object.

    ``typed``: decode with :class:`_Object` (msgspec) when it is installed; plain ``json``
    otherwise, and for any line the types do not fit. After iterating, ``shape`` and
    ``pages_with_more`` say what was read.
    """

    def __init__(self, path: Path, *, typed: bool = True):
        self.path, self.name = path, path.name
        self.typed = typed and _msgspec() is not None
        self.pages_with_more = 0
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
        head = head.removeprefix(_BOM)
        if not head.strip():
            raise LoadError(f"{self.name}: the file is empty (no Stripe objects)")
        self.shape = "JSON lines" if path.suffix.lower() in (".jsonl", ".ndjson") or _looks_like_lines(head) else "JSON"

    def __iter__(self):
        if self.shape == "JSON":
            data = self.path.read_bytes().removeprefix(_BOM)
            yield from self._flatten(self._decode(data, None))
            return
        number, rest = 0, b""
        with self.path.open("rb") as handle:
            while True:
                block = handle.read(_BLOCK)
                if number == 0 and not rest:
                    block = block.removeprefix(_BOM)
                if not block:
                    break
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    number += 1
                    if line.strip():
                        yield from self._flatten(self._decode(line, number), number)
        if rest.strip():
            yield from self._flatten(self._decode(rest, number + 1), number + 1)

    def _decode(self, data: bytes, number: int | None):
        msgspec = _msgspec() if self.typed else None
        if msgspec is not None:
            try:
                value = _typed_decoder().decode(data)
                if _all_typed(value):
                    return value
            except msgspec.ValidationError:
                pass  # values of other types than Stripe's: the plain reader takes them as they are
            except (msgspec.DecodeError, RecursionError):
                pass  # malformed, or nested deeper than any Stripe object: the plain reader says where
        try:
            value = json.loads(data)
            if b"\\ud" in data.lower():  # an escaped surrogate: JSON allows a lone one, UTF-8 (and the kit) does not
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            return value
        except UnicodeEncodeError:
            where = f"line {number}" if number else "the file"
            raise LoadError(f"{self.name}: {where} holds a lone surrogate (\\ud800–\\udfff), no character") from None
        except RecursionError:
            raise LoadError(f"{self.name}: JSON nested too deeply to be Stripe objects") from None
        except UnicodeDecodeError as exc:
            where = f"line {number}" if number else "the file"
            raise LoadError(
                f"{self.name}: {where} is not UTF-8 text (byte {exc.start}); Stripe writes UTF-8 JSON"
            ) from None
        except json.JSONDecodeError as exc:
            if number is None:
                hint = (" (a .json file is read as Stripe objects; a CSV file needs its .csv name)"
                        if exc.lineno == 1 and exc.colno == 1 else "")  # fmt: skip
                raise LoadError(f"{self.name}: not valid JSON at line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg}{hint}") from None  # fmt: skip
            raise LoadError(f"{self.name}: line {number} is not valid JSON (column {exc.colno}: {exc.msg})") from None

    def _flatten(self, value, number: int | None = None):
        """Yield the objects of ``value``: an object, a list page, or an array of either."""
        if isinstance(value, list):
            for v in value:
                yield from self._flatten(v, number)
            return
        if not isinstance(value, dict):
            where = f", line {number}," if number else ""
            raise LoadError(f"{self.name}{where} holds {type(value).__name__} {str(value)[:40]!r} where a Stripe "
                            "object belongs")  # fmt: skip
        if value.get("object") == "list" and isinstance(value.get("data"), list):
            self.pages_with_more += bool(value.get("has_more"))
            for item in value["data"]:
                if not isinstance(item, dict):
                    raise LoadError(f"{self.name}: a list's data holds {type(item).__name__}, not Stripe objects")
                yield item
            return
        if "object" not in value:
            keys = ", ".join(list(value)[:6])
            raise LoadError(f"{self.name}: a JSON object without an 'object' field (keys: {keys}); the kit reads "
                            "Stripe objects: a list ({'object': 'list', 'data': [...]}), an array of objects or "
                            "JSON lines")  # fmt: skip
        yield value


def _all_typed(value) -> bool:
    """Whether a typed decode kept every object's ``object`` field (else the plain reader says what it holds)."""
    if isinstance(value, list):
        return all(isinstance(v, dict) and "object" in v for v in value)
    return "object" in value


def _looks_like_lines(head: bytes) -> bool:
    """Whether a file's first bytes are JSON lines: a whole JSON value on the first line, and more after it."""
    first, newline, after = head.lstrip().partition(b"\n")
    if not newline or not after.strip() or not first.strip().startswith(b"{"):
        return False
    try:
        json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


def _msgspec():
    """Return the msgspec module, for the typed decoder (tests replace this to read with plain json alone)."""
    return msgspec


@cache
def _typed_decoder():
    msgspec = _msgspec()
    return msgspec.json.Decoder(_Object | list[_Object])


def read_stripe(path: Path, *, typed: bool = True) -> RawTable:
    """
    Read a file of Stripe objects into a raw table of subscription periods.

    The table's rows are the periods (numbered 1 … n in the order of :func:`periods_frame`);
    ``excluded`` lists every object or line left out, by reason with its ids; ``refused`` the
    ones refused (see the module's rules). ``typed=False`` reads with plain ``json`` only (the
    reference the typed decoder must equal).
    """
    objects = _ObjectFile(path, typed=typed)
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived dicts and no cycles: the collector would only scan them again and again
    try:
        frame, reading = periods_frame(objects)
    finally:
        if collecting:
            gc.enable()
    if not reading.counts:
        raise LoadError(f"{path.name}: holds no Stripe objects (an empty list)")
    details = {"format": f"Stripe {objects.shape}", "stripe objects": _count_objects(reading.counts)}
    if objects.pages_with_more:
        n = objects.pages_with_more
        pages = f"{n} list pages say" if n > 1 else "1 list page says"
        details["stripe note"] = (f"{pages} has_more: the listing goes on beyond this file (list with "
                                  "auto-pagination to read every object)")  # fmt: skip
    details["stripe rows"] = "one per subscription item period (consecutive identical invoice lines merged)"
    for text, labels in reading.notes.items():
        details[f"stripe note: {text}"] = f"{len(labels):,} ({label_examples(labels)})"
    raw = RawTable(frame, path.name, np.arange(1, len(frame) + 1), details, decimal_known=True)
    raw.excluded = [(reason, labels) for reason, labels in reading.excluded.items()]
    raw.refused = [(reason, labels) for reason, labels in reading.refused.items()]
    return raw


def _count_objects(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items()))  # "invoice 20,351, price 12"


# --- objects to periods -------------------------------------------------------------------


def periods_frame(objects) -> tuple[pd.DataFrame, _Reading]:
    """
    Turn Stripe objects into the kit's subscription periods (text columns) and what was left out.

    ``objects`` is any iterable of dicts, read once: invoices are reduced to their subscription
    lines as they come (the ids they name are looked up once every object is read), so a file
    is never held whole.

    Examples
    --------
    >>> price = {"id": "price_1", "unit_amount": 10000, "currency": "usd", "product": "prod_A",
    ...          "recurring": {"interval": "month", "interval_count": 1}}
    >>> sub = {"object": "subscription", "id": "sub_1", "customer": "cus_1", "status": "active",
    ...        "start_date": 1704067200, "created": 1704067200,
    ...        "items": {"data": [{"id": "si_1", "quantity": 2, "price": price}]}}
    >>> frame, reading = periods_frame([sub])
    >>> frame[["customer_id", "start_date", "end_date", "amount", "quantity", "billing_period"]].values.tolist()
    [['cus_1', '2024-01-01', '', '100', '2', 'month']]
    """
    reading = _Reading()
    subscriptions, lines, seen = {}, [], set()
    for obj in objects:
        kind, oid = obj.get("object"), str(obj.get("id", "?"))
        reading.counts[str(kind)] += 1
        if not _safely(reading, oid, _index, obj, reading):
            continue
        if kind == "subscription":
            if oid in subscriptions:
                reading.leave_out("subscription listed twice (read once)", oid)
                continue
            subscriptions[oid] = obj
        elif kind == "invoice":
            if oid in seen:
                reading.leave_out("invoice listed twice (read once)", oid)
                continue
            seen.add(oid)
            lines += _safely(reading, oid, _invoice_lines, obj, reading) or []
        elif kind not in LOOKUPS:
            reading.leave_out(f"{kind} object (not a subscription or an invoice)", oid)
    never = {sid for sid, s in subscriptions.items() if s.get("status") in ("incomplete", "incomplete_expired")}
    for line in lines:
        _safely(reading, line.label, _line_period, line, reading, never)
    del lines
    for sid, sub in subscriptions.items():
        _safely(reading, sid, _subscription_periods, sub, reading)
    ended = {sid: _safe_day(s.get("ended_at")) for sid, s in subscriptions.items() if s.get("status") == "canceled"}
    periods = _merged(reading, ended)
    return _to_frame(periods, reading), reading


def _safely(reading: _Reading, label: str, read, *args):
    """
    Run one object's or line's reading; a value of a type or range no Stripe object holds refuses it.

    Returns what ``read`` returns, or None (falsy) when refused: the reason names the value's
    problem (a timestamp in milliseconds, text where a number belongs, …), never a traceback.
    """
    try:
        return read(*args)
    except _Refused as exc:
        reading.refuse(str(exc), label)
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as exc:
        reading.refuse(f"a value of an unexpected type or size ({type(exc).__name__}: {str(exc)[:80]})", label)
    return None


def _safe_day(timestamp) -> int | None:
    """Return :func:`_day`, or None where it refuses (the subscription itself is refused for it)."""
    try:
        return _day(timestamp)
    except _Refused:
        return None


def _index(obj: dict, reading: _Reading) -> bool:
    """Record the prices, plans, coupons, discounts and products an object is or holds (expanded)."""
    _keep(reading, obj)
    kind = obj.get("object")
    if not isinstance(kind, str) or not isinstance(obj.get("id", ""), str):
        raise _Refused(f"object {kind!r} with id {obj.get('id')!r}: 'object' and 'id' are text in Stripe's objects")
    if kind == "subscription":
        for item in _items(obj):
            _keep(reading, item.get("price"))
            _keep(reading, item.get("plan"))
            for d in _listed(item.get("discounts"), "discounts"):
                _keep(reading, d)
    if kind in ("subscription", "invoice"):
        for d in [obj.get("discount"), *_listed(obj.get("discounts"), "discounts")]:
            _keep(reading, d)
    # an invoice's lines are indexed as _invoice_lines reads them (one walk of the lines, not two)
    return True


def _keep(reading: _Reading, value) -> None:
    """Record a price, plan, coupon, discount or product object by its id (the first one met wins)."""
    if isinstance(value, dict):
        kind, oid = value.get("object"), value.get("id")
        if kind in LOOKUPS and oid:
            reading.lookup[kind].setdefault(str(oid), value)
            if kind == "discount":
                _keep(reading, _coupon_of(value, None))


def _index_line(reading: _Reading, line, price, discounts) -> None:
    """Record the objects a line holds expanded: its price (and a ``price`` beside a current shape's) and discounts."""
    _keep(reading, price)
    if price is not line.get("price"):
        _keep(reading, line.get("price"))
    for entry in discounts:
        if isinstance(entry, dict):
            _keep(reading, entry.get("discount"))
    for discount in _listed(line.get("discounts"), "discounts"):
        _keep(reading, discount)


def _listed(value, what: str) -> list:
    """Return a list field as a list (None: empty); refuse anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Refused(f"{what} is {type(value).__name__} {repr(value)[:30]}, not a list")
    return value


def _items(sub: dict) -> list[dict]:
    items = sub.get("items")
    data = items.get("data") if isinstance(items, dict) else items
    return [i for i in _listed(data, "items") if isinstance(i, dict)]


def _lines(invoice: dict) -> list[dict]:
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, dict) else lines
    return [line for line in _listed(data, "lines") if isinstance(line, dict)]


def _id(value) -> str:
    """Return the id of an expandable field: the object's ``id``, or the id itself."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return "" if value is None else str(value)


class _Refused(ValueError):
    """A value no real Stripe object holds: the object or line holding it is refused with this reason."""


#: Unix seconds of 1970-01-01 and of 9999-12-31: a timestamp outside is not one (milliseconds, say).
_LAST_SECOND = 253402300799


def _day(timestamp) -> int | None:
    """
    Return a Unix timestamp as days since 1970-01-01 (its UTC date), or None; refuse what is not one.

    >>> _day(1704067200), _day(None)
    (19723, None)
    """
    if timestamp is None:
        return None
    if type(timestamp) is not int:
        if isinstance(timestamp, float) and timestamp.is_integer():
            timestamp = int(timestamp)
        else:
            raise _Refused(f"timestamp {timestamp!r} is not Unix seconds")
    if not 0 <= timestamp <= _LAST_SECOND:
        said = " (milliseconds?)" if timestamp > _LAST_SECOND else ""
        raise _Refused(f"timestamp {timestamp!r} is not Unix seconds of a date from 1970 to 9999{said}")
    return timestamp // 86400


def _iso(day: int | None) -> str:
    if day is None:
        return ""
    return datetime.fromtimestamp(day * 86400, tz=UTC).date().isoformat()


def _resolve(reading: _Reading, kind: str, value) -> dict | None:
    """Return an expandable field as its object: itself when expanded, else the file's object of that id."""
    if isinstance(value, dict):
        return value
    if value is None:
        return None
    return reading.lookup[kind].get(str(value))


def _coupon_of(discount, reading: _Reading | None) -> dict | None:
    """Return the coupon of a discount, in either shape (``coupon`` or ``source.coupon``), expanded or looked up."""
    if not isinstance(discount, dict):
        return None
    coupon = discount.get("coupon") or (discount.get("source") or {}).get("coupon")
    if isinstance(coupon, dict) or reading is None:
        return coupon if isinstance(coupon, dict) else None
    return reading.lookup["coupon"].get(str(coupon)) if coupon else None


def _decimal(value) -> Decimal | None:
    """Return a number (int, float or text) as an exact Decimal (a float as its shortest text), or None."""
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if value is None or kind is bool:
        return None
    try:
        number = Decimal(value if kind is str else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _whole(value) -> int | None:
    """Return a whole number (int, or a float or text that is one), or None."""
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


@dataclass
class _Price:
    """What the kit reads of a price (or a legacy plan)."""

    unit: Decimal | None
    currency: str
    interval: str | None
    count: int | None
    usage: str | None
    kind: str | None  # "recurring", "one_time" or None (unknown)
    scheme: str | None
    product: str
    plan: str
    count_written: object = None  # interval_count as written, for messages
    unit_written: object = None  # a unit amount written but not a number, for messages
    divide_by: object = None  # transform_quantity: the billed quantity is quantity / divide_by, rounded
    round_up: bool = False
    options: dict | None = None  # currency_options: currency (upper case) -> unit amount


def _price(price: dict | None) -> _Price | None:
    """Read a price object (``recurring``) or a legacy plan object (``interval`` at the top), or None."""
    if not isinstance(price, dict):
        return None
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else None
    if recurring is None and price.get("object") == "plan":
        recurring = price
    unit, written = None, None
    for key in ("unit_amount_decimal", "unit_amount", "amount_decimal", "amount"):
        value = price.get(key)
        unit = _decimal(value)
        if unit is not None:
            break
        if value is not None and written is None:
            written = value
    plan = price.get("nickname") or price.get("lookup_key") or price.get("id") or ""
    kind = price.get("type") or ("recurring" if recurring else None)
    transform = price.get("transform_quantity") if isinstance(price.get("transform_quantity"), dict) else {}
    options = None
    if isinstance(price.get("currency_options"), dict):
        options = {str(c).upper(): _decimal(o.get("unit_amount_decimal", o.get("unit_amount")))
                   for c, o in price["currency_options"].items() if isinstance(o, dict)}  # fmt: skip
    return _Price(
        count_written=recurring.get("interval_count", 1) if recurring else None,
        unit_written=written if unit is None else None,
        divide_by=transform.get("divide_by"),
        round_up=transform.get("round") == "up",
        options=options,
        unit=unit,
        currency=str(price.get("currency") or "").upper(),
        interval=recurring.get("interval") if recurring else None,
        count=_whole(recurring.get("interval_count", 1)) if recurring else None,
        usage=(recurring or {}).get("usage_type"),
        kind=kind,
        scheme=price.get("billing_scheme"),
        product=_id(price.get("product")),
        plan=str(plan),
    )


def _price_of(reading: _Reading, price: dict | None) -> _Price | None:
    """
    Return :func:`_price` of a price, computed once per distinct price (lines repeat their prices).

    The key is every field :func:`_price` reads, as written, with the types of the numbers (``1``,
    ``1.0`` and ``True`` read differently); a price holding an object or a list where text or a
    number belongs is read as it is, uncached. The result is never changed in place
    (:func:`dataclasses.replace` makes a line's own).
    """
    if not isinstance(price, dict):
        return None
    get, recurring = price.get, price.get("recurring")
    rec = recurring.get if isinstance(recurring, dict) else {}.get
    count, unit, amount = get("interval_count"), get("unit_amount"), get("amount")
    key = (
        get("object"),
        get("id"),
        get("unit_amount_decimal"),
        unit,
        get("amount_decimal"),
        amount,
        get("currency"),
        get("interval"),
        count,
        get("usage_type"),
        get("type"),
        get("billing_scheme"),
        get("product"),
        get("nickname"),
        get("lookup_key"),
        recurring is None,
        rec("interval"),
        rec("interval_count"),
        rec("usage_type"),
        type(count),
        type(unit),
        type(amount),
        type(rec("interval_count")),
        get("transform_quantity"),
        get("currency_options"),
    )  # fmt: skip (a dict in these: unhashable, uncached)
    try:
        return reading.prices[key]
    except KeyError:
        reading.prices[key] = parsed = _price(price)
        return parsed
    except TypeError:  # an object or a list where text belongs (a product expanded, say): not a key
        return _price(price)


def _not_mrr(price: _Price) -> str | None:
    """Why a price is not MRR by Stripe's rules, or None."""
    if price.kind == "one_time":
        return "one-time price (not recurring)"
    if price.usage == "metered":
        return "metered price (usage, not MRR)"
    if price.unit is None:
        return "price without a unit amount (tiered or custom, not MRR)"
    return None


def _price_problem(price: _Price) -> str | None:
    """Why a price's values cannot be real (refused), or None."""
    if price.interval not in INTERVALS:
        return f"billing interval {price.interval!r} is not day, week, month or year"
    if price.count is None or not 1 <= price.count <= MAX_COUNT[price.interval]:
        return f"interval_count {price.count_written!r} is outside Stripe's limit of three years"
    if price.currency not in CURRENCY_CODES:
        return f"currency {price.currency.lower()!r} is not an ISO 4217 code"
    if price.unit_written is not None:
        return f"unit amount {price.unit_written!r} is not a number"
    if price.unit is not None and price.unit < 0:
        return f"negative unit amount {price.unit}"
    if price.divide_by is not None and (_whole(price.divide_by) is None or _whole(price.divide_by) < 1):
        return f"transform_quantity.divide_by {price.divide_by!r} is not a whole number of 1 or more"
    return None


def _billed(quantity: int | None, price: _Price) -> int | None:
    """
    Return the quantity billed: with ``transform_quantity`` (package pricing), packages of ``divide_by``, rounded.

    >>> _billed(25, _Price(5000, "USD", "month", 1, None, "recurring", None, "", "", divide_by=10, round_up=True))
    3
    """
    if quantity is None or price.divide_by is None:
        return quantity
    packages, rest = divmod(quantity, int(price.divide_by))
    return packages + (1 if rest and price.round_up else 0)


def _in_currency(price: _Price, currency: str, label: str) -> _Price:
    """Return the price in ``currency`` (its ``currency_options``); refuse a currency it has no amount in."""
    currency = currency.upper()
    if not currency or currency == price.currency:
        return price
    unit = (price.options or {}).get(currency)
    if unit is None:
        raise _Refused(f"billed in {currency} at a price in {price.currency} without a {currency.lower()} amount "
                       "(currency_options)")  # fmt: skip
    return replace(price, currency=currency, unit=unit)


# --- subscriptions --------------------------------------------------------------------------


def _subscription_periods(sub: dict, reading: _Reading) -> None:
    """Add the periods of a subscription's items as it stands now (after their invoiced history)."""
    sid = str(sub.get("id", "?"))
    status = sub.get("status")
    if not isinstance(status, str):
        raise _Refused(f"subscription status {status!r} is not one of Stripe's")
    items = _items(sub)
    held = sub.get("items")
    if isinstance(held, dict) and held.get("has_more"):
        reading.note("subscriptions whose items say has_more (the items after the first page are not in the file)", sid)
    labels = [f"{sid}/{i.get('id', '?')}" for i in items] or [sid]
    if status in SUBSCRIPTION_LEFT_OUT:
        for label in labels:
            reading.leave_out(SUBSCRIPTION_LEFT_OUT[status], label)
        return
    problem = None
    if status not in SUBSCRIPTION_MRR:
        problem = f"subscription status {status!r} is not one of Stripe's"
    elif status == "canceled" and sub.get("ended_at") is None:
        problem = "subscription canceled without ended_at"
    elif status != "canceled" and sub.get("ended_at") is not None:
        problem = f"subscription {status} with ended_at set (Stripe sets it only when a subscription ends)"
    elif not items:
        reading.leave_out("subscription without items", sid)
        return
    elif _day(sub.get("start_date", sub.get("created"))) is None:
        problem = "subscription without start_date or created"
    if problem:
        reading.refuse(problem, sid)
        return
    customer = _id(sub.get("customer"))
    if not customer.strip():
        raise _Refused("subscription without a customer")
    ended = _day(sub.get("ended_at")) if status == "canceled" else None
    used = []
    for item in items:
        label = f"{sid}/{item.get('id', '?')}"
        price_obj = _resolve(reading, "price", item.get("price")) or _resolve(reading, "plan", item.get("plan"))
        price = _price(price_obj)
        if price is None:
            reading.refuse("subscription item without its price (expand items.data.price)", label)
            continue
        problem = None if price.kind == "one_time" else _price_problem(price) or _item_problem(item, price)
        if problem:  # impossible values first: a placeholder is refused, whatever else it says
            reading.refuse(problem, label)
            continue
        reason = _not_mrr(price)
        if reason:
            reading.leave_out(reason, label)
            continue
        if isinstance(sub.get("currency"), str) and sub["currency"]:
            price = _in_currency(price, sub["currency"], label)
        used.append((item, price, label))
    if not used:
        return
    start = _day(sub.get("start_date", sub.get("created")))
    discounts = _sub_discounts(sub, used, reading)
    for (item, price, label), discount in zip(used, discounts, strict=True):
        begin = start
        created, sub_created = _day(item.get("created")), _day(sub.get("created"))
        if created is not None and sub_created is not None and created > sub_created:
            begin = max(begin, created)
        trial_end = _day(sub.get("trial_end"))
        if trial_end is not None and trial_end > begin:
            begin = trial_end
        key = str(item.get("id") or f"{sid}/{price.plan}")
        if key not in reading.history and f"{sid}/{price.plan}" in reading.history:
            key = (
                f"{sid}/{price.plan}"  # its invoices' lines did not name the item: they name its subscription and price
            )
        history = reading.history.get(key)
        if history:  # the subscription continues the item from its last invoiced period
            begin = max(begin, max(p.end if p.end is not None else p.start for p in history))
        if ended is not None and begin >= ended:
            if history:
                continue  # ended within its invoiced history: nothing after it (the history says the rest)
            if ended < start:
                reading.refuse("subscription ended_at before its start_date", label)
            else:
                reading.leave_out("subscription canceled before its MRR began (in its trial, or the day it started)",
                                  label)  # fmt: skip
            continue
        quantity = _billed(_whole(item.get("quantity", 1)), price)
        reading.current.append(_Period.of(price, customer, key, sid, begin, ended, quantity, discount, label))


def _item_problem(item: dict, price: _Price) -> str | None:
    """Why a subscription item's own values cannot be real (refused), or None."""
    quantity = _whole(item.get("quantity", 1))
    if quantity is None or quantity < 0:
        return f"quantity {item.get('quantity')!r} is not a whole number of 0 or more"
    start, end = item.get("current_period_start"), item.get("current_period_end")
    if isinstance(start, int) and isinstance(end, int) and end < start:
        return f"current_period_end {end} is before current_period_start {start}"
    plan = (
        _price(item.get("plan")) if isinstance(item.get("plan"), dict) and isinstance(item.get("price"), dict) else None
    )
    if plan is not None:  # the legacy plan mirrors the price: Stripe never lets them differ
        theirs = (plan.interval, plan.count, plan.currency, plan.unit)
        ours = (price.interval, price.count, price.currency, price.unit)
        if theirs != ours:
            return (f"the item's plan {item['plan'].get('id')!r} ({plan.interval}/{plan.count}, currency "
                    f"{plan.currency.lower()!r}, amount {plan.unit}) disagrees with its price "
                    f"{item['price'].get('id')!r} ({price.interval}/{price.count}, currency "
                    f"{price.currency.lower()!r}, amount {price.unit})")  # fmt: skip
    return None


def _forever(holder: dict, reading: _Reading, label: str) -> list[dict]:
    """Return the ``forever`` coupons of a subscription or an item (``discount``, ``discounts``); note the others."""
    coupons, seen = [], set()
    for discount in [holder.get("discount"), *_listed(holder.get("discounts"), "discounts")]:
        if discount is None:
            continue
        name = _id(discount)
        if name and name in seen:
            continue  # the older API's discount is also in discounts: one discount, applied once
        seen.add(name)
        discount = _resolve(reading, "discount", discount)
        coupon = _coupon_of(discount, reading)
        if coupon is None:
            reading.note("discounts whose coupon the file does not hold (not applied)", label)
        elif coupon.get("duration") == "forever":
            coupons.append(coupon)
        else:
            reading.note(f"{coupon.get('duration') or 'no-duration'} coupons (not MRR, not applied)", label)
    return coupons


def _applies(coupon: dict, price: _Price) -> bool:
    products = (coupon.get("applies_to") or {}).get("products")
    return not products or price.product in products


def _sub_discounts(sub: dict, used: list, reading: _Reading) -> list[Decimal]:
    """Return the forever discount per billing period of each used item, in minor units."""
    sid = str(sub.get("id", "?"))
    gross = [price.unit * _billed(_whole(item.get("quantity", 1)), price) for item, price, _ in used]
    discounts = [Decimal(0)] * len(used)
    for coupon in _forever(sub, reading, sid):
        targets = [i for i, (_, price, _) in enumerate(used) if _applies(coupon, price)]
        if coupon.get("percent_off") is not None:
            for i in targets:
                discounts[i] += _percent(gross[i], coupon["percent_off"])
        elif coupon.get("amount_off") is not None:
            shares = _shares(_amount_off(coupon), [gross[i] for i in targets])
            for i, share in zip(targets, shares, strict=True):
                discounts[i] += share
    for i, (item, _, label) in enumerate(used):
        for coupon in _forever(item, reading, label):
            if coupon.get("percent_off") is not None:
                discounts[i] += _percent(gross[i], coupon["percent_off"])
            elif coupon.get("amount_off") is not None:
                discounts[i] += _amount_off(coupon)
    return [min(d, g) for d, g in zip(discounts, gross, strict=True)]


def _percent(gross: Decimal, percent) -> Decimal:
    """``percent`` of ``gross`` minor units, rounded half-even to the minor unit."""
    rate = _decimal(percent)
    if rate is None or not 0 <= rate <= 100:
        raise _Refused(f"coupon percent_off {percent!r} is not a number from 0 to 100")
    return (gross * rate / 100).quantize(Decimal(1), ROUND_HALF_EVEN)


def _amount_off(coupon) -> Decimal:
    """Return a coupon's ``amount_off`` in minor units; refuse what is not a whole number of 0 or more."""
    amount = _whole(coupon.get("amount_off"))
    if amount is None or amount < 0:
        raise _Refused(f"coupon amount_off {coupon.get('amount_off')!r} is not a whole number of minor units")
    return Decimal(amount)


def _shares(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """
    Share ``amount`` minor units over ``weights`` in whole units, by the largest remainder.

    >>> _shares(Decimal(100), [Decimal(1), Decimal(1), Decimal(1)])
    [Decimal('34'), Decimal('33'), Decimal('33')]
    """
    total = sum(weights, Decimal(0))
    if not weights:
        return []
    if total == 0:
        weights, total = [Decimal(1)] * len(weights), Decimal(len(weights))
    exact = [amount * w / total for w in weights]
    floors = [e.to_integral_value(rounding="ROUND_FLOOR") for e in exact]
    left = int(amount - sum(floors, Decimal(0)))
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


# --- invoices -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    """A subscription line of an invoice, in either API shape, as read before any id is looked up."""

    label: str  # invoice/line ids
    customer: str
    subscription: str
    item: str
    price: dict | str | None
    unit: Decimal | None  # the current shape's pricing.unit_amount_decimal
    product: str
    start: int | None
    end: int | None
    quantity: object
    amount: object
    currency: str
    discounts: list  # (amount, discount) of discount_amounts


def _invoice_lines(invoice: dict, reading: _Reading) -> list[_Line]:
    """
    Return the subscription lines of an invoice, read from either API shape, no id looked up yet.

    Every other line (proration, one-off item), and a draft or void invoice, is counted as left
    out; the prices and discounts every line holds expanded are indexed, whatever the invoice.
    """
    iid = str(invoice.get("id", "?"))
    status = invoice.get("status")
    if not isinstance(status, str):
        raise _Refused(f"invoice status {status!r} is not one of Stripe's")
    lines = _lines(invoice)
    if status not in INVOICE_READ:
        for line in lines:
            _index_line(reading, line, *_line_objects(line))
        if status in INVOICE_LEFT_OUT:
            reading.leave_out(INVOICE_LEFT_OUT[status], iid)
        else:
            reading.refuse(f"invoice status {status!r} is not one of Stripe's", iid)
        return []
    customer = _id(invoice.get("customer"))
    if not customer.strip():
        raise _Refused("invoice without a customer")
    currency = str(invoice.get("currency") or "")
    if not lines:
        reading.leave_out("invoice without lines", iid)
    held = invoice.get("lines")
    if isinstance(held, dict) and held.get("has_more"):
        reading.note("invoices whose lines say has_more (the lines after the first page are not in the file; "
                     "list them with the invoice's lines endpoint)", iid)  # fmt: skip
    out = []
    for line in lines:
        get = line.get
        label = f"{iid}/{get('id', '?')}"
        price, amounts = _line_objects(line)
        _index_line(reading, line, price, amounts)
        parent = get("parent")
        unit, product = None, ""
        if isinstance(parent, dict):  # the current shape: parent.subscription_item_details, pricing
            kind = parent.get("type")
            details = parent.get(str(kind))
            details = details if isinstance(details, dict) else {}
            recurring = kind == "subscription_item_details"
            pricing = get("pricing")
            if isinstance(pricing, dict):
                unit = _decimal(pricing.get("unit_amount_decimal"))
                price_details = pricing.get("price_details")
                if isinstance(price_details, dict):
                    product = _id(price_details.get("product"))
        else:  # the older shape: line proration, type, subscription_item, price
            details, kind = line, get("type")
            recurring = None if kind is None else kind == "subscription"
        proration = details.get("proration")
        if proration not in (None, True, False):
            raise _Refused(f"line {label}: proration {proration!r} is not true or false")
        if proration:
            reading.leave_out("proration line (not recurring)", label)
            continue
        subscription = _id(details.get("subscription"))
        if recurring is False or not subscription:
            reading.leave_out("one-off invoice item (not recurring)", label)
            continue
        period = get("period")
        start, end = (_day(period.get("start")), _day(period.get("end"))) if isinstance(period, dict) else (None, None)
        discounts = [(a.get("amount"), a.get("discount")) for a in amounts if isinstance(a, dict) and a.get("amount")]
        item = _id(details.get("subscription_item")) if recurring is not None else ""
        out.append(_Line(label, customer, subscription, item, price, unit, product, start, end, get("quantity", 1),
                         get("amount"), str(get("currency") or currency), discounts))  # fmt: skip
    return out


def _line_objects(line) -> tuple:
    """Return a line's price and its ``discount_amounts``, in either API shape."""
    get = line.get
    if isinstance(get("parent"), dict):  # the current shape: pricing.price_details.price
        pricing = get("pricing")
        details = pricing.get("price_details") if isinstance(pricing, dict) else None
        price = details.get("price") if isinstance(details, dict) else None
    else:  # the older shape: price, or the legacy plan
        price = get("price") or get("plan")
    return price, _listed(get("discount_amounts"), "discount_amounts")


def _line_period(read: _Line, reading: _Reading, never: set[str]) -> None:
    """Add a subscription line's service period to its item's history, or count why it is not MRR."""
    label = read.label
    if read.subscription in never:
        reading.leave_out("line of an incomplete subscription (never MRR)", label)
        return
    start, end = read.start, read.end
    if start is None or end is None:
        reading.refuse("line without its service period", label)
        return
    if end <= start:
        reading.refuse("service period ends on or before the day it starts", label)
        return
    price = _price_of(reading, _resolve(reading, "price", read.price) or _resolve(reading, "plan", read.price))
    if price is None:  # the price is only named (current shape): the period tells the interval
        interval, count = _interval_of(start, end)
        price = _Price(None, read.currency.upper(), interval, count, None, "recurring", None, read.product,
                       _id(read.price))  # fmt: skip
        reading.note("invoice lines whose price the file does not hold (interval from the service period; "
                     "add the price objects to tell metered ones)", label)  # fmt: skip
    if read.unit is not None:  # the current shape's own unit amount is in the line's currency
        price = _variant(reading, price, unit=read.unit, currency=read.currency.upper() or price.currency)
    elif read.currency and price.currency:
        price = _in_currency(price, read.currency, label)  # a price's currency_options
    if (read.product and read.product != price.product) or not price.currency:
        price = _variant(
            reading, price, product=read.product or price.product, currency=price.currency or read.currency.upper()
        )
    quantity = _billed(_whole(read.quantity), price)
    amount = _decimal(read.amount)
    if amount == 0 and quantity:  # a trial's line (or a free price's) bills 0; discounts are apart from amount
        reading.leave_out("line billing 0 (a trial or a free price: not MRR)", label)
        return
    problem = None if price.kind == "one_time" else _price_problem(price) or (
        None if quantity is not None and quantity >= 0 else f"quantity {read.quantity!r} is not a whole number"
    )  # fmt: skip
    if problem:
        reading.refuse(problem, label)
        return
    reason = _not_mrr(price)
    if reason:
        reading.leave_out(reason, label)
        return
    discount = _line_discount(read.discounts, reading, label)
    item = read.item or f"{read.subscription}/{price.plan}"
    discount = min(discount, price.unit * quantity)  # (transform_quantity: on the packages billed)
    reading.history[item].append(_Period.of(price, read.customer, item, read.subscription, start, end, quantity,
                                            discount, label))  # fmt: skip


def _variant(reading: _Reading, price: _Price, **changes) -> _Price:
    """
    Return ``replace(price, **changes)``, made once per price and changes (lines repeat both).

    A :class:`_Price` is never changed in place, so one copy serves every line; the memo holds the
    price it was made from, so that price's ``id`` is not reused while the memo lives.
    """
    key = (id(price), *changes.items())
    try:
        return reading.variants[key][1]
    except KeyError:
        made = replace(price, **changes)
        reading.variants[key] = (price, made)
        return made
    except TypeError:  # an unhashable value (cannot be: the changes are text and Decimals)
        return replace(price, **changes)


def _interval_of(start: int, end: int) -> tuple[str, int]:
    """
    Return the billing interval a service period spans.

    Whole months (a year is 12) when the day of the month repeats (or both ends are months'
    last days), else whole weeks, else days.

    >>> day = lambda text: int(pd.Timestamp(text).timestamp()) // 86400
    >>> _interval_of(day("2024-01-31"), day("2024-02-29")), _interval_of(day("2024-01-15"), day("2025-01-15"))
    (('month', 1), ('year', 1))
    >>> _interval_of(day("2024-01-01"), day("2024-01-15"))
    ('week', 2)
    """
    a, b = pd.Timestamp(start, unit="D"), pd.Timestamp(end, unit="D")
    months = (b.year - a.year) * 12 + b.month - a.month
    last = a.is_month_end and b.is_month_end
    if months >= 1 and (a.day == b.day or last or (b.is_month_end and b.day < a.day)):
        return ("year", months // 12) if months % 12 == 0 else ("month", months)
    days = end - start
    return ("week", days // 7) if days % 7 == 0 else ("day", days)


def _line_discount(discounts: list, reading: _Reading, label: str) -> Decimal:
    """Return a line's discount of forever coupons (its ``discount_amounts``), in minor units."""
    total = Decimal(0)
    for amount, discount in discounts:
        coupon = _coupon_of(_resolve(reading, "discount", discount), reading)
        if coupon is None:
            reading.note("discounts whose coupon the file does not hold (not applied)", label)
        elif coupon.get("duration") == "forever":
            total += Decimal(str(amount))
        else:
            reading.note(f"{coupon.get('duration') or 'no-duration'} coupons (not MRR, not applied)", label)
    return total


# --- periods to rows ------------------------------------------------------------------------


def _merged(reading: _Reading, ended: dict[str, int | None]) -> list[_Period]:
    """Each item's invoiced periods in order, cut at its subscription's end, consecutive identical ones merged."""
    out, last = [], {}
    for item, periods in reading.history.items():
        periods.sort(key=lambda p: (p.start, p.end))
        kept: list[_Period] = []
        for period in periods:
            stop = ended.get(period.subscription)
            if stop is not None:
                if period.start >= stop:
                    reading.leave_out("invoiced period after its subscription ended", period.label)
                    continue
                period.end = min(period.end, stop)
            if kept and period.start < kept[-1].end:
                reading.refuse(f"service period overlaps the item's line {kept[-1].label.split(' … ')[-1]}",
                               period.label)  # fmt: skip
                continue
            if kept and period.start == kept[-1].end and period.same_terms(kept[-1]):
                first = kept[-1].label.split(" … ")[0]
                kept[-1].end, kept[-1].label = period.end, f"{first} … {period.label}"
                continue
            kept.append(period)
        if kept:
            last[item] = kept[-1]
        out += kept
    for period in reading.current:  # the subscriptions: after each item's history
        before = last.get(period.item)
        if before is not None and before.end == period.start and before.same_terms(period):
            before.end = period.end
            continue
        out.append(period)
    return out


def _major(minor: Decimal, currency: str) -> str:
    """Minor units as exact major-unit text."""
    if currency in ZERO_DECIMAL:
        value = minor
    else:
        value = minor / (1000 if currency in THREE_DECIMAL else 100)
    text = format(value.normalize(), "f")
    return text


def _to_frame(periods: list[_Period], reading: _Reading) -> pd.DataFrame:
    """
    Return the periods as the kit's subscription columns (text), by customer, item and start.

    A unit amount finer than the hundredth the kit keeps (``unit_amount_decimal`` "0.4" cents,
    say, or KWD 12.345) would be rounded before it is multiplied by the quantity; Stripe rounds
    ``unit × quantity``. Such a period's amount is its total and its quantity 1 (noted), so the
    total is rounded once: exact MRR, at the cost of the seat count the cause bridge reads.
    """
    periods = sorted(periods, key=lambda p: (p.customer, p.item, p.start))
    rows = []
    for p in periods:
        unit, quantity = _major(p.unit, p.currency), str(p.quantity)
        if _finer_than_cents(unit):
            unit, quantity = _major(p.unit * p.quantity, p.currency), "1"
            reading.note("unit amounts finer than a hundredth: the period's total is its amount, quantity 1 "
                         "(rounded once, as Stripe rounds unit × quantity)", p.label)  # fmt: skip
        rows.append((p.customer, _iso(p.start), _iso(p.end), unit, p.interval, str(p.count), quantity,
                     _major(p.discount, p.currency) if p.discount else "", p.product, p.plan, p.currency,
                     p.subscription))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def _finer_than_cents(text: str) -> bool:
    """Whether a major-unit amount has more than two decimals."""
    return "." in text and len(text.split(".", 1)[1]) > 2
