"""
Tables that display themselves: the kit's frames formatted for people, in JupyterLab and in the report.

The numbers stay a plain :class:`pandas.DataFrame` (money in integer cents, rates as fractions). A frame the
kit returns carries what it is in ``frame.attrs["kit"]`` (:func:`tag`): ``{"table": "summary", "currency":
"USD", ...}``. Inside IPython, ``import kit`` registers an HTML formatter for DataFrame (:func:`register`) that
formats exactly those frames; any other frame displays as it did before (pandas' own HTML, or the formatter
that was registered before the kit's). So ``summary`` in a cell shows ``$1,234.50``, ``12.5%`` and ``n/a``
while ``summary["expansion"].sum()`` is still integer cents.

Rules of the formatter (one for the report's tables and the notebook's displays: :func:`table_html`):

* A column's kind comes from its name (:func:`column_kind`): the contract's column lists
  (:data:`kit.metrics.MONEY`, ``COUNTS``, ``RATES``) and the other tables' columns (:data:`OTHER_NAMES`), then a few
  patterns (``mrr_*`` and ``*_cents`` money, ``*_rate`` and ``*share`` rates, ``customers*`` counts). A tag
  may name kinds of its own (``kinds=``). Unknown columns are shown as they are.
* Money in the reporting currency with separators (``$1,234.50``; :func:`kit.narrative.money`), rates as
  percentages with one decimal (``12.5%``), the quick ratio with two decimals, counts with separators; an
  empty value (NaN) is ``n/a``, never ``0`` or ``nan``.
* Every column is shown, in a horizontally scrollable box (no 20-column cut); the headers read as words
  (``customer expansion rate``) with the column's name as their tooltip, and a wide table groups its columns
  by kind (money, customers, rates). A long table shows its first and last :data:`EDGE` rows and says how many
  are left out and how to see them all (``kit.formatted(frame, rows=None)``).
* Every text is escaped (Jinja2 templates under ``kit/templates/display``, autoescape on).

The ledger, its data-quality record and the movements display as a compact card (window, customers,
products, currencies, rows read/used/excluded; or periods, customers and the sums of each movement), not a
dump of their rows: :func:`ledger_html`, :func:`quality_html`, :func:`movements_html`, and one-line
:func:`ledger_text` / :func:`quality_text` for the terminal.

>>> frame = tag(pd.DataFrame({"period": ["2025-Q4"], "expansion": [123450], "nrr": [float("nan")]}), "summary", "USD")
>>> formatted(frame).cells.iloc[0].tolist()
['2025-Q4', '$1,234.50', 'n/a']

Limits: the tag follows the rows, not the values. A frame derived with other rows
(``describe()``, ``set_index``) displays as pandas shows it, but arithmetic on a tagged
frame (``t.assign(nrr=t.nrr * 100)``) keeps the tag and is formatted by its column names;
``frame.attrs.pop("kit")`` shows the plain table. A column kind a tag names (``kinds``)
is used where the column-name rules do not decide first.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping
from functools import cache

import pandas as pd
from markupsafe import Markup

from kit import narrative as nv
from kit.templating import render

KINDS = ("money", "rate", "ratio", "count", "period", "text")
#: Column names of the kit's tables beyond the summary's lists (:data:`kit.metrics.MONEY`, ``COUNTS``, ``RATES``),
#: and their kinds; :func:`named` joins the two.
OTHER_NAMES = {
    "quick_ratio": "ratio",
    **dict.fromkeys(
        ("mrr_cents", "mrr_base", "mrr_now", "mrr_change", "top_expansion", "amount", "amount_cents", "mrr_added"),
        "money",
    ),  # fmt: skip
    **dict.fromkeys(("share", "top_share"), "rate"),
    **dict.fromkeys(
        ("customers", "expanders", "top_expanders", "periods_expanded", "age", "rows", "count"), "count"
    ),  # fmt: skip
    **dict.fromkeys(("period", "month", "cohort"), "period"),
}
#: A table longer than this shows its first and last EDGE rows.
MAX_ROWS = 60
EDGE = 10
#: A table with more columns than this groups its headers by kind.
GROUP_FROM = 8
_GROUP_WORDS = {"money": "money", "count": "customers and counts", "rate": "rates", "ratio": "ratio"}
_MOVEMENT_AMOUNTS = ("new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn")


@cache
def named() -> dict[str, str]:
    """
    Return every column name the kit knows, with its kind: the contract's lists, then :data:`OTHER_NAMES`.

    Read from :mod:`kit.metrics` when first needed, so that the metric modules can import :func:`tag`.
    """
    from kit.metrics import COUNTS, MONEY, RATES

    return {**dict.fromkeys(MONEY, "money"), **dict.fromkeys(COUNTS, "count"), **dict.fromkeys(RATES, "rate"),
            **OTHER_NAMES}  # fmt: skip


# --- tags ---------------------------------------------------------------------------------------


def tag(frame: pd.DataFrame, table: str, currency=None, **facts) -> pd.DataFrame:
    """
    Mark ``frame`` as the kit's table ``table`` in ``frame.attrs["kit"]``; return the same frame.

    The tag is what the notebook display reads (the frame stays a plain DataFrame: its numbers, types and
    ``==`` are untouched). pandas carries ``attrs`` through copies, slices, ``head`` and ``loc``, so a part of a
    table displays formatted as well.

    Parameters
    ----------
    frame : DataFrame
        A table the kit made (tagged in place: call it on a new frame, never on the caller's).
    table : str
        Its name: ``summary``, ``movements``, ``cohorts``, ``cross_sell_matrix``, ``top_expanders``, …
    currency : str, Ledger or DataFrame, optional
        The reporting currency, or a ledger or a tagged frame to take it from.
    **facts
        Plain values kept beside (``period="quarter"``, ``netting="customer"``); ``kinds={"column": "money"}``
        names the kinds of columns the rules by name do not know (``"*"``: every other column).

    Returns
    -------
    DataFrame
        ``frame`` itself.

    Examples
    --------
    >>> t = tag(pd.DataFrame({"mrr_start": [100]}), "summary", "EUR", period="quarter")
    >>> t.attrs["kit"]
    {'table': 'summary', 'currency': 'EUR', 'period': 'quarter'}
    >>> tag(pd.DataFrame({"x": [1]}), "summary", t).attrs["kit"]["currency"]
    'EUR'
    """
    if not isinstance(table, str):
        raise TypeError(f"table must be a name (str), not {type(table).__name__}")
    unknown = {k: v for k, v in (facts.get("kinds") or {}).items() if v not in KINDS}
    if unknown:
        raise ValueError(f"unknown column kinds {unknown}; kinds are {', '.join(KINDS)}")
    frame.attrs["kit"] = {"table": table, "currency": currency_of(currency), **facts}
    frame.attrs["kit_index"] = _index_key(frame)
    return frame


def _index_key(frame: pd.DataFrame) -> tuple:
    """Return what a table's rows are keyed by: a frame pandas derived with other rows (``describe()``) differs."""
    return (str(frame.index.dtype), tuple(map(str, frame.index.names)))


def currency_of(source) -> str | None:
    """
    Return the reporting currency of a ledger, a tagged frame, or a currency code itself (None if unknown).

    >>> currency_of("USD"), currency_of(None), currency_of(pd.DataFrame())
    ('USD', None, None)
    """
    if source is None or isinstance(source, str):
        return source
    if isinstance(source, pd.DataFrame):
        return meta(source).get("currency")
    return getattr(source, "currency", None)


def meta(frame: pd.DataFrame) -> dict:
    """
    Return the kit's tag of ``frame`` (``{}`` for a frame the kit did not make).

    pandas copies ``attrs`` to frames derived from a table; one whose rows are no longer the
    table's (``describe()``, ``set_index``) has lost the tag: it displays as pandas shows it.
    """
    found = frame.attrs.get("kit") if isinstance(frame, pd.DataFrame) else None
    if not isinstance(found, Mapping):
        return {}
    key = frame.attrs.get("kit_index")
    return found if key is None or tuple(key) == _index_key(frame) else {}


# --- kinds and cells ------------------------------------------------------------------------------


def column_kind(name, kinds: Mapping | None = None) -> str:
    """
    Return the kind of column ``name``: money, rate, ratio, count, period or text.

    ``kinds`` (a tag's) wins; then :func:`named`; then the patterns of the module docstring; else text.

    >>> [column_kind(c) for c in ("mrr_start", "nrr", "quick_ratio", "customers_new", "period", "segment")]
    ['money', 'rate', 'ratio', 'count', 'period', 'text']
    >>> column_kind("upsell_share"), column_kind("mrr_added_total"), column_kind("Basic", {"*": "count"})
    ('rate', 'money', 'count')
    """
    kinds = kinds or {}
    if name in kinds:
        return kinds[name]
    if name in named():
        return named()[name]
    text = str(name)
    if text.endswith("_rate") or text.endswith("share"):
        return "rate"
    if text.startswith("customers"):
        return "count"
    if text.startswith("mrr_") or text.endswith("_cents") or text.endswith("_mrr"):
        return "money"
    return kinds.get("*", "text")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array in a cell: not one missing value
        return False


def cell_text(value, kind: str, currency: str | None = None) -> str:
    """
    Write one value of a column of ``kind`` for people; ``n/a`` for an empty one (NaN).

    A value that is not a number in a numeric column (a text a caller put there) is shown as it is.

    >>> cell_text(123450, "money", "USD"), cell_text(0.125, "rate"), cell_text(float("nan"), "rate")
    ('$1,234.50', '12.5%', 'n/a')
    >>> cell_text(2.5, "ratio"), cell_text(12345, "count"), cell_text(None, "text"), cell_text("2.50", "ratio")
    ('2.50', '12,345', '', '2.50')
    """
    if value is None or _missing(value):
        return "" if value is None and kind in ("text", "period") else "n/a"
    if kind in ("money", "rate", "ratio", "count") and not _is_number(value):
        return str(value)
    if kind == "money":
        return nv.money(value, currency)
    if kind == "rate":
        return nv.pct(value)
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "count":
        return nv.number(value) if float(value).is_integer() else f"{value:,}"
    return str(value)


# --- the table ---------------------------------------------------------------------------------------


def table_html(frame: pd.DataFrame, *, kinds: Mapping | None = None, currency: str | None = None,
               by_name: bool = True, readable: bool = False, rows: int | None = None) -> str:  # fmt: skip
    r"""
    Render a frame as an escaped HTML table: the one formatter of the report's tables and the notebook's.

    Parameters
    ----------
    frame : DataFrame
        Money in integer cents, rates as fractions.
    kinds : mapping, optional
        Column → kind (see :data:`KINDS`).
    currency : str, optional
        The reporting currency of the money columns.
    by_name : bool
        Give the columns ``kinds`` does not name their kind by name (:func:`column_kind`); False: text (the
        report names each table's numeric columns itself).
    readable : bool
        Headers as words with the column name as tooltip, and grouped by kind when the table is wide
        (the notebook's); False: the names as they are, breakable after an underscore (the report's).
    rows : int, optional
        Show the first and last :data:`EDGE` rows of a table longer than this, with a row saying how many are
        left out; None: every row.

    Returns
    -------
    str
        ``<div class="kit-scroll"><table class="kit-table">…</table></div>``.

    Examples
    --------
    >>> page = table_html(pd.DataFrame({"mrr_start": [123450], "nrr": [float("nan")]}), currency="USD")
    >>> print(page.replace("><", ">\n<"))
    <div class="kit-scroll">
    <table class="kit-table">
    <thead>
    <tr>
    <th class="num">mrr_<wbr>start</th>
    <th class="num">nrr</th>
    </tr>
    </thead>
    <tbody>
    <tr>
    <td class="num">$1,234.50</td>
    <td class="num">n/a</td>
    </tr>
    </tbody>
    </table>
    </div>
    """
    kinds = dict(kinds or {})
    columns = list(frame.columns)
    kind_list = [column_kind(c, kinds) if by_name else kinds.get(c, "text") for c in columns]
    numeric = [k in ("money", "rate", "ratio", "count") for k in kind_list]
    heads = [{"cls": "num" if n else "", "pieces": _pieces(c, readable), "title": str(c) if readable else ""}
             for c, n in zip(columns, numeric, strict=True)]  # fmt: skip
    shown, gap_at, gap_text = frame, None, ""
    if rows is not None and len(frame) > max(rows, 2 * EDGE):
        shown = pd.concat([frame.iloc[:EDGE], frame.iloc[-EDGE:]])
        gap_at, gap_text = EDGE, f"… {len(frame) - 2 * EDGE:,} more rows …"
    body = []
    for record in shown.itertuples(index=False, name=None):
        body.append([("num" if n else "", cell_text(value, k, currency))
                     for value, k, n in zip(record, kind_list, numeric, strict=True)])  # fmt: skip
    groups = _groups(kind_list, currency) if readable and len(columns) > GROUP_FROM else None
    return render("display/table.html.j2", heads=heads, rows=body, groups=groups, readable=readable,
                  gap_at=gap_at, gap_text=gap_text)  # fmt: skip


def _pieces(column, readable: bool) -> list[str]:
    text = " · ".join(map(str, column)) if isinstance(column, tuple) else str(column)
    return text.split("_") if not readable else [w for w in text.split("_") if w] or [text]


def _groups(kind_list: list[str], currency: str | None) -> list[tuple[str, int]] | None:
    """Return the runs of columns of one kind, labelled (money in CUR, customers and counts, rates); None if one run."""
    runs: list[list] = []
    for kind in kind_list:
        word = _GROUP_WORDS.get(kind, "")
        if word == "money" and currency:
            word = f"money ({currency})"
        if runs and runs[-1][0] == word:
            runs[-1][1] += 1
        else:
            runs.append([word, 1])
    return [(w, n) for w, n in runs] if sum(1 for w, _ in runs if w) > 1 else None


def cells(frame: pd.DataFrame, *, kinds: Mapping | None = None, currency: str | None = None) -> pd.DataFrame:
    """
    Return the formatted text of every cell, as a frame of strings with the same columns and index.

    >>> cells(pd.DataFrame({"upsell": [150], "customers_start": [1234]}), currency="EUR").iloc[0].tolist()
    ['€1.50', '1,234']
    """
    out = {}
    for position, column in enumerate(frame.columns):
        kind = column_kind(column, kinds)
        out[position] = [cell_text(v, kind, currency) for v in frame.iloc[:, position]]
    result = pd.DataFrame(out, index=frame.index)
    result.columns = frame.columns
    return result


def _for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with a named index (a matrix's rows) as its first columns; an unnamed one is dropped."""
    index = frame.index
    if all(name is None for name in index.names):  # a row number (kept from a filter or not): not shown
        return frame
    out = frame.copy()
    out.columns = [" · ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    out.index = index.set_names([n if n is not None else f"level_{i}" for i, n in enumerate(index.names)])
    return out.reset_index()


def _kinds_of(frame: pd.DataFrame) -> dict:
    """Return the tag's column kinds, a named index's columns (a matrix's rows) as text unless it says else."""
    named = [n for n in frame.index.names if n is not None]
    return {**dict.fromkeys(named, "text"), **dict(meta(frame).get("kinds") or {})}


class Formatted:
    """
    A kit table formatted for people: displays as HTML in a notebook, as aligned text in a terminal.

    ``.frame`` is the table itself (the numbers: money in integer cents), ``.cells`` the text of every
    cell, ``.html`` what a notebook shows.
    """

    def __init__(self, frame: pd.DataFrame, *, rows: int | None = MAX_ROWS, currency: str | None = None):
        self.frame = frame
        self.rows = rows
        self.currency = currency if currency is not None else meta(frame).get("currency")

    @property
    def kinds(self) -> dict:
        """The kinds of the columns that the tag names (and of a named index's columns)."""
        return _kinds_of(self.frame)

    @property
    def cells(self) -> pd.DataFrame:
        """Every cell as the text shown (index and matrix rows as columns)."""
        return cells(_for_display(self.frame), kinds=self.kinds, currency=self.currency)

    @property
    def html(self) -> str:
        """The HTML a notebook shows."""
        return frame_html(self.frame, rows=self.rows, currency=self.currency)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        shown = self.cells
        if self.rows is not None and len(shown) > self.rows:
            shown = pd.concat([shown.head(EDGE), shown.tail(EDGE)])
        with pd.option_context("display.max_columns", None, "display.width", 10_000, "display.max_rows", None):
            text = shown.to_string(index=False)
        return text + (f"\n… {len(self.frame) - len(shown):,} more rows" if len(shown) < len(self.frame) else "")


def formatted(frame: pd.DataFrame, *, rows: int | None = MAX_ROWS, currency: str | None = None) -> Formatted:
    """
    Return ``frame`` formatted for people (money, rates, n/a), whether or not the kit made it.

    Parameters
    ----------
    frame : DataFrame
        A table; its columns take their kinds by name (:func:`column_kind`).
    rows : int or None
        Longer tables show their first and last :data:`EDGE` rows; None shows every row.
    currency : str, optional
        The currency of the money columns; default: the frame's tag.

    Returns
    -------
    Formatted
        Displays itself; ``.frame`` is ``frame``, ``.cells`` the text of each cell.

    Examples
    --------
    >>> f = formatted(pd.DataFrame({"mrr_end": [123450], "grr": [0.125], "churn": [float("nan")]}), currency="USD")
    >>> f.cells.iloc[0].tolist()
    ['$1,234.50', '12.5%', 'n/a']
    """
    return Formatted(frame, rows=rows, currency=currency)


def _caption(frame: pd.DataFrame, currency: str | None) -> str:
    table = meta(frame).get("table") or "table"
    n_rows, n_columns = frame.shape
    parts = [f"{table}: {nv.plural(n_rows, 'row')} × {nv.plural(n_columns, 'column')}"]
    kinds = [column_kind(c, meta(frame).get("kinds")) for c in frame.columns]
    if "money" in kinds:
        parts.append(f"money in {currency or 'the data currency'} (the frame holds integer cents)")
    if frame.columns.name:
        parts.append(f"columns: {frame.columns.name}")
    return "; ".join(parts)


def frame_html(frame: pd.DataFrame, *, rows: int | None = MAX_ROWS, currency: str | None = None) -> str:
    """
    Render the notebook display of a table: a caption, the formatted table, and how to see what is left out.

    >>> page = frame_html(tag(pd.DataFrame({"mrr_start": range(100)}), "summary", "USD"))
    >>> "100 rows × 1 column" in page, "… 80 more rows …" in page, "$0.99" in page, "$0.50" in page
    (True, True, True, False)
    """
    currency = currency if currency is not None else meta(frame).get("currency")
    shown = _for_display(frame)
    table = table_html(shown, kinds=_kinds_of(frame), currency=currency, readable=True, rows=rows)
    hints = []
    if rows is not None and len(frame) > max(rows, 2 * EDGE):
        hints.append(f"Showing the first and last {EDGE} of {len(frame):,} rows: kit.formatted(frame, rows=None) "
                     "shows every row.")  # fmt: skip
    return render("display/frame.html.j2", caption=_caption(frame, currency), table=Markup(table), hints=hints)


# --- cards --------------------------------------------------------------------------------------------


def _card(title: str, facts: list[tuple[str, str]], *, sections=(), hints=()) -> str:
    return render("display/card.html.j2", title=title, facts=facts, hints=list(hints),
                  sections=[(heading, Markup(table)) for heading, table in sections])  # fmt: skip


def _listed(values, most: int = 8) -> str:
    values = [str(v) for v in values]
    if len(values) > most:
        return ", ".join(values[:most]) + f", … ({len(values):,} in all)"
    return ", ".join(values) or "none"


def _months(first: pd.Period, last: pd.Period) -> int:
    return int(last.ordinal - first.ordinal + 1)


def ledger_facts(ledger) -> list[tuple[str, str]]:
    """Return the facts of a ledger's card: kind, window, customers, products, currencies, attributes, rows."""
    frame, q = ledger.frame, ledger.quality
    products = pd.unique(frame["product"].astype(str)) if len(frame) else []
    currencies = ", ".join(getattr(q, "currencies", ())) or q.facts.get("currencies") or ledger.currency or "not stated"
    return [
        ("source", f"{q.source} ({ledger.kind})"),
        (
            "window",
            f"{ledger.first_month} to {ledger.last_month} "
            f"({nv.plural(_months(ledger.first_month, ledger.last_month), 'month')})",
        ),  # fmt: skip
        ("customers", nv.number(frame["customer_id"].nunique())),
        ("products", f"{len(products):,}: {_listed(sorted(products))}"),
        ("currencies", f"{currencies}; reported in {ledger.currency or 'the data currency'}"),
        ("attributes", _listed(ledger.attributes)),
        ("ledger rows", f"{len(frame):,} (customer · product · month)"),
        ("rows read / used / excluded", f"{q.rows_read:,} / {q.rows_used:,} / {q.rows_excluded:,}"),
    ]


def ledger_html(ledger) -> str:
    """
    Render a ledger as a card (not its rows): window, customers, products, currencies, rows read/used/excluded.

    >>> import kit
    >>> ledger = kit.load_ledger(pd.DataFrame({"customer_id": ["a"], "product": ["P"], "month": ["2024-01"],
    ...                                        "mrr": ["10"]}), kind="snapshots", today="2026-11-24")
    >>> "<tr><th>customers</th><td>1</td></tr>" in ledger_html(ledger)
    True
    """
    return _card("Ledger", ledger_facts(ledger), hints=[
        "ledger.frame holds the rows (mrr_cents in integer cents); ledger.quality the data-quality record; "
        "kit.movements(ledger) classifies them."])  # fmt: skip


def ledger_text(ledger) -> str:
    r"""
    Say a ledger in one line (its terminal ``repr``).

    >>> import kit
    >>> ledger = kit.load_ledger(pd.DataFrame({"customer_id": ["a", "b"], "product": ["P", "Q"],
    ...                                        "month": ["2024-01", "2024-02"], "mrr": ["10", "5"]}),
    ...                          kind="snapshots", today="2026-11-24")
    >>> print(ledger_text(ledger).replace("; ", ";\n"))
    <Ledger snapshots 2024-01 to 2024-02: 2 customers, 2 products, currency not stated;
    2 rows read, 2 used, 0 excluded>
    """
    frame, q = ledger.frame, ledger.quality
    return (f"<Ledger {ledger.kind} {ledger.first_month} to {ledger.last_month}: "
            f"{nv.plural(int(frame['customer_id'].nunique()), 'customer')}, "
            f"{nv.plural(int(frame['product'].nunique()), 'product')}, "
            f"{ledger.currency or 'currency not stated'}; {q.rows_read:,} rows read, {q.rows_used:,} used, "
            f"{q.rows_excluded:,} excluded>")  # fmt: skip


def quality_html(quality) -> str:
    """Render a data-quality record as a card: rows read = used + excluded, the reasons and the notes."""
    facts = [("source", str(quality.source)),
             ("rows read", f"{quality.rows_read:,}"), ("rows used", f"{quality.rows_used:,}"),
             ("rows excluded", f"{quality.rows_excluded:,}"),
             ("problems found", f"{len(quality.problems):,}")]  # fmt: skip
    facts += [(str(k), str(v)) for k, v in quality.details.items() if v is not None]
    facts += [(str(k), str(v)) for k, v in quality.facts.items()]
    sections = []
    if len(quality.excluded):
        sections.append(("Excluded rows by reason", table_html(quality.excluded, kinds={"rows": "count"},
                                                               by_name=False)))  # fmt: skip
    if len(quality.notes):
        sections.append(("Notes (valid rows worth a look)", table_html(quality.notes, kinds={"count": "count"},
                                                                       by_name=False)))  # fmt: skip
    return _card("Data quality", facts, sections=sections, hints=[
        "quality.table() is the report's table; quality.excluded, .problems and .notes are frames."])  # fmt: skip


def quality_text(quality) -> str:
    """
    Say a data-quality record in one line (its terminal ``repr``).

    >>> import kit
    >>> q = kit.load_ledger(pd.DataFrame({"customer_id": ["a"], "product": ["P"], "month": ["2024-01"],
    ...                                   "mrr": ["10"]}), kind="snapshots", today="2026-11-24").quality
    >>> quality_text(q)
    '<DataQuality of the DataFrame: 1 row read = 1 used + 0 excluded; 0 problems, 0 notes>'
    """
    return (f"<DataQuality of {quality.source}: {nv.plural(quality.rows_read, 'row')} read = {quality.rows_used:,} "
            f"used + {quality.rows_excluded:,} excluded; {nv.plural(len(quality.problems), 'problem')}, "
            f"{nv.plural(len(quality.notes), 'note')}>")  # fmt: skip


def movements_html(moves: pd.DataFrame, *, preview: int = 5) -> str:
    """
    Render movements as a card: grain, periods, customers, the sum of each movement, and their first rows.

    A frame without the movements' key columns (a part of them, a groupby of them) is shown as a table.
    """
    tagged = meta(moves)
    needed = {"customer_id", "period", "class", *_MOVEMENT_AMOUNTS}
    if not needed <= set(moves.columns):
        return frame_html(moves)
    currency = tagged.get("currency")
    labels = moves["period"].astype(str)
    periods = list(pd.unique(labels))
    first, last = (min(periods), max(periods)) if periods else ("none", "none")
    facts = [
        ("rows", f"{len(moves):,} (customer · period)"),
        (
            "periods",
            f"{first} to {last} ({len(periods):,}" + (f" {tagged['period']}s)" if tagged.get("period") else ")"),
        ),  # fmt: skip
        ("customers", nv.number(moves["customer_id"].nunique())),
    ]
    for key in ("netting", "reactivation_window"):
        if key in tagged:
            facts.append((key.replace("_", " "), "none" if tagged[key] is None else str(tagged[key])))
    sums = pd.DataFrame([{name: int(moves[name].sum()) for name in _MOVEMENT_AMOUNTS}])
    classes = moves["class"].astype(str).value_counts()
    counts = pd.DataFrame([{c: int(classes.get(c, 0)) for c in ("new", "reactivation", "expansion",
                                                                 "contraction", "churn", "flat")}])  # fmt: skip
    sections = [
        (
            f"Sum of each movement ({currency or 'the data currency'})",
            table_html(sums, currency=currency, readable=True),
        ),  # fmt: skip
        ("Rows by class", table_html(counts, kinds=dict.fromkeys(counts.columns, "count"), readable=True)),
        (
            f"First {min(preview, len(moves))} rows",
            table_html(moves.head(preview), kinds=tagged.get("kinds"), currency=currency, readable=True),
        ),  # fmt: skip
    ]
    return _card("Movements", facts, sections=sections, hints=[
        "kit.summary(movements) sums them per period; kit.formatted(movements) shows the rows; the frame holds "
        "the numbers (integer cents)."])  # fmt: skip


# --- the notebook ---------------------------------------------------------------------------------------


def html_for(frame: pd.DataFrame, previous=None) -> str | None:
    """
    Return the notebook HTML of any DataFrame: formatted if the kit tagged it, else as it was displayed before.

    ``previous`` is the formatter that was registered for DataFrame before the kit's, if any.
    """
    tagged = meta(frame)
    if tagged:
        try:
            if tagged.get("table") == "movements":
                return movements_html(frame)
            return frame_html(frame)
        except Exception:  # noqa: BLE001 - a display never fails the cell: pandas' own table instead
            pass
    if previous is not None:
        return previous(frame)
    return frame._repr_html_()


def register(ipython=None) -> bool:
    """
    Make IPython display the kit's tables formatted; return whether there was an IPython to tell.

    Called by ``import kit``; does nothing outside IPython (IPython is not imported for it). Registers a
    ``text/html`` formatter for :class:`pandas.DataFrame` that formats tagged frames and hands every other
    frame to the formatter registered before (or pandas' ``_repr_html_``), so a user's own frames display as
    they did. Calling it again does not stack formatters.
    """
    if ipython is None:
        module = sys.modules.get("IPython")
        ipython = module.get_ipython() if module is not None else None
    if ipython is None or not hasattr(ipython, "display_formatter"):
        return False
    formatter = ipython.display_formatter.formatters["text/html"]
    previous = formatter.for_type(pd.DataFrame)
    while getattr(previous, "kit_previous", False) is not False:  # ours already: chain to what was before it
        previous = previous.kit_previous

    def kit_frame_html(frame, _previous=previous):
        return html_for(frame, _previous)

    kit_frame_html.kit_previous = previous
    formatter.for_type(pd.DataFrame, kit_frame_html)
    return True
