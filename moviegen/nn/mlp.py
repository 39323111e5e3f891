"""Feed-forward blocks: SwiGLU (Shazeer 2020) as in Llama 3, w2(silu(w1 x) * w3 x) without biases; and DiT's GELU
MLP, fc2(gelu_tanh(fc1 x)) with biases (Peebles & Xie 2023; the Movie Gen Audio backbone, SPEC 8.2)."""

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


class GeluMLP(nn.Module):
    """DiT's two-layer MLP with the tanh approximation of GELU (``fc1`` up, ``fc2`` down)."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x_BLD: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x_BLD), approximate="tanh"))

    def init_weights(self, *, std: float, out_std: float) -> None:
        nn.init.trunc_normal_(self.fc1.weight, std=std)
        nn.init.trunc_normal_(self.fc2.weight, std=out_std)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.bias)
