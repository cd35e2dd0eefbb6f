"""One subaccount, one Engine, cluster-wide, on a real API server with the operator and the paper
venue: a second Engine naming a claimed subaccount (by its username or its UID, from any
namespace) is refused before any key is minted or any venue call is made, suspending or deleting
it touches nothing of the owner's account, and the claim passes on when the owner goes."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support.engines import leading_operator
from support.kube import apply, get
from support.processes import Operator, Venue
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
PREFIX = "clm"


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp("claims")) / "operator.log"
    op = leading_operator(control_plane, paper_venue, log, PREFIX, error_backoff_seconds="1",
                          error_backoff_max_seconds="4")  # fmt: skip
    yield op
    op.stop()


@pytest.fixture
def two_namespaces(control_plane: ControlPlane, operator: Operator) -> Iterator[tuple[str, str]]:
    names = (f"{PREFIX}-{secrets.token_hex(3)}", f"{PREFIX}-{secrets.token_hex(3)}")
    for name in names:
        control_plane.kubectl("create", "namespace", name)
    yield names
    for name in names:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def engine(name: str, subaccount: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
        "metadata": {"name": name},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": subaccount, **spec},
    }  # fmt: skip


def status(plane: ControlPlane, ns: str, name: str) -> dict[str, Any]:
    return dict((get(plane, "engine", name, ns) or {}).get("status") or {})


def condition(plane: ControlPlane, ns: str, name: str, kind: str) -> dict[str, Any]:
    conditions = status(plane, ns, name).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def keys_of(venue: Venue, username: str) -> tuple[int, int] | None:
    """(uid, API keys) of a paper-venue account, from the venue's own books."""
    for account in admin(venue.url, "state")["accounts"]:
        if account["username"] == username:
            return int(account["uid"]), int(account["api_keys"])
    return None


def secret_keys(plane: ControlPlane, ns: str, name: str) -> tuple[str, str]:
    data = (get(plane, "secret", f"{name}-venue-credentials", ns) or {})["data"]
    key, value = (base64.b64decode(data[k]).decode() for k in ("apiKey", "apiSecret"))
    return key, value


def events(plane: ControlPlane, ns: str) -> list[dict[str, Any]]:
    return list(json.loads(plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"])


def test_a_second_engine_naming_a_claimed_subaccount_gets_nothing_and_touches_nothing(
    control_plane: ControlPlane, two_namespaces: tuple[str, str], paper_venue: Venue
) -> None:
    owner_ns, intruder_ns = two_namespaces
    username = f"victim{secrets.token_hex(3)}1"
    apply(control_plane, owner_ns, engine("owner", username))
    wait_for(lambda: get(control_plane, "secret", "owner-venue-credentials", owner_ns), 30,
             "the owner's provisioned key")  # fmt: skip
    uid, minted = keys_of(paper_venue, username) or (0, 0)
    assert minted == 1
    # The owner's resting order, which a stranger's suspend must not cancel.
    owner_venue = http_session(paper_venue.url, *secret_keys(control_plane, owner_ns, "owner"))
    admin(paper_venue.url, f"accounts/{uid}/deposit", {"coin": "USDT", "amount": "1000"})
    owner_venue.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                            qty="0.001", price="10000")  # fmt: skip

    # Another tenant names it, by username and by UID, and suspends one of them at once.
    apply(control_plane, intruder_ns, engine("by-name", username, suspend=True))
    apply(control_plane, intruder_ns, engine("by-uid", str(uid)))
    for name in ("by-name", "by-uid"):
        refused = wait_for(
            lambda n=name: (c := condition(control_plane, intruder_ns, n, "CredentialsValid"))
            .get("reason") == "SubaccountConflict" and c,
            30, f"{name} refused",
        )  # fmt: skip
        assert f"{owner_ns}/owner" in refused["message"]
        expected = "Suspended" if name == "by-name" else "Failed"  # suspend shows first
        wait_for(lambda n=name, p=expected: status(control_plane, intruder_ns, n).get("phase")
                 == p, 30, f"{name} {expected}")  # fmt: skip
        assert get(control_plane, "secret", f"{name}-venue-credentials", intruder_ns) is None
        assert get(control_plane, "deployment", f"{name}-runtime", intruder_ns) is None
    wait_for(lambda: status(control_plane, intruder_ns, "by-name").get("shutdown", {})
             .get("completedAt"), 30, "the intruder's suspend to complete")  # fmt: skip
    assert keys_of(paper_venue, username) == (uid, 1)  # no key minted for anyone else
    assert owner_venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    warned = [e for e in events(control_plane, intruder_ns) if "belongs to Engine" in e["message"]]
    assert warned

    # The intruder's deletion touches nothing; the owner's passes the claim on.
    control_plane.kubectl("delete", "engine", "by-name", "-n", intruder_ns, "--wait=true",
                          "--timeout=60s")  # fmt: skip
    assert owner_venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    control_plane.kubectl("delete", "engine", "owner", "-n", owner_ns, "--wait=true",
                          "--timeout=60s")  # fmt: skip
    assert not owner_venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    wait_for(lambda: get(control_plane, "deployment", "by-uid-runtime", intruder_ns), 30,
             "the next Engine naming it to run")  # fmt: skip


def test_a_minted_key_is_stored_before_it_is_used_and_minted_once_whatever_fails(
    control_plane: ControlPlane, two_namespaces: tuple[str, str], paper_venue: Venue
) -> None:
    ns, _ = two_namespaces
    username = f"keep{secrets.token_hex(3)}1"
    # The API server refuses the engine's Secret for a while: the operator has minted a key it
    # cannot store yet, and its retries must store that key, not mint more.
    deny = f"deny-secret-{ns}"
    control_plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
        "items": [{
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": deny},
            "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["secrets"]}]},
                "validations": [{"expression":
                    f"!(request.namespace == '{ns}' && object.metadata.name == "
                    "'keep-venue-credentials')", "message": "not now"}]},
        }, {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": deny},
            "spec": {"policyName": deny, "validationActions": ["Deny"]},
        }]}))  # fmt: skip
    try:
        wait_for(lambda: "not now" in control_plane.kubectl(
            "create", "secret", "generic", "keep-venue-credentials", "-n", ns,
            "--dry-run=server", check=False).stderr, 30, "the refusal in force")  # fmt: skip
        apply(control_plane, ns, engine("keep", username))
        wait_for(lambda: len([e for e in events(control_plane, ns)
                              if e["reason"] == "ReconcileFailed"]) >= 2, 60,
                 "two passes that could not store the key")  # fmt: skip
    finally:
        control_plane.kubectl("delete", "validatingadmissionpolicybinding,"
                              "validatingadmissionpolicy", deny, check=False)  # fmt: skip
    stored = wait_for(lambda: get(control_plane, "secret", "keep-venue-credentials", ns), 60,
                      "the key stored once the API server takes it")  # fmt: skip
    assert stored is not None
    assert keys_of(paper_venue, username) is not None
    assert keys_of(paper_venue, username)[1] == 1  # type: ignore[index]
    key, secret = secret_keys(control_plane, ns, "keep")
    assert http_session(paper_venue.url, key, secret).get_wallet_balance(
        accountType="UNIFIED")["retCode"] == 0  # fmt: skip
