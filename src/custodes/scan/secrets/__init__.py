"""Hard-coded credentials in code, configuration and notebooks.

``find_secrets(text)`` returns :class:`SecretMatch` objects (raw secret in memory only);
:class:`SecretsScanner` reads files and yields redacted findings; ``secret_findings``
turns matches over any text into findings, for callers that extract text themselves.
"""

from custodes.scan.secrets.detect import find_secrets, rule_ids
from custodes.scan.secrets.model import SecretMatch
from custodes.scan.secrets.prefilter import hyperscan_available
from custodes.scan.secrets.scanner import SecretsScanner, secret_findings

__all__ = [
    "SecretMatch",
    "SecretsScanner",
    "find_secrets",
    "hyperscan_available",
    "rule_ids",
    "secret_findings",
]
