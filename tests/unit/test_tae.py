"""Unit tests for the TAE (SPEC 1): 2.5D conv, config, model shapes, init, losses and temporal tiling."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.nn.conv import Conv25d, TemporalConv1d
from moviegen.tae import (
    ReconstructionLoss,
    TAEConfig,
    TAELoss,
    TAELossConfig,
    TemporalAutoencoder,
    TemporalUpsample,
    decode_tiled,
    encode_tiled,
    tae_16ch,
    tae_32ch,
    tae_debug,
    tae_tiny,
)
from moviegen.tae.discriminator import PatchDiscriminator
from moviegen.tae.loss import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    kl_divergence,
    outlier_penalty_loss,
    reconstruction_loss,
)
from moviegen.tae.model import Upsample
from moviegen.tae.perceptual import PerceptualLoss
from moviegen.tae.tiling import plan_decode_tiles

FRAME_COUNTS = (1, 5, 8, 9, 17)


def _debug_cfg(**overrides) -> TAEConfig:
    return dataclasses.replace(tae_debug(), **overrides)


def _tae(cfg: TAEConfig | None = None, *, seed: int = 0) -> TemporalAutoencoder:
    torch.manual_seed(seed)
    return TemporalAutoencoder(cfg or tae_debug()).eval()


def _video(t: int, *, size: int = 16, seed: int = 1, batch: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, t, size, size, generator=gen) * 2 - 1


def _randomize_temporal(tae: TemporalAutoencoder, *, seed: int = 3) -> None:
    """Move every temporal layer away from the identity so the network mixes frames."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in tae.named_parameters():
            if ".temporal." in name or "temporal_attentions" in name:
                param.add_(0.2 * torch.randn(param.shape, generator=gen))


# ---------------------------------------------------------------- 2.5D conv


def test_temporal_conv_matches_replicate_padded_conv1d_reference():
    torch.manual_seed(0)
    for stride in (1, 2):
        conv = TemporalConv1d(4, stride=stride)
        torch.nn.init.normal_(conv.weight)
        torch.nn.init.normal_(conv.bias)
        x_BCTHW = torch.randn(2, 4, 7, 3, 5)
        # Reference: every pixel's time series through a replicate-padded Conv1d.
        x_NCT = x_BCTHW.permute(0, 3, 4, 1, 2).reshape(-1, 4, 7)
        ref_NCT = F.conv1d(F.pad(x_NCT, (1, 1), mode="replicate"), conv.weight, conv.bias, stride=stride)
        ref_BCTHW = ref_NCT.reshape(2, 3, 5, 4, -1).permute(0, 3, 4, 1, 2)
        out = conv(x_BCTHW)
        assert out.shape == (2, 4, math.ceil(7 / stride), 3, 5)
        torch.testing.assert_close(out, ref_BCTHW, atol=1e-5, rtol=1e-5)


def test_temporal_conv_identity_init_and_stride_two_picks_even_frames():
    x = torch.randn(1, 3, 7, 2, 2)
    conv = TemporalConv1d(3)
    conv.init_identity()
    torch.testing.assert_close(conv(x), x)
    down = TemporalConv1d(3, stride=2)
    down.init_identity()
    torch.testing.assert_close(down(x), x[:, :, 0::2])
    assert down(x[:, :, :1]).shape[2] == 1  # an image stays one frame


def test_conv25d_spatial_part_is_the_2d_conv_per_frame():
    torch.manual_seed(0)
    conv = Conv25d(in_channels=3, out_channels=5, stride=2, padding=1)
    conv.temporal.init_identity()
    x = torch.randn(2, 3, 4, 8, 8)
    out = conv(x)
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], conv.spatial(x[:, :, t]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="temporal_stride"):
        Conv25d(in_channels=3, out_channels=5, temporal=False, temporal_stride=2)
    with pytest.raises(ValueError, match="odd"):
        TemporalConv1d(3, kernel_size=2)


# ---------------------------------------------------------------- config


def test_config_properties_and_frame_rule():
    cfg = tae_16ch()
    assert (cfg.spatial_compression, cfg.temporal_compression) == (8, 8)
    assert tae_32ch().latent_channels == 32
    assert (tae_tiny().spatial_compression, tae_tiny().temporal_compression) == (8, 8)
    assert (tae_debug().spatial_compression, tae_debug().temporal_compression) == (2, 2)
    for t in (1, 2, 7, 8, 9, 16, 17, 255, 256):
        assert cfg.latent_num_frames(t) == math.ceil(t / 8)
    assert cfg.stage_num_frames(17) == (17, 9, 5, 3)
    no_time = TAEConfig(temporal_downsample=(False, False, False))
    assert no_time.temporal_compression == 1 and no_time.latent_num_frames(5) == 5


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"block_out_channels": (16, 30)}, "divisible by norm_num_groups"),
        ({"temporal_downsample": (True, True)}, "one bool per spatial downsampler"),
        ({"temporal_downsample": (1,)}, "must be bools"),
        ({"layers_per_block": 0}, "layers_per_block"),
        ({"latent_channels": 0}, "latent_channels"),
        ({"block_out_channels": ()}, "non-empty"),
        ({"scaling_factor": 0.0}, "scaling_factor"),
        ({"decoder_width_multiplier": 0}, "decoder_width_multiplier must be an int >= 1, got 0"),
        ({"decoder_width_multiplier": 1.5}, "decoder_width_multiplier must be an int >= 1, got 1.5"),
    ],
)
def test_config_rejects_bad_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        _debug_cfg(**overrides)
    with pytest.raises(ValueError, match="num_frames"):
        tae_debug().stage_num_frames(0)


# ---------------------------------------------------------------- model


@pytest.mark.parametrize("preset", [tae_debug, tae_tiny, tae_16ch, tae_32ch])
def test_presets_build_on_meta_without_allocating(preset):
    with torch.device("meta"):
        tae = TemporalAutoencoder(preset())
    params = list(tae.parameters())
    assert params and all(p.is_meta for p in params)
    assert sum(p.numel() for p in params) > 0


def test_meta_build_then_init_weights_matches_cpu_init():
    with torch.device("meta"):
        meta_tae = TemporalAutoencoder(tae_debug())
    meta_tae.to_empty(device="cpu")
    torch.manual_seed(7)
    meta_tae.init_weights()
    cpu_tae = TemporalAutoencoder(tae_debug())
    torch.manual_seed(7)
    cpu_tae.init_weights()
    meta_state, cpu_state = meta_tae.state_dict(), cpu_tae.state_dict()
    assert meta_state.keys() == cpu_state.keys()
    for key, value in meta_state.items():
        assert torch.isfinite(value).all(), key
        torch.testing.assert_close(value, cpu_state[key], msg=key)
    # The init rules: identity temporal convs, zero temporal-attention output, unit GroupNorm.
    center = meta_state["encoder.conv_in.temporal.weight"][:, :, 1]
    torch.testing.assert_close(center, torch.eye(center.shape[0]))
    assert meta_state["encoder.mid_block.temporal_attentions.0.to_out.0.weight"].abs().sum() == 0
    assert (meta_state["decoder.conv_norm_out.weight"] == 1).all()


@pytest.mark.parametrize("num_frames", FRAME_COUNTS)
def test_encode_decode_shapes_for_any_frame_count(num_frames):
    tae = _tae()
    cfg = tae.cfg
    video = _video(num_frames, batch=2)
    with torch.no_grad():
        posterior = tae.encode(video, sample=False)
        recon = tae.decode(posterior.latent_BCTHW, num_frames=num_frames)
    latent_frames = math.ceil(num_frames / cfg.temporal_compression)
    expected = (2, cfg.latent_channels, latent_frames, 16 // cfg.spatial_compression, 16 // cfg.spatial_compression)
    for tensor in (posterior.latent_BCTHW, posterior.posterior_mean_BCTHW, posterior.posterior_logvar_BCTHW):
        assert tensor.shape == expected and tensor.dtype == video.dtype
    assert recon.shape == video.shape and recon.dtype == video.dtype
    assert torch.isfinite(recon).all()


@pytest.mark.parametrize("num_frames", FRAME_COUNTS)
def test_tiny_preset_with_8x_time_and_32_latent_channels(num_frames):
    # 4 levels, 3 temporal downsamplings (8x8x8) with narrow widths to stay fast.
    cfg = TAEConfig(block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=8, latent_channels=32)
    tae = _tae(cfg)
    video = _video(num_frames)
    with torch.no_grad():
        out = tae(video, sample=False)
    assert out.latent_BCTHW.shape == (1, 32, math.ceil(num_frames / 8), 2, 2)
    assert out.reconstruction_BCTHW.shape == video.shape


def test_variants_without_temporal_attention_or_temporal_downsampling():
    no_attn = _tae(_debug_cfg(use_temporal_attention=False))
    assert not any("temporal_attentions" in k for k in no_attn.state_dict())
    no_time = _tae(_debug_cfg(temporal_downsample=(False,)))
    video = _video(5)
    with torch.no_grad():
        assert no_attn(video, sample=False).reconstruction_BCTHW.shape == video.shape
        out = no_time(video, sample=False)
    assert out.latent_BCTHW.shape[2] == 5 and out.reconstruction_BCTHW.shape == video.shape


def test_decode_frame_count_rules():
    tae = _tae()
    tc = tae.cfg.temporal_compression
    latent = torch.randn(1, 16, 3, 8, 8)
    with torch.no_grad():
        assert tae.decode(latent).shape[2] == tc * 3  # default: full length
        assert tae.decode(latent, num_frames=tc * 2 + 1).shape[2] == tc * 2 + 1
        assert tae.decode(latent[:, :, :1], num_frames=1).shape[2] == 1  # an image never grows
    for bad in (tc * 2, tc * 3 + 1, 0):
        with pytest.raises(ValueError, match="num_frames"):
            tae.decode(latent, num_frames=bad)


def test_output_dtype_follows_model_and_input_dtype():
    tae = _tae().double()
    video = _video(3).double()
    with torch.no_grad():
        out = tae(video, sample=False)
    assert out.reconstruction_BCTHW.dtype == torch.float64 and out.latent_BCTHW.dtype == torch.float64


def test_sampling_is_deterministic_with_a_generator_and_mean_without():
    tae = _tae()
    video = _video(4)
    with torch.no_grad():
        a = tae.encode(video, generator=torch.Generator().manual_seed(0))
        b = tae.encode(video, generator=torch.Generator().manual_seed(0))
        c = tae.encode(video, generator=torch.Generator().manual_seed(1))
        mean = tae.encode(video, sample=False)
    torch.testing.assert_close(a.latent_BCTHW, b.latent_BCTHW)
    assert not torch.allclose(a.latent_BCTHW, c.latent_BCTHW)
    torch.testing.assert_close(mean.latent_BCTHW, mean.posterior_mean_BCTHW)


def test_bad_inputs_raise_value_error_echoing_the_shape():
    tae = _tae()
    with pytest.raises(ValueError, match=r"\(1, 3, 16, 16\)"):
        tae.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="3 channels"):
        tae.encode(torch.zeros(1, 4, 2, 16, 16))
    with pytest.raises(ValueError, match="divisible by the spatial compression 2"):
        tae.encode(torch.zeros(1, 3, 2, 15, 16))
    with pytest.raises(ValueError, match="16 channels"):
        tae.decode(torch.zeros(1, 8, 2, 8, 8))


def test_state_dict_keys_are_pinned():
    keys = set(_tae().state_dict())
    expected_subset = {
        "encoder.conv_in.spatial.weight",
        "encoder.conv_in.temporal.weight",
        "encoder.down_blocks.0.resnets.0.norm1.weight",
        "encoder.down_blocks.0.resnets.0.conv1.spatial.weight",
        "encoder.down_blocks.0.downsamplers.0.conv.temporal.weight",
        "encoder.down_blocks.1.resnets.0.conv_shortcut.spatial.weight",
        "encoder.mid_block.attentions.0.to_out.0.weight",
        "encoder.mid_block.temporal_attentions.0.to_q.weight",
        "encoder.conv_out.spatial.weight",
        "quant_conv.spatial.weight",
        "post_quant_conv.spatial.bias",
        "decoder.up_blocks.0.upsamplers.0.conv.spatial.weight",
        "decoder.up_blocks.1.resnets.1.conv2.temporal.bias",
        "decoder.conv_norm_out.bias",
    }
    assert expected_subset <= keys
    assert not any("quant_conv.temporal" in k or "conv_shortcut.temporal" in k for k in keys)
    assert "encoder.down_blocks.1.downsamplers.0.conv.spatial.weight" not in keys  # last level: no downsampler
    # 124 keys of the equivalent diffusers AutoencoderKL + 26 temporal convs (weight, bias) + 2 temporal attentions.
    assert len(keys) == 124 + 26 * 2 + 2 * 10
    assert sum(".temporal." in k for k in keys) == 26 * 2


def test_init_is_frame_local_and_temporal_layers_make_it_mix_time():
    tae = _tae()
    tc = tae.cfg.temporal_compression
    video = _video(5)
    with torch.no_grad():
        mean = tae.encode(video, sample=False).posterior_mean_BCTHW
        for k in range(mean.shape[2]):
            single = tae.encode(video[:, :, tc * k : tc * k + 1], sample=False).posterior_mean_BCTHW
            torch.testing.assert_close(mean[:, :, k], single[:, :, 0], atol=1e-5, rtol=1e-5)
        _randomize_temporal(tae)
        mixed = tae.encode(video, sample=False).posterior_mean_BCTHW
        single = tae.encode(video[:, :, :1], sample=False).posterior_mean_BCTHW
    assert not torch.allclose(mixed[:, :, 0], single[:, :, 0], atol=1e-3)


@pytest.mark.parametrize("mode", list(TemporalUpsample))
def test_a_lone_latent_frame_decodes_to_identical_frames_and_neighbours_break_the_tie(mode):
    # Nearest x2 temporal upsampling + replicate-padded temporal convs (SPEC 1.1): with one latent frame every decoder
    # layer sees the same input at every frame, so training on one-latent-frame crops can only teach the group mean
    # (why the tae-tiny-clip phase trains on 4-latent-frame crops, docs/tae.md). Linear upsampling holds the ends,
    # so it is no different there.
    tae = _tae(dataclasses.replace(tae_debug(), temporal_upsample=mode))
    _randomize_temporal(tae)
    tc = tae.cfg.temporal_compression
    with torch.no_grad():
        lone = tae.decode(torch.randn(1, 16, 1, 4, 4, generator=torch.Generator().manual_seed(0)), num_frames=tc)
        torch.testing.assert_close(lone, lone[:, :, :1].expand_as(lone))
        pair = tae.decode(torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(1)), num_frames=2 * tc)
    assert (pair[:, :, 0] - pair[:, :, 1]).abs().max() > 1e-3  # a neighbour tells the frames of a group apart


def test_linear_temporal_upsampling_blends_neighbouring_frames_and_keeps_the_lengths():
    up = Upsample(1, temporal=True, mode=TemporalUpsample.LINEAR)
    up.conv = torch.nn.Identity()  # the interpolation alone
    x = torch.tensor([0.0, 1.0, 3.0]).view(1, 1, 3, 1, 1)
    out = up(x, num_frames=5)  # an odd stage length drops the spurious last frame, as with nearest
    assert out.shape == (1, 1, 5, 2, 2)
    # Frame 2i and 2i+1 sit a quarter before and after input frame i; the first frame is held.
    torch.testing.assert_close(out[0, 0, :, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.5, 2.5]))
    torch.testing.assert_close(out[..., 1, 1], out[..., 0, 0])  # nearest in space
    nearest = Upsample(1, temporal=True)
    nearest.conv = torch.nn.Identity()
    torch.testing.assert_close(nearest(x, num_frames=5)[0, 0, :, 0, 0], torch.tensor([0.0, 0.0, 1.0, 1.0, 3.0]))
    # The option changes no weight: a decoder trained with either loads into the other, and the config round-trips.
    cfg = dataclasses.replace(tae_debug(), temporal_upsample=TemporalUpsample.LINEAR)
    assert _tae(cfg).state_dict().keys() == _tae().state_dict().keys()
    assert config_from_dict(TAEConfig, config_to_dict(cfg)) == cfg
    assert config_to_dict(cfg)["temporal_upsample"] == "linear"
    with torch.no_grad():
        assert _tae(cfg).decode(torch.randn(1, 16, 2, 4, 4), num_frames=3).shape == (1, 3, 3, 8, 8)


# ---------------------------------------------------------------- losses


def _opl_loop_reference(latent: torch.Tensor, r: float) -> float:
    b, c, t, h, w = latent.shape
    frames = []
    for bi in range(b):
        for ti in range(t):
            x = latent[bi, :, ti].tolist()  # [C][H][W]
            means = [sum(sum(row) for row in x[ci]) / (h * w) for ci in range(c)]
            stds = [
                math.sqrt(sum((v - means[ci]) ** 2 for row in x[ci] for v in row) / (h * w)) for ci in range(c)
            ]
            std_norm = math.sqrt(sum(s * s for s in stds))
            total = 0.0
            for i in range(h):
                for j in range(w):
                    dist = math.sqrt(sum((x[ci][i][j] - means[ci]) ** 2 for ci in range(c)))
                    total += max(dist - r * std_norm, 0.0)
            frames.append(total / (h * w))
    return sum(frames) / len(frames)


@pytest.mark.parametrize("r", [3.0, 1.0])
def test_outlier_penalty_matches_loop_reference(r):
    gen = torch.Generator().manual_seed(0)
    latent = torch.randn(2, 4, 3, 5, 6, generator=gen, dtype=torch.float64)
    latent[0, :, 1, 2, 3] += 25.0  # a "latent dot"
    latent[1, 2, 0, 0, 0] -= 40.0
    got = outlier_penalty_loss(latent, r=r).item()
    expected = _opl_loop_reference(latent, r)
    assert got > 0
    assert got == pytest.approx(expected, rel=1e-5)


def test_outlier_penalty_is_zero_without_outliers():
    latent = torch.zeros(1, 4, 2, 4, 4)
    latent[:, :, :, ::2, ::2] = 1.0  # bounded pattern: every distance is within 3 std norms
    assert outlier_penalty_loss(latent, r=3.0).item() == 0.0


def test_kl_matches_closed_form_against_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(2, 4, 3, 2, 2, generator=gen, dtype=torch.float64)
    logvar = torch.randn(2, 4, 3, 2, 2, generator=gen, dtype=torch.float64)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(q, p).flatten(1).sum(1)
    torch.testing.assert_close(kl_divergence(mean, logvar_BCTHW=logvar), expected.float(), rtol=1e-5, atol=1e-5)
    assert kl_divergence(torch.zeros(1, 2, 1, 2, 2), logvar_BCTHW=torch.zeros(1, 2, 1, 2, 2)).item() == 0.0


def test_reconstruction_loss_kinds():
    pred, target = torch.full((2, 3, 4, 2, 2), 0.5), torch.zeros(2, 3, 4, 2, 2)
    pixels_per_frame = 3 * 2 * 2
    assert reconstruction_loss(pred, target_BCTHW=target).item() == pytest.approx(0.5 * pixels_per_frame)
    l1_l2 = reconstruction_loss(pred, target_BCTHW=target, kind=ReconstructionLoss.L1_L2).item()
    assert l1_l2 == pytest.approx((0.5 + 0.25) * pixels_per_frame)
    l2 = reconstruction_loss(pred, target_BCTHW=target, kind=ReconstructionLoss.L2).item()
    assert l2 == pytest.approx(0.25 * pixels_per_frame)


def test_perceptual_loss_zero_on_identical_positive_otherwise_and_seeded():
    video, other = _video(2, size=32, seed=1), _video(2, size=32, seed=2)
    loss_a, loss_b, loss_c = PerceptualLoss(seed=0), PerceptualLoss(seed=0), PerceptualLoss(seed=1)
    assert loss_a(video, target_BCTHW=video).item() == 0.0
    d_a = loss_a(video, target_BCTHW=other)
    assert d_a.item() > 0
    assert d_a.item() == loss_b(video, target_BCTHW=other).item()  # reproducible from the seed alone
    assert d_a.item() != loss_c(video, target_BCTHW=other).item()
    assert loss_a(video, target_BCTHW=video + 0.05 * other).item() < d_a.item()  # closer input, smaller distance
    assert not any(p.requires_grad for p in loss_a.parameters())
    noisy = (video + 0.1).requires_grad_(True)
    loss_a(noisy, target_BCTHW=video).backward()
    assert noisy.grad is not None and noisy.grad.abs().sum() > 0


def test_perceptual_weights_roundtrip_through_safetensors(tmp_path):
    path = tmp_path / "perceptual.safetensors"
    trained = PerceptualLoss(seed=5)
    trained.save_weights(path)
    loaded = PerceptualLoss(seed=0)
    loaded.load_weights(path)
    video, other = _video(1, size=16, seed=1), _video(1, size=16, seed=2)
    assert loaded(video, target_BCTHW=other).item() == trained(video, target_BCTHW=other).item()
    with pytest.raises(ValueError, match="do not match"):
        PerceptualLoss(stage_channels=(8, 16)).load_weights(path)


def test_hinge_losses_sign_behaviour():
    confident_real, confident_fake = torch.full((4,), 2.0), torch.full((4,), -2.0)
    assert hinge_discriminator_loss(logits_real=confident_real, logits_fake=confident_fake).item() == 0.0
    assert hinge_discriminator_loss(logits_real=confident_fake, logits_fake=confident_real).item() == pytest.approx(3.0)
    assert hinge_discriminator_loss(logits_real=torch.zeros(4), logits_fake=torch.zeros(4)).item() == pytest.approx(1.0)
    # The generator loss falls as the discriminator believes the fakes.
    assert hinge_generator_loss(torch.full((4,), 1.0)) < hinge_generator_loss(torch.full((4,), -1.0))


def test_patch_discriminator_is_per_frame():
    torch.manual_seed(0)
    disc = PatchDiscriminator(base_channels=8, num_layers=2)
    video = _video(3, size=16)
    logits = disc(video)
    assert logits.shape[:3] == (1, 1, 3)
    torch.testing.assert_close(disc(video[:, :, 1:2])[:, :, 0], logits[:, :, 1], atol=1e-5, rtol=1e-5)


def test_tae_loss_total_is_the_weighted_sum():
    cfg = TAELossConfig(kl_weight=1e-2, opl_weight=10.0, perceptual_weight=0.5)
    loss = TAELoss(cfg)
    tae = _tae()
    video = _video(3)
    out = tae(video, generator=torch.Generator().manual_seed(0))
    terms = loss(video_BCTHW=video, output=out)
    expected = terms.reconstruction + 0.5 * terms.perceptual + 1e-2 * terms.kl + 10.0 * terms.opl
    torch.testing.assert_close(terms.total, expected)
    assert terms.adversarial.item() == 0.0 and terms.perceptual.item() > 0
    terms.total.backward()
    assert tae.encoder.conv_in.spatial.weight.grad is not None


def test_tae_loss_with_discriminator():
    cfg = TAELossConfig(discriminator_weight=0.5, discriminator_channels=8, discriminator_layers=2)
    loss = TAELoss(cfg)
    tae = _tae()
    video = _video(2)
    out = tae(video, sample=False)
    with pytest.raises(ValueError, match="last_layer_weight"):
        loss(video_BCTHW=video, output=out)
    terms = loss(video_BCTHW=video, output=out, last_layer_weight=tae.decoder.conv_out.spatial.weight)
    assert terms.adversarial_weight.item() > 0
    torch.testing.assert_close(
        terms.total,
        terms.reconstruction
        + terms.perceptual
        + 1e-6 * terms.kl
        + 1e5 * terms.opl
        + terms.adversarial_weight * terms.adversarial,
    )
    d_loss = loss.discriminator_loss(video_BCTHW=video, reconstruction_BCTHW=out.reconstruction_BCTHW)
    tae.zero_grad()
    d_loss.backward()
    assert tae.decoder.conv_out.spatial.weight.grad is None  # reconstructions are detached for D
    assert loss.discriminator.layers[0].weight.grad is not None
    with pytest.raises(ValueError, match="disabled"):
        TAELoss(TAELossConfig()).discriminator_loss(video_BCTHW=video, reconstruction_BCTHW=video)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [({"kl_weight": -1.0}, "kl_weight"), ({"opl_r": 0.0}, "opl_r"), ({"discriminator_layers": 0}, "discriminator")],
)
def test_loss_config_rejects_bad_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        TAELossConfig(**overrides)


def test_loss_config_defaults_follow_the_spec():
    cfg = TAELossConfig()
    assert (cfg.kl_weight, cfg.perceptual_weight, cfg.opl_weight, cfg.opl_r) == (1e-6, 1.0, 1e5, 3.0)
    assert cfg.discriminator_weight == 0.0 and TAELoss(cfg).discriminator is None


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize("num_latent_frames", [1, 2, 3, 4, 5, 8, 13, 32])
@pytest.mark.parametrize(("tile", "overlap"), [(4, 2), (4, 0), (3, 1), (5, 2), (1, 0)])
def test_decode_ramp_weights_sum_to_one(num_latent_frames, tile, overlap):
    tc = 8
    for num_frames in {tc * num_latent_frames, tc * (num_latent_frames - 1) + 1}:
        tiles = plan_decode_tiles(
            num_latent_frames=num_latent_frames,
            num_frames=num_frames,
            temporal_compression=tc,
            tile_latent_frames=tile,
            overlap_latent_frames=overlap,
        )
        total = torch.zeros(num_frames)
        for t in tiles:
            assert t.latent_end - t.latent_start <= tile
            total[t.frame_start : t.frame_end] += t.weight_T
        torch.testing.assert_close(total, torch.ones(num_frames))
        assert tiles[-1].frame_end == num_frames and tiles[0].frame_start == 0
        for prev, nxt in zip(tiles, tiles[1:], strict=False):
            falling = prev.weight_T[nxt.frame_start - prev.frame_start :]
            assert len(falling) == tc * overlap
            assert (falling[1:] < falling[:-1]).all() and (falling > 0).all() and (falling < 1).all()


def test_default_plan_matches_spec_tiles():
    tiles = plan_decode_tiles(num_latent_frames=32, num_frames=256, temporal_compression=8)
    assert [(t.latent_start, t.latent_end) for t in tiles[:3]] == [(0, 4), (2, 6), (4, 8)]
    assert tiles[0].weight_T.shape == (32,) and (tiles[0].weight_T[:16] == 1).all()  # 16-frame overlap


@pytest.mark.parametrize(("tile", "overlap"), [(0, 0), (4, 4), (4, 3), (4, -1), (2, 3)])
def test_bad_tile_values_raise(tile, overlap):
    tae = _tae()
    with pytest.raises(ValueError, match="tile_latent_frames|overlap_latent_frames"):
        decode_tiled(tae, torch.zeros(1, 16, 4, 8, 8), tile_latent_frames=tile, overlap_latent_frames=overlap)


def test_bad_encode_tile_raises():
    tae = _tae()
    for bad in (0, 3, -2):
        with pytest.raises(ValueError, match="tile_frames"):
            encode_tiled(tae, _video(4), tile_frames=bad)
    with pytest.raises(ValueError, match="num_frames"):
        decode_tiled(tae, torch.zeros(1, 16, 4, 8, 8), num_frames=3)


def test_tiles_covering_the_clip_equal_the_untiled_result():
    tae = _tae()
    _randomize_temporal(tae)  # a temporally mixing model: any real tiling would change the result
    video = _video(7)
    with torch.no_grad():
        full = tae.encode(video, sample=False)
        tiled = encode_tiled(tae, video, tile_frames=8)
        torch.testing.assert_close(tiled.posterior_mean_BCTHW, full.posterior_mean_BCTHW)
        decoded = tae.decode(full.latent_BCTHW, num_frames=7)
        torch.testing.assert_close(decode_tiled(tae, full.latent_BCTHW, tile_latent_frames=4, num_frames=7), decoded)
        # A real tiling of the mixing model differs, so the equality above is not vacuous.
        split = decode_tiled(tae, full.latent_BCTHW, tile_latent_frames=2, overlap_latent_frames=1, num_frames=7)
    assert split.shape == decoded.shape and not torch.allclose(split, decoded, atol=1e-4)


@pytest.mark.parametrize("num_frames", FRAME_COUNTS)
def test_tiling_of_a_frame_local_model_is_exact_and_shapes_match(num_frames):
    # At init the TAE is frame-local, so overlapping tiles blend identical frames with weights summing to 1.
    tae = _tae()
    video = _video(num_frames)
    with torch.no_grad():
        full = tae.encode(video, sample=False)
        tiled = encode_tiled(tae, video, tile_frames=2)
        torch.testing.assert_close(tiled.posterior_mean_BCTHW, full.posterior_mean_BCTHW, atol=1e-5, rtol=1e-5)
        decoded = tae.decode(full.latent_BCTHW, num_frames=num_frames)
        blended = decode_tiled(
            tae, full.latent_BCTHW, tile_latent_frames=4, overlap_latent_frames=2, num_frames=num_frames
        )
    assert blended.shape == video.shape
    torch.testing.assert_close(blended, decoded, atol=1e-5, rtol=1e-5)
