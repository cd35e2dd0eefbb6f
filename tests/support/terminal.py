"""Letting a long step inside pytest reach the terminal: pytest captures a test's (and a
fixture's) stdout and stderr, so a cold Go build it triggers would print nothing for minutes.
`visible()` lifts the capture for the step, as `capsys.disabled()` does, from any helper."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_capture: Any = None


def configure(config: Any) -> None:
    """Called from the root conftest's pytest_configure with pytest's config."""
    global _capture
    _capture = config.pluginmanager.getplugin("capturemanager")


@contextlib.contextmanager
def visible() -> Iterator[None]:
    """Inside, fd 1 and 2 are the terminal's again (outside pytest: a no-op)."""
    if _capture is None:
        yield
        return
    with _capture.global_and_fixture_disabled():
        yield
