"""`dataforge ablate` end to end on a tiny real pipeline: two variants, two seeds, a rerun that reuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.ablate.page import ablation_section
from dataforge.cli import main

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


def pipeline(tmp_path: Path, ablate: str, name: str = "p.yaml") -> Path:
    """Alice by paragraph and ten C4 documents; Gopher quality and MinHash dedup are what `raw` removes."""
    p = tmp_path / name
    p.write_text(f"""name: tiny
seed: 7
output: {tmp_path / 'out'}
executor: {{kind: local, workers: 1}}
inputs:
  c4: {{reader: jsonl, paths: "{DATA / 'c4' / 'olmo-c4-sample.01.jsonl.gz'}"}}
  alice: {{reader: text, paths: "{DATA / 'books' / 'alice.txt'}", split: paragraph}}
stages:
  - gopher_quality: {{}}
  - minhash_dedup: {{}}
  - tokenize: {{tokenizer: "{DATA / 'tokenizer.json'}", seq_len: 64, shard_tokens: 65536, validation_fraction: 0.05}}
{ablate}""", encoding="utf-8")
    return p


@pytest.fixture()
def eval_sets(tmp_path: Path) -> tuple[Path, Path]:
    text = tmp_path / "botchan_slice.txt"
    text.write_text((DATA / "eval" / "botchan_head.txt").read_text(encoding="utf-8")[:3000], encoding="utf-8")
    mc = tmp_path / "arc3.jsonl"
    mc.write_text("\n".join((DATA / "benchmarks" / "arc_challenge.jsonl").read_text(encoding="utf-8")
                            .splitlines()[:3]) + "\n", encoding="utf-8")
    return text, mc


def test_ablate_builds_trains_compares_and_reuses(tmp_path: Path, eval_sets: tuple[Path, Path]) -> None:
    text, mc = eval_sets
    p = pipeline(tmp_path, f"""ablate:
  seeds: 2
  variants: {{full: full, raw: raw}}
  train: {{steps: 5, batch_size: 4, seq_len: 32, eval_every: 2}}
  eval_text: ["{text}"]
  eval_mc: ["{mc}"]
""")
    r = CliRunner().invoke(main, ["ablate", str(p)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out" / "ablate"  # the default: <pipeline output>/ablate
    res = json.loads((out / "results.json").read_text())
    assert res["format"] == "dataforge-ablate/1" and res["baseline"] == "full" and res["seeds"] == [1337, 1338]
    assert res["eval_sets"] == {"botchan_slice": {"path": str(text), "kind": "text"}, "arc3": {"path": str(mc), "kind": "mc"}}
    assert res["budget"] == {"steps": 5, "tokens_per_step": 128, "tokens_per_run": 640, "steps_from": "given"}
    assert set(res["variants"]) == {"full", "raw"}
    assert res["variants"]["raw"]["removed"] == ["0:gopher_quality", "1:minhash_dedup"]
    for v in res["variants"].values():
        assert [run["seed"] for run in v["runs"]] == [1337, 1338]
        for run in v["runs"]:
            assert set(run["metrics"]) == {"botchan_slice/bpb", "botchan_slice/loss", "arc3/acc", "arc3/acc_norm"}
            assert [s for s, _ in run["curve"]] == [2, 4, 5] and run["reused"] is False
    assert res["chance"]["arc3/chance"] == pytest.approx(0.25, abs=0.1)
    row = res["table"]["raw"]["botchan_slice/bpb"]
    assert row["n"] == 2 and row["std"] is not None and row["vs_baseline"]["beyond_noise"] in (True, False)
    assert "vs_baseline" not in res["table"]["full"]["botchan_slice/bpb"]
    # the variants' shards differ: raw kept what the Gopher filter and dedup dropped
    shas = {name: sorted(s["sha256"] for s in json.loads((out / "variants" / name / "manifest.json").read_text())["shards"])
            for name in ("full", "raw")}
    assert shas["full"] != shas["raw"]
    assert res["variants"]["raw"]["train_tokens"] > res["variants"]["full"]["train_tokens"]
    # two seeds of one variant trained differently
    bpb = res["table"]["full"]["botchan_slice/bpb"]["values"]
    assert bpb[0] != bpb[1]
    page = (out / "report.html").read_text()
    assert "<svg" in page and "polyline" in page and ">raw<" in page and "botchan_slice/bpb" in page
    assert "botchan_slice/bpb" in r.output and "raw" in r.output
    section = ablation_section(tmp_path / "out")  # what `dataforge report` of the pipeline output includes
    assert 'href="ablate/report.html"' in section and ">raw<" in section
    assert ablation_section(tmp_path) == ""  # no ablation there

    dirs = [run["dir"] for run in res["variants"]["raw"]["runs"]]
    assert dirs[0].startswith("runs/raw/") and dirs[0].endswith("/seed-1337") and len(dirs[0].split("/")) == 4
    ckpt = out / dirs[0] / "ckpt.pt"
    before = ckpt.stat().st_mtime_ns
    again = CliRunner().invoke(main, ["ablate", str(p)])
    assert again.exit_code == 0, again.output
    res2 = json.loads((out / "results.json").read_text())
    assert all(v["built_reused"] for v in res2["variants"].values())
    assert all(run["reused"] for v in res2["variants"].values() for run in v["runs"])
    assert ckpt.stat().st_mtime_ns == before
    assert res2["table"] == res["table"]

    # one more seed: only the new runs train
    more = CliRunner().invoke(main, ["ablate", str(p), "--seeds", "3"])
    assert more.exit_code == 0, more.output
    res3 = json.loads((out / "results.json").read_text())
    assert [run["reused"] for run in res3["variants"]["full"]["runs"]] == [True, True, False]


def test_an_unknown_stage_exits_2_before_any_work(tmp_path: Path, eval_sets: tuple[Path, Path]) -> None:
    text, _ = eval_sets
    p = pipeline(tmp_path, "")
    r = CliRunner().invoke(main, ["ablate", str(p), "--variant", "full", "--variant", "x=-minhash",
                                  "--eval-text", str(text)])
    assert r.exit_code == 2
    assert "ablate.variants.x" in r.output and "'minhash' is not a stage" in r.output
    assert "0:gopher_quality, 1:minhash_dedup, 2:tokenize" in r.output
    assert not (tmp_path / "out").exists()


def test_no_eval_sets_and_bad_settings_exit_2(tmp_path: Path, eval_sets: tuple[Path, Path]) -> None:
    text, _ = eval_sets
    p = pipeline(tmp_path, "ablate:\n  variants: {full: full, raw: raw}\n")
    r = CliRunner().invoke(main, ["ablate", str(p)])
    assert r.exit_code == 2 and "no evaluation sets" in r.output
    p2 = pipeline(tmp_path, f'ablate:\n  variants: {{full: full, raw: raw}}\n  seeds: 0\n  eval_text: ["{text}"]\n'
                            "  train: {lr: .nan, seed: 3}\n  sedes: 2\n", "p2.yaml")
    r2 = CliRunner().invoke(main, ["ablate", str(p2)])
    assert r2.exit_code == 2
    assert "ablate.seeds" in r2.output and "ablate.sedes" in r2.output
    r3 = CliRunner().invoke(main, ["ablate", str(p), "--eval-text", str(text), "--baseline", "nope"])
    assert r3.exit_code == 2 and "'nope' is not a variant" in r3.output
    p4 = pipeline(tmp_path, f'ablate:\n  variants: {{full: full, raw: raw}}\n  eval_text: ["{text}"]\n'
                            "  train: {lr: .nan}\n", "p4.yaml")
    r4 = CliRunner().invoke(main, ["ablate", str(p4)])
    assert r4.exit_code == 2 and "ablate.train.lr" in r4.output
    assert not (tmp_path / "out").exists()
