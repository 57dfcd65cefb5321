"""A sweep of bad inputs through one real run: each is counted with a reason, named with its
file (and line or offset) in the run's log, and everything else comes through intact."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from dataforge.cli import main
from tests.helpers import stats_counts


def _warc_record(url: str, http: bytes) -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:{abs(hash(url)) % 10**12:012d}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n")
    return head.encode() + http + b"\r\n\r\n"


def make_inputs(root: Path, data_dir: Path) -> dict[str, str]:
    """Bad inputs made from the real bundled files; returns source name -> glob."""
    c4 = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    d = {name: root / name for name in ("gz", "warc", "enc", "pq", "jsonl", "big", "empty")}
    for p in d.values():
        p.mkdir(parents=True)
    blob = gzip.compress(b"".join(c4[:40]))
    (d["gz"] / "cut.jsonl.gz").write_bytes(blob[: len(blob) * 2 // 3])
    raw = gzip.decompress((data_dir / "warc" / "cc-excerpt.warc.gz").read_bytes())
    second = raw.index(b"WARC/1.0", 10)
    (d["warc"] / "corrupt.warc").write_bytes(raw[:second] + b"WARX/1.Q garbage\r\n" + raw[second + 8:])
    body = "<html><head><title>Caf\u00e9</title></head><body><p>Un caf\u00e9 cr\u00e8me, s'il vous pla\u00eet. " * 20
    latin1 = (body + "</p></body></html>").encode("latin-1")
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + latin1
    (d["enc"] / "wrong-charset.warc").write_bytes(_warc_record("http://example.com/cafe", http))
    table = pq.read_table(data_dir / "web" / "fineweb-sample.parquet")
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(range(len(table))))
    pq.write_table(table, d["pq"] / "int-text.parquet")  # a text column of the wrong type: skipped
    lines = c4[:30] + [b'{"text": "broken\n', b'{"text": "bad utf8 \xff\xfe here"}\n', b"[1, 2]\n", b"\n"]
    (d["jsonl"] / "mixed.jsonl").write_bytes(b"".join(lines))
    alice = (data_dir / "books" / "alice.txt").read_text(encoding="utf-8")
    with open(d["big"] / "fifty-mb.txt", "w", encoding="utf-8") as fh:
        for _ in range(50_000_000 // len(alice) + 1):
            fh.write(alice)
    for name in ("e.jsonl", "e.txt"):
        (d["empty"] / name).write_bytes(b"")
    return {k: str(v) for k, v in d.items()}


def test_bad_input_sweep(tmp_path: Path, data_dir: Path) -> None:
    inputs = make_inputs(tmp_path / "in", data_dir)
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
executor: {{workers: 2}}
inputs:
  gz: {{reader: jsonl, paths: "{inputs['gz']}/*"}}
  warc: {{reader: warc, paths: "{inputs['warc']}/*"}}
  enc: {{reader: warc, paths: "{inputs['enc']}/*"}}
  pq: {{reader: parquet, paths: "{inputs['pq']}/*"}}
  jsonl: {{reader: jsonl, paths: "{inputs['jsonl']}/*"}}
  big: {{reader: text, paths: "{inputs['big']}/*", split: file}}
  empty: {{reader: jsonl, paths: "{inputs['empty']}/e.jsonl"}}
  empty_text: {{reader: text, paths: "{inputs['empty']}/e.txt", split: line}}
  good: {{reader: jsonl, paths: {data_dir}/c4/olmo-c4-sample.01.jsonl.gz}}
stages:
  - write: {{format: jsonl}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    read = stats_counts(tmp_path / "out")["read"]
    names = ("gz", "warc", "enc", "pq", "jsonl", "big", "empty", "empty_text", "good")
    skipped = {s: {k: v for k, v in read.get(s, {}).items() if k.startswith("skipped.")} for s in names}
    ok = {s: read.get(s, {}).get("docs_out", 0) for s in names}
    assert ok["good"] == 10  # everything else intact
    assert skipped["gz"] and 0 < ok["gz"] < 40  # what came before the cut is kept
    assert skipped["warc"] and ok["warc"] >= 10  # the rest of the corrupt WARC is read
    assert ok["enc"] == 1  # decoded despite the wrong charset
    assert skipped["pq"] and ok["pq"] == 0
    assert ok["jsonl"] == 30 and sum(skipped["jsonl"].values()) == 3  # blank lines are not errors
    assert ok["big"] == 1 and read["big"]["bytes_out"] > 50_000_000
    assert ok["empty"] == ok["empty_text"] == 0
    log = next((tmp_path / "out" / "logs").glob("run-*.log")).read_text()
    assert f"{inputs['jsonl']}/mixed.jsonl:31: skipped" in log
    assert f"{inputs['warc']}/corrupt.warc:" in log and f"{inputs['pq']}/int-text.parquet" in log
    import zstandard

    kept = next((tmp_path / "out" / "documents" / "enc").iterdir()).read_bytes()
    text = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(kept).decode())["text"]
    assert "cr\u00e8me" in text  # latin-1 bytes under a utf-8 label still decode to the right text


def test_a_wrong_text_field_stops_the_run_with_the_fields_present(tmp_path: Path, data_dir: Path) -> None:
    """Not a bad record but a bad pipeline file: refused (exit 2) with 'did you mean'."""
    table = pq.read_table(data_dir / "web" / "fineweb-sample.parquet")
    pq.write_table(table.rename_columns(["txt" if c == "text" else c for c in table.column_names]),
                   tmp_path / "renamed.parquet")
    p = tmp_path / "p.yaml"
    p.write_text(f"output: {tmp_path / 'out'}\ninputs:\n  web: {{reader: parquet, paths: {tmp_path}/renamed.parquet}}\n"
                 "stages:\n  - write: {}\n")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2, r.output
    assert "text_field 'text'" in r.output and "did you mean 'txt'" in r.output
