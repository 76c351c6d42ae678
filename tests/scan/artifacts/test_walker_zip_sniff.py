"""Walker, policy, bounded zip reader and sniffing: unit tests and short hypothesis fuzzing."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.pickle_walk import BufferSource, walk
from custodes.scan.artifacts.policy import Verdict, classify
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.artifacts.zipsafe import SafeZip
from tests.corpus import pickle_gen as gen


@pytest.mark.parametrize("proto", range(6))
def test_walker_resolves_every_protocol(proto: int) -> None:
    data = pickle.dumps({"a": OrderedDict(x=[1, 2.5, b"b", "c"]), "s": {1}}, protocol=proto)
    res = walk(data)
    assert res.clean_stop
    assert res.streams == 1
    names = {(g.qualname, g.called) for g in res.globals}
    assert ("collections.OrderedDict", True) in names


def test_memo_resolution_follows_binput_not_memoize_order() -> None:
    data = gen.p4(
        gen.su("os")
        + b"q\x00"
        + gen.su("system")
        + b"q\x01"
        + b"h\x00h\x01\x93"
        + gen.su("x")
        + b"\x85R"
    )
    res = walk(data)
    assert [(g.qualname, g.called) for g in res.globals] == [("os.system", True)]


def test_multiple_streams_and_offsets() -> None:
    first = pickle.dumps(1, protocol=2)
    second = gen.system(Path("/nonexistent"))
    res = walk(first + second)
    assert res.streams == 2
    (g,) = res.globals
    assert g.offset == len(first) + 2
    assert g.stream == 1


def test_big_byte_arguments_are_skipped_not_copied() -> None:
    blob = b"\x00" * (10 * 1024 * 1024)
    res = walk(pickle.dumps(blob, protocol=4))
    assert res.clean_stop
    assert res.ops < 10


def test_walker_limits_ops() -> None:
    res = walk(b"\x80\x02" + b"N0" * 1000 + b"N.", max_ops=100)
    assert any(a.kind == "limit" for a in res.anomalies)


@pytest.mark.parametrize(
    ("module", "name", "verdict"),
    [
        ("os", "system", Verdict.DANGEROUS),
        ("__builtin__", "getattr", Verdict.DANGEROUS),
        ("torch", "serialization.load", Verdict.DANGEROUS),
        ("ｏｓ", "system", Verdict.DANGEROUS),
        ("collections", "OrderedDict.__init__", Verdict.DANGEROUS),
        ("torch._utils", "_rebuild_tensor_v2", Verdict.SAFE),
        ("sklearn.ensemble._forest", "RandomForestClassifier", Verdict.SAFE),
        ("sklearn.utils", "resample", Verdict.UNKNOWN),
        ("sklearn.datasets", "Bunch", Verdict.UNKNOWN),
        ("scipy.sparse._csr", "csr_matrix", Verdict.SAFE),
        ("torch", "HalfStorage", Verdict.SAFE),
        ("mypkg", "Model", Verdict.UNKNOWN),
    ],
)
def test_policy(module: str, name: str, verdict: Verdict) -> None:
    assert classify(module, name).verdict is verdict


def _zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_reads_members_and_checks_crc() -> None:
    data = bytearray(_zip_bytes([("a.bin", b"hello" * 100)]))
    z = SafeZip(bytes(data))
    (m,) = z.members
    assert z.read(m, 1 << 20) == b"hello" * 100
    assert not z.issues
    cen = data.find(b"PK\x01\x02")
    data[cen + 16 : cen + 20] = b"\x00\x00\x00\x00"
    z = SafeZip(bytes(data))
    assert z.read(z.members[0], 1 << 20) == b"hello" * 100
    assert [i.kind for i in z.issues] == ["crc"]


def test_zip_reads_zip64() -> None:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", allowZip64=True) as zf,
        zf.open("big", "w", force_zip64=True) as fh,
    ):
        fh.write(b"x" * 1000)
    z = SafeZip(buf.getvalue())
    assert z.read(z.members[0], 10_000) == b"x" * 1000
    assert not z.issues


def test_zip_read_is_bounded() -> None:
    z = SafeZip(_zip_bytes([("z", b"\x00" * (20 * 1024 * 1024))]))
    assert len(z.read(z.members[0], 1000)) <= 1001


def test_sniff_by_content(tmp_path: Path) -> None:
    assert sniff(b"GGUF\x03\x00") is Format.GGUF
    assert sniff(b"\x89HDF\r\n\x1a\n" + b"\x00" * 8) is Format.KERAS_H5
    assert sniff(b"\x93NUMPY\x01\x00") is Format.NUMPY
    hdr = b'{"w":{}}'
    assert sniff(struct.pack("<Q", len(hdr)) + hdr) is Format.SAFETENSORS
    assert sniff(pickle.dumps([1], protocol=0)) is Format.PICKLE
    assert sniff(pickle.dumps([1], protocol=5)) is Format.PICKLE
    assert sniff(b"import os\nprint('hello')\n") is Format.UNKNOWN
    assert sniff(b"# just text\n") is Format.UNKNOWN
    onnx = b"\x08\x07\x12\x07pytorch:\x02\x08\x01B\x02\x10\x11"
    assert sniff(onnx) is Format.ONNX
    keras = tmp_path / "m.keras"
    keras.write_bytes(_zip_bytes([("config.json", b"{}"), ("metadata.json", b"{}")]))
    assert sniff(keras.read_bytes()[:8192], keras) is Format.KERAS_ZIP
    npz = tmp_path / "a.npz"
    npz.write_bytes(_zip_bytes([("a.npy", b"\x93NUMPY")]))
    assert sniff(npz.read_bytes(), npz) is Format.NUMPY_ZIP
    sm = tmp_path / "saved_model.pb"
    sm.write_bytes(b"\x08\x01\x12\x04\x0a\x02\x08\x01")
    (tmp_path / "variables").mkdir()
    assert sniff(sm.read_bytes(), sm) is Format.SAVEDMODEL


SEEDS = [pickle.dumps({"a": [1, 2], "b": OrderedDict()}, protocol=p) for p in range(6)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=512)
    | st.sampled_from(SEEDS).flatmap(
        lambda s: st.tuples(st.integers(0, len(s)), st.binary(max_size=16)).map(
            lambda t: s[: t[0]] + t[1] + s[t[0] :]
        )
    )
)
def test_fuzz_walker_only_reports(data: bytes) -> None:
    res = walk(BufferSource(data), max_ops=20_000)
    assert res.end <= len(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_fuzz_zip_reader_only_reports(pos: int, patch: bytes) -> None:
    base = bytearray(_zip_bytes([("archive/data.pkl", SEEDS[2]), ("x/y", b"z" * 300)]))
    pos %= len(base)
    base[pos : pos + len(patch)] = patch
    z = SafeZip(bytes(base), max_total=1 << 20)
    for m in z.members:
        z.read(m, 1 << 16)


def test_pandas_arrow_string_pickle_is_clean() -> None:
    """False positive found by benchmarks/bench_artifacts.py: pandas 3 + pyarrow strings."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"s": pd.array(["a", None, "c"], dtype="string[pyarrow]")})
    res = walk(pickle.dumps(df, protocol=5))
    arrow = {g.qualname for g in res.globals if g.module.startswith("pyarrow")}
    assert arrow >= {"pyarrow.lib._restore_array", "pyarrow.lib.py_buffer"}
    assert all(classify(g.module, g.name).verdict is Verdict.SAFE for g in res.globals)
