"""sentence_dedup: three-sentence spans seen earlier are removed (C4, datatrove's SentenceDedup)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataforge.dedup.paragraph import SentenceDedup, SentenceDedupParams, sentence_spans
from dataforge.document import Document
from dataforge.filters.text import split_sentences
from tests.dedup.conftest import c4_texts

FIXTURE = Path(__file__).with_name("datatrove_sentence_decisions.json")


def corpus(texts: list[str], *, mixes: int = 100, seed: int = 0) -> list[str]:
    """Real documents, then ``mixes`` documents made of runs of sentences copied from two
    of them (as pages that quote or scrape others do), in a fixed order."""
    rng = random.Random(seed)
    out = list(texts)
    for _ in range(mixes):
        a, b = rng.sample(range(len(texts)), 2)
        sa, sb = split_sentences(texts[a]), split_sentences(texts[b])
        i = rng.randrange(max(1, len(sa) - 4))
        j = rng.randrange(max(1, len(sb) - 4))
        out.append(" ".join(sa[i:i + rng.randint(3, 6)] + ["A sentence of our own, written for this page."]
                            + sb[j:j + rng.randint(3, 6)]))
    return out


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def docs(texts: list[str], prefix: str = "d") -> list[Document]:
    return [Document(id=f"{prefix}{i}", text=t, source="web") for i, t in enumerate(texts)]


def decisions(run, n: int) -> list[str | None]:
    """Per input position: the digest of the kept text, or None when dropped."""
    kept = {d.id: d.text for t in run.kept for d in t}
    return [digest(kept[f"d{i}"]) if f"d{i}" in kept else None for i in range(n)]


def test_agrees_with_recorded_datatrove_decisions(harness) -> None:
    """>= 99% of documents get datatrove's SentenceDedup decision and output text
    (recorded by benchmarks/bench_operators.py on the same corpus)."""
    recorded = json.loads(FIXTURE.read_text())
    texts = corpus(c4_texts())
    assert len(texts) == len(recorded["decisions"]), "corpus changed: rerun benchmarks/bench_operators.py"
    run = harness.run(SentenceDedup, {}, [docs(texts)])
    ours = decisions(run, len(texts))
    same = sum(a == b for a, b in zip(ours, recorded["decisions"]))
    assert same / len(texts) >= 0.99, [(i, a, b) for i, (a, b) in enumerate(zip(ours, recorded["decisions"])) if a != b][:5]
    changed = sum(1 for i, t in enumerate(texts) if ours[i] != digest(t))
    assert changed > 50  # the corpus does exercise removal


def test_span_removed_after_first_occurrence(harness) -> None:
    real = c4_texts(2)
    shared = "Plants make food from light. They need water to live. Roots take water from soil."
    a = f"{real[0]} {shared}"
    b = f"{shared} {real[1]}"
    run = harness.run(SentenceDedup, {"min_words": 0, "min_sentences": 0}, [docs([a]), docs([b], "e")])
    assert run.kept[0][0].text == a
    assert run.kept[1][0].text == real[1].lstrip()
    assert run.stats.to_dict()["1:dedup"]["web"]["units_removed"] == 1


def test_fewer_than_three_sentences_never_match(harness) -> None:
    two = "Plants make food from light. They need water to live."
    run = harness.run(SentenceDedup, {"min_words": 0}, [docs([two, two])])
    assert [d.text for d in run.kept[0]] == [two, two]


def test_leftover_rules(harness) -> None:
    shared = "Plants make food from light. They need water to live. Roots take water from soil."
    run = harness.run(SentenceDedup, {}, [docs([c4_texts(1)[0] + " " + shared, shared + " Short tail here."])])
    assert [d.id for d in run.kept[0]] == ["d0"]
    assert run.stats.to_dict()["1:dedup"]["web"]["dropped.too_few_words"] == 1
    run = harness.run(SentenceDedup, {"min_words": 0}, [docs([shared + " Tail.", shared + " Tail two."])],
                      name="sent")
    assert [d.id for d in run.kept[0]] == ["d0"]
    assert run.stats.to_dict()["1:dedup"]["web"]["dropped.too_few_sentences"] == 1


def test_sentence_spans_rebuild_the_text() -> None:
    text = "  First one.  Second one!\n\nThird?  Fourth."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == split_sentences(text) == ["First one.", "Second one!", "Third?", "Fourth."]
    stage = SentenceDedup(SentenceDedupParams(n_sentences=1))
    assert stage.rebuild(text, {1}) == "First one.\n\nThird?  Fourth."


def test_options_are_checked() -> None:
    with pytest.raises(ValidationError):
        SentenceDedupParams(n_sentences=0)
    with pytest.raises(ValidationError):
        SentenceDedupParams(min_sentences=-1)
