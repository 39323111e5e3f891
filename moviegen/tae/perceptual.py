"""LPIPS-style perceptual loss over a small VGG-style network (SPEC 1.2: the TAE's "perceptual" term).

The paper (and S1) use LPIPS, whose VGG16 + linear-head weights would have to be downloaded. This module implements
the same distance (Zhang et al. 2018): per layer, unit-normalise each pixel's feature vector over channels, take the
squared difference, weight channels, average over space and sum over layers. The network is a small VGG-style stack
(two 3x3 conv + ReLU per stage, 2x max-pool between stages).

Two ways to get weights:

* default: random weights drawn from a fixed seed (He-normal convs, unit channel weights), reproducible anywhere from
  the seed alone, with no weight file. Random-feature perceptual losses are a known, weaker-but-useful baseline: deep
  features of random conv nets already correlate with perceptual similarity far better than pixel losses (Zhang et al.
  2018, "random" rows of their Table; Ulyanov et al. 2018, deep image prior), but a trained network is better;
* :meth:`PerceptualLoss.load_weights`: trained weights (network and channel weights) from a safetensors file written
  by :meth:`PerceptualLoss.save_weights`, so that a trained network can be shipped later.

The network is frozen (no parameter requires grad); gradients flow to the inputs only. Videos are scored frame by
frame; ``N`` in this file is the folded batch of frames (not heads).
"""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors.torch import load_file, save_file
from torch import nn

# VGG-style widths per stage [inferred: a quarter of VGG16's first four stages, cheap enough for every frame].
DEFAULT_STAGE_CHANNELS = (16, 32, 64, 128)
CONVS_PER_STAGE = 2
DEFAULT_SEED = 0
_NORM_EPS = 1e-10  # LPIPS normalize_tensor epsilon


class PerceptualLoss(nn.Module):
    """Frozen LPIPS-style distance between two videos in [-1, 1], averaged over frames.

    Args:
        in_channels: pixel channels.
        stage_channels: conv width per stage; one feature map per stage enters the distance.
        seed: seed of the random default weights (see the module docstring).

    Raises:
        ValueError: for empty or non-positive widths.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        stage_channels: tuple[int, ...] = DEFAULT_STAGE_CHANNELS,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__()
        if not stage_channels or min(stage_channels) < 1:
            raise ValueError(f"stage_channels must be non-empty positive widths, got {stage_channels!r}")
        self.seed = seed
        self.stages = nn.ModuleList()
        width = in_channels
        for out_width in stage_channels:
            layers: list[nn.Module] = []
            for _ in range(CONVS_PER_STAGE):
                layers += [nn.Conv2d(width, out_width, 3, padding=1), nn.ReLU()]
                width = out_width
            self.stages.append(nn.Sequential(*layers))
        # LPIPS "lin" layers: non-negative per-channel weights of the squared feature difference.
        self.channel_weights = nn.ParameterList(nn.Parameter(torch.empty(c)) for c in stage_channels)
        self.init_weights()
        self.requires_grad_(False)

    @torch.no_grad()
    def init_weights(self) -> None:
        """Draw the random default weights from ``self.seed`` on a private CPU generator (device-independent)."""
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        for module in self.stages.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                weight = torch.randn(module.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in)  # He
                module.weight.copy_(weight)
                module.bias.zero_()
        for weights in self.channel_weights:
            weights.fill_(1.0)

    def save_weights(self, path: str | Path) -> None:
        """Write the network and channel weights to a safetensors file."""
        save_file({key: value.detach().cpu().contiguous() for key, value in self.state_dict().items()}, str(path))

    def load_weights(self, path: str | Path) -> None:
        """Load trained weights written by :meth:`save_weights` (or converted to the same keys).

        Raises:
            ValueError: if the file's keys or shapes do not match this network.
        """
        state = load_file(str(path))
        own = self.state_dict()
        if set(state) != set(own):
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            raise ValueError(f"perceptual weights in {path} do not match: missing {missing}, unexpected {unexpected}")
        for key, value in state.items():
            if value.shape != own[key].shape:
                raise ValueError(f"{key}: expected shape {tuple(own[key].shape)}, got {tuple(value.shape)} in {path}")
        self.load_state_dict(state)

    def features(self, frames_NCHW: torch.Tensor) -> list[torch.Tensor]:
        """Feature map after every stage (max-pool 2x before every stage but the first)."""
        feats, x = [], frames_NCHW
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            feats.append(x)
        return feats

    def forward(self, pred_BCTHW: torch.Tensor, *, target_BCTHW: torch.Tensor) -> torch.Tensor:
        """Mean over frames of the LPIPS-style distance; 0 for identical inputs, > 0 otherwise.

        Raises:
            ValueError: if the two videos differ in shape.
        """
        if pred_BCTHW.shape != target_BCTHW.shape:
            raise ValueError(f"shapes differ: {tuple(pred_BCTHW.shape)} vs {tuple(target_BCTHW.shape)}")
        # One pass over both videos, frames folded into the batch.
        both_NCHW = rearrange(torch.stack([pred_BCTHW, target_BCTHW]), "p b c t h w -> (p b t) c h w")
        # fp32 island: the normalisation divides by small feature norms.
        distance = both_NCHW.new_zeros((), dtype=torch.float32)
        for feat, weights in zip(self.features(both_NCHW), self.channel_weights, strict=True):
            feat = feat.float()
            feat = feat / (feat.norm(dim=1, keepdim=True) + _NORM_EPS)
            pred_feat, target_feat = feat.chunk(2)
            squared = (pred_feat - target_feat) ** 2  # [N, C, h, w]
            distance = distance + torch.einsum("nchw,c->nhw", squared, weights.float()).mean()
        return distance
