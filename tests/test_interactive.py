"""kit.interactive: pickers and searchable tables where a widget frontend runs, static output elsewhere."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

import kit
from kit import config
from kit import interactive as ia
from kit.errors import ParameterError


@pytest.fixture(scope="module")
def sample() -> kit.Ledger:
    return kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)


@pytest.fixture
def shown(monkeypatch):
    """Collect what the module displays (instead of IPython's display)."""
    import IPython.display

    out = []

    def collect(*objects, raw=False, **options):
        out.extend(objects)

    monkeypatch.setattr(ia, "_display", collect)
    monkeypatch.setattr(IPython.display, "display", collect)  # kit.plots.show displays the charts itself
    return out


def fake_kernel(monkeypatch, metadata: dict | None):
    """Pretend to run inside an IPython kernel whose current request carries ``metadata``."""
    request = {"header": {"msg_type": "execute_request"}, "metadata": metadata}
    kernel = types.SimpleNamespace(get_parent=lambda channel=None: request)
    ipython = types.SimpleNamespace(kernel=kernel)
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: ipython
    monkeypatch.setitem(sys.modules, "IPython", module)


# --- where we run -------------------------------------------------------------------------------------------


def test_plain_python_has_no_widget_frontend(monkeypatch):
    monkeypatch.delenv(ia.ENVIRONMENT, raising=False)
    assert ia.widget_frontend() is False


def test_a_request_from_jupyterlab_names_its_cell(monkeypatch):
    monkeypatch.delenv(ia.ENVIRONMENT, raising=False)
    fake_kernel(monkeypatch, {"cellId": "3e3b367c", "deletedCells": [], "recordTiming": False})
    assert ia.widget_frontend() is True


@pytest.mark.parametrize("metadata", [{}, None], ids=["nbclient-papermill-nbval", "no-metadata"])
def test_a_headless_client_sends_no_cell_id(monkeypatch, metadata):
    monkeypatch.delenv(ia.ENVIRONMENT, raising=False)
    fake_kernel(monkeypatch, metadata)
    assert ia.widget_frontend() is False


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True)], ids=["forced-static", "forced-widgets"])
def test_the_environment_overrides_the_test(monkeypatch, value, expected):
    fake_kernel(monkeypatch, {"cellId": "x"} if value == "0" else {})
    monkeypatch.setenv(ia.ENVIRONMENT, value)
    assert ia.widget_frontend() is expected


# --- formatting ---------------------------------------------------------------------------------------------


def test_static_html_is_plain_markup_escaped():
    frame = pd.DataFrame({"customer_id": ["<script>alert(1)</script>"], "expansion": [123450], "share": [0.5]})
    page = ia.static_html(frame, currency="USD")
    assert "$1,234.50" in page and "50.0%" in page
    assert "<script" not in page and "&lt;script&gt;" in page


def test_datatable_columns_sort_by_their_numbers():
    frame = pd.DataFrame({"customer_id": ["a", "b"], "expansion": [90000, 100000], "share": [0.4, float("nan")]})
    shown, column_defs = ia.datatable_frame(frame, currency="USD")
    assert shown["expansion"].tolist() == ["$900.00", "$1,000.00"]
    assert shown["share"].tolist() == ["40.0%", "n/a"]
    assert shown["expansion (number)"].tolist() == [90000, 100000]  # integer cents: sorted as numbers
    assert {"targets": [1], "orderData": [3]} in column_defs and {"targets": [2], "orderData": [4]} in column_defs
    assert {"targets": [3, 4], "visible": False, "searchable": False} in column_defs


# --- tables -------------------------------------------------------------------------------------------------


def test_a_table_without_widget_frontend_is_static(shown):
    frame = pd.DataFrame({"customer_id": ["C1"], "expansion": [123450]})
    kit.interactive.table(frame, currency="USD", interactive=False)._ipython_display_()
    (bundle,) = shown
    assert "$1,234.50" in bundle["text/html"] and "<script" not in bundle["text/html"]


def test_a_searchable_table_loads_datatables_once_offline(shown, monkeypatch):
    loaded = []
    monkeypatch.setattr(ia, "_TABLES_LOADED", False)
    import itables

    monkeypatch.setattr(itables, "init_notebook_mode", lambda **options: loaded.append(options))
    frame = pd.DataFrame({"customer_id": ["C1", "C2"], "expansion": [123450, 500]})
    for _ in range(2):
        ia.table(frame, currency="USD", interactive=True)._ipython_display_()
    assert loaded == [{"all_interactive": False, "connected": False}]  # pandas' own display left alone
    page = shown[0]["text/html"]
    assert "$1,234.50" in page and "<script" in page and "cdn" not in page.lower()  # offline: nothing fetched
    fallback = page[page.index("_fallback") : page.index("<script")]
    assert "$1,234.50" in fallback and "123450" not in fallback  # before the script runs: the formatted table


def test_a_table_needs_a_frame():
    with pytest.raises(ParameterError, match="kit.table shows a DataFrame, not list"):
        ia.table([1, 2])


# --- the explorer -------------------------------------------------------------------------------------------


def test_segments_are_the_attributes_with_few_values(sample):
    segments = ia.segments_of(sample)
    assert "customer_name" not in segments and "currency" not in segments
    assert list(segments) == ["size", "region", "plan"]  # the coarsest first
    assert segments["size"] == ["Enterprise", "Mid-Market", "SMB"]


def test_the_explorer_summary_is_the_summarize_rows_of_the_selection(sample):
    view = ia.explorer(sample, period="quarter", segment=("size", "SMB"), start="2025-Q1", end="2025-Q4")
    expected = kit.summarize(sample, period="quarter", by="size")
    expected = expected.loc[expected["size"].astype(str) == "SMB"].drop(columns="size")
    expected = expected.loc[expected["period"].isin(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"])]
    got = view.summary()
    assert got["period"].tolist() == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert got.attrs["kit"]["currency"] == "USD"


def test_a_grain_change_keeps_the_months_of_the_range(sample):
    view = ia.explorer(sample, period="quarter", start="2025-Q2", end="2025-Q3")
    assert (view.select(period="month").start, view.end) == ("2025-04", "2025-09")
    assert (view.select(period="year").start, view.end) == ("2025", "2025")
    assert view.select(netting="product").summary()["period"].tolist() == ["2025"]


def test_last_counts_periods_back_from_the_end(sample):
    assert (ia.explorer(sample, period="quarter", last=4).start, ia.explorer(sample, last=4).end) == (
        "2025-Q1",
        "2025-Q4",
    )
    assert ia.explorer(sample, period="month", last=3, end="2025-06").start == "2025-04"
    with pytest.raises(ParameterError, match="give start or last, not both"):
        ia.explorer(sample, start="2025-Q1", last=2)
    with pytest.raises(ParameterError, match="last must be a whole number of periods, 1 or more, not 0"):
        ia.explorer(sample, last=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"period": "week"}, "period must be one of month, quarter, year, not 'week'"),
     ({"netting": "gross"}, "netting must be one of customer, product, not 'gross'"),
     ({"segment": ("size", "Huge")}, r"segment \('size', 'Huge'\) is not an \(attribute, value\) of this ledger"),
     ({"start": "Q4"}, "start 'Q4' is no period label")],
    ids=["grain", "netting", "segment", "label"],
)  # fmt: skip
def test_a_bad_selection_names_the_choices(sample, options, message):
    with pytest.raises(ParameterError, match=message):
        ia.explorer(sample, **options)


def test_the_static_explorer_is_a_chart_and_a_table_with_no_script(sample, shown):
    ia.explorer(sample, start="2025-Q1", interactive=False)._ipython_display_()
    kinds = [sorted(b) for b in shown]
    assert kinds == [["text/html", "text/plain"], ["image/png", "text/plain"], ["text/html", "text/plain"]]
    assert "Quarterly, customer netting, all customers, 2025-Q1 to 2025-Q4" in shown[0]["text/html"]
    table = shown[2]["text/html"]
    assert "$" in shown[2]["text/plain"] and "%" in shown[2]["text/plain"]  # the text twin is formatted too
    assert "$" in table and "%" in table and "<script" not in table


def test_the_pickers_redraw_the_selection(sample, shown, monkeypatch):
    drawn = []
    view = ia.explorer(sample, start="2025-Q1", interactive=True)
    selection = lambda note=None: drawn.append((view.period, view.netting, view.segment, view.start, view.end))  # noqa: E731
    monkeypatch.setattr(view, "draw", selection)
    view._ipython_display_()
    (box,) = shown
    pickers = {child.description: child for row in box.children[:1] for child in row.children}
    span = box.children[1]
    assert drawn == [("quarter", "customer", None, "2025-Q1", "2025-Q4")]
    pickers["grain"].value = "month"
    assert drawn[-1] == ("month", "customer", None, "2025-01", "2025-12") and len(drawn) == 2  # one redraw
    assert span.options[0] == "2023-01" and span.value == ("2025-01", "2025-12")
    pickers["netting"].value = "product"
    assert pickers["segment"].value == "all customers"
    pickers["segment"].value = "region: EMEA"
    span.value = ("2025-06", "2025-12")
    assert drawn[-1] == ("month", "product", ("region", "EMEA"), "2025-06", "2025-12")
