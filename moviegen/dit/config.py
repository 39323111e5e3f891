"""Configuration and size presets of the Movie Gen Video transformer (SPEC 2.2, 2.3).

Positional-table sizes are in *tokens* (after the TAE's 8x8x8 compression and the 1x2x2 patchify). The paper grows
the spatial tables 16 -> 32 -> 96 across its stages and adds a 32-entry temporal table [inferred sizes, SPEC 2.3];
the presets below carry the final-stage sizes, and training recipes shrink or expand them per stage.
"""

import enum
from dataclasses import dataclass


class FFNKind(enum.Enum):
    """The feed-forward block of every transformer layer."""

    SWIGLU = "swiglu"  # Llama 3 (Movie Gen Video, SPEC 2.1): w2(silu(w1 x) * w3 x), no biases
    GELU = "gelu"  # DiT (Movie Gen Audio, SPEC 8.2): fc2(gelu_tanh(fc1 x)), with biases


@dataclass(frozen=True, kw_only=True)
class DiTConfig:
    """Llama-3-style flow-matching transformer (SPEC 2.1).

    Args:
        dim: model width D.
        num_layers: number of transformer blocks.
        num_heads: attention heads N (no GQA, as in the paper).
        ffn_dim: hidden width F of the feed-forward block.
        latent_channels: channels of the modelled latent (TAE: 16 in the paper; audio DAC-VAE: 128): the output width.
        in_channels: channels of the network's input, when it differs from ``latent_channels``: variants that
            concatenate a condition on channels (the audio model's masked context, SPEC 8.3) widen the input only.
            None means ``latent_channels``.
        ffn: the feed-forward kind (SwiGLU for video, GELU for the audio DiT).
        patch_size: (pt, ph, pw) of the Conv3d patchify; (1, 2, 2) in the paper.
        max_t: temporal positional-table rows (latent frames / pt).
        max_h: height positional-table rows (tokens).
        max_w: width positional-table rows (tokens).
        qk_norm: RMSNorm on queries and keys [inferred: not in the paper; helps stability of small and large runs].
        norm_eps: epsilon of every RMSNorm.
        timestep_frequency_dim: width of the sinusoidal time features fed to the time MLP.
        init_std: std of the truncated-normal init of input projections.
        pos_init_std: std of the positional tables' normal init, and of the fresh rows a temporal table gets when it
            grows from an image-only single row (``moviegen.train.t2v.expand_position_tables``) [inferred: the paper
            does not say; 0.02, ``init_std``, leaves a token's place at a few percent of its content (the tiny
            patchify's tokens have rms about 0.6), which a from-scratch toy measured as the difference between
            ignoring and following a direction label (docs/training.md, the session-21 correction)].
        token_adaln: the per-token condition (``DiT.forward``'s ``token_cond_BLD``) also modulates every block: a
            zero-init linear head maps it to per-token offsets of the shared adaLN output, so each layer can scale
            and gate each token by its own condition, not only read it from the residual stream [inferred: not in
            the paper; MMAudio's token-level adaLN conditioning for audio-visual sync]. False: the condition is added
            to the patch embeddings only (SPEC 8.3).
    """

    dim: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    latent_channels: int = 16
    in_channels: int | None = None
    ffn: FFNKind = FFNKind.SWIGLU
    patch_size: tuple[int, int, int] = (1, 2, 2)
    max_t: int = 32
    max_h: int = 96
    max_w: int = 96
    qk_norm: bool = False
    norm_eps: float = 1e-6
    timestep_frequency_dim: int = 256
    init_std: float = 0.02
    pos_init_std: float = 0.02
    token_adaln: bool = False

    def __post_init__(self) -> None:
        for name in ("dim", "num_layers", "num_heads", "ffn_dim", "latent_channels", "max_t", "max_h", "max_w"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.num_heads != 0:
            raise ValueError(f"dim must be divisible by num_heads, got dim={self.dim}, num_heads={self.num_heads}")
        if self.pos_init_std < 0:
            raise ValueError(f"pos_init_std must be >= 0, got {self.pos_init_std}")
        if self.in_channels is not None and self.in_channels < 1:
            raise ValueError(f"in_channels must be >= 1 or None, got {self.in_channels}")
        if not isinstance(self.ffn, FFNKind):
            raise ValueError(f"ffn must be an FFNKind ({[k.value for k in FFNKind]}), got {self.ffn!r}")
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be three positive ints (pt, ph, pw), got {self.patch_size}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def input_channels(self) -> int:
        """Channels the patchify takes: ``in_channels``, or ``latent_channels`` when that is None."""
        return self.latent_channels if self.in_channels is None else self.in_channels

    @property
    def patch_values(self) -> int:
        """Values per patch P = C * pt * ph * pw (the width of the output head)."""
        pt, ph, pw = self.patch_size
        return self.latent_channels * pt * ph * pw


def dit_debug() -> DiTConfig:
    """Two layers at width 64: unit tests and overfit checks."""
    return DiTConfig(dim=64, num_layers=2, num_heads=4, ffn_dim=128, max_t=4, max_h=8, max_w=8, qk_norm=True)


def dit_tiny() -> DiTConfig:
    """The embedded default's size class: 128 px, up to 4 s at 16 fps (8 latent frames), landscape/portrait buckets."""
    return DiTConfig(
        dim=256, num_layers=6, num_heads=4, ffn_dim=640, max_t=8, max_h=16, max_w=16, qk_norm=True, pos_init_std=0.5
    )


def dit_small() -> DiTConfig:
    """A step up from :func:`dit_tiny` on the same tables: 8 layers, width 384 (3x the parameters, about 2.6x a
    training step on the 2-core CPU) [inferred: the issue-3 experiment of whether capacity limits adherence]."""
    return DiTConfig(
        dim=384, num_layers=8, num_heads=6, ffn_dim=1024, max_t=8, max_h=16, max_w=16, qk_norm=True, pos_init_std=0.5
    )


def dit_1b() -> DiTConfig:
    """1B-class backbone [inferred: S1's 1B configuration, SPEC 2.2]."""
    return DiTConfig(dim=1536, num_layers=24, num_heads=16, ffn_dim=4096)


def dit_5b() -> DiTConfig:
    """5B ablation backbone (SPEC 2.2, 5.5) [inferred dims, S1]."""
    return DiTConfig(dim=3072, num_layers=32, num_heads=24, ffn_dim=8192)


def dit_30b() -> DiTConfig:
    """The paper's 30B Movie Gen Video backbone: 48 layers, width 6144, FFN 16384, 48 heads of 128 (SPEC 2.2)."""
    return DiTConfig(dim=6144, num_layers=48, num_heads=48, ffn_dim=16384)
