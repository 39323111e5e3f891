"""Our own character-level text encoder: a small bidirectional transformer over UTF-8 bytes (SPEC section 4.1).

At paper scale the CHARACTER role is ByT5 applied to the quoted visual text. No ByT5 weights exist offline, so the
embedded default fills the role with this encoder, trained from scratch with the video model [inferred]. It reuses
the project's Llama-style blocks (:class:`~moviegen.nn.norms.RMSNorm`, :class:`~moviegen.nn.attention.Attention`,
:class:`~moviegen.nn.mlp.SwiGLU`) with full (non-causal) attention and a learned absolute position table [inferred:
the inputs are at most a few dozen bytes, so a table is the simplest choice].

Token ids follow ByT5's layout (0 pad, 1 eos, 2 unk, byte b -> b + 3) and every text ends with eos, so
:meth:`ByteTextEncoder.tokenize` gives the same ids as ``transformers.ByT5Tokenizer``.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from moviegen.nn.attention import Attention
from moviegen.nn.mlp import SwiGLU
from moviegen.nn.norms import RMSNorm
from moviegen.text.config import BYTE_EOS_ID, BYTE_OFFSET, BYTE_PAD_ID, ByteEncoderConfig, TextPadding
from moviegen.text.interface import EncodedText


@dataclass(frozen=True, kw_only=True)
class EncodedIds:
    """Byte token ids and their mask (``True`` = real token)."""

    input_ids_BS: torch.Tensor
    mask_BS: torch.Tensor


# Init std of the embeddings and of the input projections [inferred: GPT-2 / torchtitan value].
INIT_STD = 0.02


class ByteEncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ffn(norm(x)); Llama-3 names."""

    def __init__(self, *, cfg: ByteEncoderConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.attention = Attention(dim=cfg.dim, num_heads=cfg.num_heads)
        self.ffn_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.feed_forward = SwiGLU(dim=cfg.dim, hidden_dim=cfg.ffn_dim)

    def forward(self, x_BSE: torch.Tensor, *, mask_BS: torch.Tensor) -> torch.Tensor:
        x_BSE = x_BSE + self.attention(self.attention_norm(x_BSE), mask_BS=mask_BS)
        return x_BSE + self.feed_forward(self.ffn_norm(x_BSE))

    def init_weights(self, *, std: float, out_std: float) -> None:
        self.attention_norm.reset_parameters()
        self.ffn_norm.reset_parameters()
        self.attention.init_weights(std=std, out_std=out_std)
        self.feed_forward.init_weights(std=std, out_std=out_std)


class ByteTextEncoder(nn.Module):
    """Trainable byte-level encoder; satisfies :class:`moviegen.text.interface.TextEncoder`.

    Build it (optionally under ``torch.device("meta")``), move it, then call :meth:`init_weights`, or load trained
    weights with :func:`moviegen.text.encoders.load_byte_encoder`.

    Args:
        cfg: its size.
        padding: how :meth:`encode` pads a batch.
    """

    def __init__(self, cfg: ByteEncoderConfig, *, padding: TextPadding = TextPadding.LONGEST) -> None:
        super().__init__()
        self.cfg = cfg
        self.padding = padding
        self.output_dim = cfg.dim
        self.max_length = cfg.max_length
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos_embeddings = nn.Embedding(cfg.max_length, cfg.dim)
        self.layers = nn.ModuleDict({str(i): ByteEncoderBlock(cfg=cfg) for i in range(cfg.num_layers)})
        self.norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)

    def init_weights(self) -> None:
        """All initialisation rules in one place; output projections are depth-scaled (GPT-2 / torchtitan)."""
        nn.init.normal_(self.tok_embeddings.weight, std=INIT_STD)
        nn.init.normal_(self.pos_embeddings.weight, std=INIT_STD)
        out_std = INIT_STD / math.sqrt(2 * self.cfg.num_layers)
        for layer in self.layers.values():
            layer.init_weights(std=INIT_STD, out_std=out_std)
        self.norm.reset_parameters()

    def tokenize(self, texts: list[str]) -> EncodedIds:
        """UTF-8 bytes + eos, truncated to ``max_length`` (eos kept) and padded per :attr:`padding`.

        Args:
            texts: B strings.

        Returns:
            The ids and mask on the encoder's device.
        """
        num_bytes = self.max_length - 1  # room for eos
        rows = [[b + BYTE_OFFSET for b in text.encode("utf-8")[:num_bytes]] + [BYTE_EOS_ID] for text in texts]
        length = self.max_length if self.padding is TextPadding.MAX_LENGTH else max(len(row) for row in rows)
        device = self.tok_embeddings.weight.device
        ids_BS = torch.full((len(rows), length), BYTE_PAD_ID, dtype=torch.long)
        mask_BS = torch.zeros((len(rows), length), dtype=torch.bool)
        for i, row in enumerate(rows):
            ids_BS[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask_BS[i, : len(row)] = True
        return EncodedIds(input_ids_BS=ids_BS.to(device), mask_BS=mask_BS.to(device))

    def forward(self, input_ids_BS: torch.Tensor, *, mask_BS: torch.Tensor) -> torch.Tensor:
        """Encode token ids.

        Args:
            input_ids_BS: ids in ``[0, vocab_size)``; S <= ``max_length``.
            mask_BS: ``True`` at real tokens; each row needs at least one.

        Returns:
            hidden_BSE, final-normed hidden states.
        """
        seq_len = input_ids_BS.shape[1]
        if seq_len > self.max_length:
            raise ValueError(f"sequence length {seq_len} exceeds the byte encoder's max_length {self.max_length}")
        pos_S = torch.arange(seq_len, device=input_ids_BS.device)
        x_BSE = self.tok_embeddings(input_ids_BS) + self.pos_embeddings(pos_S)[None]
        for layer in self.layers.values():
            x_BSE = layer(x_BSE, mask_BS=mask_BS)
        return self.norm(x_BSE)

    def encode(self, texts: list[str]) -> EncodedText:
        """Tokenize and encode ``texts`` (with gradients: this encoder is trainable)."""
        ids = self.tokenize(texts)
        return EncodedText(hidden_BSE=self(ids.input_ids_BS, mask_BS=ids.mask_BS), mask_BS=ids.mask_BS)
