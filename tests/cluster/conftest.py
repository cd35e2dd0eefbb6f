"""Cluster-suite fixtures: the paper venue as a real process, shared by the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eternal_operator.devtools.processes import stop
from support.processes import Venue, start_venue


@pytest.fixture(scope="session")
def paper_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    venue = start_venue(Path(tmp_path_factory.mktemp("venue")) / "venue.log")
    yield venue
    stop(venue.process)
