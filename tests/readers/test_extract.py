"""HTML extraction: extractors, charset decoding, and the per-page time limit."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from dataforge.readers import extract as extract_mod
from dataforge.readers.extract import (
    ExtractOptions,
    ExtractTimeout,
    HtmlExtractor,
    decode_html,
    looks_like_html,
    time_limit,
)

PAGE = "<html><head><title>T</title></head><body><nav>Home | About</nav><article><h1>Heading</h1><p>" + (
    "A real paragraph of running text about the subject of this page. " * 5
) + "</p></article></body></html>"


def nested_divs(depth: int) -> str:
    """resiliparse's main-content pass is super-linear in nesting depth (20k: ~20 s here)."""
    return "<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body></html>"


def wide_table(rows: int = 200, cols: int = 200) -> str:
    """trafilatura needs ~7 s on this 720 KB table."""
    row = "<tr>" + "<td>cell text</td>" * cols + "</tr>"
    return "<html><body><table>" + row * rows + "</table></body></html>"


@pytest.mark.parametrize("extractor", ["fast", "resiliparse", "trafilatura"])
@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_extractors_return_text(extractor: str, isolation: str) -> None:
    ex = HtmlExtractor(ExtractOptions(extractor=extractor, isolation=isolation))
    try:
        result = ex.extract(PAGE)
    finally:
        ex.close()
    assert result.reason is None and "A real paragraph of running text" in result.text


@pytest.mark.parametrize("extractor", ["fast", "resiliparse"])
def test_main_content_option_changes_the_output(extractor: str) -> None:
    full = HtmlExtractor(ExtractOptions(extractor=extractor, main_content=False, isolation="inline")).extract(PAGE).text
    main = HtmlExtractor(ExtractOptions(extractor=extractor, main_content=True, isolation="inline")).extract(PAGE).text
    assert "Home | About" in full and "Home | About" not in main


def test_empty_page_is_a_reason_not_a_document() -> None:
    ex = HtmlExtractor(ExtractOptions(isolation="inline"))
    assert ex.extract("<html><body><script>var x = 1;</script></body></html>").reason == "empty_extraction"


def test_process_isolation_kills_a_stuck_page_and_recovers(tmp_path, monkeypatch) -> None:
    from tests.readers.test_html import never_ending_extractor  # the real child, stuck on one marked page

    never_ending_extractor(tmp_path, monkeypatch)
    ex = HtmlExtractor(ExtractOptions(extract_timeout=3.0))  # process isolation
    try:
        stuck = ex.extract("<html><body><p>a never-ending page</p></body></html>")
        assert stuck.text is None and stuck.reason == "extract_timeout"
        after = ex.extract(PAGE)  # a fresh child took over
        assert after.reason is None and "running text" in after.text
    finally:
        ex.close()


@pytest.mark.parametrize("extractor", ["fast", "resiliparse"])
def test_process_isolation_stops_a_pathological_page(extractor: str) -> None:
    """Real nesting that resiliparse's C++ pass needs ~20 s for: stopped at 1 s."""
    ex = HtmlExtractor(ExtractOptions(extractor=extractor, extract_timeout=1.0))
    try:
        slow = ex.extract(nested_divs(20_000))
        assert slow.text is None and slow.reason == "extract_timeout"
    finally:
        ex.close()


def test_inline_alarm_stops_trafilatura_on_a_real_slow_page() -> None:
    ex = HtmlExtractor(ExtractOptions(extractor="trafilatura", isolation="inline", extract_timeout=0.3))
    before = signal.getsignal(signal.SIGALRM)
    result = ex.extract(wide_table())
    assert result.reason == "extract_timeout"
    assert signal.getsignal(signal.SIGALRM) == before  # handler restored
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # timer disarmed


def test_inline_alarm_interrupts_python_code_that_never_returns(monkeypatch) -> None:
    def spin(html: str, **kw) -> str:
        while True:
            pass

    monkeypatch.setattr(extract_mod, "run_extractor", spin)
    result = HtmlExtractor(ExtractOptions(isolation="inline", extract_timeout=0.2)).extract(PAGE)
    assert result.reason == "extract_timeout"


def test_timeout_cannot_be_swallowed_by_except_exception() -> None:
    with pytest.raises(ExtractTimeout):
        with time_limit(0.05):
            try:
                while True:
                    pass
            except Exception:  # what a careless extractor does
                pytest.fail("ExtractTimeout must not be an Exception")


def test_off_the_main_thread_a_late_page_is_discarded(monkeypatch) -> None:
    import time as time_mod

    def slow(html: str, **kw) -> str:
        time_mod.sleep(0.3)
        return "text that came too late"

    monkeypatch.setattr(extract_mod, "run_extractor", slow)
    ex = HtmlExtractor(ExtractOptions(isolation="inline", extract_timeout=0.05))
    out = []
    worker = threading.Thread(target=lambda: out.append(ex.extract(PAGE)))
    worker.start()
    worker.join()
    assert out[0].reason == "extract_timeout" and out[0].text is None


def test_extractor_exception_is_counted_as_error(monkeypatch) -> None:
    def broken(html: str, **kw) -> str:
        raise ValueError("lxml said no")

    monkeypatch.setattr(extract_mod, "run_extractor", broken)
    result = HtmlExtractor(ExtractOptions(isolation="inline")).extract(PAGE)
    assert result.reason == "extract_error" and "lxml said no" in result.detail


def test_a_crashed_extractor_process_costs_one_page() -> None:
    ex = HtmlExtractor(ExtractOptions())
    try:
        assert ex.extract(PAGE).reason is None
        os.kill(ex._sandbox._proc.pid, signal.SIGKILL)  # what a segfault looks like from here
        crashed = ex.extract(PAGE)
        assert crashed.reason == "extract_crash" and "died" in crashed.detail
        assert ex.extract(PAGE).reason is None  # restarted
    finally:
        ex.close()


def test_close_stops_the_child() -> None:
    ex = HtmlExtractor(ExtractOptions())
    ex.extract(PAGE)
    proc = ex._sandbox._proc
    ex.close()
    assert proc.poll() is not None


def test_decode_html_trusts_a_declared_charset_only_when_it_fits() -> None:
    text = "Привет, мир"
    body = f"<html><body>{text}</body></html>".encode("cp1251")
    assert text in decode_html(body, "windows-1251")
    assert text in decode_html(body.decode("cp1251").encode("utf-8"), "windows-1251")  # wrong claim
    meta = f'<html><head><meta charset="windows-1251"></head><body>{text}</body></html>'.encode("cp1251")
    assert text in decode_html(meta, None)  # no header: the meta tag decides
    assert decode_html(b"<p>caf\xc3\xa9</p>", "no-such-charset") == "<p>café</p>"
    assert text in decode_html(f"<p>{text}</p>".encode("utf-16"), "utf-16")  # not ASCII-compatible


def test_looks_like_html() -> None:
    assert looks_like_html(b"  <!DOCTYPE html><html>")
    assert looks_like_html(b"<html lang=en>")
    assert not looks_like_html(b"%PDF-1.4 ...")
    assert not looks_like_html(b'{"json": true}')


def test_options_validate() -> None:
    with pytest.raises(ValueError):
        ExtractOptions(extract_timeout=0)
    with pytest.raises(ValueError):
        ExtractOptions(extractor="readability")
