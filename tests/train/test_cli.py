"""`dataforge train`, `sample` and `evaluate` through the real CLI: results, help, and every refusal an exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.cli.train import evaluate as evaluate_command
from dataforge.outputs import OutputDir

FAST = ["--batch-size", "4", "--seq-len", "32", "--warmup", "2", "--threads", "1"]


def train_args(shards: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--shards", str(shards), "-o", str(out), "--model", "tiny", *FAST, *extra]


def test_train_then_sample(book_shards: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(main, train_args(book_shards, run, "--steps", "6", "--eval-every", "3"))
    assert result.exit_code == 0, result.output
    assert "step      3  eval loss" in result.output and "done: 6 steps" in result.output
    assert "MFU" in result.output and "starting: " in result.output
    assert {"ckpt.pt", "metrics.jsonl", "run.json", "summary.json", "tokenizer.json"} <= {p.name for p in run.iterdir()}
    again = runner.invoke(main, ["sample", str(run), "--prompt", "Alice said", "--max-tokens", "8", "--seed", "1"])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Alice said") and len(again.output.strip()) > len("Alice said")
    same = runner.invoke(main, ["sample", str(run), "--prompt", "Alice said", "--max-tokens", "8", "--seed", "1"])
    assert same.output == again.output


def test_sample_escapes_terminal_controls(trained_run: tuple[Path, dict]) -> None:
    run, _ = trained_run
    result = CliRunner().invoke(main, ["sample", str(run), "--prompt", "\x1b]0;pwned\x07Alice\u202e", "--max-tokens", "3"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
    assert result.output.startswith("\ufffd]0;pwned\ufffdAlice\ufffd")


def test_eval_sets_from_the_command_line_land_in_the_summary(book_shards: Path, tmp_path: Path, data_dir: Path,
                                                             arc_head: Path) -> None:
    run = tmp_path / "run"
    result = CliRunner().invoke(main, train_args(book_shards, run, "--steps", "2", "--eval-text",
                                                 str(data_dir / "eval" / "botchan_head.txt"), "--eval-mc", str(arc_head)))
    assert result.exit_code == 0, result.output
    scores = json.loads((run / "summary.json").read_text())["eval_sets"]
    assert {"botchan_head/bpb", "arc_head/acc", "arc_head/acc_norm", "arc_head/chance"} <= scores.keys()
    again = CliRunner().invoke(evaluate_command, [str(run), "--eval-mc", str(arc_head), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["arc_head/acc"] == scores["arc_head/acc"]  # the same model, the same answers


def test_a_config_file_and_options_merge(book_shards: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("name: demo\ntrain:\n  model: tiny\n  steps: 5\n  batch_size: 2\n  seq_len: 16\n"
                        "  threads: 1\n  warmup: 1\n")
    result = CliRunner().invoke(main, ["train", "--shards", str(book_shards), "--output", str(tmp_path / "run"),
                                       "--config", str(pipeline), "--steps", "2"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["steps"] == 2 and config["batch_size"] == 2 and config["seq_len"] == 16


def test_a_config_file_with_typos_is_refused_with_lines(book_shards: Path, tmp_path: Path) -> None:
    conf = tmp_path / "train.yaml"
    conf.write_text("steps: 0\nbatch_sise: 4\n")
    result = CliRunner().invoke(main, ["train", "--shards", str(book_shards), "-o", str(tmp_path / "run"),
                                       "--config", str(conf)])
    assert result.exit_code == 2
    assert f"{conf}:1: steps: Input should be greater than or equal to 1 (got 0)" in result.output
    assert f"{conf}:2: batch_sise: unknown option 'batch_sise' (did you mean 'batch_size'?)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--lr", "inf"], "--lr: Input should be a finite number (got inf)"),
    (["--lr", "nan"], "--lr: Input should be a finite number (got nan)"),
    (["--lr", "1e9"], "--lr: Input should be less than or equal to 1"),
    (["--steps", "0"], "--steps: Input should be greater than or equal to 1 (got 0)"),
    (["--steps", "-1"], "--steps: Input should be greater than or equal to 1 (got -1)"),
    (["--batch-size", "0"], "--batch-size: Input should be greater than or equal to 1"),
    (["--seq-len", "1000000000"], "--seq-len: Input should be less than or equal to 131072"),
    (["--seed", "-1"], "--seed: Input should be greater than or equal to 0"),
    (["--threads", "100000"], "--threads: Input should be less than or equal to 1024"),
    (["--device", "tpu"], "--device: String should match pattern"),
    (["--steps", "many"], "'many' is not a valid integer"),
])
def test_nonsense_options_exit_2_before_anything_runs(book_shards: Path, tmp_path: Path, args: list[str],
                                                      message: str) -> None:
    result = CliRunner().invoke(main, train_args(book_shards, tmp_path / "run", *args))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a CUDA GPU")
def test_a_device_or_dtype_this_machine_lacks_exits_2(book_shards: Path, tmp_path: Path) -> None:
    for args, message in ((["--device", "cuda"], "train.device: 'cuda': torch sees no CUDA GPU"),
                          (["--dtype", "float16"], "train.dtype: float16 needs a CUDA GPU")):
        result = CliRunner().invoke(main, train_args(book_shards, tmp_path / "run", "--steps", "1", *args))
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_second_training_into_the_same_folder_exits_3(book_shards: Path, tmp_path: Path) -> None:
    with OutputDir(tmp_path / "run", kind="train"):
        result = CliRunner().invoke(main, train_args(book_shards, tmp_path / "run", "--steps", "1"))
    assert result.exit_code == 3 and "another dataforge command holds this output" in result.output


def test_a_folder_dataforge_did_not_make_exits_2_untouched(book_shards: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.jsonl").write_text("my own notes\n")
    result = CliRunner().invoke(main, train_args(book_shards, mine, "--steps", "1"))
    assert result.exit_code == 2 and "not made by dataforge" in result.output
    assert (mine / "metrics.jsonl").read_text() == "my own notes\n"


def test_resume_auto_from_the_command_line(book_shards: Path, pretrain_shards: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    assert runner.invoke(main, train_args(book_shards, run, "--steps", "2")).exit_code == 0
    refused = runner.invoke(main, train_args(pretrain_shards, run, "--steps", "2", "--resume"))
    assert refused.exit_code == 1 and "trained on other shards" in refused.output
    fresh = runner.invoke(main, train_args(pretrain_shards, run, "--steps", "2", "--resume=auto"))
    assert fresh.exit_code == 0, fresh.output
    assert json.loads((run / "summary.json").read_text())["fresh_start"] == "the shards changed since it was trained"


def _damage(run: Path, tmp_path: Path, name: str, content: bytes | None) -> Path:
    copy = tmp_path / name
    shutil.copytree(run, copy)
    target = copy / ("tokenizer.json" if name.startswith("tok") else "ckpt.pt")
    if content is None:
        target.write_bytes(target.read_bytes()[:1000])  # truncated
    else:
        target.write_bytes(content)
    return copy


@pytest.mark.parametrize(("name", "content", "message"), [
    ("truncated", None, "ckpt.pt: cannot read the checkpoint"),
    ("garbage", b"\x00" * 64, "ckpt.pt: cannot read the checkpoint"),
    ("a_list", None, "ckpt.pt: holds a list, not a dataforge checkpoint"),
    ("wrong_fields", None, "ckpt.pt: field 'model' is missing or not a dict"),
    ("wrong_shapes", None, "ckpt.pt: the weights do not fit the model it describes"),
    ("tok_damaged", b'{"version": "1.0", "model": ', "tokenizer.json: not a tokenizers JSON file"),
    ("tok_missing", b"", "tokenizer.json: the run has no tokenizer copy"),
])
def test_sample_on_a_damaged_run_names_the_file(trained_run: tuple[Path, dict], tmp_path: Path, name: str,
                                                content: bytes | None, message: str) -> None:
    run, _ = trained_run
    copy = _damage(run, tmp_path, name, content if name in ("garbage", "tok_damaged") else None)
    if name in ("a_list", "wrong_fields", "wrong_shapes"):
        ckpt = torch.load(run / "ckpt.pt", weights_only=True)
        if name == "wrong_fields":
            ckpt["model"] = [1, 2]
        elif name == "wrong_shapes":
            ckpt["model"]["embed.weight"] = torch.zeros(3, 3)
        torch.save([1, 2] if name == "a_list" else ckpt, copy / "ckpt.pt")
    if name == "tok_missing":
        (copy / "tokenizer.json").unlink()
    result = CliRunner().invoke(main, ["sample", str(copy), "--max-tokens", "3"])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_help_shows_defaults_sizes_and_examples() -> None:
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    flat = " ".join(help_text.split())  # click wraps to the terminal's width
    assert "--steps INTEGER Optimizer steps. [default: 200]" in flat and "[default: 1337]" in flat
    assert "[default: sha256]" in flat and "[default: from the shards]" in flat
    assert "-o, --output" in help_text and "Example" in help_text and "dataforge train" in help_text
    for line in ("tiny     2 layers x 128 wide,  4 heads, lr 0.003:   1.45M params",
                 "base    12 layers x 768 wide, 12 heads, lr 0.0006:  91.25M params"):
        assert line in help_text
    for command in ("sample", "evaluate"):
        text = CliRunner().invoke(main, [command, "--help"]).output  # both reachable from the top-level group
        assert "Example" in text and f"dataforge {command}" in text
