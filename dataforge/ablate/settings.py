"""What an ablation may set: the ``ablate:`` section of a pipeline file, or ``dataforge ablate`` options.

The pipeline loader (``dataforge.config``) does not know ``ablate:``; it is read here from the
same YAML (with line numbers) and removed, with ``train:`` (an ablation trains each variant
itself), before each variant is validated as an ordinary pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, Problem
from ..config import read_pipeline_mapping
from ..train.config import TrainConfig
from ..yamlfile import Lines

#: TrainConfig keys an ablation sets per run itself (not in ablate.train)
PER_RUN_KEYS = ("seed", "eval_text", "eval_mc")

#: the training settings an ablation starts from, where they differ from TrainConfig's defaults:
#: one thread per process (benchmarks/results/train.md: 2 one-thread runs beat one 2-thread run on
#: 2 cores); 128-token windows (its section 4: 16 x 128 keeps a 4 x 3 ablation to minutes);
#: evaluation of the own validation split 10 times a run, for the loss curves.
TRAIN_DEFAULTS: dict[str, Any] = {"model": "tiny", "threads": 1, "seq_len": 128}

#: with no --steps: one pass over the smallest variant, but no more steps than this
#: (benchmarks/results/train.md section 4: 97 steps of 16 x 128 per run, 12 runs, ~7 min on 2 cores)
MAX_AUTO_STEPS = 200


class AblateSettings(BaseModel):
    """The ``ablate:`` section. Unknown keys, wrong types, NaN and inf are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    # name -> edit (dataforge.ablate.variants); at least two
    variants: dict[str, str] = {}
    # the variant every other is compared to; None = "full" if there is one, else the first
    baseline: str | None = None
    # seeds per variant (issue 17: default 3); run i trains with seed base_seed + i
    seeds: int = Field(3, ge=1, le=100)
    # TrainConfig's default seed (dataforge.train.config)
    base_seed: int = Field(1337, ge=0, lt=1 << 62)
    # training processes at once (one thread each); 2 = this repo's 2-core reference machine
    jobs: int = Field(2, ge=1, le=256)
    # TrainConfig settings shared by every run (seed and eval sets excepted); steps unset = auto budget
    train: dict[str, Any] = {}
    # reference texts (bits per byte) and multiple-choice sets every run is scored on
    eval_text: list[str] = []
    eval_mc: list[str] = []
    # where the ablation writes; None = <pipeline output>/ablate
    output: str | None = None


def read_pipeline(path: str | Path) -> tuple[dict[str, Any], dict[str, Any], Lines]:
    """The pipeline mapping without ``ablate:`` and ``train:``, the ``ablate:`` mapping, and line numbers."""
    path = str(path)
    raw, lines = read_pipeline_mapping(path)
    section = raw.pop("ablate", None)
    raw.pop("train", None)
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError([Problem(path, lines.line("ablate"), "ablate", f"expected a mapping, got {section!r}")])
    return raw, section, lines


def merge_settings(section: dict[str, Any], overrides: dict[str, Any], *, path: str,
                   lines: Lines | None = None) -> AblateSettings:
    """``ablate:`` with the command line's options on top (those given win); every problem raised."""
    data = dict(section)
    train = dict(data.get("train") or {}) if isinstance(data.get("train") or {}, dict) else data.get("train")
    for key in ("steps", "model", "batch_size", "seq_len"):
        if overrides.get(key) is not None and isinstance(train, dict):
            train[key] = overrides[key]
    if train is not None:
        data["train"] = train
    for key in ("seeds", "baseline", "jobs", "output"):
        if overrides.get(key) is not None:
            data[key] = overrides[key]
    for key in ("eval_text", "eval_mc"):
        if overrides.get(key):
            data[key] = list(overrides[key])
    if overrides.get("variants"):
        data["variants"] = dict(overrides["variants"])
    lines = lines or Lines(None)
    try:
        settings = AblateSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ("ablate",) + tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
            problems.append(Problem(path, lines.line(*loc[:2]), key, f"{msg} (got {err.get('input')!r})"))
        raise ConfigError(problems) from None
    bad = [k for k in settings.train if k in PER_RUN_KEYS]
    if bad:
        raise ConfigError([Problem(path, lines.line("ablate", "train"), f"ablate.train.{k}",
                                   f"set per run by the ablation; use ablate.{'base_seed' if k == 'seed' else k}")
                           for k in bad])
    if not settings.eval_text and not settings.eval_mc:
        raise ConfigError([Problem(path, lines.line("ablate"), "ablate.eval_text",
                                   "no evaluation sets: variants are compared on sets that belong to none of them; "
                                   "give --eval-text/--eval-mc (bundled: data/eval/wikitext2_valid_head.txt, "
                                   "data/eval/botchan_head.txt, data/benchmarks/arc_challenge.jsonl)")])
    return settings


def train_config(settings: AblateSettings, *, steps: int, seed: int, path: str) -> TrainConfig:
    """The TrainConfig of one run: the shared settings, this run's seed and the eval sets."""
    data = {**TRAIN_DEFAULTS, **settings.train, "steps": steps, "seed": seed,
            "eval_text": list(settings.eval_text), "eval_mc": list(settings.eval_mc)}
    data.setdefault("eval_every", max(1, steps // 10))
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([Problem(path, None, "ablate.train." + ".".join(str(p) for p in e["loc"]),
                                   f"{'unknown setting' if e['type'] == 'extra_forbidden' else e['msg']} "
                                   f"(got {e.get('input')!r})") for e in exc.errors()]) from None
