"""Print the installed distributions the runtime image does not need, one per line.

The image installs exactly what CI installs (`uv pip install -r requirements.lock`, then the
project with `--no-deps`), so a dependency that breaks shows in CI first. requirements.lock also
holds the `dev` extra (pytest, ruff, checkov...), which has no place in a runtime image: this
script walks the project's own requirements (with the RUNTIME_EXTRAS only) through the installed
metadata and prints everything outside that closure, for `uv pip uninstall` to remove.

Run it with the interpreter of the environment to prune:

    /opt/venv/bin/python scripts/prune_venv.py [--keep-closure]

Exit status 1 if a runtime requirement is not installed (the lock is broken).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata

from packaging.requirements import Requirement

PROJECT = "eternal-engine"
RUNTIME_EXTRAS = frozenset({"model"})
"""Extras the runtime image keeps: `model` (xgboost, for the meta-trend strategy)."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = PROJECT) -> tuple[set[str], list[str]]:
    """The names (canonical) the root needs without extras, and requirements that are missing."""
    installed = {canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    keep: set[str] = set()
    missing: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonical(root), RUNTIME_EXTRAS)]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = installed.get(name)
        if dist is None:
            missing.add(name)
            continue
        keep.add(name)
        envs = [{"extra": e} for e in sorted(extras)] or [{"extra": ""}]
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonical(req.name), frozenset(req.extras)))
    return keep, sorted(missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep-closure", action="store_true", help="print what is kept instead of what goes"
    )
    args = parser.parse_args(argv)
    keep, missing = runtime_closure()
    if missing:
        print(f"runtime requirements not installed: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    installed = {canonical(d.metadata["Name"]) for d in metadata.distributions()}
    names = keep if args.keep_closure else installed - keep
    for name in sorted(names):
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
