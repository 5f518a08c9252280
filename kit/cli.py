"""
The command line: ``python -m kit COMMAND``.

Argument parsing and exit codes only; the work is done by the kit's functions. Errors
of the kit print as one or two lines (``error: …``) with exit status 2; ``--debug``
shows the traceback too. A report that fails exits with status 1.

``summary --output FILE`` writes the CSV atomically (:func:`kit.export.write_atomic`;
a file replaced keeps its permission bits) and refuses, before any work, a FILE that is
the data or the FX file; ``--output -`` prints to standard output. ``--sheet`` is passed
as text: a sheet's name, or else digits as its 0-based position (see kit.sources).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from kit import parallel, params
from kit.errors import KitError, ParameterError, ReportError, ReportInputError
from kit.params import filter_values as _filters  # noqa: F401 - the old names
from kit.params import pairs as _pairs  # noqa: F401
from kit.params import row_number as _row_number  # noqa: F401

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
# Names --output accepts: it writes CSV text, which under another format's suffix would mislead.
CSV_SUFFIXES = {".csv", ".txt", ""}


def parameters_from_args(args) -> dict:
    """Turn parsed ``python -m kit report`` arguments into report parameters (paths as given: see render_report)."""
    from kit.report import validate_parameters

    values = params.parameters_from_args(args)
    return validate_parameters({k: v for k, v in values.items() if v is not None})


def _add_source_options(parser: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    if data_required:
        parser.add_argument("data", help="CSV, Parquet, Excel or SQLite file, or a SQLAlchemy URL")
    else:
        parser.add_argument("data", nargs="?", default=None, help="data file or URL (default: the bundled sample)")
    params.add_options(parser, (params.SOURCE,))


def _add_metric_options(parser: argparse.ArgumentParser) -> None:
    params.add_options(parser, (params.MEASURING,))


def _load(args):
    """Load the ledger of ``kit summary``: the declared load keywords, each option as given (None: not given)."""
    from kit.ledger import load_ledger

    return load_ledger(**params.ledger_options(params.args_values(args, (params.SOURCE,)), empty_is_none=False))


def cmd_summary(args) -> int:
    """Print or write the period summary as CSV (chunks, processes or Spark: --memory-limit, --jobs, --engine)."""
    from kit.metrics import summarize

    if parallel.scaled(args):
        _check_output_arg(args)
        load = params.ledger_options(params.args_values(args, (params.SOURCE,)), empty_is_none=False)
        table, quality = parallel.summary_from_args(args, load)
        _say_quality(quality)
        _write_csv(args, None, table)
        return EXIT_OK
    ledger = _load_for_csv(args)
    table = summarize(ledger, period=args.period, netting=args.netting,
                      reactivation_window=args.reactivation_window, by=args.by)  # fmt: skip
    _write_csv(args, ledger, table)
    return EXIT_OK


def cmd_causes(args) -> int:
    """Print or write the cause bridge as CSV (money in major units, as ``kit summary``)."""
    from kit import bridges

    ledger = _load_for_csv(args)
    for sentence in bridges.inputs(ledger)["missing"]:  # what stays unattributed, and the column that would split it
        print(f"note: {sentence}", file=sys.stderr)
    table = bridges.causes(ledger, period=args.period, reactivation_window=args.reactivation_window, by=args.by)
    _write_csv(args, ledger, table, money=(*bridges.MONEY, *bridges.EXPANSION), rates=bridges.RATES,
               counts=bridges.COUNTS)  # fmt: skip
    return EXIT_OK


def _load_for_csv(args):
    """Check ``--output`` before any work, load the ledger and say on standard error what was excluded or noted."""
    _check_output_arg(args)
    ledger = _load(args)
    _say_quality(ledger.quality)
    return ledger


def _check_output_arg(args) -> None:
    if bool(args.output) and args.output != "-":  # "-": standard output, as with no --output
        _check_output(Path(args.output), {"data": args.data, "FX": args.fx})


def _say_quality(quality) -> None:
    """Say on standard error what was excluded or noted."""
    from kit.narrative import plural

    if quality.rows_excluded:  # never a silent drop: say what --lenient (or the window) left out
        reasons = "; ".join(f"{r.reason}: {r.rows:,}" for r in quality.excluded.itertuples())
        print(f"note: {quality.rows_excluded:,} of {quality.rows_read:,} rows excluded ({reasons})", file=sys.stderr)
    for note in quality.notes.itertuples():  # valid rows worth a look (the report's appendix lists them too)
        print(f"note: {note.note}: {plural(note.count, 'row')} (e.g. {note.examples})", file=sys.stderr)
    for key, value in quality.details.items():  # what the source said of itself (a hidden sheet skipped, …)
        if key.endswith(" note") and value:
            print(f"note: {value}", file=sys.stderr)


def _write_csv(args, ledger, table, **kinds) -> None:
    """Write ``table`` as CSV to ``--output`` (atomically) or standard output; say when it has no rows."""
    from kit.export import summary_csv, write_atomic
    from kit.narrative import plural

    to_file = bool(args.output) and args.output != "-"
    if table.empty and ledger is None:
        print("note: no summary rows: the data covers only the baseline period, which has no movements",
              file=sys.stderr)  # fmt: skip
    elif table.empty:
        from kit.movements import plan_periods

        baseline = plan_periods(ledger, args.period).baseline
        print(f"note: no summary rows: the data covers only the baseline period {baseline}, "
              "which has no movements", file=sys.stderr)  # fmt: skip
    text = summary_csv(table, **kinds)
    if to_file:
        write_atomic(args.output, text)
        print(f"wrote {args.output} ({plural(len(table), 'row')})", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _check_output(path: Path, inputs: dict[str, object]) -> None:
    """Refuse, before any work, an --output that cannot be written or is one of the ``inputs`` (data, FX)."""
    from kit.export import check_name_length, check_not_input, check_target, clean_stale_temporaries

    check_not_input(path, inputs)  # `--output victim.csv` on victim.csv would replace the billing data
    if path.suffix.lower() not in CSV_SUFFIXES:
        raise ParameterError(f"{path}: --output writes CSV text; name the file .csv (not {path.suffix})")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise ParameterError(f"{path}: the folder {parent} does not exist")
    check_name_length(path)
    if path.is_dir():
        raise ParameterError(f"{path}: is a directory")
    import tempfile

    try:  # before any work: can a file be created there?
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise ParameterError(f"{path}: cannot write in the folder {parent} ({exc.strerror or exc})") from None
    check_target(path)  # a symlink, FIFO or device is refused, as is a name too long
    clean_stale_temporaries(parent)  # what a killed earlier run left there


def cmd_report(args) -> int:
    """Render one report to HTML."""
    from kit.report import render_report

    values = parameters_from_args(args)
    xlsx = bool(getattr(args, "xlsx", False))  # the notebook writes it from the tables it computed
    result = render_report(values, output_dir=args.output_dir, name=args.name, xlsx=xlsx)
    print(f"wrote {result}")
    if xlsx:
        print(f"wrote {result.with_suffix('.xlsx')}")
    return EXIT_OK


def cmd_batch(args) -> int:
    """Render the reports of a batch config in parallel, with an index page."""
    from kit.batch import load_batch, run_batch

    if args.jobs is not None and args.jobs < 1:
        raise ParameterError(f"--jobs must be 1 or more, not {args.jobs}")
    batch = load_batch(args.config, output_dir=args.output_dir)
    return EXIT_FAILED if run_batch(batch, jobs=args.jobs, resume=args.resume) else EXIT_OK


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as the kit's other errors (exit status 2)."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m kit``."""
    parser = _Parser(
        prog="python -m kit",
        description="Expansion revenue and expansion rate from billing data.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    summary = commands.add_parser("summary", help="the period summary as CSV (one row per period, contract columns)")
    _add_source_options(summary)
    _add_metric_options(summary)
    summary.add_argument("--by", metavar="COLUMN", help="break the summary down by a customer attribute")
    summary.add_argument(
        "--output",
        "-o",
        metavar="FILE.csv",
        help="write here instead of printing (- prints; never the data or FX file)",
    )
    parallel.add_options(summary)
    summary.set_defaults(func=cmd_summary)

    why = commands.add_parser("causes", help="the cause bridge as CSV: seats, price, plan, cross-sell, dropped, churn")
    _add_source_options(why)
    params.add_options(why, (params.MEASURING,), exclude=("netting",))  # the causes are product-level by definition
    why.add_argument("--by", metavar="COLUMN", help="break the bridge down by a customer attribute")
    why.add_argument("--output", "-o", metavar="FILE.csv",
                     help="write here instead of printing (- prints; never the data or FX file)")  # fmt: skip
    why.set_defaults(func=cmd_causes)

    report = commands.add_parser("report", help="render the HTML report (default: on the bundled sample)")
    _add_source_options(report, data_required=False)
    _add_metric_options(report)
    params.add_options(report, (params.REPORT,))
    report.add_argument("--output-dir", default=None, help="folder for the HTML and the executed notebook")
    report.add_argument("--name", help="file name of the report, without suffix")
    report.add_argument(
        "--xlsx", action="store_true", help="also write NAME.xlsx beside the HTML: its tables, parameters, data quality"
    )
    report.set_defaults(func=cmd_report)

    batch = commands.add_parser("batch", help="many reports from a TOML or YAML config, in parallel, with an index")
    batch.add_argument("config", help="batch config (.toml, .yaml, .yml); see kit/batch/models.py, examples/batch.toml")
    batch.add_argument("--output-dir", default=None, help="folder of the reports and index.html (wins over the config)")
    batch.add_argument("--jobs", "-j", type=int, metavar="N", help="reports at once (default, at most: the cores)")
    batch.add_argument("--resume", action="store_true",
                       help="keep reports whose HTML exists from an earlier run with the same parameters")  # fmt: skip
    batch.set_defaults(func=cmd_batch)
    return parser


def _no_hugepage_advice() -> None:
    """
    Stop NumPy advising transparent huge pages for its large arrays (unless the user set NUMPY_MADVISE_HUGEPAGE).

    Where the kernel's THP defrag is "madvise", a fault on such
    memory first compacts memory; on a host whose memory is fragmented that makes fresh
    memory several times slower (measured: 0.20 s instead of 0.03 s per 100 MB).
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another NumPy: leave it as it is
        return
    _set_madvise_hugepage(False)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    _no_hugepage_advice()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a wrong option (2, said in one line): a status, as below
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        return args.func(args)
    except KitError as exc:
        if args.debug:
            traceback.print_exc()
        lines = str(exc).splitlines() or [""]
        if len(lines) > 2:  # a list of problems: the problems on one line, the advice on the next
            lines = [lines[0] + " " + " / ".join(line.strip() for line in lines[1:-1]), lines[-1]]
        print("error: " + "\n".join(lines), file=sys.stderr)
        failed_run = isinstance(exc, ReportError) and not isinstance(exc, ReportInputError)
        return EXIT_FAILED if failed_run else EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
