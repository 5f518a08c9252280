"""``python -m kit batch``: config checks (no notebook runs), then two real small batches."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pytest

import kit
from kit import metrics
from kit import narrative as nv
from kit.batch import index_html, load_batch
from kit.batch.models import BatchConfig, Defaults, MatrixBlock, ReportEntry
from kit.cli import main
from kit.errors import ParameterError
from kit.ledger import filter_customers
from kit.params import SPECS
from kit.report import load_options

ROOT = Path(__file__).resolve().parent.parent


def config(tmp_path: Path, text: str, name: str = "batch.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problem(tmp_path: Path, text: str, name: str = "batch.toml") -> str:
    """Load a bad config; return the error, after checking that no output folder was made."""
    out = tmp_path / "out"
    with pytest.raises(ParameterError) as info:
        load_batch(config(tmp_path, text, name), output_dir=out)
    assert not out.exists()
    return str(info.value)


# --- the config, checked before any work ---------------------------------------------------------
def test_examples_make_one_report_per_size_and_per_quarter(tmp_path):
    toml = load_batch(ROOT / "examples" / "batch.toml", output_dir=tmp_path)
    yaml = load_batch(ROOT / "examples" / "batch.yaml", output_dir=tmp_path)
    assert toml.jobs == yaml.jobs
    assert [j.name for j in toml.jobs] == ["size-SMB", "size-Mid-Market", "size-Enterprise", "quarter-2025-Q1",
                                           "quarter-2025-Q2", "quarter-2025-Q3", "quarter-2025-Q4"]  # fmt: skip
    first, last = toml.jobs[0].params, toml.jobs[-1].params
    assert first["filters"] == {"size": ["SMB"]} and first["title"] == "Expansion revenue: SMB customers"
    assert (last["start"], last["end"], last["filters"]) == ("2025-Q4", "2025-Q4", {})
    assert Path(first["data"]) == ROOT / "data" / "sample_subscriptions.csv"  # read from the config's folder


def test_levels_merge_and_dict_parameters_merge_key_by_key(tmp_path):
    batch = load_batch(
        config(
            tmp_path,
            """
        [defaults]
        period = "month"
        filters = { region = ["EMEA"] }
        [[reports]]
        name = "a"
        period = "year"
        [[matrix]]
        name = "{column}-{value}-{start}-{end}"
        title = "{value}: {range}"
        segment_values = { column = "size", values = ["SMB", ["Mid-Market", "Enterprise"]] }
        periods = [{ start = "2025-01", end = "2025-06" }]
    """,
        ),
        output_dir=tmp_path / "out",
    )
    a, smb, rest = batch.jobs
    assert (a.name, a.params["period"], a.params["filters"]) == ("a", "year", {"region": ["EMEA"]})
    assert smb.name == "size-SMB-2025-01-2025-06" and smb.params["title"] == "SMB: 2025-01 to 2025-06"
    assert rest.name == "size-Mid-Market-Enterprise-2025-01-2025-06"
    assert rest.params["filters"] == {"region": ["EMEA"], "size": ["Mid-Market", "Enterprise"]}
    assert rest.origin == "matrix.1 (size=Mid-Market+Enterprise, 2025-01 to 2025-06)"
    assert (a.origin, smb.origin) == ("reports.1", "matrix.1 (size=SMB, 2025-01 to 2025-06)")


def test_reports_without_name_are_named_from_their_parameters(tmp_path):
    batch = load_batch(
        config(
            tmp_path,
            """
        [[matrix]]
        segment_values = { column = "size", values = ["SMB"] }
        periods = ["2025-03"]
    """,
        ),
        output_dir=tmp_path / "out",
    )
    assert [j.name for j in batch.jobs] == ["expansion-sample-month-size-SMB-2025-03"]


#: The keys a [[reports]] entry allows: name, then every declared report parameter.
ENTRY_KEYS = ", ".join(["name", *SPECS])
QUOTE = " (quote text values: a date, number, yes/no or on/off is read as another type)"
UNIQUE = "; names must be unique (ignoring case)"


def exact(tmp_path, text: str, message: str, name: str = "batch.toml") -> None:
    """The whole message, its file and dotted place included (FOLDER: the config's folder)."""
    assert problem(tmp_path, text, name) == f"{name}: " + message.replace("FOLDER", tmp_path.name)


@pytest.mark.parametrize(("text", "message"), [
    ('colour = "red"\n[[reports]]\n', "the top level: unknown key 'colour'; allowed: output_dir, defaults, reports, "
                                      "matrix"),
    ('[[reports]]\nname = "a"\nperoid = "month"\n',
     f"reports.1: unknown key 'peroid' (did you mean 'period'?); allowed: {ENTRY_KEYS}"),
    ('[[reports]]\ncolour = 1\nflavour = 2\n', f"reports.1: unknown keys 'colour', 'flavour'; allowed: {ENTRY_KEYS}"),
    ('[defaults]\nname = "a"\n[[reports]]\n', f"defaults: unknown key 'name'; allowed: {', '.join(SPECS)}"),
    ('[[matrix]]\nsegment_values = { column = "size", value = ["SMB"] }\n',
     "matrix.1.segment_values: unknown key 'value' (did you mean 'values'?); allowed: column, values"),
    ('[[matrix]]\nname = "x-{colour}"\nperiods = ["2025-01"]\n',
     "matrix.1.name: unknown placeholder {colour}; known: column, value, start, end, range"),
    ('[[matrix]]\nname = "x-{vlaue}"\nperiods = ["2025-01"]\n',
     "matrix.1.name: unknown placeholder {vlaue} (did you mean 'value'?); known: column, value, start, end, range"),
    ('[[matrix]]\nname = "x-{value}"\nperiods = ["2025-01"]\n',
     "matrix.1.name: placeholder {value} needs the segment_values axis"),
    ('[[matrix]]\ntitle = "{range}"\nsegment_values = { column = "size", values = ["SMB"] }\n',
     "matrix.1.title: placeholder {range} needs the periods axis"),
    ('[[matrix]]\nperiod = "month"\n',
     "matrix.1: a matrix block needs segment_values or periods (or both); use [[reports]] for one report"),
    ("", "no reports: add [[reports]] or [[matrix]] entries (reports: or matrix: in YAML)"),
], ids=["top", "report", "reports-two", "defaults", "segment-values", "placeholder", "placeholder-near",
        "placeholder-axis", "placeholder-periods", "no-axis", "no-reports"])  # fmt: skip
def test_unknown_keys_are_errors(tmp_path, text, message):
    exact(tmp_path, text, message)


@pytest.mark.parametrize(("text", "message"), [
    ('[defaults]\nperiod = 3\n[[reports]]\n', f"defaults.period: must be text, not 3{QUOTE}"),
    ('[[reports]]\nheader_row = "1"\n', "reports.1.header_row: must be a whole number, not '1'"),
    ('[[reports]]\nheader_row = true\n', "reports.1.header_row: must be a whole number, not True"),
    ('[[reports]]\nlenient = "yes"\n', "reports.1.lenient: must be true or false, not 'yes'"),
    ('[[reports]]\nperiod = "fortnight"\n', "reports.1.period: must be one of month, quarter, year, not 'fortnight'"),
    ('[[reports]]\nperiod = "quartr"\n',
     "reports.1.period: must be one of month, quarter, year, not 'quartr' (did you mean 'quarter'?)"),
    ('[[reports]]\nkind = "snapshot"\n', "reports.1.kind: must be one of (empty), snapshots, subscriptions, "
                                         "stripe, not 'snapshot' (did you mean 'snapshots'?)"),
    ('[[reports]]\nfilters = { size = 3 }\n',
     "reports.1.filters: must map a column to a text value or a list of text values, not 'size': 3"),
    ('[[reports]]\nmapping = { amount = 3 }\n', "reports.1.mapping: must map column names to text, not 'amount': 3"),
    ('[[reports]]\nmapping = "amount"\n', "reports.1.mapping: must be a table of keys, not 'amount'"),
    ('[[reports]]\nas_of = 2025-12-31\n', f"reports.1.as_of: must be text, not 2025-12-31{QUOTE}"),
    ('[[reports]]\nname = 3\n', f"reports.1.name: must be text, not 3{QUOTE}"),
    ('reports = { name = "a" }\n',
     "reports: must be a list of tables ([[reports]] in TOML, a '- ' list in YAML), not {'name': 'a'}"),
    ('reports = ["a"]\n', "reports.1: must be a table of keys, not str 'a'"),
    ('defaults = 3\n[[reports]]\n', "defaults: must be a table of keys, not int 3"),
    ('[[matrix]]\nperiods = "2025-Q1"\n',
     "matrix.1.periods: must be a non-empty list of labels or {start, end} tables, not '2025-Q1'"),
    ('[[matrix]]\nperiods = []\n',
     "matrix.1.periods: must be a non-empty list of labels or {start, end} tables, not []"),
    ('[[matrix]]\nperiods = ["2025-01", { start = "2025-01", stop = "2025-02" }]\n',
     "matrix.1.periods.2: must be a label like 2025-Q1 or a table with start and/or end, not "
     "{'start': '2025-01', 'stop': '2025-02'}"),
    ('[[matrix]]\nsegment_values = { column = "size", values = ["SMB", 1] }\n',
     "matrix.1.segment_values.values.2: must be text or a non-empty list of text, not 1"),
    ('[[matrix]]\nsegment_values = { column = "size", values = [] }\n',
     "matrix.1.segment_values.values: must be a non-empty list of values (text, or lists of text), not []"),
    ('[[matrix]]\nsegment_values = { values = ["SMB"] }\n', "matrix.1.segment_values: column is missing"),
    ('[[matrix]]\nsegment_values = { column = "", values = ["SMB"] }\n',
     "matrix.1.segment_values.column: must be the name of a customer attribute, not ''"),
    ('[[matrix]]\nsegment_values = "size"\n', "matrix.1.segment_values: must be a table of keys, not str 'size'"),
    ('[[matrix]]\nname = "x-{value}}"\nsegment_values = { column = "size", values = ["SMB"] }\n',
     "matrix.1.name: Single '}' encountered in format string in 'x-{value}}' (write {{ for a brace)"),
    ('[[matrix]]\ntitle = "{value:d}"\nsegment_values = { column = "size", values = ["SMB"] }\n',
     "matrix.1.title: cannot fill '{value:d}': Unknown format code 'd' for object of type 'str'"),
    ('[[reports]]\nperiod = "quarter"\nstart = "2025-01"\n',
     "reports.1: report parameter start '2025-01' is not a quarter label like 2025-Q1"),
    ('[defaults]\nperiod = "quarter"\n[[matrix]]\nsegment_values = { column = "size", values = ["SMB"] }\n'
     'periods = [{ start = "2025-01", end = "2025-06" }]\n',
     "matrix.1 (size=SMB, 2025-01 to 2025-06): report parameter start '2025-01' is not a quarter label like 2025-Q1"),
    ('[[reports]]\nstart = "2025-06"\nend = "2025-01"\n',
     "reports.1: report parameter start 2025-06 is after end 2025-01"),
    ('[[reports]]\nreactivation_window = -3\n',
     "reports.1: report parameter reactivation_window must be -1 (none) or a whole number ≥ 0"),
    ('[[reports]]\nas_of = "2025-13-01"\n', "reports.1: as_of '2025-13-01' is not a valid date (YYYY-MM-DD)"),
    ('[[reports]]\ndata = "missing.csv"\n',
     "reports.1.data: file missing.csv not found (read from FOLDER/, the config's folder)"),
    ('[defaults]\nfx = "missing.csv"\n[[reports]]\n',
     "defaults.fx: file missing.csv not found (read from FOLDER/, the config's folder)"),
    ('output_dir = 5\n[[reports]]\n', "output_dir: must be a folder name, not 5"),
    ('output_dir = " "\n[[reports]]\n', "output_dir: must be a folder name, not ' '"),
], ids=["str", "int", "int-not-bool", "bool", "choice", "choice-near", "choice-empty", "filters", "mapping",
        "mapping-table", "date", "name", "reports-list", "reports-table", "defaults-table", "periods-list",
        "periods-empty", "periods-item", "segment-value", "segment-values-empty", "segment-column-missing",
        "segment-column-empty", "segment-values-table", "brace", "format", "label", "label-merged", "start-after-end",
        "window", "as-of", "data", "fx", "output-dir", "output-dir-blank"])  # fmt: skip
def test_wrong_types_and_values_are_errors(tmp_path, text, message):
    exact(tmp_path, text, message)


def test_several_problems_are_one_line_naming_the_others(tmp_path):
    path = config(tmp_path, '[[reports]]\nkind = "x"\nperiod = 3\n[[matrix]]\nperiods = "2025-01"\n')
    with pytest.raises(ParameterError) as info:
        load_batch(path, output_dir=tmp_path / "out")
    assert str(info.value) == ("batch.toml: reports.1.kind: must be one of (empty), snapshots, subscriptions, "
                               "stripe, not 'x' (and 2 more: reports.1.period, matrix.1.periods)")  # fmt: skip
    assert info.value.problems == [
        "reports.1.kind: must be one of (empty), snapshots, subscriptions, stripe, not 'x'",
        f"reports.1.period: must be text, not 3{QUOTE}",
        "matrix.1.periods: must be a non-empty list of labels or {start, end} tables, not '2025-01'",
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("text", "message"), [
    ('[[reports]]\nname = "a"\n[[reports]]\nname = "A"\n', f"reports.2: duplicate report name 'A', also made by "
                                                          f"reports.1{UNIQUE}"),
    ('[[reports]]\nname = "size-SMB"\n[[matrix]]\nname = "size-{value}"\n'
     'segment_values = { column = "size", values = ["SMB"] }\n',
     f"matrix.1 (size=SMB): duplicate report name 'size-SMB', also made by reports.1{UNIQUE}"),
    ('[[matrix]]\nperiods = ["2025-01", "2025-01"]\n',
     f"matrix.1 (2025-01): duplicate report name 'expansion-sample-month-2025-01', also made by matrix.1 (2025-01)"
     f"{UNIQUE}"),
    ('[[reports]]\nname = "../../x"\n',
     "reports.1: report name '../../x' must be letters, digits, '-', '_' or '.', with no folders"),
    ('[[reports]]\nname = "sub/x"\n',
     "reports.1: report name 'sub/x' must be letters, digits, '-', '_' or '.', with no folders"),
    ('[[reports]]\nname = "index"\n', "reports.1: the report name 'index' is reserved (index.html, NAME.failed.ipynb)"),
    ('[[reports]]\nname = "a.failed"\n',
     "reports.1: the report name 'a.failed' is reserved (index.html, NAME.failed.ipynb)"),
    ('[[matrix]]\nname = "x-{{value}}-{value}"\nsegment_values = { column = "size", values = ["SMB"] }\n',
     "matrix.1 (size=SMB): report name 'x-{value}-SMB' must be letters, digits, '-', '_' or '.', with no folders"),
], ids=["reports", "reports-matrix", "matrix", "dots", "folder", "index", "failed", "braces"])  # fmt: skip
def test_names_are_unique_and_stay_in_the_output_folder(tmp_path, text, message):
    exact(tmp_path, text, message)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("batch.json", "{}", r"batch.json: a batch config is .toml, .yaml or .yml, not .json"),
    ("batch", "", r"not without suffix"),
    ("batch.toml", "[[reports]\n", r"not valid TOML"),
    ("batch.yaml", "reports:\n  - name: [a\n", r"not valid YAML \(line \d+"),
    ("batch.yaml", "- a\n- b\n", r"must be a table of output_dir, defaults, reports, matrix, not a list"),
])  # fmt: skip
def test_bad_files_are_errors(tmp_path, name, text, message):
    assert re.search(message, problem(tmp_path, text, name))


@pytest.mark.parametrize(("text", "message"), [
    ("reports:\n  - title: on\n", f"reports.1.title: must be text, not True{QUOTE}"),
    ("defaults:\nreports:\n  - name: a\n", "defaults: must be a table of keys, not NoneType None"),
    ("reports:\n", "reports: must be a list of tables ([[reports]] in TOML, a '- ' list in YAML), not None"),
    ("reports:\n  - filters: {1: EMEA}\n",
     "reports.1.filters: must map a column to a text value or a list of text values, not 1: 'EMEA'"),
    ("1: a\nreports:\n  - {}\n", "the top level: unknown key 1; allowed: output_dir, defaults, reports, matrix"),
], ids=["on", "null-defaults", "null-reports", "number-key", "number-top-key"])  # fmt: skip
def test_yaml_values_of_another_type_are_errors(tmp_path, text, message):
    exact(tmp_path, text, message, "batch.yml")


def test_yaml_null_is_the_default_and_the_models_derive_from_the_declaration(tmp_path):
    batch = load_batch(config(tmp_path, "reports:\n  - title:\n    period: quarter\n", "batch.yaml"),
                       output_dir=tmp_path / "out")  # fmt: skip
    assert batch.jobs[0].params["title"] == SPECS["title"].default
    for model in (Defaults, ReportEntry, MatrixBlock):
        assert set(SPECS) <= set(model.model_fields)
    assert list(BatchConfig.model_fields) == ["output_dir", "defaults", "reports", "matrix"]


def test_missing_config_and_unwritable_output_folder(tmp_path):
    with pytest.raises(ParameterError, match="no such batch config"):
        load_batch(tmp_path / "nothing.toml")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ParameterError, match="cannot create the output folder"):
        load_batch(config(tmp_path, "[[reports]]\n"), output_dir=blocker / "reports")


def test_cli_errors_exit_2_before_any_work(tmp_path, capsys):
    path = config(tmp_path, '[[reports]]\nname = "a"\n[[reports]]\nname = "a"\n')
    assert main(["batch", str(path), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: batch.toml: reports.2: duplicate report name 'a', also made by reports.1{UNIQUE}\n"
        and "Traceback" not in err
    )
    assert main(["batch", str(config(tmp_path, "[[reports]]\n")), "--jobs", "0", "--output-dir",
                 str(tmp_path / "out")]) == 2  # fmt: skip
    assert "--jobs must be 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_index_escapes_text_from_data_and_config():
    records = [
        {"name": "a", "status": "ok", "html": "a.html", "headline": None, "error": None,
         "parameters": {"title": "<script>alert(1)</script>", "period": "month", "filters": {"plan": ["<b>x</b>"]}}},
        {"name": "b", "status": "failed", "html": None, "headline": None, "failed_notebook": "b.failed.ipynb",
         "parameters": {"period": "month"}, "error": "cannot filter on '<img src=x onerror=alert(1)>'"},
    ]  # fmt: skip
    page = index_html(records, source="<batch>.toml")
    assert "<script>" not in page and "<img" not in page and "<b>x" not in page and "<batch>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="b.failed.ipynb"' in page


# --- real runs (about 10 s per notebook on 2 cores) -----------------------------------------------
MATRIX = """
[defaults]
period = "quarter"

[[matrix]]
name = "size-{value}"
title = "Expansion of {value} <customers>"
segment_values = { column = "size", values = ["SMB", "Enterprise"] }
periods = [{ start = "2024-Q3", end = "2025-Q2" }]
"""


def test_a_kernel_start_that_collides_on_a_port_is_tried_once_more():
    import errno

    import papermill as pm
    import zmq

    from kit.report import _execute

    class FakePapermill:
        PapermillExecutionError = pm.PapermillExecutionError

        def __init__(self, *errors):
            self.errors, self.calls = list(errors), 0

        def execute_notebook(self, *args, **kwargs):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)

    once = FakePapermill(zmq.ZMQError(errno.EADDRINUSE))
    _execute(once, "in.ipynb", "out.ipynb")
    assert once.calls == 2
    twice = FakePapermill(zmq.ZMQError(errno.EADDRINUSE), RuntimeError("Kernel died before replying to kernel_info"))
    with pytest.raises(RuntimeError, match="Kernel died"):
        _execute(twice, "in.ipynb", "out.ipynb")
    cell = FakePapermill(pm.PapermillExecutionError(3, 4, "source", "ZMQError", "Address already in use", []))
    with pytest.raises(pm.PapermillExecutionError):
        _execute(cell, "in.ipynb", "out.ipynb")
    assert cell.calls == 1


@functools.cache
def _ledger(options: str) -> kit.Ledger:
    return kit.load_ledger(**json.loads(options))


def expected_headline(params: dict) -> tuple:
    """The latest period shown, straight from kit.summarize on the filtered ledger."""
    ledger = _ledger(json.dumps(load_options(params)))
    table = kit.summarize(filter_customers(ledger, params["filters"]), period=params["period"])
    return metrics.between(table, params["start"], params["end"]).iloc[-1], ledger.currency


def leftovers(folder: Path) -> list[str]:
    """Temporary files (hidden, .tmp) left in an output folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    path = config(folder, MATRIX)
    status = main(["batch", str(path), "--output-dir", str(folder / "out"), "--jobs", "2"])
    return status, folder / "out", load_batch(path, output_dir=folder / "out")


@pytest.mark.slow
def test_batch_writes_every_report_and_an_index_with_their_headline_numbers(first_run):
    status, out, batch = first_run
    assert status == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<customers>" not in index and "Expansion of SMB &lt;customers&gt;" in index
    for job in batch.jobs:
        assert (out / f"{job.name}.html").stat().st_size > 10_000 and (out / f"{job.name}.ipynb").is_file()
        assert f'href="{job.name}.html"' in index
        record = json.loads((out / f"{job.name}.json").read_text(encoding="utf-8"))
        last, currency = expected_headline(job.params)
        got = record["headline"]
        assert (record["status"], got["period"], got["currency"]) == ("ok", "2025-Q2", currency)
        assert got["expansion"] == int(last["expansion"])
        assert nv.money(int(last["expansion"]), currency) in index
        for rate in ("customer_expansion_rate", "expansion_mrr_rate", "nrr", "grr"):
            assert got[rate] == pytest.approx(float(last[rate]), rel=1e-12)
            assert f'<td class="num">{nv.pct(last[rate])}</td>' in index
    assert "Failed reports" not in index
    assert leftovers(out) == []


@pytest.mark.slow
def test_a_failed_report_leaves_a_record_and_the_others_finish(first_run, tmp_path):
    _, first, batch = first_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "broken.html").write_text("a report of an earlier run, now wrong")
    path = config(
        tmp_path,
        MATRIX
        + """
[[reports]]
name = "mid"
filters = { size = ["Mid-Market"] }

[[reports]]
name = "broken"
filters = { no_such_column = ["x"] }
""",
    )
    stamps = {job.name: (out / f"{job.name}.html").stat().st_mtime_ns for job in batch.jobs}
    assert main(["batch", str(path), "--output-dir", str(out), "--jobs", "2", "--resume"]) == 1

    assert {name: (out / f"{name}.html").stat().st_mtime_ns for name in stamps} == stamps  # kept by --resume
    assert (out / "mid.html").is_file() and json.loads((out / "mid.json").read_text())["status"] == "ok"
    assert not (out / "broken.html").exists() and not (out / "broken.ipynb").exists()
    assert (out / "broken.failed.ipynb").is_file()
    record = json.loads((out / "broken.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed" and "no_such_column" in record["error"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="mid.html"' in index and 'href="size-SMB.html"' in index and "kept from an earlier run" in index
    assert "Failed reports (1)" in index and 'href="broken.failed.ipynb"' in index and "no_such_column" in index
    assert 'href="broken.html"' not in index
    assert leftovers(out) == []
