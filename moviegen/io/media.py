"""Read and write video (H.264 + AAC in MP4) and images, the only place that touches PyAV and Pillow.

Frames are ``uint8`` arrays ``[T, H, W, 3]`` (RGB); audio is ``float32`` ``[C, N]`` in ``[-1, 1]`` at ``sample_rate``.
Writers go through :func:`atomic_path`: the file appears complete under its final name or not at all, so a crash or a
bad input never leaves a partial output behind. Readers raise :class:`MediaError` (a ``ValueError``) naming the file
and the reason for anything unreadable: missing, empty, truncated, not a video.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

# AAC sample rates every player accepts (ISO 14496-3 table); writing other rates is refused.
AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class MediaError(ValueError):
    """A media file that cannot be read or written; the message names the file and the reason."""


@dataclass(frozen=True, kw_only=True)
class VideoClip:
    """A decoded video: RGB frames, their rate, and the audio track if the file has one."""

    frames_THWC: np.ndarray
    fps: float
    audio_CN: np.ndarray | None = None
    sample_rate: int | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames_THWC.shape[0])

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success rename it onto ``path``, else delete it."""
    final = Path(path)
    if not final.parent.is_dir():
        raise MediaError(f"cannot write {str(final)!r}: directory {str(final.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp_path
        tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600 files; give the output the usual permissions
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


def _check_frames(frames_THWC: np.ndarray) -> None:
    if not isinstance(frames_THWC, np.ndarray) or frames_THWC.dtype != np.uint8:
        raise MediaError(f"frames must be a uint8 numpy array, got {type(frames_THWC).__name__}")
    if frames_THWC.ndim != 4 or frames_THWC.shape[-1] != 3 or frames_THWC.shape[0] == 0:
        raise MediaError(f"frames must have shape [T>0, H, W, 3], got {tuple(frames_THWC.shape)}")


def write_video(
    path: str | os.PathLike,
    frames_THWC: np.ndarray,
    *,
    fps: float,
    audio_CN: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
) -> Path:
    """Write an MP4 with H.264 video (yuv420p) and, if given, an AAC audio track, atomically.

    Args:
        path: output file (its directory must exist).
        frames_THWC: uint8 RGB frames; height and width must be even (yuv420p).
        fps: frame rate (> 0).
        audio_CN: float audio in [-1, 1], 1 or 2 channels; None writes a silent-less (video-only) file.
        sample_rate: audio rate, one of :data:`AAC_SAMPLE_RATES`; required with ``audio_CN``.
        crf: x264 constant rate factor (lower is higher quality; 18 is visually lossless for our flat colours).

    Returns:
        The written path.
    """
    import av

    _check_frames(frames_THWC)
    num_frames, height, width, _ = frames_THWC.shape
    if height % 2 or width % 2:
        raise MediaError(f"H.264 yuv420p needs even height and width, got {height}x{width}")
    if not fps > 0:
        raise MediaError(f"fps must be > 0, got {fps}")
    if audio_CN is not None:
        if sample_rate not in AAC_SAMPLE_RATES:
            raise MediaError(f"sample_rate must be one of {AAC_SAMPLE_RATES} for AAC, got {sample_rate}")
        if audio_CN.ndim != 2 or audio_CN.shape[0] not in (1, 2) or audio_CN.shape[1] == 0:
            raise MediaError(f"audio must have shape [1 or 2 channels, N>0 samples], got {tuple(audio_CN.shape)}")

    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": "medium"}
        audio = None
        if audio_CN is not None:
            audio = container.add_stream("aac", rate=sample_rate)
            audio.layout = "mono" if audio_CN.shape[0] == 1 else "stereo"
        for frame_HWC in frames_THWC:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_HWC), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            samples = np.ascontiguousarray(np.clip(audio_CN, -1.0, 1.0), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=audio.layout.name)
            frame.sample_rate, frame.pts = sample_rate, 0
            container.mux(audio.encode(frame))
            container.mux(audio.encode())
    return Path(path)


def check_readable(path: Path) -> None:
    """:class:`MediaError` for a missing or empty file (what every reader checks before FFmpeg sees it)."""
    if not path.is_file():
        raise MediaError(f"cannot read {str(path)!r}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"cannot read {str(path)!r}: the file is empty (0 bytes)")


def _open_error(path: Path, err: Exception) -> MediaError:
    return MediaError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}")


def read_video(
    path: str | os.PathLike,
    *,
    max_frames: int | None = None,
    audio: bool = True,
    sample_rate: int | None = None,
    size: tuple[int, int] | None = None,
) -> VideoClip:
    """Decode a video file (any container/codec FFmpeg reads) to RGB frames and, optionally, its audio.

    Args:
        path: the file.
        max_frames: stop after this many frames (None: all).
        audio: also decode the first audio track (if any).
        sample_rate: resample the audio to this rate (None: keep the file's rate); audio comes back mono.
        size: ``(width, height)`` to scale every frame to as it is decoded (None: native size). Scaling frame by
            frame keeps memory at the small size: a minute of 1080p never exists in memory at full size.

    Raises:
        MediaError: missing, empty or unreadable file, no video stream, or no decodable frame.
    """
    import av

    path = Path(path)
    check_readable(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"cannot read {str(path)!r}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            frames = []
            for frame in container.decode(stream):
                if size is not None:
                    frame = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        audio_CN, audio_rate = (_read_audio(path, sample_rate) if audio else (None, None))
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise _open_error(path, err) from err
    if not frames:
        raise MediaError(f"cannot read {str(path)!r}: no decodable video frame")
    if not fps > 0:
        raise MediaError(f"cannot read {str(path)!r}: unknown frame rate")
    return VideoClip(frames_THWC=np.stack(frames), fps=fps, audio_CN=audio_CN, sample_rate=audio_rate)


def _read_audio(path: Path, sample_rate: int | None) -> tuple[np.ndarray | None, int | None]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None, None
        stream = container.streams.audio[0]
        rate = sample_rate or stream.rate
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        return None, None
    return np.concatenate(chunks, axis=1).astype(np.float32), int(rate)


def write_image(path: str | os.PathLike, frame_HWC: np.ndarray) -> Path:
    """Write one RGB frame as an image (format from the suffix, e.g. ``.png``), atomically."""
    from PIL import Image

    _check_frames(frame_HWC[None] if isinstance(frame_HWC, np.ndarray) else frame_HWC)
    with atomic_path(path) as tmp:
        Image.fromarray(frame_HWC, mode="RGB").save(tmp, format=Image.registered_extensions().get(tmp.suffix.lower()))
    return Path(path)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 RGB ``[H, W, 3]``; raises :class:`MediaError` if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"cannot read {str(path)!r}: no such file")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise _open_error(path, err) from err
