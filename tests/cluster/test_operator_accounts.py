"""The operator's own venue calls (a halt's flatten, a quiet runtime's equity, a deadline's check)
use the claim and keys it keeps for each Engine, against a real API server: the claim's Lease and
the Secret are read once, not for every call (a halt of the fleet, or a fleet of quiet runtimes
read every second, would otherwise cost two reads per engine each time); a call refused with
kept keys is tried once more with the Secret's keys if they were rotated; an Engine whose spec
names another subaccount, or whose claim another Engine holds, is read afresh."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx2
import pytest

from eternal_kernel.api.v1alpha1 import names
from eternal_operator.controllers.engine.claims import Subaccount
from eternal_operator.controllers.engine.credentials import SecretRef
from eternal_operator.controllers.engine.reconcile import Context, reconcile
from eternal_operator.controllers.policy.measure import Account, account_of, on_account
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.kube import KubeClient
from eternal_operator.settings import OperatorSettings
from support.kube import apply, get, secret

pytestmark = pytest.mark.cluster

ENGINE = "acct"
UID = "0f0e0d0c-0b0a-4909-8807-060504030201"
SPEC: dict[str, object] = {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "acct01"}
SECRET = names.derived(ENGINE, names.CREDENTIALS_SECRET)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    ns = f"acct-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", ns)
    yield ns
    control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
async def ctx(
    control_plane: ControlPlane, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Context, Counter[str]]]:
    """The operator's context on the real API server (its own namespace holds the claims), and
    the reads its client sends, by resource."""
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    kube = KubeClient.from_environment()
    reads: Counter[str] = Counter()

    async def count(request: httpx2.Request) -> None:
        if request.method == "GET":
            reads[request.url.path.split("/")[-2]] += 1

    kube.http.event_hooks["request"].append(count)
    settings = OperatorSettings(
        runtime_image="example/runtime:1", simulator_url="http://venue:8399",
        pod_namespace=namespace,
    )  # fmt: skip
    yield Context(kube=kube, settings=settings, venue=None), reads  # type: ignore[arg-type]
    await kube.close()


def engine(name: str) -> dict[str, object]:
    return {"apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
            "metadata": {"name": name}, "spec": SPEC}  # fmt: skip


def held_by_another(plane: ControlPlane, ns: str) -> None:
    """The subaccount's claim now held by another Engine, one that exists."""
    apply(plane, ns, engine("owner"))
    owner = (get(plane, "engine", "owner", ns) or {})["metadata"]["uid"]
    held = json.dumps({"spec": {"holderIdentity": f"{ns}/owner/{owner}"}})
    lease = Subaccount("simulator", "acct01").lease
    plane.kubectl("-n", ns, "patch", "lease", lease, "--type=merge", "-p", held)


def keys_in(plane: ControlPlane, ns: str, api_key: str) -> None:
    secret(plane, ns, SECRET, {"apiKey": api_key, "apiSecret": f"{api_key}-secret"})


async def test_an_engines_claim_and_keys_are_read_once_then_kept(
    control_plane: ControlPlane, namespace: str, ctx: tuple[Context, Counter[str]]
) -> None:
    context, reads = ctx
    keys_in(control_plane, namespace, "key-one")
    first = await account_of(context, namespace, ENGINE, UID, SPEC)
    assert (first.keys.api_key, first.kept) == ("key-one", False)
    assert reads == {"leases": 1, "secrets": 1}
    lease = Subaccount("simulator", "acct01").lease
    assert (get(control_plane, "lease", lease, namespace) or {})["spec"]["holderIdentity"] == (
        f"{namespace}/{ENGINE}/{UID}"
    )
    for _ in range(20):  # a fleet of quiet runtimes, read every second
        again = await account_of(context, namespace, ENGINE, UID, SPEC)
        assert (again.keys, again.kept) == (first.keys, True)
    assert reads == {"leases": 1, "secrets": 1}
    # the Engine's spec now names another subaccount: that one is claimed and read
    moved = await account_of(context, namespace, ENGINE, UID, {**SPEC, "subaccount": "acct02"})
    assert moved.kept is False
    assert reads == {"leases": 2, "secrets": 2}
    # a fresh read, as after a refusal, reads again
    assert (await account_of(context, namespace, ENGINE, UID, SPEC, fresh=True)).kept is False
    assert reads == {"leases": 3, "secrets": 3}


async def test_a_call_refused_with_rotated_keys_is_tried_again_with_the_new_ones(
    control_plane: ControlPlane, namespace: str, ctx: tuple[Context, Counter[str]]
) -> None:
    context, reads = ctx
    keys_in(control_plane, namespace, "key-old")
    await account_of(context, namespace, ENGINE, UID, SPEC)
    keys_in(control_plane, namespace, "key-new")  # rotated; the old key is revoked on the venue
    used: list[tuple[str, bool]] = []

    async def equity(account: Account) -> Decimal:
        used.append((account.keys.api_key, account.kept))
        if account.keys.api_key != "key-new":
            raise RuntimeError("venue: API key is invalid (10003)")
        return Decimal("100")

    assert await on_account(context, namespace, ENGINE, UID, SPEC, equity) == Decimal("100")
    assert used == [("key-old", True), ("key-new", False)]
    # the new keys are the ones kept now
    assert (await account_of(context, namespace, ENGINE, UID, SPEC)).keys.api_key == "key-new"
    assert reads == {"leases": 2, "secrets": 2}


async def test_a_refusal_with_the_secrets_own_keys_stands(
    control_plane: ControlPlane, namespace: str, ctx: tuple[Context, Counter[str]]
) -> None:
    context, reads = ctx
    keys_in(control_plane, namespace, "key-one")
    await account_of(context, namespace, ENGINE, UID, SPEC)
    calls = 0

    async def down(account: Account) -> Decimal:
        nonlocal calls
        calls += 1
        raise RuntimeError("venue unreachable")

    with pytest.raises(RuntimeError, match="unreachable"):
        await on_account(context, namespace, ENGINE, UID, SPEC, down)
    assert calls == 1  # the Secret holds the same keys: not tried with them again
    assert reads == {"leases": 2, "secrets": 2}
    # keys read just now: refused once, not read again
    context.accounts.forget(UID)
    with pytest.raises(RuntimeError, match="unreachable"):
        await on_account(context, namespace, ENGINE, UID, SPEC, down)
    assert calls == 2
    assert reads == {"leases": 3, "secrets": 3}


async def test_a_claim_another_engine_holds_is_not_kept(
    control_plane: ControlPlane, namespace: str, ctx: tuple[Context, Counter[str]]
) -> None:
    context, reads = ctx
    keys_in(control_plane, namespace, "key-one")
    await account_of(context, namespace, ENGINE, UID, SPEC)
    held_by_another(control_plane, namespace)
    with pytest.raises(RuntimeError, match=f"belongs to Engine {namespace}/owner"):
        await account_of(context, namespace, ENGINE, UID, SPEC, fresh=True)
    kept = context.accounts.keys(
        UID, Subaccount("simulator", "acct01"), SecretRef(namespace, SECRET)
    )
    assert kept is None
    with pytest.raises(RuntimeError, match="belongs to Engine"):
        await account_of(context, namespace, ENGINE, UID, SPEC)  # read again, refused again
    assert reads["leases"] == 3


async def test_every_reconcile_keeps_what_it_finds_and_a_refused_claim_is_forgotten(
    control_plane: ControlPlane, namespace: str, ctx: tuple[Context, Counter[str]]
) -> None:
    context, _ = ctx
    keys_in(control_plane, namespace, "key-one")
    apply(control_plane, namespace, engine(ENGINE))
    body = get(control_plane, "engine", ENGINE, namespace) or {}
    uid = body["metadata"]["uid"]
    subaccount = Subaccount("simulator", "acct01")
    where = SecretRef(namespace, SECRET)

    def kept() -> str | None:
        keys = context.accounts.keys(uid, subaccount, where)
        return None if keys is None else keys.api_key

    await reconcile(context, body)
    assert kept() == "key-one"
    keys_in(control_plane, namespace, "key-two")  # rotated: the next reconcile keeps the new
    await reconcile(context, body)
    assert kept() == "key-two"
    held_by_another(control_plane, namespace)
    outcome = await reconcile(context, body)
    assert outcome.status["phase"] == "Failed"
    assert kept() is None
