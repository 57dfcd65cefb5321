"""Word and sentence splitting for the heuristic filters, without spaCy.

datatrove counts words with spaCy's English tokenizer (``spacy.blank("en")``) and
sentences with spaCy's ``sentencizer``; that is most of its filtering time (about
30k words/s on one core). The published thresholds (Gopher, C4, FineWeb) are applied
to those counts, so this module reproduces spaCy's *rules* in plain Python: text is cut
on whitespace (any ``str.isspace`` character, as spaCy does) and each chunk is split by
``wordsplit.split_chunk`` (prefixes, suffixes, exceptions, infixes: see there). Chunks
are memoised, as spaCy caches them, so a repeated chunk costs a dict lookup.

On 1,960 real web documents 99.0% of documents get exactly spaCy's token list; the rest
differ by a token or two (rare exceptions such as ``lovin'``, Korean/Persian text with a
"." glued to the next word, a few emoticons). Where that changes a filter decision is
listed in benchmarks/results/filters.md.

Languages: every function takes ``language=`` (a project code, ``doc.meta['lang']``).
Chinese, Japanese, Korean and Thai get a dictionary segmenter (``dataforge.lang.segment``);
any other language, and ``language=None``, the rules above. With ``language=None`` a run
of Han/Kana characters is one "word" (as with spaCy's English tokenizer), which is what
datatrove's English defaults see, so English decisions do not depend on this option.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..lang.segment import has_segmenter, segmenter
from .wordsplit import SPECIALS, split_chunk

# Unicode sentence-terminal punctuation, the set datatrove uses for FineWeb's
# line-punctuation rule and spaCy's sentencizer uses (plus three Khmer signs).
TERMINAL_PUNCTUATION: frozenset[str] = frozenset(
    "!.?։؝؞؟۔܀܁܂߹࠷࠹࠽࠾।॥၊။።፧፨᙮᜵᜶។៕៖៙៚᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟\u1b7d\u1b7e᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼\u2e53\u2e54。"
    "꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡𐩖𐩗𐽕𐽖𐽗𐽘𐽙\U00010f86\U00010f87\U00010f88\U00010f89"
    "𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑥄𑥆𑩂𑩃𑪛𑪜𑱁𑱂𑻷𑻸"
    "\U00011f43\U00011f44𖩮𖩯𖫵𖬷𖬸𖭄𖺘𛲟𝪈"
)

# Characters that make a token a "symbol" for Gopher's word rules: datatrove's
# PUNCTUATION string (ASCII punctuation, C0/C1 controls and common CJK/typographic marks)
# joined with the terminal punctuation above.
PUNCTUATION: frozenset[str] = frozenset(
    "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
    + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«´»–—’“”„…∶━►、。〈〉《》「」【】！％（），．１：；？～"
) | TERMINAL_PUNCTUATION

# spaCy's sentencizer splits after a token that is one of these characters: its default
# punct_chars, an older Unicode's Sentence_Terminal set (the set above minus newer marks).
_SENT_END = TERMINAL_PUNCTUATION - frozenset(
    "؝؞࠷࠹࠽࠾។៕៖៙៚\u1b7d\u1b7e\u2e53\u2e54𐽕𐽖𐽗𐽘𐽙\U00010f86\U00010f87\U00010f88\U00010f89𑥄𑥆𑻷𑻸\U00011f43\U00011f44𖺘"
)


@lru_cache(maxsize=4)
def words(text: str, language: str | None = None) -> tuple[str, ...]:
    """Word tokens of ``text`` (punctuation tokens included, whitespace dropped), split
    the way ``language`` is (None: the rule-based splitter).

    The last few results are cached (as datatrove caches its spaCy calls), so the
    filters of one chain that look at the same text split it once."""
    return tuple(split_words(text, language=language))


def split_words(text: str, *, language: str | None = None) -> list[str]:
    """``words`` without the cache (for many small texts, such as lines)."""
    if has_segmenter(language):
        return segmenter(language).words(text)
    out: list[str] = []
    specials = SPECIALS
    for chunk in text.split():
        if chunk.isalpha() and chunk not in specials:
            out.append(chunk)  # the common case, without the rules
        elif chunk[-1] in ",;:!?)" and chunk[:-1].isalpha() and chunk[:-1] not in specials:
            out += (chunk[:-1], chunk[-1])  # the next most common: a word and its punctuation
        else:
            out.extend(split_chunk(chunk))
    return out


def count_sentences(text: str, *, language: str | None = None) -> int:
    """Sentences in ``text`` as spaCy's sentencizer counts them on our tokens.

    A new sentence starts at the first non-punctuation token after a token made of one
    terminal punctuation character. Text with no tokens counts as zero sentences.
    Languages with a dedicated segmenter count its sentences.
    """
    if has_segmenter(language):
        return len(segmenter(language).sentences(text))
    toks = split_words(text)
    if not toks:
        return 0
    n = 1
    seen_end = False
    for tok in toks:
        if tok in _SENT_END:
            seen_end = True
        elif seen_end and not _is_punct_token(tok):
            n += 1
            seen_end = False
    return n


def _is_punct_token(tok: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in tok)


def split_sentences(text: str, *, language: str | None = None) -> list[str]:
    """Sentences of ``text`` (for C4 with ``split_paragraph: false``), stripped, non-empty.

    Same boundaries as ``count_sentences``; the text between them is kept as written."""
    if has_segmenter(language):
        return segmenter(language).sentences(text)
    out: list[str] = []
    current: list[str] = []
    seen_end = False
    for tok, space in _tokens_with_space(text):
        if seen_end and tok not in _SENT_END and not _is_punct_token(tok):
            out.append("".join(current).strip())
            current = []
            seen_end = False
        if tok in _SENT_END:
            seen_end = True
        current.append(tok + space)
    if current:
        out.append("".join(current).strip())
    return [s for s in out if s]


def _tokens_with_space(text: str) -> list[tuple[str, str]]:
    """Tokens with the whitespace that follows each (joined back, they rebuild the text)."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"(\S+)(\s*)", text):
        toks = split_chunk(m.group(1))
        out.extend((t, "") for t in toks[:-1])
        out.append((toks[-1], m.group(2)))
    return out
