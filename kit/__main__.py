"""``python -m kit``: the command line (see :mod:`kit.cli`)."""

import sys

from kit.cli import main

sys.exit(main())
