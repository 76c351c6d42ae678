"""Threat modelling of an AI system: rules, control coverage, risk, the diagnostic loop."""

from custodes.threatmodel.analyze import analyze
from custodes.threatmodel.model import ThreatInstance, ThreatModel

__all__ = ["ThreatInstance", "ThreatModel", "analyze"]
