"""Alerts to webhooks: one JSON POST per alert, bounded in time, never raising.

An alert that cannot be delivered must not take the monitor down with it, so delivery
failures are returned (and counted by the caller), not raised. Only ``http`` and
``https`` URLs are accepted, checked when the monitor starts (:func:`check_webhook`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from custodes.errors import UsageError

__all__ = ["alert_payload", "check_webhook", "send_alert", "send_webhook"]

TIMEOUT = 5.0


def check_webhook(url: str) -> str:
    """The URL if it is http(s) with a host, else a UsageError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--webhook expects an http:// or https:// URL, got {url!r}")
    return url


def alert_payload(kind: str, monitor: str, message: str, **data: Any) -> dict[str, Any]:
    """The JSON body of an alert (also readable as plain text by chat webhooks: ``text``)."""
    return {
        "source": "custodes",
        "kind": kind,
        "monitor": monitor,
        "message": message,
        "text": f"custodes: {message}",
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **data,
    }


def send_webhook(url: str, payload: dict[str, Any], timeout: float = TIMEOUT) -> str | None:
    """POST ``payload`` as JSON; None when the receiver answered 2xx, else why not."""
    check_webhook(url)
    body = json.dumps(payload, separators=(",", ":")).encode()
    req = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def send_alert(urls: Iterable[str], payload: dict[str, Any]) -> list[str]:
    """Send to every webhook; the list of failures (empty when all were delivered)."""
    return [err for url in urls if (err := send_webhook(url, payload)) is not None]
