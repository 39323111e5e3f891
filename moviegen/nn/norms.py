"""Normalisation layers: RMSNorm (Llama 3, Zhang & Sennrich 2019)."""

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm over the last dim, computed in fp32.

    The statistics are taken in fp32 even under bf16 autocast: the mean of squares over thousands of channels
    loses too much precision in bf16 (Llama 3 reference does the same).
    """

    def __init__(self, dim: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fp32 island: norm statistics (see class docstring).
        out = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps)
        return out.type_as(x) * self.weight.type_as(x)
