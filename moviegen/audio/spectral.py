"""Spectral helpers for the DAC-VAE loss (SPEC 8.1) and audio evaluation (SPEC 12.4): STFT magnitude and log-mel.

Conventions (one place, so that the codec loss and later metrics agree):

* STFT: ``torch.stft`` with ``center=True`` and reflect padding, a periodic Hann window of length ``n_fft``, one-sided
  (``F = n_fft // 2 + 1`` bins), magnitude ``|X|`` (not power). ``T = N // hop + 1`` frames.
* Mel scale: **Slaney** (librosa's default, ``htk=False``): linear below 1 kHz (``mel = 3 f / 200``), logarithmic
  above (27 mels per factor 6.4). Filters are triangles between adjacent mel points with Slaney area normalisation
  (each row is scaled by ``2 / (f_upper - f_lower)``), i.e. ``librosa.filters.mel(..., htk=False, norm="slaney")``,
  which is what DAC's mel loss uses [inferred: the paper does not name its mel scale].
* Log-mel: ``log10(max(mel @ |X|, eps))``, DAC's ``MelSpectrogramLoss`` with ``pow=1`` (log10 of the mel magnitude).

Shapes: ``audio_BN`` is mono audio ``[batch, samples]``; ``F`` frequency bins, ``T`` STFT frames, ``M`` mel bands.
(``N`` here is samples, not attention heads; ``F`` is frequency bins, not FFN width.)
"""

import functools
import math

import torch

# Slaney mel scale constants (Auditory Toolbox; librosa.hz_to_mel with htk=False).
_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel in the linear region
_SLANEY_MIN_LOG_HZ = 1000.0  # the linear region ends at 1 kHz ...
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # ... which is 15 mel
_SLANEY_LOGSTEP = math.log(6.4) / 27.0  # 27 mels per factor 6.4 above 1 kHz

LOG_MEL_EPS = 1e-5  # DAC's clamp before log10 (MelSpectrogramLoss.clamp_eps)


def hz_to_mel(freq_hz: torch.Tensor) -> torch.Tensor:
    """Slaney mel of ``freq_hz`` (float64 in, float64 out): ``f / (200/3)`` below 1 kHz, logarithmic above."""
    f = freq_hz.double()
    log_part = _SLANEY_MIN_LOG_MEL + torch.log(f.clamp_min(_SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return torch.where(f >= _SLANEY_MIN_LOG_HZ, log_part, f / _SLANEY_F_SP)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel` (float64)."""
    m = mel.double()
    log_part = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return torch.where(m >= _SLANEY_MIN_LOG_MEL, log_part, m * _SLANEY_F_SP)


def stft_magnitude(
    audio_BN: torch.Tensor, *, n_fft: int, hop: int, window_N: torch.Tensor | None = None
) -> torch.Tensor:
    """One-sided STFT magnitude ``|X|`` of mono audio, computed in fp32.

    Args:
        audio_BN: ``[B, N]`` waveform; needs ``N > n_fft // 2`` (reflect padding of ``center=True``).
        n_fft: FFT size (and window length), >= 2.
        hop: hop length in samples, >= 1.
        window_N: analysis window of length ``n_fft``; defaults to a periodic Hann window.

    Returns:
        ``[B, n_fft // 2 + 1, N // hop + 1]`` float32 magnitudes.

    Raises:
        ValueError: for a wrong rank, bad sizes, audio too short for the window, or a window of the wrong length.
    """
    if audio_BN.ndim != 2:
        raise ValueError(f"audio must be 2-D [B, N] (mono samples), got shape {tuple(audio_BN.shape)}")
    if n_fft < 2 or hop < 1:
        raise ValueError(f"n_fft must be >= 2 and hop >= 1, got n_fft={n_fft}, hop={hop}")
    if audio_BN.shape[1] <= n_fft // 2:
        raise ValueError(
            f"audio of {audio_BN.shape[1]} samples is too short for n_fft={n_fft}: center=True reflect padding "
            f"needs more than n_fft // 2 = {n_fft // 2} samples"
        )
    x = audio_BN.float()  # fp32 island: FFT of low-precision input is inaccurate (and bf16 stft is unsupported)
    if window_N is None:
        window_N = torch.hann_window(n_fft, periodic=True, device=x.device, dtype=x.dtype)
    elif tuple(window_N.shape) != (n_fft,):
        raise ValueError(f"window must have shape ({n_fft},) (n_fft), got {tuple(window_N.shape)}")
    spec = torch.stft(
        x, n_fft=n_fft, hop_length=hop, window=window_N.to(x), center=True, pad_mode="reflect", return_complex=True
    )
    return spec.abs()  # abs() of a complex zero has a zero (not NaN) gradient


@functools.lru_cache(maxsize=64)
def _mel_filterbank_cached(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    num_bins = n_fft // 2 + 1
    fft_hz = torch.linspace(0.0, sample_rate / 2, num_bins, dtype=torch.float64)
    mel_points = torch.linspace(
        hz_to_mel(torch.tensor(f_min)).item(), hz_to_mel(torch.tensor(f_max)).item(), n_mels + 2, dtype=torch.float64
    )
    hz_points = mel_to_hz(mel_points)  # n_mels + 2 band edges: band m spans hz_points[m] .. hz_points[m + 2]
    lower, center, upper = hz_points[:-2, None], hz_points[1:-1, None], hz_points[2:, None]
    rising = (fft_hz[None] - lower) / (center - lower)
    falling = (upper - fft_hz[None]) / (upper - center)
    weights_MF = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights_MF = weights_MF * (2.0 / (upper - lower))  # Slaney area normalisation
    return weights_MF.float()


def mel_filterbank(
    *, sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised triangular mel filters (see the module docstring).

    Equal to ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)`` up to
    float rounding. The result is cached per arguments; a fresh copy is returned on every call.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size; the filters cover its ``n_fft // 2 + 1`` one-sided bins.
        n_mels: number of mel bands.
        f_min: lowest band edge in Hz.
        f_max: highest band edge in Hz; defaults to ``sample_rate / 2``.

    Returns:
        ``[n_mels, n_fft // 2 + 1]`` float32 weights.

    Raises:
        ValueError: for bad sizes, ``not 0 <= f_min < f_max <= sample_rate / 2``, or if a band contains no FFT bin
            (too many mel bands for this ``n_fft``: lower ``n_mels`` or raise ``n_fft``).
    """
    if sample_rate < 1 or n_fft < 2 or n_mels < 1:
        raise ValueError(f"need sample_rate >= 1, n_fft >= 2, n_mels >= 1, got {sample_rate}, {n_fft}, {n_mels}")
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2:g}, got f_min={f_min}, f_max={f_max}"
        )
    weights_MF = _mel_filterbank_cached(sample_rate, n_fft, n_mels, float(f_min), f_max)
    empty = (weights_MF.sum(dim=1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"mel bands {empty} of n_mels={n_mels} contain no FFT bin at sample_rate={sample_rate}, n_fft={n_fft}; "
            f"use fewer mel bands or a larger n_fft"
        )
    return weights_MF.clone()


def log_mel(
    audio_BN: torch.Tensor, *, sample_rate: int, n_fft: int, hop: int, n_mels: int, eps: float = LOG_MEL_EPS
) -> torch.Tensor:
    """``log10(max(mel_filterbank @ |STFT|, eps))`` of mono audio (DAC's mel-loss features), in fp32.

    Args:
        audio_BN: ``[B, N]`` waveform.
        sample_rate: sample rate of ``audio_BN`` in Hz.
        n_fft: FFT size.
        hop: hop length.
        n_mels: mel bands over ``[0, sample_rate / 2]``.
        eps: floor of the mel magnitude before the log (1e-5, -100 dB).

    Returns:
        ``[B, n_mels, N // hop + 1]`` float32 log10-mel magnitudes.

    Raises:
        ValueError: see :func:`stft_magnitude` and :func:`mel_filterbank`.
    """
    magnitude_BFT = stft_magnitude(audio_BN, n_fft=n_fft, hop=hop)
    weights_MF = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels).to(magnitude_BFT.device)
    mel_BMT = torch.matmul(weights_MF, magnitude_BFT)
    return torch.log10(mel_BMT.clamp_min(eps))
