"""Each detector: a generated true positive and a true negative of the same shape."""

from __future__ import annotations

import random

import pytest

from custodes.findings import Severity
from custodes.scan.secrets import SecretMatch, find_secrets, rule_ids

from .helpers import load_generator

gen = load_generator()

# kind in the generator -> (rule id expected, how the value is written in a .py file)
EXPECTED = {
    "aws-access-key": "SECRET-AWS-ACCESS-KEY",
    "aws-secret-key": "SECRET-AWS-SECRET-KEY",
    "aws-session-token": "SECRET-AWS-SESSION-TOKEN",
    "gcp-api-key": "SECRET-GCP-API-KEY",
    "azure-storage-key": "SECRET-AZURE-STORAGE-KEY",
    "azure-sas": "SECRET-AZURE-SAS-TOKEN",
    "github": "SECRET-GITHUB-TOKEN",
    "github-pat": "SECRET-GITHUB-TOKEN",
    "gitlab": "SECRET-GITLAB-TOKEN",
    "huggingface": "SECRET-HUGGINGFACE-TOKEN",
    "openai": "SECRET-OPENAI-API-KEY",
    "openai-legacy": "SECRET-OPENAI-API-KEY",
    "anthropic": "SECRET-ANTHROPIC-API-KEY",
    "databricks": "SECRET-DATABRICKS-TOKEN",
    "wandb": "SECRET-WANDB-API-KEY",
    "kaggle": "SECRET-KAGGLE-KEY",
    "comet": "SECRET-COMET-API-KEY",
    "neptune": "SECRET-NEPTUNE-API-TOKEN",
    "replicate": "SECRET-REPLICATE-API-TOKEN",
    "cohere": "SECRET-COHERE-API-KEY",
    "groq": "SECRET-GROQ-API-KEY",
    "mistral": "SECRET-MISTRAL-API-KEY",
    "pinecone": "SECRET-PINECONE-API-KEY",
    "langsmith": "SECRET-LANGSMITH-API-KEY",
    "slack-token": "SECRET-SLACK-TOKEN",
    "slack-webhook": "SECRET-SLACK-WEBHOOK",
    "stripe": "SECRET-STRIPE-KEY",
    "twilio-api-key": "SECRET-TWILIO-API-KEY",
    "twilio-auth-token": "SECRET-TWILIO-AUTH-TOKEN",
    "sendgrid": "SECRET-SENDGRID-API-KEY",
    "npm": "SECRET-NPM-TOKEN",
    "pypi": "SECRET-PYPI-TOKEN",
    "jwt": "SECRET-JWT",
    "generic-password": "SECRET-GENERIC-ASSIGNMENT",
    "generic-secret": "SECRET-GENERIC-ASSIGNMENT",
    "generic-api-key": "SECRET-GENERIC-ASSIGNMENT",
}
CONTEXT = {
    "database-url": "SECRET-DATABASE-URL",
    "snowflake": "SECRET-SNOWFLAKE-PASSWORD",
    "mlflow": "SECRET-MLFLOW-TRACKING-CREDENTIALS",
    "private-key": "SECRET-PRIVATE-KEY",
    "gcp-service-account": "SECRET-GCP-SERVICE-ACCOUNT",
    "netrc-wandb": "SECRET-WANDB-API-KEY",
    "kaggle-json": "SECRET-KAGGLE-KEY",
    "wandb-login": "SECRET-WANDB-API-KEY",
    "twilio-client": "SECRET-TWILIO-AUTH-TOKEN",
    "sql-password": "SECRET-GENERIC-ASSIGNMENT",
}


def test_at_least_thirty_credential_types() -> None:
    assert len(rule_ids()) >= 30
    assert set(EXPECTED.values()) | set(CONTEXT.values()) <= set(rule_ids())


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("fmt", ["py", "yaml", "env", "json", "tf", "r", "scala", "sh", "toml"])
def test_true_positive_per_kind_and_format(kind: str, fmt: str) -> None:
    r = random.Random(f"{kind}-{fmt}")
    value = gen.KINDS[kind][0](r)
    written = gen._written(r, kind, value)
    line = gen._assign(fmt, gen.KINDS[kind][1], written)
    text = f"# config\n{line}\n"
    matches = find_secrets(text, path_hint=f"x.{fmt}")
    assert [m.rule_id for m in matches] == [EXPECTED[kind]], (kind, fmt)
    m = matches[0]
    assert m.secret == value
    assert text[m.start : m.end] == value
    assert 0.5 <= m.confidence <= 1


@pytest.mark.parametrize("kind", sorted(CONTEXT))
def test_true_positive_in_context(kind: str) -> None:
    lines, mark = gen._context(kind, random.Random(kind))
    text = "\n".join(["import os", *lines, ""])
    matches = find_secrets(text, path_hint="conf.sql" if kind == "sql-password" else "x.py")
    assert [m.rule_id for m in matches] == [CONTEXT[kind]]
    assert mark in text[text.rfind("\n", 0, matches[0].start) + 1 :].split("\n")[0]


def test_severities_follow_the_issue() -> None:
    r = random.Random(1)
    text = "\n".join(
        [
            f'k = "{gen.KINDS["aws-access-key"][0](r)}"',
            f'h = "{gen.KINDS["huggingface"][0](r)}"',
            f'db_password = "{gen.KINDS["generic-password"][0](r)}"',
        ]
    )
    sev = {m.rule_id: m.severity for m in find_secrets(text)}
    assert sev == {
        "SECRET-AWS-ACCESS-KEY": Severity.CRITICAL,
        "SECRET-HUGGINGFACE-TOKEN": Severity.HIGH,
        "SECRET-GENERIC-ASSIGNMENT": Severity.MEDIUM,
    }


NEGATIVES = [
    'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"',
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
    'api_key = "<YOUR_KEY>"',
    'password = "xxx"',
    'password = "xxxxxxxxxxxx"',
    'password: "****"',
    'SECRET_KEY = "changeme"',
    "password = ${DB_PASSWORD}",
    'password: "{{ db_password }}"',
    'dsn = "postgresql://app:%(password)s@db/app"',
    "token=$API_TOKEN",
    'api_key = os.environ["OPENAI_API_KEY"]',
    'token = os.getenv("HF_TOKEN")',
    "const key = process.env.STRIPE_KEY;",
    'run_id = "0f8fad5b-d9cb-469f-a165-70867728950e"',
    'revision = "4f2d3c1b9a8e7d6c5b4a39281706f5e4d3c2b1a0"',
    'MODEL_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    '"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    'etag = "d41d8cd98f00b204e9800998ecf8427e"',
    "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
    "max_tokens = 512",
    'pad_token = "[PAD]"',
    'bos_token = "<|endoftext|>"',
    "secret_name: prod-db-credentials",
    "token_type: bearer",
    'password_field = "password"',
    'DATABASE_URL = "postgresql://user:password@localhost:5432/db"',
    'REDIS_URL = "redis://:${REDIS_PASSWORD}@cache:6379/0"',
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    'HF_TOKEN = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'OPENAI_API_KEY = "sk-..."',
    'GITHUB_TOKEN = "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"',
    "password = getpass.getpass()",
    "password = get_password()",
    'api_key: str = "your-api-key-here"',
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_true_negatives(text: str) -> None:
    assert find_secrets(text, path_hint="settings.py") == []
    assert find_secrets(text, path_hint="settings.yaml") == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("poetry.lock", 'files = [{file = "numpy-2.0.whl", hash = "sha256:' + "ab" * 32 + '"}]'),
        ("requirements.txt", "torch==2.4.0 --hash=sha256:" + "cd" * 32),
        (
            "package-lock.json",
            '"integrity": "sha512-' + "Q" * 20 + 'x9Zk/+AbCd" , "token": "Ab3dEf9hKlmN"',
        ),
        ("uv.lock", 'sdist = { url = "https://x/y.tar.gz", hash = "sha256:' + "ef" * 32 + '" }'),
        ("Pipfile.lock", '"hashes": ["sha256:' + "01" * 32 + '"]'),
    ],
)
def test_lock_files_are_not_findings(name: str, text: str) -> None:
    assert find_secrets(text, path_hint=name) == []


def test_generic_assignment_in_many_syntaxes() -> None:
    pw = "Tq7#vL9pZ2mX"
    cases = {
        "a.py": f'db_password = "{pw}"',
        "b.py": f'connect(password="{pw}")',
        "c.py": f'cfg = {{"password": "{pw}"}}',
        "d.py": f'password: str = "{pw}"',
        "e.yaml": f"password: {pw}",
        "f.json": f'{{"password": "{pw}"}}',
        "g.toml": f'password = "{pw}"',
        "h.ini": f"password = {pw}",
        ".env": f"DB_PASSWORD={pw}",
        "i.sh": f"export DB_PASSWORD='{pw}'",
        "main.tf": f'  password = "{pw}"',
        "j.properties": f"db.password={pw}",
        "k.R": f'password <- "{pw}"',
        "l.scala": f'val password = "{pw}"',
        "m.sql": f"ALTER USER ml IDENTIFIED BY '{pw}';",
        "Dockerfile": f"ENV DB_PASSWORD={pw}",
    }
    for name, text in cases.items():
        found = find_secrets(text, path_hint=name)
        assert [m.secret for m in found] == [pw], name


def test_unquoted_expression_in_code_is_not_a_literal() -> None:
    assert find_secrets("password = Tq7vL9pZ2mX", path_hint="a.py") == []
    assert find_secrets("password = Tq7vL9pZ2mX", path_hint="a.cfg") != []


def test_specific_rule_wins_over_generic() -> None:
    r = random.Random(3)
    key = gen.KINDS["openai"][0](r)
    [m] = find_secrets(f'api_key = "{key}"', path_hint="a.py")
    assert m.rule_id == "SECRET-OPENAI-API-KEY"


def test_ansi_coloured_key_is_found() -> None:
    r = random.Random(4)
    key = gen.KINDS["github"][0](r)
    text = f"\x1b[0;31mError\x1b[0m: bad token \x1b[1;32m{key}\x1b[0m"
    [m] = find_secrets(text)
    assert m.secret == key
    assert text[m.start : m.end] == key
    escaped = f'"\\u001b[1;32m{key}\\u001b[0m"'
    assert [m.secret for m in find_secrets(escaped)] == [key]


def test_private_key_reports_begin_line() -> None:
    lines, _ = gen._context("private-key", random.Random(9))
    text = "x = 1\n" + "\n".join(lines)
    [m] = find_secrets(text)
    assert text[m.start :].startswith("-----BEGIN")
    assert text.count("\n", 0, m.start) == 2  # line 3: after "x = 1" and 'DEPLOY_KEY = """'


def test_repr_redacts_the_secret() -> None:
    secret = gen.KINDS["github"][0](random.Random(5))
    [m] = find_secrets(f"t = '{secret}'")
    assert isinstance(m, SecretMatch)
    assert secret not in repr(m)
    assert secret not in str(m)
    assert "ghp_" in repr(m) or "gh" in repr(m)
