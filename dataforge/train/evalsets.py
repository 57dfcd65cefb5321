"""Evaluation sets that do not depend on any variant's data: reference text and multiple-choice tasks.

Two kinds, each read and checked up front (a bad file is a ConfigError naming file and line,
before any training starts):

* **text**: a UTF-8 file scored as one document. Reported: ``loss`` (nats per token) and
  **bits per byte**, ``bpb = total NLL in nats / (ln 2 * UTF-8 bytes of the text)``, which
  does not depend on the tokenizer, so models with different vocabularies compare. Every
  token is scored once, in windows of the model's context, the first predicted from EOS
  (lm-evaluation-harness ``loglikelihood_rolling``).
* **mc**: JSONL, one question a line: ``query`` (or ``question``), ``choices`` (list of
  strings), ``gold`` (or ``label`` / ``answer``: the index of the right choice). Scored as
  lm-evaluation-harness scores ARC (``MultipleChoiceTask``): context ``"<query>\\nAnswer:"``,
  continuation ``" <choice>"``; the choice with the highest summed log-probability of its
  continuation tokens is the model's answer (``acc``), and ``acc_norm`` divides that sum by
  the choice's length in characters first (Gao 2021, "Multiple Choice Normalization in LM
  Evaluation"). ``chance`` is the mean of 1 / number of choices over the questions.

The scoring here is plain arithmetic over a ``Scorer`` (anything that encodes text and returns
log-probabilities of given tokens), so it is tested on models built to have known answers;
``evaluate.py`` is the GPT's scorer. No torch here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeAlias

import numpy as np

from ..errors import ConfigError, Problem

#: problems listed before the rest of a bad file is summarised
_SHOWN = 10
#: a reference text (``eval_text``) or a multiple-choice task (``eval_mc``)
EvalKind: TypeAlias = Literal["text", "mc"]


@dataclass(frozen=True)
class Question:
    context: str
    choices: tuple[str, ...]
    gold: int
    line: int


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set: a reference text or a multiple-choice task, read and checked."""

    name: str
    path: str
    kind: EvalKind
    text: str = ""
    questions: tuple[Question, ...] = field(default=(), repr=False)

    @property
    def chance(self) -> float:
        """Accuracy of guessing: the mean of 1 / choices over the questions (from the data, not assumed)."""
        return float(np.mean([1.0 / len(q.choices) for q in self.questions])) if self.questions else math.nan


class Scorer(Protocol):
    """What evaluation needs from a model."""

    context: int  # longest input the model takes
    eos_id: int

    def encode(self, text: str) -> list[int]: ...

    def logprobs(self, sequences: Sequence[Sequence[int]], starts: Sequence[int]) -> list[np.ndarray]:
        """For each sequence s and start k >= 1: log p(s[t] | s[:t]) for t in k..len(s)-1."""
        ...


def load_eval_set(path: str | Path, *, kind: EvalKind, name: str | None = None,
                  limit: int | None = None) -> EvalSet:
    """Read and check one evaluation file. ``limit`` keeps the first N questions of an mc file."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(where, None, "", f"cannot read the evaluation file ({exc.strerror or exc})")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(where, raw.count(b"\n", 0, exc.start) + 1, "",
                                   f"not UTF-8 (byte {exc.start}); evaluation files are UTF-8 text")]) from None
    name = name or Path(path).stem
    if kind == "text":
        if not text.strip():
            raise ConfigError([Problem(where, None, "", "the reference text is empty")])
        return EvalSet(name=name, path=where, kind="text", text=text)
    questions = _questions(text, where)
    return EvalSet(name=name, path=where, kind="mc", questions=tuple(questions[:limit] if limit else questions))


def _questions(text: str, where: str) -> list[Question]:
    out, problems = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_question(json.loads(line), lineno))
        except (ValueError, TypeError) as exc:
            problems.append(Problem(where, lineno, "", str(exc) if not isinstance(exc, json.JSONDecodeError)
                                    else f"not a JSON object ({exc.msg})"))
    if problems:
        more = len(problems) - _SHOWN
        shown = problems[:_SHOWN] + ([Problem(where, None, "", f"and {more} more bad lines")] if more > 0 else [])
        raise ConfigError(shown)
    if not out:
        raise ConfigError([Problem(where, None, "", "no questions (one JSON object a line: query, choices, gold)")])
    return out


def _question(row: object, lineno: int) -> Question:
    if not isinstance(row, dict):
        raise TypeError(f"expected a JSON object, got {type(row).__name__}")
    query = row.get("query", row.get("question"))
    if not isinstance(query, str) or not query.strip():
        raise ValueError("no 'query' (or 'question') string")
    choices = row.get("choices")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        raise ValueError(f"'choices' must be a list of two or more non-empty strings, got {choices!r}"[:200])
    gold = next((row[k] for k in ("gold", "label", "answer") if k in row), None)
    if not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold < len(choices):
        raise ValueError(f"'gold' must be the index of the right choice (0 to {len(choices) - 1}), got {gold!r}")
    return Question(context=f"{query}\nAnswer:", choices=tuple(choices), gold=gold, line=lineno)


def eval_sets_from(text: Sequence[str], mc: Sequence[str]) -> list[EvalSet]:
    """EvalSets for the given text and multiple-choice files (each checked; a bad one is a ConfigError)."""
    return unique_names([load_eval_set(p, kind="text") for p in text] + [load_eval_set(p, kind="mc") for p in mc])


def unique_names(sets: list[EvalSet]) -> list[EvalSet]:
    """The same sets, names made unique (``wiki``, ``wiki-2``) so their metric keys do not collide."""
    seen: dict[str, int] = {}
    out = []
    for s in sets:
        n = seen[s.name] = seen.get(s.name, 0) + 1
        out.append(s if n == 1 else EvalSet(name=f"{s.name}-{n}", path=s.path, kind=s.kind, text=s.text,
                                            questions=s.questions))
    return out


def text_windows(ids: list[int], *, eos_id: int, context: int) -> list[list[int]]:
    """``[eos] + ids`` cut into windows of ``context + 1`` tokens overlapping by one: each token of ``ids``
    is a target exactly once, predicted from the tokens before it in its window."""
    seq = [eos_id] + ids
    return [seq[i:i + context + 1] for i in range(0, len(seq) - 1, context)]


def score_text(scorer: Scorer, es: EvalSet) -> dict[str, float]:
    """Loss per token and bits per byte of a reference text."""
    ids = scorer.encode(es.text)
    windows = text_windows(ids, eos_id=scorer.eos_id, context=scorer.context)
    nll = -float(sum(lp.sum(dtype=np.float64) for lp in scorer.logprobs(windows, [1] * len(windows))))
    n_bytes = len(es.text.encode("utf-8"))
    return {"loss": nll / max(len(ids), 1), "bpb": nll / (math.log(2) * n_bytes), "tokens": float(len(ids)),
            "bytes": float(n_bytes)}


def continuation_tokens(scorer: Scorer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as the harness splits them: the whole string encoded, the context's
    tokens cut off the front (BPE merges across the boundary otherwise); an empty context becomes EOS."""
    ctx = scorer.encode(context)
    whole = scorer.encode(context + continuation)
    cont = whole[len(ctx):] if whole[:len(ctx)] == ctx and len(whole) > len(ctx) else scorer.encode(continuation)
    return (ctx or [scorer.eos_id]), cont


def score_mc(scorer: Scorer, es: EvalSet) -> dict[str, float]:
    """acc, acc_norm and chance of a multiple-choice set."""
    sequences, starts = [], []
    for q in es.questions:
        for choice in q.choices:
            ctx, cont = continuation_tokens(scorer, q.context, " " + choice)
            seq = (ctx + cont)[-(scorer.context + 1):]  # keep the end: the continuation and what leads to it
            sequences.append(seq)
            starts.append(max(len(seq) - len(cont), 1))
    sums = np.array([lp.sum(dtype=np.float64) for lp in scorer.logprobs(sequences, starts)])
    acc = norm = at = 0
    for q in es.questions:
        lls = sums[at:at + len(q.choices)]
        at += len(q.choices)
        lengths = np.array([float(len(c)) for c in q.choices])
        acc += int(np.argmax(lls) == q.gold)
        norm += int(np.argmax(lls / lengths) == q.gold)
    n = len(es.questions)
    return {"acc": acc / n, "acc_norm": norm / n, "chance": es.chance, "questions": float(n)}


def score(scorer: Scorer, sets: list[EvalSet]) -> dict[str, float]:
    """``{"<set>/<metric>": value}`` for every set."""
    out: dict[str, float] = {}
    for es in unique_names(sets):
        metrics = score_text(scorer, es) if es.kind == "text" else score_mc(scorer, es)
        out.update({f"{es.name}/{k}": v for k, v in metrics.items()})
    return out
