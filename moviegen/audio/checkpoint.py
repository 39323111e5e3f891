"""Inference checkpoints of Movie Gen Audio: one directory that ``moviegen audio --checkpoint DIR`` (and the sound of
``moviegen generate``) loads. Safetensors and JSON only.

Layout::

    DIR/config.json        {"format": "moviegen-audio", "version": 1, "config": <MovieGenAudioConfig>,
                            "defaults": <AudioDefaults>}
    DIR/codec.safetensors  DACVAE.state_dict(), float16
    DIR/audio.safetensors  MovieGenAudio.trainable_state_dict() (transformer, frame encoder, text projections)
    DIR/model_card.json    recipe, steps, data seed, measured metrics

The codec's latent shift and scale (measured on the training data) live in the config, so a loaded codec hands out
the latents the transformer was trained on.
"""

import importlib.resources
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from moviegen.audio.codec import DACVAE
from moviegen.audio.config import MovieGenAudioConfig
from moviegen.audio.model import MovieGenAudio
from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.flow.config import FlowConfig
from moviegen.io.checkpoint_files import (
    CheckpointError,
    load_weights,
    one_line,
    read_card,
    read_checkpoint_json,
    to_storage,
    write_checkpoint,
)

FORMAT = "moviegen-audio"
VERSION = 1
CONFIG_FILE = "config.json"
CODEC_FILE = "codec.safetensors"
AUDIO_FILE = "audio.safetensors"
CARD_FILE = "model_card.json"
CHECKPOINT_FILES = (CONFIG_FILE, CODEC_FILE, AUDIO_FILE, CARD_FILE)
DEFAULT_AUDIO_CHECKPOINT_NAME = "audio-tiny"  # moviegen/assets/audio-tiny/: the embedded default


@dataclass(frozen=True, kw_only=True)
class AudioDefaults:
    """How a checkpoint samples when no flag is given.

    Args:
        flow: solver, steps and guidance (paper: midpoint, 64 steps, guidance 3, SPEC 8.5).
        overlap_seconds: overlap of consecutive windows for audio longer than one window.
        caption: the text used when the user gives none (video-to-audio): the paper's template with quality 7.0,
            SFX only (SPEC 8.5).
    """

    flow: FlowConfig = field(default_factory=FlowConfig)
    overlap_seconds: float = 1.0
    caption: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.overlap_seconds) and self.overlap_seconds >= 0):
            raise ValueError(f"AudioDefaults.overlap_seconds must be >= 0, got {self.overlap_seconds!r}")


@dataclass(frozen=True, kw_only=True)
class LoadedAudio:
    cfg: MovieGenAudioConfig
    codec: DACVAE
    model: MovieGenAudio
    card: dict[str, Any]
    defaults: AudioDefaults


def _contents() -> str:
    return (
        f"an audio checkpoint directory must contain {', '.join(CHECKPOINT_FILES)} "
        f"(written by moviegen.audio.checkpoint.save_audio_checkpoint)"
    )


def _check_defaults(cfg: MovieGenAudioConfig, defaults: AudioDefaults) -> None:
    if defaults.overlap_seconds >= cfg.window_seconds:
        raise ValueError(
            f"defaults: overlap_seconds {defaults.overlap_seconds} must be shorter than the window "
            f"({cfg.window_seconds} s)"
        )


def save_audio_checkpoint(
    path: str | os.PathLike,
    *,
    cfg: MovieGenAudioConfig,
    codec: DACVAE,
    model: MovieGenAudio,
    card: Mapping[str, Any],
    defaults: AudioDefaults,
) -> Path:
    """Write an audio checkpoint directory; each file atomically, ``config.json`` last.

    Raises:
        ValueError: modules built from another config, bad defaults, a non-JSON card, or weights float16 cannot hold.
    """
    path = Path(path)
    if model.cfg != cfg or codec.cfg != cfg.codec:
        raise ValueError(
            "save_audio_checkpoint: model.cfg and codec.cfg must be cfg and cfg.codec (latent norm included)"
        )
    _check_defaults(cfg, defaults)
    weights = {
        CODEC_FILE: to_storage(codec.state_dict(), what=CODEC_FILE),
        AUDIO_FILE: to_storage(model.trainable_state_dict(), what=AUDIO_FILE),
    }
    config = {"format": FORMAT, "version": VERSION, "config": config_to_dict(cfg), "defaults": config_to_dict(defaults)}
    return write_checkpoint(path, weights=weights, card=card, config=config, fmt=FORMAT)


def read_audio_checkpoint_config(path: str | os.PathLike) -> tuple[MovieGenAudioConfig, AudioDefaults]:
    """``config.json`` only (no weights): the config and defaults.

    Raises:
        CheckpointError: a missing directory or file, a wrong format or version, or an invalid config.
    """
    path = Path(path)
    data = read_checkpoint_json(path, files=CHECKPOINT_FILES, fmt=FORMAT, version=VERSION, contents=_contents())
    file = path / CONFIG_FILE
    try:
        cfg = config_from_dict(MovieGenAudioConfig, data.get("config"), where="config")
        defaults = config_from_dict(AudioDefaults, data.get("defaults"), where="defaults")
        _check_defaults(cfg, defaults)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{str(file)!r} holds an invalid config: {err}") from err
    return cfg, defaults


def load_audio_checkpoint(path: str | os.PathLike, *, device: torch.device | str = "cpu") -> LoadedAudio:
    """Load a directory written by :func:`save_audio_checkpoint` (float32 weights, eval mode).

    Raises:
        CheckpointError: see :func:`read_audio_checkpoint_config`, plus corrupt or mismatched weights.
    """
    path = Path(path)
    cfg, defaults = read_audio_checkpoint_config(path)
    card = read_card(path / CARD_FILE, contents=_contents())
    codec = DACVAE(cfg.codec)
    try:
        codec.load_state_dict(load_weights(path / CODEC_FILE, contents=_contents()), strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{str(path / CODEC_FILE)!r} does not match the codec config: {one_line(err)}") from err
    try:
        model = MovieGenAudio(cfg)
    except FileNotFoundError as err:
        raise CheckpointError(f"cannot build the text stack of {str(path)!r}: {err}") from err
    try:
        model.load_trainable_state_dict(load_weights(path / AUDIO_FILE, contents=_contents()))
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(f"{str(path / AUDIO_FILE)!r} does not match the audio config: {one_line(err)}") from err
    return LoadedAudio(
        cfg=cfg, codec=codec.to(device).eval(), model=model.to(device).eval(), card=card, defaults=defaults
    )


def default_audio_checkpoint_dir() -> Path:
    """The embedded default's sound: ``moviegen/assets/audio-tiny/``.

    Raises:
        CheckpointError: not shipped in this build.
    """
    path = Path(str(importlib.resources.files("moviegen.assets") / DEFAULT_AUDIO_CHECKPOINT_NAME))
    if not (path / CONFIG_FILE).is_file():
        raise CheckpointError(
            f"the embedded default audio model is not shipped in this build (expected {str(path)!r} with "
            f"{', '.join(CHECKPOINT_FILES)}); train one (`moviegen train audio-tiny --help`) and pass --checkpoint DIR"
        )
    return path
