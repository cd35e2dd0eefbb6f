"""The admin API's token: where it comes from, and how a request's header is checked.

The admin API mints keys for any account, credits money and writes files, so it is never
open. The token is the configured one (`admin_token`, or `PAPER_VENUE_ADMIN_TOKEN` through
`VenueSettings.load`); without one, the venue keeps its own in `<data_dir>/admin-token`:
read if it is there (private to this user), generated otherwise. Only that file's path is
ever logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from pydantic import SecretStr

log = logging.getLogger(__name__)

FILE_NAME = "admin-token"
HEADER = "X-Admin-Token"
MIN_LENGTH = 16


class AdminTokenError(ValueError):
    """The configured token is unusable; the message never contains it."""


def resolve(configured: SecretStr | None, data_dir: Path) -> str:
    """The token the admin API requires: the configured one, else the data directory's."""
    if configured is not None:
        token = configured.get_secret_value()
        if len(token) < MIN_LENGTH or token != token.strip():
            raise AdminTokenError(
                f"admin_token must be at least {MIN_LENGTH} characters, without surrounding blanks"
            )
        return token
    path = data_dir / FILE_NAME
    kept = _read_private(path)
    if kept is not None:
        log.info("admin token read from %s (send it as header %s)", path, HEADER)
        return kept
    fresh = secrets.token_urlsafe(32)
    _write_private(path, fresh)
    log.info("admin token generated in %s (send it as header %s)", path, HEADER)
    return fresh


def _read_private(path: Path) -> str | None:
    """The token in `path` if it is a regular file of ours that nobody else may read."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        log.warning("ignoring %s: not a private file of this user; writing a new one", path)
        return None
    token = path.read_text().strip()
    return token if len(token) >= MIN_LENGTH else None


def _write_private(path: Path, token: str) -> None:
    """Write `token` to `path` with mode 0600, atomically (a fresh file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    tmp.replace(path)


def matches(expected: str, given: str | None) -> bool:
    """Whether a request's header carries the token, in time that does not depend on where
    the two first differ."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
