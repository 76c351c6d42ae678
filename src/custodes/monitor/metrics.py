"""Prometheus text exposition (format 0.0.4) of a running monitor, written by hand.

Counters end in ``_total``; every series carries ``monitor`` and ``model`` labels so one
Prometheus can scrape many monitors. Label values are escaped as the format requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custodes.monitor.result import VERDICT_ORDER

if TYPE_CHECKING:
    from custodes.monitor.service import MonitorServer

__all__ = ["escape", "render_metrics"]


def escape(value: str) -> str:
    """A label value as the exposition format wants it (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in kv.items()) + "}"


def render_metrics(mon: MonitorServer) -> str:
    """The ``/metrics`` page."""
    eng, st = mon.engine, mon.engine.state
    base = {"monitor": mon.settings.name, "model": mon.settings.model}
    lines: list[str] = []

    def metric(
        name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]
    ) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for extra, value in samples:
            lines.append(f"{name}{_labels(**base, **extra)} {_num(value)}")

    metric(
        "custodes_monitor_records_total",
        "counter",
        "Prediction records accepted.",
        [({}, eng.records)],
    )
    metric(
        "custodes_monitor_requests_total",
        "counter",
        "Ingest requests received.",
        [({}, eng.requests)],
    )
    issues = sorted(eng.issues.counts.items())
    metric(
        "custodes_monitor_bad_input_total",
        "counter",
        "Bad input by kind (out_of_order records are kept, the rest dropped).",
        [({"kind": k}, v) for k, v in issues],
    )
    metric(
        "custodes_monitor_rejected_total",
        "counter",
        "Records dropped as unusable.",
        [({}, eng.issues.rejected)],
    )
    metric(
        "custodes_monitor_verdict",
        "gauge",
        "1 for the current verdict, 0 for the others.",
        [({"verdict": v}, 1.0 if v == st.verdict else 0.0) for v in VERDICT_ORDER],
    )
    metric(
        "custodes_monitor_suspected_clients",
        "gauge",
        "Clients suspected of extraction or inference.",
        [({}, len(st.suspected))],
    )
    metric("custodes_monitor_clients", "gauge", "Distinct clients seen.", [({}, st.clients)])
    metric(
        "custodes_monitor_windows",
        "gauge",
        "Windows kept in memory.",
        [({}, len(eng.windower.windows))],
    )
    metric(
        "custodes_monitor_evaluations_total",
        "counter",
        "Evaluations against the reference.",
        [({}, st.evaluations)],
    )
    if st.output_psi is not None:
        metric(
            "custodes_monitor_output_psi",
            "gauge",
            "PSI of the newest window's predicted class.",
            [({}, st.output_psi)],
        )
    if st.confidence_psi is not None:
        metric(
            "custodes_monitor_confidence_psi",
            "gauge",
            "PSI of the newest window's confidence.",
            [({}, st.confidence_psi)],
        )
    if st.evaluated_at is not None:
        metric(
            "custodes_monitor_last_evaluation_timestamp_seconds",
            "gauge",
            "When the last evaluation ran.",
            [({}, st.evaluated_at)],
        )
    if st.heartbeat_at is not None:
        metric(
            "custodes_monitor_last_heartbeat_timestamp_seconds",
            "gauge",
            "When the last heartbeat was written.",
            [({}, st.heartbeat_at)],
        )
    metric(
        "custodes_monitor_heartbeat_failures_total",
        "counter",
        "Heartbeats the store did not take.",
        [({}, st.heartbeats_failed)],
    )
    metric(
        "custodes_monitor_alerts_sent_total",
        "counter",
        "Alerts delivered to webhooks.",
        [({}, st.alerts_sent)],
    )
    metric(
        "custodes_monitor_alerts_failed_total",
        "counter",
        "Alerts webhooks did not take.",
        [({}, st.alerts_failed)],
    )
    metric(
        "custodes_monitor_stale_peers",
        "gauge",
        "Other monitors of the store found stale.",
        [({}, len(st.stale_peers))],
    )
    return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
