"""The ``custodes`` command: wires command groups and owns the exit-code contract.

0 clean · 1 findings at or above ``--fail-on`` (or a verdict other than ok) · 2 bad
input or usage, one line naming the file and what is wrong · 3 internal error.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from custodes import __version__
from custodes.cli import audit, catalog, data, gate, monitor, provenance, registry, tokens
from custodes.cli.assess import assess_command, demo_command
from custodes.cli.bom import bom_command
from custodes.cli.common import err_console
from custodes.cli.init import init_command, schema_command
from custodes.cli.scan import scan_command
from custodes.cli.serve import serve_command
from custodes.cli.threat_model import threat_model
from custodes.errors import CustodesError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="custodes",
    help="ML SecOps for AI/ML systems, where data is the attack vector.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"custodes {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """ML SecOps for AI/ML systems: threat models as code, scanners, data validation,
    provenance, governance gates and monitoring."""


app.command("threat-model")(threat_model)
app.command("scan")(scan_command)
app.command("assess")(assess_command)
app.command("demo")(demo_command)
app.command("init")(init_command)
app.command("schema")(schema_command)
app.command("bom")(bom_command)
app.command("serve")(serve_command)
app.add_typer(catalog.app, name="catalog")
app.add_typer(data.app, name="data")
app.add_typer(provenance.app, name="provenance")
app.add_typer(provenance.keys_app, name="keys")
registry.app.add_typer(tokens.app, name="token")
app.add_typer(registry.app, name="registry")
app.add_typer(gate.app, name="gate")
app.add_typer(audit.app, name="audit")
app.add_typer(monitor.app, name="monitor")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Standalone mode lets Typer print usage errors (exit 2) and --help itself; it
        # ends with SystemExit, whose code is ours to return.
        app(args=args, prog_name="custodes", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except CustodesError as exc:
        err_console.print(
            f"[bold red]error:[/bold red] {exc.diagnostics()}", markup=True, soft_wrap=True
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CUSTODES_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc} "
            "(this is a bug in custodes; rerun with CUSTODES_DEBUG=1 for a traceback)",
            soft_wrap=True,
        )
        return 3
    return 0


def run() -> None:
    """Console-script entry point."""
    _exit(main())


def _exit(code: int) -> NoReturn:
    """End the process once the command is done, without the interpreter's teardown.

    Finalizing the modules a data check loads (pyarrow, scipy, scikit-learn, pandas) and
    freeing its arrays takes about 0.4 s, a fifth of the 2-second budget of a million-row
    check, and does nothing a finished command needs. The output is flushed and the
    atexit handlers run as usual; a command that left a non-daemon thread running (a
    server) gets the normal shutdown, which waits for it.
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to write to
            stream.flush()
    os._exit(code)
