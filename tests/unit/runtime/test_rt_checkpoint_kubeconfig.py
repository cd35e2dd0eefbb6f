"""The strategy's state across restarts, and reading a kubeconfig without the kubernetes package."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine_runtime.live import checkpoint
from engine_runtime.strategies.sma_cross import SmaCrossStrategy
from eternal_kernel.kube.kubeconfig import KubeconfigError, load_config, merge_kubeconfigs
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


def _write(path: Path, document: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def test_every_kubeconfig_path_is_merged_the_first_naming_an_entry_wins(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    first = _write(tmp_path / "a" / "config", {
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
    })  # fmt: skip
    second = _write(tmp_path / "second", {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://elsewhere:1"}}],
        "users": [{"name": "u", "user": {"token": "shadowed"}},
                  {"name": "v", "user": {"exec": {"command": "./plugin", "apiVersion": "x"}}}],
    })  # fmt: skip
    merged = merge_kubeconfigs([first, tmp_path / "missing", second])
    assert merged["current-context"] == "c"
    assert merged["clusters"] == [{"name": "k", "cluster": {
        "server": "https://127.0.0.1:6443",
        "certificate-authority": str(tmp_path / "a" / "ca.crt"),
    }}]  # fmt: skip
    users = {u["name"]: u["user"] for u in merged["users"]}
    assert users["u"] == {"tokenFile": str(tmp_path / "a" / "token")}
    assert users["v"]["exec"]["command"] == str(tmp_path / "plugin")
    assert [c["name"] for c in merged["contexts"]] == ["c"]


def test_kubeconfig_errors_name_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(KubeconfigError, match="no kubeconfig in"):
        load_config()
    config = _write(tmp_path / "config", {
        "current-context": "missing",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://h:1"}}],
        "users": [{"name": "u", "user": {"token": "abc"}}],
    })  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(config))
    with pytest.raises(KubeconfigError, match="'missing' not found"):
        load_config()
