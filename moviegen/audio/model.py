"""Movie Gen Audio's networks (SPEC 8.2, 8.3): the audio transformer and the trainable model around it.

Reads top to bottom:

* :class:`AudioContext`, the masked audio context: clean latents where the audio is given (extension, infilling) and
  a mask; generation from nothing is a fully masked context.
* :class:`AudioTransformer`, the 13B part: the video backbone's :class:`~moviegen.dit.model.DiT` over one token per
  25 Hz latent frame, whose input is the noisy latent, the masked context and the mask concatenated on channels, and
  whose tokens get the frame-aligned video features added (projected to the model width). Text enters through the
  DiT's cross-attention and the flow time through its shared adaLN with per-layer biases (SPEC 8.2).
* :class:`MovieGenAudio`, the text stack + the per-frame video feature extractor + the transformer, and optionally
  the onset head, whose onset probabilities can be added to the video features (``cfg.onset_conditioning``).

A dropped video condition is an all-zero feature sequence (so only the projection's bias, and with onset conditioning
the head's constant answer to zeros, reach the tokens); a dropped text is the empty prompt, as for video [inferred:
the paper does not say how dropped conditions are encoded].
The flow maths (path, loss, solvers, guidance) stays in :mod:`moviegen.flow`.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from moviegen.audio.config import MovieGenAudioConfig
from moviegen.audio.features import OnsetHead, build_frame_encoder
from moviegen.dit.config import DiTConfig
from moviegen.dit.model import DiT
from moviegen.nn.state import load_trainable_state_dict, trainable_state_dict
from moviegen.text.interface import TextEmbeddings
from moviegen.text.stack import TextStack


@dataclass(frozen=True)
class AudioContext:
    """Known audio around the part to generate (SPEC 8.3's masked audio prediction).

    Attributes:
        latent_BCL: clean (normalised) latents; values where ``known_BL`` is False are ignored.
        known_BL: True on latent frames whose audio is given.
    """

    latent_BCL: torch.Tensor
    known_BL: torch.Tensor

    def __post_init__(self) -> None:
        if self.latent_BCL.ndim != 3 or self.known_BL.shape != (self.latent_BCL.shape[0], self.latent_BCL.shape[2]):
            raise ValueError(
                f"AudioContext expects latent [B, C, L] and known [B, L], got {tuple(self.latent_BCL.shape)} and "
                f"{tuple(self.known_BL.shape)}"
            )
        if self.known_BL.dtype != torch.bool:
            raise ValueError(f"AudioContext.known_BL must be torch.bool, got {self.known_BL.dtype}")

    @classmethod
    def empty(cls, *, batch: int, channels: int, length: int, device: torch.device | str = "cpu") -> "AudioContext":
        """Nothing known: plain generation."""
        return cls(
            latent_BCL=torch.zeros(batch, channels, length, device=device),
            known_BL=torch.zeros(batch, length, dtype=torch.bool, device=device),
        )

    def channels_BCL(self, dtype: torch.dtype) -> torch.Tensor:
        """The ``C + 1`` context channels the transformer reads: masked latents, then the mask."""
        known_B1L = self.known_BL[:, None].to(dtype)
        return torch.cat([self.latent_BCL.to(dtype) * known_B1L, known_B1L], dim=1)

    def cat(self, other: "AudioContext") -> "AudioContext":
        """Batch concatenation (CFG doubles the batch)."""
        return AudioContext(
            latent_BCL=torch.cat([self.latent_BCL, other.latent_BCL]),
            known_BL=torch.cat([self.known_BL, other.known_BL]),
        )


class AudioTransformer(nn.Module):
    """``(xt, t, text, context, video) -> v`` on ``[B, C, L]`` audio latents; the DiT plus the video projection.

    Build on the meta device, parallelize, ``to_empty``, then :meth:`init_weights` (STYLE rule 7).
    """

    def __init__(self, dit: DiTConfig, *, video_dim: int) -> None:
        super().__init__()
        self.cfg = dit
        self.video_proj = nn.Linear(video_dim, dit.dim)
        self.dit = DiT(dit)

    def forward(
        self,
        latent_BCL: torch.Tensor,
        *,
        t_B: torch.Tensor,
        text_BSD: torch.Tensor,
        text_mask_BS: torch.Tensor,
        context: AudioContext,
        video_BLF: torch.Tensor,
    ) -> torch.Tensor:
        """Velocity ``[B, C, L]``.

        Args:
            latent_BCL: the noisy latent xt.
            t_B: flow times.
            text_BSD: projected text context; text_mask_BS its mask.
            context: the masked audio context (same B and L).
            video_BLF: video features already at the latent rate (zeros: no video).

        Raises:
            ValueError: shapes that do not line up (the DiT checks the rest).
        """
        if latent_BCL.ndim != 3 or latent_BCL.shape[1] != self.cfg.latent_channels:
            raise ValueError(f"latent must be [B, {self.cfg.latent_channels}, L], got shape {tuple(latent_BCL.shape)}")
        b, _, length = latent_BCL.shape
        if context.latent_BCL.shape != latent_BCL.shape:
            raise ValueError(f"context latent {tuple(context.latent_BCL.shape)} must match {tuple(latent_BCL.shape)}")
        if (
            video_BLF.ndim != 3
            or video_BLF.shape[:2] != (b, length)
            or video_BLF.shape[2] != self.video_proj.in_features
        ):
            raise ValueError(
                f"video_BLF must be [{b}, {length}, {self.video_proj.in_features}], got {tuple(video_BLF.shape)}"
            )
        x_BCL = torch.cat([latent_BCL, context.channels_BCL(latent_BCL.dtype)], dim=1)  # [B, 2C+1, L]
        video_BLD = self.video_proj(video_BLF.to(latent_BCL.dtype))  # added frame by frame (SPEC 8.3)
        v_BC111 = self.dit(
            x_BCL[..., None, None], t_B=t_B, text_BSD=text_BSD, text_mask_BS=text_mask_BS, token_cond_BLD=video_BLD
        )
        return v_BC111[..., 0, 0]

    @torch.no_grad()
    def init_weights(self) -> None:
        """The DiT's rules, and a zero video projection: the model starts blind and learns to look."""
        self.dit.init_weights()
        nn.init.zeros_(self.video_proj.weight)
        nn.init.zeros_(self.video_proj.bias)


class MovieGenAudio(nn.Module):
    """Text stack + video feature extractor + :class:`AudioTransformer`. ``forward`` is the velocity field.

    Args:
        cfg: the audio config (its codec is not built here: training works on cached latents).
        text_dir: where pretrained text encoders live (None: MiniLM from its wheel, byte encoders built fresh).
        model_dir: where a CLIP vision tower lives (CLIP video features only).
    """

    def __init__(
        self, cfg: MovieGenAudioConfig, *, text_dir: str | Path | None = None, model_dir: str | Path | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextStack.from_config(cfg.text, dim=cfg.dit.dim, text_dir=text_dir)
        self.frame_encoder = build_frame_encoder(cfg.video, model_dir=model_dir)
        self.transformer = AudioTransformer(cfg.dit, video_dim=cfg.video.dim)
        self.onset_head = (
            OnsetHead(cfg.video.dim, channels=cfg.onset_head_channels) if cfg.onset_head_channels else None
        )
        # cfg.onset_conditioning: what an onset on a frame adds to its video features (zero at init: no change).
        self.onset_embed = nn.Parameter(torch.zeros(cfg.video.dim)) if cfg.onset_conditioning else None

    def init_weights(self) -> None:
        """Initialise the transformer and a trainable frame encoder (text projections initialise when built)."""
        self.transformer.init_weights()
        init = getattr(self.frame_encoder, "init_weights", None)
        if init is not None:
            init()
        if self.onset_head is not None:
            self.onset_head.init_weights()
        if self.onset_embed is not None:
            with torch.no_grad():
                self.onset_embed.zero_()

    def encode_text(self, prompts: list[str]) -> TextEmbeddings:
        return self.text.encode(prompts)

    def video_features(self, frames_BTCHW: torch.Tensor) -> torch.Tensor:
        """Per-frame features ``[B, T, F]`` of frames in [-1, 1] at ``cfg.video.frame_size``."""
        return self.frame_encoder(frames_BTCHW)

    def onset_logits(self, video_BLF: torch.Tensor) -> torch.Tensor:
        """Training auxiliary: logits ``[B, L]`` that a sound starts on each latent frame, from the video features
        at the latent rate (needs ``cfg.onset_head_channels > 0``)."""
        if self.onset_head is None:
            raise ValueError("this audio model has no onset head (its config has onset_head_channels=0)")
        return self.onset_head(video_BLF)

    def forward(
        self,
        latent_BCL: torch.Tensor,
        *,
        t_B: torch.Tensor,
        text: TextEmbeddings,
        context: AudioContext,
        video_BLF: torch.Tensor,
    ) -> torch.Tensor:
        if self.onset_embed is not None:  # cfg.onset_conditioning; the head learns from its own loss only
            onset_BL1 = torch.sigmoid(self.onset_logits(video_BLF)).detach()[..., None]
            video_BLF = video_BLF + onset_BL1 * self.onset_embed
        return self.transformer(
            latent_BCL,
            t_B=t_B,
            text_BSD=text.tokens_BSD,
            text_mask_BS=text.mask_BS,
            context=context,
            video_BLF=video_BLF,
        )

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights we train and ship: everything except frozen pretrained encoders (loaded from their own files)."""
        return trainable_state_dict(self)

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load :meth:`trainable_state_dict` output; missing or unexpected keys raise ValueError naming them."""
        load_trainable_state_dict(self, state, what="the audio model")
