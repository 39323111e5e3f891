"""The data passed between the text modules (SPEC section 4.1): one encoder's output, the per-role set, the context.

Shape letters follow the legend in :mod:`moviegen.nn` (B batch, S text tokens, E encoder width, D model width).
Masks are boolean with ``True`` = a real token (attend to it), ``False`` = padding, the convention of
:class:`moviegen.nn.attention.Attention`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from moviegen.text.config import TextRole


@dataclass(frozen=True, kw_only=True)
class EncodedText:
    """One encoder's output for a batch of texts.

    Attributes:
        hidden_BSE: last hidden states; values at padded positions are arbitrary.
        mask_BS: ``True`` at real tokens.
    """

    hidden_BSE: torch.Tensor
    mask_BS: torch.Tensor

    def __post_init__(self) -> None:
        if self.hidden_BSE.ndim != 3 or self.mask_BS.shape != self.hidden_BSE.shape[:2]:
            raise ValueError(
                f"EncodedText expects hidden [B, S, E] and mask [B, S], got {tuple(self.hidden_BSE.shape)} "
                f"and {tuple(self.mask_BS.shape)}"
            )
        if self.mask_BS.dtype != torch.bool:
            raise ValueError(f"EncodedText.mask_BS must be torch.bool, got {self.mask_BS.dtype}")

    @property
    def batch_size(self) -> int:
        return self.hidden_BSE.shape[0]


@runtime_checkable
class TextEncoder(Protocol):
    """What the stack needs from an encoder. Implementations are ``nn.Module`` s (so they move with ``.to()``).

    Attributes:
        output_dim: E, the width of ``hidden_BSE``.
        max_length: maximum tokens per text; longer texts are truncated.
    """

    output_dim: int
    max_length: int

    def encode(self, texts: list[str]) -> EncodedText:
        """Tokenize and encode ``texts`` (B strings) into ``hidden_BSE`` and ``mask_BS``."""
        ...


@dataclass(frozen=True, kw_only=True)
class RoleEncodings:
    """Per-role encoder outputs for one batch, before projection (what a feature cache would store).

    Attributes:
        prompt: the PROMPT role (always present).
        visual: the VISUAL role, or None when the stack does not use it.
        character: the CHARACTER role, or None when the stack does not use it.
    """

    prompt: EncodedText
    visual: EncodedText | None = None
    character: EncodedText | None = None

    def __post_init__(self) -> None:
        sizes = {role.value: enc.batch_size for role, enc in self.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"all roles must have the same batch size, got {sizes}")

    def get(self, role: TextRole) -> EncodedText | None:
        """The encoding of ``role`` (None if absent)."""
        return getattr(self, role.value)

    def items(self) -> Iterator[tuple[TextRole, EncodedText]]:
        """(role, encoding) of the roles present, in concatenation order."""
        for role in TextRole:
            encoded = self.get(role)
            if encoded is not None:
                yield role, encoded

    @property
    def roles(self) -> tuple[TextRole, ...]:
        return tuple(role for role, _ in self.items())

    @property
    def batch_size(self) -> int:
        return self.prompt.batch_size


@dataclass(frozen=True, kw_only=True)
class TextSegment:
    """Where one role sits in the concatenated context: ``tokens_BSD[:, start:start + length]``."""

    role: TextRole
    start: int
    length: int


@dataclass(frozen=True, kw_only=True)
class TextEmbeddings:
    """The cross-attention context P (SPEC 4.1): projected role sequences concatenated along S.

    Attributes:
        tokens_BSD: the context; zero at padded positions.
        mask_BS: ``True`` at real tokens; every row has at least one (from the PROMPT role).
        segments: the role segments, in order, for inspection.
    """

    tokens_BSD: torch.Tensor
    mask_BS: torch.Tensor
    segments: tuple[TextSegment, ...]

    def segment(self, role: TextRole) -> TextSegment:
        """The segment of ``role``.

        Raises:
            KeyError: if the role is not in the context.
        """
        for seg in self.segments:
            if seg.role is role:
                return seg
        raise KeyError(f"role {role.value!r} not in the context; roles: {[s.role.value for s in self.segments]}")

    @property
    def batch_size(self) -> int:
        return self.tokens_BSD.shape[0]

    @staticmethod
    def cat(parts: "list[TextEmbeddings]") -> "TextEmbeddings":
        """Stack contexts along the batch, e.g. conditional rows then unconditional rows for guidance (SPEC 3.3).

        Each role segment is padded (zero tokens, ``False`` mask) to its longest length among ``parts``, so the
        segments of the result line up for every row.

        Raises:
            ValueError: no parts, or parts with different roles.
        """
        if not parts:
            raise ValueError("TextEmbeddings.cat needs at least one part")
        roles = [tuple(s.role for s in p.segments) for p in parts]
        if len(set(roles)) != 1:
            raise ValueError(f"TextEmbeddings.cat needs parts with the same roles, got {roles}")
        if all(p.segments == parts[0].segments for p in parts):
            return TextEmbeddings(
                tokens_BSD=torch.cat([p.tokens_BSD for p in parts]),
                mask_BS=torch.cat([p.mask_BS for p in parts]),
                segments=parts[0].segments,
            )
        lengths = [max(p.segments[i].length for p in parts) for i in range(len(roles[0]))]
        tokens, masks = [], []
        for p in parts:
            role_tokens, role_masks = [], []
            for seg, length in zip(p.segments, lengths, strict=True):
                pad = length - seg.length
                sl = slice(seg.start, seg.start + seg.length)
                role_tokens.append(torch.nn.functional.pad(p.tokens_BSD[:, sl], (0, 0, 0, pad)))
                role_masks.append(torch.nn.functional.pad(p.mask_BS[:, sl], (0, pad), value=False))
            tokens.append(torch.cat(role_tokens, dim=1))
            masks.append(torch.cat(role_masks, dim=1))
        starts = [sum(lengths[:i]) for i in range(len(lengths))]
        segments = tuple(
            TextSegment(role=r, start=s, length=n) for r, s, n in zip(roles[0], starts, lengths, strict=True)
        )
        return TextEmbeddings(tokens_BSD=torch.cat(tokens), mask_BS=torch.cat(masks), segments=segments)
