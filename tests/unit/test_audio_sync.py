"""The audio transformer's sync training signals (SyncConfig): onset labels, onset-weighted flow loss, onset head."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from moviegen.audio.config import audio_debug
from moviegen.audio.data import AudioWindowBatch, onset_frames
from moviegen.audio.model import AudioContext, MovieGenAudio
from moviegen.flow.path import OTPath
from moviegen.train.audio import AudioStep, onset_weights
from moviegen.train.audio_recipes import SyncConfig, audio_debug_recipe


def test_onset_frames_mark_the_latent_frame_each_onset_falls_in():
    # 25 Hz latents; a window of 20 frames starting at frame 2 covers 0.08 s .. 0.88 s.
    labels = onset_frames(np.array([0.05, 0.5, 0.879, 1.99]), frame_rate=25.0, start=2, length=20)
    assert labels.shape == (20,)
    assert labels.nonzero().flatten().tolist() == [10, 19]  # 0.5 s -> frame 12, 0.879 s -> frame 21; others outside
    assert onset_frames(np.zeros(0), frame_rate=25.0, start=0, length=5).sum() == 0


def test_onset_weights_cover_one_frame_before_to_spread_after():
    onsets = torch.zeros(2, 12)
    onsets[0, 5] = 1.0
    onsets[1, 0] = onsets[1, 11] = 1.0
    weights = onset_weights(onsets, sync=SyncConfig(onset_frame_weight=3.0, onset_spread=2))
    assert weights[0].tolist() == [1, 1, 1, 1, 4, 4, 4, 4, 1, 1, 1, 1]
    assert weights[1].tolist() == [4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 4, 4]
    assert torch.equal(onset_weights(torch.zeros(1, 4), sync=SyncConfig(onset_frame_weight=3.0)), torch.ones(1, 4))


def test_sync_config_checks_its_values():
    with pytest.raises(ValueError, match="onset_frame_weight"):
        SyncConfig(onset_frame_weight=-1.0)
    with pytest.raises(ValueError, match="head_pos_weight"):
        SyncConfig(head_pos_weight=0.0)
    assert not SyncConfig().enabled and SyncConfig(head_weight=0.1).enabled
    with pytest.raises(ValueError, match="onset_head_channels"):  # the head weight needs a model with a head
        replace(audio_debug_recipe(), audio=replace(audio_debug(), onset_head_channels=0))
    with pytest.raises(ValueError, match="onset_head_channels"):
        replace(audio_debug(), onset_head_channels=-1)


def _step_inputs(cfg, *, batch: int = 2):
    window = cfg.window_frames
    onsets = torch.zeros(batch, window)
    onsets[:, window // 2] = 1.0
    frames = [torch.randint(0, 256, (6, 3, cfg.video.frame_size, cfg.video.frame_size), dtype=torch.uint8)] * batch
    return AudioWindowBatch(
        ids=[str(i) for i in range(batch)], latent_BCL=torch.randn(batch, cfg.codec.latent_channels, window),
        frames=frames, starts=[0] * batch, fps=[16.0] * batch, texts=["a thump"] * batch, onsets_BL=onsets,
    )


@pytest.mark.parametrize("head_weight", [0.0, 0.5])
def test_only_the_onset_head_trains_the_frame_encoder_of_a_fresh_model(head_weight):
    """A fresh model's video projection is zero, so the flow loss cannot reach the frame encoder; the head can."""
    cfg = audio_debug()
    torch.manual_seed(0)
    model = MovieGenAudio(cfg)
    model.init_weights()
    recipe = replace(audio_debug_recipe(), audio=cfg, sync=SyncConfig(onset_frame_weight=2.0, head_weight=head_weight))
    loss, metrics = AudioStep(cfg=cfg, path=OTPath(), recipe=recipe)(model, _step_inputs(cfg), step=1)
    loss.backward()
    encoder_grad = sum(float(p.grad.abs().sum()) for p in model.frame_encoder.parameters() if p.grad is not None)
    head_grads = [p.grad for p in model.onset_head.parameters()]
    if head_weight == 0:
        assert encoder_grad == 0.0 and "onset_head" not in metrics and all(g is None for g in head_grads)
    else:
        assert encoder_grad > 0.0 and float(metrics["onset_head"]) > 0.0
        assert all(g is not None and g.abs().sum() > 0 for g in head_grads)


def test_the_onset_head_is_optional_and_sampling_ignores_it_without_onset_conditioning():
    cfg = replace(audio_debug(), onset_conditioning=False)
    plain = MovieGenAudio(replace(cfg, onset_head_channels=0))
    assert plain.onset_head is None
    with pytest.raises(ValueError, match="no onset head"):
        plain.onset_logits(torch.zeros(1, 4, cfg.video.dim))
    with pytest.raises(ValueError, match="onset_conditioning needs an onset head"):
        replace(audio_debug(), onset_head_channels=0)
    assert cfg.onset_head_channels > 0
    torch.manual_seed(0)
    headed = MovieGenAudio(cfg)
    headed.init_weights()
    video = torch.randn(2, 10, cfg.video.dim)
    assert headed.onset_logits(video).shape == (2, 10)
    # The head's weights do not enter the velocity: same transformer weights, same output with or without a head.
    plain.load_state_dict({k: v for k, v in headed.state_dict().items() if not k.startswith("onset_head.")})
    x, t = torch.randn(2, cfg.codec.latent_channels, 10), torch.rand(2)
    text = headed.encode_text(["a thump", ""])
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=10)
    with torch.no_grad():
        for p in headed.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
        plain.transformer.load_state_dict(headed.transformer.state_dict())
        torch.testing.assert_close(
            headed(x, t_B=t, text=text, context=ctx, video_BLF=video),
            plain(x, t_B=t, text=text, context=ctx, video_BLF=video),
            rtol=0, atol=0,
        )


def test_onset_conditioning_adds_the_heads_probability_times_a_learned_vector():
    cfg = audio_debug()
    assert cfg.onset_conditioning
    torch.manual_seed(0)
    model = MovieGenAudio(cfg)
    model.init_weights()
    length = 12
    x, t = torch.randn(2, cfg.codec.latent_channels, length), torch.rand(2)
    text = model.encode_text(["a thump", ""])
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=length)
    video = torch.randn(2, length, cfg.video.dim)

    def transformer(video_BLF):
        return model.transformer(
            x, t_B=t, text_BSD=text.tokens_BSD, text_mask_BS=text.mask_BS, context=ctx, video_BLF=video_BLF
        )

    with torch.no_grad():
        for p in model.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
        # zero at init: a fresh vector changes nothing
        torch.testing.assert_close(model(x, t_B=t, text=text, context=ctx, video_BLF=video), transformer(video))
        model.onset_embed.copy_(torch.randn(cfg.video.dim))
        onset_BL1 = torch.sigmoid(model.onset_logits(video))[..., None]
        expected = transformer(video + onset_BL1 * model.onset_embed)
        assert not torch.allclose(expected, transformer(video))
    out = model(x, t_B=t, text=text, context=ctx, video_BLF=video)
    torch.testing.assert_close(out, expected)
    out.square().sum().backward()
    assert model.onset_embed.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.onset_head.parameters())  # the head learns from its own loss only


def test_onset_frames_change_the_flow_loss_only_when_weighted():
    cfg = audio_debug()
    torch.manual_seed(0)
    model = MovieGenAudio(cfg)
    model.init_weights()
    with torch.no_grad():
        for p in model.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batch = _step_inputs(cfg)
    quiet = replace(batch, onsets_BL=torch.zeros_like(batch.onsets_BL))
    plain = replace(audio_debug_recipe(), sync=SyncConfig())
    weighted = replace(audio_debug_recipe(), sync=SyncConfig(onset_frame_weight=5.0))
    losses = {}
    for name, recipe in (("plain", plain), ("weighted", weighted)):
        for label, b in (("onsets", batch), ("none", quiet)):
            with torch.no_grad():
                losses[name, label] = float(AudioStep(cfg=cfg, path=OTPath(), recipe=recipe)(model, b, step=1)[0])
    assert losses["plain", "onsets"] == losses["plain", "none"] == losses["weighted", "none"]
    assert losses["weighted", "onsets"] != losses["plain", "onsets"]
