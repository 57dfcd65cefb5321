"""URL rules, each with its reason, from block-list files and inline lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dataforge.filters.url import UrlFilterParams, domain_blocked, host_of, normalise_url
from tests.filters.util import GOOD, doc


@pytest.fixture
def lists(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "domains.txt").write_text("# UT1-style list\nbad-casino.com\nSpam.Example.org\n")
    (tmp_path / "hosts.txt").write_text("ads.news.example\n")
    (tmp_path / "urls.txt").write_text("https://www.blog.example/private/page/\n")
    return {k: str(tmp_path / f) for k, f in [("domains", "domains.txt"), ("hosts", "hosts.txt"), ("urls", "urls.txt")]}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://bad-casino.com/win", "domain"),
        ("http://www.eu.bad-casino.com:8080/", "domain"),  # sub-domain of a listed domain
        ("https://spam.example.org/x", "domain"),  # lists are case-insensitive
        ("https://ads.news.example/banner", "subdomain"),
        ("http://blog.example/private/page", "url"),  # scheme, www. and trailing / ignored
        ("https://shop.example/xxx-videos", "banned_word"),
        ("https://shop.example/freecasinobonus", "banned_subword"),
        ("https://shop.example/cheap-pills-online", "soft_banned_words"),
        ("https://news.example/politics/2024", None),
        ("https://not-bad-casino.com/", None),  # a different domain that merely ends the same way
        ("https://blog.example/private/page/2", None),
    ],
)
def test_url_reasons(make_stage, lists: dict[str, str], url: str, reason: str | None) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage(
        "url_filter", domain_files=[lists["domains"]], subdomain_files=[lists["hosts"]], url_files=[lists["urls"]],
        banned_words=["xxx"], banned_subwords=["freecasino"], soft_banned_words=["cheap", "pills", "online"],
    )
    assert stage.reject(doc(GOOD, url=url)) == reason


def test_inline_lists_and_documents_without_url(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("url_filter", extra_domains=["blocked.example"], url_key="source_url")
    assert stage.reject(doc(GOOD, source_url="https://x.blocked.example/a")) == "domain"
    assert stage.reject(doc(GOOD, url="https://x.blocked.example/a")) is None  # other key: no URL
    assert stage.ctx.stats.get("0:url_filter", "no_url") == 1


def test_missing_list_file_is_reported_at_validation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="block list file"):
        UrlFilterParams(domain_files=[str(tmp_path / "nope.txt")])


def test_helpers() -> None:
    assert host_of("HTTP://User@Www.Example.COM.:80/x") == "www.example.com"
    assert host_of("example.com/path") == "example.com"
    assert host_of("http://[::1") == ""  # malformed: no host, no exception
    assert normalise_url("https://www.a.example/b/") == "a.example/b"
    assert domain_blocked("a.b.example.com", frozenset({"example.com"}))
    assert not domain_blocked("example.com.evil", frozenset({"example.com"}))
