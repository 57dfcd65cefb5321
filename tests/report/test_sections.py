"""The report's and `stats`' newer sections on real runs: contamination per benchmark, the
funnel per language with the run's language-loss warnings, rejected samples with their
measured value; and no control character of the data reaching a page or a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.report import samples as Sm
from dataforge.report.data import load_run
from dataforge.report.html import value_text
from dataforge.report.langs import language_funnel
from dataforge.report.page import build_report
from dataforge.report.svg import esc
from tests.helpers import stats_counts

from .conftest import CONTAMINATED_ID, CONTROL_ID, CONTROLS, ENGLISH, GERMAN

# what must never reach a terminal or a page raw: C0 (but tab, newline, CR), DEL, C1, bidi controls
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _section(page: str, sid: str) -> str:
    return page.split(f'<section id="{sid}">')[1].split("</section>")[0]


def test_contamination_per_benchmark(bundled_run: Path) -> None:
    rows = [json.loads(line) for f in sorted((bundled_run / "decontamination").rglob("*.jsonl"))
            for line in f.read_text().splitlines()]
    assert [r["doc"] for r in rows] == [CONTAMINATED_ID] and rows[0]["items"] == ["1"]
    counted = sum(keys.get("contaminated.arc_challenge", 0) for per in stats_counts(bundled_run).values()
                  for keys in per.values())
    assert counted == 1
    section = _section(build_report(str(bundled_run)), "contamination")
    assert "<td class=\"l\">arc_challenge</td><td>1</td><td>1</td><td>0</td><td>1</td><td>1 (1)</td>" in section
    r = CliRunner().invoke(main, ["stats", str(bundled_run)])
    assert r.exit_code == 0 and re.search(r"│ arc_challenge +│ +1 │ +1 │ +0 │ +1 │ 1 \(1\) ", r.output)
    data = json.loads(CliRunner().invoke(main, ["stats", str(bundled_run), "--json"]).output)
    [bench] = data["contamination"]
    assert bench["benchmark"] == "arc_challenge" and bench["documents"] == counted == bench["removed"]
    assert bench["top_items"] == [{"item": "1", "documents": 1}] and bench["sources"] == {"planted": 1}


def test_a_run_without_decontamination_has_no_such_section(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"name: plain\noutput: {tmp_path / 'out'}\ninputs:\n"
                 f"  wiki: {{reader: text, paths: {data_dir}/wiki/wiki_demo.txt, split: line}}\n"
                 "stages:\n  - gopher_quality: {}\n")
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0
    page = build_report(str(tmp_path / "out"))
    assert '<section id="contamination">' not in page and "could not be" not in page
    assert json.loads(CliRunner().invoke(main, ["stats", str(tmp_path / "out"), "--json"]).output)[
        "contamination"] == []


def test_rejected_samples_show_the_value_that_failed(bundled_run: Path) -> None:
    page = _section(build_report(str(bundled_run), rejected_per_reason=100), "rejected")
    with_value = [rec for f in sorted((bundled_run / "rejected").glob("*/*.jsonl"))
                  for rec in Sm.jsonl_records(f) if "value" in rec]
    assert {type(r["value"]) for r in with_value} >= {str, int, list}  # badword, word count, benchmarks
    for rec in with_value:
        assert f"value: {esc(value_text(rec['value']))}</span>" in page
    assert page.count('class="tag value"') == len(with_value)


def test_the_funnel_per_language_agrees_with_the_counters(bundled_run: Path) -> None:
    run = load_run(bundled_run)
    rows = {r.label: r for r in language_funnel(run)}
    langid = next(r["label"] for r in run.stats.stages if r["name"] == "langid")
    write = next(r["label"] for r in run.stats.stages if r["name"] == "write")
    assert list(rows)[0] == langid  # nothing carries meta.lang before langid
    per = run.stats.counts[write]  # write runs on every source: its counters are the whole row
    assert rows[write].langs == {"en": sum(k.get("lang_out.en", 0) for k in per.values())}
    assert rows[write].none == sum(k.get("docs_out", 0) for k in per.values()) - rows[write].langs["en"]
    assert rows[write].none == per["github"]["docs_out"] + per["arxiv"]["docs_out"]  # langid does not run on them
    page = _section(build_report(str(bundled_run)), "languages")
    assert "Documents per language after each stage" in page and "no language" in page


def test_language_losses_are_shown_where_they_happen(tmp_path: Path) -> None:
    """Inputs tagged with their language (meta.lang from the records), then langid keeping
    English only: the run warns that langid lost the German documents, and the report and
    `stats` show it at the top and mark the cell."""
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"de{i}", "text": GERMAN * 3, "lang": "de"}) + "\n" for i in range(24))
                    + "".join(json.dumps({"id": f"en{i}", "text": ENGLISH * 2, "lang": "en"}) + "\n"
                              for i in range(24)))
    p = tmp_path / "p.yaml"
    p.write_text(f"name: langs\noutput: {tmp_path / 'out'}\ninputs:\n  web: {{reader: jsonl, paths: {docs}}}\n"
                 "stages:\n  - langid: {languages: [en]}\n  - gopher_quality: {}\n")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    losses = json.loads((out / "stats.json").read_text())["language_losses"]
    assert [(x["stage"], x["lang"], x["docs_in"], x["kept"]) for x in losses] == [("0:langid", "de", 24, 0)]
    page = build_report(str(out))
    banner = page.split("<b>Language loss</b>")[1].split("</div>")[0]
    assert "0:langid dropped 100% of the &#x27;de&#x27; documents (24 of 24)" in banner
    assert page.index("Language loss") < page.index('<section id="funnel">')  # at the top
    # the language langid dropped entirely keeps its column, its cell marked: 0 (0.0% of 24)
    assert '<span class="lost" title="the run warned: this stage dropped most of this language">0</span> ' \
           "<small>0.0%</small>" in _section(page, "languages")
    rows = {row.label: row for row in language_funnel(load_run(out))}
    assert rows["0:langid"].langs == {"en": 24} and rows["0:langid"].lang_in == {"de": 24, "en": 24}
    assert rows["1:gopher_quality"].langs == {"en": 24}
    r = CliRunner().invoke(main, ["stats", str(out)])
    assert r.exit_code == 0 and r.output.startswith("warning: language loss: 0:langid dropped 100% of the 'de'")
    assert re.search(r"│ 1:gopher_quality +│ +0 │ +24 │", r.output)  # the per-language table: de, en
    assert json.loads(CliRunner().invoke(main, ["stats", str(out), "--json"]).output)["language_losses"] == losses


def test_no_control_character_reaches_the_page(bundled_run: Path) -> None:
    page = build_report(str(bundled_run), kept_per_source=100, rejected_per_reason=100)
    assert UNSAFE.search(page) is None
    assert esc(CONTROLS) in page and esc(CONTROLS) != CONTROLS and "\ufffd" in esc(CONTROLS)
    assert esc(CONTROL_ID) in page  # the id, escaped too


def test_no_control_character_reaches_the_terminal(bundled_run: Path) -> None:
    """`--json` keeps the data exact (\\uXXXX escapes) and prints none of it raw."""
    outputs = {}
    for args in (["inspect", str(bundled_run), "--n", "100000", "--json"], ["why", str(bundled_run), CONTROL_ID],
                 ["why", str(bundled_run), CONTROL_ID, "--json"], ["stats", str(bundled_run), "--json"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        assert UNSAFE.search(r.output) is None, args
        outputs[" ".join(args[:1] + args[2:])] = r.output
    decoded = "".join(seg["text"] for s in json.loads(outputs["inspect --n 100000 --json"])["samples"]
                      for seg in s["segments"])
    assert CONTROLS in decoded  # the planted document is in the shards, controls and all, as data
    assert json.loads(outputs[f"why {CONTROL_ID} --json"])["id"] == CONTROL_ID
    assert "\\u202e" in outputs[f"why {CONTROL_ID} --json"]


def test_a_wide_funnel_folds_small_sources(bundled_run: Path, tmp_path: Path) -> None:
    """Twenty sources: the terminal funnel shows the biggest and sums the rest; lines stay
    within the 160 columns of a non-terminal."""
    data = json.loads((bundled_run / "stats.json").read_text())
    for per in data["counts"].values():
        if "c4" in per:
            for i in range(20):
                per[f"extra_source_{i:02d}"] = {k: v for k, v in per["c4"].items()}
    out = tmp_path / "out"
    out.mkdir()
    (out / "stats.json").write_text(json.dumps(data))
    r = CliRunner().invoke(main, ["stats", str(out)])
    assert r.exit_code == 0, r.output
    funnel = r.output.split("stages")[0]
    assert "other (20)" in funnel and max(len(line) for line in r.output.splitlines()) <= 160
    read = next(line for line in funnel.splitlines() if line.startswith("│ read"))
    total = sum(v["docs_out"] for k, v in data["counts"]["read"].items() if k != "*")
    assert f"{total:,}" in read
