"""``custodes provenance sign-model`` / ``verify-model`` and ``keys generate --ec``, in-process.

The bundle format itself and interop with the official model_signing CLI are tested in
test_model_signing.py; these tests cover the commands: defaults, exit codes and messages.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import Result

Cli = Callable[..., Result]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 2}\n')
    (root / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (root / "sub" / "tok.txt").write_text("hello\n")
    return root


def _ec_keys(cli: Cli, out: Path, name: str) -> tuple[Path, Path]:
    res = cli("keys", "generate", "--ec", "-o", out, "--name", name)
    assert res.code == 0, res.err
    return out / f"{name}.pem", out / f"{name}.pub.pem"


@pytest.fixture
def keys(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    return _ec_keys(cli, tmp_path / "keys", "alice")


def test_keys_generate_ec_writes_p256_and_ed25519_stays_default(
    tmp_path: Path, cli: Cli, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert isinstance(
        serialization.load_pem_public_key(public.read_bytes()), ec.EllipticCurvePublicKey
    )
    res = cli("keys", "generate", "-o", tmp_path / "ed", "--name", "bob")
    assert res.code == 0, res.err
    default = serialization.load_pem_private_key((tmp_path / "ed/bob.pem").read_bytes(), None)
    assert not isinstance(default, ec.EllipticCurvePrivateKey)
    again = cli("keys", "generate", "--ec", "-o", tmp_path / "keys", "--name", "alice")
    assert again.code == 2
    assert "refusing to overwrite" in again.err


def test_sign_then_verify_is_clean(cli: Cli, model: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    res = cli("provenance", "sign-model", model, "--key", private)
    assert res.code == 0, res.err
    sig = model / "model.sig"
    assert json.loads(sig.read_text())["mediaType"].startswith("application/vnd.dev.sigstore")
    ok = cli("provenance", "verify-model", model, "--public-key", public)
    assert ok.code == 0, ok.out + ok.err
    assert "✓" in ok.out
    js = cli("provenance", "verify-model", model, "--public-key", public, "--format", "json")
    assert js.code == 0
    assert json.loads(js.out)["verdict"] == "ok"
    assert json.loads(js.out)["problems"] == []


def test_signature_outside_the_model(
    tmp_path: Path, cli: Cli, model: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    sig = tmp_path / "sigs" / "m.sig"
    sig.parent.mkdir()
    assert cli("provenance", "sign-model", model, "--key", private, "--signature", sig).code == 0
    assert not (model / "model.sig").exists()
    res = cli("provenance", "verify-model", model, "--public-key", public, "--signature", sig)
    assert res.code == 0, res.out + res.err


def test_flipped_byte_is_named(cli: Cli, model: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert cli("provenance", "sign-model", model, "--key", private).code == 0
    weights = model / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0x01
    weights.write_bytes(bytes(data))
    res = cli("provenance", "verify-model", model, "--public-key", public)
    assert res.code == 1
    assert "changed: weights.bin" in res.out
    assert "verification failed" in res.out
    js = cli("provenance", "verify-model", model, "--public-key", public, "-f", "json")
    assert js.code == 1
    assert json.loads(js.out)["problems"] == ["changed: weights.bin"]


def test_added_and_removed_files_are_named(cli: Cli, model: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert cli("provenance", "sign-model", model, "--key", private).code == 0
    (model / "sub" / "tok.txt").unlink()
    (model / "extra.bin").write_bytes(b"x")
    res = cli("provenance", "verify-model", model, "--public-key", public, "-f", "json")
    assert res.code == 1
    assert set(json.loads(res.out)["problems"]) == {"removed: sub/tok.txt", "added: extra.bin"}


def test_wrong_key_fails(tmp_path: Path, cli: Cli, model: Path, keys: tuple[Path, Path]) -> None:
    private, _ = keys
    _, mallory = _ec_keys(cli, tmp_path / "keys", "mallory")
    assert cli("provenance", "sign-model", model, "--key", private).code == 0
    res = cli("provenance", "verify-model", model, "--public-key", mallory)
    assert res.code == 1
    assert "different key" in res.out
    assert "does not verify" in res.out


def test_missing_signature_is_bad_input(cli: Cli, model: Path, keys: tuple[Path, Path]) -> None:
    _, public = keys
    res = cli("provenance", "verify-model", model, "--public-key", public)
    assert res.code == 2
    assert "model signature not found" in res.err
    assert "model.sig" in res.err


@pytest.mark.parametrize("what", ["missing-model", "ed25519-key", "garbage-signature"])
def test_bad_input_exits_2(
    tmp_path: Path, cli: Cli, model: Path, keys: tuple[Path, Path], what: str
) -> None:
    private, public = keys
    if what == "missing-model":
        res = cli("provenance", "sign-model", tmp_path / "nope", "--key", private)
        assert "not a model folder" in res.err
    elif what == "ed25519-key":
        assert cli("keys", "generate", "-o", tmp_path / "ed", "--name", "ed").code == 0
        res = cli("provenance", "sign-model", model, "--key", tmp_path / "ed/ed.pem")
        assert "EC key" in res.err
        assert not (model / "model.sig").exists()
    else:
        (model / "model.sig").write_text("not json")
        res = cli("provenance", "verify-model", model, "--public-key", public)
        assert "not JSON" in res.err
    assert res.code == 2
