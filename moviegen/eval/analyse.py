"""A frame analyser for synthetic-world videos: which objects (colour, shape) are there and how they move.

It knows only the palette of ``moviegen/world/vocab.py`` (PRODUCT.md: evaluation detects objects by colour), never
the renderer, so it can judge generated videos and ground-truth renders alike. The rules, in order:

1. **Labels.** Each pixel takes the nearest palette colour (8 object colours + 4 backgrounds, RGB Euclidean
   distance) if it lies within ``colour_tolerance`` of it, else no label. Generated frames are blurry: edge pixels
   mix an object with the background and land between palette entries; the tolerance (60, below the closest
   object-colour pair, yellow/orange at 83, and far below the 116 to the world's pink text colour) leaves most of
   them unlabelled while blur and noise of +-20 per channel keep an object's interior labelled.
2. **Objects.** An object colour counts in a frame when its mask, after a 3x3 morphological opening (which removes
   1-2 px rims of blended edge pixels and thin strokes such as rendered text), keeps at least ``min_area_fraction``
   of the frame; and it counts in the video when it is present in at least ``min_presence`` of the frames. Per
   frame, the object is the largest 8-connected blob of the raw mask (measured by its opened core). Two objects of
   the same colour are therefore reported as one (the larger).
3. **Shape** is voted over up to five frames where the blob does not touch the border (any frames if none),
   from two rotation-invariant features: *solidity* (pixel count over the convex hull's lattice-point count,
   about 1 for convex shapes, about 0.6 for the world's five-point star) and *roundness* (pixel count over the
   area of the centroid-centred circle through the farthest pixel: circle ~1, square 2/pi ~0.64, triangle
   ~0.36-0.41). Rotation invariance matters: a spinning square is still a square.
4. **Motion** from the centroid and area trajectory (coordinates as fractions of the frame; y grows downwards),
   first rule that fires: *grows* (end/start area >= ``grow_ratio``); *bounces* (a fall and a rise of at least
   ``bounce_threshold`` each, in that order); *moves left/right/up/down* (net displacement >= ``move_threshold``
   along the dominant axis); *spins* (the centred silhouette differs from the first frame's: the 90th percentile
   of 1 - IoU >= ``spin_threshold``); else *stays still*. Start and end positions are medians over the first and
   last eighth of the track, so a few bad frames do not decide the direction.

Camera motion is not compensated: analyse static-camera clips (adherence evaluation generates them). Measured
accuracy on ground-truth world renders is in docs/eval.md; it is the ceiling of the adherence scores.
"""

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from moviegen.world.vocab import BACKGROUNDS, OBJECT_COLOURS, Motion, Shape

_PALETTE_NAMES = (*OBJECT_COLOURS, *BACKGROUNDS)
_PALETTE = np.array([*OBJECT_COLOURS.values(), *BACKGROUNDS.values()], dtype=np.float32)  # [P, 3]
_NUM_OBJECT_COLOURS = len(OBJECT_COLOURS)


@dataclass(frozen=True, kw_only=True)
class AnalyserConfig:
    """Thresholds of :func:`analyse_video` (see the module docstring for where each one acts).

    Args:
        colour_tolerance: max RGB distance from a palette colour for a pixel to take its label.
        min_area_fraction: min opened-mask area (fraction of the frame) for an object colour to count in a frame.
        min_presence: min fraction of frames where a colour counts for it to be an object of the video.
        grow_ratio: end/start area ratio from which an object grows.
        bounce_threshold: min fall and min rise (fraction of the frame height) of a bounce.
        move_threshold: min net displacement (fraction of the frame size) of a move.
        spin_threshold: min 90th-percentile silhouette change (1 - IoU with the first frame) of a spin.
        solidity_star: solidity below which a shape is a star.
        roundness_circle: roundness above which a convex shape is a circle.
        roundness_square: roundness above which a convex non-circle is a square (else a triangle).
    """

    colour_tolerance: float = 60.0
    min_area_fraction: float = 0.002
    min_presence: float = 0.3
    grow_ratio: float = 1.4
    bounce_threshold: float = 0.08
    move_threshold: float = 0.12
    spin_threshold: float = 0.15
    solidity_star: float = 0.8
    roundness_circle: float = 0.82
    roundness_square: float = 0.5

    def __post_init__(self) -> None:
        for name in ("colour_tolerance", "min_area_fraction", "bounce_threshold", "move_threshold", "spin_threshold"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.min_presence <= 1:
            raise ValueError(f"min_presence must be in (0, 1], got {self.min_presence}")
        if not self.grow_ratio > 1:
            raise ValueError(f"grow_ratio must be > 1, got {self.grow_ratio}")


@dataclass(frozen=True, kw_only=True)
class TrackPoint:
    """One frame of an object's track: centroid (x, y) and area as fractions of the frame width/height/area."""

    frame: int
    x: float
    y: float
    area: float


def track_ends(track: tuple[TrackPoint, ...]) -> tuple[TrackPoint, TrackPoint]:
    """Where a track starts and ends: medians of x, y and area over its first and last eighth (at least one point
    each), so a few bad frames do not decide a direction. Frame numbers are those of the first and last points."""
    k = max(1, len(track) // 8)

    def median(points: tuple[TrackPoint, ...], frame: int) -> TrackPoint:
        x, y, area = np.median(np.array([(p.x, p.y, p.area) for p in points]), axis=0)
        return TrackPoint(frame=frame, x=float(x), y=float(y), area=float(area))

    return median(track[:k], track[0].frame), median(track[-k:], track[-1].frame)


@dataclass(frozen=True, kw_only=True)
class ObjectAnalysis:
    """One detected object: its palette colour, shape, motion, mean area fraction, and its per-frame track (only
    frames where it was found)."""

    colour: str
    shape: Shape
    motion: Motion
    area: float
    track: tuple[TrackPoint, ...] = field(repr=False)

    @property
    def max_step(self) -> float:
        """The largest centroid move from one tracked frame to the next, per frame, as a fraction of the frame
        (0 for a track of one point). A coherent world object moves at most a few hundredths a frame; an object
        that vanishes and reappears elsewhere jumps by a tenth or more."""
        steps = [
            float(np.hypot(b.x - a.x, b.y - a.y)) / (b.frame - a.frame) for a, b in zip(self.track, self.track[1:])
        ]
        return max(steps, default=0.0)

    @functools.cached_property
    def ends(self) -> tuple[TrackPoint, TrackPoint]:
        """The track's start and end (:func:`track_ends`), computed once."""
        return track_ends(self.track)

    @property
    def displacement(self) -> tuple[float, float]:
        """Net centroid move (dx, dy) from the start to the end of the track (:attr:`ends`), as fractions of the
        frame (y grows downwards): a move's direction even when another motion rule decided the verdict."""
        start, end = self.ends
        return end.x - start.x, end.y - start.y

    @property
    def growth(self) -> float:
        """End over start area (:attr:`ends`); the *grows* verdict needs ``grow_ratio`` or more."""
        start, end = self.ends
        return end.area / start.area


@dataclass(frozen=True, kw_only=True)
class VideoAnalysis:
    """Objects sorted by decreasing mean area, and the background (None if no pixel is near a background colour)."""

    objects: list[ObjectAnalysis]
    background: str | None

    def find(self, colour: str) -> ObjectAnalysis | None:
        """The object of this colour, if detected."""
        return next((obj for obj in self.objects if obj.colour == colour), None)


# --- pixels -> labels -> blobs ---------------------------------------------------------------------------------------


def label_pixels(frames_THWC: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Nearest palette index per pixel (object colours first, then backgrounds), -1 beyond ``tolerance``: [T, H, W]."""
    palette_norm_P = (_PALETTE**2).sum(axis=-1)
    labels = []
    for start in range(0, frames_THWC.shape[0], 16):  # chunks keep the [t, H, W, P] distances small
        x = frames_THWC[start : start + 16].astype(np.float32)
        # |x - p|^2 = |x|^2 - 2 x.p + |p|^2: every term is an integer below 2^24, so float32 is exact here.
        dist2 = (x**2).sum(axis=-1, keepdims=True) - 2 * x @ _PALETTE.T + palette_norm_P  # [t, H, W, P]
        idx = dist2.argmin(axis=-1)
        d2 = np.take_along_axis(dist2, idx[..., None], axis=-1)[..., 0]
        labels.append(np.where(d2 <= tolerance**2, idx, -1))
    return np.concatenate(labels)


def _max3x3(x_THW: np.ndarray, *, fill: float) -> np.ndarray:
    """3x3 maximum filter per frame (``fill`` outside the frame)."""
    t, h, w = x_THW.shape
    padded = np.full((t, h + 2, w + 2), fill, dtype=x_THW.dtype)
    padded[:, 1:-1, 1:-1] = x_THW
    rows = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])  # [T, H, W + 2]
    return np.maximum(np.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def _open3x3(mask_THW: np.ndarray) -> np.ndarray:
    """Morphological opening with a 3x3 square (erode then dilate); outside the frame counts as off the mask."""
    eroded = ~_max3x3(~mask_THW, fill=True)
    return _max3x3(eroded, fill=False)


def connected_components(mask_THW: np.ndarray) -> np.ndarray:
    """8-connected component ids per frame: [T, H, W] int64, -1 off the mask; an id is a pixel index of the component.

    Label propagation with pointer jumping: each mask pixel starts with its own flat index; every round it takes the
    largest id in its 3x3 neighbourhood on the mask, then the id held by the pixel its id points to. Ids only grow
    and always name a pixel of the same component, so they converge to the component's largest pixel index in a
    number of rounds logarithmic rather than linear in the blob's size.
    """
    t, h, w = mask_THW.shape
    own = np.broadcast_to(np.arange(h * w, dtype=np.int64).reshape(1, h, w), (t, h, w))
    ids = np.where(mask_THW, own, -1)
    frame_offset = (np.arange(t, dtype=np.int64) * h * w)[:, None, None]
    while True:
        grown = np.where(mask_THW, _max3x3(ids, fill=-1), -1)
        jumped = grown.reshape(-1)[np.maximum(grown, 0) + frame_offset]  # pointer jumping, within each frame
        grown = np.where(mask_THW, jumped, -1)
        if np.array_equal(grown, ids):
            return ids
        ids = grown


@dataclass(frozen=True)
class _Blob:
    frame: int
    mask_HW: np.ndarray  # bool

    @property
    def ys_xs(self) -> tuple[np.ndarray, np.ndarray]:
        return np.nonzero(self.mask_HW)

    def touches_border(self) -> bool:
        m = self.mask_HW
        return bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any())


_CROP_MARGIN = 6  # pixels around the opened core kept for labelling: thin parts (star tips) the opening removed


def _largest_blobs(raw_THW: np.ndarray, core_THW: np.ndarray, frames: list[int]) -> list[_Blob]:
    """Per listed frame, the component of the raw mask holding the most opened-core pixels."""
    # Label only the box around the cores (plus a margin): a large speed-up for small objects in large frames.
    core_HW = core_THW[frames].any(axis=0)
    rows, cols = np.nonzero(core_HW.any(axis=1))[0], np.nonzero(core_HW.any(axis=0))[0]
    h, w = core_HW.shape
    r0, r1 = max(0, int(rows[0]) - _CROP_MARGIN), min(h, int(rows[-1]) + _CROP_MARGIN + 1)
    c0, c1 = max(0, int(cols[0]) - _CROP_MARGIN), min(w, int(cols[-1]) + _CROP_MARGIN + 1)
    comps_THW = connected_components(raw_THW[frames, r0:r1, c0:c1])
    blobs = []
    for i, frame in enumerate(frames):
        core_ids = comps_THW[i][core_THW[frame, r0:r1, c0:c1]]
        ids, counts = np.unique(core_ids[core_ids >= 0], return_counts=True)
        mask_HW = np.zeros((h, w), dtype=bool)
        mask_HW[r0:r1, c0:c1] = comps_THW[i] == ids[counts.argmax()]
        blobs.append(_Blob(frame, mask_HW))
    return blobs


# --- shape ------------------------------------------------------------------------------------------------------------


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain: hull vertices (counter-clockwise) of integer points [N, 2]."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) <= 2:
        return np.asarray(pts, dtype=np.float64)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class ShapeFeatures:
    """Rotation-invariant features of a blob (see the module docstring)."""

    solidity: float
    roundness: float


def shape_features(mask_HW: np.ndarray) -> ShapeFeatures:
    """Solidity and roundness of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask_HW)
    count = len(ys)
    # Convex hull of the boundary pixel centres; by Pick's theorem a convex lattice region of hull area A and
    # perimeter P holds about A + P/2 + 1 pixels, so solidity ~ 1 for convex shapes at any size.
    padded = np.pad(mask_HW, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    by, bx = np.nonzero(mask_HW & ~interior)
    hull = _convex_hull(np.stack([bx, by], axis=1))
    if len(hull) >= 3:
        x, y = hull[:, 0], hull[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        perimeter = float(np.hypot(np.diff(x, append=x[0]), np.diff(y, append=y[0])).sum())
    else:
        area, perimeter = 0.0, 2.0 * float(np.ptp(hull, axis=0).max()) if len(hull) else 0.0
    solidity = count / (area + perimeter / 2 + 1)
    r_max = float(np.sqrt((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2).max()) + 0.5  # to the pixel's far edge
    return ShapeFeatures(solidity=solidity, roundness=count / (np.pi * r_max**2))


def classify_shape(features: ShapeFeatures, cfg: AnalyserConfig) -> Shape:
    """Star if not convex; else circle, square or triangle by roundness."""
    if features.solidity < cfg.solidity_star:
        return Shape.STAR
    if features.roundness >= cfg.roundness_circle:
        return Shape.CIRCLE
    if features.roundness >= cfg.roundness_square:
        return Shape.SQUARE
    return Shape.TRIANGLE


def _vote_shape(blobs: list[_Blob], cfg: AnalyserConfig) -> Shape:
    inside = [b for b in blobs if not b.touches_border()] or blobs  # a blob cut by the border is the last resort
    picks = [inside[i] for i in sorted({round(k * (len(inside) - 1) / 4) for k in range(5)})]
    votes: dict[Shape, float] = {}
    for blob in picks:
        shape = classify_shape(shape_features(blob.mask_HW), cfg)
        votes[shape] = votes.get(shape, 0.0) + 1.0 + 1e-6 * blob.mask_HW.sum()  # ties go to the larger views
    return max(votes, key=votes.__getitem__)


# --- motion -----------------------------------------------------------------------------------------------------------


def _centred_silhouette(blob: _Blob, radius: int) -> np.ndarray:
    ys, xs = blob.ys_xs
    cy, cx = int(round(ys.mean())), int(round(xs.mean()))
    canvas = np.zeros((2 * radius + 1, 2 * radius + 1), dtype=bool)
    dy, dx = ys - cy + radius, xs - cx + radius
    keep = (dy >= 0) & (dy <= 2 * radius) & (dx >= 0) & (dx <= 2 * radius)
    canvas[dy[keep], dx[keep]] = True
    return canvas


def _silhouette_change(blobs: list[_Blob]) -> float:
    """90th percentile over frames of 1 - IoU between the centred silhouette and the first frame's.

    The IoU is the best over 1-pixel shifts, so the rounding of centroids to pixels does not count as change.
    """
    radius = max(int(np.ptp(b.ys_xs[0]) + np.ptp(b.ys_xs[1])) for b in blobs) + 2
    first = _centred_silhouette(blobs[0], radius)
    shifted = [np.roll(first, (dy, dx), axis=(0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    changes = []
    for blob in blobs[1:]:
        sil = _centred_silhouette(blob, radius)
        best = max((ref & sil).sum() / max(int((ref | sil).sum()), 1) for ref in shifted)
        changes.append(1.0 - best)
    return float(np.quantile(changes, 0.9)) if changes else 0.0


def classify_motion(track: tuple[TrackPoint, ...], *, silhouette_change: float, cfg: AnalyserConfig) -> Motion:
    """The motion word for a track (rules in the module docstring)."""
    if len(track) < 2:
        return Motion.STILL
    y = np.array([p.y for p in track])
    start, end = track_ends(track)
    if end.area >= cfg.grow_ratio * start.area:
        return Motion.GROW
    fall = y - np.minimum.accumulate(y)  # how far each point lies below the highest point before it
    rise = y - np.minimum.accumulate(y[::-1])[::-1]  # ... and above the highest point after it
    if float(np.minimum(fall, rise).max()) >= cfg.bounce_threshold:
        return Motion.BOUNCE
    dx, dy = end.x - start.x, end.y - start.y
    if max(abs(dx), abs(dy)) >= cfg.move_threshold:
        if abs(dx) >= abs(dy):
            return Motion.RIGHT if dx > 0 else Motion.LEFT
        return Motion.DOWN if dy > 0 else Motion.UP
    if silhouette_change >= cfg.spin_threshold:
        return Motion.SPIN
    return Motion.STILL


# --- the analyser -----------------------------------------------------------------------------------------------------


def analyse_video(frames_THWC: np.ndarray | torch.Tensor, *, cfg: AnalyserConfig | None = None) -> VideoAnalysis:
    """Detect the synthetic world's objects in a static-camera clip and name their colour, shape and motion.

    Args:
        frames_THWC: ``uint8`` RGB frames ``[T, H, W, 3]`` (an image is ``T = 1``).
        cfg: thresholds; the defaults are the validated ones (docs/eval.md).

    Returns:
        The objects (largest first) and the background colour name.

    Raises:
        ValueError: for anything but a non-empty uint8 ``[T, H, W, 3]`` array.
    """
    cfg = AnalyserConfig() if cfg is None else cfg
    frames = frames_THWC.numpy() if isinstance(frames_THWC, torch.Tensor) else np.asarray(frames_THWC)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ValueError(
            f"frames must be uint8 [T, H, W, 3] with T, H, W > 0, got {frames.dtype} {tuple(frames.shape)}"
        )
    num_frames, h, w, _ = frames.shape
    labels_THW = label_pixels(frames, tolerance=cfg.colour_tolerance)

    counts = np.bincount(labels_THW.ravel() + 1, minlength=len(_PALETTE_NAMES) + 1)[1:]  # [P]; -1 dropped
    bg_counts = counts[_NUM_OBJECT_COLOURS:]
    background = list(BACKGROUNDS)[int(bg_counts.argmax())] if int(bg_counts.sum()) > 0 else None

    min_area = cfg.min_area_fraction * h * w
    objects = []
    for index, colour in enumerate(OBJECT_COLOURS):
        raw_THW = labels_THW == index
        if int(counts[index]) < min_area:
            continue
        core_THW = _open3x3(raw_THW)
        core_area_T = core_THW.reshape(num_frames, -1).sum(axis=1)
        present = [t for t in range(num_frames) if int(core_area_T[t]) >= min_area]
        if not present or len(present) < cfg.min_presence * num_frames:
            continue
        blobs = _largest_blobs(raw_THW, core_THW, present)
        track = []
        for blob in blobs:
            ys, xs = blob.ys_xs
            track.append(TrackPoint(frame=blob.frame, x=float(xs.mean() + 0.5) / w, y=float(ys.mean() + 0.5) / h,
                                    area=len(ys) / (h * w)))
        track_t = tuple(track)
        motion = classify_motion(track_t, silhouette_change=_silhouette_change(blobs), cfg=cfg)
        objects.append(ObjectAnalysis(colour=colour, shape=_vote_shape(blobs, cfg), motion=motion,
                                      area=float(np.mean([p.area for p in track_t])), track=track_t))
    objects.sort(key=lambda obj: -obj.area)
    return VideoAnalysis(objects=objects, background=background)
