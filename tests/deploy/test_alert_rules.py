"""The alerts proven to fire: `promtool test rules` runs tests/monitoring/prometheusrule.test.yaml
against the PrometheusRule's groups (the chart's copy is the same file, checked in
test_chart_render), and every alert has a case where it fires and one where it stays quiet.

promtool comes from Debian's `prometheus` package (`make bootstrap` installs it); a machine
without it fails here rather than skip the proof.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.tooling import MONITORING, OPERATOR_CHART, REPO

pytestmark = pytest.mark.unit

CASES = REPO / "tests" / "monitoring" / "prometheusrule.test.yaml"
KEPT_ANNOTATIONS = ("summary",)
"""The annotations the cases check (the others are long runbook prose, `promtool check rules`
validates their templates)."""


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make bootstrap` installs it (Debian package prometheus)"
    return found


def groups(path: Path = MONITORING / "prometheusrule.yaml") -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    assert doc["kind"] == "PrometheusRule"
    found: list[dict[str, Any]] = doc["spec"]["groups"]
    return found


def alert_names() -> set[str]:
    return {r["alert"] for g in groups() for r in g["rules"] if "alert" in r}


def cases() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CASES.read_text())
    return loaded


def trimmed(rule_groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for group in rule_groups:
        rules = []
        for rule in group["rules"]:
            notes = rule.get("annotations") or {}
            kept = {k: v for k, v in notes.items() if k in KEPT_ANNOTATIONS}
            rules.append({**rule, "annotations": kept} if "alert" in rule else rule)
        out.append({**group, "rules": rules})
    return out


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_chart_renders_the_same_rules() -> None:
    assert groups(OPERATOR_CHART / "files" / "prometheusrule.yaml") == groups(), (
        "run `make charts-sync`"
    )


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups()}, sort_keys=False))
    result = run("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups())} rules found" in result.stdout


def test_every_alert_case_passes_promtool(tmp_path: Path) -> None:
    assert cases()["rule_files"] == ["rules.yaml"]
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": trimmed(groups())}, sort_keys=False)
    )
    shutil.copy(CASES, tmp_path / CASES.name)
    result = run("test", "rules", CASES.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_rule_fails_the_cases(tmp_path: Path) -> None:
    """The harness can fail: the halt alert no longer grouped by the policy's namespace."""
    broken = trimmed(groups())
    for group in broken:
        for rule in group["rules"]:
            if rule.get("alert") == "EternalPortfolioHalted":
                rule["expr"] = "max by (policy) (eternal_governance_halted) == 1"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": broken}, sort_keys=False))
    shutil.copy(CASES, tmp_path / CASES.name)
    result = run("test", "rules", CASES.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "EternalPortfolioHalted" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in cases()["tests"]:
        for check in test.get("alert_rule_test") or []:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = alert_names()
    assert alerts
    assert sorted(alerts - firing) == [], "alerts without a case where they fire"
    assert sorted(alerts - quiet) == [], "alerts without a case where they stay quiet"
    assert sorted((firing | quiet) - alerts) == [], "cases of alerts the rules do not have"
