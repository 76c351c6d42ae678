"""--history: a key deleted from HEAD is still found, at the commit that added it."""

from __future__ import annotations

import json
import secrets
import string
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..conftest import Result


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(cwd), "-c", "user.name=Dana", "-c", "user.email=d@example.org", *args],
        check=True,
        capture_output=True,
    )


def _fake_github_token() -> str:
    return "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))


def test_removed_secret_is_found_in_history(cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    token = _fake_github_token()
    (repo / "train.py").write_text(f"import os\n\nGITHUB_TOKEN = '{token}'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "add training script")
    (repo / "train.py").write_text("import os\n\nGITHUB_TOKEN = os.environ['GITHUB_TOKEN']\n")
    _git(repo, "commit", "-qam", "read the token from the environment")

    plain = json.loads(cli("scan", repo, "--format", "json").out)
    assert plain["findings"] == []

    r = cli("scan", repo, "--history", "--format", "json")
    assert r.code == 1
    doc = json.loads(r.out)
    [finding] = doc["findings"]
    assert finding["rule_id"].startswith("SECRET-GITHUB")
    assert finding["line"] == 3
    assert finding["path"] == f"{repo}/train.py"
    assert "removed from HEAD but still in git history" in finding["message"]
    assert token not in r.out
    assert token[8:] not in r.out
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert finding["properties"]["commit"] == commit


def test_secret_still_at_head_is_reported_once_per_source(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    _git(tmp_path, "init", "-q")
    token = _fake_github_token()
    (tmp_path / "a.py").write_text(f"TOKEN = '{token}'\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "a.py").write_text(f"# moved\nTOKEN = '{token}'\n")
    _git(tmp_path, "commit", "-qam", "two")
    doc = json.loads(cli("scan", tmp_path, "--history", "--format", "json").out)
    history = [f for f in doc["findings"] if "commit" in f.get("properties", {})]
    assert len(history) == 1
    assert "still in the working tree" in history[0]["message"]
