"""Secrets never leave custodes in the clear: not in console, JSON, SARIF, HTML or logs."""

from __future__ import annotations

import hashlib

__all__ = ["redact", "secret_digest"]


def redact(secret: str, keep: int = 4) -> str:
    """Keep a short prefix a person recognises (``AKIA``, ``ghp_``), mask the rest.

    Short secrets keep less, so that no secret of fewer than 12 characters shows more
    than a quarter of itself.
    """
    keep = min(keep, len(secret) // 4)
    return secret[:keep] + "*" * min(max(len(secret) - keep, 4), 16) + f" ({len(secret)} chars)"


def secret_digest(secret: str) -> str:
    """A stable, non-reversible id of a secret, for baselines and deduplication."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:24]
