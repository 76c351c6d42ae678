"""The committed corpus generator and small helpers for the credential tests."""

from __future__ import annotations

from types import ModuleType


def load_generator() -> ModuleType:
    """The committed corpus generator, tests/corpus/secrets_gen.py."""
    from tests.corpus import secrets_gen

    return secrets_gen
