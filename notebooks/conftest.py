"""
nbval runs the notebooks here (``--nbval-lax`` in pyproject.toml): their kernels import this checkout's ``kit``.

A kernel starts in this folder and inherits the environment, so a worktree or a second clone would otherwise
import whichever ``kit`` is installed in the interpreter (``pip install -e`` of another checkout).
"""

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
_OTHERS = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]
os.environ["PYTHONPATH"] = os.pathsep.join([ROOT, *_OTHERS])
