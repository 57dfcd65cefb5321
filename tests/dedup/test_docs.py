"""Store docs files: rows and ids read back by positioned reads, whatever the grouping of reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataforge.dedup import docs as docs_mod
from dataforge.dedup.docs import DOC, DOCS_FILE, IDS_FILE, DocsWriter, read_rows
from dataforge.dedup.minhash import MinhashDedup
from dataforge.dedup.runs import SignatureFileError
from dataforge.dedup.store import Store, verify_store
from dataforge.document import Document

from .conftest import Harness, c4_texts

IDS = [f"doc-{i}" + "é" * (i % 4) + "\udcff" * (i % 7 == 0) for i in range(500)]  # non-ASCII, lone surrogate


def _write(folder: Path) -> dict:
    w = DocsWriter(folder)
    for s in range(0, len(IDS), 64):
        part = IDS[s : s + 64]
        w.add(part, ["web" if i % 3 else "wiki" for i in range(s, s + len(part))],
              [len(i) * 10 for i in part], [i / 10 for i in range(s, s + len(part))])
    return w.close()


@pytest.mark.parametrize(("gap", "span"), [(4096, 1 << 20), (0, 64), (100, 200)])
def test_rows_and_ids_read_back_in_any_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             gap: int, span: int) -> None:
    meta = _write(tmp_path)
    monkeypatch.setattr(docs_mod, "_GAP", gap)  # one read, one read per row, mixed
    monkeypatch.setattr(docs_mod, "_SPAN", span)
    store = Store(tmp_path, {"docs": len(IDS), **meta}, None)
    rows = np.array([499, 0, 3, 3, 250, 251, 17, 498, 1])
    recs = store.doc_rows(rows)
    assert store.ids(recs) == [IDS[i] for i in rows]
    assert store.source_names(recs).tolist() == ["web" if i % 3 else "wiki" for i in rows]
    assert recs["length"].tolist() == [len(IDS[i]) * 10 for i in rows]
    assert recs["quality"].tolist() == [i / 10 for i in rows]


def test_read_past_the_end_is_a_signature_file_error(tmp_path: Path) -> None:
    _write(tmp_path)
    with pytest.raises(SignatureFileError, match="truncated"):
        read_rows(tmp_path / DOCS_FILE, DOC, np.array([len(IDS)]))


@pytest.mark.parametrize("victim", [DOCS_FILE, IDS_FILE])
def test_verify_store_catches_a_flipped_or_cut_docs_file(harness: Harness, victim: str) -> None:
    docs = [Document(f"a{i}", t, "web") for i, t in enumerate(c4_texts(6))]
    harness.run(MinhashDedup, {}, [docs], name="clean")
    folder = next((harness.root / "clean" / "work").rglob("meta.json")).parent
    assert verify_store(str(folder), None) == []
    raw = bytearray((folder / victim).read_bytes())
    raw[len(raw) // 2] ^= 0x20
    (folder / victim).write_bytes(bytes(raw))
    assert verify_store(str(folder), None) == [(str(folder / victim), "checksum mismatch (corrupted)")]
    (folder / victim).write_bytes(bytes(raw[:-1]))
    assert verify_store(str(folder), None) == [(str(folder / victim), "truncated or missing")]
