"""Boilerplate rules of the ``fast`` extractor: small pure functions over one HTML page.

resiliparse's main-content pass (DCLM's extractor) keeps comment sections, related-article
teasers, newsletter boxes, share bars, author boxes and image captions. These rules remove
them before resiliparse writes the text (see :mod:`.extract_fast`); each is grounded in HTML
semantics or in published boilerplate-removal practice, not in one site's markup:

1. **Class/id vocabulary.** An element whose ``class`` or ``id`` names a boilerplate role
   (``comments``, ``related-posts``, ``newsletter-signup``, ``share-bar``, ``author-bio``...)
   is dropped. The words are those of Mozilla Readability's ``unlikelyCandidates`` and
   ``negative`` patterns and trafilatura's discard XPaths (``xpaths.py``: comments, share,
   social, newsletter, cookie, tags, author, related, most-popular, teaser, caption). Names
   are split into words (``relatedPosts`` -> related, posts) and matched as whole words, so
   ``commentary`` or ``shared-content`` are not comments or shares. Guards: a name that
   states a state (``has-comments``, ``comments-open``, ``enable-lightbox``: WordPress
   and themes put these on ``<body>`` and containers) does not count; an element that
   also carries a content name (``entry-content entry-content-read-more``) is kept
   (Readability's ``okMaybeItsACandidate``); ``html``/``body``/``main``, the headline
   (first ``<h1>``) and its ancestors, and the content root and its ancestors are never
   dropped.
2. **Content root** (after Readability's paragraph scoring, Arc90 2009): the deepest
   element holding at least ``root_share`` of the page's paragraph text (``<p>`` of at
   least ``min_paragraph_chars``, outside flagged boilerplate) is the article; everything
   outside it (sidebars, teasers, footers) is dropped.
3. **Link density** (Kohlschütter et al. 2010, "Boilerplate detection using shallow text
   features": link density is the strongest single feature; jusText classifies by it too):
   a text block (``p``, ``li``, ``h2``-``h6``, ``dd``, ``dt``) whose text is mostly anchor
   text is a link list or teaser ("READ MORE: ...", "More in Sports").

Functions here only read the page (or return selectors); :mod:`.extract_fast` applies them.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

BoilerplateGroup = Literal[
    "comments", "related", "newsletter", "share", "author_bio", "promo", "cookie",
    "navigation", "tags", "screen_reader", "gallery", "caption",
]
ALL_GROUPS: tuple[BoilerplateGroup, ...] = get_args(BoilerplateGroup)

#: words per group, as class/id names spell them (lower case; a hyphen joins the parts of a
#: compound, which also matches it written as one word, with "_" or in camelCase)
VOCABULARY: Mapping[str, tuple[str, ...]] = {
    # Readability unlikelyCandidates (comment, disqus, replies), trafilatura COMMENTS_XPATH
    "comments": ("comment", "comments", "commenting", "disqus", "respond", "replies"),
    # Readability (related), trafilatura (related, next-, -stories, most-popular, teaser)
    "related": (
        "related", "recommended", "recommendations", "recirc", "recirculation", "trending",
        "popular", "most-read", "most-popular", "read-more", "read-next", "more-stories",
        "more-articles", "also-read", "you-may-also-like", "recent-posts", "teaser", "teasers",
    ),
    # trafilatura (newsletter, syndication)
    "newsletter": ("newsletter", "newsletters", "subscribe", "subscription", "sign-up", "opt-in", "mailing-list"),
    # Readability (share, social), trafilatura (^shar, social, sociable)
    "share": ("share", "sharing", "share-bar", "social", "social-media", "share-this", "add-this", "shareaholic"),
    # trafilatura (author); compounds only: a bare "author" is often the byline inside the body
    "author_bio": ("author-bio", "about-author", "about-the-author", "author-box", "author-card", "author-profile"),
    # Readability (promo, sponsor); content-recommendation networks by name
    "promo": ("promo", "promos", "promoted", "sponsored", "sponsor", "outbrain", "taboola", "zergnet"),
    # trafilatura (cookie); consent managers
    "cookie": ("cookie", "cookies", "consent", "gdpr"),
    # Readability (breadcrumbs, pagination, pager)
    "navigation": ("breadcrumb", "breadcrumbs", "pagination", "pager"),
    # trafilatura (tags, tag-list); not the singular "tag": WordPress marks articles tag-<slug>
    "tags": ("tags", "tag-list"),
    # Bootstrap sr-only / visually-hidden, WordPress screen-reader-text: text no reader sees
    "screen_reader": ("sr-only", "visually-hidden", "screen-reader", "screen-reader-text"),
    # resiliparse's own gallery/carousel rule, which misses slideshows nested in the body
    "gallery": ("gallery", "slideshow", "carousel", "lightbox"),
    # trafilatura (caption); schema.org articleBody excludes captions and photo credits
    "caption": ("caption", "captions", "credit", "credits"),
}
#: compounds are matched up to this many name parts
_MAX_PARTS = max(word.count("-") + 1 for words in VOCABULARY.values() for word in words)

#: first/last name parts that make a name a state, not a role ("has-comments", "comments-open")
_STATE_FIRST = frozenset({"has", "no", "is", "with", "show", "hide"})
_STATE_LAST = frozenset({"open", "closed", "on", "off", "active", "count", "number"})
#: ... and parts that do so wherever they stand (a theme's "penci-enable-lightbox")
_STATE_ANY = frozenset({"enable", "enabled", "disable", "disabled", "allowed"})
#: a name made only of these parts is the article container ("entry-content", "article-body")
_CONTENT_PARTS = frozenset({"article", "entry", "post", "story", "content", "body", "text", "main", "blog", "single"})
#: never dropped by a name (resiliparse whitelists them too)
_NEVER_DROPPED = ":not(html):not(body):not(main)"

_NAME_PARTS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")
# quoted values (up to the next quote of either kind: a value holding the other quote is
# cut short and then matches no element); unquoted ones are rare in class/id: left alone
_ATTRIBUTE = {"class": re.compile(r"""class=["']([^"']*)"""), "id": re.compile(r"""id=["']([^"']*)""")}
#: values that can go into a CSS string as they are (no quotes, escapes, tabs or newlines)
_SELECTOR_SAFE = re.compile(r"^[\w -]+$")

#: text blocks for the link-density rule, and the links it charges to them
LINK_BLOCKS = frozenset({"p", "li", "h2", "h3", "h4", "h5", "h6", "dd", "dt"})
_BLOCK_LINKS = ", ".join(
    [f"{block} > a" for block in sorted(LINK_BLOCKS)]
    + [f"{block} > {inline} > a" for block in sorted(LINK_BLOCKS) for inline in ("b", "em", "span", "strong")]
)

Flagged = dict[tuple[str, str], str | None]


@dataclass(frozen=True)
class Vocabulary:
    """The words of the chosen groups, indexed for lookup."""

    groups: tuple[str, ...]
    index: Mapping[str, str]  # word -> group
    firsts: frozenset[str]  # the first part of every word
    hint: re.Pattern[str]  # a lower-cased value can match only if it contains one of these


@functools.lru_cache(maxsize=16)
def vocabulary(groups: tuple[str, ...]) -> Vocabulary:
    """The lookup for ``groups`` (names from :data:`ALL_GROUPS`); cached, it never changes."""
    index = {word.replace("-", ""): group for group in groups for word in VOCABULARY[group]}
    # a value can name a word only if it contains the word's first part; keep the shortest
    firsts = {word.split("-")[0] for group in groups for word in VOCABULARY[group]}
    needed = [w for w in firsts if not any(o != w and o in w for o in firsts)]
    hint = re.compile(trie_pattern(needed) if needed else r"(?!)")
    return Vocabulary(groups, index, frozenset(firsts), hint)


def trie_pattern(words: list[str]) -> str:
    """A regular expression matching any of ``words``, as a prefix tree: ``co(?:mment|okie)``.

    Python's ``re`` tries an alternation's branches one by one; sharing prefixes halves the
    cost of the vocabulary search.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word ends here; longer ones go on
            return f"(?:{group})?"
        return group

    return pattern(trie)


def name_parts(name: str) -> list[str]:
    """``"relatedPosts__list"`` -> ``["related", "posts", "list"]``."""
    return [part.lower() for part in _NAME_PARTS.split(name) if part]


def is_content_name(name: str) -> bool:
    """Does the name say "the article itself" (``entry-content``, ``articleBody``)?"""
    return _is_content(name_parts(name))


def _is_content(parts: list[str]) -> bool:
    return bool(parts) and all(part in _CONTENT_PARTS for part in parts)


def name_group(name: str, vocab: Vocabulary) -> str | None:
    """The boilerplate group a single class name or id names, if any.

    A word is a name part or adjacent parts joined (``read-more``, ``readMore`` ->
    ``readmore``), so ``comment-list``, ``relatedArticles`` and ``sr-only`` match while
    ``commentary`` and ``shared`` do not.
    """
    return _group(name_parts(name), vocab)


def _group(parts: list[str], vocab: Vocabulary) -> str | None:
    if not parts or parts[0] in _STATE_FIRST or parts[-1] in _STATE_LAST or not _STATE_ANY.isdisjoint(parts):
        return None
    index, firsts = vocab.index, vocab.firsts
    for i, part in enumerate(parts):
        if part not in firsts:
            continue
        for end in range(i + 1, min(i + _MAX_PARTS, len(parts)) + 1):
            joined = "".join(parts[i:end])
            if joined in index:
                return index[joined]
    return None


def attribute_group(kind: str, value: str, vocab: Vocabulary) -> str | None:
    """The group a ``class`` (several names) or ``id`` (one name) value flags, if any."""
    facts = [_name_facts(name, vocab.groups) for name in (value.split() if kind == "class" else [value.strip()])]
    if any(is_content for is_content, _ in facts):
        return None
    return next((group for _, group in facts if group is not None), None)


@functools.lru_cache(maxsize=1 << 16)
def _name_facts(name: str, groups: tuple[str, ...]) -> tuple[bool, str | None]:
    """(is a content name, group named): cached, since pages of one site (and of one
    framework: WordPress, Bootstrap) repeat their names."""
    parts = name_parts(name)
    return _is_content(parts), _group(parts, vocabulary(groups))


def clear_caches() -> None:
    """Forget the class names seen so far (benchmarks measure from a cold start)."""
    _name_facts.cache_clear()


def scan_attributes(html: str, vocab: Vocabulary) -> Flagged:
    """Every distinct class/id value of the page -> the group it flags (or None).

    Regular-expression passes over the source, much cheaper than visiting every element
    through the DOM from Python: the values are collected, joined and searched once for
    the vocabulary's words; only values with a hit are split into names. Values inside
    scripts are seen too; they can only name elements that carry the same value.
    """
    flagged: Flagged = {}
    start = max(html.find("<body"), 0)  # <head> holds no element the text comes from
    for kind, pattern in _ATTRIBUTE.items():
        flagged.update(dict.fromkeys([(kind, value) for value in pattern.findall(html, start)]))
    keys = list(flagged)
    starts, offset = [], 0
    for _, value in keys:
        starts.append(offset)
        offset += len(value) + 1
    joined = "\n".join(value for _, value in keys).lower()
    hits = {bisect.bisect_right(starts, match.start()) - 1 for match in vocab.hint.finditer(joined)}
    for i in hits:
        kind, value = keys[i]
        flagged[keys[i]] = attribute_group(kind, value, vocab)
    return flagged


def boilerplate_selectors(flagged: Flagged, *, protected: str = "") -> list[str]:
    """CSS selectors for the flagged values (exact value match), for resiliparse's skip list.

    ``protected`` is appended to each (``:not([data-keep])``: elements so marked are never
    selected). Values that cannot be written as a CSS string as they are are left out.
    The content root and its ancestors are never among the elements selected:
    :func:`content_root` counts no paragraph under a flagged element.
    """
    return [
        f'[{kind}="{value}"]{_NEVER_DROPPED}{protected}'
        for (kind, value), group in flagged.items()
        if group is not None and _SELECTOR_SAFE.match(value)
    ]


def ancestors(node: Any) -> list[Any]:
    """The element ancestors of ``node``, nearest first, up to ``<html>``."""
    out = []
    node = node.parent
    while node is not None and node.type == 1:  # 1: element node (the document ends it)
        out.append(node)
        node = node.parent
    return out


def headline_path(body: Any) -> list[Any]:
    """The page's first ``<h1>`` and its ancestors: never dropped by a name.

    A comment section, a teaser list or a share bar never holds the page's headline; an
    element that does is the article or wraps it, whatever its classes say (an article
    element with a ``url-breadcrumb`` hook class, a theme container with
    ``penci_sidebar``). Without this guard such a name empties the whole page.
    """
    headline = body.query_selector("h1")
    return [] if headline is None else [headline, *ancestors(headline)]


def is_flagged(element: Any, flagged: Flagged, protected: frozenset[Any] = frozenset()) -> bool:
    """Is this element named as boilerplate (by its exact class or id value)?"""
    if element.tag in ("html", "body", "main") or element in protected:
        return False
    cls, ident = element.getattr("class"), element.getattr("id")
    return bool((cls is not None and flagged.get(("class", cls))) or (ident is not None and flagged.get(("id", ident))))


def content_root(
    paragraphs: list[Any],
    flagged: Flagged,
    *,
    share: float,
    min_chars: int,
    protected: frozenset[Any] = frozenset(),
    max_steps: int = 50_000,
) -> Any | None:
    """The deepest element holding ``share`` of the page's paragraph text, or None.

    ``paragraphs``: the page's ``<p>`` elements; those of at least ``min_chars`` characters
    (Readability scores only paragraphs of 25+ characters) outside flagged boilerplate
    count (``protected`` elements never count as flagged: see :func:`headline_path`).
    Walking up from each paragraph's parent costs the depth of the tree; past
    ``max_steps`` parent steps (a pathologically nested page) no root is chosen and the
    page is extracted whole.
    """
    per_parent: dict[Any, int] = {}
    for p in paragraphs:
        n = len(p.text.strip())
        parent = p.parent
        if n >= min_chars and parent is not None:
            per_parent[parent] = per_parent.get(parent, 0) + n
    below: dict[Any, int] = {}  # element -> paragraph text inside it
    depth: dict[Any, int] = {}
    total = steps = 0
    for parent, n in per_parent.items():
        chain = []
        node = parent
        while node is not None and node.type == 1 and node.tag != "html":  # 1: element node
            chain.append(node)
            node = node.parent
        steps += len(chain)
        if steps > max_steps:
            return None
        if any(is_flagged(node, flagged, protected) for node in chain):
            continue
        total += n
        for level, node in enumerate(chain):
            below[node] = below.get(node, 0) + n
            depth[node] = len(chain) - level
    if total == 0:
        return None
    covering = [node for node, n in below.items() if n >= share * total]
    return max(covering, key=depth.__getitem__) if covering else None


def link_dense_blocks(scope: Any, *, max_density: float) -> list[Any]:
    """Text blocks in ``scope`` whose anchor text exceeds ``max_density`` of their text.

    Links are those right inside a block or inside one inline wrapper (``<li><a>``,
    ``<p><strong><a>``), found by one CSS query in C: Python touches only them.
    """
    link_chars: dict[Any, int] = {}
    for link in scope.query_selector_all(_BLOCK_LINKS).values():
        n = len(link.text.strip())
        block = link.parent
        if n and block is not None:
            if block.tag not in LINK_BLOCKS:
                block = block.parent
            link_chars[block] = link_chars.get(block, 0) + n
    dense = []
    for block, n in link_chars.items():
        chars = len(block.text.strip())
        if chars and n / chars > max_density:
            dense.append(block)
    return dense
