"""tokenize-sft: Alpaca prompt, loss mask over response + EOS only, truncation, manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from dataforge.cli import main
from dataforge.selfinstruct.sft import build_row, load_sft_template, render_prompt
from dataforge.tokenize.shards import manifest_shards, open_shard, read_manifest

RECORDS = [
    {"instruction": "Give three tips for staying healthy.", "input": "",
     "output": "Eat well, exercise, and sleep."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
    {"instruction": "Write a long story.", "input": "", "output": "word " * 400},
]


def test_alpaca_prompt_dict():
    prompts, tmpl = load_sft_template(None)
    assert render_prompt(prompts, RECORDS[1]) == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n### Instruction:\nTranslate to French.\n\n"
        "### Input:\nGood morning\n\n### Response:")
    assert render_prompt(prompts, RECORDS[0]) == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n### Response:")
    assert tmpl.name == "alpaca_sft.json"


def test_build_row_mask_truncate_and_drop():
    ids, mask, length, note = build_row([5, 6, 7], [8, 9], eos_id=0, pad_id=0, seq_len=8, overflow="truncate")
    assert ids.tolist() == [5, 6, 7, 8, 9, 0, 0, 0] and length == 6 and note is None
    assert mask.tolist() == [0, 0, 0, 1, 1, 1, 0, 0]  # response and its EOS; no prompt, no padding
    ids, mask, length, note = build_row([5, 6, 7], [8, 9, 10, 11], eos_id=0, pad_id=0, seq_len=5, overflow="truncate")
    assert ids.tolist() == [5, 6, 7, 8, 9] and mask.tolist() == [0, 0, 0, 1, 1] and note == "truncated"
    assert build_row([5, 6, 7], [8, 9, 10, 11], eos_id=0, pad_id=0, seq_len=5, overflow="drop") is None
    assert build_row([1] * 5, [2], eos_id=0, pad_id=0, seq_len=5, overflow="truncate") is None  # no room left


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_cli_writes_shards_tokenizer_and_manifest(tmp_path, tokenizer_path, suffix):
    src = tmp_path / f"data{suffix}"
    src.write_text(json.dumps(RECORDS) if suffix == ".json" else "".join(json.dumps(r) + "\n" for r in RECORDS))
    out = tmp_path / "sft"
    result = CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer_path),
                                       "--output", str(out), "--seq-len", "128"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert manifest["kind"] == "sft" and manifest["packing"] == "pad" and manifest["counts"]["truncated"] == 1
    assert manifest["counts"]["rows_train"] == 3 and manifest["source"]["path"] == str(src)
    assert (out / "tokenizer.json").read_bytes() == tokenizer_path.read_bytes()
    [(path, entry)] = manifest_shards(out)
    view = open_shard(path)
    tok = Tokenizer.from_file(str(tokenizer_path))
    prompts, _ = load_sft_template(None)
    for row, rec in enumerate(RECORDS[:2]):
        p = tok.encode(render_prompt(prompts, rec)).ids
        r = tok.encode(rec["output"]).ids
        n = len(p) + len(r) + 1
        assert view.lengths[row] == n
        assert view.tokens[row, :n].tolist() == p + r + [0]
        assert view.loss_mask[row].tolist() == [0] * len(p) + [1] * (len(r) + 1) + [0] * (128 - n)
        assert tok.decode(view.tokens[row, len(p):n - 1].tolist()) == rec["output"]
    assert view.lengths[2] == 128 and view.loss_mask[2, -1] == 1 and view.tokens[2, -1] != 0  # cut, no EOS
    assert entry["tokens"] == int(np.sum(view.lengths))


@pytest.mark.parametrize("option", ["--validation-fraction", "--val-fraction"])  # the old name is a hidden alias
def test_drop_overflow_and_validation_split_the_trainer_reads(tmp_path, tokenizer_path, option):
    from dataforge.train.data import load_data

    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS * 20))
    out = tmp_path / "sft"
    result = CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer_path), "-o",
                                       str(out), "--seq-len", "128", "--overflow", "drop", option, "0.3"])
    assert result.exit_code == 0, result.output
    counts = read_manifest(out)["counts"]
    assert counts["dropped_too_long"] == 20 and "truncated" not in counts
    assert counts["rows_train"] + counts["rows_validation"] == 40 and counts["rows_validation"] > 0
    assert {e["split"] for _, e in manifest_shards(out)} == {"train", "validation"}
    assert load_data(out, window=None, holdout=0.0, model_vocab=None).eval_origin == "validation"


def test_seed_task_file_expands_instances(tmp_path, tokenizer_path, data_dir):
    out = tmp_path / "seed_sft"
    result = CliRunner().invoke(main, ["tokenize-sft", str(data_dir / "instructions" / "seed_tasks.jsonl"),
                                       "--tokenizer", str(tokenizer_path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert read_manifest(out)["counts"]["examples"] == 175


def test_bad_template_is_a_config_error(tmp_path, tokenizer_path):
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps(RECORDS[0]) + "\n")
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"prompt_input": "{instruction}"}))
    result = CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer_path),
                                       "--output", str(tmp_path / "o"), "--template", str(bad)])
    assert result.exit_code == 2 and "prompt_no_input" in result.output
