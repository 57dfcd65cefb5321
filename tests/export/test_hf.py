"""--format hf, read back with a reader of datasets' save_to_disk layout and with datasets itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.export.conftest import export_cli
from tests.export.readers import read_hf, shard_rows

L = 128


def rows_of(table: object, column: str) -> np.ndarray:
    return np.asarray(table.column(column).combine_chunks().flatten()).reshape(-1, L)  # type: ignore[attr-defined]


def check_against_shards(folder: Path, source: Path, splits: tuple[str, ...]) -> None:
    got = read_hf(folder)
    assert tuple(got) == splits
    for split in splits:
        table, rows = got[split], shard_rows(source, split)
        assert table.num_rows == len(rows)
        ids = rows_of(table, "input_ids")
        assert ids.dtype == np.uint16
        assert np.array_equal(ids, np.stack([r["ids"] for r in rows]))
        lengths = np.asarray(table.column("length"))
        assert lengths.tolist() == [r["length"] for r in rows]
        assert table.column("doc_starts").to_pylist() == [r["starts"] for r in rows]
        attention = rows_of(table, "attention_mask")
        assert np.array_equal(attention.sum(axis=1), lengths)
        assert all(attention[i, :n].all() for i, n in enumerate(lengths))


def test_pretraining_rows_as_packed(ordered_run: Path, tmp_path: Path) -> None:
    r = export_cli(ordered_run, tmp_path / "h", "hf")
    assert r.exit_code == 0, r.output
    check_against_shards(tmp_path / "h", ordered_run, ("train", "validation"))
    assert "labels" not in read_hf(tmp_path / "h")["train"].column_names  # concat: labels are input_ids


def test_sft_rows_keep_loss_mask_and_get_labels(sft_output: Path, tmp_path: Path) -> None:
    r = export_cli(sft_output, tmp_path / "h", "hf", "--prefix", "alpaca")
    assert r.exit_code == 0, r.output
    folder = tmp_path / "h" / "alpaca"
    check_against_shards(folder, sft_output, ("train", "validation"))
    table = read_hf(folder)["train"]
    rows = shard_rows(sft_output, "train")
    mask = rows_of(table, "loss_mask")
    labels = rows_of(table, "labels")
    assert np.array_equal(mask, np.stack([r["mask"] for r in rows]))
    ids = rows_of(table, "input_ids").astype(np.int64)
    assert np.array_equal(labels[mask == 1], ids[mask == 1]) and (labels[mask == 0] == -100).all()


def test_padded_pretraining_gets_labels_without_padding(padded_run: Path, tmp_path: Path) -> None:
    r = export_cli(padded_run, tmp_path / "h", "hf", "--split", "validation")
    assert r.exit_code == 0, r.output
    check_against_shards(tmp_path / "h", padded_run, ("validation",))
    table = read_hf(tmp_path / "h")["validation"]
    labels, attention = rows_of(table, "labels"), rows_of(table, "attention_mask")
    assert (labels[attention == 0] == -100).all() and (attention == 0).any()


@pytest.mark.parametrize("fixture", ["ordered_run", "sft_output"])
def test_datasets_load_from_disk_reads_it(fixture: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    datasets = pytest.importorskip("datasets", reason="the 'test' extra installs datasets; without it only our own "
                                                      "reader of the layout checks the export")
    source = request.getfixturevalue(fixture)
    r = export_cli(source, tmp_path / "h", "hf")
    assert r.exit_code == 0, r.output
    loaded = datasets.load_from_disk(str(tmp_path / "h"))
    assert list(loaded) == ["train", "validation"]
    for split in loaded:
        rows = shard_rows(source, split)
        ds = loaded[split].with_format("numpy")
        assert len(ds) == len(rows)
        assert ds.features["input_ids"].length == L and ds.features["input_ids"].feature.dtype == "uint16"
        assert np.array_equal(ds["input_ids"], np.stack([r["ids"] for r in rows]))
        assert loaded[split]["doc_starts"] == [r["starts"] for r in rows]
        if fixture == "sft_output":
            assert np.array_equal(ds["loss_mask"], np.stack([r["mask"] for r in rows]))
