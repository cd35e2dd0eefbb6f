"""Alerts reach people: the local stack with Prometheus and Alertmanager (Debian's binaries, as
`make up` runs them), the production alert rules, and a webhook receiver on loopback. An
emergency halt patched on the policy must arrive at the webhook as EternalPortfolioHalted
within the rule's `for`, one scrape, one evaluation and Alertmanager's group_wait.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.monitoring import MonitoringSettings, alert_rules
from eternal_operator.devtools.processes import free_port
from eternal_operator.devtools.stack import PORTS, Stack
from support.stack import running
from support.waiting import wait_for

pytestmark = pytest.mark.e2e
HALT_ALERT = "EternalPortfolioHalted"
OPERATOR_REACTS_S = 30.0
"""The operator latches the halt and sets eternal_governance_halted well within this."""
DELIVERY_SLACK_S = 5.0
"""Prometheus's send queue, Alertmanager's dispatch, HTTP: well under this on loopback."""


class Webhook:
    """An Alertmanager webhook receiver: each notification with the time it arrived."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    with Webhook() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: Webhook) -> Iterator[Stack]:
    fleet = Stack(
        root=Path(tmp_path_factory.mktemp("stack")),
        ports={name: free_port() for name in PORTS},
        operator_env={"EE_OPERATOR_RESYNC_SECONDS": "5"},
        monitoring=MonitoringSettings(
            scrape_interval_s=1.0,
            evaluation_interval_s=1.0,
            group_wait_s=1.0,
            group_interval_s=5.0,
            webhook_url=webhook.url,
        ),
    )
    with running(fleet):
        yield fleet


def api(stack: Stack, component: str, path: str) -> Any:
    url = f"http://127.0.0.1:{stack.ports[component]}{path}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def targets(stack: Stack) -> list[dict[str, Any]]:
    return list(api(stack, "prometheus", "/api/v1/targets?state=active")["data"]["activeTargets"])


def halted_gauge(stack: Stack) -> bool:
    url = f"http://127.0.0.1:{stack.ports['operator-metrics']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    return bool(re.search(r'^eternal_governance_halted\{[^}]*policy="eternal"[^}]*\} 1\.0$', text,
                          re.MULTILINE))  # fmt: skip


def rule_for_seconds(name: str) -> float:
    """The `for` of alert `name` in the production rules, in seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    for group in alert_rules()["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                value = str(rule.get("for", "0s"))
                return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", value))
    raise AssertionError(f"no alert {name} in the rules")


def test_prometheus_loads_the_rules_and_scrapes_operator_and_runtimes(stack: Stack) -> None:
    loaded = api(stack, "prometheus", "/api/v1/rules?type=alert")["data"]["groups"]
    names = {rule["name"] for group in loaded for rule in group["rules"]}
    expected = {r["alert"] for g in alert_rules()["groups"] for r in g["rules"] if "alert" in r}
    assert names == expected

    def operator_up() -> bool:
        return any(t["labels"].get("job") == "eternal-engine-operator" and t["health"] == "up"
                   for t in targets(stack))  # fmt: skip

    wait_for(operator_up, 60, "Prometheus to scrape the operator")

    def runtime_targets() -> set[str]:
        return {t["labels"]["engine"] for t in targets(stack)
                if t["labels"].get("job") == "eternal-engine-runtime" and t["health"] == "up"
                and t["labels"].get("namespace") == "default"}  # fmt: skip

    # The pod runner lists each runtime's metrics port as it starts it (file_sd).
    wait_for(lambda: runtime_targets() >= {"core-hodl", "trend", "funding", "tactical"}, 300,
             "Prometheus to scrape every sample runtime with its engine label")  # fmt: skip


def test_an_emergency_halt_reaches_the_webhook(stack: Stack, webhook: Webhook) -> None:
    assert stack.monitoring is not None
    assert stack.plane is not None
    settings = stack.monitoring
    assert not halted_gauge(stack)
    started = time.monotonic()
    stack.plane.kubectl(
        "patch", "cbp", "eternal", "--type", "merge", "-p", '{"spec":{"emergencyHalt":true}}'
    )
    wait_for(lambda: halted_gauge(stack), OPERATOR_REACTS_S, "eternal_governance_halted 1")
    gauge_at = time.monotonic()
    # From the gauge on: one scrape to see it, one evaluation to fire (after the rule's `for`),
    # Alertmanager's group_wait, then the HTTP call.
    budget = (
        settings.scrape_interval_s
        + settings.evaluation_interval_s
        + rule_for_seconds(HALT_ALERT)
        + settings.evaluation_interval_s  # a `for` is checked at an evaluation
        + settings.group_wait_s
        + DELIVERY_SLACK_S
    )
    deadline = gauge_at + budget
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{HALT_ALERT} did not reach the webhook within {budget:.1f}s "
                                 "of the halted gauge")  # fmt: skip
        try:
            arrived, message = webhook.received.get(timeout=left)
        except queue.Empty:
            continue
        firing = [
            a for a in message["alerts"]
            if a["labels"]["alertname"] == HALT_ALERT and a["status"] == "firing"
        ]  # fmt: skip
        if firing:
            break
    alert = firing[0]
    assert alert["labels"]["namespace"] == "default"
    assert alert["labels"]["policy"] == "eternal"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["priority"] == "P0"
    assert "HALTED" in alert["annotations"]["summary"]
    assert alert["annotations"]["runbook_url"].endswith("operations.md#halts")
    print(
        f"\nhalt patch -> webhook: {arrived - started:.2f}s "
        f"(patch -> gauge {gauge_at - started:.2f}s, gauge -> webhook {arrived - gauge_at:.2f}s; "
        f"budget after the gauge {budget:.1f}s: scrape {settings.scrape_interval_s:g}s, "
        f"evaluation {settings.evaluation_interval_s:g}s, for {rule_for_seconds(HALT_ALERT):g}s, "
        f"group_wait {settings.group_wait_s:g}s)"
    )
