"""decontaminate: benchmark items planted in real web documents are found; clean text is not."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from dataforge.document import Document
from dataforge.filters.decontam_index import (Reference, bitmap, check_references, lengths_for, may_hold, ngram_keys,
                                              normalized_word_bytes, normalized_words, read_items, shared_index,
                                              word_hashes)
from dataforge.filters.decontaminate import Decontaminate, DecontaminateParams
from dataforge.stage import RunInfo, TaskContext
from dataforge.stats import Stats

DATA = Path(__file__).resolve().parents[2] / "data"
ARC = DATA / "benchmarks" / "arc_challenge.jsonl"
ARC_REF = {"name": "arc_challenge", "path": str(ARC), "fields": ["query+choices[gold]"]}


# ---- planting (also used by benchmarks/bench_operators.py) ------------------------------------
def web_texts(data_dir: Path = DATA) -> list[str]:
    """Real web documents: the bundled C4 and FineWeb samples."""
    texts = [json.loads(line)["text"] for line in open(data_dir / "c4/tiny_c4_sample.jsonl", encoding="utf-8")]
    texts += pq.read_table(data_dir / "web/fineweb-sample.parquet", columns=["text"]).column("text").to_pylist()
    return [t for t in texts if t and t.strip()]


def arc_items(path: Path = ARC) -> list[str]:
    """Each ARC item as a leak would show it: the question, then the right answer."""
    out = []
    for line in open(path, encoding="utf-8"):
        rec = json.loads(line)
        out.append(f"{rec['query']} {rec['choices'][rec['gold']]}")
    return out


def light_edit(item: str, rng: random.Random, filler: list[str]) -> str:
    """Case and punctuation changes everywhere, and every 20th word replaced."""
    words = item.split()
    out = []
    for i, w in enumerate(words):
        if i % 20 == 19:
            w = rng.choice(filler)  # a changed word every 20
        r = rng.random()
        w = w.upper() if r < 0.15 else w.capitalize() if r < 0.35 else w.lower() if r < 0.5 else w
        w = w.strip(".,;:?!") if rng.random() < 0.5 else w + rng.choice(["", ",", ";", " -"])
        out.append(w)
    return " ".join(out)


def plant(doc: str, item: str, rng: random.Random) -> str:
    """``item`` inserted between two sentences (or lines) of ``doc``."""
    cuts = [m.end() for m in re.finditer(r"[.!?]\s+|\n", doc)] or [len(doc)]
    at = rng.choice(cuts)
    return f"{doc[:at]}{item}\n{doc[at:]}"


def planted_docs(texts: list[str], items: list[str], *, edited: bool, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    filler = [w for t in texts[:20] for w in t.split() if w.isalpha() and len(w) > 3]
    out = []
    for i, item in enumerate(items):
        host = texts[i % len(texts)]
        out.append(plant(host, light_edit(item, rng, filler) if edited else item, rng))
    return out


# ---- harness ------------------------------------------------------------------------------------
def make(tmp_path: Path, task: str = "t0", **options: Any) -> Decontaminate:
    options.setdefault("references", [ARC_REF])
    run = RunInfo(seed=1, output_dir=tmp_path / "out", work_dir=tmp_path / "work", sources=["web"])
    ctx = TaskContext(run=run, task_id=task, label="0:decontaminate", stats=Stats(), task_dir=tmp_path / task,
                      publish_dir=tmp_path / "publish")
    return Decontaminate(DecontaminateParams(**options), ctx)


def docs_of(texts: list[str], prefix: str = "d") -> list[Document]:
    return [Document(id=f"{prefix}{i}", text=t, source="web") for i, t in enumerate(texts)]


def flagged(stage: Decontaminate, texts: list[str]) -> list[bool]:
    kept = {d.id for d in stage.process(docs_of(texts))}
    stage.close()
    return [f"d{i}" not in kept for i in range(len(texts))]


@pytest.fixture(scope="module")
def web() -> list[str]:
    return web_texts()


def test_recall_on_planted_items_and_no_false_positives(tmp_path: Path, web: list[str]) -> None:
    """Issue 15 goals: recall >= 0.99 on ARC items planted whole and lightly edited in real
    web documents; false positives <= 0.1% on the same documents left clean."""
    items = arc_items()
    stage = make(tmp_path)
    assert sum(flagged(stage, web)) <= 0.001 * len(web)
    for edited in (False, True):
        hits = flagged(make(tmp_path), planted_docs(web, items, edited=edited))
        assert sum(hits) / len(items) >= 0.99, (edited, sum(hits), len(items))


def test_removed_documents_are_counted_and_tabled(tmp_path: Path, web: list[str]) -> None:
    items = arc_items()
    texts = [web[0], plant(web[1], items[5], random.Random(1)), web[2]]
    stage = make(tmp_path)
    kept = list(stage.process(docs_of(texts)))
    stage.close()
    assert [d.id for d in kept] == ["d0", "d2"]
    counts = stage.ctx.stats.to_dict()["0:decontaminate"]["web"]
    assert counts["dropped.contaminated"] == 1 and counts["contaminated.arc_challenge"] == 1
    rows = [json.loads(line) for line in (tmp_path / "publish/decontamination/0_decontaminate/t0.jsonl").open()]
    assert len(rows) == 1
    assert rows[0]["doc"] == "d1" and rows[0]["benchmark"] == "arc_challenge" and rows[0]["action"] == "removed"
    assert rows[0]["items"][0] == "6"  # line 6 of the file: the planted item
    assert rows[0]["ngrams"] >= 1


def test_redact_cuts_the_item_and_keeps_the_rest(tmp_path: Path, web: list[str]) -> None:
    host = max(web, key=len)
    item = arc_items()[10]
    text = plant(host, item, random.Random(3))
    stage = make(tmp_path, mode="redact")
    (out,) = list(stage.process(docs_of([text])))
    stage.close()
    assert item not in out.text and len(out.text) < len(text) and len(out.text) > len(host) - 2000
    assert not any(len(stage.index.lookup(word_hashes(normalized_words(out.text)))) for _ in [0])
    counts = stage.ctx.stats.to_dict()["0:decontaminate"]["web"]
    assert counts["redacted"] == 1 and counts["redacted_chars"] > len(item)
    row = json.loads((tmp_path / "publish/decontamination/0_decontaminate/t0.jsonl").read_text())
    assert row["action"] == "redacted"
    # a short document has nothing of 200 characters left: removed (GPT-3's rule)
    stage = make(tmp_path, mode="redact")
    assert list(stage.process(docs_of([f"Intro. {item} End."]))) == []


def test_instruction_fields(tmp_path: Path) -> None:
    """Scans meta fields too, for instruction data."""
    item = arc_items()[0]
    docs = [Document(id="a", text="", source="sft", meta={"instruction": "Answer this.", "output": item}),
            Document(id="b", text="", source="sft", meta={"instruction": "Write a poem.", "output": "Roses."})]
    stage = make(tmp_path, fields=["text", "instruction", "output"])
    assert [d.id for d in stage.process(docs)] == ["b"]
    assert [d.id for d in make(tmp_path).process(docs)] == ["a", "b"]  # text only: nothing to find


def test_short_items_match_whole_but_not_inside_longer_variants(tmp_path: Path) -> None:
    ref = tmp_path / "short.jsonl"
    ref.write_text(json.dumps({"q": "Which gas do plants take in from the air today"}) + "\n"  # 10 words
                   + json.dumps({"q": "Too short to index"}) + "\n")
    stage = make(tmp_path, references=[{"name": "s", "path": str(ref)}])
    texts = ["We asked: which gas do plants take in from the air today? Carbon dioxide.",
             "Which gas do plants take in from the air?", "Too short to index."]
    assert flagged(stage, texts) == [True, False, False]
    assert stage.index.unindexed == {"s": 1}


def test_normalisation() -> None:
    assert normalized_words("Café, NAÏVE -- 3.14 co-op!") == ["cafe", "naive", "0", "0", "co", "op"]
    assert normalized_words("") == []


def _bundled_texts() -> list[str]:
    import zstandard

    texts = web_texts()
    for path in sorted((DATA / "multilingual").iterdir()):
        raw = path.read_bytes()
        if path.suffix == ".zst":
            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        for line in raw.decode("utf-8").splitlines():
            texts.append(json.loads(line)["text"] if path.suffix in (".jsonl", ".zst") else line)
    return texts


HOSTILE = [
    "", "   ", "_", "__init__ a_b", "0", "000 007 1٢3 ١٢٣", "x0y 00z 0.0.0", "ǅungla İstanbul KELVIN \u212a",
    "ΣΟΦΙΑΣ ΟΔΟΣ.", "e\u0301te\u0301 cafe\u0301s", "ﬁne ﬂow", "\ud800 lone \udfff surrogates",
    "tab\tnew\nline\rcr\x0bvt\x0cff\x1cfs\x00nul", "a’b “c” d—e f…g h\u00a0i", "²³ ½ ①②", "🙂🙂 ok🙂ok",
    "植物，光合作用 CO2 にほんご カタカナ 한국어 ภาษาไทย", "Ａ Ｂ１２", "mixed’ÀÉ’ascii", "\u200b\u200bzero\u200bwidth",
]


def test_the_fast_word_path_gives_the_same_words_as_the_regex_one() -> None:
    # the stage hashes normalized_word_bytes(doc) while the index is built from
    # normalized_words(item): any difference would be a benchmark item it cannot see
    texts = _bundled_texts() + HOSTILE
    assert len(texts) > 700 and any(not t.isascii() for t in texts)
    for t in texts:
        assert normalized_word_bytes(t) == [w.encode("utf-8", "surrogatepass") for w in normalized_words(t)], t[:80]


def test_the_bitmap_never_loses_a_key_and_clears_most_others() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, 50_000, dtype=np.uint64) * np.uint64(2) + np.uint64(1))
    bits = bitmap(keys)
    assert len(bits) * 8 >= 64 * len(keys)
    assert may_hold(bits, keys).all()  # no false negative
    others = rng.integers(0, 2**63, 100_000, dtype=np.uint64) * np.uint64(2)  # even: none is a key
    assert may_hold(bits, others).mean() < 0.03  # ~1/64 expected
    assert not may_hold(bitmap(np.empty(0, np.uint64)), others).any()


def test_ngram_keys_are_consistent_across_lengths() -> None:
    wh = word_hashes("a b c d e f".split())
    keys = dict((n, k.copy()) for n, k in ngram_keys(wh, [2, 3]))
    sub = dict(ngram_keys(word_hashes("c d e".split()), [3]))
    assert len(keys[2]) == 5 and len(keys[3]) == 4 and keys[3][2] == sub[3][0]
    assert lengths_for(13, 8) == [8, 9, 10, 11, 12, 13]


def test_index_is_built_once_and_shared(tmp_path: Path) -> None:
    refs = [Reference(**ARC_REF)]
    a, folder = shared_index(tmp_path, refs, 13, 8)
    stamp = (folder / "items.json").stat().st_mtime_ns
    b, folder2 = shared_index(tmp_path, refs, 13, 8)
    assert folder2 == folder and (folder / "items.json").stat().st_mtime_ns == stamp
    assert isinstance(b.keys[13].base, np.memmap) and len(a.item_names) == 1172
    _, other = shared_index(tmp_path, refs, 12, 8)  # other options: another content address
    assert other != folder


def test_bad_references_are_reported_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": "fine text here"}\nnot json\n')
    (tmp_path / "empty.jsonl").write_text("\n")
    probs = check_references([Reference(name="b", path=str(bad)), Reference(name="e", path=str(tmp_path / "empty.jsonl")),
                              Reference(name="m", path=str(tmp_path / "missing.jsonl")),
                              Reference(name="f", path=str(ARC), fields=["question"])])
    text = "\n".join(f"{k}: {m}" for k, m in probs)
    assert f"{bad}:2: not JSON" in text and "no items" in text and "cannot read" in text
    assert f"{ARC}:1: fields ['question'] not all present" in text
    assert check_references([Reference(**ARC_REF)]) == []
    assert Decontaminate.check(DecontaminateParams(references=[ARC_REF, ARC_REF]))[0][0] == "references.1.name"
    assert len(list(read_items(Reference(**ARC_REF)))) == 1172


def test_options_are_checked() -> None:
    with pytest.raises(ValidationError):
        DecontaminateParams(references=[])
    with pytest.raises(ValidationError):
        DecontaminateParams(references=[ARC_REF], min_ngram=20)
    with pytest.raises(ValidationError):
        DecontaminateParams(references=[ARC_REF], mode="cut")
    with pytest.raises(ValidationError):
        DecontaminateParams(references=[{**ARC_REF, "fields": ["a[b"]}])
    with pytest.raises(ValidationError):
        DecontaminateParams(references=[{**ARC_REF, "name": "has space"}])


def test_number_lists_in_references_do_not_match_tables(tmp_path: Path) -> None:
    """An item holding a list of numbers would otherwise match any page with 13 numbers in a row."""
    ref = tmp_path / "nums.jsonl"
    ref.write_text(json.dumps({"q": "Sort these: " + " ".join(str(i) for i in range(40, 80))}) + "\n")
    stage = make(tmp_path, references=[{"name": "n", "path": str(ref)}])
    table = "Prices: " + " ".join(str(i * 7) for i in range(30)) + " and more words after the table."
    assert flagged(stage, [table]) == [False]
    assert stage.index.unindexed == {"n": 1}  # nothing of it was indexable


def test_a_chinese_benchmark_item_is_found_in_chinese_text(tmp_path: Path, data_dir: Path) -> None:
    """Chinese has no spaces: characters are the words, so a 13-gram of a Chinese item matches
    inside a Chinese page (as a whole clause, one 'word' run would never match) (issue 19)."""
    pages = [line for line in (data_dir / "multilingual" / "clue-zh-100.txt").read_text().splitlines()
             if len(line) > 200][:40]
    item = "下列哪一种气体是植物在光合作用中从空气中吸收的主要原料？二氧化碳"
    ref = tmp_path / "zh.jsonl"
    ref.write_text(json.dumps({"q": item}, ensure_ascii=False) + "\n")
    stage = make(tmp_path, references=[{"name": "zh_bench", "path": str(ref)}])
    planted = pages[0][:100] + item[:20] + "，" + item[20:] + pages[0][100:]  # a comma added inside
    assert flagged(stage, [planted] + pages[1:]) == [True] + [False] * (len(pages) - 1)
    assert normalized_words("植物，光合作用 CO2") == ["植", "物", "光", "合", "作", "用", "co0"]
