"""``c4_badwords``: C4's bad-words filter (Raffel et al. 2020, section 2.2: "we removed any
page that contained any word on the List of Dirty, Naughty, Obscene or Otherwise Bad
Words"), with per-language lists as mC4 and datatrove's ``C4BadWordsFilter`` use.

The lists are LDNOOBW's (CC BY 4.0) at the commit datatrove pins, bundled in
``data/badwords/ldnoobw/`` (one word or phrase a line, file name = language code).
Matching is datatrove's (0.10): the text is lowercased; for languages written with
spaces a list entry must be flanked by a non-word character or the text's start/end
(``(?:\\W|^)word(?:\\W|$)``); for Japanese, Thai and Chinese any occurrence counts.
datatrove removes its allow-list ("sm", "グロ", "女の子", "性": common sub-words of unspaced
languages) from every language's list; so do we.

The entries are compiled into one regex shaped as a trie (entries sharing a prefix share
a branch): a document matches exactly when datatrove's flat alternation matches, but
the regex engine tries each branch once instead of every entry at every position.

``keep_fraction`` keeps that fraction of matching documents, chosen per document from
xxhash of (seed, id), so a rerun keeps the same ones (datatrove draws from one RNG stream).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import xxhash
from pydantic import Field

from ..document import Document
from ..errors import DataforgeError
from ..paths import AbsolutePath
from ..stage import AnyParams, Filter, FilterParams, TaskContext

# datatrove _BADWORDS_ALLOWLIST: "each filter >10% of documents of their language when disallowed"
ALLOWLIST = frozenset({"sm", "グロ", "女の子", "性"})
# datatrove: "For Japanese, Thai, and Chinese, do not require word separations"
UNSPACED = frozenset({"ja", "th", "zh"})


class MissingLanguageError(DataforgeError):
    """A document's language has no list and ``fail_on_missing_language`` is on: the run stops."""


class BadWordsParams(FilterParams):
    # datatrove C4BadWordsFilter.keep_fraction: share of pages with bad words kept anyway
    keep_fraction: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    # datatrove: fail_on_missing_language=True (a document in a language with no list is
    # an error); false = keep it and count it as missing_lang.<lang>
    fail_on_missing_language: bool = True
    # datatrove: default_language="en", used when the document has no language
    default_language: str = "en"
    # where the document's language code is (our langid writes meta.lang; datatrove reads
    # metadata["language"])
    lang_field: str = "lang"
    # folder of per-language lists (the bundled LDNOOBW lists; relative to the working directory)
    lists: AbsolutePath = Field("data/badwords/ldnoobw", validate_default=True)
    # seed of the keep_fraction draw; null = the run's seed (a seed as the pipeline's: 0..2**63-1)
    seed: int | None = Field(None, ge=0, lt=1 << 63)


def list_languages(folder: str) -> list[str]:
    """Language codes with a list in ``folder`` (file names; LICENSE and dotfiles excluded)."""
    return sorted(f for f in os.listdir(folder) if not f.startswith(".") and f != "LICENSE"
                  and os.path.isfile(os.path.join(folder, f)))


def load_words(path: str | Path) -> list[str]:
    """A list file's entries: stripped, lowercased, non-empty, allow-list removed, sorted."""
    with open(path, encoding="utf-8") as fh:
        words = {line.strip().lower() for line in fh}
    return sorted(words - ALLOWLIST - {""})


def trie_pattern(words: list[str]) -> str:
    """One regex alternative that matches exactly the strings in ``words`` (as a trie)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}  # end of an entry

    def emit(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return "(?:" + body + ")?" if len(branches) > 1 or len(body) > 1 else body + "?"
        return body

    return emit(trie)


@lru_cache(maxsize=64)
def compiled(path: str, unspaced: bool) -> re.Pattern[str] | None:
    words = load_words(path)
    if not words:
        return None
    body = trie_pattern(words)
    return re.compile(body if unspaced else r"(?:\W|^)(?:" + body + r")(?:\W|$)")


def keep_anyway(seed: int, doc_id: str, fraction: float) -> bool:
    """Per-document draw: True for about ``fraction`` of ids, the same ones every run."""
    if fraction <= 0.0:
        return False
    u = xxhash.xxh3_64_intdigest(f"{seed}\x00{doc_id}".encode("utf-8", "surrogatepass")) / 2.0**64
    return u < fraction


class C4BadWords(Filter[BadWordsParams]):
    """Drop pages containing a word of their language's LDNOOBW list (reason ``badwords``)."""

    Params: ClassVar[type[BadWordsParams]] = BadWordsParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "badwords": ("a word of the document's language's LDNOOBW list occurs (`keep_fraction` of such documents are"
                     " kept anyway)"),
    }

    def __init__(self, params: BadWordsParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self.languages = set(list_languages(params.lists))
        self.seed = params.seed if params.seed is not None else ctx.run.seed

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        if not isinstance(params, BadWordsParams):
            return []
        if not os.path.isdir(params.lists):
            return [("lists", f"folder {params.lists!r} not found; "
                              "point it at a folder of per-language word lists such as data/badwords/ldnoobw")]
        langs = list_languages(params.lists)
        if params.default_language not in langs:
            return [("default_language", f"no list for {params.default_language!r} in {params.lists}; "
                                         f"lists exist for {', '.join(langs)}")]
        return []

    def match(self, doc: Document) -> tuple[str, str | None]:
        """(the document's language, the list entry found in it or None)."""
        lang = str(doc.meta.get(self.params.lang_field) or self.params.default_language)
        if lang not in self.languages:
            if self.params.fail_on_missing_language:
                raise MissingLanguageError(
                    f"{self.label}: document {doc.id!r}: no bad-words list for language {lang!r} "
                    f"(meta.{self.params.lang_field}) in {self.params.lists}; add a list file named {lang!r} "
                    "there, or set fail_on_missing_language: false to keep such documents")
            return lang, None
        pat = compiled(os.path.join(self.params.lists, lang), lang in UNSPACED)
        found = pat.search(doc.text.lower()) if pat is not None else None
        return lang, found.group(0).strip() if found else None

    def decision(self, doc: Document) -> tuple[str | None, str | None]:
        """(drop reason or None, matched entry or None); counts what it saw."""
        lang, word = self.match(doc)
        if lang not in self.languages:
            self.count(doc, f"missing_lang.{lang}")
        if word is None:
            return None, None
        self.count(doc, f"badwords.{lang}")
        if keep_anyway(self.seed, doc.id, self.params.keep_fraction):
            self.count(doc, "kept_with_badwords")
            return None, word
        return "badwords", word

    def reject(self, doc: Document) -> str | None:
        return self.decision(doc)[0]

    def keep(self, batch: list[Document]) -> Iterator[Document]:
        # as Filter.keep, with the matched entry as the sampled drop's value
        for doc in batch:
            reason, word = self.decision(doc)
            if reason is None:
                yield doc
            else:
                self.dropped(doc, reason, word)
