"""Fuzz campaign for the notebook reader (``make fuzz``).

Feeds mutated notebooks to :func:`custodes.scan.notebooks.parse.notebook_segments` and
fails on anything but :class:`NotebookError`, on a hang (one input over
``FUZZ_INPUT_SECONDS``) or on broken segment invariants. Uses atheris (coverage-guided)
when it is installed, otherwise a hypothesis-driven random campaign.

    FUZZ_SECONDS=600 python benchmarks/fuzz_notebook.py        # run for 10 minutes
    FUZZ_ENGINE=hypothesis FUZZ_SECONDS=60 python benchmarks/fuzz_notebook.py
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

try:
    import atheris  # type: ignore[import-not-found]
except ImportError:
    atheris = None

if atheris is not None and os.environ.get("FUZZ_ENGINE", "atheris") == "atheris":
    with atheris.instrument_imports(include=["custodes", "json"]):
        from custodes.scan.notebooks.parse import NotebookError, notebook_segments
else:
    from custodes.scan.notebooks.parse import NotebookError, notebook_segments

MAX_BYTES = 4 * 1024 * 1024
SECONDS = float(os.environ.get("FUZZ_SECONDS", "60"))
INPUT_SECONDS = float(os.environ.get("FUZZ_INPUT_SECONDS", "30"))


def seed() -> bytes:
    """A notebook with every kind of text the reader handles."""
    outputs = [
        new_output("stream", name="stdout", text="a\nAKIA1234\n"),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": ["f\n", "g"]}),
        new_output("error", ename="E", evalue="v", traceback=["\x1b[31mE\x1b[0m", "x\ny"]),
        new_output("execute_result", data={"application/json": {"k": [1, "v"]}}),
    ]
    nb = new_notebook(
        cells=[new_markdown_cell("# t"), new_code_cell("x = 1\ny = 2", outputs=outputs)]
    )
    nb.metadata["widgets"] = {"state": {"w": {"value": "s"}}}
    return str(nbformat.writes(nb)).encode()


def one_input(data: bytes) -> None:
    """Parse one input; raise on anything the reader must never do."""
    start = time.perf_counter()
    try:
        segments = notebook_segments(data, max_bytes=MAX_BYTES)
    except NotebookError:
        return
    finally:
        elapsed = time.perf_counter() - start
        if elapsed > INPUT_SECONDS:
            raise RuntimeError(f"slow input: {elapsed:.2f}s for {len(data)} bytes")
    lines = data.count(b"\n") + 1
    for seg in segments:
        if len(seg.line_map) != seg.text.count("\n") + 1:
            raise RuntimeError("line_map does not cover the text")
        if not all(1 <= n <= lines for n in seg.line_map):
            raise RuntimeError("line_map points outside the file")


def run_atheris() -> None:
    """Coverage-guided fuzzing with libFuzzer; stops after FUZZ_SECONDS."""
    default = os.path.join(tempfile.gettempdir(), "custodes-fuzz-notebook")
    corpus = os.environ.get("FUZZ_CORPUS", default)
    os.makedirs(corpus, exist_ok=True)
    with open(os.path.join(corpus, "seed.ipynb"), "wb") as fh:
        fh.write(seed())
    argv = [sys.argv[0], corpus, f"-max_total_time={int(SECONDS)}", "-rss_limit_mb=2048"]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def run_hypothesis() -> None:
    """Random byte-level mutations of the seed until FUZZ_SECONDS have passed."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = seed()
    deadline = time.monotonic() + SECONDS
    count = 0

    @settings(
        max_examples=10**9, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.lists(
            st.tuples(st.integers(0, len(base)), st.integers(0, 60), st.binary(max_size=6)),
            max_size=8,
        )
    )
    def fuzz(edits: list[tuple[int, int, bytes]]) -> None:
        nonlocal count
        if time.monotonic() > deadline:
            raise _Done
        raw = bytearray(base)
        for at, cut, insert in edits:
            raw[at : at + cut] = insert
        one_input(bytes(raw))
        count += 1

    with contextlib.suppress(_Done):
        fuzz()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"hypothesis: {count} inputs in {SECONDS:.0f}s, no failure, peak RSS {peak:.0f} MB")


class _Done(Exception):
    """Raised to stop the hypothesis campaign when time is up."""


if __name__ == "__main__":
    engine = os.environ.get("FUZZ_ENGINE", "atheris")
    if atheris is not None and engine == "atheris":
        run_atheris()
    else:
        run_hypothesis()
