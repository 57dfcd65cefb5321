"""Derive a language's filter values from reference text, the way FineWeb-2 did.

FineWeb-2 (Penedo et al. 2025, arXiv:2506.20920, section 4) moved each English threshold
to another language by comparing the metric's distribution on reference text (mostly
Wikipedia) of both languages, and took each language's stop words from the most
frequent words of its reference text. This tool does the same on text you give it:

* stop words: words (as the language's segmenter splits them, lowercased, with a letter)
  that make up at least ``STOP_WORD_SHARE`` of all words of the reference text;
* thresholds, the quantile method: the English threshold's quantile on English
  reference text is found, and the language's threshold is its metric's value at that
  same quantile (so both remove the same share of their reference text).

Usage (one document per line, or JSONL with a "text" field)::

    python -m dataforge.lang.derive --language xx --reference xx_wiki.jsonl --english en_wiki.jsonl

It prints a ``per_language:`` block for the three stages, ready for a pipeline file
(``gopher_quality: {per_language: {xx: {...}}}``), or with ``--config`` a FineWeb-2-style
config to add to ``fineweb2.py``. Reference text should be clean (Wikipedia-like) and
at least a few thousand documents for stable quantiles.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..filters import repetition as rep
from ..filters.gopher import GopherQualityParams, GopherRepetitionParams, word_stats
from ..filters.fineweb import FineWebQualityParams
from ..filters.text import TERMINAL_PUNCTUATION, words
from .codes import check_code

#: a reference word is a stop word when it is at least this share of all words. Our
#: calibration: on FineWeb-2's Danish documents this gives about 20 words, most of them in
#: FineWeb-2's Danish list (FineWeb-2 does not state its own cut-off)
STOP_WORD_SHARE = 0.005
_TERMINAL = tuple(TERMINAL_PUNCTUATION)


def read_texts(path: Path) -> list[str]:
    """Documents of a reference file: JSONL ("text" field) or one document per line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".jsonl":
        return [json.loads(s)["text"] for s in lines if s.strip()]
    return [s for s in lines if s.strip()]


def stop_words(texts: Iterable[str], language: str | None, share: float = STOP_WORD_SHARE) -> list[str]:
    """The reference text's most frequent words, most frequent first."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(w.lower() for w in words(t, language) if any(c.isalpha() for c in w))
    total = sum(counts.values())
    return [w for w, n in counts.most_common() if total and n / total >= share]


def metrics(text: str, language: str | None) -> dict[str, float]:
    """The measured values the thresholds cut on, for one document."""
    toks = words(text, language)
    st = word_stats(toks)
    lines = [s for s in text.split("\n") if s.strip()]
    out: dict[str, float] = {
        "avg_word_length": st.real_chars / st.n_real if st.n_real else 0.0,
        "non_alpha_words_ratio": st.n_alpha / st.n_words if st.n_words else 0.0,
        "line_punct_ratio": sum(s.endswith(_TERMINAL) for s in lines) / len(lines) if lines else 0.0,
        "new_line_ratio": text.count("\n") / len(toks) if toks else 0.0,
        "dup_line_frac": rep.duplicates(lines)[0] / len(lines) if lines else 0.0,
    }
    index = rep.NgramIndex(toks)
    for n in (2, 3, 4):
        top = rep.top_ngram_chars(index, n)
        out[f"top_{n}_gram"] = (top or 0) / len(text) if text else 0.0
    for n in range(5, 11):
        out[f"dup_{n}_gram"] = rep.duplicated_ngram_chars(index, n) / len(text) if text else 0.0
    return out


def _quantile_map(en: np.ndarray, xx: np.ndarray, threshold: float) -> float:
    """The value of ``xx`` at the quantile where ``threshold`` sits in ``en``."""
    q = float(np.mean(en <= threshold))
    # inverted_cdf: a value the reference has, with the same share at or below it
    return float(np.quantile(xx, q, method="inverted_cdf"))


def derive(reference: list[str], english: list[str], *, language: str) -> dict[str, Any]:
    """A FineWeb-2-style config for ``language`` (same keys as ``fineweb2.CONFIGS`` values)."""
    if not reference or not english:
        raise ValueError("need reference documents of both languages")
    m_en = _columns([metrics(t, "en") for t in english])
    m_xx = _columns([metrics(t, language) for t in reference])
    gq, gr, fw = GopherQualityParams(), GopherRepetitionParams(), FineWebQualityParams()
    move: Callable[[str, float], float] = lambda key, thr: round(_quantile_map(m_en[key], m_xx[key], thr), 3)  # noqa: E731
    return {
        "min_avg_word_length": round(move("avg_word_length", float(gq.min_avg_word_length or 0))),
        "max_avg_word_length": round(move("avg_word_length", float(gq.max_avg_word_length or 0))),
        "max_non_alpha_words_ratio": move("non_alpha_words_ratio", float(gq.max_non_alpha_words_ratio or 0)),
        "line_punct_thr": move("line_punct_ratio", fw.line_punct_thr),
        "new_line_ratio": move("new_line_ratio", fw.new_line_ratio),
        "dup_line_frac": move("dup_line_frac", float(gr.dup_line_frac or 0)),
        "top_n_grams": tuple((n, move(f"top_{n}_gram", f)) for n, f in gr.top_n_grams),
        "dup_n_grams": tuple((n, move(f"dup_{n}_gram", f)) for n, f in gr.dup_n_grams),
        "stopwords": stop_words(reference, language),
    }


def _columns(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def per_language_block(language: str, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``cfg`` as the three stages' ``per_language`` options (what defaults.py does for CONFIGS)."""
    return {
        "gopher_quality": {"per_language": {language: {
            "min_avg_word_length": cfg["min_avg_word_length"], "max_avg_word_length": cfg["max_avg_word_length"],
            "max_non_alpha_words_ratio": cfg["max_non_alpha_words_ratio"], "stop_words": cfg["stopwords"]}}},
        "gopher_repetition": {"per_language": {language: {
            "dup_line_frac": cfg["dup_line_frac"], "top_n_grams": [list(x) for x in cfg["top_n_grams"]],
            "dup_n_grams": [list(x) for x in cfg["dup_n_grams"]]}}},
        "fineweb_quality": {"per_language": {language: {
            "line_punct_thr": cfg["line_punct_thr"], "new_line_ratio": cfg["new_line_ratio"]}}},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dataforge.lang.derive", description=__doc__.splitlines()[0])
    ap.add_argument("--language", required=True, help="the language's code (lid.176 / ISO 639-1, e.g. 'eo')")
    ap.add_argument("--reference", type=Path, required=True, help="reference text of the language")
    ap.add_argument("--english", type=Path, required=True, help="English reference text of the same kind")
    ap.add_argument("--config", action="store_true", help="print a FineWeb-2-style config instead")
    args = ap.parse_args(argv)
    try:
        lang = check_code(args.language)
        cfg = derive(read_texts(args.reference), read_texts(args.english), language=lang)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: Any = cfg if args.config else per_language_block(lang, cfg)
    print(yaml.safe_dump(json.loads(json.dumps(out)), allow_unicode=True, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
