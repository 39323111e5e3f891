"""Movie Gen Video as a product: the composed text-to-video network, its checkpoints and its sampling pipeline."""

from moviegen.video.checkpoint import (
    CheckpointConfig,
    CheckpointError,
    GenerationDefaults,
    LoadedVideo,
    default_checkpoint_dir,
    generation_defaults_tiny,
    load_video_checkpoint,
    read_checkpoint_config,
    save_video_checkpoint,
)
from moviegen.video.model import TextToVideo
from moviegen.video.pipeline import VideoPipeline, check_generation_inputs

__all__ = [
    "CheckpointConfig",
    "CheckpointError",
    "GenerationDefaults",
    "LoadedVideo",
    "TextToVideo",
    "VideoPipeline",
    "check_generation_inputs",
    "default_checkpoint_dir",
    "generation_defaults_tiny",
    "load_video_checkpoint",
    "read_checkpoint_config",
    "save_video_checkpoint",
]
