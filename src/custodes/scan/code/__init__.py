"""Unsafe ML code and dependency hygiene: AST checks of Python and requirements files."""
