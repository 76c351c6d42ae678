"""Jupyter notebooks: a bounded, non-executing reader and governance checks."""

from custodes.scan.notebooks.governance import NotebookGovernanceScanner
from custodes.scan.notebooks.parse import NotebookError, Segment, notebook_segments

__all__ = ["NotebookError", "NotebookGovernanceScanner", "Segment", "notebook_segments"]
