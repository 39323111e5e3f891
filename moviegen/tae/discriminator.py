"""PatchGAN discriminator for the TAE's adversarial term (SPEC 1.2), applied frame by frame.

The architecture is pix2pix's ``NLayerDiscriminator`` (Isola et al. 2017) as used by the latent-diffusion autoencoder
(taming-transformers): 4x4 convs, stride 2 for the first ``num_layers``, LeakyReLU 0.2, one logit per patch. The
paper only says "adversarial/discriminator" loss; a per-frame 2D discriminator is S1's choice [inferred, S1].
BatchNorm is replaced by GroupNorm [inferred] so that logits do not depend on the other frames in the batch.
``N`` in this file is the folded batch of frames ``B * T`` (not heads).
"""

import torch
from einops import rearrange
from torch import nn

_LEAKY_SLOPE = 0.2
_KERNEL, _PADDING = 4, 1
_MAX_GROUPS = 32
_INIT_STD = 0.02  # taming-transformers weights_init


def _num_groups(channels: int) -> int:
    groups = min(_MAX_GROUPS, channels)
    while channels % groups:
        groups -= 1
    return groups


class PatchDiscriminator(nn.Module):
    """Per-frame PatchGAN: ``[B, C, T, H, W]`` video -> ``[B, 1, T, h, w]`` patch logits.

    Args:
        in_channels: pixel channels.
        base_channels: width of the first conv (doubles per layer, capped at 8x).
        num_layers: number of stride-2 convs (receptive field grows with it); frames must be at least
            ``3 * 2 ** num_layers`` pixels on a side to produce a logit map.

    Raises:
        ValueError: for non-positive sizes.
    """

    def __init__(self, *, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or base_channels < 1 or num_layers < 1:
            raise ValueError(
                f"in_channels, base_channels and num_layers must be >= 1, got {in_channels}, {base_channels}, "
                f"{num_layers}"
            )
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, _KERNEL, stride=2, padding=_PADDING),
            nn.LeakyReLU(_LEAKY_SLOPE),
        ]
        width = base_channels
        for n in range(1, num_layers + 1):
            out_width = base_channels * min(2**n, 8)
            stride = 2 if n < num_layers else 1
            layers += [
                nn.Conv2d(width, out_width, _KERNEL, stride=stride, padding=_PADDING, bias=False),
                nn.GroupNorm(_num_groups(out_width), out_width),
                nn.LeakyReLU(_LEAKY_SLOPE),
            ]
            width = out_width
        layers.append(nn.Conv2d(width, 1, _KERNEL, stride=1, padding=_PADDING))
        self.layers = nn.Sequential(*layers)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """taming-transformers init: conv weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=_INIT_STD)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.GroupNorm):
                nn.init.normal_(module.weight, mean=1.0, std=_INIT_STD)
                nn.init.zeros_(module.bias)

    def forward(self, video_BCTHW: torch.Tensor) -> torch.Tensor:
        b = video_BCTHW.shape[0]
        logits_NCHW = self.layers(rearrange(video_BCTHW, "b c t h w -> (b t) c h w"))
        return rearrange(logits_NCHW, "(b t) c h w -> b c t h w", b=b)
