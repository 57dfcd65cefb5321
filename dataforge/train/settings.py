"""Train settings from a file and the command line, and the checks only this machine can answer.

``load_train_config`` reads a YAML file of train settings, or a pipeline file's ``train:``
section, with the line of every problem and a "did you mean" for unknown keys, then lays
command-line options over it. ``check_train_config`` checks what a schema cannot: the device
exists, the dtype runs on it, a compiler is there for ``compile``, the vocabulary holds the
tokenizer's, and the evaluation files read. ``dataforge validate`` (through the pipeline
loader) and every training run call the same function, so a run refuses what validate refused.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, Problem
from ..yamlfile import Lines, load_yaml
from .config import TrainConfig
from .evalsets import EvalKind, load_eval_set

#: option names on the command line, for messages about values given there
CLI_FLAG = {name: "--" + name.replace("_", "-") for name in TrainConfig.model_fields}


def load_train_config(config_file: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """TrainConfig from a YAML file (its keys, or a pipeline file's ``train:`` section) plus CLI options.

    ``overrides`` maps setting names to values given on the command line (None = not given)."""
    base: dict[str, Any] = {}
    lines: Lines | None = None
    prefix: tuple[str, ...] = ()
    source = str(config_file) if config_file else "command line"
    if config_file is not None:
        try:
            text = config_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([Problem(source, None, "", f"cannot read the settings file ({exc})")]) from None
        loaded, lines = load_yaml(text, path=source)  # line numbers; duplicate keys and alias bombs refused
        loaded = {} if loaded is None else loaded
        if not isinstance(loaded, dict):
            raise ConfigError([Problem(source, 1, "", "expected a mapping of train settings "
                                       "(key: value lines), or a pipeline file with a train: section")])
        if "train" in loaded:  # a pipeline file: only its train: section is ours
            prefix = ("train",)
            loaded = loaded["train"] if loaded["train"] is not None else {}
            if not isinstance(loaded, dict):
                raise ConfigError([Problem(source, lines.line("train"), "train", "expected a mapping of train settings")])
        base = loaded
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return TrainConfig.model_validate({**base, **given})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = loc[0] if loc else ""
            if key in given:
                where, line, shown = "command line", None, CLI_FLAG.get(key, key)
            else:
                where, line = source, lines.line(*prefix, *loc) if lines is not None else None
                shown = ".".join(prefix + loc)
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, list(TrainConfig.model_fields), n=1)
                message = f"unknown option '{key}'" + (f" (did you mean '{close[0]}'?)" if close else
                                                       " (see dataforge train --help for the settings)")
            else:
                message = f"{_plain(err['msg'])} (got {err.get('input')!r})" if loc else _plain(err["msg"])
            problems.append(Problem(where, line, shown, message))
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0))) from None


def _plain(msg: str) -> str:
    """pydantic's message without its 'Value error, ' prefix."""
    return msg.removeprefix("Value error, ")


def check_train_config(cfg: TrainConfig, *, tokenizer_vocab: int | None = None) -> list[tuple[str, str]]:
    """Problems with ``cfg`` on this machine, as (key, message) pairs; empty when it can run.

    ``tokenizer_vocab`` is the vocabulary of the tokenizer the shards are (or will be) made
    with, when known: a model vocabulary smaller than it cannot embed every token."""
    problems: list[tuple[str, str]] = []
    if tokenizer_vocab is not None and cfg.vocab_size is not None and cfg.vocab_size < tokenizer_vocab:
        problems.append(("vocab_size", f"{cfg.vocab_size} is smaller than the tokenizer's {tokenizer_vocab} tokens; "
                                       f"use vocab_size >= {tokenizer_vocab}, or leave it unset to follow the shards"))
    size = cfg.size
    if (size.d_model // size.n_head) % 2:
        problems.append(("model", f"{cfg.model}: head size {size.d_model // size.n_head} is odd; RoPE needs pairs"))
    problems += _eval_file_problems(cfg)
    if importlib.util.find_spec("torch") is None:
        problems.append(("", "training needs PyTorch, which is not installed: pip install 'dataforge[train]'"))
        return problems
    return problems + _device_problems(cfg)


def _eval_file_problems(cfg: TrainConfig) -> list[tuple[str, str]]:
    out = []
    files: tuple[tuple[str, EvalKind, list[str]], ...] = (("eval_text", "text", cfg.eval_text),
                                                         ("eval_mc", "mc", cfg.eval_mc))
    for key, kind, paths in files:
        for i, path in enumerate(paths):
            try:
                load_eval_set(path, kind=kind)
            except ConfigError as exc:
                out += [(f"{key}[{i}]", str(p).lstrip(": ")) for p in exc.problems]
    return out


def _device_problems(cfg: TrainConfig) -> list[tuple[str, str]]:
    import torch  # deferred: only when torch is installed and a run or validate asks

    from .device import cpu_bf16_native  # deferred: device imports torch

    name = cfg.device
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        kind = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    else:
        kind = name.split(":")[0]
    out = []
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if count == 0:
            out.append(("device", f"{name!r}: torch sees no CUDA GPU (torch {torch.__version__}); "
                                  "use device: cpu (or auto)"))
        elif index >= count:
            out.append(("device", f"{name!r}: there are {count} CUDA GPUs (cuda:0 to cuda:{count - 1})"))
        elif cfg.dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
            out.append(("dtype", "this GPU has no bfloat16; use dtype: float16 (loss-scaled) or auto"))
    if kind == "mps" and not mps:
        out.append(("device", "'mps': this machine has no Apple GPU; use device: cpu (or auto)"))
    if cfg.dtype == "float16" and kind != "cuda":
        out.append(("dtype", f"float16 needs a CUDA GPU (loss scaling); on {kind} use float32, or bfloat16"
                             + ("" if kind != "cpu" or cpu_bf16_native() else
                                " (this CPU has no native bfloat16, so float32 is the fast choice)")))
    if cfg.compile and kind == "cpu" and not any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "c++", "clang++")):
        out.append(("compile", "torch.compile on a CPU needs a C++ compiler (g++ or clang++) on PATH; "
                               "install one or set compile: false"))
    return out
