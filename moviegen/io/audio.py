"""Audio files in and out: read any file's sound (PyAV), write WAV (16-bit PCM), resample, and put a new soundtrack
on an existing video without re-encoding its picture.

Audio here is mono ``float32`` ``[N]`` in ``[-1, 1]``. Writers are atomic (:func:`moviegen.io.media.atomic_path`);
readers raise :class:`moviegen.io.media.MediaError` naming the file and the reason.
"""

import os
import wave
from pathlib import Path

import numpy as np

from moviegen.io.media import AAC_SAMPLE_RATES, MediaError, atomic_path, check_readable

PCM16_MAX = 32767


def read_audio(path: str | os.PathLike, *, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """The first audio track of any file FFmpeg reads (WAV, MP3, MP4, ...), mixed to mono.

    Args:
        path: the file.
        sample_rate: resample to this rate (None: the file's rate).

    Returns:
        ``(audio_N, rate)``.

    Raises:
        MediaError: missing, empty or unreadable file, or no audio track.
    """
    import av

    path = Path(path)
    check_readable(path)
    chunks = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"cannot read {str(path)!r}: it has no audio track")
            stream = container.streams.audio[0]
            rate = sample_rate or stream.rate
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            for frame in container.decode(stream):
                chunks += [out.to_ndarray()[0] for out in resampler.resample(frame)]
            chunks += [out.to_ndarray()[0] for out in resampler.resample(None)]
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from err
    if not chunks:
        raise MediaError(f"cannot read {str(path)!r}: its audio track has no decodable sample")
    return np.concatenate(chunks).astype(np.float32), int(rate)


def resample_audio(audio_N: np.ndarray, *, rate: int, target_rate: int) -> np.ndarray:
    """``audio_N`` at ``rate`` resampled to ``target_rate`` (FFmpeg's resampler), ``round(N * target / rate)`` long."""
    import av

    if rate == target_rate:
        return audio_N.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(audio_N[None], dtype=np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=target_rate)
    chunks = [out.to_ndarray()[0] for out in resampler.resample(frame)]
    chunks += [out.to_ndarray()[0] for out in resampler.resample(None)]
    out = np.concatenate(chunks).astype(np.float32)
    want = round(audio_N.shape[0] * target_rate / rate)
    return np.pad(out, (0, max(0, want - out.shape[0])))[:want]


def write_wav(path: str | os.PathLike, audio_N: np.ndarray, *, sample_rate: int) -> Path:
    """Write mono 16-bit PCM WAV, atomically (values are clipped to [-1, 1])."""
    if not isinstance(audio_N, np.ndarray) or audio_N.ndim != 1 or audio_N.size == 0:
        raise MediaError(f"audio must be a non-empty mono [N] array, got {getattr(audio_N, 'shape', audio_N)!r}")
    if sample_rate < 1:
        raise MediaError(f"sample_rate must be >= 1, got {sample_rate}")
    pcm = np.round(np.clip(audio_N, -1.0, 1.0) * PCM16_MAX).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return Path(path)


def replace_audio(
    video_path: str | os.PathLike,
    out_path: str | os.PathLike,
    audio_N: np.ndarray,
    *,
    sample_rate: int,
    mix_original: bool = False,
) -> Path:
    """Copy ``video_path``'s video stream (packets, not re-encoded) into ``out_path`` with ``audio_N`` as its AAC track.

    Args:
        video_path: the source video.
        out_path: the MP4 to write (atomically).
        audio_N: the new sound at ``sample_rate``.
        sample_rate: its rate; written at this rate when it is an AAC rate, else resampled to 48 kHz.
        mix_original: keep the source's own audio (if any) and add the new sound to it, both at full gain, the sum
            scaled down only where needed to keep its peak within [-1, 1]; otherwise the source's audio is dropped.

    Raises:
        MediaError: an unreadable source or one without a video stream.
    """
    import av

    video_path = Path(video_path)
    check_readable(video_path)
    rate = sample_rate if sample_rate in AAC_SAMPLE_RATES else 48000
    audio = resample_audio(audio_N, rate=sample_rate, target_rate=rate)
    if mix_original:
        try:
            original, _ = read_audio(video_path, sample_rate=rate)
        except MediaError:
            original = None  # nothing to keep
        if original is not None:
            original = np.pad(original, (0, max(0, audio.shape[0] - original.shape[0])))[: audio.shape[0]]
            audio = audio + original
            peak = float(np.abs(audio).max())
            if peak > 1.0:
                audio = audio / peak
    try:
        with av.open(str(video_path)) as source:
            if not source.streams.video:
                raise MediaError(f"cannot read {str(video_path)!r}: no video stream")
            in_video = source.streams.video[0]
            with atomic_path(out_path) as tmp, av.open(str(tmp), mode="w", format="mp4") as out:
                out_video = out.add_stream_from_template(in_video)
                out_audio = out.add_stream("aac", rate=rate)
                out_audio.layout = "mono"
                for packet in source.demux(in_video):
                    if packet.dts is None:  # the demuxer's final flush packet
                        continue
                    packet.stream = out_video
                    out.mux(packet)
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(np.clip(audio, -1, 1)[None], dtype=np.float32), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = rate, 0
                out.mux(out_audio.encode(frame))
                out.mux(out_audio.encode())
    except MediaError:
        raise
    except (av.FFmpegError, OSError) as err:
        raise MediaError(f"cannot put a soundtrack on {str(video_path)!r}: {type(err).__name__}: {err}") from err
    return Path(out_path)
