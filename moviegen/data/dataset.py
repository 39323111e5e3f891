"""Pixel-space training samples: decode, resample to the bucket fps, take the central clip, resize and crop.

:class:`VideoDataset` turns manifest entries into :class:`Sample` tensors of exactly their bucket's shape:

1. decode the whole file with :func:`moviegen.io.read_video` (video only, no audio) or :func:`~moviegen.io.read_image`;
2. resample to ``BucketConfig.fps`` by frame-index selection (:func:`~moviegen.data.buckets.resample_indices`: a
   32 fps file read at 16 fps takes every second frame; no frame blending);
3. take the *central* window of the bucket's frame count (the clip's start and end, where cuts and fades live, are
   the first to go);
4. scale so the bucket covers the frame (area-preserving: one scale factor for both axes, so nothing is stretched),
   with antialiased bilinear interpolation, then centre-crop to the bucket size;
5. map ``uint8`` to float32 in [-1, 1] (the TAE's input range).

A file that cannot be used raises :class:`SampleError` (a :class:`~moviegen.io.MediaError`, hence a ``ValueError``)
carrying a :class:`~moviegen.data.skips.SkipReason`; the batching layer skips and counts it. Entries that fit no
bucket are known at construction and recorded in :attr:`VideoDataset.skips` straight away.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from moviegen.data.buckets import Bucket, BucketConfig, bucket_or_reason, resample_indices
from moviegen.data.manifest import ManifestEntry
from moviegen.data.skips import SkipLog, SkipReason
from moviegen.io.media import MediaError, read_image, read_video

logger = logging.getLogger(__name__)


class SampleError(MediaError):
    """A sample that cannot be loaded; ``reason`` is its skip code and the message names the file."""

    def __init__(self, message: str, *, reason: SkipReason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One loaded training sample.

    Attributes:
        id: the manifest id.
        video_CTHW: float32 pixels in [-1, 1], ``[3, bucket.num_frames, bucket.height, bucket.width]``.
        caption: the dense caption.
        prompts: the short prompts (may be empty).
        fps: the bucket frame rate the clip was resampled to (None for images).
        camera: the camera-motion label, or None.
        bucket: the sample's bucket.
    """

    id: str
    video_CTHW: torch.Tensor
    caption: str
    prompts: tuple[str, ...]
    fps: int | None
    camera: str | None
    bucket: Bucket


def resize_center_crop(frames_THWC: np.ndarray, *, width: int, height: int) -> torch.Tensor:
    """Scale uint8 RGB frames so that ``width x height`` is covered, centre-crop it, and map to [-1, 1].

    Returns:
        float32 ``[3, T, height, width]``.
    """
    if not frames_THWC.flags.writeable:  # Pillow's arrays are read-only; torch wants to own writable memory
        frames_THWC = frames_THWC.copy()
    x_TCHW = torch.from_numpy(np.ascontiguousarray(frames_THWC)).permute(0, 3, 1, 2)  # uint8 view
    src_h, src_w = x_TCHW.shape[-2:]
    scale = max(width / src_w, height / src_h)
    new_h, new_w = max(height, round(src_h * scale)), max(width, round(src_w * scale))
    if (new_h, new_w) != (src_h, src_w):
        # antialias makes bilinear average over the source footprint when shrinking (area-like), and is exact
        # bilinear when enlarging.
        x_TCHW = F.interpolate(
            x_TCHW.float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        ).clamp_(0.0, 255.0)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    x_TCHW = x_TCHW[:, :, top : top + height, left : left + width]
    # one copy: crop + transpose to [C, T, H, W] + float32, then scale in place to [-1, 1]
    video_CTHW = x_TCHW.permute(1, 0, 2, 3).to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    return video_CTHW.div_(127.5).sub_(1.0)


class VideoDataset:
    """Manifest entries as bucket-shaped pixel samples (see the module docstring for the pipeline).

    Args:
        entries: from :func:`~moviegen.data.manifest.read_manifest`.
        buckets: the stage's bucket config.

    Attributes:
        bucket_of: the bucket of each entry (None for entries that fit no bucket).
        skips: entries that fit no bucket, with their reason.
    """

    def __init__(self, entries: Sequence[ManifestEntry], *, buckets: BucketConfig) -> None:
        self.entries = list(entries)
        self.buckets = buckets
        self.bucket_of: list[Bucket | None] = []
        self._unbucketed: dict[int, SampleError] = {}
        self.skips = SkipLog()
        for i, entry in enumerate(self.entries):
            bucket = bucket_or_reason(entry, buckets)
            if isinstance(bucket, Bucket):
                self.bucket_of.append(bucket)
                continue
            self.bucket_of.append(None)
            reason = SkipReason.TOO_SHORT if bucket.startswith("too short") else SkipReason.NO_BUCKET
            self._unbucketed[i] = SampleError(f"{str(entry.path)!r}: {bucket}", reason=reason)
            # one summary line below instead of a warning per file: a video-only stage leaves out every image
            self.skips.add(self.source(i), reason=reason, message=bucket, log=False)
        if self.skips:
            logger.warning(
                "%d of %d entries fit no bucket and are left out (%s); the first: %s",
                len(self.skips), len(self.entries), self.skips.summary(), self.skips.paths[0],
            )

    def __len__(self) -> int:
        return len(self.entries)

    def source(self, i: int) -> str:
        """The file behind sample ``i`` (what skip logs name)."""
        return str(self.entries[i].path)

    def sample_id(self, i: int) -> str:
        return self.entries[i].id

    def load(self, i: int) -> Sample:
        """Decode, resample, crop and normalise sample ``i``.

        Raises:
            SampleError: missing, empty, undecodable or too short file, or an entry without a bucket.
        """
        entry, bucket = self.entries[i], self.bucket_of[i]
        if bucket is None:
            raise self._unbucketed[i]
        path = entry.path
        if not path.is_file():
            raise SampleError(f"cannot read {str(path)!r}: no such file", reason=SkipReason.MISSING)
        if path.stat().st_size == 0:
            raise SampleError(f"cannot read {str(path)!r}: the file is empty (0 bytes)", reason=SkipReason.EMPTY)
        try:
            frames_THWC = self._read_frames(entry, bucket)
        except SampleError:
            raise
        except MediaError as err:
            raise SampleError(str(err), reason=SkipReason.UNDECODABLE) from err
        return Sample(
            id=entry.id,
            video_CTHW=resize_center_crop(frames_THWC, width=bucket.width, height=bucket.height),
            caption=entry.caption,
            prompts=entry.prompts,
            fps=None if bucket.is_image else self.buckets.fps,
            camera=entry.camera,
            bucket=bucket,
        )

    def _read_frames(self, entry: ManifestEntry, bucket: Bucket) -> np.ndarray:
        if entry.kind == "image":
            return read_image(entry.path)[None]
        clip = read_video(entry.path, audio=False)
        indices = resample_indices(clip.num_frames, fps=clip.fps, target_fps=self.buckets.fps)
        if len(indices) < bucket.num_frames:
            raise SampleError(
                f"{str(entry.path)!r} is too short: {clip.num_frames} decodable frames at {clip.fps:g} fps give "
                f"{len(indices)} frames at {self.buckets.fps} fps, its bucket {bucket} needs {bucket.num_frames}",
                reason=SkipReason.TOO_SHORT,
            )
        start = (len(indices) - bucket.num_frames) // 2
        return clip.frames_THWC[indices[start : start + bucket.num_frames]]
