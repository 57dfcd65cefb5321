"""dataforge export: help, refused inputs and outputs (exit 2, nothing written), atomic publishing,
reruns, and memory that does not grow with the corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.export import ExportParams, export_shards
from dataforge.outputs import OutputDir
from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest
from tests.export.conftest import export_cli, load_summary, packed_output
from tests.export.readers import read_hf, read_megatron, stream


def test_help_has_examples_and_defaults() -> None:
    r = CliRunner().invoke(main, ["export", "--help"])
    assert r.exit_code == 0
    assert "Examples:" in r.output and "dataforge export out/pretrain_mix --format megatron" in r.output
    assert "[default: all]" in r.output and "[default: sha256]" in r.output


def copy_run(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst, ignore=shutil.ignore_patterns("_work", "documents", "logs"))
    return dst


def test_damaged_shard_is_refused_naming_it(ordered_run: Path, tmp_path: Path) -> None:
    src = copy_run(ordered_run, tmp_path)
    shard = src / "shards" / "train-00003.arrow"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    r = export_cli(src, tmp_path / "out", "megatron")
    assert r.exit_code == 2
    assert "train-00003.arrow" in r.output and "sha256" in r.output and "nothing was exported" in r.output
    assert not (tmp_path / "out").exists()


def test_row_count_that_disagrees_with_the_manifest_is_refused(ordered_run: Path, tmp_path: Path) -> None:
    src = copy_run(ordered_run, tmp_path)
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["shards"][1]["rows"] += 1
    (src / "manifest.json").write_text(json.dumps(manifest))
    r = export_cli(src, tmp_path / "out", "nanogpt")
    assert r.exit_code == 2
    assert manifest["shards"][1]["path"] in r.output and "rows" in r.output
    assert not (tmp_path / "out").exists()


def test_folder_dataforge_did_not_make_is_refused_and_untouched(ordered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = export_cli(ordered_run, out, "hf")
    assert r.exit_code == 2 and "not made by dataforge" in r.output and "notes.txt" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"


def test_a_file_dataforge_did_not_write_is_never_replaced(ordered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export_cli(ordered_run, out, "megatron", "--split", "train").exit_code == 0
    (out / "val.bin").write_text("the user's")
    r = export_cli(ordered_run, out, "nanogpt")
    assert r.exit_code == 2 and "val.bin" in r.output and "did not write it" in r.output
    assert (out / "val.bin").read_text() == "the user's"
    assert load_summary(out)["format"] == "megatron" and (out / "train.idx").is_file()


def test_rerun_replaces_its_prefix_and_leaves_other_prefixes_and_user_files(ordered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export_cli(ordered_run, out, "megatron").exit_code == 0
    assert export_cli(ordered_run, out, "megatron", "--prefix", "keep").exit_code == 0
    (out / "notes.txt").write_text("mine")
    r = export_cli(ordered_run, out, "nanogpt-raw")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["export.json", "keep_export.json", "keep_tokenizer.json", "keep_train.bin", "keep_train.idx",
                     "keep_validation.bin", "keep_validation.idx", "meta.pkl", "notes.txt", "tokenizer.json",
                     "train.bin", "val.bin"]
    assert np.array_equal(np.fromfile(out / "train.bin", dtype=np.uint16), stream(ordered_run, "train"))
    assert load_summary(out)["format"] == "nanogpt-raw"
    assert len(read_megatron(out / "keep_train")["sequences"]) == load_summary(out, "keep_export.json")[
        "splits"]["train"]["documents"]


KILLER = """
import os, signal, sys
import dataforge.export.megatron as m
from dataforge.export import ExportParams, export_shards
real, seen = m.iter_chunks, []
def dying(path, **kw):
    seen.append(path)
    if len(seen) == 3:  # mid-split: two shards written, staged files open
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, **kw)
m.iter_chunks = dying
export_shards(sys.argv[1], sys.argv[2], ExportParams(format="megatron"))
"""


def test_a_killed_export_leaves_no_file_under_a_final_name(ordered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLER), str(ordered_run), str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    visible = sorted(p.name for p in out.iterdir() if p.name not in (".dataforge-output.json", ".dataforge.lock",
                                                                      ".dataforge-files"))
    assert visible == [".export-staging"]  # only staged (temp) files, no train.bin / .idx / export.json
    assert list((out / ".export-staging").glob("train.bin"))
    r = export_cli(ordered_run, out, "megatron")
    assert r.exit_code == 0, r.output
    assert not (out / ".export-staging").exists()
    assert np.array_equal(np.concatenate(read_megatron(out / "train")["sequences"]), stream(ordered_run, "train"))


def test_a_locked_export_folder_exits_3(ordered_run: Path, tmp_path: Path) -> None:
    with OutputDir(tmp_path / "out", kind="export"):
        r = export_cli(ordered_run, tmp_path / "out", "nanogpt")
    assert r.exit_code == 3 and "another dataforge command" in r.output


@pytest.mark.parametrize(("args", "message"), [
    (["--split", "validation"], "no validation shards"),
    (["--prefix", "../up"], "plain file name"),
    (["--file-tokens", "0"], "--file-tokens"),
])
def test_bad_options_exit_2_with_the_reason(tmp_path: Path, args: list[str], message: str) -> None:
    src = packed_output(tmp_path / "src", vocab_size=100)
    r = export_cli(src, tmp_path / "out", "nanogpt", *args)
    assert r.exit_code == 2 and message in r.output
    assert not (tmp_path / "out").exists()


def test_source_must_be_a_dataforge_output_and_not_the_export_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = export_cli(tmp_path / "empty", tmp_path / "out", "hf")
    assert r.exit_code == 2 and "manifest.json" in r.output
    src = packed_output(tmp_path / "src", vocab_size=100)
    r = export_cli(src, src, "hf")
    assert r.exit_code == 2 and "is the source folder" in r.output


def big_output(out: Path, tokens: int) -> Path:
    seq_len, rows_per_shard = 1024, 256  # 256k-token shards
    spec = ShardSpec(kind="pretrain", seq_len=seq_len, vocab_size=8192, eos_id=0, pad_id=0, tokenizer_sha256="0" * 64)
    writer = ShardWriter(out / "shards", spec, split="train", rows_per_shard=rows_per_shard)
    rng = np.random.default_rng(1)
    for _ in range(tokens // seq_len):
        writer.add(rng.integers(0, 8192, seq_len, dtype=np.uint16),
                   doc_starts=sorted(set(rng.integers(0, seq_len, 3).tolist())))
    manifest = manifest_core(spec, writer.close())
    manifest["shuffle"] = False
    write_manifest(out, manifest)
    return out


@pytest.mark.parametrize("fmt", ["megatron", "nanogpt", "hf"])
def test_memory_does_not_grow_with_the_corpus(tmp_path: Path, fmt: str) -> None:
    peaks = []
    for tokens in (1 << 20, 1 << 22):  # 1 Mi and 4 Mi tokens: 4 and 16 shards
        src = big_output(tmp_path / f"src{tokens}", tokens)
        tracemalloc.start()
        export_shards(src, tmp_path / f"out{tokens}-{fmt}", ExportParams(format=fmt))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.5 + (1 << 20), peaks  # 4x the tokens, not 4x the memory


@pytest.mark.parametrize("fmt", ["megatron", "nanogpt", "hf"])
def test_chunks_smaller_than_a_shard_give_the_same_bytes(ordered_run: Path, tmp_path: Path, fmt: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    whole = tmp_path / "whole"
    export_shards(ordered_run, whole, ExportParams(format=fmt))
    monkeypatch.setattr("dataforge.export.source.CHUNK_TOKENS", 300)  # 2 rows of 128 per chunk, 64 per shard
    small = tmp_path / "small"
    export_shards(ordered_run, small, ExportParams(format=fmt))
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == sorted(p.relative_to(small) for p in small.rglob("*") if p.is_file() and not p.name.startswith("."))
    if fmt == "hf":  # more record batches per file: the same table, not the same bytes
        got, want = read_hf(small), read_hf(whole)
        assert all(got[s].equals(want[s]) for s in want)
        return
    for rel in files:
        if rel.name != "export.json":
            assert (whole / rel).read_bytes() == (small / rel).read_bytes(), rel


def test_a_manifest_without_shards_is_refused(tmp_path: Path) -> None:
    spec = ShardSpec(kind="pretrain", seq_len=4, vocab_size=100, eos_id=0, pad_id=0, tokenizer_sha256="0" * 64)
    write_manifest(tmp_path / "src", manifest_core(spec, []))
    r = export_cli(tmp_path / "src", tmp_path / "out", "megatron")
    assert r.exit_code == 2 and "lists no shards" in r.output


def test_hf_prefix_folder_must_be_ours(ordered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export_cli(ordered_run, out, "nanogpt", "--split", "validation").exit_code == 0
    (out / "theirs").mkdir()
    (out / "theirs" / "data.csv").write_text("a,b\n")
    r = export_cli(ordered_run, out, "hf", "--prefix", "theirs")
    assert r.exit_code == 2 and "a folder dataforge did not make" in r.output
    assert sorted(p.name for p in (out / "theirs").iterdir()) == ["data.csv"]
    assert export_cli(ordered_run, out, "hf", "--prefix", "ours").exit_code == 0
    (out / "ours" / "notes.txt").write_text("added later")  # a user file inside our folder stays
    assert export_cli(ordered_run, out, "hf", "--prefix", "ours", "--split", "train").exit_code == 0
    assert sorted(p.name for p in (out / "ours").iterdir()) == ["dataset_dict.json", "notes.txt", "train"]
