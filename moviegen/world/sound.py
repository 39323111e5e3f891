"""The synthetic world's sound: a percussive sound per impact, optional background music, exact silence otherwise.

Impacts come from kinematics.scene_impacts (floor bounces, on exact frames), so each sound starts on the sample of
its frame's timestamp: audio-video synchronisation is ground truth. Timbre depends on the shape:

========  ==================================================  ===========
circle    low sine "thump", pitch falling 140 -> 55 Hz          120 ms
square    noisy click (differentiated white noise)              ~60 ms
triangle  bright ping (1760 Hz + a fifth above)                 120 ms
star      metallic chord (four inharmonic partials)             120 ms
========  ==================================================  ===========

A character (its head is a disc) sounds like a circle. Rebounds are quieter (gain = impact speed relative to the
first impact). Music is a simple arpeggio over a four-chord progression with a bass note, quiet under the impacts:
major = C major, I-V-vi-IV, fast eighth notes (cheerful); minor = C natural minor, i-iv-v-i, an octave lower, slow
quarter notes (sad). Both share the root C, so they differ exactly in their thirds, sixths and sevenths.
"""

from typing import NamedTuple

import numpy as np

from moviegen.world.kinematics import scene_impacts
from moviegen.world.scene import Music, SceneSpec
from moviegen.world.vocab import Shape

SAMPLE_RATE = 48000
IMPACT_SECONDS = 0.12
IMPACT_GAIN = 0.6  # peak of a first impact
MUSIC_GAIN = 0.12  # peak of the music
_ATTACK_SECONDS = 0.001
_NOISE_STREAM = 2  # rng stream of noisy sounds: default_rng([scene.seed, _NOISE_STREAM, impact index])

_C4 = 261.6256
# (semitones above the root of each chord's triad, seconds per note, arpeggio pattern over (root, 3rd, 5th, octave),
# octave shift)
_PROGRESSIONS: dict[Music, tuple[tuple[tuple[int, int, int], ...], float, tuple[int, ...], int]] = {
    Music.MAJOR: (((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)), 0.2, (0, 1, 2, 3, 2, 1, 0, 1), 0),
    Music.MINOR: (((0, 3, 7), (5, 8, 12), (7, 10, 14), (0, 3, 7)), 0.5, (0, 1, 2, 1), -12),
}


class RenderedAudio(NamedTuple):
    audio_1N: np.ndarray  # float32 in [-1, 1], mono
    impacts: tuple[float, ...]  # onset of each impact sound, seconds


def impact_sound(shape: Shape, *, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One impact of ``shape``: float64 ``[N]`` with peak 1, starting at sample 0."""
    t = np.arange(round(IMPACT_SECONDS * sample_rate)) / sample_rate
    if shape == Shape.CIRCLE:
        phase = 2 * np.pi * (55.0 * t + 85.0 * 0.03 * (1 - np.exp(-t / 0.03)))  # f(t) = 55 + 85 exp(-t / 30 ms)
        wave = np.sin(phase) * np.exp(-t / 0.035)
    elif shape == Shape.SQUARE:
        noise = rng.standard_normal(t.size + 1)
        wave = np.diff(noise) * np.exp(-t / 0.012)
    elif shape == Shape.TRIANGLE:
        wave = (np.sin(2 * np.pi * 1760 * t) + 0.5 * np.sin(2 * np.pi * 2640 * t)) * np.exp(-t / 0.03)
    else:
        partials = (523.0, 1311.0, 2132.0, 3170.0)
        wave = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate(partials)) * np.exp(-t / 0.04)
    wave = wave * np.minimum(1.0, t / _ATTACK_SECONDS)
    return wave / np.abs(wave).max()


def _note(freq: float, num_samples: int, sample_rate: int) -> np.ndarray:
    t = np.arange(num_samples) / sample_rate
    seconds = num_samples / sample_rate
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / (0.6 * seconds)) * np.minimum(1.0, (seconds - t) / 0.01)
    return (np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)) * env


def music_track(music: Music, *, num_samples: int, sample_rate: int) -> np.ndarray:
    """Background music of ``num_samples`` samples, float64 with peak ``MUSIC_GAIN``."""
    chords, note_seconds, pattern, shift = _PROGRESSIONS[Music(music)]
    note_len = round(note_seconds * sample_rate)
    chord_len = note_len * len(pattern)
    out = np.zeros(num_samples + chord_len)
    for start in range(0, num_samples, chord_len):
        triad = chords[(start // chord_len) % len(chords)]
        semitones = (*triad, triad[0] + 12)
        bass = _C4 * 2 ** ((triad[0] + shift - 24) / 12)
        out[start : start + chord_len] += 0.5 * _note(bass, chord_len, sample_rate)
        for k, idx in enumerate(pattern):
            freq = _C4 * 2 ** ((semitones[idx] + shift) / 12)
            out[start + k * note_len : start + (k + 1) * note_len] += _note(freq, note_len, sample_rate)
    out = out[:num_samples]
    return out * (MUSIC_GAIN / np.abs(out).max())


def render_audio(scene: SceneSpec, *, sample_rate: int = SAMPLE_RATE) -> RenderedAudio:
    """The soundtrack of ``scene``: mono float32 ``[1, N]`` with ``N = round(num_frames / fps * sample_rate)``.

    Returns:
        ``(audio_1N, impacts)``: the audio, and the onset time (seconds) of every impact sound. Without impacts
        and music the audio is exact zeros.

    Raises:
        ValueError: ``sample_rate`` is not a positive int.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    num_samples = round(scene.num_frames / scene.fps * sample_rate)
    audio_N = np.zeros(num_samples)
    if scene.music is not None:
        audio_N += music_track(scene.music, num_samples=num_samples, sample_rate=sample_rate)
    events = scene_impacts(scene)
    for index, event in enumerate(events):
        rng = np.random.default_rng([scene.seed, _NOISE_STREAM, index])
        sound = IMPACT_GAIN * event.strength * impact_sound(event.shape, sample_rate=sample_rate, rng=rng)
        onset = round(event.time * sample_rate)
        end = min(num_samples, onset + sound.size)
        audio_N[onset:end] += sound[: end - onset]
    audio_1N = np.clip(audio_N, -1.0, 1.0).astype(np.float32)[None]
    return RenderedAudio(audio_1N=audio_1N, impacts=tuple(event.time for event in events))
