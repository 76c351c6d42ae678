"""custodes: ML SecOps for AI/ML systems, where data is the attack vector.

Who watches the watchers, and who has custody of the data? The package keeps the
threat model of an AI system as code, scans what could leak or execute, validates
data, records provenance and gates promotions. Each capability lives in its own
sub-package; the CLI and the server only call into them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
