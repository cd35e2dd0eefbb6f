"""Entry point of ``python -m engine_runtime.backtest``."""

import sys

from .cli import main

sys.exit(main())
