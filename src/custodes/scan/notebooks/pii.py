"""Personal data in notebook outputs: find it, validate it, count it, never keep it.

A notebook that printed a dataframe of patients ships their emails and national id
numbers to every clone of the repository. Detection here favours precision: shapes are
validated where a check exists (SSN area/group/serial rules, UK NI prefixes, IBAN mod-97,
Luhn for payment cards) and contact details (emails, phone numbers) only count when
several distinct ones appear. Callers get counts per type and the offset of the first
hit, never the values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PiiHits", "find_pii"]

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}"
    r"|\(\d{3}\) ?\d{3}-\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w-])"
)
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_NINO = re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])\b")
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")

_NOT_PERSONAL_DOMAINS = ("example.com", "example.org", "example.net", "localhost", "test")
_FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "css", "js", "py", "ipynb", "json"})
_BAD_NINO_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "SE": 24,
}  # fmt: skip
_MIN_CONTACTS = 2
"""Distinct emails or phone numbers needed before contact details count as a leak."""

LABELS = {
    "email": "email addresses",
    "phone": "phone numbers",
    "us_ssn": "US social security numbers",
    "uk_nino": "UK national insurance numbers",
    "iban": "IBANs",
    "payment_card": "payment card numbers",
}
IDENTIFIERS = frozenset({"us_ssn", "uk_nino", "iban", "payment_card"})


@dataclass(frozen=True)
class PiiHits:
    """Counts of distinct values per personal-data type in one text, and the first hit."""

    counts: dict[str, int]
    first_offset: int

    @property
    def has_identifiers(self) -> bool:
        """Whether national ids, IBANs or card numbers are among the hits."""
        return any(k in IDENTIFIERS for k in self.counts)

    def describe(self) -> str:
        """``3 email addresses, 1 US social security numbers``: counts only, no values."""
        return ", ".join(f"{n} {LABELS[k]}" for k, n in sorted(self.counts.items()))


def _email_ok(value: str) -> bool:
    domain = value.rsplit("@", 1)[1].lower()
    if domain.rsplit(".", 1)[-1] in _FILE_TLDS:
        return False
    return not any(domain == d or domain.endswith("." + d) for d in _NOT_PERSONAL_DOMAINS)


def _phone_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 10 <= len(digits) <= 15 and len(set(digits)) > 2


def _ssn_ok(match: re.Match[str]) -> bool:
    area, group, serial = match.groups()
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
        and match.group() not in ("078-05-1120", "219-09-9999")  # published sample SSNs
    )


def _nino_ok(match: re.Match[str]) -> bool:
    return match.group(1) not in _BAD_NINO_PREFIXES


def _iban_ok(match: re.Match[str]) -> bool:
    iban = match.group(1).replace(" ", "")
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _luhn_ok(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 3:
        return False
    if not (
        digits[0] == 4
        or (digits[0] == 5 and 1 <= digits[1] <= 5)
        or (digits[0] == 3 and digits[1] in (4, 7))
        or value.replace(" ", "").replace("-", "").startswith("6011")
    ):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], bool]], ...] = (
    ("email", _EMAIL, lambda m: _email_ok(m.group())),
    ("us_ssn", _SSN, _ssn_ok),
    ("uk_nino", _NINO, _nino_ok),
    ("iban", _IBAN, _iban_ok),
    ("payment_card", _CARD, lambda m: _luhn_ok(m.group())),
    ("phone", _PHONE, lambda m: _phone_ok(m.group())),
)


def find_pii(text: str) -> PiiHits | None:
    """Validated personal data in ``text``, counted by type; None when there is none.

    Contact details alone (emails, phone numbers) need at least two distinct values,
    so a printed author address is not a data leak; one validated national id, IBAN or
    card number is enough.
    """
    found: dict[str, set[str]] = {}
    first = len(text)
    claimed = bytearray(len(text))  # characters already taken by a stronger type
    for kind, pattern, valid in _DETECTORS:
        for m in pattern.finditer(text):
            start, end = m.span()
            if 1 in claimed[start:end] or not valid(m):
                continue
            claimed[start:end] = b"\x01" * (end - start)
            found.setdefault(kind, set()).add(re.sub(r"[\s-]", "", m.group()).lower())
            first = min(first, start)
    counts = {k: len(v) for k, v in found.items()}
    contacts = counts.get("email", 0) + counts.get("phone", 0)
    if not any(k in IDENTIFIERS for k in counts) and contacts < _MIN_CONTACTS:
        return None
    return PiiHits(counts, first)
