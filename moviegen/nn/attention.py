"""Multi-head attention without biases (Llama 3 names ``wq/wk/wv/wo``), self or cross, through PyTorch SDPA.

The softmax core is its own module, :class:`ScaledDotProductAttention`, so that context parallelism can wrap or
replace it from ``moviegen.train.parallelize`` without touching the model code (the torchtitan approach: an explicit
extension point instead of a monkey-patched ``forward``).
"""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from moviegen.nn.norms import RMSNorm


class ScaledDotProductAttention(nn.Module):
    """softmax(q k^T / sqrt(K) + mask) v on ``[B, N, L, K]`` tensors; the hook point for context parallelism."""

    def forward(
        self,
        q_BNLK: torch.Tensor,
        k_BNSK: torch.Tensor,
        v_BNSK: torch.Tensor,
        *,
        mask_BS: torch.Tensor | None = None,
    ) -> torch.Tensor:
        attn_mask = None if mask_BS is None else mask_BS[:, None, None, :]  # True = attend
        return F.scaled_dot_product_attention(q_BNLK, k_BNSK, v_BNSK, attn_mask=attn_mask)


class Attention(nn.Module):
    """Bidirectional multi-head attention from ``x`` to ``context`` (``context = x`` for self-attention).

    Args:
        dim: model width D (queries and output).
        num_heads: N; ``dim`` must divide by it.
        context_dim: width of the keys/values source; defaults to ``dim``.
        qk_norm: RMSNorm over the head dim of q and k before the dot product [inferred: the paper does not mention
            it; it is a common stability choice for large DiTs, e.g. SD3, and cheap].
        norm_eps: epsilon of the q/k norms.
    """

    def __init__(
        self, *, dim: int, num_heads: int, context_dim: int | None = None, qk_norm: bool = False, norm_eps: float = 1e-6
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        context_dim = dim if context_dim is None else context_dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(context_dim, dim, bias=False)
        self.wv = nn.Linear(context_dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.q_norm = RMSNorm(self.head_dim, eps=norm_eps) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(self.head_dim, eps=norm_eps) if qk_norm else nn.Identity()
        self.sdpa = ScaledDotProductAttention()

    def forward(
        self, x_BLD: torch.Tensor, *, context_BSD: torch.Tensor | None = None, mask_BS: torch.Tensor | None = None
    ) -> torch.Tensor:
        context_BSD = x_BLD if context_BSD is None else context_BSD
        # Norm q/k while they are still contiguous ([B, L, N, K]), then move heads forward for SDPA. Heads are split
        # by the head width, not the head count: under tensor parallelism a rank holds only N / tp of the heads.
        q_BLNK = self.q_norm(rearrange(self.wq(x_BLD), "b l (n k) -> b l n k", k=self.head_dim))
        k_BSNK = self.k_norm(rearrange(self.wk(context_BSD), "b s (n k) -> b s n k", k=self.head_dim))
        v_BSNK = rearrange(self.wv(context_BSD), "b s (n k) -> b s n k", k=self.head_dim)
        q_BNLK, k_BNSK, v_BNSK = (t.transpose(1, 2) for t in (q_BLNK, k_BSNK, v_BSNK))
        out_BNLK = self.sdpa(q_BNLK, k_BNSK, v_BNSK, mask_BS=mask_BS)
        return self.wo(rearrange(out_BNLK, "b n l k -> b l (n k)"))

    def init_weights(self, *, std: float, out_std: float) -> None:
        for linear in (self.wq, self.wk, self.wv):
            nn.init.trunc_normal_(linear.weight, std=std)
        nn.init.trunc_normal_(self.wo.weight, std=out_std)
        for norm in (self.q_norm, self.k_norm):
            if isinstance(norm, RMSNorm):
                norm.reset_parameters()
