"""The report of a real run of the bundled pipeline, opened in headless Chromium.

Skipped, with the reason, when no Chromium is installed (`.ci/run` installs Debian's
`chromium`, so CI runs these)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main

from .chromium import Chromium, find_chromium
from .conftest import HOSTILE_ID, PAYLOADS
from tests.helpers import stats_counts

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium, "
                                "or set DATAFORGE_CHROMIUM); .ci/run installs it")

NO_HANDLERS = ("[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
               ".filter(n => n.startsWith('on')).length")


@pytest.fixture(scope="module")
def report(bundled_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("report") / "report.html"
    r = CliRunner().invoke(main, ["report", str(bundled_run), "-o", str(target)])
    assert r.exit_code == 0, r.output
    return target


@pytest.fixture()
def browser() -> Chromium:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM) as c:
        yield c


def test_report_renders_the_funnel_without_errors_and_runs_no_planted_script(
        report: Path, bundled_run: Path, browser: Chromium) -> None:
    browser.open(report.as_uri())
    assert browser.errors() == []
    assert browser.evaluate("document.title").startswith("dataforge report: pretrain_mix")
    # the funnel rendered: its charts have bars with real size, its table has the run's numbers
    bars = browser.evaluate("[...document.querySelectorAll('#funnel svg.chart rect')]"
                            ".filter(r => r.getBoundingClientRect().width > 0).length")
    assert bars > 20
    height = browser.evaluate("document.querySelector('#funnel').getBoundingClientRect().height")
    assert height > 400
    stats = stats_counts(bundled_run)
    read_total = sum(v["docs_out"] for k, v in stats["read"].items() if k != "*")
    first_row = browser.evaluate("[...document.querySelectorAll('#funnel table tbody tr')][0].innerText")
    assert first_row.startswith("read") and f"{read_total:,}" in first_row
    # the hostile documents are text on the page, and nothing in them ran
    browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = browser.evaluate("document.body.innerText")
    for payload in PAYLOADS:
        assert payload in text
    assert HOSTILE_ID in text
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('script, iframe, img, object, embed').length") == 0
    assert browser.evaluate(NO_HANDLERS) == 0
    assert browser.evaluate("document.title") != "PWNED"
    assert browser.errors() == []


def test_the_browser_check_does_catch_an_unescaped_script(report: Path, tmp_path: Path, browser: Chromium) -> None:
    """The checks above can fail: a page with a raw <script> runs it without our CSP, and
    with it the browser refuses it and reports the violation."""
    page = report.read_text(encoding="utf-8")
    injected = page.replace("</main>", "<script>window.__pwned = 'raw'</script></main>", 1)
    no_csp = tmp_path / "no_csp.html"
    no_csp.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", injected), encoding="utf-8")
    browser.open(no_csp.as_uri())
    assert browser.evaluate("typeof window.__pwned") == "string"
    with_csp = tmp_path / "with_csp.html"
    with_csp.write_text(injected, encoding="utf-8")
    browser.open(with_csp.as_uri())
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert any("Content Security Policy" in e for e in browser.errors())


def test_screenshot_of_the_report(report: Path, tmp_path: Path, browser: Chromium) -> None:
    """A PNG of the rendered page (docs/report.png is made this way: see benchmarks/report_screenshot.py)."""
    browser.open(report.as_uri())
    shot = tmp_path / "report.png"
    browser.screenshot(shot, height=1200)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_new_sections_render(report: Path, browser: Chromium) -> None:
    """Contamination, the per-language funnel and the rejected values are laid out and
    visible; the planted control characters show as U+FFFD, not as controls."""
    browser.open(report.as_uri())
    for sid in ("contamination", "languages", "rejected"):
        height = browser.evaluate(f"document.querySelector('#{sid}').getBoundingClientRect().height")
        assert height > 100, sid
    row = browser.evaluate("[...document.querySelectorAll('#contamination table tbody tr')][0].innerText")
    assert row.startswith("arc_challenge") and "1 (1)" in row
    values = browser.evaluate("[...document.querySelectorAll('#rejected .tag.value')].length")
    assert values > 0
    browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = browser.evaluate("document.body.innerText")
    assert "\ufffd" in text and not any(c in text for c in "\x9b\x9d\u202e\u2066")
    assert browser.errors() == []
