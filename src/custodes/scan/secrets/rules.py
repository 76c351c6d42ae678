"""What a credential detector is (:class:`Rule`) and the checks detectors share.

Each rule has *anchors* (short, hyperscan-compatible regexes: a token prefix or a context
keyword) and a *pattern* (a Python regex with a named group ``s`` for the secret) that
confirms a candidate in a small window around an anchor hit. Splitting the two is what
makes scanning fast: the anchors of every rule compile into one hyperscan database that
reads hundreds of MB/s, and the slower ``re`` confirmation runs only near hits.

Rules that share a rule id are alternative shapes of one credential type (a W&B key in
an environment variable, in ``wandb.login(key=...)`` or in a ``.netrc``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from custodes.findings import Severity
from custodes.scan.secrets.filters import (
    charset_classes,
    is_example_or_placeholder,
    shannon_entropy,
)

__all__ = [
    "ASSIGN",
    "END",
    "Check",
    "Rule",
    "compile_pattern",
    "ctx_pattern",
    "jwt_check",
    "pem_check",
    "random_enough",
    "url_password_check",
]

Check = Callable[[str, str, int], float | None]
"""``check(secret, text, start)``: a confidence in 0..1, or None to drop the candidate."""


@dataclass(frozen=True)
class Rule:
    """One detector: anchors for the prefilter, a confirming pattern, a severity."""

    rule_id: str
    description: str
    severity: Severity
    anchors: tuple[str, ...]
    """Regexes valid for both hyperscan and ``re``; matched case-insensitively if ``caseless``."""
    pattern: re.Pattern[str]
    """Confirms a candidate near an anchor hit; group ``s`` is the secret."""
    back: int = 64
    """How far before an anchor's end the secret (or its context) may start."""
    ahead: int = 256
    """How far after an anchor's end the match may reach."""
    caseless: bool = False
    check: Check | None = None
    confidence: float = 0.95
    priority: int = 10
    """Wins over lower priorities when two matches overlap (specific beats generic)."""


def random_enough(min_entropy: float = 3.0, min_classes: int = 2) -> Check:
    """A check that drops placeholders and values too regular to be generated keys."""

    def check(secret: str, text: str, start: int) -> float | None:
        del text, start
        if is_example_or_placeholder(secret):
            return None
        if shannon_entropy(secret) < min_entropy or charset_classes(secret) < min_classes:
            return None
        return 0.95

    return check


def jwt_check(secret: str, text: str, start: int) -> float | None:
    """A JWT's header must decode to a JSON object with an ``alg``."""
    del text, start
    if is_example_or_placeholder(secret):
        return None
    head = secret.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return None
    return 0.9 if decoded.get("alg") != "none" else 0.5


def pem_check(secret: str, text: str, start: int) -> float | None:
    """A private key block must carry enough base64 body to be a real key."""
    del text, start
    body = re.sub(r"-----[A-Z ]+-----|\\n|\\r|\s|Proc-Type:.*|DEK-Info:.*|Version:.*", "", secret)
    if len(body) < 64 or is_example_or_placeholder(body):
        return None
    if shannon_entropy(body) < 4.0:
        return None
    return 0.99


def url_password_check(secret: str, text: str, start: int) -> float | None:
    """The password part of a URL: not a template variable, not a stand-in."""
    if len(secret) < 3 or secret.startswith(("$", "{", "<", "%", "*")):
        return None
    if is_example_or_placeholder(secret):
        return None
    low = secret.lower()
    if low in {"pass", "pwd", "user", "username", "secret", "mypassword", "pw", "guest"}:
        return None
    user = re.search(r"(?:^|[/\s\"'])([^\s:/@\"']{1,64}):$", text[max(0, start - 70) : start])
    if user and user.group(1).lower() == low:
        return None  # "guest:guest", "postgres:postgres": a default, not a leaked password
    if charset_classes(secret) < 2 and len(secret) < 10:
        return 0.6
    return 0.95


def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# "NAME = value", "NAME: value", "NAME <- value", '"NAME": "value"', 'f("NAME", "value")' and friends.
ASSIGN = r"""[\w.\-]{0,24}["']?\]?[ \t]{0,5}(?:=|:=|:|<-|=>|(?<=["']),)[ \t]{0,5}["']?"""
END = r"(?![A-Za-z0-9])"


def ctx_pattern(keyword: str, value: str) -> re.Pattern[str]:
    """A value right after a context keyword and an assignment operator."""
    return compile_pattern(rf"(?i:{keyword}){ASSIGN}(?P<s>{value}){END}")
