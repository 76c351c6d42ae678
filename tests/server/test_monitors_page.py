"""The dashboard's monitors page shows which monitors are alive and which went silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custodes.governance.service import Governance
from custodes.monitor.registry import heartbeat, register_monitor
from tests.server.conftest import Server


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_monitors_page_names_the_stale_monitor(server: Server) -> None:
    now = datetime.now(UTC)
    with Governance.open(server.project.root, server.project.db) as gov:
        for name, last in (("api-watch", now), ("batch-watch", now - timedelta(hours=3))):
            register_monitor(gov, name, "m", 3600, {"window": "1h", "name": name}, now=last)
            heartbeat(gov.store, name, records=1000, at=last)
    with server.client() as client:
        r = client.post("/login", data={"token": server.project.tokens["ivy"]})
        assert r.status_code == 303
        page = client.get("/monitors")
    assert page.status_code == 200
    html = page.text
    alive = html.index("api-watch")
    stale = html.index("batch-watch")
    assert "alive" in html[alive : alive + 400]
    assert "stale" in html[stale : stale + 400]
    assert "<script" not in html
