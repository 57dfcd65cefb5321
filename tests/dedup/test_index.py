"""Cross-run index: later runs drop what earlier runs kept; only a committed run counts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dataforge.dedup.minhash import MinhashDedup
from dataforge.document import Document
from dataforge.errors import ConfigError

from .conftest import Harness, c4_texts
from .planted import distinct_texts


def _docs(prefix: str, texts: list[str], source: str = "web") -> list[Document]:
    return [Document(f"{prefix}{i}", t, source) for i, t in enumerate(texts)]


def test_nightly_run_dedups_against_earlier_runs(harness: Harness, tmp_path: Path) -> None:
    texts = distinct_texts(c4_texts(80))
    index = str(tmp_path / "index")
    p = {"index": index}
    day1 = harness.run(MinhashDedup, p, [_docs("d1-", texts[:30] + texts[:3])], name="day1")
    assert len(day1.kept[0]) == 30
    day2_docs = _docs("d2-", texts[20:40])  # 10 repeats of day 1, 10 new
    day2 = harness.run(MinhashDedup, p, [day2_docs], name="day2")
    assert day2.kept_ids == {f"d2-{i}" for i in range(10, 20)}
    assert day2.stats.get("1:dedup", "duplicates.of_index") == 10
    rows = json.loads((Path(index) / "index.json").read_text())["generations"]
    assert [g["docs"] for g in rows] == [30, 10]  # only what was kept is indexed
    kept_by = {r["removed"][0]: r["keeper"] for r in pq.read_table(day2.out / "dedup/clusters.parquet").to_pylist()}
    assert kept_by["d2-0"] == "d1-20"  # the keeper named is the earlier run's document


def test_index_untouched_without_commit_and_commit_is_idempotent(harness: Harness, tmp_path: Path) -> None:
    texts = c4_texts(20)
    p = {"index": str(tmp_path / "index")}
    harness.run(MinhashDedup, p, [_docs("a", texts)], name="failed", commit=False)
    assert not (tmp_path / "index" / "index.json").exists()
    first = harness.run(MinhashDedup, p, [_docs("a", texts)], name="ok")
    # the same output computed again (not append): it replaces its own generation and never
    # deduplicates against it (a recompute after a config change must not drop everything)
    run = harness.run(MinhashDedup, p, [_docs("a", texts)], name="ok")
    state = json.loads((tmp_path / "index" / "index.json").read_text())
    assert len(state["generations"]) == 1 and state["generations"][0]["state"] == "confirmed"
    assert run.kept_ids == first.kept_ids and len(run.kept_ids) >= 19
    # the same output in append mode reads its own generations: nothing new survives
    again = harness.run(MinhashDedup, p, [_docs("a", texts)], name="ok", append=True)
    assert again.kept_ids == set()
    # another output sharing the index deduplicates against it too
    other = harness.run(MinhashDedup, p, [_docs("b", texts)], name="other")
    assert other.kept_ids == set()


def test_index_with_other_options_is_refused(harness: Harness, tmp_path: Path) -> None:
    p = {"index": str(tmp_path / "index")}
    harness.run(MinhashDedup, p, [_docs("a", c4_texts(5))], name="one")
    with pytest.raises(ConfigError, match="was built with"):
        harness.run(MinhashDedup, {**p, "ngram": 3}, [_docs("b", c4_texts(5))], name="two")
