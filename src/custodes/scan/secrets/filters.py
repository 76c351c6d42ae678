"""Precision: tell a real credential from an example, a placeholder or a checksum.

Detectors find shapes; most shapes in real repositories are not secrets. Documented
example keys, template placeholders, environment lookups, hashes and identifiers all
look like tokens. These checks are cheap string tests, run only on candidates.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = [
    "KNOWN_EXAMPLES",
    "charset_classes",
    "is_example_or_placeholder",
    "looks_like_hash_or_id",
    "shannon_entropy",
]

# Values published in vendor documentation and tutorials: true negatives everywhere.
KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "xoxb-not-a-real-token-this-will-not-work",
        # Azurite / storage emulator well-known account key.
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        # The jwt.io sample token.
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    }
)

# Marks of a template or a stand-in, wherever they sit in a value.
_PLACEHOLDER_MARKS = re.compile(
    r"xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(|\$[A-Z_]|000000000|123456789|abcdef(?:gh|123)",
    re.IGNORECASE,
)
# Words that mark a stand-in when they stand alone or the value is short: a long random
# token may contain "fake" or "todo" by chance and is still a key.
_PLACEHOLDER_WORDS = re.compile(
    r"example|sample|placeholder|changeme|change[_\-]me|replace|your|insert|dummy|fake|"
    r"redacted|secret[_\-]?here|here|goes[_\-]here|todo|fixme|notreal|not[_\-]a[_\-]real|"
    r"qwerty|letmein|testtest|foobar",
    re.IGNORECASE,
)
_ALONE = re.compile(r"(?<![A-Za-z])(?:" + _PLACEHOLDER_WORDS.pattern + r")(?![a-z])", re.IGNORECASE)

# Whole values that are never a secret, whatever the variable is called.
_TRIVIAL = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "required",
        "optional",
        "string",
        "str",
        "env",
        "test",
        "admin",
        "root",
        "default",
        "empty",
        "hidden",
        "masked",
        "bearer",
        "basic",
    }
)

_ENV_LOOKUP = re.compile(
    r"os\.environ|os\.getenv|getenv\(|process\.env|ENV\[|Sys\.getenv|sys\.env|"
    r"System\.getenv|secrets\.get|dbutils\.secrets|userdata\.get|var\.|env\(|vault\(",
    re.IGNORECASE,
)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_PREFIX = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?|xxh\d*)[:=\-]", re.I)


def shannon_entropy(value: str) -> float:
    """Bits per character; random base64 is near 6, English words near 3."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def charset_classes(value: str) -> int:
    """How many of lower, upper, digit and symbol characters a value uses."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def is_example_or_placeholder(value: str) -> bool:
    """True for documented example keys, template variables and stand-in values."""
    if value in KNOWN_EXAMPLES or "EXAMPLE" in value:
        return True
    if value.lower().strip("'\"") in _TRIVIAL:
        return True
    if _PLACEHOLDER_MARKS.search(value) or _ENV_LOOKUP.search(value):
        return True
    words = _PLACEHOLDER_WORDS if len(value) <= 24 else _ALONE
    if words.search(value):
        return True
    stripped = value.strip("-_=.*x")
    return len(set(stripped)) <= 2  # "xxxxxxxx", "aaaa1111", "----"


def looks_like_hash_or_id(value: str) -> bool:
    """UUIDs, hex digests (git SHAs, sha256, md5) and ``sha256:...`` digests."""
    return bool(
        _UUID.match(value)
        or _HASH_PREFIX.match(value)
        or (_HEX.match(value) and len(value) in (32, 40, 56, 64, 96, 128))
    )
