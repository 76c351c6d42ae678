"""The credential detectors: one :class:`Rule` per shape of key ML teams leak.

Severity follows what a leak costs: critical for cloud keys, private keys and database
passwords (direct access to data and infrastructure), high for platform tokens (code,
models, experiment tracking, messaging), medium for generic assignments (see
:mod:`.generic`). Rules that share a rule id are alternative shapes of one credential.
"""

from __future__ import annotations

from custodes.findings import Severity
from custodes.scan.secrets.rules import (
    ASSIGN,
    END,
    Rule,
    compile_pattern,
    ctx_pattern,
    jwt_check,
    pem_check,
    random_enough,
    url_password_check,
)

__all__ = ["RULES"]

CRIT, HIGH = Severity.CRITICAL, Severity.HIGH
_R = Rule
_ANY_KEY = random_enough(3.0, 2)
_HEXKEY = random_enough(3.0, 1)

RULES: tuple[Rule, ...] = (
    # --- cloud providers -------------------------------------------------------------
    _R(
        "SECRET-AWS-ACCESS-KEY",
        "AWS access key id",
        CRIT,
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})" + END),
        check=random_enough(3.0, 1),
        priority=20,
    ),
    _R(
        "SECRET-AWS-SECRET-KEY",
        "AWS secret access key",
        CRIT,
        (r"secret_?access_?key", r"aws_?secret", "SecretAccessKey"),
        ctx_pattern(r"(?:aws_?)?secret_?access_?key|aws_?secret(?:_?key)?", r"[A-Za-z0-9/+]{40}"),
        back=48,
        caseless=True,
        check=random_enough(4.0, 3),
        priority=20,
    ),
    _R(
        "SECRET-AWS-SECRET-KEY",
        "AWS secret access key (next to an access key id)",
        CRIT,
        ("AKIA", "ASIA"),
        compile_pattern(
            r"(?:AKIA|ASIA)[A-Z2-7]{16}[\"']?\s{0,5}[,:=]\s{0,5}[^\n\"']{0,40}?[\"'](?P<s>[A-Za-z0-9/+]{40})[\"']"
        ),
        back=24,
        ahead=160,
        check=random_enough(4.0, 3),
        priority=20,
    ),
    _R(
        "SECRET-AWS-SESSION-TOKEN",
        "AWS session token",
        CRIT,
        (r"session_?token", "FwoGZXIvYXdz", "IQoJb3JpZ2lu"),
        compile_pattern(
            r"(?i:(?:aws_?)?session_?token)" + ASSIGN + r"(?P<s>[A-Za-z0-9/+=]{100,1200})"
            r"|(?P<s2>(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{80,1200})"
        ),
        back=48,
        ahead=1300,
        caseless=True,
        check=random_enough(4.5, 3),
        priority=20,
    ),
    _R(
        "SECRET-GCP-SERVICE-ACCOUNT",
        "Google Cloud service-account key (JSON)",
        CRIT,
        (r'"private_key"\s*:\s*"-----BEGIN',),
        compile_pattern(
            r'"private_key"\s*:\s*"(?P<s>-----BEGIN (?:RSA )?PRIVATE KEY-----[^"]{64,8000}?-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)"'
            r"(?=[\s\S]{0,4000}?gserviceaccount\.com)"
        ),
        back=40,
        ahead=12000,
        check=pem_check,
        priority=30,
    ),
    _R(
        "SECRET-GCP-SERVICE-ACCOUNT",
        "Google Cloud service-account key (JSON)",
        CRIT,
        (r"gserviceaccount\.com",),
        compile_pattern(
            r'(?<=gserviceaccount\.com)[\s\S]{0,4000}?"private_key"\s*:\s*"(?P<s>-----BEGIN (?:RSA )?PRIVATE KEY-----[^"]{64,8000}?-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)"'
        ),
        back=64,
        ahead=12000,
        check=pem_check,
        priority=30,
    ),
    _R(
        "SECRET-GCP-API-KEY",
        "Google Cloud API key",
        HIGH,
        ("AIza",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>AIza[0-9A-Za-z_\-]{35})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-AZURE-STORAGE-KEY",
        "Azure storage account key (connection string)",
        CRIT,
        ("AccountKey=",),
        compile_pattern(r"(?i:AccountKey)=(?P<s>[A-Za-z0-9+/]{86}==)"),
        back=16,
        caseless=True,
        check=random_enough(4.5, 3),
        priority=20,
    ),
    _R(
        "SECRET-AZURE-SAS-TOKEN",
        "Azure shared access signature (SAS) token",
        CRIT,
        (r"[?&]sig=",),
        compile_pattern(
            r"[?&]sv=20\d\d-\d\d-\d\d[^\s\"'<>]{0,300}?[?&]sig=(?P<s>[A-Za-z0-9%+/]{40,120})"
            r"|[?&]sig=(?P<s2>[A-Za-z0-9%+/]{40,120})(?=[^\s\"'<>]{0,300}?[?&]s[vpe]=)"
        ),
        back=320,
        ahead=420,
        caseless=True,
        check=random_enough(4.0, 2),
        priority=20,
    ),
    # --- code hosting and package registries ----------------------------------------
    _R(
        "SECRET-GITHUB-TOKEN",
        "GitHub token",
        HIGH,
        ("gh[pousr]_", "github_pat_"),
        compile_pattern(
            r"(?<![A-Za-z0-9])(?P<s>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})"
            + END
        ),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-GITLAB-TOKEN",
        "GitLab personal access token",
        HIGH,
        ("glpat-",),
        compile_pattern(r"(?P<s>glpat-[A-Za-z0-9_\-]{20,40})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-NPM-TOKEN",
        "npm access token",
        HIGH,
        ("npm_",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>npm_[A-Za-z0-9]{36})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-PYPI-TOKEN",
        "PyPI upload token",
        HIGH,
        ("pypi-AgE",),
        compile_pattern(r"(?P<s>pypi-AgE[A-Za-z0-9_\-]{50,300})" + END),
        ahead=320,
        check=_ANY_KEY,
    ),
    # --- ML platforms ---------------------------------------------------------------
    _R(
        "SECRET-HUGGINGFACE-TOKEN",
        "Hugging Face access token",
        HIGH,
        ("hf_", "api_org_"),
        compile_pattern(r"(?<![A-Za-z0-9_])(?P<s>(?:hf|api_org)_[A-Za-z0-9]{34,40})" + END),
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-OPENAI-API-KEY",
        "OpenAI API key",
        HIGH,
        ("sk-",),
        compile_pattern(
            r"(?<![A-Za-z0-9_\-])(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}"
            r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48})" + END
        ),
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-ANTHROPIC-API-KEY",
        "Anthropic API key",
        HIGH,
        ("sk-ant-",),
        compile_pattern(r"(?P<s>sk-ant-[a-z]{3,6}\d\d-[A-Za-z0-9_\-]{80,120})" + END),
        priority=12,
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-DATABRICKS-TOKEN",
        "Databricks personal access token",
        HIGH,
        ("dapi",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>dapi[a-f0-9]{32}(?:-\d)?)" + END),
        check=_HEXKEY,
    ),
    _R(
        "SECRET-WANDB-API-KEY",
        "Weights & Biases API key",
        HIGH,
        ("wandb_api_key", r"wandb\.login", r"api\.wandb\.ai"),
        compile_pattern(
            r"(?i:wandb_api_key)"
            + ASSIGN
            + r"(?P<s>[a-f0-9]{40})"
            + END
            + r"|wandb\.login\([^)]{0,120}?key\s*=\s*[\"'](?P<s2>[a-f0-9]{40})[\"']"
            + r"|api\.wandb\.ai\s+login\s+\S+\s+password\s+(?P<s3>[a-f0-9]{40})"
            + END
        ),
        back=40,
        ahead=200,
        caseless=True,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-KAGGLE-KEY",
        "Kaggle API key",
        HIGH,
        (r'"key"\s*:\s*"[a-f0-9]{32}"', "kaggle_key"),
        compile_pattern(
            r'"username"\s*:\s*"[^"\n]{1,64}"\s*,\s*"key"\s*:\s*"(?P<s>[a-f0-9]{32})"'
            r"|(?i:kaggle_key)" + ASSIGN + r"(?P<s2>[a-f0-9]{32})" + END
        ),
        back=120,
        caseless=True,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-COMET-API-KEY",
        "Comet ML API key",
        HIGH,
        ("comet_api_key", "comet_ml"),
        compile_pattern(
            r"(?i:comet_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{25,40})"
            + END
            + r"|comet_ml\.[A-Za-z]+\([^)]{0,160}?api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{25,40})[\"']"
        ),
        back=40,
        ahead=260,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-NEPTUNE-API-TOKEN",
        "Neptune.ai API token",
        HIGH,
        ("eyJhcGlfYWRkcmVzcyI6", "neptune_api_token"),
        compile_pattern(r"(?P<s>eyJhcGlfYWRkcmVzcyI6[A-Za-z0-9+/=_\-]{40,400})" + END),
        ahead=420,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-REPLICATE-API-TOKEN",
        "Replicate API token",
        HIGH,
        ("r8_",),
        compile_pattern(r"(?<![A-Za-z0-9_])(?P<s>r8_[A-Za-z0-9]{37})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-COHERE-API-KEY",
        "Cohere API key",
        HIGH,
        ("co_api_key", "cohere_api_key", r"cohere\.(?:Async)?Client"),
        compile_pattern(
            r"(?i:co(?:here)?_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{40})"
            + END
            + r"|cohere\.(?:Async)?Client(?:V2)?\(\s*(?:api_key\s*=\s*)?[\"'](?P<s2>[A-Za-z0-9]{40})[\"']"
        ),
        back=40,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-GROQ-API-KEY",
        "Groq API key",
        HIGH,
        ("gsk_",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>gsk_[A-Za-z0-9]{52})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-MISTRAL-API-KEY",
        "Mistral AI API key",
        HIGH,
        ("mistral_api_key", r"Mistral(?:Client)?\("),
        compile_pattern(
            r"(?i:mistral_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{32})"
            + END
            + r"|Mistral(?:Client)?\(\s*api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{32})[\"']"
        ),
        back=40,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-PINECONE-API-KEY",
        "Pinecone API key",
        HIGH,
        ("pcsk_",),
        compile_pattern(r"(?P<s>pcsk_[A-Za-z0-9_]{50,90})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-LANGSMITH-API-KEY",
        "LangSmith API key",
        HIGH,
        ("lsv2_",),
        compile_pattern(r"(?P<s>lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})" + END),
        check=_HEXKEY,
    ),
    _R(
        "SECRET-XAI-API-KEY",
        "xAI API key",
        HIGH,
        ("xai-",),
        compile_pattern(r"(?<![A-Za-z0-9_\-])(?P<s>xai-[A-Za-z0-9]{80})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-PERPLEXITY-API-KEY",
        "Perplexity API key",
        HIGH,
        ("pplx-",),
        compile_pattern(r"(?P<s>pplx-[A-Za-z0-9]{48})" + END),
        check=_ANY_KEY,
    ),
    # --- messaging, payments, email -------------------------------------------------
    _R(
        "SECRET-SLACK-TOKEN",
        "Slack token",
        HIGH,
        ("xox[abprse]-",),
        compile_pattern(
            r"(?P<s>xox[abprse]-\d{8,13}-\d{8,13}(?:-\d{8,13})?(?:-[A-Za-z0-9]{24,34})?)" + END
        ),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-SLACK-WEBHOOK",
        "Slack incoming webhook URL",
        HIGH,
        (r"hooks\.slack\.com/services/",),
        compile_pattern(
            r"(?P<s>https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})"
            + END
        ),
        back=40,
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-STRIPE-KEY",
        "Stripe live secret or restricted key",
        HIGH,
        ("sk_live_", "rk_live_"),
        compile_pattern(r"(?P<s>[sr]k_live_[A-Za-z0-9]{24,99})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-TWILIO-API-KEY",
        "Twilio API key",
        HIGH,
        (r"SK[0-9a-f]{32}",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>SK[0-9a-f]{32})" + END),
        back=40,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-TWILIO-AUTH-TOKEN",
        "Twilio auth token",
        HIGH,
        ("twilio_auth_token", "auth_token", r"AC[0-9a-f]{32}"),
        compile_pattern(
            r"(?i:(?:twilio_)?auth_token)"
            + ASSIGN
            + r"(?P<s>[0-9a-f]{32})"
            + END
            + r"|AC[0-9a-f]{32}[\"']\s{0,5}[,:]\s{0,5}[^\n\"']{0,30}?[\"'](?P<s2>[0-9a-f]{32})[\"']"
        ),
        back=48,
        ahead=160,
        caseless=True,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-SENDGRID-API-KEY",
        "SendGrid API key",
        HIGH,
        (r"SG\.",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + END),
        check=_ANY_KEY,
    ),
    # --- databases and tracking servers ---------------------------------------------
    _R(
        "SECRET-DATABASE-URL",
        "Database URL with a password",
        CRIT,
        (
            r"(?:postgres(?:ql)?|mysql|mariadb|mongodb|rediss?|snowflake|mssql|oracle|amqps?|clickhouse)[\w+]{0,20}://[^\s:/@]{0,64}:[^\s@/]{1,128}@",
        ),
        compile_pattern(
            r"(?i:postgres(?:ql)?|mysql|mariadb|mongodb|rediss?|snowflake|mssql|oracle|amqps?|clickhouse)[\w+]{0,20}://"
            r"[^\s:/@\"'<>]{0,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-\[\]]"
        ),
        back=220,
        ahead=8,
        caseless=True,
        check=url_password_check,
        priority=20,
    ),
    _R(
        "SECRET-SNOWFLAKE-PASSWORD",
        "Snowflake connection password",
        CRIT,
        (r"snowflake\.connector\.connect\(",),
        compile_pattern(
            r"snowflake\.connector\.connect\([^)]{0,600}?\bpassword\s*=\s*[\"'](?P<s>[^\"'\n]{4,128})[\"']"
        ),
        back=32,
        ahead=700,
        check=url_password_check,
        priority=20,
    ),
    _R(
        "SECRET-MLFLOW-TRACKING-CREDENTIALS",
        "MLflow tracking URI with basic-auth password",
        CRIT,
        (r"https?://[^\s:/@\"']{1,64}:[^\s@/\"']{1,128}@",),
        compile_pattern(
            r"(?i:mlflow)[^\n]{0,120}?https?://[^\s:/@\"'<>]{1,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-]"
        ),
        back=360,
        ahead=8,
        caseless=True,
        check=url_password_check,
        priority=18,
    ),
    _R(
        "SECRET-URL-CREDENTIALS",
        "URL with an embedded password",
        HIGH,
        (r"https?://[^\s:/@\"']{1,64}:[^\s@/\"']{1,128}@",),
        compile_pattern(r"https?://[^\s:/@\"'<>]{1,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-]"),
        back=220,
        ahead=8,
        caseless=True,
        check=url_password_check,
        priority=15,
    ),
    # --- tokens and keys ------------------------------------------------------------
    _R(
        "SECRET-JWT",
        "JSON Web Token",
        HIGH,
        (r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ",),
        compile_pattern(
            r"(?<![A-Za-z0-9_\-])(?P<s>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})"
            + END
        ),
        back=1200,
        ahead=2500,
        check=jwt_check,
    ),
    _R(
        "SECRET-PRIVATE-KEY",
        "Private key block",
        CRIT,
        (r"-----BEGIN[A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----",),
        compile_pattern(
            r"(?P<s>-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
            r"(?:\\n|\\r|[\s\S]){64,20000}?-----END (?P=kind)-----)"
        ),
        back=60,
        ahead=20000,
        check=pem_check,
        priority=25,
    ),
)
