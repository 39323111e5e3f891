"""Normalisation layers: RMSNorm (Llama 3, Zhang & Sennrich 2019)."""

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm over the last dim, computed in fp32.

    The statistics are taken in fp32 even under bf16 autocast: the mean of squares over thousands of channels
    loses too much precision in bf16 (Llama 3 reference does the same).

    Args:
        dim: size of the normalised last dim.
        eps: added to the mean square.
        affine: learn a per-channel gain. Norms followed by adaLN modulation drop it: ``(1 + scale)`` already is a
            per-channel gain (DiT uses LayerNorm without affine for the same reason).
    """

    def __init__(self, dim: int, *, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.dim = dim
        self.weight = nn.Parameter(torch.empty(dim)) if affine else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fp32 island: norm statistics (see class docstring).
        out = F.rms_norm(x.float(), (self.dim,), eps=self.eps).type_as(x)
        return out if self.weight is None else out * self.weight.type_as(x)
