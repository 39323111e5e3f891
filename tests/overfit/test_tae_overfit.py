"""Overfit test (STYLE 3.6 rule 31): a debug TAE with temporal downsampling memorises one fixed clip.

Trains ``tae_debug()`` (2x spatial, 2x temporal) with the full default objective (L1 + perceptual + KL + OPL) on one
1x3x8x16x16 batch with Adam, and requires the reconstruction term to fall below 10% of its initial value.
"""

import torch
import torch.nn.functional as F

from moviegen.tae import TAELoss, TAELossConfig, TemporalAutoencoder, tae_debug

MAX_STEPS = 300
TARGET_RATIO = 0.1
LEARNING_RATE = 2e-3


def _clip() -> torch.Tensor:
    """A smooth random 8-frame clip in [-1, 1] (low-resolution noise, trilinearly upsampled)."""
    gen = torch.Generator().manual_seed(1)
    coarse = torch.rand(1, 3, 4, 4, 4, generator=gen) * 2 - 1
    return F.interpolate(coarse, size=(8, 16, 16), mode="trilinear", align_corners=False)


def test_tae_debug_overfits_one_clip():
    torch.manual_seed(0)
    cfg = tae_debug()
    assert cfg.temporal_compression == 2
    tae = TemporalAutoencoder(cfg)
    loss_fn = TAELoss(TAELossConfig())
    optimizer = torch.optim.Adam(tae.parameters(), lr=LEARNING_RATE)
    video = _clip()
    initial = None
    history = []
    for _ in range(MAX_STEPS):
        output = tae(video, sample=False)
        terms = loss_fn(video_BCTHW=video, output=output)
        history.append(terms.reconstruction.item())
        initial = history[0] if initial is None else initial
        if history[-1] < TARGET_RATIO * initial:
            break
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
    assert torch.isfinite(torch.tensor(history)).all()
    assert history[-1] < TARGET_RATIO * initial, (
        f"reconstruction loss went {initial:.1f} -> {history[-1]:.1f} in {len(history)} steps "
        f"(min {min(history):.1f}); expected < {TARGET_RATIO:.0%} of the initial value"
    )
