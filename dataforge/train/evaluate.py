"""Score a trained GPT on evaluation sets: ``evaluate(run_dir_or_model, eval_sets) -> {"<set>/<metric>": value}``.

The library entry point for anything that compares runs (``dataforge train --eval-text``,
``dataforge ablate``). Sequences are scored in batches of similar length; the output head is
applied only at the positions whose next token is scored (for multiple choice, a few tokens
per sequence), which is most of a small model's compute.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from .checkpoint import load_run
from .evalsets import EvalSet, score
from .loss import target_logprobs
from .model import GPT

#: tokens per scoring batch (padded); ~4k keeps the hidden states of a tiny model in L2-sized pieces
BATCH_TOKENS = 4096


class GPTScorer:
    """The ``evalsets.Scorer`` of a GPT and its tokenizer."""

    def __init__(self, model: GPT, tokenizer: Tokenizer, *, eos_id: int,
                 autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext) -> None:
        self.model, self.tokenizer, self.eos_id = model, tokenizer, eos_id
        self.context = model.cfg.context
        self.device = next(model.parameters()).device
        self._autocast = autocast

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text).ids)

    @torch.no_grad()
    def logprobs(self, sequences: Sequence[Sequence[int]], starts: Sequence[int]) -> list[np.ndarray]:
        was_training = self.model.training
        self.model.eval()
        out: list[np.ndarray] = [np.empty(0)] * len(sequences)
        group: list[int] = []

        def flush() -> None:
            for k, lp in zip(group, self._score_group([sequences[k] for k in group], [starts[k] for k in group])):
                out[k] = lp
            group.clear()

        for k in sorted(range(len(sequences)), key=lambda i: len(sequences[i])):  # shortest first: little padding
            if group and (len(group) + 1) * len(sequences[k]) > BATCH_TOKENS:
                flush()
            group.append(k)
        if group:
            flush()
        self.model.train(was_training)
        return out

    def _score_group(self, seqs: list[Sequence[int]], starts: list[int]) -> list[np.ndarray]:
        width = max(len(s) for s in seqs) - 1  # inputs are s[:-1]
        x = torch.full((len(seqs), width), self.eos_id, dtype=torch.long)
        rows, cols, targets = [], [], []
        for r, (s, k) in enumerate(zip(seqs, starts)):
            x[r, :len(s) - 1] = torch.tensor(s[:-1], dtype=torch.long)
            positions = range(k - 1, len(s) - 1)  # hidden state at t predicts s[t + 1]
            rows += [r] * len(positions)
            cols += list(positions)
            targets += list(s[k:])
        with self._autocast():  # the run's precision
            h = self.model.hidden(x.to(self.device))  # (B, width, C)
            picked = h[torch.tensor(rows), torch.tensor(cols)]  # (n, C): only the scored positions
            lp = target_logprobs(picked, self.model.head.weight, torch.tensor(targets, device=self.device))
        flat = lp.cpu().numpy()
        out, at = [], 0
        for s, k in zip(seqs, starts):
            out.append(flat[at:at + len(s) - k])
            at += len(s) - k
        return out


def evaluate(run_dir_or_model: Path | str | GPTScorer, eval_sets: list[EvalSet], *,
             device: str = "cpu") -> dict[str, float]:
    """Metrics of a trained run (its folder) or a scorer on each set: ``<set>/bpb``, ``<set>/loss`` for
    text; ``<set>/acc``, ``<set>/acc_norm``, ``<set>/chance`` for multiple choice (see evalsets)."""
    if isinstance(run_dir_or_model, GPTScorer):
        scorer = run_dir_or_model
    else:
        model, tokenizer, eos = load_run(Path(run_dir_or_model), device=device)
        scorer = GPTScorer(model, tokenizer, eos_id=eos)
    return score(scorer, eval_sets)
