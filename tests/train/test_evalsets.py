"""Evaluation sets: bits per byte that no tokenizer moves, harness-style multiple choice, checked files."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from dataforge.errors import ConfigError
from dataforge.train.evalsets import (
    EvalSet,
    Question,
    continuation_tokens,
    eval_sets_from,
    load_eval_set,
    score,
    score_mc,
    score_text,
    text_windows,
)

TEXT = "Naïve café owners in 東京 sell crème brûlée.\nSecond line, with a tab\tand more.\n"


class ByteScorer:
    """A context-free model over bytes: log p(byte) from a table; tokens are single bytes, or pairs of
    bytes whose log-probability is the sum of the two (the same model, tokenized another way)."""

    context = 16
    eos_id = 256

    def __init__(self, logp: Callable[[int], float], *, pairs: bool = False) -> None:
        self.logp, self.pairs = logp, pairs

    def encode(self, text: str) -> list[int]:
        b = list(text.encode("utf-8"))
        if not self.pairs:
            return b
        return [b[i] * 257 + b[i + 1] + 1000 if i + 1 < len(b) else b[i] for i in range(0, len(b), 2)]

    def token_logp(self, t: int) -> float:
        if t >= 1000:
            return self.logp((t - 1000) // 257) + self.logp((t - 1000) % 257)
        return self.logp(t)

    def logprobs(self, sequences: Sequence[Sequence[int]], starts: Sequence[int]) -> list[np.ndarray]:
        return [np.array([self.token_logp(t) for t in s[k:]]) for s, k in zip(sequences, starts)]


def uniform(_: int) -> float:
    return -math.log(256)


def test_a_uniform_model_over_bytes_scores_exactly_8_bits_per_byte() -> None:
    result = score_text(ByteScorer(uniform), EvalSet(name="t", path="t", kind="text", text=TEXT))
    assert result["bytes"] == len(TEXT.encode("utf-8")) > len(TEXT)  # bytes, not characters
    assert result["tokens"] == result["bytes"]
    assert result["bpb"] == pytest.approx(8.0, abs=1e-12)


def test_bits_per_byte_do_not_depend_on_the_tokenization() -> None:
    rng = np.random.default_rng(0)
    table = np.log(rng.dirichlet(np.ones(256)))
    es = EvalSet(name="t", path="t", kind="text", text=TEXT * 3)
    singles = score_text(ByteScorer(lambda b: float(table[b])), es)
    pairs = score_text(ByteScorer(lambda b: float(table[b]), pairs=True), es)
    assert pairs["tokens"] == math.ceil(singles["tokens"] / 2) and pairs["bytes"] == singles["bytes"]
    assert pairs["bpb"] == pytest.approx(singles["bpb"], rel=1e-12)
    assert pairs["loss"] == pytest.approx(2 * singles["loss"], rel=0.02)  # per-token loss does move


def test_every_token_is_a_target_exactly_once() -> None:
    ids = list(range(1, 41))
    windows = text_windows(ids, eos_id=0, context=16)
    assert [len(w) for w in windows] == [17, 17, 9]
    assert [t for w in windows for t in w[1:]] == ids and windows[0][0] == 0  # the first from EOS
    assert text_windows([5], eos_id=0, context=16) == [[0, 5]]


def mc_set(questions: list[tuple[list[str], int]]) -> EvalSet:
    return EvalSet(name="mc", path="mc", kind="mc", questions=tuple(
        Question(context="Q:", choices=tuple(c), gold=g, line=i + 1) for i, (c, g) in enumerate(questions)))


def test_the_choice_a_model_prefers_is_its_answer() -> None:
    prefers_a = ByteScorer(lambda b: -0.1 if b == ord("a") else -3.0)
    es = mc_set([(["bbb", "aaa", "ccc"], 1), (["aaa", "bbb"], 0), (["ccc", "bbb", "ddd", "aaa"], 3)])
    assert score_mc(prefers_a, es)["acc"] == 1.0
    prefers_b = ByteScorer(lambda b: -0.1 if b == ord("b") else -3.0)
    assert score_mc(prefers_b, es)["acc"] == 0.0


def test_acc_norm_divides_by_the_choices_length_in_characters() -> None:
    # " aa" sums to -2 and " bbbbbb" to -3 (the space costs 0): acc takes the short one; per character
    # -2/2 = -1 against -3/6 = -0.5, so acc_norm takes the long one (lm-evaluation-harness)
    scorer = ByteScorer(lambda b: {ord("a"): -1.0, ord("b"): -0.5}.get(b, 0.0))
    result = score_mc(scorer, mc_set([(["aa", "bbbbbb"], 1)]))
    assert (result["acc"], result["acc_norm"]) == (0.0, 1.0)


def test_chance_is_computed_from_the_number_of_choices(data_dir: Path) -> None:
    assert mc_set([(["a", "b"], 0), (["a", "b", "c"], 0), (["a", "b", "c", "d"], 0)]).chance == \
        pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    arc = load_eval_set(data_dir / "benchmarks" / "arc_challenge.jsonl", kind="mc")
    assert len(arc.questions) == 1172 and arc.chance == 0.25  # ARC-Challenge test: four choices each
    assert arc.questions[0].context.startswith("Question: ") and arc.questions[0].context.endswith("\nAnswer:")


def test_continuations_are_split_off_the_whole_encoding_as_the_harness_does(tokenizer: Tokenizer) -> None:
    class Real:
        context, eos_id = 64, 0

        def encode(self, text: str) -> list[int]:
            return tokenizer.encode(text).ids

    ctx, cont = continuation_tokens(Real(), "Question: What is the capital of France?\nAnswer:", " Paris")
    assert ctx + cont == tokenizer.encode("Question: What is the capital of France?\nAnswer: Paris").ids
    assert tokenizer.decode(cont) == " Paris"

    class Merging:  # ':' and ' ' merge into one token across the boundary
        context, eos_id = 64, 0

        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text.replace(": ", "\x01")]

    ctx, cont = continuation_tokens(Merging(), "A:", " b")
    assert ctx == [ord("A"), ord(":")] and cont == [ord(" "), ord("b")]  # the continuation encoded alone
    assert continuation_tokens(Merging(), "", "b") == ([0], [ord("b")])  # an empty context is EOS


def write(tmp_path: Path, lines: list[object], name: str = "mc.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_a_bad_multiple_choice_file_is_refused_line_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, [{"query": "Q?", "choices": ["a", "b"], "gold": 1}, "not json",
                            {"query": "Q?", "choices": ["a"], "gold": 0}, {"choices": ["a", "b"], "gold": 0},
                            {"query": "Q?", "choices": ["a", "b"], "gold": True}, ["a list"]])
    with pytest.raises(ConfigError) as info:
        load_eval_set(path, kind="mc")
    assert [(p.line, p.message.split(" (")[0].split(",")[0]) for p in info.value.problems] == [
        (2, "not a JSON object"), (3, "'choices' must be a list of two or more non-empty strings"),
        (4, "no 'query'"), (5, "'gold' must be the index of the right choice"),
        (6, "expected a JSON object")]
    good = write(tmp_path, [{"question": "Q?", "choices": ["a", "b"], "label": 1}], "good.jsonl")
    assert load_eval_set(good, kind="mc").questions[0].gold == 1


def test_empty_missing_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    empty = write(tmp_path, [], "empty.jsonl")
    with pytest.raises(ConfigError, match="no questions"):
        load_eval_set(empty, kind="mc")
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n")
    with pytest.raises(ConfigError, match="the reference text is empty"):
        load_eval_set(blank, kind="text")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("line one\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_eval_set(latin1, kind="text")
    assert info.value.problems[0].line == 2 and "not UTF-8" in info.value.problems[0].message
    with pytest.raises(ConfigError, match="cannot read the evaluation file"):
        load_eval_set(tmp_path / "missing.txt", kind="text")


def test_sets_with_the_same_name_get_distinct_metric_keys(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "wiki.txt").write_text("some text\n")
    sets = eval_sets_from([str(tmp_path / "a" / "wiki.txt"), str(tmp_path / "b" / "wiki.txt")], [])
    assert sorted(score(ByteScorer(uniform), sets)) == ["wiki-2/bpb", "wiki-2/bytes", "wiki-2/loss", "wiki-2/tokens",
                                                        "wiki/bpb", "wiki/bytes", "wiki/loss", "wiki/tokens"]
