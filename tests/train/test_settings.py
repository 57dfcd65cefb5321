"""Train settings: strict types, finite values in range, unknown keys with line numbers, machine checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import get_args

import pytest
import torch

from dataforge.errors import ConfigError
from dataforge.train.config import MODEL_SIZES, SizeName, TrainConfig
from dataforge.train.settings import check_train_config, load_train_config


def problems(config_file: Path | None, overrides: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_train_config(config_file, overrides or {})
    return [str(p) for p in info.value.problems]


def test_a_settings_file_with_typos_is_refused_with_lines_and_suggestions(tmp_path: Path) -> None:
    conf = tmp_path / "train.yaml"
    conf.write_text("model: tiny\nsteps: 0\nbatch_sise: 4\nlearning_rate: 0.1\n")
    assert problems(conf) == [
        f"{conf}:2: steps: Input should be greater than or equal to 1 (got 0)",
        f"{conf}:3: batch_sise: unknown option 'batch_sise' (did you mean 'batch_size'?)",
        f"{conf}:4: learning_rate: unknown option 'learning_rate' (see dataforge train --help for the settings)",
    ]


def test_a_pipeline_files_train_section_is_read_with_its_own_lines(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: demo\noutput: out\ntrain:\n  model: tiny\n  stepz: 5\n  dtype: fp8\n")
    assert problems(pipeline) == [
        f"{pipeline}:5: train.stepz: unknown option 'stepz' (did you mean 'steps'?)",
        f"{pipeline}:6: train.dtype: Input should be 'auto', 'float32', 'bfloat16' or 'float16' (got 'fp8')",
    ]
    pipeline.write_text("name: demo\ntrain:\n  steps: 5\n")
    assert load_train_config(pipeline, {"steps": 7, "lr": None}).steps == 7  # the command line wins
    pipeline.write_text("train:\n  lr: 6e-4\n")
    assert load_train_config(pipeline, {}).lr == 6e-4  # a YAML 1.1 string to PyYAML, a number to everyone else


@pytest.mark.parametrize(("text", "message"), [
    ('steps: "200"', "steps: Input should be a valid integer (got '200')"),  # YAML string, not a number
    ("steps: 2.5", "steps: Input should be a valid integer (got 2.5)"),
    ("steps: true", "steps: Input should be a valid integer (got True)"),
    ("lr: .inf", "lr: Input should be a finite number (got inf)"),
    ("lr: .nan", "lr: Input should be a finite number (got nan)"),
    ("lr: 1e6", "lr: Input should be less than or equal to 1 (got '1e6')"),  # YAML 1.1 reads 1e6 as a string
    ("lr: 1e-3x", "lr: Input should be a valid number (got '1e-3x')"),
    ("lr: -0.1", "lr: Input should be greater than 0 (got -0.1)"),
    ("seed: -1", "seed: Input should be greater than or equal to 0 (got -1)"),
    ("seq_len: 1000000000", "seq_len: Input should be less than or equal to 131072"),
    ("batch_size: 0", "batch_size: Input should be greater than or equal to 1 (got 0)"),
    ("grad_clip: -1", "grad_clip: Input should be greater than or equal to 0"),
    ("holdout: 0.9", "holdout: Input should be less than 0.5"),
    ("device: gpu0", "device: String should match pattern"),
    ("model: huge", "model: Input should be 'tiny', 'mini', 'small', 'medium' or 'base' (got 'huge')"),
    ("compile: yes please", "compile: Input should be a valid boolean"),
    ("eval_text: data/eval/x.txt", "eval_text: Input should be a valid list"),
    ("steps: 5\nsteps: 6", "'steps' is given twice (lines 1 and 2)"),
])
def test_every_bad_value_is_refused_by_key(tmp_path: Path, text: str, message: str) -> None:
    conf = tmp_path / "train.yaml"
    conf.write_text(text + "\n")
    found = problems(conf)
    assert any(message in p for p in found), found


def test_every_size_name_the_setting_accepts_is_a_model_size() -> None:
    assert get_args(SizeName) == tuple(MODEL_SIZES)
    assert {name: TrainConfig(model=name).size for name in get_args(SizeName)} == MODEL_SIZES


def test_values_from_the_command_line_are_named_by_their_flag() -> None:
    assert problems(None, {"lr": math.inf, "batch_size": -1}) == [
        "command line: --batch-size: Input should be greater than or equal to 1 (got -1)",
        "command line: --lr: Input should be a finite number (got inf)",
    ]


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "train.yaml"
    conf.write_text("- steps: 5\n")
    assert "expected a mapping of train settings" in problems(conf)[0]
    conf.write_text("steps: [5\n")
    assert "not valid YAML" in problems(conf)[0]


def test_check_refuses_a_vocabulary_smaller_than_the_tokenizers() -> None:
    assert check_train_config(TrainConfig(vocab_size=4096), tokenizer_vocab=8192) == [
        ("vocab_size", "4096 is smaller than the tokenizer's 8192 tokens; use vocab_size >= 8192, "
                       "or leave it unset to follow the shards")]
    assert check_train_config(TrainConfig(vocab_size=8192), tokenizer_vocab=8192) == []
    assert check_train_config(TrainConfig(), tokenizer_vocab=8192) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a CUDA GPU")
def test_check_refuses_devices_and_dtypes_this_machine_lacks() -> None:
    assert [k for k, _ in check_train_config(TrainConfig(device="cuda"))] == ["device"]
    assert [k for k, _ in check_train_config(TrainConfig(device="cuda:3"))] == ["device"]
    keys = check_train_config(TrainConfig(dtype="float16"))
    assert [k for k, _ in keys] == ["dtype"] and "float16 needs a CUDA GPU" in keys[0][1]
    assert check_train_config(TrainConfig(device="cpu", dtype="float32")) == []


def test_check_refuses_compile_without_a_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_train_config(TrainConfig(device="cpu", compile=True)) == []  # this machine has g++
    monkeypatch.setenv("PATH", "/nonexistent")
    found = check_train_config(TrainConfig(device="cpu", compile=True))
    assert [k for k, _ in found] == ["compile"] and "needs a C++ compiler" in found[0][1]


def test_check_reads_the_evaluation_files(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "mc.jsonl"
    bad.write_text('{"query": "Q?", "choices": ["a", "b"], "gold": 2}\n')
    found = check_train_config(TrainConfig(eval_text=[str(data_dir / "eval" / "botchan_head.txt"),
                                                      str(tmp_path / "missing.txt")], eval_mc=[str(bad)]))
    assert [k for k, _ in found] == ["eval_text[1]", "eval_mc[0]"]
    assert "cannot read the evaluation file" in found[0][1]
    assert found[1][1] == f"{bad}:1: 'gold' must be the index of the right choice (0 to 1), got 2"
