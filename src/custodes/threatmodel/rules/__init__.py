"""Threat rules, registered in a fixed order by importing their modules here."""

from custodes.threatmodel.rules import data, development, endpoints, genai
from custodes.threatmodel.rules.base import RULES, Context, Hit, RuleSpec

__all__ = ["RULES", "Context", "Hit", "RuleSpec", "data", "development", "endpoints", "genai"]
