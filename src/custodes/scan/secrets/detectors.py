"""The credential detectors: one :class:`Rule` per shape of key ML teams leak.

Severity follows what a leak costs: critical for cloud keys, private keys and database
passwords (direct access to data and infrastructure), high for platform tokens (code,
models, experiment tracking, messaging), medium for generic assignments (see
:mod:`.generic`). Rules that share a rule id are alternative shapes of one credential.
"""

from __future__ import annotations

from custodes.scan.secrets.detectors_cloud import CLOUD_RULES
from custodes.scan.secrets.detectors_ml import ML_RULES
from custodes.scan.secrets.detectors_services import SERVICE_RULES
from custodes.scan.secrets.rules import Rule

__all__ = ["CLOUD_RULES", "ML_RULES", "RULES", "SERVICE_RULES"]

RULES: tuple[Rule, ...] = CLOUD_RULES + ML_RULES + SERVICE_RULES
"""Every provider-shaped rule, split by family in ``detectors_cloud``, ``detectors_ml``
and ``detectors_services``."""
