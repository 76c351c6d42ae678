"""Load the committed corpus generator (tests/corpus is not a package) and small helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

GEN_PATH = Path(__file__).resolve().parents[2] / "corpus" / "secrets_gen.py"


def load_generator() -> ModuleType:
    """Import tests/corpus/secrets_gen.py once, by path."""
    name = "custodes_secrets_gen"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GEN_PATH)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
