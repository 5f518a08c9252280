"""
End-to-end: the report notebook through papermill and nbconvert, checked on the HTML.

Each report is rendered once per test session (they take a few seconds each) and the
tests read the files: sections present, headline numbers equal to ``kit summary``, no
code, data text escaped, and the page seen by headless Chromium.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import PLAYBOOK

import kit
from kit import cli, config
from kit import narrative as nv
from kit.report import PARAMETERS, render_report

SECTIONS = ["Executive summary", "Methodology", "Results", "Benefits", "Limitations", "Appendix: data quality"]

# Text a billing export may well contain, none of which may act as HTML, markdown or maths.
SCRIPT_NAME = "<script>document.body.setAttribute('data-pwned','script')</script> Labs"
IMG_NAME = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\"> & Co"
MARKDOWN_NAME = "**Bold** & _Sons_ [click](javascript:alert(1))"
FORMULA_SIZE = '=HYPERLINK("http://evil.example","Enterprise")'
PLAN_A, PLAN_B = "Plan $5 to $10 <i>", "Ba$$in Pro"
PRODUCT = "<b>Core</b>"


def _text(page: str) -> str:
    """The visible text of an HTML page, roughly: tags dropped, entities decoded."""
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _card(page: str, label: str) -> str:
    """The value shown on the headline card ``label``."""
    match = re.search(rf'<div class="label">{re.escape(label)}</div><div class="value">([^<]*)</div>', page)
    assert match, f"no headline card {label!r}"
    return html.unescape(match.group(1))


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample-report")
    return render_report({}, output_dir=out, name="sample")


@pytest.fixture(scope="session")
def playbook_report(tmp_path_factory) -> Path:
    if not PLAYBOOK.is_file():
        pytest.skip("../shared/fixtures is not present (a user's clone)")
    out = tmp_path_factory.mktemp("playbook-report")
    params = {"data": str(PLAYBOOK), "mapping": {"monthly_amount": "amount"}, "defaults": {"billing_period": "month"},
              "title": "mrr-playbook", "company": "Playbook & <Co>"}  # fmt: skip
    return render_report(params, output_dir=out, name="playbook")


@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory) -> Path:
    """Subscriptions whose names, products, plans and segments carry HTML, markdown, maths and formulas."""
    rows = [
        "customer_id,customer_name,product,plan,size,start_date,end_date,amount,billing_period,quantity",
        f'H1,"{SCRIPT_NAME}",{PRODUCT},"{PLAN_A}","{FORMULA_SIZE.replace(chr(34), chr(34) * 2)}",'
        "2024-01-01,2024-04-01,100,month,1",
        f'H1,"{SCRIPT_NAME}",{PRODUCT},"{PLAN_B}","{FORMULA_SIZE.replace(chr(34), chr(34) * 2)}",'
        "2024-04-01,,300,month,1",
        f'H1,"{SCRIPT_NAME}",Analytics $5 to $10,"{PLAN_B}","{FORMULA_SIZE.replace(chr(34), chr(34) * 2)}",'
        "2024-03-01,,50,month,1",
        f'H2,"{IMG_NAME.replace(chr(34), chr(34) * 2)}",{PRODUCT},"{PLAN_A}",SMB,2024-01-01,,80,month,1',
        f'H2,"{IMG_NAME.replace(chr(34), chr(34) * 2)}",{PRODUCT},"{PLAN_A}",SMB,2024-05-01,,40,month,1',
        f'H3,"{MARKDOWN_NAME}",Analytics $5 to $10,"{PLAN_A}",SMB,2024-02-01,,60,month,2',
        f'H3,"{MARKDOWN_NAME}",{PRODUCT},"{PLAN_A}",SMB,2024-04-01,2024-06-01,10,month,1',
    ]
    path = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def hostile_report(hostile_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile-report")
    return render_report({"data": str(hostile_data), "as_of": "2024-06-30", "segment": "size",
                          "title": "<script>alert('title')</script>", "company": "**ACME** $1"},
                         output_dir=out, name="hostile")  # fmt: skip


# --- the sample report ------------------------------------------------------------------------


def test_sample_report_has_every_section_and_no_code(sample_report):
    page = sample_report.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert re.search(rf"<h2[^>]*>{re.escape(section)}", page), section
    for heading in ("The MRR bridge", "Retention", "Expansion by segment", "Signup cohorts",
                    "Cross-sell and plan changes", "Top expanding customers",
                    "Concentration of expansion"):  # fmt: skip
        assert heading in page, heading
    text = _text(page)
    for code in ("import kit", "load_ledger(", "display(HTML", "validate_parameters", "report complete",
                 "Traceback", "Error"):  # fmt: skip
        assert code not in text, code
    body = page.split("<body", 1)[1]
    for marker in ('class="highlight', "jp-CodeMirrorEditor", "jp-InputPrompt", "jp-OutputPrompt"):
        assert marker not in body, marker
    assert "No description has been provided" not in body and body.count('alt="') >= 5
    # self-contained: charts are embedded, nothing is fetched from elsewhere
    assert page.count("data:image/png;base64,") >= 6
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    # the executed notebook is kept beside it, with its outputs
    executed = nbformat.read(sample_report.with_suffix(".ipynb"), as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


def test_sample_headline_numbers_equal_the_cli_summary(sample_report, capsys):
    assert cli.main(["summary", str(config.SAMPLE_SUBSCRIPTIONS), "--fx", str(config.SAMPLE_FX)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, last = lines[0].split(","), dict(zip(lines[0].split(","), lines[-1].split(","), strict=True))
    assert header == kit.SUMMARY_COLUMNS
    page = sample_report.read_text(encoding="utf-8")
    dollars = f"${float(last['expansion']):,.2f}"
    assert _card(page, "Expansion MRR") == dollars
    assert _card(page, "Customer expansion rate") == f"{float(last['customer_expansion_rate']) * 100:.1f}%"
    assert _card(page, "Expansion MRR rate") == f"{float(last['expansion_mrr_rate']) * 100:.1f}%"
    assert _card(page, "NRR") == f"{float(last['nrr']) * 100:.1f}%"
    assert _card(page, "GRR") == f"{float(last['grr']) * 100:.1f}%"
    text = _text(page)
    assert f"In {last['period']}, existing customers added {dollars}" in text
    assert f"{int(last['customers_expanded']):,} of {int(last['customers_start']):,} customers" in text


def test_sample_report_states_parameters_methodology_and_quality(sample_report):
    text = _text(sample_report.read_text(encoding="utf-8"))
    assert "bundled sample (data/sample_subscriptions.csv)" in text
    for name in ("period", "netting", "reactivation window", "segment breakdown", "filters", "FX", "as of"):
        assert name in text, name
    assert "Netting: customer" in text and "converted to USD at one rate per currency" in text
    # the sample holds EUR and USD: the report shows the other FX mode too, so the currency effect is visible
    assert "at constant exchange rates (as in this report)" in text and "At each month's own exchange rate:" in text
    ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)
    q = ledger.quality
    assert f"{q.rows_read:,} read = {q.rows_used:,} used + {q.rows_excluded:,} excluded" in text


# --- the playbook fixture ---------------------------------------------------------------------


def test_playbook_report_matches_the_fixture_figures(playbook_report):
    page = playbook_report.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert re.search(rf"<h2[^>]*>{re.escape(section)}", page), section
    ledger = kit.load_ledger(PLAYBOOK, mapping={"monthly_amount": "amount"}, defaults={"billing_period": "month"})
    last = kit.summarize(ledger).iloc[-1]
    assert _card(page, "Expansion MRR") == nv.money(int(last["expansion"]), ledger.currency)
    assert _card(page, "NRR") == nv.pct(last["nrr"])
    text = _text(page)
    assert "Playbook & <Co>" in text and "Playbook &amp; &lt;Co&gt;" in page
    assert "<title>mrr-playbook</title>" in page
    assert "subscription_periods.csv" in text


# --- hostile text -----------------------------------------------------------------------------


def test_text_from_the_data_is_literal_in_the_html(hostile_report):
    page = hostile_report.read_text(encoding="utf-8")
    text = _text(page)
    for literal in (SCRIPT_NAME, IMG_NAME, MARKDOWN_NAME, "**ACME** $1", "<script>alert('title')</script>"):
        assert literal in text, literal
    assert html.escape(SCRIPT_NAME, quote=False) in page
    assert "<title>&lt;script&gt;alert('title')&lt;/script&gt;</title>" in page
    for raw in ("<script>document", "<img src=x", "<script>alert", "<b>Core</b>", "<i>"):
        assert raw not in page, raw
    assert "<strong>Bold</strong>" not in page and 'href="javascript' not in page
    # plan and segment values reach the tables as text too
    assert html.escape(PLAN_A, quote=False) in page and html.escape(FORMULA_SIZE, quote=False) in page


def test_wrong_parameters_stop_before_any_work(tmp_path):
    with pytest.raises(kit.ParameterError, match="reactivation_window must be int"):
        render_report({"reactivation_window": "007"}, output_dir=tmp_path)
    with pytest.raises(kit.ParameterError, match="unknown report parameter colour"):
        render_report({"colour": "red"}, output_dir=tmp_path)
    with pytest.raises(kit.ParameterError, match="name"):
        render_report({}, output_dir=tmp_path, name="../../escape")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_said_before_a_kernel_starts(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    with pytest.raises(kit.LoadError, match=r"missing\.csv: file not found"):
        render_report({"data": str(missing)}, output_dir=tmp_path, name="broken")
    with pytest.raises(kit.LoadError, match=r"fx\.csv: file not found"):
        render_report({"fx": str(tmp_path / "fx.csv")}, output_dir=tmp_path, name="broken")
    assert list(tmp_path.iterdir()) == []
    status = cli.main(["report", str(tmp_path / "nope.csv"), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_INPUT and err == f"error: {tmp_path / 'nope.csv'}: file not found\n"


def test_a_missing_file_removes_the_earlier_report_of_that_name(sample_report, tmp_path, monkeypatch):
    for suffix in (".html", ".ipynb", ".failed.ipynb"):
        shutil.copy(sample_report, tmp_path / f"weekly{suffix}")
    monkeypatch.chdir(tmp_path)  # a relative path is the caller's, not the notebook folder's
    with pytest.raises(kit.LoadError, match=rf"{re.escape(str(tmp_path / 'gone.csv'))}: file not found"):
        render_report({"data": "gone.csv"}, output_dir=tmp_path, name="weekly")
    assert list(tmp_path.iterdir()) == []


def test_bad_data_stops_the_report_with_every_problem_and_status_2(tmp_path, capsys):
    """Invalid rows found in the notebook: the whole message, as ``kit summary`` gives it; exit status 2."""
    data = tmp_path / "neg.csv"
    data.write_text("customer_id,month,product,mrr\nA,2024-01,P,10\nB,2024-01,P,-5\nC,2024-02,P,abc\n")
    with pytest.raises(kit.ReportInputError) as info:
        render_report({"data": str(data)}, output_dir=tmp_path, name="broken")
    message = str(info.value)
    assert "failed in cell" in message and "ValidationError: neg.csv: 2 invalid rows; nothing was loaded." in message
    assert "row 3" in message and "row 4" in message and "mrr" in message and "lenient" in message
    assert "broken.failed.ipynb" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.failed.ipynb", "neg.csv"]
    failed = nbformat.read(tmp_path / "broken.failed.ipynb", as_version=4)
    errors = [
        o for c in failed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors and errors[0]["ename"] == "ValidationError"

    status = cli.main(["report", str(data), "--output-dir", str(tmp_path), "--name", "broken"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_INPUT and err.startswith("error: report broken failed in cell") and "row 3" in err
    assert "Traceback" not in err


def test_a_filter_value_no_customer_has_stops_the_report_with_status_2(tmp_path, capsys):
    status = cli.main(["report", "--filter", "size=smb", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_INPUT and "filter size=smb matches no customer; did you mean 'SMB'?" in err
    assert not list(tmp_path.glob("*.html"))


def test_notebook_parameters_cell_matches_the_kit():
    import papermill as pm

    from kit.params import SPECS

    declared = pm.inspect_notebook(str(config.REPORT_NOTEBOOK))
    assert list(declared) == list(SPECS) == list(PARAMETERS)
    for name, spec in SPECS.items():
        kind, default = spec.type, spec.default
        assert declared[name]["inferred_type_name"] == kind.__name__, name
        assert declared[name]["default"] == repr(default).replace("'", '"') or declared[name]["default"] == repr(
            default
        )
        assert declared[name]["help"] == spec.param.help, f"parameter {name}: its comment is not its declared help"


def test_readme_explains_every_parameter():
    readme = (config.ROOT / "README.md").read_text(encoding="utf-8")
    for name in PARAMETERS:
        assert f"| `{name}` |" in readme, name
    assert "docs/report.png" in readme and (config.ROOT / "docs" / "report.png").is_file()


def test_notebooks_are_committed_without_outputs():
    for path in config.NOTEBOOKS_DIR.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


# --- a real browser ---------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("KIT_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (KIT_REQUIRE_CHROMIUM is set) but not installed")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return found


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_report_renders_in_chromium_without_console_errors(chromium, sample_report, tmp_path):
    shot = tmp_path / "report.png"
    done = _chromium(chromium, tmp_path / "profile", "--window-size=1280,4000", f"--screenshot={shot}",
                     sample_report.as_uri())  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 100_000, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        # a real page: many distinct colours (charts), not a blank or error screen
        assert len(image.convert("RGB").resize((320, 1000)).getcolors(1 << 20)) > 500


def test_nothing_from_the_data_executes_in_chromium(chromium, hostile_report, tmp_path):
    done = _chromium(chromium, tmp_path / "profile", "--dump-dom", hostile_report.as_uri())
    dom = done.stdout
    assert "<body" in dom, done.stderr[-2000:]
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    assert html.escape(SCRIPT_NAME, quote=False) in dom


def test_a_one_quarter_report_keeps_its_context():
    """start = end = one quarter: comparisons, charts and trailing NRR still see the history before it."""
    from kit.report import load_options, section, validate_parameters

    params = validate_parameters({"period": "quarter", "start": "2025-Q2", "end": "2025-Q2"})
    run = kit.analyse(kit.load_ledger(**load_options(params)), params)
    assert run.shown["period"].tolist() == ["2025-Q2"]
    assert run.trend["period"].iloc[-1] == "2025-Q2" and len(run.trend) == 10  # 2023-Q1 … 2025-Q2
    assert "the charts over time start at 2023-Q1" in _text(section(run, "bridge"))
    summary = run.summary.set_index("period")
    text = _text(section(run, "executive"))
    change = summary.loc["2025-Q2", "expansion"] - summary.loc["2025-Q1", "expansion"]
    assert f"+{nv.money(int(change), 'USD')}" in text and "on 2025-Q1" in text and "on 2024-Q2" in text
    assert "Trailing-twelve-month NRR in 2025-06" in _text(section(run, "retention"))
    assert run.headline()["period"] == "2025-Q2"


def test_a_database_password_reaches_no_file(tmp_path):
    url = "postgresql://analyst:s3cret-pw@127.0.0.1:1/billing"
    with pytest.raises(kit.ReportError) as info:
        render_report({"data": url, "table": "mrr"}, output_dir=tmp_path, name="db")
    assert "s3cret-pw" not in str(info.value)
    files = list(tmp_path.iterdir())
    assert [p.name for p in files] == ["db.failed.ipynb"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "s3cret-pw" not in text and "analyst:***@127.0.0.1" in text


def test_a_failed_rerun_removes_the_earlier_report(sample_report, tmp_path):
    shutil.copy(sample_report, tmp_path / "weekly.html")
    shutil.copy(sample_report.with_suffix(".ipynb"), tmp_path / "weekly.ipynb")
    with pytest.raises(kit.ReportError):
        render_report({"filters": {"nosuch": ["x"]}}, output_dir=tmp_path, name="weekly")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weekly.failed.ipynb"]


def test_a_notebook_that_exits_early_is_not_published(tmp_path):
    """papermill counts ``sys.exit(0)`` in a cell as success; the completion check does not."""
    nb = nbformat.read(config.REPORT_NOTEBOOK, as_version=4)
    where = next(i for i, c in enumerate(nb.cells) if 'section(run, "executive")' in c.source)
    nb.cells.insert(where, nbformat.v4.new_code_cell("import sys\nsys.exit(0)"))
    notebook = config.NOTEBOOKS_DIR / f".early-exit-{os.getpid()}.ipynb"  # beside the real one: same cwd
    nbformat.write(nb, notebook)
    try:
        with pytest.raises(kit.ReportError, match="did not complete"):
            render_report({}, output_dir=tmp_path, name="early", notebook=notebook)
    finally:
        notebook.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["early.failed.ipynb"]


def test_export_drops_tagged_cells_code_prompts_and_stderr():
    """Cells tagged ``remove-cell`` vanish with their output; other cells keep their output but not their code."""
    from kit.report import export_html

    hidden = nbformat.v4.new_code_cell("print('setup')", metadata={"tags": ["remove-cell"]}, execution_count=1,
                                       outputs=[nbformat.v4.new_output("stream", text="SETUP-OUTPUT")])  # fmt: skip
    shown = nbformat.v4.new_code_cell("print('shown')", execution_count=2,
                                      outputs=[nbformat.v4.new_output("stream", text="SHOWN-OUTPUT")])  # fmt: skip
    warned = nbformat.v4.new_code_cell("plot()", execution_count=3, outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="/home/me/x.py:1: UserWarning: STDERR-OUTPUT"),
        nbformat.v4.new_output("stream", text="AFTER-WARNING")])  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[hidden, shown, warned])
    page = export_html(nb, title="T")
    assert "SHOWN-OUTPUT" in page and "AFTER-WARNING" in page
    assert "SETUP-OUTPUT" not in page and "STDERR-OUTPUT" not in page
    assert len(nb.cells[2].outputs) == 2  # the notebook itself keeps them
    for marker in ("highlight hl-ipython3", "[2]:"):  # highlighted code; the In [2]: and Out[2]: prompts
        assert marker not in page, marker


def test_chart_labels_are_never_read_as_maths():
    import matplotlib

    from kit import plots

    plots.use_style()
    assert matplotlib.rcParams["text.parse_math"] is False
    fig, ax = matplotlib.pyplot.subplots()
    ax.set_title("Plan Ba$$in $5 to $10")  # raises with maths parsing on
    fig.canvas.draw()
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize(("params", "message"), [
    ({"period": "quarter", "end": "2024-03"}, "end '2024-03' is not a quarter label like 2025-Q1"),
    ({"start": "2024-Q3"}, "start '2024-Q3' is not a month label like 2025-01"),
    ({"period": "year", "start": "2025", "end": "2024"}, "start 2025 is after end 2024"),
])  # fmt: skip
def test_period_ranges_are_checked_before_any_work(params, message, tmp_path):
    with pytest.raises(kit.ParameterError, match=re.escape(message)):
        render_report(params, output_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_range_or_segment_the_data_lacks_is_named():
    from kit.report import load_options, section, validate_parameters

    ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)
    with pytest.raises(kit.ParameterError, match="no period from 2030-01 to the last: the data has 2023-01 to 2025-12"):
        kit.analyse(ledger, validate_parameters({"start": "2030-01"}))
    with pytest.raises(kit.ParameterError, match="segment 'tier' is not a customer attribute.*size"):
        kit.analyse(ledger, validate_parameters({"segment": "tier"}))
    assert load_options(validate_parameters({}))["fx_mode"] == "constant"
    wide = section(kit.analyse(ledger, validate_parameters({"start": "2020-01", "end": "2030-01"})), "header")
    assert (
        "periods reported: 2023-01 to 2025-12 (start 2020-01 and end 2030-01 asked; the data has no period "
        "beyond these)"
    ) in wide
    inside = section(kit.analyse(ledger, validate_parameters({"start": "2024-01", "end": "2024-06"})), "header")
    assert "periods reported: 2024-01 to 2024-06." in inside


@pytest.mark.parametrize("values", [[1.11, 1.10, 1.07], [0.5, 1.0, 1.3], [1.001, 1.002, 1.0025]])
def test_cohort_colour_bar_ticks_are_distinct(values):
    import matplotlib.pyplot as plt

    from kit import plots

    table = pd.DataFrame({"cohort": ["2023", "2023", "2024"], "age": [1, 2, 1], "nrr": values})
    ax = plots.cohort_heatmap(table)
    try:
        ax.figure.canvas.draw()
        ticks = [label.get_text() for label in ax.figure.axes[-1].get_yticklabels() if label.get_text()]
        assert len(ticks) >= 2 and len(set(ticks)) == len(ticks), ticks
    finally:
        plt.close(ax.figure)


# --- why customers expand (the cause bridge) ------------------------------------------------------


def test_sample_report_says_why_customers_expand_to_the_cent(sample_report):
    page = sample_report.read_text(encoding="utf-8")
    assert re.search(r"<h3[^>]*>Why customers expand", page)
    ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)
    last = kit.causes(ledger, period="month").iloc[-1]
    parts = ("cross_sell", "expansion_seats", "expansion_price", "expansion_plan", "expansion_unattributed")
    assert int(last["expansion"]) == sum(int(last[c]) for c in parts)
    text = " ".join(_text(page).split())
    usd = lambda column: nv.money(int(last[column]), "USD")  # noqa: E731
    assert f"In {last['period']}, of {usd('expansion')} expansion on products (product by product)" in text
    for column, words in (("expansion_seats", "added seats"), ("expansion_plan", "plan upgrades"),
                          ("expansion_price", "price rises"), ("cross_sell", "cross-sell")):  # fmt: skip
        if int(last[column]) > 0:
            assert f"{usd(column)} {'came from ' if column == 'expansion_seats' else 'from '}{words}" in text
    assert "differs from the headline expansion" in text  # the sample report nets per customer
    assert "Customers behind the largest cause" in text
    assert "Not split:" not in text  # the sample has quantity and plan
    assert "neither tells" not in text.lower()
    assert "What the cause bridge cannot see." in text


def test_a_source_without_quantity_or_plan_notes_the_missing_columns(playbook_report):
    text = " ".join(_text(playbook_report.read_text(encoding="utf-8")).split())
    assert "Why customers expand" in text
    assert "Not split: a quantity column (seats, licences, units) would split" in text
    assert "shown as unattributed, never guessed" in text
