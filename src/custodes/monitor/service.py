"""``custodes monitor run``: the long-running monitor of one model, over HTTP.

* ``POST /ingest`` takes prediction records as JSON lines or one JSON array (what the SDK's
  :class:`~custodes.monitor.sdk.HttpSink` sends) and folds them into time windows and
  per-client summaries. Bad records are counted by kind and reported in the answer, in
  ``/status`` and in ``/metrics``; a bad request never stops the service.
* Every ``eval_every`` seconds the newest windows are compared with the reference and the
  clients judged (the same code as ``monitor check``); a verdict that turns bad or a newly
  suspected client is an alert to the webhooks.
* Every ``interval`` seconds a heartbeat goes to the governance store, and monitors of
  the same store that stopped beating are alerted on (monitors watch each other).
* ``GET /metrics`` is the Prometheus text exposition, ``GET /status`` the state as JSON,
  ``GET /healthz`` says ``ok``.

The HTTP side is the standard library's threading server: parsing a request (Arrow, which
releases the GIL) happens outside the lock; only folding a parsed block into the windows
takes it. Memory stays flat: windows beyond ``keep_windows`` are dropped after they are
evaluated, and the client tracker runs with a bounded key sample.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes.data.check.drift import NOISE_SIGMAS, PSI_DRIFT
from custodes.monitor import abuse, drift
from custodes.monitor.abuse import ClientReport, ClientTracker
from custodes.monitor.alerts import alert_payload, send_alert
from custodes.monitor.check import _reasons, read_reference
from custodes.monitor.metrics import render_metrics
from custodes.monitor.records import (
    InputIssues,
    count_out_of_order,
    infer_schema,
    parse_records,
)
from custodes.monitor.result import BAD_INPUT_SHARE, OK, worst_verdict
from custodes.monitor.windows import Windower, WindowSpec
from custodes.provenance.hashing import hash_file

if TYPE_CHECKING:
    from custodes.governance.service import Governance

__all__ = ["MAX_BODY", "MonitorEngine", "MonitorServer", "MonitorSettings", "monitor_config"]

MAX_BODY = 32 << 20
"""Largest request body accepted (413 above it)."""
SERVICE_KEY_CAP = 200_000
"""Key sample per feature of the live client tracker (a few MB whatever the traffic)."""


@dataclass(frozen=True)
class MonitorSettings:
    """What a monitor is configured with; :func:`monitor_config` is what gets hashed."""

    name: str
    model: str
    reference: Path
    window: WindowSpec
    interval_s: float = 60.0
    eval_every_s: float = 10.0
    webhooks: tuple[str, ...] = ()
    keep_windows: int = 48


def monitor_config(s: MonitorSettings) -> dict[str, Any]:
    """The configuration whose hash is recorded: the reference's digest, the window, the
    heartbeat interval, every detection threshold and (hashed, they may hold tokens) the
    webhooks. Changing any of them is a change in the audit log."""
    return {
        "model": s.model,
        "reference": str(s.reference),
        "reference_digest": "sha256:" + hash_file(s.reference)[1],
        "window": s.window.label,
        "interval_seconds": s.interval_s,
        "keep_windows": s.keep_windows,
        "thresholds": {
            "psi_drift": PSI_DRIFT,
            "noise_sigmas": NOISE_SIGMAS,
            "min_rows": drift.MIN_ROWS,
            "accuracy_drop": drift.ACCURACY_DROP,
            "accuracy_z": drift.ACCURACY_Z,
            "bad_input_share": BAD_INPUT_SHARE,
            "abuse_z_min": abuse.Z_MIN,
            "abuse_min_queries": abuse.MIN_QUERIES,
            "abuse_effect": dict(abuse.EFFECT),
            "lattice_ratio": abuse.LATTICE_RATIO,
        },
        "webhooks": sorted(hashlib.sha256(u.encode()).hexdigest()[:16] for u in s.webhooks),
    }


@dataclass
class _State:
    verdict: str = OK
    reasons: tuple[str, ...] = ()
    suspected: tuple[ClientReport, ...] = ()
    clients: int = 0
    evaluated_at: float | None = None
    evaluations: int = 0
    output_psi: float | None = None
    confidence_psi: float | None = None
    input_drift: tuple[str, ...] = ()
    window_rows: int = 0
    heartbeat_at: float | None = None
    heartbeats_failed: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    stale_peers: tuple[str, ...] = ()


@dataclass
class MonitorEngine:
    """Windows, client summaries and bad-input counts of one live stream (no HTTP, no store)."""

    reference: Path
    window: WindowSpec
    keep_windows: int = 48
    key_cap: int = SERVICE_KEY_CAP
    issues: InputIssues = field(default_factory=InputIssues)
    records: int = 0
    requests: int = 0
    bad_requests: int = 0
    state: _State = field(default_factory=_State)

    def __post_init__(self) -> None:
        self.schema = infer_schema(self.reference)
        self.ref_profile, self.stats, _ = read_reference(self.reference, self.schema)
        self.windower = Windower(self.window, self.schema)
        self.tracker = ClientTracker(self.stats, key_cap=self.key_cap)
        self.started = time.time()
        self._last = -math.inf
        self._lock = threading.Lock()

    def ingest(
        self, body: bytes, where: str = "request", now: float | None = None
    ) -> dict[str, Any]:
        """Fold one request's records in; what was accepted and what was wrong with the rest."""
        local = InputIssues()
        try:
            block = parse_records(
                body, self.schema, local, where=where, now=time.time() if now is None else now
            )
        except Exception as exc:  # a body no parser anticipated: count it, never die
            local.add("unparseable", f"{where}:1", f"{type(exc).__name__}: {exc}"[:200])
            block = None
        accepted = 0
        with self._lock:
            self.requests += 1
            if block is not None and len(block):
                self._last = count_out_of_order(block, self._last, local, where)
                self.windower.add(block)
                self.tracker.add(block)
                accepted = len(block)
                self.records += accepted
            elif local.rejected:
                self.bad_requests += 1
            self.issues.merge(local)
        return {"accepted": accepted, "rejected": local.rejected, "issues": local.to_dict()}

    def evaluate(self) -> _State:
        """Compare the kept windows with the reference and judge the clients."""
        with self._lock:
            profiles = [self.windower.windows[k] for k in sorted(self.windower.windows)]
            names = self.schema.feature_names
            drifts = tuple(drift.compare(self.ref_profile, w, names) for w in profiles)
            total = self.windower.total()
            overall = drift.compare(self.ref_profile, total, names)
            reports = self.tracker.reports()
            issues = InputIssues()
            issues.merge(self.issues)
            records = self.records
            self._prune()
        suspected = tuple(r for r in reports if r.suspected)
        reasons, verdicts = _reasons(drifts, overall, suspected, issues, records)
        latest = drifts[-1] if drifts else None
        st = self.state
        st.verdict = worst_verdict(verdicts)
        st.reasons = tuple(reasons)
        st.suspected = suspected
        st.clients = len(reports)
        st.evaluated_at = time.time()
        st.evaluations += 1
        if latest is not None:
            out = next((c for c in latest.columns if c.role == "output"), None)
            conf = next((c for c in latest.columns if c.role == "confidence"), None)
            st.output_psi = None if out is None or not latest.scored else out.psi
            st.confidence_psi = None if conf is None or not latest.scored else conf.psi
            st.input_drift = latest.input_drift
            st.window_rows = latest.rows
        return st

    def _prune(self) -> None:
        keys = sorted(self.windower.windows)
        for k in keys[: max(0, len(keys) - self.keep_windows)]:
            del self.windower.windows[k]

    def status(self) -> dict[str, Any]:
        st = self.state
        return {
            "records": self.records,
            "requests": self.requests,
            "bad_requests": self.bad_requests,
            "input_issues": self.issues.to_dict(),
            "verdict": st.verdict,
            "reasons": list(st.reasons),
            "suspected_clients": [
                {
                    "client_id": c.client_id,
                    "queries": c.queries,
                    "signals": [s.kind for s in c.signals],
                }
                for c in st.suspected
            ],
            "clients": st.clients,
            "windows": len(self.windower.windows),
            "window": self.window.label,
            "evaluated_at": st.evaluated_at,
            "heartbeat_at": st.heartbeat_at,
            "uptime_seconds": round(time.time() - self.started, 1),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: it is a data path
        return

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, doc: dict[str, Any]) -> None:
        self._send(code, json.dumps(doc, separators=(",", ":")).encode())

    def do_GET(self) -> None:
        mon = self.server.monitor
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(
                200, render_metrics(mon).encode(), "text/plain; version=0.0.4; charset=utf-8"
            )
        elif path == "/status":
            self._json(200, mon.engine.status() | {"monitor": mon.settings.name})
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        mon = self.server.monitor
        path = self.path.split("?", 1)[0]
        if path not in ("/ingest", "/v1/records"):
            self._drain()
            self._json(404, {"error": "not found"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True
            self._json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY} bytes"}
            )
            return
        body = self.rfile.read(n)
        where = f"{self.client_address[0]}#{mon.engine.requests + 1}"
        self._json(200, mon.engine.ingest(body, where))

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) <= MAX_BODY:
            self.rfile.read(int(length))
        else:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    monitor: MonitorServer


class MonitorServer:
    """The engine behind HTTP, with its evaluation, heartbeat and peer-watch loop."""

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gov: Governance | None = None,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.settings = settings
        self.engine = MonitorEngine(settings.reference, settings.window, settings.keep_windows)
        self.gov = gov
        self.log = log
        self.config = monitor_config(settings)
        self.config_hash = ""
        self.registration: str | None = None
        self.httpd = _Server((host, port), _Handler)
        self.httpd.monitor = self
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._alerted_clients: set[str] = set()
        self._alerted_verdict = OK

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def register(self) -> None:
        """Record this monitor and its configuration in the store (audited when it changed)."""
        from custodes.monitor.registry import config_hash, register_monitor

        self.config_hash = config_hash(self.config)
        if self.gov is None:
            return
        reg = register_monitor(
            self.gov, self.settings.name, self.settings.model, self.settings.interval_s, self.config
        )
        self.registration = reg.outcome
        if reg.outcome == "changed":
            self.log(
                f"configuration of monitor {self.settings.name} changed "
                f"({reg.previous_hash} -> {reg.config_hash}); recorded in the audit log"
            )

    def start(self) -> None:
        self.register()
        self.beat()
        for target in (self.httpd.serve_forever, self._loop):
            t = threading.Thread(target=target, daemon=True, name=f"monitor-{target.__name__}")
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        for t in self._threads:
            t.join(timeout=10)
        self.httpd.server_close()

    def _loop(self) -> None:
        s = self.settings
        next_eval = time.monotonic() + s.eval_every_s
        next_beat = time.monotonic() + s.interval_s / 2
        while not self._stop.wait(min(0.2, s.eval_every_s, s.interval_s / 2)):
            now = time.monotonic()
            try:
                if now >= next_eval:
                    next_eval = now + s.eval_every_s
                    self.evaluate()
                if now >= next_beat:
                    next_beat = now + s.interval_s / 2  # two beats an interval: one may be late
                    self.beat()
                    self.watch_peers()
            except Exception as exc:  # the loop must outlive any one failure
                self.log(f"monitor loop: {type(exc).__name__}: {exc}")

    def evaluate(self) -> None:
        st = self.engine.evaluate()
        new_clients = [c for c in st.suspected if c.client_id not in self._alerted_clients]
        turned = st.verdict != OK and st.verdict != self._alerted_verdict
        if not (new_clients or turned):
            self._alerted_verdict = st.verdict
            return
        self._alerted_verdict = st.verdict
        self._alerted_clients.update(c.client_id for c in new_clients)
        names = ", ".join(c.client_id for c in new_clients)
        message = f"monitor {self.settings.name} of model {self.settings.model}: {st.verdict}" + (
            f"; suspected clients: {names}" if names else ""
        )
        self._alert(
            alert_payload(
                "monitor.verdict",
                self.settings.name,
                message,
                model=self.settings.model,
                verdict=st.verdict,
                reasons=list(st.reasons),
                clients=[c.client_id for c in new_clients],
            )
        )

    def _alert(self, payload: dict[str, Any]) -> None:
        failures = send_alert(self.settings.webhooks, payload)
        self.engine.state.alerts_sent += len(self.settings.webhooks) - len(failures)
        self.engine.state.alerts_failed += len(failures)
        for f in failures:
            self.log(f"alert not delivered: {f}")

    def beat(self) -> None:
        """Write a heartbeat (a store that is down costs a count, not the monitor)."""
        from custodes.monitor.registry import heartbeat

        st = self.engine.state
        if self.gov is not None:
            try:
                heartbeat(
                    self.gov.store,
                    self.settings.name,
                    records=self.engine.records,
                    rejected=self.engine.issues.rejected,
                    verdict=st.verdict,
                    config_hash=self.config_hash,
                )
            except Exception as exc:
                st.heartbeats_failed += 1
                self.log(f"heartbeat failed: {type(exc).__name__}: {exc}")
                return
        st.heartbeat_at = time.time()

    def watch_peers(self) -> None:
        """Alert on other monitors of the same store that missed their heartbeat."""
        from custodes.monitor.registry import alert_stale

        if self.gov is None:
            return
        alerted, failures = alert_stale(
            self.gov, self.settings.webhooks, exclude=(self.settings.name,)
        )
        st = self.engine.state
        st.stale_peers = tuple(sorted({*st.stale_peers, *(a.name for a in alerted)}))
        st.alerts_sent += len(alerted) * len(self.settings.webhooks) - len(failures)
        st.alerts_failed += len(failures)

    def run_for(self, seconds: float | None, *, stop: threading.Event | None = None) -> None:
        """Serve until ``seconds`` passed or ``stop`` is set (None: until interrupted)."""
        end = None if seconds is None else time.monotonic() + seconds
        waiter = stop or threading.Event()
        try:
            while end is None or time.monotonic() < end:
                if waiter.wait(0.5 if end is None else max(0.0, min(0.5, end - time.monotonic()))):
                    break
        finally:
            self.evaluate_quietly()

    def evaluate_quietly(self) -> None:
        try:
            self.evaluate()
        except Exception as exc:
            self.log(f"final evaluation: {type(exc).__name__}: {exc}")


def parse_webhooks(urls: Sequence[str]) -> tuple[str, ...]:
    from custodes.monitor.alerts import check_webhook

    return tuple(check_webhook(u) for u in urls)
