"""The shard format: dtype boundary, zero-copy views, validation on open."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataforge.tokenize.shards import (ShardError, ShardSpec, ShardWriter, manifest_core, manifest_shards,
                                       open_shard, token_dtype, write_manifest)


@pytest.mark.parametrize(("vocab", "dtype"), [(8192, np.uint16), (65535, np.uint16), (65536, np.uint16),
                                              (65537, np.uint32), (200_000, np.uint32)])
def test_dtype_holds_the_whole_vocabulary(vocab: int, dtype: type) -> None:
    assert token_dtype(vocab) == np.dtype(dtype)
    assert np.iinfo(token_dtype(vocab)).max >= vocab - 1


def _spec(vocab: int, *, kind: str = "pretrain", seq_len: int = 8) -> ShardSpec:
    return ShardSpec(kind=kind, seq_len=seq_len, vocab_size=vocab, eos_id=0, pad_id=0, tokenizer_sha256="t")


def test_boundary_ids_survive_round_trip(tmp_path: Path) -> None:
    for vocab in (65536, 65537):
        w = ShardWriter(tmp_path / str(vocab), _spec(vocab), split="train", rows_per_shard=4)
        top = np.full(8, vocab - 1, dtype=np.int64)
        w.add(top, doc_starts=[0])
        info = w.close()
        view = open_shard(tmp_path / str(vocab) / info[0].path)
        assert int(view.tokens.max()) == vocab - 1
        assert view.tokens.dtype == token_dtype(vocab)


def test_rows_split_into_shards_and_manifest_lists_them(tmp_path: Path) -> None:
    spec = _spec(100)
    w = ShardWriter(tmp_path / "shards", spec, split="train", rows_per_shard=3)
    for i in range(7):
        w.add(np.arange(8) + i, doc_starts=[0, 4])
    shards = w.close()
    assert [s.rows for s in shards] == [3, 3, 1]
    write_manifest(tmp_path, manifest_core(spec, shards))
    listed = manifest_shards(tmp_path, split="train")
    assert [p.name for p, _ in listed] == ["train-00000.arrow", "train-00001.arrow", "train-00002.arrow"]
    view = open_shard(listed[1][0])
    assert view.tokens[0].tolist() == list(range(3, 11))
    assert view.doc_starts[0] == [0, 4]
    assert not view.tokens.flags.owndata  # a view of the memory map, not a copy


def test_sft_rows_need_a_mask_and_keep_it(tmp_path: Path) -> None:
    w = ShardWriter(tmp_path, _spec(100, kind="sft"), split="train", rows_per_shard=2)
    with pytest.raises(ValueError, match="loss_mask"):
        w.add(np.arange(8))
    w.add(np.arange(8), length=6, loss_mask=np.array([0, 0, 0, 1, 1, 1, 0, 0]))
    view = open_shard(tmp_path / w.close()[0].path)
    assert view.loss_mask.tolist() == [[0, 0, 0, 1, 1, 1, 0, 0]]
    assert view.lengths.tolist() == [6]


def test_open_refuses_tokens_beyond_vocab(tmp_path: Path) -> None:
    w = ShardWriter(tmp_path, _spec(100), split="train", rows_per_shard=2)
    w.add(np.array([1, 2, 3, 150, 4, 5, 6, 7]))
    path = tmp_path / w.close()[0].path
    with pytest.raises(ShardError, match="token id 150 >= vocab_size 100"):
        open_shard(path)


def test_open_refuses_garbage_and_other_formats(tmp_path: Path) -> None:
    bad = tmp_path / "x.arrow"
    bad.write_bytes(b"not arrow at all")
    with pytest.raises(ShardError, match="not a readable Arrow IPC file"):
        open_shard(bad)
    tbl = pa.table({"input_ids": pa.FixedSizeListArray.from_arrays(pa.array(np.arange(8, dtype=np.uint16)), 8)})
    with pa.OSFile(str(tmp_path / "y.arrow"), "wb") as sink, pa.ipc.new_file(sink, tbl.schema) as wr:
        wr.write_table(tbl)
    with pytest.raises(ShardError, match="format_version"):
        open_shard(tmp_path / "y.arrow")
    with pytest.raises(ShardError, match="no manifest"):
        manifest_shards(tmp_path)
