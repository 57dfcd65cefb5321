"""A corrupted dedup signature file is detected by its checksum and its task is redone."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards
from tests.helpers import stats_counts

PIPELINE = """\
name: sigs
seed: 2
output: {out}
executor: {{workers: 1}}
inputs:
  c4: {{reader: jsonl, paths: "{data}/c4/*.jsonl*"}}
stages:
  - minhash_dedup: {{}}
  - write: {{format: jsonl}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 32768}}
"""


def test_corrupt_signature_file_is_redone_not_used(tmp_path: Path, data_dir: Path) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text(PIPELINE.format(out=tmp_path / "clean", data=data_dir))
    assert CliRunner().invoke(main, ["run", str(clean)]).exit_code == 0

    p = tmp_path / "p.yaml"
    out = tmp_path / "out"
    p.write_text(PIPELINE.format(out=out, data=data_dir))
    # run phase 0's tasks only (as a run killed before the reduce would have), then damage a file
    from dataforge.config import load_pipeline
    from dataforge.runner.plan import make_plan
    from dataforge.runner.task import TaskJob, run_task
    from dataforge.stage import RunInfo

    from dataforge.outputs import OutputDir

    plan = make_plan(load_pipeline(p))
    with OutputDir(out, kind="pipeline"):  # as the killed run did before its first task
        pass
    run = RunInfo(seed=2, output_dir=out, work_dir=plan.work_dir, sources=["c4"])
    phase = plan.phases[0]
    inputs = {i.name: i for i in plan.config.inputs}
    for t in plan.tasks:
        run_task(TaskJob(run=run, phase=phase, task=t, phase_dir=plan.work_dir / "phase-0", prev_dir=None,
                         input=inputs[t.source], output="docs"))
    victims = [f for f in sorted((plan.work_dir / "phase-0").rglob("*")) if f.is_file()
               and f.stat().st_size > 64 and f.suffix not in (".json", ".parquet")]
    assert victims, "no signature files found"
    blob = bytearray(victims[0].read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # flip bits in the middle of a signature run
    victims[0].write_bytes(bytes(blob))

    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    log = next((out / "logs").glob("run-*.log")).read_text()
    assert "redoing 1 task(s)" in log
    assert [e["sha256"] for _, e in manifest_shards(out)] == [e["sha256"] for _, e in manifest_shards(tmp_path / "clean")]
    a = stats_counts(out)["read"]["c4"]["docs_out"]
    b = stats_counts(tmp_path / "clean")["read"]["c4"]["docs_out"]
    assert a == b
