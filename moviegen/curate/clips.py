"""Cutting clips out of an input (SPEC 11.2): where they go, and writing them.

:func:`clip_windows` picks, from the longest scenes, one clip of up to ``max_seconds`` per scene at a random place
(seeded by the input), after dropping the unstable opening of a scene that starts the video. :func:`cut_clip` writes
``[start, end)`` of a video as an H.264 MP4 (with the sound as AAC when there is any), streaming frame by frame.
"""

import random
from fractions import Fraction
from pathlib import Path

import numpy as np

from moviegen.curate.config import ClipConfig


def clip_windows(
    scenes: list[tuple[float, float]], *, cfg: ClipConfig, rng: random.Random
) -> list[tuple[float, float]]:
    """Up to ``cfg.scenes_per_video`` ``(start, end)`` windows, one per scene, longest scenes first, in time order."""
    usable = []
    for start, end in scenes:
        if start <= 1e-6:
            start += cfg.skip_opening_seconds
        if end - start >= cfg.min_seconds:
            usable.append((start, end))
    usable.sort(key=lambda s: s[1] - s[0], reverse=True)
    windows = []
    for start, end in usable[: cfg.scenes_per_video]:
        length = min(cfg.max_seconds, end - start)
        offset = rng.uniform(0.0, (end - start) - length)
        windows.append((start + offset, start + offset + length))
    return sorted(windows)


def cut_clip(
    source: Path, out: Path, *, start: float, end: float, audio_N: np.ndarray | None, sample_rate: int | None
) -> int:
    """Write ``[start, end)`` of ``source`` to ``out`` (H.264, crf 18; AAC from ``audio_N`` when given), atomically.

    Returns:
        The number of frames written.
    """
    import av

    from moviegen.io.media import atomic_path

    written = 0
    with av.open(str(source)) as src, atomic_path(out) as tmp, av.open(str(tmp), mode="w", format="mp4") as dst:
        stream = src.streams.video[0]
        rate = Fraction(float(stream.average_rate or stream.guessed_rate)).limit_denominator(1001)
        video = dst.add_stream("libx264", rate=rate)
        width, height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "18", "preset": "medium"}
        audio = None
        if audio_N is not None and len(audio_N):
            audio = dst.add_stream("aac", rate=sample_rate)
            audio.layout = "mono"
        for frame in src.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            if t < start - 1e-6:
                continue
            if t >= end - 1e-6:
                break
            out_frame = frame.reformat(width=width, height=height, format="yuv420p")
            out_frame.pts = None
            dst.mux(video.encode(out_frame))
            written += 1
        dst.mux(video.encode())
        if audio is not None:
            samples = np.ascontiguousarray(np.clip(audio_N, -1.0, 1.0)[None], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, 0
            dst.mux(audio.encode(frame))
            dst.mux(audio.encode())
    return written
