"""The fast extractor's rules, one by one: each on a small inline page, both outcomes."""

from __future__ import annotations

import re

import pytest
from resiliparse.parse.html import HTMLTree

from dataforge.readers import extract_rules as rules
from dataforge.readers.extract import ExtractOptions, extractor_kwargs
from dataforge.readers.sandbox import run_extractor

BODY = "The council approved the new budget after a long debate about schools and roads. " * 4
VOCAB = rules.vocabulary(rules.ALL_GROUPS)


def fast(html: str, **options: object) -> str:
    return run_extractor(html, **extractor_kwargs(ExtractOptions(**options))) or ""


def resiliparse(html: str) -> str:
    return run_extractor(html, **extractor_kwargs(ExtractOptions(extractor="resiliparse"))) or ""


def page(extra: str, *, inside: str = "") -> str:
    """An article (``inside`` at its end) and ``extra`` after it, nested as real pages are:
    resiliparse applies some of its own rules only a few levels below <body>."""
    article = f"<article><h2>Budget</h2><p>{BODY}</p><p>{BODY}</p>{inside}</article>"
    return f"<html><body><div class='page'><div class='main-column'>{article}{extra}</div></div></body></html>"


# ---- names ------------------------------------------------------------------------------


def test_name_parts_split_separators_and_camel_case() -> None:
    assert rules.name_parts("relatedPosts__list") == ["related", "posts", "list"]
    assert rules.name_parts("sr-only") == ["sr", "only"]
    assert rules.name_parts("") == []


@pytest.mark.parametrize(("name", "group"), [
    ("comments", "comments"), ("comment-list", "comments"), ("disqus_thread", "comments"),
    ("relatedArticles", "related"), ("read-more-links", "related"), ("you-may-also-like", "related"),
    ("newsletter-signup", "newsletter"), ("SignUpBox", "newsletter"),
    ("share-bar", "share"), ("social_icons", "share"),
    ("author-bio", "author_bio"), ("aboutTheAuthor", "author_bio"),
    ("promo", "promo"), ("cookie-banner", "cookie"), ("breadcrumbs", "navigation"),
    ("post-tags", "tags"), ("sr-only", "screen_reader"), ("wp-caption-text", "caption"),
    ("slideshow", "gallery"),
])
def test_boilerplate_names_are_recognised(name: str, group: str) -> None:
    assert rules.name_group(name, VOCAB) == group


@pytest.mark.parametrize("name", [
    "commentary", "shared-content", "article-body", "author", "tag-news", "readable",
    "has-comments", "comments-open", "no-related", "is-sharing-active", "penci-enable-lightbox", "",
])
def test_other_names_are_not(name: str) -> None:
    """Whole words only (commentary, shared), no bare "author"/"tag-<slug>", and names that
    state a state (WordPress puts has-comments / comments-open on <body> and <article>)."""
    assert rules.name_group(name, VOCAB) is None


def test_a_content_name_beside_a_boilerplate_name_keeps_the_element() -> None:
    assert rules.attribute_group("class", "entry-content entry-content-read-more", VOCAB) is None
    assert rules.attribute_group("class", "box read-more", VOCAB) == "related"
    assert rules.attribute_group("id", "comments", VOCAB) == "comments"


def test_only_the_chosen_groups_count() -> None:
    comments_only = rules.vocabulary(("comments",))
    assert rules.name_group("comments", comments_only) == "comments"
    assert rules.name_group("share-bar", comments_only) is None
    assert rules.name_group("comments", rules.vocabulary(())) is None


def test_scan_finds_class_and_id_values_in_either_quote() -> None:
    html = """<div class='related-posts'></div><div id="comments"></div><div class="plain"></div>"""
    flagged = rules.scan_attributes(html, VOCAB)
    assert flagged[("class", "related-posts")] == "related"
    assert flagged[("id", "comments")] == "comments"
    assert flagged[("class", "plain")] is None


def test_selectors_leave_out_values_css_cannot_hold() -> None:
    flagged = {("class", 'share"]*{x'): "share", ("class", "share\nbar"): "share", ("class", "share-bar"): "share",
               ("class", "plain"): None}
    assert rules.boilerplate_selectors(flagged) == ['[class="share-bar"]:not(html):not(body):not(main)']


def test_trie_pattern_matches_exactly_the_words() -> None:
    pattern = re.compile(rules.trie_pattern(["comment", "cookie", "share", "sharing"]))
    assert pattern.findall("xcomment cook cookies sharing shar") == ["comment", "cookie", "sharing"]


# ---- the vocabulary rule on pages ---------------------------------------------------------


@pytest.mark.parametrize(("markup", "text"), [
    ('<div class="comments"><p>First! Great post, thanks for sharing this with us all.</p></div>', "First! Great post"),
    ('<section id="disqus_thread"><p>I disagree with everything written in this article.</p></section>', "I disagree"),
    ('<div class="recirc-module"><p>Roads to be repaired next spring, the mayor says in a letter.</p></div>',
     "Roads to be repaired"),
    ('<div class="optin-box"><p>Get our daily newsletter in your inbox every morning.</p></div>',
     "daily newsletter"),
    ('<div class="about-the-author"><p>Jane writes about local politics and has done for ten years.</p></div>',
     "Jane writes"),
])
def test_boilerplate_blocks_are_dropped_and_the_article_kept(markup: str, text: str) -> None:
    """Names resiliparse's own rules miss (it has some for "related", "newsletter"...)."""
    assert text in resiliparse(page(markup))  # resiliparse alone keeps it: the rule is what drops it
    out = fast(page(markup))
    assert text not in out and BODY.strip() in out


def test_words_inside_other_words_are_not_boilerplate() -> None:
    html = page('<div class="commentary"><p>Our commentary: the budget is a sensible compromise overall.</p></div>')
    assert "Our commentary" in fast(html, content_root=False)


def test_body_and_main_are_never_dropped_by_name() -> None:
    html = f'<html><body class="comments"><main class="share"><p>{BODY}</p></main></body></html>'
    assert BODY.strip() in fast(html)


def test_the_element_holding_the_headline_is_never_dropped_by_name() -> None:
    """A hook class on the article itself (a real page: <article class="... url-breadcrumb">)."""
    html = (f"<html><body><div class='page'><article class='article-well js-article url-breadcrumb'>"
            f"<h1>Budget passes</h1><p>{BODY}</p><p>{BODY}</p></article>"
            "<div class='breadcrumb'><p>Home / News / Politics / Budget, a trail of links.</p></div></div></body></html>")
    out = fast(html)
    assert BODY.strip() in out and "Budget passes" in out
    assert "a trail of links" not in out  # the same word elsewhere still drops
    tree = HTMLTree.parse(html)
    assert [node.tag for node in rules.headline_path(tree.body)] == ["h1", "article", "div", "body", "html"]
    assert rules.headline_path(HTMLTree.parse("<p>no headline</p>").body) == []


def test_dropping_nothing_keeps_the_comments() -> None:
    html = page('<div class="comments"><p>First! Great post, thanks for sharing this with us all.</p></div>')
    assert "First! Great post" in fast(html, drop_boilerplate=[], content_root=False)


# ---- the content root ---------------------------------------------------------------------


def sidebar_page() -> str:
    side = "<aside-box><div class='box'><p>Weather: sunny today with a light breeze from the west.</p></div></aside-box>"
    return f"<html><body><div class='col'>{side}</div><div class='col'><div><p>{BODY}</p><p>{BODY}</p></div></div></body></html>"


def test_text_outside_the_content_root_is_dropped() -> None:
    html = sidebar_page()
    assert "Weather: sunny" in fast(html, content_root=False)
    out = fast(html)
    assert "Weather: sunny" not in out and BODY.strip() in out


def test_the_root_is_the_element_holding_most_paragraph_text() -> None:
    tree = HTMLTree.parse(f"<html><body><div id='a'><div id='b'><p>{BODY}</p></div><div id='c'><p>{BODY}</p></div>"
                          f"</div><div id='d'><p>A short note that is long enough to count.</p></div></body></html>")
    paragraphs = tree.body.get_elements_by_tag_name("p").values()
    assert rules.content_root(paragraphs, {}, share=0.8, min_chars=25).id == "a"  # b and c are 50% each
    assert rules.content_root(paragraphs, {}, share=0.4, min_chars=25).id in ("b", "c")
    # too-short paragraphs do not count; with none left there is no root
    assert rules.content_root(paragraphs, {}, share=0.8, min_chars=10_000) is None


def test_paragraphs_under_boilerplate_do_not_pull_the_root() -> None:
    comments = "".join(f"<p>Comment {i}: {BODY}</p>" for i in range(5))
    tree = HTMLTree.parse(f"<html><body><div id='art'><p>{BODY}</p></div><div class='comments'>{comments}</div></body></html>")
    paragraphs = tree.body.get_elements_by_tag_name("p").values()
    flagged = rules.scan_attributes(tree.body.html, VOCAB)
    assert rules.content_root(paragraphs, flagged, share=0.8, min_chars=25).id == "art"
    assert rules.content_root(paragraphs, {}, share=0.8, min_chars=25).getattr("class") == "comments"


def test_a_root_with_little_of_the_page_text_falls_back_to_the_whole_page() -> None:
    """An FAQ whose answers are <div>s: one <p> holds all paragraph text but little text."""
    answers = "".join(f"<div class='qa'><div>Question {i}?</div><div>{BODY}</div></div>" for i in range(6))
    html = f"<html><body><div class='faq'>{answers}<div class='qa'><p>The one paragraph, long enough.</p></div></div></body></html>"
    out = fast(html)
    assert "Question 5?" in out and "The one paragraph" in out


def test_a_deeply_nested_page_gets_no_root() -> None:
    deep = "<div>" * 3000 + f"<p>{BODY}</p>" + "</div>" * 3000
    tree = HTMLTree.parse(f"<html><body>{deep}<p>{BODY}</p></body></html>")
    paragraphs = tree.body.get_elements_by_tag_name("p").values()
    assert rules.content_root(paragraphs, {}, share=0.8, min_chars=25, max_steps=1000) is None
    assert rules.content_root(paragraphs, {}, share=0.8, min_chars=25).tag == "body"


# ---- link density -------------------------------------------------------------------------


def test_link_lists_and_teasers_are_dropped() -> None:
    teaser = '<p><strong>READ MORE: </strong><a href="/x">Council approves another budget for the coming year</a></p>'
    inline = f'<p>{BODY[:120]} <a href="/y">the minutes</a> {BODY[:120]}</p>'
    html = f"<html><body><article><p>{BODY}</p>{teaser}{inline}<p>{BODY}</p></article></body></html>"
    out = fast(html)
    assert "Council approves another budget" not in out  # almost all link text
    assert "the minutes" in out  # a link inside running text stays
    assert "Council approves another budget" in fast(html, max_link_density=1.0)  # rule off


def test_link_dense_blocks_measures_anchor_share() -> None:
    tree = HTMLTree.parse('<html><body><ul><li><a href="/a">Only a link here</a></li>'
                          '<li>Mostly text with <a href="/b">a link</a> in it, much more text.</li></ul></body></html>')
    dense = rules.link_dense_blocks(tree.body, max_density=0.8)
    assert [block.text for block in dense] == ["Only a link here"]
    assert len(rules.link_dense_blocks(tree.body, max_density=0.0)) == 2


# ---- semantics: quotes and captions -------------------------------------------------------


def test_embedded_posts_in_blockquotes_are_kept() -> None:
    tweet = '<blockquote class="twitter-tweet"><p>We must apply a system of compassion to justice.</p></blockquote>'
    html = page("", inside=tweet)
    assert "system of compassion" not in resiliparse(html)  # its social-media class rule drops it
    assert "system of compassion" in fast(html)


def test_captions_are_dropped_but_figure_content_is_kept() -> None:
    figure = ("<figure><pre>total = roads + schools</pre><figcaption>The budget formula, as shown to the "
              "council on Monday.</figcaption></figure>")
    html = page("", inside=figure)
    out = fast(html)
    assert "total = roads + schools" in out and "The budget formula" not in out
    assert "The budget formula" in resiliparse(html)
