"""The GPT: shapes, causality, tied head, named sizes, optimizer groups, the masked loss, grad accumulation."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from dataforge.train.config import MODEL_SIZES
from dataforge.train.data import Batch
from dataforge.train.engine import accumulate, summed_loss, to_device
from dataforge.train.model import GPT, GPTConfig, param_groups

CPU = torch.device("cpu")


def tiny(vocab: int = 512, context: int = 32) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_size(MODEL_SIZES["tiny"], vocab_size=vocab, context=context))


def test_logits_shape_and_tied_head() -> None:
    model = tiny()
    logits = model(torch.randint(0, 512, (3, 17)))
    assert logits.shape == (3, 17, 512)
    assert model.head.weight is model.embed.weight
    assert model.num_params() == sum(p.numel() for n, p in model.named_parameters())  # counted once


def test_attention_is_causal() -> None:
    model = tiny().eval()
    x = torch.randint(0, 512, (1, 20))
    changed = x.clone()
    changed[0, 12] = (x[0, 12] + 1) % 512
    a, b = model(x), model(changed)
    assert torch.equal(a[0, :12], b[0, :12])  # the past does not see the future
    assert not torch.allclose(a[0, 12:], b[0, 12:])  # from position 12 on it does


def test_longer_input_than_context_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than the model's context 32"):
        tiny(context=32)(torch.zeros((1, 33), dtype=torch.long))


def test_named_sizes_span_tiny_to_about_100m() -> None:
    with torch.device("meta"):
        counts = {name: GPT(GPTConfig.from_size(size, vocab_size=8192, context=1024)).num_params()
                  for name, size in MODEL_SIZES.items()}
    assert counts["tiny"] < 2_000_000
    assert 80_000_000 < counts["base"] < 120_000_000
    assert list(counts.values()) == sorted(counts.values())


def test_weight_decay_only_on_matrices() -> None:
    model = tiny()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    norms = {id(p) for n, p in model.named_parameters() if "norm" in n}
    assert norms and norms == {id(p) for p in no_decay["params"]}
    assert any(p is model.embed.weight for p in decay["params"])


def _grads(model: GPT) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def _sft_batch(seed: int, mask_from: list[int]) -> Batch:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 512, (len(mask_from), 16))
    y = rng.integers(0, 512, (len(mask_from), 16))
    mask = np.arange(16)[None, :] >= np.asarray(mask_from)[:, None]  # prompt targets first, then response
    return Batch(x=x, y=y, mask=mask)


def test_masked_targets_contribute_nothing_to_loss_or_gradient() -> None:
    batch = _sft_batch(1, [5, 9])
    other = Batch(x=batch.x, y=np.where(batch.mask, batch.y, (batch.y + 7) % 512), mask=batch.mask)
    results = []
    for b in (batch, other):
        model = tiny()
        loss = accumulate(model, [b], device=CPU, ctx_factory=contextlib.nullcontext)
        results.append((float(loss), _grads(model)))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(g, h) for g, h in zip(results[0][1], results[1][1]))
    # and the masked-out targets really were different, and unmasked ones do move the loss
    assert (other.y != batch.y).sum() == (~batch.mask).sum()
    flipped = Batch(x=batch.x, y=np.where(batch.mask, (batch.y + 7) % 512, batch.y), mask=batch.mask)
    assert float(accumulate(tiny(), [flipped], device=CPU, ctx_factory=contextlib.nullcontext)) != results[0][0]


def test_loss_is_the_mean_over_unmasked_targets() -> None:
    batch = _sft_batch(2, [3, 12])
    model = tiny()
    with torch.no_grad():
        logits = model(torch.from_numpy(batch.x))
        per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, 512), torch.from_numpy(batch.y).reshape(-1),
                                                      reduction="none").reshape(batch.y.shape)
        expected = per_token[torch.from_numpy(batch.mask)].mean()
        x, y = to_device(batch, CPU)
        got = summed_loss(model(x), y) / batch.targets
    assert batch.targets == 13 + 4
    assert torch.allclose(got, expected)


def test_grad_accumulation_equals_one_batch_when_masks_are_uneven() -> None:
    a, b = _sft_batch(3, [2]), _sft_batch(4, [13])  # 14 and 3 counted targets
    whole = Batch(x=np.concatenate([a.x, b.x]), y=np.concatenate([a.y, b.y]), mask=np.concatenate([a.mask, b.mask]))
    split_model, whole_model = tiny(), tiny()
    split_loss = accumulate(split_model, [a, b], device=CPU, ctx_factory=contextlib.nullcontext)
    whole_loss = accumulate(whole_model, [whole], device=CPU, ctx_factory=contextlib.nullcontext)
    assert torch.allclose(split_loss, whole_loss, atol=1e-6)
    assert all(torch.allclose(g, h, atol=1e-6) for g, h in zip(_grads(split_model), _grads(whole_model)))
    # averaging per micro-batch instead (the bug llm.c warns about) would give another loss
    per_micro = (summed_loss(tiny()(torch.from_numpy(a.x)), to_device(a, CPU)[1]) / a.targets
                 + summed_loss(tiny()(torch.from_numpy(b.x)), to_device(b, CPU)[1]) / b.targets) / 2
    assert not torch.allclose(per_micro, whole_loss, atol=1e-3)


def test_generate_stops_at_the_stop_token_and_respects_the_seed() -> None:
    model = tiny().eval()
    prompt = torch.tensor([[1, 2, 3]])
    gen = lambda seed: model.generate(prompt, 10, temperature=1.0, top_k=20,  # noqa: E731
                                      generator=torch.Generator().manual_seed(seed))
    assert torch.equal(gen(5), gen(5)) and gen(5).shape == (1, 13)
    greedy = model.generate(prompt, 10, temperature=0)
    first = int(greedy[0, 3])
    stopped = model.generate(prompt, 10, temperature=0, stop_id=first)
    assert stopped.shape == (1, 4) and int(stopped[0, -1]) == first
