"""Notebook cells that read production buckets and databases directly.

A notebook that pulls ``s3://prod-patients/`` or connects to the production warehouse
copies live data onto a laptop, outside the controls the pipeline applies. The cell is
parsed (magic lines blanked so the rest still parses); cells that still do not parse
fall back to a regex for storage URIs. Nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from custodes.findings import Severity

__all__ = ["DataAccess", "blank_magics", "find_data_access"]

_URI = re.compile(r"\b(s3a?|gs|abfss?|wasbs?|az|adl)://([A-Za-z0-9._@-]+)(/[^\s'\"]*)?")
_PROD = re.compile(r"(?:^|[^a-z])(prod|production|prd|live)(?:[^a-z]|$)", re.I)
_DB_CALLS = frozenset(
    {
        "sqlalchemy.create_engine",
        "pandas.read_sql",
        "pandas.read_sql_query",
        "pandas.read_sql_table",
        "psycopg2.connect",
        "psycopg.connect",
        "pymysql.connect",
        "mysql.connector.connect",
        "pymongo.MongoClient",
        "pyodbc.connect",
        "cx_Oracle.connect",
        "oracledb.connect",
        "redshift_connector.connect",
    }
)
_WAREHOUSE_CALLS = frozenset(
    {"snowflake.connector.connect", "google.cloud.bigquery.Client", "databricks.sql.connect"}
)
_S3_READS = frozenset({"get_object", "download_file", "download_fileobj", "select_object_content"})


@dataclass(frozen=True)
class DataAccess:
    """One direct read of a bucket or database in a cell."""

    line: int
    """1-based line in the cell source."""
    severity: Severity
    what: str
    """A short, secret-free description: ``s3://prod-patients``, ``snowflake.connector.connect``."""


def blank_magics(source: str) -> str:
    """Replace IPython magic and shell lines with blank lines so the cell parses."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!", "?")) else line for line in source.split("\n")
    )


def _uri_access(text: str, line: int) -> list[DataAccess]:
    out = []
    for m in _URI.finditer(text):
        scheme, host = m.group(1).lower(), m.group(2).rsplit("@", 1)[-1]
        prod = bool(_PROD.search(m.group(0)))
        severity = Severity.HIGH if prod else Severity.MEDIUM
        out.append(DataAccess(line, severity, f"{scheme}://{host}"))
    return out


def _names(tree: ast.AST) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    base = names.get(node.id, {"pd": "pandas", "sa": "sqlalchemy"}.get(node.id, node.id))
    return ".".join([base, *reversed(parts)])


def _literal_text(call: ast.Call) -> str:
    """All string constants in a call's arguments, to look for production host names."""
    return " ".join(
        n.value
        for arg in [*call.args, *(k.value for k in call.keywords)]
        for n in ast.walk(arg)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def find_data_access(source: str, *, imports: dict[str, str] | None = None) -> list[DataAccess]:
    """Direct reads of cloud buckets and production databases in one cell's source."""
    magic_lines = [
        (i, line)
        for i, line in enumerate(source.split("\n"), start=1)
        if line.lstrip().startswith(("%", "!"))
    ]
    found = [a for i, line in magic_lines for a in _uri_access(line, i)]
    try:
        tree = ast.parse(blank_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        magic = {i for i, _ in magic_lines}
        for i, line in enumerate(source.split("\n"), start=1):
            if i not in magic:
                found.extend(_uri_access(line, i))
        return found
    names = {**(imports or {}), **_names(tree)}
    uses_boto3 = any(v.startswith("boto3") for v in names.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.extend(_uri_access(node.value, node.lineno))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func, names) or ""
            if name in _DB_CALLS or name.endswith(".read_sql"):
                text = _literal_text(node)
                if _PROD.search(text):
                    host = _host_of(text)
                    found.append(DataAccess(node.lineno, Severity.HIGH, f"{name} to {host}"))
            elif name in _WAREHOUSE_CALLS:
                found.append(DataAccess(node.lineno, Severity.MEDIUM, name))
            elif (
                uses_boto3 and isinstance(node.func, ast.Attribute) and node.func.attr in _S3_READS
            ):
                found.append(DataAccess(node.lineno, Severity.MEDIUM, f"boto3 {node.func.attr}"))
    return sorted(set(found), key=lambda a: (a.line, a.what))


def _host_of(text: str) -> str:
    """The production-looking host in a connection string, without user or password."""
    for word in re.split(r"[\s/]+", text):
        host = word.rsplit("@", 1)[-1].split(":")[0].split("?")[0]
        if _PROD.search(host):
            return host
    return "a production host"
