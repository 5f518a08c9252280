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


def esc(text) -> str:
    """Escape text for HTML (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


def paragraph(*sentences: str) -> str:
    """Join already-escaped sentences into one ``<p>``."""
    return "<p>" + " ".join(sentences) + "</p>"


def change_sentence(name: str, now, before, *, kind: str, currency: str | None = None, against: str = "") -> str:
    """
    Describe the change of a figure against an earlier value, escaped, for a sentence.

    ``kind`` is ``money`` (absolute change) or ``rate`` (change in percentage points).

    >>> change_sentence("NRR", 1.05, 1.02, kind="rate", against="the previous quarter")
    'NRR was 105.0%, +3.0 pp against the previous quarter (102.0%).'
    """
    if kind == "money":
        shown = money(now, currency)
        if before is None or pd.isna(before):
            return esc(f"{name} was {shown}; {against} is not in the data.")
        delta = int(now) - int(before)
        rel = pct(delta / before, signed=True) if before else "n/a"
        return esc(f"{name} was {shown}, {money(delta, currency)} ({rel}) against {against} ({money(before, currency)}).")
    shown = pct(now)
    if before is None or pd.isna(before):
        return esc(f"{name} was {shown}; {against} is not in the data or has no base.")
    return esc(f"{name} was {shown}, {points(now - before)} against {against} ({pct(before)}).")


def cards(items: list[tuple[str, str, str]]) -> str:
    """Headline cards: (label, value, change) triples of plain text, escaped here."""
    parts = [
        f'<div class="kit-card"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
        f'<div class="change">{esc(change)}</div></div>'
        for label, value, change in items
    ]
    return '<div class="kit-headline">' + "".join(parts) + "</div>"


def table_html(frame: pd.DataFrame, *, money_columns=(), rate_columns=(), count_columns=(), currency=None,
               max_rows: int | None = None) -> str:  # fmt: skip
    """
    Render a table for the report: money and rates formatted, every cell escaped.

    Money columns are integer cents; rates are fractions (NaN shows ``n/a``).
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(
        f'<th class="{"num" if c in (*money_columns, *rate_columns, *count_columns) else ""}">{esc(c)}</th>'
        for c in shown.columns
    )
    rows = []
    for record in shown.itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, record):
            if column in money_columns:
                cells.append(f'<td class="num">{esc(money(value, currency))}</td>')
            elif column in rate_columns:
                cells.append(f'<td class="num">{esc(pct(value))}</td>')
            elif column in count_columns:
                cells.append(f'<td class="num">{esc(number(value))}</td>')
            else:
                cells.append(f"<td>{esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="kit-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def change_against(table: pd.DataFrame, column: str, offset: int):
    """Return the value of ``column`` ``offset`` rows before the last row, or NaN."""
    if len(table) > offset:
        return table[column].iloc[-1 - offset]
    return np.nan


# --- report sections ------------------------------------------------------------------------

PERIOD_WORDS = {"month": ("month", "monthly", 12), "quarter": ("quarter", "quarterly", 4), "year": ("year", "yearly", 1)}


def executive_summary(summary: pd.DataFrame, *, period: str, currency: str | None) -> str:
    """
    Write the executive summary of the latest period as escaped HTML: cards and sentences.

    Each figure is compared with the previous period and the same period a year earlier.
    """
    if summary.empty:
        return paragraph(esc("The data window holds no complete period after the baseline, so there is nothing to "
                             "compare yet."))  # fmt: skip
    word, _, per_year = PERIOD_WORDS[period]
    last = summary.iloc[-1]
    year_ago = per_year if per_year > 1 else 1
    prev_label = f"the previous {word}"
    year_label = "the same period a year earlier" if per_year > 1 else "the previous year"

    def before(column, offset):
        return change_against(summary, column, offset)

    expansion = int(last["expansion"])
    sentences = [
        esc(f"In {last['period']}, existing customers added {money(expansion, currency)} of monthly recurring revenue "
            f"through expansion ({money(int(last['upsell']), currency)} upsell on products they already had, "
            f"{money(int(last['cross_sell']), currency)} cross-sell of products they did not), "
            f"{money(expansion * 12, currency)} a year at that run rate."),
        change_sentence("Expansion MRR", expansion, before("expansion", 1), kind="money", currency=currency,
                        against=prev_label),
        change_sentence("Against " + year_label + ", expansion MRR", expansion, before("expansion", year_ago),
                        kind="money", currency=currency, against=year_label) if per_year > 1 else "",
        esc(f"{number(last['customers_expanded'])} of {number(last['customers_start'])} customers at the start of "
            f"the {word} raised their spend: a customer expansion rate of {pct(last['customer_expansion_rate'])}."),
        change_sentence("The customer expansion rate", last["customer_expansion_rate"],
                        before("customer_expansion_rate", 1), kind="rate", against=prev_label),
        change_sentence("Expansion MRR over starting MRR", last["expansion_mrr_rate"],
                        before("expansion_mrr_rate", 1), kind="rate", against=prev_label),
        change_sentence("Net revenue retention", last["nrr"], before("nrr", 1), kind="rate", against=prev_label),
        change_sentence("Net revenue retention", last["nrr"], before("nrr", year_ago), kind="rate",
                        against=year_label) if per_year > 1 else "",
        change_sentence("Gross revenue retention", last["grr"], before("grr", 1), kind="rate", against=prev_label),
    ]  # fmt: skip
    headline = cards([
        ("Expansion MRR", money(expansion, currency), f"{money(expansion * 12, currency)} annualised"),
        ("Customer expansion rate", pct(last["customer_expansion_rate"]),
         f"{points(last['customer_expansion_rate'] - before('customer_expansion_rate', 1))} vs previous {word}"),
        ("Expansion MRR rate", pct(last["expansion_mrr_rate"]),
         f"{points(last['expansion_mrr_rate'] - before('expansion_mrr_rate', 1))} vs previous {word}"),
        ("NRR", pct(last["nrr"]), f"{points(last['nrr'] - before('nrr', 1))} vs previous {word}"),
        ("GRR", pct(last["grr"]), f"{points(last['grr'] - before('grr', 1))} vs previous {word}"),
    ])  # fmt: skip
    return headline + paragraph(*[s for s in sentences if s])


def parameter_table(rows: list[tuple[str, object]]) -> str:
    """Render (name, value) pairs as an escaped two-column table."""
    frame = pd.DataFrame([(k, "" if v is None else v) for k, v in rows], columns=["setting", "value"])
    return table_html(frame)
