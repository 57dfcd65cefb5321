"""Per-language defaults of the heuristic filters, with the source of every value.

English keeps each stage's own defaults (Gopher, C4, FineWeb, as datatrove sets them).
For a language FineWeb-2 published values for (``fineweb2.CONFIGS``), a stage's options
take FineWeb-2's values, and the global changes FineWeb-2's pipeline made to every
language (``fineweb-2-pipeline.py``: repetition paragraph and line-character rules off,
short-line rule off, duplicated-line characters 0.1 instead of 0.01). Any other language
keeps the English thresholds but not the English stop-word list (the rule is off until
the language has a list: ``python -m dataforge.lang.derive``).

Precedence for one document in language L: the stage's per_language[L] options, then
options set at the top of the stage (they apply to every language), then this table's
values for L, then the stage's English defaults.
"""

from __future__ import annotations

from typing import Any

from .codes import LID176
from .fineweb2 import CONFIGS, REPO

PIPELINE_SOURCE = f"{REPO} fineweb-2-pipeline.py (applied to every language)"
# what each stage takes from a FineWeb-2 config: option -> config key
_FROM_CONFIG: dict[str, dict[str, str]] = {
    "gopher_quality": {"min_avg_word_length": "min_avg_word_length", "max_avg_word_length": "max_avg_word_length",
                       "max_non_alpha_words_ratio": "max_non_alpha_words_ratio", "stop_words": "stopwords"},
    "gopher_repetition": {"dup_line_frac": "dup_line_frac", "top_n_grams": "top_n_grams", "dup_n_grams": "dup_n_grams"},
    "fineweb_quality": {"line_punct_thr": "line_punct_thr", "new_line_ratio": "new_line_ratio"},
}
# FineWeb-2's pipeline settings for every language: option -> (value, why)
_PIPELINE: dict[str, dict[str, tuple[Any, str]]] = {
    "gopher_quality": {"min_stop_words": (2, "min_stop_words=2")},
    "gopher_repetition": {
        "dup_para_frac": (None, "dup_para_frac=0: trafilatura keeps no paragraphs"),
        "dup_para_char_frac": (None, "dup_para_char_frac=0"),
        "dup_line_char_frac": (None, "dup_line_char_frac=0: fineweb_quality's char_duplicates_ratio covers it"),
    },
    "fineweb_quality": {
        "short_line_thr": (1.0, "short_line_thr=999 (rule off; 1.0 is the highest ratio)"),
        "char_duplicates_ratio": (0.1, "char_duplicates_ratio=0.1 instead of FineWeb's 0.01"),
    },
}
# C4 is English-only (FineWeb-2 does not run it); our choice for every other language:
# lines may end in that language's sentence marks (。！？, Devanagari danda, ...), not only . ? ! " '
_C4_OTHER = {"end_punctuation": ("unicode", "ours: C4's line rule with every script's sentence-ending marks "
                                            "(C4 is English-only; FineWeb-2 does not apply it)")}
# Thai writes no sentence-final mark (a space ends a sentence; the UDHR's Thai text has none
# in 50 article paragraphs, benchmarks/results/multilingual.md), so C4's line-end rule would
# remove every line of Thai prose: off, as FineWeb-2's tha_Thai config (line_punct_thr 0.0)
# turns off its own line-end rule. Lao, Khmer and Burmese do end sentences with a mark.
NO_SENTENCE_MARK = frozenset({"th"})
_C4_NO_MARK = {"filter_no_terminal_punct": (False, "ours: the language ends sentences with a space, not a mark, "
                                                   "so no line would pass C4's line-end rule")}
_NO_STOP_WORDS = {"min_stop_words": (None, "ours: no stop-word list for this language, so the rule is off "
                                           "(derive one: python -m dataforge.lang.derive)")}

STAGES = ("gopher_quality", "gopher_repetition", "fineweb_quality", "c4")


def language_defaults(stage: str, language: str | None) -> dict[str, tuple[Any, str]]:
    """Options of ``stage`` that differ from its English defaults for ``language``:
    option -> (value, source). Empty for English, None and stages with no per-language values."""
    if language is None or language == "en" or stage not in STAGES:
        return {}
    out: dict[str, tuple[Any, str]] = {}
    if stage == "c4":
        out.update(_C4_OTHER)
        if language in NO_SENTENCE_MARK:
            out.update(_C4_NO_MARK)
    entry = CONFIGS.get(language)
    if entry is None:
        if stage == "gopher_quality":
            out.update(_NO_STOP_WORDS)
        return out
    name, commit, cfg = entry
    source = f"FineWeb-2 {REPO}/blob/{commit[:7]}/configs/{name}.yml"
    for option, key in _FROM_CONFIG.get(stage, {}).items():
        out[option] = (cfg[key], source)
    for option, (value, why) in _PIPELINE.get(stage, {}).items():
        out[option] = (value, f"FineWeb-2 {PIPELINE_SOURCE}: {why}")
    return out


def defaults_table(stage: str) -> dict[str, dict[str, dict[str, Any]]]:
    """For ``dataforge stages NAME``: language -> option -> {"value", "source"}, for every
    language with its own values (the languages FineWeb-2 published, and ``*`` for every
    other non-English language). English is the stage's own defaults and is not listed."""
    if stage not in STAGES:
        return {}
    table = {lang: {o: {"value": v, "source": s} for o, (v, s) in language_defaults(stage, lang).items()}
             for lang in sorted(CONFIGS)}
    other = next(c for c in sorted(LID176) if c not in CONFIGS and c != "en")
    table["*"] = {o: {"value": v, "source": s} for o, (v, s) in language_defaults(stage, other).items()}
    return {k: v for k, v in table.items() if v}


#: the share of a language's documents one stage may drop before the run warns (see README)
LANGUAGE_LOSS_WARNING = 0.5
#: ... counted only once a language has this many documents at that stage (noise below it)
LANGUAGE_LOSS_MIN_DOCS = 20
