"""paragraph_dedup: repeated paragraphs (lines) removed after their first occurrence."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dataforge.dedup.paragraph import ParagraphDedup, ParagraphDedupParams
from dataforge.dedup.spans import bloom_fp_rate, bloom_size
from dataforge.document import Document
from tests.dedup.conftest import c4_texts

BOILER = "Copyright 2019 Example Media. All rights reserved. Terms of use apply to every page here."


def docs(texts: list[str], prefix: str = "d", source: str = "web") -> list[Document]:
    return [Document(id=f"{prefix}{i}", text=t, source=source) for i, t in enumerate(texts)]


def with_boiler(texts: list[str]) -> list[str]:
    return [f"{t}\n{BOILER}" for t in texts]


def counts(run, source: str = "web") -> dict[str, float]:
    return run.stats.to_dict()["1:dedup"][source]


def test_repeated_paragraph_kept_once_across_tasks(harness) -> None:
    real = c4_texts(6)
    tasks = [docs(with_boiler(real[:3]), "a"), docs(with_boiler(real[3:]), "b")]
    run = harness.run(ParagraphDedup, {"min_words": 0}, tasks)
    out = [d for t in run.kept for d in t]
    assert [d.id for d in out] == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert out[0].text.endswith(BOILER)  # the first occurrence stays
    assert all(BOILER not in d.text for d in out[1:])
    assert [d.text for d in out[1:]] == [t.strip() for t in real[1:]]  # nothing else touched
    c = counts(run)
    assert c["units_removed"] == 5 and c["changed"] == 5


def test_normalised_match_and_unique_text_untouched(harness) -> None:
    a = "The Quick brown fox, jumps over 12 lazy dogs!\nA line only here."
    b = "the quick brown fox jumps over 99 lazy dogs\nAnother line only here."
    run = harness.run(ParagraphDedup, {"min_words": 0}, [docs([a, b])])
    assert [d.text for d in run.kept[0]] == [a, "Another line only here."]


def test_short_leftovers_are_dropped_with_the_reason(harness) -> None:
    long_doc = c4_texts(1)[0]
    short = "Only a few words here.\n" + BOILER
    run = harness.run(ParagraphDedup, {}, [docs([long_doc + "\n" + BOILER, short, "Tiny page."])])
    assert [d.id for d in run.kept[0]] == ["d0", "d2"]  # d2 unchanged: kept though short
    assert counts(run)["dropped.too_few_words"] == 1


def test_first_occurrence_follows_source_priority(harness) -> None:
    wiki = docs(["Wiki text.\n" + BOILER], "w", source="wiki")
    web = docs(["Web text.\n" + BOILER], "x", source="web")
    run = harness.run(ParagraphDedup, {"min_words": 0}, [web, wiki], sources=["wiki", "web"])
    assert run.kept[1][0].text.endswith(BOILER) and run.kept[0][0].text == "Web text."


@pytest.mark.parametrize("method", ["sorted", "bloom"])
def test_index_across_runs(harness, tmp_path, method: str) -> None:
    index = str(tmp_path / "index")
    real = c4_texts(4)
    first = harness.run(ParagraphDedup, {"min_words": 0, "index": index, "method": method},
                        [docs(with_boiler(real[:2]), "r1")], name="one")
    assert first.kept[0][0].text.endswith(BOILER)
    second = harness.run(ParagraphDedup, {"min_words": 0, "index": index, "method": method,
                                          "bloom_capacity": 100_000},
                         [docs(with_boiler(real[2:]) + [real[0]], "r2")], name="two")
    out = second.kept[0]
    assert all(BOILER not in d.text for d in out)  # seen by the earlier run
    # the earlier run's first document is in the index whole: a copy of it has nothing left
    assert [d.id for d in out] == ["r20", "r21"] and counts(second)["dropped.empty"] == 1


def test_bloom_mode_matches_sorted_on_real_text(harness) -> None:
    texts = c4_texts(120)
    tasks = [docs(with_boiler(texts[:60]), "a"), docs(texts[60:] + texts[:10], "b")]
    exact = harness.run(ParagraphDedup, {"min_words": 0}, tasks, name="exact")
    bloom = harness.run(ParagraphDedup, {"min_words": 0, "method": "bloom"}, tasks, name="bloom")
    assert [[d.text for d in t] for t in exact.kept] == [[d.text for d in t] for t in bloom.kept]
    assert counts(exact)["units_removed"] > 59


def test_bloom_sizing() -> None:
    bits, k = bloom_size(1_000_000, 1e-4)
    assert 19 * 1_000_000 < bits < 19.3 * 1_000_000 and k == 13
    assert bloom_fp_rate(bits, k, 1_000_000) == pytest.approx(1e-4, rel=0.05)


def test_apply_refuses_another_stream(harness) -> None:
    from dataforge.errors import DataforgeError
    from dataforge.stage import TaskContext

    tasks = [docs(with_boiler(c4_texts(2)))]
    run = harness.run(ParagraphDedup, {"min_words": 0}, tasks)
    ctx = TaskContext(run=harness_info(run), task_id="t000", label="1:dedup", stats=run.stats,
                      task_dir=run.out / "x", publish_dir=run.out)
    other = docs(with_boiler(c4_texts(2)), "z")
    with pytest.raises(DataforgeError, match="not the one the reduce saw"):
        list(ParagraphDedup(ParagraphDedupParams(min_words=0)).apply(iter(other), ctx))


def harness_info(run):
    from dataforge.stage import RunInfo

    return RunInfo(seed=1234, output_dir=run.out, work_dir=run.barrier_dir.parent.parent, sources=["web"])


def test_options_are_checked() -> None:
    for bad in ({"min_words": -1}, {"method": "exact"}, {"bloom_fp_rate": 0}, {"bloom_fp_rate": float("nan")},
                {"merge_buffer": 10}):
        with pytest.raises(ValidationError):
            ParagraphDedupParams(**bad)


def test_chinese_leftovers_count_segmented_words(harness, data_dir) -> None:
    """A Chinese page that loses a repeated line keeps its 50+ words: words are counted as the
    document's language is segmented (meta.lang), not as space-separated runs (issue 19)."""
    pytest.importorskip("rjieba", reason="the multilingual extra is not installed")
    from dataforge.filters.text import words

    page = next(line for line in (data_dir / "multilingual" / "clue-zh-100.txt").read_text().splitlines()
                if 150 <= len(line) <= 400)
    assert len(page.split()) < 5 and len(words(page, "zh")) >= 50  # no spaces; plenty of words
    first = Document(id="first", text="首页 | 联系我们 | 版权所有\nAnother page.", source="web", meta={"lang": "zh"})
    repeat = Document(id="zh", text=page + "\n首页 | 联系我们 | 版权所有", source="web", meta={"lang": "zh"})
    run = harness.run(ParagraphDedup, {}, [[first, repeat]])
    kept = {d.id: d.text for d in run.kept[0]}
    assert kept.get("zh") == page  # the repeated line cut out, the page kept
    assert counts(run).get("dropped.too_few_words", 0) == 0
