"""Unit tests for Movie Gen Audio's DAC-VAE (SPEC 8.1): spectral helpers, config, model, chunked decode and loss."""

import dataclasses
import math
import time

import pytest
import torch
from torch import nn

from moviegen.audio.codec import (
    DACVAE,
    LOGVAR_INIT,
    AudioPosterior,
    DACVAEConfig,
    DACVAEOutput,
    ResidualUnit,
    Snake,
    dac_vae_48k,
    dac_vae_debug,
    dac_vae_tiny,
    pad_to_hop,
)
from moviegen.audio.codec_loss import AudioCodecLoss, AudioCodecLossConfig
from moviegen.audio.spectral import (
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    stft_magnitude,
)

PRESETS = (dac_vae_debug, dac_vae_tiny, dac_vae_48k)


@pytest.fixture(autouse=True)
def _one_thread():
    # Every model here is tiny: a second thread adds only synchronisation, and on a busy 2-core machine two threads
    # oversubscribe it (measured: ~25 ms vs ~350 ms per overfit step with a background training job).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _codec(cfg: DACVAEConfig | None = None, *, seed: int = 0, scale: float | None = None) -> DACVAE:
    """A debug codec; ``scale`` re-draws every conv weight with std ``scale / sqrt(fan_in)`` for O(1) activations."""
    torch.manual_seed(seed)
    codec = DACVAE(cfg or dac_vae_debug()).eval()
    if scale is not None:
        with torch.no_grad():
            for module in codec.modules():
                if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                    # Conv1d weights are [out, in, k]; ConvTranspose1d weights are [in, out, k].
                    is_conv = isinstance(module, torch.nn.Conv1d)
                    fan_in = module.weight[0].numel() if is_conv else module.weight[:, 0].numel()
                    module.weight.normal_(std=scale / math.sqrt(fan_in))
    return codec


def _sine(freq: float, *, sample_rate: int, num_samples: int, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(num_samples, dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()[None, None]  # [1, 1, N]


# ---------------------------------------------------------------- spectral helpers


def test_slaney_mel_scale_closed_form():
    assert hz_to_mel(torch.tensor(1000.0)).item() == pytest.approx(15.0)  # end of the linear part
    assert hz_to_mel(torch.tensor(6400.0)).item() == pytest.approx(42.0)  # 27 mels per factor 6.4 above 1 kHz
    assert hz_to_mel(torch.tensor(200.0)).item() == pytest.approx(3.0)  # 200/3 Hz per mel below 1 kHz
    f = torch.tensor([0.0, 100.0, 999.0, 1000.0, 4321.0, 24000.0])
    torch.testing.assert_close(mel_to_hz(hz_to_mel(f)), f.double())


def test_mel_filterbank_rows_and_coverage():
    sr, n_fft, n_mels = 16_000, 512, 40
    weights_MF = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels)
    assert weights_MF.shape == (n_mels, n_fft // 2 + 1) and weights_MF.dtype == torch.float32
    assert (weights_MF >= 0).all() and (weights_MF.sum(dim=1) > 0).all()  # no empty band
    # Undo the Slaney area normalisation: the triangles then form a partition of unity between the first and last
    # band centres (each bin there is on the falling edge of one band and the rising edge of the next).
    edges_hz = mel_to_hz(torch.linspace(0.0, hz_to_mel(torch.tensor(sr / 2)).item(), n_mels + 2, dtype=torch.float64))
    triangles_MF = weights_MF.double() * ((edges_hz[2:] - edges_hz[:-2]) / 2)[:, None]
    assert triangles_MF.max().item() <= 1.0 + 1e-6
    fft_hz = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    inside = (fft_hz >= edges_hz[1]) & (fft_hz <= edges_hz[-2])
    torch.testing.assert_close(triangles_MF.sum(dim=0)[inside], torch.ones(int(inside.sum()), dtype=torch.float64))
    assert ((weights_MF > 0).sum(dim=0) <= 2).all()  # at most two overlapping bands per bin
    # Cached per arguments, but every call returns its own copy.
    weights_MF.zero_()
    assert mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels).sum() > 0


def test_mel_filterbank_rejects_empty_bands_and_bad_ranges():
    with pytest.raises(ValueError, match="contain no FFT bin"):
        mel_filterbank(sample_rate=16_000, n_fft=64, n_mels=128)
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank(sample_rate=16_000, n_fft=512, n_mels=40, f_max=9000.0)
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(sample_rate=16_000, n_fft=512, n_mels=0)


def test_stft_magnitude_shape_and_bin_centred_sine_amplitude():
    sr, n_fft, hop, k = 16_000, 256, 64, 20  # 20 * 16000 / 256 = 1250 Hz falls exactly on bin 20
    audio_BN = torch.cat([_sine(k * sr / n_fft, sample_rate=sr, num_samples=4000)[0], torch.zeros(1, 4000)])
    magnitude_BFT = stft_magnitude(audio_BN, n_fft=n_fft, hop=hop)
    assert magnitude_BFT.shape == (2, n_fft // 2 + 1, 4000 // hop + 1) and magnitude_BFT.dtype == torch.float32
    # A periodic Hann window sums to n_fft / 2, so a bin-centred sine of amplitude A peaks at A * n_fft / 4.
    interior = magnitude_BFT[0, :, 4:-4]
    assert (interior.argmax(dim=0) == k).all()
    torch.testing.assert_close(interior[k], torch.full_like(interior[k], 0.5 * n_fft / 4), rtol=1e-3, atol=1e-3)
    assert magnitude_BFT[1].abs().max() == 0
    with pytest.raises(ValueError, match="2-D"):
        stft_magnitude(audio_BN[0], n_fft=n_fft, hop=hop)
    with pytest.raises(ValueError, match="too short"):
        stft_magnitude(audio_BN[:, :128], n_fft=n_fft, hop=hop)
    with pytest.raises(ValueError, match="window"):
        stft_magnitude(audio_BN, n_fft=n_fft, hop=hop, window_N=torch.ones(n_fft - 1))


def test_log_mel_of_a_pure_tone_peaks_in_the_band_containing_it():
    sr, n_fft, hop, n_mels = 16_000, 1024, 256, 64
    log_mel_BMT = log_mel(_sine(440.0, sample_rate=sr, num_samples=8000)[0], sample_rate=sr, n_fft=n_fft, hop=hop,
                          n_mels=n_mels)  # fmt: skip
    assert log_mel_BMT.shape == (1, n_mels, 8000 // hop + 1)
    profile_M = log_mel_BMT[0, :, 2:-2].mean(dim=1)
    peak = int(profile_M.argmax())
    edges_hz = mel_to_hz(torch.linspace(0.0, hz_to_mel(torch.tensor(sr / 2)).item(), n_mels + 2, dtype=torch.float64))
    assert edges_hz[peak] < 440.0 < edges_hz[peak + 2]  # band `peak` spans edges[peak] .. edges[peak + 2]
    assert profile_M[peak] - profile_M.median() > 2.0  # > 40 dB above the typical band
    assert log_mel_BMT.min() >= math.log10(1e-5) - 1e-6  # the eps floor


# ---------------------------------------------------------------- config


def test_preset_hop_and_frame_rate_arithmetic():
    paper, tiny, debug = dac_vae_48k(), dac_vae_tiny(), dac_vae_debug()
    assert (paper.sample_rate, paper.hop, paper.frame_rate, paper.latent_channels) == (48_000, 1920, 25.0, 128)
    assert (tiny.sample_rate, tiny.hop, tiny.frame_rate) == (16_000, 640, 25.0)
    assert (debug.sample_rate, debug.hop, debug.frame_rate) == (8000, 40, 200.0)
    assert paper.encoder_widths == (64, 128, 256, 512, 1024, 2048)
    assert paper.decoder_widths == (1536, 768, 384, 192, 96, 48)
    for preset in PRESETS:
        cfg = preset()
        assert cfg.sample_rate == cfg.hop * cfg.frame_rate
        AudioCodecLossConfig(sample_rate=cfg.sample_rate)  # every preset's rate gives mel scales without empty bands


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"strides": (2, 1)}, "strides"),
        ({"strides": ()}, "strides"),
        ({"strides": [2, 4]}, "strides"),
        ({"dilations": (0, 3)}, "dilations"),
        ({"residual_kernel_size": 6}, "odd"),
        ({"latent_kernel_size": 0}, "odd"),
        ({"decoder_channels": 36}, "divisible by 2 \\*\\* len"),
        ({"latent_channels": 0}, "latent_channels"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"scaling_factor": 0.0}, "scaling_factor"),
    ],
)
def test_config_rejects_bad_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(dac_vae_debug(), **overrides)


def test_loss_config_scales_follow_the_sample_rate_and_reject_bad_values():
    at_16k = AudioCodecLossConfig(sample_rate=16_000)
    assert [(s.n_fft, s.hop) for s in at_16k.mel_scales] == [(256, 64), (512, 128), (1024, 256), (2048, 512)]
    at_48k = AudioCodecLossConfig(sample_rate=48_000)
    assert [s.n_fft for s in at_48k.mel_scales] == [768, 1536, 3072, 6144]
    assert at_48k.min_num_samples == 6144 // 2 + 1
    with pytest.raises(ValueError, match="kl_weight"):
        AudioCodecLossConfig(sample_rate=16_000, kl_weight=-1.0)
    with pytest.raises(ValueError, match="not implemented"):
        AudioCodecLossConfig(sample_rate=16_000, adversarial_weight=0.1)
    with pytest.raises(ValueError, match="equal length"):
        AudioCodecLossConfig(sample_rate=16_000, mel_n_mels=(32, 64))
    with pytest.raises(ValueError, match="contain no FFT bin"):
        AudioCodecLossConfig(sample_rate=16_000, mel_n_mels=(256, 64, 128, 128))


# ---------------------------------------------------------------- model


def test_snake_at_init_is_x_plus_sin_squared():
    snake = Snake(3)
    assert torch.equal(snake.alpha.detach(), torch.ones(3))
    x = torch.randn(2, 3, 17)
    torch.testing.assert_close(snake(x), x + torch.sin(x) ** 2)
    snake(x).sum().backward()
    assert snake.alpha.grad is not None and snake.alpha.grad.abs().sum() > 0


@pytest.mark.parametrize("num_frames", [1, 3, 7])
def test_encode_decode_lengths_are_exact(num_frames):
    codec, cfg = _codec(), dac_vae_debug()
    audio_B1N = torch.randn(2, 1, num_frames * cfg.hop) * 0.3
    posterior = codec.encode(audio_B1N)
    for name in ("latent_BCL", "mean_BCL", "logvar_BCL"):
        assert getattr(posterior, name).shape == (2, cfg.latent_channels, num_frames)
    audio_hat_B1N = codec.decode(posterior.latent_BCL)
    assert audio_hat_B1N.shape == audio_B1N.shape and audio_hat_B1N.dtype == audio_B1N.dtype
    assert audio_hat_B1N.abs().max() < 1  # tanh output
    output = codec(audio_B1N)
    assert isinstance(output, DACVAEOutput) and output.reconstruction_B1N.shape == audio_B1N.shape
    assert output.posterior.kl().shape == (2,)


def test_sampling_and_latent_normalisation():
    cfg = dataclasses.replace(dac_vae_debug(), scaling_factor=2.0, shift_factor=0.5)
    codec, plain = _codec(cfg, scale=1.0), _codec(scale=1.0)  # same seed -> same weights, different normalisation
    audio_B1N = torch.randn(1, 1, 5 * cfg.hop) * 0.3
    mean_posterior = codec.encode(audio_B1N, sample=False)
    torch.testing.assert_close(mean_posterior.latent_BCL, (mean_posterior.mean_BCL - 0.5) * 2.0)
    # decode denormalises first: (latent / 2 + 0.5) recovers the mean up to rounding, amplified by the O(1) network.
    torch.testing.assert_close(
        codec.decode(mean_posterior.latent_BCL), plain.decode(mean_posterior.mean_BCL), atol=1e-4, rtol=1e-3
    )
    draw = [codec.encode(audio_B1N, generator=torch.Generator().manual_seed(s)).latent_BCL for s in (1, 1, 2)]
    assert torch.equal(draw[0], draw[1]) and not torch.equal(draw[0], draw[2])


def test_pad_to_hop_and_input_validation():
    codec, cfg = _codec(), dac_vae_debug()
    assert pad_to_hop(torch.ones(1, 1, 41), hop=cfg.hop).shape == (1, 1, 80)
    assert pad_to_hop(torch.ones(1, 1, 80), hop=cfg.hop).shape == (1, 1, 80)
    with pytest.raises(ValueError, match="multiple of the hop 40"):
        codec.encode(torch.zeros(1, 1, 41))
    with pytest.raises(ValueError, match="positive multiple"):
        codec.encode(torch.zeros(1, 1, 0))
    with pytest.raises(ValueError, match="3-D mono"):
        codec.encode(torch.zeros(1, 80))
    with pytest.raises(ValueError, match="3-D mono"):
        codec.encode(torch.zeros(1, 2, 80))
    with pytest.raises(ValueError, match="latent must be"):
        codec.decode(torch.zeros(1, cfg.latent_channels + 1, 4))
    with pytest.raises(ValueError, match="latent must be"):
        codec.decode(torch.zeros(cfg.latent_channels, 4))
    with pytest.raises(ValueError, match="overlap_frames"):
        codec.decode_chunked(torch.zeros(1, cfg.latent_channels, 8), chunk_frames=4, overlap_frames=3)
    with pytest.raises(ValueError, match="chunk_frames"):
        codec.decode_chunked(torch.zeros(1, cfg.latent_channels, 8), chunk_frames=0, overlap_frames=0)


@pytest.mark.parametrize(("chunk_frames", "overlap_frames"), [(64, 0), (8, 3), (10, 5), (7, 0), (1, 0)])
def test_decode_chunked_matches_decode(chunk_frames, overlap_frames):
    codec, cfg = _codec(scale=1.0), dac_vae_debug()
    latent_BCL = torch.randn(2, cfg.latent_channels, 37, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference_B1N = codec.decode(latent_BCL)
    assert reference_B1N.abs().max() > 0.1  # a non-trivial signal
    chunked_B1N = codec.decode_chunked(latent_BCL, chunk_frames=chunk_frames, overlap_frames=overlap_frames)
    assert chunked_B1N.shape == (2, 1, 37 * cfg.hop)
    torch.testing.assert_close(chunked_B1N, reference_B1N, atol=1e-4, rtol=1e-4)  # float rounding only


def test_gradient_reaches_every_encoder_and_decoder_parameter():
    cfg = dac_vae_debug()
    codec = _codec().train()
    with torch.no_grad():  # residual units start as the identity (last conv at zero), which blocks their gradient
        for module in codec.modules():
            if isinstance(module, ResidualUnit):
                module.conv2.weight.normal_(std=0.01)
    loss = AudioCodecLoss(AudioCodecLossConfig(sample_rate=cfg.sample_rate))
    audio_B1N = torch.randn(2, 1, 15 * cfg.hop) * 0.3
    loss(audio_B1N=audio_B1N, output=codec(audio_B1N)).total.backward()
    for name, param in codec.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert any(n.startswith("encoder.") for n, _ in codec.named_parameters())


def _block_params(c: int, s: int, num_dilations: int = 3) -> int:
    """Hand count of one encoder block at input width ``c`` (decoder: output width ``c``), kernels 7 and 1.

    Residual unit: 2 Snakes (2c) + k7 conv (7c^2 + c) + 1x1 conv (c^2 + c) = 8c^2 + 4c. Plus a Snake on the wide
    side and the strided conv between c and 2c (kernel 2s): 2c * c * 2s weights + bias (2c encoder, c decoder), which
    with the Snake's 2c (decoder) or c (encoder) gives 4s c^2 + 3c either way.
    """
    return num_dilations * (8 * c * c + 4 * c) + 4 * s * c * c + 3 * c


def test_paper_preset_builds_on_meta_with_hand_counted_parameters():
    cfg = dac_vae_48k()
    with torch.device("meta"):
        codec = DACVAE(cfg)
    params = list(codec.parameters())
    assert params and all(p.is_meta for p in params)
    encoder = 1 * 64 * 7 + 64  # conv_in
    encoder += sum(_block_params(c, s) for c, s in zip(cfg.encoder_widths[:-1], cfg.strides, strict=True))
    encoder += 2048 + 2048 * 256 * 3 + 256  # Snake, conv_out to 2 x 128 moments
    decoder = 128 * 1536 * 7 + 1536  # conv_in
    decoder += sum(_block_params(c, s) for c, s in zip(cfg.decoder_widths[1:], reversed(cfg.strides), strict=True))
    decoder += 48 + 48 * 7 + 1  # Snake, conv_out to one channel
    assert sum(p.numel() for p in codec.encoder.parameters()) == encoder == 76_578_624
    assert sum(p.numel() for p in codec.decoder.parameters()) == decoder == 43_572_913
    assert 110e6 < encoder + decoder < 130e6  # DAC-scale (DAC 44 kHz: ~76M with its quantizer)
    # Shapes propagate on meta without compute: 1 s at 48 kHz is 25 latent frames and back.
    posterior = codec.encode(torch.empty(1, 1, 48_000, device="meta"))
    assert posterior.latent_BCL.shape == (1, 128, 25)
    assert codec.decode(posterior.latent_BCL).shape == (1, 1, 48_000)


def test_meta_build_then_init_weights_matches_cpu_init_rules():
    with torch.device("meta"):
        codec = DACVAE(dac_vae_debug())
    codec.to_empty(device="cpu")
    codec.init_weights()
    c = codec.cfg.latent_channels
    for name, param in codec.named_parameters():
        if name.endswith("alpha"):
            assert torch.equal(param, torch.ones_like(param)), name
        elif name == "encoder.conv_out.bias":  # mean half at 0, log-variance half at LOGVAR_INIT
            assert torch.equal(param[:c], torch.zeros(c)) and torch.equal(param[c:], torch.full((c,), LOGVAR_INIT))
        elif name.endswith("bias"):
            assert torch.equal(param, torch.zeros_like(param)), name
        elif name.endswith("conv2.weight"):  # residual units start as the identity
            assert torch.equal(param, torch.zeros_like(param)), name
        else:  # variance-preserving: std 1/sqrt(fan_in), the fan-in of a transposed conv divided by its stride
            module = codec.get_submodule(name.rsplit(".", 1)[0])
            fan_in = (
                param[0].numel()
                if isinstance(module, nn.Conv1d)
                else param.shape[0] * param.shape[2] / module.stride[0]
            )
            if param.numel() >= 64:
                assert abs(float(param.std()) * fan_in**0.5 - 1) < 0.35, name


# ---------------------------------------------------------------- loss


def test_loss_is_zero_for_identical_audio_and_positive_otherwise():
    cfg = dac_vae_debug()
    loss = AudioCodecLoss(AudioCodecLossConfig(sample_rate=cfg.sample_rate))
    audio_B1N = torch.randn(2, 1, 30 * cfg.hop) * 0.3
    zeros_BCL = torch.zeros(2, cfg.latent_channels, 30)
    standard = AudioPosterior(latent_BCL=zeros_BCL, mean_BCL=zeros_BCL, logvar_BCL=zeros_BCL)
    same = loss(audio_B1N=audio_B1N, output=DACVAEOutput(reconstruction_B1N=audio_B1N.clone(), posterior=standard))
    for term in ("total", "mel", "stft", "waveform", "kl"):
        assert abs(getattr(same, term).item()) < 1e-6, term
    shifted = AudioPosterior(latent_BCL=zeros_BCL, mean_BCL=zeros_BCL + 1.0, logvar_BCL=zeros_BCL)
    noisy_B1N = audio_B1N + 0.05 * torch.randn_like(audio_B1N)
    other = loss(audio_B1N=audio_B1N, output=DACVAEOutput(reconstruction_B1N=noisy_B1N, posterior=shifted))
    for term in ("mel", "stft", "waveform"):
        assert getattr(other, term).item() > 1e-3, term
    assert other.kl.item() == pytest.approx(0.5)  # 0.5 * mean^2 per latent value
    expected = other.mel + other.stft + other.waveform + 1e-4 * other.kl
    torch.testing.assert_close(other.total, expected)
    with pytest.raises(ValueError, match="equal shape"):
        loss(audio_B1N=audio_B1N, output=DACVAEOutput(reconstruction_B1N=audio_B1N[:, :, :-40], posterior=standard))
    with pytest.raises(ValueError, match="samples"):
        short_B1N = audio_B1N[:, :, :400]
        loss(audio_B1N=short_B1N, output=DACVAEOutput(reconstruction_B1N=short_B1N, posterior=standard))


def test_debug_codec_overfits_one_sine():
    cfg = dac_vae_debug()
    codec = _codec().train()
    loss = AudioCodecLoss(AudioCodecLossConfig(sample_rate=cfg.sample_rate))
    audio_B1N = _sine(440.0, sample_rate=cfg.sample_rate, num_samples=cfg.sample_rate // 4)  # 0.25 s
    optimizer = torch.optim.Adam(codec.parameters(), lr=2e-3)
    mel_losses, start = [], time.perf_counter()
    for step in range(150):
        terms = loss(audio_B1N=audio_B1N, output=codec(audio_B1N, generator=torch.Generator().manual_seed(step)))
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        mel_losses.append(terms.mel.item())
    elapsed = time.perf_counter() - start
    final = sum(mel_losses[-10:]) / 10
    assert final < 0.5 * mel_losses[0], (mel_losses[0], final)
    assert elapsed < 20, elapsed  # ~4 s on one busy core
