"""Prometheus and Alertmanager for the local stack: Debian's binaries, on loopback, data under
`.local/`.

`write_prometheus` lays out `<root>/prometheus/`: `rules.yaml` (the `spec.groups` of
manifests/monitoring/prometheusrule.yaml, extracted at every start, so the local stack fires
exactly the production alerts), and `prometheus.yml`, which scrapes the operator's metrics port
as `job="eternal-engine-operator"` and every runtime through file-based service discovery:
the pod runner writes `runtimes.json` (`targets_file`) as runtimes come and go, one target per
local pod with a `metrics` port, labelled `job="eternal-engine-runtime"`, `namespace` and
`engine` as the chart's ServiceMonitors label them (`honor_labels`, as they honour the
exporters' own). `write_alertmanager` writes `<root>/alertmanager/alertmanager.yml`, whose
default receiver is a webhook (`MonitoringSettings.webhook_url`; none: the alerts only show in
Alertmanager's UI), unless the user gives a whole config of their own (Slack, Telegram...).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .controlplane import REPO_ROOT

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
RULES_MANIFEST = REPO_ROOT / "manifests" / "monitoring" / "prometheusrule.yaml"
OPERATOR_JOB = "eternal-engine-operator"
RUNTIME_JOB = "eternal-engine-runtime"
ENGINE_LABEL = "trading.eternal-engine.io/engine"


class MonitoringError(Exception):
    """Prometheus or Alertmanager cannot be set up; the message says what to do."""


@dataclass(frozen=True)
class MonitoringSettings:
    """How the local Prometheus and Alertmanager behave (tests shorten the intervals)."""

    scrape_interval_s: float = 15.0
    evaluation_interval_s: float = 15.0
    group_wait_s: float = 10.0
    """Alertmanager waits this long after a group's first alert before it notifies."""
    group_interval_s: float = 60.0
    repeat_interval: str = "4h"
    webhook_url: str = ""
    """The default receiver's webhook (EE_ALERT_WEBHOOK_URL); empty: no notification."""
    alertmanager_config: Path | None = None
    """A whole Alertmanager config of the user's (EE_ALERTMANAGER_CONFIG), used as it is."""

    @classmethod
    def from_environment(cls) -> MonitoringSettings:
        config = os.environ.get("EE_ALERTMANAGER_CONFIG")
        return cls(
            webhook_url=os.environ.get("EE_ALERT_WEBHOOK_URL", ""),
            alertmanager_config=Path(config) if config else None,
        )


def binaries() -> None:
    """Fail with the fix when a binary is missing."""
    for path, package in ((PROMETHEUS, "prometheus"), (ALERTMANAGER, "prometheus-alertmanager")):
        if not os.access(path, os.X_OK):
            raise MonitoringError(
                f"{path} not found: run `make bootstrap` (Debian package {package})"
            )


def _seconds(value: float) -> str:
    return f"{int(value * 1000)}ms"


def _write(path: Path, text: str) -> None:
    """Replace `path` atomically (Prometheus may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(text)
    tmp.replace(path)


def alert_rules(manifest: Path = RULES_MANIFEST) -> dict[str, Any]:
    """The PrometheusRule manifest's `spec` as a Prometheus rules file (`groups:`)."""
    spec = yaml.safe_load(manifest.read_text())["spec"]
    return {"groups": spec["groups"]}


def targets_file(root: Path) -> Path:
    """Where the pod runner lists the runtimes' metrics endpoints (file_sd format)."""
    return root / "prometheus" / "runtimes.json"


def write_prometheus(
    root: Path, settings: MonitoringSettings, operator_metrics_port: int, alertmanager_port: int
) -> Path:
    """Write the rules and the config under `root/prometheus`; return the config's path."""
    directory = root / "prometheus"
    rules = directory / "rules.yaml"
    _write(rules, yaml.safe_dump(alert_rules(), sort_keys=False))
    runtimes = targets_file(root)
    if not runtimes.exists():
        _write(runtimes, "[]\n")
    config = {
        "global": {
            "scrape_interval": _seconds(settings.scrape_interval_s),
            "scrape_timeout": _seconds(min(settings.scrape_interval_s, 10.0)),
            "evaluation_interval": _seconds(settings.evaluation_interval_s),
        },
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": OPERATOR_JOB,
                "honor_labels": True,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{operator_metrics_port}"],
                        "labels": {"namespace": "default"},
                    }
                ],
            },
            {
                "job_name": RUNTIME_JOB,
                "honor_labels": True,
                # Prometheus watches the file (inotify); the refresh is only a fallback.
                "file_sd_configs": [{"files": [str(runtimes)], "refresh_interval": "5s"}],
            },
        ],
    }
    path = directory / "prometheus.yml"
    _write(path, yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_argv(root: Path, config: Path, port: int) -> list[str]:
    return [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'prometheus' / 'data'}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",
    ]


def alertmanager_config(settings: MonitoringSettings) -> dict[str, Any]:
    """One route to the `default` receiver, grouped as the rules' labels allow."""
    receiver: dict[str, Any] = {"name": "default"}
    if settings.webhook_url:
        receiver["webhook_configs"] = [{"url": settings.webhook_url, "send_resolved": True}]
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "namespace", "policy", "engine"],
            "group_wait": _seconds(settings.group_wait_s),
            "group_interval": _seconds(settings.group_interval_s),
            "repeat_interval": settings.repeat_interval,
        },
        "receivers": [receiver],
    }


def write_alertmanager(root: Path, settings: MonitoringSettings) -> Path:
    """The user's own config if given, else the generated one; return the path to load."""
    if settings.alertmanager_config is not None:
        if not settings.alertmanager_config.is_file():
            raise MonitoringError(f"no Alertmanager config at {settings.alertmanager_config}")
        return settings.alertmanager_config.resolve()
    path = root / "alertmanager" / "alertmanager.yml"
    _write(path, yaml.safe_dump(alertmanager_config(settings), sort_keys=False))
    return path


def alertmanager_argv(root: Path, config: Path, port: int) -> list[str]:
    return [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={root / 'alertmanager' / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",
        "--cluster.listen-address=",  # one instance: no gossip port on every interface
    ]


def runtime_targets(pods: list[tuple[str, str, str, int]]) -> str:
    """file_sd JSON for (namespace, deployment, engine, metrics port) of each running pod."""
    groups = [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {"job": RUNTIME_JOB, "namespace": namespace, "engine": engine},
        }
        for namespace, _deployment, engine, port in sorted(pods)
    ]
    return json.dumps(groups, indent=2) + "\n"


def write_runtime_targets(path: Path, pods: list[tuple[str, str, str, int]]) -> bool:
    """Rewrite the targets file if its content changes; True if it did."""
    text = runtime_targets(pods)
    if path.exists() and path.read_text() == text:
        return False
    _write(path, text)
    return True
