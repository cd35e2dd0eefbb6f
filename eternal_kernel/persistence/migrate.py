"""Versioned SQL migrations for any component, applied once under a PostgreSQL advisory lock.

Files are `NNNN_name.sql` in a directory; `schema_migrations(component, version, name,
applied_at)` records what ran. Several processes starting at once (runtimes of one fleet, the
operator's governance) serialise on the lock, and each file runs in its own transaction with its
record, so a crash mid-migration leaves the version unapplied rather than half-applied.
Governance reuses this with component "governance" and its own directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

LOCK_KEY = 0x45_45_4D_49_47  # "EEMIG": one lock for all components
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


def migration_files(directory: Path) -> list[tuple[int, str, Path]]:
    """(version, name, path) sorted by version; a malformed or repeated version is an error."""
    found: dict[int, tuple[int, str, Path]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"{path}: version {version} appears twice")
        found[version] = (version, match.group(2), path)
    return [found[v] for v in sorted(found)]


async def apply_migrations(
    target: asyncpg.Pool | asyncpg.Connection, component: str, directory: Path
) -> list[int]:
    """Apply the pending migrations of `component` from `directory`; returns the versions run."""
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await _apply(conn, component, directory)
    return await _apply(target, component, directory)


async def _apply(conn: asyncpg.Connection, component: str, directory: Path) -> list[int]:
    files = migration_files(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(_TABLE)
        rows = await conn.fetch(
            "SELECT version FROM schema_migrations WHERE component = $1", component
        )
        done = {r["version"] for r in rows}
        applied = []
        for version, name, path in files:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                    component,
                    version,
                    name,
                )
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
