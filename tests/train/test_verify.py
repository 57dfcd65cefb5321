"""Shards are verified against the manifest before training: every way a shard can lie is refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from train_shards import pretrain_output

from dataforge.tokenize.shards import ShardError
from dataforge.train.config import TrainError
from dataforge.train.verify import verify_shards


@pytest.fixture
def output(tmp_path: Path, tokenizer_path: Path, corpus_stream: np.ndarray) -> Path:
    """3 train shards of 16 rows of 64 tokens, and a validation shard."""
    return pretrain_output(tmp_path / "out", tokenizer_path, corpus_stream[:64 * 52], seq_len=64,
                           validation_every=13, rows_per_shard=16)


def edit_manifest(out: Path, change) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))


def shard(out: Path, i: int) -> Path:
    return out / "shards" / json.loads((out / "manifest.json").read_text())["shards"][i]["path"]


def test_a_good_output_verifies_and_its_fingerprint_follows_the_files(output: Path) -> None:
    first = verify_shards(output)
    assert [len(first.views[s]) for s in ("train", "validation")] == [3, 1]
    assert first.tokenizer == output / "tokenizer.json"
    assert verify_shards(output, full_hash=False).fingerprint == first.fingerprint
    edit_manifest(output, lambda m: m["shards"].reverse())  # the same files listed in another order
    assert verify_shards(output).fingerprint == first.fingerprint


def test_a_flipped_byte_is_refused_by_the_hash(output: Path) -> None:
    path = shard(output, 1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the token buffer: still a readable shard
    path.write_bytes(bytes(data))
    with pytest.raises(TrainError, match=rf"{path.name}: its sha256 is not the manifest's"):
        verify_shards(output)


def test_two_swapped_shards_are_refused(output: Path) -> None:
    a, b = shard(output, 0), shard(output, 1)
    tmp = a.with_suffix(".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    with pytest.raises(TrainError, match="sha256 is not the manifest's"):
        verify_shards(output)


def test_quick_mode_still_checks_what_the_header_declares(output: Path) -> None:
    edit_manifest(output, lambda m: m["shards"][0].update(rows=15, sha256="0" * 64))
    with pytest.raises(TrainError, match=r"16 rows, the manifest says 15"):
        verify_shards(output, full_hash=False)
    edit_manifest(output, lambda m: m["shards"][0].update(rows=16, tokens=1000))
    with pytest.raises(TrainError, match=r"1024 tokens, the manifest says 1000"):
        verify_shards(output, full_hash=False)
    edit_manifest(output, lambda m: m["shards"][0].update(tokens=1024, split="validation"))
    with pytest.raises(TrainError, match="split is 'train' in the shard but 'validation' in the manifest"):
        verify_shards(output, full_hash=False)


def test_a_shard_listed_twice_is_refused(output: Path) -> None:
    edit_manifest(output, lambda m: m["shards"].append(dict(m["shards"][0])))
    with pytest.raises(TrainError, match=r"shards\[4\] lists train-00000.arrow again \(first as shards\[0\]\)"):
        verify_shards(output)
    edit_manifest(output, lambda m: m["shards"][4].update(path="./train-00000.arrow"))
    with pytest.raises(TrainError, match="again"):  # the same file under another spelling
        verify_shards(output)


def test_a_wrong_dtype_is_refused(output: Path) -> None:
    edit_manifest(output, lambda m: m.update(dtype="uint32"))
    with pytest.raises(TrainError, match="dtype 'uint32' for a 8192-token vocabulary; it must be uint16"):
        verify_shards(output)


def test_paths_outside_the_output_are_refused(output: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.arrow"
    shutil.copyfile(shard(output, 0), outside)
    edit_manifest(output, lambda m: m["shards"][0].update(path="../../elsewhere.arrow"))
    with pytest.raises(TrainError, match="points outside"):
        verify_shards(output)
    edit_manifest(output, lambda m: m["shards"][0].update(path=str(outside)))
    with pytest.raises(TrainError, match="must be a path relative to the output folder"):
        verify_shards(output)


def test_a_tokenizer_outside_the_output_or_not_the_manifests_is_refused(output: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"not": "a tokenizer"}')
    edit_manifest(output, lambda m: m["tokenizer"].update(file="../secret.json"))
    with pytest.raises(TrainError, match="tokenizer.file '../secret.json' points outside"):
        verify_shards(output)
    edit_manifest(output, lambda m: m["tokenizer"].update(file="tokenizer.json"))
    (output / "tokenizer.json").write_text('{"model": {}}')
    with pytest.raises(TrainError, match="tokenizer.json: its sha256 is not the manifest's tokenizer.sha256"):
        verify_shards(output)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(seq_len="64"), "seq_len is '64'; expected an integer >= 2"),
    (lambda m: m.update(vocab_size=0), "vocab_size is 0"),
    (lambda m: m.update(eos_id=9000), "eos_id 9000 is not below vocab_size 8192"),
    (lambda m: m.update(kind="rlhf"), "kind is 'rlhf'"),
    (lambda m: m["shards"][0].update(rows=-1), r"shards\[0\]: rows is -1"),
    (lambda m: m["shards"][0].update(rows=True), r"shards\[0\]: rows is True"),
    (lambda m: m["shards"][0].update(sha256="abc"), r"shards\[0\]: sha256 is 'abc'"),
    (lambda m: m.update(shards={"a": 1}), "no shards list"),
    (lambda m: m["shards"].__setitem__(0, "train-00000.arrow"), r"shards\[0\]: expected an object"),
])
def test_a_malformed_manifest_is_refused_by_key(output: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    edit_manifest(output, change)
    with pytest.raises(TrainError, match=message):
        verify_shards(output)


def test_a_missing_or_unreadable_shard_names_the_file(output: Path) -> None:
    path = shard(output, 2)
    path.write_bytes(b"ARROW1 but not really")
    edit_manifest(output, lambda m: m["shards"][2].update(sha256=__import__("hashlib").sha256(path.read_bytes()).hexdigest()))
    with pytest.raises(ShardError, match=rf"{path.name}: not a readable Arrow IPC file"):
        verify_shards(output)
    path.unlink()
    with pytest.raises(TrainError, match=rf"{path.name}: listed in .* but missing"):
        verify_shards(output)
