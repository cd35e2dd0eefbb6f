"""`python -m paper_venue [--config FILE] [--host H] [--port P]`.

Prints one line `paper venue listening on http://HOST:PORT` once it accepts connections
(tests read it to learn the port when they pass --port 0) and runs until SIGINT/SIGTERM.
The admin API's token comes from the settings or PAPER_VENUE_ADMIN_TOKEN; without either,
the log says which file holds the one the venue generated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from paper_venue.config import VenueSettings
from paper_venue.router.admin_token import AdminTokenError
from paper_venue.router.app import PaperVenue


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m paper_venue")
    parser.add_argument("--config", type=Path, help="YAML or JSON settings file")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 8399; 0 picks a free one)")
    return parser.parse_args(argv)


async def _run(settings: VenueSettings) -> None:
    venue = PaperVenue(settings)
    await venue.start()
    print(f"paper venue listening on {venue.http_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await venue.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    settings = VenueSettings.load(args.config)
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        settings = settings.model_copy(update=overrides)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    try:
        asyncio.run(_run(settings))
    except AdminTokenError as error:
        print(f"paper venue: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
