"""
Many reports in one command: ``python -m kit batch CONFIG [--output-dir DIR] [--jobs N] [--resume]``.

Four rooms, in the order of a run:

* :mod:`kit.batch.models`: what a config may hold, as pydantic models (the schema).
* :mod:`kit.batch.config`: read the TOML or YAML config and check all of it before any
  work, each problem one message with its place; :func:`load_batch` returns the reports.
* :mod:`kit.batch.run`: render them in parallel worker processes, one record
  ``NAME.json`` each, ``--resume``; :func:`run_batch`.
* :mod:`kit.batch.index`: the index page linking every report; :func:`index_html`.

The names below are the package's public ones (``from kit.batch import load_batch``).
"""

from kit.batch.config import INDEX, SUFFIXES, TOP_KEYS, Batch, Job, load_batch, read_config
from kit.batch.index import RATE_NAMES, RATES, index_html
from kit.batch.models import AXES, PLACEHOLDERS, BatchConfig
from kit.batch.run import end_with_parent, headline, public_parameters, resumable, run_batch, run_one

__all__ = [
    "AXES",
    "INDEX",
    "PLACEHOLDERS",
    "RATES",
    "RATE_NAMES",
    "SUFFIXES",
    "TOP_KEYS",
    "Batch",
    "BatchConfig",
    "Job",
    "end_with_parent",
    "headline",
    "index_html",
    "load_batch",
    "public_parameters",
    "read_config",
    "resumable",
    "run_batch",
    "run_one",
]
