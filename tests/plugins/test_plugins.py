"""Third-party stages and readers by entry point: a small plugin package, built and
installed into a folder here, is listed by `dataforge stages`, validated like a built-in,
and runs in a pipeline that names it (and only names it: no import path in YAML)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from tests.helpers import stats_counts

PLUGIN = '''
"""A plugin for dataforge: a filter and a reader."""
from collections.abc import Iterator
from typing import ClassVar

from pydantic import Field

from dataforge.document import Document
from dataforge.readers.base import Reader, ReaderParams, Span
from dataforge.stage import Filter, FilterParams


class NoDigitsParams(FilterParams):
    max_digits: int = Field(0, ge=0)  # documents with more digits than this are dropped


class NoDigits(Filter[NoDigitsParams]):
    Params: ClassVar[type[NoDigitsParams]] = NoDigitsParams
    reasons: ClassVar[dict[str, str]] = {"too_many_digits": "more than `max_digits` digits"}

    def reject(self, doc: Document) -> str | None:
        return "too_many_digits" if sum(c.isdigit() for c in doc.text) > self.params.max_digits else None


class LinesParams(ReaderParams):
    prefix: str = ""


class Lines(Reader[LinesParams]):
    Params = LinesParams

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    yield Document(id=self.doc_id(path, i), text=self.params.prefix + line.strip(), source=self.source)
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dataforge-nodigits"
version = "0.1"

[project.entry-points."dataforge.stages"]
no_digits = "dataforge_nodigits:NoDigits"

[project.entry-points."dataforge.readers"]
plain_lines = "dataforge_nodigits:Lines"
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "dataforge_nodigits.py").write_text(textwrap.dedent(PLUGIN))
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(target), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"could not build the plugin package here: {r.stderr[-300:]}")
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))


def test_plugin_is_listed_validated_and_runs(installed: Path, tmp_path: Path, data_dir: Path) -> None:
    r = CliRunner().invoke(main, ["stages"])
    assert r.exit_code == 0, r.output
    line = next(line for line in r.output.splitlines() if "no_digits" in line)
    assert "dataforge-nodigits" in line and "max_digits=0" in line
    assert "plain_lines" in r.output
    one = CliRunner().invoke(main, ["stages", "no_digits"])  # explained like a built-in
    assert one.exit_code == 0 and "from dataforge-nodigits" in one.output
    assert "max_digits: int = 0" in one.output and "documents with more digits than this are dropped" in one.output
    assert "too_many_digits: more than `max_digits` digits" in one.output
    text = tmp_path / "in.txt"
    text.write_text("no digits here at all\nroom 101 on floor 3\nplain words again\n")
    p = tmp_path / "p.yaml"
    p.write_text(f"output: {tmp_path / 'out'}\ninputs:\n  t: {{reader: plain_lines, paths: {text}, prefix: '> '}}\n"
                 "stages:\n  - no_digits: {max_digitz: 1}\n  - write: {compression: none}\n")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2 and "stages[0].no_digits.max_digitz: unknown option 'max_digitz' (did you mean 'max_digits'?)" in r.output
    p.write_text(p.read_text().replace("max_digitz: 1", "max_digits: -1"))
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2 and "stages[0].no_digits.max_digits" in r.output
    p.write_text(p.read_text().replace("max_digits: -1", "max_digits: 1"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    stats = stats_counts(tmp_path / "out")
    assert stats["0:no_digits"]["t"]["dropped.too_many_digits"] == 1
    kept = [json.loads(line)["text"] for f in (tmp_path / "out" / "documents").rglob("*.jsonl") for line in f.open()]
    assert kept == ["> no digits here at all", "> plain words again"]
