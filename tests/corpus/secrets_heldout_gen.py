"""Held-out labelled corpus of ML-repository files with planted FAKE credentials.

Written independently of the detectors (and of ``secrets_gen.py``) to measure them
honestly: shapes follow the providers' documented formats, and the files follow how ML
people actually write them: training scripts, notebooks with keys in sources *and*
outputs (stream dumps, HTML tables, ANSI-coloured IPython tracebacks, papermill
parameters), configs of every usual format, CI/infra files, and many hard negatives
(placeholders, documented example keys, environment lookups, lock-file hashes, UUIDs,
git SHAs, model checksums, base64 images, public keys and certificates, publishable
keys, ids that are not secrets, obviously fake test fixtures).

Every value is random from a seeded ``random.Random``: nothing here is a live secret.

``generate(root, files=N, seed=S)`` writes the files and ``labels.json`` and returns the
labels: ``{"files", "bytes", "types", "secrets": [{"file", "line", "type"}]}``, where
``line`` is the 1-based line of the file as stored (the .ipynb JSON for notebooks; the
``-----BEGIN`` line for a multi-line private key). ``score(labels, found)`` compares a
set of ``(file, line)`` findings against them.

Run ``python tests/corpus/secrets_heldout_gen.py OUT [FILES] [SEED]`` to inspect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import v4

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DIG = string.digits
AN = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = AN + "+/"
URLS = AN + "-_"
B32 = UP + "234567"
PW_CHARS = AN + "!#%^*-_.~+="

# -- random helpers ----------------------------------------------------------------------


def rs(rng: random.Random, n: int, alphabet: str = AN) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def mixed(rng: random.Random, n: int, alphabet: str = AN) -> str:
    """Random string with an upper, a lower and (if the alphabet has them) a digit."""
    need_digit = any(c.isdigit() for c in alphabet)
    while True:
        s = rs(rng, n, alphabet)
        if (
            any(c.isupper() for c in s)
            and any(c.islower() for c in s)
            and (any(c.isdigit() for c in s) or not need_digit)
        ):
            return s


def hexs(rng: random.Random, n: int) -> str:
    return rs(rng, n, HEX)


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def human_password(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return mixed(rng, rng.randint(12, 24), PW_CHARS)
    word = rng.choice(
        [
            "Falcon",
            "Winter",
            "Quokka",
            "Neural",
            "Gradient",
            "Pelican",
            "Tensor",
            "Orchid",
            "Zephyr",
        ]
    )
    word2 = rng.choice(["river", "Lamp", "stone", "Moon", "delta", "Kite", "forge"])
    return f"{word}{rng.choice('!#*-_.')}{word2}{rng.randint(10, 9999)}{rng.choice('!#%*')}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# -- what a planted secret is ------------------------------------------------------------


@dataclass
class Comp:
    """One value of a secret: labelled with ``type``, or context (``type=None``)."""

    type: str | None
    value: str
    env: str
    field: str
    locator: str = ""

    def loc(self) -> str:
        return self.locator or self.value


@dataclass
class Secret:
    comps: list[Comp]
    py: list[str] = field(default_factory=list)
    """Python call templates: @0@, @1@... are the values, @Q@ the quote."""
    pem: bool = False


def one(
    t: str,
    value: str,
    envs: list[str],
    fields: list[str],
    rng: random.Random,
    py: list[str] | None = None,
) -> Secret:
    return Secret([Comp(t, value, rng.choice(envs), rng.choice(fields))], py or [])


def aws(rng: random.Random) -> Secret:
    kid = "AKIA" + rs(rng, 16, B32)
    sec = mixed(rng, 40, B64)
    comps = [
        Comp("aws_access_key_id", kid, "AWS_ACCESS_KEY_ID", "aws_access_key_id"),
        Comp("aws_secret_access_key", sec, "AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    ]
    py = [
        's3 = boto3.client(\n    "s3",\n    aws_access_key_id=@Q@@0@@Q@,\n    aws_secret_access_key=@Q@@1@@Q@,\n    region_name="us-east-1",\n)',
        "session = boto3.Session(aws_access_key_id=@Q@@0@@Q@, aws_secret_access_key=@Q@@1@@Q@)",
        "fs = s3fs.S3FileSystem(key=@Q@@0@@Q@, secret=@Q@@1@@Q@)",
        'storage_options = {"key": @Q@@0@@Q@, "secret": @Q@@1@@Q@}',
    ]
    if rng.random() < 0.25:
        comps[0].value = comps[0].locator = "ASIA" + rs(rng, 16, B32)
        tok = "IQoJb3JpZ2luX2VjE" + mixed(rng, rng.randint(300, 420), B64) + "=="
        comps.append(Comp("aws_session_token", tok, "AWS_SESSION_TOKEN", "aws_session_token"))
        py = [
            "session = boto3.Session(\n    aws_access_key_id=@Q@@0@@Q@,\n    aws_secret_access_key=@Q@@1@@Q@,\n    aws_session_token=@Q@@2@@Q@,\n)"
        ]
    for c in comps:
        c.locator = c.value
    return Secret(comps, py)


def pem_body(rng: random.Random, kind: str) -> tuple[str, str]:
    """(armoured key, locator) for a private key of ``kind``."""
    if kind == "openssh":
        head, tail, width = "OPENSSH PRIVATE KEY", "OPENSSH PRIVATE KEY", 70
        raw = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" + rs(
            rng, 330, B64
        )
    elif kind == "ec":
        head, tail, width = "EC PRIVATE KEY", "EC PRIVATE KEY", 64
        raw = "MHcCAQEEI" + rs(rng, 218, B64) + "=="
    elif kind == "pkcs8":
        head, tail, width = "PRIVATE KEY", "PRIVATE KEY", 64
        raw = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ" + rs(rng, 1550, B64) + "="
    elif kind == "pgp":
        head, tail, width = "PGP PRIVATE KEY BLOCK", "PGP PRIVATE KEY BLOCK", 64
        raw = "lQOYBG" + rs(rng, 1200, B64)
    else:
        head, tail, width = "RSA PRIVATE KEY", "RSA PRIVATE KEY", 64
        raw = "MIIEpAIBAAKCAQEA" + rs(rng, 1570, B64) + "=="
    lines = [raw[i : i + width] for i in range(0, len(raw), width)]
    blank = [""] if kind == "pgp" else []
    crc = ["=" + rs(rng, 4, B64)] if kind == "pgp" else []
    text = "\n".join([f"-----BEGIN {head}-----", *blank, *lines, *crc, f"-----END {tail}-----"])
    return text, lines[1][5:45]


def private_key(rng: random.Random) -> Secret:
    kind = rng.choice(["rsa", "rsa", "openssh", "ec", "pkcs8", "pgp"])
    t = {"openssh": "openssh_private_key", "pgp": "pgp_private_key"}.get(kind, "pem_private_key")
    text, loc = pem_body(rng, kind)
    env = rng.choice(
        ["SSH_PRIVATE_KEY", "DEPLOY_KEY", "PRIVATE_KEY", "SIGNING_KEY", "JWT_PRIVATE_KEY"]
    )
    return Secret([Comp(t, text, env, env.lower(), loc)], pem=True)


def gcp_sa(rng: random.Random, project: str) -> tuple[dict[str, str], str]:
    text, loc = pem_body(rng, "pkcs8")
    name = rng.choice(["trainer", "vertex-pipelines", "bq-reader", "dvc-remote", "ml-ops"])
    doc = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": hexs(rng, 40),
        "private_key": text + "\n",
        "client_email": f"{name}@{project}.iam.gserviceaccount.com",
        "client_id": "1" + rs(rng, 20, DIG),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{name}%40{project}.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com",
    }
    return doc, loc


HOSTS = [
    "db.internal",
    "10.0.3.17",
    "ml-postgres.c9akciq32.eu-west-1.rds.amazonaws.com",
    "feature-store.prod.svc",
    "warehouse-01",
]
USERS = ["mlflow", "airflow", "trainer", "analytics", "etl_user", "admin", "datasci"]


def db_url(rng: random.Random) -> Secret:
    pw = human_password(rng).replace("%", "").replace("#", "")
    user, host = rng.choice(USERS), rng.choice(HOSTS)
    kind = rng.choice(["postgres", "postgres", "mysql", "mongodb", "redis", "snowflake", "mssql"])
    if kind == "postgres":
        scheme = rng.choice(["postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"])
        url, t = (
            f"{scheme}://{user}:{pw}@{host}:5432/{rng.choice(['mlflow', 'features', 'labels'])}",
            "postgres_url",
        )
    elif kind == "mysql":
        url, t = (
            f"{rng.choice(['mysql', 'mysql+pymysql'])}://{user}:{pw}@{host}:3306/experiments",
            "mysql_url",
        )
    elif kind == "mssql":
        url, t = (
            f"mssql+pyodbc://{user}:{pw}@{host}/scoring?driver=ODBC+Driver+18+for+SQL+Server",
            "mssql_url",
        )
    elif kind == "mongodb":
        url = f"mongodb+srv://{user}:{pw}@cluster0.{rs(rng, 5, LO + DIG)}.mongodb.net/?retryWrites=true&w=majority"
        if rng.random() < 0.4:
            url = f"mongodb://{user}:{pw}@{host}:27017/annotations?authSource=admin"
        t = "mongodb_url"
    elif kind == "redis":
        url = rng.choice(
            [
                f"redis://:{pw}@{host}:6379/0",
                f"redis://default:{pw}@{host}:6379",
                f"rediss://default:{pw}@{host}:6380/1",
            ]
        )
        t = "redis_url"
    else:
        acct = rs(rng, 7, UP + DIG).lower() + "-" + rs(rng, 7, LO)
        url, t = (
            f"snowflake://{user}:{pw}@{acct}/ML_DB/PUBLIC?warehouse=COMPUTE_WH&role=ML_ROLE",
            "snowflake_url",
        )
    envs = [
        "DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        "DB_URI",
        "BACKEND_STORE_URI",
        "CELERY_BROKER_URL",
        "CONN_STR",
        "FEATURE_STORE_URL",
    ]
    py = [
        "engine = create_engine(@Q@@0@@Q@)",
        "engine = sqlalchemy.create_engine(@Q@@0@@Q@, pool_pre_ping=True)",
        "df = pd.read_sql(query, @Q@@0@@Q@)",
    ]
    if t == "mongodb_url":
        py = ["client = MongoClient(@Q@@0@@Q@)"]
    if t == "redis_url":
        py = ["r = redis.from_url(@Q@@0@@Q@)", "app = Celery('tasks', broker=@Q@@0@@Q@)"]
    if t == "postgres_url" and rng.random() < 0.3:
        # a password literal inside an f-string URL
        py = [f'DB_URL = f"postgresql://{{DB_USER}}:{pw}@{{DB_HOST}}:5432/{{DB_NAME}}"']
    return Secret(
        [
            Comp(
                t,
                url,
                rng.choice(envs),
                rng.choice(["url", "uri", "sqlalchemy_url", "connection_string"]),
                pw,
            )
        ],
        py,
    )


def mlflow_uri(rng: random.Random) -> Secret:
    pw = human_password(rng).replace("%", "").replace("#", "")
    user = rng.choice([*USERS, "ds-team"])
    host = rng.choice(
        ["mlflow.example-corp.io", "tracking.ml.internal", "mlflow-server:5000", "10.20.0.5:5000"]
    )
    scheme = "http" if ":" in host else "https"
    if rng.random() < 0.5:
        url = f"{scheme}://{user}:{pw}@{host}"
        return Secret(
            [Comp("mlflow_tracking_uri", url, "MLFLOW_TRACKING_URI", "tracking_uri", pw)],
            ["mlflow.set_tracking_uri(@Q@@0@@Q@)", "client = MlflowClient(tracking_uri=@Q@@0@@Q@)"],
        )
    return Secret(
        [
            Comp(None, user, "MLFLOW_TRACKING_USERNAME", "username"),
            Comp("mlflow_password", pw, "MLFLOW_TRACKING_PASSWORD", "password"),
        ]
    )


def airflow_conn(rng: random.Random) -> Secret:
    pw = human_password(rng).replace("%", "").replace("#", "")
    name = rng.choice(["POSTGRES_DEFAULT", "WAREHOUSE", "MLFLOW_DB", "S3_RAW", "SNOWFLAKE_ML"])
    kind = rng.choice(["postgres", "mysql", "snowflake", "http"])
    host = rng.choice(HOSTS)
    url = {
        "postgres": f"postgres://{rng.choice(USERS)}:{pw}@{host}:5432/airflow",
        "mysql": f"mysql://{rng.choice(USERS)}:{pw}@{host}:3306/metrics",
        "snowflake": f"snowflake://{rng.choice(USERS)}:{pw}@/ML_DB/PUBLIC?account=xy{rs(rng, 5, DIG)}&warehouse=WH",
        "http": f"http://{rng.choice(USERS)}:{pw}@labeling-api.internal:8080",
    }[kind]
    return Secret([Comp("airflow_connection", url, f"AIRFLOW_CONN_{name}", "conn_uri", pw)])


def azure_conn(rng: random.Random) -> Secret:
    acct = rs(rng, rng.randint(8, 14), LO + DIG)
    key = mixed(rng, 86, B64) + "=="
    cs = f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey={key};EndpointSuffix=core.windows.net"
    if rng.random() < 0.3:
        return one(
            "azure_storage_key",
            key,
            ["AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY"],
            ["account_key", "storage_key"],
            rng,
            [f'spark.conf.set("fs.azure.account.key.{acct}.dfs.core.windows.net", @Q@@0@@Q@)'],
        )
    c = Comp(
        "azure_storage_connection_string",
        cs,
        rng.choice(["AZURE_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage", "BLOB_CONN_STR"]),
        "connection_string",
        key,
    )
    return Secret([c], ["blob = BlobServiceClient.from_connection_string(@Q@@0@@Q@)"])


def azure_sas(rng: random.Random) -> Secret:
    acct = rs(rng, rng.randint(8, 14), LO + DIG)
    sig = base64.b64encode(rng.randbytes(32)).decode()
    sig_enc = sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    y = rng.randint(2024, 2026)
    tok = rng.choice(
        [
            f"sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se={y}-12-31T23:59:59Z&st={y}-01-01T00:00:00Z&spr=https&sig={sig_enc}",
            f"sp=racwdl&st={y}-03-01T09:12:44Z&se={y}-09-01T17:12:44Z&spr=https&sv=2022-11-02&sr=c&sig={sig_enc}",
            f"sp=r&st={y}-05-20T14:54:52Z&se={y}-05-20T22:54:52Z&spr=https&sv=2021-06-08&sr=b&sig={sig_enc}",
        ]
    )
    url = f"https://{acct}.blob.core.windows.net/{rng.choice(['datasets', 'checkpoints', 'raw'])}?{tok}"
    if rng.random() < 0.5:
        return Secret(
            [Comp("azure_sas_token", url, "AZURE_SAS_URL", "sas_url", sig_enc)],
            ["container = ContainerClient.from_container_url(@Q@@0@@Q@)"],
        )
    return Secret([Comp("azure_sas_token", tok, "AZURE_SAS_TOKEN", "sas_token", sig_enc)])


def jwt(rng: random.Random) -> Secret:
    hdr = b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    body = {
        "sub": uid(rng),
        "iat": rng.randint(1_600_000_000, 1_750_000_000),
        "exp": rng.randint(1_750_000_000, 1_900_000_000),
    }
    if rng.random() < 0.5:
        body["scope"] = rng.choice(["read:models write:runs", "inference", "admin"])
    sig = b64url(rng.randbytes(32 if hdr.startswith("eyJhbGciOiJIUzI1") else 256))
    tok = f"{hdr}.{b64url(json.dumps(body).encode())}.{sig}"
    return one(
        "jwt",
        tok,
        ["API_JWT", "ACCESS_TOKEN", "BEARER_TOKEN", "SERVICE_TOKEN"],
        ["token", "access_token", "bearer"],
        rng,
        [
            'headers = {"Authorization": @Q@Bearer @0@@Q@}',
            "resp = requests.get(url, headers={'Authorization': 'Bearer @0@'})",
        ],
    )


def generic(rng: random.Random) -> Secret:
    if rng.random() < 0.55:
        pw = human_password(rng)
        envs = [
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "REDIS_PASSWORD",
            "SMTP_PASSWORD",
            "ADMIN_PASS",
            "LDAP_BIND_PASSWORD",
            "MINIO_ROOT_PASSWORD",
            "SNOWFLAKE_PASSWORD",
            "PGPASSWORD",
        ]
        return one(
            "generic_password",
            pw,
            envs,
            ["password", "passwd", "db_password", "pwd", "pass"],
            rng,
            [
                "conn = psycopg2.connect(host=DB_HOST, user=@Q@etl_user@Q@, password=@Q@@0@@Q@, dbname=@Q@features@Q@)",
                "ctx = snowflake.connector.connect(user=@Q@ML_SVC@Q@, password=@Q@@0@@Q@, account=@Q@xy12345.eu-west-1@Q@)",
                "server.login(@Q@alerts@example-corp.io@Q@, @Q@@0@@Q@)",
            ],
        )
    val = rng.choice([mixed(rng, rng.randint(24, 48)), hexs(rng, 64), mixed(rng, 32, URLS)])
    envs = [
        "API_SECRET",
        "CLIENT_SECRET",
        "APP_SECRET_KEY",
        "SECRET_KEY",
        "LABELBOX_API_KEY",
        "INTERNAL_API_TOKEN",
        "FEATURE_API_KEY",
        "SCALE_API_KEY",
        "WEBHOOK_SECRET",
        "FLASK_SECRET_KEY",
    ]
    return one(
        "generic_secret",
        val,
        envs,
        ["api_key", "secret", "client_secret", "api_token", "secret_key", "apikey"],
        rng,
        [
            "app.config[@Q@SECRET_KEY@Q@] = @Q@@0@@Q@",
            "requests.post(url, json=payload, headers={@Q@x-api-key@Q@: @Q@@0@@Q@})",
        ],
    )


def simple(
    t: str,
    make: Callable[[random.Random], str],
    envs: list[str],
    fields: list[str],
    py: list[str] | None = None,
) -> Callable[[random.Random], Secret]:
    return lambda rng: one(t, make(rng), envs, fields, rng, py)


def _openai(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return "sk-proj-" + mixed(rng, 74, URLS) + "T3BlbkFJ" + mixed(rng, 74, URLS)
    if rng.random() < 0.5:
        return "sk-svcacct-" + mixed(rng, 74, URLS) + "T3BlbkFJ" + mixed(rng, 74, URLS)
    return "sk-" + mixed(rng, 20) + "T3BlbkFJ" + mixed(rng, 20)


def _twilio(rng: random.Random) -> Secret:
    sid = Comp(None, "AC" + hexs(rng, 32), "TWILIO_ACCOUNT_SID", "account_sid")
    if rng.random() < 0.3:
        key = Comp("twilio_api_key", "SK" + hexs(rng, 32), "TWILIO_API_KEY", "api_key_sid")
        sec = Comp("twilio_api_secret", mixed(rng, 32), "TWILIO_API_SECRET", "api_key_secret")
        return Secret([sid, key, sec], ["client = Client(@Q@@1@@Q@, @Q@@2@@Q@, @Q@@0@@Q@)"])
    tok = Comp("twilio_auth_token", hexs(rng, 32), "TWILIO_AUTH_TOKEN", "auth_token")
    return Secret(
        [sid, tok],
        [
            "client = Client(@Q@@0@@Q@, @Q@@1@@Q@)",
            "account_sid = @Q@@0@@Q@\nauth_token = @Q@@1@@Q@\nclient = Client(account_sid, auth_token)",
        ],
    )


def _kaggle(rng: random.Random) -> Secret:
    user = Comp(
        None,
        rng.choice(["jdoe", "ml-sarah", "kagglerx", "tkumar"]) + str(rng.randint(1, 99)),
        "KAGGLE_USERNAME",
        "username",
    )
    return Secret(
        [user, Comp("kaggle_api_key", hexs(rng, 32), "KAGGLE_KEY", "key")],
        ['api_token = {"username": @Q@@0@@Q@, "key": @Q@@1@@Q@}'],
    )


def _neptune(rng: random.Random) -> str:
    doc = {
        "api_address": "https://app.neptune.ai",
        "api_url": "https://app.neptune.ai",
        "api_key": uid(rng),
    }
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


SECRET_TYPES: dict[str, tuple[float, Callable[[random.Random], Secret]]] = {
    "aws": (8, aws),
    "private_key": (4, private_key),
    "db_url": (8, db_url),
    "mlflow": (4, mlflow_uri),
    "airflow": (2, airflow_conn),
    "azure_conn": (3, azure_conn),
    "azure_sas": (3, azure_sas),
    "jwt": (2, jwt),
    "generic": (9, generic),
    "twilio": (2, _twilio),
    "kaggle": (4, _kaggle),
    "openai": (
        6,
        simple(
            "openai_api_key",
            _openai,
            ["OPENAI_API_KEY", "OPENAI_KEY", "OAI_KEY"],
            ["api_key", "openai_api_key"],
            [
                "client = OpenAI(api_key=@Q@@0@@Q@)",
                "openai.api_key = @Q@@0@@Q@",
                "llm = ChatOpenAI(model=@Q@gpt-4o-mini@Q@, temperature=0, openai_api_key=@Q@@0@@Q@)",
            ],
        ),
    ),
    "anthropic": (
        3,
        simple(
            "anthropic_api_key",
            lambda r: "sk-ant-api03-" + mixed(r, 93, URLS) + "AA",
            ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"],
            ["api_key", "anthropic_key"],
            ["client = anthropic.Anthropic(api_key=@Q@@0@@Q@)"],
        ),
    ),
    "hf": (
        6,
        simple(
            "huggingface_token",
            lambda r: "hf_" + mixed(r, 34, string.ascii_letters),
            ["HF_TOKEN", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"],
            ["hf_token", "token", "hub_token"],
            [
                "login(token=@Q@@0@@Q@)",
                "huggingface_hub.login(@Q@@0@@Q@)",
                "model = AutoModelForCausalLM.from_pretrained(@Q@meta-llama/Llama-3.1-8B@Q@, token=@Q@@0@@Q@)",
                "ds = load_dataset(@Q@acme/private-eval@Q@, use_auth_token=@Q@@0@@Q@)",
                "trainer.push_to_hub(@Q@acme/ft-model@Q@, token=@Q@@0@@Q@)",
            ],
        ),
    ),
    "wandb": (
        5,
        simple(
            "wandb_api_key",
            lambda r: hexs(r, 40),
            ["WANDB_API_KEY", "WANDB_KEY"],
            ["wandb_api_key", "api_key"],
            ["wandb.login(key=@Q@@0@@Q@)", "wandb.login(key=@Q@@0@@Q@, relogin=True)"],
        ),
    ),
    "comet": (
        2,
        simple(
            "comet_api_key",
            lambda r: mixed(r, 25),
            ["COMET_API_KEY"],
            ["comet_api_key", "api_key"],
            [
                "experiment = Experiment(api_key=@Q@@0@@Q@, project_name=@Q@churn@Q@, workspace=@Q@acme@Q@)",
                "comet_ml.login(api_key=@Q@@0@@Q@)",
            ],
        ),
    ),
    "neptune": (
        2,
        simple(
            "neptune_api_token",
            _neptune,
            ["NEPTUNE_API_TOKEN"],
            ["api_token"],
            ["run = neptune.init_run(project=@Q@acme/cv@Q@, api_token=@Q@@0@@Q@)"],
        ),
    ),
    "databricks": (
        4,
        simple(
            "databricks_token",
            lambda r: "dapi" + hexs(r, 32) + rng_suffix(r),
            ["DATABRICKS_TOKEN", "DATABRICKS_PAT"],
            ["token", "databricks_token"],
            [
                "w = WorkspaceClient(host=@Q@https://adb-1234567890123456.7.azuredatabricks.net@Q@, token=@Q@@0@@Q@)"
            ],
        ),
    ),
    "replicate": (
        1,
        simple(
            "replicate_api_token",
            lambda r: "r8_" + mixed(r, 37),
            ["REPLICATE_API_TOKEN"],
            ["api_token"],
            ["client = replicate.Client(api_token=@Q@@0@@Q@)"],
        ),
    ),
    "groq": (
        1,
        simple(
            "groq_api_key",
            lambda r: "gsk_" + mixed(r, 52),
            ["GROQ_API_KEY"],
            ["api_key"],
            ["client = Groq(api_key=@Q@@0@@Q@)"],
        ),
    ),
    "langsmith": (
        1,
        simple(
            "langsmith_api_key",
            lambda r: "lsv2_pt_" + hexs(r, 32) + "_" + hexs(r, 10),
            ["LANGCHAIN_API_KEY", "LANGSMITH_API_KEY"],
            ["api_key"],
        ),
    ),
    "github": (
        4,
        simple(
            "github_token",
            lambda r: "ghp_" + mixed(r, 36),
            ["GITHUB_TOKEN", "GH_TOKEN", "GH_PAT"],
            ["token", "github_token"],
            ["g = Github(@Q@@0@@Q@)", "headers = {@Q@Authorization@Q@: @Q@token @0@@Q@}"],
        ),
    ),
    "github_fg": (
        2,
        simple(
            "github_fine_grained_token",
            lambda r: "github_pat_11" + rs(r, 20, UP + DIG) + "_" + mixed(r, 59),
            ["GITHUB_TOKEN", "GH_PAT"],
            ["token"],
        ),
    ),
    "gitlab": (
        2,
        simple(
            "gitlab_token",
            lambda r: "glpat-" + mixed(r, 20, URLS),
            ["GITLAB_TOKEN", "CI_JOB_TOKEN_OVERRIDE", "GL_TOKEN"],
            ["private_token", "token"],
            ["gl = gitlab.Gitlab(@Q@https://gitlab.com@Q@, private_token=@Q@@0@@Q@)"],
        ),
    ),
    "slack_token": (
        2,
        simple(
            "slack_token",
            lambda r: f"xoxb-{rs(r, 12, DIG)}-{rs(r, 13, DIG)}-{mixed(r, 24)}",
            ["SLACK_BOT_TOKEN", "SLACK_TOKEN"],
            ["token", "bot_token"],
            ["client = WebClient(token=@Q@@0@@Q@)"],
        ),
    ),
    "slack_webhook": (
        3,
        simple(
            "slack_webhook",
            lambda r: (
                f"https://hooks.slack.com/services/T{rs(r, 8, UP + DIG)}/B{rs(r, 10, UP + DIG)}/{mixed(r, 24)}"
            ),
            ["SLACK_WEBHOOK_URL", "SLACK_WEBHOOK"],
            ["webhook_url", "slack_webhook"],
            ["requests.post(@Q@@0@@Q@, json={@Q@text@Q@: msg})"],
        ),
    ),
    "discord": (
        1,
        simple(
            "discord_webhook",
            lambda r: f"https://discord.com/api/webhooks/{rs(r, 18, DIG)}/{mixed(r, 68, URLS)}",
            ["DISCORD_WEBHOOK_URL"],
            ["webhook"],
        ),
    ),
    "telegram": (
        1,
        simple(
            "telegram_bot_token",
            lambda r: f"{r.randint(10**8, 10**10)}:AA{mixed(r, 33, URLS)}",
            ["TELEGRAM_BOT_TOKEN", "TG_TOKEN"],
            ["bot_token"],
            [
                "bot = telebot.TeleBot(@Q@@0@@Q@)",
                "url = f@Q@https://api.telegram.org/bot@0@/sendMessage@Q@",
            ],
        ),
    ),
    "stripe": (
        2,
        simple(
            "stripe_secret_key",
            lambda r: r.choice(["sk_live_", "rk_live_"]) + mixed(r, r.choice([24, 99])),
            ["STRIPE_SECRET_KEY", "STRIPE_API_KEY"],
            ["secret_key"],
            ["stripe.api_key = @Q@@0@@Q@"],
        ),
    ),
    "sendgrid": (
        2,
        simple(
            "sendgrid_api_key",
            lambda r: "SG." + mixed(r, 22, URLS) + "." + mixed(r, 43, URLS),
            ["SENDGRID_API_KEY"],
            ["api_key"],
            ["sg = SendGridAPIClient(@Q@@0@@Q@)"],
        ),
    ),
    "npm": (1, simple("npm_token", lambda r: "npm_" + mixed(r, 36), ["NPM_TOKEN"], ["token"])),
    "pypi": (
        2,
        simple(
            "pypi_token",
            lambda r: "pypi-AgEIcHlwaS5vcmc" + mixed(r, r.randint(130, 170), URLS),
            ["PYPI_TOKEN", "TWINE_PASSWORD", "UV_PUBLISH_TOKEN"],
            ["password", "token"],
        ),
    ),
    "dockerhub": (
        1,
        simple(
            "dockerhub_token",
            lambda r: "dckr_pat_" + mixed(r, 27, URLS),
            ["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"],
            ["password"],
        ),
    ),
    "gcp_api_key": (
        3,
        simple(
            "gcp_api_key",
            lambda r: "AIza" + mixed(r, 35, URLS),
            ["GOOGLE_API_KEY", "GEMINI_API_KEY", "MAPS_API_KEY"],
            ["api_key", "google_api_key"],
            [
                "genai.configure(api_key=@Q@@0@@Q@)",
                "llm = ChatGoogleGenerativeAI(model=@Q@gemini-1.5-pro@Q@, google_api_key=@Q@@0@@Q@)",
            ],
        ),
    ),
    "gcp_oauth": (
        1,
        simple(
            "google_oauth_client_secret",
            lambda r: "GOCSPX-" + mixed(r, 28, URLS),
            ["GOOGLE_CLIENT_SECRET"],
            ["client_secret"],
        ),
    ),
    "azure_ad": (
        2,
        simple(
            "azure_client_secret",
            lambda r: rs(r, 3, AN) + r.choice(DIG) + "Q~" + mixed(r, 34, AN + "_~.-"),
            ["AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET", "SP_SECRET"],
            ["client_secret"],
            ["credential = ClientSecretCredential(tenant_id, client_id, @Q@@0@@Q@)"],
        ),
    ),
    "jupyter": (1, simple("jupyter_token", lambda r: hexs(r, 48), ["JUPYTER_TOKEN"], ["token"])),
}


def rng_suffix(rng: random.Random) -> str:
    return "-" + str(rng.randint(2, 9)) if rng.random() < 0.3 else ""


def pick_secret(rng: random.Random) -> Secret:
    names = list(SECRET_TYPES)
    weights = [SECRET_TYPES[n][0] for n in names]
    return SECRET_TYPES[rng.choices(names, weights)[0]][1](rng)


# -- hard negatives ----------------------------------------------------------------------

PLACEHOLDER_VALUES = [
    "<YOUR_API_KEY>",
    "<your-token-here>",
    "YOUR_API_KEY",
    "your-api-key",
    "xxxxxxxxxxxxxxxxxxxx",
    "sk-...",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
    "sk-test-xxxx",
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "AKIAXXXXXXXXXXXXXXXX",
    "REPLACE_ME",
    "changeme",
    "********",
    "TODO",
    "<redacted>",
    "dummy",
    "test",
    "insert-key-here",
    "${API_KEY}",
    "{{ secrets.HF_TOKEN }}",
    "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
    "None",
    "",
    "fake-token-for-tests",
    "sk-ant-xxxxxxxx",
    "dapiXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "<password>",
    "password",
    "secret",
]
DOC_EXAMPLES = [
    ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("STRIPE_SECRET_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("DATABASE_URL", "postgresql://user:password@localhost:5432/mydb"),
    ("MONGO_URI", "mongodb+srv://<username>:<password>@cluster0.example.mongodb.net/"),
    (
        "AZURITE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
    ),
    ("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"),
    (
        "EXAMPLE_JWT",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    ("REDIS_URL", "redis://localhost:6379/0"),
    ("MLFLOW_TRACKING_URI", "http://localhost:5000"),
    ("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//"),
]
ENV_LOOKUPS_PY = [
    'api_key = os.environ["OPENAI_API_KEY"]',
    'token = os.getenv("HF_TOKEN")',
    'password = os.environ.get("DB_PASSWORD", "")',
    "wandb.login(key=os.environ['WANDB_API_KEY'])",
    'password = getpass.getpass("Database password: ")',
    'db_password = dbutils.secrets.get(scope="ml-prod", key="db-password")',
    'hf_token = Variable.get("hf_token")',
    "client = OpenAI(api_key=api_key)",
    "login(token=args.hf_token)",
    'secret = secrets_client.get_secret_value(SecretId=SECRET_NAME)["SecretString"]',
    'SECRET_NAME = "prod/ml/feature-store/db-credentials"',
    'token = userdata.get("HF_TOKEN")',
    "password = settings.DATABASE_PASSWORD",
    'aws_secret_access_key = config["aws"]["secret_access_key"]',
    "tokenizer.pad_token = tokenizer.eos_token",
    "max_tokens = 4096",
    'api_key_header = "X-API-Key"',
    "key = jax.random.PRNGKey(42)",
    'token_type = "bearer"',
    "PASSWORD_MIN_LENGTH = 12",
    'secret_ref = {"name": "db-creds", "key": "password"}',
    'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")',
    "password_file = Path('/run/secrets/db_password')",
]


def negative_values(rng: random.Random) -> list[tuple[str, str]]:
    """(name, value) pairs that look like keys but are not secrets."""
    sha40 = hexs(rng, 40)
    return [
        ("revision", sha40),
        ("commit_sha", hexs(rng, 40)),
        ("_commit_hash", hexs(rng, 40)),
        ("run_id", hexs(rng, 32)),
        ("md5", hexs(rng, 32)),
        ("etag", hexs(rng, 32)),
        ("sha256", hexs(rng, 64)),
        ("checksum", "sha256:" + hexs(rng, 64)),
        ("image", f"pytorch/pytorch@sha256:{hexs(rng, 64)}"),
        ("experiment_id", uid(rng)),
        ("dataset_id", uid(rng)),
        ("request_id", uid(rng)),
        ("wandb_run_id", rs(rng, 8, LO + DIG)),
        ("TWILIO_ACCOUNT_SID", "AC" + hexs(rng, 32)),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + mixed(rng, 24)),
        (
            "GOOGLE_CLIENT_ID",
            f"{rs(rng, 12, DIG)}-{rs(rng, 32, LO + DIG)}.apps.googleusercontent.com",
        ),
        ("role_arn", f"arn:aws:iam::{rs(rng, 12, DIG)}:role/SageMakerExecutionRole"),
        ("slack_channel", "C0" + rs(rng, 9, UP + DIG)),
        ("model_id", f"acme/{rng.choice(['bert', 'llama', 'vit'])}-{rs(rng, 6, LO)}"),
        ("trace_id", hexs(rng, 32)),
        ("password_hash", "$2b$12$" + rs(rng, 53, AN + "./")),
        (
            "password_hash",
            "pbkdf2_sha256$600000$"
            + rs(rng, 22)
            + "$"
            + base64.b64encode(rng.randbytes(32)).decode(),
        ),
        ("sentry_env", "production"),
        ("spark_app_id", f"application_{rs(rng, 13, DIG)}_{rs(rng, 4, DIG)}"),
        ("gpu_uuid", "GPU-" + uid(rng)),
        ("integrity", "sha512-" + base64.b64encode(rng.randbytes(64)).decode()),
        ("public_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rs(rng, 43, B64) + " ci@build"),
        ("dvc_remote_md5", hexs(rng, 32) + ".dir"),
        ("commit", hexs(rng, 7)),
    ]


def png_b64(rng: random.Random) -> str:
    return (
        "iVBORw0KGgoAAAANSUhEUgAA"
        + base64.b64encode(rng.randbytes(rng.randint(1500, 9000))).decode()
    )


PUBLIC_PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA{a}\n{b}\nIDAQAB\n-----END PUBLIC KEY-----"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE{a}\n{b}\n-----END CERTIFICATE-----"


# -- rendering: one assignment per format -----------------------------------------------


def q(rng: random.Random) -> str:
    return rng.choice(['"', '"', "'"])


def esc_nl(v: str) -> str:
    return v.replace("\n", "\\n")


def py_assign(rng: random.Random, sec: Secret) -> str:
    vals = [c.value for c in sec.comps]
    qt = q(rng)
    if sec.pem:
        c = sec.comps[0]
        if rng.random() < 0.6:
            return f'{c.env} = """{c.value}\n"""'
        return f'{c.field} = "{esc_nl(c.value)}\\n"'
    if sec.py and rng.random() < 0.55:
        t = rng.choice(sec.py).replace("@Q@", qt)
        for i, v in enumerate(vals):
            t = t.replace(f"@{i}@", v)
        return t
    style = rng.random()
    out = []
    if style < 0.15:  # dict literal
        out.append(rng.choice(["CONFIG", "settings", "creds", "params", "conn_args"]) + " = {")
        out.extend(f"    {qt}{c.field}{qt}: {qt}{c.value}{qt}," for c in sec.comps)
        out.append(f"    {qt}timeout{qt}: 30,")
        out.append("}")
        return "\n".join(out)
    for c in sec.comps:
        s = rng.random()
        if s < 0.35:
            out.append(f"{c.env} = {qt}{c.value}{qt}")
        elif s < 0.6:
            out.append(f"os.environ[{qt}{c.env}{qt}] = {qt}{c.value}{qt}")
        elif s < 0.72:
            out.append(f"{c.field} = {qt}{c.value}{qt}  # TODO move to vault")
        elif s < 0.8:
            out.append(f"# {c.env}={c.value}")
        elif s < 0.88:
            out.append(
                f'parser.add_argument("--{c.field.replace("_", "-")}", default={qt}{c.value}{qt})'
            )
        elif s < 0.94:
            out.append(f"    self.{c.field} = {qt}{c.value}{qt}")
        else:
            out.append(f"os.environ.setdefault({qt}{c.env}{qt}, {qt}{c.value}{qt})")
    return "\n".join(out)


def kv_assign(rng: random.Random, sec: Secret, fmt: str) -> str:
    out = []
    for c in sec.comps:
        v = c.value
        qt = q(rng)
        if fmt == "env":
            if sec.pem:
                out.append(f'{c.env}="{v}"')
                continue
            out.append(
                rng.choice(
                    [f"{c.env}={v}", f'{c.env}="{v}"', f"export {c.env}={v}", f"{c.env}='{v}'"]
                )
            )
        elif fmt == "yaml":
            if sec.pem:
                body = "\n".join("  " + ln for ln in v.splitlines())
                out.append(f"{c.field}: |\n{body}")
                continue
            out.append(
                rng.choice(
                    [
                        f"  {c.field}: {v}",
                        f'  {c.field}: "{v}"',
                        f"  {c.env}: {v}",
                        f"  {c.field}: '{v}'",
                    ]
                )
            )
        elif fmt == "toml":
            out.append(f'{c.field} = """\n{v}\n"""' if sec.pem else f'{c.field} = "{v}"')
        elif fmt == "properties":
            val = esc_nl(v)
            key = rng.choice([c.field, c.field.replace("_", "."), c.env.lower().replace("_", ".")])
            out.append(rng.choice([f"{key}={val}", f"{key} = {val}", f"{key}: {val}"]))
        elif fmt == "ini":
            out.append(f"{c.field} = {esc_nl(v)}")
        elif fmt == "docker":
            if sec.pem:
                out.append(f'ENV {c.env}="{esc_nl(v)}"')
                continue
            out.append(
                rng.choice(
                    [
                        f"ENV {c.env}={v}",
                        f"ENV {c.env} {v}",
                        f'ENV {c.env}="{v}"',
                        f"ARG {c.env}={v}",
                    ]
                )
            )
        elif fmt == "compose":
            out.append(
                rng.choice([f"      - {c.env}={v}", f"      {c.env}: {v}", f'      {c.env}: "{v}"'])
                if not sec.pem
                else f'      {c.env}: "{esc_nl(v)}"'
            )
        elif fmt == "sh":
            if sec.pem:
                out.append(f"cat > ~/.ssh/id_deploy <<'EOF'\n{v}\nEOF\nchmod 600 ~/.ssh/id_deploy")
                continue
            out.append(rng.choice([f'export {c.env}="{v}"', f"export {c.env}={v}", f"{c.env}={v}"]))
        elif fmt == "tf":
            if sec.pem:
                out.append(f"  {c.field} = <<EOT\n{v}\nEOT")
                continue
            out.append(f'  {c.field} = "{v}"')
        elif fmt == "r":
            out.append(
                rng.choice(
                    [
                        f'Sys.setenv({c.env} = "{esc_nl(v)}")',
                        f'{c.field} <- "{esc_nl(v)}"',
                        f"{c.field} = '{esc_nl(v)}'",
                    ]
                )
            )
        elif fmt == "scala":
            out.append(
                rng.choice(
                    [
                        f'val {camel(c.field)} = "{esc_nl(v)}"',
                        f'  .option("{c.field}", "{esc_nl(v)}")',
                        f'spark.conf.set("{c.env.lower().replace("_", ".")}", "{esc_nl(v)}")',
                    ]
                )
            )
        elif fmt == "sql":
            out.append(f"-- {c.env}: {esc_nl(v)}")
        else:
            out.append(f"{c.field}{qt}{v}")
    return "\n".join(out)


def camel(s: str) -> str:
    parts = s.split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


# -- filler: what the rest of an ML repository looks like -------------------------------

PY_FILLER = [
    """import argparse
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

logger = logging.getLogger(__name__)""",
    """class TabularDataset(Dataset):
    def __init__(self, frame, target="label"):
        self.x = torch.tensor(frame.drop(columns=[target]).values, dtype=torch.float32)
        self.y = torch.tensor(frame[target].values, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]""",
    """def train_one_epoch(model, loader, optimizer, device, scaler=None):
    model.train()
    total = 0.0
    for step, (xb, yb) in enumerate(loader):
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cuda", enabled=scaler is not None):
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total += loss.item()
        if step % 50 == 0:
            logger.info("step %d loss %.4f", step, loss.item())
    return total / max(1, len(loader))""",
    """@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    correct = n = 0
    for xb, yb in loader:
        pred = model(xb.to(device)).argmax(dim=-1).cpu()
        correct += (pred == yb).sum().item()
        n += len(yb)
    return correct / max(1, n)""",
    """def parse_args():
    parser = argparse.ArgumentParser(description="fine-tune a classifier")
    parser.add_argument("--data", type=Path, default=Path("data/train.parquet"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs"))
    return parser.parse_args()""",
    """def set_seed(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)""",
    """training_args = TrainingArguments(
    output_dir="checkpoints",
    per_device_train_batch_size=16,
    gradient_accumulation_steps=4,
    learning_rate=2e-5,
    num_train_epochs=3,
    warmup_ratio=0.06,
    logging_steps=25,
    eval_strategy="steps",
    save_total_limit=2,
    report_to=["wandb"],
    bf16=True,
)""",
    """if __name__ == "__main__":
    args = parse_args()
    set_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    logging.basicConfig(level=logging.INFO)
    logger.info("training on %s", device)""",
    """def load_features(path):
    df = pd.read_parquet(path)
    df = df.dropna(subset=["label"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    num_cols = [c for c in df.columns if df[c].dtype.kind in "if" and c != "label"]
    df[num_cols] = (df[num_cols] - df[num_cols].mean()) / df[num_cols].std().replace(0, 1)
    return df""",
]


def py_negatives(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            out.append(rng.choice(ENV_LOOKUPS_PY))
        elif r < 0.55:
            name, v = rng.choice(PLACEHOLDER_NAMES), rng.choice(PLACEHOLDER_VALUES)
            out.append(
                rng.choice(
                    [
                        f'{name} = "{v}"',
                        f'{name} = "{v}"  # set your own',
                        f'os.environ["{name.upper()}"] = "{v}"',
                    ]
                )
            )
        elif r < 0.65:
            name, v = rng.choice(DOC_EXAMPLES)
            out.append(f'{name} = "{v}"  # example from the docs')
        else:
            name, v = rng.choice(negative_values(rng))
            out.append(
                rng.choice(
                    [f'{name} = "{v}"', f'{name.upper()} = "{v}"', f'meta["{name}"] = "{v}"']
                )
            )
    return out


PLACEHOLDER_NAMES = [
    "api_key",
    "OPENAI_API_KEY",
    "HF_TOKEN",
    "password",
    "db_password",
    "token",
    "secret_key",
    "WANDB_API_KEY",
    "aws_secret_access_key",
    "client_secret",
]


def cfg_negatives(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            out.append((rng.choice(PLACEHOLDER_NAMES), rng.choice(PLACEHOLDER_VALUES)))
        elif r < 0.45:
            out.append(rng.choice(DOC_EXAMPLES))
        elif r < 0.6:
            env = rng.choice(
                [
                    "DB_PASSWORD",
                    "HF_TOKEN",
                    "WANDB_API_KEY",
                    "OPENAI_API_KEY",
                    "AWS_SECRET_ACCESS_KEY",
                ]
            )
            out.append(
                (
                    env.lower(),
                    rng.choice(
                        [
                            f"${{{env}}}",
                            f"${env}",
                            f"{{{{ env_var('{env}') }}}}",
                            f"${{oc.env:{env}}}",
                        ]
                    ),
                )
            )
        else:
            out.append(rng.choice(negative_values(rng)))
    return out


def neg_line(fmt: str, name: str, v: str) -> str:
    return {
        "env": f"{name.upper()}={v}",
        "yaml": f'  {name}: "{v}"',
        "toml": f'{name} = "{v}"',
        "properties": f"{name.replace('_', '.')}={v}",
        "ini": f"{name} = {v}",
        "docker": f"ENV {name.upper()}={v}" if v else f"ARG {name.upper()}",
        "compose": f'      {name.upper()}: "{v}"',
        "sh": f'{name.upper()}="{v}"',
        "tf": f'  {name} = "{v}"',
        "r": f'{name} <- "{v}"',
        "scala": f'val {camel(name)} = "{v}"',
        "sql": f"-- {name}: {v}",
    }[fmt]


# -- files -------------------------------------------------------------------------------


@dataclass
class FileOut:
    path: str
    text: str
    secrets: list[Secret]
    notebook: bool = False


def _interleave(rng: random.Random, blocks: list[str], plants: list[str]) -> list[str]:
    out = list(blocks)
    for p in plants:
        out.insert(rng.randint(0, len(out)), p)
    return out


def make_python(rng: random.Random, idx: int, secrets: list[Secret]) -> FileOut:
    blocks = [PY_FILLER[0], *rng.sample(PY_FILLER[1:], rng.randint(3, 7))]
    plants = [py_assign(rng, s) for s in secrets]
    negs = py_negatives(rng, rng.randint(3, 9))
    body = _interleave(
        rng, blocks, plants + ["\n".join(negs[i : i + 3]) for i in range(0, len(negs), 3)]
    )
    name = rng.choice(
        [
            "train",
            "finetune",
            "evaluate",
            "ingest",
            "serve",
            "pipeline",
            "upload_model",
            "features",
            "utils",
            "config",
            "settings",
            "dag",
        ]
    )
    folder = rng.choice(["src", "scripts", "pipelines", "app", "dags", "ml", "research"])
    return FileOut(f"{folder}/{name}_{idx}.py", "\n\n\n".join(body) + "\n", secrets)


def make_kv(rng: random.Random, idx: int, secrets: list[Secret], fmt: str) -> FileOut:
    negs = [neg_line(fmt, n, v) for n, v in cfg_negatives(rng, rng.randint(4, 12))]
    filler = {
        "env": [
            "# local development settings",
            "DEBUG=false",
            "LOG_LEVEL=info",
            "MODEL_NAME=distilbert-base-uncased",
            "BATCH_SIZE=32",
            "AWS_DEFAULT_REGION=eu-west-1",
            "MLFLOW_EXPERIMENT_NAME=churn",
        ],
        "yaml": [
            "training:",
            "  epochs: 20",
            "  lr: 0.0003",
            "  batch_size: 64",
            "  mixed_precision: bf16",
            "data:",
            "  path: s3://acme-ml-data/train/",
            "  val_split: 0.1",
        ],
        "toml": [
            "[tool.trainer]",
            'model = "roberta-base"',
            "max_len = 256",
            "[storage]",
            'bucket = "acme-ml-artifacts"',
        ],
        "properties": [
            "spark.executor.memory=8g",
            "spark.sql.shuffle.partitions=400",
            "app.name=feature-pipeline",
            "# connection settings",
        ],
        "ini": ["[default]", "region = eu-west-1", "output = json", "[server]", "port = 5000"],
        "docker": [
            "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
            "WORKDIR /app",
            "COPY requirements.txt .",
            "RUN pip install --no-cache-dir -r requirements.txt",
            "COPY . .",
            'CMD ["python", "serve.py"]',
        ],
        "compose": ["services:", "  trainer:", "    image: acme/trainer:1.4.2", "    environment:"],
        "sh": [
            "#!/usr/bin/env bash",
            "set -euo pipefail",
            "python -m pip install -r requirements.txt",
            'python train.py --epochs 10 --output-dir "$OUT"',
        ],
        "tf": [
            'resource "aws_s3_bucket" "artifacts" {',
            '  bucket = "acme-ml-artifacts"',
            "}",
            'provider "aws" {',
            '  region = "eu-west-1"',
        ],
        "r": [
            "library(dplyr)",
            "library(DBI)",
            'df <- read.csv("data/train.csv")',
            "model <- glm(label ~ ., data = df, family = binomial)",
            "summary(model)",
        ],
        "scala": [
            "import org.apache.spark.sql.SparkSession",
            'val spark = SparkSession.builder.appName("features").getOrCreate()',
            'val df = spark.read.parquet("s3a://acme-ml-data/raw/")',
        ],
        "sql": [
            "CREATE TABLE IF NOT EXISTS features (id BIGINT, f1 DOUBLE, label INT);",
            "INSERT INTO runs SELECT * FROM staging_runs;",
            "GRANT SELECT ON features TO analyst;",
        ],
    }[fmt]
    plants = []
    for s in secrets:
        if fmt == "sql" and not s.pem:
            plants.append(sql_secret(rng, s))
        elif fmt == "tf" and not s.pem:
            plants.append(tf_secret(rng, s))
        elif fmt == "sh" and len(s.comps) == 1 and not s.pem and rng.random() < 0.4:
            plants.append(sh_cli(rng, s))
        else:
            plants.append(kv_assign(rng, s, fmt))
    lines = list(filler)
    for chunk in plants + negs:
        lines.insert(rng.randint(4 if fmt == "compose" else 0, len(lines)), chunk)
    if fmt == "tf":
        lines.append("}")
    if fmt == "compose":
        lines += ["  postgres:", "    image: postgres:16", "    ports:", '      - "5432:5432"']
    ext = {
        "env": ".env",
        "yaml": ".yaml",
        "toml": ".toml",
        "properties": ".properties",
        "ini": ".cfg",
        "docker": "Dockerfile",
        "compose": "docker-compose.yml",
        "sh": ".sh",
        "tf": ".tf",
        "r": ".R",
        "scala": ".scala",
        "sql": ".sql",
    }[fmt]
    if fmt in ("docker", "compose"):
        path = f"deploy/svc{idx}/{ext}"
    elif fmt == "env":
        path = f"svc{idx}/{rng.choice(['.env', '.env.local', '.env.prod', 'dev.env'])}"
    elif fmt == "ini":
        path = f"conf{idx}/{rng.choice(['credentials', 'setup.cfg', '.pypirc', 'alembic.ini', 'mlflow.cfg'])}"
    else:
        path = f"{rng.choice(['configs', 'infra', 'etc', 'jobs', 'analysis'])}/file_{idx}{ext}"
    return FileOut(path, "\n".join(lines) + "\n", secrets)


def sql_secret(rng: random.Random, s: Secret) -> str:
    c = s.comps
    if c[0].type == "aws_access_key_id":
        tok = f"\n    AWS_TOKEN='{c[2].value}'" if len(c) > 2 else ""
        return f"CREATE STAGE raw_stage URL='s3://acme-raw/'\n  CREDENTIALS=(AWS_KEY_ID='{c[0].value}'\n    AWS_SECRET_KEY='{c[1].value}'{tok});"
    if len(c) == 1 and c[0].type in ("generic_password", "mlflow_password"):
        return rng.choice(
            [
                f"CREATE USER ml_reader IDENTIFIED BY '{c[0].value}';",
                f"ALTER USER etl WITH PASSWORD '{c[0].value}';",
                f"CREATE USER svc_ml PASSWORD = '{c[0].value}' DEFAULT_ROLE = ML_ROLE;",
            ]
        )
    return "\n".join(f"-- {x.env}={x.value}" for x in c)


def tf_secret(rng: random.Random, s: Secret) -> str:
    c = s.comps
    if c[0].type == "aws_access_key_id":
        tok = f'\n  token      = "{c[2].value}"' if len(c) > 2 else ""
        return f'  access_key = "{c[0].value}"\n  secret_key = "{c[1].value}"{tok}'
    if len(c) == 1 and c[0].type == "generic_password":
        return f'resource "aws_db_instance" "mlflow" {{\n  engine   = "postgres"\n  username = "mlflow"\n  password = "{c[0].value}"\n}}'
    return "\n".join(
        f'variable "{x.field}_{rng.randint(1, 99)}" {{\n  default = "{x.value}"\n}}' for x in c
    )


def sh_cli(rng: random.Random, s: Secret) -> str:
    c = s.comps[-1]
    t = c.type
    if t == "huggingface_token":
        return f"huggingface-cli login --token {c.value}"
    if t == "wandb_api_key":
        return f"wandb login {c.value}"
    if t in ("dockerhub_token", "generic_password"):
        return f"docker login -u acmebot -p {c.value}"
    if t in ("github_token", "gitlab_token", "github_fine_grained_token"):
        return f"git clone https://oauth2:{c.value}@gitlab.com/acme/ml-platform.git"
    if t == "pypi_token":
        return f"twine upload -u __token__ -p {c.value} dist/*"
    if t in ("slack_webhook", "discord_webhook"):
        return f"curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"training done\"}}' {c.value}"
    return (
        f'python train.py --epochs 3 --{c.field.replace("_", "-")} "{c.value}"'
        if rng.random() < 0.5
        else f'curl -s -H "Authorization: Bearer {c.value}" https://api.internal/v1/models'
    )


def make_json_cfg(rng: random.Random, idx: int, secrets: list[Secret]) -> FileOut:
    doc: dict[str, object] = {
        "experiment": f"exp-{idx}",
        "model": {"name": "resnet50", "pretrained": True},
        "trainer": {"max_epochs": 30, "precision": "16-mixed"},
    }
    sect: dict[str, object] = {}
    for s in secrets:
        for c in s.comps:
            key, n = c.field, 1
            while key in sect:
                key, n = f"{c.env.lower()}_{n}", n + 1
            sect[key] = c.value
    if secrets:
        doc[rng.choice(["credentials", "auth", "secrets", "connections", "logging"])] = sect
    for n, v in cfg_negatives(rng, rng.randint(3, 8)):
        doc.setdefault("meta", {})[n] = v  # type: ignore[index]
    return FileOut(
        f"configs/run_{idx}.json", json.dumps(doc, indent=rng.choice([2, 4])) + "\n", secrets
    )


def make_special(rng: random.Random, idx: int) -> FileOut:
    """Credential files with their own shapes: .netrc, kaggle.json, SA JSON, .npmrc, jupyter."""
    kind = rng.choice(
        ["netrc", "kaggle", "gcp", "gcp", "npmrc", "jupyter", "pip", "awscred", "pem"]
    )
    if kind == "netrc":
        k = hexs(rng, 40)
        pw = human_password(rng)
        s = [
            Secret([Comp("wandb_api_key", k, "", "")]),
            Secret([Comp("generic_password", pw, "", "")]),
        ]
        text = f"machine api.wandb.ai\n  login user\n  password {k}\nmachine nexus.internal login deploy password {pw}\nmachine github.com login x-access-token password $GITHUB_TOKEN\n"
        return FileOut(f"home{idx}/.netrc", text, s)
    if kind == "kaggle":
        k = hexs(rng, 32)
        text = json.dumps({"username": f"kaggler{rng.randint(1, 999)}", "key": k})
        return FileOut(
            f"home{idx}/.kaggle/kaggle.json",
            text + "\n",
            [Secret([Comp("kaggle_api_key", k, "", "")])],
        )
    if kind == "gcp":
        doc, loc = gcp_sa(rng, f"acme-ml-{rs(rng, 6, LO + DIG)}")
        name = rng.choice(
            [
                "service-account.json",
                "gcp-key.json",
                "credentials.json",
                f"{doc['project_id']}-{doc['private_key_id'][:12]}.json",
            ]
        )
        return FileOut(
            f"keys{idx}/{name}",
            json.dumps(doc, indent=2) + "\n",
            [Secret([Comp("gcp_service_account", doc["private_key"], "", "", loc)], pem=True)],
        )
    if kind == "npmrc":
        t = "npm_" + mixed(rng, 36)
        return FileOut(
            f"web{idx}/.npmrc",
            f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={t}\n@acme:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=${{GITHUB_TOKEN}}\n",
            [Secret([Comp("npm_token", t, "", "")])],
        )
    if kind == "jupyter":
        t = hexs(rng, 48)
        text = (
            "# Configuration file for jupyter-server.\nc = get_config()  # noqa\n"
            "c.ServerApp.ip = '0.0.0.0'\nc.ServerApp.open_browser = False\n"
            f"c.ServerApp.password = 'argon2:$argon2id$v=19$m=10240,t=10,p=8${rs(rng, 22, B64)}${rs(rng, 43, B64)}'\n"
            f"c.{rng.choice(['ServerApp', 'NotebookApp', 'IdentityProvider'])}.token = '{t}'\nc.ServerApp.port = 8888\n"
        )
        return FileOut(
            f"ops{idx}/jupyter_server_config.py", text, [Secret([Comp("jupyter_token", t, "", "")])]
        )
    if kind == "pip":
        pw = human_password(rng).replace("%", "").replace("#", "")
        tok = "pypi-AgEIcHlwaS5vcmc" + mixed(rng, 140, URLS)
        lines = [
            "--index-url https://pypi.org/simple",
            f"--extra-index-url https://deploy:{pw}@nexus.acme-corp.io/repository/pypi-ml/simple",
            f"torch==2.4.1 \\\n    --hash=sha256:{hexs(rng, 64)} \\\n    --hash=sha256:{hexs(rng, 64)}",
            f"numpy==1.26.4 --hash=sha256:{hexs(rng, 64)}",
            f"transformers @ git+https://github.com/huggingface/transformers@{hexs(rng, 40)}",
            "scikit-learn>=1.4",
        ]
        s = [Secret([Comp("url_credentials", pw, "", "", pw)])]
        if rng.random() < 0.5:
            lines.insert(2, f"--extra-index-url https://__token__:{tok}@pypi.acme-corp.io/simple")
            s.append(Secret([Comp("pypi_token", tok, "", "")]))
        return FileOut(f"req{idx}/requirements.txt", "\n".join(lines) + "\n", s)
    if kind == "awscred":
        a = aws(rng)
        text = (
            "[default]\n"
            + "\n".join(f"{c.field} = {c.value}" for c in a.comps)
            + "\nregion = us-west-2\n\n[profile example]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        )
        return FileOut(f"home{idx}/.aws/credentials", text, [a])
    s = private_key(rng)
    return FileOut(
        f"deploy{idx}/{rng.choice(['id_rsa', 'deploy_key', 'signing.key', 'tls.key'])}",
        s.comps[0].value + "\n",
        [s],
    )


def make_negative_only(rng: random.Random, idx: int) -> FileOut:
    """Files that real repos hold and that are full of key-shaped strings: none is a secret."""
    kind = rng.choice(
        ["poetry", "npm", "dvc", "readme", "hfconfig", "pem_public", "model_card", "test_fixture"]
    )
    if kind == "poetry":
        parts = []
        for _ in range(rng.randint(20, 60)):
            name = rs(rng, rng.randint(4, 12), LO)
            parts.append(
                f'[[package]]\nname = "{name}"\nversion = "{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"\noptional = false\npython-versions = ">=3.9"\nfiles = [\n    {{file = "{name}-1.0-py3-none-any.whl", hash = "sha256:{hexs(rng, 64)}"}},\n    {{file = "{name}-1.0.tar.gz", hash = "sha256:{hexs(rng, 64)}"}},\n]\n'
            )
        return FileOut(
            f"lock{idx}/poetry.lock",
            "\n".join(parts) + f'\n[metadata]\ncontent-hash = "{hexs(rng, 64)}"\n',
            [],
        )
    if kind == "npm":
        pk: dict[str, object] = {}
        for _ in range(rng.randint(20, 60)):
            name = rs(rng, rng.randint(4, 10), LO)
            pk[f"node_modules/{name}"] = {
                "version": "1.2.3",
                "resolved": f"https://registry.npmjs.org/{name}/-/{name}-1.2.3.tgz",
                "integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode(),
            }
        return FileOut(
            f"ui{idx}/package-lock.json",
            json.dumps({"name": "dashboard", "lockfileVersion": 3, "packages": pk}, indent=2)
            + "\n",
            [],
        )
    if kind == "dvc":
        stages = [
            f"  stage{s}:\n    cmd: python src/stage{s}.py\n    deps:\n    - path: data/raw\n      hash: md5\n      md5: {hexs(rng, 32)}.dir\n      size: {rng.randint(10**5, 10**9)}\n      nfiles: {rng.randint(1, 900)}\n    outs:\n    - path: models/model{s}.pt\n      md5: {hexs(rng, 32)}\n"
            for s in range(rng.randint(3, 10))
        ]
        return FileOut(f"dvc{idx}/dvc.lock", "schema: '2.0'\nstages:\n" + "".join(stages), [])
    if kind == "readme":
        text = (
            "# Fine-tuning recipes\n\nSet your credentials before running:\n\n```bash\n"
            "export OPENAI_API_KEY=sk-...\nexport HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
            "export WANDB_API_KEY=<your-wandb-key>\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
            "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n\n"
            "Connect with `postgresql://user:password@localhost:5432/mlflow` or set `DATABASE_URL`.\n\n"
            f"Checkpoint `model.safetensors` sha256: `{hexs(rng, 64)}`\n\n"
            f"Pinned to transformers commit {hexs(rng, 40)}.\n\n"
            f"![loss curve](data:image/png;base64,{png_b64(rng)[:3000]})\n"
        )
        return FileOut(f"docs{idx}/README.md", text, [])
    if kind == "hfconfig":
        doc = {
            "_name_or_path": "bert-base-uncased",
            "_commit_hash": hexs(rng, 40),
            "architectures": ["BertForSequenceClassification"],
            "hidden_size": 768,
            "id2label": {"0": "neg", "1": "pos"},
            "transformers_version": "4.44.2",
            "vocab_size": 30522,
        }
        return FileOut(f"models{idx}/config.json", json.dumps(doc, indent=2) + "\n", [])
    if kind == "pem_public":
        a, b = rs(rng, 40, B64), rs(rng, 64, B64)
        return FileOut(
            f"certs{idx}/{rng.choice(['public.pem', 'ca.crt'])}",
            rng.choice([PUBLIC_PEM, CERT_PEM]).format(a=a, b=b) + "\n",
            [],
        )
    if kind == "model_card":
        rows = "\n".join(
            f"| {rs(rng, 8, LO)}.bin | {hexs(rng, 64)} | {hashlib.md5(rng.randbytes(8)).hexdigest()} |"
            for _ in range(rng.randint(3, 12))
        )
        return FileOut(
            f"models{idx}/MODEL_CARD.md",
            f"---\nlicense: apache-2.0\nbase_model: acme/base\n---\n# Checksums\n\n| file | sha256 | md5 |\n|---|---|---|\n{rows}\n",
            [],
        )
    lines = ["import pytest", "", "", "@pytest.fixture", "def fake_env(monkeypatch):"]
    for n, v in [
        ("OPENAI_API_KEY", "sk-test-xxxx"),
        ("HF_TOKEN", "hf_test"),
        ("WANDB_API_KEY", "0" * 40),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("DB_PASSWORD", "test"),
        ("STRIPE_SECRET_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        ("KAGGLE_KEY", "x" * 32),
    ]:
        lines.append(f'    monkeypatch.setenv("{n}", "{v}")')
    lines += [
        "",
        "",
        "def test_run_id_is_hex():",
        f'    assert is_run_id("{hexs(rng, 32)}")',
        f'    assert is_sha("{hexs(rng, 40)}")',
        f'    assert parse_uuid("{uid(rng)}")',
    ]
    return FileOut(f"tests/test_fixture_{idx}.py", "\n".join(lines) + "\n", [])


# -- notebooks ---------------------------------------------------------------------------

ANSI_KW = "\x1b[38;5;28;01m"
ANSI_STR = "\x1b[38;5;124m"
ANSI_OP = "\x1b[38;5;241m"
ANSI_RESET = "\x1b[39m"


def ansi_line(code: str) -> str:
    """Colour a Python line the way IPython's traceback does (approximately)."""
    out = []
    i = 0
    while i < len(code):
        ch = code[i]
        if ch in "\"'":
            j = code.find(ch, i + 1)
            j = len(code) - 1 if j < 0 else j
            inner = code[i + 1 : j]
            out.append(
                f"{ANSI_STR}{ch}{ANSI_RESET}{ANSI_STR}{inner}{ANSI_RESET}{ANSI_STR}{ch}{ANSI_RESET}"
            )
            i = j + 1
        elif ch == "=":
            out.append(f"{ANSI_OP}={ANSI_RESET}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def traceback_for(rng: random.Random, src_line: str, err: str, msg: str) -> list[str]:
    n = rng.randint(2, 9)
    frame = (
        f"Cell \x1b[0;32mIn[{n}], line 3\x1b[0m\n\x1b[1;32m      1\x1b[0m {ANSI_KW}import\x1b[39;00m \x1b[38;5;21;01mos\x1b[39;00m\n"
        f"\x1b[0;32m----> 3\x1b[0m {ansi_line(src_line)}\n"
    )
    return [
        "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
        f"\x1b[0;31m{err}\x1b[0m                       Traceback (most recent call last)",
        frame,
        'File \x1b[0;32m/opt/conda/lib/python3.11/site-packages/requests/models.py:1024\x1b[0m, in \x1b[0;36mResponse.raise_for_status\x1b[0;34m(self)\x1b[0m\n\x1b[1;32m   1021\x1b[0m     http_error_msg \x1b[38;5;241m=\x1b[39m \x1b[38;5;124mf\x1b[39m\x1b[38;5;124m"\x1b[39m\x1b[38;5;132;01m{\x1b[39;00m\x1b[38;5;28mself\x1b[39m\x1b[38;5;241m.\x1b[39mstatus_code\x1b[38;5;132;01m}\x1b[39;00m\x1b[38;5;124m Server Error\x1b[39m\x1b[38;5;124m"\x1b[39m\n',
        f"\x1b[0;31m{err}\x1b[0m: {msg}",
    ]


def nb_cell_for(rng: random.Random, sec: Secret) -> list[object]:
    """Cells that plant ``sec`` in a source and, often, in outputs too."""
    cells: list[object] = []
    c0 = sec.comps[-1]
    src = py_assign(rng, sec)
    where = rng.random()
    if sec.pem:
        cell = v4.new_code_cell(src)
        if rng.random() < 0.4:
            cell.outputs = [v4.new_output("stream", name="stdout", text=c0.value + "\n")]
        return [cell]
    if where < 0.2:  # only in an output: a !env / print / !cat dump
        cell = v4.new_code_cell(
            rng.choice(
                ["!env | sort", "print(os.environ)", "!cat ~/.config/app/settings.env", "%env"]
            )
        )
        lines = [
            "HOME=/home/jovyan\n",
            "PATH=/opt/conda/bin:/usr/bin\n",
            *[f"{c.env}={c.value}\n" for c in sec.comps],
            "SHELL=/bin/bash\n",
        ]
        cell.outputs = [v4.new_output("stream", name="stdout", text="".join(lines))]
        return [cell]
    cell = v4.new_code_cell(rng.choice(["import os\n", "%%time\n", ""]) + src)
    if where < 0.35:
        cell.outputs = [
            v4.new_output(
                "execute_result",
                data={"text/plain": repr({c.field: c.value for c in sec.comps})},
                execution_count=rng.randint(1, 40),
            )
        ]
    elif where < 0.5:
        rows = "".join(
            f"    <tr><th>{i}</th><td>{c.field}</td><td>{c.value}</td></tr>\n"
            for i, c in enumerate(sec.comps)
        )
        html = f'<div>\n<table border="1" class="dataframe">\n  <thead><tr><th></th><th>key</th><th>value</th></tr></thead>\n  <tbody>\n{rows}  </tbody>\n</table>\n</div>'
        cell.outputs = [
            v4.new_output(
                "execute_result",
                data={"text/html": html, "text/plain": "  key value\n0 ..."},
                execution_count=rng.randint(1, 40),
            )
        ]
    elif where < 0.75:
        line = rng.choice(src.splitlines())
        err = rng.choice(
            ["AuthenticationError", "HTTPError", "OperationalError", "NameError", "ConnectionError"]
        )
        msg = rng.choice(
            [
                "Incorrect API key provided.",
                "401 Client Error: Unauthorized",
                "name 'boto3' is not defined",
                "connection refused",
            ]
        )
        if line.strip().startswith("#"):
            line = f'client = connect(token="{c0.value}")'
        cell.outputs = [
            v4.new_output(
                "error", ename=err, evalue=msg, traceback=traceback_for(rng, line, err, msg)
            )
        ]
    elif where < 0.85:
        cell.outputs = [
            v4.new_output(
                "stream",
                name="stderr",
                text=f"DEBUG:root:{c0.field}={c0.value}\nWARNING: credentials passed in clear text\n",
            )
        ]
    cells.append(cell)
    return cells


NB_FILLER_SRC = [
    "import pandas as pd\nimport numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "df = pd.read_parquet('s3://acme-ml-data/train/part-0000.parquet')\ndf.head()",
    "df.describe()",
    "fig, ax = plt.subplots(figsize=(8, 4))\nax.plot(history['loss'], label='train')\nax.plot(history['val_loss'], label='val')\nax.legend()",
    "for epoch in range(5):\n    loss = train_one_epoch(model, loader, opt, device)\n    print(f'epoch {epoch} loss {loss:.4f}')",
    "from sklearn.model_selection import train_test_split\nX_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)",
]


def make_notebook(rng: random.Random, idx: int, secrets: list[Secret]) -> FileOut:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.9"}
    cells: list[object] = [
        v4.new_markdown_cell(f"# Experiment {idx}\nTraining notebook, run id `{hexs(rng, 32)}`.")
    ]
    for _ in range(rng.randint(3, 8)):
        cell = v4.new_code_cell(rng.choice(NB_FILLER_SRC), execution_count=rng.randint(1, 60))
        r = rng.random()
        if r < 0.35:
            cell.outputs = [
                v4.new_output(
                    "display_data",
                    data={
                        "image/png": png_b64(rng),
                        "text/plain": "<Figure size 800x400 with 1 Axes>",
                    },
                )
            ]
        elif r < 0.6:
            cell.outputs = [
                v4.new_output(
                    "stream",
                    name="stdout",
                    text="".join(f"epoch {e} loss {rng.random():.4f}\n" for e in range(5)),
                )
            ]
        elif r < 0.75:
            cell.outputs = [
                v4.new_output(
                    "execute_result",
                    data={
                        "text/plain": f"run_id='{hexs(rng, 32)}' artifact_uri='s3://acme-mlflow/{rng.randint(1, 40)}/{hexs(rng, 32)}/artifacts'"
                    },
                    execution_count=3,
                )
            ]
        cells.append(cell)
    negs = py_negatives(rng, rng.randint(2, 6))
    cells.insert(rng.randint(1, len(cells)), v4.new_code_cell("\n".join(negs)))
    for s in secrets:
        if (
            rng.random() < 0.12
            and not s.pem
            and len(s.comps) == 1
            and "papermill" not in nb.metadata
        ):
            nb.metadata["papermill"] = {
                "parameters": {s.comps[0].field: s.comps[0].value, "epochs": 5},
                "version": "2.6.0",
            }
            continue
        for c in nb_cell_for(rng, s):
            cells.insert(rng.randint(1, len(cells)), c)
    nb.cells = cells
    text = nbformat.writes(nb, version=4)
    return FileOut(
        f"notebooks/{rng.choice(['eda', 'train', 'explore', 'rag_demo', 'fine_tune', 'scratch'])}_{idx}.ipynb",
        text,
        secrets,
        notebook=True,
    )


# -- assembly and labels -----------------------------------------------------------------

KINDS: list[tuple[str, float]] = [
    ("py", 26),
    ("ipynb", 16),
    ("yaml", 8),
    ("json", 5),
    ("toml", 2),
    ("env", 6),
    ("docker", 4),
    ("compose", 3),
    ("sh", 4),
    ("tf", 3),
    ("properties", 2),
    ("ini", 2),
    ("r", 2),
    ("scala", 2),
    ("sql", 2),
    ("special", 6),
    ("negative", 7),
]


def locate(text: str, sec: Secret, notebook: bool) -> list[tuple[int, str]]:
    """Every (line, type) at which a planted secret's value shows in the written file."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    for c in sec.comps:
        if c.type is None:
            continue
        needles = {c.loc(), json.dumps(c.loc())[1:-1]}
        hits = [i for i, ln in enumerate(lines) if any(n in ln for n in needles)]
        if not hits:
            raise AssertionError(f"planted {c.type} not found: {c.loc()[:30]!r}\n{text[:3000]}")
        for i in hits:
            if sec.pem:
                j = i
                while j >= 0 and "-----BEGIN" not in lines[j]:
                    j -= 1
                i = max(j, 0)
            out.append((i + 1, c.type))
    return out


def build(rng: random.Random, idx: int) -> FileOut:
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    if kind == "special":
        return make_special(rng, idx)
    if kind == "negative":
        return make_negative_only(rng, idx)
    n = rng.choices([0, 1, 2, 3], [45, 35, 14, 6])[0]
    secrets = [pick_secret(rng) for _ in range(n)]
    if kind == "py":
        return make_python(rng, idx, secrets)
    if kind == "ipynb":
        return make_notebook(rng, idx, secrets)
    if kind == "json":
        return make_json_cfg(rng, idx, secrets)
    return make_kv(rng, idx, secrets, kind)


def generate(root: Path, *, files: int = 400, seed: int = 0) -> dict[str, object]:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    labels: list[dict[str, object]] = []
    total = 0
    for idx in range(files):
        f = build(rng, idx)
        path = root / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f.text.encode()
        path.write_bytes(data)
        total += len(data)
        seen: set[tuple[int, str]] = set()
        for s in f.secrets:
            for line, t in locate(f.text, s, f.notebook):
                if (line, t) not in seen:
                    seen.add((line, t))
                    labels.append({"file": f.path, "line": line, "type": t})
    types = sorted({str(x["type"]) for x in labels})
    out: dict[str, object] = {"files": files, "bytes": total, "types": types, "secrets": labels}
    (root / "labels.json").write_text(json.dumps(out, indent=1))
    return out


def score(
    labels: dict[str, object], found: set[tuple[str, int]]
) -> tuple[float, float, list[dict[str, object]], list[tuple[str, int]]]:
    """(recall, precision, missed labels, false alarms) matching on (file, line)."""
    secrets = labels["secrets"]
    assert isinstance(secrets, list)
    want = {(str(s["file"]), int(s["line"])) for s in secrets}
    tp = want & found
    missed = [s for s in secrets if (s["file"], s["line"]) not in found]
    fps = sorted(found - want)
    recall = len(tp) / len(want) if want else 1.0
    precision = len(tp) / len(found) if found else 1.0
    return recall, precision, missed, fps


if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    n_files = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    seed_arg = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    res = generate(out_dir, files=n_files, seed=seed_arg)
    print(
        f"{n_files} files, {res['bytes']} bytes, {len(res['secrets'])} labels, {len(res['types'])} types"
    )  # type: ignore[arg-type]
