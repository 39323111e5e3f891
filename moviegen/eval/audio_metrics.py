"""Audio evaluation measures of Movie Gen Audio (paper section 6) on the synthetic world, as pure functions.

* **Synchronisation**: impacts seen in the frames (:func:`detect_visual_impacts`) against onsets heard in the
  soundtrack (:func:`moviegen.eval.onsets.detect_onsets`), matched one-to-one within a tolerance
  (:func:`match_events`): precision, recall, F1 and the timing offsets. The world puts every impact on an exact
  frame ``k`` and starts its sound on the sample of ``k / fps`` (``moviegen/world/sound.py``);
  :func:`detect_visual_impacts` reports ``k / fps``, so a perfect soundtrack scores a 0 ms offset (the onset
  detector adds under 1.5 ms).
* **Seams** of audio extension (windowed generation, paper section 6.3): :func:`seam_discontinuity` compares the
  log-spectral change across each join with the same change elsewhere in the clip.
* **Music mood**: :func:`music_mode` tells the world's major (cheerful) from minor (sad) music by key-profile
  correlation of a chroma vector.

Every threshold is a named constant or argument, with the reason for its value next to it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from moviegen.eval.analyse import AnalyserConfig, TrackPoint, analyse_video
from moviegen.eval.onsets import as_mono, check_sample_rate, detect_onsets

# --- synchronisation: matching ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    """A one-to-one matching of predicted to reference event times.

    Conventions for empty inputs: precision is 1 when nothing was predicted (no false alarm) and recall is 1 when
    there was nothing to find (nothing missed); F1 = ``2 TP / (2 TP + FP + FN)``, which is 1 when both lists are
    empty and 0 when exactly one is. ``median_abs_offset_ms`` is None when nothing matched.

    Args:
        num_predicted: number of predicted events.
        num_reference: number of reference events.
        offsets_s: ``predicted - reference`` (seconds) of every matched pair, in reference order.
    """

    num_predicted: int
    num_reference: int
    offsets_s: tuple[float, ...]

    @property
    def true_positives(self) -> int:
        return len(self.offsets_s)

    @property
    def false_positives(self) -> int:
        return self.num_predicted - self.true_positives

    @property
    def false_negatives(self) -> int:
        return self.num_reference - self.true_positives

    @property
    def precision(self) -> float:
        return self.true_positives / self.num_predicted if self.num_predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.num_reference if self.num_reference else 1.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / denominator if denominator else 1.0

    @property
    def median_abs_offset_ms(self) -> float | None:
        return float(np.median(np.abs(self.offsets_s))) * 1000.0 if self.offsets_s else None

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain numbers for JSON reports."""
        return {
            "num_predicted": self.num_predicted,
            "num_reference": self.num_reference,
            "true_positives": self.true_positives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "median_abs_offset_ms": self.median_abs_offset_ms,
        }


def _event_times(name: str, times: Sequence[float] | np.ndarray) -> np.ndarray:
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or not np.isfinite(t).all():
        raise ValueError(f"{name} must be a 1-D list of finite times (seconds), got {times!r}")
    return np.sort(t)


def match_events(
    predicted_s: Sequence[float] | np.ndarray, *, reference_s: Sequence[float] | np.ndarray, tolerance_s: float
) -> SyncResult:
    """Match predicted to reference events one-to-one, each pair at most ``tolerance_s`` apart.

    The matching is optimal: the most pairs, and among those the smallest total ``|offset|``. On a line some
    optimal matching never crosses (swapping crossed pairs keeps both within the tolerance and does not add
    distance), so a dynamic programme over the sorted lists finds it in ``O(len(predicted) * len(reference))``.

    Args:
        predicted_s: predicted event times (seconds), any order.
        reference_s: reference event times (seconds), any order.
        tolerance_s: the largest ``|predicted - reference|`` of a match (inclusive), > 0.

    Returns:
        The :class:`SyncResult` (precision, recall, F1, offsets; empty-input conventions there).

    Raises:
        ValueError: for a non-positive tolerance or times that are not a 1-D list of finite numbers.
    """
    if not tolerance_s > 0:
        raise ValueError(f"tolerance_s must be > 0, got {tolerance_s}")
    pred, ref = _event_times("predicted_s", predicted_s), _event_times("reference_s", reference_s)
    n, m = pred.size, ref.size
    # best[i][j]: (pairs, -total |offset|) over pred[:i] and ref[:j]; tuples compare pairs first.
    best = [[(0, 0.0)] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            candidate = max(best[i - 1][j], best[i][j - 1])
            distance = abs(pred[i - 1] - ref[j - 1])
            if distance <= tolerance_s:
                pairs, cost = best[i - 1][j - 1]
                candidate = max(candidate, (pairs + 1, cost - distance))
            best[i][j] = candidate
    offsets = []
    i, j = n, m
    while i > 0 and j > 0:  # backtrack: follow the choice that produced best[i][j]
        if best[i][j] == best[i - 1][j]:
            i -= 1
        elif best[i][j] == best[i][j - 1]:
            j -= 1
        else:
            offsets.append(float(pred[i - 1] - ref[j - 1]))
            i, j = i - 1, j - 1
    return SyncResult(num_predicted=n, num_reference=m, offsets_s=tuple(reversed(offsets)))


def aggregate_sync(results: Sequence[SyncResult]) -> SyncResult:
    """Pool per-clip results: counts summed (so precision/recall/F1 are micro-averaged over all events) and every
    matched offset kept (so the median offset is over all matched pairs).

    Raises:
        ValueError: for an empty sequence (no clips: no score, rather than a perfect one).
    """
    if not results:
        raise ValueError("aggregate_sync needs at least one SyncResult, got none")
    return SyncResult(
        num_predicted=sum(r.num_predicted for r in results),
        num_reference=sum(r.num_reference for r in results),
        offsets_s=tuple(o for r in results for o in r.offsets_s),
    )


# --- synchronisation: impacts in the frames ---------------------------------------------------------------------------

# Minimum mean speed (frame heights or widths per second) of the approach to an impact, over the two frames before
# it. The world's slowest impact ends the last rebound before rest (a 3-frame flight: apex, apex, floor), whose last
# two frames drop GRAVITY * motion_scale / fps^2 of the height: a mean of >= 0.15 heights/s at the world's 16 fps
# (0.1 at 24 fps, where such a rebound can be missed). 0.1 heights/s (1.6 px over two frames at 128 px, 16 fps) stays
# above the drift of resting objects under a camera zoom and the sub-pixel jitter of blob centroids; steady movers
# faster than it are told apart by the look-ahead. Measured on 146 sampled clips (128x128, 160x96, 96x160; 16 and
# 24 fps; every camera) against kinematics.scene_impacts, 323 impacts: all on the exact frame except 1 missed (the
# slowest rebound, at 24 fps) under a static or panning camera; under zooms 4 spurious and 2 missed of 112.
VISUAL_MIN_SPEED = 0.1
_LOOKAHEAD_FRAMES = 2  # frames after an impact that must not go further (down for the floor, on for a wall)
# One object's impacts are at least kinematics.MIN_FLIGHT_FRAMES (3) apart; a later candidate is the same impact seen
# again (the centroid of a resting object jitters as a moving camera re-samples its pixels).
MIN_IMPACT_FRAMES = 3


def _is_impact(u: np.ndarray, k: int, *, step: float, reverse: bool) -> bool:
    """Frame ``k`` ends an approach along ``u`` (the coordinate grows towards the floor/wall): it arrives moving
    forward, having advanced ``>= 2 step`` over two frames, and then goes on at less than half that approach
    speed; with ``reverse`` it must also come back ``>= 2 step`` (a wall: the object never rests against it)."""
    ahead = u[k + 1 : k + 1 + _LOOKAHEAD_FRAMES]
    speed = (u[k] - u[k - 2]) / 2
    approach = u[k] > u[k - 1] and speed >= step
    stops = bool((ahead - u[k] < 0.5 * speed * np.arange(1, ahead.size + 1)).all())
    if reverse:
        return approach and stops and ahead.size == _LOOKAHEAD_FRAMES and u[k] - ahead[-1] >= 2 * step
    return approach and stops


def track_impact_frames(
    track: Sequence[TrackPoint], *, fps: float, min_speed: float = VISUAL_MIN_SPEED, walls: bool = True
) -> list[int]:
    """Frames on which a tracked object hits the floor (or a wall), from its centroid track.

    Frame ``k`` is a floor impact when the object arrives there moving down (``y_k > y_{k-1}``, y grows downwards)
    at a mean speed ``v >= s = min_speed / fps`` over the two frames before, and over the next two frames goes on
    down at less than ``v / 2``: it rebounds or comes to rest (a resting object may drift slowly under a camera
    zoom). Looking two frames ahead is what tells a bounce from an object moving down at a steady speed whose
    pixel-quantised centroid stalls for a frame. With ``walls``, a left/right reversal is a wall impact under the
    same rule along x, plus a return of ``>= 2 s``. Impacts closer than ``MIN_IMPACT_FRAMES`` to the previous one
    of the same track are dropped.

    Frame ``k`` is the frame of contact: the world draws the object touching the floor on its impact frame
    (kinematics.py), so no sub-frame estimate is made (one from two or three samples per side would be biased by
    gravity and the restitution's asymmetry, while whole frames are exact on renders).

    Args:
        track: the object's track (``TrackPoint`` x/y as fractions of the frame), frames increasing; a frame is
            judged only with its two frames before and at least one after tracked without gaps.
        fps: frames per second.
        min_speed: minimum approach speed in frame sizes per second (see ``VISUAL_MIN_SPEED``).
        walls: also report horizontal reversals.

    Returns:
        Impact frame indices, increasing.
    """
    step = min_speed / fps
    frames = np.array([p.frame for p in track], dtype=np.int64)
    pos_T2 = np.array([[p.x, p.y] for p in track], dtype=np.float64).reshape(-1, 2)
    impacts: list[int] = []
    for start, stop in _runs(frames):
        x, y = pos_T2[start:stop, 0], pos_T2[start:stop, 1]
        for k in range(2, stop - start - 1):
            floor = _is_impact(y, k, step=step, reverse=False)
            wall = walls and (_is_impact(x, k, step=step, reverse=True) or _is_impact(-x, k, step=step, reverse=True))
            frame = int(frames[start + k])
            if (floor or wall) and (not impacts or frame - impacts[-1] >= MIN_IMPACT_FRAMES):
                impacts.append(frame)
    return impacts


def _runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of the consecutive-frame runs of ``frames``."""
    breaks = np.nonzero(np.diff(frames) != 1)[0] + 1
    bounds = [0, *breaks.tolist(), frames.size]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def detect_visual_impacts(
    frames_THWC: np.ndarray | torch.Tensor,
    *,
    fps: float,
    min_speed: float = VISUAL_MIN_SPEED,
    walls: bool = True,
    analyser: AnalyserConfig | None = None,
) -> np.ndarray:
    """Times (seconds) when an object hits the floor (a bounce) or a wall, judged from the frames alone.

    Objects are found and tracked by :func:`moviegen.eval.analyse.analyse_video` (palette colours, largest blob per
    colour, centroid per frame), and each track goes through :func:`track_impact_frames`. Camera motion is not
    compensated: on world renders pans change nothing and zooms add a few errors (``VISUAL_MIN_SPEED``).

    Args:
        frames_THWC: uint8 RGB frames ``[T, H, W, 3]``.
        fps: frames per second (> 0).
        min_speed: see :func:`track_impact_frames`.
        walls: see :func:`track_impact_frames`.
        analyser: thresholds of the object analyser (its defaults if None).

    Returns:
        float64 ``[K]`` impact times ``frame / fps``, increasing; two objects hitting on the same frame give two
        equal times (as ``kinematics.scene_impacts`` lists them).

    Raises:
        ValueError: for a non-positive fps or frames that are not uint8 ``[T, H, W, 3]``.
    """
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    analysis = analyse_video(frames_THWC, cfg=analyser)
    frames = [
        k for obj in analysis.objects for k in track_impact_frames(obj.track, fps=fps, min_speed=min_speed, walls=walls)
    ]
    return np.sort(np.array(frames, dtype=np.float64)) / fps


# --- seams of audio extension -----------------------------------------------------------------------------------------

SEAM_WINDOW_SECONDS = 0.05  # 50 ms Hann frames (20 Hz bins), hop half a window
SEAM_FLOOR_DB = -80.0  # per-bin power floor, dB re a full-scale sine: below it nothing counts as content
SEAM_EPSILON_DB = 0.1  # added to both sides of the ratio: changes under 0.1 dB are no discontinuity


@dataclass(frozen=True, kw_only=True)
class SeamResult:
    """Discontinuity at the seams of an extended clip (see :func:`seam_discontinuity`).

    Args:
        ratio: ``(mean seam change + eps) / (mean change elsewhere + eps)``: ~1 for a seamless join, large for
            a hard splice.
        seam_change_db: the log-spectral change at each seam (dB), in the order given.
        baseline_db: the mean change elsewhere (dB).
    """

    ratio: float
    seam_change_db: tuple[float, ...]
    baseline_db: float


def _log_spectra(x_N: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """Log power spectra (dB re a full-scale sine, floored) of Hann frames centred on ``centres``: ``[K, F]``."""
    w = np.hanning(window)
    idx = centres[:, None] - window // 2 + np.arange(window)[None, :]
    power = (np.abs(np.fft.rfft(x_N[idx] * w, axis=1)) * 2.0 / w.sum()) ** 2  # a sine of amplitude A peaks at A^2
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (SEAM_FLOOR_DB / 10.0)))


def _change_db(x_N: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """Per centre c: max of the log-spectral distances (RMS over bins of the dB difference) between the frames at
    ``c - hop`` and ``c`` and between ``c`` and ``c + hop`` (hop = window / 2)."""
    hop = window // 2
    spectra = _log_spectra(x_N, np.concatenate([centres - hop, centres, centres + hop]), window)
    before, at, after = np.split(spectra, 3)
    lsd_in = np.sqrt(np.mean((at - before) ** 2, axis=1))
    lsd_out = np.sqrt(np.mean((after - at) ** 2, axis=1))
    return np.maximum(lsd_in, lsd_out)


def seam_discontinuity(
    audio_N: np.ndarray | torch.Tensor,
    *,
    sample_rate: int,
    seams_s: Sequence[float],
    window_seconds: float = SEAM_WINDOW_SECONDS,
) -> SeamResult:
    """How much more the sound changes at the seams than elsewhere in the clip.

    The change at time ``c`` is a log-spectral flux: Hann frames of ``window_seconds`` centred on ``c - hop``,
    ``c`` and ``c + hop`` (hop = half a window), and the larger of the two log-spectral distances between
    neighbours (RMS over frequency bins of the dB difference; bins floored at ``SEAM_FLOOR_DB``). Taking the frame
    centred on the seam and both neighbours catches a content change (tone -> noise: new energy in the after-frame)
    and a click (a waveform jump, broadband in the centred frame) alike. Elsewhere the same change is measured on a
    grid of hop spacing, leaving out every point whose frames touch a seam; the ratio divides the mean seam change
    by the mean elsewhere. The mean, not the median, is the baseline because real events are changes too: a seam
    that lands on a note onset or an impact scores that event's change, and only the mean over all moments makes
    the expected ratio of a seam placed without regard to the content 1. So a continuous signal (steady tone,
    steady noise, music) scores about 1 (for music: averaged over seams, a single seam can fall on a note), and a
    hard splice of unrelated signals or a click scores several times that; the floor makes a splice out of or into
    silence count fully.

    Args:
        audio_N: samples ``[N]`` (or ``[C, N]``, averaged).
        sample_rate: samples per second.
        seams_s: join times (seconds), each at least one window from either end.
        window_seconds: frame length.

    Returns:
        The :class:`SeamResult`.

    Raises:
        ValueError: no seams, a seam too close to an end, or a clip with no seam-free stretch to compare with.
    """
    check_sample_rate(sample_rate)
    x = as_mono(audio_N)
    window = 2 * max(2, round(window_seconds * sample_rate / 2))  # even, so the hop is exactly half a window
    if not seams_s:
        raise ValueError("seams_s must list at least one seam time")
    seams = np.array([round(s * sample_rate) for s in seams_s], dtype=np.int64)
    if (seams < window).any() or (seams > x.size - window).any():
        raise ValueError(
            f"seams must lie at least one window ({window / sample_rate:.3f} s) from both ends of the "
            f"{x.size / sample_rate:.3f} s clip, got {list(seams_s)}"
        )
    grid = np.arange(window, x.size - window + 1, window // 2)
    grid = grid[(np.abs(grid[:, None] - seams[None, :]) >= window).all(axis=1)]
    if grid.size == 0:
        raise ValueError("the clip has no stretch away from the seams to compare them with (too short?)")
    seam_change = _change_db(x, seams, window)
    baseline = float(np.mean(_change_db(x, grid, window)))
    ratio = (float(seam_change.mean()) + SEAM_EPSILON_DB) / (baseline + SEAM_EPSILON_DB)
    return SeamResult(ratio=ratio, seam_change_db=tuple(float(c) for c in seam_change), baseline_db=baseline)


# --- music mode -------------------------------------------------------------------------------------------------------

# Krumhansl & Kessler (1982) probe-tone key profiles, from the tonic (index 0) upwards in semitones.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_C0_HZ = 440.0 * 2.0 ** (-57 / 12)  # pitch class 0 = C (A4 = 440 Hz)
# Chroma analysis. The band reaches down to 30 Hz so that the world's bass (C1-G2: the chord roots, which make the
# tonic stand out from its relative major) counts; a 0.2 s window resolves it (5 Hz bins, peaks interpolated).
# Impacts would add foreign pitch classes (the star's 1311 Hz partial is an E, the circle's thump sweeps 140 -> 55 Hz):
# a per-bin median over 0.4 s keeps sustained notes and removes them (their energy lasts < 0.2 s). Dropping the
# frames near impacts instead loses too much music in bouncy clips (the tonic chord goes, and C major turns into its
# relative A minor), so that is done only to measure the level (is there music at all?), where impact residue would
# make two bouncing circles look like music. On world renders (2-4 s, both modes, every impact shape, 83 sampled
# scenes) the best correct-mode correlation stays >= 0.17 above the other mode's (>= 0.11 without the median).
MODE_WINDOW_SECONDS = 0.2
MODE_HOP_SECONDS = 0.025
MODE_MEDIAN_SECONDS = 0.4
MODE_IMPACT_SECONDS = 0.15
MODE_BAND_HZ = (30.0, 1000.0)
MODE_PEAK_RELATIVE = 0.03  # spectral peaks below 3% (-30 dB) of the frame's largest are window sidelobes or noise
# "No music": the mean tonal amplitude (summed spectral-peak amplitudes per frame clear of impacts, a sine of
# amplitude A counting A) below 0.01 (-40 dBFS; the world's music measures 0.05-0.08), or a best key correlation
# below 0.65 (white noise averages 0.35, at most 0.52 in 20 draws; the world's music scores 0.75-0.93).
MODE_MIN_LEVEL = 0.01
MODE_MIN_CORRELATION = 0.65


@dataclass(frozen=True, kw_only=True)
class KeyEstimate:
    """The best-correlated key. ``mode``/``root`` (pitch class, 0 = C) are None when the clip has no music (too quiet
    or not tonal); ``correlation`` is the best Pearson correlation (NaN for a silent clip), ``margin`` its lead over
    the best key of the other mode, ``level`` the mean tonal amplitude, ``chroma_12`` the pitch-class profile."""

    mode: Literal["major", "minor"] | None
    root: int | None
    correlation: float
    margin: float
    level: float
    chroma_12: np.ndarray


def _peak_chroma(mag_TF: np.ndarray, *, first_bin: int, bin_hz: float) -> np.ndarray:
    """Sum of spectral-peak amplitudes per pitch class over frames ``[T, F]`` (bin ``f`` is ``first_bin + f``)."""
    inner = mag_TF[:, 1:-1]
    is_peak = (inner > mag_TF[:, :-2]) & (inner >= mag_TF[:, 2:])
    is_peak &= inner >= MODE_PEAK_RELATIVE * mag_TF.max(axis=1, keepdims=True)
    t, f = np.nonzero(is_peak)
    f = f + 1  # index into mag_TF
    log_mag = np.log(np.maximum(mag_TF, 1e-12))
    a, b, c = log_mag[t, f - 1], log_mag[t, f], log_mag[t, f + 1]
    curvature = a - 2 * b + c
    shift = np.where(curvature < 0, 0.5 * (a - c) / np.where(curvature < 0, curvature, -1.0), 0.0)  # parabolic
    freq_hz = (first_bin + f + shift) * bin_hz
    in_band = (freq_hz >= MODE_BAND_HZ[0]) & (freq_hz < MODE_BAND_HZ[1])
    pitch_class = np.round(12 * np.log2(freq_hz[in_band] / _C0_HZ)).astype(np.int64) % 12
    return np.bincount(pitch_class, weights=mag_TF[t, f][in_band], minlength=12)


def _chroma(
    audio_N: np.ndarray | torch.Tensor, *, sample_rate: int, skip_impacts: bool = True
) -> tuple[np.ndarray, float]:
    """Pitch-class profile of the sustained (musical) sound, and its level: ``(chroma_12, level)``.

    STFT magnitudes (``MODE_WINDOW_SECONDS`` Hann frames) are median-filtered along time per bin; then every local
    spectral peak in ``MODE_BAND_HZ`` within -30 dB of its frame's largest adds its amplitude to the pitch class of
    its interpolated frequency. ``level`` is the mean summed peak amplitude of the unfiltered frames clear of
    impact sounds (0 when none is clear).

    Args:
        audio_N: samples ``[N]`` (or ``[C, N]``, averaged).
        sample_rate: samples per second.
        skip_impacts: measure ``level`` only on frames that overlap no impact sound found by ``detect_onsets``.

    Raises:
        ValueError: see :func:`music_mode`.
    """
    check_sample_rate(sample_rate)
    x = as_mono(audio_N)
    window = max(16, round(MODE_WINDOW_SECONDS * sample_rate))
    hop = max(1, round(MODE_HOP_SECONDS * sample_rate))
    x = np.pad(x, (0, max(0, window - x.size)))
    starts = np.arange(1 + (x.size - window) // hop) * hop
    w = np.hanning(window)
    freqs = np.fft.rfftfreq(window, 1.0 / sample_rate)
    lo = max(1, int(np.searchsorted(freqs, MODE_BAND_HZ[0])) - 1)  # one bin of margin each side for the peak test
    hi = min(freqs.size, int(np.searchsorted(freqs, MODE_BAND_HZ[1])) + 1)
    frames = x[starts[:, None] + np.arange(window)[None, :]] * w
    mag_TF = np.abs(np.fft.rfft(frames, axis=1))[:, lo:hi] * 2.0 / w.sum()  # a sine of amplitude A peaks at A
    bin_hz = sample_rate / window
    clear = np.ones(starts.size, dtype=bool)
    if skip_impacts:
        onsets = detect_onsets(x, sample_rate=sample_rate) * sample_rate
        overlap = (starts[:, None] + window > onsets[None, :]) & (
            starts[:, None] < onsets[None, :] + MODE_IMPACT_SECONDS * sample_rate
        )
        clear = ~overlap.any(axis=1)
    level = 0.0
    if clear.any():
        level = float(_peak_chroma(mag_TF[clear], first_bin=lo, bin_hz=bin_hz).sum() / clear.sum())
    half = max(0, round(MODE_MEDIAN_SECONDS / MODE_HOP_SECONDS) // 2)
    padded = np.pad(mag_TF, ((half, half), (0, 0)), mode="edge")
    harmonic_TF = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0), axis=-1)
    return _peak_chroma(harmonic_TF, first_bin=lo, bin_hz=bin_hz), level


def estimate_key(
    audio_N: np.ndarray | torch.Tensor, *, sample_rate: int, root: int | None = None, skip_impacts: bool = True
) -> KeyEstimate:
    """The key whose Krumhansl-Kessler profile best correlates with the clip's chroma (see :func:`music_mode`).

    Raises:
        ValueError: see :func:`music_mode`.
    """
    if root is not None and (isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < 12):
        raise ValueError(f"root must be a pitch class 0..11 (0 = C) or None for any, got {root!r}")
    chroma_12, level = _chroma(audio_N, sample_rate=sample_rate, skip_impacts=skip_impacts)
    if level < MODE_MIN_LEVEL or np.ptp(chroma_12) == 0:
        return KeyEstimate(
            mode=None, root=None, correlation=math.nan, margin=math.nan, level=level, chroma_12=chroma_12
        )
    roots = range(12) if root is None else (root,)
    scores = {
        (mode, r): float(np.corrcoef(chroma_12, np.roll(profile, r))[0, 1])
        for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR))
        for r in roots
    }
    (mode, best_root), best = max(scores.items(), key=lambda item: item[1])
    other = max(v for (m, _), v in scores.items() if m != mode)
    tonal = best >= MODE_MIN_CORRELATION
    return KeyEstimate(
        mode=mode if tonal else None,
        root=best_root if tonal else None,
        correlation=best,
        margin=best - other,
        level=level,
        chroma_12=chroma_12,
    )


def music_mode(
    audio_N: np.ndarray | torch.Tensor, *, sample_rate: int, root: int | None = None, skip_impacts: bool = True
) -> Literal["major", "minor"] | None:
    """Major or minor: the mode of the best-correlated key profile over all 12 roots (or just ``root``).

    The chroma (spectral peaks from 30 Hz to 1 kHz mapped to pitch classes) is taken after a per-bin median over
    0.4 s that removes impact sounds; the world's music is C major (I-V-vi-IV) or C minor (i-iv-v-i), and the bass
    on the chord roots is what tells C minor from its relative E-flat major.

    Args:
        audio_N: samples ``[N]`` (or ``[C, N]``, averaged), full scale 1.0.
        sample_rate: samples per second.
        root: pitch class of the tonic if known (0 = C, the world's), None to search all 12.
        skip_impacts: measure the level (is there music?) only on frames clear of impact sounds.

    Returns:
        ``"major"``, ``"minor"``, or None when the clip holds no music: mean tonal amplitude below
        ``MODE_MIN_LEVEL`` (silence, impacts alone) or best correlation below ``MODE_MIN_CORRELATION`` (noise).

    Raises:
        ValueError: for audio that is not ``[N]``/``[C, N]``, empty or non-finite, a bad sample rate or root.
    """
    return estimate_key(audio_N, sample_rate=sample_rate, root=root, skip_impacts=skip_impacts).mode
