"""The SDK: decorator and ASGI middleware emit records monitor run and check can read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from custodes.monitor import parse_window
from custodes.monitor.records import InputIssues, infer_schema, read_records
from custodes.monitor.sdk import (
    FileSink,
    HttpSink,
    PredictionMonitorMiddleware,
    failed_records,
    monitored,
)
from custodes.monitor.service import MonitorServer, MonitorSettings

PATIENT = {"age": 57, "bmi": 31.37, "glucose": 123.4, "smoker": True, "sex": "F", "name": "Ada"}


class ListSink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def emit(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def test_decorator_summarizes_features_by_default() -> None:
    sink = ListSink()

    @monitored(sink, client_id=lambda f, client="": client, keep=("sex",))
    def predict(features: dict[str, Any], client: str = "") -> tuple[str, float]:
        return "high_risk", 0.8

    assert predict(PATIENT, client="clinic-1") == ("high_risk", 0.8)
    [rec] = sink.records
    assert rec["client_id"] == "clinic-1"
    assert rec["prediction"] == "high_risk"
    assert rec["confidence"] == 0.8
    assert rec["latency_ms"] >= 0
    f = rec["features"]
    assert f["age"] == 57
    assert f["bmi"] == 31.0
    assert f["glucose"] == 120.0
    assert f["smoker"] is True
    assert f["sex"] == "F"
    assert f["name"].startswith("h:")
    assert "Ada" not in json.dumps(rec)
    assert rec["features_digest"].startswith("h:")


def test_hash_and_raw_modes_and_hashed_clients() -> None:
    sink = ListSink()

    @monitored(sink, features="hash", hash_clients=True, salt="s", client_id="clinic-9")
    def predict(features: dict[str, Any]) -> dict[str, Any]:
        return {"prediction": "low_risk", "probabilities": {"low_risk": 0.7, "high_risk": 0.3}}

    @monitored(sink, features="raw")
    async def apredict(features: dict[str, Any]) -> str:
        return "low_risk"

    predict(PATIENT)
    asyncio.run(apredict(PATIENT))
    hashed, raw = sink.records
    assert hashed["features"] == {}
    assert hashed["confidence"] == 0.7
    assert hashed["client_id"].startswith("h:")
    assert "clinic-9" not in json.dumps(hashed)
    assert raw["features"] == PATIENT
    assert raw["client_id"] == "anonymous"
    with pytest.raises(ValueError, match="summary, hash or raw"):
        monitored(sink, features="everything")  # type: ignore[arg-type]


def test_a_failing_sink_never_fails_the_prediction() -> None:
    class Broken:
        def emit(self, record: dict[str, Any]) -> None:
            raise OSError("disk full")

    @monitored(Broken())
    def predict(features: dict[str, Any]) -> str:
        return "ok"

    before = failed_records()
    assert predict({"a": 1}) == "ok"
    assert predict({"a": 2}) == "ok"
    assert failed_records() == before + 2  # counted where an operator can read it


def test_file_sink_records_are_read_by_monitor_check(tmp_path: Path, small_reference: Path) -> None:
    sink = FileSink(tmp_path / "preds.jsonl")
    ref = [json.loads(line) for line in small_reference.read_text().splitlines()[:300]]

    @monitored(sink, features="raw", client_id=lambda f, who: who)
    def predict(features: dict[str, Any], who: str) -> tuple[str, float]:
        return "low_risk", 0.9

    for i, r in enumerate(ref):
        predict(r["features"], f"c{i % 3}")
    sink.close()
    schema = infer_schema(small_reference)
    issues = InputIssues()
    n = sum(len(b) for b in read_records(tmp_path / "preds.jsonl", schema, issues))
    assert (n, issues.counts) == (300, {})


async def _call(
    app: Any, method: str, path: str, body: bytes, headers: list[Any]
) -> tuple[int, bytes]:
    """One HTTP request straight through an ASGI app (no test client needed)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status = 0
    out = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg: Any) -> None:
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]
        elif msg["type"] == "http.response.body":
            out.extend(msg.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(out)


def test_http_sink_and_asgi_middleware_feed_monitor_run(small_reference: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        risky = body["features"]["glucose"] > 110
        return JSONResponse({"label": "high_risk" if risky else "low_risk", "confidence": 0.75})

    async def other(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    settings = MonitorSettings("sdk", "m", small_reference, parse_window("1h"), 30, 30)
    srv = MonitorServer(settings, gov=None)
    srv.start()
    sink = HttpSink(srv.url + "/ingest", batch=7, flush_every=0.1)
    seen = ListSink()
    try:
        app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/x", other)])
        wrapped = PredictionMonitorMiddleware(app, sink, keep=("sex",))
        spy = PredictionMonitorMiddleware(app, seen)
        ref = [json.loads(line) for line in small_reference.read_text().splitlines()[:50]]

        async def traffic() -> None:
            for i, r in enumerate(ref):
                data = json.dumps({"features": r["features"]}).encode()
                hdr = [(b"x-client-id", f"c{i % 2}".encode())]
                status, _ = await _call(wrapped, "POST", "/predict", data, hdr)
                assert status == 200
            status, out = await _call(wrapped, "GET", "/x", b"", [])
            assert (status, json.loads(out)) == (200, {"ok": True})
            await _call(
                spy, "POST", "/predict", json.dumps({"features": ref[0]["features"]}).encode(), []
            )

        asyncio.run(traffic())
        sink.close()
    finally:
        srv.stop()
    assert sink.sent == 50
    assert sink.dropped == 0
    st = srv.engine.status()
    assert st["records"] == 50
    assert st["input_issues"]["rejected"] == 0
    [rec] = seen.records
    assert rec["client_id"] == "127.0.0.1"
    assert rec["prediction"] in ("high_risk", "low_risk")
    assert rec["confidence"] == 0.75


def test_http_sink_to_a_dead_monitor_drops_within_its_bound() -> None:
    sink = HttpSink("http://127.0.0.1:9/ingest", batch=10, flush_every=60, max_buffer=25, timeout=1)
    for i in range(40):
        sink.emit({"i": i})
    sink.close()
    assert sink.sent == 0
    assert sink.dropped == 15
    assert sink.failed_posts >= 1
