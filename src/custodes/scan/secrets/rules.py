"""The credential detectors: one :class:`Rule` per shape of key ML teams leak.

Each rule has *anchors* (short, hyperscan-compatible regexes: a token prefix or a context
keyword) and a *pattern* (a Python regex with a named group ``s`` for the secret) that
confirms a candidate in a small window around an anchor hit. Splitting the two is what
makes scanning fast: the anchors of every rule compile into one hyperscan database that
reads hundreds of MB/s, and the slower ``re`` confirmation runs only near hits.

Rules that share a rule id are alternative shapes of one credential type (a W&B key in
an environment variable, in ``wandb.login(key=...)`` or in a ``.netrc``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from custodes.findings import Severity
from custodes.scan.secrets.filters import (
    charset_classes,
    is_example_or_placeholder,
    shannon_entropy,
)

__all__ = ["RULES", "Check", "Rule"]

Check = Callable[[str, str, int], float | None]
"""``check(secret, text, start)``: a confidence in 0..1, or None to drop the candidate."""

CRIT, HIGH, MED = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM


@dataclass(frozen=True)
class Rule:
    """One detector: anchors for the prefilter, a confirming pattern, a severity."""

    rule_id: str
    description: str
    severity: Severity
    anchors: tuple[str, ...]
    """Regexes valid for both hyperscan and ``re``; matched case-insensitively if ``caseless``."""
    pattern: re.Pattern[str]
    """Confirms a candidate near an anchor hit; group ``s`` is the secret."""
    back: int = 64
    """How far before an anchor's end the secret (or its context) may start."""
    ahead: int = 256
    """How far after an anchor's end the match may reach."""
    caseless: bool = False
    check: Check | None = None
    confidence: float = 0.95
    priority: int = 10
    """Wins over lower priorities when two matches overlap (specific beats generic)."""


def _random_enough(min_entropy: float = 3.0, min_classes: int = 2) -> Check:
    """A check that drops placeholders and values too regular to be generated keys."""

    def check(secret: str, text: str, start: int) -> float | None:
        del text, start
        if is_example_or_placeholder(secret):
            return None
        if shannon_entropy(secret) < min_entropy or charset_classes(secret) < min_classes:
            return None
        return 0.95

    return check


def _jwt_check(secret: str, text: str, start: int) -> float | None:
    """A JWT's header must decode to a JSON object with an ``alg``."""
    del text, start
    if is_example_or_placeholder(secret):
        return None
    head = secret.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return None
    return 0.9 if decoded.get("alg") != "none" else 0.5


def _pem_check(secret: str, text: str, start: int) -> float | None:
    """A private key block must carry enough base64 body to be a real key."""
    del text, start
    body = re.sub(r"-----[A-Z ]+-----|\\n|\\r|\s|Proc-Type:.*|DEK-Info:.*|Version:.*", "", secret)
    if len(body) < 64 or is_example_or_placeholder(body):
        return None
    if shannon_entropy(body) < 4.0:
        return None
    return 0.99


def _url_password_check(secret: str, text: str, start: int) -> float | None:
    """The password part of a URL: not a template variable, not a stand-in."""
    del text, start
    if len(secret) < 3 or secret.startswith(("$", "{", "<", "%", "*")):
        return None
    if is_example_or_placeholder(secret):
        return None
    low = secret.lower()
    if low in {"pass", "pwd", "user", "username", "secret", "mypassword", "pw"}:
        return None
    if charset_classes(secret) < 2 and len(secret) < 10:
        return 0.6
    return 0.95


def _c(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# "NAME = value", "NAME: value", "NAME <- value", '"NAME": "value"' and friends.
_ASSIGN = r"""[\w.\-]{0,24}["']?\]?\s{0,5}(?:=|:=|:|<-|=>)\s{0,5}["']?"""
_END = r"(?![A-Za-z0-9])"


def _ctx(keyword: str, value: str) -> re.Pattern[str]:
    """A value right after a context keyword and an assignment operator."""
    return _c(rf"(?i:{keyword}){_ASSIGN}(?P<s>{value}){_END}")


_R = Rule
_ANY_KEY = _random_enough(3.0, 2)
_HEXKEY = _random_enough(3.0, 1)

RULES: tuple[Rule, ...] = (
    # --- cloud providers -------------------------------------------------------------
    _R("SECRET-AWS-ACCESS-KEY", "AWS access key id", CRIT,
       ("AKIA", "ASIA", "ABIA", "ACCA"),
       _c(r"(?<![A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})" + _END),
       check=_random_enough(3.0, 1), priority=20),
    _R("SECRET-AWS-SECRET-KEY", "AWS secret access key", CRIT,
       (r"secret_?access_?key", r"aws_?secret", "SecretAccessKey"),
       _ctx(r"(?:aws_?)?secret_?access_?key|aws_?secret(?:_?key)?", r"[A-Za-z0-9/+]{40}"),
       back=48, caseless=True, check=_random_enough(4.0, 3), priority=20),
    _R("SECRET-AWS-SECRET-KEY", "AWS secret access key (next to an access key id)", CRIT,
       ("AKIA", "ASIA"),
       _c(r"(?:AKIA|ASIA)[A-Z2-7]{16}[\"']?\s{0,5}[,:=]\s{0,5}[^\n\"']{0,40}?[\"'](?P<s>[A-Za-z0-9/+]{40})[\"']"),
       back=24, ahead=160, check=_random_enough(4.0, 3), priority=20),
    _R("SECRET-AWS-SESSION-TOKEN", "AWS session token", CRIT,
       (r"session_?token", "FwoGZXIvYXdz", "IQoJb3JpZ2lu"),
       _c(r"(?i:(?:aws_?)?session_?token)" + _ASSIGN + r"(?P<s>[A-Za-z0-9/+=]{100,1200})"
          r"|(?P<s2>(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{80,1200})"),
       back=48, ahead=1300, caseless=True, check=_random_enough(4.5, 3), priority=20),
    _R("SECRET-GCP-SERVICE-ACCOUNT", "Google Cloud service-account key (JSON)", CRIT,
       (r'"private_key"\s*:\s*"-----BEGIN',),
       _c(r'"private_key"\s*:\s*"(?P<s>-----BEGIN (?:RSA )?PRIVATE KEY-----[^"]{64,8000}?-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)"'
          r'(?=[\s\S]{0,4000}?gserviceaccount\.com)'),
       back=40, ahead=12000, check=_pem_check, priority=30),
    _R("SECRET-GCP-SERVICE-ACCOUNT", "Google Cloud service-account key (JSON)", CRIT,
       (r"gserviceaccount\.com",),
       _c(r'(?<=gserviceaccount\.com)[\s\S]{0,4000}?"private_key"\s*:\s*"(?P<s>-----BEGIN (?:RSA )?PRIVATE KEY-----[^"]{64,8000}?-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)"'),
       back=64, ahead=12000, check=_pem_check, priority=30),
    _R("SECRET-GCP-API-KEY", "Google Cloud API key", HIGH,
       ("AIza",),
       _c(r"(?<![A-Za-z0-9])(?P<s>AIza[0-9A-Za-z_\-]{35})" + _END), check=_ANY_KEY),
    _R("SECRET-AZURE-STORAGE-KEY", "Azure storage account key (connection string)", CRIT,
       ("AccountKey=",),
       _c(r"(?i:AccountKey)=(?P<s>[A-Za-z0-9+/]{86}==)"),
       back=16, caseless=True, check=_random_enough(4.5, 3), priority=20),
    _R("SECRET-AZURE-SAS-TOKEN", "Azure shared access signature (SAS) token", CRIT,
       (r"[?&]sig=",),
       _c(r"[?&]sv=20\d\d-\d\d-\d\d[^\s\"'<>]{0,300}?[?&]sig=(?P<s>[A-Za-z0-9%+/]{40,120})"
          r"|[?&]sig=(?P<s2>[A-Za-z0-9%+/]{40,120})(?=[^\s\"'<>]{0,300}?[?&]s[vpe]=)"),
       back=320, ahead=420, caseless=True, check=_random_enough(4.0, 2), priority=20),
    # --- code hosting and package registries ----------------------------------------
    _R("SECRET-GITHUB-TOKEN", "GitHub token", HIGH,
       ("gh[pousr]_", "github_pat_"),
       _c(r"(?<![A-Za-z0-9])(?P<s>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _END),
       check=_ANY_KEY),
    _R("SECRET-GITLAB-TOKEN", "GitLab personal access token", HIGH,
       ("glpat-",), _c(r"(?P<s>glpat-[A-Za-z0-9_\-]{20,40})" + _END), check=_ANY_KEY),
    _R("SECRET-NPM-TOKEN", "npm access token", HIGH,
       ("npm_",), _c(r"(?<![A-Za-z0-9])(?P<s>npm_[A-Za-z0-9]{36})" + _END), check=_ANY_KEY),
    _R("SECRET-PYPI-TOKEN", "PyPI upload token", HIGH,
       ("pypi-AgE",), _c(r"(?P<s>pypi-AgE[A-Za-z0-9_\-]{50,300})" + _END), ahead=320,
       check=_ANY_KEY),
    # --- ML platforms ---------------------------------------------------------------
    _R("SECRET-HUGGINGFACE-TOKEN", "Hugging Face access token", HIGH,
       ("hf_", "api_org_"),
       _c(r"(?<![A-Za-z0-9_])(?P<s>(?:hf|api_org)_[A-Za-z0-9]{34,40})" + _END),
       check=_random_enough(3.5, 2)),
    _R("SECRET-OPENAI-API-KEY", "OpenAI API key", HIGH,
       ("sk-",),
       _c(r"(?<![A-Za-z0-9_\-])(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}"
          r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48})" + _END),
       check=_random_enough(3.5, 2)),
    _R("SECRET-ANTHROPIC-API-KEY", "Anthropic API key", HIGH,
       ("sk-ant-",),
       _c(r"(?P<s>sk-ant-[a-z]{3,6}\d\d-[A-Za-z0-9_\-]{80,120})" + _END), priority=12,
       check=_random_enough(3.5, 2)),
    _R("SECRET-DATABRICKS-TOKEN", "Databricks personal access token", HIGH,
       ("dapi",), _c(r"(?<![A-Za-z0-9])(?P<s>dapi[a-f0-9]{32}(?:-\d)?)" + _END),
       check=_HEXKEY),
    _R("SECRET-WANDB-API-KEY", "Weights & Biases API key", HIGH,
       ("wandb_api_key", r"wandb\.login", r"api\.wandb\.ai"),
       _c(r"(?i:wandb_api_key)" + _ASSIGN + r"(?P<s>[a-f0-9]{40})" + _END
          + r"|wandb\.login\([^)]{0,120}?key\s*=\s*[\"'](?P<s2>[a-f0-9]{40})[\"']"
          + r"|api\.wandb\.ai\s+login\s+\S+\s+password\s+(?P<s3>[a-f0-9]{40})" + _END),
       back=40, ahead=200, caseless=True, check=_HEXKEY),
    _R("SECRET-KAGGLE-KEY", "Kaggle API key", HIGH,
       (r'"key"\s*:\s*"[a-f0-9]{32}"', "kaggle_key"),
       _c(r'"username"\s*:\s*"[^"\n]{1,64}"\s*,\s*"key"\s*:\s*"(?P<s>[a-f0-9]{32})"'
          r"|(?i:kaggle_key)" + _ASSIGN + r"(?P<s2>[a-f0-9]{32})" + _END),
       back=120, caseless=True, check=_HEXKEY),
    _R("SECRET-COMET-API-KEY", "Comet ML API key", HIGH,
       ("comet_api_key", "comet_ml"),
       _c(r"(?i:comet_api_key)" + _ASSIGN + r"(?P<s>[A-Za-z0-9]{25,40})" + _END
          + r"|comet_ml\.[A-Za-z]+\([^)]{0,160}?api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{25,40})[\"']"),
       back=40, ahead=260, caseless=True, check=_ANY_KEY),
    _R("SECRET-NEPTUNE-API-TOKEN", "Neptune.ai API token", HIGH,
       ("eyJhcGlfYWRkcmVzcyI6", "neptune_api_token"),
       _c(r"(?P<s>eyJhcGlfYWRkcmVzcyI6[A-Za-z0-9+/=_\-]{40,400})" + _END),
       ahead=420, caseless=True, check=_ANY_KEY),
    _R("SECRET-REPLICATE-API-TOKEN", "Replicate API token", HIGH,
       ("r8_",), _c(r"(?<![A-Za-z0-9_])(?P<s>r8_[A-Za-z0-9]{37})" + _END), check=_ANY_KEY),
    _R("SECRET-COHERE-API-KEY", "Cohere API key", HIGH,
       ("co_api_key", "cohere_api_key", r"cohere\.(?:Async)?Client"),
       _c(r"(?i:co(?:here)?_api_key)" + _ASSIGN + r"(?P<s>[A-Za-z0-9]{40})" + _END
          + r"|cohere\.(?:Async)?Client(?:V2)?\(\s*(?:api_key\s*=\s*)?[\"'](?P<s2>[A-Za-z0-9]{40})[\"']"),
       back=40, caseless=True, check=_ANY_KEY),
    _R("SECRET-GROQ-API-KEY", "Groq API key", HIGH,
       ("gsk_",), _c(r"(?<![A-Za-z0-9])(?P<s>gsk_[A-Za-z0-9]{52})" + _END), check=_ANY_KEY),
    _R("SECRET-MISTRAL-API-KEY", "Mistral AI API key", HIGH,
       ("mistral_api_key", r"Mistral(?:Client)?\("),
       _c(r"(?i:mistral_api_key)" + _ASSIGN + r"(?P<s>[A-Za-z0-9]{32})" + _END
          + r"|Mistral(?:Client)?\(\s*api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{32})[\"']"),
       back=40, caseless=True, check=_ANY_KEY),
    _R("SECRET-PINECONE-API-KEY", "Pinecone API key", HIGH,
       ("pcsk_",), _c(r"(?P<s>pcsk_[A-Za-z0-9_]{50,90})" + _END), check=_ANY_KEY),
    _R("SECRET-LANGSMITH-API-KEY", "LangSmith API key", HIGH,
       ("lsv2_",), _c(r"(?P<s>lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})" + _END), check=_HEXKEY),
    _R("SECRET-XAI-API-KEY", "xAI API key", HIGH,
       ("xai-",), _c(r"(?<![A-Za-z0-9_\-])(?P<s>xai-[A-Za-z0-9]{80})" + _END), check=_ANY_KEY),
    _R("SECRET-PERPLEXITY-API-KEY", "Perplexity API key", HIGH,
       ("pplx-",), _c(r"(?P<s>pplx-[A-Za-z0-9]{48})" + _END), check=_ANY_KEY),
    # --- messaging, payments, email -------------------------------------------------
    _R("SECRET-SLACK-TOKEN", "Slack token", HIGH,
       ("xox[abprse]-",),
       _c(r"(?P<s>xox[abprse]-\d{8,13}-\d{8,13}(?:-\d{8,13})?(?:-[A-Za-z0-9]{24,34})?)" + _END),
       check=_ANY_KEY),
    _R("SECRET-SLACK-WEBHOOK", "Slack incoming webhook URL", HIGH,
       (r"hooks\.slack\.com/services/",),
       _c(r"(?P<s>https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})" + _END),
       back=40, check=_random_enough(3.5, 2)),
    _R("SECRET-STRIPE-KEY", "Stripe live secret or restricted key", HIGH,
       ("sk_live_", "rk_live_"),
       _c(r"(?P<s>[sr]k_live_[A-Za-z0-9]{24,99})" + _END), check=_ANY_KEY),
    _R("SECRET-TWILIO-API-KEY", "Twilio API key", HIGH,
       (r"SK[0-9a-f]{32}",), _c(r"(?<![A-Za-z0-9])(?P<s>SK[0-9a-f]{32})" + _END),
       back=40, check=_HEXKEY),
    _R("SECRET-TWILIO-AUTH-TOKEN", "Twilio auth token", HIGH,
       ("twilio_auth_token", "auth_token", r"AC[0-9a-f]{32}"),
       _c(r"(?i:(?:twilio_)?auth_token)" + _ASSIGN + r"(?P<s>[0-9a-f]{32})" + _END
          + r"|AC[0-9a-f]{32}[\"']\s{0,5}[,:]\s{0,5}[^\n\"']{0,30}?[\"'](?P<s2>[0-9a-f]{32})[\"']"),
       back=48, ahead=160, caseless=True, check=_HEXKEY),
    _R("SECRET-SENDGRID-API-KEY", "SendGrid API key", HIGH,
       (r"SG\.",), _c(r"(?<![A-Za-z0-9])(?P<s>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _END),
       check=_ANY_KEY),
    # --- databases and tracking servers ---------------------------------------------
    _R("SECRET-DATABASE-URL", "Database URL with a password", CRIT,
       (r"(?:postgres(?:ql)?|mysql|mariadb|mongodb|rediss?|snowflake|mssql|oracle|amqps?|clickhouse)[\w+]{0,20}://[^\s:/@]{0,64}:[^\s@/]{1,128}@",),
       _c(r"(?i:postgres(?:ql)?|mysql|mariadb|mongodb|rediss?|snowflake|mssql|oracle|amqps?|clickhouse)[\w+]{0,20}://"
          r"[^\s:/@\"'<>]{0,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-\[\]]"),
       back=220, ahead=8, caseless=True, check=_url_password_check, priority=20),
    _R("SECRET-SNOWFLAKE-PASSWORD", "Snowflake connection password", CRIT,
       (r"snowflake\.connector\.connect\(",),
       _c(r"snowflake\.connector\.connect\([^)]{0,600}?\bpassword\s*=\s*[\"'](?P<s>[^\"'\n]{4,128})[\"']"),
       back=32, ahead=700, check=_url_password_check, priority=20),
    _R("SECRET-MLFLOW-TRACKING-CREDENTIALS", "MLflow tracking URI with basic-auth password", CRIT,
       (r"https?://[^\s:/@\"']{1,64}:[^\s@/\"']{1,128}@",),
       _c(r"(?i:mlflow)[^\n]{0,120}?https?://[^\s:/@\"'<>]{1,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-]"),
       back=360, ahead=8, caseless=True, check=_url_password_check, priority=18),
    _R("SECRET-URL-CREDENTIALS", "URL with an embedded password", HIGH,
       (r"https?://[^\s:/@\"']{1,64}:[^\s@/\"']{1,128}@",),
       _c(r"https?://[^\s:/@\"'<>]{1,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-]"),
       back=220, ahead=8, caseless=True, check=_url_password_check, priority=15),
    # --- tokens and keys ------------------------------------------------------------
    _R("SECRET-JWT", "JSON Web Token", HIGH,
       (r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ",),
       _c(r"(?<![A-Za-z0-9_\-])(?P<s>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})" + _END),
       back=1200, ahead=2500, check=_jwt_check),
    _R("SECRET-PRIVATE-KEY", "Private key block", CRIT,
       (r"-----BEGIN[A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----",),
       _c(r"(?P<s>-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
          r"(?:\\n|\\r|[\s\S]){64,20000}?-----END (?P=kind)-----)"),
       back=60, ahead=20000, check=_pem_check, priority=25),
)
