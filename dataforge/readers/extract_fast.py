"""The ``fast`` extractor: resiliparse's main-content pass plus dataforge's boilerplate rules.

One page, in this order (each step a rule of :mod:`.extract_rules`, applied here):

1. scan the source for class/id values that name boilerplate (comments, related, ...);
2. parse (resiliparse, lexbor); mark the headline (first ``<h1>``) and its ancestors,
   which no name may drop; choose the content root and put a marker text at its start
   and end;
3. mark link-dense blocks inside the root;
4. clear the class of ``<blockquote>`` elements: quoted text and embedded posts
   (``<blockquote class="twitter-tweet">``, Twitter's documented embed markup) are part of
   the article, but resiliparse's social-media class rule would drop them;
5. ``extract_plain_text`` of the whole page with the rest skipped by CSS selector, inside
   resiliparse's C++ walk: boilerplate names, link-dense blocks, captions, images' alt
   texts and SVG labels, with resiliparse's own comment and post-meta rules on;
6. the text between the root's markers, or, if that is under :data:`MIN_ROOT_TEXT` of the
   whole page's text, the whole page's.

Marks are attributes set on the parsed tree (never on the input); selectors that name them
run in C, so the Python side touches only paragraphs, links and their ancestors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import CSSParserException, HTMLTree

from . import extract_rules as rules

log = logging.getLogger(__name__)

_KEEP = "data-dataforge-keep"  # the headline and its ancestors: no name drops them
_LINKS = "data-dataforge-links"  # link-dense blocks
#: text nodes put at the start and end of the content root: one extraction of the whole
#: page gives both the root's text (between them) and the whole page's (without them)
_ROOT_START, _ROOT_END = "\x02dataforge:root\x02", "\x03dataforge:root\x03"
#: the root's text must be at least this share of the whole page's (same rules, no root):
#: ours; every page of the benchmark's development half clears 0.5, an FAQ whose answers
#: are <div>s (commoncrawl.org/faq, data/warc/dolma-wget.warc.gz) gets 0.08
MIN_ROOT_TEXT = 0.25
#: skipped by HTML semantics: a figure's caption is not body text (schema.org keeps
#: ``caption`` apart from ``articleBody``), nor an image's alt text or an SVG's labels.
#: <figure> itself may hold a code listing or a table, and <h1>/<header> hold a landing
#: page's own text: those stay. (resiliparse's alt_texts=False would skip whole figures.)
SEMANTIC_SKIP = ("figcaption", "img", "area", "svg")


def extract_fast(
    html: str,
    *,
    main_content: bool,
    drop: Sequence[str],
    content_root: bool,
    root_share: float,
    min_paragraph_chars: int,
    max_link_density: float,
) -> str:
    """Plain text of the page's article body ('' if none).

    The options are ``ExtractOptions``' (defaults and their sources there); build them
    with :func:`.extract.extractor_kwargs`. ``main_content=False`` is resiliparse's
    full-page text (no rules), as for the ``resiliparse`` extractor.
    """
    if not main_content:
        return extract_plain_text(html, main_content=False)
    groups = tuple(sorted(set(drop)))
    flagged = rules.scan_attributes(html, rules.vocabulary(groups)) if groups else {}
    tree = HTMLTree.parse(html)
    body = tree.body
    if body is None:
        return ""
    skip = list(SEMANTIC_SKIP)
    headline = rules.headline_path(body) if any(flagged.values()) else []
    for node in headline:
        node.setattr(_KEEP, "")
    # held until the link-density pass: links inside paragraphs then find their parent's
    # Python object made already (resiliparse makes one per node, a few microseconds each)
    paragraphs = body.get_elements_by_tag_name("p").values() if content_root or max_link_density < 1.0 else []
    root = None
    if content_root:
        found = rules.content_root(
            paragraphs, flagged, share=root_share, min_chars=min_paragraph_chars, protected=frozenset(headline)
        )
        # the body itself is no root (an `if root is body` would make mypy forget body is not None)
        root = None if found is body else found
    if root is not None:
        root.prepend(tree.create_text_node(_ROOT_START))
        root.append_child(tree.create_text_node(_ROOT_END))
    if max_link_density < 1.0:
        for block in rules.link_dense_blocks(root or body, max_density=max_link_density):
            block.setattr(_LINKS, "")
        skip.append(f"[{_LINKS}]")
    for quote in body.get_elements_by_tag_name("blockquote").values():
        if quote.hasattr("class"):
            quote.delattr("class")
    named = rules.boilerplate_selectors(flagged, protected=f":not([{_KEEP}])")
    options = dict(main_content=True, comments="comments" not in groups, post_meta=False)
    try:
        text = extract_plain_text(tree, skip_elements=skip + named, **options)
    except CSSParserException as exc:  # a class/id value lexbor will not take after all
        log.debug("class/id selectors rejected (%s); extracting without them", exc)
        text = extract_plain_text(tree, skip_elements=skip, **options)
    return _root_text(text) if root is not None else text


def _root_text(text: str) -> str:
    """The text between the root's markers, unless it is under MIN_ROOT_TEXT of the whole.

    Then the paragraphs misled (the page's text is mostly outside <p>: an FAQ of <div>s),
    or the root itself was hidden or skipped: the whole page's text, markers removed.
    """
    start, end = text.find(_ROOT_START), text.rfind(_ROOT_END)
    whole = text.replace(_ROOT_START, "").replace(_ROOT_END, "")
    if start < 0 or end < start or text.count(_ROOT_START) != 1 or text.count(_ROOT_END) != 1:
        return whole  # a marker was skipped with the root (or the page spells one itself)
    inner = text[start + len(_ROOT_START):end].strip()
    return inner if len(inner) >= MIN_ROOT_TEXT * len(whole.strip()) else whole
