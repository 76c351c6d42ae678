"""Generic ``password/secret/token/api_key = "literal"`` assignments, scored by context.

No shape identifies a database password or an in-house API key, so this detector reads
the *variable name* (does it say password, secret, token, key?), the *value* (entropy,
character classes, does it look like a placeholder, an identifier, a path, a lookup?)
and the *file type* (an unquoted value is a literal in ``.env`` or YAML, but an
expression in Python). The result is a confidence; below :data:`THRESHOLD` the
candidate is dropped. Severity is medium: the name says secret, the value is a guess.
"""

from __future__ import annotations

import functools
import re
from pathlib import PurePosixPath

from custodes.findings import Severity
from custodes.scan.secrets.filters import (
    charset_classes,
    is_example_or_placeholder,
    shannon_entropy,
)
from custodes.scan.secrets.rules import Rule

__all__ = [
    "GENERIC_RULES",
    "THRESHOLD",
    "allows_unquoted",
    "is_lockfile",
    "score_assignment",
    "strip_auth_scheme",
]

THRESHOLD = 0.65
RULE_ID = "SECRET-GENERIC-ASSIGNMENT"

_KEYWORDS = (
    r"pass(?:wd|word|phrase)?|pwd|secret|token|api[_.\-]?key|apikey|access[_.\-]?key|auth"
    r"|credentials?|private[_.\-]?key|client[_.\-]?secret|bearer"
)
_ANCHOR = rf"""(?:{_KEYWORDS})[\w.\-]{{0,40}}["']?\]?\s{{0,5}}(?:=|:|<-)"""

_ASSIGNMENT = re.compile(
    r"""(?<![\w.\-$])["']?(?P<name>[A-Za-z_@][\w.\-]{0,80}?)["']?\]?[ \t]{0,5}"""
    r"""(?P<op>:[ \t]{0,3}[A-Za-z_][\w.]{0,30}(?:\[[\w\[\]., |]{0,40}\])?(?:[ \t]*\|[ \t]*None)?[ \t]{0,3}=(?!=)|:=|=>|<-|=(?!=)|:(?!:))[ \t]{0,5}"""
    r"""(?P<val>"(?:[^"\\\n]|\\.){1,400}"|'(?:[^'\\\n]|\\.){1,400}'|`[^`\n]{1,400}`"""
    r"""|[^\s"'`,;#)\]}{<>][^\s"'`,;)\]}{<>]{0,399})"""
)
_SQL = re.compile(r"(?i:identified\s+by|password)\s+'(?P<val>[^'\n]{4,128})'")
# Dockerfile's legacy ``ENV NAME value`` form: no operator, one value to the end of line.
_DOCKER_ENV = re.compile(
    r"""(?im)^[ \t]*ENV[ \t]+(?P<name>[A-Za-z_][\w.\-]{0,80})[ \t]+"""
    r"""(?P<val>"(?:[^"\\\n]|\\.){1,400}"|'[^'\n]{1,400}'|[^\s"'=][^\s]{0,399})[ \t]*$"""
)
# ``docker login -p VALUE`` / ``--password VALUE``: the value is a registry password.
_DOCKER_LOGIN = re.compile(
    r"""docker[ \t]+login\b[^\n]{0,200}?[ \t](?:-p|--password)(?:[ \t]+|=)"""
    r"""(?P<val>"[^"\n]{1,200}"|'[^'\n]{1,200}'|[^\s"'$`<][^\s`]{0,199})"""
)

# Single name parts (split on _ . - and camelCase) that mean "this holds a secret".
_STRONG = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
        "clientsecret",
        "auth",
        "authorization",
        "bearer",
    }
)
_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("private", "key"),
        ("auth", "key"),
        ("client", "secret"),
        ("master", "key"),
        ("encryption", "key"),
        ("signing", "key"),
        ("app", "key"),
        ("account", "key"),
        ("service", "key"),
    }
)
_PASSWORDISH = frozenset({"password", "passwd", "pwd", "pass", "passphrase"})
# A part after the keyword that makes the name about something else than the secret.
_AFTER_REJECT = frozenset(
    {
        "id",
        "ids",
        "name",
        "names",
        "file",
        "files",
        "path",
        "url",
        "uri",
        "type",
        "length",
        "len",
        "count",
        "field",
        "header",
        "prompt",
        "env",
        "var",
        "endpoint",
        "limit",
        "size",
        "dir",
        "label",
        "pattern",
        "regex",
        "format",
        "policy",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "timeout",
        "column",
        "col",
        "param",
        "placeholder",
        "hint",
        "min",
        "max",
        "required",
        "enabled",
        "mode",
        "hash",
        "hashed",
        "salt",
        "digest",
        "location",
        "store",
        "provider",
        "scheme",
        "mask",
        "reset",
        "confirm",
        "confirmation",
        "rotation",
        "manager",
        "class",
        "method",
        "kind",
        "ref",
        "arn",
        "version",
        "key",
        "keys",
        "index",
        "idx",
        "prefix",
        "suffix",
        "filename",
        "source",
        "input",
        "output",
        "validator",
        "strength",
        "rule",
        "rules",
        "help",
        "description",
        "desc",
        "title",
        "error",
        "message",
        "msg",
        "text",
        "widget",
        "callback",
        "handler",
        "factory",
        "lifetime",
        "usage",
        "budget",
        "cost",
        "rate",
        "per",
        "bucket",
        "mount",
    }
)
# A part before "token" that makes it a tokenizer's special token, not a credential.
_BEFORE_TOKEN_REJECT = frozenset(
    {
        "pad",
        "eos",
        "bos",
        "unk",
        "cls",
        "sep",
        "mask",
        "special",
        "start",
        "end",
        "sos",
        "eot",
        "sentinel",
        "image",
        "audio",
        "video",
        "num",
        "max",
        "min",
        "total",
        "csrf",
        "next",
        "page",
        "continuation",
        "cancellation",
        "cancel",
        "stop",
        "split",
    }
)
_SPLIT = re.compile(r"[_.\-@]+|(?<=[a-z0-9])(?=[A-Z])")
_WORDY = re.compile(r"^[a-z]+(?:[_\-. ][a-z]+)*$")
_UNQUOTED_OK = frozenset(
    {
        ".env",
        ".ini",
        ".cfg",
        ".conf",
        ".properties",
        ".yaml",
        ".yml",
        ".sh",
        ".bash",
        ".zsh",
        ".netrc",
        ".envrc",
        ".txt",
        "",
    }
)
_LOCKFILES = frozenset(
    {
        "poetry.lock",
        "package-lock.json",
        "uv.lock",
        "pipfile.lock",
        "yarn.lock",
        "pnpm-lock.yaml",
        "cargo.lock",
        "composer.lock",
        "go.sum",
        "conda-lock.yml",
        "npm-shrinkwrap.json",
        "gemfile.lock",
    }
)
_PREFIXES = ("Bearer ", "bearer ", "Basic ", "token ", "Token ")


def allows_unquoted(path_hint: str) -> bool:
    """Whether a bare value after ``=`` is a literal in this kind of file."""
    p = PurePosixPath(path_hint.replace("\\", "/"))
    name = p.name.lower()
    if name.startswith(".env") or name in {"dockerfile", ".netrc", "_netrc"}:
        return True
    if name.startswith("dockerfile") or name.endswith(".env"):
        return True
    return p.suffix.lower() in _UNQUOTED_OK


def is_lockfile(path_hint: str) -> bool:
    """Lock files hold integrity hashes, never credentials worth a generic guess."""
    return PurePosixPath(path_hint.replace("\\", "/")).name.lower() in _LOCKFILES


@functools.lru_cache(maxsize=4096)
def _name_score(name: str) -> float | None:
    """How strongly a variable name says "secret"; None when it does not."""
    parts = [p.lower() for p in _SPLIT.split(name) if p]
    if not parts or any(p.startswith("tokeniz") for p in parts):
        return None
    hit = -1
    for i, part in enumerate(parts):
        if (
            part in _STRONG
            or (i and (parts[i - 1], part) in _PAIRS)
            or (
                part.endswith(("password", "passwd", "secret", "apikey", "token"))
                and len(part) < 24
            )
        ):
            hit = i
    if hit < 0:
        return None
    if any(p in _AFTER_REJECT for p in parts[hit + 1 :]):
        return None
    if parts[hit] == "token" and hit and parts[hit - 1] in _BEFORE_TOKEN_REJECT:
        return None
    if parts[hit] == "key" and parts[hit - 1] in {"public", "pub"}:
        return None
    if "public" in parts or "publishable" in parts:
        return None
    return 0.1 if parts[hit] in _PASSWORDISH or "secret" in parts[hit] else 0.05


def strip_auth_scheme(value: str) -> tuple[str, int]:
    """Drop a leading ``Bearer ``/``Basic ``/``token ``; return the rest and its offset."""
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :], len(prefix)
    return value, 0


@functools.lru_cache(maxsize=8192)
def score_assignment(
    name: str, value: str, *, quoted: bool, path_hint: str, unquoted_ok: bool | None = None
) -> float | None:
    """Confidence that ``name = value`` hard-codes a credential; None when it surely does not.

    ``unquoted_ok`` says whether a bare value is a literal (``.env``, YAML, printed
    output) rather than an expression; by default it follows the file type of ``path_hint``.
    """
    name_bonus = _name_score(name)
    if name_bonus is None:
        return None
    if unquoted_ok is None:
        unquoted_ok = allows_unquoted(path_hint)
    if not quoted and not unquoted_ok:
        return None
    passwordish = name_bonus >= 0.1
    if len(value) < (6 if passwordish else 8) or len(value) > 400:
        return None
    if any(c.isspace() for c in value) or value.lower() == name.lower():
        return None
    if is_example_or_placeholder(value) or ("{" in value and "}" in value):
        return None
    if value.startswith(("http://", "https://", "/", "./", "~/", "file:", "s3://", "gs://")):
        return None
    if value.isdigit() or (not quoted and "(" in value):
        return None
    if re.fullmatch(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value
    ):
        return None
    if _WORDY.match(value):
        return None  # an identifier or a word: a reference to a secret, not the secret
    entropy = shannon_entropy(value)
    classes = charset_classes(value)
    score = 0.35 + 0.35 * min(entropy / 4.0, 1.0) + 0.05 * classes + name_bonus
    if len(value) >= 12:
        score += 0.1
    if value.isalpha():
        score -= 0.15
    if re.search(r"(?:^|/)(?:tests?|fixtures?|examples?|docs?)/|_test\.|test_", path_hint):
        score -= 0.1
    return min(score, 0.9) if score >= THRESHOLD else None


GENERIC_RULES: tuple[Rule, ...] = (
    Rule(
        RULE_ID,
        "Hard-coded secret in an assignment",
        Severity.MEDIUM,
        (_ANCHOR,),
        _ASSIGNMENT,
        back=100,
        ahead=420,
        caseless=True,
        priority=0,
    ),
    Rule(
        RULE_ID,
        "Hard-coded secret in a Dockerfile ENV",
        Severity.MEDIUM,
        (rf"ENV[ \t]+[\w.\-]{{0,40}}(?:{_KEYWORDS})[\w.\-]{{0,40}}[ \t]",),
        _DOCKER_ENV,
        back=40,
        ahead=520,
        caseless=True,
        priority=0,
    ),
    Rule(
        RULE_ID,
        "Hard-coded registry password (docker login)",
        Severity.MEDIUM,
        (r"docker[ \t]+login",),
        _DOCKER_LOGIN,
        back=16,
        ahead=420,
        caseless=True,
        priority=0,
    ),
    Rule(
        RULE_ID,
        "Hard-coded database password (SQL)",
        Severity.MEDIUM,
        (r"identified\s+by\s+'", r"password\s+'"),
        _SQL,
        back=24,
        ahead=140,
        caseless=True,
        priority=0,
    ),
)
