"""HTML -> text, shared by the WARC reader and the ``extract_html`` stage.

Extractors: ``fast`` (default: resiliparse's main-content pass plus dataforge's boilerplate
rules, :mod:`.extract_fast`), ``resiliparse`` (its main-content pass alone, exactly as DCLM
uses it) and ``trafilatura``. One :class:`HtmlExtractor` per reader/stage instance. ``extract(html)`` returns an
:class:`Extraction`: the text, or the short reason it produced none (``empty_extraction``,
``extract_timeout``, ``extract_error``, ``extract_crash``), so callers count drops the
same way.

The time limit: with ``isolation: process`` (default) pages go to a child process that
is killed at the limit (see :mod:`.sandbox`). With ``isolation: inline`` the page is
extracted here under ``SIGALRM`` (``setitimer``, main thread only): the handler raises
:class:`ExtractTimeout` inside Python code (trafilatura's tree walks) at once, but a
long call inside a C extension only when it returns; off the main thread no signal
can be used, and a page that took too long is discarded after the fact.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

from ..stage import Params
from .extract_rules import ALL_GROUPS, BoilerplateGroup
from .sandbox import ExtractSandbox, SandboxCrash, SandboxTimeout, run_extractor

log = logging.getLogger(__name__)

Extractor = Literal["fast", "resiliparse", "trafilatura"]


class ExtractOptions(Params):
    """Extraction options, shared by the ``warc`` reader and the ``extract_html`` stage."""

    # fast: resiliparse + dataforge's boilerplate rules (extract_rules.py): F1 0.971 on the
    # Zyte article benchmark vs 0.898 for resiliparse alone and 0.964 for trafilatura, at
    # 5-6.6x trafilatura's speed (benchmarks/results/extract.md). resiliparse: C++, DCLM's
    # choice exactly (Li et al. 2024, "DataComp-LM", sec. 3.4). trafilatura: FineWeb's
    # (Penedo et al. 2024).
    extractor: Extractor = "fast"
    # keep the main content only (drop navigation, footers): resiliparse's
    # extract_plain_text(main_content=True), as DCLM uses it. False: all visible text
    # (fast and resiliparse alike; fast's rules are main-content rules).
    main_content: bool = True
    # seconds per document before the page is dropped as extract_timeout (a task must
    # not hang on one pathological page; datatrove's extractors use a per-doc timeout too).
    # At most an hour: a page that takes longer is a hang, and the timers take no larger value.
    extract_timeout: float = Field(default=10.0, gt=0, le=3600)
    # trafilatura only: prefer less text but correct (datatrove's Trafilatura default).
    favour_precision: bool = True
    # "process": extract in a child process that is killed at the time limit -- a hard
    # limit, also for C code, and an extractor crash costs one page (datatrove also
    # sandboxes its extractors in a subprocess). "inline": in this process under
    # SIGALRM -- a little cheaper, but a long C call (resiliparse on deeply nested
    # HTML) cannot be stopped.
    isolation: Literal["process", "inline"] = "process"
    # fast only: elements whose class/id names one of these roles are dropped (word lists
    # in extract_rules.VOCABULARY, from Readability's and trafilatura's boilerplate
    # patterns); [] drops none. Dropping "comments" also turns on resiliparse's own rule.
    drop_boilerplate: tuple[BoilerplateGroup, ...] = ALL_GROUPS
    # fast only: keep only the content root, the deepest element holding root_share of
    # the page's paragraph text (after Readability's paragraph scoring).
    content_root: bool = True
    # fast only: ours, chosen on the benchmark's development half (0.7 lost 2 points of
    # recall, 0.9 kept more sidebar text); 1.0 = the element holding all paragraphs.
    root_share: float = Field(default=0.8, gt=0, le=1)
    # fast only: shorter <p> do not count toward the root (Readability scores only
    # paragraphs of 25+ characters).
    min_paragraph_chars: int = Field(default=25, ge=1, le=100_000)
    # fast only: a block (p, li, h2-h6, dd, dt) whose anchor text is more than this share
    # of its text is dropped (link density: Kohlschuetter et al. 2010; jusText calls a block
    # with more than 0.2 bad). Ours is 0.8, blocks that are almost all links, chosen on the
    # development half (0.33 and 0.5 cost more recall than they gained). 1.0: off.
    max_link_density: float = Field(default=0.8, ge=0, le=1)


class ExtractTimeout(BaseException):
    """Raised by the alarm inside an extractor. A BaseException so that the
    extractor's own ``except Exception`` blocks cannot swallow it."""


@dataclass(frozen=True, slots=True)
class Extraction:
    """The outcome of one extraction: ``text`` or the ``reason`` there is none."""

    text: str | None
    reason: str | None = None
    detail: str = ""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise ExtractTimeout()


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise :class:`ExtractTimeout` in the body after ``seconds`` (main thread only).

    Yields whether the limit is enforced by a signal; when it is not, the caller
    checks the elapsed time itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        try:  # nested, so the handler is restored even if the alarm fires right here
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


def extractor_kwargs(options: ExtractOptions) -> dict[str, Any]:
    """Keyword arguments of :func:`.sandbox.run_extractor` for these options.

    JSON-serialisable: the sandbox child receives them as JSON.
    """
    kwargs: dict[str, Any] = {
        "extractor": options.extractor,
        "main_content": options.main_content,
        "favour_precision": options.favour_precision,
    }
    if options.extractor == "fast":
        kwargs["fast"] = {
            "drop": list(options.drop_boilerplate),
            "content_root": options.content_root,
            "root_share": options.root_share,
            "min_paragraph_chars": options.min_paragraph_chars,
            "max_link_density": options.max_link_density,
        }
    return kwargs


class HtmlExtractor:
    """Turns one HTML page (str) into plain text with the configured extractor."""

    def __init__(self, options: ExtractOptions) -> None:
        self.options = options
        self._kwargs = extractor_kwargs(options)
        self._sandbox = ExtractSandbox(self._kwargs) if options.isolation == "process" else None
        self._warned_no_signal = False

    def extract(self, html: str) -> Extraction:
        limit = self.options.extract_timeout
        start = time.monotonic()
        try:
            if self._sandbox is not None:
                text: str | None = self._sandbox.extract(html, limit)
            else:
                text = self._extract_inline(html, limit)
        except (ExtractTimeout, SandboxTimeout):
            return Extraction(None, "extract_timeout", f"over {limit:g} s")
        except SandboxCrash as exc:
            return Extraction(None, "extract_crash", str(exc))
        except Exception as exc:  # an extractor bug on one page must not end the task
            return Extraction(None, "extract_error", f"{type(exc).__name__}: {exc}")
        elapsed = time.monotonic() - start
        if elapsed > limit:  # a C call that returned late, or no signal available
            return Extraction(None, "extract_timeout", f"took {elapsed:.1f} s > {limit:g} s")
        text = (text or "").strip()
        if not text:
            return Extraction(None, "empty_extraction")
        return Extraction(text)

    def _extract_inline(self, html: str, limit: float) -> str | None:
        with time_limit(limit) as enforced:
            if not enforced and not self._warned_no_signal:
                log.warning("isolation 'inline' off the main thread: the %g s limit is checked "
                            "after each page, not enforced during it", limit)
                self._warned_no_signal = True
            return run_extractor(html, **self._kwargs)

    def close(self) -> None:
        """Stop the extractor process, if any (a new one starts on the next page)."""
        if self._sandbox is not None:
            self._sandbox.close()


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Bytes of an HTML page -> str.

    Valid UTF-8 is taken as UTF-8 whatever the server claims: a legacy single-byte
    charset "decodes" any bytes, so a wrong ``windows-1251`` header would otherwise
    turn a UTF-8 page into mojibake, while legacy text is almost never valid UTF-8 by
    chance. Otherwise the declared charset is used if the body decodes with it, else
    the charset is detected from the meta tag and content (resiliparse) and decoded
    leniently. Charsets that are not ASCII-compatible (UTF-16, ISO-2022) are tried
    first, since their bytes can pass as UTF-8.
    """
    name = _codec_name(declared)
    if name is not None and name.startswith(_NOT_ASCII_COMPATIBLE):
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(name)
    with contextlib.suppress(UnicodeDecodeError):
        return body.decode("utf-8")
    if name is not None:
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(name)
    detected = _codec_name(detect_encoding(body, from_html_meta=True)) or "utf-8"
    return bytes_to_str(body, detected)


#: Python codec names (prefixes) whose bytes can look like ASCII/UTF-8
_NOT_ASCII_COMPATIBLE = ("utf-16", "utf-32", "iso2022", "utf-7", "hz")


def _codec_name(charset: str | None) -> str | None:
    """A charset label (HTTP header, meta tag) as a Python codec name, or None."""
    if not charset:
        return None
    label = map_encoding_to_html5(charset.strip().strip("\"'"), fallback_utf8=False)
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def looks_like_html(head: bytes) -> bool:
    """Sniff an untyped payload: does its start look like an HTML document?"""
    start = head[:1024].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<!--")) or b"<html" in start
