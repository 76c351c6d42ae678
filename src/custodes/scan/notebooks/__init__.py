"""Jupyter notebooks: a bounded, non-executing reader and governance checks."""
