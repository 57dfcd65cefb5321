"""The shard loader: windows over the flat stream, SFT masks, holdout, determinism, vocabulary checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer
from train_shards import EOS, pretrain_output, sft_row, write_output

from dataforge.io import sha256_file
from dataforge.tokenize.shards import ShardError, ShardSpec, manifest_shards, open_shard
from dataforge.train.config import TrainError
from dataforge.train.data import StreamSource, eval_batches, load_data, train_batch


def test_windows_are_shifted_slices_of_the_shard_stream(pretrain_shards: Path) -> None:
    data = load_data(pretrain_shards, window=32, holdout=0.05, model_vocab=8192)
    assert data.eval_origin == "validation"
    flat = np.concatenate([open_shard(p).tokens.reshape(-1) for p, _ in manifest_shards(pretrain_shards, "train")])
    source = data.train
    assert isinstance(source, StreamSource)
    offsets = np.array([0, 255, 256, 1000, len(flat) - 33])  # 255/256 straddle a row; 1000 is mid-row
    batch = source.get(offsets)
    for row, off in enumerate(offsets):
        assert np.array_equal(batch.x[row], flat[off:off + 32])
        assert np.array_equal(batch.y[row], flat[off + 1:off + 33])
    assert batch.mask is None and batch.targets == 5 * 32


def test_shard_tokens_are_not_copied(pretrain_shards: Path) -> None:
    data = load_data(pretrain_shards, window=32, holdout=0.0, model_vocab=8192)
    piece = data.train.stream.pieces[0]  # type: ignore[union-attr]
    assert not piece.flags.owndata  # a view on the memory-mapped Arrow buffer
    assert not piece.flags.writeable


def test_batches_are_a_pure_function_of_seed_and_index(pretrain_shards: Path) -> None:
    data = load_data(pretrain_shards, window=32, holdout=0.0, model_vocab=8192)
    first = train_batch(data.train, 7, batch_size=4, seed=1, sampling="random")
    again = train_batch(data.train, 7, batch_size=4, seed=1, sampling="random")
    other = train_batch(data.train, 8, batch_size=4, seed=1, sampling="random")
    assert np.array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)


def test_epoch_sampling_visits_every_window_once(tmp_path: Path, tokenizer_path: Path,
                                                 corpus_stream: np.ndarray) -> None:
    out = pretrain_output(tmp_path, tokenizer_path, corpus_stream[:2049], seq_len=64, validation_every=None)
    data = load_data(out, window=16, holdout=0.0, model_vocab=8192)
    n = len(data.train)  # 2048 tokens -> (2048 - 1) // 16 = 127 whole windows of 17
    seen = train_batch(data.train, 0, batch_size=n, seed=3, sampling="epoch").x[:, 0]
    starts = corpus_stream[:2048][np.arange(n) * 16]
    assert n == 127 and sorted(seen.tolist()) == sorted(starts.tolist())
    second_epoch = train_batch(data.train, 1, batch_size=n, seed=3, sampling="epoch").x[:, 0]
    assert sorted(second_epoch.tolist()) == sorted(starts.tolist())
    assert second_epoch.tolist() != seen.tolist()  # a fresh shuffle each epoch


def test_holdout_is_the_tail_of_train_when_there_is_no_validation_split(
        tmp_path: Path, tokenizer_path: Path, corpus_stream: np.ndarray) -> None:
    out = pretrain_output(tmp_path, tokenizer_path, corpus_stream[:64 * 100], seq_len=64, validation_every=None)
    data = load_data(out, window=16, holdout=0.1, model_vocab=8192)
    assert data.eval_origin == "holdout"
    assert len(data.train.stream) == 5760 and len(data.eval.stream) == 640  # type: ignore[union-attr]
    assert np.array_equal(data.eval.stream.read(0, 10), corpus_stream[5760:5770])  # type: ignore[union-attr]
    none = load_data(out, window=16, holdout=0.0, model_vocab=8192)
    assert none.eval is None and none.eval_origin == "none"


def test_eval_batches_are_fixed(pretrain_shards: Path) -> None:
    data = load_data(pretrain_shards, window=32, holdout=0.05, model_vocab=8192)
    a = eval_batches(data.eval, batches=3, batch_size=4)  # type: ignore[arg-type]
    b = eval_batches(data.eval, batches=3, batch_size=4)  # type: ignore[arg-type]
    assert len(a) == 3 and all(np.array_equal(x.x, y.x) for x, y in zip(a, b))


def test_sft_mask_trains_the_response_and_its_eos_only(sft_shards: Path, tokenizer: Tokenizer) -> None:
    data = load_data(sft_shards, window=None, holdout=0.1, model_vocab=8192)
    view = open_shard(manifest_shards(sft_shards, "train")[0][0])
    rows = np.flatnonzero(view.lengths < view.seq_len)[:2]  # rows not cut at seq_len end in EOS
    batch = data.train.get(rows)
    for i, row in enumerate(rows):
        length = int(view.lengths[row])
        prompt = view.loss_mask[row].tolist().index(1)
        mask = batch.mask[i]
        # target t+1 is trained iff it is a response token or the closing EOS, never pad or prompt
        assert not mask[:prompt - 1].any() and mask[prompt - 1:length - 1].all() and not mask[length - 1:].any()
        assert batch.y[i, length - 2] == EOS
        assert tokenizer.decode(batch.y[i][mask].tolist()).startswith(
            tokenizer.decode(view.tokens[row, prompt:prompt + 3].tolist()))
        assert tokenizer.decode(batch.x[i, :prompt].tolist()).endswith("### Response:\n")
    assert batch.x.shape[1] == max(view.lengths[rows]) - 1  # cropped to the longest row in the batch


def test_a_token_beyond_the_model_vocabulary_is_refused(pretrain_shards: Path) -> None:
    with pytest.raises(TrainError, match=r"token id \d+ does not fit the model's vocab_size 4096.*8192"):
        load_data(pretrain_shards, window=32, holdout=0.0, model_vocab=4096)
    assert load_data(pretrain_shards, window=32, holdout=0.0, model_vocab=8192).vocab_size == 8192


def test_a_shard_whose_tokens_exceed_its_own_vocabulary_is_refused(
        tmp_path: Path, tokenizer_path: Path, corpus_stream: np.ndarray) -> None:
    # a 8192-token stream written as if its tokenizer had 1024 tokens: the shard lies about itself
    out = pretrain_output(tmp_path, tokenizer_path, corpus_stream[:4096], seq_len=64, vocab_size=1024,
                          validation_every=None)
    with pytest.raises(ShardError, match=r"token id \d+ >= vocab_size 1024"):
        load_data(out, window=32, holdout=0.0, model_vocab=None)


def test_too_little_data_for_a_window_says_what_to_do(tmp_path: Path, tokenizer_path: Path,
                                                      corpus_stream: np.ndarray) -> None:
    out = pretrain_output(tmp_path, tokenizer_path, corpus_stream[:128], seq_len=64, validation_every=None)
    with pytest.raises(TrainError, match="lower seq_len"):
        load_data(out, window=256, holdout=0.0, model_vocab=8192)


def test_padded_pretraining_rows_train_only_real_tokens(tmp_path: Path, tokenizer: Tokenizer,
                                                        tokenizer_path: Path) -> None:
    ids = tokenizer.encode("Alice was beginning to get very tired of sitting by her sister.").ids + [EOS]
    row = np.asarray(ids + [EOS] * (32 - len(ids)), dtype=np.uint16)
    spec = ShardSpec(kind="pretrain", seq_len=32, vocab_size=8192, eos_id=EOS, pad_id=EOS,
                     tokenizer_sha256=sha256_file(tokenizer_path), packing="pad")
    out = write_output(tmp_path, tokenizer_path, spec, {"train": [{"ids": row, "length": len(ids)}]},
                       rows_per_shard=4)
    batch = load_data(out, window=None, holdout=0.0, model_vocab=8192).train.get(np.array([0]))
    assert batch.mask.tolist() == [[True] * (len(ids) - 1)]


def test_a_validation_split_named_val_is_read_too(tmp_path: Path, tokenizer: Tokenizer, tokenizer_path: Path) -> None:
    # tokenize-sft wrote "val" before it wrote "validation"; old outputs still evaluate on it
    rows = [sft_row(tokenizer, f"Say {w}.", f"{w} {w}.", seq_len=32) for w in ("yes", "no", "maybe", "never")]
    spec = ShardSpec(kind="sft", seq_len=32, vocab_size=8192, eos_id=EOS, pad_id=EOS,
                     tokenizer_sha256=sha256_file(tokenizer_path), packing="pad")
    out = write_output(tmp_path / "old", tokenizer_path, spec, {"train": rows[:3], "val": rows[3:]}, rows_per_shard=4)
    data = load_data(out, window=None, holdout=0.5, model_vocab=8192)
    assert data.eval_origin == "validation" and len(data.eval) == 1 and len(data.train) == 3
    new = write_output(tmp_path / "new", tokenizer_path, spec, {"train": rows[:3], "validation": rows[3:]},
                       rows_per_shard=4)
    assert load_data(new, window=None, holdout=0.5, model_vocab=8192).eval_origin == "validation"


def test_sft_rows_with_every_target_masked_are_refused_with_the_count(tmp_path: Path, tokenizer: Tokenizer,
                                                                      tokenizer_path: Path) -> None:
    spec = ShardSpec(kind="sft", seq_len=32, vocab_size=8192, eos_id=EOS, pad_id=EOS,
                     tokenizer_sha256=sha256_file(tokenizer_path), packing="pad")
    rows = [sft_row(tokenizer, "Name a colour.", "Blue.", seq_len=32) for _ in range(5)]
    masked = [{**r, "loss_mask": np.zeros(32, dtype=np.uint8)} for r in rows]
    out = write_output(tmp_path / "masked", tokenizer_path, spec, {"train": masked}, rows_per_shard=8)
    with pytest.raises(TrainError, match="all 5 train rows have every target masked out"):
        load_data(out, window=None, holdout=0.0, model_vocab=8192)
    one_good = write_output(tmp_path / "some", tokenizer_path, spec, {"train": masked[:4] + rows[:1]},
                            rows_per_shard=8)
    assert len(load_data(one_good, window=None, holdout=0.0, model_vocab=8192).train) == 5  # trains on what it can
