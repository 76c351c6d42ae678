"""monitor run over HTTP: ingest counts, bad input never crashes it, /metrics, load."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custodes.governance.service import Governance
from custodes.monitor import parse_window
from custodes.monitor.service import MAX_BODY, MonitorServer, MonitorSettings

from .conftest import Receiver, Service, body, live_records


def _post(url: str, data: bytes, path: str = "/ingest") -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/x-ndjson"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw.startswith(b"{") else {}
    finally:
        conn.close()


def _get(url: str, path: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in\n{text}")


@pytest.fixture
def server(small_reference: Path, tmp_path: Path) -> Iterator[MonitorServer]:
    settings = MonitorSettings(
        "m1", "outcome-model", small_reference, parse_window("1h"), interval_s=30, eval_every_s=30
    )
    with Governance.open(tmp_path) as gov:
        srv = MonitorServer(settings, gov=gov)
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


def test_ingest_json_lines_and_array_counts_match_metrics(server: MonitorServer) -> None:
    rows = live_records(300, seed=3, client="clinic-1")
    code, doc = _post(server.url, body(rows[:200]))
    assert (code, doc["accepted"], doc["rejected"]) == (200, 200, 0)
    code, doc = _post(server.url, json.dumps(rows[200:]).encode())
    assert (code, doc["accepted"], doc["rejected"]) == (200, 100, 0)
    status = json.loads(_get(server.url, "/status"))
    assert status["records"] == 300
    metrics = _get(server.url, "/metrics")
    assert _metric(metrics, "custodes_monitor_records_total", monitor="m1") == 300
    assert _metric(metrics, "custodes_monitor_requests_total") == 2
    assert "# TYPE custodes_monitor_records_total counter" in metrics
    assert _get(server.url, "/healthz") == "ok\n"


def test_bad_input_over_http_is_counted_and_never_crashes(server: MonitorServer) -> None:
    good = live_records(5, seed=4, client="clinic-2")
    future = dict(good[0], ts="2999-01-01T00:00:00Z")
    early = dict(good[1], ts="2020-01-01T00:00:00Z")  # after good records: out of order
    wrong = json.loads(json.dumps(good[2]))
    wrong["features"]["age"] = "fifty"
    cases: list[tuple[bytes, dict[str, int]]] = [
        (b'{"ts": "2026-11-03T10:00:00Z", "client_id": ', {"malformed_json": 1}),
        (b"[1, 2, 3]", {"not_an_object": 3}),
        (b"\xff\xfe\x00garbage\n\x00\x01", {"malformed_json": 2}),
        (body([dict(good[0], confidence=7.5)]), {"out_of_range": 1}),
        (body([dict(good[0], client_id=17)]), {"wrong_type": 1}),
        (body([wrong]), {"wrong_type": 1}),
        (body([dict(good[0], ts="yesterday")]), {"bad_timestamp": 1}),
        (body([{k: v for k, v in good[0].items() if k != "prediction"}]), {"missing_field": 1}),
        (body([future]), {"future_timestamp": 1}),
        (b"[" * 100_000, {"malformed_json": 1}),
        (b"{}", {"missing_field": 1}),
    ]
    expected: dict[str, int] = {}
    for data, kinds in cases:
        code, doc = _post(server.url, data)
        assert code == 200, data[:60]
        assert doc["accepted"] == 0, data[:60]
        assert doc["issues"]["counts"] == kinds, data[:60]
        for k, v in kinds.items():
            expected[k] = expected.get(k, 0) + v
    code, doc = _post(server.url, body([*good[:3], early]))
    assert (code, doc["accepted"]) == (200, 4)
    assert doc["issues"]["counts"] == {"out_of_order": 1}
    expected["out_of_order"] = 1
    code, doc = _post(server.url, b"")
    assert (code, doc["accepted"]) == (200, 0)
    assert _post(server.url, b"{}", path="/nowhere")[0] == 404
    # a body over the limit is refused by its declared length, unread
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/ingest")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    # still serving, and every kind is counted and reported
    status = json.loads(_get(server.url, "/status"))
    assert status["records"] == 4
    assert status["input_issues"]["counts"] == expected
    assert status["input_issues"]["samples"]["future_timestamp"][0].endswith("(clock skew?)")
    metrics = _get(server.url, "/metrics")
    for kind, n in expected.items():
        assert _metric(metrics, "custodes_monitor_bad_input_total", kind=kind) == n
    server.evaluate()
    assert json.loads(_get(server.url, "/status"))["verdict"] == "degraded"  # mostly bad input


def test_extraction_over_http_alerts_the_webhook(
    small_reference: Path, tmp_path: Path, receiver: Receiver, week: Path
) -> None:
    settings = MonitorSettings(
        "m2",
        "outcome-model",
        small_reference,
        parse_window("1d"),
        interval_s=30,
        eval_every_s=0.5,
        webhooks=(receiver.url,),
        keep_windows=100,
    )
    srv = MonitorServer(settings, gov=None)
    srv.start()
    try:
        lines = week.read_bytes().splitlines(keepends=True)
        for i in range(0, len(lines), 5000):
            code, _doc = _post(srv.url, b"".join(lines[i : i + 5000]))
            assert code == 200
        alert = receiver.wait_for("monitor.verdict", timeout=20)
    finally:
        srv.stop()
    assert alert["verdict"] == "suspected_extraction"
    assert "probe-7" in alert["clients"]
    assert "probe-7" in alert["message"]


def _client(
    url: str, payloads: list[bytes], until: float, sent: list[int], errors: list[str]
) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    n = i = 0
    try:
        while time.monotonic() < until:
            data = payloads[i % len(payloads)]
            i += 1
            conn.request("POST", "/ingest", body=data)
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            if resp.status != 200 or doc["rejected"]:
                errors.append(f"{resp.status} {doc}")
            n += doc["accepted"]
    except OSError as exc:
        errors.append(repr(exc))
    finally:
        conn.close()
        sent.append(n)


def run_load(
    url: str, clients: int, seconds: float, sample: Any, batch: int = 200
) -> dict[str, Any]:
    """``clients`` threads posting batches for ``seconds``; RSS sampled by ``sample``."""
    payloads = [
        [body(live_records(batch, seed=100 * c + k, client=f"load-{c}")) for k in range(4)]
        for c in range(clients)
    ]
    sent: list[int] = []
    errors: list[str] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(url, payloads[c], until, sent, errors))
        for c in range(clients)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    rss: list[tuple[float, int]] = []
    while any(t.is_alive() for t in threads):
        rss.append((time.monotonic() - start, sample()))
        time.sleep(0.5)
    for t in threads:
        t.join()
    return {"sent": sum(sent), "errors": errors, "rss": rss, "seconds": time.monotonic() - start}


def flat(rss: list[tuple[float, int]]) -> tuple[float, float]:
    """(median RSS in MB after warm-up (second quarter), median of the last quarter)."""
    vals = [kb / 1024 for _t, kb in rss]
    q = max(1, len(vals) // 4)
    return statistics.median(vals[q : 2 * q]), statistics.median(vals[-q:])


@pytest.mark.slow
def test_short_load_8_clients_nothing_lost_memory_flat(
    small_reference: Path, tmp_path: Path
) -> None:
    svc = Service(
        "-r", str(small_reference), "--model", "outcome-model", "--interval", "2",
        "--eval-every", "1", "-C", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    try:
        result = run_load(svc.url, clients=8, seconds=8.0, sample=svc.rss_kb)
        status = json.loads(_get(svc.url, "/status"))
        metrics = _get(svc.url, "/metrics")
    finally:
        out, err = svc.stop()
    assert result["errors"] == []
    assert result["sent"] > 10_000
    assert status["records"] == result["sent"]
    assert status["input_issues"]["rejected"] == 0
    assert _metric(metrics, "custodes_monitor_records_total") == result["sent"]
    warm, last = flat(result["rss"])
    assert last - warm < 60, f"RSS grew from {warm:.0f} MB to {last:.0f} MB"
    assert f"{result['sent']:,} records" in out, err
