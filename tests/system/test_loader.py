"""Bad input: every malformed custodes.yaml gets exit 2, file:line, and no traceback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.errors import ConfigError, CustodesError, InputError
from custodes.system import load_system, parse_system

MINIMAL = """\
version: 1
system:
  name: Demo
sources:
  - id: app
    tier: user_generated
processes:
  - id: train
    kind: training
flows:
  - id: f1
    from: app
    to: train
"""


def _error(text: str) -> CustodesError:
    with pytest.raises(CustodesError) as info:
        parse_system(text, Path("custodes.yaml"))
    return info.value


def test_minimal_model_loads() -> None:
    loaded = parse_system(MINIMAL)
    assert loaded.model.system.name == "Demo"
    assert loaded.model.flows[0].from_ == "app"
    assert loaded.line_of(("flows", 0, "to")) == 13


def test_dangling_flow_reference_names_file_line_and_column() -> None:
    err = _error(MINIMAL.replace("to: train", "to: trainer"))
    assert isinstance(err, ConfigError)
    assert err.diagnostics().startswith(
        "custodes.yaml:13:9: flow 'f1' goes to 'trainer', which is not defined"
    )
    assert "did you mean 'train'?" in err.diagnostics()


def test_unknown_key_is_rejected_with_did_you_mean() -> None:
    text = MINIMAL + "endpoints:\n  - id: api\n    rate_limt: 10/minute\n"
    err = _error(text)
    assert err.line == 16
    assert err.column == 5
    assert "unknown key 'rate_limt' in endpoints[0]" in err.message
    assert err.hint == "did you mean 'rate_limit'?"


def test_unknown_top_level_key() -> None:
    err = _error(MINIMAL + "sourcez: []\n")
    assert err.line == 14
    assert "did you mean 'sources'?" in err.diagnostics()


def test_wrong_type_points_at_the_value() -> None:
    err = _error(
        MINIMAL.replace("    tier: user_generated", "    tier: user_generated\n    records: many")
    )
    assert err.line == 7
    assert err.column == 14
    assert "sources[0].records" in err.message


def test_wrong_literal_lists_allowed_values() -> None:
    err = _error(MINIMAL.replace("user_generated", "users"))
    assert err.line == 6
    assert "'first_party'" in err.message
    assert "'users'" in err.message


def test_missing_required_key() -> None:
    err = _error(MINIMAL.replace("    tier: user_generated\n", ""))
    assert "missing required key 'tier'" in err.message
    assert err.line == 5


def test_malformed_yaml_has_line() -> None:
    err = _error("system:\n  name: [unclosed\nsources: []\n")
    assert isinstance(err, InputError)
    assert err.line is not None
    assert err.line >= 2
    assert "invalid YAML" in err.message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        refs = ",".join([f"*{prev}"] * 9)
        lines.append(f"{cur}: &{cur} [{refs}]")
    start = time.perf_counter()
    err = _error("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 5
    assert "alias bomb" in err.message


def test_recursive_alias_is_refused() -> None:
    err = _error("system: &s\n  name: x\n  loop: *s\n")
    assert isinstance(err, InputError)


def test_duplicate_key_is_an_error() -> None:
    err = _error("version: 1\nsystem:\n  name: a\n  name: b\n")
    assert err.line == 4
    assert "duplicate key 'name' (first defined on line 3)" in err.message


def test_duplicate_element_ids() -> None:
    err = _error(MINIMAL.replace("  - id: train", "  - id: app"))
    assert "id 'app' is used twice" in err.message
    assert err.line == 8


def test_reference_to_wrong_kind() -> None:
    text = MINIMAL + "endpoints:\n  - id: api\n    serves: [app]\n"
    err = _error(text)
    assert "endpoint 'api' serves 'app', which is one of sources, not a model" in err.message


def test_risk_acceptance_needs_distinct_approver_and_expiry() -> None:
    base = MINIMAL + "controls:\n  - id: RATELIMIT\n    status: risk_accepted\n    owner: ana\n"
    err = _error(base + "    approver: ana\n    expires: 2027-01-01\n")
    assert "approver other than its owner" in err.message
    assert err.line == 15
    err = _error(base + "    approver: ben\n")
    assert "needs expires" in err.message


def test_unknown_control_suggests_the_closest() -> None:
    err = _error(MINIMAL + "controls:\n  - id: RATELIMT\n    status: planned\n")
    assert "unknown OWASP AI Exchange control 'RATELIMT'" in err.message
    assert err.hint == "did you mean 'RATELIMIT'?"
    assert err.line == 15


def test_retired_control_is_explained() -> None:
    err = _error(MINIMAL + "controls:\n  - id: FILTERSENSITIVETRAINDATA\n    status: planned\n")
    assert "retired" in err.message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"- just\n- a list\n", "mapping at the top level"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"a: 1\n---\nb: 2\n", "invalid YAML"),
        (b"x: " + b"[" * 200 + b"]" * 200 + b"\n", "nest"),
    ],
)
def test_hostile_files(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "custodes.yaml"
    path.write_bytes(content)
    with pytest.raises(CustodesError) as info:
        load_system(path)
    assert needle in info.value.message
    assert info.value.path == str(path)


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "custodes.yaml"
    path.write_bytes(b"# " + b"x" * (9 * 1024 * 1024) + b"\n")
    with pytest.raises(InputError, match="over the"):
        load_system(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_system(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a directory"):
        load_system(tmp_path)


def test_python_object_tags_are_not_constructed() -> None:
    err = _error("system: !!python/object/apply:os.system ['echo pwned']\n")
    assert "invalid YAML" in err.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_never_escapes_as_a_crash(text: str) -> None:
    with contextlib.suppress(CustodesError):
        parse_system(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_valid_models_never_crash(data: st.DataObject) -> None:
    lines = MINIMAL.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    junk = data.draw(
        st.sampled_from(["", "  - ", ": :", "&x", "*x", "'", "tier: 7", "from: [", "\t"])
    )
    lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + junk
    with contextlib.suppress(CustodesError):
        parse_system("\n".join(lines) + "\n")


def test_cli_reports_bad_input_on_one_line(
    cli: Callable[..., object], write_system: Callable[[str], Path]
) -> None:
    path = write_system(MINIMAL.replace("to: train", "to: trainer"))
    result = cli("threat-model", str(path))
    assert result.code == 2  # type: ignore[attr-defined]
    err = result.err  # type: ignore[attr-defined]
    assert "Traceback" not in err
    assert f"{path}:13:9: flow 'f1' goes to 'trainer', which is not defined" in " ".join(
        err.split()
    )


def test_comma_in_a_flow_mapping_gets_a_quoting_hint() -> None:
    text = MINIMAL + (
        "controls:\n  - id: RATELIMIT\n    status: planned\n"
        "    response: {procedure: page the on-call, escalation: security, then legal}\n"
    )
    err = _error(text)
    assert "unknown key 'then legal'" in err.message
    assert err.hint is not None
    assert "quote the value" in err.hint
