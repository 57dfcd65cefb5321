"""URL rules: block lists of domains, sub-domains and exact URLs, and banned words.

The lists are plain text files, one entry per line (``#`` starts a comment), such as the
UT1 blacklist that RefinedWeb and FineWeb use (Penedo et al. 2023, section G.1), or
inline lists in the pipeline file. Option names follow datatrove's ``URLFilter``
(``extra_domains``, ``extra_urls``, ``banned_words``, ``banned_subwords``,
``soft_banned_words``, ``soft_word_threshold``); the UT1 list itself is not bundled
(datatrove downloads it) — point ``domain_files`` at your copy.

Rules, in order (each with its reason): ``no_url`` is *not* a drop (documents without
``meta[url_key]`` are kept and counted as ``no_url``); ``domain`` (the host is a listed
domain or one of its sub-domains), ``subdomain`` (the host is exactly a listed host),
``url`` (the normalised URL is listed), ``banned_word`` (a listed word is one of the
URL's words), ``banned_subword`` (a listed string occurs anywhere in the URL),
``soft_banned_words`` (at least ``soft_word_threshold`` soft-banned words occur).

CJK: host names are compared after IDNA-style lower-casing only, so a block list must
spell internationalised domains the way the URLs do (Unicode or ``xn--``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from ..document import Document
from ..paths import AbsolutePath
from ..stage import Filter, FilterParams, TaskContext

_URL_WORD = re.compile(r"[^\W_]+")


class UrlFilterParams(FilterParams):
    # the meta key holding the page URL (readers store WARC-Target-URI there)
    url_key: str = "url"
    # files of blocked domains, one per line; sub-domains of a listed domain match too (UT1 style)
    domain_files: list[AbsolutePath] = []
    # files of blocked host names, matched exactly
    subdomain_files: list[AbsolutePath] = []
    # files of blocked URLs, matched exactly after normalisation (scheme and "www." dropped)
    url_files: list[AbsolutePath] = []
    # inline additions (datatrove: extra_domains / extra_urls)
    extra_domains: list[str] = []
    extra_subdomains: list[str] = []
    extra_urls: list[str] = []
    # whole words of the URL that drop it (datatrove: banned_words, RefinedWeb's adult words)
    banned_words: list[str] = []
    # substrings of the URL that drop it (datatrove: banned_subwords)
    banned_subwords: list[str] = []
    # words that drop the URL only together (datatrove: soft_banned_words, soft_word_threshold=2)
    soft_banned_words: list[str] = []
    soft_word_threshold: int = Field(2, ge=1)  # 0 would drop every URL

    @field_validator("domain_files", "subdomain_files", "url_files")
    @classmethod
    def _files_exist(cls, paths: list[str]) -> list[str]:
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"block list file(s) not found: {', '.join(missing)}")
        return paths


@lru_cache(maxsize=32)
def read_list(path: str, mtime: float) -> frozenset[str]:
    """Lower-cased non-comment lines of a block-list file (cached per path and mtime)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return frozenset(
            line.strip().lower() for line in fh if line.strip() and not line.lstrip().startswith("#")
        )


def _load(paths: list[str], extra: list[str]) -> frozenset[str]:
    out = {e.strip().lower() for e in extra if e.strip()}
    for p in paths:
        out |= read_list(p, os.path.getmtime(p))
    return frozenset(out)


def host_of(url: str) -> str:
    """Lower-cased host name without port, userinfo or a trailing dot ('' if none)."""
    try:
        host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    except ValueError:  # malformed, e.g. an unclosed IPv6 bracket
        return ""
    return host.rstrip(".")


def normalise_url(url: str) -> str:
    """The URL compared against ``url_files``: lower-cased, without scheme, "www." and trailing "/"."""
    u = url.strip().lower()
    u = re.sub(r"^[a-z][a-z0-9+.-]*://", "", u)
    return u.removeprefix("www.").rstrip("/")


def domain_blocked(host: str, domains: frozenset[str]) -> bool:
    """Is ``host`` a listed domain or a sub-domain of one (``a.b.example.com`` under ``example.com``)?"""
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts)))


def url_reason(url: str, lists: "UrlLists", p: UrlFilterParams) -> str | None:
    """Why the URL's document is dropped, or None to keep it."""
    host = host_of(url)
    if host and lists.domains and domain_blocked(host, lists.domains):
        return "domain"
    if host and (host in lists.subdomains or host.removeprefix("www.") in lists.subdomains):
        return "subdomain"
    if lists.urls and normalise_url(url) in lists.urls:
        return "url"
    lower = url.lower()
    url_words = set(_URL_WORD.findall(lower))
    if url_words & lists.banned_words:
        return "banned_word"
    if any(sub in lower for sub in lists.banned_subwords):
        return "banned_subword"
    if lists.soft_words and len(url_words & lists.soft_words) >= p.soft_word_threshold:
        return "soft_banned_words"
    return None


class UrlLists:
    """The block lists of one stage, read once per task."""

    def __init__(self, p: UrlFilterParams) -> None:
        self.domains = _load(p.domain_files, p.extra_domains)
        self.subdomains = _load(p.subdomain_files, p.extra_subdomains)
        self.urls = frozenset(normalise_url(u) for u in _load(p.url_files, p.extra_urls))
        self.banned_words = frozenset(w.lower() for w in p.banned_words)
        self.banned_subwords = tuple(w.lower() for w in p.banned_subwords)
        self.soft_words = frozenset(w.lower() for w in p.soft_banned_words)


class UrlFilter(Filter[UrlFilterParams]):
    """Drop documents whose URL is on a block list or contains banned words."""

    Params: ClassVar[type[UrlFilterParams]] = UrlFilterParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "domain": "the URL's domain is on a `domain_files` list",
        "subdomain": "the URL's host is on a `subdomain_files` list",
        "url": "the URL itself is on a `url_files` list",
        "banned_word": "a word of the URL is a banned word",
        "banned_subword": "the URL contains a banned subword",
        "soft_banned_words": "the URL has `soft_word_threshold` or more soft-banned words",
    }
    def __init__(self, params: UrlFilterParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self.lists = UrlLists(params)

    def reject(self, doc: Document) -> str | None:
        url = doc.meta.get(self.params.url_key)
        if not isinstance(url, str) or not url:
            self.count(doc, "no_url")
            return None
        return url_reason(url, self.lists, self.params)
