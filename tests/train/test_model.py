"""The GPT: shapes, causality, parameter counts from the architecture, optimizer groups, generation."""

from __future__ import annotations

import pytest
import torch

from dataforge.train.config import MODEL_SIZES, ModelSize
from dataforge.train.model import GPT, GPTConfig, param_groups
from dataforge.train.throughput import flops_per_token, param_count


def tiny(vocab: int = 512, context: int = 32) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_size(MODEL_SIZES["tiny"], vocab_size=vocab, context=context))


def test_logits_shape_and_the_head_is_the_embedding() -> None:
    model = tiny()
    logits = model(torch.randint(0, 512, (3, 17)))
    assert logits.shape == (3, 17, 512)
    with torch.no_grad():
        model.embed.weight[7].zero_()
    assert torch.equal(model.head.weight[7], torch.zeros(128))  # one tensor, not a copy


def test_parameter_count_of_a_small_model_worked_out_by_hand() -> None:
    # vocab 64, d 16, one layer of 2 heads. SwiGLU hidden: int(8 * 16 / 3) = 42, rounded up to 64.
    # embedding (tied head) 64*16 = 1024; attention qkv 16*48 = 768 + proj 16*16 = 256;
    # SwiGLU w1, w3 16*64 each = 2048 + w2 64*16 = 1024; two RMSNorm gains 32; final norm 16.
    by_hand = 1024 + 768 + 256 + 2048 + 1024 + 32 + 16
    size = ModelSize(n_layer=1, n_head=2, d_model=16, lr=1e-3)
    model = GPT(GPTConfig.from_size(size, vocab_size=64, context=8))
    assert by_hand == 5168 == model.num_params() == param_count(size, vocab=64)


def test_named_sizes_match_the_formula_and_span_tiny_to_about_100m() -> None:
    with torch.device("meta"):
        counts = {name: GPT(GPTConfig.from_size(size, vocab_size=8192, context=1024)).num_params()
                  for name, size in MODEL_SIZES.items()}
    assert counts == {name: param_count(size, vocab=8192) for name, size in MODEL_SIZES.items()}
    # base: 8192*768 embedding + 12 * (4*768^2 + 3*768*2048 + 2*768) + 768
    assert counts["base"] == 6_291_456 + 12 * (2_359_296 + 4_718_592 + 1536) + 768 == 91_245_312
    assert counts["tiny"] < 2_000_000 and list(counts.values()) == sorted(counts.values())


def test_flops_per_token_is_six_times_the_matrices_plus_attention() -> None:
    size = ModelSize(n_layer=1, n_head=2, d_model=16, lr=1e-3)
    matrices = 5168 - 32 - 16  # the hand count above without the norm gains
    assert flops_per_token(size, vocab=64, context=8) == 6 * matrices + 12 * 1 * 16 * 8


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


def test_weight_decay_only_on_matrices() -> None:
    model = tiny()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    norms = {id(p) for n, p in model.named_parameters() if "norm" in n}
    assert norms and norms == {id(p) for p in no_decay["params"]}
    assert any(p is model.embed.weight for p in decay["params"])


def test_generate_stops_at_the_stop_token_and_respects_the_seed() -> None:
    model = tiny().eval()
    prompt = torch.tensor([[1, 2, 3]])
    gen = lambda seed: model.generate(prompt, 10, temperature=1.0, top_k=20,  # noqa: E731
                                      generator=torch.Generator().manual_seed(seed))
    assert torch.equal(gen(5), gen(5)) and gen(5).shape == (1, 13)
    assert not torch.equal(gen(5), gen(6))
    greedy = model.generate(prompt, 10, temperature=0)
    first = int(greedy[0, 3])
    stopped = model.generate(prompt, 10, temperature=0, stop_id=first)
    assert stopped.shape == (1, 4) and int(stopped[0, -1]) == first
