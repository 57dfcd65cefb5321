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


def test_a_problem_on_line_100_prints_its_line_number_not_an_emoji(tmp_path, data_dir) -> None:
    """rich would render ':100:' as an emoji; the consoles are made without emoji codes."""
    p = tmp_path / "p.yaml"
    p.write_text("#\n" * 99 + f"output: {tmp_path / 'out'}\ninputs:\n  c4: {{reader: jsnl, paths: x}}\nstages: []\n")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2
    assert f"{p}:102: inputs.c4.reader: unknown reader 'jsnl'" in r.output and "\U0001f4af" not in r.output


def test_a_reference_problem_is_at_its_list_key_and_line(tmp_path, data_dir) -> None:
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"q": "what is the boiling point of water at sea level in degrees"}\n')
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}
stages:
  - decontaminate:
      references:
        - {{name: qs, path: {refs}, id_field: qid}}
  - write: {{}}
""")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2, r.output
    assert f"{p}:7: stages[0].decontaminate.references[0].id_field: {refs}:1: no id field 'qid'" in r.output
