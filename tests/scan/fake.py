"""A scanner for engine tests: flags every line containing LEAK-<word>, and can crash."""

from __future__ import annotations

import re
from collections.abc import Iterator

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.interface import ScanContext, Scanner, Target

_LEAK = re.compile(rb"LEAK-(\w+)")


class FakeScanner(Scanner):
    name = "fake"

    def wants(self, target: Target) -> bool:
        return target.suffix in (".txt", ".py")

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        data = target.path.read_bytes()
        if b"CRASH" in data:
            raise RuntimeError("boom")
        for n, line in enumerate(data.splitlines(), 1):
            for m in _LEAK.finditer(line):
                yield Finding(
                    rule_id=RuleId("SECRET-FAKE"),
                    category=Category.SECRET,
                    severity=Severity.HIGH,
                    message="fake leak",
                    location=Location(path=target.display, line=n),
                    subject=m.group(1).decode(),
                )


class KillerScanner(FakeScanner):
    """Like FakeScanner, but a file containing SEGV takes the whole process down."""

    name = "killer"

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        import os
        import signal

        if b"SEGV" in target.path.read_bytes():
            os.kill(os.getpid(), signal.SIGSEGV)
        yield from super().scan(target, ctx)
