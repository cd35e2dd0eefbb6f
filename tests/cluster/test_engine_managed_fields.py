"""EE_OPERATOR_RESET_ENGINE_MANAGED_FIELDS against a real kube-apiserver: the operator resets the
field ownership of an Engine no server-side apply manages, and no later write tracks it again;
an Engine a server-side apply manages keeps it; and why the setting is opt-in (an Engine moved
to server-side apply after a reset loses what other writers added to it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support.engines import (
    SUB1_CREDS,
    engine_manifest,
    engine_when,
    leading_operator,
    phase,
    sub1_secret,
)
from support.kube import apply, get, managed_fields
from support.processes import Operator, Venue

pytestmark = pytest.mark.cluster

PREFIX = "mf"


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp("operator")) / "operator.log"
    op = leading_operator(control_plane, paper_venue, log, PREFIX,
                          reset_engine_managed_fields="true")  # fmt: skip
    yield op
    op.stop()


def server_side(plane: ControlPlane, ns: str, manifest: dict[str, Any]) -> None:
    plane.kubectl("apply", "--server-side", "--field-manager=gitops", "-n", ns, "-f", "-",
                  input=json.dumps(manifest))  # fmt: skip


def test_an_engine_applied_client_side_drops_its_managed_fields_for_good(
    control_plane: ControlPlane, ns: str
) -> None:
    """Every writer of such an Engine is an update: the operator resets its field ownership once,
    and no write after (its status, the user's next apply) brings it back."""
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("plain", credentials=SUB1_CREDS))
    engine_when(control_plane, ns, "plain", phase, "a phase")  # the operator's status write
    assert managed_fields(control_plane, ns, "plain") == []

    apply(control_plane, ns, engine_manifest("plain", credentials=SUB1_CREDS, symbols=["ETHUSDT"]))
    control_plane.kubectl(
        "patch", "engine", "plain", "-n", ns, "--subresource=status", "--type=merge",
        "-p", '{"status": {"runtime": {"heartbeat": "2026-12-04T12:00:00Z"}}}',
    )  # fmt: skip
    assert (get(control_plane, "engine", "plain", ns) or {})["spec"]["symbols"] == ["ETHUSDT"]
    assert managed_fields(control_plane, ns, "plain") == []


def test_an_engine_applied_server_side_keeps_its_field_ownership(
    control_plane: ControlPlane, ns: str
) -> None:
    """Its applier relies on it: a symbol and a label left out of the next apply are removed,
    which only the ownership the operator kept makes possible."""
    sub1_secret(control_plane, ns)
    manifest = engine_manifest("applied", credentials=SUB1_CREDS, symbols=["BTCUSDT", "ETHUSDT"])
    manifest["metadata"]["labels"] = {"tier": "gold"}
    server_side(control_plane, ns, manifest)
    engine_when(control_plane, ns, "applied", phase, "a phase")  # the operator's first pass
    assert "gitops" in [m["manager"] for m in managed_fields(control_plane, ns, "applied")]

    manifest["metadata"]["labels"] = {}
    manifest["spec"]["symbols"] = ["ETHUSDT"]
    server_side(control_plane, ns, manifest)
    after = get(control_plane, "engine", "applied", ns) or {}
    assert "tier" not in (after["metadata"].get("labels") or {})
    assert after["spec"]["symbols"] == ["ETHUSDT"]


def test_why_it_is_opt_in_a_first_server_side_apply_after_the_reset_drops_a_label_it_never_owned(
    control_plane: ControlPlane, ns: str
) -> None:
    """An Engine applied client-side and reset, then labelled by someone else (a policy's
    selector label, `kubectl label`: an update, untracked after the reset), then moved to
    server-side apply: that first apply removes the label, which it never set; with the
    ownership kept, the label would stay with its writer (docs/operator.md "Managed fields":
    the operator's own finalizer and annotations go the same way until it adds them back)."""
    sub1_secret(control_plane, ns)
    manifest = engine_manifest("moved", credentials=SUB1_CREDS)
    apply(control_plane, ns, manifest)
    engine_when(control_plane, ns, "moved", phase, "a phase")
    assert managed_fields(control_plane, ns, "moved") == []
    control_plane.kubectl("label", "engine", "moved", "-n", ns, "governed-by=strict")

    server_side(control_plane, ns, manifest)
    after = get(control_plane, "engine", "moved", ns) or {}
    assert "governed-by" not in (after["metadata"].get("labels") or {})
