"""Mixture weighting through the real CLI: realised shares, caps, warnings, determinism."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards

PIPELINE = """\
name: mix
seed: {seed}
output: {out}
executor: {{workers: 1}}
inputs:
  c4:   {{reader: jsonl, paths: {data}/c4/tiny_c4_sample.jsonl, weight: {w_c4}}}
  wiki: {{reader: text, paths: {data}/wiki/wiki_demo.txt, split: line, weight: {w_wiki}}}
  code: {{reader: jsonl, paths: {data}/code/github_sample_50.jsonl, weight: {w_code}}}
stages:
  - mix: {{target_tokens: {target}, max_epochs: {cap}{extra}}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 64, shard_tokens: 65536}}
"""


def run(tmp_path: Path, data_dir: Path, name: str, *, seed: int = 1, w_c4: float = 0.5, w_wiki: float = 0.3,
        w_code: float = 0.2, target: int = 200_000, cap: float = 4, extra: str = "") -> dict:
    p = tmp_path / f"{name}.yaml"
    p.write_text(PIPELINE.format(seed=seed, out=tmp_path / name, data=data_dir, w_c4=w_c4, w_wiki=w_wiki,
                                 w_code=w_code, target=target, cap=cap, extra=extra))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / name / "manifest.json").read_text())
    m["_output"] = r.output
    return m


def test_realised_shares_land_on_target(tmp_path: Path, data_dir: Path) -> None:
    m = run(tmp_path, data_dir, "a", target=400_000)
    src = m["sources"]
    assert src["c4"]["tokens_target"] == 200_000 and src["wiki"]["tokens_target"] == 120_000
    # c4 (449 short documents) is down-sampled to within 1% of its target
    assert src["c4"]["tokens_available"] > 200_000
    assert abs(src["c4"]["tokens_realised"] - 200_000) / 200_000 < 0.01
    # code is up-sampled: one full epoch plus a hashed fraction of a second
    assert src["code"]["tokens_available"] < 80_000 < 2 * src["code"]["tokens_available"]
    assert abs(src["code"]["tokens_realised"] - 80_000) / 80_000 < 0.05
    assert 1 < src["code"]["epochs"] < 2
    # wiki has 30 long articles: whole documents cannot land closer than about one article
    assert abs(src["wiki"]["tokens_realised"] - 120_000) < 12_000
    assert abs(sum(s["share"] for s in src.values()) - 1) < 1e-4


def test_upsampling_never_exceeds_the_cap_and_warns(tmp_path: Path, data_dir: Path) -> None:
    m = run(tmp_path, data_dir, "cap", w_c4=0.2, w_wiki=0.2, w_code=0.6, target=400_000, cap=2,
            extra=", shortfall: leave")
    code = m["sources"]["code"]
    assert code["tokens_realised"] <= 2 * code["tokens_available"]
    assert code["epochs"] == 2.0
    warning = next(w for w in m["warnings"] if "'code'" in w)
    assert "cannot reach its target of 240,000 tokens" in warning and "(left short)" in warning
    assert "warning:" in m["_output"]


def test_shortfall_is_redistributed(tmp_path: Path, data_dir: Path) -> None:
    m = run(tmp_path, data_dir, "redis", w_c4=0.2, w_wiki=0.2, w_code=0.6, target=400_000, cap=2)
    total = sum(s["tokens_target"] for s in m["sources"].values())
    assert abs(total - 400_000) <= 3
    assert m["sources"]["c4"]["tokens_target"] > 80_000
    assert any("redistributed" in w for w in m["warnings"])


def test_same_seed_same_bytes_other_seed_other_order(tmp_path: Path, data_dir: Path) -> None:
    sums = lambda name: [e["sha256"] for _, e in manifest_shards(tmp_path / name)]  # noqa: E731
    a = run(tmp_path, data_dir, "s1", w_c4=1, w_wiki=1, w_code=1, target=150_000)
    run(tmp_path, data_dir, "s1b", w_c4=1, w_wiki=1, w_code=1, target=150_000)
    b = run(tmp_path, data_dir, "s2", seed=2, w_c4=1, w_wiki=1, w_code=1, target=150_000)
    assert sums("s1") == sums("s1b")
    assert sums("s1") != sums("s2")
    assert a["sources"]["c4"]["tokens_target"] == b["sources"]["c4"]["tokens_target"] == 50_000


def test_long_documents_are_sampled_in_pieces(tmp_path: Path, data_dir: Path) -> None:
    """Two whole books cannot make a 10% share of a small mix; 4k-token pieces can."""
    p = tmp_path / "books.yaml"
    p.write_text(f"""\
seed: 4
output: {tmp_path / 'out'}
executor: {{workers: 1}}
inputs:
  c4: {{reader: jsonl, paths: {data_dir}/c4/tiny_c4_sample.jsonl, weight: 0.9}}
  books: {{reader: text, paths: "{data_dir}/books/*.txt", split: file, weight: 0.1}}
stages:
  - mix: {{target_tokens: 200_000}}
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64, shard_tokens: 65536}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    books = json.loads((tmp_path / "out" / "manifest.json").read_text())["sources"]["books"]
    assert books["docs_available"] == 2 and books["tokens_available"] > 200_000
    assert abs(books["tokens_realised"] - 20_000) <= 4096 + 1  # within one piece of the target
