"""End to end through the real CLI (click's CliRunner) on small real files from data/."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards, open_shard
from tests.helpers import stats_counts

PIPELINE = """\
name: e2e
seed: 7
output: {out}
executor: {{kind: local, workers: {workers}}}
inputs:
  c4: {{reader: jsonl, paths: {c4}}}
  wiki: {{reader: text, paths: {data}/wiki/wiki_demo.txt, split: line}}
stages:
  - write: {{format: jsonl}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 16384, validation_fraction: 0.05}}
"""


def make_pipeline(tmp_path: Path, data_dir: Path, *, out: str = "out", workers: int = 1,
                  c4: str | None = None) -> Path:
    p = tmp_path / f"{out}.yaml"
    p.write_text(PIPELINE.format(out=tmp_path / out, data=data_dir, workers=workers,
                                 c4=c4 or f"{data_dir}/c4/*.jsonl*"))
    return p


def shard_sums(out: Path) -> list[tuple[str, str]]:
    return [(e["path"], e["sha256"]) for _, e in manifest_shards(out)]


def test_run_writes_shards_manifest_stats_and_rerun_does_nothing(tmp_path: Path, data_dir: Path) -> None:
    p = make_pipeline(tmp_path, data_dir)
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seq_len"] == 128 and manifest["dtype"] == "uint16" and manifest["vocab_size"] == 8192
    assert {s["split"] for s in manifest["shards"]} == {"train", "validation"}
    total = 0
    for path, entry in manifest_shards(out):
        view = open_shard(path)
        assert view.tokens.shape == (entry["rows"], 128)
        total += int(view.lengths.sum())
    assert total == manifest["tokens"]["train"] + manifest["tokens"]["validation"]
    stats = stats_counts(out)
    docs_read = sum(v.get("docs_out", 0) for v in stats["read"].values())
    assert docs_read == 449 + 10 + 30  # tiny_c4 + olmo sample + one wiki article per line
    assert stats["2:tokenize" if "2:tokenize" in stats else "1:tokenize"]["c4"]["docs_in"] == 459
    written = sorted((out / "documents").rglob("*.jsonl.zst"))
    assert [f.parent.name for f in written] == ["c4", "c4", "wiki"]
    assert "stages" in r.output and "wrote" in r.output

    again = CliRunner().invoke(main, ["run", str(p)])
    assert again.exit_code == 4
    assert "nothing to do" in again.output
    assert shard_sums(out) == [(e["path"], e["sha256"]) for e in manifest["shards"]]


def test_two_runs_identical_and_workers_do_not_change_bytes(tmp_path: Path, data_dir: Path) -> None:
    a = make_pipeline(tmp_path, data_dir, out="a", workers=1)
    b = make_pipeline(tmp_path, data_dir, out="b", workers=2)
    assert CliRunner().invoke(main, ["run", str(a)]).exit_code == 0
    assert CliRunner().invoke(main, ["run", str(b)]).exit_code == 0
    assert shard_sums(tmp_path / "a") == shard_sums(tmp_path / "b")
    seed2 = tmp_path / "c.yaml"
    seed2.write_text(a.read_text().replace("seed: 7", "seed: 8").replace(str(tmp_path / "a"), str(tmp_path / "c")))
    assert CliRunner().invoke(main, ["run", str(seed2)]).exit_code == 0
    assert shard_sums(tmp_path / "c") != shard_sums(tmp_path / "a")


def test_the_same_data_in_another_folder_gives_the_same_shards(tmp_path: Path, data_dir: Path) -> None:
    # another checkout, another cron user's home: ids, splits, dedup and the shuffle must not
    # depend on where the files lie, only on what they hold (the classifier's split once did)
    import shutil

    text = (PIPELINE.replace("{c4}", "data/c4/*.jsonl*").replace("{data}/", "data/")
            .replace("{out}", "out").format(workers=1)
            .replace("  - write: {format: jsonl}\n", "  - write: {format: jsonl}\n  - minhash_dedup: {}\n"))
    sums = []
    for where in ("first", "second/deeper"):
        root = tmp_path / where
        (root / "data" / "wiki").mkdir(parents=True)
        shutil.copytree(data_dir / "c4", root / "data" / "c4")
        shutil.copy(data_dir / "wiki" / "wiki_demo.txt", root / "data" / "wiki")
        shutil.copy(data_dir / "tokenizer.json", root / "data")
        (root / "p.yaml").write_text(text)
        r = subprocess.run([sys.executable, "-m", "dataforge", "run", "p.yaml"], cwd=root,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        sums.append(shard_sums(root / "out"))
    assert [name for name, _ in sums[0]] == [name for name, _ in sums[1]]
    assert [Path(s).name for s, _ in sums[0]] == [Path(s).name for s, _ in sums[1]]
    assert [h for _, h in sums[0]] == [h for _, h in sums[1]]


def test_config_error_exits_2_and_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    p = make_pipeline(tmp_path, data_dir)
    p.write_text(p.read_text().replace("format: jsonl", "formt: jsonl"))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2
    assert "unknown option 'formt' (did you mean 'format'?)" in r.output
    assert not (tmp_path / "out").exists()
    v = CliRunner().invoke(main, ["validate", str(p)])
    assert v.exit_code == 2 and f"{p}:9:" in v.output


def test_dry_run_prints_plan_and_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    p = make_pipeline(tmp_path, data_dir)
    r = CliRunner().invoke(main, ["run", "--dry-run", str(p)])
    assert r.exit_code == 0, r.output
    assert "phase 0: 3 tasks" in r.output and "tiny_c4_sample.jsonl (1,062,126 bytes)" in r.output
    assert "encode" in r.output and not (tmp_path / "out").exists()


def test_corrupt_input_is_skipped_and_reported(tmp_path: Path, data_dir: Path) -> None:
    src = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)[:50]
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "a.jsonl").write_bytes(b"".join(src[:20]) + b'{"text": "broken\n' + b"".join(src[20:]))
    with gzip.open(bad / "b.jsonl.gz", "wb") as fh:
        fh.write(b"".join(src))
    raw = (bad / "b.jsonl.gz").read_bytes()
    (bad / "b.jsonl.gz").write_bytes(raw[: len(raw) // 2])  # truncated gzip
    p = make_pipeline(tmp_path, data_dir, c4=f"{bad}/*")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    stats = stats_counts(tmp_path / "out")
    c4 = stats["read"]["c4"]
    assert c4["docs_out"] >= 50  # all 50 good lines of a.jsonl, plus what came before the cut
    assert sum(v for k, v in c4.items() if k.startswith("skipped.")) == 2


def test_second_concurrent_run_is_refused(tmp_path: Path, data_dir: Path) -> None:
    from dataforge.outputs import OutputDir

    p = make_pipeline(tmp_path, data_dir)
    with OutputDir(tmp_path / "out", kind="pipeline"):
        r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 3
    assert ".dataforge.lock" in r.output and f"pid {os.getpid()}" in r.output


@pytest.mark.slow
def test_sigkill_at_any_moment_then_rerun_gives_identical_shards(tmp_path: Path, data_dir: Path) -> None:
    clean = make_pipeline(tmp_path, data_dir, out="clean", workers=2)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dataforge", "run", str(clean)], env=env, check=True, capture_output=True)
    duration = time.perf_counter() - t0
    want = shard_sums(tmp_path / "clean")
    killed = make_pipeline(tmp_path, data_dir, out="killed", workers=2)
    # kill points spread over a whole run's duration (each resumed run has less left to do)
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9):
        delay = duration * fraction
        proc = subprocess.Popen([sys.executable, "-m", "dataforge", "run", str(killed)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run: driver and workers
        proc.wait()
    done = subprocess.run([sys.executable, "-m", "dataforge", "run", str(killed)], env=env, capture_output=True,
                          text=True)
    assert done.returncode in (0, 4), done.stderr  # 4: a resumed run had already finished the work
    assert shard_sums(tmp_path / "killed") == want
    assert sorted(p.name for p in (tmp_path / "killed" / "shards").iterdir()) == sorted(n for n, _ in want)


def test_new_or_changed_input_is_not_mistaken_for_up_to_date(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    lines = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    (src / "a.jsonl").write_bytes(b"".join(lines[:100]))
    p = make_pipeline(tmp_path, data_dir, c4=f"{src}/*.jsonl")
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 0
    before = stats_counts(tmp_path / "out")["read"]["c4"]["docs_out"]
    (src / "b.jsonl").write_bytes(b"".join(lines[100:150]))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0 and "nothing to do" not in r.output
    assert stats_counts(tmp_path / "out")["read"]["c4"]["docs_out"] == before + 50
    (src / "a.jsonl").write_bytes(b"".join(lines[:90]))  # changed in place
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0 and "nothing to do" not in r.output
    assert stats_counts(tmp_path / "out")["read"]["c4"]["docs_out"] == before + 40
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(i["path"] for i in manifest["inputs"] if i["source"] == "c4") == [str(src / "a.jsonl"),
                                                                                    str(src / "b.jsonl")]


def test_output_override_is_checked_and_nothing_to_do_still_logs_and_reports(tmp_path: Path, data_dir: Path) -> None:
    p = make_pipeline(tmp_path, data_dir)
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    r = CliRunner().invoke(main, ["run", "-o", str(tmp_path / "theirs"), str(p)])
    assert r.exit_code == 2 and "not made by dataforge" in r.output  # -o gets the same checks as output:
    assert CliRunner().invoke(main, ["run", "-v", str(p), "-o", str(tmp_path / "o2")]).exit_code == 0
    r = CliRunner().invoke(main, ["run", "--report", str(p), "-o", str(tmp_path / "o2")])
    assert r.exit_code == 4 and (tmp_path / "o2" / "report.html").exists()  # refreshed with nothing new
    last = json.loads((tmp_path / "o2" / "logs" / "last_run.json").read_text())
    assert last["status"] == "up_to_date"
    assert len(list((tmp_path / "o2" / "logs").glob("run-*.log"))) >= 1
