"""What a live runtime loads: only its own strategy and that strategy's dependencies.

Each case is a fresh interpreter that does what `python -m engine_runtime` does before it
connects (the entry module, the configuration, `Runtime(config)` building the strategy from the
registry) and then computes a bar's features the way the live market does; it prints the modules
it holds. No runtime loads pandas: the built-in strategies compute their features over numpy
columns (`engine_runtime.windows`, `strategies.frame`). An idle runtime is about 75 MiB resident
without features, and pandas would add about 45 MiB (docs/runtime.md, "Memory"): an import at the
top of a shared module brings that back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.meta_model import small_model_bytes, write_artifact
from support.runtime import TESTS, engine_json

pytestmark = pytest.mark.unit

NEVER_LIVE = (
    "matplotlib",
    "engine_runtime.backtest",
    "paper_venue",
    "kubernetes",
    "kopf",
    "scipy",
    "httpcore2",  # httpx2's own transport (with h2 and anyio): the Kubernetes client's
    "h2",  # requests go over aiohttp, which the runtime holds anyway
    "anyio",
)
"""Modules no live runtime needs, whatever its strategy."""

NO_PANDAS = ("pandas",)
"""No live runtime computes with pandas: about 45 MiB of resident set, and 100 runtimes must fit
one machine (issue 16: 100 MiB each at most)."""

FEATURE_STACK = ("numpy",)
"""What a strategy with features needs, and one without (CORE-HODL, FUNDING) must not load."""

MODEL_STACK = ("xgboost",)
"""What no runtime loads, META-TREND's included (nor scipy under it, in NEVER_LIVE): its model's
trees are evaluated with numpy and checked at load against the probabilities its artifact
records (about 27 MiB kept out)."""

NOT_EVEN_FOR_FEATURES = ("pyarrow",)
"""What pandas would load when installed and no live runtime uses (parquet): about 35 MiB."""

STRATEGY_MODULES = {
    "core-hodl": "engine_runtime.strategies.core_hodl",
    "trend": "engine_runtime.strategies.trend",
    "funding": "engine_runtime.strategies.funding",
    "tactical": "engine_runtime.strategies.tactical",
    "grid": "engine_runtime.strategies.grid",
    "scalper": "engine_runtime.strategies.scalper",
    "meta-trend": "engine_runtime.strategies.meta_trend",
}

SCRIPT = """
import json, sys
from engine_runtime.__main__ import keep_lean, main  # the entry module, as `python -m` loads it
keep_lean()  # main's first step
from engine_runtime.app.runtime import Runtime
from engine_runtime.config import load_config
from engine_runtime.live.market import LiveMarket

runtime = Runtime(load_config())
market = LiveMarket(runtime.markets, 50, "1")
for (symbol, category), window in market.windows.items():
    window.add(0, "100", "101", "99", "100", "1")
    window.compute(runtime.strategy, symbol, category)
from engine_runtime.governance.kube import EngineClient
EngineClient.from_environment("ns", "e1").session()  # the HTTP client start() opens
problem = getattr(runtime.strategy, "start_problem", lambda: None)()
held = sorted(m for m, module in sys.modules.items() if module is not None)
print(json.dumps({"modules": held, "problem": problem}))
"""

CASES = {
    **{s: (s, "") for s in STRATEGY_MODULES},
    "scripted": ("trend", "support.scripted_strategy:create"),
}
"""Case -> (Engine strategy, EE_STRATEGY_FACTORY); "scripted" is what the benchmark idles with."""


def start(directory: Path, strategy: str, factory: str) -> subprocess.Popen[str]:
    directory.mkdir()
    model = {}
    if strategy == "meta-trend":  # with its model, as it runs: it would not start without one
        model = {"EE_MODEL_DIR": str(write_artifact(directory / "model", small_model_bytes()))}
    config = engine_json(
        "e1",
        "ns",
        "http://127.0.0.1:1",
        params={},
        symbols=["BTCUSDT", "ETHUSDT"],
        health_port=8081,
        metrics_port=9100,
        strategy=strategy,
    )
    (directory / "engine.json").write_text(json.dumps(config))
    (directory / "token").write_text("not-sent\n")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=lean", "-days", "1", "-keyout", str(directory / "ca.key"),
         "-out", str(directory / "ca.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    (directory / "kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {
            "server": "https://127.0.0.1:1", "certificate-authority": str(directory / "ca.crt"),
        }}],
        "users": [{"name": "u", "user": {"tokenFile": str(directory / "token")}}],
    }))  # fmt: skip
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("EE_", "BYBIT_"))}
    env = {
        **inherited,  # PYTHONDONTWRITEBYTECODE too: the test leaves the venv as it found it
        "PYTHONPATH": str(TESTS),
        "EE_CONFIG_PATH": str(directory / "engine.json"),
        "EE_ENGINE_NAME": "e1",
        "EE_ENGINE_NAMESPACE": "ns",
        "EE_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "EE_REDIS_URL": "redis://127.0.0.1:1",
        "BYBIT_API_KEY": "KEY12345",
        "BYBIT_API_SECRET": "SECRET12345",
        "EE_STRATEGY_FACTORY": factory,
        "KUBECONFIG": str(directory / "kubeconfig"),
        **model,
    }
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The modules each case holds (the interpreters run side by side)."""
    root = tmp_path_factory.mktemp("lean")
    running = {case: start(root / case, *how) for case, how in CASES.items()}
    modules = {}
    for case, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{case}: {err}"
        found = json.loads(out)
        assert found["problem"] is None, f"{case}: {found['problem']}"
        modules[case] = set(found["modules"])
    return modules


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of `names` that `modules` holds, themselves or a module inside them."""
    return sorted({n for n in names for m in modules if m == n or m.startswith(n + ".")})


@pytest.mark.parametrize("strategy", sorted(STRATEGY_MODULES))
def test_a_live_runtime_loads_its_strategy_and_nothing_it_does_not_use(
    loaded: dict[str, set[str]], strategy: str
) -> None:
    modules = loaded[strategy]
    assert STRATEGY_MODULES[strategy] in modules
    others = tuple(m for s, m in STRATEGY_MODULES.items() if s != strategy)
    assert heavy(modules, (*others, "engine_runtime.strategies.sma_cross")) == []
    assert heavy(modules, (*NEVER_LIVE, *NOT_EVEN_FOR_FEATURES)) == []
    assert heavy(modules, MODEL_STACK) == [], (
        f"{strategy}'s runtime imported xgboost or scipy: META-TREND's model is checked against "
        "the probe its artifact records (engine_runtime/train/artifact.py), not the booster"
    )
    if strategy == "meta-trend":
        assert "engine_runtime.train.trees" in modules  # the model was loaded, by numpy
    assert heavy(modules, NO_PANDAS) == [], (
        f"{strategy}'s runtime imported pandas (about 45 MiB resident): its features must run "
        "on numpy columns (strategies/frame.py, engine_runtime/windows.py), and nothing on the "
        "live path may import pandas at module level"
    )
    if strategy in ("core-hodl", "funding"):  # no features: no candle frames
        assert heavy(modules, FEATURE_STACK) == []
    else:  # its features were computed on the live market's path, over numpy columns
        assert heavy(modules, FEATURE_STACK) == ["numpy"]
        assert "engine_runtime.strategies.frame" in modules


def test_the_benchmarks_scripted_strategy_loads_no_feature_stack(
    loaded: dict[str, set[str]],
) -> None:
    """bench/runtime_bench.py measures idle memory with this strategy (no features)."""
    modules = loaded["scripted"]
    assert "support.scripted_strategy" in modules
    assert heavy(modules, (*STRATEGY_MODULES.values(), *NEVER_LIVE, *FEATURE_STACK)) == []
    assert heavy(modules, NO_PANDAS) == []
    assert heavy(modules, NOT_EVEN_FOR_FEATURES) == []
