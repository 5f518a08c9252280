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
from kit.cli import main
from kit.errors import ParameterError
from kit.ledger import filter_customers
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
    assert rest.origin == "matrix[1] (size=Mid-Market+Enterprise, 2025-01 to 2025-06)"


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


@pytest.mark.parametrize(("text", "message"), [
    ('colour = "red"\n[[reports]]\n', r"the top level: unknown key 'colour'; allowed: output_dir, defaults"),
    ('[[reports]]\nname = "a"\nperoid = "month"\n', r"reports\[1\]: unknown report parameter peroid"),
    ('[defaults]\nname = "a"\n[[reports]]\n', r"defaults: unknown report parameter name"),
    ('[[matrix]]\nsegment_values = { column = "size", value = ["SMB"] }\n',
     r"matrix\[1\].segment_values: unknown key 'value'; allowed: column, values"),
    ('[[matrix]]\nname = "x-{colour}"\nperiods = ["2025-01"]\n', r"matrix\[1\].name: unknown placeholder \{colour\}"),
    ('[[matrix]]\nname = "x-{value}"\nperiods = ["2025-01"]\n', r"placeholder \{value\} needs the segment_values axis"),
    ('[[matrix]]\nperiod = "month"\n', r"matrix\[1\]: a matrix block needs segment_values or periods"),
    ("", r"no reports"),
])  # fmt: skip
def test_unknown_keys_are_errors(tmp_path, text, message):
    assert re.search(message, problem(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('[defaults]\nperiod = 3\n[[reports]]\n', r"defaults: report parameter period must be str, not 3"),
    ('[[reports]]\nheader_row = "1"\n', r"reports\[1\]: report parameter header_row must be int, not '1'"),
    ('[[reports]]\nlenient = "yes"\n', r"lenient must be bool"),
    ('[[reports]]\nperiod = "fortnight"\n', r"period must be one of month, quarter, year"),
    ('[[reports]]\nfilters = { size = 3 }\n', r"filters must map a column to a text value"),
    ('[[reports]]\nas_of = 2025-12-31\n', r"as_of must be str.*\(quote text values"),
    ('reports = { name = "a" }\n', r"reports must be a list of tables"),
    ('[[matrix]]\nperiods = "2025-Q1"\n', r"periods must be a non-empty list"),
    ('[[matrix]]\nsegment_values = { column = "size", values = [1] }\n', r"each value must be text"),
    ('[[reports]]\nperiod = "quarter"\nstart = "2025-01"\n', r"start '2025-01' is not a quarter label like 2025-Q1"),
    ('[[reports]]\nstart = "2025-06"\nend = "2025-01"\n', r"start 2025-06 is after end 2025-01"),
    ('[[reports]]\ndata = "missing.csv"\n', r"reports\[1\]: data file missing.csv not found"),
    ('output_dir = 5\n[[reports]]\n', r"output_dir must be a folder name"),
])  # fmt: skip
def test_wrong_types_and_values_are_errors(tmp_path, text, message):
    assert re.search(message, problem(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('[[reports]]\nname = "a"\n[[reports]]\nname = "A"\n', r"reports\[2\]: duplicate report name 'A', also made by "
                                                          r"reports\[1\]"),
    ('[[reports]]\nname = "size-SMB"\n[[matrix]]\nname = "size-{value}"\n'
     'segment_values = { column = "size", values = ["SMB"] }\n', r"duplicate report name 'size-SMB'"),
    ('[[matrix]]\nperiods = ["2025-01", "2025-01"]\n', r"duplicate report name"),
    ('[[reports]]\nname = "../../x"\n', r"reports\[1\]: report name '../../x' must be letters"),
    ('[[reports]]\nname = "sub/x"\n', r"with no folders"),
    ('[[reports]]\nname = "index"\n', r"reserved"),
    ('[[reports]]\nname = "a.failed"\n', r"reserved"),
])  # fmt: skip
def test_names_are_unique_and_stay_in_the_output_folder(tmp_path, text, message):
    assert re.search(message, problem(tmp_path, text))


@pytest.mark.parametrize(("name", "text", "message"), [
    ("batch.json", "{}", r"batch.json: a batch config is .toml, .yaml or .yml, not .json"),
    ("batch", "", r"not without suffix"),
    ("batch.toml", "[[reports]\n", r"not valid TOML"),
    ("batch.yaml", "reports:\n  - name: [a\n", r"not valid YAML \(line \d+"),
    ("batch.yaml", "- a\n- b\n", r"must be a table of output_dir, defaults, reports, matrix, not a list"),
    ("batch.yml", "reports:\n  - title: on\n", r"title must be str, not True \(quote text values"),
])  # fmt: skip
def test_bad_files_are_errors(tmp_path, name, text, message):
    assert re.search(message, problem(tmp_path, text, name))


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
    assert err.startswith("error: batch.toml: reports[2]: duplicate report name 'a'") and "Traceback" not in err
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
