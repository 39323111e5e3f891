"""Configuration and presets of Movie Gen Audio (SPEC 8): the DAC-VAE, the audio DiT, its text stack and its video
features, composed into one :class:`MovieGenAudioConfig`.

The audio DiT is the video backbone's :class:`~moviegen.dit.model.DiT` reused on a 1-D token sequence: one token per
25 Hz latent frame is a ``[C, L, 1, 1]`` "video" with a 1x1x1 patch, so the temporal positional table is the audio
position table and the spatial tables have one row each. What differs from the video model is configuration
(a GELU MLP as in DiT, SPEC 8.2; input channels widened by the masked audio context, SPEC 8.3), plus the per-frame
video features the audio model adds to the tokens (:mod:`moviegen.audio.model`).
"""

import enum
from dataclasses import dataclass

from moviegen.audio.codec import DACVAEConfig, dac_vae_48k, dac_vae_debug, dac_vae_tiny
from moviegen.dit.config import DiTConfig, FFNKind
from moviegen.text.config import ByteEncoderConfig, EncoderKind, TextEncoderSpec, TextRole, TextStackConfig


class VideoFeatureKind(enum.Enum):
    """Where the per-frame video features come from (SPEC 8.3)."""

    # A small CNN over downsampled frames, trained with the audio transformer. [inferred] The embedded default's
    # choice: no image encoder ships offline, and TAE latents come at 2 per second (8x temporal compression), too
    # coarse to place an impact within one 40 ms audio frame.
    FRAMES = "frames"
    # Frozen per-frame image embeddings of a CLIP vision tower (the paper: long-prompt MetaCLIP, 1024-d).
    CLIP = "clip"


@dataclass(frozen=True, kw_only=True)
class VideoFeatureConfig:
    """Per-frame video features, resampled to the audio latent rate and added frame by frame (SPEC 8.3).

    Args:
        kind: the feature extractor.
        dim: width of one frame's feature (CLIP: the image-embedding width, 1024 for MetaCLIP-H).
        frame_size: frames are resized to ``frame_size`` x ``frame_size`` before the extractor.
        channels: FRAMES only: output channels of its stride-2 convolutions.
        name: CLIP only: the directory name of the vision tower under the model directory.
    """

    kind: VideoFeatureKind
    dim: int
    frame_size: int
    channels: tuple[int, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, VideoFeatureKind):
            raise ValueError(
                f"kind must be a VideoFeatureKind ({[k.value for k in VideoFeatureKind]}), got {self.kind!r}"
            )
        if self.dim < 1 or self.frame_size < 1:
            raise ValueError(f"dim and frame_size must be >= 1, got dim={self.dim}, frame_size={self.frame_size}")
        if self.kind is VideoFeatureKind.FRAMES:
            if not self.channels or min(self.channels) < 1:
                raise ValueError(f"FRAMES features need positive conv channels, got {self.channels}")
            if self.frame_size % 2 ** len(self.channels):
                raise ValueError(
                    f"frame_size {self.frame_size} must divide by 2^{len(self.channels)} (one halving per conv)"
                )
        elif self.name is None:
            raise ValueError("CLIP features need the vision tower's directory name (name=...)")

    @property
    def grid(self) -> int:
        """FRAMES: side of the last conv's feature map."""
        return self.frame_size // 2 ** len(self.channels)


@dataclass(frozen=True, kw_only=True)
class MovieGenAudioConfig:
    """Movie Gen Audio as a whole.

    The latent width is set once by the codec (STYLE rule 14) and checked against the DiT: the DiT models
    ``codec.latent_channels`` and takes ``2 C + 1`` input channels (noisy latent, masked context, context mask).

    Args:
        codec: the DAC-VAE whose latents are modelled.
        dit: the transformer (1x1x1 patch; ``max_t`` = the longest window in latent frames).
        text: the text stack (paper: T5-base in the prompt role, SPEC 8.3).
        video: the per-frame video features.
        window_seconds: the length the model is trained and sampled at; longer audio is made of windows
            (:mod:`moviegen.audio.long`) [inferred: SPEC gives no window size; the paper trains on up to 30 s].
        onset_head_channels: hidden width of the onset head on the video features
            (:class:`moviegen.audio.features.OnsetHead`; 0: none). The head is an auxiliary of training (a recipe's
            ``SyncConfig.head_weight``) [inferred: not in the paper]; sampling does not use it, unless
            ``onset_conditioning``.
        onset_conditioning: the head's onset probability on each latent frame (gradient stopped) scales a learned
            vector added to that frame's video features, so the transformer is told where sounds start instead of
            having to find it [inferred: not in the paper]. Its reason: the head finds the held-out world's impacts
            from the tiny model's features (onset F1 0.87) while sound generated from the same features matched
            0.35: a per-frame linear projection cannot compare neighbouring frames, the head's temporal conv can.
            Needs ``onset_head_channels > 0``.
    """

    codec: DACVAEConfig
    dit: DiTConfig
    text: TextStackConfig
    video: VideoFeatureConfig
    window_seconds: float
    onset_head_channels: int = 0
    onset_conditioning: bool = False

    def __post_init__(self) -> None:
        c = self.codec.latent_channels
        if self.dit.latent_channels != c or self.dit.input_channels != 2 * c + 1:
            raise ValueError(
                f"dit.latent_channels/input_channels ({self.dit.latent_channels}/{self.dit.input_channels}) must be "
                f"codec.latent_channels and 2*latent_channels+1 ({c}/{2 * c + 1})"
            )
        if self.dit.patch_size != (1, 1, 1) or self.dit.max_h != 1 or self.dit.max_w != 1:
            raise ValueError(
                f"the audio DiT takes one token per latent frame: patch (1, 1, 1) and 1-row spatial tables, got "
                f"patch {self.dit.patch_size}, max_h={self.dit.max_h}, max_w={self.dit.max_w}"
            )
        if self.window_frames > self.dit.max_t:
            raise ValueError(
                f"window_seconds={self.window_seconds} is {self.window_frames} latent frames, more than the "
                f"positional table's {self.dit.max_t}"
            )
        if self.window_frames < 2:
            raise ValueError(f"window_seconds={self.window_seconds} must span at least 2 latent frames")
        if self.onset_head_channels < 0:
            raise ValueError(f"onset_head_channels must be >= 0 (0: no head), got {self.onset_head_channels}")
        if self.onset_conditioning and not self.onset_head_channels:
            raise ValueError("onset_conditioning needs an onset head (onset_head_channels > 0)")

    @property
    def frame_rate(self) -> float:
        """Latent frames per second (25 in the paper)."""
        return self.codec.frame_rate

    @property
    def window_frames(self) -> int:
        return round(self.window_seconds * self.codec.frame_rate)


def _audio_dit(
    c: int,
    *,
    dim: int,
    num_layers: int,
    num_heads: int,
    ffn_dim: int,
    max_t: int,
    qk_norm: bool,
    token_adaln: bool = False,
) -> DiTConfig:
    return DiTConfig(
        dim=dim,
        num_layers=num_layers,
        num_heads=num_heads,
        ffn_dim=ffn_dim,
        latent_channels=c,
        in_channels=2 * c + 1,
        ffn=FFNKind.GELU,
        patch_size=(1, 1, 1),
        max_t=max_t,
        max_h=1,
        max_w=1,
        qk_norm=qk_norm,
        token_adaln=token_adaln,
    )


def text_audio_paper() -> TextStackConfig:
    """T5-base (768-d, up to 512 tokens) on the templated audio caption, through cross-attention (SPEC 8.3)."""
    return TextStackConfig(
        encoders=(
            TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.T5_ENCODER, name="t5-base", output_dim=768, max_length=512
            ),
        )
    )


def text_audio_tiny() -> TextStackConfig:
    """MiniLM (the video default's prompt encoder, from its wheel) on the audio caption; no other role."""
    return TextStackConfig(
        encoders=(
            TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.MINILM, name="minilm", output_dim=384, max_length=128
            ),
        )
    )


def text_audio_debug() -> TextStackConfig:
    byte = ByteEncoderConfig(dim=32, num_layers=1, num_heads=2, ffn_dim=64, max_length=96)
    return TextStackConfig(
        encoders=(
            TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.BYTE, name="byte", output_dim=32, max_length=96, byte=byte
            ),
        )
    )


def audio_debug() -> MovieGenAudioConfig:
    """Unit tests: a 2-layer width-64 DiT over the debug codec, 8x8 frames, byte-encoder text."""
    codec = dac_vae_debug()
    return MovieGenAudioConfig(
        codec=codec,
        dit=_audio_dit(
            codec.latent_channels, dim=64, num_layers=2, num_heads=4, ffn_dim=256, max_t=64, qk_norm=True,
            token_adaln=True,
        ),
        text=text_audio_debug(),
        video=VideoFeatureConfig(kind=VideoFeatureKind.FRAMES, dim=32, frame_size=8, channels=(8, 16)),
        window_seconds=64 / codec.frame_rate,
        onset_head_channels=8,
        onset_conditioning=True,
    )


def audio_tiny() -> MovieGenAudioConfig:
    """The embedded default: 16 kHz DAC-VAE at 25 Hz, a 6-layer width-256 DiT, 2 s windows, 32x32 frame CNN.

    [inferred] 2 s windows: the synthetic world's clips are 2-4 s, so every clip gives a full window; longer audio is
    made by windows (multi-diffusion or autoregressive extension). The positional table holds 4 s (100 frames).
    """
    codec = dac_vae_tiny()
    return MovieGenAudioConfig(
        codec=codec,
        dit=_audio_dit(
            codec.latent_channels, dim=256, num_layers=6, num_heads=4, ffn_dim=1024, max_t=100, qk_norm=True,
            token_adaln=True,
        ),
        text=text_audio_tiny(),
        video=VideoFeatureConfig(kind=VideoFeatureKind.FRAMES, dim=256, frame_size=32, channels=(32, 64, 64)),
        window_seconds=2.0,
        onset_head_channels=64,  # trained by audio-tiny's SyncConfig (moviegen/train/audio_recipes.py)
        onset_conditioning=True,
    )


def audio_13b() -> MovieGenAudioConfig:
    """The paper's Movie Gen Audio: a 36-layer DiT, width 4608, FFN 18432 (SPEC 8.2), on 48 kHz DAC-VAE latents.

    Parameters: 36 x (self-attention 4 D^2 + cross-attention 4 D^2 + GELU MLP 2 D F) = 12.2e9, plus the shared
    adaLN, the input/output projections and the video/text projections: about 12.3e9, the paper's "13B" class
    (the paper does not give the remaining terms). 36 heads of 128 [inferred]. Sampled in 10 s windows (SPEC 8.5,
    [inferred]); the positional table holds 30 s (750 frames), the paper's training cap (SPEC 8.4).
    """
    codec = dac_vae_48k()
    return MovieGenAudioConfig(
        codec=codec,
        dit=_audio_dit(
            codec.latent_channels, dim=4608, num_layers=36, num_heads=36, ffn_dim=18432, max_t=750, qk_norm=False
        ),
        text=text_audio_paper(),
        video=VideoFeatureConfig(kind=VideoFeatureKind.CLIP, dim=1024, frame_size=224, name="metaclip-vision"),
        window_seconds=10.0,
    )
