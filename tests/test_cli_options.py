"""One spelling per concept across commands (issue 21.4): -o/--output wherever something is
written, --seed with its default shown, the pipeline file's names for the text field and the
validation fraction, and every option's default in --help."""

from __future__ import annotations

import importlib

import click
from click.testing import CliRunner

from dataforge.cli import LAZY_COMMANDS, main


def _commands() -> list[tuple[str, click.Command]]:
    out = []
    for name, target in sorted(LAZY_COMMANDS.items()):
        module, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in sorted(cmd.commands.items())]
        else:
            out.append((name, cmd))
    return out


def test_one_spelling_per_concept() -> None:
    for name, cmd in _commands():
        for p in cmd.params:
            if not isinstance(p, click.Option) or p.hidden:  # a hidden old spelling may stay, unlisted
                continue
            names = p.opts + p.secondary_opts
            if "-o" in names:
                assert p.opts[:2] in (["-o", "--output"], ["--output", "-o"]), f"{name}: -o is {p.opts}"
            if "--seed" in names:
                assert p.show_default or "default" in (p.help or ""), f"{name} --seed hides its default"
            assert p.opts[0] not in ("--text-key", "--valid-fraction", "--out", "--val-fraction"), \
                f"{name}: {p.opts[0]} (the pipeline file says text_field / validation_fraction / output)"


def test_every_option_with_a_default_shows_it() -> None:
    missing = []
    for name, cmd in _commands():
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.is_flag and not p.required and not p.multiple \
                    and p.default is not None and not p.hidden and "UNSET" not in repr(p.default) and p.name not in ("help",):
                if not p.show_default and "default" not in (p.help or "").lower():
                    missing.append(f"{name} {p.opts[0]}")
    assert missing == []


def test_old_spellings_still_work() -> None:
    r = CliRunner().invoke(main, ["classifier", "train", "--help"])
    assert "--text-field, --text-key" in r.output and "--validation-fraction, --valid-fraction" in r.output
    r = CliRunner().invoke(main, ["report", "--help"])
    assert "-o, --output, --out" in r.output
