"""Every command has help with an example; dedup-instructions end to end; bad usage exits 2."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from dataforge.cli import instruct, main


#: every instruction-data command (the new ones are registered in dataforge.cli.LAZY_COMMANDS by the lead)
COMMANDS = {c.name: c for c in (instruct.self_instruct, instruct.dedup_instructions, instruct.tokenize_sft,
                                instruct.evol_instruct, instruct.judge, instruct.format_instructions,
                                instruct.convert_instructions, instruct.sft_mix)}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_an_example(command):
    result = CliRunner().invoke(COMMANDS[command], ["--help"])
    assert result.exit_code == 0 and "Example" in result.output and f"dataforge {command}" in result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_shows_its_default_and_outputs_are_dash_o(command):
    cmd = COMMANDS[command]
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
    assert "read 4, kept 2, dropped 2 similar" in result.output
    kept = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["output"] for r in kept] == ["a", "d"]
    dropped = [json.loads(line) for line in report.read_text().splitlines()]
    assert dropped[1]["similar_to"] == "What is the relation between the given pairs?"


def test_bad_usage_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["self-instruct", "--model", "m"])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["dedup-instructions", str(tmp_path / "missing.json"), str(tmp_path / "o")])
    assert result.exit_code == 2


def test_dedup_instructions_decontaminates_per_benchmark(tmp_path, data_dir):
    arc = data_dir / "benchmarks" / "arc_challenge.jsonl"
    first = json.loads(arc.read_text().splitlines()[0])
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"query": "Which two colours make green when mixed by a painter on a wooden palette?",
                                "choices": ["blue and yellow"], "gold": 0}) + "\n")
    recs = [{"instruction": "Answer this. " + first["query"], "input": "", "output": first["choices"][first["gold"]]},
            {"instruction": "Which two colours make green when mixed by a painter on a wooden palette today?",
             "input": "", "output": "Blue and yellow."},
            {"instruction": "Name a primary colour.", "input": "", "output": "Red."}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    dst, report = tmp_path / "out.jsonl", tmp_path / "dropped.jsonl"
    result = CliRunner().invoke(main, ["dedup-instructions", str(src), "-o", str(dst), "--report", str(report),
                                       "--decontaminate", f"arc_challenge={arc}", "--decontaminate", f"mine={mine}"])
    assert result.exit_code == 0, result.output
    assert "read 3, kept 1, dropped 0 similar, 2 contaminated" in result.output
    assert "arc_challenge: 1" in result.output and "mine: 1" in result.output
    assert [json.loads(line)["output"] for line in dst.read_text().splitlines()] == ["Red."]
    dropped = [json.loads(line) for line in report.read_text().splitlines()]
    assert [list(d["benchmarks"]) for d in dropped] == [["arc_challenge"], ["mine"]]
    result = CliRunner().invoke(main, ["dedup-instructions", str(src), "-o", str(dst), "--decontaminate", "x"])
    assert result.exit_code == 2
