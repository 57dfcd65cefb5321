"""The command line: a thin layer over the library. Each command's docstring is its help."""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__

# Sub-commands that live beside the code they drive, imported only when used, so
# `dataforge --help` stays fast and optional extras stay optional.
LAZY_COMMANDS: dict[str, str] = {
    "run": "dataforge.runner.cli:run",
    "validate": "dataforge.runner.cli:validate",
    "stages": "dataforge.runner.cli:stages",
    "classifier": "dataforge.filters.cli:classifier",
    "self-instruct": "dataforge.selfinstruct.cli:self_instruct",
    "dedup-instructions": "dataforge.selfinstruct.cli:dedup_instructions",
    "tokenize-sft": "dataforge.selfinstruct.cli:tokenize_sft",
    "train": "dataforge.train.cli:train",
    "sample": "dataforge.train.cli:sample",
    "report": "dataforge.report.cli:report",
    "inspect": "dataforge.report.cli:inspect",
    "stats": "dataforge.report.cli:stats",
}


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command: a DataforgeError prints as one message and exits with its code
    (no traceback), so a missing file or a damaged output reads as what it is."""
    from .errors import DataforgeError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataforgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._available()))

    def _available(self) -> list[str]:
        out = []
        for name, target in LAZY_COMMANDS.items():
            module = target.partition(":")[0]
            if importlib.util.find_spec(module) is not None:
                out.append(name)
        return out

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and importlib.util.find_spec(LAZY_COMMANDS[cmd_name].partition(":")[0]):
            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            cmd: Any = getattr(importlib.import_module(module), attr)
            return cmd
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dataforge")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """dataforge: crawl dumps and seed prompts in, language-model training shards out.

    \b
    Examples:
      dataforge validate pipelines/pretrain_mix.yaml
      dataforge run pipelines/pretrain_mix.yaml
      dataforge run --dry-run pipelines/pretrain_mix.yaml
      dataforge train --shards out/pretrain_mix --model tiny --steps 200 --output out/run1
    """
    level = max(logging.WARNING - 10 * verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)  # the terminal gets warnings; the run's log file gets INFO too
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


if __name__ == "__main__":  # pragma: no cover
    main()
