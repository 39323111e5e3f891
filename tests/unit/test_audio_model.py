"""Movie Gen Audio's configs, transformer, context masks, video features and long-audio windows (tiny configs)."""

from dataclasses import replace

import pytest
import torch

from moviegen.audio.conditioning import AudioDropoutConfig, sample_condition_keep, sample_known_frames
from moviegen.audio.config import MovieGenAudioConfig, audio_13b, audio_debug, audio_tiny
from moviegen.audio.features import latent_frame_sources, resample_to_latent_rate
from moviegen.audio.long import generate_autoregressive, multidiffusion_velocity, triangular_weights, window_starts
from moviegen.audio.model import AudioContext, AudioTransformer, MovieGenAudio
from moviegen.configs.presets import PRESETS, ModelKind, count_parameters
from moviegen.dit.config import FFNKind


def _model(seed: int = 0) -> MovieGenAudio:
    torch.manual_seed(seed)
    model = MovieGenAudio(audio_debug())
    model.init_weights()
    # adaLN-Zero and a zero video projection make a fresh model ignore its inputs; perturb every weight so the
    # tests below see real dependencies.
    with torch.no_grad():
        for p in model.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _inputs(model: MovieGenAudio, *, batch: int = 2, length: int = 12):
    cfg = model.cfg
    c = cfg.codec.latent_channels
    x = torch.randn(batch, c, length)
    t = torch.rand(batch)
    text = model.encode_text(["a low thump", "sad music"][:batch])
    video = torch.randn(batch, length, cfg.video.dim)
    return x, t, text, video


def test_paper_preset_is_13b_class_and_listed():
    cfg = audio_13b()
    assert (cfg.dit.num_layers, cfg.dit.dim, cfg.dit.ffn_dim) == (36, 4608, 18432)
    assert cfg.dit.ffn is FFNKind.GELU
    assert cfg.codec.sample_rate == 48000 and cfg.frame_rate == 25 and cfg.codec.latent_channels == 128
    params = count_parameters(lambda: AudioTransformer(cfg.dit, video_dim=cfg.video.dim))
    # 36 x (8 D^2 self+cross attention + 2 D F MLP) = 12.23e9, plus projections: the paper's "13B" class.
    block = 8 * 4608**2 + 2 * 4608 * 18432
    assert 36 * block < params < 36 * block * 1.03
    assert 12.0e9 < params < 13.5e9
    preset = PRESETS["audio-13b"]
    assert preset.kind is ModelKind.AUDIO and count_parameters(preset.build) == params


def test_config_checks_channels_and_window():
    cfg = audio_debug()
    with pytest.raises(ValueError, match="input_channels"):
        replace(cfg, dit=replace(cfg.dit, in_channels=cfg.codec.latent_channels))
    with pytest.raises(ValueError, match="positional table"):
        MovieGenAudioConfig(codec=cfg.codec, dit=cfg.dit, text=cfg.text, video=cfg.video, window_seconds=10.0)
    tiny = audio_tiny()
    assert tiny.window_frames == 50 and tiny.frame_rate == 25.0


def test_forward_shape_and_fresh_model_predicts_zero():
    model = MovieGenAudio(audio_debug())
    model.init_weights()
    x, t, text, video = _inputs(model)
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=x.shape[2])
    v = model(x, t_B=t, text=text, context=ctx, video_BLF=video)
    assert v.shape == x.shape
    assert torch.count_nonzero(v) == 0  # adaLN-Zero: the untrained model predicts v = 0


def test_video_features_are_added_frame_by_frame():
    """Changing the video features of one latent frame changes the output there most (token-wise addition)."""
    model = _model()
    x, t, text, video = _inputs(model, length=16)
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=16)
    base = model(x, t_B=t, text=text, context=ctx, video_BLF=video)
    bumped = video.clone()
    bumped[:, 5] += 3.0
    diff = (model(x, t_B=t, text=text, context=ctx, video_BLF=bumped) - base).abs().sum(dim=1)  # [B, L]
    assert diff.argmax(dim=1).tolist() == [5, 5]


def test_context_only_matters_where_known():
    model = _model()
    x, t, text, video = _inputs(model)
    known = torch.zeros(2, 12, dtype=torch.bool)
    known[:, :4] = True
    a = AudioContext(latent_BCL=torch.randn_like(x), known_BL=known)
    b = AudioContext(latent_BCL=a.latent_BCL.clone(), known_BL=known)
    b.latent_BCL[..., 4:] += 10.0  # changes hidden behind the mask
    va = model(x, t_B=t, text=text, context=a, video_BLF=video)
    assert torch.allclose(va, model(x, t_B=t, text=text, context=b, video_BLF=video), atol=1e-6)
    c = AudioContext(latent_BCL=a.latent_BCL + 1.0, known_BL=known)  # changes in the known frames
    assert not torch.allclose(va, model(x, t_B=t, text=text, context=c, video_BLF=video), atol=1e-4)


def test_input_checks_name_the_shapes():
    model = _model()
    x, t, text, video = _inputs(model)
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=12)
    with pytest.raises(ValueError, match=r"video_BLF must be \[2, 12, "):
        model(x, t_B=t, text=text, context=ctx, video_BLF=video[:, :5])
    with pytest.raises(ValueError, match="latent must be"):
        model(x[:, :3], t_B=t, text=text, context=ctx, video_BLF=video)
    with pytest.raises(ValueError, match="known_BL"):
        AudioContext(latent_BCL=x, known_BL=torch.ones(2, 12))


def test_trainable_state_roundtrip():
    a, b = _model(0), _model(1)
    b.load_trainable_state_dict(a.trainable_state_dict())
    x, t, text, video = _inputs(a)
    ctx = AudioContext.empty(batch=2, channels=x.shape[1], length=12)
    assert torch.equal(
        a(x, t_B=t, text=text, context=ctx, video_BLF=video), b(x, t_B=t, text=text, context=ctx, video_BLF=video)
    )
    with pytest.raises(ValueError, match="missing"):
        b.load_trainable_state_dict({})


def test_latent_frames_take_the_video_frame_they_fall_in():
    # 25 Hz latents over 16 fps video: latent frame j (centre (j + 0.5) / 25 s) shows video frame floor(centre * 16).
    index = latent_frame_sources(num_latent=6, frame_rate=25.0, fps=16.0, num_video=4)
    assert index.tolist() == [0, 0, 1, 2, 2, 3]
    assert latent_frame_sources(num_latent=3, frame_rate=25.0, fps=16.0, num_video=100, start=25).tolist() == [
        16,
        16,
        17,
    ]
    feats = torch.arange(4.0)[None, :, None]  # feature = frame index
    assert resample_to_latent_rate(feats, fps=16, frame_rate=25, num_latent=8)[0, :, 0].tolist() == [
        0,
        0,
        1,
        2,
        2,
        3,
        3,
        3,
    ]


def test_condition_dropout_and_context_masks_follow_the_paper():
    cfg = AudioDropoutConfig()
    g = torch.Generator().manual_seed(0)
    keep_text, keep_video = sample_condition_keep(20000, cfg=cfg, generator=g)
    both_dropped = float((~keep_text & ~keep_video).float().mean())
    # P(both dropped) = 0.2 + 0.8 * 0.1 * 0.1 = 0.208; P(text dropped) = 0.2 + 0.8 * 0.1 = 0.28
    assert abs(both_dropped - 0.208) < 0.01 and abs(float((~keep_text).float().mean()) - 0.28) < 0.01
    known = sample_known_frames(40, 4000, cfg=cfg, generator=g)
    fully_masked = ~known.any(dim=1)
    # 0.5 by the coin, plus the partial masks whose 75-100% rounds to all 40 frames (fraction >= 39.5/40: 5% of them)
    assert abs(float(fully_masked.float().mean()) - (0.5 + 0.5 * 0.05)) < 0.02
    masked_fraction = 1 - known[~fully_masked].float().mean(dim=1)
    assert float(masked_fraction.min()) >= 0.75 - 1e-6 and bool((~known).any(dim=1).all())
    # The masked frames form one span: the mask changes value at most twice along the row.
    changes = (known[:, 1:] != known[:, :-1]).sum(dim=1)
    assert int(changes.max()) <= 2 and bool(known[:, 0].any()) and bool(known[:, -1].any())


def test_windows_cover_the_sequence_and_end_at_its_end():
    assert window_starts(10, window=50, overlap=25) == [0]
    assert window_starts(100, window=50, overlap=25) == [0, 25, 50]
    assert window_starts(110, window=50, overlap=25) == [0, 25, 50, 60]
    with pytest.raises(ValueError, match="overlap"):
        window_starts(100, window=50, overlap=50)
    w = triangular_weights(8)
    assert w.tolist() == [0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25] and bool((w > 0).all())


def test_multidiffusion_of_a_window_invariant_field_is_that_field():
    """If each window predicts the same per-frame velocity, the weighted average must return it exactly."""
    field_CL = torch.randn(3, 70)

    def window_velocity(x, t, start):
        return field_CL[:, start : start + x.shape[-1]][None].expand_as(x)

    v = multidiffusion_velocity(window_velocity, length=70, window=20, overlap=10)(
        torch.zeros(1, 3, 70), torch.zeros(1)
    )
    assert torch.allclose(v[0], field_CL, atol=1e-6)


def test_autoregressive_keeps_known_frames_and_passes_context_on():
    seen = []

    def solve_window(ctx, known, start):
        seen.append((start, int(known.sum())))
        return torch.full_like(ctx, float(start))

    context = torch.zeros(1, 2, 30)
    context[..., :5] = -1.0
    known = torch.zeros(1, 30, dtype=torch.bool)
    known[:, :5] = True
    out = generate_autoregressive(solve_window, context_BCL=context, known_BL=known, window=10, overlap=4)
    assert torch.equal(out[..., :5], torch.full((1, 2, 5), -1.0))
    # windows 0, 6, 12, 18, 20: each sees the known frames so far in its span as context
    assert seen == [(0, 5), (6, 4), (12, 4), (18, 4), (20, 8)]
    assert out[0, 0, 5:10].tolist() == [0.0] * 5 and out[0, 0, 10:16].tolist() == [6.0] * 6


def test_clip_frame_features_load_from_a_local_tower(tmp_path):
    """The paper's video features: a frozen CLIP vision tower's projected embedding per frame (tiny random config)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from moviegen.audio.config import VideoFeatureConfig, VideoFeatureKind
    from moviegen.audio.features import build_frame_encoder

    torch.manual_seed(0)
    hf = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=24,
    )
    CLIPVisionModelWithProjection(hf).save_pretrained(tmp_path / "tower")
    cfg = VideoFeatureConfig(kind=VideoFeatureKind.CLIP, dim=24, frame_size=32, name="tower")
    encoder = build_frame_encoder(cfg, model_dir=tmp_path)
    frames = torch.rand(2, 5, 3, 32, 32) * 2 - 1
    feats = encoder(frames)
    assert feats.shape == (2, 5, 24) and not any(p.requires_grad for p in encoder.parameters())
    assert not torch.allclose(feats[0, 0], feats[0, 1])  # per-frame, not per-clip
    with pytest.raises(ValueError, match="expects 99"):
        build_frame_encoder(replace(cfg, dim=99), model_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint directory not found"):
        build_frame_encoder(replace(cfg, name="missing"), model_dir=tmp_path)
