"""The spreadsheet out (kit.workbook.to_excel, kit report --xlsx): read back with openpyxl."""

from __future__ import annotations

import os

import numpy as np
import openpyxl
import pandas as pd
import pytest

import kit
from kit import display
from kit.cli import main
from kit.errors import OutputError
from kit.report import load_options, validate_parameters
from kit.workbook import money_format, sheet_name, to_excel

USD = '"$"#,##0.00;-"$"#,##0.00'


@pytest.fixture(scope="module")
def run():
    """The report's tables on the bundled sample by year, as the report notebook computes them."""
    params = validate_parameters({"period": "year"})  # the smallest movements: the sheets are read back
    return kit.analyse(kit.load_ledger(**load_options(params), fx_reference=True), params)


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def hand_made() -> dict[str, pd.DataFrame]:
    frame = pd.DataFrame({"period": ["2025-Q3", "2025-Q4"], "mrr_start": [123450, -5000], "nrr": [0.125, np.nan],
                          "customers_start": [1234, 0], "quick_ratio": [2.5, np.nan],
                          "customer_name": ["=1+1", "@SUM(A1)"]})  # fmt: skip
    return {"summary": frame}


def test_money_is_major_units_with_a_currency_format_and_rates_are_percentages(tmp_path):
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", hand_made(), currency="USD"))
    sheet = book["summary"]
    assert rows(sheet)[0] == ("period", "mrr_start", "nrr", "customers_start", "quick_ratio", "customer_name")
    assert [c.value for c in sheet[2]][:5] == ["2025-Q3", 1234.5, 0.125, 1234, 2.5]
    assert [c.value for c in sheet[3]][:5] == ["2025-Q4", -50, None, 0, None]  # NaN: an empty cell
    assert [c.number_format for c in sheet[2]][1:5] == [USD, "0.0%", "#,##0", "0.00"]
    assert sheet.freeze_panes == "A2"


def test_text_from_the_data_that_looks_like_a_formula_stays_text(tmp_path):
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", hand_made(), currency="USD"))
    for cell in (book["summary"]["F2"], book["summary"]["F3"]):
        assert cell.data_type == "s" and cell.quotePrefix
    assert [book["summary"]["F2"].value, book["summary"]["F3"].value] == ["=1+1", "@SUM(A1)"]
    columns = openpyxl.load_workbook(to_excel(tmp_path / "c.xlsx", {"x": pd.DataFrame({"=cmd": ["-2+3"]})}))["x"]
    assert (columns["A1"].value, columns["A1"].data_type, columns["A2"].value, columns["A2"].data_type) == (
        "=cmd", "s", "-2+3", "s")  # fmt: skip


@pytest.mark.parametrize(("currency", "shown"), [("USD", USD), ("EUR", '"€"#,##0.00;-"€"#,##0.00'),
                                                 ("CHF", '#,##0.00 "CHF";-#,##0.00 "CHF"'),
                                                 (None, "#,##0.00;-#,##0.00")], ids=str)  # fmt: skip
def test_money_formats_by_currency(currency, shown):
    assert money_format(currency) == shown


def test_the_currency_comes_from_each_tables_tag(tmp_path):
    tagged = display.tag(pd.DataFrame({"upsell": [150]}), "summary", "EUR")
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", {"eur": tagged, "plain": pd.DataFrame({"upsell": [1]})},
                                           currency="USD"))  # fmt: skip
    assert book["eur"]["A2"].number_format == money_format("EUR") and book["eur"]["A2"].value == 1.5
    assert book["plain"]["A2"].number_format == USD and book["plain"]["A2"].value == 0.01


def test_sheet_names_are_made_safe_and_unique(tmp_path):
    tables = {"by [size]: a/b?": pd.DataFrame({"a": [1]}), "x" * 40: pd.DataFrame({"a": [2]}),
              "X" * 40: pd.DataFrame({"a": [3]}), "": pd.DataFrame({"a": [4]})}  # fmt: skip
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", tables))
    assert book.sheetnames == ["by _size__ a_b_", "x" * 31, "X" * 27 + " (2)", "sheet"]
    assert [book[name]["A2"].value for name in book.sheetnames] == [1, 2, 3, 4]
    assert all(len(name) <= 31 for name in book.sheetnames)
    assert sheet_name("parameters", {"Parameters"}) == "parameters (2)"


def test_a_matrix_keeps_its_rows(tmp_path):
    matrix = pd.DataFrame([[0, 3], [1, 0]], index=pd.Index(["P", "Q"], name="held"),
                          columns=pd.Index(["P", "Q"], name="added"))  # fmt: skip
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", {"cross-sell": matrix}))
    assert rows(book["cross-sell"]) == [("held", "P", "Q"), ("P", 0, 3), ("Q", 1, 0)]


def test_a_report_run_gives_every_table_its_parameters_and_data_quality(tmp_path, run):
    book = openpyxl.load_workbook(to_excel(tmp_path / "run.xlsx", run), read_only=True)
    # no "periods shown" sheet: without start or end it would repeat the summary
    assert book.sheetnames == ["summary", "by size", "cohorts", "cross-sell matrix", "plan changes",
                               "top expanders", "concentration", "trailing NRR", "movements", "cross-sell pairs",
                               "summary, other FX mode", "parameters", "data quality"]  # fmt: skip
    pairs = rows(book["cross-sell pairs"])
    assert pairs[0] == ("held", "added", "customers", "mrr_added")
    product = kit.summarize(run.ledger, period="year", netting="product")
    assert round(sum(r[3] for r in pairs[1:]) * 100) >= product["cross_sell"].sum() > 0  # counted once per product held
    summary = rows(book["summary"])
    assert list(summary[0]) == list(run.summary.columns)
    assert [r[list(run.summary.columns).index("expansion")] for r in summary[1:]] == [
        v / 100 for v in run.summary["expansion"]]  # fmt: skip
    assert len(rows(book["movements"])) == len(run.movements) + 1
    parameters = dict(rows(book["parameters"])[1:])
    assert parameters["period"] == "year" and parameters["netting"] == "customer"
    quality = rows(book["data quality"])
    assert ("rows read", "9,698") in [r[:2] for r in quality] and ("rows excluded", "0") in [r[:2] for r in quality]
    assert quality[0] == ("Data quality", None, None)


def test_a_database_password_never_reaches_the_workbook(tmp_path):
    parameters = {"data": "postgresql://me:s3cret@db/x", "filters": {"size": ["SMB", "Mid"]}}
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", {}, parameters=parameters))
    assert rows(book["parameters"]) == [("parameter", "value"), ("data", "postgresql://me:***@db/x"),
                                        ("filters", "size = SMB, Mid")]  # fmt: skip


def test_the_workbook_is_written_atomically_and_only_to_a_regular_file(tmp_path):
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    to_excel(target, hand_made())
    assert openpyxl.load_workbook(target).sheetnames == ["summary"] and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]  # no temporary file left
    link = tmp_path / "link.xlsx"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="is a symbolic link"):
        to_excel(link, hand_made())


def test_kit_report_xlsx_writes_the_workbook_beside_the_html(tmp_path, monkeypatch, capsys):
    import kit.report

    reads = []
    real = kit.report.render_report
    monkeypatch.setattr(kit.report, "render_report", lambda *a, **k: reads.append(k) or real(*a, **k))
    assert main(["report", "--output-dir", str(tmp_path), "--name", "r", "--period", "year", "--xlsx"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / 'r.html'}", f"wrote {tmp_path / 'r.xlsx'}"]
    assert reads == [{"output_dir": str(tmp_path), "name": "r", "xlsx": True}]  # one run: the notebook wrote it
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    assert book["summary"]["A2"].value == "2023" and book["summary"]["B3"].number_format == USD
    assert dict(rows(book["parameters"])[1:])["period"] == "year"
    expected = kit.summarize(kit.load_ledger(kit.config.SAMPLE_SUBSCRIPTIONS, fx=kit.config.SAMPLE_FX), period="year")
    sheet = rows(book["summary"])
    column = sheet[0].index("expansion")
    assert [round(r[column] * 100) for r in sheet[1:]] == expected["expansion"].tolist()  # the report's own numbers
    assert main(["report", "--output-dir", str(tmp_path), "--name", "s"]) == 0  # without --xlsx: no workbook
    assert not (tmp_path / "s.xlsx").exists() and "EXPANSION_KIT_WORKBOOK" not in os.environ


def test_a_list_of_the_kits_tables_is_named_by_their_tags(tmp_path):
    summary = display.tag(pd.DataFrame({"upsell": [100]}), "summary", "USD")
    cohorts = display.tag(pd.DataFrame({"mrr_start": [200]}), "cohorts", "USD")
    book = openpyxl.load_workbook(to_excel(tmp_path / "t.xlsx", [summary, cohorts, summary, pd.DataFrame({"a": [1]})]))
    assert book.sheetnames == ["summary", "cohorts", "summary (2)", "table 4"]
    assert book["cohorts"]["A2"].value == 2 and book["cohorts"]["A2"].number_format == USD


def test_to_excel_refuses_another_suffix_and_what_is_no_table(tmp_path):
    frame = pd.DataFrame({"upsell": [100]})
    with pytest.raises(kit.ParameterError, match=r"writes an .xlsx workbook, not 'a.csv'"):
        to_excel(tmp_path / "a.csv", {"t": frame})
    with pytest.raises(kit.ParameterError, match=r"not Series"):
        to_excel(tmp_path / "a.xlsx", frame["upsell"])
    assert not list(tmp_path.iterdir())
    book = openpyxl.load_workbook(to_excel(tmp_path / "one.xlsx", frame))  # one frame: one sheet
    assert book.sheetnames[0] == "table 1" and book["table 1"]["A2"].value == 1.0


def test_an_anonymised_report_workbook_holds_no_customer_name(tmp_path):
    assert (
        main(["report", "--output-dir", str(tmp_path), "--name", "a", "--period", "year", "--anonymise", "--xlsx"]) == 0
    )
    book = openpyxl.load_workbook(tmp_path / "a.xlsx", read_only=True)
    text = {str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row}
    assert "customer_name" not in text and "Atlas Logistics Inc" not in text
    assert "C00001" in text  # the ids stay
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.ipynb", "a.xlsx"]  # no temporary left


def test_a_workbook_keeps_a_tables_money_kinds_when_its_index_becomes_columns(tmp_path):
    frame = display.tag(pd.DataFrame({"Core": [500, 700]}, index=pd.Index(["2025-01", "2025-02"], name="month")),
                        "customer_history", "USD", kinds={"*": "money"})  # fmt: skip
    book = openpyxl.load_workbook(to_excel(tmp_path / "h.xlsx", {"history": frame}))
    assert book["history"]["B2"].value == 5.0 and book["history"]["B2"].number_format == USD


def test_to_excel_never_replaces_the_runs_own_input(tmp_path, run, monkeypatch):
    from kit.errors import KitError

    data = tmp_path / "billing.xlsx"
    data.write_bytes(b"input")
    monkeypatch.setattr(run, "params", {**run.params, "data": str(data)})  # the module's run is shared
    with pytest.raises(KitError, match="billing.xlsx"):
        to_excel(data, run)
    assert data.read_bytes() == b"input"


def test_a_workbook_path_left_in_the_callers_environment_never_reaches_the_kernel(tmp_path, monkeypatch):
    from kit.report import WORKBOOK_ENV

    stale = tmp_path / "elsewhere.xlsx"
    monkeypatch.setenv(WORKBOOK_ENV, str(stale))
    assert main(["report", "--output-dir", str(tmp_path), "--name", "n", "--period", "year"]) == 0
    assert not stale.exists() and not (tmp_path / "n.xlsx").exists()
    assert os.environ[WORKBOOK_ENV] == str(stale)  # set back as it was
