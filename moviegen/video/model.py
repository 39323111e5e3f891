"""Movie Gen Video's trainable network: the text stack (frozen encoders, trainable byte encoder and projections) and
the transformer, composed (SPEC sections 2 and 4). The TAE is separate: training works on cached latents (SPEC 5).

The flow maths stays outside (``moviegen.flow``): this module maps (noisy latent, time, text context) to a velocity.
"""

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from moviegen.configs.presets import MovieGenVideoConfig
from moviegen.dit.model import DiT
from moviegen.nn.state import load_trainable_state_dict, trainable_state_dict
from moviegen.text.interface import TextEmbeddings
from moviegen.text.prompt import CameraMotion
from moviegen.text.stack import TextStack


class TextToVideo(nn.Module):
    """Text stack + DiT. ``forward`` is the velocity field ``u(x_t, t | text)``.

    Args:
        cfg: the video config (its ``tae`` part is not built here).
        text_dir: where pretrained text encoders live (see :meth:`TextStack.from_config`); None for the embedded
            default (MiniLM from its wheel, byte encoders built fresh).
    """

    def __init__(self, cfg: MovieGenVideoConfig, *, text_dir: str | Path | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextStack.from_config(cfg.text, dim=cfg.dit.dim, text_dir=text_dir)
        self.dit = DiT(cfg.dit)

    def init_weights(self) -> None:
        """Initialise the transformer (the text projections are initialised when the stack is built)."""
        self.dit.init_weights()

    def encode_text(
        self,
        prompts: Sequence[str],
        *,
        fps: int | Sequence[int | None] | None = None,
        camera_motion: CameraMotion | str | Sequence[CameraMotion | str | None] | None = None,
    ) -> TextEmbeddings:
        """Prompts to the cross-attention context (see :meth:`TextStack.encode`)."""
        return self.text.encode(prompts, fps=fps, camera_motion=camera_motion)

    def forward(self, latent_BCTHW: torch.Tensor, *, t_B: torch.Tensor, text: TextEmbeddings) -> torch.Tensor:
        """Velocity for noisy latents ``latent_BCTHW`` at times ``t_B`` given the text context."""
        return self.dit(latent_BCTHW, t_B=t_B, text_BSD=text.tokens_BSD, text_mask_BS=text.mask_BS)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights we train and ship: everything except frozen pretrained encoders (loaded from their own files)."""
        return trainable_state_dict(self)

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load :meth:`trainable_state_dict` output; missing or unexpected keys raise ValueError naming them."""
        load_trainable_state_dict(self, state, what="the video model")
