"""The funnel, one input at a time (what a Ray worker runs) and then over the whole corpus (what the driver runs).

Per input (:func:`curate_input`), in SPEC 11.2's order: probe; duration, resolution and aspect; shot boundaries per
second (jitter); clips cut inside scenes; per clip overlaid text, borders, aesthetics of the middle frame, static
(VMAF motion) and motion-vector range; the candidate clip is written, its embedding, camera motion and sound tag kept.
Over the corpus (:func:`near_duplicates`, :func:`concept_balance`): near-duplicates by embedding cosine, then
k-means clusters resampled by 1/sqrt(cluster size).

Every input and every clip becomes one row: ``kept`` and, when not kept, a ``reason`` naming the measured value and
the threshold, and the funnel ``stage`` that dropped it.
"""

import hashlib
import math
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moviegen.curate import analysis
from moviegen.curate.analysis import Rejected
from moviegen.curate.clips import clip_windows, cut_clip
from moviegen.curate.config import CurateConfig, ShotDetector

# Funnel stages, in order (the report's rows). Input stages first, then clip stages, then corpus stages.
INPUT_STAGES = ("readable", "duration", "resolution", "aspect", "jitter", "scenes")
CLIP_STAGES = ("decode", "text", "border", "aesthetics", "static", "motion")
CORPUS_STAGES = ("duplicate", "balance", "caption")
STAGES = INPUT_STAGES + CLIP_STAGES + CORPUS_STAGES

AestheticScorer = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Scorers:
    """Pluggable models: the aesthetic scorer of a middle frame (uint8 ``[H, W, 3]`` -> score); the default is
    :func:`moviegen.curate.analysis.heuristic_aesthetic` (weight-free)."""

    aesthetic: AestheticScorer = analysis.heuristic_aesthetic


def input_key(relpath: str, *, size: int, mtime_ns: int, config_digest: str) -> str:
    """Names the work of one input: a re-run with the same file and config finds it done."""
    return hashlib.sha1(f"{relpath}|{size}|{mtime_ns}|{config_digest}".encode()).hexdigest()[:16]


@dataclass
class InputResult:
    """The rows of one input: its own, then its clips'; candidate clips carry their embedding."""

    input_row: dict[str, Any]
    clip_rows: list[dict[str, Any]] = field(default_factory=list)


def _reject(row: dict[str, Any], stage: str, reason: str) -> dict[str, Any]:
    row.update(kept=False, stage=stage, reason=reason)
    return row


def curate_input(
    source: Path, *, relpath: str, key: str, cfg: CurateConfig, candidates_dir: Path, scorers: Scorers = Scorers()
) -> InputResult:
    """Run the per-input funnel on ``source``; candidate clips are written to ``candidates_dir/<clip_id>.mp4``.

    Never raises for a bad input: every failure becomes a rejection with its reason.
    """
    f = cfg.filters
    row: dict[str, Any] = {"path": relpath, "level": "input", "id": key, "kept": False, "stage": "", "reason": ""}
    result = InputResult(input_row=row)
    try:
        info = analysis.probe(source)
    except Rejected as err:
        _reject(row, "readable", err.reason)
        return result
    row.update(seconds=info.seconds, width=info.width, height=info.height, fps=info.fps, codec=info.codec,
               has_audio=info.has_audio)
    if not f.min_seconds <= info.seconds <= f.max_seconds:
        _reject(row, "duration", f"duration {info.seconds:.2f} s outside [{f.min_seconds:g}, {f.max_seconds:g}] s")
        return result
    if info.width < f.min_width or info.height < f.min_height:
        _reject(row, "resolution", f"{info.width}x{info.height} below {f.min_width}x{f.min_height}")
        return result
    if f.landscape_only and info.width < info.height:
        _reject(row, "aspect", f"portrait {info.width}x{info.height}; landscape only")
        return result
    try:
        if cfg.clips.shots is ShotDetector.TRANSNETV2:
            scenes = analysis.detect_scenes_transnet(source)
        else:
            scenes = analysis.detect_scenes(
                source, threshold=cfg.clips.scene_threshold, min_scene_seconds=cfg.clips.min_scene_seconds
            )
    except Rejected as err:
        _reject(row, "readable", err.reason)
        return result
    cuts_per_second = (len(scenes) - 1) / info.seconds
    row.update(scenes=len(scenes), cuts_per_second=cuts_per_second)
    if cuts_per_second >= f.max_cuts_per_second:
        _reject(row, "jitter", f"{cuts_per_second:.2f} shot boundaries/s >= {f.max_cuts_per_second:g}")
        return result
    rng = random.Random(f"{cfg.seed}/{relpath}")  # placement follows the file, not its modification time
    windows = clip_windows(scenes, cfg=cfg.clips, rng=rng)
    if not windows:
        longest = max(end - start for start, end in scenes)
        _reject(row, "scenes", f"no scene of {cfg.clips.min_seconds:g} s or more (longest {longest:.2f} s)")
        return result
    for n, (start, end) in enumerate(windows):
        clip = _curate_clip(source, relpath=relpath, clip_id=f"{key}-{n}", start=start, end=end, cfg=cfg,
                            candidates_dir=candidates_dir, scorers=scorers)
        result.clip_rows.append({**clip, "clip_index": n})
    passed = [c for c in result.clip_rows if c["kept"]]
    if passed:
        row.update(kept=True)
    else:
        first = result.clip_rows[0]
        _reject(row, first["stage"], f"no clip passed: {first['reason']}")
    return result


def _curate_clip(
    source: Path, *, relpath: str, clip_id: str, start: float, end: float, cfg: CurateConfig, candidates_dir: Path,
    scorers: Scorers,
) -> dict[str, Any]:
    f = cfg.filters
    row: dict[str, Any] = {"path": relpath, "level": "clip", "id": clip_id, "kept": False, "stage": "", "reason": "",
                           "start": start, "end": end, "seconds": end - start}
    try:
        clip = analysis.decode_clip(source, start=start, end=end, analysis_frames=cfg.clips.analysis_frames)
    except Rejected as err:
        return _reject(row, "decode", err.reason)
    text, word = analysis.text_score(clip.analysis_NHWC)
    border = analysis.border_fraction(clip.analysis_NHWC)
    aesthetic = float(scorers.aesthetic(clip.analysis_NHWC[len(clip.analysis_NHWC) // 2]))
    motion = analysis.vmaf_motion(clip.luma_small_THW)
    mv = analysis.motion_vector_length(clip.motion_vectors)
    camera = analysis.camera_features(clip.motion_vectors, width=clip.width, height=clip.height)
    tag, audio_scores = _audio_tag(clip)
    row.update(width=clip.width, height=clip.height, num_frames=len(clip.luma_small_THW), text_score=text,
               text_found=word, border_fraction=border, aesthetic=aesthetic, vmaf_motion=motion, motion_vector=mv,
               camera_features=[float(v) for v in camera], audio_tag=tag, **audio_scores,
               embedding=[float(v) for v in analysis.embedding(clip.thumbs_NHWC)])
    if text >= f.max_text_score:
        return _reject(row, "text", f"overlaid text {word!r} (OCR confidence {text:.2f} >= {f.max_text_score:g})")
    if border >= f.max_border_fraction:
        return _reject(row, "border", f"border covers {border:.1%} of the frame (>= {f.max_border_fraction:.0%})")
    if aesthetic < f.min_aesthetic:
        return _reject(row, "aesthetics", f"aesthetic score {aesthetic:.2f} < {f.min_aesthetic:g}")
    if motion <= f.min_vmaf_motion:
        return _reject(row, "static", f"static: VMAF motion {motion:.2f} <= {f.min_vmaf_motion:g}")
    if not f.min_motion_vector < mv < f.max_motion_vector:
        bounds = f"({f.min_motion_vector:g}, {f.max_motion_vector:g})"
        return _reject(row, "motion", f"motion vectors {mv:.2f} px/frame outside {bounds}")
    try:
        row["num_frames"] = cut_clip(source, candidates_dir / f"{clip_id}.mp4", start=start, end=end,
                                     audio_N=clip.audio_N, sample_rate=clip.sample_rate)
    except Exception as err:  # an encoder failure must not lose the input
        return _reject(row, "decode", f"cannot write the clip: {type(err).__name__}: {err}")
    row.update(kept=True)
    return row


def _audio_tag(clip: analysis.ClipData) -> tuple[str, dict[str, float]]:
    from moviegen.curate.tags import audio_tag

    return audio_tag(clip.audio_N, clip.sample_rate)


def error_result(relpath: str, key: str, err: BaseException | str) -> InputResult:
    """The row of an input whose processing raised or whose worker died: rejected, with the error as the reason."""
    detail = err if isinstance(err, str) else f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    row = {"path": relpath, "level": "input", "id": key}
    return InputResult(input_row=_reject(row, "readable", f"processing failed: {detail}".strip()))


# -- corpus stages -----------------------------------------------------------------------------------------------------


def near_duplicates(clips: list[dict[str, Any]], *, max_cosine: float) -> None:
    """Mark later clips whose embedding cosine with a kept earlier clip reaches ``max_cosine`` (clips in order of
    source path and index, so the first copy by name is the one kept)."""
    kept_ids, kept_vectors = [], []
    for row in sorted(clips, key=lambda r: (r.get("path", ""), r.get("clip_index", 0), r["id"])):
        vector = np.asarray(row["embedding"], np.float32)
        if kept_vectors:
            cosines = np.stack(kept_vectors) @ vector
            best = int(cosines.argmax())
            if cosines[best] >= max_cosine:
                _reject(row, "duplicate", f"near-duplicate of {kept_ids[best]} (cosine {cosines[best]:.3f})")
                row["duplicate_of"] = kept_ids[best]
                continue
        kept_ids.append(row["id"])
        kept_vectors.append(vector)


def kmeans(x_NF: np.ndarray, k: int, *, seed: int, iters: int = 50) -> np.ndarray:
    """Cluster labels of k-means with k-means++ seeding (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    centres = [x_NF[rng.integers(len(x_NF))]]
    for _ in range(1, k):
        d2 = np.min(((x_NF[:, None] - np.stack(centres)[None]) ** 2).sum(-1), axis=1)
        if d2.sum() <= 0:
            break
        centres.append(x_NF[rng.choice(len(x_NF), p=d2 / d2.sum())])
    c = np.stack(centres)
    labels = np.zeros(len(x_NF), int)
    for _ in range(iters):
        labels = ((x_NF[:, None] - c[None]) ** 2).sum(-1).argmin(axis=1)
        new = np.stack([x_NF[labels == j].mean(axis=0) if (labels == j).any() else c[j] for j in range(len(c))])
        if np.allclose(new, c):
            break
        c = new
    return labels


def concept_balance(clips: list[dict[str, Any]], *, clusters: int | None, seed: int) -> None:
    """Cluster the embeddings and keep each clip with probability ``1 / sqrt(cluster size)`` (SPEC 11.2), decided by
    a generator seeded with the run's seed and the clip's source and index (re-runs make the same choices)."""
    if not clips:
        return
    x = np.stack([np.asarray(r["embedding"], np.float32) for r in clips])
    k = clusters or math.ceil(math.sqrt(len(clips)))
    labels = kmeans(x, min(k, len(clips)), seed=seed)
    sizes = np.bincount(labels)
    for row, label in zip(clips, labels.tolist(), strict=True):
        p = 1.0 / math.sqrt(sizes[label])
        row.update(cluster=int(label), cluster_size=int(sizes[label]), keep_probability=p)
        name = f"{row['path']}#{row['clip_index']}" if "path" in row else row["id"]  # stable across file touches
        if random.Random(f"{seed}/balance/{name}").random() >= p:
            _reject(row, "balance", f"resampled out: cluster {label} of {sizes[label]} clips (keep p = {p:.2f})")
