"""The chunked head + cross-entropy: the same loss and gradients as full logits, masks, grad accumulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dataforge.train import loss as loss_mod
from dataforge.train.config import MODEL_SIZES, TrainConfig
from dataforge.train.data import Batch
from dataforge.train.device import IGNORE, Precision, to_device
from dataforge.train.loss import summed_loss, target_logprobs
from dataforge.train.model import GPT, GPTConfig
from dataforge.train.train import accumulate

CPU = torch.device("cpu")
FP32 = Precision.for_run(TrainConfig(dtype="float32"), CPU)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loss_mod, "CHUNK_ELEMENTS", 50 * 37)  # 37 rows of a 50-token vocabulary: uneven chunks


def test_chunked_loss_and_gradients_equal_full_logits(small_chunks: None) -> None:
    torch.manual_seed(0)
    h = torch.randn(300, 16, requires_grad=True)
    w = torch.randn(50, 16, requires_grad=True)
    t = torch.randint(0, 50, (300,))
    t[::7] = IGNORE
    reference = F.cross_entropy(h @ w.t(), t, ignore_index=IGNORE, reduction="sum")
    reference.backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    got = summed_loss(h, w, t)
    (got * 3).backward()  # the upstream gradient scales both
    assert loss_mod.chunk_rows(50) == 37 and 300 % 37
    assert torch.allclose(got, reference, rtol=1e-5)
    assert torch.allclose(h.grad, 3 * gh, atol=1e-4) and torch.allclose(w.grad, 3 * gw, atol=1e-4)


def test_target_logprobs_are_log_softmax_at_the_target(small_chunks: None) -> None:
    torch.manual_seed(1)
    h, w = torch.randn(100, 8), torch.randn(50, 8)
    t = torch.randint(0, 50, (100,))
    expected = torch.log_softmax(h @ w.t(), dim=-1).gather(1, t[:, None]).squeeze(1)
    assert torch.allclose(target_logprobs(h, w, t), expected, atol=1e-5)


def tiny(vocab: int = 512) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_size(MODEL_SIZES["tiny"], vocab_size=vocab, context=32))


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
        loss = accumulate(model.loss, [b], precision=FP32)
        results.append((float(loss), _grads(model)))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(g, h) for g, h in zip(results[0][1], results[1][1]))
    assert (other.y != batch.y).sum() == (~batch.mask).sum()  # the masked-out targets really differed
    flipped = Batch(x=batch.x, y=np.where(batch.mask, (batch.y + 7) % 512, batch.y), mask=batch.mask)
    assert float(accumulate(tiny().loss, [flipped], precision=FP32)) != results[0][0]  # counted ones do move it


def test_loss_is_the_mean_over_unmasked_targets() -> None:
    batch = _sft_batch(2, [3, 12])
    model = tiny()
    with torch.no_grad():
        logits = model(torch.from_numpy(batch.x))
        per_token = F.cross_entropy(logits.reshape(-1, 512), torch.from_numpy(batch.y).reshape(-1),
                                    reduction="none").reshape(batch.y.shape)
        expected = per_token[torch.from_numpy(batch.mask)].mean()
        x, y = to_device(batch, CPU)
        got = model.loss(x, y) / batch.targets
    assert batch.targets == 13 + 4
    assert torch.allclose(got, expected, atol=1e-6)


def test_grad_accumulation_equals_one_batch_when_masks_are_uneven() -> None:
    a, b = _sft_batch(3, [2]), _sft_batch(4, [13])  # 14 and 3 counted targets
    whole = Batch(x=np.concatenate([a.x, b.x]), y=np.concatenate([a.y, b.y]), mask=np.concatenate([a.mask, b.mask]))
    split_model, whole_model = tiny(), tiny()
    split_loss = accumulate(split_model.loss, [a, b], precision=FP32)
    whole_loss = accumulate(whole_model.loss, [whole], precision=FP32)
    assert torch.allclose(split_loss, whole_loss, atol=1e-6)
    assert all(torch.allclose(g, h, atol=1e-6) for g, h in zip(_grads(split_model), _grads(whole_model)))
    # averaging per micro-batch instead (the bug llm.c warns about) would give another loss
    with torch.no_grad():
        per_micro = sum(tiny().loss(*to_device(m, CPU)) / m.targets for m in (a, b)) / 2
    assert not torch.allclose(per_micro, whole_loss, atol=1e-3)
