"""`dataforge why OUT ID`: where each document of a real run went, checked against the
run's own files (rejected/, dedup/clusters.parquet, decontamination/, documents/)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.report import samples as Sm
from dataforge.report.data import load_run
from dataforge.report.why import trace

from .conftest import CONTAMINATED_ID, CONTROL_ID, ENGLISH, GERMAN, NEAR_COPY_ID

C4_FILE = "data/c4/tiny_c4_sample.jsonl"


def _why(*args: str) -> dict:
    r = CliRunner().invoke(main, ["why", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _label(out: Path, name: str) -> str:
    return next(r["label"] for r in load_run(out).stats.stages if r["name"] == name)


def _folder(out: Path, name: str) -> str:
    return next(r["folder"] for r in load_run(out).stats.stages if r["name"] == name)


def _rejected(out: Path) -> list[tuple[str, dict]]:
    return [(f.parent.name, rec) for f in sorted((out / "rejected").glob("*/*.jsonl")) for rec in Sm.jsonl_records(f)]


def _written_ids(out: Path) -> set[str]:
    return {rec["id"] for f in Sm.doc_files(out / "documents") for rec in Sm.jsonl_records(f)}


def test_a_kept_document_is_found_in_documents(bundled_run: Path) -> None:
    doc_id = f"c4/{C4_FILE}:1"
    assert doc_id in _written_ids(bundled_run)
    t = _why(str(bundled_run), doc_id)
    assert t["verdict"] == "kept" and t["source"] == "c4"
    read = t["findings"][0]
    assert read["what"] == "read" and read["detail"] == {"file": C4_FILE, "line": 1}
    written = next(f for f in t["findings"] if f["what"] == "written")
    assert written["stage"] == _label(bundled_run, "write")
    assert written["evidence"].startswith("documents/c4/c4--tiny_c4_sample.jsonl-")
    assert doc_id in {r["id"] for r in Sm.jsonl_records(bundled_run / written["evidence"])}
    split = next(f for f in t["findings"] if f["what"] == "split")["detail"]["split"]
    assert split in ("train", "validation")
    assert any("epochs" in n for n in t["notes"])  # what the mix did with its source, said as not recorded


def test_a_document_with_its_own_id_is_located_in_its_input(bundled_run: Path) -> None:
    """A Parquet input with an id column: the file from the task, the row from a scan of it."""
    path = "data/web/fineweb-sample.parquet"
    ids = pq.read_table(Path(__file__).resolve().parents[2] / path, columns=["id"]).column("id").to_pylist()
    written = _written_ids(bundled_run)
    row = next(i for i, x in enumerate(ids) if x in written and i > 0)
    t = _why(str(bundled_run), ids[row])
    assert t["verdict"] == "kept" and t["source"] == "fineweb"
    assert t["findings"][0]["detail"] == {"file": path, "row": row}


def test_a_dropped_document_names_the_stage_reason_and_value(bundled_run: Path) -> None:
    folder, rec = next((f, r) for f, r in _rejected(bundled_run) if "value" in r and r["source"] == "c4")
    t = _why(str(bundled_run), rec["id"])
    label = load_run(bundled_run).stats.folder_label(folder)
    assert t["verdict"] == "dropped" and t["summary"].startswith(f"dropped by {label}: {rec['reason']} (value ")
    drop = next(f for f in t["findings"] if f["what"] == "dropped")
    assert drop["stage"] == label and drop["detail"]["value"] == rec["value"] and drop["detail"]["reason"] == rec["reason"]
    assert drop["evidence"] == f"rejected/{folder}/c4--tiny_c4_sample.jsonl-{drop['evidence'].split('-')[-1]}"
    r = CliRunner().invoke(main, ["why", str(bundled_run), rec["id"]])
    assert r.exit_code == 0 and f"value {rec['value']}" in r.output and label in r.output


def test_a_duplicate_names_the_document_kept(bundled_run: Path) -> None:
    clusters = pq.read_table(bundled_run / "dedup" / "clusters.parquet").to_pylist()
    cluster = next(c for c in clusters if NEAR_COPY_ID in c["removed"])
    assert cluster["keeper"] == CONTROL_ID
    removed = NEAR_COPY_ID
    t = _why(str(bundled_run), removed)
    dedup = _label(bundled_run, "minhash_dedup")
    assert t["verdict"] == "dropped"
    assert t["summary"].startswith(f"dropped by {dedup}: duplicate of {cluster['keeper']} (cluster "
                                   f"{cluster['cluster_id']}, {cluster['size']} documents")
    keeper = _why(str(bundled_run), cluster["keeper"])
    role = next(f for f in keeper["findings"] if f["what"] == "keeper")
    assert role["stage"] == dedup and role["detail"]["removed_count"] == len(cluster["removed"])
    assert keeper["verdict"] == "kept" and keeper["summary"].startswith("kept: written by")


def test_a_contaminated_document_names_the_benchmark_and_items(bundled_run: Path) -> None:
    t = _why(str(bundled_run), CONTAMINATED_ID)
    assert t["verdict"] == "dropped" and t["summary"] == (
        f"dropped by {_label(bundled_run, 'decontaminate')}: contaminated by benchmark arc_challenge (items ['1'])")
    row = next(f for f in t["findings"] if f["what"] == "contaminated")
    assert row["detail"]["action"] == "removed" and row["evidence"].startswith(
        f"decontamination/{_folder(bundled_run, 'decontaminate')}/planted--")
    assert t["findings"][0]["detail"] == {"file": str(bundled_run.parent / "planted.jsonl"), "line": 4}


def test_an_unsampled_drop_lists_the_stages_it_could_be(bundled_run: Path) -> None:
    """A c4 line neither written nor sampled: dropped before write, by a stage that dropped
    c4 documents and did not sample all of them (a reason whose every drop was sampled is
    ruled out)."""
    run = load_run(bundled_run)
    seen = _written_ids(bundled_run) | {r["id"] for _, r in _rejected(bundled_run)}
    line = next(n for n in range(1, 460) if f"c4/{C4_FILE}:{n}" not in seen)
    t = trace(bundled_run, f"c4/{C4_FILE}:{line}")
    write = _label(bundled_run, "write")
    assert t.verdict == "dropped" and t.summary.startswith(f"not sampled: dropped after it was read and before {write}")
    assert t.candidates and any("sample_rejected" in n for n in t.notes)
    sampled: dict[tuple[str, str], int] = {}
    for folder, rec in _rejected(bundled_run):
        if rec["source"] == "c4":
            sampled[(folder, rec["reason"])] = sampled.get((folder, rec["reason"]), 0) + 1
    for c in t.candidates:
        folder = run.stats.row(c.stage)["folder"]
        assert run.applies(c.stage, "c4")
        for reason, n in c.reasons.items():
            assert n == run.stats.counts[c.stage]["c4"][f"dropped.{reason}"]
            assert (reason in c.all_sampled) == (sampled.get((folder, reason), 0) >= n)
        assert set(c.reasons) - set(c.all_sampled)  # a stage with every drop sampled is not a candidate
    assert any(c.all_sampled for c in t.candidates)  # the bundled run has reasons sampled in full
    # a stage after write, or one not run on c4, is never a candidate
    order = run.labels
    assert all(order.index(c.stage) < order.index(write) for c in t.candidates)


def test_ids_that_are_not_there(bundled_run: Path) -> None:
    t = _why(str(bundled_run), f"c4/{C4_FILE}:99999")
    assert t["verdict"] == "not_found" and t["summary"].startswith("no such record: the run read")
    t = _why(str(bundled_run), "no-such-document")
    assert t["verdict"] == "not_found" and "no rejected sample" in t["summary"]


def test_by_url_and_through_inspect(bundled_run: Path) -> None:
    rec = next(r for _, r in _rejected(bundled_run) if (r.get("meta") or {}).get("url"))
    found = _why(str(bundled_run), "--url", rec["meta"]["url"])
    assert rec["id"] in [t["id"] for t in found]
    r = CliRunner().invoke(main, ["why", str(bundled_run), "--url", "https://nowhere.example/x"])
    assert r.exit_code == 0 and "no document with meta.url" in r.output
    via_inspect = CliRunner().invoke(main, ["inspect", str(bundled_run), "--id", rec["id"]])
    direct = CliRunner().invoke(main, ["why", str(bundled_run), rec["id"]])
    assert via_inspect.exit_code == 0 and via_inspect.output == direct.output
    bad = CliRunner().invoke(main, ["why", str(bundled_run)])
    assert bad.exit_code == 2 and "give a document id or --url" in bad.output


def _run(tmp_path: Path, stages: str) -> Path:
    docs = tmp_path / "docs.jsonl"
    long_en = ENGLISH * 2
    rows = [{"id": f"en{i}", "text": long_en} for i in range(4)] + [{"id": "short", "text": "Too short."}]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = tmp_path / "p.yaml"
    p.write_text(f"name: why\noutput: {tmp_path / 'out'}\ninputs:\n  web: {{reader: jsonl, paths: {docs}}}\n"
                 f"stages:\n{stages}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    return tmp_path / "out"


def test_a_write_before_a_stage_that_samples_nothing(tmp_path: Path) -> None:
    """Written, then dropped by a stage that kept no sample: the answer says it does not know."""
    out = _run(tmp_path, "  - write: {}\n  - gopher_quality: {sample_rejected: 0}\n")
    t = _why(str(out), "short")
    assert t["verdict"] == "unknown" and t["summary"].startswith("not sampled after 0:write: kept, or dropped by "
                                                                 "1:gopher_quality (short_doc 1)")
    assert _why(str(out), "en0")["verdict"] == "unknown"  # kept too, but the run cannot tell them apart


def test_with_samples_and_no_write_stage(tmp_path: Path) -> None:
    out = _run(tmp_path, "  - gopher_quality: {}\n")
    t = _why(str(out), "short")
    assert t["verdict"] == "dropped" and t["summary"].startswith("dropped by 0:gopher_quality: short_doc")
    assert GERMAN not in json.dumps(t)  # no text in the answer: ids, reasons, values, files
    t = _why(str(out), "en0")
    assert t["verdict"] == "not_found" and "no write stage" in t["summary"]
