"""
Interactive where there is a kernel and a widget frontend, static where there is not.

Two calls for an analyst in JupyterLab (issue 10, part 4):

* :func:`explorer` — pickers (ipywidgets) for the grain, the segment, the netting and the range of
  periods over one ledger, redrawing the MRR bridge and expansion-rate charts (:mod:`kit.plots`) and
  the summary table (:func:`kit.summarize`) on every change.
* :func:`table` — a sortable, searchable table for customer lists (itables in its offline mode: the
  DataTables library travels inside the notebook, nothing is fetched from the internet). Money, rates
  and counts show formatted (``$1,234.50``, ``12.5%``, ``n/a``) and sort by their numbers.

Both degrade to static output where no widget frontend runs: papermill, ``nbconvert --execute``,
nbval, a plain IPython terminal. There they display a PNG chart and a formatted HTML table made of
plain markup: no widget, no ``<script>``, so an HTML export holds no "Error displaying widget" and no
JavaScript, and a headless run records no widget state.

Where a widget frontend runs (:func:`widget_frontend`): JupyterLab and Notebook 7 send, with every
``execute_request``, metadata naming the cell (``cellId``, ``deletedCells``, ``recordTiming``); the
clients that run notebooks headless (nbclient, so papermill and nbconvert; nbval; jupyter_client
scripts) send none. So a cell whose request carries ``cellId``, in an IPython kernel with ipywidgets
installed, gets the pickers; anything else gets the static output. The environment variable
``KIT_INTERACTIVE`` (``1`` or ``0``) overrides the test, and so does each call's ``interactive=``.
"""

from __future__ import annotations

import html
import importlib.util
import os
import sys
from dataclasses import dataclass, field

import pandas as pd

from kit import display
from kit import narrative as nv
from kit.errors import ParameterError
from kit.ledger import Ledger
from kit.metrics import summarize
from kit.movements import NETTINGS
from kit.periods import GRAINS, between, end_month, is_label, start_month

#: The environment variable that forces the interactive (``1``) or the static (``0``) output.
ENVIRONMENT = "KIT_INTERACTIVE"
#: Attributes that are no segment: a name per customer, or the billing currency.
NOT_SEGMENTS = ("customer_name", "currency")
#: An attribute with more values than this is no segment (a picker of a thousand names helps no one).
MOST_SEGMENT_VALUES = 50
ALL_CUSTOMERS = "all customers"
#: Column kinds a searchable table sorts by number.
NUMERIC = ("money", "rate", "ratio", "count")


# --- where we run -----------------------------------------------------------------------------------------


def widget_frontend() -> bool:
    """
    Return whether the running cell's output reaches a frontend that renders widgets.

    True inside an IPython kernel with ipywidgets installed when the current ``execute_request``
    carries a ``cellId`` in its metadata (JupyterLab, Notebook 7); False in papermill, nbconvert,
    nbval, a terminal or plain Python. ``KIT_INTERACTIVE=1`` or ``0`` overrides the test.

    >>> widget_frontend()  # plain Python: no kernel
    False
    """
    forced = os.environ.get(ENVIRONMENT, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    ipython_module = sys.modules.get("IPython")
    ipython = ipython_module.get_ipython() if ipython_module is not None else None
    kernel = getattr(ipython, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return False
    try:
        request = kernel.get_parent("shell") or {}
    except Exception:  # noqa: BLE001 - an unknown kernel: no widgets rather than a failed cell
        return False
    if "cellId" not in (request.get("metadata") or {}):
        return False
    return importlib.util.find_spec("ipywidgets") is not None


def _interactive(interactive: bool | None) -> bool:
    return widget_frontend() if interactive is None else bool(interactive)


def _display(*objects, raw: bool = False) -> None:
    from IPython.display import display

    display(*objects, raw=raw)


def _html(markup: str, text: str) -> None:
    """Display HTML markup with its plain-text twin (what a terminal or a text diff shows)."""
    _display({"text/html": markup, "text/plain": text}, raw=True)


# --- formatting: kit.display's, the one formatter of the report and the notebook --------------------------


def _currency(frame: pd.DataFrame, currency: str | None) -> str | None:
    return currency if currency is not None else display.meta(frame).get("currency")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with a named index (a matrix's rows) as its first columns."""
    return frame.reset_index() if any(name is not None for name in frame.index.names) else frame


def static_html(frame: pd.DataFrame, *, currency: str | None = None) -> str:
    """
    Return a kit table as plain formatted HTML (:func:`kit.display.frame_html`; no script).

    >>> page = static_html(pd.DataFrame({"customer_id": ["<a>"], "expansion": [150]}), currency="EUR")
    >>> "&lt;a&gt;" in page, "€1.50" in page, "<script" in page
    (True, True, False)
    """
    return display.frame_html(frame, currency=_currency(frame, currency))


def plain_text(frame: pd.DataFrame, *, currency: str | None = None) -> str:
    """
    Return a kit table as aligned text, formatted as in the HTML (:func:`kit.display.formatted`).

    >>> print(plain_text(pd.DataFrame({"customer_id": ["a", "b"], "expansion": [150, 99]}), currency="USD"))
    customer_id expansion
              a     $1.50
              b     $0.99
    """
    return repr(display.formatted(frame, currency=_currency(frame, currency)))


# --- searchable tables ------------------------------------------------------------------------------------

_TABLES_LOADED = False


def _load_datatables() -> None:
    """Put the DataTables library into the notebook, once per kernel (itables' offline mode)."""
    global _TABLES_LOADED
    if not _TABLES_LOADED:
        import itables

        itables.init_notebook_mode(all_interactive=False, connected=False)  # pandas' own display is left alone
        _TABLES_LOADED = True


def datatable_frame(frame: pd.DataFrame, *, currency: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """
    Return the frame a searchable table shows, and the DataTables column settings that sort it by number.

    Each money, rate or count column is shown as its formatted text; a hidden twin column holds the
    number the visible one sorts by (``orderData``), so ``$900.00`` sorts below ``$1,000.00``. Numbers are
    aligned right, text left.

    >>> shown, columns = datatable_frame(pd.DataFrame({"customer_id": ["a"], "expansion": [150]}), currency="USD")
    >>> shown.values.tolist()
    [['a', '$1.50', 150]]
    >>> for setting in columns:
    ...     print(setting)
    {'targets': [1], 'orderData': [2]}
    {'targets': [2], 'visible': False, 'searchable': False}
    {'targets': [0], 'className': 'dt-left'}
    {'targets': [1], 'className': 'dt-right'}
    """
    currency = _currency(frame, currency)
    source, kinds = _flat(frame), display.meta(frame).get("kinds")
    shown, hidden, column_defs = {}, {}, []
    for position, column in enumerate(source.columns):
        values = source.iloc[:, position]
        kind = display.column_kind(column, kinds)
        shown[str(column)] = [display.cell_text(v, kind, currency) for v in values]
        if kind in NUMERIC:
            hidden[f"{column} (number)"] = values.astype("float64").to_numpy()
    names = list(shown)
    for twin, name in enumerate(hidden, start=len(names)):
        column_defs.append({"targets": [names.index(name.removesuffix(" (number)"))], "orderData": [twin]})
    if hidden:
        column_defs.append({"targets": list(range(len(names), len(names) + len(hidden))), "visible": False,
                            "searchable": False})  # fmt: skip
    numeric = [names.index(name.removesuffix(" (number)")) for name in hidden]
    text = [i for i in range(len(names)) if i not in numeric]
    for targets, side in ((text, "dt-left"), (numeric, "dt-right")):
        if targets:
            column_defs.append({"targets": targets, "className": side})
    out = pd.DataFrame({**shown, **hidden}, index=range(len(source)))
    for name in hidden:  # whole numbers stay integers (cents, counts): no ".0" in the data
        column = out[name]
        if column.notna().all() and (column == column.round()).all():
            out[name] = column.astype("int64")
    return out, column_defs


@dataclass
class Table:
    """
    A table that displays as a searchable DataTable where a widget frontend runs, else as formatted HTML.

    ``.frame`` is the table itself (money in integer cents).
    """

    frame: pd.DataFrame
    searchable: bool = True
    currency: str | None = None
    caption: str | None = None
    interactive: bool | None = None
    page_length: int = 10

    def html(self) -> str:
        """Return the static HTML (what an HTML export holds)."""
        page = static_html(self.frame, currency=self.currency)
        return (f"<p><strong>{nv.esc(self.caption)}</strong></p>" if self.caption else "") + page

    def datatable_html(self) -> str:
        """
        Return the searchable table's HTML (itables, offline: the library is loaded by :func:`table`).

        As :func:`itables.to_html_datatable` builds it, but what shows before the script runs (an untrusted
        notebook, a page without JavaScript) is the kit's formatted table, not itables' plain copy of the
        data (which would show the hidden sort columns' raw cents).
        """
        from itables import javascript as dt

        shown, column_defs = datatable_frame(self.frame, currency=self.currency)
        options = {"connected": False, "showIndex": False, "columnDefs": column_defs, "pageLength": self.page_length,
                   "maxBytes": "4MB", "classes": "display compact"}  # fmt: skip
        options["table_id"] = table_id = dt.check_table_id(None, options, df=shown)
        caption = html.escape(self.caption) if self.caption else self.caption  # DataTables inserts it as HTML
        arguments = dt.get_itable_arguments(shown, caption, **options)
        url, connected = arguments.pop("dt_url"), arguments.pop("connected")
        logo = arguments.pop("display_logo_when_loading", False)
        return dt.html_table_from_template(table_id=table_id, dt_url=url, connected=connected,
                                           display_logo_when_loading=logo, kwargs=arguments,
                                           fallback_html=self.html())  # fmt: skip

    def _ipython_display_(self) -> None:
        if self.searchable and _interactive(self.interactive):
            _load_datatables()
            _html(self.datatable_html(), plain_text(self.frame, currency=self.currency))
        else:
            _html(self.html(), plain_text(self.frame, currency=self.currency))


def table(frame: pd.DataFrame, *, searchable: bool = True, currency: str | None = None, caption: str | None = None,
          interactive: bool | None = None, page_length: int = 10) -> Table:  # fmt: skip
    """
    Show a customer list (or any kit table) as a sortable, searchable table.

    Where a widget frontend runs (:func:`widget_frontend`), the table is a DataTable (itables in its
    offline mode: search box, sortable columns, pages of ``page_length`` rows; money, rates and counts
    formatted and sorted by their numbers). Elsewhere, and with ``searchable=False``, it is the report's
    formatted HTML table, with no script.

    Parameters
    ----------
    frame : DataFrame
        A table of the kit, e.g. ``kit.top_expanders(moves, n=100)`` or a drill-down; money in integer cents.
    searchable : bool
        False: always the static table.
    currency : str, optional
        The currency of the money columns; default: the frame's tag (``frame.attrs["kit"]``), else none.
    caption : str, optional
        A line above the table.
    interactive : bool, optional
        Force the searchable (True) or the static (False) table; default: :func:`widget_frontend`.
    page_length : int
        Rows per page of the searchable table.

    Returns
    -------
    Table
        Displays itself; ``.frame`` is ``frame``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"kit.table shows a DataFrame, not {type(frame).__name__}")
    return Table(frame, searchable=searchable, currency=currency, caption=caption, interactive=interactive,
                 page_length=page_length)  # fmt: skip


# --- the explorer -----------------------------------------------------------------------------------------


def segments_of(ledger: Ledger) -> dict[str, list[str]]:
    """
    Return the ledger's segment attributes and their values (names and currencies are no segments).

    Parameters
    ----------
    ledger : Ledger

    Returns
    -------
    dict
        ``{attribute: [value, ...]}`` for attributes with at most :data:`MOST_SEGMENT_VALUES` values, the
        coarsest first (fewest values: size and region before plan).
    """
    out = {}
    for attribute in ledger.attributes:
        if attribute in NOT_SEGMENTS:
            continue
        column = ledger.frame[attribute]
        values = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else column.unique()
        values = sorted(str(v) for v in values if not pd.isna(v) and str(v).strip())
        if 0 < len(values) <= MOST_SEGMENT_VALUES:
            out[attribute] = values
    return dict(sorted(out.items(), key=lambda item: len(item[1])))  # stable: the ledger's order among equals


def _segment_text(segment: tuple[str, str] | None) -> str:
    return ALL_CUSTOMERS if segment is None else f"{segment[0]}: {segment[1]}"


def _map_range(labels: list[str], start: str | None, end: str | None) -> tuple[str, str]:
    """Return the labels of ``labels`` that best cover ``start`` to ``end`` (labels of any grain), as months."""
    if not labels:
        raise ParameterError("the ledger has no period after its baseline to show")
    first = labels[0] if not start else next((p for p in labels if end_month(p) >= start_month(start)), labels[-1])
    last = labels[-1] if not end else next((p for p in reversed(labels) if start_month(p) <= end_month(end)), first)
    if labels.index(last) < labels.index(first):
        last = first
    return first, last


@dataclass
class Explorer:
    """
    Pickers over one ledger: grain, segment, netting and range; the charts and summary table they redraw.

    Displays as widgets where a widget frontend runs (:func:`widget_frontend`), else as the static
    chart and table of the current selection. The selection is plain attributes (``period``,
    ``netting``, ``segment``, ``start``, ``end``); :meth:`summary` is the table shown, as numbers.
    """

    ledger: Ledger
    period: str = "quarter"
    netting: str = "customer"
    segment: tuple[str, str] | None = None
    start: str | None = None
    end: str | None = None
    reactivation_window: int | None = None
    interactive: bool | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.select(period=self.period, netting=self.netting, segment=self.segment, start=self.start, end=self.end)

    # the selection ------------------------------------------------------------------------------------------

    def select(self, *, period=None, netting=None, segment=..., start=..., end=...) -> Explorer:
        """Change the selection (checked: grain, netting, segment and labels); return the explorer."""
        period = self.period if period is None else period
        netting = self.netting if netting is None else netting
        if period not in GRAINS:
            raise ParameterError(f"period must be one of {', '.join(GRAINS)}, not {period!r}")
        if netting not in NETTINGS:
            raise ParameterError(f"netting must be one of {', '.join(NETTINGS)}, not {netting!r}")
        segment = self.segment if segment is ... else segment
        if segment is not None:
            segment = tuple(segment)
            known = segments_of(self.ledger)
            if len(segment) != 2 or segment[0] not in known or str(segment[1]) not in known[segment[0]]:
                choices = "; ".join(f"{a}: {', '.join(v)}" for a, v in known.items()) or "none"
                raise ParameterError(f"segment {segment!r} is not an (attribute, value) of this ledger ({choices})")
            segment = (segment[0], str(segment[1]))
        start = self.start if start is ... else start
        end = self.end if end is ... else end
        for name, value in (("start", start), ("end", end)):
            if value is not None and not is_label(str(value)):
                raise ParameterError(f"{name} {value!r} is no period label (e.g. 2025-01, 2025-Q1, 2025)")
        self.period, self.netting, self.segment = period, netting, segment
        labels = self.labels()
        self.start, self.end = _map_range(labels, start and str(start), end and str(end))
        return self

    def labels(self) -> list[str]:
        """Return the period labels of the current grain (the range picker's choices)."""
        return self._summary_of(self.period, self.netting, None)["period"].astype(str).tolist()

    def _summary_of(self, period: str, netting: str, by: str | None) -> pd.DataFrame:
        key = (period, netting, by)
        if key not in self._cache:
            self._cache[key] = summarize(self.ledger, period=period, netting=netting,
                                         reactivation_window=self.reactivation_window, by=by)  # fmt: skip
        return self._cache[key]

    def summary(self) -> pd.DataFrame:
        """
        Return the summary of the selection: one row per period from ``start`` to ``end``.

        For a segment, the rows of ``kit.summarize(ledger, by=attribute)`` for its value (each customer
        counted in its segment at the start of the period; new and reactivated ones at the end).
        """
        if self.segment is None:
            table = self._summary_of(self.period, self.netting, None)
        else:
            attribute, value = self.segment
            table = self._summary_of(self.period, self.netting, attribute)
            table = table.loc[table[attribute].astype(str) == value].drop(columns=attribute)
        return display.tag(between(table, self.start, self.end), "summary", self.ledger, period=self.period,
                           netting=self.netting)  # fmt: skip

    def title(self) -> str:
        """Describe the selection in one line."""
        grain = f"{self.period.capitalize()}ly"  # Monthly, Quarterly, Yearly
        return f"{grain}, {self.netting} netting, {_segment_text(self.segment)}, {self.start} to {self.end}"

    # what is drawn ------------------------------------------------------------------------------------------

    def figure(self):
        """Return the figure of the selection: the MRR bridge per period and both expansion rates."""
        from matplotlib.figure import Figure

        from kit import plots

        table = self.summary()
        fig = Figure(figsize=(13, 4.4))
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        plots.bridge_over_time(table, currency=self.ledger.currency, ax=left)
        plots.rates_over_time(table, ax=right)
        return fig

    def draw(self, note: str | None = None) -> None:
        """Display the selection's title (and ``note``), its chart and its summary table: plain output, no script."""
        from kit import plots

        title = self.title() + (f" ({note})" if note else "")
        _html(f"<p><strong>{nv.esc(self.title())}</strong>{nv.esc(f' ({note})' if note else '')}</p>", title)
        plots.show(self.figure(), f"MRR movements per period and both expansion rates: {self.title()}")
        table = self.summary()
        _html(static_html(table, currency=self.ledger.currency), plain_text(table, currency=self.ledger.currency))

    # the widgets --------------------------------------------------------------------------------------------

    def widgets(self):
        """Return the pickers and the output they redraw, as one ipywidgets box (not displayed)."""
        import ipywidgets as w

        choices = {ALL_CUSTOMERS: None}  # a picker's value None means "nothing picked": named values instead
        choices.update(
            {_segment_text((a, v)): (a, v) for a, values in segments_of(self.ledger).items() for v in values}
        )
        grain = w.Dropdown(options=list(GRAINS), value=self.period, description="grain")
        netting = w.Dropdown(options=list(NETTINGS), value=self.netting, description="netting")
        segment = w.Dropdown(options=list(choices), value=_segment_text(self.segment), description="segment")
        labels = self.labels()
        span = w.SelectionRangeSlider(options=labels, index=(labels.index(self.start), labels.index(self.end)),
                                      description="range", continuous_update=False,
                                      layout=w.Layout(width="640px"))  # fmt: skip
        out = w.Output()
        busy = {"on": False}  # a grain change rebuilds the range's options: one redraw, not three

        def redraw(_=None):
            if busy["on"]:
                return
            busy["on"] = True
            try:
                if grain.value != self.period:
                    self.select(period=grain.value)
                    span.options = self.labels()
                    span.value = (self.start, self.end)
                self.select(
                    netting=netting.value, segment=choices[segment.value], start=span.value[0], end=span.value[1]
                )
                with out:
                    out.clear_output(wait=True)
                    self.draw()
            finally:
                busy["on"] = False

        for picker in (grain, netting, segment, span):
            picker.observe(redraw, names="value")
        redraw()
        return w.VBox([w.HBox([grain, netting, segment]), span, out])

    def _ipython_display_(self) -> None:
        if _interactive(self.interactive):
            _display(self.widgets())
        else:
            self.draw(note="static output: the pickers appear where a widget frontend runs, e.g. JupyterLab")


def explorer(ledger: Ledger, *, period: str = "quarter", netting: str = "customer",
             segment: tuple[str, str] | None = None, start: str | None = None, end: str | None = None,
             last: int | None = None, reactivation_window: int | None = None,
             interactive: bool | None = None) -> Explorer:  # fmt: skip
    """
    Explore one ledger with pickers for grain, segment, netting and range.

    Each change redraws the MRR bridge per period, both expansion rates (:mod:`kit.plots`) and the
    summary table of the selection. Where no widget frontend runs (papermill, nbconvert, nbval) it
    displays the chart and the table of the starting selection, with no widget and no script.

    Parameters
    ----------
    ledger : Ledger
        From :func:`kit.load_ledger`.
    period : {"month", "quarter", "year"}
        The starting grain.
    netting : {"customer", "product"}
    segment : (str, str), optional
        An attribute and one of its values, e.g. ``("size", "SMB")``; default: all customers.
    start, end : str, optional
        Period labels of any grain (``2025-Q1``, ``2025-03``, ``2025``); default: every period.
    last : int, optional
        Instead of ``start``: the last ``last`` periods up to ``end`` (``last=4`` with quarters: the last year).
    reactivation_window : int, optional
        As in :func:`kit.summarize` (fixed for the explorer).
    interactive : bool, optional
        Force the pickers (True) or the static output (False); default: :func:`widget_frontend`.

    Returns
    -------
    Explorer
        Displays itself; ``.summary()`` is the table of the selection, money in integer cents.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", f"2024-0{m}", "10") for m in (1, 2, 3, 4, 5)] + [("a", "P", "2024-06", "15"),
    ...         ("b", "P", "2024-06", "8")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> view = explorer(ledger, period="month", start="2024-05")
    >>> view.summary()[["period", "mrr_start", "upsell", "new", "mrr_end"]]
        period  mrr_start  upsell  new  mrr_end
    0  2024-05       1000       0    0     1000
    1  2024-06       1000     500  800     2300
    >>> view.select(period="quarter").start, view.end
    ('2024-Q2', '2024-Q2')
    >>> explorer(ledger, period="month", last=2).start
    '2024-05'
    """
    if last is not None and start is not None:
        raise ParameterError("give start or last, not both")
    view = Explorer(ledger, period=period, netting=netting, segment=segment, start=start, end=end,
                    reactivation_window=reactivation_window, interactive=interactive)  # fmt: skip
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise ParameterError(f"last must be a whole number of periods, 1 or more, not {last!r}")
        labels = view.labels()
        view.select(start=labels[max(0, labels.index(view.end) - last + 1)])
    return view


__all__ = ["ENVIRONMENT", "Explorer", "Table", "explorer", "segments_of", "table", "widget_frontend"]
