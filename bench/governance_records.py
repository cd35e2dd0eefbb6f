"""What the local stack wrote down during a governance bench run: the API server's audit log of
writes (who wrote what, when) and each real runtime's pod log."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from eternal_operator.devtools.controlplane import ADMIN_USER
from eternal_operator.settings import OperatorSettings

NAMESPACE = "default"
"""Where the bench's fleet lives."""
AGENT = "governance-bench"
LEADER_LEASE = OperatorSettings.model_fields["lease_name"].default
"""The bench's User-Agent: its own writes are told apart from the operator's (same user)."""


def wall_s(text: str) -> float:
    """An RFC 3339 / ISO time (the audit log's, the runtime log's) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Audit:
    """The API server's audit log of writes (Metadata level: who, what, when)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        """Later reads start here: what was logged before is not this run's."""
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def writes(
        self, since: float, until: float, fleet: str, refused_only: bool = False
    ) -> Counter[tuple[str, str]]:
        """Writes received in [since, until] (epoch s), by writer and resource (with the answer's
        code when refused, e.g. `engines/status 429`); the bench's patch that started the run
        excluded."""
        counted: Counter[tuple[str, str]] = Counter()
        with self.path.open("rb") as lines:
            lines.seek(self.offset)
            for line in lines:
                try:
                    event = json.loads(line)
                    received = wall_s(event["requestReceivedTimestamp"])
                except (ValueError, KeyError):
                    continue  # a line being written
                if not since <= received <= until:
                    continue
                ref = event.get("objectRef") or {}
                resource = ref.get("resource", "?") + (
                    f"/{ref['subresource']}" if ref.get("subresource") else ""
                )
                who = writer(event, resource, fleet)
                if not who or (who == "bench" and resource == "circuitbreakerpolicies"):
                    continue  # the emergencyHalt patch itself (and, after it, the reset)
                code = int((event.get("responseStatus") or {}).get("code") or 0)
                if code >= 400:
                    resource += f" {code}"
                elif refused_only:
                    continue
                counted[(who, resource)] += 1
        return counted


def writer(event: dict[str, Any], resource: str, fleet: str) -> str:
    user = str((event.get("user") or {}).get("username") or "?")
    agent = str(event.get("userAgent") or "")
    if user == "system:apiserver":
        return ""  # its own leases and endpoints, every 10 s whatever happens: not counted
    if resource == "leases" and (event.get("objectRef") or {}).get("name") == LEADER_LEASE:
        return ""  # the leader's renewals, every 3 s whatever happens: not counted either
    if user.startswith(f"system:serviceaccount:{NAMESPACE}:") and user.endswith("-runtime"):
        return fleet  # "runtimes" or "stand-ins"
    if user == ADMIN_USER:  # the operator, the pod runner and the bench share the admin token
        if agent.startswith((AGENT, "kubectl")):
            return "bench"
        if resource == "deployments/status":
            return "pod runner"
        return "operator (kopf)" if agent.startswith("kopf") else "operator"
    return user


class RuntimeLogs:
    """Each real runtime's pod log (the pod runner appends it: <root>/pods/logs/<ns>_<pod>.log,
    JSON lines stamped `ts`, UTC to the millisecond)."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.paths = {n: root / "pods" / "logs" / f"{NAMESPACE}_{n}-runtime.log" for n in names}
        self.offsets = dict.fromkeys(names, 0)

    def mark(self) -> None:
        self.offsets = {n: p.stat().st_size if p.exists() else 0 for n, p in self.paths.items()}

    def first(self, message: str) -> dict[str, float]:
        """Each runtime's first record `message` since the mark (epoch s)."""
        found: dict[str, float] = {}
        for name, path in self.paths.items():
            with path.open("rb") as lines:
                lines.seek(self.offsets[name])
                for line in lines:
                    if message.encode() not in line:
                        continue
                    with contextlib.suppress(ValueError, KeyError):
                        record = json.loads(line)
                        if record.get("msg") == message:
                            found[name] = wall_s(record["ts"])
                            break
        return found

    def last_of(self, message: str) -> float:
        """When the last runtime logged `message` since the mark (epoch s): every one must have."""
        found = self.first(message)
        missing = set(self.paths) - set(found)
        if missing:
            raise RuntimeError(f"no {message!r} in the logs of {sorted(missing)[:5]}")
        return max(found.values())
