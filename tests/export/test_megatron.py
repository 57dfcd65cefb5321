"""--format megatron, read back with a reader of Megatron-LM's published index layout."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import zstandard
from tokenizers import Tokenizer

from tests.export.conftest import export_cli, load_summary, packed_output
from tests.export.readers import expected_documents, read_megatron, shard_rows, stream


def check_index(got: dict) -> None:
    """What the layout itself promises: one sequence per document, pointers = running byte offsets."""
    n = len(got["lengths"])
    assert got["version"] == 1
    assert np.array_equal(got["document_indices"], np.arange(n + 1))
    sizes = got["lengths"].astype(np.int64) * got["dtype"].itemsize
    assert np.array_equal(got["pointers"], np.concatenate(([0], np.cumsum(sizes)[:-1])))


def same_documents(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert np.array_equal(a, b), f"document {i} differs"


def written_documents(run: Path, tokenizer_path: Path) -> Counter:
    """Every document the run's write stage kept, tokenized as the run does (ids + EOS)."""
    tok = Tokenizer.from_file(str(tokenizer_path))
    texts = []
    for path in sorted((run / "documents").rglob("*.jsonl.zst")):
        with open(path, "rb") as fh:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8")
            texts += [json.loads(line)["text"] for line in reader if line.strip()]
    return Counter(tuple(enc.ids + [0]) for enc in tok.encode_batch(texts))


def test_ordered_run_documents_are_the_runs_documents(ordered_run: Path, tmp_path: Path,
                                                      tokenizer_path: Path) -> None:
    r = export_cli(ordered_run, tmp_path / "m", "megatron")
    assert r.exit_code == 0, r.output
    originals = written_documents(ordered_run, tokenizer_path)
    seen: Counter = Counter()
    cut: list[tuple[int, ...]] = []
    summary = load_summary(tmp_path / "m")
    for split in ("train", "validation"):
        got = read_megatron(tmp_path / "m" / split)
        check_index(got)
        assert got["dtype"] == np.uint16
        same_documents(got["sequences"], expected_documents(ordered_run, split, joined=True))
        assert np.array_equal(np.concatenate(got["sequences"]), stream(ordered_run, split))
        assert summary["splits"][split]["documents"] == len(got["sequences"])
        # every document but the split's last (cut by the dropped tail) is a whole document of the
        # run, EOS last: pieces cut across rows and shard files were joined back
        for doc in got["sequences"][:-1]:
            assert doc[-1] == 0
            seen[tuple(doc.tolist())] += 1
        cut.append(tuple(got["sequences"][-1].tolist()))
    assert not seen - originals  # nothing that is not a document of the run
    # and every document of the run: those missing are the two last ones (cut short by the
    # dropped tail, a prefix of a document) or small enough to have been dropped in a tail
    tail = max(json.loads((ordered_run / "manifest.json").read_text())["tokens_dropped_tail"].values())
    missing = list((originals - seen).elements())
    for last in cut:
        whole = next(o for o in missing if o[:len(last)] == last)
        missing.remove(whole)
    assert all(len(o) <= tail for o in missing)
    rows = shard_rows(ordered_run, "train")
    assert any(0 not in row["starts"] for row in rows), "no document crosses a row: the test proves nothing"


def test_shuffled_rows_are_cut_at_every_row_start(shuffled_run: Path, tmp_path: Path) -> None:
    r = export_cli(shuffled_run, tmp_path / "m", "megatron", "--split", "train")
    assert r.exit_code == 0, r.output
    got = read_megatron(tmp_path / "m" / "train")
    check_index(got)
    want = expected_documents(shuffled_run, "train", joined=False)
    same_documents(got["sequences"], want)
    assert len(want) > len(expected_documents(shuffled_run, "train", joined=True))  # joining would differ
    assert not (tmp_path / "m" / "validation.bin").exists()
    assert "stay in pieces" in load_summary(tmp_path / "m")["drops"]


def test_padded_rows_drop_the_padding(padded_run: Path, tmp_path: Path) -> None:
    r = export_cli(padded_run, tmp_path / "m", "megatron", "--prefix", "web")
    assert r.exit_code == 0, r.output
    got = read_megatron(tmp_path / "m" / "web_train")
    rows = shard_rows(padded_run, "train")
    assert [len(s) for s in got["sequences"]] == [row["length"] for row in rows]
    assert any(row["length"] < 128 for row in rows)
    same_documents(got["sequences"], [row["ids"][:row["length"]] for row in rows])
    assert (tmp_path / "m" / "web_export.json").is_file() and (tmp_path / "m" / "web_tokenizer.json").is_file()


def test_sft_loss_mask_goes_to_a_second_indexed_dataset(sft_output: Path, tmp_path: Path) -> None:
    r = export_cli(sft_output, tmp_path / "m", "megatron")
    assert r.exit_code == 0, r.output
    for split in ("train", "validation"):
        tokens = read_megatron(tmp_path / "m" / split)
        mask = read_megatron(tmp_path / "m" / f"{split}_loss_mask")
        check_index(mask)
        assert mask["dtype"] == np.uint8
        assert np.array_equal(tokens["lengths"], mask["lengths"])
        rows = shard_rows(sft_output, split)
        same_documents(tokens["sequences"], [row["ids"][:row["length"]] for row in rows])
        same_documents(mask["sequences"], [row["mask"][:row["length"]] for row in rows])
        assert all(m.any() and not m.all() for m in mask["sequences"])  # prompt masked, response trained


@pytest.mark.parametrize(("vocab", "dtype", "code"), [(65536, np.uint16, 8), (65537, np.int32, 4)])
def test_uint16_only_while_every_id_fits(tmp_path: Path, vocab: int, dtype: type, code: int) -> None:
    src = packed_output(tmp_path / "src", vocab_size=vocab)
    r = export_cli(src, tmp_path / "m", "megatron")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m" / "train.idx").read_bytes()[17] == code
    got = read_megatron(tmp_path / "m" / "train")
    assert got["dtype"] == dtype
    same_documents(got["sequences"], expected_documents(src, "train", joined=True))
    assert max(int(s.max()) for s in got["sequences"]) == vocab - 1  # the highest id survives
