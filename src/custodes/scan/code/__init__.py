"""Unsafe ML code and dependency hygiene: AST checks of Python and requirements files."""

from custodes.scan.code.requirements import RequirementsScanner
from custodes.scan.code.scanner import UnsafeCodeScanner
from custodes.scan.code.unsafe import CodeIssue, check_source

__all__ = ["CodeIssue", "RequirementsScanner", "UnsafeCodeScanner", "check_source"]
