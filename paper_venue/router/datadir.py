"""Names the admin API is given, resolved inside the venue's data directory and kept there.

/admin/snapshot and /admin/restore take a file name from the network: it may not be
absolute, may not climb out with `..`, and may not reach outside through a symbolic link
(the resolved path, every link followed, must still lie inside the data directory).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class OutsideDataDir(ValueError):
    """The name does not denote a file inside the data directory."""


def inside(data_dir: Path, name: str) -> Path:
    """The real path of `name` within `data_dir`; OutsideDataDir if it would lie elsewhere."""
    if not name or "\0" in name or "\\" in name:
        raise OutsideDataDir("path must be a file name inside the data directory")
    relative = PurePosixPath(name)
    if relative.is_absolute():
        raise OutsideDataDir("path must be relative to the data directory, not absolute")
    if ".." in relative.parts:
        raise OutsideDataDir("path must not contain '..'")
    root = data_dir.resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise OutsideDataDir("path leads outside the data directory")
    return target
