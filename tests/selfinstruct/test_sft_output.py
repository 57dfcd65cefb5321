"""tokenize-sft owns its output: claimed directories, atomic reruns, no all-masked shards (issue 20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.io import sha256_file
from dataforge.outputs import OutputDir
from dataforge.tokenize.shards import manifest_shards, open_shard, read_manifest

RECORDS = [{"instruction": f"Name fact number {i} about rivers.", "input": "", "output": f"Rivers flow {i}."}
           for i in range(40)]


def write_src(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def tokenize(src: Path, out: Path, tokenizer: Path, *extra: str):
    return CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer), "-o", str(out),
                                     "--seq-len", "64", "--rows-per-shard", "8", *extra])


def assert_consistent(out: Path) -> dict:
    """The manifest names only shards that exist and match their checksums, and its tokenizer."""
    manifest = read_manifest(out)
    for path, entry in manifest_shards(out):
        assert sha256_file(path) == entry["sha256"], path
        assert open_shard(path).tokens.shape[0] == entry["rows"]
    assert sha256_file(out / manifest["tokenizer"]["file"]) == manifest["tokenizer"]["sha256"]
    return manifest


def test_a_directory_dataforge_did_not_make_is_refused_and_left_alone(tmp_path, tokenizer_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / "manifest.json").write_text("{}")
    result = tokenize(write_src(tmp_path / "d.jsonl", RECORDS), out, tokenizer_path)
    assert result.exit_code == 2 and "not made by dataforge" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "notes.txt"]
    assert (out / "manifest.json").read_text() == "{}"


def test_a_pretraining_output_is_refused_not_replaced(tmp_path, tokenizer_path):
    out = tmp_path / "pretrain"
    with OutputDir(out, kind="pipeline"):
        (out / "shards").mkdir()
        (out / "shards" / "train-00000.arrow").write_bytes(b"pretraining shard")
        (out / "manifest.json").write_text('{"kind": "pretrain"}')
    result = tokenize(write_src(tmp_path / "d.jsonl", RECORDS), out, tokenizer_path)
    assert result.exit_code == 2 and "'pipeline' output, not a 'sft' one" in result.output
    assert (out / "shards" / "train-00000.arrow").read_bytes() == b"pretraining shard"
    assert (out / "manifest.json").read_text() == '{"kind": "pretrain"}'


def test_a_rerun_replaces_the_output_and_removes_only_what_it_wrote(tmp_path, tokenizer_path):
    out = tmp_path / "sft"
    assert tokenize(write_src(tmp_path / "a.jsonl", RECORDS), out, tokenizer_path).exit_code == 0
    first = assert_consistent(out)
    (out / "shards" / "my-extra.txt").write_text("the user's file")
    result = tokenize(write_src(tmp_path / "b.jsonl", RECORDS[:10]), out, tokenizer_path)
    assert result.exit_code == 0, result.output
    second = assert_consistent(out)
    assert first["shard_dir"] == "shards" and second["shard_dir"] == "shards-b"
    assert second["counts"]["rows_train"] == 10 and second["source"]["path"].endswith("b.jsonl")
    # the old slot's shards are gone; the file the user put there is not
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["my-extra.txt"]
    assert not (out / "tokenizer.json").exists()
    third = tokenize(write_src(tmp_path / "c.jsonl", RECORDS[:20]), out, tokenizer_path)
    assert third.exit_code == 2 and "not written by dataforge (" in third.output and "my-extra.txt" in third.output
    assert assert_consistent(out)["counts"]["rows_train"] == 10  # refused before touching the live output


KILLER = """
import os, sys
from pathlib import Path
import dataforge.selfinstruct.sft as sft
import dataforge.selfinstruct.sft_output as sft_output
from dataforge.tokenize import shards
where, after = sys.argv[1], int(sys.argv[2])
calls = [0]
def die(*a, **k):
    calls[0] += 1
    if calls[0] > after:
        os._exit(9)  # as SIGKILL: no cleanup, no finally
    return orig(*a, **k)
if where == "flush":
    orig = shards.ShardWriter.flush
    shards.ShardWriter.flush = die
else:
    orig = sft_output.Slot.retire_other
    sft_output.Slot.retire_other = die
sft.tokenize_sft(Path(sys.argv[3]), tokenizer=Path(sys.argv[4]), output=Path(sys.argv[5]),
                 settings=sft.SftSettings(seq_len=64, rows_per_shard=8))
"""


def killed_run(where: str, after: int, src: Path, tokenizer: Path, out: Path) -> int:
    return subprocess.run([sys.executable, "-c", KILLER, where, str(after), str(src), str(tokenizer), str(out)],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())}).returncode


def test_a_rerun_killed_while_writing_shards_leaves_the_old_output_intact(tmp_path, tokenizer_path):
    out = tmp_path / "sft"
    assert tokenize(write_src(tmp_path / "a.jsonl", RECORDS), out, tokenizer_path).exit_code == 0
    before = (out / "manifest.json").read_bytes()
    assert killed_run("flush", 2, write_src(tmp_path / "b.jsonl", RECORDS[:30]), tokenizer_path, out) == 9
    assert (out / "manifest.json").read_bytes() == before  # A's manifest over A's shards
    assert_consistent(out)
    assert (out / "shards-b").is_dir()  # B's partial shards: recorded, unnamed by any manifest
    result = tokenize(tmp_path / "b.jsonl", out, tokenizer_path)
    assert result.exit_code == 0, result.output
    manifest = assert_consistent(out)
    assert manifest["counts"]["rows_train"] == 30 and manifest["shard_dir"] == "shards-b"
    assert not (out / "shards").exists()


def test_a_run_killed_after_publishing_is_complete_and_the_next_run_cleans_up(tmp_path, tokenizer_path):
    out = tmp_path / "sft"
    assert tokenize(write_src(tmp_path / "a.jsonl", RECORDS), out, tokenizer_path).exit_code == 0
    assert killed_run("retire", 0, write_src(tmp_path / "b.jsonl", RECORDS[:30]), tokenizer_path, out) == 9
    manifest = assert_consistent(out)
    assert manifest["shard_dir"] == "shards-b" and (out / "shards").is_dir()  # old slot not yet removed
    assert tokenize(tmp_path / "a.jsonl", out, tokenizer_path).exit_code == 0
    assert assert_consistent(out)["shard_dir"] == "shards" and not (out / "shards-b").exists()


def test_shards_with_every_target_masked_out_are_refused_with_the_count(tmp_path, tokenizer_path):
    long_prompt = [{"instruction": "Explain " + "the river " * 60, "input": "", "output": "ok"}] * 3
    src = write_src(tmp_path / "long.jsonl", long_prompt)
    result = tokenize(src, tmp_path / "sft", tokenizer_path)
    assert result.exit_code == 2
    assert "3 of 3 examples do not fit in --seq-len 64" in result.output and "raise --seq-len" in result.output
    out = tmp_path / "sft"
    assert not (out / "manifest.json").exists() and not (out / "shards").exists()


def test_everything_in_validation_is_refused(tmp_path, tokenizer_path):
    src = write_src(tmp_path / "d.jsonl", RECORDS[:3])
    result = tokenize(src, tmp_path / "sft", tokenizer_path, "--validation-fraction", "0.999")
    assert result.exit_code == 2 and "lower --validation-fraction" in result.output
