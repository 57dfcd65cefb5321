"""Real documents bundled in data/ and both sides' decisions on them, for the datatrove
conformance checks.

Shared by tests/filters/test_conformance.py and benchmarks/bench_filters.py (which
writes datatrove's decisions on these documents to datatrove_decisions.json).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import zstandard

FIXTURE = Path(__file__).with_name("datatrove_decisions.json")

# (path under data/, format, text field)
BUNDLED = [
    ("quality/dclm_labelled.jsonl", "jsonl", "text"),
    ("c4/tiny_c4_sample.jsonl", "jsonl", "text"),
    ("web/fineweb-sample.parquet", "parquet", "text"),
    ("multilingual/hplt-fi.jsonl.zst", "jsonl.zst", "text"),
    ("code/github_sample_50.jsonl", "jsonl", "text"),
    ("wiki/wiki_demo.txt", "lines", ""),
]


def _records(path: Path, fmt: str, key: str) -> Iterator[str]:
    if fmt == "parquet":
        yield from pq.read_table(path, columns=[key]).column(key).to_pylist()
    elif fmt == "lines":
        yield from path.read_text(encoding="utf-8").splitlines()
    else:
        raw = path.open("rb")
        stream = zstandard.ZstdDecompressor().stream_reader(raw) if fmt == "jsonl.zst" else raw
        with io.TextIOWrapper(stream, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)[key]


def bundled_docs(data_dir: Path) -> list[tuple[str, str]]:
    """(key, text) for every non-empty document of the bundled files, in file order."""
    out = []
    for rel, fmt, key in BUNDLED:
        for i, text in enumerate(_records(data_dir / rel, fmt, key or "text")):
            if isinstance(text, str) and text.strip():
                out.append((f"{rel}#{i}", text))
    return out


# ---- decisions: ours and datatrove's, in one comparable shape ------------------------------
CHAIN = ["langid", "gopher_repetition", "gopher_quality", "c4", "fineweb_quality"]


def text_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def datatrove_filters() -> dict[str, Any]:
    """datatrove's default filters; its LanguageFilter pointed at our lid.176.ftz (no download)."""
    import datatrove.utils.lid as dt_lid
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter)

    from dataforge.filters.langid import bundled_model_path

    dt_lid.cached_asset_path_or_download = lambda *a, **k: bundled_model_path()
    return {
        "langid": LanguageFilter(languages=["en"]),
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }


def dt_decide(name: str, flt: Any, key: str, text: str) -> dict[str, Any]:
    """{"reason": datatrove's reason or None ("" if dropped without one), "text"/"lang" where relevant}."""
    from datatrove.data import Document as DtDocument

    doc = DtDocument(text=text, id=key)
    res = flt.filter(doc)
    keep, reason = (res, None) if not isinstance(res, tuple) else res
    out: dict[str, Any] = {"reason": None if keep else (reason or "")}
    if name == "c4" and keep:
        out["text"] = text_digest(doc.text)
    if name == "langid":
        out["lang"] = doc.metadata["language"]
    return out


def our_decide(text: str, langid_stage: Any) -> dict[str, dict[str, Any]]:
    """Our decisions on one document, reasons translated to datatrove's names."""
    from dataforge.document import Document
    from dataforge.filters import c4, fineweb, gopher

    d = Document(id="x", text=text, source="bundled")
    out: dict[str, dict[str, Any]] = {"langid": {"reason": langid_stage.decide([d])[0], "lang": d.meta["lang"]}}
    out["gopher_repetition"] = {"reason": gopher.gopher_repetition_reason(text, gopher.GopherRepetitionParams())}
    reason = gopher.gopher_quality_reason(text, gopher.GopherQualityParams())
    out["gopher_quality"] = {"reason": gopher.DATATROVE_REASON.get(reason, reason) if reason else None}
    new_text, reason, _ = c4.c4_clean(text, c4.C4Params())
    out["c4"] = {"reason": reason, **({"text": text_digest(new_text)} if new_text is not None else {})}
    out["fineweb_quality"] = {"reason": fineweb.fineweb_quality_reason(text, fineweb.FineWebQualityParams())}
    return out


def agreement(name: str, theirs: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Kept/dropped agreement, same-reason share when both drop, and the differing documents.

    datatrove's LanguageFilter gives no reason, so for langid "same reason" means the same label."""
    same = both = same_reason = 0
    diffs: list[str] = []
    for key, t in theirs.items():
        o = ours[key]
        if (t["reason"] is None) != (o["reason"] is None):
            diffs.append(f"{key}: datatrove {t['reason']!r}, dataforge {o['reason']!r}")
            continue
        same += 1
        if t["reason"] is not None:
            both += 1
            ok = t.get("lang") == o.get("lang") if name == "langid" else t["reason"] == o["reason"]
            same_reason += ok
            if not ok:
                diffs.append(f"{key}: both drop, datatrove {t['reason']!r}, dataforge {o['reason']!r}")
        elif t.get("text") != o.get("text"):
            diffs.append(f"{key}: both keep, different text")
    return {"filter": name, "docs": len(theirs), "dropped": sum(t["reason"] is not None for t in theirs.values()),
            "agree": same / max(len(theirs), 1), "same_reason": same_reason / both if both else 1.0, "diffs": diffs}


def our_decisions(docs: list[tuple[str, str]], langid_stage: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """``our_decide`` on every document, filter-major: {filter: {key: decision}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in CHAIN}
    for key, text in docs:
        for name, dec in our_decide(text, langid_stage).items():
            out[name][key] = dec
    return out
