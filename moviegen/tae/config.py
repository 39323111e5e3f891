"""TAE configuration and size presets (SPEC 1.1).

The TAE mirrors a diffusers ``AutoencoderKL`` (SD-style encoder/decoder with ``len(block_out_channels)`` levels, a
spatial 2x downsampler on every level but the last) inflated to 2.5D. ``temporal_downsample[j]`` says whether the
downsampler of encoder level ``j`` also halves time (stride-2 temporal conv); the decoder mirrors it with
nearest-neighbour temporal upsampling (the paper's; ``temporal_upsample`` can make it linear). Three ``True`` entries
give the paper's 8x temporal compression. ``decoder_width_multiplier`` widens the decoder alone.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from moviegen.nn.conv import temporal_conv_num_frames

# Diffusers block types the inflation understands (SD / SDXL / SD3 / FLUX VAEs all use these).
_DIFFUSERS_DOWN_BLOCK = "DownEncoderBlock2D"
_DIFFUSERS_UP_BLOCK = "UpDecoderBlock2D"

# The paper places temporal downsampling in the first 3 encoder levels (8x) [inferred, S1 choice].
_PAPER_TEMPORAL_DOWNSAMPLE_LEVELS = 3


# Fields that change the decoder alone: a TAE differing only in them encodes to the same latents.
DECODER_ONLY_FIELDS = ("temporal_upsample", "decoder_width_multiplier")
# The TAE's own architecture choices, which a transformer never sees (it sees the latent's channels, compression and
# normalisation): a transformer is paired with the TAE whose latents it learned, whatever these are. Depth changes the
# encoder too, so a deepened TAE's latents are new once its encoder trains (as any encoder training makes them).
ARCHITECTURE_FIELDS = (*DECODER_ONLY_FIELDS, "layers_per_block")


class TemporalUpsample(enum.Enum):
    """How the decoder doubles time before each temporal upsampler's convolution."""

    NEAREST = "nearest"  # [paper] SPEC 1.1: nearest-neighbour interpolation followed by a convolution
    # [inferred, beyond the paper] linear interpolation between neighbouring frames' features (edges held): frames
    # near a latent group's border blend both groups instead of repeating one, which measured smoother group borders
    # on the tiny TAE (docs/tae.md). A lone latent frame still decodes to identical frames.
    LINEAR = "linear"


@dataclass(frozen=True, kw_only=True)
class TAEConfig:
    """Architecture of the Temporal AutoEncoder.

    Args:
        in_channels: pixel channels (3, RGB in [-1, 1]).
        latent_channels: latent channels C (SPEC 1.1: 16; 32 also works).
        block_out_channels: width of each encoder level (the decoder uses them reversed).
        layers_per_block: ResNet blocks per encoder level (the decoder has one more per level, as in diffusers).
        norm_num_groups: GroupNorm groups; every width must divide by it.
        temporal_downsample: one bool per spatial downsampler (``len(block_out_channels) - 1`` entries); ``True``
            makes that downsampler also stride 2 in time.
        use_temporal_attention: add a temporal attention after every spatial attention (the mid blocks).
        temporal_upsample: the decoder's temporal interpolation (the paper's nearest, or linear; no weights differ,
            so a decoder trained with one loads into the other, but decodes well only with the one it learned).
        decoder_width_multiplier: the decoder's widths are ``block_out_channels`` times this, and its GroupNorms
            have ``norm_num_groups`` times this many groups, so a group holds as many channels as at 1 [inferred,
            beyond the paper, whose decoder mirrors the encoder]. Decoding happens once per clip at inference, and
            the tiny TAE's reconstruction error sits in moving content the 16-channel top level must draw
            (docs/tae.md). Equal group sizes are what let :func:`moviegen.tae.widen.widen_decoder` turn a narrower
            decoder into a wider one computing the same function, so a decoder-only phase can start from it.
        scaling_factor: latents are fed to the diffusion model as ``(latent - shift_factor) * scaling_factor``.
            The defaults (1, 0) are placeholders [inferred]: the constants must be measured on training data once the
            TAE is trained (for reference, the SD3.5 VAE that S1 inflates uses 1.5305 and 0.0609).
        shift_factor: see ``scaling_factor``.

    Raises:
        ValueError: for inconsistent sizes (echoing the bad value).
    """

    in_channels: int = 3
    latent_channels: int = 16
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    norm_num_groups: int = 32
    temporal_downsample: tuple[bool, ...] = (True, True, True)
    use_temporal_attention: bool = True
    temporal_upsample: TemporalUpsample = TemporalUpsample.NEAREST
    decoder_width_multiplier: int = 1
    scaling_factor: float = 1.0
    shift_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.latent_channels < 1:
            raise ValueError(
                f"in_channels and latent_channels must be >= 1, got {self.in_channels} and {self.latent_channels}"
            )
        if not isinstance(self.block_out_channels, tuple) or len(self.block_out_channels) < 1:
            raise ValueError(f"block_out_channels must be a non-empty tuple, got {self.block_out_channels!r}")
        if self.norm_num_groups < 1 or any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError(
                f"every block_out_channels entry must be divisible by norm_num_groups={self.norm_num_groups}, "
                f"got {self.block_out_channels}"
            )
        if self.layers_per_block < 1:
            raise ValueError(f"layers_per_block must be >= 1, got {self.layers_per_block}")
        num_downsamplers = len(self.block_out_channels) - 1
        if not isinstance(self.temporal_downsample, tuple) or len(self.temporal_downsample) != num_downsamplers:
            raise ValueError(
                f"temporal_downsample needs one bool per spatial downsampler (len(block_out_channels) - 1 = "
                f"{num_downsamplers}), got {self.temporal_downsample!r}"
            )
        if not all(isinstance(flag, bool) for flag in self.temporal_downsample):
            raise ValueError(f"temporal_downsample entries must be bools, got {self.temporal_downsample!r}")
        if not isinstance(self.temporal_upsample, TemporalUpsample):
            raise ValueError(
                f"temporal_upsample must be a TemporalUpsample ({', '.join(m.name for m in TemporalUpsample)}), got "
                f"{self.temporal_upsample!r}"
            )
        if not isinstance(self.decoder_width_multiplier, int) or self.decoder_width_multiplier < 1:
            raise ValueError(f"decoder_width_multiplier must be an int >= 1, got {self.decoder_width_multiplier!r}")
        if self.scaling_factor <= 0:
            raise ValueError(f"scaling_factor must be > 0, got {self.scaling_factor}")

    @property
    def spatial_compression(self) -> int:
        """Pixels per latent position along H and W (8 for four levels)."""
        return 2 ** (len(self.block_out_channels) - 1)

    @property
    def decoder_block_out_channels(self) -> tuple[int, ...]:
        """The decoder's level widths, in encoder order (the decoder walks them reversed)."""
        return tuple(c * self.decoder_width_multiplier for c in self.block_out_channels)

    @property
    def decoder_norm_num_groups(self) -> int:
        """GroupNorm groups in the decoder: as many channels per group as the encoder's."""
        return self.norm_num_groups * self.decoder_width_multiplier

    def with_architecture_of(self, other: "TAEConfig") -> "TAEConfig":
        """This config with ``other``'s own architecture choices (:data:`ARCHITECTURE_FIELDS`): what a TAE phase
        may change without changing the latent's shape or normalisation."""
        return replace(self, **{name: getattr(other, name) for name in ARCHITECTURE_FIELDS})

    @property
    def temporal_compression(self) -> int:
        """``2 ** (number of True entries in temporal_downsample)`` (8 for the paper's TAE)."""
        return 2 ** sum(self.temporal_downsample)

    def normalize_latent(self, latent_BCTHW: torch.Tensor) -> torch.Tensor:
        """TAE latent -> the transformer's input space: ``(latent - shift_factor) * scaling_factor``."""
        return (latent_BCTHW - self.shift_factor) * self.scaling_factor

    def denormalize_latent(self, latent_BCTHW: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalize_latent`, applied to sampled latents before decoding."""
        return latent_BCTHW / self.scaling_factor + self.shift_factor

    def stage_num_frames(self, num_frames: int) -> tuple[int, ...]:
        """Frame count at the input of every encoder level, then the latent frame count.

        ``T`` becomes ``ceil(T / 2)`` at each temporally downsampling level, so the latent has
        ``ceil(T / temporal_compression)`` frames and a 1-frame image stays 1 frame. The decoder walks the same list
        backwards (upsample x2 in time, then crop to the listed length).

        Raises:
            ValueError: if ``num_frames < 1``.
        """
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        lengths = [num_frames]
        for downsample in self.temporal_downsample:
            lengths.append(temporal_conv_num_frames(lengths[-1], stride=2) if downsample else lengths[-1])
        return tuple(lengths)

    def latent_num_frames(self, num_frames: int) -> int:
        """Latent frames for a ``num_frames`` clip: ``ceil(num_frames / temporal_compression)``."""
        return self.stage_num_frames(num_frames)[-1]

    @classmethod
    def from_diffusers_config(
        cls,
        config: Mapping[str, Any],
        *,
        temporal_downsample: tuple[bool, ...] | None = None,
        use_temporal_attention: bool = True,
    ) -> "TAEConfig":
        """Build the inflated TAE config of a diffusers ``AutoencoderKL`` config dict (``vae.config``).

        Args:
            config: the image autoencoder's config (``AutoencoderKL.config`` or its ``config.json``).
            temporal_downsample: defaults to ``True`` on the first ``min(3, levels - 1)`` downsamplers (the paper's
                placement; 8x for a 4-level VAE).
            use_temporal_attention: see :class:`TAEConfig`.

        Raises:
            ValueError: for image autoencoders this TAE cannot mirror (other block types, activations, or disabled
                quant convs / mid attention).
        """
        block_out_channels = tuple(int(c) for c in config["block_out_channels"])
        num_levels = len(block_out_channels)
        checks = {
            "down_block_types": (tuple(config.get("down_block_types", ())), (_DIFFUSERS_DOWN_BLOCK,) * num_levels),
            "up_block_types": (tuple(config.get("up_block_types", ())), (_DIFFUSERS_UP_BLOCK,) * num_levels),
            "act_fn": (config.get("act_fn", "silu"), "silu"),
            "use_quant_conv": (config.get("use_quant_conv", True), True),
            "use_post_quant_conv": (config.get("use_post_quant_conv", True), True),
            "mid_block_add_attention": (config.get("mid_block_add_attention", True), True),
        }
        for key, (got, expected) in checks.items():
            if got != expected:
                raise ValueError(f"cannot inflate an AutoencoderKL with {key}={got!r}; expected {expected!r}")
        in_channels, out_channels = int(config.get("in_channels", 3)), int(config.get("out_channels", 3))
        if in_channels != out_channels:
            raise ValueError(f"in_channels and out_channels must match, got {in_channels} and {out_channels}")
        if temporal_downsample is None:
            num_temporal = min(_PAPER_TEMPORAL_DOWNSAMPLE_LEVELS, num_levels - 1)
            temporal_downsample = tuple(j < num_temporal for j in range(num_levels - 1))
        shift = config.get("shift_factor")
        return cls(
            in_channels=in_channels,
            latent_channels=int(config["latent_channels"]),
            block_out_channels=block_out_channels,
            layers_per_block=int(config["layers_per_block"]),
            norm_num_groups=int(config["norm_num_groups"]),
            temporal_downsample=temporal_downsample,
            use_temporal_attention=use_temporal_attention,
            scaling_factor=float(config.get("scaling_factor", 1.0)),
            shift_factor=0.0 if shift is None else float(shift),
        )


def tae_debug() -> TAEConfig:
    """Tiny TAE for unit tests: 2 levels (2x spatial, 2x temporal), widths (16, 32), 16 latent channels."""
    return TAEConfig(
        block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, temporal_downsample=(True,)
    )


def tae_tiny() -> TAEConfig:
    """Small 8x8x8 TAE with 16 latent channels: the embedded default's autoencoder [inferred widths].

    [inferred] Widths (16, 32, 64, 128): the full-resolution level dominates the cost on CPU, and the synthetic
    world's flat colours need little capacity there; (32, 64, 128, 128) took about 1.7x longer per clip.
    """
    return TAEConfig(block_out_channels=(16, 32, 64, 128), layers_per_block=1, norm_num_groups=8)


def tae_16ch() -> TAEConfig:
    """Paper-scale TAE: SD-style widths (128, 256, 512, 512), 2 ResNets per level, 8x8x8, C = 16 (SPEC 1.1)."""
    return TAEConfig(latent_channels=16)


def tae_32ch() -> TAEConfig:
    """As :func:`tae_16ch` with C = 32 latent channels (more channels help reconstruction, SPEC 1.1)."""
    return TAEConfig(latent_channels=32)
