"""OpenSSF model-signing interop, both ways, offline, with local EC keys.

The official tool lives in its own venv (.venv-interop, made by `make interop`) so custodes never depends on it;
it is called through its CLI. The venv is created once per session when missing.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from custodes.errors import InputError
from custodes.provenance.model_signing import sign_model, verify_model

REPO = Path(__file__).resolve().parents[2]
#: `make test` installs the official CLI in .venv-interop (see the Makefile's interop target).
MS_CLI = Path(
    os.environ.get("CUSTODES_MODEL_SIGNING_CLI", REPO / ".venv-interop/bin/model_signing")
)


@pytest.fixture(scope="session")
def ms_cli() -> Path:
    if not MS_CLI.exists():
        pytest.fail(f"the official model_signing CLI is not at {MS_CLI}: run `make interop`")
    return MS_CLI


def _keys(tmp: Path, curve: ec.EllipticCurve, name: str = "key") -> tuple[Path, Path]:
    key = ec.generate_private_key(curve)
    private, public = tmp / f"{name}.pem", tmp / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _model(tmp: Path) -> Path:
    model = tmp / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a-b").mkdir()
    (model / "config.json").write_text('{"layers": 2}\n')
    (model / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (model / "sub" / "tok.txt").write_text("hello\n")
    (model / "a-b" / "x").write_text("ordering by path parts, not by string\n")
    return model


def _flip(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _tool(cli: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _tool_verify(cli: Path, model: Path, sig: Path, pub: Path) -> subprocess.CompletedProcess[str]:
    return _tool(
        cli, "verify", "key", str(model), "--signature", str(sig), "--public_key", str(pub)
    )


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["p256", "p384"])
def test_custodes_signed_verifies_with_official_tool(
    ms_cli: Path, tmp_path: Path, curve: ec.EllipticCurve
) -> None:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, curve)
    sig = tmp_path / "model.sig"
    sign_model(model, private, sig)
    bundle = json.loads(sig.read_text())
    assert bundle["verificationMaterial"]["tlogEntries"] == []
    ok = _tool_verify(ms_cli, model, sig, public)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert verify_model(model, sig, public) == []

    _flip(model / "weights.bin")
    bad = _tool_verify(ms_cli, model, sig, public)
    assert bad.returncode != 0
    assert "weights.bin" in bad.stdout + bad.stderr
    assert verify_model(model, sig, public) == ["changed: weights.bin"]


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["p256", "p384"])
def test_tool_signed_verifies_with_custodes(
    ms_cli: Path, tmp_path: Path, curve: ec.EllipticCurve
) -> None:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, curve)
    sig = tmp_path / "model.sig"
    signed = _tool(
        ms_cli, "sign", "key", str(model), "--private_key", str(private), "--signature", str(sig)
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert verify_model(model, sig, public) == []

    _flip(model / "sub" / "tok.txt", 0)
    assert verify_model(model, sig, public) == ["changed: sub/tok.txt"]


def test_tool_signed_wrong_key_and_file_changes_are_named(ms_cli: Path, tmp_path: Path) -> None:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, ec.SECP256R1())
    _, other = _keys(tmp_path, ec.SECP256R1(), "other")
    sig = tmp_path / "model.sig"
    signed = _tool(
        ms_cli, "sign", "key", str(model), "--private_key", str(private), "--signature", str(sig)
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr

    wrong = verify_model(model, sig, other)
    assert any("different key" in p for p in wrong)
    assert "DSSE signature does not verify with the given public key" in wrong

    (model / "config.json").unlink()
    (model / "extra.bin").write_bytes(b"\x00")
    assert verify_model(model, sig, public) == ["removed: config.json", "added: extra.bin"]


def test_signature_inside_the_model_folder_both_ways(ms_cli: Path, tmp_path: Path) -> None:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, ec.SECP256R1())
    ours, theirs = model / "custodes.sig", model / "tool.sig"
    sign_model(model, private, ours)
    ok = _tool_verify(ms_cli, model, ours, public)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (model / "custodes.sig").unlink()
    signed = _tool(
        ms_cli, "sign", "key", str(model), "--private_key", str(private), "--signature", str(theirs)
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert verify_model(model, theirs, public) == []


def test_git_paths_match_the_tool_both_ways(ms_cli: Path, tmp_path: Path) -> None:
    model = _model(tmp_path)
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (model / "sub" / ".git").mkdir()  # only root-level git paths are ignored by the tool
    (model / "sub" / ".git" / "x").write_text("nested\n")
    private, public = _keys(tmp_path, ec.SECP256R1())
    ours, theirs = tmp_path / "ours.sig", tmp_path / "theirs.sig"
    sign_model(model, private, ours)
    ok = _tool_verify(ms_cli, model, ours, public)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    signed = _tool(
        ms_cli, "sign", "key", str(model), "--private_key", str(private), "--signature", str(theirs)
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert verify_model(model, theirs, public) == []
    (model / ".git" / "HEAD").write_text("changed\n")
    assert verify_model(model, theirs, public) == []
    (model / "sub" / ".git" / "x").write_text("changed\n")
    assert verify_model(model, theirs, public) == ["changed: sub/.git/x"]


def test_forged_payload_fails_the_signature(tmp_path: Path) -> None:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, ec.SECP256R1())
    sig = tmp_path / "model.sig"
    sign_model(model, private, sig)
    _flip(model / "weights.bin")
    bundle = json.loads(sig.read_text())
    forged = tmp_path / "forged.sig"
    sign_model(model, private, forged)  # a statement that matches the tampered model ...
    bundle["dsseEnvelope"]["payload"] = json.loads(forged.read_text())["dsseEnvelope"]["payload"]
    sig.write_text(json.dumps(bundle))  # ... under the old signature
    assert verify_model(model, sig, public) == [
        "DSSE signature does not verify with the given public key"
    ]


def _bundle(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, object]]:
    model = _model(tmp_path)
    private, public = _keys(tmp_path, ec.SECP256R1())
    sig = tmp_path / "model.sig"
    sign_model(model, private, sig)
    return model, sig, public, json.loads(sig.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: "not json {", "not JSON"),
        (lambda b: json.dumps({k: v for k, v in b.items() if k != "dsseEnvelope"}), "dsseEnvelope"),
        (lambda b: json.dumps({**b, "mediaType": "text/plain"}), "not a Sigstore bundle"),
        (
            lambda b: json.dumps({**b, "dsseEnvelope": {**b["dsseEnvelope"], "payload": "!!"}}),
            "not base64",
        ),
        (
            lambda b: json.dumps(
                {
                    **b,
                    "dsseEnvelope": {
                        **b["dsseEnvelope"],
                        "payload": base64.b64encode(b"[1, 2]").decode(),
                    },
                }
            ),
            "not an in-toto statement",
        ),
        (
            lambda b: json.dumps({**b, "dsseEnvelope": {**b["dsseEnvelope"], "signatures": []}}),
            "no DSSE signatures",
        ),
        (lambda b: "[]", "bundle.mediaType missing"),
    ],
    ids=["not-json", "no-envelope", "media-type", "bad-b64", "not-statement", "no-sigs", "array"],
)
def test_malformed_bundle_is_an_input_error(tmp_path: Path, mutate: object, message: str) -> None:
    model, sig, public, bundle = _bundle(tmp_path)
    assert callable(mutate)
    sig.write_text(mutate(bundle))
    with pytest.raises(InputError, match=message):
        verify_model(model, sig, public)


def test_unsupported_statement_and_keys_are_input_errors(tmp_path: Path) -> None:
    model, sig, public, bundle = _bundle(tmp_path)
    env = bundle["dsseEnvelope"]
    assert isinstance(env, dict)
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["predicate"]["serialization"]["method"] = "shards"
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(bundle))
    with pytest.raises(InputError, match="unsupported serialization"):
        verify_model(model, sig, public)

    ed = tmp_path / "ed.pem"
    ed.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InputError, match="needs an EC key"):
        sign_model(model, ed, tmp_path / "x.sig")
    with pytest.raises(InputError, match="not found"):
        verify_model(model, tmp_path / "missing.sig", public)


def test_symlinks_are_refused(tmp_path: Path) -> None:
    model, sig, public, _ = _bundle(tmp_path)
    (model / "link").symlink_to("/etc/hostname")
    assert verify_model(model, sig, public) == ["refused (symlink or special file): link"]
    with pytest.raises(InputError, match="symlinks"):
        sign_model(model, tmp_path / "key.pem", tmp_path / "again.sig")
