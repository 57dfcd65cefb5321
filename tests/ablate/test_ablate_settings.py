"""The ablate: section: read from the pipeline file and removed from it; the command line wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.ablate.run import Plan, choose_steps
from dataforge.ablate.settings import MAX_AUTO_STEPS, merge_settings, read_pipeline, train_config
from dataforge.errors import ConfigError

TEXT = "data/eval/botchan_head.txt"


def test_ablate_and_train_sections_are_taken_out_of_the_pipeline(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("name: x\ninputs: {}\nstages: []\ntrain: {steps: 3}\nablate:\n  seeds: 4\n  variants: {a: full}\n")
    raw, section, lines = read_pipeline(p)
    assert "ablate" not in raw and "train" not in raw
    assert section == {"seeds": 4, "variants": {"a": "full"}}
    assert lines.line("ablate", "seeds") == 6


def test_command_line_wins_over_the_section() -> None:
    s = merge_settings({"seeds": 4, "train": {"steps": 9, "model": "mini"}, "eval_text": ["a.txt"]},
                       {"seeds": 2, "steps": 5, "eval_text": (TEXT,), "model": None}, path="p.yaml")
    assert s.seeds == 2 and s.train == {"steps": 5, "model": "mini"} and s.eval_text == [TEXT]


def test_run_settings_set_seed_and_eval_sets_per_run() -> None:
    s = merge_settings({"train": {"batch_size": 4}, "eval_text": [TEXT]}, {}, path="p.yaml")
    cfg = train_config(s, steps=50, seed=1338, path="p.yaml")
    assert (cfg.seed, cfg.steps, cfg.batch_size, cfg.threads, cfg.seq_len, cfg.eval_every) == (1338, 50, 4, 1, 128, 5)
    assert cfg.eval_text == [TEXT]


@pytest.mark.parametrize(("section", "key"), [
    ({"train": {"seed": 3}}, "ablate.train.seed"),
    ({"train": {"eval_text": ["x"]}}, "ablate.train.eval_text"),
    ({"seeds": -1}, "ablate.seeds"),
    ({"seeds": "3"}, "ablate.seeds"),
    ({"jobs": 0}, "ablate.jobs"),
    ({"variants": {"a": 1}}, "ablate.variants"),
    ({"nope": 1}, "ablate.nope"),
])
def test_bad_settings_name_their_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        merge_settings({**section, "eval_text": [TEXT]}, {}, path="p.yaml")
    assert any(p.key.startswith(key) for p in exc.value.problems), exc.value.problems


def test_a_bad_training_setting_is_refused_with_its_key() -> None:
    s = merge_settings({"train": {"lr": float("nan"), "bogus": 1}, "eval_text": [TEXT]}, {}, path="p.yaml")
    with pytest.raises(ConfigError) as exc:
        train_config(s, steps=5, seed=0, path="p.yaml")
    assert {p.key for p in exc.value.problems} == {"ablate.train.lr", "ablate.train.bogus"}


def _plan(train: dict) -> Plan:
    s = merge_settings({"train": train, "eval_text": [TEXT]}, {}, path="p.yaml")
    return Plan(pipeline="p.yaml", output=Path("unused"), settings=s, variants=[], baseline="full")


def test_auto_steps_are_one_pass_over_the_smallest_variant_capped() -> None:
    built = {"a": {"train_tokens": 10_000, "seq_len": 512}, "b": {"train_tokens": 50_000, "seq_len": 512}}
    assert choose_steps(_plan({}), built) == (4, 2048, "auto")  # 10,000 // (16 x 128)
    assert choose_steps(_plan({"batch_size": 1, "seq_len": 2}), built) == (MAX_AUTO_STEPS, 2, "auto")
    assert choose_steps(_plan({"seq_len": None, "batch_size": 2}), built) == (9, 1024, "auto")  # the shards' 512
    assert choose_steps(_plan({"steps": 7}), built) == (7, 2048, "given")
    tiny = {"a": {"train_tokens": 100, "seq_len": 512}}
    assert choose_steps(_plan({}), tiny) == (1, 2048, "auto")  # never 0 steps
