"""
Run a checked batch: reports in parallel worker processes, one record each, resume, the index.

Reports run in parallel (``--jobs``, default and at most the number of cores), each
published atomically by :func:`kit.report.render_report`. Per report ``NAME`` the output
folder gets ``NAME.html`` and ``NAME.ipynb``, or on failure ``NAME.failed.ipynb`` (when
the notebook ran) and no HTML; and always ``NAME.json``: status, parameters (database
passwords hidden), the headline numbers of the latest period shown, or the error.
``index.html`` (:mod:`kit.batch.index`) links every report with its headline numbers
and lists the failures. Exit status 1 when a report failed, else 0.

Re-running a batch renders every report again. With ``--resume``, a report whose
``NAME.html`` exists and whose ``NAME.json`` records a success with the same
parameters is kept as is (a change of the data file's contents or of the kit is not
detected: run without ``--resume`` then).

A run, resumed or not, first removes the kit's temporary files that killed runs left in
the output folder (only those whose process is gone: a concurrent batch's are kept).
Workers end when the batch process dies (Linux: ``PR_SET_PDEATHSIG``; elsewhere a thread
that watches the parent process id), and a worker whose parent is gone publishes
nothing. A full disk is an :class:`~kit.errors.OutputError` (exit status 2) when the
index cannot be written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from kit import config
from kit.batch.config import INDEX, Batch, Job
from kit.batch.index import index_html
from kit.errors import KitError, ParameterError
from kit.export import clean_stale_temporaries, write_atomic
from kit.report import validate_parameters
from kit.sources import shown_url


def run_batch(batch: Batch, *, jobs: int | None = None, resume: bool = False,
              notebook: Path = config.REPORT_NOTEBOOK, stream=None) -> int:  # fmt: skip
    """
    Run a checked batch in parallel; write the index; return the exit status (1 if a report failed).

    Each report runs in a fresh worker process (:func:`run_one`) and leaves its record
    ``NAME.json``; a failed report does not stop the others. ``index.html`` is written
    last, atomically.

    Parameters
    ----------
    batch : Batch
        What :func:`kit.batch.load_batch` returned (the config checked, the output folder made).
    jobs : int, optional
        Reports at once (``--jobs``); default the number of cores, and at most that and
        the number of reports to run.
    resume : bool, default False
        Keep a report whose HTML exists and whose record is a success with the same
        parameters (:func:`resumable`), instead of rendering it again.
    notebook : Path
        The report notebook (default ``notebooks/expansion_report.ipynb``).
    stream : file, optional
        Where progress goes (default stderr): a tqdm bar when it is a terminal, and a
        final line always.

    Returns
    -------
    int
        0 when every report was published (or kept), 1 when one failed.

    Raises
    ------
    ParameterError
        ``jobs`` below 1.
    OutputError
        The index cannot be written (a full disk); each report's own record is written
        when it can be, and said on ``stream`` when not.

    Examples
    --------
    >>> batch = load_batch(config.ROOT / "examples" / "batch.toml", output_dir="/tmp/b1")  # doctest: +SKIP
    >>> run_batch(batch, jobs=2)  # doctest: +SKIP
    batch batch.toml: 7 reports: 7 written, 0 failed, in 80 s; index: /tmp/b1/index.html
    0
    """
    from kit import narrative as nv

    stream = stream or sys.stderr
    cores = os.cpu_count() or 1
    jobs = cores if jobs is None else jobs
    if jobs < 1:
        raise ParameterError(f"--jobs must be 1 or more, not {jobs}")
    clean_stale_temporaries(batch.output_dir)  # what killed runs left behind
    records: dict[str, dict] = {}
    todo = []
    for job in batch.jobs:
        kept = resumable(batch.output_dir, job) if resume else None
        if kept:
            records[job.name] = kept
        else:
            todo.append(job)
    started = time.monotonic()
    if todo:
        records.update(_run_pool(todo, batch.output_dir, workers=min(jobs, cores, len(todo)), notebook=notebook,
                                 stream=stream))  # fmt: skip
    ordered = [records[job.name] for job in batch.jobs]
    index = write_atomic(batch.output_dir / INDEX, index_html(ordered, source=batch.source.name))
    failed = sum(r["status"] != "ok" for r in ordered)
    kept = sum(bool(r.get("kept")) for r in ordered)
    print(f"batch {batch.source.name}: {nv.plural(len(ordered), 'report')}: {len(ordered) - failed - kept} written, "
          + (f"{kept} kept from an earlier run, " if resume else "")
          + f"{failed} failed, in {time.monotonic() - started:.0f} s; index: {index}", file=stream)  # fmt: skip
    return 1 if failed else 0


def _run_pool(todo: list[Job], folder: Path, *, workers: int, notebook: Path, stream) -> dict[str, dict]:
    """Render ``todo`` in ``workers`` worker processes; return each report's record by name, as they finish."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    records = {}
    # spawn: fresh workers, no state (threads, sockets) copied from this process
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=end_with_parent,
                             initargs=(os.getpid(),)) as pool, \
            tqdm(total=len(todo), desc="reports", unit="report", file=stream, disable=None) as bar:  # fmt: skip
        futures = {pool.submit(run_one, job.name, job.params, str(folder), str(notebook)): job for job in todo}
        try:
            for future in as_completed(futures):
                job = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # the worker process died (killed, out of memory)
                    record = _record(job.name, job.params, error=f"the process running it stopped: "
                                     f"{type(exc).__name__}: {exc}")  # fmt: skip
                    try:
                        _write_record(folder, record)
                    except KitError as write_error:  # e.g. a full disk: said, and the index says it too
                        bar.write(f"warning: {write_error}", file=stream)
                records[job.name] = record
                if record["status"] != "ok":
                    bar.write(f"failed: {job.name}: {record['error']}", file=stream)
                bar.update()
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return records


_PARENT: int | None = None


def end_with_parent(parent: int) -> None:
    """
    Initialise a worker so that it ends when the batch process ``parent`` dies.

    On Linux the kernel sends it SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere, or if
    that fails, a daemon thread polls the parent's process id every half second. A
    notebook kernel the worker started ends by itself when its parent changes (ipykernel).
    """
    global _PARENT
    import signal
    import threading

    _PARENT = parent
    done = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            done = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            done = False
    if _orphaned():  # the parent died before the line above: end now
        os._exit(1)
    if not done:

        def watch():
            while not _orphaned():
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="kit-parent-watch").start()


def _orphaned() -> bool:
    """Whether this is a worker whose batch process is gone."""
    return _PARENT is not None and os.getppid() != _PARENT


def run_one(name: str, params: dict, output_dir: str, notebook: str) -> dict:
    """
    Render one report (in a worker process); write and return its record ``NAME.json``.

    A failure is recorded, never raised: no HTML is left under its name (a stale one
    from an earlier run is removed), the failed notebook is kept when the notebook ran.
    """
    from kit.report import read_headline, render_report

    folder = Path(output_dir)
    failed = folder / f"{name}.failed.ipynb"
    if _orphaned():
        os._exit(1)  # the batch is gone: publish nothing
    failed.unlink(missing_ok=True)  # a failure record from an earlier run is no longer true
    try:
        render_report(params, output_dir=folder, name=name, notebook=Path(notebook))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record; the batch goes on
        for suffix in (".html", ".ipynb"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, KitError):
            text = f"{type(exc).__name__}: {text}"
        record = _record(name, params, error=text, failed_notebook=failed.name if failed.exists() else None)
        return _write_record(folder, record)
    record = _record(name, params)
    try:
        record["headline"] = read_headline(folder / f"{name}.ipynb") or headline(params)
    except Exception as exc:  # noqa: BLE001 - the report itself is published; say why its numbers are missing
        record["headline_error"] = f"{type(exc).__name__}: {exc}"
    return _write_record(folder, record)


def headline(params: dict) -> dict:
    """
    Compute afresh the headline numbers of a report: its latest period shown.

    A batch reads them from the executed notebook (:func:`kit.report.read_headline`); this
    is the fallback for a notebook that did not display them.

    Returns ``period``, ``currency``, ``expansion`` (expansion MRR in integer cents) and
    the rates ``customer_expansion_rate``, ``expansion_mrr_rate``, ``nrr``, ``grr``
    (None where undefined); ``period`` is None when no period is shown.
    """
    import kit
    from kit.report import load_options

    params = validate_parameters(params)
    ledger = kit.load_ledger(**load_options(params))
    return kit.analyse(ledger, params).headline()


def public_parameters(params: dict) -> dict:
    """Parameters as stored in ``NAME.json``: JSON types, the password of a database URL hidden."""
    out = json.loads(json.dumps(params))
    for key, value in out.items():  # data, fx, …: any text that is a database URL
        if isinstance(value, str):
            out[key] = shown_url(value)
    return out


def _record(name: str, params: dict, *, error: str | None = None, failed_notebook: str | None = None) -> dict:
    return {
        "name": name,
        "status": "failed" if error else "ok",
        "html": None if error else f"{name}.html",
        "parameters": public_parameters(params),
        "headline": None,
        "error": error,
        "failed_notebook": failed_notebook,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_record(folder: Path, record: dict) -> dict:
    if _orphaned():
        os._exit(1)  # the batch is gone: publish nothing
    write_atomic(folder / f"{record['name']}.json", json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False))
    return record


def resumable(folder: Path, job: Job) -> dict | None:
    """Return ``job``'s record from an earlier run, when it succeeded with the same parameters and its HTML exists."""
    try:
        record = json.loads((folder / f"{job.name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") != "ok" or not (folder / f"{job.name}.html").is_file():
        return None
    if record.get("parameters") != public_parameters(job.params):
        return None
    return {**record, "kept": True}
