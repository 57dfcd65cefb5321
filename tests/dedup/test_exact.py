"""exact_dedup: normalised-text equality, deterministic keepers."""

from __future__ import annotations

import pyarrow.parquet as pq

from dataforge.dedup.exact import ExactDedup
from dataforge.document import Document

from .conftest import DATA, Harness


def _wiki_paragraphs() -> list[str]:
    text = (DATA / "wiki" / "wiki_demo.txt").read_text(encoding="utf-8")
    return [p for p in text.splitlines() if len(p.split()) > 20][:20]


def test_exact_duplicates_across_sources_keep_priority_source(harness: Harness) -> None:
    paras = _wiki_paragraphs()
    web = [Document(f"web{i}", p, "web") for i, p in enumerate(paras)]
    wiki = [Document(f"wiki{i}", p.replace(" ", "  ").replace(".", "!") + " ...", "wiki")
            for i, p in enumerate(paras[:5])]  # spacing and punctuation only
    run = harness.run(ExactDedup, {}, [web, wiki], sources=["wiki", "web"])
    assert run.dropped_ids([web, wiki]) == {f"web{i}" for i in range(5)}
    rows = pq.read_table(run.out / "dedup" / "exact_clusters.parquet").to_pylist()
    assert {r["keeper"] for r in rows} == {f"wiki{i}" for i in range(5)} and all(r["jaccard"] == [1.0] for r in rows)


def test_near_duplicates_and_numbers_are_not_exact(harness: Harness) -> None:
    p = _wiki_paragraphs()[0]
    docs = [Document("a", p, "web"), Document("b", p + " extra", "web"), Document("c", p + " 1999", "web"),
            Document("d", p + " 2024", "web"), Document("e", "", "web"), Document("f", " ", "web")]
    run = harness.run(ExactDedup, {}, [docs])
    assert run.kept_ids == {"a", "b", "c", "d", "e", "f"}  # digits kept by default; empty never matches
    assert run.stats.get("1:dedup", "empty_docs") == 2
    run = harness.run(ExactDedup, {"normalize": {"digits": True}}, [docs], name="digits")
    assert run.kept_ids == {"a", "b", "c", "e", "f"}
