"""The lineage page: a self-contained HTML page with the lineage diagram and its facts."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from custodes.provenance.keys import key_id, load_public_key
from custodes.provenance.lineage import build_lineage
from custodes.provenance.lineage_links import check_lineage_links
from custodes.report.lineage_html import render_lineage_html
from tests.provenance.conftest import Cli, World

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


class _Page(HTMLParser):
    """Collects the tags seen, the text inside <svg>, and the text of table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.svg_depth = 0
        self.svg_text: list[str] = []
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "svg":
            self.svg_depth += 1
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self.svg_depth:
            self.svg_text.append(data)
        if self._row is not None and data.strip():
            self._row.append(data.strip())

    @property
    def svg(self) -> str:
        return " ".join(self.svg_text)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _render(world: World, *, keys: bool = True) -> str:
    lineage = build_lineage(world.model, world.attestation)
    trusted = None
    if keys:
        pub = load_public_key(world.public)
        trusted = {key_id(pub): pub}
    return render_lineage_html(lineage, check_lineage_links(world.attestation, trusted))


@needs_dot
def test_diagram_names_every_source_with_its_tier(world: World) -> None:
    page = _parse(_render(world))
    assert "script" not in page.tags
    assert "svg" in page.tags
    svg = page.svg
    assert "clinic-ehr" in svg
    assert "tier first_party" in svg
    assert "forum" in svg
    assert "tier user_generated" in svg
    assert "USER-GENERATED tier: 25.0% of rows" in svg
    assert "training run" in svg
    assert "model.bin" in svg
    assert "VERIFICATION FAILED" not in svg


def test_tables_carry_the_same_facts(world: World) -> None:
    page = _parse(_render(world))
    forum = next(r for r in page.rows if r and r[0] == "forum" and "USER-GENERATED" in r)
    assert "10" in forum
    assert "25.0%" in forum
    assert "ok" in forum
    tiers = next(r for r in page.rows if r[:2] == ["USER-GENERATED", "user_generated"])
    assert tiers[2:] == ["10", "25.0%", "forum"]
    links = [r for r in page.rows if r and r[0] in ("training run", "dataset forum")]
    assert links[0][:3] == ["training run", "attestation signature", "ok"]
    assert {r[1] for r in links if r[0] == "dataset forum"} >= {"manifest digest", "files"}


@needs_dot
def test_tampered_dataset_shows_the_failing_link(world: World) -> None:
    (world.forum / "part-0.parquet").write_bytes(b"not the data that was attested")
    text = _render(world)
    page = _parse(text)
    assert "script" not in page.tags
    assert "VERIFICATION FAILED" in page.svg
    assert "✗ files" in page.svg
    assert "part-0.parquet" in page.svg
    assert "Link failed" in text
    failed = [r for r in page.rows if r and r[0] == "dataset forum" and "failed" in r]
    assert failed
    assert failed[0][1] == "files"
    assert "changed part-0.parquet" in failed[0][3]
    # the other dataset is still checked and holds
    clinic = [r for r in page.rows if r and r[0] == "dataset clinic"]
    assert clinic
    assert all(r[2] == "ok" for r in clinic)


def test_without_keys_digests_checked_signatures_unchecked(world: World) -> None:
    text = _render(world, keys=False)
    page = _parse(text)
    assert "Digests ok" in text
    rows = {(r[0], r[1]): r[2] for r in page.rows if len(r) >= 3}
    assert rows[("training run", "attestation signature")] == "unchecked"
    assert rows[("dataset forum", "manifest signature")] == "unchecked"
    assert rows[("dataset forum", "files")] == "ok"


def test_page_renders_without_graphviz(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("custodes.report.diagram.shutil.which", lambda _name: None)
    text = _render(world)
    page = _parse(text)
    assert "svg" not in page.tags
    assert "script" not in page.tags
    assert "Graphviz is not installed" in text
    assert "digraph lineage" in text
    assert "USER-GENERATED tier: 25.0% of rows" in text


def test_source_names_are_escaped(world: World, cli: Cli, tmp_path: Path) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "rows.csv").write_text("x\n1\n", encoding="utf-8")
    res = cli("provenance", "record", evil, "--source", "<script>alert(1)</script>",
              "--tier", "broker", "--key", world.private)  # fmt: skip
    assert res.code == 0, res.err
    att = tmp_path / "att2.json"
    res = cli("provenance", "attest-training", "--model", world.model,
              "--dataset", evil / "custodes-manifest.json",
              "--commit", "0123456789abcdef0123456789abcdef01234567",
              "--key", world.private, "-o", att)  # fmt: skip
    assert res.code == 0, res.err
    text = render_lineage_html(build_lineage(world.model, att), check_lineage_links(att, None))
    assert "script" not in _parse(text).tags
    assert "&lt;script&gt;" in text


def test_cli_html_to_file(world: World, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "model.lineage.html"
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "--public-key", world.public, "--format", "html", "-o", out)  # fmt: skip
    assert res.code == 0, res.err
    assert res.out == ""
    assert "wrote" in res.err
    assert str(out) in res.err.replace("\n", "")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Verified" in text
    assert "forum" in text


def test_cli_html_exits_1_on_a_broken_link(world: World, cli: Cli, tmp_path: Path) -> None:
    (world.clinic / "part-1.parquet").unlink()
    out = tmp_path / "lineage.html"
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "--public-key", world.public, "--format", "html", "-o", out)  # fmt: skip
    assert res.code == 1
    assert "removed part-1.parquet" in out.read_text(encoding="utf-8")


def test_cli_html_untrusted_key_fails_the_signature_link(world: World, cli: Cli) -> None:
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "--public-key", world.other_public, "--format", "html")  # fmt: skip
    assert res.code == 1
    assert "not by a trusted key" in res.out


def test_cli_console_rejects_output(world: World, cli: Cli, tmp_path: Path) -> None:
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "-o", tmp_path / "x.txt")  # fmt: skip
    assert res.code == 2
