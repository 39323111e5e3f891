"""Every named preset of the cast, as plain functions returning typed configs (STYLE rule 15).

``PRESETS`` is the project's only string-to-object mapping; the CLI uses it for ``choices=`` and listing. Parameter
counts are taken on the meta device, so even the 30B preset is counted without allocating a byte of weights.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from moviegen.configs.geometry import VideoGeometry, video_geometry
from moviegen.dit.config import DiTConfig, dit_1b, dit_5b, dit_30b, dit_debug, dit_small, dit_tiny
from moviegen.tae.config import TAEConfig, tae_16ch, tae_32ch, tae_debug, tae_tiny
from moviegen.text.config import TextStackConfig, text_debug, text_paper, text_tiny


class ModelKind(enum.Enum):
    TAE = "tae"
    VIDEO = "video"
    TEXT = "text"
    AUDIO = "audio"  # Movie Gen Audio's transformer (and video projection)
    AUDIO_CODEC = "audio-codec"  # its DAC-VAE


@dataclass(frozen=True, kw_only=True)
class MovieGenVideoConfig:
    """Movie Gen Video as a whole: the TAE whose latent space the transformer models, the transformer, and the text
    stack that conditions it.

    The latent channel count is shared by the TAE and the transformer and must agree (STYLE rule 14: set once,
    checked here).
    """

    tae: TAEConfig
    dit: DiTConfig
    text: TextStackConfig

    def __post_init__(self) -> None:
        if self.dit.latent_channels != self.tae.latent_channels:
            raise ValueError(
                f"dit.latent_channels ({self.dit.latent_channels}) must equal tae.latent_channels "
                f"({self.tae.latent_channels})"
            )

    def with_architecture_of(self, tae: TAEConfig) -> "MovieGenVideoConfig":
        """This config with ``tae``'s own architecture choices (``TAEConfig.with_architecture_of``): the same
        transformer on latents of the same shape, encoded and decoded by another TAE (a later TAE phase)."""
        return replace(self, tae=self.tae.with_architecture_of(tae))

    def fits_position_tables(self, geometry: VideoGeometry) -> bool:
        """Whether the transformer's positional tables cover this token grid without expansion (SPEC 2.3)."""
        t, h, w = geometry.token_grid
        return t <= self.dit.max_t and h <= self.dit.max_h and w <= self.dit.max_w

    def geometry(self, *, width: int, height: int, num_frames: int) -> VideoGeometry:
        """Latent and token grids of a request (raises ValueError for sizes the stack cannot take)."""
        return video_geometry(
            width=width,
            height=height,
            num_frames=num_frames,
            spatial_compression=self.tae.spatial_compression,
            temporal_compression=self.tae.temporal_compression,
            patch_size=self.dit.patch_size,
        )


def video_debug() -> MovieGenVideoConfig:
    return MovieGenVideoConfig(tae=tae_debug(), dit=dit_debug(), text=text_debug())


def video_tiny() -> MovieGenVideoConfig:
    return MovieGenVideoConfig(tae=tae_tiny(), dit=dit_tiny(), text=text_tiny())


def video_small() -> MovieGenVideoConfig:
    """``video_tiny`` with the wider, deeper :func:`dit_small` transformer (same TAE, text stack and tables)."""
    return MovieGenVideoConfig(tae=tae_tiny(), dit=dit_small(), text=text_tiny())


def video_1b() -> MovieGenVideoConfig:
    return MovieGenVideoConfig(tae=tae_16ch(), dit=dit_1b(), text=text_paper())


def video_5b() -> MovieGenVideoConfig:
    return MovieGenVideoConfig(tae=tae_16ch(), dit=dit_5b(), text=text_paper())


def video_30b() -> MovieGenVideoConfig:
    return MovieGenVideoConfig(tae=tae_16ch(), dit=dit_30b(), text=text_paper())


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A listed model: how to build it (on the current default device) and, for the video stack, its geometry."""

    name: str
    kind: ModelKind
    description: str
    build: Callable[[], nn.Module]
    video: Callable[[], MovieGenVideoConfig] | None = None
    tae: Callable[[], TAEConfig] | None = None

    def geometry(self, *, width: int, height: int, num_frames: int) -> VideoGeometry | None:
        """Geometry for video presets (via their TAE + DiT) and TAE presets (latent grid only); else None."""
        if self.video is not None:
            return self.video().geometry(width=width, height=height, num_frames=num_frames)
        if self.tae is not None:
            tae = self.tae()
            return video_geometry(
                width=width,
                height=height,
                num_frames=num_frames,
                spatial_compression=tae.spatial_compression,
                temporal_compression=tae.temporal_compression,
                patch_size=(1, 1, 1),
            )
        return None


def count_parameters(build: Callable[[], nn.Module]) -> int:
    """Parameters of the module ``build()`` makes, counted on the meta device (no weights allocated)."""
    with torch.device("meta"):
        module = build()
    return sum(p.numel() for p in module.parameters())


def _dit(config: Callable[[], MovieGenVideoConfig]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from moviegen.dit.model import DiT

        return DiT(config().dit)

    return build


def _tae(config: Callable[[], TAEConfig]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from moviegen.tae.model import TemporalAutoencoder

        return TemporalAutoencoder(config())

    return build


def _video(name: str, config: Callable[[], MovieGenVideoConfig], description: str) -> Preset:
    return Preset(name=name, kind=ModelKind.VIDEO, description=description, build=_dit(config), video=config)


def _tae_preset(name: str, config: Callable[[], TAEConfig], description: str) -> Preset:
    return Preset(name=name, kind=ModelKind.TAE, description=description, build=_tae(config), tae=config)


def _audio(name: str, config: str, description: str) -> Preset:
    def build() -> nn.Module:
        from moviegen.audio import config as audio_config
        from moviegen.audio.model import AudioTransformer

        cfg = getattr(audio_config, config)()
        return AudioTransformer(cfg.dit, video_dim=cfg.video.dim)

    return Preset(name=name, kind=ModelKind.AUDIO, description=description, build=build)


def _audio_codec(name: str, config: str, description: str) -> Preset:
    def build() -> nn.Module:
        from moviegen.audio import codec

        return codec.DACVAE(getattr(codec, config)())

    return Preset(name=name, kind=ModelKind.AUDIO_CODEC, description=description, build=build)


def _text_presets() -> list[Preset]:
    from moviegen.text.listing import text_encoder_presets

    return [
        Preset(name=name, kind=ModelKind.TEXT, description=listing.description, build=listing.build)
        for name, listing in text_encoder_presets().items()
    ]


def _all_presets() -> dict[str, Preset]:
    presets = [
        _tae_preset("tae-debug", tae_debug, "TAE for unit tests (2 levels)"),
        _tae_preset("tae-tiny", tae_tiny, "TAE of the embedded default, 8x8x8, 16 channels"),
        _tae_preset("tae-16ch", tae_16ch, "paper TAE: 8x8x8 compression, 16 latent channels (SPEC 1)"),
        _tae_preset("tae-32ch", tae_32ch, "paper-width TAE with 32 latent channels (ANCHORS 5)"),
        _video("video-debug", video_debug, "transformer for unit tests: 2 layers, width 64"),
        _video("video-tiny", video_tiny, "transformer of the embedded default: 6 layers, width 256"),
        _video("video-small", video_small, "experiment: 8 layers, width 384, on the embedded default's TAE and text"),
        _video("video-1b", video_1b, "1B transformer: 24 layers, width 1536 [inferred dims]"),
        _video("video-5b", video_5b, "5B ablation transformer: 32 layers, width 3072 (SPEC 5.5)"),
        _video("video-30b", video_30b, "Movie Gen Video 30B: 48 layers, width 6144, FFN 16384, 48 heads"),
        _audio("audio-debug", "audio_debug", "audio transformer for unit tests: 2 layers, width 64"),
        _audio("audio-tiny", "audio_tiny", "audio transformer of the embedded default: 6 layers, width 256, 25 Hz"),
        _audio("audio-13b", "audio_13b", "Movie Gen Audio 13B: 36 layers, width 4608, FFN 18432 (SPEC 8.2)"),
        _audio_codec("audio-codec-debug", "dac_vae_debug", "DAC-VAE for unit tests: 8 kHz, 200 Hz x 8 channels"),
        _audio_codec("audio-codec-tiny", "dac_vae_tiny", "DAC-VAE of the embedded default: 16 kHz -> 25 Hz x 32"),
        _audio_codec("audio-codec-48k", "dac_vae_48k", "paper DAC-VAE: 48 kHz -> 25 Hz x 128 channels (SPEC 8.1)"),
        *_text_presets(),
    ]
    return {preset.name: preset for preset in presets}


PRESETS: dict[str, Preset] = _all_presets()
