"""Tiny-config tests of the Movie Gen Video transformer (SPEC 2)."""

import pytest
import torch
from model_tests import ModelTests, perturb_

from moviegen.dit import DiT, DiTConfig, dit_30b, dit_debug


def _inputs(*, seed: int, grid=(2, 4, 6), batch=2, text_len=5, dim=64):
    gen = torch.Generator().manual_seed(seed)
    t, h, w = grid
    mask = torch.ones(batch, text_len, dtype=torch.bool)
    mask[1, 3:] = False
    return {
        "latent": torch.randn(batch, 16, t, h, w, generator=gen),
        "t": torch.rand(batch, generator=gen),
        "text": torch.randn(batch, text_len, dim, generator=gen),
        "mask": mask,
    }


class TestDiT(ModelTests):
    def build(self):
        return DiT(dit_debug())

    def make_inputs(self, *, seed: int = 0):
        return _inputs(seed=seed)

    def run(self, model, inputs):
        return model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])

    def expected_shape(self, inputs):
        return inputs["latent"].shape


def _model():
    torch.manual_seed(0)
    model = DiT(dit_debug())
    model.init_weights()
    return perturb_(model).eval()


def test_adaln_zero_init_predicts_zero_velocity():
    torch.manual_seed(0)
    model = DiT(dit_debug())
    model.init_weights()
    inputs = _inputs(seed=0)
    out = model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    assert torch.count_nonzero(out) == 0


def test_text_padding_is_ignored():
    model = _model()
    inputs = _inputs(seed=0)
    out = model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    text = inputs["text"].clone()
    text[1, 3:] = 100.0  # only padded positions change
    out2 = model(inputs["latent"], t_B=inputs["t"], text_BSD=text, text_mask_BS=inputs["mask"])
    torch.testing.assert_close(out2, out)
    text[1, 0] = 100.0  # a real token changes: the output must change
    out3 = model(inputs["latent"], t_B=inputs["t"], text_BSD=text, text_mask_BS=inputs["mask"])
    assert not torch.allclose(out3[1], out[1])
    torch.testing.assert_close(out3[0], out[0])  # and only for that sample


@pytest.mark.parametrize("grid", [(1, 4, 4), (2, 4, 8), (3, 8, 4), (4, 8, 8)])
def test_images_videos_and_aspect_ratios_share_one_path(grid):
    model = _model()
    inputs = _inputs(seed=0, grid=grid)
    out = model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    assert out.shape == inputs["latent"].shape


def test_time_conditioning_changes_output():
    model = _model()
    inputs = _inputs(seed=0)
    a = model(inputs["latent"], t_B=torch.tensor([0.1, 0.1]), text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    b = model(inputs["latent"], t_B=torch.tensor([0.9, 0.9]), text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    assert not torch.allclose(a, b)


def test_positional_embedding_is_added_at_every_layer():
    model = _model()
    inputs = _inputs(seed=0, grid=(2, 4, 6))
    seen = []
    hooks = [
        block.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(kwargs["pos_LD"]), with_kwargs=True)
        for block in model.layers.values()
    ]
    model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    for hook in hooks:
        hook.remove()
    assert len(seen) == len(model.layers)
    pos_LD = model.pos_embed((2, 2, 3))
    torch.testing.assert_close(seen[0], pos_LD)
    # ...and each block adds it to its own input: block(x, pos) == block(x + pos, pos=0)
    block = model.layers["1"]
    x_BLD = torch.randn(2, 12, 64)
    common = {"modulation_B6D": torch.randn(2, 6 * 64), "text_BSD": inputs["text"], "text_mask_BS": inputs["mask"]}
    torch.testing.assert_close(
        block(x_BLD, pos_LD=pos_LD, **common), block(x_BLD + pos_LD, pos_LD=torch.zeros_like(pos_LD), **common)
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"latent": torch.randn(2, 8, 2, 4, 6)}, r"latent must be \[B, 16"),
        ({"latent": torch.randn(2, 16, 2, 5, 6)}, "divisible by the patch"),
        ({"latent": torch.randn(2, 16, 2, 4)}, "latent must be"),
        ({"latent": torch.randn(2, 16, 8, 4, 6)}, "exceeds the positional tables"),
        ({"t": torch.rand(3)}, r"t_B must have shape \(2,\)"),
        ({"text": torch.randn(2, 5, 32)}, r"text_BSD must be \[2, S, 64\]"),
        ({"mask": torch.ones(2, 5)}, "bool tensor"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_value(change, match):
    model = _model()
    inputs = {**_inputs(seed=0), **change}
    with pytest.raises(ValueError, match=match):
        model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dim": 60, "num_heads": 8}, "divisible by num_heads"),
        ({"num_layers": 0}, "num_layers must be >= 1"),
        ({"patch_size": (1, 2)}, "patch_size"),
    ],
)
def test_config_validation(kwargs, match):
    base = {"dim": 64, "num_layers": 2, "num_heads": 4, "ffn_dim": 128}
    with pytest.raises(ValueError, match=match):
        DiTConfig(**{**base, **kwargs})


def test_state_dict_keys_are_pinned():
    keys = set(DiT(dit_debug()).state_dict())
    expected_block = {
        "attention.wq.weight", "attention.wk.weight", "attention.wv.weight",
        "attention.wo.weight", "attention.q_norm.weight", "attention.k_norm.weight",
        "cross_attention_norm.weight", "cross_attention.wq.weight", "cross_attention.wk.weight",
        "cross_attention.wv.weight", "cross_attention.wo.weight", "cross_attention.q_norm.weight",
        "cross_attention.k_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight",
        "feed_forward.w3.weight", "adaln_bias",
    }  # fmt: skip
    expected = {
        "patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed.pos_t", "pos_embed.pos_h", "pos_embed.pos_w",
        "time_embed.linear_1.weight", "time_embed.linear_1.bias", "time_embed.linear_2.weight",
        "time_embed.linear_2.bias", "adaln.weight", "adaln.bias", "final_adaln.weight",
        "final_adaln.bias", "output.weight",
    } | {f"layers.{i}.{k}" for i in range(2) for k in expected_block}  # fmt: skip
    assert keys == expected


def test_30b_preset_parameter_count_on_meta():
    cfg = dit_30b()
    assert (cfg.num_layers, cfg.dim, cfg.ffn_dim, cfg.num_heads, cfg.head_dim) == (48, 6144, 16384, 48, 128)
    with torch.device("meta"):
        model = DiT(cfg)
    n = sum(p.numel() for p in model.parameters())
    assert 28e9 <= n <= 31e9
    # per-layer arithmetic of SPEC 2.2: 8 D^2 (self + cross attention) + 3 D F (SwiGLU) dominates
    assert abs(n - 48 * (8 * 6144**2 + 3 * 6144 * 16384)) / n < 0.02


def test_positional_tables_expand_for_a_later_stage():
    model = _model()
    old_h = model.pos_embed.pos_h.detach().clone()
    model.pos_embed.expand(max_t=8, max_h=16, max_w=16)
    assert model.pos_embed.max_grid == (8, 16, 16)
    inputs = _inputs(seed=0, grid=(6, 16, 12))
    out = model(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])
    assert out.shape == inputs["latent"].shape
    # 2x expansion: new rows 2i and 2i+1 straddle old row i (linear interpolation, align_corners=False)
    new_h = model.pos_embed.pos_h.detach()
    torch.testing.assert_close(new_h[0], old_h[0])
    torch.testing.assert_close(new_h[2], 0.75 * old_h[1] + 0.25 * old_h[0])
    with pytest.raises(ValueError, match="can only grow"):
        model.pos_embed.expand(max_t=4, max_h=16, max_w=16)


def _token_adaln_pair() -> tuple[DiT, DiT]:
    """A perturbed DiT with ``token_adaln`` and the same weights without it."""
    from dataclasses import replace

    torch.manual_seed(0)
    with_head = DiT(replace(dit_debug(), token_adaln=True))
    with_head.init_weights()
    perturb_(with_head).eval()
    without = DiT(dit_debug()).eval()
    state = {k: v for k, v in with_head.state_dict().items() if not k.startswith("token_adaln.")}
    without.load_state_dict(state)
    return with_head, without


def test_token_adaln_starts_as_the_input_only_condition():
    """Zero-init head: before training, a token-modulated DiT computes what the input-only one does."""
    with_head, without = _token_adaln_pair()
    with torch.no_grad():
        with_head.token_adaln.weight.zero_()
        with_head.token_adaln.bias.zero_()
    inputs = _inputs(seed=1)
    cond_BLD = torch.randn(2, 12, 64)
    kw = {"t_B": inputs["t"], "text_BSD": inputs["text"], "text_mask_BS": inputs["mask"], "token_cond_BLD": cond_BLD}
    torch.testing.assert_close(with_head(inputs["latent"], **kw), without(inputs["latent"], **kw))
    with pytest.raises(ValueError, match="give token_cond_BLD"):
        with_head(inputs["latent"], t_B=inputs["t"], text_BSD=inputs["text"], text_mask_BS=inputs["mask"])


def test_token_adaln_modulates_each_token_in_every_block():
    with_head, without = _token_adaln_pair()
    inputs = _inputs(seed=1)
    cond_BLD = torch.randn(2, 12, 64)
    kw = {"t_B": inputs["t"], "text_BSD": inputs["text"], "text_mask_BS": inputs["mask"], "token_cond_BLD": cond_BLD}
    assert not torch.allclose(with_head(inputs["latent"], **kw), without(inputs["latent"], **kw))
    seen = []
    hooks = [
        block.register_forward_pre_hook(lambda m, a, k: seen.append(k["token_modulation_BL6D"]), with_kwargs=True)
        for block in with_head.layers.values()
    ]
    with_head(inputs["latent"], **kw)
    for hook in hooks:
        hook.remove()
    expected = with_head.token_adaln(torch.nn.functional.silu(cond_BLD))
    assert len(seen) == 2 and all(torch.equal(s, expected) for s in seen)
    # A per-token modulation equal on every token is the shared modulation shifted by it.
    block = with_head.layers["0"]
    x_BLD, m_B6D, offset_B6D = torch.randn(2, 12, 64), torch.randn(2, 6 * 64), torch.randn(2, 6 * 64)
    common = {"pos_LD": torch.randn(12, 64), "text_BSD": inputs["text"], "text_mask_BS": inputs["mask"]}
    torch.testing.assert_close(
        block(x_BLD, modulation_B6D=m_B6D, token_modulation_BL6D=offset_B6D[:, None].expand(2, 12, -1), **common),
        block(x_BLD, modulation_B6D=m_B6D + offset_B6D, **common),
    )


def test_positional_tables_are_initialised_at_pos_init_std():
    from dataclasses import replace

    torch.manual_seed(0)
    model = DiT(replace(dit_debug(), max_t=8, max_h=16, max_w=16, pos_init_std=0.5))
    model.init_weights()
    tables = torch.cat([model.pos_embed.pos_t, model.pos_embed.pos_h, model.pos_embed.pos_w]).detach()
    assert float(tables.std()) == pytest.approx(0.5, rel=0.1)
    assert float(model.patch_embed.proj.weight.std()) < 0.3  # the other inits keep their own scales
    with pytest.raises(ValueError, match="pos_init_std must be >= 0"):
        replace(dit_debug(), pos_init_std=-0.1)
