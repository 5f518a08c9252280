"""
Numbers into text and HTML for the report: formatted for people, escaped always.

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
    an underscore. The page is ``templates/pages/table.html.j2``.

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
    numeric = {*money_columns, *rate_columns, *count_columns}
    heads = [{"cls": "num" if c in numeric else "", "pieces": str(c).split("_")} for c in frame.columns]
    formats = [_cell_format(c, money_columns, rate_columns, count_columns, currency) for c in frame.columns]
    rows = [[(cls, show(value)) for (cls, show), value in zip(formats, record, strict=True)]
            for record in frame.itertuples(index=False)]  # fmt: skip
    return render("table.html.j2", heads=heads, rows=rows)


def _cell_format(column, money_columns, rate_columns, count_columns, currency):
    """Return the cell class and the function that writes a value of COLUMN as text."""
    if column in money_columns:
        return "num", lambda value: money(value, currency)
    if column in rate_columns:
        return "num", pct
    if column in count_columns:
        return "num", number
    return "", lambda value: "" if value is None else str(value)


def change_against(table: pd.DataFrame, column: str, offset: int):
    """Return the value of ``column`` ``offset`` rows before the last row, or NaN."""
    if len(table) > offset:
        return table[column].iloc[-1 - offset]
    return np.nan


# --- report sections ------------------------------------------------------------------------

PERIOD_WORDS = {"month": ("month", 12), "quarter": ("quarter", 4), "year": ("year", 1)}  # word, periods per year


def executive_summary(summary: pd.DataFrame, *, period: str, currency: str | None) -> str:
    """
    Write the executive summary of the latest period as escaped HTML: cards and sentences.

    Each figure is compared with the previous period and the same period a year earlier.
    """
    if summary.empty:
        return paragraph(esc("The data window holds no complete period after the baseline, so there is nothing to "
                             "compare yet."))  # fmt: skip
    word, per_year = PERIOD_WORDS[period]
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
        f"<strong>Expansion revenue.</strong> In {esc(last['period'])}, existing customers added "
        f"{esc(money(expansion, currency))} of monthly recurring revenue through expansion: "
        f"{esc(money(int(last['upsell']), currency))} upsell on products they already paid for and "
        f"{esc(money(int(last['cross_sell']), currency))} cross-sell of products they did not, "
        f"{esc(money(expansion * 12, currency, decimals=0))} a year at that monthly run rate "
        f"({esc(money_changes('expansion'))}).",
        f"<strong>How widespread.</strong> {esc(number(last['customers_expanded']))} of "
        f"{esc(number(last['customers_start']))} customers active at the start of the {word} raised their spend: "
        f"a customer expansion rate of {esc(pct(last['customer_expansion_rate']))} "
        f"({esc(rate_changes('customer_expansion_rate'))}).",
        f"<strong>How large.</strong> Expansion MRR was {esc(pct(last['expansion_mrr_rate']))} of starting MRR "
        f"({esc(rate_changes('expansion_mrr_rate'))}).",
        f"<strong>Retention.</strong> Net revenue retention was {esc(pct(last['nrr']))} "
        f"({esc(rate_changes('nrr'))}); gross revenue retention {esc(pct(last['grr']))} "
        f"({esc(rate_changes('grr'))}).",
    ]
    headline = cards([
        ("Expansion MRR", money(expansion, currency), f"×12 = {money(expansion * 12, currency, decimals=0)} a year"),
        ("Customer expansion rate", pct(last["customer_expansion_rate"]),
         f"{points(last['customer_expansion_rate'] - before('customer_expansion_rate', 1))} vs previous {word}"),
        ("Expansion MRR rate", pct(last["expansion_mrr_rate"]),
         f"{points(last['expansion_mrr_rate'] - before('expansion_mrr_rate', 1))} vs previous {word}"),
        ("NRR", pct(last["nrr"]), f"{points(last['nrr'] - before('nrr', 1))} vs previous {word}"),
        ("GRR", pct(last["grr"]), f"{points(last['grr'] - before('grr', 1))} vs previous {word}"),
    ])  # fmt: skip
    return headline + '<ul class="kit-summary">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def parameter_table(rows: list[tuple[str, object]]) -> str:
    """Render (name, value) pairs as an escaped two-column table."""
    frame = pd.DataFrame([(k, "" if v is None else v) for k, v in rows], columns=["setting", "value"])
    return table_html(frame)
