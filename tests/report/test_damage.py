"""`stats`, `inspect`, `report` and `why` on damaged copies of a real run.

Each damage class (truncated JSON; valid JSON of the wrong shape: a list, a string,
numbers as strings, missing keys; a shard that is not Arrow or not a shard; a tokenizer
that is not a tokenizer) of each file each command reads: exit 1 or 2 with the file
named and no traceback, or for `report` the page written with a warning in place of the
lost sections only. A file a command does not use costs it nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from dataforge.cli import main

Damage = Callable[[Path], str]  # damages a copy of the run; returns the damaged file's path (relative)


def _rewrite(rel: str, fn: Callable[[str], str]) -> Damage:
    def damage(out: Path) -> str:
        path = out / rel
        path.write_text(fn(path.read_text(encoding="utf-8")), encoding="utf-8")
        return rel
    return damage


def _json(rel: str, fn: Callable[[object], object]) -> Damage:
    return _rewrite(rel, lambda text: json.dumps(fn(json.loads(text))))


def _truncate(text: str) -> str:
    return text[: len(text) // 2]


def _numbers_as_strings(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: _numbers_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_strings(v) for v in value]
    return value


def _without(*path: str | int) -> Callable[[object], object]:
    def drop(data: object) -> object:
        node = data
        for key in path[:-1]:
            node = node[key]  # type: ignore[index]
        del node[path[-1]]  # type: ignore[attr-defined]
        return data
    return drop


def _tokenizer(text: str) -> Damage:
    """tokenizer.json replaced, and the manifest's sha256 made to match (so the damage is
    found by loading it, not by the checksum)."""
    def damage(out: Path) -> str:
        (out / "tokenizer.json").write_text(text)
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["tokenizer"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        (out / "manifest.json").write_text(json.dumps(manifest))
        return "tokenizer.json"
    return damage


def _shard_bytes(data: bytes) -> Damage:
    def damage(out: Path) -> str:
        (out / "shards" / "train-00000.arrow").write_bytes(data)
        return "shards/train-00000.arrow"
    return damage


def _arrow_not_a_shard(out: Path) -> str:
    """A readable Arrow IPC file with a shard's metadata but not its columns."""
    path = out / "shards" / "train-00000.arrow"
    meta = pa.ipc.open_file(pa.memory_map(str(path))).schema.metadata
    table = pa.table({"length": pa.array([1, 2], pa.int32())}).replace_schema_metadata(meta)
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    return "shards/train-00000.arrow"


def _more_rows_than_the_shard(out: Path) -> str:
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["rows"] += 1000
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest["shard_dir"] + "/" + manifest["shards"][0]["path"]


MANIFEST = {
    "truncated": _rewrite("manifest.json", _truncate),
    "list": _json("manifest.json", lambda d: [d]),
    "string": _json("manifest.json", lambda d: "manifest"),
    "numbers as strings": _json("manifest.json", _numbers_as_strings),
    "shard entry missing its path": _json("manifest.json", _without("shards", 0, "path")),
    "shards not a list": _json("manifest.json", lambda d: {**d, "shards": {"path": "x"}}),  # type: ignore[dict-item]
    "shard path outside the output": _json("manifest.json", lambda d: {**d, "shards": [  # type: ignore[dict-item]
        {**d["shards"][0], "path": "../../../etc/passwd"}]}),  # type: ignore[index]
}
STATS = {
    "truncated": _rewrite("stats.json", _truncate),
    "list": _json("stats.json", lambda d: [d]),
    "string": _json("stats.json", lambda d: "stats"),
    "numbers as strings": _json("stats.json", _numbers_as_strings),
    "missing counts": _json("stats.json", _without("counts")),
    "stage row missing its label": _json("stats.json", _without("stages", 1, "label")),
}
TOKENIZER = {
    "truncated": lambda out: _tokenizer(_truncate((out / "tokenizer.json").read_text()))(out),
    "not a tokenizer": _tokenizer(json.dumps({"version": "1.0", "model": {"type": "NotAModel"}})),
    "a list": _tokenizer("[1, 2, 3]"),
}
SHARD = {
    "not arrow": _shard_bytes(b"this is not an Arrow file, it is text"),
    "empty": _shard_bytes(b""),
    "arrow but not a shard": _arrow_not_a_shard,
    "fewer rows than the manifest says": _more_rows_than_the_shard,
}
LAST_RUN = {
    "truncated": _rewrite("logs/last_run.json", _truncate),
    "numbers as strings": _json("logs/last_run.json", _numbers_as_strings),
}


@pytest.fixture(scope="module")
def pristine(bundled_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "out"
    shutil.copytree(bundled_run, out, ignore=shutil.ignore_patterns("_work", "report.html", ".dataforge*"))
    return out


def _damaged(pristine: Path, tmp_path: Path, damage: Damage) -> tuple[Path, str]:
    out = tmp_path / "out"
    shutil.copytree(pristine, out)
    return out, str(out / damage(out))


def _cli(*args: str) -> Result:
    r = CliRunner().invoke(main, list(args))
    # a user error exits through sys.exit with its code; anything else would be a traceback
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def _fails_naming(r: Result, path: str) -> None:
    assert r.exit_code in (1, 2), r.output
    assert path in r.output and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) <= 2, r.output  # one message, not a dump


def _section(page: str, sid: str) -> str:
    return page.split(f'<section id="{sid}">')[1].split("</section>")[0]


@pytest.mark.parametrize("case", sorted(STATS))
def test_damaged_stats_json(case: str, pristine: Path, tmp_path: Path) -> None:
    out, path = _damaged(pristine, tmp_path, STATS[case])
    _fails_naming(_cli("stats", str(out)), path)
    _fails_naming(_cli("stats", str(out), "--json"), path)
    _fails_naming(_cli("why", str(out), "planted-german"), path)
    r = _cli("inspect", str(out), "--n", "1", "--json")  # inspect does not read stats.json
    assert r.exit_code == 0 and json.loads(r.output)["samples"]
    r = _cli("report", str(out))
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text(encoding="utf-8")
    for sid in ("funnel", "drops", "distributions", "languages"):
        assert "could not be read" in _section(page, sid) and "stats.json" in _section(page, sid)
    for sid in ("mixture", "shards", "config", "kept", "rejected"):  # what does not need stats.json is there
        assert "could not be" not in _section(page, sid)
    assert "Damaged files" in page


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_damaged_manifest(case: str, pristine: Path, tmp_path: Path) -> None:
    out, path = _damaged(pristine, tmp_path, MANIFEST[case])
    for args in (["inspect", str(out)], ["inspect", str(out), "--json"],
                 ["inspect", str(out / "shards" / "train-00000.arrow")]):
        _fails_naming(_cli(*args), path)
    # stats does not need a manifest: it warns, naming it, and prints everything else
    r = _cli("stats", str(out))
    assert r.exit_code == 0 and path in r.output and "ignored" in r.output and "mix + shards" in r.output
    r = _cli("why", str(out), "planted-german", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["verdict"] == "dropped"
    r = _cli("report", str(out))
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text(encoding="utf-8")
    for sid in ("mixture", "shards"):
        assert "could not be read" in _section(page, sid) and "manifest.json" in _section(page, sid)
    for sid in ("funnel", "drops", "distributions", "languages", "kept", "rejected", "dedup"):
        assert "could not be" not in _section(page, sid)


@pytest.mark.parametrize("case", sorted(TOKENIZER))
def test_damaged_tokenizer(case: str, pristine: Path, tmp_path: Path) -> None:
    out, path = _damaged(pristine, tmp_path, TOKENIZER[case])
    _fails_naming(_cli("inspect", str(out), "--n", "1"), path)
    _fails_naming(_cli("inspect", str(out), "--json"), path)
    assert _cli("stats", str(out)).exit_code == 0
    r = _cli("report", str(out))
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text(encoding="utf-8")
    shards = _section(page, "shards")
    assert "could not be built" in shards and "tokenizer.json" in shards and "not a tokenizer" in shards
    assert "could not be" not in _section(page, "funnel") + _section(page, "mixture")


@pytest.mark.parametrize("case", sorted(SHARD))
def test_damaged_shard(case: str, pristine: Path, tmp_path: Path) -> None:
    out, path = _damaged(pristine, tmp_path, SHARD[case])
    _fails_naming(_cli("inspect", str(out), "--n", "100000", "--split", "train"), path)  # every row: every shard
    _fails_naming(_cli("inspect", path), path)
    assert _cli("stats", str(out)).exit_code == 0
    page = _cli("report", str(out), "--rows", "100000") and (out / "report.html").read_text(encoding="utf-8")
    assert "could not be built" in _section(page, "shards") and path in _section(page, "shards")
    assert "could not be" not in _section(page, "funnel")


@pytest.mark.parametrize("case", sorted(LAST_RUN))
def test_damaged_run_summary(case: str, pristine: Path, tmp_path: Path) -> None:
    out, path = _damaged(pristine, tmp_path, LAST_RUN[case])
    r = _cli("stats", str(out))
    assert r.exit_code == 0 and path in r.output
    r = _cli("report", str(out))
    assert r.exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Damaged files" in page and "last_run.json" in page and "could not be" not in _section(page, "funnel")


def test_nothing_readable_is_one_error(tmp_path: Path) -> None:
    """A damaged stats.json and no usable manifest: nothing to report, one error naming both."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "stats.json").write_text('{"format": 2, "counts": {"read": {"web": {"docs_out": "7"}}}}')
    (out / "manifest.json").write_text("[]")
    r = _cli("report", str(out))
    _fails_naming(r, str(out / "stats.json"))
    assert "counts.read.web.docs_out: input should be a valid number (got \"7\")" in r.output
    assert "manifest.json: not a dataforge manifest: expected a JSON object, got a list" in r.output
    assert not (out / "report.html").exists()


def test_damaged_side_files_cost_their_lines(pristine: Path, tmp_path: Path) -> None:
    """Rejected samples, the contamination table and documents/ cut short or with bad
    lines: the report and `why` skip what is bad and say so."""
    out = tmp_path / "out"
    shutil.copytree(pristine, out)
    for f in sorted((out / "decontamination").rglob("*.jsonl")):
        f.write_text(f.read_text() + "not json\n" + json.dumps({"doc": 1, "benchmark": ["x"]}) + "\n")
    for f in sorted((out / "rejected").glob("*/*.jsonl")):
        f.write_text(f.read_text() + '{"id": "cut short", "text": "\n[1, 2]\n')
    docs = sorted((out / "documents").glob("*/*.zst"))[0]
    docs.write_bytes(docs.read_bytes()[:-20])
    r = _cli("report", str(out))
    assert r.exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "arc_challenge" in _section(page, "contamination") and "not contamination rows" in page
    assert "could not be" not in page
    r = _cli("why", str(out), "planted-contaminated")  # it reads documents/ too: the file cut short is named
    assert r.exit_code == 0 and "arc_challenge" in r.output and f"{docs}: cut short or corrupt" in r.output
    r = _cli("stats", str(out))
    assert r.exit_code == 0 and "arc_challenge" in r.output and "not contamination rows" in r.output
