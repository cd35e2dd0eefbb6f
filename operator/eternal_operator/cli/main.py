"""`kubectl eternal`: the fleet at a glance, halts and resets, runtime logs, the daily report.

Installed as `kubectl-eternal` (`[project.scripts]`), so kubectl finds it on PATH as a plugin.
Exit status: 0 done; 1 an error, or the operator refused; 2 a usage error; 3 the operator did
not answer within --wait.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO

from .client import CliError, Cluster, Target
from .governance import (
    Answer,
    clear_force_patch,
    halt_patch,
    new_reset_token,
    reset_answer,
    reset_patch,
    state_line,
)
from .render import Style
from .report import (
    day_transfers,
    only_namespace,
    read_day,
    read_stored,
    render_report,
    report_from_database,
    report_from_status,
)
from .views import render_status, status_view

NO_ANSWER = 3
POLL_S = 0.25
EVENT_GRACE_S = 2.0
"""After a refusal shows in the status, how long to wait for its Event (the reason)."""


def duration(text: str) -> float:
    """`10s`, `2m`, `1h` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 10s, 2m)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    return float(match.group(1)) * scale


def day(text: str) -> date:
    if text == "today":
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day: {text!r} (YYYY-MM-DD)") from None


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    common.add_argument("--kubeconfig", help="a kubeconfig file (default: $KUBECONFIG, ~/.kube)")
    common.add_argument("--context", help="the kubeconfig context to use")
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    listing.add_argument("-o", "--output", choices=("text", "json"), default="text")
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument(
        "--wait", type=duration, default=10.0, metavar="DURATION",
        help="how long to wait for the operator's answer (default 10s; 0: do not wait)",
    )  # fmt: skip

    top = argparse.ArgumentParser(
        prog="kubectl eternal",
        description="Eternal Engine's fleet: status, halts and resets, logs, daily report.",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "status", parents=[common, listing], help="engines, circuit breakers and allocations"
    )
    halt = sub.add_parser(
        "halt", parents=[common, wait], help="emergency halt: spec.emergencyHalt=true"
    )
    halt.add_argument("policy", help="the CircuitBreakerPolicy")
    reset = sub.add_parser(
        "reset", parents=[common, wait], help="reset a latched halt, and show the answer"
    )
    reset.add_argument("policy", help="the CircuitBreakerPolicy")
    reset.add_argument(
        "--force", action="store_true",
        help="reset even though drawdown is still at or beyond the halting level "
        "(a new high-water mark at today's NAV per unit)",
    )  # fmt: skip
    logs = sub.add_parser("logs", parents=[common], help="the engine runtime's logs")
    logs.add_argument("engine", help="the Engine")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming")
    logs.add_argument("--tail", type=int, default=None, help="lines from the end")
    logs.add_argument("-p", "--previous", action="store_true", help="the previous container")
    logs.add_argument("--since", type=duration, default=None, help="e.g. 10m")
    report = sub.add_parser(
        "report", parents=[common, listing], help="daily summary per engine and portfolio"
    )
    report.add_argument("--day", type=day, default=None, help="YYYY-MM-DD in UTC (default: today)")
    report.add_argument(
        "--database-url", default=None,
        help="PostgreSQL URL of the fleet's records (default: $EE_DATABASE_URL); needed for "
        "trades, fees and any day but today",
    )  # fmt: skip
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = sys.stdout
    cluster: Cluster | None = None
    try:
        cluster = Cluster.connect(
            kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace
        )
        command: Callable[[Cluster, argparse.Namespace, TextIO], int] = COMMANDS[args.command]
        return command(cluster, args, out)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `| head`
        sys.stderr.close()
        return 0
    finally:
        if cluster is not None:
            cluster.close()


def _target(cluster: Cluster, args: argparse.Namespace) -> Target:
    return Target(cluster.namespace, bool(getattr(args, "all_namespaces", False)))


def status(cluster: Cluster, args: argparse.Namespace, out: TextIO) -> int:
    target = _target(cluster, args)
    view = status_view(
        cluster.items("Engine", target),
        cluster.items("CircuitBreakerPolicy", target),
        cluster.items("Allocation", target),
        datetime.now(UTC),
    )
    if args.output == "json":
        json.dump(view, out, indent=2)
        out.write("\n")
    else:
        if not target.all_namespaces:
            out.write(f"Namespace {target.namespace} on {cluster.where}\n\n")
        out.write(render_status(view, Style.for_stream(out), all_namespaces=target.all_namespaces))
    return 0


def _poll(until: Callable[[], Any], wait: float) -> Any:
    deadline = time.monotonic() + wait
    while True:
        found = until()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_S)


def halt(cluster: Cluster, args: argparse.Namespace, out: TextIO) -> int:
    ns = cluster.namespace
    cluster.merge_patch("CircuitBreakerPolicy", ns, args.policy, halt_patch())
    out.write(f"circuitbreakerpolicy {ns}/{args.policy}: spec.emergencyHalt=true\n")
    if args.wait <= 0:
        return 0

    def halted() -> dict[str, Any] | None:
        policy = cluster.get("CircuitBreakerPolicy", ns, args.policy)
        status = policy.get("status") or {}
        return (
            policy if status.get("halted") and (status.get("directive") or {}).get("halt") else None
        )

    policy = _poll(halted, args.wait)
    if not policy:
        out.write(f"the operator has not confirmed the halt within {args.wait:g}s\n")
        return NO_ANSWER
    engines = (policy.get("status") or {}).get("haltedEngines") or []
    out.write(f"halted by the operator: {state_line(policy)}\n")
    out.write(f"engines halted: {', '.join(engines) if engines else 'none selected'}\n")
    return 0


def reset(cluster: Cluster, args: argparse.Namespace, out: TextIO) -> int:
    ns, name = cluster.namespace, args.policy
    policy = cluster.get("CircuitBreakerPolicy", ns, name)
    if not (policy.get("status") or {}).get("halted"):
        out.write(f"circuitbreakerpolicy {ns}/{name} is not halted: nothing to reset "
                  f"({state_line(policy)})\n")  # fmt: skip
        return 0
    uid = str((policy.get("metadata") or {}).get("uid") or "")
    before = {e["metadata"]["uid"] for e in cluster.events(ns, uid, "ResetRefused")}
    token = new_reset_token(datetime.now(UTC))
    cluster.merge_patch("CircuitBreakerPolicy", ns, name, reset_patch(token, force=args.force))
    forced = " (forced)" if args.force else ""
    out.write(f"circuitbreakerpolicy {ns}/{name}: reset requested{forced}, token {token}\n")
    if args.wait <= 0:
        return 0

    def answered() -> Answer | None:
        current = cluster.get("CircuitBreakerPolicy", ns, name)
        refusals = [
            e for e in cluster.events(ns, uid, "ResetRefused") if e["metadata"]["uid"] not in before
        ]
        return reset_answer(current, token, refusals)

    answer: Answer | None = _poll(answered, args.wait)
    if answer is not None and not answer.final:  # the status said so first: wait for the Event
        answer = _poll(lambda: (a := answered()) and a.final and a, EVENT_GRACE_S) or answer
    if answer is None:
        out.write(f"the operator has not answered within {args.wait:g}s "
                  f"(status.resetToken is still not {token})\n")  # fmt: skip
        return NO_ANSWER
    if args.force:  # the force annotation meant this reset only
        cluster.merge_patch("CircuitBreakerPolicy", ns, name, clear_force_patch())
    if answer.outcome == "refused":
        out.write(f"REFUSED by the operator: {answer.message}\n")
        return 1
    out.write(f"reset: the halt is lifted: {answer.message}\n")
    return 0


def runtime_pod(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pod whose logs to show: a running one first, then the newest."""

    def rank(pod: dict[str, Any]) -> tuple[bool, str]:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        deleting = bool(meta.get("deletionTimestamp"))
        return (status.get("phase") == "Running" and not deleting,
                str(meta.get("creationTimestamp") or ""))  # fmt: skip

    return max(pods, key=rank) if pods else None


def logs(cluster: Cluster, args: argparse.Namespace, out: TextIO) -> int:
    ns = cluster.namespace
    cluster.get("Engine", ns, args.engine)  # a clear "not found" for a wrong name
    pod = runtime_pod(cluster.pods(ns, args.engine))
    if pod is None:
        raise CliError(
            f"engine {ns}/{args.engine} has no runtime pod (suspended, halted and stopped, or "
            "not started yet; on the local stack, `make up`, runtimes are processes without "
            "Pods: their logs are in .local/pods/logs/)"
        )
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        print(f"pod {ns}/{name} is not on a node yet: no logs", file=sys.stderr)
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    stream = cluster.pod_log(
        ns,
        name,
        container="runtime" if "runtime" in containers else None,
        follow=args.follow,
        tail=args.tail,
        previous=args.previous,
        since_seconds=None if args.since is None else max(int(args.since), 1),
    )
    binary = out.buffer if hasattr(out, "buffer") else None
    for chunk in stream:
        if binary is not None:
            binary.write(chunk)
            binary.flush()
        else:
            out.write(chunk.decode(errors="replace"))
    return 0


def report(cluster: Cluster, args: argparse.Namespace, out: TextIO) -> int:
    target = _target(cluster, args)
    engines = cluster.items("Engine", target)
    policies = cluster.items("CircuitBreakerPolicy", target)
    now = datetime.now(UTC)
    wanted = args.day or now.date()
    url = args.database_url or os.environ.get("EE_DATABASE_URL")
    if url:
        try:
            stored = asyncio.run(read_stored(url, wanted))
            rows = None if stored is not None else asyncio.run(read_day(url, wanted))
        except Exception as error:  # asyncpg's and the socket's errors alike
            raise CliError(f"cannot read the report from PostgreSQL: {_safe(error, url)}") from None
        if stored is not None:  # the operator's, of a closed day: the portfolios at the close
            view = {**stored, "source": "stored report"}
            if not target.all_namespaces:
                view = only_namespace(view, target.namespace)
        else:
            assert rows is not None
            if not target.all_namespaces:
                rows = rows.only(target.namespace)
            allocations = cluster.items("Allocation", target)
            view = report_from_database(
                wanted, rows, engines, policies, day_transfers(allocations, wanted)
            )
    elif wanted != now.date():
        raise CliError(
            f"a report for {wanted} needs the fleet's PostgreSQL: the Kubernetes status holds "
            "today only; pass --database-url (or set EE_DATABASE_URL)"
        )
    else:
        view = report_from_status(engines, policies, now)
    if args.output == "json":
        json.dump(view, out, indent=2)
        out.write("\n")
    else:
        out.write(render_report(view, Style.for_stream(out), all_namespaces=target.all_namespaces))
    return 0


def _safe(error: BaseException, url: str) -> str:
    """The error without the URL's password, should a driver quote it."""
    text = str(error) or type(error).__name__
    password = re.match(r"^[a-z+]+://[^:/@]*:([^@]*)@", url)
    if password and password.group(1):
        text = text.replace(password.group(1), "***")
    return text


COMMANDS: dict[str, Callable[[Cluster, argparse.Namespace, TextIO], int]] = {
    "status": status,
    "halt": halt,
    "reset": reset,
    "logs": logs,
    "report": report,
}


if __name__ == "__main__":
    sys.exit(main())
