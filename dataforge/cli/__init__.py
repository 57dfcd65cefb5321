"""The command line: a thin layer over the library. Each command's docstring is its help.

One module per command group (``run``, ``instruct``, ``classifier``, ``train``, ``report``);
``common`` holds the exit codes, the consoles and the one error-to-exit mapping, and
``terminal`` the escaping of data printed to a terminal. Only this package imports click
and rich.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

from .. import __version__

# Sub-commands, imported only when used, so `dataforge --help` stays fast and optional
# extras (torch, ray) stay optional.
LAZY_COMMANDS: dict[str, str] = {
    "run": "dataforge.cli.run:run",
    "validate": "dataforge.cli.run:validate",
    "stages": "dataforge.cli.run:stages",
    "classifier": "dataforge.cli.classifier:classifier",
    "self-instruct": "dataforge.cli.instruct:self_instruct",
    "dedup-instructions": "dataforge.cli.instruct:dedup_instructions",
    "tokenize-sft": "dataforge.cli.instruct:tokenize_sft",
    "evol-instruct": "dataforge.cli.instruct:evol_instruct",
    "judge": "dataforge.cli.instruct:judge",
    "format-instructions": "dataforge.cli.instruct:format_instructions",
    "convert-instructions": "dataforge.cli.instruct:convert_instructions",
    "sft-mix": "dataforge.cli.instruct:sft_mix",
    "train": "dataforge.cli.train:train",
    "ablate": "dataforge.cli.ablate:ablate",
    "sample": "dataforge.cli.train:sample",
    "evaluate": "dataforge.cli.train:evaluate",
    "report": "dataforge.cli.report:report",
    "inspect": "dataforge.cli.report:inspect",
    "stats": "dataforge.cli.report:stats",
    "why": "dataforge.cli.why:why",
    "export": "dataforge.cli.export:export",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use. ``-v``/``-vv``/``--verbose``
    may come after the command name too (``dataforge run -v p.yaml``): no command has a
    ``-v`` of its own, so they are moved in front before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        head, rest, seen_dashdash = [], [], False
        for a in args:
            if a == "--":
                seen_dashdash = True
            if not seen_dashdash and (a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"})):
                head.append(a)
            else:
                rest.append(a)
        return super().parse_args(ctx, head + rest)

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
