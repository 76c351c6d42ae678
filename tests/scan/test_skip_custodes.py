"""custodes' own state folder (.custodes: the governance store and its log key) is not
scanned: the audit-log key is meant to be there, and the folder is git-ignored."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.scan import run_scan
from custodes.scan.targets import SKIP_DIRS, collect_targets


def _pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_custodes_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / ".custodes").mkdir()
    (tmp_path / ".custodes" / "log-key.pem").write_bytes(_pem())
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "leaked.pem").write_bytes(_pem())
    assert ".custodes" in SKIP_DIRS
    names = {t.display for t in collect_targets([tmp_path])}
    assert not any(".custodes" in n for n in names)
    result = run_scan([tmp_path])
    paths = {f.location.path for f in result.findings if f.location}
    assert any("leaked.pem" in p for p in paths)  # the same key elsewhere is still caught
    assert not any(".custodes" in p for p in paths)
