"""Embeddings shared by the Movie Gen transformers (SPEC section 2.3 and 2.4).

* :func:`patchify` / :func:`unpatchify`: exact inverse token reshapes for a ``(pt, ph, pw)`` patch.
* :class:`PatchEmbed3d`: the paper's Conv3d patchify (kernel = stride = patch), latent channels to model width.
* :class:`FactorizedPositionalEmbedding`: NaViT-style learnable tables phi_t, phi_h, phi_w with
  PE(t, h, w) = phi_t[t] + phi_h[h] + phi_w[w]; the tables grow between training stages by interpolation.
* :class:`TimestepEmbedding`: sinusoidal features of the flow time t followed by an MLP [inferred].
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# Flow time t lives in [0, 1]; the sinusoidal features are computed on t * TIME_SCALE so that the frequency range of
# the DiT timestep embedding (designed for integer timesteps 0..999) covers it [inferred, as in SD3 / FLUX].
TIME_SCALE = 1000.0


def patchify(x_BCTHW: torch.Tensor, *, patch: tuple[int, int, int]) -> torch.Tensor:
    """``[B, C, T, H, W]`` -> ``[B, L, P]`` tokens in (t, h, w) raster order; each dim must divide by its patch."""
    pt, ph, pw = patch
    _, _, t, h, w = x_BCTHW.shape
    if t % pt or h % ph or w % pw:
        raise ValueError(f"latent grid {t}x{h}x{w} (TxHxW) must be divisible by the patch {pt}x{ph}x{pw}")
    return rearrange(x_BCTHW, "b c (t pt) (h ph) (w pw) -> b (t h w) (c pt ph pw)", pt=pt, ph=ph, pw=pw)


def unpatchify(x_BLP: torch.Tensor, *, patch: tuple[int, int, int], grid: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``[B, L, P]`` with ``L = T*H*W`` of the token ``grid`` -> ``[B, C, T, H, W]``."""
    pt, ph, pw = patch
    t, h, w = grid
    return rearrange(x_BLP, "b (t h w) (c pt ph pw) -> b c (t pt) (h ph) (w pw)", t=t, h=h, w=w, pt=pt, ph=ph, pw=pw)


class PatchEmbed3d(nn.Module):
    """Conv3d with kernel = stride = patch (SPEC 2.3: 1x2x2), then flattened to tokens."""

    def __init__(self, *, in_channels: int, dim: int, patch: tuple[int, int, int]) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv3d(in_channels, dim, kernel_size=patch, stride=patch)

    def forward(self, latent_BCTHW: torch.Tensor) -> torch.Tensor:
        pt, ph, pw = self.patch
        _, _, t, h, w = latent_BCTHW.shape
        if t % pt or h % ph or w % pw:
            raise ValueError(f"latent grid {t}x{h}x{w} (TxHxW) must be divisible by the patch {pt}x{ph}x{pw}")
        return self.proj(latent_BCTHW).flatten(2).transpose(1, 2)  # [B, L, D]


def interpolate_table(table_ND: torch.Tensor, length: int) -> torch.Tensor:
    """Resample a ``[N, D]`` positional table to ``[length, D]`` by linear interpolation.

    Position ``i`` of the new table looks at the same relative place of the frame as position ``i * N / length``
    of the old one, so doubling the resolution keeps each token's embedding where its pixels were (SPEC 2.3:
    spatial tables "initialized from the T2I tables by 2x expansion"). A 1-row table (an image-only temporal
    table) is repeated.
    """
    if length < 1:
        raise ValueError(f"table length must be >= 1, got {length}")
    if table_ND.shape[0] == 1:
        return table_ND.expand(length, -1).clone()
    table_1DN = table_ND.float().t().unsqueeze(0)
    out_1DN = F.interpolate(table_1DN, size=length, mode="linear", align_corners=False)
    return out_1DN[0].t().to(table_ND.dtype).contiguous()


class FactorizedPositionalEmbedding(nn.Module):
    """Learnable factorized absolute positions over the token grid (SPEC 2.3, NaViT-style).

    Token ``(t, h, w)`` gets ``pos_t[t] + pos_h[h] + pos_w[w]``. Any grid up to ``(max_t, max_h, max_w)`` is
    supported, which covers every aspect ratio and duration bucket; a larger grid raises ``ValueError`` and needs
    :meth:`expand` first (as the paper does between training stages).
    """

    def __init__(self, *, dim: int, max_t: int, max_h: int, max_w: int) -> None:
        super().__init__()
        self.pos_t = nn.Parameter(torch.empty(max_t, dim))
        self.pos_h = nn.Parameter(torch.empty(max_h, dim))
        self.pos_w = nn.Parameter(torch.empty(max_w, dim))

    @property
    def max_grid(self) -> tuple[int, int, int]:
        return self.pos_t.shape[0], self.pos_h.shape[0], self.pos_w.shape[0]

    def init_weights(self, *, std: float = 0.02) -> None:
        for table in (self.pos_t, self.pos_h, self.pos_w):
            nn.init.normal_(table, std=std)

    def forward(self, grid: tuple[int, int, int]) -> torch.Tensor:
        """Returns ``[L, D]`` for a token grid ``(T, H, W)``, in the raster order of :func:`patchify`."""
        t, h, w = grid
        max_t, max_h, max_w = self.max_grid
        if t > max_t or h > max_h or w > max_w:
            raise ValueError(
                f"token grid {t}x{h}x{w} (TxHxW) exceeds the positional tables {max_t}x{max_h}x{max_w}; "
                "expand the tables (FactorizedPositionalEmbedding.expand) or use a smaller size/duration"
            )
        pos_THWD = self.pos_t[:t, None, None] + self.pos_h[None, :h, None] + self.pos_w[None, None, :w]
        return pos_THWD.flatten(0, 2)

    @torch.no_grad()
    def expand(self, *, max_t: int, max_h: int, max_w: int) -> None:
        """Grow the tables in place to new maxima by interpolation (stage transitions, SPEC 2.3)."""
        for name, length in (("pos_t", max_t), ("pos_h", max_h), ("pos_w", max_w)):
            old = getattr(self, name)
            if length < old.shape[0]:
                raise ValueError(f"{name} can only grow: has {old.shape[0]} rows, asked for {length}")
            if length != old.shape[0]:
                setattr(self, name, nn.Parameter(interpolate_table(old.data, length)))


def sinusoidal_embedding(t_B: torch.Tensor, *, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """``[B]`` flow times in [0, 1] -> ``[B, dim]`` fp32 cos/sin features (DiT / ADM formulation)."""
    half = dim // 2
    # fp32 island: t * 1000 * freq loses the small frequencies entirely in bf16.
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t_B.device) / half)
    args_BF = (t_B.float() * TIME_SCALE)[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args_BF), torch.sin(args_BF)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    """Sinusoidal features of t -> Linear -> SiLU -> Linear, to width ``dim`` [inferred, DiT]."""

    def __init__(self, *, dim: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.linear_1 = nn.Linear(frequency_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, t_B: torch.Tensor) -> torch.Tensor:
        freq_BF = sinusoidal_embedding(t_B, dim=self.frequency_dim)
        freq_BF = freq_BF.to(self.linear_1.weight.dtype)
        return self.linear_2(F.silu(self.linear_1(freq_BF)))  # [B, D]

    def init_weights(self, *, std: float = 0.02) -> None:
        for linear in (self.linear_1, self.linear_2):
            nn.init.normal_(linear.weight, std=std)
            nn.init.zeros_(linear.bias)
