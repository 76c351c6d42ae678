"""Generate a labelled corpus of ML-repository files with planted fake credentials.

Every secret is a random string of the right shape, made here at run time from a seed:
nothing real is committed. Documented example keys and placeholders appear only as hard
negatives. ``labels.json`` lists, for every planted secret, the file and the 1-based line
(as stored on disk; for notebooks, the line of the .ipynb JSON) where a scanner must
report it; every other reported line is a false positive.

    python tests/corpus/secrets_gen.py OUT_DIR --files 300 --seed 7
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import nbformat

__all__ = ["KINDS", "generate", "score"]

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UP32 = string.ascii_uppercase + "234567"
PW = ALNUM + "!%^-_+=."


def _s(r: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(r: random.Random) -> str:
    head = _b64url(json.dumps({"alg": r.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    body = _b64url(json.dumps({"sub": _s(r, 10), "iat": r.randrange(10**9, 2 * 10**9)}).encode())
    return f"{head}.{body}.{_s(r, 43, ALNUM + '-_')}"


def _pem(r: random.Random, kind: str) -> str:
    lines = [_s(r, 64, B64) for _ in range(r.randrange(8, 20))]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


# kind -> (value generator, variable name). Context-bound kinds carry their own template.
Gen = Callable[[random.Random], str]
KINDS: dict[str, tuple[Gen, str]] = {
    "aws-access-key": (lambda r: "AKIA" + _s(r, 16, UP32), "AWS_ACCESS_KEY_ID"),
    "aws-secret-key": (lambda r: _s(r, 40, B64), "aws_secret_access_key"),
    "aws-session-token": (lambda r: "FwoGZXIvYXdzE" + _s(r, 300, B64), "AWS_SESSION_TOKEN"),
    "gcp-api-key": (lambda r: "AIza" + _s(r, 35, ALNUM + "-_"), "GOOGLE_API_KEY"),
    "azure-storage-key": (lambda r: _s(r, 86, B64) + "==", "AZURE_STORAGE_CONNECTION_STRING"),
    "azure-sas": (lambda r: _s(r, 43, ALNUM) + "%3D", "BLOB_SAS_URL"),
    "github": (
        lambda r: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + _s(r, 36),
        "GITHUB_TOKEN",
    ),
    "github-pat": (lambda r: "github_pat_" + _s(r, 22) + "_" + _s(r, 59), "GH_PAT"),
    "gitlab": (lambda r: "glpat-" + _s(r, 20, ALNUM + "-_"), "GITLAB_TOKEN"),
    "huggingface": (lambda r: "hf_" + _s(r, 34, string.ascii_letters), "HF_TOKEN"),
    "openai": (lambda r: "sk-proj-" + _s(r, 120, ALNUM + "-_"), "OPENAI_API_KEY"),
    "openai-legacy": (lambda r: "sk-" + _s(r, 20) + "T3BlbkFJ" + _s(r, 20), "openai.api_key"),
    "anthropic": (lambda r: "sk-ant-api03-" + _s(r, 93, ALNUM + "-_") + "AA", "ANTHROPIC_API_KEY"),
    "databricks": (lambda r: "dapi" + _s(r, 32, HEX), "DATABRICKS_TOKEN"),
    "wandb": (lambda r: _s(r, 40, HEX), "WANDB_API_KEY"),
    "kaggle": (lambda r: _s(r, 32, HEX), "KAGGLE_KEY"),
    "comet": (lambda r: _s(r, 25), "COMET_API_KEY"),
    "neptune": (lambda r: "eyJhcGlfYWRkcmVzcyI6" + _s(r, 120, B64), "NEPTUNE_API_TOKEN"),
    "replicate": (lambda r: "r8_" + _s(r, 37), "REPLICATE_API_TOKEN"),
    "cohere": (lambda r: _s(r, 40), "COHERE_API_KEY"),
    "groq": (lambda r: "gsk_" + _s(r, 52), "GROQ_API_KEY"),
    "mistral": (lambda r: _s(r, 32), "MISTRAL_API_KEY"),
    "pinecone": (lambda r: "pcsk_" + _s(r, 6) + "_" + _s(r, 60), "PINECONE_API_KEY"),
    "langsmith": (
        lambda r: "lsv2_pt_" + _s(r, 32, HEX) + "_" + _s(r, 10, HEX),
        "LANGCHAIN_API_KEY",
    ),
    "slack-token": (
        lambda r: f"xoxb-{_s(r, 12, string.digits)}-{_s(r, 12, string.digits)}-{_s(r, 24)}",
        "SLACK_BOT_TOKEN",
    ),
    "slack-webhook": (
        lambda r: (
            f"https://hooks.slack.com/services/T{_s(r, 8, UP32)}/B{_s(r, 10, UP32)}/{_s(r, 24)}"
        ),
        "SLACK_WEBHOOK_URL",
    ),
    "stripe": (lambda r: r.choice(["sk_live_", "rk_live_"]) + _s(r, 24), "STRIPE_SECRET_KEY"),
    "twilio-api-key": (lambda r: "SK" + _s(r, 32, HEX), "TWILIO_API_KEY"),
    "twilio-auth-token": (lambda r: _s(r, 32, HEX), "TWILIO_AUTH_TOKEN"),
    "sendgrid": (
        lambda r: f"SG.{_s(r, 22, ALNUM + '-_')}.{_s(r, 43, ALNUM + '-_')}",
        "SENDGRID_API_KEY",
    ),
    "npm": (lambda r: "npm_" + _s(r, 36), "NPM_TOKEN"),
    "pypi": (lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, 70, ALNUM + "-_"), "PYPI_TOKEN"),
    "jwt": (_jwt, "AUTH_JWT"),
    "generic-password": (lambda r: _s(r, r.randrange(10, 20), PW), "db_password"),
    "generic-secret": (lambda r: _s(r, r.randrange(24, 48), ALNUM), "SECRET_KEY"),
    "generic-api-key": (lambda r: _s(r, 32, ALNUM), "internal_api_key"),
}
_CONTEXT_KINDS = (
    "database-url",
    "snowflake",
    "mlflow",
    "private-key",
    "gcp-service-account",
    "netrc-wandb",
    "kaggle-json",
    "wandb-login",
    "twilio-client",
    "sql-password",
)
_DB_SCHEMES = (
    "postgresql",
    "postgres",
    "mysql+pymysql",
    "mongodb+srv",
    "mongodb",
    "redis",
    "rediss",
    "snowflake",
    "postgresql+psycopg2",
)

FILLER = {
    "py": [
        "import numpy as np",
        "import torch",
        "from transformers import AutoTokenizer, AutoModel",
        "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
        "max_tokens = 512",
        "def train(model, loader, epochs=3):",
        "    for batch in loader:",
        "        loss = model(**batch).loss",
        "        loss.backward()",
        "lr = 3e-4",
        "df = pd.read_parquet('data/train.parquet')",
        "api_key = os.environ['OPENAI_API_KEY']",
        "token = os.getenv('HF_TOKEN')",
        "password = getpass.getpass('Password: ')",
        "pad_token = '[PAD]'",
        "eos_token = '</s>'",
        "# set your key with: export OPENAI_API_KEY=sk-...",
        "logger.info('epoch %d loss %.4f', epoch, loss)",
    ],
    "yaml": [
        "model:",
        "  name: resnet50",
        "  lr: 0.001",
        "training:",
        "  epochs: 10",
        "  batch_size: 64",
        "secret_name: prod-db-credentials",
        "token_type: bearer",
        "auth: required",
        "password: ${DB_PASSWORD}",
        'api_key: "{{ vault_api_key }}"',
        "storage: s3://ml-bucket/checkpoints",
    ],
    "env": [
        "LOG_LEVEL=info",
        "MODEL_DIR=/models",
        "BATCH_SIZE=32",
        "API_KEY=<YOUR_API_KEY>",
        "DB_PASSWORD=changeme",
        "HF_TOKEN=${HF_TOKEN}",
    ],
    "sql": [
        "SELECT user_id, label FROM training_samples WHERE split = 'train';",
        "CREATE TABLE features (id INT, vec TEXT);",
        "-- password rotated monthly",
    ],
}


def _hard_negatives(r: random.Random) -> list[str]:
    sha = _s(r, 64, HEX)
    return [
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"',
        'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        'OPENAI_API_KEY = "sk-..."',
        "HF_TOKEN = 'hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'",
        'GITHUB_TOKEN = "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"',
        'password = "****"',
        'api_key = "<YOUR_KEY>"',
        'secret = "%(secret)s"',
        'token = "$API_TOKEN"',
        f'run_id = "{uuid.UUID(int=r.getrandbits(128))}"',
        f'revision = "{_s(r, 40, HEX)}"',
        f'MODEL_SHA256 = "{sha}"',
        f'digest = "sha256:{sha}"',
        f'etag = "{_s(r, 32, HEX)}"',
        'DATABASE_URL = "postgresql://user:password@localhost:5432/db"',
        'REDIS_URL = "redis://:${REDIS_PASSWORD}@cache:6379/0"',
        'jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
        f'checkpoint = "model-{_s(r, 12, HEX)}.safetensors"',
        f'cache_key = "{_s(r, 24, HEX)}"',
        "api_key = process.env.API_KEY",
        "SECRET_KEY = os.environ.get('SECRET_KEY', 'changeme')",
    ]


def _assign(fmt: str, name: str, value: str) -> str:
    """One line assigning ``value`` to ``name`` in the syntax of file type ``fmt``."""
    return {
        "py": f'{name} = "{value}"',
        "yaml": f"{name.lower()}: {value}",
        "json": f'  "{name.lower()}": "{value}",',
        "env": f"{name.upper()}={value}",
        "sh": f'export {name.upper()}="{value}"',
        "tf": f'  {name.lower()} = "{value}"',
        "toml": f'{name.lower()} = "{value}"',
        "ini": f"{name.lower()} = {value}",
        "properties": f"{name.lower()}={value}",
        "r": f'{name.lower()} <- "{value}"',
        "scala": f'val {name.lower()} = "{value}"',
        "docker": f"ENV {name.upper()}={value}",
    }[fmt]


def _context(kind: str, r: random.Random) -> tuple[list[str], str]:
    """Lines for context-bound kinds, and the string that marks the labelled line."""
    if kind == "database-url":
        pw = _s(r, r.randrange(10, 18), ALNUM + "-_.")
        return [
            f'DATABASE_URL = "{r.choice(_DB_SCHEMES)}://svc_ml:{pw}@db-{_s(r, 5).lower()}.internal:5432/features"'
        ], pw
    if kind == "snowflake":
        pw = _s(r, 14, PW)
        return [
            "conn = snowflake.connector.connect(",
            "    user='ML_SVC',",
            f"    password='{pw}',",
            "    account='xy12345.eu-west-1',",
            ")",
        ], pw
    if kind == "mlflow":
        pw = _s(r, 14, ALNUM)
        return [f'mlflow.set_tracking_uri("https://mlops:{pw}@mlflow.{_s(r, 6).lower()}.com")'], pw
    if kind == "private-key":
        k = _pem(
            r,
            r.choice(
                [
                    "RSA PRIVATE KEY",
                    "PRIVATE KEY",
                    "EC PRIVATE KEY",
                    "OPENSSH PRIVATE KEY",
                    "PGP PRIVATE KEY BLOCK",
                ]
            ),
        )
        return ['DEPLOY_KEY = """', *k.split("\n"), '"""'], k.split("\n")[0]
    if kind == "gcp-service-account":
        body = _pem(r, "PRIVATE KEY").replace("\n", "\\n")
        doc = [
            "{",
            '  "type": "service_account",',
            f'  "project_id": "ml-{_s(r, 6).lower()}",',
            f'  "private_key_id": "{_s(r, 40, HEX)}",',
            f'  "private_key": "{body}\\n",',
            f'  "client_email": "trainer@ml-{_s(r, 6).lower()}.iam.gserviceaccount.com"',
            "}",
        ]
        return doc, body[:40]
    if kind == "netrc-wandb":
        k = _s(r, 40, HEX)
        return ["machine api.wandb.ai", "  login user", f"  password {k}"], k
    if kind == "kaggle-json":
        k = _s(r, 32, HEX)
        return [f'{{"username":"{_s(r, 8).lower()}","key":"{k}"}}'], k
    if kind == "wandb-login":
        k = _s(r, 40, HEX)
        return [f'wandb.login(key="{k}")'], k
    if kind == "twilio-client":
        k = _s(r, 32, HEX)
        return [f'client = Client("AC{_s(r, 32, HEX)}", "{k}")'], k
    pw = _s(r, 12, ALNUM + "!%-_")
    return [f"CREATE USER ml_reader IDENTIFIED BY '{pw}';"], pw


_FORMATS = {
    "py": ".py",
    "yaml": ".yaml",
    "json": ".json",
    "env": ".env",
    "sh": ".sh",
    "tf": ".tf",
    "toml": ".toml",
    "ini": ".cfg",
    "properties": ".properties",
    "r": ".R",
    "scala": ".scala",
    "docker": "Dockerfile",
}


def _written(r: random.Random, kind: str, value: str) -> str:
    """The text that carries ``value``: Azure keys live inside connection strings and URLs."""
    if kind == "azure-storage-key":
        return f"DefaultEndpointsProtocol=https;AccountName=mldata{_s(r, 4).lower()};AccountKey={value};EndpointSuffix=core.windows.net"
    if kind == "azure-sas":
        return f"https://mldata.blob.core.windows.net/train/part-0.parquet?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&spr=https&sig={value}"
    return value


def _plant(r: random.Random, fmt: str) -> tuple[list[str], list[str]]:
    """Some lines holding one planted secret, and the search strings that label it."""
    if fmt == "sql":
        lines, mark = _context(r.choice(["sql-password", "database-url"]), r)
        return ([f"-- {lines[0]}"] if "DATABASE_URL" in lines[0] else lines), [mark]
    if r.random() < 0.3:
        kind = r.choice(_CONTEXT_KINDS[:-1])
        if fmt == "py" or kind in ("database-url",):
            lines, mark = _context(kind, r)
            return lines, [mark]
    kind = r.choice(sorted(KINDS))
    gen, name = KINDS[kind]
    value = gen(r)
    if kind.startswith("azure"):
        return [_assign(fmt, name, _written(r, kind, value))], [value]
    if kind == "aws-access-key" and r.random() < 0.5:
        secret = KINDS["aws-secret-key"][0](r)
        return [_assign(fmt, name, value), _assign(fmt, "aws_secret_access_key", secret)], [
            value,
            secret,
        ]
    return [_assign(fmt, name, value)], [value]


def _text_file(r: random.Random, fmt: str, n_lines: int, plant: int) -> tuple[str, list[str]]:
    filler = FILLER.get(
        fmt,
        FILLER["py"]
        if fmt in ("py", "r", "scala")
        else FILLER["env"]
        if fmt in ("env", "docker", "sh", "properties", "ini")
        else FILLER["yaml"],
    )
    if fmt in ("json", "tf", "toml", "r", "scala"):
        filler = (
            [f"# {x}" if fmt in ("tf", "toml", "r") else x for x in FILLER["yaml"][:6]]
            if fmt != "json"
            else ['  "epochs": 10,', '  "lr": 0.001,']
        )
    lines = [r.choice(filler) for _ in range(n_lines)]
    marks: list[str] = []
    negs = _hard_negatives(r)
    for _ in range(r.randrange(1, 4)):
        neg = r.choice(negs)
        lines.insert(
            r.randrange(len(lines) + 1),
            neg
            if fmt == "py"
            else f"# {neg}"
            if fmt not in ("json", "sql")
            else f'  "note": "{neg.replace(chr(34), "")}",',
        )
    for _ in range(plant):
        new, m = _plant(r, fmt)
        at = r.randrange(len(lines) + 1)
        lines[at:at] = new
        marks += m
    if fmt == "json":
        lines = ["{", *lines, '  "end": true', "}"]
    return "\n".join(lines) + "\n", marks


def _notebook(r: random.Random, plant: int) -> tuple[str, list[str]]:
    nb = nbformat.v4.new_notebook()
    marks: list[str] = []
    png = base64.b64encode(r.randbytes(r.randrange(2000, 60000))).decode()
    for i in range(r.randrange(3, 10)):
        cell = nbformat.v4.new_code_cell(
            "import pandas as pd\ndf = pd.read_csv('train.csv')\ndf.head()"
        )
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"image/png": png, "text/plain": "<Figure>"}
            )
        ]
        nb.cells.append(cell)
        if i < plant:
            _, name = KINDS[kind := r.choice(sorted(KINDS))]
            value = KINDS[kind][0](r)
            written = _written(r, kind, value)
            where = r.choice(["source", "source-list", "stream", "error", "html", "split"])
            if where == "split" and value != written:
                where = "source-list"  # a cut through "AccountKey=" leaves no context
            if where == "source":
                cell.source = f'{name.replace(".", "_")} = "{written}"\nclient = make_client()'
            elif where == "source-list":
                cell.source = [
                    "import os\n",
                    f'{name.replace(".", "_")} = "{written}"\n',
                    "client = make_client()",
                ]
            elif where == "split":
                written, cut = value, len(value) // 2
                cell.source = [
                    "import os\n",
                    f'{name.replace(".", "_")} = "{value[:cut]}',
                    f'{value[cut:]}"\n',
                    "login()",
                ]
                value = value[:cut]
            elif where == "stream":
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "stream", name="stdout", text=f"using {name}={written}\n"
                    )
                )
            elif where == "error":
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename="AuthError",
                        evalue="bad key",
                        traceback=[
                            "\x1b[0;31m---------\x1b[0m",
                            f"\x1b[0;31mAuthError\x1b[0m: invalid key \x1b[1;32m{name}={written}\x1b[0m",
                        ],
                    )
                )
            else:
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "display_data",
                        data={"text/html": f"<pre>{name}={written}</pre>", "image/png": png},
                    )
                )
            marks.append(value)
    return nbformat.writes(nb), marks


def generate(
    out: Path, *, files: int = 300, seed: int = 7, plant_rate: float = 0.5
) -> dict[str, object]:
    """Write ``files`` files under ``out`` plus ``out/labels.json``; return the labels."""
    r = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels: list[dict[str, object]] = []
    total = 0
    fmts = [*_FORMATS, "sql", "ipynb", "lock", "netrc"]
    for i in range(files):
        fmt = r.choice(fmts)
        plant = 1 + (r.random() < 0.3) if r.random() < plant_rate else 0
        sub = f"repo{i % 37}/{r.choice(['src', 'configs', 'notebooks', 'deploy', 'scripts'])}"
        if fmt == "ipynb":
            text, marks = _notebook(r, plant)
            rel = f"{sub}/analysis_{i}.ipynb"
        elif fmt == "lock":
            name = r.choice(
                ["poetry.lock", "uv.lock", "Pipfile.lock", "requirements.txt", "package-lock.json"]
            )
            rows = [
                f'{{file = "pkg{k}-1.0-py3-none-any.whl", hash = "sha256:{_s(r, 64, HEX)}"}}'
                if name != "requirements.txt"
                else f"pkg{k}==1.{k} --hash=sha256:{_s(r, 64, HEX)}"
                for k in range(r.randrange(50, 400))
            ]
            text, marks, rel = "\n".join(rows) + "\n", [], f"{sub}/{i}/{name}"
        elif fmt == "netrc":
            lines, mark = (
                _context("netrc-wandb", r)
                if plant
                else (["machine api.wandb.ai", "  login user", "  password <YOUR_KEY>"], "")
            )
            text, marks, rel = "\n".join(lines) + "\n", [mark] if plant else [], f"{sub}/{i}/.netrc"
        else:
            text, marks = _text_file(r, fmt, r.randrange(20, 400), plant)
            rel = (
                f"{sub}/{i}/Dockerfile"
                if fmt == "docker"
                else f"{sub}/file_{i}{_FORMATS.get(fmt, '.sql')}"
            )
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode())
        file_lines = text.split("\n")
        for mark in marks:
            hits = [n + 1 for n, line in enumerate(file_lines) if mark in line]
            labels.extend({"path": rel, "line": n} for n in hits[:2])
    doc: dict[str, object] = {"seed": seed, "files": files, "bytes": total, "secrets": labels}
    (out / "labels.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc


def score(labels: dict[str, object], found: set[tuple[str, int]]) -> tuple[float, float, int, int]:
    """Recall and precision of ``found`` (path, line) pairs; also the counts of misses and FPs."""
    truth = {(str(s["path"]), int(s["line"])) for s in labels["secrets"]}  # type: ignore[attr-defined]
    tp = len(truth & found)
    recall = tp / len(truth) if truth else 1.0
    precision = tp / len(found) if found else 1.0
    return recall, precision, len(truth - found), len(found - truth)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    d = generate(args.out, files=args.files, seed=args.seed)
    print(f"{d['files']} files, {d['bytes']} bytes, {len(d['secrets'])} secrets")  # type: ignore[arg-type]
