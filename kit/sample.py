"""
Generate realistic, seeded sample data: subscription periods and FX rates.

The subscriptions describe a fictional SaaS vendor selling four products (``Core`` in three
per-seat tiers, ``Analytics`` and ``Automation`` per seat, ``Support Plus`` flat) to a few
thousand customers over three years. Each customer is simulated month by month: it signs
up, then may add seats, upgrade a tier, add or swap a product, get a price uplift, switch to
annual billing, shrink, downgrade, drop an add-on, churn, and come back after a gap.
Larger customers churn less and expand more.

One row is one *subscription period*: a change of price, seats, plan or billing ends the
row and starts a new row of the same ``subscription_id`` on the same date (``end_date`` is
exclusive; empty means still running). Money is integer cents throughout and written as
text with two decimals. The same seed always gives byte-identical files.

Run ``python -m kit.sample`` (or this file) to rewrite ``data/sample_subscriptions.csv`` and
``data/fx_rates.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from kit.periods import GRAINS, MONTHS_PER

SUBSCRIPTION_COLUMNS = [
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
FX_COLUMNS = ["currency", "month", "rate"]
SUBSCRIPTIONS_FILE = "sample_subscriptions.csv"
FX_FILE = "fx_rates.csv"

#: Names that test escaping in HTML, Markdown and spreadsheet output; each is given to one customer.
TRICKY_NAMES = (
    '<script>alert("x")</script> Labs',
    "**Bold** & _Sons_ $5 Plan",
    '=HYPERLINK("http://example.com","click")',
)
#: Ordinary names with characters that often break naive code (accents, a comma inside CSV).
SPECIAL_NAMES = ("Café Ñandú Ltd", "Baker, Lowe & Partners LLP")

SIZES = ("SMB", "Mid-Market", "Enterprise")
SIZE_SHARES = (0.60, 0.30, 0.10)
CURRENCIES = ("USD", "EUR")
REGIONS = ("North America", "EMEA", "APAC")
REGION_SHARES = {"USD": (0.70, 0.15, 0.15), "EUR": (0.04, 0.90, 0.06)}

#: Monthly list price of one unit, in cents, per plan: (USD, EUR). Tiers are listed low to high.
CATALOGUE = {
    "Core": {"Core Starter": (2500, 2300), "Core Pro": (4900, 4500), "Core Enterprise": (8900, 8500)},
    "Analytics": {"Analytics Standard": (1500, 1400), "Analytics Advanced": (2900, 2700)},
    "Automation": {"Automation Team": (1900, 1800), "Automation Scale": (3500, 3300)},
    "Support Plus": {"Support Plus Business": (19900, 18900), "Support Plus Premium": (49900, 46900)},
}
CORE = "Core"
ADD_ONS = ("Analytics", "Automation", "Support Plus")
FLAT_PRODUCTS = ("Support Plus",)

PERIOD_MONTHS = MONTHS_PER  # months in one billing period of the sample's terms: the grains' (kit.periods)
#: Discount of a billing term on the monthly list price, in percent: (period, interval) -> pct.
TERM_DISCOUNT_PCT = {("month", 1): 0, ("quarter", 1): 5, ("month", 6): 8, ("year", 1): 15}
#: Billing terms chosen by size: probabilities of month, quarter, year.
TERM_SHARES = {"SMB": (0.70, 0.10, 0.20), "Mid-Market": (0.45, 0.15, 0.40), "Enterprise": (0.20, 0.10, 0.70)}
#: Share of non-enterprise customers billed every 6 months (``month`` with interval 6).
SEMIANNUAL_SHARE = 0.005

#: Monthly probability of each event for an active customer, per size (SMB, Mid-Market, Enterprise).
#: Events are tried in this order with one draw a month; an event that does not apply is skipped.
EVENT_RATES = {
    "churn": (0.024, 0.013, 0.007),
    "seat_upsell": (0.032, 0.055, 0.070),
    "tier_upgrade": (0.008, 0.010, 0.010),
    "cross_sell": (0.012, 0.016, 0.020),
    "parallel_subscription": (0.000, 0.002, 0.004),
    "price_uplift": (0.028, 0.028, 0.028),
    "annual_switch": (0.004, 0.004, 0.004),
    "product_swap": (0.012, 0.012, 0.012),
    "seat_contraction": (0.014, 0.018, 0.020),
    "tier_downgrade": (0.006, 0.006, 0.006),
    "add_on_drop": (0.010, 0.010, 0.010),
}
#: Chance that a churned customer comes back (halved at each further return), per size.
REACTIVATION_RATE = (0.25, 0.30, 0.30)
#: Chance of each gap, in months (1 to 6), before a churned customer returns.
RETURN_GAP_SHARES = (0.30, 0.25, 0.15, 0.12, 0.10, 0.08)
#: Chance that a new customer starts with a free trial, and that a trial converts.
TRIAL_RATE = 0.01
TRIAL_CONVERSION = 0.85
#: Share of customers already on the books in the first month (the rest sign up over time).
OPENING_BOOK_SHARE = 0.20
#: Number of rows, on distinct customers, added and removed on the same day.
SAME_DAY_ROWS = 3

_NAME_HEADS = (
    "Acorn",
    "Alder",
    "Apex",
    "Arbor",
    "Atlas",
    "Aurora",
    "Beacon",
    "Birch",
    "Blue Harbor",
    "Bright",
    "Brookside",
    "Cascade",
    "Cedar",
    "Clearwater",
    "Cobalt",
    "Copper",
    "Crescent",
    "Crestline",
    "Delta",
    "Driftwood",
    "Eagle",
    "Ember",
    "Evergreen",
    "Falcon",
    "Fernhill",
    "Fjord",
    "Golden Gate",
    "Granite",
    "Harbor",
    "Highland",
    "Horizon",
    "Indigo",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Lantern",
    "Linden",
    "Lumen",
    "Maple",
    "Meridian",
    "Northwind",
    "Nova",
    "Oakridge",
    "Onyx",
    "Orbit",
    "Pacific",
    "Pinnacle",
    "Pioneer",
    "Polaris",
    "Prairie",
    "Quantum",
    "Quarry",
    "Redwood",
    "Ridgeway",
    "Riverbend",
    "Sable",
    "Sage",
    "Sierra",
    "Silverline",
    "Skyline",
    "Solstice",
    "Spruce",
    "Stonegate",
    "Summit",
    "Sterling",
    "Tidewater",
    "Timber",
    "Trident",
    "Union",
    "Vantage",
    "Vertex",
    "Willow",
    "Zenith",
)
_NAME_TRADES = (
    "Analytics",
    "Bakery",
    "Biotech",
    "Capital",
    "Clinics",
    "Consulting",
    "Data",
    "Design",
    "Dynamics",
    "Energy",
    "Engineering",
    "Foods",
    "Freight",
    "Health",
    "Holdings",
    "Insights",
    "Labs",
    "Learning",
    "Logistics",
    "Manufacturing",
    "Media",
    "Networks",
    "Outfitters",
    "Partners",
    "Pharma",
    "Properties",
    "Retail",
    "Robotics",
    "Security",
    "Software",
    "Solutions",
    "Studios",
    "Systems",
    "Technologies",
    "Travel",
    "Ventures",
    "Works",
)
_SURNAMES = (
    "Baker",
    "Lowe",
    "Hughes",
    "Patel",
    "Nakamura",
    "Kowalski",
    "Fischer",
    "Garcia",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Rossi",
    "Chen",
    "Murphy",
    "Schmidt",
    "Tanaka",
    "Dubois",
    "Novak",
    "Silva",
    "Walsh",
)
_APOSTROPHE_HEADS = ("O'Brien", "O'Neill", "D'Angelo", "O'Connor", "Maggie's", "Sam's", "L'Atelier", "Ana's")
_ACCENTED_HEADS = (
    "Café",
    "Müller",
    "Søren",
    "Ångström",
    "Élan",
    "Crème",
    "Fjäll",
    "Zürich",
    "Łódź",
    "São Paulo",
    "Gödel",
    "Brûlée",
    "Señor",
    "Kraków",
    "Málaga",
    "Über",
)
_LEGAL_FORMS = {
    ("North America", "USD"): ("Inc", "LLC", "Corp", "Co", ""),
    ("North America", "EUR"): ("Inc", "LLC"),
    ("EMEA", "USD"): ("Ltd", "PLC", "LLP", "Ltd", ""),
    ("EMEA", "EUR"): ("GmbH", "SA", "SAS", "BV", "AB", "S.r.l.", "Oy", "AG", "SL", ""),
    ("APAC", "USD"): ("Pty Ltd", "Pte Ltd", "K.K.", "Limited", ""),
    ("APAC", "EUR"): ("Pty Ltd", "Pte Ltd"),
}


@dataclass(frozen=True)
class _Customer:
    """Constant attributes of one customer."""

    index: int
    customer_id: str
    name: str
    size: int  # index into SIZES
    currency: str
    region: str
    billing: tuple[str, int]  # (billing_period, billing_interval_count)
    discount_pct: int
    signup: date


@dataclass
class _Period:
    """One subscription period; ``end`` is None while it runs."""

    key: int
    customer: int
    product: str
    plan: str
    start: date
    unit_cents: int
    quantity: int
    billing: tuple[str, int]
    end: date | None = None


@dataclass
class _Account:
    """What a customer holds while it is simulated."""

    customer: _Customer
    open: list[_Period] = field(default_factory=list)
    last_change: date = date.min
    returns: int = 0


# --- dates and money ------------------------------------------------------------------


def _parse_month(text: str) -> date:
    """Return the first day of a ``YYYY-MM`` month."""
    year, month = (int(part) for part in text.split("-"))
    return date(year, month, 1)


def _add_months(first: date, months: int) -> date:
    """Return the first day of the month ``months`` after the month of ``first``."""
    total = first.year * 12 + first.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _pick_day(rng: np.random.Generator, month_start: date) -> date:
    """Return a day of the month: often the 1st or the 15th, otherwise spread over the month."""
    draw = rng.random()
    if draw < 0.45:
        day = 1
    elif draw < 0.70:
        day = 15
    else:
        day = int(rng.integers(2, 29))
    return month_start.replace(day=day)


def _format_cents(cents: int) -> str:
    """Write integer cents as plain text in major units with two decimals (``4900`` -> ``49.00``)."""
    return f"{cents // 100}.{cents % 100:02d}"


def _percent_of(cents: int, pct: int) -> int:
    """Return ``pct`` percent of ``cents``, rounded half up to the cent, in integers."""
    return (cents * pct + 50) // 100


def _unit_price(customer: _Customer, plan: str, billing: tuple[str, int]) -> int:
    """Return the price in cents of one unit of ``plan`` for one billing period of ``customer``."""
    product = _product_of(plan)
    monthly = CATALOGUE[product][plan][CURRENCIES.index(customer.currency)]
    period, interval = billing
    months = PERIOD_MONTHS[period] * interval
    term_list = monthly * months * (100 - TERM_DISCOUNT_PCT[billing])
    list_cents = (term_list + 5000) // 10000 * 100  # list prices are whole units
    return _percent_of(list_cents, 100 - customer.discount_pct)


def _product_of(plan: str) -> str:
    """Return the product a plan belongs to (``Core Pro`` -> ``Core``)."""
    for product, plans in CATALOGUE.items():
        if plan in plans:
            return product
    raise KeyError(plan)


# --- customers ------------------------------------------------------------------------


def _company_name(rng: np.random.Generator, region: str, currency: str) -> str:
    """Return a synthetic company name fitting the region and currency."""
    forms = _LEGAL_FORMS[(region, currency)]
    form = forms[int(rng.integers(len(forms)))]
    style = rng.random()
    trade = _NAME_TRADES[int(rng.integers(len(_NAME_TRADES)))]
    if style < 0.05:
        first, second = rng.choice(len(_SURNAMES), size=2, replace=False)
        base = f"{_SURNAMES[first]} & {_SURNAMES[second]}"
    elif style < 0.08:
        base = f"{_APOSTROPHE_HEADS[int(rng.integers(len(_APOSTROPHE_HEADS)))]} {trade}"
    elif style < 0.12 and region == "EMEA":
        base = f"{_ACCENTED_HEADS[int(rng.integers(len(_ACCENTED_HEADS)))]} {trade}"
    else:
        base = f"{_NAME_HEADS[int(rng.integers(len(_NAME_HEADS)))]} {trade}"
    return f"{base} {form}".strip()


def _unique_names(rng: np.random.Generator, regions: list[str], currencies: list[str]) -> list[str]:
    """Return one distinct company name per customer, avoiding the reserved names."""
    taken = set(TRICKY_NAMES) | set(SPECIAL_NAMES)
    names = []
    for region, currency in zip(regions, currencies, strict=True):
        name = _company_name(rng, region, currency)
        tries = 1
        while name in taken:
            name = _company_name(rng, region, currency)
            tries += 1
            if tries > 25:  # the word lists are exhausted for this region: number the name
                name = f"{name} {tries}"
        taken.add(name)
        names.append(name)
    return names


def _signup_dates(rng: np.random.Generator, count: int, first: date, months: int) -> list[date]:
    """Return sorted signup dates: an opening book in the first month, then steady growth."""
    opening = int(round(count * OPENING_BOOK_SHARE))
    weights = 1.0 + 0.03 * np.arange(months)
    later = rng.choice(months, size=count - opening, p=weights / weights.sum())
    month_indices = np.sort(np.concatenate([np.zeros(opening, dtype=np.int64), later]))
    return sorted(_pick_day(rng, _add_months(first, int(m))) for m in month_indices)


def _billing_term(rng: np.random.Generator, size: str) -> tuple[str, int]:
    """Return the (billing_period, billing_interval_count) a customer uses."""
    if size != "Enterprise" and rng.random() < SEMIANNUAL_SHARE:
        return ("month", 6)
    period = GRAINS[int(rng.choice(3, p=TERM_SHARES[size]))]
    return (period, 1)


def _discount_pct(rng: np.random.Generator, size: str) -> int:
    """Return a negotiated discount in percent; larger customers get more."""
    options = {"SMB": (0, 0, 0, 0, 5, 10), "Mid-Market": (0, 0, 5, 7, 10, 15), "Enterprise": (10, 12, 15, 20, 25)}
    choices = options[size]
    return choices[int(rng.integers(len(choices)))]


def _make_customers(rng: np.random.Generator, count: int, first: date, months: int) -> list[_Customer]:
    """Draw the constant attributes of ``count`` customers, numbered in signup order."""
    signups = _signup_dates(rng, count, first, months)
    sizes = rng.choice(len(SIZES), size=count, p=SIZE_SHARES)
    currencies = [CURRENCIES[int(c)] for c in (rng.random(count) >= 0.75)]
    regions = [REGIONS[int(rng.choice(3, p=REGION_SHARES[c]))] for c in currencies]
    names = _unique_names(rng, regions, currencies)
    reserved = rng.choice(count, size=len(TRICKY_NAMES) + len(SPECIAL_NAMES), replace=False)
    for position, name in zip(reserved, TRICKY_NAMES + SPECIAL_NAMES, strict=True):
        names[int(position)] = name
    width = max(5, len(str(count)))
    customers = []
    for i in range(count):
        size = SIZES[int(sizes[i])]
        customers.append(
            _Customer(
                index=i,
                customer_id=f"C{i + 1:0{width}d}",
                name=names[i],
                size=int(sizes[i]),
                currency=currencies[i],
                region=regions[i],
                billing=_billing_term(rng, size),
                discount_pct=_discount_pct(rng, size),
                signup=signups[i],
            )
        )
    return customers


# --- simulation -----------------------------------------------------------------------


class _Simulation:
    """Simulate every customer month by month and collect the subscription periods."""

    def __init__(self, rng: np.random.Generator, first: date, months: int):
        self.rng = rng
        self.first = first
        self.months = months
        self.horizon = _add_months(first, months) - timedelta(days=1)
        self.periods: list[_Period] = []
        self.next_key = 0
        self.handlers = {
            "churn": self._churn,
            "seat_upsell": self._seat_upsell,
            "tier_upgrade": self._tier_upgrade,
            "cross_sell": self._cross_sell,
            "parallel_subscription": self._parallel_subscription,
            "price_uplift": self._price_uplift,
            "annual_switch": self._annual_switch,
            "product_swap": self._product_swap,
            "seat_contraction": self._seat_contraction,
            "tier_downgrade": self._tier_downgrade,
            "add_on_drop": self._add_on_drop,
        }

    # -- bookkeeping

    def _month_index(self, day: date) -> int:
        """Return the 0-based month of ``day`` counted from the first month."""
        return (day.year - self.first.year) * 12 + day.month - self.first.month

    def _start(self, account: _Account, product: str, plan: str, when: date, quantity: int) -> _Period:
        """Open the first period of a new subscription at the customer's list price and billing term."""
        key, self.next_key = self.next_key, self.next_key + 1
        customer = account.customer
        quantity = 1 if product in FLAT_PRODUCTS else max(1, int(quantity))
        period = _Period(
            key,
            customer.index,
            product,
            plan,
            when,
            _unit_price(customer, plan, customer.billing),
            quantity,
            customer.billing,
        )
        self.periods.append(period)
        account.open.append(period)
        account.last_change = max(account.last_change, when)
        return period

    def _end(self, account: _Account, period: _Period, when: date) -> None:
        """End a running period on ``when`` (exclusive)."""
        period.end = when
        account.open.remove(period)
        account.last_change = max(account.last_change, when)

    def _change(self, account: _Account, period: _Period, when: date, **changes) -> _Period:
        """End ``period`` and start its successor (same subscription) on the same date."""
        self._end(account, period, when)
        successor = replace(period, start=when, end=None, **changes)
        self.periods.append(successor)
        account.open.append(successor)
        return successor

    def _pick(self, candidates: list[_Period]) -> _Period | None:
        """Pick one period, preferring Core rows when there is a choice."""
        if not candidates:
            return None
        core = [p for p in candidates if p.product == CORE]
        if core and (len(core) == len(candidates) or self.rng.random() < 0.7):
            candidates = core
        return candidates[int(self.rng.integers(len(candidates)))]

    def _seats(self, size: int) -> int:
        """Draw the seat count of a new Core subscription."""
        median_log, spread, low, high = ((1.3, 0.7, 1, 25), (3.0, 0.5, 5, 150), (4.6, 0.6, 30, 1000))[size]
        return int(np.clip(round(self.rng.lognormal(median_log, spread)), low, high))

    def _core_plan(self, size: int) -> str:
        """Draw the Core tier of a new subscription; larger customers buy higher tiers."""
        shares = ((0.65, 0.30, 0.05), (0.25, 0.55, 0.20), (0.05, 0.40, 0.55))[size]
        return list(CATALOGUE[CORE])[int(self.rng.choice(3, p=shares))]

    def _add_on_seats(self, account: _Account) -> int:
        """Draw the seats of an add-on: a share of the customer's largest Core subscription."""
        core = [p.quantity for p in account.open if p.product == CORE]
        return max(1, round(max(core, default=1) * self.rng.uniform(0.2, 1.0)))

    def _held_products(self, account: _Account) -> list[str]:
        """Return the products the customer holds now, in catalogue order."""
        return [product for product in CATALOGUE if any(p.product == product for p in account.open)]

    # -- life cycle

    def run(self, customers: list[_Customer]) -> list[_Period]:
        """Simulate all customers in order and return every period created."""
        for customer in customers:
            self._simulate(_Account(customer))
        self._add_same_day_rows(customers)
        return self.periods

    def _simulate(self, account: _Account) -> None:
        """Sign a customer up, then draw at most one event a month until the end or final churn."""
        customer = account.customer
        returning_on = None
        self._sign_up(account, customer.signup, first_time=True)
        for month in range(self._month_index(customer.signup) + 1, self.months):
            month_start = _add_months(self.first, month)
            if not account.open:
                if returning_on is None:
                    break
                if self._month_index(returning_on) == month:
                    self._sign_up(account, returning_on, first_time=False)
                    returning_on = None
                continue
            when = _pick_day(self.rng, month_start)
            if when <= account.last_change:
                continue
            event = self._draw_event(customer.size)
            if event is None or not self.handlers[event](account, when):
                continue
            if event == "churn":
                returning_on = self._plan_return(account, when)

    def _draw_event(self, size: int) -> str | None:
        """Draw this month's event for a customer of ``size`` (None: nothing happens)."""
        draw = self.rng.random()
        for event, rates in EVENT_RATES.items():
            draw -= rates[size]
            if draw < 0:
                return event
        return None

    def _sign_up(self, account: _Account, when: date, first_time: bool) -> None:
        """Open a customer's first package (Core, sometimes an add-on or a second Core)."""
        size = account.customer.size
        plan = self._core_plan(size)
        seats = self._seats(size)
        if not first_time:  # returning customers come back a bit smaller
            seats = max(1, round(seats * self.rng.uniform(0.5, 1.0)))
        if first_time and size < 2 and self.rng.random() < TRIAL_RATE:
            if not self._trial(account, plan, seats, when):
                return
            when = account.last_change
        else:
            self._start(account, CORE, plan, when, seats)
        if self.rng.random() < (0.15, 0.25, 0.40)[size]:
            product = ADD_ONS[int(self.rng.integers(len(ADD_ONS)))]
            self._start(account, product, list(CATALOGUE[product])[0], when, self._add_on_seats(account))
        if size > 0 and self.rng.random() < 0.02:
            self._start(account, CORE, self._core_plan(size), when, self._seats(size) // 2)

    def _trial(self, account: _Account, plan: str, seats: int, when: date) -> bool:
        """Start a free trial; return True when it converts to a paid Core row within the horizon."""
        trial = self._start(account, CORE, plan, when, seats)
        trial.unit_cents = 0
        trial.billing = ("month", 1)
        converts_on = when + timedelta(days=14 if self.rng.random() < 0.5 else 30)
        if converts_on > self.horizon:
            account.last_change = self.horizon  # the trial outlasts the data: nothing else happens
            return False
        if self.rng.random() >= TRIAL_CONVERSION:
            self._end(account, trial, converts_on)
            return False
        customer = account.customer
        self._change(
            account,
            trial,
            converts_on,
            unit_cents=_unit_price(customer, plan, customer.billing),
            billing=customer.billing,
        )
        return True

    def _plan_return(self, account: _Account, churned_on: date) -> date | None:
        """Decide whether a churned customer returns, and when (1 to 6 months later)."""
        chance = REACTIVATION_RATE[account.customer.size] / 2**account.returns
        if self.rng.random() >= chance:
            return None
        gap = 1 + int(self.rng.choice(len(RETURN_GAP_SHARES), p=RETURN_GAP_SHARES))
        month = self._month_index(churned_on) + gap
        if month >= self.months:
            return None
        returning_on = _pick_day(self.rng, _add_months(self.first, month))
        one_month_later = _add_months(churned_on, 1).replace(day=churned_on.day)  # event days are <= 28
        account.returns += 1
        return max(returning_on, one_month_later)

    def _add_same_day_rows(self, customers: list[_Customer]) -> None:
        """Add a few valid rows that start and end on the same day (booked and cancelled at once)."""
        firsts = {}
        for period in self.periods:
            if period.unit_cents > 0 and period.customer not in firsts:
                firsts[period.customer] = period
        chosen = self.rng.choice(sorted(firsts), size=min(SAME_DAY_ROWS, len(firsts)), replace=False)
        for index in sorted(int(c) for c in chosen):
            first = firsts[index]
            account = _Account(customers[index])
            period = self._start(account, "Analytics", "Analytics Standard", first.start, 1)
            period.billing = first.billing
            period.unit_cents = _unit_price(customers[index], "Analytics Standard", first.billing)
            period.end = first.start

    # -- events: each returns False when it does not apply to the account

    def _churn(self, account: _Account, when: date) -> bool:
        """End every running period."""
        for period in list(account.open):
            self._end(account, period, when)
        return True

    def _seat_upsell(self, account: _Account, when: date) -> bool:
        """Add 10-40% seats to a per-seat subscription."""
        period = self._pick([p for p in account.open if p.product not in FLAT_PRODUCTS])
        if period is None:
            return False
        added = max(1, round(period.quantity * self.rng.uniform(0.10, 0.40)))
        self._change(account, period, when, quantity=period.quantity + added)
        return True

    def _seat_contraction(self, account: _Account, when: date) -> bool:
        """Remove 8-25% of the seats of a per-seat subscription."""
        period = self._pick([p for p in account.open if p.product not in FLAT_PRODUCTS and p.quantity > 1])
        if period is None:
            return False
        removed = max(1, round(period.quantity * self.rng.uniform(0.08, 0.25)))
        self._change(account, period, when, quantity=max(1, period.quantity - removed))
        return True

    def _retier(self, account: _Account, when: date, step: int) -> bool:
        """Move one period ``step`` tiers up (+1) or down (-1) within its product."""

        def target(period: _Period) -> str | None:
            plans = list(CATALOGUE[period.product])
            position = plans.index(period.plan) + step
            return plans[position] if 0 <= position < len(plans) else None

        period = self._pick([p for p in account.open if target(p) is not None])
        if period is None:
            return False
        plan = target(period)
        self._change(account, period, when, plan=plan, unit_cents=_unit_price(account.customer, plan, period.billing))
        return True

    def _tier_upgrade(self, account: _Account, when: date) -> bool:
        """Move a subscription one tier up (e.g. Core Starter -> Core Pro)."""
        return self._retier(account, when, +1)

    def _tier_downgrade(self, account: _Account, when: date) -> bool:
        """Move a subscription one tier down."""
        return self._retier(account, when, -1)

    def _cross_sell(self, account: _Account, when: date) -> bool:
        """Start an add-on the customer does not hold yet."""
        missing = [product for product in ADD_ONS if product not in self._held_products(account)]
        if not missing:
            return False
        product = missing[int(self.rng.integers(len(missing)))]
        plans = list(CATALOGUE[product])
        plan = plans[0] if self.rng.random() < 0.7 else plans[-1]
        self._start(account, product, plan, when, self._add_on_seats(account))
        return True

    def _parallel_subscription(self, account: _Account, when: date) -> bool:
        """Add a second Core subscription, e.g. for another department."""
        if sum(p.product == CORE for p in account.open) != 1:
            return False
        size = account.customer.size
        self._start(account, CORE, self._core_plan(size), when, max(1, self._seats(size) // 3))
        return True

    def _product_swap(self, account: _Account, when: date) -> bool:
        """End one add-on and start another in its place on the same date."""
        held = [p for p in account.open if p.product in ADD_ONS]
        missing = [product for product in ADD_ONS if product not in self._held_products(account)]
        if not held or not missing:
            return False
        old = held[int(self.rng.integers(len(held)))]
        product = missing[int(self.rng.integers(len(missing)))]
        self._end(account, old, when)
        self._start(account, product, list(CATALOGUE[product])[0], when, self._add_on_seats(account))
        return True

    def _add_on_drop(self, account: _Account, when: date) -> bool:
        """End an add-on, or a second Core subscription."""
        cores = [p for p in account.open if p.product == CORE]
        candidates = [p for p in account.open if p.product in ADD_ONS] + cores[1:]
        if not candidates:
            return False
        self._end(account, candidates[int(self.rng.integers(len(candidates)))], when)
        return True

    def _price_uplift(self, account: _Account, when: date) -> bool:
        """Raise the unit price of one paid subscription by 5-12% (a renewal at the new list price)."""
        period = self._pick([p for p in account.open if p.unit_cents > 0])
        if period is None:
            return False
        uplift = int(self.rng.integers(5, 13))
        self._change(account, period, when, unit_cents=_percent_of(period.unit_cents, 100 + uplift))
        return True

    def _annual_switch(self, account: _Account, when: date) -> bool:
        """Move every monthly-billed period of the customer to annual billing."""
        monthly = [p for p in account.open if p.billing == ("month", 1) and p.unit_cents > 0]
        if not monthly:
            return False
        for period in monthly:
            self._change(
                account,
                period,
                when,
                billing=("year", 1),
                unit_cents=_unit_price(account.customer, period.plan, ("year", 1)),
            )
        return True


# --- frames ---------------------------------------------------------------------------


def _subscription_frame(periods: list[_Period], customers: list[_Customer]) -> pd.DataFrame:
    """Lay the periods out as rows; number subscriptions in order of their first start."""
    first_start: dict[int, tuple] = {}
    for period in periods:
        rank = (period.start, period.customer, period.key)
        first_start[period.key] = min(first_start.get(period.key, rank), rank)
    order = sorted(first_start, key=first_start.__getitem__)
    width = max(6, len(str(len(order))))
    ids = {key: f"S{number:0{width}d}" for number, key in enumerate(order, start=1)}
    records = []
    for period in periods:
        customer = customers[period.customer]
        records.append(
            (
                ids[period.key],
                customer.customer_id,
                customer.name,
                period.product,
                period.plan,
                period.start.isoformat(),
                period.end.isoformat() if period.end else "",
                _format_cents(period.unit_cents),
                period.billing[0],
                period.billing[1],
                period.quantity,
                customer.currency,
                SIZES[customer.size],
                customer.region,
            )
        )
    records.sort(key=lambda r: (r[1], r[5], r[0], r[6]))
    frame = pd.DataFrame.from_records(records, columns=SUBSCRIPTION_COLUMNS)
    return frame.astype({"billing_interval_count": "int64", "quantity": "int64"})


def _fx_frame(rng: np.random.Generator, first: date, months: int) -> pd.DataFrame:
    """Return monthly rates to USD: 1 for USD, a slowly drifting, bounded walk for EUR."""
    rows = []
    eur = 10800  # in ten-thousandths of a dollar
    for month in range(months):
        label = _add_months(first, month).strftime("%Y-%m")
        rows.append(("USD", label, "1.0000"))
        rows.append(("EUR", label, f"{eur // 10000}.{eur % 10000:04d}"))
        step = int(round(rng.normal(0, 90) + (10850 - eur) * 0.15))
        eur = int(np.clip(eur + step, 10500, 11200))
    return pd.DataFrame(rows, columns=FX_COLUMNS)


# --- public API -----------------------------------------------------------------------


def generate(
    *, seed: int = 20240101, customers: int = 3000, start: str = "2023-01", months: int = 36
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """
    Generate sample subscription periods and monthly FX rates.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same frames.
    customers : int
        Number of distinct customers (at least 10).
    start : str
        First month of the data, ``YYYY-MM``.
    months : int
        Number of months covered; no date falls after the last day of the last month.

    Returns
    -------
    subscriptions : DataFrame
        The columns of :data:`SUBSCRIPTION_COLUMNS`; dates, amounts and ids are text exactly
        as written to the file (an empty ``end_date`` means still running), ``quantity`` and
        ``billing_interval_count`` are integers.
    fx : DataFrame
        The columns of :data:`FX_COLUMNS`, all text: ``currency``, ``month`` (``YYYY-MM``) and
        ``rate`` (value of one unit in USD, four decimals), for USD and EUR in every month.
    """
    if customers < 10:
        raise ValueError(f"customers must be at least 10, got {customers}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    first = _parse_month(start)
    customer_rng, simulation_rng, fx_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    roster = _make_customers(customer_rng, customers, first, months)
    periods = _Simulation(simulation_rng, first, months).run(roster)
    return _subscription_frame(periods, roster), _fx_frame(fx_rng, first, months)


def write(directory: Path | str, **kwargs) -> list[Path]:
    """
    Generate the sample data and write both CSV files into a directory.

    Parameters
    ----------
    directory : Path or str
        Where to write; created if missing.
    **kwargs
        Passed to :func:`generate` (``seed``, ``customers``, ``start``, ``months``).

    Returns
    -------
    list of Path
        The subscriptions file and the FX file, in that order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    subscriptions, fx = generate(**kwargs)
    paths = [directory / SUBSCRIPTIONS_FILE, directory / FX_FILE]
    for frame, path in zip((subscriptions, fx), paths, strict=True):
        frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return paths


if __name__ == "__main__":
    for written in write(Path(__file__).resolve().parent.parent / "data"):
        print(written)
