"""Every option of every params model, fed its bounds and hostile values, is refused by
``dataforge validate`` with file:line and its key, or runs to a written output (issue 13).

For each target (a registered stage or reader, the executor, tokenize and its ``train:``,
mix, the pipeline's own numbers, the trainer's settings) every option from
``test_hostile_options.options`` gets every value of ``values``. Then:

* validation, in-process through click's CliRunner: exit 0, or exit 2 where each problem
  of the case names its key path (``stages[3].c4.max_word_length``) and a line of the
  file on that path; never a traceback. Cases of one streaming stage, barrier or reader
  share a file (each in its own stage entry or input: problems are keyed by index);
* a real ``dataforge run`` (in-process, 1 worker) of every case that validated: exit 0
  with a manifest whose shards hold tokens from the case's documents, or exit 1/2 with
  one error line; never a traceback, never exit 0 with nothing written. Streaming stages
  and readers run up to ``GROUP`` cases at once (stage ``i`` only on input ``s<i>``
  through ``sources:``); a group that fails, or a case whose input wrote no token in it,
  is run again alone and judged alone.

``KNOWN`` lists what the test finds in files this test's author may not change, with
the owner: reported (not failed) until fixed. The options x values tried are printed at
the end of the session.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import BaseModel

from dataforge import registry
from dataforge.cli import main
from dataforge.config import ExecutorConfig

from test_hostile_options import Option, fmt_key, options, set_path, values  # noqa: I001 (same folder)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
DOCS = 10  # documents per input
GROUP = 25  # cases per grouped run of a streaming stage or reader
CHAIN = 6  # cases per grouped run of a barrier (one stage after the other)
TOKENIZE = {"tokenizer": "{tokenizer}", "seq_len": 64, "shard_tokens": 4096}


@dataclass
class Target:
    """What is walked, the options that make its defaults valid, and the documents it reads."""

    id: str
    kind: str  # stage | barrier | reader | executor | tokenize | mix | pipeline | train
    model: type[BaseModel] | None
    name: str = ""  # registry name of a stage or reader
    base: dict[str, Any] = field(default_factory=dict)
    # extra base options for the options under a first path component (per_language: language: fr)
    under: dict[str, dict[str, Any]] = field(default_factory=dict)
    input: dict[str, Any] | None = None  # the input its documents come from (None: 20 C4 pages)
    keys: dict[str, str] = field(default_factory=dict)  # the key used for a dict field
    solo: bool = False  # validate and run each case alone
    todo: str = ""  # runs not done here, with the owner
    extra: list[Option] = field(default_factory=list)  # options without a params model (top-level keys)

    def options(self) -> list[Option]:
        walked = options(self.model, dict_keys={"per_language": "en", **self.keys}) if self.model else []
        return walked + self.extra

    def case_options(self, opt: Option, value: Any) -> dict[str, Any]:
        base = dict(self.base)
        first = str(opt.path[0])
        base.update(self.under.get(first, {}))
        for k in self.under.get(first, {}).get("__drop__", []):
            base.pop(k, None)
        base.pop("__drop__", None)
        return set_path(base, opt, value)


C4 = {"reader": "jsonl", "paths": "{c4}"}
LANG = {"per_language": {"language": "en"}}  # the C4 pages are English: the block applies to them


def _stage_targets() -> list[Target]:
    dups = {"reader": "jsonl", "paths": "{dups}"}
    bloom = {"bloom_fp_rate": {"method": "bloom"}, "bloom_capacity": {"method": "bloom"}}
    redact = {"mode": "redact"}
    # "under": options that only act in a mode get that mode (quality_classifier's
    # top_fraction needs threshold unset, perplexity's cut-offs need buckets, ...)
    special: dict[str, dict[str, Any]] = {
        "extract_html": {"input": {"reader": "text", "paths": "{html}"}, "base": {"isolation": "inline"},
                         "under": {"isolation": {"__drop__": ["isolation"]}}},
        "write": {"solo": True},
        "langid": {"base": {"languages": ["en"]}},
        "code_quality": {"input": {"reader": "jsonl", "paths": "{code}"}},
        "decontaminate": {"base": {"references": [{"name": "arc", "path": "{arc}"}]},
                          "under": {"redact_margin": redact, "min_piece_chars": redact, "max_pieces": redact}},
        "url_filter": {"base": {"domain_files": ["{blocklist}"], "soft_banned_words": ["free", "casino"]}},
        "quality_classifier": {"base": {"model": "{quality}", "threshold": 0.1},
                               "under": {"top_fraction": {"__drop__": ["threshold"]},
                                         "calibration_docs": {"__drop__": ["threshold"], "top_fraction": 0.5}}},
        "perplexity": {"base": {"model": "{ppl_model}", "max_tokens": 32},
                       "under": {"bucket_cutoffs": {"buckets": True}, "calibration_docs": {"buckets": True}}},
        "c4_badwords": {"base": {"lists": "{badwords}"}, "under": {"seed": {"keep_fraction": 0.5}}},
        # documents without meta.lang are kept, so every case runs on the sample; a range needs values unset
        "select": {"base": {"key": "lang", "values": ["en"], "keep_missing": True},
                   "under": {"min": {"__drop__": ["values"]}, "max": {"__drop__": ["values"]}}},
        "exact_dedup": {"input": dups},
        "minhash_dedup": {"input": dups, "under": {"verify": {"threshold": 0.8}, "seed": {"hash": "datasketch"}}},
        "paragraph_dedup": {"input": dups, "base": {"min_words": 5}, "under": bloom},
        "sentence_dedup": {"input": dups, "base": {"min_words": 5}, "under": bloom},
    }
    out = []
    for name in registry.STAGES:
        if name in registry.TERMINAL:
            continue
        cls = registry.resolve(registry.STAGES, name)
        kind = "barrier" if cls.barrier else "stage"
        s = special.get(name, {})
        out.append(Target(name, kind, cls.Params, name=name, base=s.get("base", {}), input=s.get("input"),
                          under={**LANG, **s.get("under", {})}, solo=s.get("solo", False)))
    return out


def _reader_targets() -> list[Target]:
    inputs = {"jsonl": "{c4}", "parquet": "{parquet}", "text": "{wiki}", "warc": "{warc}", "wet": "{wet}",
              "instructions": "{alpaca}"}
    extra = {"warc": {"isolation": "inline"}}  # no extractor process per input (the isolation cases set their own)
    return [Target(f"reader:{n}", "reader", registry.resolve(registry.READERS, n).Params, name=n,
                   input={"reader": n, "paths": inputs[n], **extra.get(n, {})}) for n in registry.READERS]


def _train_model() -> type[BaseModel] | None:
    try:
        from dataforge.train.config import TrainConfig
    except ImportError:
        return None
    return TrainConfig


TARGETS: list[Target] = [
    *_stage_targets(),
    *_reader_targets(),
    Target("executor", "executor", ExecutorConfig, base={"workers": 1}),
    Target("tokenize", "tokenize", registry.resolve(registry.STAGES, "tokenize").Params, base=dict(TOKENIZE),
           under={"train": {"__drop__": ["tokenizer"]}}),
    Target("mix", "mix", registry.resolve(registry.STAGES, "mix").Params, base={"target_tokens": 4000},
           keys={"weights": "c4"}),
    Target("pipeline", "pipeline", None, extra=[
        Option(("seed",), (("ge", 0), ("lt", 2**63)), True), Option(("language_loss_warning",), (("gt", 0), ("le", 1))),
        Option(("inputs", "c4", "weight"), (("ge", 0),)), Option(("inputs", "c4", "tokens"), (("ge", 0),), True)]),
    Target("train", "train", _train_model(), base={"steps": 1}, solo=True,
           todo="TODO(trainer owner, dataforge/train/): runs of train: values are not done here (a model per value)"),
]

#: what the test finds in files the author of this test may not change:
#: (target id or "reader:*", option key, words of the failure) -> the owner and the fix
KNOWN: list[tuple[str, str, str, str]] = []


def known(case: "Case", failure: str) -> str | None:
    for target, key, words, owner in KNOWN:
        if (target == case.target.id or (target.endswith("*") and case.target.id.startswith(target[:-1]))) and \
                key in (case.opt.key, "*") and words in failure:
            return owner
    return None


# ---- companions: small real inputs and models built from data/ ----------------------------------
@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return build_files(tmp_path_factory.mktemp("hostile-inputs"))


def build_files(root: Path) -> dict[str, str]:
    lines = (DATA / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    (root / "c4.jsonl").write_bytes(b"".join(lines[:DOCS]))
    (root / "c4b.jsonl").write_bytes(b"".join(lines[DOCS:2 * DOCS]))  # mix's second source
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(DATA / "web" / "fineweb-sample.parquet").slice(0, DOCS), root / "fineweb.parquet")
    (root / "dups.jsonl").write_bytes(b"".join(lines[:DOCS] + lines[:DOCS // 2]))  # exact duplicates
    code = (DATA / "code" / "github_sample_50.jsonl").read_bytes().splitlines(keepends=True)
    (root / "code.jsonl").write_bytes(b"".join(code[:20]))
    (root / "blocked.txt").write_text("example.com\n")
    with open(root / "alpaca.jsonl", "w", encoding="utf-8") as fh:  # Alpaca records from the bundled seed tasks
        for line in (DATA / "instructions" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines()[:20]:
            task = json.loads(line)
            fh.write(json.dumps({"id": task["id"], "instruction": task["instruction"],
                                 "input": task["instances"][0]["input"], "output": task["instances"][0]["output"]}) + "\n")
    html = root / "html"
    html.mkdir()
    for p in sorted((DATA / "html" / "zyte").glob("*.html.gz"))[:3]:
        shutil.copy(p, html / p.name)
    return {"c4": str(root / "c4.jsonl"), "dups": str(root / "dups.jsonl"), "code": str(root / "code.jsonl"),
            "blocklist": str(root / "blocked.txt"), "html": f"{html}/*.html.gz", "tokenizer": str(DATA / "tokenizer.json"),
            "arc": str(DATA / "benchmarks" / "arc_challenge.jsonl"), "quality": str(DATA / "quality" / "quality.ftz"),
            "badwords": str(DATA / "badwords" / "ldnoobw"), "parquet": str(root / "fineweb.parquet"),
            "wiki": str(DATA / "wiki" / "wiki_demo.txt"), "warc": str(DATA / "warc" / "whirlwind.warc.gz"),
            "wet": str(DATA / "warc" / "whirlwind.warc.wet.gz"),
            "alpaca": str(root / "alpaca.jsonl"), "c4b": str(root / "c4b.jsonl"), "ppl_model": _ppl_model(root)}


def _ppl_model(root: Path) -> str:
    """A dataforge run folder with an untrained 1-layer GPT and the bundled tokenizer (perplexity's model)."""
    try:
        import torch

        from dataforge.train.checkpoint import save_checkpoint
        from dataforge.train.model import GPT, GPTConfig
    except ImportError:
        return str(root / "no-torch")
    run = root / "ppl-run"
    run.mkdir()
    shutil.copy(DATA / "tokenizer.json", run / "tokenizer.json")
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=8192, context=32, n_layer=1, n_head=2, d_model=32)
    save_checkpoint(run, {"step": 0, "model": GPT(cfg).state_dict(), "optimizer": {}, "config": {},
                          "model_config": cfg.to_dict(), "rng": {}, "data": {}, "eos_id": 0,
                          "tokenizer": "tokenizer.json"})
    return str(run)


def _fill(obj: Any, paths: dict[str, str]) -> Any:
    if isinstance(obj, str) and obj.startswith("{") and obj.endswith("}") and obj[1:-1] in paths:
        return paths[obj[1:-1]]
    if isinstance(obj, dict):
        return {k: _fill(v, paths) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, paths) for v in obj]
    return obj


# ---- pipelines around cases ----------------------------------------------------------------------
@dataclass
class Case:
    target: Target
    opt: Option
    value: Any

    @property
    def label(self) -> str:
        return f"{self.target.id} {self.opt.key}={self.value!r}"

    def options(self) -> dict[str, Any]:
        return self.target.case_options(self.opt, self.value)


def pipeline(t: Target, cases: list[Case], out: Path, paths: dict[str, str]) -> tuple[dict[str, Any], list[tuple]]:
    """The pipeline file for ``cases`` of ``t`` and, per case, the YAML path to its options."""
    doc_input = _fill(t.input or C4, paths)
    tok = _fill(TOKENIZE, paths)
    p: dict[str, Any] = {"name": "hostile", "seed": 1, "output": str(out), "executor": {"workers": 1},
                         "inputs": {"c4": doc_input}, "stages": [{"tokenize": tok}]}
    opts = [_fill(c.options(), paths) for c in cases]
    if t.kind == "stage":
        p["inputs"] = {f"s{i}": doc_input for i in range(len(cases))}
        p["stages"] = [{t.name: {**o, "sources": [f"s{i}"]}} for i, o in enumerate(opts)] + [{"tokenize": tok}]
        return p, [("stages", i, t.name) for i in range(len(cases))]
    if t.kind == "barrier":  # one after the other; an index path given twice is one index, so once only
        p["stages"] = [{t.name: o} for o in opts] + [{"tokenize": tok}]
        return p, [("stages", i, t.name) for i in range(len(cases))]
    if t.kind == "reader":
        p["inputs"] = {f"r{i}": {**doc_input, **o} for i, o in enumerate(opts)}
        return p, [("inputs", f"r{i}") for i in range(len(cases))]
    (o,) = opts
    if t.kind == "executor":
        p["executor"] = o
        return p, [("executor",)]
    if t.kind == "tokenize":
        p["stages"] = [{"tokenize": o}]
        return p, [("stages", 0, "tokenize")]
    if t.kind == "mix":
        p["inputs"]["wiki"] = {"reader": "jsonl", "paths": paths["c4b"]}
        p["stages"] = [{"mix": o}, {"tokenize": tok}]
        return p, [("stages", 0, "mix")]
    if t.kind == "pipeline":  # with the stages that draw on the seed
        p["stages"] = [{"c4_badwords": {"lists": paths["badwords"], "keep_fraction": 0.5}},
                       {"minhash_dedup": {"hash": "datasketch"}}, {"tokenize": {**tok, "validation_fraction": 0.2}}]
        _merge(p, o)
        return p, [()]
    p["train"] = o
    return p, [("train",)]


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def write_pipeline(p: dict[str, Any], path: Path) -> list[str]:
    path.write_text(yaml.safe_dump(p, sort_keys=False, default_flow_style=False, allow_unicode=True))
    return path.read_text().splitlines()


def yaml_lines(root: yaml.Node, keypath: tuple) -> list[int]:
    """Line numbers of each node along ``keypath`` (PyYAML's own marks of the file's node tree)."""
    node = root
    got = [1]
    for key in keypath:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    got += [k.start_mark.line + 1, v.start_mark.line + 1]  # a block list starts on the next line
                    nxt = v
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
            got.append(nxt.start_mark.line + 1)
        if nxt is None:
            break
        node = nxt
    return got


PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?:(?P<key>[^\s]+): )?(?P<msg>.*)$")
# the same line as a terminal may show it: rich renders ":100:" and ":1234:" as emoji (KNOWN)
SHOWN = re.compile(r"^(?P<file>.+?\.yaml)(?::(?P<line>\d+):|(?P<emoji>[^\x00-\x7f]+)) (?:(?P<key>[^\s]+): )?(?P<msg>.*)$")


def traceback_of(r: Result) -> str | None:
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return f"{type(r.exception).__name__}: {str(r.exception)[:300]}"
    if "Traceback (most recent call last)" in r.output:
        return "a traceback in the output"
    return None


def _under(key: str, prefix: str) -> bool:
    """``key`` is ``prefix`` or a key inside it (``stages[1]`` is not inside ``stages[10]``)."""
    return prefix == "" or key == prefix or key.startswith(prefix + ".") or key.startswith(prefix + "[")


def _full_key(prefix: str, opt: Option) -> str:
    return opt.key if not prefix else prefix + ("" if opt.key.startswith("[") else ".") + opt.key


# ---- validation ----------------------------------------------------------------------------------
Failure = tuple[Case, str]


def validate_cases(t: Target, cases: list[Case], work: Path, paths: dict[str, str]) -> tuple[list[Case], list[Failure]]:
    """(the cases that validated, failures). Grouped where problems are keyed by index."""
    grouped = t.kind in ("stage", "barrier", "reader") and not t.solo
    valid: list[Case] = []
    failures: list[Failure] = []
    for n, group in enumerate([cases] if grouped else [[c] for c in cases]):
        got = _validate(t, group, work / f"v{n}.yaml", paths)
        if got is None:  # a traceback: find which case alone
            got = ([], [])
            for k, c in enumerate(group):
                alone = _validate(t, [c], work / f"v{n}-{k}.yaml", paths)
                alone = alone if alone is not None else ([], [(c, "validate raised (a traceback)")])
                got[0].extend(alone[0])
                got[1].extend(alone[1])
        valid += got[0]
        failures += got[1]
    return valid, failures


def _validate(t: Target, group: list[Case], file: Path, paths: dict[str, str]) -> tuple[list[Case], list[Failure]] | None:
    p, keypaths = pipeline(t, group, file.parent / "out-validate", paths)
    write_pipeline(p, file)
    r = CliRunner().invoke(main, ["validate", str(file)])
    if traceback_of(r):
        return None
    if r.exit_code == 0:
        return list(group), []
    if r.exit_code != 2:
        return [], [(c, f"validate exit {r.exit_code}: {r.output[-300:]}") for c in group]
    probs = [m for m in map(SHOWN.match, r.output.splitlines()) if m and m["file"] == str(file)]
    valid, failures, claimed = [], [], set()
    root = yaml.compose(file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for case, keypath in zip(group, keypaths):
        prefix = fmt_key(keypath)
        mine = [m for m in probs if _under(m["key"] or "", prefix)]
        claimed |= {id(m) for m in mine}
        if not mine:
            valid.append(case)
            continue
        full = _full_key(prefix, case.opt)
        leaf = next(str(x) for x in reversed(case.opt.path) if isinstance(x, str))
        lines = yaml_lines(root, keypath + case.opt.path)
        for m in mine:
            key = m["key"] or ""
            named = _under(key, full) or (_under(full, key) and leaf in m["msg"])
            if m["emoji"]:
                failures.append((case, f"file:line printed as an emoji: {m.group(0)}"))
            elif not named or int(m["line"]) not in lines:
                failures.append((case, f"refused, but not at {full} (lines {lines}): {m.group(0)}"))
    for m in probs:
        if id(m) not in claimed:
            failures.append((group[0], f"a problem about no case (the base options are wrong?): {m.group(0)}"))
    return valid, failures


# ---- runs ----------------------------------------------------------------------------------------
def _written(out: Path, source: str | None = None) -> bool:
    """The run's manifest lists shards that exist and hold tokens (of ``source``, when given)."""
    try:
        m = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if not all((out / m["shard_dir"] / s["path"]).is_file() for s in m["shards"]):
        return False
    if source is not None:
        return m.get("sources", {}).get(source, {}).get("tokens_realised", 0) > 0
    return sum(m["tokens"].values()) > 0


def _dropped_all(out: Path, label: str, source: str) -> bool:
    """The stage saw documents and kept none (alone, that run ends in exit 1 naming the stage: engine.py)."""
    try:
        counts = json.loads((out / "stats.json").read_text())["counts"][label][source]
    except (OSError, ValueError, KeyError):
        return False
    return counts.get("docs_in", 0) > 0 and counts.get("docs_out", 0) == 0


def judge(r: Result, out: Path) -> tuple[str, str | None]:
    """(outcome, failure or None) of a run of one case."""
    tb = traceback_of(r)
    if tb:
        return "traceback", f"run: traceback: {tb}"
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    if r.exit_code == 0:
        return ("ok", None) if _written(out) else ("empty", "run: exit 0 with nothing written")
    errors = [ln for ln in lines if ln.startswith("error:")]
    if r.exit_code in (1, 2) and len(errors) == 1 and lines[-1] == errors[0] and len(errors[0]) > len("error: "):
        return f"exit{r.exit_code}: " + errors[0][7:], None  # 2: refused by a check that needs the run (a model)
    if r.exit_code == 2 and len(lines) > 1 and all(PROBLEM.match(ln) for ln in lines[1:]):
        return "exit2: " + lines[-1], None
    return f"exit{r.exit_code}", f"run: exit {r.exit_code}: {r.output[-500:]}"


@dataclass
class Runs:
    runs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def record(self, case: Case, outcome: str, failure: str | None) -> None:
        kind = outcome.split(":")[0]
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1
        if ":" in outcome:
            self.messages.append(f"{case.label}: {outcome}")
        if failure:
            self.failures.append((case, failure))


def run_cases(t: Target, cases: list[Case], work: Path, paths: dict[str, str]) -> Runs:
    res = Runs()
    size = CHAIN if t.kind == "barrier" else GROUP if t.kind in ("stage", "reader") and not t.solo else 1
    if t.kind == "barrier":  # an index named twice in one pipeline is one index: those cases run alone
        alone = [c for c in cases if "index" in c.options()]
        cases = [c for c in cases if c not in alone]
        batches = [cases[i:i + size] for i in range(0, len(cases), size)] + [[c] for c in alone]
    else:
        batches = [cases[i:i + size] for i in range(0, len(cases), size)]
    for batch in batches:
        out = work / f"run{res.runs}"
        r = _run(t, batch, out, paths)
        res.runs += 1
        if len(batch) == 1:
            res.record(batch[0], *judge(r, out))
            continue
        source = {"stage": "s", "reader": "r"}.get(t.kind)
        ok = r.exit_code == 0 and traceback_of(r) is None
        for i, case in enumerate(batch):
            if ok and _written(out, f"{source}{i}" if source else None):
                res.record(case, "ok", None)
                continue
            if ok and t.kind == "stage" and _dropped_all(out, f"{i}:{t.name}", f"s{i}"):
                res.record(case, "exit1: (inferred) the stage dropped every document; alone, the run fails naming it", None)
                continue
            alone = work / f"run{res.runs}"
            res.runs += 1
            res.record(case, *judge(_run(t, [case], alone, paths), alone))
        shutil.rmtree(out, ignore_errors=True)
    return res


def _run(t: Target, batch: list[Case], out: Path, paths: dict[str, str]) -> Result:
    p, _ = pipeline(t, batch, out, paths)
    file = out.with_suffix(".yaml")
    write_pipeline(p, file)
    return CliRunner().invoke(main, ["run", str(file)])


# ---- the test ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    got: dict[str, Any] = {"options": 0, "cases": 0, "refused": 0, "validated": 0, "runs": 0, "outcomes": {},
                           "known": []}
    yield got
    if got["cases"]:
        rep = request.config.pluginmanager.get_plugin("terminalreporter")
        line = (f"params property: {got['options']} options x their values = {got['cases']} cases; "
                f"{got['refused']} refused by validate, {got['validated']} validated, run in {got['runs']} runs: "
                + ", ".join(f"{k} {v}" for k, v in sorted(got["outcomes"].items()))
                + (f"; known (owners' TODO): {len(got['known'])}" if got["known"] else ""))
        if rep is not None:
            rep.write_line(line)
        log = __import__("os").environ.get("DATAFORGE_PROPERTY_LOG")
        if log:
            Path(log).write_text(json.dumps(got, indent=1, default=str))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
def test_every_value_is_refused_at_its_key_or_runs(target: Target, files: dict[str, str], tmp_path: Path,
                                                   tally: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    if target.model is None and not target.extra:
        pytest.skip(f"{target.id}: not installed here")
    monkeypatch.chdir(tmp_path)  # relative paths among the values (index: x) land here
    # registry.plugins reads every installed distribution's entry points on each call
    # (~50 ms, twice per validate): read them once for the thousands of files here
    monkeypatch.setattr(registry, "plugins", functools.lru_cache(maxsize=None)(registry.plugins))
    opts = target.options()
    cases = [Case(target, o, v) for o in opts for v in values(o)]
    t0 = time.perf_counter()
    valid, failures = validate_cases(target, cases, tmp_path, files)
    t1 = time.perf_counter()
    runs = Runs() if target.todo else run_cases(target, valid, tmp_path, files)
    tally.setdefault("seconds", {})[target.id] = (round(t1 - t0, 1), round(time.perf_counter() - t1, 1), runs.runs)
    failures += runs.failures
    tally["options"] += len(opts)
    tally["cases"] += len(cases)
    tally["validated"] += len(valid)
    tally["refused"] += len(cases) - len(valid)
    tally["runs"] += runs.runs
    for k, v in runs.outcomes.items():
        tally["outcomes"][k] = tally["outcomes"].get(k, 0) + v
    tally.setdefault("messages", []).extend(runs.messages)
    tally["known"] += [f"{c.label}: {f} [{known(c, f)}]" for c, f in failures if known(c, f)]
    new = [f"{c.label}: {f}" for c, f in failures if not known(c, f)]
    tally.setdefault("failures", []).extend(new)
    assert not new, f"{len(new)} of {len(cases)} cases:\n" + "\n".join(new)


def test_every_registered_stage_and_reader_is_walked() -> None:
    walked = {(t.kind in ("reader",), t.name) for t in TARGETS if t.name}
    assert {(False, n) for n in registry.STAGES if n not in registry.TERMINAL} <= walked
    assert {(True, n) for n in registry.READERS} <= walked
    assert all(t.options() for t in TARGETS if t.model is not None)
