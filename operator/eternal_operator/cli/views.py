"""The fleet at a glance, built from the objects as the API server returns them.

Plain functions from Engine, CircuitBreakerPolicy and Allocation dicts (and the time) to a view
(JSON-ready dicts: what `-o json` prints) and from a view to text. Nothing here talks to the
cluster, so every view is tested from real-shaped objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eternal_operator.reporting.numbers import decimal

from .render import Cell, Style, heading, table

Obj = Mapping[str, Any]

HISTORY_SHOWN = 5
"""Level changes shown per policy in text (the status keeps up to 20; JSON has them all)."""


# -- small readers ------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age_seconds(value: Any, now: datetime) -> float | None:
    when = parse_time(value)
    return None if when is None else round(max((now - when).total_seconds(), 0.0), 1)


def _section(obj: Obj, *path: str) -> dict[str, Any]:
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return dict(current) if isinstance(current, Mapping) else {}


def _meta(obj: Obj) -> tuple[str, str]:
    meta = _section(obj, "metadata")
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _condition(obj: Obj, kind: str) -> dict[str, Any] | None:
    for c in _section(obj, "status").get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == kind:
            return dict(c)
    return None


# -- formatting -------------------------------------------------------------------------------


def fmt_age(seconds: float | None) -> str:
    """kubectl's style: 45s, 3m12s, 5h4m, 2d3h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def fmt_money(value: Any) -> str:
    number = decimal(value)
    return "-" if number is None else f"{number:,.2f}"


def fmt_signed(value: Any) -> str:
    number = decimal(value)
    return "-" if number is None else f"{number:+,.2f}"


def fmt_pct(value: Any, places: int = 2) -> str:
    number = decimal(value)
    return "-" if number is None else f"{number * 100:.{places}f}%"


def fmt_num(value: Any, places: int = 4) -> str:
    number = decimal(value)
    return "-" if number is None else f"{number:.{places}f}"


def _level_colour(level: int) -> str | None:
    return "red" if level >= 3 else "yellow" if level >= 1 else None


_PHASE_COLOURS = {
    "Running": "green",
    "Starting": "cyan",
    "Pending": "cyan",
    "Degraded": "yellow",
    "Suspended": "yellow",
    "Halting": "red",
    "Halted": "red",
    "Failed": "red",
}


def directive_summary(directive: Mapping[str, Any] | None) -> str:
    """One word or two for what a directive tells an engine: halt, close, paused, x0.5, normal."""
    if not directive:
        return "-"
    if directive.get("halt"):
        return "halt"
    parts = []
    size = decimal(directive.get("sizeMultiplier"))
    if directive.get("closeDirectional"):
        parts.append("close")
    if directive.get("entriesPaused"):
        parts.append("paused")
    if size is not None and size != 1 and not directive.get("closeDirectional"):
        parts.append(f"x{size.normalize():f}")
    stops = decimal(directive.get("stopMultiplier"))
    if stops is not None and stops != 1 and not directive.get("closeDirectional"):
        parts.append(f"stops x{stops.normalize():f}")
    return " ".join(parts) or "normal"


# -- the views --------------------------------------------------------------------------------


def _allocation_drifts(allocations: Iterable[Obj]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(namespace, allocation, engine) -> the Allocation's own figures for that engine."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for alloc in allocations:
        ns, name = _meta(alloc)
        for w in _section(alloc, "status").get("currentWeights") or []:
            if isinstance(w, Mapping) and w.get("engine"):
                out[(ns, name, str(w["engine"]))] = dict(w)
    return out


def relative_drift(target: Decimal | None, actual: Decimal | None) -> Decimal | None:
    """|actual - target| / target, as the allocation controller measures drift."""
    if target is None or actual is None or target <= 0:
        return None
    return abs(actual - target) / target


def engine_view(
    engine: Obj, now: datetime, drifts: Mapping[Any, Mapping[str, Any]]
) -> dict[str, Any]:
    ns, name = _meta(engine)
    status = _section(engine, "status")
    runtime = _section(engine, "status", "runtime")
    gov = _section(engine, "status", "governance")
    alloc = _section(engine, "status", "allocation")
    target, actual = decimal(alloc.get("targetWeight")), decimal(alloc.get("currentWeight"))
    from_alloc = drifts.get((ns, str(alloc.get("allocation") or ""), name)) or {}
    drift = decimal(from_alloc.get("drift"))
    if drift is None:
        drift = relative_drift(target, actual)
    sequence = gov.get("sequence")
    applied = runtime.get("appliedDirective")
    return {
        "namespace": ns,
        "name": name,
        "phase": status.get("phase"),
        "suspended": bool(_section(engine, "spec").get("suspend")),
        "equity": runtime.get("equity"),
        "dayPnl": runtime.get("dayPnl"),
        "drawdown": runtime.get("drawdown"),
        "positions": len(runtime.get("positions") or []),
        "openOrders": runtime.get("openOrders"),
        "level": int(gov.get("level") or 0),
        "halted": bool(gov.get("halt")),
        "directive": {
            "policy": gov.get("policy"),
            "sequence": sequence,
            "summary": directive_summary(gov) if gov else None,
            "reason": gov.get("reason"),
            "issuedAt": gov.get("issuedAt"),
            "ageSeconds": age_seconds(gov.get("issuedAt"), now),
            "applied": applied,
            "obeyed": None if sequence is None else applied == sequence,
            "conflicts": list(gov.get("conflicts") or []),
        },
        "heartbeat": runtime.get("heartbeat"),
        "heartbeatAgeSeconds": age_seconds(runtime.get("heartbeat"), now),
        "venueConnected": runtime.get("venueConnected"),
        "lastError": runtime.get("lastError"),
        "allocation": {
            "name": alloc.get("allocation"),
            "targetWeight": alloc.get("targetWeight"),
            "currentWeight": alloc.get("currentWeight"),
            "drift": None if drift is None else f"{drift:.4f}",
        },
    }


def policy_view(policy: Obj, now: datetime) -> dict[str, Any]:
    ns, name = _meta(policy)
    status = _section(policy, "status")
    spec = _section(policy, "spec")
    directive = _section(policy, "status", "directive")
    nav, day_open = decimal(status.get("navPerUnit")), decimal(status.get("dayOpenNav"))
    day_return = None if nav is None or not day_open else nav / day_open - 1
    conflict = _condition(policy, "Conflict")
    return {
        "namespace": ns,
        "name": name,
        "equity": status.get("equity"),
        "navPerUnit": status.get("navPerUnit"),
        "highWaterMark": status.get("highWaterMark"),
        "drawdown": status.get("drawdown"),
        "dayReturn": None if day_return is None else f"{day_return:.6f}",
        "level": int(status.get("level") or 0),
        "levelSince": status.get("levelSince"),
        "halted": bool(status.get("halted")),
        "haltReason": status.get("haltReason"),
        "emergencyHalt": bool(spec.get("emergencyHalt")),
        "engines": list(status.get("engines") or []),
        "haltedEngines": list(status.get("haltedEngines") or []),
        "unknownEngines": list(status.get("unknownEngines") or []),
        "directive": {
            "sequence": directive.get("sequence"),
            "summary": directive_summary(directive) if directive else None,
            "reason": directive.get("reason"),
            "issuedAt": directive.get("issuedAt"),
            "ageSeconds": age_seconds(directive.get("issuedAt"), now),
        },
        "resetToken": status.get("resetToken"),
        "refusedResetToken": status.get("refusedResetToken"),
        "conflict": conflict.get("message")
        if conflict and conflict.get("status") == "True"
        else None,
        "history": [dict(h) for h in status.get("history") or [] if isinstance(h, Mapping)],
    }


def allocation_view(alloc: Obj) -> dict[str, Any]:
    ns, name = _meta(alloc)
    status = _section(alloc, "status")
    ready = _condition(alloc, "Ready")
    transfers = [t for t in status.get("transfers") or [] if isinstance(t, Mapping)]
    return {
        "namespace": ns,
        "name": name,
        "totalEquity": status.get("totalEquity"),
        "maxDrift": status.get("maxDrift"),
        "driftThreshold": _section(alloc, "spec").get("driftThreshold"),
        "lastRebalance": status.get("lastRebalance"),
        "transfersOpen": sum(1 for t in transfers if t.get("state") in ("Planned", "Pending")),
        "ready": None if ready is None else ready.get("status") == "True",
        "readyMessage": None if ready is None else ready.get("message"),
    }


def _sorted(objs: Iterable[Obj]) -> list[Obj]:
    return sorted(objs, key=_meta)


def status_view(
    engines: Iterable[Obj], policies: Iterable[Obj], allocations: Iterable[Obj], now: datetime
) -> dict[str, Any]:
    """What `kubectl eternal status -o json` prints."""
    allocs = _sorted(allocations)
    drifts = _allocation_drifts(allocs)
    return {
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "engines": [engine_view(e, now, drifts) for e in _sorted(engines)],
        "policies": [policy_view(p, now) for p in _sorted(policies)],
        "allocations": [allocation_view(a) for a in allocs],
    }


# -- text ---------------------------------------------------------------------------------------


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _yes(flag: bool, colour: str = "red") -> Cell:
    return Cell("yes", colour) if flag else Cell("no")


def _stale(seconds: float | None, after: float) -> Cell:
    return Cell(fmt_age(seconds), "yellow" if seconds is None or seconds > after else None)


def render_status(view: Mapping[str, Any], style: Style, *, all_namespaces: bool) -> str:
    """Sections of aligned columns, as `kubectl cnpg status` shows a cluster."""
    out: list[str] = []
    ns_col = ["NAMESPACE"] if all_namespaces else []

    def ns(row: Mapping[str, Any]) -> list[Cell]:
        return [Cell(row["namespace"])] if all_namespaces else []

    out.append(heading("Engines", style))
    if view["engines"]:
        rows = []
        for e in view["engines"]:
            d, a = e["directive"], e["allocation"]
            phase = e["phase"] or "-"
            obeyed = d["obeyed"]
            seq = "-" if d["sequence"] is None else str(d["sequence"])
            if obeyed is False:
                seq += f" (applied {d['applied'] if d['applied'] is not None else '-'})"
            rows.append([
                *ns(e),
                Cell(e["name"]),
                Cell(phase, _PHASE_COLOURS.get(phase)),
                Cell(fmt_money(e["equity"])),
                Cell(fmt_signed(e["dayPnl"])),
                Cell(str(e["positions"])),
                Cell("-" if e["openOrders"] is None else str(e["openOrders"])),
                Cell(str(e["level"]), _level_colour(e["level"])),
                _yes(e["halted"]),
                Cell(d["summary"] or "-", "red" if e["halted"] else None),
                Cell(seq, "yellow" if obeyed is False else None),
                Cell(fmt_age(d["ageSeconds"])),
                _stale(e["heartbeatAgeSeconds"], 60),
                Cell(fmt_pct(a["targetWeight"], 1)),
                Cell(fmt_pct(a["currentWeight"], 1)),
                Cell(fmt_pct(a["drift"], 1)),
            ])  # fmt: skip
        out.append(table(
            [*ns_col, "NAME", "PHASE", "EQUITY", "DAY PNL", "POS", "ORDERS", "LEVEL", "HALTED",
             "DIRECTIVE", "SEQ", "AGE", "HEARTBEAT", "TARGET", "ACTUAL", "DRIFT"],
            rows, style,
        ))  # fmt: skip
        errors = [e for e in view["engines"] if e["lastError"]]
        for e in errors:
            out.append(style.paint(f"  {e['name']}: last error: {e['lastError']}", "yellow"))
    else:
        out.append("  No engines found.")

    out.append("")
    out.append(heading("Circuit breakers", style))
    if view["policies"]:
        rows = []
        for p in view["policies"]:
            halted = Cell("HALTED", "red") if p["halted"] else Cell("no")
            rows.append([
                *ns(p),
                Cell(p["name"]),
                Cell(fmt_money(p["equity"])),
                Cell(fmt_num(p["navPerUnit"])),
                Cell(fmt_num(p["highWaterMark"])),
                Cell(fmt_pct(p["drawdown"]), _level_colour(p["level"])),
                Cell(fmt_pct(p["dayReturn"])),
                Cell(str(p["level"]), _level_colour(p["level"])),
                halted,
                Cell("yes" if p["emergencyHalt"] else "no", "red" if p["emergencyHalt"] else None),
                Cell(str(len(p["engines"]))),
                Cell(p["directive"]["summary"] or "-"),
                Cell(_or_dash(p["directive"]["sequence"])),
                Cell(fmt_age(p["directive"]["ageSeconds"])),
            ])  # fmt: skip
        out.append(table(
            [*ns_col, "NAME", "EQUITY", "NAV/UNIT", "HWM", "DRAWDOWN", "TODAY", "LEVEL", "HALTED",
             "EMERGENCY", "ENGINES", "DIRECTIVE", "SEQ", "AGE"],
            rows, style,
        ))  # fmt: skip
        for p in view["policies"]:
            label = f"{p['namespace']}/{p['name']}" if all_namespaces else p["name"]
            if p["halted"]:
                out.append(style.paint(f"  {label}: halted: {p['haltReason'] or '-'}", "red"))
            if p["unknownEngines"]:
                unknown = ", ".join(p["unknownEngines"])
                out.append(style.paint(f"  {label}: equity unknown for {unknown}", "yellow"))
            if p["conflict"]:
                out.append(style.paint(f"  {label}: conflict: {p['conflict']}", "yellow"))
        for p in view["policies"]:
            history = p["history"][-HISTORY_SHOWN:]
            if not history:
                continue
            label = f"{p['namespace']}/{p['name']}" if all_namespaces else p["name"]
            out.append("")
            out.append(heading(f"Recent level changes: {label}", style))
            rows = [
                [
                    Cell(str(h.get("time") or "-")),
                    Cell(f"{h.get('fromLevel', '-')} -> {h.get('toLevel', '-')}",
                         _level_colour(int(h.get("toLevel") or 0))),
                    Cell(fmt_pct(h.get("drawdown"))),
                    Cell(str(h.get("reason") or "")),
                ]
                for h in reversed(history)
            ]  # fmt: skip
            out.append(table(["TIME", "LEVEL", "DRAWDOWN", "REASON"], rows, style))
    else:
        out.append("  No circuit-breaker policies found.")

    if view["allocations"]:
        out.append("")
        out.append(heading("Allocations", style))
        rows = []
        for a in view["allocations"]:
            over = (
                decimal(a["maxDrift"]) is not None
                and decimal(a["driftThreshold"]) is not None
                and decimal(a["maxDrift"]) > decimal(a["driftThreshold"])  # type: ignore[operator]
            )
            ready = "-" if a["ready"] is None else ("yes" if a["ready"] else "no")
            rows.append([
                *ns(a),
                Cell(a["name"]),
                Cell(fmt_money(a["totalEquity"])),
                Cell(fmt_pct(a["maxDrift"], 1), "yellow" if over else None),
                Cell(fmt_pct(a["driftThreshold"], 1)),
                Cell(str(a["transfersOpen"])),
                Cell(str(a["lastRebalance"] or "-")),
                Cell(ready, "yellow" if a["ready"] is False else None),
            ])  # fmt: skip
        out.append(table(
            [*ns_col, "NAME", "EQUITY", "MAX DRIFT", "THRESHOLD", "TRANSFERS", "LAST REBALANCE",
             "READY"],
            rows, style,
        ))  # fmt: skip
        for a in view["allocations"]:
            if a["ready"] is False and a["readyMessage"]:
                out.append(style.paint(f"  {a['name']}: {a['readyMessage']}", "yellow"))
    return "\n".join(out) + "\n"
