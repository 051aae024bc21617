"""``python -m reports.cli``: the fpsim command."""

import sys

from . import main

sys.exit(main())
