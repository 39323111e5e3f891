"""Movie Gen Audio's training-time condition dropout and audio-context masks (SPEC 8.3), as pure samplers.

* All conditions are dropped together with probability 0.2; otherwise text and video are each dropped with
  probability 0.1 (classifier-free guidance learns from these).
* The audio context is fully masked with probability 0.5 (plain generation); otherwise 75-100% of it is masked. The
  masked part is one span at a uniformly random offset, so the known audio is a prefix, a suffix or both: extension
  backwards, forwards, and infilling are all trained [inferred: the paper gives the fractions, not the mask shape].
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True, kw_only=True)
class AudioDropoutConfig:
    """The paper's probabilities (SPEC 8.3)."""

    p_all: float = 0.2
    p_text: float = 0.1
    p_video: float = 0.1
    p_context_full_mask: float = 0.5
    min_masked_fraction: float = 0.75

    def __post_init__(self) -> None:
        for name in ("p_all", "p_text", "p_video", "p_context_full_mask", "min_masked_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def sample_condition_keep(
    batch: int, *, cfg: AudioDropoutConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(keep_text_B, keep_video_B)`` booleans: False where the condition is dropped."""
    u_B3 = torch.rand(batch, 3, generator=generator)
    keep_all = u_B3[:, 0] >= cfg.p_all
    return keep_all & (u_B3[:, 1] >= cfg.p_text), keep_all & (u_B3[:, 2] >= cfg.p_video)


def sample_known_frames(
    length: int, batch: int, *, cfg: AudioDropoutConfig, generator: torch.Generator
) -> torch.Tensor:
    """``known_BL``: True on context frames. At least one frame of every row is masked (something to generate)."""
    u_B3 = torch.rand(batch, 3, generator=generator)
    known_BL = torch.zeros(batch, length, dtype=torch.bool)
    positions_L = torch.arange(length)
    for b in range(batch):
        if u_B3[b, 0] < cfg.p_context_full_mask:
            continue
        fraction = cfg.min_masked_fraction + (1 - cfg.min_masked_fraction) * float(u_B3[b, 1])
        masked = max(1, min(length, round(fraction * length)))
        offset = int(float(u_B3[b, 2]) * (length - masked + 1))
        known_BL[b] = (positions_L < offset) | (positions_L >= offset + masked)
    return known_BL
