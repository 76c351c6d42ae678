"""``custodes provenance`` and ``custodes keys`` end to end, in-process, on real files."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import Result

Cli = Callable[..., Result]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for part in range(2):
        (root / f"part={part}").mkdir(parents=True)
        pq.write_table(pa.table({"x": [part] * 4}), root / f"part={part}" / "0.parquet")
    (root / "labels.csv").write_text("id,y\n1,0\n2,1\n")
    return root


@pytest.fixture
def keys(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    out = tmp_path / "keys"
    assert cli("keys", "generate", "-o", out, "--name", "alice").code == 0
    return out / "alice.pem", out / "alice.pub.pem"


def _record(cli: Cli, path: Path, *extra: object) -> Result:
    return cli("provenance", "record", path, "--source", "acme", "--tier", "broker", *extra)


def test_record_then_verify_is_clean(cli: Cli, data: Path) -> None:
    rec = _record(cli, data, "--chain-of-custody", "coc/acme.pdf", "--health-data")
    assert rec.code == 0, rec.err
    manifest = data / "custodes-manifest.json"
    doc = json.loads(manifest.read_text())
    assert doc["provenance"]["health_data"] is True
    assert doc["provenance"]["chain_of_custody"] == "coc/acme.pdf"
    assert doc["subject"]["rows"] == 8
    res = cli("provenance", "verify", data, "--format", "json")
    assert res.code == 0, res.out + res.err
    assert json.loads(res.out)["verdict"] == "ok"


def test_missing_chain_of_custody_is_a_warning(cli: Cli, data: Path) -> None:
    rec = _record(cli, data)
    assert rec.code == 0
    assert "chain-of-custody" in rec.err
    res = cli("provenance", "record", data, "--source", "us", "--tier", "first_party")
    assert "chain-of-custody" not in res.err


def test_single_file_manifest_sits_beside_it(cli: Cli, data: Path) -> None:
    model = data.parent / "model.onnx"
    model.write_bytes(b"\x08\x07onnx-ish")
    assert _record(cli, model).code == 0
    assert (data.parent / "model.onnx.manifest.json").is_file()
    assert cli("provenance", "verify", model).code == 0


@pytest.mark.parametrize("change", ["byte", "added", "removed"])
def test_any_change_fails_and_is_named(cli: Cli, data: Path, change: str) -> None:
    assert _record(cli, data).code == 0
    if change == "byte":
        target, name = data / "labels.csv", "labels.csv"
        target.write_text(target.read_text().replace("1,0", "1,1"))
    elif change == "added":
        name = "part=2/0.parquet"
        (data / "part=2").mkdir()
        pq.write_table(pa.table({"x": [9]}), data / name)
    else:
        name = "part=1/0.parquet"
        (data / name).unlink()
    res = cli("provenance", "verify", data)
    assert res.code == 1
    assert f"{'changed' if change == 'byte' else change}: {name}" in res.out
    report = json.loads(cli("provenance", "verify", data, "-f", "json").out)
    assert report[{"byte": "changed"}.get(change, change)] == [name]


def test_signed_manifest_verifies(cli: Cli, data: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert _record(cli, data, "--key", private).code == 0
    res = cli("provenance", "verify", data, "--public-key", public, "-f", "json")
    assert res.code == 0, res.out
    assert json.loads(res.out)["signature"]["status"] == "valid"


def test_tampered_manifest_fails_signature(cli: Cli, data: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert _record(cli, data, "--key", private).code == 0
    manifest = data / "custodes-manifest.json"
    doc = json.loads(manifest.read_text())
    doc["provenance"]["tier"] = "first_party"  # launder a broker source
    manifest.write_text(json.dumps(doc))
    res = cli("provenance", "verify", data, "--public-key", public)
    assert res.code == 1
    assert "signature invalid" in res.out


def test_wrong_key_or_unsigned_fails(
    cli: Cli, data: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, _ = keys
    assert cli("keys", "generate", "-o", tmp_path / "keys", "--name", "mallory").code == 0
    other = tmp_path / "keys" / "mallory.pub.pem"
    assert _record(cli, data, "--key", private).code == 0
    res = cli("provenance", "verify", data, "--public-key", other)
    assert res.code == 1
    assert "signature wrong_key" in res.out
    assert _record(cli, data).code == 0  # re-recorded without a key
    res = cli("provenance", "verify", data, "--public-key", other)
    assert res.code == 1
    assert "signature missing" in res.out


def test_symlink_refused(cli: Cli, data: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.csv").write_text("a\n")
    (data / "extra.csv").symlink_to(tmp_path / "elsewhere.csv")
    res = _record(cli, data)
    assert res.code == 2
    assert "extra.csv" in res.err
    assert "symlink" in res.err
    (data / "extra.csv").unlink()
    assert _record(cli, data).code == 0
    (data / "extra.csv").symlink_to(tmp_path / "elsewhere.csv")
    res = cli("provenance", "verify", data)
    assert res.code == 1
    assert "refused (symlink or special file): extra.csv" in res.out


def test_keys_are_0600_and_never_overwritten(cli: Cli, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    assert b"PUBLIC KEY" in public.read_bytes()
    before = private.read_bytes()
    res = cli("keys", "generate", "-o", private.parent, "--name", "alice")
    assert res.code == 2
    assert "alice.pem" in res.err
    assert "overwrite" in res.err
    assert private.read_bytes() == before
    assert "Traceback" not in res.err


def test_bad_inputs_exit_2_naming_the_file(cli: Cli, data: Path, tmp_path: Path) -> None:
    res = cli("provenance", "verify", data)
    assert res.code == 2
    assert "custodes-manifest.json" in res.err
    assert "not found" in res.err
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "format": "custodes-manifest",\n  "version": 1,\n  "files": [\n')
    res = cli("provenance", "verify", data, "--manifest", bad)
    assert res.code == 2
    assert f"{bad}:5:" in res.err
    assert "not valid JSON" in res.err
    other = tmp_path / "other.json"
    other.write_text('{"format": "cyclonedx", "version": 1}')
    res = cli("provenance", "verify", data, "--manifest", other)
    assert res.code == 2
    assert "other.json" in res.err
    assert "not a custodes manifest" in res.err
    res = cli("provenance", "verify", data, "--public-key", other, "--manifest", other)
    assert res.code == 2
    not_key = tmp_path / "not-a-key.pem"
    not_key.write_text("hello")
    res = _record(cli, data, "--key", not_key)
    assert res.code == 2
    assert "not-a-key.pem" in res.err
    res = _record(cli, tmp_path / "missing")
    assert res.code == 2
    assert "missing" in res.err
    assert all("Traceback" not in r for r in (res.err, res.out))
    res = cli("provenance", "record", data, "--source", "x", "--tier", "friend")
    assert res.code == 2
