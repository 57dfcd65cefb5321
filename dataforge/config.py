"""Pipeline files: YAML -> typed, validated models, before any input is opened.

Every problem is collected, not only the first, each with ``file:line``, the key path,
what is wrong and a fix::

    pipelines/x.yaml:7: stages[1].gopher_quality: unknown option 'min_word' (did you mean 'min_words'?)
    pipelines/x.yaml:3: inputs.web.paths: 'data/cc/*.warc.gz' matches no files

Line numbers come from the YAML node marks; suggestions from ``difflib``. The file is
parsed with the safe loader only: a pipeline file is data, never code.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash
from pydantic import BaseModel, Field, ValidationError

from . import registry
from .errors import ConfigError, Problem
from .io import apply_storage_options, expand_glob
from .lang.defaults import LANGUAGE_LOSS_WARNING
from .outputs import OutputNotOwned, check_claimable
from .pathcheck import output_problems
from .stage import Params, safe_name
from .tokenize.encode import load_tokenizer, vocab_size
from .train.config import TrainConfig
from .train.settings import check_train_config
from .yamlfile import Lines, load_yaml

TOP_LEVEL = ("name", "description", "seed", "output", "staging", "append", "executor", "storage_options",
             "language_loss_warning", "inputs", "stages", "train", "ablate")
#: keys that do not shape the output (not in the config hash: changing them recomputes nothing);
#: ablate: is read by `dataforge ablate` (dataforge/ablate/settings.py), which checks it
NOT_SHAPING = ("executor", "train", "description", "staging", "append", "storage_options", "language_loss_warning",
               "ablate")
INPUT_KEYS = ("reader", "paths", "weight", "tokens")


class ExecutorConfig(Params):
    kind: str = "local"  # "local" (worker processes) or "ray"
    workers: int | None = Field(None, ge=1, le=4096)  # local: worker processes; None = all cores
    address: str | None = None  # ray: cluster address ("auto" = an existing cluster)
    max_retries: int = Field(2, ge=0, le=100)  # attempts after the first when a task's worker dies
    cpus_per_task: float = Field(1.0, gt=0, le=1024)  # ray: CPUs each task declares
    # ray: bytes of memory each task declares (None = no reservation)
    memory_per_task: int | None = Field(None, ge=1 << 20, le=1 << 50)
    num_cpus: int | None = Field(None, ge=1, le=4096)  # ray without address: CPUs of the local instance it starts
    # a bigger input file is split into tasks of about this many bytes, at record boundaries
    # (readers' split()); the output is the same bytes whatever the split. Our choice: big
    # enough that a task's fixed costs vanish, small enough that one 20 GB dump keeps 64 workers busy
    task_bytes: int = Field(256 << 20, ge=1 << 10, le=1 << 50)


@dataclass
class InputSpec:
    name: str
    reader: str
    reader_cls: Any
    reader_params: Params
    patterns: list[str]
    files: list[str]
    weight: float | None = None
    tokens: int | None = None


@dataclass
class StageSpec:
    name: str
    label: str  # unique within the pipeline: "<index>:<name>"
    cls: Any
    params: Params
    line: int | None = None
    sources: list[str] | None = None  # run only on documents of these inputs (None = all)
    index: int = -1  # position in the pipeline file's stage list (keys and lines of its problems)

    def applies_to(self, source: str) -> bool:
        return self.sources is None or source in self.sources


@dataclass
class PipelineConfig:
    path: str
    name: str
    seed: int
    output: Path
    executor: ExecutorConfig
    inputs: list[InputSpec]
    stages: list[StageSpec]
    train: Any = None  # dataforge.train.config.TrainConfig when a train: section is present
    raw: dict[str, Any] = field(default_factory=dict)
    storage_options: dict[str, dict[str, Any]] | None = None  # fsspec defaults per protocol, for every process
    # warn when a stage drops more than this share of a language's documents (lang/defaults.py)
    language_loss_warning: float = 0.5
    publish_url: str | None = None  # output: was a URL; the run builds in `output` (local staging), then uploads
    append: bool = False  # cron mode: process only inputs not in the output's manifest; append shards

    def config_hash(self) -> str:
        """Hash of everything that shapes the output (not the executor, not train:)."""
        shaping = {k: v for k, v in self.raw.items() if k not in NOT_SHAPING}
        blob = json.dumps(shaping, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def stage(self, name: str) -> StageSpec | None:
        return next((s for s in self.stages if s.name == name), None)


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (choose from: {', '.join(sorted(choices))})"


class _Collector:
    def __init__(self, path: str, lines: Lines) -> None:
        self.path, self.lines = path, lines
        self.problems: list[Problem] = []

    def add(self, keypath: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(self.path, self.lines.line(*keypath), _fmt_key(keypath), message))

    def model(self, cls: type[BaseModel], data: Any, keypath: tuple[str | int, ...]) -> Any:
        """Validate ``data`` into ``cls``; turn pydantic errors into located problems."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.add(keypath, f"expected a mapping of options, got {type(data).__name__} {data!r}")
            return None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                if err["type"] == "extra_forbidden":
                    bad = str(loc[-1])
                    fields = list(cls.model_fields)
                    self.add(keypath + loc, f"unknown option '{bad}'{_suggest(bad, fields)}")
                else:
                    got = err.get("input")
                    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
                    self.add(keypath + loc, f"{msg} (got {got!r})")
            return None


def _fmt_key(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def read_pipeline_mapping(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Lines]:
    """A pipeline file's top-level mapping, not yet validated, and its line map (ConfigError
    naming the file when it cannot be read, is not YAML, or is not a mapping)."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: pipeline file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read pipeline file ({exc})") from None
    raw, lines = load_yaml(text, path=path)
    if not isinstance(raw, dict):
        raise ConfigError([Problem(path, 1, "", "a pipeline file must be a mapping with inputs: and stages:")])
    return raw, lines


def load_pipeline(path: str | os.PathLike[str], *, check_files: bool = True,
                  output: str | None = None) -> PipelineConfig:
    """Parse and validate a pipeline file (``output`` overrides its ``output:``, checked
    like it). Raises ConfigError listing every problem."""
    path = str(path)
    raw, lines = read_pipeline_mapping(path)
    if output is not None:
        raw["output"] = output
    return validate(raw, path=path, lines=lines, check_files=check_files)


def validate(raw: dict[str, Any], *, path: str, lines: Lines | None = None, check_files: bool = True) -> PipelineConfig:
    c = _Collector(path, lines or Lines(None))
    for key in raw:
        if key not in TOP_LEVEL:
            c.add((key,), f"unknown key '{key}'{_suggest(str(key), TOP_LEVEL)}")
    for key in ("output", "inputs", "stages"):
        if key not in raw:
            c.add((), f"missing required key '{key}'")

    name = str(raw.get("name") or Path(path).stem)
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        c.add(("seed",), f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
        seed = 0
    output = raw.get("output")
    if "output" in raw and (not isinstance(output, str) or not output.strip()):
        c.add(("output",), f"output must be a folder path, got {output!r} (e.g. output: out/{Path(path).stem})")
        output = None
    executor = c.model(ExecutorConfig, raw.get("executor") or {}, ("executor",)) or ExecutorConfig()
    if executor.kind not in ("local", "ray"):
        c.add(("executor", "kind"), f"unknown executor '{executor.kind}'{_suggest(executor.kind, ('local', 'ray'))}")
    if executor.workers is not None and executor.workers < 1:
        c.add(("executor", "workers"), f"workers must be >= 1, got {executor.workers}")

    loss = raw.get("language_loss_warning", LANGUAGE_LOSS_WARNING)
    if isinstance(loss, bool) or not isinstance(loss, (int, float)) or not 0 < loss <= 1:
        c.add(("language_loss_warning",), f"language_loss_warning must be a share in (0, 1], got {loss!r} "
              f"(default {LANGUAGE_LOSS_WARNING}: warn when a stage drops more than half of a language)")
        loss = LANGUAGE_LOSS_WARNING
    storage = raw.get("storage_options")
    if storage is not None and (not isinstance(storage, dict) or
                                not all(isinstance(k, str) and isinstance(v, dict) for k, v in storage.items())):
        c.add(("storage_options",), "storage_options maps a protocol to fsspec options, e.g. "
              "{s3: {endpoint_url: 'http://127.0.0.1:9000'}}")
        storage = None
    apply_storage_options(storage)  # the globs below may be URLs on that store
    inputs = _inputs(c, raw.get("inputs"), check_files=check_files)
    stages = _stages(c, raw.get("stages"), check_files=check_files, input_names=[i.name for i in inputs])
    _check_writes(c, stages)
    for spec in stages:
        why = spec.cls.check_run_seed(spec.params, seed)
        if why:
            c.add(("seed",), f"{why} (stage {spec.label})")
    _check_order(c, stages, _stage_names(raw.get("stages")))
    _check_mix(c, stages, inputs)
    train = _train(c, raw.get("train"), stages=stages, check_files=check_files)

    staging = raw.get("staging")
    if staging is not None and not isinstance(staging, str):
        c.add(("staging",), f"staging must be a local folder path, got {staging!r}")
        staging = None
    publish_url = None
    local_output = Path(str(output))
    if isinstance(output, str) and "://" in output:
        publish_url = output
        local_output = staging_dir(output, name, staging)
    append = raw.get("append", False)
    if not isinstance(append, bool):
        c.add(("append",), f"append must be true or false, got {append!r}")
    if append is True and not any(s.name == "tokenize" for s in stages):
        c.add(("append",), "append: true adds shards to an earlier run's output; add a 'tokenize' stage")
    if isinstance(output, str) and check_files:
        _check_output(c, local_output, path=path, inputs=inputs)
    if c.problems:
        raise ConfigError(c.problems)
    return PipelineConfig(path=path, name=name, seed=seed, output=local_output, executor=executor,
                          inputs=inputs, stages=stages, train=train, raw=raw, publish_url=publish_url,
                          storage_options=storage, language_loss_warning=float(loss),
                          append=append is True)


def staging_dir(url: str, name: str, staging: str | None) -> Path:
    if staging:
        return Path(staging)
    key = xxhash.xxh64(url.encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "dataforge" / "staging" / f"{name}-{key}"


def _inputs(c: _Collector, raw: Any, *, check_files: bool) -> list[InputSpec]:
    out: list[InputSpec] = []
    if raw is None:
        return out
    if not isinstance(raw, dict) or not raw:
        c.add(("inputs",), "inputs must be a non-empty mapping: name -> {reader: ..., paths: ...}")
        return out
    readers = registry.table("readers")
    for name, spec in raw.items():
        key = ("inputs", name)
        if safe_name(str(name)) != str(name):
            c.add(key, f"input name '{name}' may use only letters, digits, '-', '_', '.' (it names files)")
        if not isinstance(spec, dict):
            c.add(key, "expected a mapping with reader: and paths:")
            continue
        reader = spec.get("reader")
        if reader is None:
            c.add(key, f"missing 'reader' (one of: {', '.join(readers)})")
            continue
        if reader not in readers:
            c.add(key + ("reader",), f"unknown reader '{reader}'{_suggest(str(reader), tuple(readers))}")
            continue
        try:
            cls = registry.resolve(readers, reader)
        except (ImportError, AttributeError) as exc:
            c.add(key + ("reader",), f"reader '{reader}' is not available in this install ({exc})")
            continue
        opts = {k: v for k, v in spec.items() if k not in INPUT_KEYS}
        params = c.model(cls.Params, opts, key)
        patterns = spec.get("paths")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns or not all(isinstance(p, str) for p in patterns):
            c.add(key + ("paths",), "paths must be a glob string or a list of them")
            continue
        files: list[str] = []
        for pat in patterns:
            matched = expand_glob(pat)
            if not matched and check_files:
                c.add(key + ("paths",), f"'{pat}' matches no files (relative to {os.getcwd()})")
            files.extend(m for m in matched if m not in files)
        weight, tokens = spec.get("weight"), spec.get("tokens")
        if weight is not None and (not isinstance(weight, (int, float)) or isinstance(weight, bool)
                                   or not math.isfinite(weight) or weight < 0):
            c.add(key + ("weight",), f"weight must be a finite number >= 0, got {weight!r}")
            weight = None
        if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 <= tokens < 2**62):
            c.add(key + ("tokens",), f"tokens must be a whole number >= 0, got {tokens!r}")
            tokens = None
        if params is not None:
            out.append(InputSpec(name=str(name), reader=reader, reader_cls=cls, reader_params=params,
                                 patterns=list(patterns), files=files, weight=weight, tokens=tokens))
    return out


def _stages(c: _Collector, raw: Any, *, check_files: bool, input_names: list[str]) -> list[StageSpec]:
    out: list[StageSpec] = []
    if raw is None:
        return out
    if not isinstance(raw, list):
        c.add(("stages",), "stages must be a list of '- name: {options}' items")
        return out
    stages = registry.table("stages")
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            c.add(("stages", i), "each stage is one mapping '- name: {options}'")
            continue
        (name, opts), = item.items()
        key: tuple[str | int, ...] = ("stages", i, name)
        if name not in stages:
            c.add(key, f"unknown stage '{name}'{_suggest(str(name), tuple(stages))}")
            continue
        try:
            cls = registry.resolve(stages, name)
        except (ImportError, AttributeError) as exc:
            c.add(key, f"stage '{name}' is not available in this install ({exc})")
            continue
        sources = None
        if isinstance(opts, dict) and "sources" in opts:
            opts = dict(opts)
            sources = _stage_sources(c, opts.pop("sources"), key + ("sources",), input_names)
            if getattr(cls, "barrier", False) or name in registry.TERMINAL:
                c.add(key + ("sources",), f"'{name}' works on the whole corpus; 'sources:' is for streaming stages")
        params = c.model(cls.Params, opts, key)
        if params is None:
            continue
        if check_files:
            for sub, message in cls.check(params):
                # "references.0.path" -> ("references", 0, "path"): printed references[0].path, its line found
                parts = tuple(int(x) if x.isdigit() else x for x in sub.split(".")) if sub else ()
                c.add(key + parts, message)
        out.append(StageSpec(name=name, label=f"{i}:{name}", cls=cls, params=params, line=c.lines.line(*key), index=i,
                             sources=sources))
    return out


def _stage_sources(c: _Collector, value: Any, key: tuple[str | int, ...], names: list[str]) -> list[str] | None:
    """``sources: [web, c4]`` on any streaming stage: apply it to those inputs only."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        c.add(key, f"sources must be a list of input names, got {value!r}")
        return None
    for v in value:
        if v not in names:
            c.add(key, f"'{v}' is not an input{_suggest(v, tuple(names))}")
    return list(value)


#: what a run itself writes at the top of its output: a write stage may not use these names
RESERVED = ("shards", "_work", "logs", "rejected", "dedup", "train", "manifest.json", "stats.json",
            "tokenizer.json", "report.html", "decontamination", "ablate")


def _check_writes(c: _Collector, stages: list[StageSpec]) -> None:
    """Two stages that would write the same files, or a write into the run's own folders."""
    first: dict[str, int] = {}
    for i, s in enumerate(stages):
        folder = getattr(s.params, "path", None) if s.name == "write" else None
        if folder is None:
            continue
        name = safe_name(folder)
        if name in RESERVED:
            c.add(("stages", i, s.name, "path"), f"'{folder}' is where the run writes its own {name}; "
                  "give this write stage another path, e.g. path: documents")
        elif name in first:
            c.add(("stages", i, s.name, "path"), f"stage {first[name]} writes to '{folder}' too: both would write "
                  f"the same files; give one of them another path, e.g. path: {name}-{i}")
        else:
            first[name] = i


def _check_output(c: _Collector, output: Path, *, path: str, inputs: list[InputSpec]) -> None:
    for keypath, message in output_problems(output, pipeline_path=path,
                                            patterns={i.name: i.patterns for i in inputs},
                                            files={i.name: i.files for i in inputs}):
        c.add(keypath, message)
    try:
        check_claimable(output, "pipeline")
    except OutputNotOwned as exc:
        c.add(("output",), str(exc))


def _stage_names(raw: Any) -> list[str]:
    """The stage names the file lists, valid or not (an invalid stage is still there)."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            out.append(str(next(iter(item))))
    return out


def _check_order(c: _Collector, stages: list[StageSpec], names: list[str]) -> None:
    """mix and tokenize come last, in that order, once each (positions from the file)."""
    for s in stages:
        i = s.index
        if s.name in registry.TERMINAL:
            if any(n not in registry.TERMINAL for n in names[i + 1:]):
                c.add(("stages", i, s.name), f"'{s.name}' must come after every other stage (it runs in the final phase)")
            if names.index(s.name) != i:
                c.add(("stages", i, s.name), f"'{s.name}' may appear only once")
    terminal = [n for n in names if n in registry.TERMINAL]
    if terminal == ["tokenize", "mix"]:
        c.add(("stages", names.index("mix"), "mix"), "'mix' must come before 'tokenize'")
    if "mix" in names and "tokenize" not in names:
        c.add(("stages", names.index("mix"), "mix"), "'mix' counts tokens: add a 'tokenize' stage after it")


def _check_mix(c: _Collector, stages: list[StageSpec], inputs: list[InputSpec]) -> None:
    mix = next((s for s in stages if s.name == "mix"), None)
    if mix is None or not hasattr(mix.cls, "check_inputs"):
        return
    for sub, message in mix.cls.check_inputs(mix.params, inputs):
        parts = tuple(sub.split("."))
        if parts[:2] == ("stages", "mix"):  # at the mix stage's own line and key
            parts = ("stages", mix.index, "mix") + parts[2:]
        c.add(parts, message)


def _train(c: _Collector, raw: Any, *, stages: list[StageSpec], check_files: bool) -> Any:
    """The ``train:`` section: its settings, and (with ``check_files``) what only this machine
    and the tokenize stage can answer (a device that is not here, a vocabulary smaller than
    the tokenizer's, evaluation files), so a run never fails after writing every shard."""
    if raw is None:
        return None
    cfg = c.model(TrainConfig, raw, ("train",))
    if cfg is None or not check_files:
        return cfg
    for key, message in check_train_config(cfg, tokenizer_vocab=_tokenizer_vocab(stages)):
        parts = tuple(int(x) if x.isdigit() else x for x in key.replace("[", ".").replace("]", "").split(".")) \
            if key else ()
        c.add(("train",) + parts, message)
    return cfg


def _tokenizer_vocab(stages: list[StageSpec]) -> int | None:
    """The vocabulary the shards will have: the tokenize stage's tokenizer.json, or the size it trains."""
    spec = next((s for s in stages if s.name == "tokenize"), None)
    params = getattr(spec, "params", None)
    if params is None:
        return None
    if getattr(params, "train", None) is not None:
        return int(params.train.vocab_size)
    try:
        return vocab_size(load_tokenizer(str(params.tokenizer)))
    except Exception:  # a bad tokenizer is the tokenize stage's own problem, reported at its key
        return None
