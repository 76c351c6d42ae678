"""Emit prediction records from a model server: a decorator, an ASGI middleware, sinks.

    from custodes.monitor.sdk import HttpSink, monitored

    sink = HttpSink("http://127.0.0.1:9464/ingest")

    @monitored(sink, client_id=lambda features, **kw: kw.get("client", "anonymous"))
    def predict(features: dict[str, object], client: str = "") -> tuple[str, float]:
        ...

Each call becomes one record (``ts``, ``client_id``, ``features``, ``prediction``,
``confidence``, ``latency_ms``) in the format ``monitor check`` and ``monitor run`` read.
For FastAPI / Starlette, :class:`PredictionMonitorMiddleware` does the same from the JSON
request and response of a prediction route, without touching the route's code.

**Personal data is not stored raw unless asked.** ``features="summary"`` (the default)
keeps numbers rounded to :data:`SIGNIFICANT` significant digits (enough for drift and
extraction signals, too coarse to single out a record) and replaces every string with a
salted hash, except the low-cardinality features named in ``keep`` (``sex``, a region);
``"hash"`` keeps only a salted digest of the whole feature vector; ``"raw"`` (opt in)
keeps the values as given. Client ids can be hashed too (``hash_clients=True``).
A sink never raises into the model's request path: failures are counted
(:func:`failed_records`; an :class:`HttpSink` also counts what it had to drop).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

__all__ = [
    "SIGNIFICANT",
    "FileSink",
    "HttpSink",
    "PredictionMonitorMiddleware",
    "RecordMaker",
    "Sink",
    "failed_records",
    "monitored",
]

SIGNIFICANT = 2
FeatureMode = Literal["summary", "hash", "raw"]
F = TypeVar("F", bound=Callable[..., Any])


class Sink(Protocol):
    """Where records go: a file, the monitor's HTTP endpoint, or your own."""

    def emit(self, record: dict[str, Any]) -> None: ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _round(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


class RecordMaker:
    """Turns one prediction into a record, applying the privacy settings."""

    def __init__(
        self,
        features: FeatureMode = "summary",
        *,
        salt: str = "",
        hash_clients: bool = False,
        significant: int = SIGNIFICANT,
        keep: tuple[str, ...] = (),
    ) -> None:
        if features not in ("summary", "hash", "raw"):
            raise ValueError(f"features must be summary, hash or raw, not {features!r}")
        self.mode = features
        self.salt = salt.encode()
        self.hash_clients = hash_clients
        self.significant = significant
        self.keep = frozenset(keep)

    def _digest(self, value: str) -> str:
        return "h:" + hashlib.sha256(self.salt + value.encode()).hexdigest()[:16]

    def features(self, features: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(features to store, digest of the raw vector or None)."""
        if self.mode == "raw":
            return dict(features), None
        digest = self._digest(json.dumps(features, sort_keys=True, default=str))
        if self.mode == "hash":
            return {}, digest
        out: dict[str, Any] = {}
        for k, v in features.items():
            if isinstance(v, bool) or v is None or k in self.keep:
                out[k] = v
            elif isinstance(v, int | float):
                out[k] = _round(float(v), self.significant)
            else:
                out[k] = self._digest(str(v))
        return out, digest

    def make(
        self,
        features: dict[str, Any],
        prediction: Any,
        confidence: float | None,
        *,
        client_id: str,
        latency_ms: float,
        probabilities: Any = None,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        feats, digest = self.features(features)
        rec: dict[str, Any] = {
            "ts": _now_iso(),
            "client_id": self._digest(client_id) if self.hash_clients else client_id,
            "features": feats,
            "prediction": prediction,
            "latency_ms": round(latency_ms, 3),
        }
        if confidence is not None:
            rec["confidence"] = float(confidence)
        if probabilities is not None:
            rec["probabilities"] = probabilities
        if digest is not None:
            rec["features_digest"] = digest
        if record_id is not None:
            rec["id"] = record_id
        return rec


def _split_output(out: Any) -> tuple[Any, float | None, Any]:
    """(prediction, confidence, probabilities) of what a predict function returned."""
    if isinstance(out, dict):
        probs = out.get("probabilities")
        conf = out.get("confidence")
        if conf is None and isinstance(probs, dict) and probs:
            conf = max(float(v) for v in probs.values())
        return out.get("prediction", out.get("label")), conf, probs
    if isinstance(out, tuple) and len(out) == 2:
        return out[0], float(out[1]), None
    return out, None, None


def monitored(
    sink: Sink,
    *,
    client_id: Callable[..., str] | str = "anonymous",
    features: FeatureMode = "summary",
    salt: str = "",
    hash_clients: bool = False,
    keep: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Decorate ``predict(features, ...)`` (sync or async) to emit a record per call.

    The function's first argument is the feature dict; it returns a prediction, a
    ``(prediction, confidence)`` pair or a dict with ``prediction`` and ``confidence`` or
    ``probabilities``. ``client_id`` is a fixed id or a function of the call's arguments.
    """
    maker = RecordMaker(features, salt=salt, hash_clients=hash_clients, keep=keep)

    def emit(args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, started: float) -> None:
        try:
            feats = args[0] if args else kwargs.get("features", {})
            who = client_id(*args, **kwargs) if callable(client_id) else client_id
            pred, conf, probs = _split_output(out)
            sink.emit(
                maker.make(
                    dict(feats),
                    pred,
                    conf,
                    client_id=str(who),
                    latency_ms=(time.perf_counter() - started) * 1000,
                    probabilities=probs,
                )
            )
        except Exception:  # monitoring must never fail a prediction
            _DROPPED.add()

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                out = await fn(*args, **kwargs)
                emit(args, kwargs, out, started)
                return out

            return cast(F, awrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            out = fn(*args, **kwargs)
            emit(args, kwargs, out, started)
            return out

        return cast(F, wrapper)

    return decorate


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


_DROPPED = _Counter()


def failed_records() -> int:
    """Records this process could not hand to a sink (the record could not be built or
    the sink raised), since it started: watch it beside the monitor's own counts."""
    return _DROPPED.value


class FileSink:
    """Appends records as JSON lines to a file (thread-safe; flushed per record)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = self.path.open("a", encoding="utf-8")

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


class HttpSink:
    """Batches records and POSTs them as JSON lines to ``monitor run``'s ``/ingest``.

    Sent from a background thread every ``flush_every`` seconds or ``batch`` records,
    whichever comes first; ``flush()`` sends now; ``close()`` sends what is left. At most
    ``max_buffer`` records wait: beyond that, new ones are dropped and counted in
    ``dropped`` (a monitor that is down must not grow the model server's memory).
    """

    def __init__(
        self,
        url: str,
        *,
        batch: int = 500,
        flush_every: float = 1.0,
        max_buffer: int = 100_000,
        timeout: float = 5.0,
    ) -> None:
        from custodes.monitor.alerts import check_webhook

        self.url = check_webhook(url)
        self.batch = batch
        self.max_buffer = max_buffer
        self.timeout = timeout
        self.sent = 0
        self.dropped = 0
        self.failed_posts = 0
        self._buf: list[bytes] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._flush_every = flush_every
        self._thread = threading.Thread(target=self._run, daemon=True, name="custodes-sink")
        self._thread.start()

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str).encode()
        with self._lock:
            if len(self._buf) >= self.max_buffer:
                self.dropped += 1
                return
            self._buf.append(line)
            full = len(self._buf) >= self.batch
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._flush_every)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Send every buffered record now (one POST per ``batch``)."""
        with self._send_lock:
            while True:
                with self._lock:
                    chunk, self._buf = self._buf[: self.batch], self._buf[self.batch :]
                if not chunk:
                    return
                if not self._post(b"\n".join(chunk) + b"\n"):
                    with self._lock:  # keep them for the next try, within the bound
                        room = max(0, self.max_buffer - len(self._buf))
                        self.dropped += len(chunk) - min(room, len(chunk))
                        self._buf[:0] = chunk[:room]
                    return
                self.sent += len(chunk)

    def _post(self, body: bytes) -> bool:
        req = urllib.request.Request(  # noqa: S310 - http(s) checked in __init__
            self.url, data=body, headers={"Content-Type": "application/x-ndjson"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                resp.read()
                return 200 <= int(resp.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            self.failed_posts += 1
            return False

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=self.timeout + 1)
        self.flush()


# ------------------------------------------------------------------------ ASGI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PredictionMonitorMiddleware:
    """ASGI middleware: a record for each JSON prediction served on ``paths``.

    The request body's ``features`` object (or the whole body when it has none) is the
    feature vector; the response's ``prediction`` / ``label``, ``confidence`` and
    ``probabilities`` the output. The client is the ``client_header`` (after your auth
    layer has set it) or else the peer address. Only 2xx JSON responses are recorded.
    """

    def __init__(
        self,
        app: ASGIApp,
        sink: Sink,
        *,
        paths: tuple[str, ...] = ("/predict",),
        client_header: str = "x-client-id",
        features: FeatureMode = "summary",
        salt: str = "",
        hash_clients: bool = False,
        keep: tuple[str, ...] = (),
        max_body: int = 1 << 20,
    ) -> None:
        self.app = app
        self.sink = sink
        self.paths = paths
        self.client_header = client_header.lower().encode()
        self.maker = RecordMaker(features, salt=salt, hash_clients=hash_clients, keep=keep)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = bytearray()
        response = bytearray()
        status = 0

        async def receive_wrapper() -> Message:
            msg = await receive()
            if msg.get("type") == "http.request" and len(request) <= self.max_body:
                request.extend(msg.get("body", b""))
            return msg

        async def send_wrapper(msg: Message) -> None:
            nonlocal status
            if msg.get("type") == "http.response.start":
                status = int(msg.get("status", 0))
            elif msg.get("type") == "http.response.body" and len(response) <= self.max_body:
                response.extend(msg.get("body", b""))
            await send(msg)

        await self.app(scope, receive_wrapper, send_wrapper)
        if 200 <= status < 300:
            self._record(scope, bytes(request), bytes(response), started)

    def _client(self, scope: Scope) -> str:
        for k, v in scope.get("headers", []):
            if k.lower() == self.client_header:
                return bytes(v).decode("latin-1")
        peer = scope.get("client")
        return str(peer[0]) if peer else "unknown"

    def _record(self, scope: Scope, request: bytes, response: bytes, started: float) -> None:
        try:
            body = json.loads(request) if request else {}
            out = json.loads(response)
            feats = body.get("features", body) if isinstance(body, dict) else {}
            pred, conf, probs = _split_output(out)
            if pred is None or not isinstance(feats, dict):
                return
            self.sink.emit(
                self.maker.make(
                    feats,
                    pred,
                    conf,
                    client_id=self._client(scope),
                    latency_ms=(time.perf_counter() - started) * 1000,
                    probabilities=probs,
                )
            )
        except Exception:  # never fail the response for monitoring
            _DROPPED.add()
