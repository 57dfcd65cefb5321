"""Text repair and normalisation: ``fix_text`` (mojibake and Unicode repair with ftfy) and
``normalize_text`` (Unicode normal form, control characters, whitespace).

``fix_text`` calls the ``ftfy`` library (Speer 2019, "ftfy", Zenodo 10.5281/zenodo.2591652)
with the options datatrove's ``FTFYFormatter`` (datatrove 0.10) passes it: the encoding
fixes on, the fixes that force one house style (ligatures, character width, curly quotes,
line breaks, Unicode normal form) off. On the same text the output is ftfy's, hence
datatrove's (benchmarks/bench_operators.py checks that on real web documents).

``normalize_text`` is the plainer normalisation the other peers offer (data-juicer's
``fix_unicode_mapper`` normal form, ``whitespace_normalization_mapper`` and
``remove_non_printing_characters``-style control stripping; Dolma's and CCNet's
whitespace handling before hashing): each step is an option, all pure functions.

Both are stages that rewrite text. A document is counted as ``changed`` when its text
changed; one left empty is dropped as ``empty``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from ..document import Document
from ..stage import FilterParams, Stage

NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]


class FixTextParams(FilterParams):
    # the defaults below are datatrove's FTFYFormatter (0.10); each is ftfy's TextFixerConfig field
    # unescape HTML entities such as &amp; when the text has no HTML tags ("auto")
    unescape_html: Literal["auto"] | bool = "auto"
    # remove ANSI terminal escape sequences
    remove_terminal_escapes: bool = True
    # undo mojibake (UTF-8 decoded as Latin-1/Windows-1252 and similar)
    fix_encoding: bool = True
    # ftfy: a mojibake'd NBSP that lost its 0xA0 byte is restored
    restore_byte_a0: bool = True
    # ftfy: lossy sequences from a bad decode are replaced with U+FFFD
    replace_lossy_sequences: bool = True
    # ftfy: fix UTF-8 mojibake embedded in otherwise correct text
    decode_inconsistent_utf8: bool = True
    # ftfy: C1 control characters that stand for Windows-1252 characters
    fix_c1_controls: bool = True
    # datatrove: off ("enforce a specific text format")
    fix_latin_ligatures: bool = False
    # datatrove: off ("enforces the WRONG punctuation for chinese and japanese")
    fix_character_width: bool = False
    # datatrove: off ("models then don't recognize curly quotes at all")
    uncurl_quotes: bool = False
    # datatrove: off ("on the fence about this one")
    fix_line_breaks: bool = False
    # ftfy: UTF-16 surrogate pairs joined into one character
    fix_surrogates: bool = True
    # ftfy: remove control characters that have no use in text (not \n, \t)
    remove_control_chars: bool = True
    # datatrove: None (no normal form); set NFC/NFKC here or use normalize_text
    normalization: NormalForm | None = None
    # ftfy's default: longest text (characters) ftfy tries to re-decode in one piece
    max_decode_length: int = Field(1_000_000, ge=1)


def ftfy_config(p: FixTextParams) -> Any:
    """ftfy's ``TextFixerConfig`` for these options (ftfy imported on first use)."""
    from ftfy import TextFixerConfig  # deferred: ftfy takes ~0.1 s; normalize_text (this module) never needs it

    opts = p.model_dump(exclude={"sample_rejected"})
    return TextFixerConfig(explain=False, **opts)


class FixText(Stage[FixTextParams]):
    """Repair mojibake and broken Unicode with ftfy (as datatrove's FTFYFormatter)."""

    Params: ClassVar[type[FixTextParams]] = FixTextParams
    rewrites_text: ClassVar[bool] = True

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        import ftfy  # deferred: as in ftfy_config

        config = ftfy_config(self.params)
        for doc in docs:
            yield from _rewrite(self, doc, ftfy.fix_text(doc.text, config=config))


def _rewrite(stage: Stage[Any], doc: Document, new: str) -> Iterator[Document]:
    if new != doc.text:
        stage.count(doc, "changed")
        doc.text = new
    if not new.strip():
        stage.dropped(doc, "empty")
        return
    yield doc


# ---- normalize_text --------------------------------------------------------------------------
# C0 and C1 controls (Unicode category Cc) except tab, line feed and carriage return, plus
# the format characters that are invisible noise in web text: zero-width space, soft
# hyphen, word joiner, BOM (ZWJ/ZWNJ are kept: they change how Indic and emoji text renders)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]")
# every horizontal space character (Unicode Zs, and tab) but the plain space
_HSPACE = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUN = re.compile(" {2,}")
_LINE_SEP = re.compile("\r\n?|[\u2028\u2029\x85]")


class NormalizeTextParams(FilterParams):
    # Unicode normal form; NFC as data-juicer's fix_unicode_mapper. NFKC also folds
    # compatibility characters (full-width letters, ligatures, superscripts). None = off
    unicode: NormalForm | None = "NFC"
    # remove C0/C1 control characters (not \t \n \r) and invisible zero-width characters
    # (data-juicer remove_non_printing_characters' idea; tab/newlines handled below)
    control_chars: bool = True
    # every Unicode space (NBSP, thin, ideographic, tab) becomes a plain space (data-juicer
    # whitespace_normalization_mapper); CR LF, CR, U+2028/2029/0085 become "\n"
    normalize_spaces: bool = True
    # runs of spaces become one; spaces at line ends are removed (CCNet normalises
    # whitespace before hashing lines)
    collapse_spaces: bool = True
    # at most this many consecutive line breaks (2 = paragraphs kept, blank runs cut);
    # null = leave line breaks alone. Our choice: paragraph breaks carry structure
    # (at most 65536: a regex repeat count, and no text needs more blank lines kept)
    max_newlines: int | None = Field(2, ge=1, le=1 << 16)
    # strip leading and trailing whitespace of the whole text
    strip: bool = True


def normalize(text: str, p: NormalizeTextParams) -> str:
    """``text`` after the steps switched on in ``p`` (in this order)."""
    if p.unicode is not None and not (text.isascii() and p.unicode in ("NFC", "NFD")):
        text = unicodedata.normalize(p.unicode, text)
    if p.control_chars:
        text = _CONTROL.sub("", text)
    if p.normalize_spaces:
        text = _HSPACE.sub(" ", _LINE_SEP.sub("\n", text))
    if p.collapse_spaces:
        text = "\n".join(_SPACE_RUN.sub(" ", line).rstrip(" ") for line in text.split("\n"))
    if p.max_newlines is not None:
        text = re.sub("\n{%d,}" % (p.max_newlines + 1), "\n" * p.max_newlines, text)
    if p.strip:
        text = text.strip()
    return text


class NormalizeText(Stage[NormalizeTextParams]):
    """Unicode normal form, control characters and whitespace, each an option."""

    Params: ClassVar[type[NormalizeTextParams]] = NormalizeTextParams
    rewrites_text: ClassVar[bool] = True

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            yield from _rewrite(self, doc, normalize(doc.text, self.params))
