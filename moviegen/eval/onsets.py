"""Impact-onset detection in a soundtrack (Movie Gen paper section 6, audio evaluation: audio-video synchronisation).

The synthetic world (``moviegen/world/sound.py``) puts a percussive sound on every floor impact, starting on the
sample of the impact frame's timestamp, under optional quiet background music. :func:`detect_onsets` finds those
impact onsets, so a generated soundtrack can be scored against the impacts seen in the frames (audio_metrics.py).

**Why not plain spectral flux.** Measured on world renders (16 fps, 48 kHz), the world's music is no quiet drone:
every arpeggio note starts from about -14 dB (each note decays to 19% of its amplitude before the next), so each note
is a real onset whose level (RMS flux up to ~0.05) overlaps the faintest rebounds (strength 1/6, peak 0.1); and a
short-window flux rings inside a low sine (the circle's thump gives tail peaks of half its onset's height 50-150 ms
after it). The detector below is built from what does separate them:

1. **Two bands**, split at ``crossover_hz`` (2 kHz, half-octave raised-cosine crossover): the world's music (notes
   up to 880 Hz, their 2nd harmonics up to 1.76 kHz) lies below it, while the square's noise, the triangle's
   2640 Hz and the star's 2132/3170 Hz partials reach above it. The circle's thump lies entirely below.
2. **An energy step per band**: ``step(t) = sqrt(max(0, E[t, t+L) - E[t-L, t)))``, the rise of the mean power of the
   band's analytic signal from the ``L`` = 10 ms before ``t`` to the 10 ms after it, in RMS units (a sine of
   amplitude ``A`` starting from silence gives ``A / sqrt(2)``). The means weight each sample by its closeness to
   ``t`` (linearly, 1 at ``t`` to 0 at ``L``). The analytic envelope of a sine is flat, so a sustained low tone gives
   no ripple; and the split, tapered windows peak exactly at the onset of any sound that does not grow after its
   start (the after-window holds the most of it when it starts at the onset), a click as much as a decaying
   impact, which gives sub-millisecond timing. Short windows also favour the impacts' 1 ms attack over the notes'
   10 ms attack.
3. **Threshold**: ``max(floor, background_ratio * background(t))`` per band, where ``background(t)`` is the median
   band level over ``background_seconds`` (1 s) around ``t``. Impacts are short, so the median follows the music
   (or silence) under them, not the impacts. ``floor`` (0.01 RMS, -40 dBFS) is an absolute level: digital silence
   and faint noise never give onsets, and without music every world impact (strength >= 1/6) clears it several
   times. ``background_ratio`` (2.5) is set above the largest step-to-background ratio of the world's music alone
   (1.9 for major, 2.0 for minor, 8 s of each; white noise gives at most 1.3).
4. **Rise test**: also ``step >= rise_ratio * before(t)`` (the RMS of the before-window; ``rise_ratio`` 1: the power
   at least doubles). It rejects the wobble of a loud sound's own envelope, such as a circle's thump beating with
   the bass under it (without it: a false onset 51 ms after an impact). It gates peaks rather than dividing the
   strength, which would bias their timing.
5. **Peaks**: local maxima of ``max_band(step / threshold)`` where some band passes 3 and 4, the strongest first,
   at least ``min_gap_seconds`` (50 ms, less than a frame at 16 fps) apart (of two impacts on one frame, one onset).
   Nothing is reported in the first ``L`` of the clip, where there is no "before" to compare with (the clip start
   is not an onset).

Behaviour on world renders (48 bouncing scenes without music, 96 with, 150 sampled; tests/unit/test_audio_metrics.py
checks a subset): without music every impact of every shape is found, within 1.5 ms (mean +0.5 ms), and nothing
else; over music every square, triangle and star impact is found (their high band is free of music) and no music
note is; a faint circle rebound over music (strength <= 0.25, peak amplitude at or below the music's) can be
missed, since its level is then all that tells it from a note (20 of 528 impacts over music). **Music alone gives
no onsets**, by design: the detector targets impacts, and the world's notes stay below ``background_ratio`` times
the music's own level.
"""

from dataclasses import dataclass

import numpy as np
import torch

# Defaults of OnsetConfig (module docstring: why these values).
ONSET_WINDOW_SECONDS = 0.010
ONSET_HOP_SECONDS = 0.001
ONSET_FLOOR = 0.01  # RMS, -40 dBFS
BACKGROUND_RATIO = 2.5
RISE_RATIO = 1.0
BACKGROUND_SECONDS = 1.0
CROSSOVER_HZ = 2000.0
MIN_GAP_SECONDS = 0.05
_BACKGROUND_STEP_SECONDS = 0.01  # grid of the running median (interpolated to the hop grid)
_PAD_SECONDS = 0.1  # zero padding of the FFT filters: keeps their ringing from wrapping around the clip


@dataclass(frozen=True, kw_only=True)
class OnsetConfig:
    """Settings of :func:`detect_onsets` (the module docstring says where each acts and why its default).

    Args:
        window_seconds: length ``L`` of the before/after windows of the energy step.
        hop_seconds: time step of the strength envelope (the onset times' resolution).
        floor: absolute minimum step (RMS units) of an onset.
        background_ratio: minimum step relative to the band's median level around it.
        rise_ratio: minimum step relative to the band's level just before it (0 turns the rise test off).
        background_seconds: width of the running median that measures the background level.
        crossover_hz: frequency splitting the low and high bands.
        min_gap_seconds: minimum time between two onsets.
    """

    window_seconds: float = ONSET_WINDOW_SECONDS
    hop_seconds: float = ONSET_HOP_SECONDS
    floor: float = ONSET_FLOOR
    background_ratio: float = BACKGROUND_RATIO
    rise_ratio: float = RISE_RATIO
    background_seconds: float = BACKGROUND_SECONDS
    crossover_hz: float = CROSSOVER_HZ
    min_gap_seconds: float = MIN_GAP_SECONDS

    def __post_init__(self) -> None:
        positive = ("window_seconds", "hop_seconds", "floor", "background_ratio", "background_seconds", "crossover_hz")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("rise_ratio", "min_gap_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class OnsetEnvelope:
    """The detector's evidence at ``times_T`` (seconds): ``strength_T`` is ``max_band(step / threshold)`` and
    ``accepted_T`` says where some band's step clears both its threshold and the rise test. Onsets are the peaks of
    ``strength_T`` where ``accepted_T`` holds."""

    times_T: np.ndarray
    strength_T: np.ndarray
    accepted_T: np.ndarray


def as_mono(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    """Float64 mono samples ``[N]`` from ``[N]`` or ``[C, N]`` (channels averaged).

    Raises:
        ValueError: for another shape (channels last included), an empty signal, or non-finite samples.
    """
    x = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if x.ndim == 2:
        if x.shape[0] > x.shape[1]:
            raise ValueError(f"audio [C, N] must have its channels first (C <= N), got shape {x.shape}")
        x = x.mean(axis=0)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"audio must be [N] or [C, N] with N > 0, got shape {tuple(np.shape(audio))}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("audio must be finite (got NaN or inf samples)")
    return x


def check_sample_rate(sample_rate: int) -> None:
    """Raises ValueError unless ``sample_rate`` is a positive int."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")


def _band_weights(freqs_F: np.ndarray, crossover_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Low/high band gains summing to 1: a raised cosine over half an octave centred on the crossover."""
    octaves = np.log2(np.maximum(freqs_F, 1e-3) / crossover_hz)
    u = np.clip(octaves / 0.5 + 0.5, 0.0, 1.0)
    low = 0.5 * (1.0 + np.cos(np.pi * u))
    return low, 1.0 - low


def _band_powers(x_N: np.ndarray, *, sample_rate: int, crossover_hz: float) -> list[np.ndarray]:
    """Instantaneous power ``|analytic|^2 / 2`` of each band (a sine of amplitude A gives A^2 / 2, its mean square)."""
    n = x_N.size
    size = 1 << (n + round(_PAD_SECONDS * sample_rate) - 1).bit_length()
    spectrum = np.fft.rfft(x_N, size)
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    one_sided = np.full(freqs.size, 2.0)  # analytic signal: double the positive frequencies, drop the negative ones
    one_sided[0] = 1.0
    one_sided[-1] = 1.0
    powers = []
    for gain in _band_weights(freqs, crossover_hz):
        full = np.zeros(size, dtype=np.complex128)
        full[: freqs.size] = spectrum * gain * one_sided
        powers.append(np.abs(np.fft.ifft(full)[:n]) ** 2 / 2.0)
    return powers


def _split_means(power_N: np.ndarray, *, centres: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean power in the ``window`` samples after and before each centre, ``(after, before)``.

    The weights fall linearly from 1 next to the centre to 0 a window away, so the after-mean of a sound shorter
    than the window (a click) is largest when the window starts exactly on it, instead of being flat for a whole
    window. Windows cut by the clip's ends are normalised by the weights they keep.
    """
    n = power_N.size
    c0 = np.concatenate([[0.0], np.cumsum(power_N)])
    c1 = np.concatenate([[0.0], np.cumsum(np.arange(n) * power_N)])  # for sums of i * p_i

    def weight_sum(m: np.ndarray) -> np.ndarray:  # sum over tau < m of (1 - tau / window)
        return m - m * (m - 1) / (2.0 * window)

    t = centres.astype(np.float64)
    a, b = centres, np.minimum(centres + window, n)
    s0, s1 = c0[b] - c0[a], c1[b] - c1[a]
    after = (s0 - (s1 - t * s0) / window) / np.maximum(weight_sum(b - a), 1e-12)
    a, b = np.maximum(centres - window, 0), centres
    s0, s1 = c0[b] - c0[a], c1[b] - c1[a]
    before = (s0 - ((t - 1) * s0 - s1) / window) / np.maximum(weight_sum(b - a), 1e-12)
    return after, before


def _running_median(values_T: np.ndarray, *, half_width: int) -> np.ndarray:
    """Median over ``[t - half_width, t + half_width]``, the window cut at the ends (not padded)."""
    padded = np.pad(values_T, half_width, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_width + 1)
    return np.nanmedian(windows, axis=1)


def onset_envelope(
    audio_N: np.ndarray | torch.Tensor, *, sample_rate: int, cfg: OnsetConfig | None = None
) -> OnsetEnvelope:
    """The normalised onset strength of :func:`detect_onsets` (module docstring), for inspection and plots.

    Raises:
        ValueError: see :func:`detect_onsets`.
    """
    cfg = OnsetConfig() if cfg is None else cfg
    check_sample_rate(sample_rate)
    x = as_mono(audio_N)
    n = x.size
    window = max(1, round(cfg.window_seconds * sample_rate))
    hop = max(1, round(cfg.hop_seconds * sample_rate))
    centres = np.arange(0, n, hop)
    coarse_step = max(1, round(_BACKGROUND_STEP_SECONDS * sample_rate))
    coarse = np.arange(0, n, coarse_step)
    strength = np.zeros(centres.size)
    accepted = np.zeros(centres.size, dtype=bool)
    for power_N in _band_powers(x, sample_rate=sample_rate, crossover_hz=cfg.crossover_hz):
        after, before = _split_means(power_N, centres=centres, window=window)
        step = np.sqrt(np.maximum(after - before, 0.0))
        cum = np.concatenate([[0.0], np.cumsum(power_N)])
        start, stop = np.clip(coarse - window // 2, 0, n), np.clip(coarse + window // 2, 0, n)
        level = np.sqrt((cum[stop] - cum[start]) / np.maximum(stop - start, 1))
        half_width = max(1, round(cfg.background_seconds / 2 / _BACKGROUND_STEP_SECONDS))
        background = np.interp(centres, coarse, _running_median(level, half_width=half_width))
        band_strength = step / np.maximum(cfg.floor, cfg.background_ratio * background)
        rises = step >= cfg.rise_ratio * np.sqrt(np.maximum(before, 0.0))
        strength = np.maximum(strength, band_strength)
        accepted |= (band_strength >= 1.0) & rises
    strength[centres < window] = 0.0  # no "before" at the clip start: the start itself is not an onset
    return OnsetEnvelope(times_T=centres / sample_rate, strength_T=strength, accepted_T=accepted & (strength > 0))


def detect_onsets(
    audio_N: np.ndarray | torch.Tensor, *, sample_rate: int, cfg: OnsetConfig | None = None
) -> np.ndarray:
    """Onset times of percussive (impact) sounds, in seconds.

    Args:
        audio_N: samples ``[N]`` (or ``[C, N]``, averaged to mono), any real dtype, full scale 1.0 (the detector's
            floor is an absolute level).
        sample_rate: samples per second.
        cfg: detector settings; the defaults are the ones validated on the world (module docstring).

    Returns:
        float64 ``[K]`` onset times in increasing order (empty for silence and for the world's music alone).

    Raises:
        ValueError: for audio that is not ``[N]``/``[C, N]``, empty or non-finite, or a bad sample rate.
    """
    cfg = OnsetConfig() if cfg is None else cfg
    env = onset_envelope(audio_N, sample_rate=sample_rate, cfg=cfg)
    s = env.strength_T
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    peaks = np.nonzero(env.accepted_T & (s >= left) & (s > right))[0]  # a plateau counts once, at its end
    kept: list[int] = []
    gap = cfg.min_gap_seconds
    for k in peaks[np.argsort(-s[peaks], kind="stable")]:  # strongest first: a weaker peak near it is its echo
        if all(abs(env.times_T[k] - env.times_T[j]) >= gap for j in kept):
            kept.append(int(k))
    return np.sort(env.times_T[kept]) if kept else np.zeros(0)
