"""Write the synthetic world to disk: videos with sound, stills, character portraits, captions, edit pairs.

The on-disk format is a contract (docs/world.md)::

    OUT/manifest.jsonl   one JSON object per sample, in id order
    OUT/videos/ID.mp4    H.264 + AAC (mono, WorldConfig.sample_rate) at WorldConfig.fps
    OUT/images/ID.png    stills (kind "image")
    OUT/characters/NNN.png   one reference portrait per character identity
    OUT/edits.jsonl      {"source": id, "target": id, "kind": ..., "instruction": ...}
    OUT/world.json       seed, num, version, held-out combos and identities, buckets, the full config

Sample ``i`` depends only on ``(seed, i)`` (an edit target also on its source ``i - 1``), so any subset re-renders
identically and ``num`` can grow. Media files are written atomically and skipped when present, so re-running the same
command resumes an interrupted run; the manifest and world.json are rewritten (atomically) at the end.
"""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moviegen.configs.serialize import config_to_dict
from moviegen.io.media import AAC_SAMPLE_RATES, atomic_path, write_image, write_video
from moviegen.world.captions import dense_caption, short_prompts
from moviegen.world.characters import HELDOUT_IDENTITIES, NUM_IDENTITIES
from moviegen.world.edits import EditKind, apply_edit, possible_edits
from moviegen.world.kinematics import scene_impacts
from moviegen.world.render import render_audio, render_portrait, render_video
from moviegen.world.scene import HELDOUT_COMBOS, SceneSpec, Split, fits_split, sample_scene

WORLD_VERSION = 1
_PROMPT_STREAM = 1  # rng of sample i's prompts: default_rng([seed, i, _PROMPT_STREAM])
_EDIT_TRIES = 20


@dataclass(frozen=True, kw_only=True)
class WorldConfig:
    """What the world writer samples.

    Args:
        buckets: frame sizes ``(width, height)`` (even, for H.264).
        bucket_weights: relative frequency of each bucket.
        fps: frame rate of the videos.
        durations: video lengths in seconds, drawn uniformly.
        image_fraction: fraction of samples that are stills (1 frame, PNG).
        heldout_fraction: fraction of samples from the held-out split.
        edit_fraction: fraction of samples that belong to an edit pair (source + target, both videos).
        num_prompts: short prompts per sample.
        sample_rate: audio rate of the videos (an AAC rate).
        portrait_size: side of the character reference portraits, pixels.
    """

    buckets: tuple[tuple[int, int], ...] = ((128, 128), (160, 96), (96, 160))
    bucket_weights: tuple[float, ...] = (0.6, 0.2, 0.2)
    fps: int = 16
    durations: tuple[int, ...] = (2, 3, 4)
    image_fraction: float = 0.2
    heldout_fraction: float = 0.1
    edit_fraction: float = 0.05
    num_prompts: int = 3
    sample_rate: int = 48000
    portrait_size: int = 128

    def __post_init__(self) -> None:
        if not self.buckets or len(self.buckets) != len(self.bucket_weights):
            raise ValueError(
                f"buckets and bucket_weights must be non-empty and of equal length, got {self.buckets} and "
                f"{self.bucket_weights}"
            )
        for width, height in self.buckets:
            if width < 16 or height < 16 or width % 2 or height % 2:
                raise ValueError(f"bucket sizes must be even and >= 16 pixels (H.264), got {width}x{height}")
        if any(w < 0 for w in self.bucket_weights) or sum(self.bucket_weights) <= 0:
            raise ValueError(f"bucket_weights must be >= 0 with a positive sum, got {self.bucket_weights}")
        if self.fps < 1 or not self.durations or any(d <= 0 for d in self.durations):
            raise ValueError(f"fps and durations must be positive, got fps={self.fps}, durations={self.durations}")
        for name in ("image_fraction", "heldout_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.edit_fraction <= 0.5:
            raise ValueError(f"edit_fraction must be in [0, 0.5], got {self.edit_fraction}")
        if self.num_prompts < 1:
            raise ValueError(f"num_prompts must be >= 1, got {self.num_prompts}")
        if self.sample_rate not in AAC_SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {AAC_SAMPLE_RATES} (AAC), got {self.sample_rate}")
        if self.portrait_size < 16:
            raise ValueError(f"portrait_size must be >= 16, got {self.portrait_size}")

    @property
    def edit_period(self) -> int | None:
        """Samples ``period - 2`` and ``period - 1`` of every ``period`` form an edit pair (None: no pairs)."""
        return None if self.edit_fraction == 0 else max(2, round(2 / self.edit_fraction))


def world_default() -> WorldConfig:
    """The embedded default's world: 128x128 (most), 160x96 and 96x160; 2-4 s at 16 fps; 20% stills."""
    return WorldConfig()


@dataclass(frozen=True, kw_only=True)
class EditPair:
    source: str
    kind: EditKind
    instruction: str


@dataclass(frozen=True, kw_only=True)
class WorldSample:
    """One planned sample: what to render and where."""

    index: int
    split: Split
    scene: SceneSpec
    edit: EditPair | None = None  # set on the target of an edit pair

    @property
    def id(self) -> str:
        return f"{self.index:06d}"

    @property
    def kind(self) -> str:
        return "image" if self.scene.is_image else "video"

    @property
    def path(self) -> str:
        return f"images/{self.id}.png" if self.scene.is_image else f"videos/{self.id}.mp4"


def _pair_role(cfg: WorldConfig, index: int) -> str | None:
    period = cfg.edit_period
    if period is None:
        return None
    return {period - 2: "source", period - 1: "target"}.get(index % period)


def plan_sample(cfg: WorldConfig, *, seed: int, index: int) -> WorldSample:
    """The scene of sample ``index`` (deterministic in ``(seed, index)``); edit targets edit sample ``index - 1``."""
    rng = np.random.default_rng([seed, index])
    role = _pair_role(cfg, index)
    if role == "target":
        source = plan_sample(cfg, seed=seed, index=index - 1)
        for _ in range(_EDIT_TRIES):
            kind = EditKind(rng.choice([k.value for k in possible_edits(source.scene)]))
            try:
                edited, instruction = apply_edit(source.scene, kind, rng)
            except ValueError:
                continue  # e.g. no room for the new object: try another kind
            if fits_split(edited, source.split):
                break
        else:  # a background change always applies and keeps the split
            kind = EditKind.BACKGROUND
            edited, instruction = apply_edit(source.scene, kind, rng)
        edit = EditPair(source=source.id, kind=kind, instruction=instruction)
        return WorldSample(index=index, split=source.split, scene=edited, edit=edit)
    split = Split.HELDOUT if rng.random() < cfg.heldout_fraction else Split.TRAIN
    image = role is None and rng.random() < cfg.image_fraction  # edit pairs are videos
    weights = np.asarray(cfg.bucket_weights, dtype=np.float64)
    width, height = cfg.buckets[int(rng.choice(len(cfg.buckets), p=weights / weights.sum()))]
    num_frames = 1 if image else cfg.fps * int(cfg.durations[int(rng.integers(len(cfg.durations)))])
    scene = sample_scene(rng, split=split, width=width, height=height, num_frames=num_frames, fps=cfg.fps)
    return WorldSample(index=index, split=split, scene=scene)


def manifest_row(sample: WorldSample, cfg: WorldConfig, *, seed: int) -> dict:
    """The manifest.jsonl object of ``sample`` (the contract's keys, plus ``identities`` and ``edit``)."""
    scene = sample.scene
    prompts = short_prompts(
        scene, np.random.default_rng([seed, sample.index, _PROMPT_STREAM]), n=cfg.num_prompts
    )
    audio = None
    if not scene.is_image:
        impacts = [event.time for event in scene_impacts(scene)]
        music = None if scene.music is None else scene.music.value
        audio = {"sample_rate": cfg.sample_rate, "impacts": impacts, "music": music}
    row = {
        "id": sample.id,
        "path": sample.path,
        "kind": sample.kind,
        "split": sample.split.value,
        "width": scene.width,
        "height": scene.height,
        "fps": None if scene.is_image else scene.fps,
        "num_frames": scene.num_frames,
        "seconds": None if scene.is_image else scene.seconds,
        "caption": dense_caption(scene),
        "prompts": prompts,
        "camera": scene.camera.value,
        "text": scene.text,
        "scene": config_to_dict(scene),
        "audio": audio,
        "identities": list(scene.identities),
    }
    if sample.edit is not None:
        row["edit"] = {"source": sample.edit.source, "kind": sample.edit.kind.value}
    return row


def render_sample(sample: WorldSample, path: Path, cfg: WorldConfig) -> None:
    """Render ``sample`` and write it (atomically) to ``path``."""
    frames_THWC = render_video(sample.scene)
    if sample.scene.is_image:
        write_image(path, frames_THWC[0])
        return
    audio_1N, _ = render_audio(sample.scene, sample_rate=cfg.sample_rate)
    write_video(path, frames_THWC, fps=sample.scene.fps, audio_CN=audio_1N, sample_rate=cfg.sample_rate)


@dataclass(frozen=True, kw_only=True)
class WorldWriteResult:
    out_dir: Path
    num: int
    num_written: int  # media files rendered by this call
    num_skipped: int  # already present (resumed)
    seconds: float


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _prepare_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output {str(out_dir)!r} exists and is not a directory")
    try:
        for sub in ("", "videos", "images", "characters"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create output directory {str(out_dir)!r}: {err.strerror or err}") from err
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {str(out_dir)!r} is not writable")


def write_world(
    out_dir: str | os.PathLike,
    *,
    num: int,
    seed: int,
    config: WorldConfig | None = None,
    progress: bool = True,
) -> WorldWriteResult:
    """Render ``num`` samples of the world with ``seed`` into ``out_dir`` (resumable; see the module docstring).

    Args:
        out_dir: output directory (created if missing).
        num: number of samples (>= 1).
        seed: world seed (>= 0).
        config: what to sample; None for :func:`world_default`.
        progress: show a tqdm progress bar on stderr.

    Returns:
        Where and how much was written.

    Raises:
        ValueError: ``num < 1``, a negative seed, an unwritable ``out_dir``, or an ``out_dir`` that already holds a
            world of another seed or config.
    """
    cfg = world_default() if config is None else config
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be an int >= 1, got {num!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    out = Path(out_dir)
    _prepare_dir(out)
    world_path = out / "world.json"
    cfg_dict = config_to_dict(cfg)
    if world_path.exists():
        previous = json.loads(world_path.read_text(encoding="utf-8"))
        if previous.get("seed") != seed or previous.get("config") != cfg_dict:
            raise ValueError(
                f"{str(out)!r} already holds a world with seed {previous.get('seed')} and another config or seed "
                f"(asked: seed {seed}); use a new directory, or the same arguments to resume or grow it"
            )
    characters = {str(i): f"characters/{i:03d}.png" for i in range(NUM_IDENTITIES)}
    world = {
        "seed": seed,
        "num": num,
        "version": WORLD_VERSION,
        "heldout_combos": sorted([c, s.value, m.value] for c, s, m in HELDOUT_COMBOS),
        "heldout_identities": sorted(HELDOUT_IDENTITIES),
        "buckets": [
            {"width": w, "height": h, "weight": weight}
            for (w, h), weight in zip(cfg.buckets, cfg.bucket_weights, strict=True)
        ],
        "characters": characters,
        "config": cfg_dict,
    }
    _write_text(world_path, json.dumps(world, indent=2) + "\n")
    for identity, rel in characters.items():
        if not (out / rel).exists():
            write_image(out / rel, render_portrait(int(identity), size=cfg.portrait_size))

    start = time.perf_counter()
    rows, edits, written = [], [], 0
    for index in tqdm(range(num), desc="world", unit="sample", disable=not progress):
        sample = plan_sample(cfg, seed=seed, index=index)
        path = out / sample.path
        if not path.exists():  # writes are atomic: a present file is complete
            render_sample(sample, path, cfg)
            written += 1
        rows.append(manifest_row(sample, cfg, seed=seed))
        if sample.edit is not None:
            edit = sample.edit
            edits.append(
                {"source": edit.source, "target": sample.id, "kind": edit.kind.value, "instruction": edit.instruction}
            )
    _write_text(out / "manifest.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    _write_text(out / "edits.jsonl", "".join(json.dumps(edit) + "\n" for edit in edits))
    counts = {key: sum(row["kind"] == key for row in rows) for key in ("video", "image")}
    counts |= {key: sum(row["split"] == key for row in rows) for key in ("train", "heldout")}
    world["counts"] = counts | {"edit_pairs": len(edits)}
    _write_text(world_path, json.dumps(world, indent=2) + "\n")
    return WorldWriteResult(
        out_dir=out, num=num, num_written=written, num_skipped=num - written, seconds=time.perf_counter() - start
    )
