"""``data/README.md`` is the provenance of every bundled file: it names only files a fresh
clone has, and every file a fresh clone has is named (with its source and license)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def _table_rows() -> list[tuple[str, list[str]]]:
    """(row text, the paths or globs its first column names, relative to data/)."""
    rows = []
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ")[0]
        names = re.findall(r"`([^`]+)`", first)
        base = ""
        expanded = []
        for name in names:  # "a/b/x.jsonl, `y.parquet`": a bare name is in the previous one's folder
            if "/" in name.rstrip("/"):
                base = name.rstrip("/").rsplit("/", 1)[0] + "/"
                expanded.append(name)
            else:
                expanded.append(base + name)
        rows.append((line, expanded))
    return rows


def _matches(pattern: str) -> list[Path]:
    pattern = pattern.rstrip("/")
    hits = sorted(DATA.glob(pattern))
    files = []
    for h in hits:
        files += [p for p in h.rglob("*") if p.is_file()] if h.is_dir() else [h]
    return files


def test_every_file_the_readme_names_is_in_the_repository() -> None:
    rows = _table_rows()
    assert len(rows) >= 25
    for line, names in rows:
        assert names, line
        for name in names:
            assert _matches(name), f"data/README.md names {name!r}, which a clone does not have: {line[:120]}"


def test_every_bundled_file_is_named_with_its_source_and_license() -> None:
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=REPO, capture_output=True, text=True, check=True)
    files = {REPO / f for f in tracked.stdout.split()} - {DATA / "README.md"}
    assert len(files) > 50
    named: set[Path] = set()
    for line, names in _table_rows():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == 4 and all(cells), f"a row needs file, source, license and what it is: {line[:120]}"
        for name in names:
            named.update(_matches(name))
    missing = sorted(str(f.relative_to(REPO)) for f in files - named)
    assert not missing, f"bundled without a source and license row in data/README.md: {missing}"
