"""The hyperscan prefilter and the pure ``re`` fallback give the same answers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.secrets import find_secrets, hyperscan_available

from .helpers import load_generator

gen = load_generator()


def test_hyperscan_is_used_when_installed() -> None:
    assert hyperscan_available()


def test_fallback_matches_hyperscan_on_corpus(tmp_path: Path) -> None:
    gen.generate(tmp_path, files=60, seed=11)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path.name != "labels.json":
            text = path.read_text(encoding="utf-8")
            fast = find_secrets(text, path_hint=path.name)
            slow = find_secrets(text, path_hint=path.name, use_hyperscan=False)
            assert [(m.rule_id, m.start, m.end) for m in fast] == [
                (m.rule_id, m.start, m.end) for m in slow
            ], path


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes_and_offsets_hold(text: str) -> None:
    for m in find_secrets(text, path_hint=".env"):
        assert text[m.start : m.end] == m.secret or "\x1b" in text
        assert 0 <= m.confidence <= 1
