"""The fast extractor (the default) on real pages, its options, and hostile input.

Pages: data/html/zyte, seven pages of the Zyte article extraction benchmark with their
ground-truth article body (all from the half the rules were developed on).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dataforge.readers.extract import ExtractOptions, HtmlExtractor, extractor_kwargs
from dataforge.readers.extract_fast import extract_fast
from dataforge.readers.sandbox import run_extractor

ZYTE = Path(__file__).resolve().parents[2] / "data/html/zyte"


def zyte_page(prefix: str) -> tuple[str, str]:
    """(html, ground-truth articleBody) of the bundled page whose id starts with ``prefix``."""
    truth = json.loads((ZYTE / "ground-truth.json").read_text(encoding="utf-8"))
    (key,) = [k for k in truth if k.startswith(prefix)]
    return gzip.decompress((ZYTE / f"{key}.html.gz").read_bytes()).decode("utf-8"), truth[key]["articleBody"]


def extract(html: str, extractor: str = "fast") -> str:
    return run_extractor(html, **extractor_kwargs(ExtractOptions(extractor=extractor))) or ""


# page, article sentences that must stay (from its ground truth), boilerplate that must go
PAGES = [
    ("0dd135704572", ["Senator representing Yobe North", "The Nigerian Senate (@NGRSenate) October 9, 2018"],
     ["Click here to subscribe to The Paradigm Newsletter", "Share your thoughts"]),  # newsletter, comments
    ("232a43fb15ab", ["Following the 16-inch MacBook Pro", "The entry-level 13-inch MacBook Pro was last updated"],
     ["Top Rated Comments", "Rating: 36 Votes"]),  # a comment section
    ("3252222e61fe", ["O prof. Carlos Nadalim apresenta"],
     ["Deixe uma resposta", "O seu endereço de e-mail não será publicado"]),  # a Portuguese comment form
    ("3c5bf8db4272", ["The formation of galaxies is a complex dance", "Originally published on Live Science."],
     ["Related: The 15 Weirdest Galaxies in Our Universe", "(Image: © TNG Collaboration)"]),  # teasers, captions
    ("521118842884", ["Visitors who booked their tickets through KLOOK"],
     ["Want to join the discussion?", "Your email address will not be published."]),  # comment form
    ("57e2e98887a1", ["New York, NY – With content engagement migrating"],
     ["Share on facebook", "Share on linkedin"]),  # share bar
    ("7dfc3e359d7c", ["Bergeron chimed in"],
     ["SEAN SPICER ELIMINATED FROM 'DANCING WITH THE STARS'", "CLICK HERE TO GET THE FOX NEWS APP"]),  # related links
]


@pytest.mark.parametrize(("prefix", "kept", "dropped"), PAGES, ids=[p[0] for p in PAGES])
def test_real_pages_keep_the_article_and_lose_the_boilerplate(prefix: str, kept: list[str], dropped: list[str]) -> None:
    html, truth = zyte_page(prefix)
    fast, resiliparse = extract(html), extract(html, "resiliparse")
    for sentence in kept:
        assert sentence in truth and sentence in fast
    for line in dropped:
        assert line in resiliparse and line not in truth  # it is on the page, and not article text
        assert line not in fast


def test_the_warc_reader_and_the_stage_default_to_fast() -> None:
    from dataforge.readers.html import ExtractHtmlParams
    from dataforge.readers.warc import WarcParams

    assert ExtractOptions().extractor == WarcParams().extractor == ExtractHtmlParams().extractor == "fast"


def test_fast_runs_in_the_sandbox_child_with_its_options() -> None:
    html, _ = zyte_page("232a43fb15ab")
    child = HtmlExtractor(ExtractOptions())  # process isolation
    keep_comments = HtmlExtractor(ExtractOptions(drop_boilerplate=[], content_root=False))
    try:
        assert child.extract(html).text == extract(html)
        assert "Top Rated Comments" in (keep_comments.extract(html).text or "")
    finally:
        child.close()
        keep_comments.close()


def test_main_content_off_is_the_whole_page() -> None:
    html, _ = zyte_page("57e2e98887a1")
    full = run_extractor(html, **extractor_kwargs(ExtractOptions(main_content=False)))
    assert full is not None and "Share on facebook" in full


@pytest.mark.parametrize("options", [
    {"root_share": 0}, {"root_share": 1.5}, {"root_share": float("nan")}, {"max_link_density": -0.1},
    {"max_link_density": float("inf")}, {"min_paragraph_chars": 0}, {"drop_boilerplate": ["ads"]},
    {"extractor": "readability"},
])
def test_options_are_range_checked(options: dict) -> None:
    with pytest.raises(ValueError):
        ExtractOptions(**options)


def test_options_at_their_limits_work() -> None:
    html, _ = zyte_page("0dd135704572")
    for options in ({"root_share": 1.0}, {"max_link_density": 0.0}, {"max_link_density": 1.0},
                    {"min_paragraph_chars": 100_000}, {"drop_boilerplate": []}):
        assert "Senator representing Yobe North" in extract_fast(
            html, **extractor_kwargs(ExtractOptions(**options))["fast"], main_content=True)


@pytest.mark.parametrize("html", [
    "", "plain text, no tags", "<html></html>", "<html><body></body></html>", "<p>" * 5000,
    "<div class='comments'>" * 2000 + "deep" + "</div>" * 2000,
    "<html><body><p>" + "\x02dataforge:root\x02 spelled by the page, long enough to count." * 3 + "</p></body></html>",
    '<div class="a\'b" id=\'x"y\'><p>odd quotes in attribute values, long enough to count.</p></div>',
    "<div class='" + "x " * 20_000 + "comments'><p>twenty thousand classes on one element, long enough.</p></div>",
])
def test_hostile_pages_give_a_string_and_no_error(html: str) -> None:
    out = extract(html)
    assert isinstance(out, str)
    assert "\x03dataforge:root\x03" not in out  # the root markers never leak


def test_the_root_markers_do_not_leak_when_the_page_spells_them() -> None:
    body = "The council approved the new budget after a long debate about schools and roads. " * 4
    html = f"<html><body><div><p>{body}</p><p>\x02dataforge:root\x02 {body}</p></div></body></html>"
    out = extract(html)
    assert body.strip() in out and "dataforge:root" not in out
