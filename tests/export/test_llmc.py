"""--format nanogpt (llm.c's header + tokens) and nanogpt-raw (nanoGPT's bare uint16), read back
as llm.c's dev/data/data_common.py and nanoGPT's prepare.py describe them."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.export.conftest import export_cli, load_summary, packed_output
from tests.export.readers import read_llmc, stream


def test_nanogpt_is_llmc_header_and_every_token(ordered_run: Path, tmp_path: Path) -> None:
    r = export_cli(ordered_run, tmp_path / "n", "nanogpt")
    assert r.exit_code == 0, r.output
    for split, name in (("train", "train.bin"), ("validation", "val.bin")):  # llm.c's names
        magic, version, tokens = read_llmc(tmp_path / "n" / name)
        assert (magic, version) == (20240520, 1)
        assert np.array_equal(tokens, stream(ordered_run, split))
    assert "doc_starts" in load_summary(tmp_path / "n")["drops"]


def test_file_tokens_rolls_files_that_add_up_to_the_stream(shuffled_run: Path, tmp_path: Path) -> None:
    r = export_cli(shuffled_run, tmp_path / "n", "nanogpt", "--file-tokens", "100000", "--prefix", "c4")
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "n").glob("c4_train_*.bin"))
    assert [f.name for f in files][:2] == ["c4_train_000000.bin", "c4_train_000001.bin"]
    parts = [read_llmc(f)[2] for f in files]
    assert [len(p) for p in parts[:-1]] == [100000] * (len(parts) - 1) and 0 < len(parts[-1]) <= 100000
    assert np.array_equal(np.concatenate(parts), stream(shuffled_run, "train"))
    assert [read_llmc(f)[2] for f in sorted((tmp_path / "n").glob("c4_val_*.bin"))][0].size > 0


def test_sft_exports_the_real_tokens_and_says_the_mask_is_dropped(sft_output: Path, tmp_path: Path) -> None:
    r = export_cli(sft_output, tmp_path / "n", "nanogpt", "--split", "train")
    assert r.exit_code == 0, r.output
    _, _, tokens = read_llmc(tmp_path / "n" / "train.bin")
    assert np.array_equal(tokens, stream(sft_output, "train"))  # padding gone
    assert "loss mask" in load_summary(tmp_path / "n")["drops"] and "loss mask" in r.output
    assert not (tmp_path / "n" / "val.bin").exists()


@pytest.mark.parametrize(("vocab", "magic", "version"), [(65536, 20240520, 1), (65537, 20240801, 7)])
def test_llmc_variant_at_the_uint16_boundary(tmp_path: Path, vocab: int, magic: int, version: int) -> None:
    src = packed_output(tmp_path / "src", vocab_size=vocab)
    r = export_cli(src, tmp_path / "n", "nanogpt")
    assert r.exit_code == 0, r.output
    got_magic, got_version, tokens = read_llmc(tmp_path / "n" / "train.bin")
    assert (got_magic, got_version) == (magic, version)
    assert np.array_equal(tokens, stream(src, "train")) and int(tokens.max()) == vocab - 1


def test_nanogpt_raw_is_a_bare_uint16_array_with_meta(ordered_run: Path, tmp_path: Path) -> None:
    r = export_cli(ordered_run, tmp_path / "n", "nanogpt-raw")
    assert r.exit_code == 0, r.output
    tokens = np.fromfile(tmp_path / "n" / "train.bin", dtype=np.uint16)  # as nanoGPT's train.py maps it
    assert np.array_equal(tokens, stream(ordered_run, "train"))
    assert np.array_equal(np.fromfile(tmp_path / "n" / "val.bin", dtype=np.uint16), stream(ordered_run, "validation"))
    with open(tmp_path / "n" / "meta.pkl", "rb") as fh:
        assert pickle.load(fh)["vocab_size"] == 8192


def test_nanogpt_raw_at_65536_and_refused_at_65537(tmp_path: Path) -> None:
    ok = packed_output(tmp_path / "ok", vocab_size=65536)
    assert export_cli(ok, tmp_path / "n_ok", "nanogpt-raw").exit_code == 0
    assert int(np.fromfile(tmp_path / "n_ok" / "train.bin", dtype=np.uint16).max()) == 65535
    big = packed_output(tmp_path / "big", vocab_size=65537)
    r = export_cli(big, tmp_path / "n_big", "nanogpt-raw")
    assert r.exit_code == 2
    assert "65537" in r.output and "uint16" in r.output and "--format nanogpt" in r.output
    assert not (tmp_path / "n_big").exists()  # refused before the folder was claimed


@pytest.mark.parametrize("fmt", ["nanogpt-raw", "megatron", "hf"])
def test_file_tokens_is_refused_for_formats_without_the_limit(ordered_run: Path, tmp_path: Path, fmt: str) -> None:
    r = export_cli(ordered_run, tmp_path / "n", fmt, "--file-tokens", "1000")
    assert r.exit_code == 2 and "--file-tokens is for --format nanogpt" in r.output
    assert not (tmp_path / "n").exists()
