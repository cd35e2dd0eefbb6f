"""The strategy's state across restarts, and reading a kubeconfig without the kubernetes package."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from engine_runtime.governance.kubeconfig import KubeconfigError, from_kubeconfig
from engine_runtime.live import checkpoint
from engine_runtime.strategies.sma_cross import SmaCrossStrategy
from support.scripted_strategy import ScriptedStrategy

pytestmark = pytest.mark.unit


def test_strategy_state_round_trips_and_a_different_strategy_starts_fresh() -> None:
    strategy = ScriptedStrategy(done={"a", "b"}, bars=7)
    saved = {"name": "scripted", "api": 1, "state": checkpoint.dump(strategy)}
    restored = checkpoint.load(ScriptedStrategy(), saved)
    assert isinstance(restored, ScriptedStrategy)
    assert restored.done == {"a", "b"}
    assert restored.bars == 7
    fresh = SmaCrossStrategy()
    assert checkpoint.load(fresh, saved) is fresh
    assert checkpoint.load(fresh, {"name": "sma-cross", "api": 1, "state": b"junk"}) is fresh
    assert checkpoint.load(fresh, None) is fresh


def test_kubeconfig_with_token_and_ca_file(tmp_path: Path) -> None:
    config = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443/",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "abc"}}],
    }  # fmt: skip
    access = from_kubeconfig(config, tmp_path)
    assert access.server == "https://127.0.0.1:6443"
    assert access.headers["Authorization"] == "Bearer abc"
    assert access.ssl_context is False
    config["current-context"] = "missing"
    with pytest.raises(KubeconfigError, match="no context 'missing'"):
        from_kubeconfig(config, tmp_path)


def test_kubeconfig_ca_must_exist(tmp_path: Path) -> None:
    config = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://h:1",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {}}],
    }  # fmt: skip
    with pytest.raises((OSError, ssl.SSLError)):
        from_kubeconfig(config, tmp_path)
