"""JSON logs, one object per line, with secrets kept out.

Every record passes a redaction of the API key and secret and of passwords in URLs, whatever
the message or its extra fields contain, so a careless log line cannot leak a credential. The
line's own fields (`ts`, `level`, `logger`, `msg`, `exc`, and the static `engine` and `pod`)
cannot be overwritten by a record's extra fields: a colliding extra goes out as `extra_<name>`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _URL_PASSWORD.sub(r"\1***@", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor, static: dict[str, str]) -> None:
        super().__init__()
        self.redact = redact
        self.static = static

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **self.static,
        }
        taken = set(entry) | {"exc"}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                name = key
                while name in taken:  # never over one of the line's own fields
                    name = f"extra_{name}"
                taken.add(name)
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure(level: str, fmt: str, secrets: list[str], static: dict[str, str]) -> None:
    handler = logging.StreamHandler(sys.stdout)
    redact = Redactor(secrets)
    handler.setFormatter(JsonFormatter(redact, static) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("websockets", "pybit", "urllib3", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
