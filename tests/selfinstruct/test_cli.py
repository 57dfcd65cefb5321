"""Every command has help with an example; dedup-instructions end to end; bad usage exits 2."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from dataforge.cli import main


@pytest.mark.parametrize("command", ["self-instruct", "dedup-instructions", "tokenize-sft"])
def test_help_has_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and f"dataforge {command}" in result.output


@pytest.mark.parametrize("command", ["self-instruct", "dedup-instructions", "tokenize-sft"])
def test_every_option_shows_its_default_and_outputs_are_dash_o(command):
    cmd = main.get_command(click.Context(main), command)
    for param in cmd.params:
        if isinstance(param, click.Option) and not (param.required or param.is_flag or param.hidden
                                                    or param.name == "help"):
            assert param.show_default, f"{command} {param.opts}: default not shown"
    assert any("-o" in p.opts and "--output" in p.opts for p in cmd.params)


def test_dedup_instructions_cli(tmp_path, data_dir):
    src = tmp_path / "in.json"
    recs = [{"instruction": "Give three tips for staying healthy.", "input": "", "output": "a"},
            {"instruction": "Give 3 tips for staying healthy.", "input": "", "output": "b"},
            {"instruction": "What is the relation between the given pairs?", "input": "", "output": "c"},
            {"instruction": "Name the capital city of France.", "input": "", "output": "d"}]
    src.write_text(json.dumps(recs))
    dst, report = tmp_path / "out.jsonl", tmp_path / "dropped.jsonl"
    result = CliRunner().invoke(main, ["dedup-instructions", str(src), str(dst), "--report", str(report),
                                       "--against", str(data_dir / "instructions" / "seed_tasks.jsonl")])
    assert result.exit_code == 0, result.output
    assert "read 4, kept 2, dropped 2" in result.output
    kept = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["output"] for r in kept] == ["a", "d"]
    dropped = [json.loads(line) for line in report.read_text().splitlines()]
    assert dropped[1]["similar_to"] == "What is the relation between the given pairs?"


def test_bad_usage_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["self-instruct", "--model", "m"])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["dedup-instructions", str(tmp_path / "missing.json"), str(tmp_path / "o")])
    assert result.exit_code == 2
