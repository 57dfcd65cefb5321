"""What every command shares: exit codes, the consoles, and the one error-to-exit mapping.

Nothing below ``dataforge.cli`` imports click or rich; the library raises
``DataforgeError`` subclasses that carry their exit code, and ``handle_errors`` turns
them (and OS errors such as a full disk) into one message on stderr and that code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import click
from rich.console import Console

from ..errors import ConfigError, DataforgeError, Interrupted
from .terminal import cell

#: exit codes, the same for every command (README: "Exit codes"): 0 done, 1 failed, 2 bad input or
#: configuration (nothing was run), 3 the output is locked by another run, 4 nothing new to do,
#: 5 stopped at a limit the user set (--max-cost, --max-requests), with everything so far kept
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED, EXIT_NOTHING, EXIT_LIMIT = 0, 1, 2, 3, 4, 5

F = TypeVar("F", bound=Callable[..., Any])


def err_console() -> Console:
    """Standard error: progress, warnings and errors."""
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def out_console() -> Console:
    """Standard output: lines are never wrapped (paths stay whole for grep and logs); tables
    get 160 columns when not on a terminal."""
    return Console(highlight=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def report_config_error(exc: ConfigError, *, subject: str | None = None) -> None:
    """Every problem of a refused configuration, one line each, after a headline."""
    con = err_console()
    n = len(exc.problems)
    if subject is not None:
        con.print(f"[bold red]{cell(subject)}: {n} problem{'s' if n != 1 else ''}; nothing was run[/]")
    for p in exc.problems:
        con.print(("error: " if subject is None else "") + str(p).lstrip(": "), markup=False)


def fail(exc: BaseException, *, subject: str | None = None) -> NoReturn:
    """Print ``exc`` as a user error and exit with its code (no traceback)."""
    if isinstance(exc, ConfigError):
        report_config_error(exc, subject=subject)
        sys.exit(EXIT_CONFIG)
    if isinstance(exc, DataforgeError):
        err_console().print(f"[bold red]error:[/] {cell(exc)}")
        sys.exit(exc.exit_code)
    if isinstance(exc, Interrupted):
        err_console().print(f"[bold yellow]{cell(exc)}[/]")
        sys.exit(exc.exit_code)
    if isinstance(exc, OSError):  # disk full, read-only or vanished output: say which file and why
        where = exc.filename or ""
        err_console().print(f"[bold red]error:[/] {cell(where)}{': ' if where else ''}{cell(exc.strerror or exc)}; "
                            "nothing unfinished was marked done (fix it and rerun to resume)")
        sys.exit(EXIT_FAILED)
    raise exc


def handle_errors(fn: F) -> F:
    """Decorate a command: user errors become one message and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (DataforgeError, OSError, Interrupted) as exc:
            fail(exc)

    return cast(F, wrapper)


def echo(text: str) -> None:
    """One line of plain output on stdout."""
    click.echo(text)
