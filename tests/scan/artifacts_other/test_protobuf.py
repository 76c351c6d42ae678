"""The wire reader: exact on valid input, WireError (never anything else) on the rest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts import protobuf as pb
from tests.corpus.artifacts_other_gen import nested_message, node, varint


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    raw = varint(value)
    assert pb.read_varint(raw, 0, len(raw)) == (value, len(raw))


def test_fields_of_a_node() -> None:
    raw = node("a", "ReadFile")
    fields = list(pb.iter_fields(raw))
    assert [(f.number, f.wire_type) for f in fields] == [(1, pb.LEN), (2, pb.LEN)]
    assert pb.text(raw, fields[1]) == "ReadFile"


@pytest.mark.parametrize(
    "raw",
    [b"\x08", b"\x12\x05ab", b"\x12" + b"\xff" * 11, b"\x0b", b"\x00\x01", b"\x0d\x01\x02"],
    ids=["truncated-varint", "short-len", "long-varint", "group", "field-zero", "short-fixed32"],
)
def test_malformed_raises_wire_error(raw: bytes) -> None:
    with pytest.raises(pb.WireError):
        list(pb.iter_fields(raw))


def test_giant_declared_length_is_refused_before_reading() -> None:
    raw = b"\x12" + varint(2**62) + b"x"
    with pytest.raises(pb.WireError, match="declares"):
        list(pb.iter_fields(raw))


def test_deep_nesting_is_one_level_per_call() -> None:
    raw = nested_message(10_000)
    assert len(list(pb.iter_fields(raw))) == 2


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_only_wire_error(raw: bytes) -> None:
    try:
        for f in pb.iter_fields(raw):
            if f.wire_type == pb.LEN:
                assert f.end <= len(raw)
                pb.unpack_varints(raw, f.start, f.end, 64)
    except pb.WireError:
        pass
