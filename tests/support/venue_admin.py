"""The paper venue's admin API as the tests call it: one token for every venue they start."""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from typing import Any

ADMIN_TOKEN = secrets.token_urlsafe(24)
"""This test run's admin token; `venue_env` hands it to every venue process the tests start."""
ADMIN_HEADERS = {"X-Admin-Token": ADMIN_TOKEN}


def venue_env(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """The environment of a venue process: ours, plus its admin token."""
    return {**os.environ, "PAPER_VENUE_ADMIN_TOKEN": token}


def admin(
    venue_url: str, path: str, body: dict[str, Any] | None = None, token: str = ADMIN_TOKEN
) -> Any:
    """Call /admin/`path` (GET without a body, POST with one) and return the JSON answer."""
    request = urllib.request.Request(
        f"{venue_url}/admin/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "X-Admin-Token": token},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())
