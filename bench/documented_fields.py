"""Fields checked / missing per paper-venue route and stream topic, against Bybit's
documented examples (tests/fixtures/bybit/). Starts a venue in-process on a stepped clock,
drives it through the session of tests/integration/paper_venue/pv_documented.py and
prints the table; exits 1 if a documented field is missing or a route is unchecked.

    .venv/bin/python bench/documented_fields.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration" / "paper_venue")]

from pv_documented import run, table, unmapped_routes, unmapped_topics  # noqa: E402
from pv_support import settings  # noqa: E402

from paper_venue.clock import Clock, ClockMode  # noqa: E402
from paper_venue.router.app import PaperVenue  # noqa: E402


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        pv = PaperVenue(settings(data_dir=tmp), Clock(ClockMode.STEPPED))
        await pv.start()
        try:
            tallies = await run(pv)
        finally:
            await pv.stop()
    print(table(tallies))
    unchecked = unmapped_routes() + unmapped_topics()
    if unchecked:
        print("served without a documented example:", ", ".join(unchecked))
    return 1 if unchecked or any(t.missing for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
