"""The extract_html stage on documents whose text is raw HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.document import Document
from dataforge.readers import sandbox
from dataforge.readers.html import ExtractHtml
from dataforge.readers.warc import WarcReader
from dataforge.stage import RunInfo, TaskContext
from dataforge.stats import Stats


def make_stage(tmp_path: Path, **params) -> tuple[ExtractHtml, Stats]:
    stats = Stats()
    run = RunInfo(seed=1, output_dir=tmp_path / "out", work_dir=tmp_path / "work", sources=["web"])
    ctx = TaskContext(run=run, task_id="t0", label="0:extract_html", stats=stats,
                      task_dir=tmp_path / "task", publish_dir=tmp_path / "pub")
    return ExtractHtml(ExtractHtml.Params(**params), ctx), stats


def real_pages(data_dir: Path) -> list[tuple[str, str]]:
    """(url, raw HTML) of the Dolma wget crawl, via the WARC record iterator."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages = []
    for rec in ArchiveIterator(str(data_dir / "warc/dolma-wget.warc.gz"), record_types=WarcRecordType.response,
                               auto_decode="all"):
        pages.append((rec.headers.get("WARC-Target-URI"), rec.reader.read().decode("utf-8")))
    return pages


def test_html_documents_become_text(tmp_path: Path, data_dir: Path) -> None:
    pages = real_pages(data_dir)
    docs = [Document(id=f"p{i}", text=html, source="web", meta={"url": url}) for i, (url, html) in enumerate(pages)]
    docs.append(Document(id="empty", text="<html><body><script>x()</script></body></html>", source="web"))
    stage, stats = make_stage(tmp_path)
    out = list(stage.process(iter(docs)))
    stage.close()
    assert [d.id for d in out] == [f"p{i}" for i in range(len(pages))]
    assert "<" not in out[0].text[:200] and "Creative Commons" in out[0].text
    assert stats.to_dict()["0:extract_html"]["web"] == {"dropped.empty_extraction": 1}
    # the same text the warc reader extracts from the same records
    stats2 = Stats()
    from_warc = list(WarcReader(WarcReader.Params(), source="web", stats=stats2).read(str(data_dir / "warc/dolma-wget.warc.gz")))
    assert [d.text for d in out] == [d.text for d in from_warc]


def never_ending_extractor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the sandbox child extract with a function that never returns on a marked page.

    The real child process, pipe, time limit, kill and restart all run; only the page's
    cost no longer depends on how fast this machine is (a pathological page's does).
    """
    (tmp_path / "never_ending.py").write_text(
        "import time\n"
        "from dataforge.readers.sandbox import run_extractor\n"
        "def run(html, **options):\n"
        "    while 'never-ending page' in html:\n"
        "        time.sleep(60)\n"
        "    return run_extractor(html, **options)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the child's import path (after the repo)
    monkeypatch.setattr(sandbox, "EXTRACT_FUNCTION", "never_ending:run")


def test_timeouts_are_dropped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    never_ending_extractor(tmp_path, monkeypatch)
    docs = [Document(id="stuck", text="<html><body><p>a never-ending page</p></body></html>", source="web"),
            Document(id="ok", text="<html><body><p>Plain words here.</p></body></html>", source="web")]
    # the limit only has to be longer than a tiny page takes on a loaded machine
    stage, stats = make_stage(tmp_path, extract_timeout=3.0)
    out = list(stage.process(iter(docs)))
    stage.close()
    assert [d.id for d in out] == ["ok"]  # the killed child was replaced for the next page
    assert out[0].text == "Plain words here."
    assert stats.to_dict()["0:extract_html"]["web"] == {"dropped.extract_timeout": 1}


def test_trafilatura_option(tmp_path: Path, data_dir: Path) -> None:
    url, html = real_pages(data_dir)[0]
    stage, _ = make_stage(tmp_path, extractor="trafilatura", isolation="inline")
    out = list(stage.process(iter([Document(id="a", text=html, source="web")])))
    assert len(out) == 1 and "Creative Commons" in out[0].text
