"""Alerts that reach people: the chart's AlertmanagerConfig (Slack and Telegram by severity) and
the plain Alertmanager example, both checked by Alertmanager's own `amtool check-config`, and
the local stack's generated config."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.tooling import MONITORING, ToolError, one, pick, render
from eternal_operator.devtools.monitoring import (
    MonitoringSettings,
    alert_rules,
    alertmanager_config,
)

pytestmark = pytest.mark.unit
EXAMPLE = MONITORING / "alertmanager" / "alertmanager.example.yml"
AMTOOL = "/usr/bin/amtool"  # Debian's prometheus-alertmanager (scripts/bootstrap.sh)
BOTH = {
    "enabled": True,
    "slack": {"enabled": True, "apiURL": {"secretName": "slack-webhook"}},
    "telegram": {"enabled": True, "botToken": {"secretName": "telegram-bot"}, "chatID": -100777},
}


def amtool_check(config: dict[str, Any] | Path, tmp_path: Path) -> None:
    assert shutil.which(AMTOOL), f"{AMTOOL} missing: run `make bootstrap`"
    path = config if isinstance(config, Path) else tmp_path / "alertmanager.yml"
    if not isinstance(config, Path):
        path.write_text(yaml.safe_dump(config))
    done = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def amc(values: dict[str, Any]) -> dict[str, Any]:
    docs = render(values={"metrics": {"alertmanagerConfig": values}})
    return one(docs, "AlertmanagerConfig")


def matcher(m: dict[str, str]) -> str:
    return f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"'


def as_alertmanager_yml(spec: dict[str, Any], secrets_dir: Path) -> dict[str, Any]:
    """The AlertmanagerConfig as the Prometheus Operator hands it to Alertmanager: its route
    under the root route, secrets as files (a Telegram token inline: Alertmanager 0.25)."""

    def route(r: dict[str, Any]) -> dict[str, Any]:
        keys = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval",
                "repeatInterval": "repeat_interval", "receiver": "receiver"}  # fmt: skip
        out = {keys[k]: v for k, v in r.items() if k in keys}
        if r.get("matchers"):
            out["matchers"] = [matcher(m) for m in r["matchers"]]
        if r.get("routes"):
            out["routes"] = [route(sub) for sub in r["routes"]]
        return out

    def receiver(r: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": r["name"]}
        for slack in r.get("slackConfigs", []):
            secret = secrets_dir / slack["apiURL"]["name"]
            secret.write_text("https://hooks.slack.com/services/T/B/X\n")
            out.setdefault("slack_configs", []).append({
                "api_url_file": str(secret), "send_resolved": slack["sendResolved"],
                "title": slack["title"], "text": slack["text"],
            })  # fmt: skip
        for telegram in r.get("telegramConfigs", []):
            out.setdefault("telegram_configs", []).append({
                "bot_token": "123:abc", "chat_id": telegram["chatID"],
                "send_resolved": telegram["sendResolved"], "parse_mode": telegram["parseMode"],
                "message": telegram["message"],
            })  # fmt: skip
        return out

    # The Prometheus Operator hangs the config's route under Alertmanager's own root route.
    return {
        "route": {"receiver": "null", "routes": [route(spec["route"])]},
        "receivers": [{"name": "null"}, *(receiver(r) for r in spec["receivers"])],
    }


def test_off_by_default(helm_bin: str) -> None:
    assert not pick(render(), "AlertmanagerConfig")


def test_slack_and_telegram_routed_by_severity(helm_bin: str, tmp_path: Path) -> None:
    doc = amc(BOTH | {"labels": {"alertmanagerConfig": "eternal"}})
    assert doc["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert doc["metadata"]["labels"]["alertmanagerConfig"] == "eternal"
    spec = doc["spec"]
    by_severity = {
        r["matchers"][0]["value"]: r for r in spec["route"]["routes"]
    }  # fmt: skip
    # default severities: critical pages on both, warning on Slack, info nowhere
    assert set(by_severity) == {"critical", "warning"}
    assert by_severity["critical"]["repeatInterval"] == "1h"
    receivers = {r["name"]: r for r in spec["receivers"]}
    critical = receivers[by_severity["critical"]["receiver"]]
    assert critical["slackConfigs"][0]["apiURL"] == {"name": "slack-webhook", "key": "url"}
    assert critical["telegramConfigs"][0]["botToken"] == {"name": "telegram-bot", "key": "token"}
    assert critical["telegramConfigs"][0]["chatID"] == -100777
    warning = receivers[by_severity["warning"]["receiver"]]
    assert "telegramConfigs" not in warning
    assert warning["slackConfigs"][0]["apiURL"]["name"] == "slack-webhook"
    assert receivers[spec["route"]["receiver"]] == {"name": "eternal-none"}
    # the severities routed are the ones the rules carry
    rule_severities = {
        r["labels"]["severity"] for g in alert_rules()["groups"] for r in g["rules"]
    }  # fmt: skip
    assert rule_severities == {"critical", "warning", "info"}
    # what the Prometheus Operator would hand Alertmanager is a config Alertmanager accepts
    amtool_check(as_alertmanager_yml(spec, tmp_path), tmp_path)


def test_severities_are_configurable(helm_bin: str) -> None:
    values = BOTH | {
        "severities": {
            "critical": {"channels": ["telegram"]},
            "warning": {"channels": ["telegram"]},
            "info": {"channels": ["slack"], "repeatInterval": "24h"},
        }
    }
    spec = amc(values)["spec"]
    routes = {r["matchers"][0]["value"]: r for r in spec["route"]["routes"]}
    assert set(routes) == {"critical", "warning", "info"}
    receivers = {r["name"]: r for r in spec["receivers"]}
    assert set(receivers[routes["info"]["receiver"]]) == {"name", "slackConfigs"}
    assert set(receivers[routes["critical"]["receiver"]]) == {"name", "telegramConfigs"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"enabled": True}, "needs slack.enabled or telegram.enabled"),
        ({"enabled": True, "slack": {"enabled": True}}, "slack.apiURL.secretName"),
        (
            {"enabled": True, "telegram": {"enabled": True, "botToken": {"secretName": "t"}}},
            "telegram.chatID",
        ),
        (  # critical goes to telegram by default, which is off
            {"enabled": True, "slack": {"enabled": True, "apiURL": {"secretName": "s"}}},
            "severities.critical sends to telegram, which is not enabled",
        ),
        (BOTH | {"severities": {"critical": {"channels": ["email"]}}}, "channels"),
        (BOTH | {"groupWait": "soon"}, "groupWait"),
    ],
    ids=["no-channel", "slack-no-secret", "telegram-no-chat", "channel-off", "unknown", "dur"],
)
def test_bad_values_are_refused(values: dict[str, Any], message: str, helm_bin: str) -> None:
    with pytest.raises(ToolError, match=re.escape(message)):
        amc(values)


def test_the_plain_alertmanager_example_is_valid(tmp_path: Path) -> None:
    amtool_check(EXAMPLE, tmp_path)
    example = yaml.safe_load(EXAMPLE.read_text())
    routed = {m for r in example["route"]["routes"] for m in r["matchers"]}
    assert routed == {'severity="critical"', 'severity="warning"'}


def test_the_local_stacks_config_is_valid(tmp_path: Path) -> None:
    hooked = alertmanager_config(MonitoringSettings(webhook_url="http://127.0.0.1:9/hook"))
    assert hooked["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:9/hook"
    amtool_check(hooked, tmp_path)
    amtool_check(alertmanager_config(MonitoringSettings()), tmp_path)
