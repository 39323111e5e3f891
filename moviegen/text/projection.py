"""Per-role Linear + LayerNorm to the model width, then concatenation along the sequence (SPEC section 4.1).

"Each encoder's output goes through its own linear projection and LayerNorm into 6144 dims; the three sequences are
then concatenated along the sequence axis to form P" (concatenated, not summed). :class:`TextConditioner` holds
these trainable projections; it belongs with the video model (a submodule of the DiT, saved with it), while the
frozen encoders live in :class:`~moviegen.text.stack.TextStack`.
"""

import torch
from torch import nn

from moviegen.text.config import TextRole, TextStackConfig
from moviegen.text.interface import RoleEncodings, TextEmbeddings, TextSegment

# Init std of the projection weights [inferred: the LayerNorm that follows makes the output scale-free anyway].
INIT_STD = 0.02


class RoleProjection(nn.Module):
    """Linear(E, D) then LayerNorm(D) for one role.

    [inferred] The Linear has no bias (the DiT is bias-free and the LayerNorm's own bias follows); the LayerNorm is
    affine, as in the paper's "linear projection and LayerNorm".
    """

    def __init__(self, *, in_dim: int, dim: int, eps: float) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, dim, bias=False)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, hidden_BSE: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(hidden_BSE))

    def init_weights(self) -> None:
        nn.init.trunc_normal_(self.proj.weight, std=INIT_STD)
        self.norm.reset_parameters()


class TextConditioner(nn.Module):
    """Projects each role's encoder output to D and concatenates them into the cross-attention context.

    Parameter names are ``projections.<role>.proj.weight`` and ``projections.<role>.norm.{weight,bias}``.

    Args:
        cfg: the text stack (roles and their widths E).
        dim: D, the video model's width (owned by the parent config).
    """

    def __init__(self, cfg: TextStackConfig, *, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"TextConditioner dim must be >= 1, got {dim}")
        self.cfg = cfg
        self.dim = dim
        self.projections = nn.ModuleDict(
            {
                spec.role.value: RoleProjection(in_dim=spec.output_dim, dim=dim, eps=cfg.layer_norm_eps)
                for spec in cfg.encoders
            }
        )

    def init_weights(self) -> None:
        for projection in self.projections.values():
            projection.init_weights()

    @property
    def roles(self) -> tuple[TextRole, ...]:
        return self.cfg.roles

    def forward(self, encodings: RoleEncodings) -> TextEmbeddings:
        """Project and concatenate.

        Args:
            encodings: one :class:`~moviegen.text.interface.EncodedText` per role of ``cfg``, same batch size.

        Returns:
            ``tokens_BSD`` (zero at padding) and ``mask_BS``, roles in the order PROMPT, VISUAL, CHARACTER.

        Raises:
            ValueError: if the roles present or their widths do not match the config.
        """
        if encodings.roles != self.roles:
            raise ValueError(
                f"TextConditioner expects roles {[r.value for r in self.roles]}, "
                f"got {[r.value for r in encodings.roles]}"
            )
        tokens, masks, segments = [], [], []
        start = 0
        for role, encoded in encodings.items():
            projection = self.projections[role.value]
            weight = projection.proj.weight
            if encoded.hidden_BSE.shape[-1] != weight.shape[1]:
                raise ValueError(
                    f"role {role.value!r}: expected hidden width E={weight.shape[1]}, "
                    f"got {encoded.hidden_BSE.shape[-1]}"
                )
            # Frozen encoders may run in another dtype (bf16) or on another device than the projections.
            hidden_BSE = encoded.hidden_BSE.to(device=weight.device, dtype=weight.dtype)
            mask_BS = encoded.mask_BS.to(weight.device)
            x_BSD = projection(hidden_BSE).masked_fill(~mask_BS[..., None], 0.0)
            tokens.append(x_BSD)
            masks.append(mask_BS)
            segments.append(TextSegment(role=role, start=start, length=x_BSD.shape[1]))
            start += x_BSD.shape[1]
        return TextEmbeddings(
            tokens_BSD=torch.cat(tokens, dim=1), mask_BS=torch.cat(masks, dim=1), segments=tuple(segments)
        )
