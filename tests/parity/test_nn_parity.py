"""Shared blocks against reference formulas (STYLE rule 30), in float64 where possible."""

import math

import pytest
import torch

from moviegen.nn.attention import Attention
from moviegen.nn.embed import (
    FactorizedPositionalEmbedding,
    PatchEmbed3d,
    interpolate_table,
    patchify,
    sinusoidal_embedding,
    unpatchify,
)
from moviegen.nn.mlp import SwiGLU
from moviegen.nn.norms import RMSNorm


def test_attention_matches_naive_softmax_with_mask():
    torch.manual_seed(0)
    attn = Attention(dim=32, num_heads=4, context_dim=24).double()
    x = torch.randn(2, 5, 32, dtype=torch.float64)
    ctx = torch.randn(2, 7, 24, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 0, 0]], dtype=torch.bool)
    out = attn(x, context_BSD=ctx, mask_BS=mask)

    q = attn.wq(x).view(2, 5, 4, 8).transpose(1, 2)
    k = attn.wk(ctx).view(2, 7, 4, 8).transpose(1, 2)
    v = attn.wv(ctx).view(2, 7, 4, 8).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(8)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    ref = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 32)
    torch.testing.assert_close(out, attn.wo(ref))


def test_attention_qk_norm_normalises_per_head():
    torch.manual_seed(0)
    attn = Attention(dim=32, num_heads=4, qk_norm=True).double()
    x = torch.randn(1, 3, 32, dtype=torch.float64)
    q = attn.q_norm(attn.wq(x).view(1, 3, 4, 8))
    torch.testing.assert_close(q.pow(2).mean(-1), torch.ones(1, 3, 4, dtype=torch.float64), atol=1e-5, rtol=0)


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="dim=30, num_heads=4"):
        Attention(dim=30, num_heads=4)


def test_rmsnorm_bf16_input_uses_fp32_statistics():
    torch.manual_seed(0)
    norm = RMSNorm(4096)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = (torch.randn(4, 4096) * 30 + 5).bfloat16()
    out = norm(x)
    assert out.dtype == torch.bfloat16
    ref32 = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)
    ref = ref32.bfloat16() * norm.weight.bfloat16()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_swiglu_formula():
    torch.manual_seed(0)
    ffn = SwiGLU(dim=8, hidden_dim=16).double()
    x = torch.randn(3, 8, dtype=torch.float64)
    ref = ffn.w2(torch.nn.functional.silu(x @ ffn.w1.weight.T) * (x @ ffn.w3.weight.T))
    torch.testing.assert_close(ffn(x), ref)


@pytest.mark.parametrize("patch", [(1, 2, 2), (2, 2, 2), (1, 1, 1)])
def test_unpatchify_inverts_patchify_exactly(patch):
    x = torch.randn(2, 3, 4, 6, 8)
    grid = (4 // patch[0], 6 // patch[1], 8 // patch[2])
    tokens = patchify(x, patch=patch)
    assert tokens.shape == (2, grid[0] * grid[1] * grid[2], 3 * patch[0] * patch[1] * patch[2])
    assert torch.equal(unpatchify(tokens, patch=patch, grid=grid), x)


def test_patchify_rejects_indivisible_grid():
    with pytest.raises(ValueError, match="5x6x8"):
        patchify(torch.randn(1, 3, 5, 6, 8), patch=(2, 2, 2))


def test_conv3d_patch_embed_equals_linear_on_patchified_tokens():
    torch.manual_seed(0)
    embed = PatchEmbed3d(in_channels=3, dim=10, patch=(1, 2, 2)).double()
    x = torch.randn(2, 3, 2, 4, 6, dtype=torch.float64)
    ref = patchify(x, patch=(1, 2, 2)) @ embed.proj.weight.reshape(10, -1).T + embed.proj.bias
    torch.testing.assert_close(embed(x), ref)


def test_factorized_positions_match_a_loop():
    torch.manual_seed(0)
    pe = FactorizedPositionalEmbedding(dim=6, max_t=3, max_h=4, max_w=5)
    pe.init_weights()
    out = pe((2, 3, 4))
    rows = [pe.pos_t[t] + pe.pos_h[h] + pe.pos_w[w] for t in range(2) for h in range(3) for w in range(4)]
    torch.testing.assert_close(out, torch.stack(rows))


def test_interpolate_table_repeats_single_rows_and_keeps_linear_ramps_linear():
    single = torch.randn(1, 4)
    assert torch.equal(interpolate_table(single, 3), single.expand(3, 4))
    ramp = torch.arange(4, dtype=torch.float32)[:, None].repeat(1, 2)  # rows 0, 1, 2, 3
    doubled = interpolate_table(ramp, 8)
    # interior rows of a 2x linear resample of a ramp sit at (i + 0.5) / 2 - 0.5
    torch.testing.assert_close(doubled[1:-1, 0], torch.arange(1, 7, dtype=torch.float32) / 2 - 0.25)


def test_sinusoidal_embedding_formula():
    t = torch.tensor([0.0, 0.25, 1.0])
    emb = sinusoidal_embedding(t, dim=8)
    freqs = torch.exp(-math.log(10000) * torch.arange(4) / 4)
    args = (t * 1000)[:, None] * freqs
    torch.testing.assert_close(emb, torch.cat([args.cos(), args.sin()], -1))
    assert sinusoidal_embedding(t.bfloat16(), dim=8).dtype == torch.float32


def test_rmsnorm_without_affine_has_no_parameters_and_matches_the_formula():
    norm = RMSNorm(8, affine=False, eps=1e-5)
    assert list(norm.parameters()) == []
    x = torch.randn(3, 8, dtype=torch.float64)
    torch.testing.assert_close(norm(x), x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))
