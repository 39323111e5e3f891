"""Unit tests for growing a trained TAE: ``TAEConfig.decoder_width_multiplier`` and ``moviegen.tae.widen`` (wider
decoder, more latent channels, more ResNets per level)."""

import dataclasses

import pytest
import torch

from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.tae import TAEConfig, TemporalAutoencoder, TemporalUpsample, tae_debug, tae_tiny
from moviegen.tae.widen import (
    decoder_width_multiplier_of,
    deepen,
    latent_channels_of,
    layers_per_block_of,
    load_tae_widening,
    widen_decoder,
    widen_latent,
)


def _tae(*, seed: int) -> TemporalAutoencoder:
    torch.manual_seed(seed)
    return TemporalAutoencoder(tae_debug()).eval()


def _trained(tae: TemporalAutoencoder, *, seed: int) -> TemporalAutoencoder:
    """Every layer off its init: temporal convs and attentions mix frames, norms are not 1/0."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in tae.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return tae


def test_a_widened_decoder_decodes_as_the_narrow_one_and_trains_its_new_channels():
    narrow = _trained(_tae(seed=4), seed=5)
    gen = torch.Generator().manual_seed(15)
    wide = widen_decoder(narrow, 2, seed=1).eval()
    assert wide.cfg.decoder_block_out_channels == (32, 64) and wide.cfg.decoder_norm_num_groups == 16
    assert wide.decoder.conv_out.spatial.weight.shape == (3, 32, 3, 3)
    for name, param in narrow.named_parameters():  # the encoder side is copied as is
        if not name.startswith("decoder."):
            assert torch.equal(param, wide.get_parameter(name))
    latent = torch.randn(2, 16, 3, 4, 4, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(wide.decode(latent, num_frames=5), narrow.decode(latent, num_frames=5))
    # Widening again, by a factor that is not a power of two, still keeps the function.
    wider = widen_decoder(wide, 3)
    with torch.no_grad():
        torch.testing.assert_close(wider.decode(latent, num_frames=5), narrow.decode(latent, num_frames=5))
    # The zero blocks get gradients: the new channels join in once trained.
    wide.decode(latent, num_frames=5).square().mean().backward()
    assert wide.decoder.conv_out.spatial.weight.grad[:, 16:].abs().max() > 0
    assert wide.decoder.mid_block.attentions[0].to_q.weight.grad[32:].abs().max() > 0
    with pytest.raises(ValueError, match="multiplier must be >= the TAE's decoder_width_multiplier \\(2\\), got 1"):
        widen_decoder(wide, 1)


def test_load_tae_widening_reads_the_decoder_width_from_the_weights():
    narrow = _tae(seed=6)
    state = narrow.state_dict()
    assert decoder_width_multiplier_of(state, tae_debug()) == 1
    wide_cfg = dataclasses.replace(tae_debug(), decoder_width_multiplier=2)
    wide = load_tae_widening(wide_cfg, state).eval()
    assert wide.cfg == wide_cfg and decoder_width_multiplier_of(wide.state_dict(), tae_debug()) == 2
    latent = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(wide.decode(latent), narrow.decode(latent))
    assert torch.equal(load_tae_widening(tae_debug(), state).decoder.conv_in.spatial.weight,
                       narrow.decoder.conv_in.spatial.weight)
    with pytest.raises(ValueError, match="a decoder 2x wide, the config 1x"):
        load_tae_widening(tae_debug(), wide.state_dict())
    with pytest.raises(ValueError, match="no 'decoder.conv_in.spatial.weight'"):
        decoder_width_multiplier_of({}, tae_debug())
    # The config with another's architecture choices (decoder upsampling and width, depth) keeps its own latent
    # interface and level widths.
    other = dataclasses.replace(tae_tiny(), decoder_width_multiplier=2, temporal_upsample=TemporalUpsample.LINEAR,
                                layers_per_block=2, latent_channels=32)
    mixed = tae_debug().with_architecture_of(other)
    assert mixed.block_out_channels == (16, 32) and mixed.decoder_width_multiplier == 2
    assert mixed.temporal_upsample is TemporalUpsample.LINEAR and mixed.layers_per_block == 2
    assert mixed.latent_channels == 16
    assert config_from_dict(TAEConfig, config_to_dict(mixed)) == mixed


@pytest.mark.parametrize("latent_channels", [24, 40])  # 40: the new log-variances wrap around the 16 trained ones
def test_a_widened_latent_encodes_and_decodes_the_trained_channels_as_before_and_trains_the_new_ones(latent_channels):
    narrow = _trained(_tae(seed=7), seed=8)
    wide = widen_latent(narrow, latent_channels, seed=2).eval()
    assert wide.cfg.latent_channels == latent_channels and latent_channels_of(wide.state_dict()) == latent_channels
    video = torch.rand(2, 3, 5, 8, 8, generator=torch.Generator().manual_seed(9)) * 2 - 1
    with torch.no_grad():
        old, new = narrow.encode(video, sample=False), wide.encode(video, sample=False)
        torch.testing.assert_close(new.posterior_mean_BCTHW[:, :16], old.posterior_mean_BCTHW)
        torch.testing.assert_close(new.posterior_logvar_BCTHW[:, :16], old.posterior_logvar_BCTHW)
        # The new channels carry features of the input, with the posterior width of trained channel j mod 16.
        assert new.posterior_mean_BCTHW[:, 16:].std() > 1e-3
        copied = torch.arange(16, latent_channels) % 16
        torch.testing.assert_close(new.posterior_logvar_BCTHW[:, 16:], old.posterior_logvar_BCTHW[:, copied])
        # Decoding reads only the trained channels: whatever the new ones hold, the frames are the narrow TAE's.
        latent = new.latent_BCTHW.clone()
        latent[:, 16:] = torch.randn(latent[:, 16:].shape)
        torch.testing.assert_close(wide.decode(latent, num_frames=5), narrow.decode(old.latent_BCTHW, num_frames=5))
    # The zero columns get gradients: the decoder learns to read the new channels.
    recon = wide.decode(wide.encode(video, sample=False).latent_BCTHW, num_frames=5)
    (recon - video).square().mean().backward()
    assert wide.decoder.conv_in.spatial.weight.grad[:, 16:].abs().max() > 0
    assert wide.post_quant_conv.spatial.weight.grad[:16, 16:].abs().max() > 0
    message = f"latent_channels must be >= the TAE's latent_channels \\({latent_channels}\\), got 16"
    with pytest.raises(ValueError, match=message):
        widen_latent(wide, 16)


def test_load_tae_widening_widens_latent_and_decoder_together():
    narrow = _trained(_tae(seed=10), seed=11)
    cfg = dataclasses.replace(tae_debug(), latent_channels=32, decoder_width_multiplier=2)
    wide = load_tae_widening(cfg, narrow.state_dict()).eval()
    assert wide.cfg == cfg
    latent = torch.randn(1, 32, 2, 4, 4)
    video = torch.rand(1, 3, 5, 8, 8) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(wide.decode(latent), narrow.decode(latent[:, :16]))
        torch.testing.assert_close(wide.encode(video).posterior_mean_BCTHW[:, :16],
                                   narrow.encode(video).posterior_mean_BCTHW)
    with pytest.raises(ValueError, match="TAE weights have 32 latent channels, the config 16"):
        load_tae_widening(dataclasses.replace(tae_debug(), decoder_width_multiplier=2), wide.state_dict())
    with pytest.raises(ValueError, match="no 'post_quant_conv.spatial.weight'"):
        latent_channels_of({})


def test_a_deepened_tae_encodes_and_decodes_as_the_shallow_one_and_trains_its_new_resnets():
    shallow = _trained(_tae(seed=12), seed=13)
    deep = deepen(shallow, 2, seed=3).eval()
    assert deep.cfg.layers_per_block == 2 and layers_per_block_of(deep.state_dict()) == 2
    assert len(deep.encoder.down_blocks[0].resnets) == 2 and len(deep.decoder.up_blocks[0].resnets) == 3
    video = torch.rand(2, 3, 5, 8, 8, generator=torch.Generator().manual_seed(14)) * 2 - 1
    with torch.no_grad():
        old, new = shallow.encode(video, sample=False), deep.encode(video, sample=False)
        torch.testing.assert_close(new.posterior_mean_BCTHW, old.posterior_mean_BCTHW)
        torch.testing.assert_close(new.posterior_logvar_BCTHW, old.posterior_logvar_BCTHW)
        torch.testing.assert_close(deep.decode(new.latent_BCTHW, num_frames=5),
                                   shallow.decode(old.latent_BCTHW, num_frames=5))
    # The new ResNets are identities whose last spatial conv gets gradients at once (its temporal conv, the fresh
    # identity, passes them through), so they grow from there.
    recon = deep.decode(deep.encode(video, sample=False).latent_BCTHW, num_frames=5)
    (recon - video).square().mean().backward()
    for block in (deep.encoder.down_blocks[1].resnets[1], deep.decoder.up_blocks[0].resnets[2]):
        assert block.conv2.spatial.weight.grad.abs().max() > 0
        assert torch.equal(block.conv2.temporal.weight[:, :, 1], torch.eye(block.conv2.temporal.weight.shape[0]))
    with pytest.raises(ValueError, match="layers_per_block must be >= the TAE's layers_per_block \\(2\\), got 1"):
        deepen(deep, 1)


def test_load_tae_widening_deepens_and_widens_together_from_the_weights():
    shallow = _trained(_tae(seed=15), seed=16)
    cfg = dataclasses.replace(tae_debug(), layers_per_block=3, decoder_width_multiplier=2)
    grown = load_tae_widening(cfg, shallow.state_dict()).eval()
    assert grown.cfg == cfg and layers_per_block_of(grown.state_dict()) == 3
    latent = torch.randn(1, 16, 2, 4, 4)
    video = torch.rand(1, 3, 5, 8, 8) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(grown.decode(latent), shallow.decode(latent))
        torch.testing.assert_close(grown.encode(video).posterior_mean_BCTHW, shallow.encode(video).posterior_mean_BCTHW)
    with pytest.raises(ValueError, match="TAE weights have 3 ResNets per level, the config 1"):
        load_tae_widening(dataclasses.replace(tae_debug(), decoder_width_multiplier=2), grown.state_dict())
    with pytest.raises(ValueError, match="no 'encoder.down_blocks.0.resnets.'"):
        layers_per_block_of({})
