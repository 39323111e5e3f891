"""Movie Gen Audio (SPEC 8): the DAC-VAE audio autoencoder, the audio transformer with its video features, long
audio by multi-diffusion or extension, the checkpoints and the sampling pipeline."""

from moviegen.audio.checkpoint import (
    AudioDefaults,
    LoadedAudio,
    default_audio_checkpoint_dir,
    load_audio_checkpoint,
    read_audio_checkpoint_config,
    save_audio_checkpoint,
)
from moviegen.audio.codec import DACVAE, DACVAEConfig, dac_vae_48k, dac_vae_debug, dac_vae_tiny
from moviegen.audio.config import (
    MovieGenAudioConfig,
    VideoFeatureConfig,
    VideoFeatureKind,
    audio_13b,
    audio_debug,
    audio_tiny,
)
from moviegen.audio.model import AudioContext, AudioTransformer, MovieGenAudio
from moviegen.audio.pipeline import AudioPipeline, AudioRequest, LongMode, check_audio_inputs

__all__ = [
    "DACVAE",
    "AudioContext",
    "AudioDefaults",
    "AudioPipeline",
    "AudioRequest",
    "AudioTransformer",
    "DACVAEConfig",
    "LoadedAudio",
    "LongMode",
    "MovieGenAudio",
    "MovieGenAudioConfig",
    "VideoFeatureConfig",
    "VideoFeatureKind",
    "audio_13b",
    "audio_debug",
    "audio_tiny",
    "check_audio_inputs",
    "dac_vae_48k",
    "dac_vae_debug",
    "dac_vae_tiny",
    "default_audio_checkpoint_dir",
    "load_audio_checkpoint",
    "read_audio_checkpoint_config",
    "save_audio_checkpoint",
]
