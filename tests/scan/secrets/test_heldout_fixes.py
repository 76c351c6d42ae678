"""One true positive and one true negative per fix found by the held-out corpus.

Every value is a generated fake of the documented shape, never a live credential.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.scan.interface import ScanContext, Target
from custodes.scan.secrets import SecretsScanner, find_secrets

HEX40 = "c7327a45b61f11213cbeb650efa4926be4222b0a"
AZ_KEY = "Wfgv7SR1fGvZuu1m+exXCffRe/xwdikXpR7eTGn41n7L9RVMsp2RhHXtmjRwh8r8Uge/OKepktsGgfX8cFa0y2=="

CASES = [
    # (name, true positive, path hint, true negative)
    ("wandb-cli", f"wandb login {HEX40}\n", "run.sh", "wandb login $WANDB_API_KEY\n"),
    ("wandb-key-name", f"WANDB_KEY={HEX40}\n", ".env", f"REVISION={HEX40}\n"),
    (
        "aws-docker-env-space",
        "ENV AWS_SECRET_ACCESS_KEY 4/sLxVMk40T3Vk6WAT3XcsNl09G2xQQc2y9wUBZ1\n",
        "Dockerfile",
        "ENV AWS_SECRET_ACCESS_KEY wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    ),
    (
        "aws-setdefault",
        'os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "XM/1vYDs7uO06btiyx4/aH7zLNxXMXeQ5wWEqvLl")\n',
        "train.py",
        'os.environ.setdefault("AWS_SECRET_ACCESS_KEY", os.environ["SECRET"])\n',
    ),
    (
        "azure-storage-key-name",
        f"  storage_key: '{AZ_KEY}'\n",
        "cfg.yaml",
        "  storage_key: '<key>'\n",
    ),
    (
        "azure-spark-conf",
        f'spark.conf.set("fs.azure.account.key.acct01.dfs.core.windows.net", "{AZ_KEY}")\n',
        "job.scala",
        'spark.conf.set("fs.azure.account.key.acct01.dfs.core.windows.net", dbutils.secrets.get("s", "k"))\n',
    ),
    (
        "azure-client-secret",
        'credential = ClientSecretCredential(tid, cid, "u9S9Q~Bmcv65TwdBQPP4LhAgJ1gp4g.yn.HZg-DE")\n',
        "app.py",
        'credential = ClientSecretCredential(tid, cid, os.environ["AZURE_CLIENT_SECRET"])\n',
    ),
    (
        "comet-experiment",
        'experiment = Experiment(api_key="FWYagvN1D5ewdwMDm808ktRWe", project_name="churn")\n',
        "train.py",
        'experiment = Experiment(api_key=os.environ["COMET_API_KEY"], project_name="churn")\n',
    ),
    (
        "kaggle-dict-repr",
        "{'username': 'tkumar36', 'key': '35b955936e0c87cf3b414a5b99ddfff9'}\n",
        "out.txt",
        "{'run': 'tkumar36', 'md5': '35b955936e0c87cf3b414a5b99ddfff9'}\n",
    ),
    (
        "kaggle-yaml",
        "kaggle:\n  username: kagglerx7\n  key: '3a4d51c4989f02be9e1af34516f8c15f'\n",
        "cfg.yaml",
        "dvc:\n  path: data/raw\n  md5: '3a4d51c4989f02be9e1af34516f8c15f'\n",
    ),
    (
        "discord-webhook",
        "URL = 'https://discord.com/api/webhooks/407037803616355793/cQ3vIamgGFsxC0H6ZwM__RPL2F12uaNJZcZDsEmNpCJEbrVOqmwWyMLV1T1mcsL3n_AV'\n",
        "notify.py",
        "URL = 'https://discord.com/api/webhooks/<id>/<token>'\n",
    ),
    (
        "netrc-password",
        "machine nexus.internal login deploy password Orchid_forge2747#\n",
        ".netrc",
        "machine github.com login x-access-token password $GITHUB_TOKEN\n",
    ),
    (
        "db-url-fstring",
        'DB_URL = f"postgresql://{DB_USER}:Zephyr*stone8815@{DB_HOST}:5432/{DB_NAME}"\n',
        "db.py",
        'DB_URL = f"postgresql://{DB_USER}:{DB_PASSWORD}@{DB_HOST}:5432/{DB_NAME}"\n',
    ),
    (
        "airflow-empty-host",
        "AIRFLOW_CONN_SNOWFLAKE_ML='snowflake://mlflow:TensorKite8481@/ML_DB/PUBLIC?account=xy94602'\n",
        ".env",
        "AIRFLOW_CONN_SNOWFLAKE_ML='snowflake://mlflow:${SF_PASSWORD}@/ML_DB/PUBLIC'\n",
    ),
    (
        "amqp-default-guest",
        'BROKER = "amqp://celery:Pelican.Kite8057@rabbit:5672//"\n',
        "celery.py",
        'BROKER = "amqp://guest:guest@localhost:5672//"\n',
    ),
]


@pytest.mark.parametrize(("name", "positive", "hint", "negative"), CASES, ids=[c[0] for c in CASES])
def test_heldout_fix(name: str, positive: str, hint: str, negative: str) -> None:
    assert find_secrets(positive, path_hint=hint), name
    assert not find_secrets(negative, path_hint=hint), name


@pytest.mark.parametrize("name", ["tls.key", "signing.pem"])
def test_private_key_files_are_scanned(tmp_path: Path, name: str) -> None:
    body = "MIIEpAIBAAKCAQEA" + "q8ZtLw2pV9xKmR3sT7uY1bN4cF6hJ0aD" * 12
    path = tmp_path / name
    path.write_text(f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n")
    data = path.read_bytes()
    target = Target(path, name, len(data), data)
    scanner = SecretsScanner()
    assert scanner.wants(target)
    assert [f.location.line for f in scanner.scan(target, ScanContext()) if f.location] == [1]


def _fake(n: int = 24) -> str:
    import secrets as _s
    import string as _st

    return "".join(_s.choice(_st.ascii_letters + _st.digits) for _ in range(n))


def test_dockerfile_env_space_form_is_found() -> None:
    value = _fake()
    text = f"FROM python:3.11-slim\nENV DB_PASSWORD {value}\nENV APP_HOME /srv\n"
    [m] = find_secrets(text, path_hint="Dockerfile")
    assert m.secret == value
    assert text[m.start : m.end] == value


def test_dockerfile_env_space_form_negatives() -> None:
    text = "ENV PASSWORD_FILE /run/secrets/db\nENV API_KEY ${API_KEY}\nENV TOKEN_TTL 3600\n"
    assert find_secrets(text, path_hint="Dockerfile") == []


def test_docker_login_password_is_found() -> None:
    value = _fake()
    for line in (
        f"docker login -u ci -p {value} registry.example.com",
        f"docker login --password={value} registry.example.com",
        f'  - docker login -u bot --password "{value}" $REGISTRY',
    ):
        [m] = find_secrets(line + "\n", path_hint="deploy.sh")
        assert m.secret == value, line


def test_docker_login_from_a_variable_is_not_a_finding() -> None:
    for line in (
        'docker login -u ci -p "$DOCKER_PASSWORD" registry.example.com',
        "echo $TOKEN | docker login -u ci --password-stdin registry.example.com",
    ):
        assert find_secrets(line + "\n", path_hint="deploy.sh") == [], line


def test_docker_login_in_documentation_is_not_a_finding() -> None:
    for line in (
        "# ``docker login -p VALUE`` / ``--password VALUE``: the value is a registry password.",
        "Run `docker login -p <password> registry` once.",
    ):
        assert find_secrets(line + "\n", path_hint="README.md") == [], line
