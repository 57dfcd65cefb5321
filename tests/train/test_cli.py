"""`dataforge train` and `dataforge sample` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main

FAST = ["--batch-size", "4", "--seq-len", "32", "--warmup", "2", "--threads", "1"]


def test_train_then_sample(book_shards: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--shards", str(book_shards), "--output", str(run), "--model", "tiny",
                                  "--steps", "6", "--eval-every", "3", *FAST])
    assert result.exit_code == 0, result.output
    assert "step      3  eval loss" in result.output and "done: 6 steps" in result.output
    assert {"ckpt.pt", "metrics.jsonl", "run.json", "tokenizer.json"} <= {p.name for p in run.iterdir()}
    again = runner.invoke(main, ["sample", str(run), "--prompt", "Alice said", "--max-tokens", "8", "--seed", "1"])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Alice said") and len(again.output.strip()) > len("Alice said")
    same = runner.invoke(main, ["sample", str(run), "--prompt", "Alice said", "--max-tokens", "8", "--seed", "1"])
    assert same.output == again.output


def test_config_file_train_section_and_option_override(book_shards: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("name: demo\ntrain:\n  model: tiny\n  steps: 5\n  batch_size: 2\n  seq_len: 16\n"
                        "  threads: 1\n  warmup: 1\n")
    result = CliRunner().invoke(main, ["train", "--shards", str(book_shards), "--output", str(tmp_path / "run"),
                                       "--config", str(pipeline), "--steps", "2"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["steps"] == 2 and config["batch_size"] == 2 and config["seq_len"] == 16


def test_bad_settings_are_reported_by_key(book_shards: Path, tmp_path: Path) -> None:
    conf = tmp_path / "train.yaml"
    conf.write_text("steps: 0\nbatch_sise: 4\n")
    result = CliRunner().invoke(main, ["train", "--shards", str(book_shards), "--output", str(tmp_path / "run"),
                                       "--config", str(conf)])
    assert result.exit_code == 2
    assert "train.steps: Input should be greater than or equal to 1" in result.output
    assert "train.batch_sise: Extra inputs are not permitted" in result.output
    assert "Traceback" not in result.output


def test_user_errors_are_one_line_with_the_fix(book_shards: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--shards", str(book_shards), "--output", str(tmp_path / "run"),
                                  "--steps", "1", *FAST, "--config", str(_write(tmp_path, "vocab_size: 512\n"))])
    assert result.exit_code == 1
    assert "does not fit the model's vocab_size 512" in result.output and "Traceback" not in result.output
    missing = runner.invoke(main, ["sample", str(tmp_path)])
    assert missing.exit_code == 1 and "no checkpoint" in missing.output


def test_every_command_has_help_with_an_example() -> None:
    for command in ("train", "sample"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output and f"dataforge {command}" in result.output


def _write(folder: Path, text: str) -> Path:
    path = folder / "train.yaml"
    path.write_text(text)
    return path
