"""Manifest core: streaming hashes, the Merkle root, symlink refusal, Parquet footers."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.errors import InputError
from custodes.provenance import (
    Provenance,
    Tier,
    build_manifest,
    hash_file,
    load_manifest,
    merkle_root,
    verify_tree,
    walk,
    write_manifest,
)

BROKER = Provenance(source="acme-broker", tier=Tier.broker)


def _dataset(root: Path) -> Path:
    data = root / "data"
    for part in range(3):
        folder = data / f"year={2020 + part}"
        folder.mkdir(parents=True)
        table = pa.table(
            {"id": list(range(part * 10, part * 10 + 5 + part)), "y": [0.5] * (5 + part)}
        )
        pq.write_table(table, folder / "part-0.parquet")
    (data / "README.md").write_text("health records, synthetic\n")
    (data / ".git").mkdir()
    (data / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return data


def _leaf(path: str, digest: str) -> bytes:
    return hashlib.sha256(b"\x00" + path.encode() + b"\x00" + bytes.fromhex(digest)).digest()


def test_manifest_of_partitioned_parquet(tmp_path: Path) -> None:
    doc = build_manifest(_dataset(tmp_path), BROKER)
    paths = [f["path"] for f in doc["files"]]
    assert paths == sorted(paths)
    assert paths[0] == "README.md"
    assert "year=2021/part-0.parquet" in paths
    assert not any(p.startswith(".git") for p in paths)
    parquet = [f for f in doc["files"] if f["path"].endswith(".parquet")]
    assert [f["rows"] for f in parquet] == [5, 6, 7]
    assert len({f["schema_sha256"] for f in parquet}) == 1
    assert doc["subject"]["rows"] == 18
    assert doc["subject"]["schema_sha256"] == parquet[0]["schema_sha256"]
    assert doc["format"] == "custodes-manifest"
    assert doc["version"] == 1
    readme = tmp_path / "data" / "README.md"
    assert doc["files"][0]["sha256"] == hashlib.sha256(readme.read_bytes()).hexdigest()
    assert doc["provenance"]["chain_of_custody"] is None
    assert any("chain-of-custody" in w for w in doc["warnings"])


def test_first_party_or_documented_custody_has_no_warning(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    assert build_manifest(data, Provenance("ours", Tier.first_party))["warnings"] == []
    documented = Provenance("acme", Tier.broker, chain_of_custody="contracts/acme-2026.pdf")
    assert build_manifest(data, documented)["warnings"] == []


def test_merkle_root_follows_rfc9162(tmp_path: Path) -> None:
    d = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    leaves = [("a", d[0]), ("b", d[1]), ("c", d[2])]
    node = hashlib.sha256(b"\x01" + _leaf("a", d[0]) + _leaf("b", d[1])).digest()
    expected = hashlib.sha256(b"\x01" + node + _leaf("c", d[2])).hexdigest()
    assert merkle_root(leaves) == expected
    assert merkle_root([("a", d[0])]) == _leaf("a", d[0]).hex()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_merkle_root_is_stable_under_order_and_changes_with_any_digest() -> None:
    leaves = [(f"f{i}", hashlib.sha256(str(i).encode()).hexdigest()) for i in range(7)]
    root = merkle_root(leaves)
    assert merkle_root(reversed(leaves)) == root
    assert merkle_root(leaves[3:] + leaves[:3]) == root
    for i in range(len(leaves)):
        changed = list(leaves)
        changed[i] = (leaves[i][0], hashlib.sha256(b"x").hexdigest())
        assert merkle_root(changed) != root
    renamed = [("g0", leaves[0][1]), *leaves[1:]]
    assert merkle_root(renamed) != root


def test_symlinks_are_refused_never_followed(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the dataset")
    (data / "link.txt").symlink_to(secret)
    (data / "linkdir").symlink_to(tmp_path)
    assert walk(data).refused == ("link.txt", "linkdir")
    with pytest.raises(InputError, match="symlink"):
        build_manifest(data, BROKER)
    with pytest.raises(InputError, match="symlink"):
        build_manifest(data / "link.txt", BROKER)


def test_verify_names_changed_added_removed(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    doc = build_manifest(data, BROKER)
    assert verify_tree(data, doc).ok
    target = data / "year=2020" / "part-0.parquet"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    (data / "year=2023").mkdir()
    (data / "year=2023" / "part-0.parquet").write_bytes(b"PAR1")
    (data / "README.md").unlink()
    result = verify_tree(data, doc)
    assert not result.ok
    assert result.changed == ("year=2020/part-0.parquet",)
    assert result.added == ("year=2023/part-0.parquet",)
    assert result.removed == ("README.md",)


def test_edited_manifest_list_breaks_its_own_root(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    doc = build_manifest(data, BROKER)
    doc["files"] = doc["files"][1:]  # drop a file from the record
    (data / "README.md").unlink()  # ...and from disk
    result = verify_tree(data, doc)
    assert not result.removed
    assert not result.root_consistent
    assert not result.ok


def test_manifest_round_trips_and_is_written_canonically(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    doc = build_manifest(data, BROKER)
    first, second = tmp_path / "m1.json", tmp_path / "m2.json"
    write_manifest(doc, first)
    write_manifest(load_manifest(first), second)
    assert first.read_bytes() == second.read_bytes()
    assert load_manifest(first) == doc


def test_huge_sparse_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    big = tmp_path / "model.safetensors"
    with big.open("wb") as fh:
        os.truncate(fh.fileno(), 2 << 30)  # 2 GiB of holes: no disk, but 2 GiB to read
    tracemalloc.start()
    try:
        doc = build_manifest(big, Provenance("ours", Tier.first_party))
        result = verify_tree(big, doc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    assert doc["files"][0]["size"] == 2 << 30
    assert doc["subject"]["bytes"] == 2 << 30
    assert peak < 64 << 20, f"peak Python allocation {peak / 2**20:.1f} MiB"


def test_hash_file_matches_hashlib(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    payload = os.urandom(3 * (1 << 20) + 17)  # crosses chunk boundaries
    blob.write_bytes(payload)
    assert hash_file(blob) == (len(payload), hashlib.sha256(payload).hexdigest())


def test_a_file_deleted_before_it_is_hashed_is_reported_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custodes.provenance.manifest as manifest_module

    data = tmp_path / "ds"
    data.mkdir()
    (data / "a.bin").write_bytes(b"a" * 100)
    (data / "b.bin").write_bytes(b"b" * 100)
    doc = build_manifest(data, BROKER)

    def walk_then_delete(path: Path, exclude: object = ()) -> object:
        tree = walk(path, exclude)  # type: ignore[arg-type]
        (data / "b.bin").unlink()  # gone between the walk and the hashing
        return tree

    monkeypatch.setattr(manifest_module, "walk", walk_then_delete)
    result = verify_tree(data, doc)
    assert result.removed == ("b.bin",)
    assert result.changed == ()
    assert not result.ok
