"""
Generate a seeded Stripe invoice file (JSON lines) and the same history as subscription periods (CSV).

Issue 12: a 100k-customer Stripe invoice file must load within a small multiple of the
equivalent subscriptions CSV. This script writes both, from a seed, deterministically:

1. ``stripe_invoices_100k.jsonl``: one Stripe ``invoice`` object per line, newest first (as
   ``GET /v1/invoices`` pages them), with ``lines.data`` as the API returns them. Half the
   customers' invoices are in the older API shape (invoice ``subscription``, ``paid``, ``tax``,
   ``total_tax_amounts``; line ``type``, ``proration``, ``subscription_item``, ``plan``,
   ``price`` expanded with ``recurring``, ``tax_amounts``), half in the current one (invoice
   ``parent.subscription_details``, ``total_taxes``; line ``pricing.price_details`` with the
   price and product ids and ``unit_amount_decimal``, ``parent.subscription_item_details``,
   ``taxes``). Every field of the example objects in ``../shared/fixtures/stripe`` is there,
   with realistic values: the file is as heavy to parse as a real export.
2. ``stripe_equivalent_100k.csv``: the same history as the kit's subscription periods
   (``customer_id,start_date,end_date,amount,billing_period,billing_interval_count,quantity,
   product,plan,currency,subscription_id``): one row per run of identical consecutive billed
   periods of one subscription item, ``amount`` the unit price in major units, ``end_date``
   exclusive (the end of the run's last billed period), ``product`` the Stripe product id and
   ``plan`` the price id (the only names a current-shape line carries).

The history: customers sign up over 24 months from December 2024 (a quarter in the first
month) at any day and time, each billing period anchored there (a day past the end of a
shorter month bills on its last day, as Stripe does); 80 % monthly, 20 % yearly (one invoice
a year); a few start with a 14-day trial (a $0 line, then paid periods anchored at the trial's
end). At renewals they add or remove seats, move from Starter to Pro, take a price rise
(Core Pro $49 to $55 from December 2025, a few grandfathered), add a second product (cross-sell)
or drop one, cancel (at period end; some after a failed payment, their last invoice voided),
and some come back later on a new subscription. A change made during a period bills
proration lines on the next invoice (credit for the unused time, charge for the remaining
time) and the new price or quantity from that period on; some first invoices carry a one-off
onboarding fee, and a few customers get manual invoices for professional services (paid,
void, or draft while being written). A third of the customers pay sales tax or VAT
(exclusive: ``amount`` is before tax). Customers on ``send_invoice`` terms, and a few whose
card failed, have the last month's invoices still ``open``.

What the CSV counts, i.e. what a correct reading of the invoices gives (``--check`` reads the
JSON by these rules, in plain Python, and compares with the kit's reading of the CSV):

* a line counts when it bills a subscription item (``type == "subscription"``, or
  ``parent.type == "subscription_item_details"``), is not a proration (``proration``, or
  ``parent.<details>.proration``), and bills a non-zero amount (a trial line bills $0);
  its invoice is not ``void`` (a voided invoice bills nothing) nor ``draft``;
* it gives a subscription period from ``period.start`` to ``period.end`` (UTC dates, end
  exclusive) at ``quantity`` × the unit amount (``price.unit_amount`` or
  ``pricing.unit_amount_decimal``, in cents) per billing period: ``price.recurring.interval``
  in the older shape; in the current one, where the line names only the price id, the
  period's length (28 to 31 days: a month; 365 or 366: a year);
* one-off invoice items, prorations, $0 trial lines and tax (``tax_amounts``, ``taxes``) are
  never MRR. An ``open`` invoice counts (the subscription is ``past_due`` or on terms).

Run ``python bench/gen_stripe.py`` (100,000 customers, a few minutes), or ``--customers 200``
for a small file; ``--check`` validates the files (shapes against the fixtures, counts, MRR).
"""

from __future__ import annotations

import argparse
import calendar
import collections
import csv
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "stripe" / "fixtures3-subset.json"
#: Version of the generated files (in the meta file): bump it when the output changes.
FORMAT = 2
SEED = 12
CUSTOMERS = 100_000
FIRST_MONTH = (2024, 12)
MONTHS = 24
#: The export was taken at the end of the last month: nothing was created after it.
EXPORT_END = calendar.timegm((2026, 11, 30, 23, 59, 59))
AS_OF = date(2026, 11, 30)
TODAY = date(2026, 12, 1)
DAY = 86_400
CSV_COLUMNS = ["customer_id", "start_date", "end_date", "amount", "billing_period", "billing_interval_count",
               "quantity", "product", "plan", "currency", "subscription_id"]  # fmt: skip

# --- the catalogue ------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ACCOUNT = "Kx3vQ2mN8p"  # the account's part of Stripe's ids


def _b62(number: int, width: int) -> str:
    """Write ``number`` in base 62 in exactly ``width`` digits (the lowest ones)."""
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


#: Odd and not a multiple of 31: multiplying by it is a bijection modulo any power of 62.
MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835**2


def _scrambled(number: int, width: int) -> str:
    """``width`` base-62 digits that look random, distinct for distinct ``number`` below 62**width."""
    return _b62((number + 1) * MIX % 62**width, width)


def _object_id(prefix: str, kind: int, customer: int, seq: int, created: int) -> str:
    """A Stripe-like id (``in_1…``: a time part, the account, a random-looking part), one per kind · customer · seq."""
    return f"{prefix}_1{_b62(created // 60, 5)}{ACCOUNT}{_scrambled((customer << 12 | seq) * 16 + kind, 8)}"


@dataclass(frozen=True)
class Price:
    """A recurring (``interval``) or one-time (``interval`` None) price of a product, in cents."""

    id: str
    product: str
    name: str  # the product's name, for line descriptions
    unit_amount: int
    interval: str | None
    created: int

    def expanded(self) -> dict:
        """The price object as an expanded line ``price`` (older API shape)."""
        recurring = None if self.interval is None else {
            "aggregate_usage": None, "interval": self.interval, "interval_count": 1, "meter": None,
            "trial_period_days": None, "usage_type": "licensed"}  # fmt: skip
        return {"id": self.id, "object": "price", "active": True, "billing_scheme": "per_unit",
                "created": self.created, "currency": "usd", "custom_unit_amount": None, "livemode": True,
                "lookup_key": None, "metadata": {}, "nickname": None, "product": self.product,
                "recurring": recurring, "tax_behavior": "exclusive", "tiers_mode": None, "transform_quantity": None,
                "type": "one_time" if self.interval is None else "recurring", "unit_amount": self.unit_amount,
                "unit_amount_decimal": str(self.unit_amount)}  # fmt: skip

    def plan(self) -> dict | None:
        """The legacy ``plan`` mirror of a recurring price (older API shape), None for a one-time price."""
        if self.interval is None:
            return None
        return {"id": self.id, "object": "plan", "active": True, "aggregate_usage": None, "amount": self.unit_amount,
                "amount_decimal": str(self.unit_amount), "billing_scheme": "per_unit", "created": self.created,
                "currency": "usd", "interval": self.interval, "interval_count": 1, "livemode": True, "metadata": {},
                "meter": None, "nickname": None, "product": self.product, "tiers_mode": None, "transform_usage": None,
                "trial_period_days": None, "usage_type": "licensed"}  # fmt: skip


_CREATED = calendar.timegm((2023, 3, 14, 9, 26, 53))
#: product key → (Stripe product id, name, per seat?)
PRODUCTS = {
    "core": ("prod_Rk2cCoreWx81Qa", "Core", True),
    "analytics": ("prod_Rk2cAnlyTq47Zm", "Analytics", True),
    "automation": ("prod_Rk2cAutoPv93Lb", "Automation", True),
    "support": ("prod_Rk2cSuppHn25Kd", "Support Plus", False),
    "api": ("prod_Rk2cApiAcJ68Ve", "API Access", False),
    "onboarding": ("prod_Rk2cOnbdFs14Gt", "Onboarding", False),
    "services": ("prod_Rk2cServRw70Nc", "Professional services", False),
}
#: (product, plan, interval) → unit amount in cents; yearly prices are ten months' worth.
_AMOUNTS = {
    ("core", "starter"): 2_900, ("core", "pro"): 4_900, ("core", "pro2"): 5_500, ("analytics", ""): 1_500,
    ("automation", ""): 1_000, ("support", ""): 49_900, ("api", ""): 9_900,
}  # fmt: skip


def _catalogue() -> dict[tuple[str, str, str | None], Price]:
    """Every price of the account, keyed by ``(product, plan, interval)``."""
    prices = {}
    for n, ((product, plan), monthly) in enumerate(_AMOUNTS.items()):
        prod, name, _ = PRODUCTS[product]
        for interval, amount in (("month", monthly), ("year", monthly * 10)):
            tail = _scrambled((n * 2 + (interval == "year")) * 16 + 10, 8)
            pid = f"price_1{_b62(_CREATED // 60 + n, 5)}{ACCOUNT}{tail}"
            prices[(product, plan, interval)] = Price(pid, prod, name, amount, interval, _CREATED + n * 3_600)
    for n, (product, amount) in enumerate((("onboarding", 150_000), ("services", 25_000)), start=len(_AMOUNTS)):
        prod, name, _ = PRODUCTS[product]
        pid = f"price_1{_b62(_CREATED // 60 + n, 5)}{ACCOUNT}{_scrambled(n * 32 + 10, 8)}"
        prices[(product, "", None)] = Price(pid, prod, name, amount, None, _CREATED + n * 3_600)
    return prices


PRICES = _catalogue()
#: Tax regions: (country, state, tax rate id, rate in 1/100,000, display name)
TAXES = [
    ("US", "NY", "txr_1PxNYsales8875" + ACCOUNT[:8], 8_875, "Sales Tax"),
    ("GB", None, "txr_1PxGBvat2000tx" + ACCOUNT[:8], 20_000, "VAT"),
    ("DE", None, "txr_1PxDEust1900tx" + ACCOUNT[:8], 19_000, "USt."),
    ("CA", "ON", "txr_1PxONhst1300tx" + ACCOUNT[:8], 13_000, "HST"),
]

# --- time ------------------------------------------------------------------------------------


def _add_months(anchor: tuple, months: int) -> int:
    """The timestamp ``months`` after the anchor ``(year, month, day, hour, minute, second)``, day clipped."""
    year, month0 = divmod(anchor[0] * 12 + anchor[1] - 1 + months, 12)
    day = min(anchor[2], calendar.monthrange(year, month0 + 1)[1])
    return calendar.timegm((year, month0 + 1, day, *anchor[3:]))


def _anchor(ts: int) -> tuple:
    """The ``(year, month, day, hour, minute, second)`` of a timestamp (UTC)."""
    return time.gmtime(ts)[:6]


def _day(ts: int) -> str:
    """The ISO date (UTC) of a timestamp."""
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def _month_index(ts: int) -> int:
    """Months since the first month of the history (0 for its first month)."""
    t = time.gmtime(ts)
    return (t.tm_year * 12 + t.tm_mon - 1) - (FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1)


# --- the history -----------------------------------------------------------------------------


@dataclass
class Line:
    """One invoice line before rendering: ``kind`` is subscription, trial, proration or oneoff."""

    kind: str
    price: Price
    quantity: int
    amount: int  # cents, before tax (negative for a credit)
    start: int
    end: int
    description: str
    item: str | None = None  # the subscription item id
    subscription: str | None = None
    credited: str | None = None  # the invoice a credit proration credits


@dataclass
class Invoice:
    """One invoice before rendering."""

    id: str
    customer: int
    subscription: str | None
    created: int
    status: str
    billing_reason: str
    period: tuple[int, int]
    lines: list[Line] = field(default_factory=list)
    seq: int = 0


@dataclass
class Item:
    """A subscription item: its price and quantity now, and the start of its current run."""

    id: str
    product: str
    plan: str
    quantity: int
    run_start: int
    grandfathered: bool
    last_invoice: str | None = None  # the last invoice that billed it (a credit proration names it)

    def price(self, interval: str) -> Price:
        """The item's current price."""
        return PRICES[(self.product, self.plan, interval)]


class Customer:
    """One customer's whole history: its invoices and its subscription-period rows, from its own random stream."""

    def __init__(self, index: int, seed: int):
        self.index = index
        self.rng = random.Random(f"stripe-bench:{seed}:{index}")
        r = self.rng.random
        self.id = "cus_" + _scrambled(index * 16 + 9, 14)
        self.old_shape = r() < 0.5
        self.send_invoice = r() < 0.08
        self.tax = TAXES[int(r() * len(TAXES))] if r() < 0.35 else None
        self.size = min(int(self.rng.lognormvariate(1.0, 1.0)), 300) + 1
        self.churn_p = 0.008 if self.size > 20 else 0.015 if self.size > 5 else 0.03
        self.invoices: list[Invoice] = []
        self.rows: list[list[str]] = []
        self.seq = 0
        self.prefix = _scrambled(index * 16 + 11, 8).upper()  # of its invoice numbers

    def next_id(self, prefix: str, kind: int, created: int) -> str:
        """A new id of this customer's."""
        self.seq += 1
        return _object_id(prefix, kind, self.index, self.seq, created)

    def simulate(self) -> Customer:
        """Run the customer's history: a first subscription, maybe a return after churning."""
        r = self.rng.random
        month = 0 if r() < 0.25 else int(r() * MONTHS)
        year, month0 = divmod(FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1 + month, 12)
        start = calendar.timegm((year, month0 + 1, 1, 0, 0, 0)) + int(r() * calendar.monthrange(year, month0 + 1)[1]
                                                                      * DAY)  # fmt: skip
        yearly = r() < 0.2
        trial = r() < 0.12
        churned = self.subscription(min(start, EXPORT_END - DAY), yearly, trial, first=True)
        if churned is not None and r() < 0.25:  # comes back after a gap, on a new subscription
            back = _add_months(_anchor(churned), 2 + int(r() * 7)) + int(r() * 20 * DAY)
            if back < EXPORT_END:
                self.subscription(back, r() < 0.2, False, first=False)
        if self.invoices and r() < 0.03:
            self.manual_invoice(self.invoices[0].created)
        return self

    def subscription(self, start: int, yearly: bool, trial: bool, *, first: bool) -> int | None:
        """Bill one subscription from ``start``; return when it ended (None: still running at the export)."""
        r = self.rng.random
        interval = "year" if yearly else "month"
        step = 12 if yearly else 1
        sub = self.next_id("sub", 1, start)
        first_product = "core" if r() < 0.8 else ("analytics", "automation", "support", "api")[int(r() * 4)]
        items = [self.new_item(first_product, start)]
        if r() < 0.10:
            items.append(self.new_item(self.other_product(items), start))
        anchor_ts = start
        if trial:
            trial_end = start + 14 * DAY
            invoice = self.invoice(sub, start, "subscription_create", (start, start))
            for item in items:
                price = item.price(interval)
                invoice.lines.append(Line("trial", price, item.quantity, 0, start, trial_end,
                                          f"Trial period for {price.name}", item.id, sub))  # fmt: skip
            if trial_end > EXPORT_END:
                return None
            anchor_ts = trial_end
            for item in items:
                item.run_start = trial_end
        anchor = _anchor(anchor_ts)
        k, previous = 0, anchor_ts
        while True:
            ps = _add_months(anchor, k * step)
            if ps > EXPORT_END:
                for item in items:  # still running at the export: the run has no end yet
                    self.close(item, interval, sub, ps, ongoing=True)
                return None
            pe = _add_months(anchor, (k + 1) * step)
            prorations: list[Line] = []
            voided = False
            if k > 0:
                churn = self.churn_p * (9 if yearly else 1)
                if r() < churn:
                    if r() >= 0.12:  # cancelled at period end: no more invoices
                        for item in items:
                            self.close(item, interval, sub, ps)
                        return ps
                    voided = True  # the card failed: the invoice is voided, the subscription cancelled
                else:
                    items = self.changes(items, interval, sub, previous, ps, prorations)
            reason = "subscription_create" if k == 0 and not trial else "subscription_cycle"
            # an invoice's own period is the one before its lines' (the pending items it collected)
            period = (start, anchor_ts) if k == 0 and trial else (ps, ps) if k == 0 else (previous, ps)
            invoice = self.invoice(sub, ps, reason, period, voided=voided)
            for item in items:
                price = item.price(interval)
                line = Line("subscription", price, item.quantity, price.unit_amount * item.quantity, ps, pe,
                            f"{item.quantity} × {price.name} (at {_money(price.unit_amount)} / {interval})",
                            item.id, sub)  # fmt: skip
                invoice.lines.append(line)
                if not voided:
                    item.last_invoice = invoice.id
            invoice.lines.extend(prorations)
            if k == 0 and first and r() < 0.15:
                fee = PRICES[("onboarding", "", None)]
                invoice.lines.append(Line("oneoff", fee, 1, fee.unit_amount, ps, ps, "Onboarding"))
            if voided:
                for item in items:
                    self.close(item, interval, sub, ps)
                return ps
            previous = ps
            k += 1

    def new_item(self, product: str, start: int) -> Item:
        """A new subscription item of ``product``."""
        r = self.rng.random
        per_seat = PRODUCTS[product][2]
        quantity = max(int(self.size * (0.4 + 0.6 * r())), 1) if per_seat else 1
        plan = ("starter" if r() < 0.6 else "pro") if product == "core" else ""
        self.seq += 1
        item_id = "si_" + _scrambled((self.index << 12 | self.seq) * 16 + 2, 14)
        return Item(item_id, product, plan, quantity, start, grandfathered=r() < 0.3)

    def other_product(self, items: list[Item]) -> str:
        """A product the customer does not hold yet."""
        held = {item.product for item in items}
        choices = [p for p in ("analytics", "automation", "support", "api", "core") if p not in held]
        return choices[int(self.rng.random() * len(choices))]

    def changes(self, items, interval, sub, previous, ps, prorations) -> list[Item]:
        """Apply the changes made during the period that ends at ``ps``; prorations bill the part-period."""
        r = self.rng.random
        yearly = interval == "year"
        kept = []
        for position, item in enumerate(items):
            old_price, old_plan, old_quantity = item.price(interval), item.plan, item.quantity
            draw = r()
            left = len(kept) + len(items) - position  # this item and the ones still held
            if left > 1 and draw < (0.05 if yearly else 0.01):  # drops a product, never the last one
                self.close(item, interval, sub, ps)
                if not yearly and r() < 0.5:
                    self.proration(prorations, item, old_price, old_quantity, None, 0, previous, ps, sub)
                continue
            if PRODUCTS[item.product][2] and draw > 1 - (0.25 if yearly else 0.03):
                item.quantity = max(item.quantity + 1, int(item.quantity * (1.1 + 0.5 * r()) + 0.5))
            elif PRODUCTS[item.product][2] and draw > 1 - (0.33 if yearly else 0.045):
                item.quantity = max(int(item.quantity * (0.5 + 0.4 * r())), 1)
            if item.plan == "starter" and r() < (0.08 if yearly else 0.012):
                item.plan = "pro"
            chosen = (item.plan, item.quantity) != (old_plan, old_quantity)  # the customer's own change
            if item.plan == "pro" and _month_index(ps) >= 12 and not item.grandfathered:
                item.plan = "pro2"  # the price rise: moved to the new price at renewal, no proration
            new_price = item.price(interval)
            if (new_price, item.quantity) != (old_price, old_quantity):
                self.close(item, interval, sub, ps, restart=True, old=(old_price, old_quantity))
                if chosen and not yearly and r() < 0.5:  # made during the period: prorations on this invoice
                    self.proration(prorations, item, old_price, old_quantity, new_price, item.quantity,
                                   previous, ps, sub)  # fmt: skip
            kept.append(item)
        if len(kept) < 5 and r() < (0.15 if yearly else 0.025):  # cross-sell: a second product
            item = self.new_item(self.other_product(kept), ps)
            if not yearly and r() < 0.5:
                self.proration(prorations, item, None, 0, item.price(interval), item.quantity, previous, ps, sub)
            kept.append(item)
        return kept

    def proration(self, lines, item, old_price, old_quantity, new_price, new_quantity, previous, ps, sub) -> None:
        """Credit the unused time of the old price, charge the remaining time of the new, from a day in the period."""
        changed = previous + int(self.rng.random() * (ps - previous))
        fraction = (ps - changed) / (ps - previous)
        when = datetime.fromtimestamp(changed, tz=UTC).strftime("%d %b %Y")
        if old_price is not None:
            amount = -int(old_price.unit_amount * old_quantity * fraction + 0.5)
            lines.append(Line("proration", old_price, old_quantity, amount, changed, ps,
                              f"Unused time on {old_quantity} × {old_price.name} after {when}", item.id, sub,
                              credited=item.last_invoice))  # fmt: skip
        if new_price is not None:
            amount = int(new_price.unit_amount * new_quantity * fraction + 0.5)
            lines.append(
                Line(
                    "proration",
                    new_price,
                    new_quantity,
                    amount,
                    changed,
                    ps,
                    f"Remaining time on {new_quantity} × {new_price.name} after {when}",
                    item.id,
                    sub,
                )
            )

    def close(self, item, interval, sub, end, *, restart=False, old=None, ongoing=False) -> None:
        """
        End the item's current run at ``end`` (a CSV row, if it billed anything); ``restart`` begins a new one.

        ``ongoing``: the item still runs at the export, its row's end_date is empty.
        """
        price, quantity = old or (item.price(interval), item.quantity)
        if end > item.run_start:
            amount = f"{price.unit_amount // 100}.{price.unit_amount % 100:02d}"
            self.rows.append([self.id, _day(item.run_start), "" if ongoing else _day(end), amount, interval, "1",
                              str(quantity), price.product, price.id, "USD", sub])  # fmt: skip
        item.run_start = end if restart else item.run_start

    def invoice(self, sub, created, reason, period, *, voided: bool = False) -> Invoice:
        """A new subscription invoice; its status from the customer's terms and the export's date."""
        r = self.rng.random
        recent = created > EXPORT_END - 30 * DAY
        if voided:
            status = "void"
        elif recent and self.send_invoice:
            status = "open" if r() < 0.7 else "paid"
        elif recent and r() < 0.03:
            status = "open"  # the card failed; Stripe retries, the subscription is past_due
        else:
            status = "paid"
        invoice = Invoice(self.next_id("in", 3, created), self.index, sub, created, status, reason, period)
        invoice.seq = len(self.invoices) + 1
        self.invoices.append(invoice)
        return invoice

    def manual_invoice(self, since: int) -> None:
        """A one-off invoice for professional services after ``since``: paid, void, or draft while being written."""
        r = self.rng.random
        created = since + int(r() * (EXPORT_END - since))
        status = "draft" if created > EXPORT_END - 10 * DAY else ("void" if r() < 0.15 else "paid")
        invoice = Invoice(self.next_id("in", 3, created), self.index, None, created, status, "manual",
                          (created, created))  # fmt: skip
        price = PRICES[("services", "", None)]
        hours = 2 + int(r() * 19)
        invoice.lines.append(Line("oneoff", price, hours, price.unit_amount * hours, created, created,
                                  "Professional services (hours)"))  # fmt: skip
        invoice.seq = len(self.invoices) + 1
        self.invoices.append(invoice)


def _money(cents: int) -> str:
    """``$1,234.50``."""
    return f"${cents / 100:,.2f}"


# --- rendering -------------------------------------------------------------------------------

_PAYMENT_METHOD_OPTIONS = {
    "acss_debit": None,
    "bancontact": None,
    "card": {"request_three_d_secure": "automatic"},
    "customer_balance": None,
    "konbini": None,
    "sepa_debit": None,
    "us_bank_account": None,
}
_PAYMENT_SETTINGS = {"default_mandate": None, "payment_method_options": _PAYMENT_METHOD_OPTIONS,
                     "payment_method_types": None}  # fmt: skip
_RENDERING = {"amount_tax_display": None, "pdf": {"page_size": "letter"}, "template": None, "template_version": None}
_ISSUER = {"type": "self"}
_AUTOMATIC_TAX = {"enabled": False, "liability": None, "status": None, "disabled_reason": None, "provider": None}
_NO_CREDIT = {"credited_items": None}


def _tax(amount: int, rate: int) -> int:
    """Exclusive tax of an amount in cents, half away from zero."""
    sign = -1 if amount < 0 else 1
    return sign * ((abs(amount) * rate + 50_000) // 100_000)


class Renderer:
    """Turn a customer's invoices into JSON text in its API shape."""

    def __init__(self, customer: Customer):
        self.c = customer

    def lines(self, invoice: Invoice) -> list[tuple[dict, int, int]]:
        """Each line as ``(dict, amount, tax)`` in the customer's shape."""
        c = self.c
        out = []
        for n, line in enumerate(invoice.lines):
            lid = _object_id("il", 4, c.index, invoice.seq * 16 + n, invoice.created)
            tax = _tax(line.amount, c.tax[3]) if c.tax else 0
            render = self.old_line if c.old_shape else self.new_line
            out.append((render(invoice, line, lid, n, tax), line.amount, tax))
        return out

    def tax_amounts(self, amount: int, tax: int) -> list[dict]:
        """The older shape's ``tax_amounts``."""
        if not self.c.tax:
            return []
        return [{"amount": tax, "inclusive": False, "tax_rate": self.c.tax[2], "taxability_reason": None,
                 "taxable_amount": amount}]  # fmt: skip

    def taxes(self, amount: int, tax: int) -> list[dict]:
        """The current shape's ``taxes``."""
        if not self.c.tax:
            return []
        return [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": self.c.tax[2]},
                "taxability_reason": "standard_rated",
                "taxable_amount": amount,
                "type": "tax_rate_details",
            }
        ]

    def old_line(self, invoice: Invoice, line: Line, lid: str, n: int, tax: int) -> dict:
        """A line in the older API shape (``type``, ``proration``, ``price`` and ``plan`` expanded)."""
        invoice_item = line.kind in ("oneoff", "proration") and (line.kind == "oneoff" or n % 3 != 0)
        credited = _credited(line)
        out = {"id": lid, "object": "line_item", "amount": line.amount, "amount_excluding_tax": line.amount,
               "currency": "usd", "description": line.description, "discount_amounts": [],
               "discountable": line.kind != "proration", "discounts": [], "invoice": invoice.id}  # fmt: skip
        if invoice_item:
            out["invoice_item"] = _object_id("ii", 5, self.c.index, invoice.seq * 16 + n, line.start)
        out.update({"livemode": True, "metadata": {}, "period": {"end": line.end, "start": line.start},
                    "plan": line.price.plan(), "price": line.price.expanded(), "proration": line.kind == "proration",
                    "proration_details": {"credited_items": credited}, "quantity": line.quantity,
                    "subscription": line.subscription, "subscription_item": line.item,
                    "tax_amounts": self.tax_amounts(line.amount, tax), "tax_rates": [],
                    "type": "invoiceitem" if invoice_item else "subscription",
                    "unit_amount_excluding_tax": _unit(line)})  # fmt: skip
        return out

    def new_line(self, invoice: Invoice, line: Line, lid: str, n: int, tax: int) -> dict:
        """A line in the current API shape (``pricing``, ``parent``, ``taxes``), the fixture's keys in its order."""
        credited = _credited(line)
        details = {"proration": line.kind == "proration", "proration_details": {"credited_items": credited}}
        if line.kind == "oneoff" or (line.kind == "proration" and n % 3 != 0):
            ii = _object_id("ii", 5, self.c.index, invoice.seq * 16 + n, line.start)
            parent = {"invoice_item_details": {"invoice_item": ii, **details, "subscription": line.subscription},
                      "subscription_item_details": None, "type": "invoice_item_details"}  # fmt: skip
        else:
            ii = None
            if line.kind == "proration":
                ii = _object_id("ii", 5, self.c.index, invoice.seq * 16 + n, line.start)
            parent = {"invoice_item_details": None,
                      "subscription_item_details": {"invoice_item": ii, **details, "subscription": line.subscription,
                                                    "subscription_item": line.item},
                      "type": "subscription_item_details"}  # fmt: skip
        return {"amount": line.amount, "currency": "usd", "description": line.description,
                "discount_amounts": [], "discountable": line.kind != "proration", "discounts": [], "id": lid,
                "invoice": invoice.id, "livemode": True, "metadata": {}, "object": "line_item",
                "period": {"end": line.end, "start": line.start}, "quantity": line.quantity,
                "subscription": line.subscription, "pretax_credit_amounts": [], "taxes": self.taxes(line.amount, tax),
                "parent": parent,
                "pricing": {"price_details": {"price": line.price.id, "product": line.price.product},
                            "type": "price_details", "unit_amount_decimal": _unit(line)},
                "subtotal": line.amount, "quantity_decimal": str(line.quantity)}  # fmt: skip

    def invoice(self, invoice: Invoice) -> str:
        """The invoice as one line of JSON."""
        c = self.c
        rendered = self.lines(invoice)
        subtotal = sum(a for _, a, _ in rendered)
        tax = sum(t for _, _, t in rendered)
        total = subtotal + tax
        due = max(total, 0)
        status = invoice.status
        finalized = None if status == "draft" else invoice.created + 3_600
        paid_at = finalized + 60 + invoice.seq % 600 if status == "paid" else None
        terms = c.send_invoice and invoice.billing_reason != "manual"
        number = None if status == "draft" else f"{c.prefix}-{invoice.seq:04d}"
        token = _scrambled((c.index << 12 | invoice.seq) * 16 + 8, 24)
        url = None if status == "draft" else f"https://invoice.stripe.com/i/acct_1{ACCOUNT}/live_{token}?s=ap"
        pdf = None if status == "draft" else f"https://pay.stripe.com/invoice/acct_1{ACCOUNT}/live_{token}/pdf?s=ap"
        country, state = (c.tax[0], c.tax[1]) if c.tax else ("US", None)
        address = {"city": None, "country": country, "line1": None, "line2": None, "postal_code": None, "state": state}
        name = f"Customer {c.index:06d} Ltd"
        out = {
            "account_country": "US", "account_name": "Northwind Analytics, Inc.", "account_tax_ids": None,
            "amount_due": due, "amount_paid": due if status == "paid" else 0,
            "amount_remaining": due if status in ("open", "draft") else 0, "amount_shipping": 0, "application": None,
            "attempt_count": 0 if terms or status in ("draft", "void") else (2 if status == "open" else 1),
            "attempted": status in ("paid", "open") and not terms, "auto_advance": status in ("open", "draft"),
            "automatic_tax": _AUTOMATIC_TAX, "billing_reason": invoice.billing_reason,
            "collection_method": "send_invoice" if terms else "charge_automatically", "created": invoice.created,
            "currency": "usd", "custom_fields": None, "customer": c.id, "customer_address": address,
            "customer_email": f"accounts+{c.index:06d}@example.com", "customer_name": name, "customer_phone": None,
            "customer_shipping": None, "customer_tax_exempt": "none", "customer_tax_ids": [],
            "default_payment_method": None, "default_source": None, "default_tax_rates": [], "description": None,
            "discounts": [], "due_date": invoice.created + 30 * DAY if terms else None, "effective_at": finalized,
            "ending_balance": None if status == "draft" else min(total, 0), "footer": None, "from_invoice": None,
            "hosted_invoice_url": url, "id": invoice.id, "invoice_pdf": pdf, "issuer": _ISSUER,
            "last_finalization_error": None, "latest_revision": None,
            "lines": {"object": "list", "data": [d for d, _, _ in rendered], "has_more": False,
                      "total_count": len(rendered), "url": f"/v1/invoices/{invoice.id}/lines"},
            "livemode": True, "metadata": {},
            "next_payment_attempt": invoice.created + 3 * DAY if status == "open" and not terms else None,
            "number": number, "object": "invoice", "on_behalf_of": None, "payment_settings": _PAYMENT_SETTINGS,
            "period_end": invoice.period[1], "period_start": invoice.period[0],
            "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "receipt_number": None,
            "rendering": _RENDERING, "shipping_cost": None, "shipping_details": None, "starting_balance": 0,
            "statement_descriptor": None, "status": status,
            "status_transitions": {"finalized_at": finalized, "marked_uncollectible_at": None, "paid_at": paid_at,
                                   "voided_at": invoice.created + 20 * DAY if status == "void" else None},
        }  # fmt: skip
        tail = {"subtotal": subtotal, "subtotal_excluding_tax": subtotal, "test_clock": None, "total": total,
                "total_discount_amounts": [], "total_excluding_tax": subtotal,
                "webhooks_delivered_at": invoice.created + 5}  # fmt: skip
        if c.old_shape:
            charge = _object_id("ch", 6, c.index, invoice.seq, invoice.created) if status == "paid" and due else None
            intent = _object_id("pi", 7, c.index, invoice.seq, invoice.created) if finalized and due else None
            out.update({"application_fee_amount": None, "charge": charge, "discount": None, "paid": status == "paid",
                        "paid_out_of_band": False, "payment_intent": intent, "quote": None,
                        "subscription": invoice.subscription,
                        "subscription_details": {"metadata": {}} if invoice.subscription else None,
                        **tail, "tax": tax if c.tax else None,
                        "total_tax_amounts": self.tax_amounts(subtotal, tax), "transfer_data": None})  # fmt: skip
        else:
            parent = None if invoice.subscription is None else {
                "quote_details": None, "subscription_details": {"metadata": {}, "subscription": invoice.subscription},
                "type": "subscription_details"}  # fmt: skip
            out.update({"subscription": None, **tail, "automatically_finalizes_at": None,
                        "total_pretax_credit_amounts": [], "total_taxes": self.taxes(subtotal, tax),
                        "amount_overpaid": 0, "parent": parent, "customer_account": None})  # fmt: skip
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def _credited(line: Line) -> dict | None:
    """``proration_details.credited_items`` of a credit proration: the invoice it credits."""
    if line.kind != "proration" or line.amount >= 0 or not line.credited:
        return None
    return {"invoice": line.credited, "invoice_line_items": []}


def _unit(line: Line) -> str:
    """The unit amount in cents as Stripe writes it (a decimal string; a proration's may have decimals)."""
    if line.kind in ("subscription", "oneoff"):
        return str(line.price.unit_amount)
    if line.kind == "trial":
        return "0"
    text = f"{line.amount / line.quantity:.12f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


# --- writing ---------------------------------------------------------------------------------


def _label(customers: int, seed: int) -> str:
    """``100k`` for 100,000 customers (and ``_s7`` for another seed than the default)."""
    size = f"{customers // 1000}k" if customers % 1000 == 0 else str(customers)
    return size if seed == SEED else f"{size}_s{seed}"


def paths(customers: int, seed: int, data: Path = DATA) -> tuple[Path, Path, Path]:
    """The JSON-lines, CSV and meta paths of a generated set."""
    label = _label(customers, seed)
    return (data / f"stripe_invoices_{label}.jsonl", data / f"stripe_equivalent_{label}.csv",
            data / f"stripe_{label}.json")  # fmt: skip


def generate(customers: int, seed: int = SEED, data: Path = DATA, *, progress: bool = True) -> dict:
    """
    Write the invoice file and the equivalent CSV (atomically), and return their counts.

    The invoices are bucketed by the month they were created in (a temporary file each), then
    each bucket is sorted newest first and appended: the file reads like ``GET /v1/invoices``.
    """
    jsonl, csv_path, meta_path = paths(customers, seed, data)
    data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = data / f".stripe_{_label(customers, seed)}.{os.getpid()}.tmp"
    work.mkdir()
    counts = {"invoices": 0, "lines": collections.Counter(), "status": collections.Counter(),
              "shapes": collections.Counter(), "csv_rows": 0}  # fmt: skip
    try:
        buckets = [open(work / f"{m:03d}", "w", encoding="utf-8") for m in range(MONTHS)]  # noqa: SIM115
        with open(work / "csv", "w", newline="", encoding="utf-8") as csv_handle:
            writer = csv.writer(csv_handle, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for index in range(1, customers + 1):
                customer = Customer(index, seed).simulate()
                render = Renderer(customer)
                shape = "old" if customer.old_shape else "new"
                for invoice in customer.invoices:
                    text = render.invoice(invoice)
                    buckets[_month_index(invoice.created)].write(f"{invoice.created:010d}\t{text}\n")
                    counts["invoices"] += 1
                    counts["shapes"][shape] += 1
                    counts["status"][invoice.status] += 1
                    for line in invoice.lines:
                        counts["lines"][line.kind] += 1
                customer.rows.sort(key=lambda row: (row[10], row[1], row[7]))
                writer.writerows(customer.rows)
                counts["csv_rows"] += len(customer.rows)
                if progress and index % 10_000 == 0:
                    print(f"  {index:,} customers, {counts['invoices']:,} invoices, "
                          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for handle in buckets:
            handle.close()
        tmp = jsonl.with_name(f".{jsonl.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            for m in reversed(range(MONTHS)):
                with open(work / f"{m:03d}", encoding="utf-8") as handle:
                    rows = handle.readlines()
                rows.sort(reverse=True)
                out.writelines(row.split("\t", 1)[1] for row in rows)
                del rows
        os.replace(tmp, jsonl)
        os.replace(work / "csv", csv_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {"format": FORMAT, "customers": customers, "seed": seed, "first_month": "{:04d}-{:02d}".format(*FIRST_MONTH),
            "months": MONTHS, "as_of": AS_OF.isoformat(), "today": TODAY.isoformat(),
            "invoices": counts["invoices"], "lines": dict(sorted(counts["lines"].items())),
            "status": dict(sorted(counts["status"].items())), "shapes": dict(sorted(counts["shapes"].items())),
            "csv_rows": counts["csv_rows"], "jsonl_bytes": jsonl.stat().st_size, "csv_bytes": csv_path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def ensure(customers: int, seed: int = SEED, data: Path = DATA) -> tuple[Path, Path, dict]:
    """Return the JSON-lines and CSV paths and the counts, generating the files if absent or of another format."""
    jsonl, csv_path, meta_path = paths(customers, seed, data)
    if jsonl.is_file() and csv_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("format") == FORMAT:
            return jsonl, csv_path, meta
    print(f"generating {jsonl.name} and {csv_path.name} ...", flush=True)
    meta = generate(customers, seed, data)
    print(f"  {meta['invoices']:,} invoices, {meta['jsonl_bytes'] / 1e6:,.0f} MB; {meta['csv_rows']:,} CSV rows, "
          f"{meta['csv_bytes'] / 1e6:,.1f} MB; {meta['seconds']:.0f} s", flush=True)  # fmt: skip
    return jsonl, csv_path, meta


# --- checking --------------------------------------------------------------------------------


def month_ends(as_of: date = AS_OF) -> list[date]:
    """The day each month of the window is measured on: its last day, the last month's as_of."""
    out = []
    for m in range(MONTHS):
        year, month0 = divmod(FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1 + m, 12)
        out.append(date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1]))
    out[-1] = min(out[-1], as_of)
    return out


def _half_even(numerator: int, denominator: int) -> int:
    """Divide non-negative integers, half to even (as the kit rounds a subscription-month)."""
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def reference_periods(jsonl: Path):
    """
    Yield ``(invoice id, line id, customer, item, start, end, cents per period, months per period)``.

    The plain reading of the invoices by the rules of the module docstring: every line that
    bills a subscription item for a non-zero amount, not a proration, on an invoice neither
    void nor draft.
    """
    with open(jsonl, encoding="utf-8") as handle:
        for text in handle:
            invoice = json.loads(text)
            if invoice["status"] in ("void", "draft"):
                continue
            for line in invoice["lines"]["data"]:
                if "parent" in line:  # the current shape
                    parent = line["parent"]
                    if parent["type"] != "subscription_item_details":
                        continue
                    details = parent["subscription_item_details"]
                    if details["proration"]:
                        continue
                    unit, item = int(line["pricing"]["unit_amount_decimal"]), details["subscription_item"]
                    days = (line["period"]["end"] - line["period"]["start"]) // DAY
                    months = 12 if days >= 365 else 1 if 28 <= days <= 31 else None
                else:
                    if line["type"] != "subscription" or line["proration"]:
                        continue
                    unit, item = line["price"]["unit_amount"], line["subscription_item"]
                    months = {"month": 1, "year": 12}.get(line["price"]["recurring"]["interval"])
                if line["amount"] == 0:
                    continue  # a trial
                if months is None:
                    raise ValueError(f"{invoice['id']}/{line['id']}: a billing period neither a month nor a year")
                start = datetime.fromtimestamp(line["period"]["start"], tz=UTC).date()
                end = datetime.fromtimestamp(line["period"]["end"], tz=UTC).date()
                yield (invoice["id"], line["id"], invoice["customer"], item, start, end,
                       unit * line["quantity"], months)  # fmt: skip


def reference_mrr(jsonl: Path, as_of: date = AS_OF) -> list[int]:
    """The MRR of each month of the window in cents, read from the invoices in plain Python."""
    days = month_ends(as_of)
    mrr = [0] * len(days)
    for *_, start, end, cents, months in reference_periods(jsonl):
        for m, day in enumerate(days):
            if start <= day < end:
                mrr[m] += _half_even(cents, months)
    return mrr


def check_shapes(jsonl: Path, fixtures: Path = FIXTURES, limit: int = 20_000) -> dict:
    """
    Check the first ``limit`` invoices: each shape's keys (the current one against the fixtures), totals, ids.

    Returns counts of what was checked; raises AssertionError naming the object otherwise.
    """
    fixture = json.loads(fixtures.read_text()) if fixtures.is_file() else None
    seen = collections.Counter()
    ids = set()
    with open(jsonl, encoding="utf-8") as handle:
        for n, text in enumerate(handle):
            if n >= limit:
                break
            invoice = json.loads(text)
            assert invoice["id"] not in ids, f"duplicate id {invoice['id']}"
            ids.add(invoice["id"])
            lines = invoice["lines"]["data"]
            assert lines, f"{invoice['id']}: no lines"
            subtotal = sum(line["amount"] for line in lines)
            assert invoice["subtotal"] == subtotal, invoice["id"]
            new = "parent" in invoice
            if fixture is not None and new:
                missing = set(fixture["invoice"]) - set(invoice)
                assert not missing, f"{invoice['id']}: missing {sorted(missing)}"
                for line in lines:
                    assert list(line) == list(fixture["line_item"]), f"{invoice['id']}/{line['id']}: keys"
            for line in lines:
                assert line["id"] not in ids, f"duplicate id {line['id']}"
                ids.add(line["id"])
                kind = (
                    "new" if new else "old",
                    line["parent"]["type"] if new else line["type"],
                    bool(line["parent"][line["parent"]["type"]]["proration"]) if new else line["proration"],
                )
                seen[kind] += 1
            seen[("invoice", "new" if new else "old", invoice["status"])] += 1
    return {" ".join(map(str, k)): v for k, v in sorted(seen.items(), key=str)}


def kit_mrr(path: Path, kind: str, as_of: date = AS_OF, today: date = TODAY) -> list[int]:
    """The kit's MRR of each month of the window, in cents (``ledger.monthly_mrr()``)."""
    sys.path.insert(0, str(HERE.parent))
    import kit

    ledger = kit.load_ledger(path, kind=kind, as_of=as_of.isoformat(), today=today)
    table = ledger.monthly_mrr()
    by_month = dict(zip(table["month"].astype(str), table["mrr_cents"].astype(int), strict=True))
    first = date(*FIRST_MONTH, 1)
    months = [f"{d.year:04d}-{d.month:02d}" for d in month_ends(as_of)]
    assert str(ledger.first_month) == f"{first.year:04d}-{first.month:02d}", ledger.first_month
    return [by_month.get(m, 0) for m in months]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--data-dir", type=Path, default=DATA, help="where the files are written (bench/data)")
    parser.add_argument("--force", action="store_true", help="write the files even if they exist")
    parser.add_argument("--check", action="store_true",
                        help="check the files: shapes, ids and totals; the MRR read from the JSON in plain Python "
                             "equal to the kit's reading of the CSV, every month")  # fmt: skip
    args = parser.parse_args(argv)
    if args.force:
        generate(args.customers, args.seed, args.data_dir)
    jsonl, csv_path, meta = ensure(args.customers, args.seed, args.data_dir)
    print(json.dumps(meta, indent=2))
    if not args.check:
        return 0
    print("shapes (first 20,000 invoices):", json.dumps(check_shapes(jsonl), indent=2))
    reference = reference_mrr(jsonl)
    from_csv = kit_mrr(csv_path, "subscriptions")
    months = [f"{d.year:04d}-{d.month:02d}" for d in month_ends()]
    bad = [(m, a, b) for m, a, b in zip(months, reference, from_csv, strict=True) if a != b]
    for m, a, b in bad:
        print(f"{m}: from the JSON {a}, from the CSV (kit) {b}")
    print(f"MRR by month, cents: first {reference[0]:,}, last {reference[-1]:,}; "
          f"{'EQUAL' if not bad else 'DIFFERENT'} in {len(months) - len(bad)} of {len(months)} months")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
