"""
Writes (RELIABILITY.md rows 55-58): nothing written where the user did not ask, nothing
half-written, no secrets.

* Databases are read-only: a query that writes is refused before it runs, and the SQLite
  file is opened so that even an unchecked one cannot change it.
* Only regular files are written: a symlink, FIFO or device at an output path is refused.
* A full disk, a file-size limit or a name too long is one error (exit status 2), with no
  temporary file left and the old output whole.
* A database password reaches no file, message or notebook; temporaries are private.
* A killed batch leaves nothing that outlives it: stale temporaries go on the next run,
  workers end with their parent.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

import kit
from kit import export, report, sources
from kit.batch import load_batch, run_batch
from kit.cli import main
from kit.errors import LoadError, OutputError, ParameterError
from kit.export import clean_stale_temporaries, write_atomic

SAMPLE = ROOT / "data" / "sample_subscriptions.csv"
FX = ROOT / "data" / "fx_rates.csv"
PYTHON = sys.executable


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_error(code: int, out: str, err: str, match: str) -> None:
    """Exit status 2, one or two lines starting ``error:`` (after the data's notes), no traceback, nothing on stdout."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("note: ")]
    assert code == 2, err
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and out == ""
    assert re.search(match, err, re.S), (match, err)


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def dead_pid() -> int:
    """The process id of a process that has ended."""
    child = subprocess.Popen([PYTHON, "-c", "pass"])
    child.wait()
    return child.pid


# --- 1. read-only databases ------------------------------------------------------------------


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "billing.db"
    rows = pd.DataFrame({"customer_id": ["A", "B"], "month": ["2024-01", "2024-02"], "product": "P",
                         "mrr": ["10.00", "20.00"]})  # fmt: skip
    with sqlite3.connect(path) as connection:
        rows.to_sql("mrr", connection, index=False)
    return path


WRITING_QUERIES = {
    "drop": "DROP TABLE mrr",
    "delete-returning": "DELETE FROM mrr RETURNING *",
    "vacuum-into": "VACUUM INTO '{folder}/copy.db'",
    "attach": "ATTACH DATABASE '{folder}/other.db' AS other",
    "journal-mode": "PRAGMA journal_mode = WAL",
    "two-statements": "SELECT * FROM mrr; DROP TABLE mrr",
    "with-delete": "WITH t AS (SELECT 1) DELETE FROM mrr",
    "insert": "/* a read */ INSERT INTO mrr VALUES ('C', '2024-03', 'P', '5.00')",
    "select-into": "SELECT * INTO backup FROM mrr",
}


def assert_untouched(database: Path, digest: str) -> None:
    folder = database.parent
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in folder.iterdir()) == ["billing.db"]  # no copy, no -wal, -shm or -journal


@pytest.mark.parametrize("key", WRITING_QUERIES)
def test_a_query_that_writes_is_refused_before_it_runs(database, capsys, key):
    query = WRITING_QUERIES[key].format(folder=database.parent)
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    with pytest.raises(ParameterError, match=r"billing\.db: the query .*(not a plain read|more than one statement)"):
        kit.load_ledger(database, query=query)
    assert_untouched(database, digest)
    code, out, err = run_cli(capsys, "summary", database, "--query", query)
    assert_cli_error(code, out, err, r"the query .*only one SELECT, WITH … SELECT or VALUES statement runs")
    assert_untouched(database, digest)


@pytest.mark.parametrize("key", ["drop", "delete-returning", "vacuum-into", "attach", "journal-mode", "insert"])
def test_the_database_is_read_only_even_without_the_query_check(database, monkeypatch, key):
    """The second line of defence: mode=ro, query_only and the authorizer stop what the check would."""
    monkeypatch.setattr(sources.database, "check_query", lambda query: None)
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    with pytest.raises(LoadError, match=r"reading the query failed: .*(not authorized|authorization denied)"):
        sources.read_database(database, query=WRITING_QUERIES[key].format(folder=database.parent))
    assert_untouched(database, digest)


def test_plain_reads_still_run(database, capsys):
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    query = "-- not a DROP\nWITH t AS (SELECT * FROM mrr WHERE product <> 'x; drop table mrr') SELECT * FROM t"
    raw = sources.read_database(database, query=query)
    assert raw.frame.to_dict("list") == {"customer_id": ["A", "B"], "month": ["2024-01", "2024-02"],
                                         "product": ["P", "P"], "mrr": ["10.00", "20.00"]}  # fmt: skip
    assert sources.read_database(f"sqlite:///{database}", table="mrr").frame["mrr"].tolist() == ["10.00", "20.00"]
    code, out, err = run_cli(capsys, "summary", database, "--query", "SELECT * FROM mrr;")
    assert code == 0 and out.startswith("period,"), err
    assert_untouched(database, digest)


@pytest.mark.parametrize(("query", "ok"), [
    ("select 1", True), ("  VALUES (1, 2)", True), ("(select 1)", True), ("select 'update; drop'", True),
    ('select "delete" from t', True), ("select 1 -- ; drop table t", True), ("select 1 /* ; drop */", True),
    ("select 1;", True), ("", False), ("-- only a comment", False), ("explain select 1", False),
    ("select 1 ; ; select 2", False), ("select * from t for update", False), ("replace into t values (1)", False),
    ("select 1; 'x'", False),
])  # fmt: skip
def test_the_query_check_reads_past_comments_and_literals(query, ok):
    if ok:
        sources.check_query(query)
    else:
        with pytest.raises(ParameterError, match="the query"):
            sources.check_query(query)


# --- 2. only regular files are written ------------------------------------------------------------


def special_files(tmp_path) -> dict[str, Path]:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    return {"symlink": link, "fifo": fifo}


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_summary_output_must_be_a_regular_file(tmp_path, capsys, kind):
    path = special_files(tmp_path)[kind]
    with pytest.raises(OutputError, match=r"not a regular file"):
        write_atomic(path, "x")
    code, out, err = run_cli(capsys, "summary", SAMPLE, "--output", path)
    word = {"symlink": "a symbolic link", "fifo": r"a FIFO \(named pipe\)"}[kind]
    assert_cli_error(code, out, err, rf"{path.name}: is {word}, not a regular file")
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert stat.S_ISLNK(os.lstat(path).st_mode) if kind == "symlink" else stat.S_ISFIFO(os.lstat(path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.csv", "link.csv", "precious.txt"]


def test_a_device_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    with pytest.raises(OutputError, match=r"/dev/null: is a character device"):
        export.check_target("/dev/null")  # refused before any write: the device is never opened
    fake = tmp_path / "device.csv"
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        if Path(path) == fake:
            return os.stat_result((stat.S_IFCHR | 0o666, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    code, out, err = run_cli(capsys, "summary", SAMPLE, "--output", fake)
    assert_cli_error(code, out, err, r"device\.csv: is a character device")
    assert list(tmp_path.iterdir()) == []


def test_report_outputs_must_be_regular_files(tmp_path, capsys):
    link = tmp_path / "r.html"
    link.symlink_to(tmp_path / "elsewhere.html")
    with pytest.raises(OutputError, match=r"r\.html: is a symbolic link"):
        report.render_report({}, output_dir=tmp_path, name="r")
    code, out, err = run_cli(capsys, "report", "--output-dir", tmp_path, "--name", "r")
    assert_cli_error(code, out, err, r"r\.html: is a symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_batch_outputs_are_checked_before_any_report(tmp_path, capsys):
    cfg = tmp_path / "b.toml"
    cfg.write_text('[[reports]]\nname = "one"\n')
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    os.mkfifo(out_dir / "index.html")
    with pytest.raises(OutputError, match=r"index\.html: is a FIFO"):
        load_batch(cfg, output_dir=out_dir)
    (out_dir / "index.html").unlink()
    (out_dir / "one.json").symlink_to(tmp_path / "b.toml")
    code, out, err = run_cli(capsys, "batch", cfg, "--output-dir", out_dir)
    assert_cli_error(code, out, err, r"one\.json: is a symbolic link")
    assert sorted(p.name for p in out_dir.iterdir()) == ["one.json"]


# --- 3. full disk, file-size limit, names too long ---------------------------------------------------


def test_a_full_disk_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.csv"
    path.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match=r"s\.csv: cannot write the file: the disk is full"):
        write_atomic(path, "new")
    assert files_in(tmp_path) == {"s.csv": b"old"}
    code, out, err = run_cli(capsys, "summary", SAMPLE, "--fx", FX, "--output", path)
    assert_cli_error(code, out, err, r"s\.csv: cannot write the file: the disk is full; nothing was written there")
    assert files_in(tmp_path) == {"s.csv": b"old"}


def test_a_file_size_limit_is_one_error_in_a_real_process(tmp_path):
    """RLIMIT_FSIZE below the summary's size: the write fails with EFBIG (Python ignores SIGXFSZ)."""
    out = tmp_path / "s.csv"
    out.write_text("old")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        from kit.cli import main
        sys.exit(main(["summary", {str(SAMPLE)!r}, "--fx", {str(FX)!r}, "--output", {str(out)!r}]))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.strip().splitlines() if not line.startswith("note:")]
    assert lines == [f"error: {out}: cannot write the file: the file-size limit is reached; nothing was written there"]
    assert files_in(tmp_path) == {"s.csv": b"old"}


def test_names_too_long_are_refused_before_any_work(tmp_path, capsys):
    long = tmp_path / ("s" * 300 + ".csv")
    code, out, err = run_cli(capsys, "summary", SAMPLE, "--output", long)
    assert_cli_error(code, out, err, r"the file name is too long \(304 bytes; the file system takes 255\)")
    with pytest.raises(ParameterError, match=r"is too long \(201 characters, at most 200"):
        report.render_report({}, output_dir=tmp_path, name="r" * 201)
    code, out, err = run_cli(capsys, "report", "--output-dir", tmp_path, "--name", "r" * 250)
    assert_cli_error(code, out, err, r"report name r+… is too long \(250 characters")
    assert list(tmp_path.iterdir()) == []


def test_long_filter_values_give_short_distinct_names():
    one = report.validate_parameters({"filters": {"region": ["North " * 60]}})
    two = report.validate_parameters({"filters": {"region": ["North " * 60 + "x"]}})
    a, b = report.default_name(one), report.default_name(two)
    assert len(a) == len(b) == report.MAX_NAME and a != b and a[:-9] == b[:-9]
    assert a == report.default_name(one)  # the same each run
    assert len((a + ".failed.ipynb").encode()) <= 255
    assert report.default_name(report.validate_parameters({})) == "expansion-sample-month"  # short ones as before


def test_a_batch_name_too_long_stops_the_config_check(tmp_path, capsys):
    cfg = tmp_path / "b.toml"
    cfg.write_text(f'[[reports]]\nname = "ok"\n[[reports]]\nname = "{"n" * 250}"\n')
    with pytest.raises(ParameterError, match=r"b\.toml: reports\.2: report name n+… is too long"):
        load_batch(cfg, output_dir=tmp_path / "out")
    code, out, err = run_cli(capsys, "batch", cfg, "--output-dir", tmp_path / "out2")
    assert_cli_error(code, out, err, r"reports\.2: report name n+… is too long \(250 characters, at most 200")
    assert not (tmp_path / "out2").exists() or list((tmp_path / "out2").iterdir()) == []


def test_a_notebook_that_cannot_be_saved_is_an_output_error(tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "_execute", full)
    (tmp_path / "r.html").write_text("stale")
    with pytest.raises(OutputError, match=r"r\.ipynb: cannot write the file: the disk is full"):
        report.render_report({}, output_dir=tmp_path, name="r")
    assert list(tmp_path.iterdir()) == []  # no temporary, no stale report
    code, out, err = run_cli(capsys, "report", "--output-dir", tmp_path, "--name", "r")
    assert_cli_error(code, out, err, r"r\.ipynb: cannot write the file: the disk is full")
    assert list(tmp_path.iterdir()) == []


# --- 4. secrets --------------------------------------------------------------------------------------

SECRET = "s3cret-Pw"
URLS = [f"postgresql://analyst:{SECRET}@127.0.0.1:1/billing",
        f"postgresql://analyst@127.0.0.1:1/billing?sslmode=disable&password={SECRET}"]  # fmt: skip


@pytest.mark.parametrize("url", URLS, ids=["user-pass", "query-password"])
def test_a_password_is_in_no_message(url, tmp_path, capsys):
    assert SECRET not in sources.shown_url(url) and "***" in sources.shown_url(url)
    with pytest.raises(LoadError) as info:
        kit.load_ledger(url, table="mrr")
    assert SECRET not in str(info.value) and "127.0.0.1" in str(info.value)
    code, out, err = run_cli(capsys, "summary", url, "--table", "mrr")
    assert code == 2 and SECRET not in err + out and err.startswith("error: postgresql://analyst")
    missing = f"sqlite:///{tmp_path}/none.db?password={SECRET}"
    code, out, err = run_cli(capsys, "summary", missing, "--table", "mrr")
    assert_cli_error(code, out, err, r"password=\*\*\*: SQLite file not found")
    assert SECRET not in err


def test_the_notebook_never_holds_the_password_and_is_private(tmp_path, monkeypatch):
    """What papermill is given (and so writes into the running notebook): the URL with *** only."""
    seen = {}

    def fake(pm, notebook, tmp, *, parameters, **kwargs):
        seen.update(parameters=parameters, mode=stat.S_IMODE(os.stat(tmp).st_mode), name=Path(tmp).name,
                    env=os.environ.get(report.DATA_URL_ENV), options=report.load_options(parameters))  # fmt: skip
        raise RuntimeError("stop here")

    monkeypatch.setattr(report, "_execute", fake)
    monkeypatch.delenv(report.DATA_URL_ENV, raising=False)
    with pytest.raises(kit.ReportError, match="stop here"):
        report.render_report({"data": URLS[1], "table": "mrr"}, output_dir=tmp_path, name="db")
    assert SECRET not in json.dumps(seen["parameters"]) and seen["parameters"]["data"] == sources.shown_url(URLS[1])
    assert seen["mode"] == 0o600 and re.fullmatch(rf"\.kit-tmp-{os.getpid()}-\w+\.ipynb", seen["name"])
    assert seen["env"] == URLS[1] and seen["options"]["source"] == URLS[1]  # the kernel reads it back
    assert report.DATA_URL_ENV not in os.environ  # and it is gone after the run
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_query_password_reaches_no_file_of_a_real_report(tmp_path):
    with pytest.raises(kit.ReportError) as info:
        report.render_report({"data": URLS[1], "table": "mrr"}, output_dir=tmp_path, name="db")
    assert SECRET not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["db.failed.ipynb"]
    for path in tmp_path.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --- 5. killed runs ----------------------------------------------------------------------------------


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    live = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"])
    try:
        names = [f".kit-tmp-{dead_pid()}-abc123.ipynb", f".kit-tmp-{live.pid}-def456.ipynb",
                 f".kit-tmp-{os.getpid()}-ghi789.tmp", ".report.abc.ipynb", "kit-tmp-1-x.tmp", "r.html"]  # fmt: skip
        for name in names:
            (tmp_path / name).write_text(SECRET)
        assert clean_stale_temporaries(tmp_path) == [names[0]]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    finally:
        live.kill()
        live.wait()


def test_a_resumed_batch_removes_what_a_killed_run_left(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text('[[reports]]\nname = "one"\n')
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    stale = out_dir / f".kit-tmp-{dead_pid()}-abc123.ipynb"
    stale.write_text("{}")
    batch = load_batch(cfg, output_dir=out_dir)
    record = {"status": "ok", "parameters": kit.batch.public_parameters(batch.jobs[0].params), "name": "one",
              "html": "one.html", "headline": None}  # fmt: skip
    (out_dir / "one.json").write_text(json.dumps(record))
    (out_dir / "one.html").write_text("<html></html>")
    assert run_batch(batch, resume=True, stream=open(os.devnull, "w")) == 0  # kept: no report runs
    assert sorted(p.name for p in out_dir.iterdir()) == ["index.html", "one.html", "one.json"]


def test_workers_end_when_the_batch_process_is_killed(tmp_path):
    """A real pool with the batch's initializer; the parent is killed with SIGKILL; its worker must go."""
    script = textwrap.dedent("""
        import os, sys, time
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context
        from kit.batch import end_with_parent
        if __name__ == "__main__":
            pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=end_with_parent,
                                       initargs=(os.getpid(),))
            pool.submit(time.sleep, 120)
            time.sleep(1)
            print(*pool._processes, flush=True)
            time.sleep(120)
    """)
    path = tmp_path / "parent.py"
    path.write_text(script)
    parent = subprocess.Popen([PYTHON, str(path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 1
        os.kill(workers[0], 0)  # running
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(workers[0]):
            time.sleep(0.1)
        assert not _alive(workers[0]), "the worker outlived its batch"
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
    except OSError:
        return True


def test_an_orphaned_worker_publishes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(kit.batch.run, "_PARENT", os.getppid() + 1 if os.getppid() != 0 else 2)
    exited = []
    monkeypatch.setattr(os, "_exit", lambda code: (exited.append(code), (_ for _ in ()).throw(SystemExit(code))))
    with pytest.raises(SystemExit):
        kit.batch.run_one("one", report.validate_parameters({}), str(tmp_path), str(ROOT / "nothing.ipynb"))
    assert exited == [1] and list(tmp_path.iterdir()) == []


# --- 6. holes a reviewer found: server queries, WAL files, BLOBs, secrets of every parameter -------------

SERVER_WRITES = {
    "dollar-quote-commit": "select $a$'$a$; commit; drop table mrr; -- '",
    "mysql-backslash": r"select 'a\' ' into outfile '/tmp/x' -- '",
    "mysql-backslash-semicolon": r"select 'a\'; drop table mrr; -- '",
    "postgres-e-string": r"select E'a\' ; drop table mrr; --'",
    "mysql-hash-comment": "select 1 # '\n; drop table mrr; -- '",
    "mysql-dash-no-space": "select 1 --'\n'; drop table mrr; -- '",
    "mysql-executable-comment": "select 1 /*! ; drop table mrr */",
    "dblink-exec": "select dblink_exec('dbname=billing', 'drop table mrr')",
    "quoted-function": "select \"dblink_exec\"('x', 'drop table mrr')",
    "set-config": "select set_config('default_transaction_read_only', 'off', false)",
    "lo-export": "select lo_export(1, '/tmp/x')",
    "query-to-xml": "select query_to_xml('select 1', true, true, '')",
    "unicode-name": 'select U&"d\\0062link_exec"(1)',
    "end-alone": "select 1 end",
    "commit": "select 1; commit",
    "tsql-backup": "select 1 backup database billing to disk = 'x'",
    "shutdown": "select 1 shutdown",
    "oracle-package": "select dbms_pipe.send_message('x') from dual",
}


@pytest.mark.parametrize("key", SERVER_WRITES)
def test_server_tricks_are_refused_by_the_query_check(key, database, capsys):
    with pytest.raises(ParameterError, match=r"the query .*only one SELECT, WITH … SELECT or VALUES statement runs"):
        sources.check_query(SERVER_WRITES[key])
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    code, out, err = run_cli(capsys, "summary", database, "--query", SERVER_WRITES[key])
    assert_cli_error(code, out, err, r"billing\.db: the query ")
    assert_untouched(database, digest)


@pytest.mark.parametrize("query", [
    "select case when mrr > 0 then 'up' else 'down' end as way from mrr",
    "select * from t start with id = 1 connect by prior id = parent",
    r"select 'C:\path' from t", "select [my col] from t", "select a[1] from t", 'select "commit" from t',
    "select 'commit; drop table mrr' from t",
])  # fmt: skip
def test_reads_like_these_still_pass(query):
    sources.check_query(query)


def test_a_backslash_that_changes_the_reading_is_refused():
    with pytest.raises(ParameterError, match=r"quote that is not closed when read with backslash escapes"):
        sources.check_query(r"select 1 from t where x = '\'")


def test_server_sessions_are_read_only_for_the_whole_connection():
    assert sources._READ_ONLY_SESSION == {"postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                                          "mysql": "SET SESSION TRANSACTION READ ONLY",
                                          "mariadb": "SET SESSION TRANSACTION READ ONLY"}  # fmt: skip
    assert set(sources.QUERY_BACKENDS) == {"sqlite", "postgresql", "mysql", "mariadb", "oracle"}


@pytest.mark.parametrize("url", ["mssql+pymssql://reader:pw@127.0.0.1:1/billing",
                                 "firebird://reader@127.0.0.1:1/billing"])  # fmt: skip
def test_a_query_is_refused_where_no_read_only_session_exists(url, capsys):
    with pytest.raises(ParameterError, match=r"--query is not run on (mssql|firebird): .*read-only session.*--table"):
        sources.read_database(url, query="select * from mrr")
    code, out, err = run_cli(capsys, "summary", url, "--query", "select * from mrr")
    assert_cli_error(code, out, err, r"--query is not run on .*--table")
    assert ":pw@" not in err


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


@pytest.fixture
def postgres(tmp_path):
    """A throw-away PostgreSQL server on a unix socket in tmp_path, with a table mrr (skipped without one)."""
    pytest.importorskip("psycopg2")
    binaries = _postgres_bin()
    if binaries is None or os.geteuid() == 0:
        pytest.skip("no PostgreSQL server binaries (or running as root)")
    data, socket = tmp_path / "pg", tmp_path / "sock"
    socket.mkdir()
    subprocess.run([binaries / "initdb", "-D", data, "-U", "owner", "--auth=trust", "-E", "UTF8"], check=True,
                   capture_output=True)  # fmt: skip
    server = subprocess.Popen([binaries / "postgres", "-D", data, "-k", socket, "-c", "listen_addresses=",
                               "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            if subprocess.run([binaries / "pg_isready", "-h", socket], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        setup = "create table mrr (customer_id text, month text, product text, mrr text); " \
                "insert into mrr values ('A', '2024-01', 'P', '10.00'), ('B', '2024-02', 'P', '20.00')"  # fmt: skip
        subprocess.run([binaries / "psql", "-h", socket, "-U", "owner", "-d", "postgres", "-c", setup], check=True,
                       capture_output=True)  # fmt: skip
        yield f"postgresql+psycopg2://owner@/postgres?host={socket}", (binaries, socket)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _mrr_rows(binaries, socket) -> str:
    return subprocess.run([binaries / "psql", "-h", socket, "-U", "owner", "-d", "postgres", "-tAc",
                           "select count(*) from mrr"], capture_output=True, text=True).stdout.strip()  # fmt: skip


@pytest.mark.slow
def test_a_real_postgresql_table_survives_commit_and_dollar_quotes(postgres, monkeypatch, capsys):
    url, server = postgres
    assert sources.read_database(url, query="select * from mrr").frame["mrr"].tolist() == ["10.00", "20.00"]
    for query in ("select $a$'$a$; commit; drop table mrr; -- '", "select 1 as x; commit; drop table mrr"):
        with pytest.raises(ParameterError, match="the query"):
            sources.read_database(url, query=query)
        code, out, err = run_cli(capsys, "summary", url, "--query", query)
        assert_cli_error(code, out, err, "the query")
    monkeypatch.setattr(sources.database, "check_query", lambda query: None)  # the session alone must stop them
    for query in ("select $a$'$a$; commit; drop table mrr; -- '", "select 1 as x; rollback; drop table mrr",
                  "select 1 as x; commit; drop table mrr"):  # fmt: skip
        with pytest.raises(LoadError, match="read-only transaction"):
            sources.read_database(url, query=query)
    assert _mrr_rows(*server) == "2"


@pytest.fixture
def wal_database(tmp_path) -> tuple[Path, sqlite3.Connection]:
    """A WAL-mode file whose second row is only in its -wal (no checkpoint), copied to a folder with no -shm."""
    source = tmp_path / "source"
    source.mkdir()
    writer = sqlite3.connect(source / "billing.db")
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE mrr (customer_id, month, product, mrr)")
    writer.execute("INSERT INTO mrr VALUES ('A', '2024-01', 'P', '10.00')")
    writer.commit()
    writer.execute("INSERT INTO mrr VALUES ('B', '2024-02', 'P', '20.00')")
    writer.commit()
    user = tmp_path / "user"
    user.mkdir()
    for name in ("billing.db", "billing.db-wal"):
        (user / name).write_bytes((source / name).read_bytes())
    writer.close()
    return user / "billing.db"


def test_a_wal_database_is_read_without_writing_beside_it(wal_database, capsys):
    folder = wal_database.parent
    assert wal_database.read_bytes()[18:20] == b"\x02\x02"
    before = files_in(folder)
    assert sorted(before) == ["billing.db", "billing.db-wal"]
    raw = sources.read_database(wal_database, table="mrr")
    assert raw.frame["customer_id"].tolist() == ["A", "B"]  # B is only in the -wal file
    assert sources.read_database(f"sqlite:///{wal_database}", query="select * from mrr").frame["mrr"].tolist() == \
        ["10.00", "20.00"]  # fmt: skip
    assert files_in(folder) == before
    code, out, err = run_cli(capsys, "summary", wal_database, "--table", "mrr")
    assert code == 0 and "2024-02" in out, err
    assert files_in(folder) == before


def test_blobs_among_numbers_are_decoded(tmp_path, capsys):
    path = tmp_path / "blobs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE mrr (customer_id, month, product, mrr)")
        connection.executemany("INSERT INTO mrr VALUES (?, ?, ?, ?)", [
            (7, "2024-01", "P", "10.00"), (b"A", "2024-01", "P", 5), (8, b"2024-02", b"P", b"20.00")])  # fmt: skip
    raw = sources.read_database(path, table="mrr")
    assert raw.frame["customer_id"].tolist() == [7, "A", 8]
    assert raw.frame["month"].tolist() == ["2024-01", "2024-01", "2024-02"]
    assert raw.frame["mrr"].tolist() == ["10.00", 5, "20.00"]
    assert raw.details["columns note"] == "binary columns read as UTF-8 text: customer_id, month, product, mrr"
    code, out, err = run_cli(capsys, "summary", path, "--table", "mrr")
    assert "b'A'" not in out + err and "binary columns read as UTF-8 text" in err


def test_every_url_parameter_is_hidden_from_the_notebook(tmp_path, monkeypatch):
    """data and fx alike: papermill gets *** only, the kernel the real URLs through the environment."""
    seen = {}
    fx_url = f"postgresql://fx:{SECRET}@127.0.0.1:1/rates"

    def fake(pm, notebook, tmp, *, parameters, **kwargs):
        seen.update(parameters=parameters, options=report.load_options(parameters),
                    env={key: os.environ.get(report.url_env(key)) for key in ("data", "fx")})  # fmt: skip
        raise RuntimeError("stop here")

    monkeypatch.setattr(report, "_execute", fake)
    with pytest.raises(kit.ReportError, match="stop here"):
        report.render_report({"data": URLS[0], "table": "mrr", "fx": fx_url}, output_dir=tmp_path, name="db")
    assert SECRET not in json.dumps(seen["parameters"]) and seen["parameters"]["fx"] == sources.shown_url(fx_url)
    assert seen["env"] == {"data": URLS[0], "fx": fx_url}
    assert seen["options"]["source"] == URLS[0] and seen["options"]["fx"] == fx_url
    assert report.url_env("fx") not in os.environ and report.DATA_URL_ENV not in os.environ
    assert SECRET not in report.default_name(report.validate_parameters({"fx": fx_url + "?password=" + SECRET}))


def test_a_kept_notebook_is_searched_string_by_string(tmp_path):
    fx_url = f"postgresql://fx:{SECRET}@127.0.0.1:1/rates"
    path = tmp_path / "nb.ipynb"
    notebook = {"cells": [{"outputs": [{"text": f"could not connect: password {SECRET} for fx"}],
                           "source": json.dumps({"fx": fx_url})}], "metadata": {"fx": fx_url}}  # fmt: skip
    path.write_text(json.dumps(notebook))
    report._hide_secrets(path, {"fx": fx_url})
    text = path.read_text()
    assert SECRET not in text and "postgresql://fx:***@127.0.0.1:1/rates" in json.loads(text)["metadata"]["fx"]
    assert "password *** for fx" in text


@pytest.mark.slow
@pytest.mark.parametrize("key", ["data", "fx"])
def test_a_password_of_any_url_parameter_reaches_no_file_of_a_real_report(key, tmp_path, capsys):
    url = f"postgresql://analyst:{SECRET}@127.0.0.1:1/billing"
    args = ["report", url, "--table", "mrr"] if key == "data" else ["report", SAMPLE, "--fx", url]
    code, out, err = run_cli(capsys, *args, "--output-dir", tmp_path, "--name", "db")
    assert code == 2 and SECRET not in out + err, err
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in left] == ["db.failed.ipynb"]
    for path in left:
        assert SECRET not in path.read_text(encoding="utf-8")


def test_a_batch_record_hides_the_secret_of_every_url_parameter():
    params = {"data": "postgresql://me:s3cret@db.example/sales", "fx": "mysql://fx:t0psecret@db.example/rates?x=1",
              "title": "plain text stays", "period": "month"}  # fmt: skip
    out = kit.batch.public_parameters(params)
    assert out["data"] == "postgresql://me:***@db.example/sales"
    assert "t0psecret" not in out["fx"] and out["fx"].startswith("mysql://fx:***@db.example/rates")
    assert out["title"] == "plain text stays" and out["period"] == "month"
