"""
Every kernel a test starts imports this checkout's ``kit``: nbval's (the notebooks under ``--nbval-lax``), papermill's.

A kernel starts in its notebook's folder and inherits the environment, so a worktree or a second clone would
otherwise import whichever ``kit`` is installed in the interpreter (``pip install -e`` of another checkout).
This file sits at the root, not in ``notebooks/``: a second ``conftest`` module imported late would shadow
``tests/conftest.py`` for the tests that import from it.
"""

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)
_OTHERS = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]
os.environ["PYTHONPATH"] = os.pathsep.join([ROOT, *_OTHERS])
