"""The whole local stack in a test, run as `make up` runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from eternal_operator.devtools.stack import Stack


@contextmanager
def running(fleet: Stack) -> Iterator[Stack]:
    """Up, supervised from a thread (restarts as `make up` does), and down at the end."""
    supervising = threading.Thread(target=fleet.supervise, daemon=True)
    try:
        fleet.up()
        supervising.start()
        yield fleet
    finally:
        fleet.down()
        if supervising.is_alive():
            supervising.join(timeout=30)
