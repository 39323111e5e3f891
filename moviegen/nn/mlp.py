"""SwiGLU feed-forward block (Shazeer 2020), as in Llama 3: w2(silu(w1 x) * w3 x), no biases."""

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    """Gated FFN with Llama-3 parameter names (``w1`` gate, ``w3`` up, ``w2`` down)."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)

    def forward(self, x_BLD: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x_BLD)) * self.w3(x_BLD))

    def init_weights(self, *, std: float, out_std: float) -> None:
        nn.init.trunc_normal_(self.w1.weight, std=std)
        nn.init.trunc_normal_(self.w3.weight, std=std)
        nn.init.trunc_normal_(self.w2.weight, std=out_std)
