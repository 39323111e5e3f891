"""Movie Gen Video transformer (SPEC section 2): Llama 3 blocks with cross-attention and shared adaLN.

Reads top to bottom: the adaLN helper, the block, the model. Compared with a Llama 3 block (RMSNorm, SwiGLU, no
biases) there are three changes (SPEC 2.1): full bidirectional self-attention, cross-attention to the text sequence
between self-attention and the FFN, and adaptive norm modulation by the flow time t.

adaLN is *shared* (PixArt-alpha's adaLN-single, as Movie Gen Audio documents, SPEC 2.2 and 8.2) [inferred for the
video model]: one MLP maps the time embedding to the six modulation vectors (shift/scale/gate for attention and FFN)
and each block only adds a learned per-layer bias. A DiT-style per-block Linear(D, 6D) would add about 10.9B
parameters at 30B scale, which the paper's "30B" cannot hold; the shared form costs 6D per block.

Factorized learnable positional embeddings are added to the input of *every* block, not only the first (SPEC 2.3).

An optional per-token condition (the audio model's frame-aligned video features, SPEC 8.3) is added to the patch
embeddings; with ``DiTConfig.token_adaln`` [inferred] a zero-init head also turns it into per-token offsets of every
block's modulation, so a token's own condition scales and gates its updates at every depth.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from moviegen.dit.config import DiTConfig, FFNKind
from moviegen.nn.attention import Attention
from moviegen.nn.embed import FactorizedPositionalEmbedding, PatchEmbed3d, TimestepEmbedding, unpatchify
from moviegen.nn.mlp import GeluMLP, SwiGLU
from moviegen.nn.norms import RMSNorm
from moviegen.nn.sequence import TokenShards

NUM_MODULATIONS = 6  # shift, scale, gate for self-attention; shift, scale, gate for the FFN
FFN_CLASSES = {FFNKind.SWIGLU: SwiGLU, FFNKind.GELU: GeluMLP}


def modulate(x_BLD: torch.Tensor, *, shift_BLD: torch.Tensor, scale_BLD: torch.Tensor) -> torch.Tensor:
    """adaLN: x * (1 + scale) + shift (one fused addcmul); shift and scale are per token or ``[B, 1, D]`` for all."""
    return torch.addcmul(shift_BLD, x_BLD, 1 + scale_BLD)


class TransformerBlock(nn.Module):
    """One block: modulated self-attention, cross-attention to text, modulated SwiGLU FFN (Llama 3 names)."""

    def __init__(self, cfg: DiTConfig, *, layer_id: int) -> None:
        super().__init__()
        self.layer_id = layer_id
        # Modulated norms carry no gain of their own: adaLN's (1 + scale) is that gain.
        self.attention_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps, affine=False)
        self.attention = Attention(dim=cfg.dim, num_heads=cfg.num_heads, qk_norm=cfg.qk_norm, norm_eps=cfg.norm_eps)
        self.cross_attention_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.cross_attention = Attention(
            dim=cfg.dim, num_heads=cfg.num_heads, qk_norm=cfg.qk_norm, norm_eps=cfg.norm_eps
        )
        self.ffn_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps, affine=False)
        self.feed_forward = FFN_CLASSES[cfg.ffn](dim=cfg.dim, hidden_dim=cfg.ffn_dim)
        # Per-layer offset added to the shared adaLN output (adaLN-single).
        self.adaln_bias = nn.Parameter(torch.empty(NUM_MODULATIONS * cfg.dim))

    def forward(
        self,
        x_BLD: torch.Tensor,
        *,
        pos_LD: torch.Tensor,
        modulation_B6D: torch.Tensor,
        text_BSD: torch.Tensor,
        text_mask_BS: torch.Tensor,
        token_modulation_BL6D: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``token_modulation_BL6D``: per-token offsets of the modulation (``DiTConfig.token_adaln``)."""
        x_BLD = x_BLD + pos_LD  # positions enter every layer (SPEC 2.3)
        mod_B16D = (modulation_B6D + self.adaln_bias.to(modulation_B6D.dtype))[:, None]
        mod_BL6D = mod_B16D if token_modulation_BL6D is None else mod_B16D + token_modulation_BL6D
        shift_msa, scale_msa, gate_msa, shift_ffn, scale_ffn, gate_ffn = mod_BL6D.chunk(NUM_MODULATIONS, dim=-1)

        h_BLD = modulate(self.attention_norm(x_BLD), shift_BLD=shift_msa, scale_BLD=scale_msa)
        x_BLD = torch.addcmul(x_BLD, gate_msa, self.attention(h_BLD))

        h_BLD = self.cross_attention_norm(x_BLD)
        x_BLD = x_BLD + self.cross_attention(h_BLD, context_BSD=text_BSD, mask_BS=text_mask_BS)

        h_BLD = modulate(self.ffn_norm(x_BLD), shift_BLD=shift_ffn, scale_BLD=scale_ffn)
        return torch.addcmul(x_BLD, gate_ffn, self.feed_forward(h_BLD))

    def init_weights(self, *, std: float, out_std: float) -> None:
        for norm in (self.attention_norm, self.cross_attention_norm, self.ffn_norm):
            norm.reset_parameters()
        self.attention.init_weights(std=std, out_std=out_std)
        self.cross_attention.init_weights(std=std, out_std=out_std)
        self.feed_forward.init_weights(std=std, out_std=out_std)
        nn.init.zeros_(self.adaln_bias)


class DiT(nn.Module):
    """Predicts the flow velocity of a latent video: ``(xt, t, text) -> v`` (SPEC 2; flow maths live in ``flow/``).

    Images are 1-frame videos and go through the same path. Every sample in a batch shares one latent shape (the
    aspect-ratio x duration buckets of SPEC 5.3 guarantee it), so video tokens need no padding mask; text does.

    Build on the meta device, parallelize, ``to_empty``, then call :meth:`init_weights` (STYLE rule 7).
    """

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed3d(in_channels=cfg.input_channels, dim=cfg.dim, patch=cfg.patch_size)
        self.pos_embed = FactorizedPositionalEmbedding(dim=cfg.dim, max_t=cfg.max_t, max_h=cfg.max_h, max_w=cfg.max_w)
        self.time_embed = TimestepEmbedding(dim=cfg.dim, frequency_dim=cfg.timestep_frequency_dim)
        self.token_shards = TokenShards()  # context parallelism splits the sequence here (moviegen.nn.sequence)
        self.adaln = nn.Linear(cfg.dim, NUM_MODULATIONS * cfg.dim)  # the shared adaLN head
        # cfg.token_adaln: the per-token condition's own head, whose output every block adds to the shared one.
        self.token_adaln = nn.Linear(cfg.dim, NUM_MODULATIONS * cfg.dim) if cfg.token_adaln else None
        self.layers = nn.ModuleDict({str(i): TransformerBlock(cfg, layer_id=i) for i in range(cfg.num_layers)})
        self.norm = RMSNorm(cfg.dim, eps=cfg.norm_eps, affine=False)
        self.final_adaln = nn.Linear(cfg.dim, 2 * cfg.dim)  # shift, scale of the output norm
        self.output = nn.Linear(cfg.dim, cfg.patch_values, bias=False)

    def forward(
        self,
        latent_BCTHW: torch.Tensor,
        *,
        t_B: torch.Tensor,
        text_BSD: torch.Tensor,
        text_mask_BS: torch.Tensor,
        token_cond_BLD: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity ``[B, C, T, H, W]`` for noisy latents at flow times ``t_B`` in [0, 1] (t=1 is data).

        Args:
            latent_BCTHW: the noisy latent xt, with any channel-concatenated condition (``cfg.input_channels``).
            t_B: flow time per sample.
            text_BSD: text context already projected to the model width (``moviegen.text``).
            text_mask_BS: True where a text token is real; every row needs at least one.
            token_cond_BLD: an optional per-token condition added to the patch embeddings, in token order (the
                audio model adds its frame-aligned video features here, SPEC 8.3); with ``cfg.token_adaln`` it also
                modulates every block, and is required.

        Raises:
            ValueError: on a shape that does not fit the config (rank, channels, patch divisibility, text width).
        """
        self._check_inputs(latent_BCTHW, t_B=t_B, text_BSD=text_BSD, text_mask_BS=text_mask_BS)
        pt, ph, pw = self.cfg.patch_size
        _, _, t, h, w = latent_BCTHW.shape
        grid = (t // pt, h // ph, w // pw)

        x_BLD = self.patch_embed(latent_BCTHW)
        token_modulation_BL6D = None
        if token_cond_BLD is not None:
            if token_cond_BLD.shape != x_BLD.shape:
                raise ValueError(
                    f"token_cond_BLD must have the token shape {tuple(x_BLD.shape)}, got {tuple(token_cond_BLD.shape)}"
                )
            token_cond_BLD = token_cond_BLD.to(x_BLD.dtype)
            x_BLD = x_BLD + token_cond_BLD
            if self.token_adaln is not None:
                token_modulation_BL6D = self.token_adaln(F.silu(token_cond_BLD))
        elif self.token_adaln is not None:
            raise ValueError(
                "this DiT modulates its blocks by a per-token condition (token_adaln): give token_cond_BLD"
            )
        pos_LD = self.pos_embed(grid).to(x_BLD.dtype)
        x_BLD, pos_LD, token_modulation_BL6D = self.token_shards.shard(x_BLD, pos_LD, token_modulation_BL6D)
        time_BD = self.time_embed(t_B)
        modulation_B6D = self.adaln(F.silu(time_BD))
        for block in self.layers.values():
            x_BLD = block(
                x_BLD,
                pos_LD=pos_LD,
                modulation_B6D=modulation_B6D,
                text_BSD=text_BSD,
                text_mask_BS=text_mask_BS,
                token_modulation_BL6D=token_modulation_BL6D,
            )
        shift_BD, scale_BD = self.final_adaln(F.silu(time_BD)).chunk(2, dim=-1)
        x_BLD = modulate(self.norm(x_BLD), shift_BLD=shift_BD[:, None], scale_BLD=scale_BD[:, None])
        out_BLP = self.token_shards.gather(self.output(x_BLD))
        return unpatchify(out_BLP, patch=self.cfg.patch_size, grid=grid).to(latent_BCTHW.dtype)

    def _check_inputs(
        self, latent_BCTHW: torch.Tensor, *, t_B: torch.Tensor, text_BSD: torch.Tensor, text_mask_BS: torch.Tensor
    ) -> None:
        cfg = self.cfg
        if latent_BCTHW.ndim != 5 or latent_BCTHW.shape[1] != cfg.input_channels:
            raise ValueError(
                f"latent must be [B, {cfg.input_channels}, T, H, W], got shape {tuple(latent_BCTHW.shape)}"
            )
        b = latent_BCTHW.shape[0]
        if t_B.shape != (b,):
            raise ValueError(f"t_B must have shape ({b},), got {tuple(t_B.shape)}")
        if text_BSD.ndim != 3 or text_BSD.shape[0] != b or text_BSD.shape[2] != cfg.dim:
            raise ValueError(f"text_BSD must be [{b}, S, {cfg.dim}], got shape {tuple(text_BSD.shape)}")
        if text_mask_BS.shape != text_BSD.shape[:2] or text_mask_BS.dtype != torch.bool:
            raise ValueError(
                f"text_mask_BS must be a bool tensor of shape {tuple(text_BSD.shape[:2])}, "
                f"got {text_mask_BS.dtype} {tuple(text_mask_BS.shape)}"
            )

    @torch.no_grad()
    def init_weights(self) -> None:
        """Every initialisation rule of the model, in one place (STYLE rule 7).

        Input projections: truncated normal(std); positional tables: normal(``pos_init_std``). Output projections of
        each residual branch: std scaled by depth (GPT-2 / torchtitan). adaLN-Zero: the shared adaLN head, per-layer
        biases and the output layer start at zero, so every block starts as the identity on its gated branches and
        the model predicts v = 0.
        """
        std = self.cfg.init_std
        out_std = std / math.sqrt(2 * self.cfg.num_layers)
        # Patchify as a linear map on flattened patches (DiT): xavier on the [D, P] view.
        weight = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        nn.init.zeros_(self.patch_embed.proj.bias)
        self.pos_embed.init_weights(std=self.cfg.pos_init_std)
        self.time_embed.init_weights(std=std)
        for block in self.layers.values():
            block.init_weights(std=std, out_std=out_std)
        self.norm.reset_parameters()
        for linear in (self.adaln, self.final_adaln, self.token_adaln):
            if linear is not None:
                nn.init.zeros_(linear.weight)
                nn.init.zeros_(linear.bias)
        nn.init.zeros_(self.output.weight)
