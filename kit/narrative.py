"""
Numbers into text for the report: formatted for people, and the sentences of every section.

The section functions take plain facts (numbers, labels, small tables) that
:class:`kit.analysis.Analysis` computed and return plain text; the templates under
``kit/templates/sections`` escape it (see :func:`kit.report.section`).

Every function that builds HTML escapes the text it is given, so a customer called
``<script>…`` or ``**bold**`` or ``$5 plan`` reaches the page as literal text. Report
cells display the results with ``IPython.display.HTML``; they never build markdown from
data.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from kit.periods import PER_YEAR
from kit.templating import render

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(cents, currency: str | None = None, *, decimals: int = 2) -> str:
    """
    Format integer cents for people: ``$1,234.56``, ``€12.00``, ``1,234.56 CHF``.

    >>> money(123456, "USD"), money(-5000, "EUR"), money(99, None), money(123456, "USD", decimals=0)
    ('$1,234.56', '-€50.00', '0.99', '$1,235')
    """
    if cents is None or (isinstance(cents, float) and math.isnan(cents)):
        return "n/a"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    if decimals == 0:
        whole += 1 if part > 50 or (part == 50 and whole % 2 == 1) else 0
        number = f"{whole:,}"
    else:
        number = f"{whole:,}.{part:02d}"
    symbol = _SYMBOLS.get((currency or "").upper())
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency}" if currency else f"{sign}{number}"


def pct(rate, *, decimals: int = 1, signed: bool = False) -> str:
    """
    Format a fraction as a percentage; NaN as ``n/a``.

    >>> pct(0.1234), pct(float("nan")), pct(0.05, signed=True)
    ('12.3%', 'n/a', '+5.0%')
    """
    if rate is None or (isinstance(rate, float) and math.isnan(rate)) or pd.isna(rate):
        return "n/a"
    return f"{rate * 100:{'+' if signed else ''}.{decimals}f}%"


def points(delta, *, decimals: int = 1) -> str:
    """
    Format a change of a rate in percentage points.

    >>> points(0.012), points(float("nan"))
    ('+1.2 pp', 'n/a')
    """
    if delta is None or pd.isna(delta):
        return "n/a"
    return f"{delta * 100:+.{decimals}f} pp"


def number(value) -> str:
    """Format a count with thousands separators (``n/a`` for NaN)."""
    return "n/a" if value is None or pd.isna(value) else f"{int(value):,}"


def plural(count: int, noun: str) -> str:
    """
    Write a count with its noun, singular for one.

    >>> plural(1, "row"), plural(1234, "report")
    ('1 row', '1,234 reports')
    """
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def esc(text) -> str:
    """Escape text for HTML (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


def paragraph(*sentences: str) -> str:
    """Join already-escaped sentences into one ``<p>``."""
    return "<p>" + " ".join(sentences) + "</p>"


def cards(items: list[tuple[str, str, str]]) -> str:
    """Render headline cards: (label, value, change) triples of plain text, escaped by the template."""
    return render("cards.html.j2", items=items)


def table_html(frame: pd.DataFrame, *, money_columns=(), rate_columns=(), count_columns=(), currency=None) -> str:
    r"""
    Render a table for the report: money and rates formatted, every cell escaped.

    Money columns are integer cents; rates are fractions (NaN shows ``n/a``). Long column names may break after
    an underscore. The formatter is the notebook's, :func:`kit.display.table_html`, told each column's kind.

    >>> page = table_html(pd.DataFrame({"plan_name": ["<b>"], "mrr": [12345]}), money_columns=["mrr"], currency="USD")
    >>> print(page.replace("><", ">\n<"))
    <div class="kit-scroll">
    <table class="kit-table">
    <thead>
    <tr>
    <th class="">plan_<wbr>name</th>
    <th class="num">mrr</th>
    </tr>
    </thead>
    <tbody>
    <tr>
    <td>&lt;b&gt;</td>
    <td class="num">$123.45</td>
    </tr>
    </tbody>
    </table>
    </div>
    """
    from kit.display import table_html as formatted_table

    kinds = {**dict.fromkeys(count_columns, "count"), **dict.fromkeys(rate_columns, "rate"),
             **dict.fromkeys(money_columns, "money")}  # fmt: skip
    return formatted_table(frame, kinds=kinds, currency=currency, by_name=False)


def change_against(table: pd.DataFrame, column: str, offset: int):
    """Return the value of ``column`` ``offset`` rows before the last row, or NaN."""
    if len(table) > offset:
        return table[column].iloc[-1 - offset]
    return np.nan


# --- report sections: the words of each, from plain facts -----------------------------------------

#: How the report names an FX mode in a sentence.
FX_WORDS = {"monthly": "at each month's own exchange rate", "constant": "at constant exchange rates"}


def other_fx_mode(mode: str) -> str:
    """
    Return the FX mode a multi-currency report compares itself with.

    >>> other_fx_mode("constant"), other_fx_mode("monthly")
    ('monthly', 'constant')
    """
    return "monthly" if mode == "constant" else "constant"


def fx_reference_label(mode: str) -> str:
    """
    Name, in the rates chart's legend, the rates in the other FX mode.

    >>> fx_reference_label("constant")
    "the same at each month's own exchange rate"
    """
    return f"the same {FX_WORDS[other_fx_mode(mode)]}"


def reported_span(first: str | None, last: str | None, outside: list[str]) -> str:
    """
    Say which periods a report shows, and which asked bounds lie beyond the data.

    >>> reported_span("2023-01", "2025-12", ["start 2020-01"])
    '2023-01 to 2025-12 (start 2020-01 asked; the data has no period beyond these)'
    >>> reported_span(None, None, [])
    'none'
    """
    if first is None:
        return "none"
    span = f"{first} to {last}"
    if outside:  # a range wider than the data is cut to it, and said
        span += f" ({' and '.join(outside)} asked; the data has no period beyond these)"
    return span


def data_sentence(*, source: str, kind: str, window: str, span: str, currency: str | None) -> str:
    """Write the header's sentence: where the data comes from, its window, the periods reported, the currency."""
    return (f"Data: {source} ({kind}), window {window}; periods reported: {span}. "
            f"Amounts in {currency or 'the data currency'}.")  # fmt: skip


def parameter_rows(params: dict, *, source: str, kind: str, segment: str | None, currency: str | None,
                   fx_file: str, window: int | None) -> list[tuple[str, str]]:  # fmt: skip
    """Return the (setting, value) rows of the header's parameter table, in words."""
    p = params
    return [
        ("data", source), ("kind", kind), ("period", p["period"]), ("netting", p["netting"]),
        ("reactivation window", "none" if window is None else f"{p['reactivation_window']} periods"),
        ("segment breakdown", segment or "none"),
        ("filters", "; ".join(f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}"
                              for k, v in p["filters"].items()) or "none"),
        ("periods shown", f"{p['start'] or 'first'} to {p['end'] or 'last'}"),
        ("FX", f"{p['fx_mode']} ({fx_file or ('bundled FX table' if not p['data'] else 'none')})"),
        ("reporting currency", currency or "not stated"), ("as of", p["as_of"] or "latest date in the data"),
        ("invalid rows", "excluded and counted" if p["lenient"] else "stop the run"),
        ("customer names", "anonymised" if p["anonymise"] else "shown"),
    ]  # fmt: skip


NO_COMPLETE_PERIOD = ("The data window holds no complete period after the baseline, so there is nothing to "
                      "compare yet.")  # fmt: skip


def executive_summary(summary: pd.DataFrame, *, period: str, currency: str | None) -> dict:
    """
    Write the executive summary of the latest period: headline cards and labelled sentences.

    Each figure is compared with the previous period and the same period a year earlier.
    Returns ``{"cards": [(label, value, change), …], "items": [(label, sentence), …]}``,
    plain text (the template escapes it); both empty when ``summary`` is.
    """
    if summary.empty:
        return {"cards": [], "items": []}
    word, per_year = period, PER_YEAR[period]
    last = summary.iloc[-1]
    year_ago = per_year if per_year > 1 else 1

    def before(column, offset):
        return change_against(summary, column, offset)

    expansion = int(last["expansion"])
    prev_period = summary["period"].iloc[-2] if len(summary) > 1 else None
    year_period = summary["period"].iloc[-1 - year_ago] if per_year > 1 and len(summary) > year_ago else None

    def money_changes(column):
        now = int(last[column])
        parts = []
        for offset, label in ((1, prev_period), (year_ago, year_period)):
            then = before(column, offset)
            if label is None or pd.isna(then):
                continue
            delta = now - int(then)
            rel = f" ({pct(delta / then, signed=True)})" if then else ""
            parts.append(f"{'+' if delta >= 0 else ''}{money(delta, currency)}{rel} on {label}")
        return "; ".join(dict.fromkeys(parts)) or f"no earlier {word} to compare with"

    def rate_changes(column):
        parts = []
        for offset, label in ((1, prev_period), (year_ago, year_period)):
            then = before(column, offset)
            if label is None or pd.isna(then) or pd.isna(last[column]):
                continue
            parts.append(f"{points(last[column] - then)} on {label} ({pct(then)})")
        return "; ".join(dict.fromkeys(parts)) or f"no earlier {word} to compare with"

    items = [
        ("Expansion revenue.",
         f"In {last['period']}, existing customers added {money(expansion, currency)} of monthly recurring revenue "
         f"through expansion: {money(int(last['upsell']), currency)} upsell on products they already paid for and "
         f"{money(int(last['cross_sell']), currency)} cross-sell of products they did not, "
         f"{money(expansion * 12, currency, decimals=0)} a year at that monthly run rate "
         f"({money_changes('expansion')})."),
        ("How widespread.",
         f"{number(last['customers_expanded'])} of {number(last['customers_start'])} customers active at the start "
         f"of the {word} raised their spend: a customer expansion rate of {pct(last['customer_expansion_rate'])} "
         f"({rate_changes('customer_expansion_rate')})."),
        ("How large.",
         f"Expansion MRR was {pct(last['expansion_mrr_rate'])} of starting MRR "
         f"({rate_changes('expansion_mrr_rate')})."),
        ("Retention.",
         f"Net revenue retention was {pct(last['nrr'])} ({rate_changes('nrr')}); gross revenue retention "
         f"{pct(last['grr'])} ({rate_changes('grr')})."),
    ]  # fmt: skip
    headline = [
        ("Expansion MRR", money(expansion, currency), f"×12 = {money(expansion * 12, currency, decimals=0)} a year"),
        ("Customer expansion rate", pct(last["customer_expansion_rate"]),
         f"{points(last['customer_expansion_rate'] - before('customer_expansion_rate', 1))} vs previous {word}"),
        ("Expansion MRR rate", pct(last["expansion_mrr_rate"]),
         f"{points(last['expansion_mrr_rate'] - before('expansion_mrr_rate', 1))} vs previous {word}"),
        ("NRR", pct(last["nrr"]), f"{points(last['nrr'] - before('nrr', 1))} vs previous {word}"),
        ("GRR", pct(last["grr"]), f"{points(last['grr'] - before('grr', 1))} vs previous {word}"),
    ]  # fmt: skip
    return {"cards": headline, "items": items}


def fx_effect_sentence(period: str, mode: str, now, other, currency: str | None) -> str:
    """
    Say how the latest period reads in the other FX mode.

    ``now`` and ``other`` hold ``customers_expanded``, ``customer_expansion_rate``,
    ``customers_contracted`` and ``expansion`` (cents) of that period in this report's FX
    mode and in the other one.
    """

    def facts(row):
        return (f"{number(row['customers_expanded'])} customers expanded ({pct(row['customer_expansion_rate'])}), "
                f"{number(row['customers_contracted'])} contracted, expansion MRR "
                f"{money(int(row['expansion']), currency)}")  # fmt: skip

    return (
        f"In {period}, {FX_WORDS[mode]} (as in this report): {facts(now)}. "
        f"{FX_WORDS[other_fx_mode(mode)].capitalize()}: "
        f"{facts(other)}. The difference is exchange-rate movement, not customer behaviour"
        + (", and this report leaves it out." if mode == "constant" else ".")
    )


def methodology_items(*, period: str, netting: str, window: int | None, window_text, baseline: str,
                      snapshots: bool, currency: str | None, fx_mode: str, several_currencies: bool,
                      dropped: str | None, lenient: bool, segment: str | None,
                      source_format: str = "") -> list[str]:  # fmt: skip
    """
    List, in sentences, the policies a run used.

    ``window_text`` is the reactivation window as given; ``source_format`` the data-quality
    record's ``format``, which says whether a billing system's rules were read (Stripe).
    """
    word = period
    items = [
        f"Periods are calendar {word}s; a {word}'s MRR is the MRR of its last month.",
        "Netting: " + ("customer (one movement per customer and period; net expansion split into upsell and "
                       "cross-sell in proportion to their gross parts)." if netting == "customer" else
                       "product (upsell, cross-sell and contraction gross per product; customer counts follow "
                       "each customer's net change)."),
        ("Reactivation: any return of a former customer is a reactivation." if window is None else
         f"Reactivation: a return after at most {window_text} inactive {word}s in a row; a later return counts as "
         "new."),
        (f"Baseline: {baseline}. " + ("Snapshots may start mid-history, so the first period of the file only "
         "provides starting MRR." if snapshots else "Subscription periods hold the whole history; the baseline is "
         "the period before the first subscription (zero MRR).")),
        ("Currencies: " + (f"converted to {currency} " + ("at each month's own rate." if fx_mode == "monthly" else
         "at one rate per currency (the window's last month), so exchange rate moves create no expansion or "
         "contraction.") if several_currencies else f"one currency ({currency or 'not stated'}), no conversion.")),
    ]  # fmt: skip
    if dropped:
        items.append(f"The {word} {dropped} is left out: its last month lies after the data window.")
    items.append("Input: amounts are read as exact decimals into integer cents (more than two decimals rounded "
                 "half-even, counted); dates are ISO or the stated format, never guessed; a row whose customer id "
                 "or product is a total label (Total, Core Total, Sum of …) or whose key fields hold a line "
                 "break is refused; columns taken for a role under another name, several snapshot dates in a "
                 "month and exchange rates converted through another base currency are noted in the appendix."
                 + (" This run was lenient: invalid rows were excluded and counted." if lenient else
                    " This run was strict: the data held no invalid row."))  # fmt: skip
    if source_format.startswith("Stripe"):
        items.append(STRIPE_RULES)
    if segment:
        items.append(f"Segments ({segment}): a customer counts in its segment at the start of the {word}; "
                     "new and reactivated customers in their segment at its end.")  # fmt: skip
    return items


#: How Stripe objects were read (kit.stripe), said in the report's methodology.
STRIPE_RULES = (
    "Stripe: read by Stripe's MRR rules. Each subscription item counts from its start (or its trial's end) to "
    "ended_at at quantity × unit amount per billing interval; invoices give each item's history from its "
    "non-proration lines' service periods, the subscription continuing it from the last one. Statuses active and "
    "past_due are MRR, trialing from trial_end, canceled until ended_at; incomplete, unpaid and paused are not. "
    "Only forever coupons come off; metered, tiered-without-amount and one-time prices, proration lines, one-off "
    "items, draft and void invoices and tax are never MRR. Every object or line left out is counted by reason, "
    "with its ids, in the appendix."
)

NO_MOVEMENT = "The data window holds no period after the baseline: there is no movement to show."


def bridge_intro(listed: int, shown: int) -> str:
    """How to read the bridge table: it reconciles, and how many of the periods it lists."""
    return (f"Each row reconciles exactly: end MRR = start + new + reactivation + upsell + cross-sell − contraction − "
            f"churn. The last {listed} of {shown} periods are listed; the chart shows all of them.")  # fmt: skip


def trend_note(shown: int, period: str, first: str) -> str:
    """Say that the charts over time start before the periods of the report, at ``first``."""
    return (f"This report covers {shown} {period}(s); for context, the charts over time start at {first}, and the "
            f"{period}s of the report are shaded.")  # fmt: skip


NO_TRAILING_NRR = "Trailing-twelve-month NRR needs 13 months of data; this window is shorter."


def retention_sentence(month: str, nrr, mrr_now: int, mrr_base: int, currency: str | None) -> str:
    """Explain the latest trailing-twelve-month NRR with the two MRR figures it divides."""
    return (f"Trailing-twelve-month NRR in {month}: {pct(nrr)} — the MRR today of the customers who were paying "
            f"twelve months earlier ({money(mrr_now, currency)}), over what they paid then "
            f"({money(mrr_base, currency)}).")  # fmt: skip


NO_SEGMENT = "The data has no customer attribute to break expansion down by."


def segments_sentence(segment: str, period: str, first: str, last: str) -> str:
    """How the segment table of the latest period ``last`` counts customers, and what the chart sums."""
    return (f"In {last}, by {segment}: a customer counts in its segment at the start of the {period} (new and "
            f"reactivated customers at its end), so the rows add up to the totals above."
            + (f" The chart sums expansion MRR over the {period}s {first} to {last}." if first != last
               else ""))  # fmt: skip


NO_COHORT = "No customer was active at the start of a period yet: no cohort to show."


def cohorts_sentence(grain: str, *, snapshots: bool) -> str:
    """How to read the cohort heatmap at ``grain``."""
    text = (
        f"Each row is the {grain} in which customers first paid; each column counts {grain}s since then. A "
        f"cell is the NRR of that cohort over that {grain} (from its customers' MRR at the start of the "
        f"{grain} to its end): above 100% the cohort's expansion outweighed its contraction and churn."
    )
    if snapshots:
        text += " Customers already paying in the first month of the file are counted in that month's cohort."
    return text


NO_CROSS_SELL = "No existing customer added a product in this window."


def cross_sell_sentence(top: list[tuple[str, str]], count: int) -> str:
    """How to read the cross-sell matrix, with its most common (held, added) paths, ``count`` times each."""
    paths = [f"{held} → {added}" for held, added in top]
    return (f"Each cell counts existing customers who, holding the row's product, started paying for the column's "
            f"product in a period. The most common path{'s' if len(paths) > 1 else ''}: {' and '.join(paths[:3])} "
            f"({count:,} times{' each' if len(paths) > 1 else ''}). The matrix covers the whole history, not only the "
            "periods shown.")  # fmt: skip


NO_UPGRADES = "No plan column in the data, or no plan changed: no upgrade paths to show."
NO_TOP_CUSTOMERS = "No customer expanded in the periods shown."


def concentration_sentence(*, top: int, expanders: int, share, total: int, currency: str | None, latest,
                           product_netting: bool) -> str:  # fmt: skip
    """
    Say how much of the expansion the top 10% of expanders brought.

    ``latest`` (or None) holds ``period``, ``top_share``, ``top_expanders`` and ``expanders`` of the last period.
    """
    return (
        f"Over the periods shown, the top 10% of expanding customers ({top:,} of {expanders:,}) brought "
        f"{pct(share)} of all expansion MRR ({money(total, currency)})."
        + (f" In {latest['period']} alone: {pct(latest['top_share'])} from {int(latest['top_expanders']):,} of "
           f"{int(latest['expanders']):,} expanders." if latest is not None else "")
        + (" Under product netting an expander is any customer with expansion MRR on some product, also one "
           "whose MRR fell overall, so these counts can exceed the customers counted as expanded above."
           if product_netting else "")
    )  # fmt: skip


def _listed(labels: list[str]) -> str:
    """Write the first four labels, and an ellipsis when there are more."""
    return f"{', '.join(labels[:4])}{'…' if len(labels) > 4 else ''}"


def limitations_items(*, rows_excluded: int, rows_read: int, dropped: str | None, period: str,
                      currencies: list[str], fx_mode: str, rate_ranges, snapshots: bool, small: list[str],
                      empty: list[str], notes: list[tuple[str, int]]) -> list[str]:  # fmt: skip
    """
    Say what a data set could not show, one sentence per limitation.

    ``rate_ranges`` is ``((low, high) here, (low, high) in the other FX mode)`` of the
    customer expansion rate, or None; ``small`` and ``empty`` the periods that start with
    fewer than 30 customers and with none; ``notes`` the (note, rows) of the data.
    """
    items = []
    if rows_excluded:
        items.append(f"{rows_excluded:,} of {rows_read:,} input rows were excluded: invalid, outside the window, "
                     "or not MRR by the billing system's rules (the appendix counts them by reason); their MRR is "
                     "not in any figure.")  # fmt: skip
    if dropped:
        items.append(f"The partial {period} {dropped} is not reported.")
    if period != "month":
        items.append(f"At {period}ly grain, changes that reverse within a {period} "
                     "(a churn and return, an upgrade and downgrade) are invisible.")  # fmt: skip
    if len(currencies) > 1:
        listed = ", ".join(currencies)
        if fx_mode == "constant":
            text = (f"Several currencies ({listed}) are converted at one rate per currency (the window's last "
                    "month), so the figures follow what customers bought, not the exchange-rate value of what "
                    "they paid.")  # fmt: skip
        else:
            text = (f"Several currencies ({listed}) are converted at each month's rate, so part of the "
                    "expansion and contraction of foreign-currency customers is exchange-rate movement; run with "
                    "fx_mode = constant to measure in constant currency.")  # fmt: skip
        if rate_ranges is not None:
            (low, high), (other_low, other_high) = rate_ranges
            text += (
                f" Over the periods shown the customer expansion rate ranges from {pct(low)} to "
                f"{pct(high)} here, and from {pct(other_low)} to {pct(other_high)} "
                f"{FX_WORDS[other_fx_mode(fx_mode)]} (the dashed line in the rates chart)."
            )
        items.append(text)
    if snapshots:
        items.append("The file starts mid-history: customers active in its first month may be older, and "
                     "returns of customers who left before it count as new.")  # fmt: skip
    if small:
        many = len(small) > 1
        items.append(f"{len(small)} {period}{'s' if many else ''} start{'' if many else 's'} with "
                     f"fewer than 30 customers ({_listed(small)}); "
                     f"{'their' if many else 'its'} rates swing widely.")  # fmt: skip
    if empty:
        items.append(f"No customer was active at the start of {_listed(empty)}"
                     ": the rates of that period are undefined (n/a), not zero.")  # fmt: skip
    for note, count in notes:
        items.append(f"Data note: {note}: {plural(count, 'row')}.")
    if not items:
        items.append("No further limitation was found in this data set.")
    return items


def accounted_sentence(rows_read: int, rows_used: int, rows_excluded: int) -> str:
    """Say that every input row is used or excluded."""
    return (f"Every input row is accounted for: {rows_read:,} read = {rows_used:,} used + {rows_excluded:,} "
            "excluded.")  # fmt: skip


def parameter_table(rows: list[tuple[str, object]]) -> str:
    """Render (name, value) pairs as an escaped two-column table."""
    frame = pd.DataFrame([(k, "" if v is None else v) for k, v in rows], columns=["setting", "value"])
    return table_html(frame)


def causes_sentence(*, period: str, expansion: int, expansion_seats: int, expansion_plan: int, expansion_price: int,
                    cross_sell: int, expansion_unattributed: int, currency: str | None = None,
                    customer_netting: bool = True) -> str:  # fmt: skip
    """
    Say where the latest period's product-level expansion came from, exact to the cent.

    Parameters
    ----------
    period : str
        The period's label.
    expansion, expansion_seats, expansion_plan, expansion_price, cross_sell, expansion_unattributed : int
        The cause bridge's figures (:func:`kit.causes`), in cents; the parts add up to ``expansion``.
    currency : str, optional
    customer_netting : bool
        Whether the report's headline nets per customer (then the sentence says the figure differs).

    Returns
    -------
    str

    Examples
    --------
    >>> causes_sentence(period="2025-Q4", expansion=9749000, expansion_seats=6120000, expansion_plan=1800000,
    ...                 expansion_price=930000, cross_sell=900000, expansion_unattributed=0, currency="USD")
    ... # doctest: +NORMALIZE_WHITESPACE
    "In 2025-Q4, of $97,490.00 expansion on products (product by product), $61,200.00 came from added seats,
    $18,000.00 from plan upgrades, $9,300.00 from price rises and $9,000.00 from cross-sell. This is product-level
    (gross) expansion: it differs from the headline expansion, which nets each customer's products."
    """
    parts, cuts = [], []
    for cents, up, down in ((expansion_seats, "added seats", "fewer seats"),
                            (expansion_plan, "plan upgrades", "plan downgrades"),
                            (expansion_price, "price rises", "price cuts"),
                            (cross_sell, "cross-sell", None),
                            (expansion_unattributed, "changes the data cannot attribute", None)):  # fmt: skip
        if cents > 0 or (cents and down is None):
            parts.append((cents, up))
        elif cents < 0:
            cuts.append(f"{down} took off {money(-cents, currency)}")
    said = [f"{money(c, currency)} {'came from ' if i == 0 else 'from '}{what}" for i, (c, what) in enumerate(parts)]
    body = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1] if said else ""
    text = f"In {period}, of {money(expansion, currency)} expansion on products (product by product)"
    text += f", {body}" if body else ", nothing came from any cause"
    text += f"; {' and '.join(cuts)}." if cuts else "."
    if customer_netting:
        text += (" This is product-level (gross) expansion: it differs from the headline expansion, which nets each "
                 "customer's products.")  # fmt: skip
    return text


def causes_missing_note(missing: list[str]) -> str:
    """
    Say which column would split the changes the cause bridge leaves unattributed.

    >>> causes_missing_note(["a plan column would tell plan changes from price changes"])[:60]
    'Not split: a plan column would tell plan changes from price '
    """
    return f"Not split: {'; '.join(missing)}. Those amounts are shown as unattributed, never guessed."
