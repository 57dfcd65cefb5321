"""FineWeb-2's published per-language filter values (Penedo et al. 2025, "FineWeb2: One
Pipeline to Scale Them All", arXiv:2506.20920), as data.

Each entry is ``configs/{iso3}_{script}.yml`` of github.com/huggingface/fineweb-2 at the
commit named (the last revision of that file; earlier revisions, c7004ff and baedee44,
had other n-gram and punctuation values). FineWeb-2's data is ODC-By 1.0. Values are
copied as published; how they become stage options is ``defaults.py``. To add a
language, copy its config here, or derive one from reference text with
``python -m dataforge.lang.derive`` (see there).

Keys (FineWeb-2's names): ``dup_line_frac``, ``top_n_grams``, ``dup_n_grams`` (Gopher
repetition), ``line_punct_thr``, ``new_line_ratio`` (FineWeb quality),
``min_avg_word_length``, ``max_avg_word_length``, ``max_non_alpha_words_ratio``,
``stopwords`` (Gopher quality), ``language_score`` (GlotLID confidence threshold).
"""

from __future__ import annotations

from typing import Any

REPO = "github.com/huggingface/fineweb-2"
_C05 = "05e6729567a5df985fbd814e862c48f796feb09f"
_D33 = "d331bee82ee206aebbaba04db4283154291c1c74"


def _ng(*fracs: float, start: int) -> tuple[tuple[int, float], ...]:
    return tuple((start + i, f) for i, f in enumerate(fracs))


# project code -> (FineWeb-2 config name, commit, values)
CONFIGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "zh": ("cmn_Hani", _C05, dict(
        dup_line_frac=0.287, top_n_grams=_ng(0.256, 0.201, 0.171, start=2),
        dup_n_grams=_ng(0.198, 0.182, 0.167, 0.154, 0.14, 0.127, start=5), language_score=0.692,
        line_punct_thr=0.106, max_avg_word_length=5, max_non_alpha_words_ratio=0.735, min_avg_word_length=1,
        new_line_ratio=0.178,
        stopwords=["的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被", "人", "中", "为",
                   "他", "與", "後", "也", "而", "由"])),
    "ja": ("jpn_Jpan", _D33, dict(
        dup_line_frac=0.328, top_n_grams=_ng(0.239, 0.196, 0.172, start=2),
        dup_n_grams=_ng(0.243, 0.225, 0.207, 0.19, 0.175, 0.159, start=5), language_score=0.886,
        line_punct_thr=0.096, max_avg_word_length=6, max_non_alpha_words_ratio=0.759, min_avg_word_length=1,
        new_line_ratio=0.13,
        stopwords=["の", "に", "を", "は", "た", "て", "が", "と", "で", "年", "し", "・", "月", "れ", "さ"])),
    "ko": ("kor_Hang", _C05, dict(
        dup_line_frac=0.374, top_n_grams=_ng(0.282, 0.228, 0.185, start=2),
        dup_n_grams=_ng(0.201, 0.184, 0.168, 0.154, 0.14, 0.127, start=5), language_score=0.842,
        line_punct_thr=0.062, max_avg_word_length=6, max_non_alpha_words_ratio=0.791, min_avg_word_length=1,
        new_line_ratio=0.196,
        stopwords=["의", "다", "이", "는", "에", "을", "한", "년", "하", "은", "를", "했", "고", "에서", "가", "있",
                   "으로", "인", "월", "로", "되"])),
    "th": ("tha_Thai", _C05, dict(
        dup_line_frac=0.349, top_n_grams=_ng(0.221, 0.197, 0.162, start=2),
        dup_n_grams=_ng(0.185, 0.168, 0.152, 0.137, 0.124, 0.111, start=5), language_score=0.9,
        line_punct_thr=0.0, max_avg_word_length=10, max_non_alpha_words_ratio=0.9, min_avg_word_length=2,
        new_line_ratio=0.153, stopwords=["ใน", "ที่", "และ", "ของ", "เป็น", "มี", "การ", "ได้"])),
    "de": ("deu_Latn", _C05, dict(
        dup_line_frac=0.263, top_n_grams=_ng(0.169, 0.153, 0.137, start=2),
        dup_n_grams=_ng(0.141, 0.134, 0.126, 0.117, 0.108, 0.098, start=5), language_score=0.821,
        line_punct_thr=0.0, max_avg_word_length=15, max_non_alpha_words_ratio=0.774, min_avg_word_length=0,
        new_line_ratio=0.152,
        stopwords=["der", "und", "die", "in", "von", "im", "den", "des", "mit", "das", "er", "dem", "als",
                   "wurde", "für"])),
    "ru": ("rus_Cyrl", _C05, dict(
        dup_line_frac=0.322, top_n_grams=_ng(0.184, 0.164, 0.146, start=2),
        dup_n_grams=_ng(0.168, 0.156, 0.145, 0.133, 0.121, 0.109, start=5), language_score=0.9,
        line_punct_thr=0.231, max_avg_word_length=11, max_non_alpha_words_ratio=0.713, min_avg_word_length=3,
        new_line_ratio=0.139,
        stopwords=["в", "и", "на", "с", "года", "по", "году", "из", "был", "к", "не", "от", "что", "за", "для",
                   "его", "как", "а", "он", "также", "до", "после"])),
    "fi": ("fin_Latn", _D33, dict(
        dup_line_frac=0.293, top_n_grams=_ng(0.253, 0.202, 0.179, start=2),
        dup_n_grams=_ng(0.153, 0.143, 0.133, 0.122, 0.112, 0.101, start=5), language_score=0.764,
        line_punct_thr=0.114, max_avg_word_length=14, max_non_alpha_words_ratio=0.755, min_avg_word_length=3,
        new_line_ratio=0.161,
        stopwords=["ja", "on", "oli", "hän", "vuonna", "myös", "joka", "se", "ei", "sen", "ovat", "sekä",
                   "mutta", "että", "tai", "vuoden", "kanssa", "hänen", "s.", "jälkeen", "the"])),
    "ar": ("arb_Arab", _C05, dict(
        dup_line_frac=0.304, top_n_grams=_ng(0.197, 0.172, 0.146, start=2),
        dup_n_grams=_ng(0.165, 0.153, 0.142, 0.131, 0.12, 0.109, start=5), language_score=0.711,
        line_punct_thr=0.143, max_avg_word_length=9, max_non_alpha_words_ratio=0.787, min_avg_word_length=2,
        new_line_ratio=0.189,
        stopwords=["،", "في", "من", "على", "إلى", "عام", "أن", "مع", "أو", "هو", "عن", "التي", "كان", "بين",
                   "ما", "كانت", "هي", "المتحدة", "بعد"])),
    "da": ("dan_Latn", _C05, dict(
        dup_line_frac=0.305, top_n_grams=_ng(0.367, 0.297, 0.232, start=2),
        dup_n_grams=_ng(0.169, 0.158, 0.147, 0.134, 0.123, 0.112, start=5), language_score=0.3,
        line_punct_thr=0.1, max_avg_word_length=11, max_non_alpha_words_ratio=0.798, min_avg_word_length=3,
        new_line_ratio=0.182,
        stopwords=["i", "og", "af", "en", "til", "er", "den", "at", "som", "på", "for", "med", "det", "blev",
                   "var", "der", "fra", "de", "han", "et"])),
    "fr": ("fra_Latn", _C05, dict(
        dup_line_frac=0.264, top_n_grams=_ng(0.161, 0.149, 0.134, start=2),
        dup_n_grams=_ng(0.15, 0.141, 0.131, 0.121, 0.111, 0.1, start=5), language_score=0.824,
        line_punct_thr=0.1, max_avg_word_length=11, max_non_alpha_words_ratio=0.812, min_avg_word_length=2,
        new_line_ratio=0.185,
        stopwords=["de", "la", "le", "et", "à", "en", "l'", "des", "du", "les", "est", "d'", "un", "une", "il",
                   "dans", "par", "au"])),
    "es": ("spa_Latn", _D33, dict(
        dup_line_frac=0.252, top_n_grams=_ng(0.156, 0.14, 0.125, start=2),
        dup_n_grams=_ng(0.145, 0.136, 0.127, 0.117, 0.108, 0.099, start=5), language_score=0.84,
        line_punct_thr=0.182, max_avg_word_length=14, max_non_alpha_words_ratio=0.825, min_avg_word_length=3,
        new_line_ratio=0.138,
        stopwords=["de", "la", "en", "el", "y", "a", "que", "del", "los", "se", "por", "un", "con", "una", "las",
                   "su"])),
    "it": ("ita_Latn", _C05, dict(
        dup_line_frac=0.246, top_n_grams=_ng(0.198, 0.156, 0.133, start=2),
        dup_n_grams=_ng(0.144, 0.136, 0.127, 0.118, 0.109, 0.1, start=5), language_score=0.817,
        line_punct_thr=0.025, max_avg_word_length=21, max_non_alpha_words_ratio=0.807, min_avg_word_length=3,
        new_line_ratio=0.2,
        stopwords=["di", "e", "il", "la", "in", "a", "del", "che", "è", "della", "un", "per", "nel", "l'", "con",
                   "da", "i", "una"])),
    "pt": ("por_Latn", _D33, dict(
        dup_line_frac=0.287, top_n_grams=_ng(0.371, 0.191, 0.163, start=2),
        dup_n_grams=_ng(0.163, 0.153, 0.141, 0.13, 0.119, 0.108, start=5), language_score=0.799,
        line_punct_thr=0.077, max_avg_word_length=13, max_non_alpha_words_ratio=0.814, min_avg_word_length=3,
        new_line_ratio=0.186,
        stopwords=["de", "a", "e", "o", "em", "do", "da", "que", "um", "no", "uma", "com", "para", "na", "é",
                   "foi"])),
    "nl": ("nld_Latn", _D33, dict(
        dup_line_frac=0.296, top_n_grams=_ng(0.213, 0.182, 0.158, start=2),
        dup_n_grams=_ng(0.156, 0.146, 0.136, 0.126, 0.115, 0.104, start=5), language_score=0.689,
        line_punct_thr=0.102, max_avg_word_length=17, max_non_alpha_words_ratio=0.828, min_avg_word_length=3,
        new_line_ratio=0.154,
        stopwords=["de", "van", "in", "het", "een", "en", "is", "op", "voor", "met", "door", "zijn", "werd",
                   "hij", "uit"])),
    "pl": ("pol_Latn", _D33, dict(
        dup_line_frac=0.32, top_n_grams=_ng(0.222, 0.198, 0.176, start=2),
        dup_n_grams=_ng(0.172, 0.16, 0.148, 0.136, 0.123, 0.111, start=5), language_score=0.689,
        line_punct_thr=0.087, max_avg_word_length=12, max_non_alpha_words_ratio=0.726, min_avg_word_length=3,
        new_line_ratio=0.158,
        stopwords=["w", "i", "na", "z", "do", "się", "roku", "od", "a", "jest", "przez", "po", "jako", "oraz",
                   "o", "został", "był", "nie"])),
    "sv": ("swe_Latn", _C05, dict(
        dup_line_frac=0.292, top_n_grams=_ng(0.242, 0.195, 0.174, start=2),
        dup_n_grams=_ng(0.156, 0.147, 0.136, 0.125, 0.116, 0.105, start=5), language_score=0.629,
        line_punct_thr=0.2, max_avg_word_length=12, max_non_alpha_words_ratio=0.841, min_avg_word_length=3,
        new_line_ratio=0.135,
        stopwords=["i", "och", "är", "av", "en", "som", "den", "med", "på", "till", "att", "för"])),
}
