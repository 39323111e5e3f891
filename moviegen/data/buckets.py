"""Aspect-ratio x duration buckets (SPEC 5.3: "we bucket by aspect ratio and length").

Movie Gen trains on videos of several aspect ratios and durations. Every batch is drawn from one bucket, so every
sample in it has the same pixel size and frame count, hence the same latent and token shape (no padding, no masks).

Assignment (:func:`assign_bucket`):

1. aspect: the bucket size whose aspect ratio is nearest to the clip's, measured as ``|log(w/h) - log(W/H)|`` (so
   2:1 and 1:2 are equally far from 1:1); ties go to the size listed first;
2. duration: the largest frame count ``<= `` the number of frames the clip has once resampled to ``cfg.fps``
   (``floor(num_frames * cfg.fps / fps)``); the dataset then takes the central window of that many frames. A clip
   shorter than the smallest frame count gets no bucket (None) and the reason is reported;
3. images get ``num_frames = 1`` (when ``cfg.image`` is true; otherwise they get no bucket).
"""

import math
from dataclasses import dataclass

from moviegen.data.manifest import ManifestEntry

# Small slack when converting a clip length between frame rates (float fps such as 29.97 should not lose a frame).
_FRAME_EPS = 1e-6


@dataclass(frozen=True, kw_only=True)
class BucketConfig:
    """The buckets of a training stage.

    Attributes:
        sizes: aspect buckets as ``(width, height)`` pixel sizes.
        frame_counts: duration buckets in frames at ``fps`` (ascending); empty for an image-only stage.
        fps: the frame rate every video is resampled to.
        image: whether images (1-frame samples) get a bucket.
    """

    sizes: tuple[tuple[int, int], ...]
    frame_counts: tuple[int, ...]
    fps: int = 16
    image: bool = True

    def __post_init__(self) -> None:
        if not self.sizes or any(len(s) != 2 or min(s) < 1 for s in self.sizes):
            raise ValueError(f"sizes must be a non-empty tuple of positive (width, height) pairs, got {self.sizes}")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes must be distinct, got {self.sizes}")
        counts = self.frame_counts
        if any(c < 1 for c in counts) or list(counts) != sorted(set(counts)):
            raise ValueError(f"frame_counts must be positive, distinct and ascending, got {counts}")
        if not self.fps >= 1:
            raise ValueError(f"fps must be >= 1, got {self.fps}")
        if not counts and not self.image:
            raise ValueError("a bucket config needs frame_counts (videos) or image=True, got neither")

    @property
    def buckets(self) -> tuple["Bucket", ...]:
        """Every bucket of this config (images first), in a fixed order."""
        frames = ((1,) if self.image else ()) + self.frame_counts
        return tuple(Bucket(width=w, height=h, num_frames=t) for t in frames for (w, h) in self.sizes)


@dataclass(frozen=True, kw_only=True, order=True)
class Bucket:
    """A (width, height, num_frames) shape shared by every sample of a batch; ``num_frames == 1`` is an image."""

    width: int
    height: int
    num_frames: int

    @property
    def is_image(self) -> bool:
        return self.num_frames == 1

    def __str__(self) -> str:
        return f"{self.width}x{self.height}x{self.num_frames}"

    @classmethod
    def parse(cls, text: str) -> "Bucket":
        """Inverse of ``str(bucket)``: ``"160x96x48"``; raises ValueError for anything else."""
        parts = text.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"a bucket is written WIDTHxHEIGHTxFRAMES with positive integers, got {text!r}")
        width, height, num_frames = (int(p) for p in parts)
        return cls(width=width, height=height, num_frames=num_frames)


def buckets_tiny() -> BucketConfig:
    """The embedded default's buckets: 1:1, 5:3 landscape and 3:5 portrait; 2, 3 or 4 s at 16 fps; images."""
    return BucketConfig(sizes=((128, 128), (160, 96), (96, 160)), frame_counts=(32, 48, 64), fps=16, image=True)


def buckets_tiny_lowres() -> BucketConfig:
    """:func:`buckets_tiny` at half the size (64x64, 80x48, 48x80), for the low-resolution T2I warm-up stage."""
    base = buckets_tiny()
    return BucketConfig(
        sizes=tuple((w // 2, h // 2) for w, h in base.sizes),
        frame_counts=base.frame_counts,
        fps=base.fps,
        image=base.image,
    )


def resampled_num_frames(num_frames: int, *, fps: float, target_fps: float) -> int:
    """Frames a ``num_frames`` clip at ``fps`` has when resampled to ``target_fps`` by frame selection."""
    return int(math.floor(num_frames * target_fps / fps + _FRAME_EPS))


def resample_indices(num_frames: int, *, fps: float, target_fps: float) -> list[int]:
    """Source frame indices that resample a clip to ``target_fps``: output frame ``j`` shows time ``j / target_fps``.

    Index ``j`` is ``floor(j * fps / target_fps)``, e.g. a 32 fps clip at 16 fps takes frames 0, 2, 4, ...; a clip
    slower than the target repeats frames.
    """
    count = resampled_num_frames(num_frames, fps=fps, target_fps=target_fps)
    return [min(num_frames - 1, int(math.floor(j * fps / target_fps + _FRAME_EPS))) for j in range(count)]


def bucket_or_reason(entry: ManifestEntry, cfg: BucketConfig) -> Bucket | str:
    """The bucket of ``entry`` under ``cfg``, or a short reason string why it has none."""
    aspect = math.log(entry.width / entry.height)
    width, height = min(cfg.sizes, key=lambda s: abs(math.log(s[0] / s[1]) - aspect))
    if entry.kind == "image":
        if not cfg.image:
            return "image in a video-only bucket config"
        return Bucket(width=width, height=height, num_frames=1)
    if not cfg.frame_counts:
        return "video in an image-only bucket config"
    available = resampled_num_frames(entry.num_frames, fps=entry.fps, target_fps=cfg.fps)
    fitting = [c for c in cfg.frame_counts if c <= available]
    if not fitting:
        return (
            f"too short: {entry.num_frames} frames at {entry.fps:g} fps is {available} frames at {cfg.fps} fps, "
            f"the shortest bucket needs {cfg.frame_counts[0]}"
        )
    return Bucket(width=width, height=height, num_frames=fitting[-1])


def assign_bucket(entry: ManifestEntry, cfg: BucketConfig) -> Bucket | None:
    """The bucket of ``entry``, or None when it fits none (see :func:`bucket_or_reason` for the reason)."""
    bucket = bucket_or_reason(entry, cfg)
    return bucket if isinstance(bucket, Bucket) else None
