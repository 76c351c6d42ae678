"""Monitoring a deployed model: output and input drift, performance, abuse through use.

The core is a library of small parts that a CI check (``custodes monitor check``), a
long-running service, an SDK decorator or a metrics endpoint can all drive:

* :mod:`~custodes.monitor.records` - prediction records from JSONL / Parquet, bad input counted;
* :mod:`~custodes.monitor.windows` - windows by time or count, summarized by mergeable profiles;
* :mod:`~custodes.monitor.drift` - a window against the reference (PSI, JS, Wasserstein, accuracy);
* :mod:`~custodes.monitor.abuse` - per-client extraction and inference-attack signals;
* :mod:`~custodes.monitor.result` - the verdict and its JSON contract;
* :mod:`~custodes.monitor.check` - the one-off run that ties them together;
* :mod:`~custodes.monitor.simulate` - seeded simulated traffic for tests, benchmarks and demos;
* :mod:`~custodes.monitor.service` - ``custodes monitor run``: HTTP ingest, evaluation, heartbeats;
* :mod:`~custodes.monitor.registry` - monitors in the governance store: config digests (changes
  are audit events), heartbeats, alive / stale / changed;
* :mod:`~custodes.monitor.alerts` and :mod:`~custodes.monitor.metrics` - webhooks, Prometheus text;
* :mod:`~custodes.monitor.sdk` - a decorator and an ASGI middleware that emit prediction records;
* :mod:`~custodes.monitor.assess` - whether each served model is monitored, for ``custodes assess``.

Who monitors the monitors: every monitor sends heartbeats to the store, and a silent one is
an alert and an assessment finding, not an absence nobody notices.
"""

from __future__ import annotations

from custodes.monitor.check import check_predictions
from custodes.monitor.result import VERDICT_ORDER, MonitorCheckResult
from custodes.monitor.windows import WindowSpec, parse_window

__all__ = [
    "VERDICT_ORDER",
    "MonitorCheckResult",
    "WindowSpec",
    "check_predictions",
    "parse_window",
]
