"""GGUF: files written by gguf.GGUFWriter; malicious templates and broken headers."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.gguf import GgufError, GgufScanner, parse_header, template_risks

from .conftest import rules, run

gguf = pytest.importorskip("gguf")

# Real templates (shortened) that use namespace(), loops, string building: must stay clean.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
QWEN = (
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}{%- if ns.multi_step_tool and message.role == 'user' %}"
    "{%- set ns.multi_step_tool = false %}{%- endif %}{%- endfor %}"
    "{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content }}"
    "{%- endif %}{{ raise_exception('bad role') if false }}{{ tools | tojson }}"
)
EVIL = [
    "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ cycler['__in'~'it__'] }}",
    "{% set u = '_' * 2 %}{{ joiner|attr(u ~ 'init' ~ u) }}",
    "{{ ()|attr('%c%c'|format(95, 95) ~ 'class' ~ '%c%c'|format(95, 95)) }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ x|attr('__ssalc__'|reverse) }}",
]


def _write(path: Path, template: str | None) -> Path:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    if template is not None:
        w.add_chat_template(template)
    w.add_token_list([b"a", b"b", b"<s>"])
    w.add_token_scores([0.0, 0.1, 0.2])
    w.add_tensor("t", np.ones((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize(
    "template", [None, LLAMA3, QWEN, "{{ 'text __class__' }} outside {{ m }}"[12:]]
)
def test_real_files_with_benign_templates_are_clean(tmp_path: Path, template: str | None) -> None:
    assert run(GgufScanner(), _write(tmp_path / "m.gguf", template)) == []


@pytest.mark.parametrize("template", EVIL)
def test_template_injection_is_critical(tmp_path: Path, template: str) -> None:
    found = run(GgufScanner(), _write(tmp_path / "m.gguf", template))
    assert rules(found) == {("ARTIFACT-GGUF-TEMPLATE-INJECTION", "critical")}


def test_benign_real_templates_have_no_risks() -> None:
    assert template_risks(LLAMA3) == []
    assert template_risks(QWEN) == []


def _header(version: int = 3, tensors: int = 0, kvs: int = 1) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


@pytest.mark.parametrize(
    "data",
    [
        _header(kvs=2**63),
        _header(tensors=2**40),
        _header(version=99),
        _header() + struct.pack("<Q", 2**60) + b"key",
        _header() + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77),
        _header() + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 2**40),
        _header()
        + struct.pack("<Q", 1)
        + b"k"
        + struct.pack("<IIQ", 9, 9, 3)
        + struct.pack("<IQ", 9, 1) * 8,
    ],
    ids=[
        "kv-count",
        "tensor-count",
        "version",
        "key-length",
        "value-type",
        "array-count",
        "array-depth",
    ],
)
def test_malformed_header_is_high(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "bad.gguf"
    p.write_bytes(data)
    assert rules(run(GgufScanner(), p)) == {("ARTIFACT-GGUF-MALFORMED", "high")}


def test_truncated_real_file_is_high(tmp_path: Path) -> None:
    data = _write(tmp_path / "m.gguf", LLAMA3).read_bytes()
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[:100])
    assert rules(run(GgufScanner(), p)) == {("ARTIFACT-GGUF-MALFORMED", "high")}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=400))
def test_fuzz_parse_header(noise: bytes, cut: int) -> None:
    base = (
        _header(tensors=1, kvs=2) + struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", 8, 3) + b"abc"
    )
    data = base[:cut] + noise + base[cut:]
    with contextlib.suppress(GgufError, ValueError):
        parse_header(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_template_risks(text: str) -> None:
    template_risks(text)
