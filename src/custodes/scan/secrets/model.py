"""What a credential detector returns, before it becomes a :class:`~custodes.findings.Finding`.

A :class:`SecretMatch` carries the raw secret because callers need it in memory (to
digest it for the fingerprint, to deduplicate, to check it against a baseline). It must
never reach a log or a report in the clear, so its ``repr`` redacts the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from custodes.findings import Severity
from custodes.scan.redact import redact

__all__ = ["SecretMatch"]


@dataclass(frozen=True)
class SecretMatch:
    """One credential found in a text, with where it sits and how sure we are."""

    rule_id: str
    """Stable rule id, e.g. ``SECRET-AWS-ACCESS-KEY``."""
    description: str
    """What kind of credential this is, in words a person reads."""
    severity: Severity
    secret: str = field(repr=False)
    """The raw secret: in memory only, never rendered (see :func:`redact`)."""
    start: int
    """Character offset in the scanned text where the secret starts."""
    end: int
    """Character offset just after the secret."""
    confidence: float
    """How likely this is a real credential, 0..1 (shape, entropy and context)."""

    def __repr__(self) -> str:
        return (
            f"SecretMatch(rule_id={self.rule_id!r}, secret={redact(self.secret)!r}, "
            f"start={self.start}, end={self.end}, confidence={self.confidence:.2f})"
        )

    __str__ = __repr__
