"""Credential detectors for cloud providers, code hosting and package registries."""

from __future__ import annotations

from custodes.findings import Severity
from custodes.scan.secrets.rules import (
    ASSIGN,
    END,
    Rule,
    compile_pattern,
    ctx_pattern,
    pem_check,
    random_enough,
)

__all__ = ["CLOUD_RULES"]

CRIT, HIGH = Severity.CRITICAL, Severity.HIGH
_R = Rule
_ANY_KEY = random_enough(3.0, 2)
_HEXKEY = random_enough(3.0, 1)

CLOUD_RULES: tuple[Rule, ...] = (
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
        "SECRET-AWS-SECRET-KEY",
        "AWS secret access key (Dockerfile ENV NAME value)",
        CRIT,
        (r"ENV\s+AWS_SECRET_ACCESS_KEY\s",),
        compile_pattern(
            r"ENV[ \t]+AWS_SECRET_ACCESS_KEY[ \t]+[\"']?(?P<s>[A-Za-z0-9/+]{40})" + END
        ),
        back=48,
        ahead=80,
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
        "SECRET-AZURE-STORAGE-KEY",
        "Azure storage account key",
        CRIT,
        (r"(?:account|storage)[_.\-]?key", r"fs\.azure\.account\.key\."),
        compile_pattern(
            r"(?i:(?:account|storage)[_.\-]?key)" + ASSIGN + r"(?P<s>[A-Za-z0-9+/]{86}==)"
            r"|fs\.azure\.account\.key\.[\w.\-]{1,120}[\"']\s*,\s*[\"'](?P<s2>[A-Za-z0-9+/]{86}==)"
        ),
        back=140,
        ahead=240,
        caseless=True,
        check=random_enough(4.5, 3),
        priority=20,
    ),
    _R(
        "SECRET-AZURE-CLIENT-SECRET",
        "Azure AD (Entra ID) application client secret",
        CRIT,
        (r"[A-Za-z0-9_~.\-]{3}\dQ~",),
        compile_pattern(
            r"(?<![A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})"
            r"(?![A-Za-z0-9_~.\-])"
        ),
        back=8,
        ahead=48,
        check=random_enough(4.0, 3),
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
)
