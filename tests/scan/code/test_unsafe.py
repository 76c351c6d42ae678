"""AST checks for unsafe loading: a true positive and a true negative for each rule."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from custodes.findings import Category, Severity
from custodes.scan.code import UnsafeCodeScanner, check_source
from custodes.scan.interface import HEAD_BYTES, ScanContext, Target


def rules(source: str) -> list[tuple[str, Severity, int]]:
    """(rule, severity, line) for every issue in dedented source."""
    return [(i.rule_id, i.severity, i.line) for i in check_source(textwrap.dedent(source))]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import torch\nm = torch.load('m.pt')\n", [("CODE-TORCH-LOAD", Severity.HIGH, 2)]),
        (
            "import torch as t\nm = t.load('m.pt', weights_only=False)\n",
            [("CODE-TORCH-LOAD", Severity.HIGH, 2)],
        ),
        ("from torch import load\nload(p)\n", [("CODE-TORCH-LOAD", Severity.HIGH, 2)]),
        ("import torch\nm = torch.load('m.pt', weights_only=True)\n", []),
        ("import mylib\nmylib.load('m.pt')\n", []),
    ],
)
def test_torch_load(source: str, expected: list[tuple[str, Severity, int]]) -> None:
    assert rules(source) == expected


def test_torch_load_from_download_is_critical() -> None:
    src = """
    import torch
    from huggingface_hub import hf_hub_download

    def fetch(repo):
        path = hf_hub_download(repo, "model.bin")
        return torch.load(path)
    """
    (issue,) = check_source(textwrap.dedent(src))
    assert issue.severity is Severity.CRITICAL
    assert issue.tainted


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.load(open('f.pkl', 'rb'))\n",
        "from pickle import loads as l\nl(blob)\n",
        "import joblib\njoblib.load('m.joblib')\n",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)\n",
        "import pandas\npandas.read_pickle('df.pkl')\n",
        "import dill\ndill.loads(b)\n",
        "import cloudpickle as cp\ncp.load(f)\n",
        "np.load('a.npy', allow_pickle=flag)\n",
    ],
)
def test_pickle_load_true_positives(source: str) -> None:
    assert [r[0] for r in rules(source)] == ["CODE-PICKLE-LOAD"]
    assert rules(source)[0][1] is Severity.MEDIUM


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nnp.load('a.npy')\n",
        "import numpy as np\nnp.load('a.npy', allow_pickle=False)\n",
        "import pickle\npickle.dumps(obj)\n",
        "import json\njson.load(f)\n",
    ],
)
def test_pickle_true_negatives(source: str) -> None:
    assert rules(source) == []


@pytest.mark.parametrize(
    "source",
    [
        """
        import pickle, requests
        data = requests.get(url).content
        obj = pickle.loads(data)
        """,
        """
        import sys, joblib
        model = joblib.load(sys.argv[1])
        """,
        """
        import pickle
        def main():
            name = input("file? ")
            with open(name, "rb") as fh:
                return pickle.load(fh)
        """,
        """
        import pickle
        from urllib.request import urlopen
        with urlopen("https://example.com/m.pkl") as r:
            pickle.load(r)
        """,
        """
        import argparse, pickle
        args = argparse.ArgumentParser().parse_args()
        pickle.load(open(args.model, "rb"))
        """,
    ],
)
def test_pickle_from_outside_is_high(source: str) -> None:
    assert rules(source) == [("CODE-PICKLE-LOAD", Severity.HIGH, rules(source)[0][2])]


def test_taint_does_not_leak_between_functions() -> None:
    src = """
    import pickle, sys
    def a():
        p = sys.argv[1]
        return p
    def b(p):
        return pickle.load(open(p, "rb"))
    """
    assert rules(src) == [("CODE-PICKLE-LOAD", Severity.MEDIUM, 7)]


def test_trust_remote_code() -> None:
    src = """
    from transformers import AutoModel
    m = AutoModel.from_pretrained("org/model", trust_remote_code=True)
    n = AutoModel.from_pretrained("org/model", trust_remote_code=False)
    o = AutoModel.from_pretrained("org/model")
    """
    assert rules(src) == [("CODE-TRUST-REMOTE-CODE", Severity.HIGH, 3)]


@pytest.mark.parametrize(
    ("source", "severity"),
    [
        ("import yaml\nyaml.load(f)\n", Severity.HIGH),
        ("import yaml\nyaml.load(f, Loader=yaml.Loader)\n", Severity.HIGH),
        ("import yaml\nyaml.load(f, yaml.UnsafeLoader)\n", Severity.HIGH),
        ("import yaml\nyaml.unsafe_load(f)\n", Severity.HIGH),
        ("import yaml\nyaml.full_load(f)\n", Severity.MEDIUM),
        ("from yaml import load\nload(f)\n", Severity.HIGH),
    ],
)
def test_yaml_load_true_positives(source: str, severity: Severity) -> None:
    assert rules(source) == [("CODE-YAML-LOAD", severity, 2)]


@pytest.mark.parametrize(
    "source",
    [
        "import yaml\nyaml.safe_load(f)\n",
        "import yaml\nyaml.load(f, Loader=yaml.SafeLoader)\n",
        "import yaml\nfrom yaml import CSafeLoader\nyaml.load(f, Loader=CSafeLoader)\n",
        "import yaml\nyaml.load(f, yaml.CSafeLoader)\n",
    ],
)
def test_yaml_true_negatives(source: str) -> None:
    assert rules(source) == []


def test_eval_and_exec() -> None:
    src = """
    x = eval(user_text)
    exec(compile_me)
    eval("1 + 1")
    model.eval()
    y = eval(input())
    """
    assert rules(src) == [
        ("CODE-EVAL", Severity.MEDIUM, 2),
        ("CODE-EVAL", Severity.MEDIUM, 3),
        ("CODE-EVAL", Severity.HIGH, 6),
    ]


def test_shell() -> None:
    src = """
    import subprocess, os
    subprocess.run(cmd, shell=True)
    subprocess.run("ls -l", shell=True)
    subprocess.run(["ls", path])
    os.system(f"rm {path}")
    os.system("ls")
    """
    assert rules(src) == [("CODE-SHELL", Severity.MEDIUM, 3), ("CODE-SHELL", Severity.MEDIUM, 6)]


@pytest.mark.parametrize(
    "source",
    [
        "print 'python 2'\nimport pickle\npickle.load(f)\n",
        "def f(:\n",
        "x = (" * 2000,
        "%matplotlib inline\n",
        "a\x00b",
    ],
)
def test_source_that_does_not_parse_is_skipped(source: str) -> None:
    assert check_source(source) == []


def test_imports_from_elsewhere_resolve() -> None:
    issues = check_source("m = t.load(p)\n", imports={"t": "torch"})
    assert [i.rule_id for i in issues] == ["CODE-TORCH-LOAD"]


def test_scanner_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text("import torch\n\n\nmodel = torch.load('x.pt')\n", encoding="utf-8")
    data = path.read_bytes()
    target = Target(path=path, display="proj/train.py", size=len(data), head=data[:HEAD_BYTES])
    scanner = UnsafeCodeScanner()
    assert scanner.name == "code"
    assert scanner.wants(target)
    assert not scanner.wants(Target(tmp_path / "a.txt", "a.txt", 0, b""))
    (finding,) = scanner.scan(target, ScanContext())
    assert finding.category is Category.DEPENDENCY
    assert finding.location is not None
    assert (finding.location.path, finding.location.line) == ("proj/train.py", 4)
    assert finding.threats
    assert "torch.load" in (finding.subject or "")
