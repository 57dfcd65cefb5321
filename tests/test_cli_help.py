"""Every command has help with an example, and the README documents it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import LAZY_COMMANDS, main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_top_level_help_has_examples() -> None:
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0
    assert "Examples:" in r.output
    for name in LAZY_COMMANDS:
        assert name in r.output


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_command_help_has_an_example_and_is_documented(name: str) -> None:
    r = CliRunner().invoke(main, [name, "--help"])
    assert r.exit_code == 0, r.output
    assert "Example" in r.output, f"'dataforge {name} --help' shows no example"
    assert f"dataforge {name}" in README, f"the README does not document 'dataforge {name}'"
