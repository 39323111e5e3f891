"""2.5D convolutions: a 2D spatial convolution per frame followed by a 1D temporal convolution per pixel (SPEC 1.1).

The Movie Gen TAE is an image autoencoder "inflated" to video by adding a 1D temporal convolution after every 2D
spatial convolution. Temporal convolutions use symmetric replicate padding, and the temporal downsampling stages are
the same convolution with stride 2 (SPEC 1.1). Temporal layers start as the identity ("centric" init,
``w[i, i, center] = 1``, bias 0 [inferred, S1]) so that an inflated model first reproduces its image autoencoder.

Tensors are ``[B, C, T, H, W]`` throughout. Both parts run as ``conv3d`` with a degenerate kernel (``1 x k x k`` for
the spatial part, ``k x 1 x 1`` for the temporal part), which applies the 2D kernel to every frame and the 1D kernel to
every pixel without reshaping the activations (measured faster on CPU than folding frames or pixels into the batch).
The spatial weight keeps the ``nn.Conv2d`` layout ``[C_out, C_in, k, k]`` so that image-autoencoder checkpoints load
unchanged (``conv.weight`` -> ``conv.spatial.weight``).
"""

import torch
import torch.nn.functional as F
from torch import nn

# Kernel of every temporal convolution [inferred, S1 choice: kernel 3 with replicate padding 1 on each side].
TEMPORAL_KERNEL_SIZE = 3


def temporal_conv_num_frames(num_frames: int, *, stride: int) -> int:
    """Output length of a temporal conv with odd kernel k, replicate padding (k - 1) / 2 and the given stride.

    ``ceil(T / stride)``: with stride 2, one frame stays one frame and ``T`` frames become ``ceil(T / 2)``.
    """
    return -(-num_frames // stride)


class TemporalConv1d(nn.Module):
    """1D convolution over frames, applied independently at every pixel, with symmetric replicate padding.

    Args:
        channels: input and output channels (temporal layers never change the width, so identity init is possible).
        kernel_size: odd temporal kernel size; padding is ``(kernel_size - 1) / 2`` replicated frames on each side.
        stride: 1, or 2 for a temporal downsampling stage (``T -> ceil(T / 2)``; output frame ``k`` is centred on
            input frame ``2k``).

    Raises:
        ValueError: for a non-positive channel count, an even kernel or a stride other than 1 or 2.
    """

    def __init__(self, channels: int, *, kernel_size: int = TEMPORAL_KERNEL_SIZE, stride: int = 1) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"temporal kernel_size must be odd and >= 1 (symmetric padding), got {kernel_size}")
        if stride not in (1, 2):
            raise ValueError(f"temporal stride must be 1 or 2, got {stride}")
        self.kernel_size = kernel_size
        self.stride = stride
        # Conv1d layout [C_out, C_in, k]; Conv1d/Conv3d checkpoints of other 2.5D VAEs reshape to it directly.
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size))
        self.bias = nn.Parameter(torch.empty(channels))

    def init_identity(self) -> None:
        """Centric init: ``w[i, i, center] = 1`` and everything else 0, so the layer returns its input (stride 1) or
        every second frame starting at frame 0 (stride 2)."""
        with torch.no_grad():
            self.weight.zero_()
            center = self.kernel_size // 2
            self.weight[:, :, center].fill_diagonal_(1.0)
            self.bias.zero_()

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        pad = self.kernel_size // 2
        if pad:
            # F.pad pads the last dims first: (W_left, W_right, H_top, H_bottom, T_front, T_back).
            x_BCTHW = F.pad(x_BCTHW, (0, 0, 0, 0, pad, pad), mode="replicate")
        weight = self.weight[:, :, :, None, None]  # [C, C, k, 1, 1]
        return F.conv3d(x_BCTHW, weight, self.bias, stride=(self.stride, 1, 1))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, kernel_size={self.kernel_size}, stride={self.stride}, padding=replicate"


class Conv25d(nn.Module):
    """A 2D spatial convolution on every frame, then (optionally) a :class:`TemporalConv1d` on every pixel.

    Submodules are ``spatial`` (an ``nn.Conv2d`` used as a parameter holder, so its state-dict keys are those of the
    image model with ``.spatial`` inserted) and ``temporal`` (``None`` when ``temporal=False``).

    Args:
        in_channels: input channels.
        out_channels: output channels (also the width of the temporal conv).
        kernel_size: spatial kernel size.
        stride: spatial stride.
        padding: spatial zero padding on each side.
        temporal: add the temporal conv. Pointwise (1x1) channel projections use ``False``: they mix channels at a
            single position and are not spatial convolutions [inferred].
        temporal_stride: 1, or 2 for a temporal downsampling stage.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        temporal: bool = True,
        temporal_stride: int = 1,
    ) -> None:
        super().__init__()
        if temporal_stride != 1 and not temporal:
            raise ValueError(f"temporal_stride={temporal_stride} needs temporal=True")
        self.spatial = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.temporal = TemporalConv1d(out_channels, stride=temporal_stride) if temporal else None

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        conv = self.spatial
        x_BCTHW = F.conv3d(
            x_BCTHW,
            conv.weight[:, :, None],  # [C_out, C_in, 1, k, k]
            conv.bias,
            stride=(1, *conv.stride),
            padding=(0, *conv.padding),
        )
        if self.temporal is not None:
            x_BCTHW = self.temporal(x_BCTHW)
        return x_BCTHW
