"""Long fuzz campaign for the pickle walker and the bounded zip reader (``make fuzz``).

Runs hypothesis for ``FUZZ_SECONDS`` (default 600) per target, mutating real pickles and
zips as well as random bytes; fails on any exception, on a walk slower than 2 s, or when
peak memory passes ``FUZZ_MAX_MB`` (default 512). Prints examples/s and peak memory.
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import sys
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.pickle_walk import BufferSource, walk
from custodes.scan.artifacts.zipsafe import SafeZip

SECONDS = float(os.environ.get("FUZZ_SECONDS", "600"))
MAX_MB = int(os.environ.get("FUZZ_MAX_MB", "512"))
SEEDS = [
    pickle.dumps({"a": [1, 2], "b": OrderedDict(c=b"x" * 40), "s": {1.5}}, protocol=p)
    for p in range(6)
]


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", data)
        zf.writestr("archive/data/0", b"\x00" * 256)
    return buf.getvalue()


ZIPS = [_zip(s) for s in SEEDS]
mutated = st.tuples(st.integers(0, 10_000), st.binary(max_size=32), st.integers(0, 8)).map(
    lambda t: (t[0], t[1], t[2])
)


def _mutate(seed: bytes, pos: int, patch: bytes, cut: int) -> bytes:
    pos %= len(seed) + 1
    return seed[:pos] + patch + seed[pos + cut :]


def run(name: str, test: Callable[[bytes], None]) -> None:
    """Fuzz one target in batches of fresh hypothesis runs until the time is up."""
    seeds = SEEDS if name == "walker" else ZIPS
    count = 0

    @settings(
        max_examples=2000, deadline=2000, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.binary(max_size=4096)
        | st.tuples(st.sampled_from(seeds), mutated).map(lambda t: _mutate(t[0], *t[1]))
    )
    def target(data: bytes) -> None:
        nonlocal count
        count += 1
        test(data)

    start = time.monotonic()
    while time.monotonic() - start < SECONDS:
        target()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = count / (time.monotonic() - start)
    print(
        f"{name}: {count} examples in {SECONDS:.0f}s, {rate:.0f}/s, peak RSS {peak:.0f} MB",
        flush=True,
    )
    if peak > MAX_MB:
        sys.exit(f"{name}: memory bound exceeded")


def _walker(data: bytes) -> None:
    walk(BufferSource(data), max_ops=100_000)


def _zipper(data: bytes) -> None:
    z = SafeZip(data, max_total=1 << 22)
    for m in z.members:
        z.read(m, 1 << 20)


if __name__ == "__main__":
    run("walker", _walker)
    run("zip reader", _zipper)
