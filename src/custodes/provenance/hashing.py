"""File trees to digests: streamed SHA-256, parallel hashing, RFC 9162 Merkle roots.

Kept apart from the manifest document so verification, custody events and model signing
share one walker with one rule set: never follow a symlink, never read a file whole, hash
in threads because hashlib releases the GIL on large buffers.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from custodes.errors import InputError

__all__ = [
    "CHUNK",
    "FileEntry",
    "Progress",
    "Tree",
    "hash_file",
    "hash_tree",
    "merkle_root",
    "walk",
]

CHUNK = 1 << 20
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
SKIP_DIRS = frozenset({".git"})
#: progress(files_done, total_files, bytes_done, total_bytes), called from the caller's thread.
Progress = Callable[[int, int, int, int], None]


@dataclass(frozen=True)
class FileEntry:
    """One file: relative POSIX path, size, digest, and Parquet footer facts when tabular."""

    path: str
    size: int
    sha256: str
    rows: int | None = None
    schema_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Tree:
    """Regular files under a root, plus what was refused (symlinks, devices, sockets)."""

    root: Path
    files: tuple[tuple[str, Path], ...]
    refused: tuple[str, ...]


def walk(path: Path, exclude: Iterable[Path] = ()) -> Tree:
    """Regular files under ``path`` (or ``path`` itself), never following a symlink.

    A symlink could point anywhere (``/etc``, another dataset), so it is refused rather than
    followed; so are FIFOs and devices, which would hang or lie. ``.git`` is skipped and
    ``exclude`` (the manifest itself when it lives in the tree) left out.
    """
    if path.is_symlink():
        return Tree(path.parent, (), (path.name,))
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    if path.is_file():
        return Tree(path.parent, ((path.name, path),), ())
    skip = {os.path.abspath(p) for p in exclude}
    files: list[tuple[str, Path]] = []
    refused: list[str] = []
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise InputError(f"cannot list folder: {exc.strerror}", path=folder) from None
        for entry in entries:
            rel = Path(entry.path).relative_to(path).as_posix()
            if entry.is_symlink():
                refused.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS:
                    stack.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                refused.append(rel)
            elif os.path.abspath(entry.path) not in skip:
                files.append((rel, Path(entry.path)))
    files.sort()
    return Tree(path, tuple(files), tuple(sorted(refused)))


def hash_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> tuple[int, str]:
    """(size, sha256) streamed through one reused 1 MiB buffer: memory stays flat."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    try:
        with path.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                digest.update(view[:n])
                size += n
                if on_chunk is not None:
                    on_chunk(n)
    except FileNotFoundError:
        raise  # the caller decides: an error while recording, a removed file when verifying
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from None
    return size, digest.hexdigest()


def _parquet_facts(path: Path) -> tuple[int, str]:
    """Row count and schema fingerprint from the footer alone: no data pages are read."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema().to_string(
            show_field_metadata=False, show_schema_metadata=False
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None
    return int(meta.num_rows), hashlib.sha256(schema.encode()).hexdigest()


def _size(path: Path) -> int:
    """Size for the progress total only; a file vanishing now is reported when it is read."""
    try:
        return path.stat(follow_symlinks=False).st_size
    except OSError:
        return 0


def hash_tree(
    tree: Tree,
    *,
    tabular: bool = False,
    progress: Progress | None = None,
    vanished_ok: bool = False,
) -> list[FileEntry]:
    """Entries for every file of ``tree``, hashed in parallel, in path order.

    A file deleted between the walk and its hashing is an input error while recording,
    and simply absent (so reported as removed) when ``vanished_ok``, as verify wants.
    """
    total_bytes, total_files = sum(_size(p) for _, p in tree.files), len(tree.files)
    lock = threading.Lock()
    done = [0]

    def on_chunk(n: int) -> None:
        with lock:
            done[0] += n

    def one(rel: str, path: Path) -> FileEntry | None:
        try:
            size, sha = hash_file(path, on_chunk)
        except FileNotFoundError:
            if vanished_ok:
                return None
            raise InputError("the file disappeared while it was being hashed", path=path) from None
        if tabular and path.suffix.lower() in PARQUET_SUFFIXES:
            rows, schema = _parquet_facts(path)
            return FileEntry(rel, size, sha, rows, schema)
        return FileEntry(rel, size, sha)

    with ThreadPoolExecutor() as pool:
        pending: set[Future[FileEntry | None]] = {pool.submit(one, r, p) for r, p in tree.files}
        futures = list(pending)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if progress is not None:
                progress(total_files - len(pending), total_files, done[0], total_bytes)
        entries = [e for e in (f.result() for f in futures) if e is not None]
    return sorted(entries, key=lambda e: e.path)


def _leaf(path: str, sha256: str) -> bytes:
    # RFC 9162 leaf: 0x00 prefix; NUL cannot occur in a path, so (path, digest) is unambiguous.
    return hashlib.sha256(b"\x00" + path.encode() + b"\x00" + bytes.fromhex(sha256)).digest()


def _subtree(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two below n, as RFC 9162 splits
    return hashlib.sha256(
        b"\x01" + _subtree(hashes, lo, lo + k) + _subtree(hashes, lo + k, hi)
    ).digest()


def merkle_root(leaves: Iterable[tuple[str, str]]) -> str:
    """RFC 9162 Merkle tree hash over (path, sha256) leaves sorted by path.

    Domain separation (0x00 leaves, 0x01 nodes) stops a node passing for a leaf; sorting
    makes the root independent of the order files were listed or hashed in.
    """
    hashes = [_leaf(p, d) for p, d in sorted(leaves)]
    if not hashes:
        return hashlib.sha256(b"").hexdigest()
    return _subtree(hashes, 0, len(hashes)).hex()
