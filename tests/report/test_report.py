"""`dataforge report` and `dataforge stats` on a real run: figures that agree with the run's
own files, a page that loads nothing from anywhere, escaped documents, clear errors."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.report import data as D
from dataforge.report import samples as Sm
from dataforge.report.page import build_report, compact
from dataforge.report.svg import esc
from dataforge.stats import logit_bin, logit_bin_edge, size_bin, size_bin_edge

from .conftest import HOSTILE_ID, PAYLOADS
from tests.helpers import stats_counts


def label(run: D.RunData, name: str) -> str:
    """The stats label of the (first) stage called ``name`` in the run's stages table."""
    return next(r["label"] for r in run.stats.stages if r["name"] == name)


def _documents_per_source(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for source_dir in (out / "documents").iterdir():
        counts[source_dir.name] = sum(1 for f in source_dir.iterdir() for _ in Sm.jsonl_records(f))
    return counts


def test_funnel_agrees_with_stats_documents_and_manifest(bundled_run: Path) -> None:
    run = D.load_run(bundled_run)
    stats = stats_counts(bundled_run)
    manifest = json.loads((bundled_run / "manifest.json").read_text())
    rows = {r.label: r for r in D.funnel(run)}
    gopher, write, tokenize = (label(run, n) for n in ("gopher_quality", "write", "tokenize"))
    assert list(rows)[0] == "read" and list(rows)[-1] == "mix + shards"
    assert rows["read"].docs == {s: stats["read"][s]["docs_out"] for s in run.sources}
    # a stage limited by sources: passes the others through unchanged
    assert rows[gopher].docs["github"] == rows["read"].docs["github"] == 50
    assert "github" not in rows[gopher].applies
    # what the write stage kept is exactly what documents/ holds
    assert {s: n for s, n in rows[write].docs.items() if n} == _documents_per_source(bundled_run)
    # tokens: exact from tokenize on; the final row is what the shards hold per source
    assert rows[tokenize].exact_tokens and not rows[write].exact_tokens
    final = rows["mix + shards"].tokens
    for source, v in manifest["sources"].items():
        assert final[source] == v["tokens_realised"] + v["validation_tokens"]
    # before tokenize, tokens are estimated from bytes: they shrink where bytes shrink
    est = [r.total_tokens for r in rows.values() if not r.exact_tokens]
    assert est == sorted(est, reverse=True) and est[0] > est[-1]
    # documents only ever go down along the funnel (until the mixture repeats some)
    streaming = [r.total_docs for r in rows.values() if r.label != "mix + shards"]
    assert streaming == sorted(streaming, reverse=True) and streaming[0] > streaming[-1]


def test_histograms_count_every_document_once(bundled_run: Path) -> None:
    run = D.load_run(bundled_run)
    stats = run.stats
    read, kept, kept_label = D.length_histograms(run)
    write, langid, quality = (label(run, n) for n in ("write", "langid", "quality_classifier"))
    assert sum(read.values()) == stats.totals("read")["docs_out"]
    assert kept_label == write and sum(kept.values()) == stats.totals(write)["docs_out"]
    lang_kept, lang_dropped = D.histogram(run, "lang_score.kept"), D.histogram(run, "lang_score.dropped")
    assert sum(lang_kept.values()) == stats.totals(langid)["docs_out"]
    assert sum(lang_dropped.values()) == stats.totals(langid)["docs_in"] - stats.totals(langid)["docs_out"]
    assert sum(D.languages(run).values()) == stats.totals(langid)["docs_in"]
    assert D.languages(run)["de"] >= 1  # the planted German page
    q_kept, q_dropped = D.histogram(run, "quality_logit.kept"), D.histogram(run, "quality_logit.dropped")
    assert sum(q_dropped.values()) == stats.totals(quality)["dropped.low_quality"]
    assert sum(q_kept.values()) == stats.totals(quality)["docs_out"]


def test_logit_bins_spread_probabilities_near_zero_and_one() -> None:
    assert logit_bin(0.5) == 12 and logit_bin(0.49) == 11
    assert logit_bin(0.0) == 0 and logit_bin(1.0) == 23
    assert len({logit_bin(p) for p in (1e-4, 1e-3, 1e-2, 0.1)}) == 4  # one unit bin would hold all four
    for p in (1e-5, 0.003, 0.2, 0.7, 0.9999):
        b = logit_bin(p)
        assert logit_bin_edge(b) <= p < logit_bin_edge(b + 1)


def test_size_bins_are_half_octaves() -> None:
    for n in [0, 1, 2, 3, 5, 6, 7, 8, 100, 1023, 1024, 1536, 10**7]:
        b = size_bin(n)
        assert size_bin_edge(b) <= n < size_bin_edge(b + 1)
    assert [size_bin_edge(b) for b in range(2, 10)] == [2, 3, 4, 6, 8, 12, 16, 24]


def test_rejected_samples_cover_every_reason_and_respect_the_limit(bundled_run: Path) -> None:
    run = D.load_run(bundled_run)
    samples = Sm.rejected_samples(run, per_reason=100)
    for label, _, reasons in D.drop_reasons(run):
        if label == "read":
            continue
        folder = run.stats.row(label)["folder"]
        for key, by_source in reasons.items():
            reason = key.split(".", 1)[1]
            got = samples[folder][reason]
            # default sample_rejected: 3 per reason and task
            tasks = len(list((bundled_run / "rejected" / folder).glob("*.jsonl")))
            assert 1 <= len(got) <= min(sum(by_source.values()), 3 * tasks)
            assert all(r["reason"] == reason and r["text"] for r in got)


def test_report_shows_every_section_and_loads_nothing(bundled_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(bundled_run), "-o", str(target)])
    assert r.exit_code == 0, r.output
    assert str(target) in r.output and "KB" in r.output
    page = target.read_text(encoding="utf-8")
    for section in ("funnel", "drops", "distributions", "languages", "dedup", "mixture", "kept", "rejected",
                    "shards", "config"):
        assert f'<section id="{section}">' in page

    class Scan(HTMLParser):
        tags: list[str] = []
        urls: list[str] = []
        handlers: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            for name, value in attrs:
                if name in ("src", "href", "xlink:href", "action", "srcset", "data"):
                    self.urls.append(value or "")
                if name.startswith("on"):
                    self.handlers.append(f"{tag} {name}")

    scan = Scan()
    scan.feed(page)
    assert not {"script", "iframe", "img", "object", "embed", "link", "form"} & set(scan.tags)
    assert all(u.startswith("#") for u in scan.urls), [u for u in scan.urls if not u.startswith("#")]
    assert scan.handlers == []
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # the planted documents are in the page, escaped
    for payload in PAYLOADS:
        assert esc(payload) in page and payload not in page
    assert esc(HOSTILE_ID) in page and "wrong_language" in page
    # the figures shown are the run's
    assert "pretrain_mix" in page and json.loads((bundled_run / "manifest.json").read_text())["config_hash"] in page


def test_escaping_handles_controls_and_lone_surrogates() -> None:
    assert esc('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    out = esc("bell\x07 esc\x1b[31m nul\x00 bad\ud800 ok\n")
    assert "\x07" not in out and "\x1b" not in out and "\x00" not in out and "\ud800" not in out
    assert out.endswith("ok\n")
    out.encode("utf-8")  # always encodable


def test_stats_prints_the_funnel(bundled_run: Path) -> None:
    r = CliRunner().invoke(main, ["stats", str(bundled_run)])
    assert r.exit_code == 0, r.output
    stats = stats_counts(bundled_run)
    read_total = sum(v["docs_out"] for k, v in stats["read"].items() if k != "*")
    lines = [line for line in r.output.splitlines() if line.startswith("│ read")]
    assert len(lines) == 2 and f"{read_total:,}" in lines[0]  # the funnel row, then the stage table's
    assert "mix + shards" in r.output and "low_score" in r.output
    j = CliRunner().invoke(main, ["stats", str(bundled_run), "--json"])
    data = json.loads(j.output)
    rows = data["funnel"]
    assert rows[0]["stage"] == "read" and sum(rows[0]["docs"].values()) == read_total
    # the stage table: every reason of every stage, as counted
    by_stage = {r["stage"]: r for r in data["stages"]}
    for lab, per in stats.items():
        want = {}
        for src, keys in per.items():
            for k, v in keys.items():
                if k.startswith(("dropped.", "skipped.")):
                    name = k.split(".", 1)[1] + (" (skipped)" if k.startswith("skipped.") else "")
                    want[name] = want.get(name, 0) + v
        assert by_stage[lab]["reasons"] == want
    # every reason is printed, one per line of its stage's cell (the table stays narrow)
    printed = r.output
    reasons = [(reason, n) for row in data["stages"] for reason, n in row["reasons"].items()]
    assert reasons and all(f"│ {reason} {n:,} " in printed for reason, n in reasons)
    assert max(len(line) for line in printed.splitlines()) <= 160


def test_missing_or_damaged_output_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "nope: no such output directory" in r.output
    (tmp_path / "out").mkdir()
    r = CliRunner().invoke(main, ["stats", str(tmp_path / "out")])
    assert r.exit_code == 1 and "stats.json: missing" in r.output
    (tmp_path / "out" / "stats.json").write_text("{not json")
    r = CliRunner().invoke(main, ["report", str(tmp_path / "out")])
    assert r.exit_code == 1 and "stats.json: not valid JSON" in r.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_report_without_manifest_or_documents_still_shows_the_funnel(bundled_run: Path, tmp_path: Path) -> None:
    """A pipeline without write and tokenize stages leaves only stats.json: the report says
    what it can."""
    out = tmp_path / "bare"
    out.mkdir()
    (out / "stats.json").write_text((bundled_run / "stats.json").read_text())
    page = build_report(str(out))
    assert '<section id="funnel">' in page and '<section id="mixture">' not in page
    assert "add a <code>write</code> stage" in page


def test_cluster_summary_streams_and_keeps_the_largest(tmp_path: Path) -> None:
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(3)
    sizes = [rng.choice([2, 2, 2, 3, 4, 9]) for _ in range(60)]
    rows = [{"cluster_id": i, "size": s, "keeper": f"k{i}", "keeper_source": "web",
             "members": [f"k{i}"] + [f"r{i}.{j}" for j in range(s - 1)],
             "removed": [f"r{i}.{j}" for j in range(s - 1)], "jaccard": [0.9] * (s - 1)} for i, s in enumerate(sizes)]
    (tmp_path / "dedup").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dedup" / "clusters.parquet", row_group_size=7)
    (tmp_path / "stats.json").write_text("{}")
    [c] = Sm.clusters(D.load_run(tmp_path), top=5)
    assert dict(c.sizes) == {s: sizes.count(s) for s in set(sizes)}
    assert c.removed == sum(s - 1 for s in sizes)
    want = sorted(range(60), key=lambda i: (-sizes[i], i))[:5]
    assert [r["keeper"] for r in c.largest] == [f"k{i}" for i in want]
    assert Sm.keepers(D.load_run(tmp_path), {"r7.0", "nope"}) == {"r7.0": "k7"}


def test_run_with_report_flag_writes_the_report(tmp_path: Path, data_dir: Path) -> None:
    from tests.e2e.test_run_cli import make_pipeline

    p = make_pipeline(tmp_path, data_dir)
    r = CliRunner().invoke(main, ["run", "--report", str(p)])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "report.html" in r.output and '<section id="funnel">' in page and '<section id="shards">' in page


def test_kept_samples_come_from_parquet_written_anywhere(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
name: parquet_kept
output: {tmp_path / "out"}
inputs:
  wiki: {{reader: text, paths: {data_dir}/wiki/wiki_demo.txt, split: line}}
stages:
  - write: {{format: parquet, path: kept}}
""")
    r = CliRunner().invoke(main, ["run", "--report", str(p)])
    assert r.exit_code == 0, r.output
    run = D.load_run(tmp_path / "out")
    samples = Sm.kept_samples(run, per_source=3, seed=0)  # what the report shows by default
    assert list(samples) == ["wiki"] and len(samples["wiki"]) == 3
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert all(esc(rec["id"]) in page for rec in samples["wiki"]) and '<section id="shards">' not in page
    assert Sm.kept_samples(run, per_source=3, seed=0) == samples  # the seed decides
    assert Sm.kept_samples(run, per_source=3, seed=1) != samples


def _run(tmp_path: Path, text: str, *args: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    r = CliRunner().invoke(main, ["run", *args, str(p)])
    assert r.exit_code == 0, r.output
    return tmp_path / "out"


def test_run_without_tokenize_and_a_nested_write_path(tmp_path: Path, data_dir: Path) -> None:
    """No token figures where no tokenizer ran; the kept length histogram counts, for each
    source, the last stage that saw it; kept samples are found under write's path."""
    out = _run(tmp_path, f"""\
name: notok
output: {tmp_path / "out"}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl}}
  wiki: {{reader: text, paths: {data_dir}/wiki/wiki_demo.txt, split: line}}
stages:
  - write: {{format: jsonl, path: kept/v1}}
  - gopher_quality: {{sources: [c4]}}
""", "--report")
    run = D.load_run(out)
    rows = D.funnel(run)
    assert all(r.tokens is None for r in rows)
    _, kept, _ = D.length_histograms(run)
    assert sum(kept.values()) == rows[-1].total_docs  # c4 after gopher + wiki as written
    assert Sm.documents_dir(run) == out / "kept_v1" and set(Sm.kept_samples(run, 1)) == {"c4", "wiki"}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "no tokenize stage" in page and "<h3>Tokens</h3>" not in page and "could not be built" not in page


def test_pad_packing_and_validation_only_shards(tmp_path: Path, data_dir: Path) -> None:
    # documents with fixed ids: the validation split hashes ids, which must not depend on the clone's path
    lines = (data_dir / "wiki" / "wiki_demo.txt").read_text(encoding="utf-8").splitlines()
    docs = tmp_path / "wiki.jsonl"
    docs.write_text("".join(json.dumps({"id": f"w{i}", "text": t}) + "\n" for i, t in enumerate(lines) if t.strip()))
    out = _run(tmp_path, f"""\
name: padded
output: {tmp_path / "out"}
inputs:
  wiki: {{reader: jsonl, paths: {docs}}}
stages:
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64, packing: pad, validation_fraction: 0.99}}
""", "--report")
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["split"] for s in manifest["shards"]} == {"validation"}  # every document held out
    page = (out / "report.html").read_text(encoding="utf-8")
    total = sum(manifest["tokens"].values())
    truncated = stats_counts(out)["pack"]["*"]["tokens_truncated"]
    assert truncated > 0 and f"<b>{compact(total)}</b><span>tokens in shards" in page
    assert f"{compact(truncated)}</b><span>tokens not in shards (truncated" in page
    assert "random validation rows" in page and "could not be built" not in page


def test_a_damaged_file_costs_only_its_section(bundled_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(bundled_run, out, ignore=shutil.ignore_patterns("_work", "report.html"))
    (out / "dedup" / "clusters.parquet").write_bytes(b"PAR1 not really")
    (out / "shards" / "train-00000.arrow").write_bytes(b"ARROW1 cut short")
    page = build_report(str(out))
    dedup = page.split('<section id="dedup">')[1].split("</section>")[0]
    assert "could not be built" in dedup and "clusters.parquet: unreadable clusters file" in dedup
    assert '<section id="funnel">' in page and '<section id="mixture">' in page
    r = CliRunner().invoke(main, ["report", str(out)])
    assert r.exit_code == 0, r.output


def test_report_of_sft_shards(tmp_path: Path, tokenizer_path: Path) -> None:
    src = tmp_path / "sft.jsonl"
    src.write_text(json.dumps({"instruction": "Say hi.", "input": "", "output": "Hi <b>there</b>."}) + "\n")
    r = CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer_path),
                                  "--output", str(tmp_path / "sft"), "--seq-len", "64"])
    assert r.exit_code == 0, r.output
    page = build_report(str(tmp_path / "sft"))
    assert "seg-prompt" in page and "seg-target" in page and esc("Hi <b>there</b>.") in page
    assert "could not be built" not in page
