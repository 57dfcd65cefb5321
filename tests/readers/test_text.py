"""Plain-text reader: file, line and paragraph documents on the bundled books and wiki."""

from __future__ import annotations

import gzip
from pathlib import Path

from dataforge.readers.text import TextReader


def test_one_document_per_file_strips_the_bom(read, data_dir: Path) -> None:
    path = data_dir / "books/alice.txt"
    res = read(TextReader, path)
    assert len(res.docs) == 1 and res.skipped == {}
    doc = res.docs[0]
    assert doc.id == f"src/{path}:1" and doc.meta == {}
    assert doc.text.startswith("Project Gutenberg’s Alice’s Adventures in Wonderland")  # no U+FEFF
    assert "Down the Rabbit-Hole" in doc.text


def test_one_document_per_line(read, data_dir: Path) -> None:
    path = data_dir / "wiki/wiki_demo.txt"
    res = read(TextReader, path, split="line")
    assert len(res.docs) == 30 and res.skipped == {}
    assert res.docs[0].text.startswith("Anarchism is a political philosophy")
    assert res.docs[29].id == f"src/{path}:30"


def test_blank_lines_are_counted_as_empty_documents(read, data_dir: Path) -> None:
    res = read(TextReader, data_dir / "books/alice.txt", split="line")
    lines = (data_dir / "books/alice.txt").read_bytes().splitlines()
    blank = sum(1 for line in lines if not line.strip())
    assert res.skipped == {"empty_text": blank}
    assert len(res.docs) == len(lines) - blank


def test_paragraphs_start_at_their_first_line(read, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("\n\nFirst para\nstill first\n\n\n  \nSecond\n\nThird\n")
    res = read(TextReader, path, split="paragraph")
    assert [(d.id, d.text) for d in res.docs] == [
        (f"src/{path}:3", "First para\nstill first"),
        (f"src/{path}:8", "Second"),
        (f"src/{path}:10", "Third"),
    ]
    assert res.skipped == {}


def test_book_paragraphs(read, data_dir: Path) -> None:
    res = read(TextReader, data_dir / "books/pride-and-prejudice.txt", split="paragraph")
    assert len(res.docs) > 1000
    assert all(d.text and "\n\n" not in d.text for d in res.docs)


def test_invalid_utf8_skip_or_replace(read, tmp_path: Path) -> None:
    path = tmp_path / "u.txt"
    path.write_bytes(b"good line\nbad \xff line\nlast\n")
    res = read(TextReader, path, split="line")
    assert [d.text for d in res.docs] == ["good line", "last"]
    assert res.skipped == {"invalid_utf8": 1}
    res = read(TextReader, path, split="line", errors="replace")
    assert [d.text for d in res.docs] == ["good line", "bad \ufffd line", "last"]


def test_empty_file_is_counted(read, tmp_path: Path) -> None:
    path = tmp_path / "e.txt"
    path.write_text("  \n\n")
    assert read(TextReader, path).skipped == {"empty_text": 1}


def test_truncated_gzip_text(read, tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "wiki.txt.gz"
    raw = gzip.compress((data_dir / "wiki/wiki_demo.txt").read_bytes())
    path.write_bytes(raw[: len(raw) // 2])
    lines = read(TextReader, path, split="line")
    assert 0 < len(lines.docs) < 30 and lines.skipped == {"truncated_file": 1}
    whole = read(TextReader, path, split="file")  # a cut file is an incomplete document
    assert whole.docs == [] and whole.skipped == {"truncated_file": 1}


def test_a_too_large_document_is_skipped_in_every_mode(read, tmp_path: Path, caplog) -> None:
    path = tmp_path / "t.txt"
    path.write_text("small\n\n" + "y" * 5000 + "\nstill the same paragraph\n\nlast\n")
    assert read(TextReader, path, split="file", max_record_bytes=1000).skipped == {"record_too_large": 1}
    assert f"{path}: skipped: record_too_large" in caplog.text
    lines = read(TextReader, path, split="line", max_record_bytes=1000)
    assert [d.text for d in lines.docs] == ["small", "still the same paragraph", "last"]
    assert lines.skipped == {"record_too_large": 1, "empty_text": 2}
    paras = read(TextReader, path, split="paragraph", max_record_bytes=1000)
    assert [(d.id, d.text) for d in paras.docs] == [(f"src/{path}:1", "small"), (f"src/{path}:6", "last")]
    assert paras.skipped == {"record_too_large": 1}
