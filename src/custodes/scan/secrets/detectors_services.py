"""Credential detectors for messaging, payments, databases, tracking servers, tokens, keys."""

from __future__ import annotations

from custodes.findings import Severity
from custodes.scan.secrets.rules import (
    ASSIGN,
    END,
    Rule,
    compile_pattern,
    jwt_check,
    pem_check,
    random_enough,
    url_password_check,
)

__all__ = ["SERVICE_RULES"]

CRIT, HIGH = Severity.CRITICAL, Severity.HIGH
_R = Rule
_ANY_KEY = random_enough(3.0, 2)
_HEXKEY = random_enough(3.0, 1)

SERVICE_RULES: tuple[Rule, ...] = (
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
        "SECRET-DISCORD-WEBHOOK",
        "Discord webhook URL",
        HIGH,
        (r"discord(?:app)?\.com/api/webhooks/",),
        compile_pattern(
            r"(?P<s>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,80})"
            + END
        ),
        back=40,
        ahead=160,
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
            r"[^\s:/@\"'<>]{0,64}:(?P<s>[^\s@/\"'<>]{1,128})@[\w.\-\[\]{/]"
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
        "SECRET-NETRC-PASSWORD",
        "Password in a .netrc machine entry",
        HIGH,
        (r"machine\s+\S+\s+login\s+\S+\s+password\s",),
        compile_pattern(r"machine\s+\S+\s+login\s+\S+\s+password\s+(?P<s>[^\s\\\"']{4,128})"),
        back=200,
        ahead=160,
        caseless=True,
        check=url_password_check,
        priority=5,
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
