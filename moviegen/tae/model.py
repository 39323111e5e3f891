"""Temporal AutoEncoder (TAE): an SD-style image VAE inflated to 2.5D (SPEC 1.1, 13).

Structure and parameter names mirror diffusers' ``AutoencoderKL`` (``encoder.down_blocks.{i}.resnets.{j}.conv1``,
``encoder.mid_block.attentions.0.to_q``, ``quant_conv``, ...) so that inflating an image autoencoder is an explicit
key mapping (``moviegen.tae.inflate``). On top of it:

* every 3x3 convolution is a :class:`~moviegen.nn.conv.Conv25d` (spatial conv per frame, then a kernel-3 temporal
  conv per pixel with symmetric replicate padding);
* every spatial attention is followed by a temporal attention (per pixel, over frames);
* the downsamplers of the levels flagged in ``TAEConfig.temporal_downsample`` also stride 2 in time, and the
  decoder's mirrored upsamplers repeat frames (nearest x2, as the paper; or interpolate linearly,
  ``TAEConfig.temporal_upsample``) before their convolution.

Frame-count rule. Encoding maps ``T`` frames to ``ceil(T / temporal_compression)`` latent frames (each stride-2 stage
maps ``T -> ceil(T / 2)``), so an image (``T = 1``) is one latent frame. Decoding takes the target ``num_frames``
(default ``temporal_compression * T_latent``) and, at each upsampling stage, repeats frames x2 and then crops to the
length the encoder had at that stage, dropping the spurious trailing frame when that length is odd (SPEC 1.1:
"spurious output frames are dropped"). Hence ``decode(encode(x).latent, num_frames=T)`` has exactly ``T`` frames for
every ``T`` and an image never grows in time.

Identity at init. ``init_weights`` sets every temporal conv to the centric identity and zeroes every temporal
attention's output projection, so the network acts frame by frame: a 1-frame video encodes exactly as the image VAE
would, latent frame ``k`` of a video is the image latent of input frame ``temporal_compression * k``, and each decoded
frame is the image VAE's decode of its latent frame.

All tensors are ``[B, C, T, H, W]``; pixels are in [-1, 1]. Letters redefined in this file: inside the attention
blocks ``N`` is a folded batch of sequences (frames or pixels) and ``L`` the sequence length (pixels of a frame or
frames of a pixel); in ``FrameGroupNorm`` ``N`` is ``B * T``.
"""

from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from moviegen.nn.conv import Conv25d, TemporalConv1d
from moviegen.tae.config import TAEConfig, TemporalUpsample

# diffusers' AutoencoderKL constants, kept so that inflated models match the image VAE exactly.
NORM_EPS = 1e-6  # GroupNorm epsilon of every ResNet, attention and output norm
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # clamp of the posterior log-variance (DiagonalGaussianDistribution)


@dataclass
class TAEEncoderOutput:
    """Posterior of :meth:`TemporalAutoencoder.encode`; ``latent_BCTHW`` is a sample (or the mean if not sampled)."""

    latent_BCTHW: torch.Tensor
    posterior_mean_BCTHW: torch.Tensor
    posterior_logvar_BCTHW: torch.Tensor


@dataclass
class TAEOutput:
    """Result of :meth:`TemporalAutoencoder.forward`: reconstruction plus the posterior that produced it."""

    reconstruction_BCTHW: torch.Tensor
    latent_BCTHW: torch.Tensor
    posterior_mean_BCTHW: torch.Tensor
    posterior_logvar_BCTHW: torch.Tensor


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm with statistics per frame (over channel groups, H and W), as the image VAE computes them."""

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        b, _, t, _, _ = x_BCTHW.shape
        # Folding T into the batch costs two copies but uses the fused kernel, which beats a var_mean over (C/G, H, W).
        x_NCHW = rearrange(x_BCTHW, "b c t h w -> (b t) c h w")
        x_NCHW = F.group_norm(x_NCHW, self.num_groups, self.weight, self.bias, self.eps)
        return rearrange(x_NCHW, "(b t) c h w -> b c t h w", b=b, t=t)


class AttentionAxis(Enum):
    """The axis an :class:`AttentionBlock` attends over."""

    SPACE = "space"  # over the H * W positions of each frame (the image VAE's mid-block attention)
    TIME = "time"  # over the T frames at each pixel (the temporal attention the TAE adds)


class AttentionBlock(nn.Module):
    """Single-head self-attention with GroupNorm in and a residual, diffusers' VAE mid-block attention.

    Names follow diffusers (``group_norm``, ``to_q``, ``to_k``, ``to_v``, ``to_out.0``). The temporal variant uses
    the same block over frames [inferred: S1 also mirrors the spatial block]; its output projection is zeroed by
    ``init_weights`` so that it starts as the identity. Its GroupNorm also takes statistics per frame, like every
    other norm of the TAE [inferred], so no statistic depends on the clip length or on how a clip is tiled.
    """

    def __init__(self, channels: int, *, norm_num_groups: int, axis: AttentionAxis) -> None:
        super().__init__()
        self.axis = axis
        self.group_norm = FrameGroupNorm(norm_num_groups, channels, eps=NORM_EPS)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x_BCTHW.shape
        # N sequences of length L: frames (space axis) or pixels (time axis).
        pattern = "b c t h w -> (b t) (h w) c" if self.axis is AttentionAxis.SPACE else "b c t h w -> (b h w) t c"
        x_NLC = rearrange(self.group_norm(x_BCTHW), pattern)
        q, k, v = self.to_q(x_NLC), self.to_k(x_NLC), self.to_v(x_NLC)
        out_NLC = self.to_out[0](F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0])
        if self.axis is AttentionAxis.SPACE:
            out_BCTHW = rearrange(out_NLC, "(b t) (h w) c -> b c t h w", b=b, h=h)
        else:
            out_BCTHW = rearrange(out_NLC, "(b h w) t c -> b c t h w", b=b, h=h, w=w)
        return x_BCTHW + out_BCTHW


class ResnetBlock(nn.Module):
    """diffusers ``ResnetBlock2D`` (norm1-silu-conv1-norm2-silu-conv2 + shortcut) with 2.5D convolutions."""

    def __init__(self, *, in_channels: int, out_channels: int, norm_num_groups: int) -> None:
        super().__init__()
        self.norm1 = FrameGroupNorm(norm_num_groups, in_channels, eps=NORM_EPS)
        self.conv1 = Conv25d(in_channels=in_channels, out_channels=out_channels)
        self.norm2 = FrameGroupNorm(norm_num_groups, out_channels, eps=NORM_EPS)
        self.conv2 = Conv25d(in_channels=out_channels, out_channels=out_channels)
        # 1x1 projection when the width changes (pointwise: no temporal conv, see Conv25d).
        self.conv_shortcut = (
            Conv25d(in_channels=in_channels, out_channels=out_channels, kernel_size=1, padding=0, temporal=False)
            if in_channels != out_channels
            else None
        )

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        h_BCTHW = self.conv1(F.silu(self.norm1(x_BCTHW)))
        h_BCTHW = self.conv2(F.silu(self.norm2(h_BCTHW)))
        if self.conv_shortcut is not None:
            x_BCTHW = self.conv_shortcut(x_BCTHW)
        return x_BCTHW + h_BCTHW


class Downsample(nn.Module):
    """diffusers ``Downsample2D`` (pad right/bottom by 1, 3x3 conv stride 2), optionally also stride 2 in time."""

    def __init__(self, channels: int, *, temporal: bool) -> None:
        super().__init__()
        self.conv = Conv25d(
            in_channels=channels, out_channels=channels, stride=2, padding=0, temporal_stride=2 if temporal else 1
        )

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x_BCTHW, (0, 1, 0, 1)))  # [B, C, ceil(T/2) or T, H/2, W/2]


class Upsample(nn.Module):
    """diffusers ``Upsample2D`` (nearest x2, 3x3 conv), optionally also x2 in time (nearest as in the paper, or
    linear) cropped to a length."""

    def __init__(self, channels: int, *, temporal: bool, mode: TemporalUpsample = TemporalUpsample.NEAREST) -> None:
        super().__init__()
        self.temporal = temporal
        self.mode = mode
        self.conv = Conv25d(in_channels=channels, out_channels=channels)

    def forward(self, x_BCTHW: torch.Tensor, *, num_frames: int) -> torch.Tensor:
        if self.temporal and self.mode is TemporalUpsample.LINEAR:
            # Time first (frames 2i and 2i+1 sit at i - 1/4 and i + 1/4; the ends held), then the spatial nearest x2.
            x_BCTHW = F.interpolate(x_BCTHW, scale_factor=(2, 1, 1), mode="trilinear", align_corners=False)
            x_BCTHW = F.interpolate(x_BCTHW, scale_factor=(1, 2, 2), mode="nearest")
        else:
            time_scale = 2 if self.temporal else 1
            x_BCTHW = F.interpolate(x_BCTHW, scale_factor=(time_scale, 2, 2), mode="nearest")
        # Crop to the encoder's length at this stage: an odd length drops the spurious last frame (SPEC 1.1).
        return self.conv(x_BCTHW[:, :, :num_frames])


class MidBlock(nn.Module):
    """ResNet, then (spatial attention, temporal attention, ResNet); diffusers ``UNetMidBlock2D`` plus time."""

    def __init__(self, channels: int, *, norm_num_groups: int, temporal_attention: bool) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock(in_channels=channels, out_channels=channels, norm_num_groups=norm_num_groups) for _ in range(2)
        )
        self.attentions = nn.ModuleList(
            [AttentionBlock(channels, norm_num_groups=norm_num_groups, axis=AttentionAxis.SPACE)]
        )
        self.temporal_attentions = (
            nn.ModuleList([AttentionBlock(channels, norm_num_groups=norm_num_groups, axis=AttentionAxis.TIME)])
            if temporal_attention
            else None
        )

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        x_BCTHW = self.resnets[0](x_BCTHW)
        x_BCTHW = self.attentions[0](x_BCTHW)
        if self.temporal_attentions is not None:
            x_BCTHW = self.temporal_attentions[0](x_BCTHW)
        return self.resnets[1](x_BCTHW)


class DownBlock(nn.Module):
    """diffusers ``DownEncoderBlock2D``: ResNets, then (except on the last level) the downsampler."""

    def __init__(self, *, in_channels: int, out_channels: int, cfg: TAEConfig, level: int) -> None:
        super().__init__()
        groups = cfg.norm_num_groups
        self.resnets = nn.ModuleList(
            ResnetBlock(
                in_channels=in_channels if j == 0 else out_channels, out_channels=out_channels, norm_num_groups=groups
            )
            for j in range(cfg.layers_per_block)
        )
        is_last = level == len(cfg.block_out_channels) - 1
        self.downsamplers = (
            None if is_last else nn.ModuleList([Downsample(out_channels, temporal=cfg.temporal_downsample[level])])
        )

    def forward(self, x_BCTHW: torch.Tensor) -> torch.Tensor:
        for resnet in self.resnets:
            x_BCTHW = resnet(x_BCTHW)
        if self.downsamplers is not None:
            x_BCTHW = self.downsamplers[0](x_BCTHW)
        return x_BCTHW


class UpBlock(nn.Module):
    """diffusers ``UpDecoderBlock2D``: one more ResNet than the encoder level, then (except last) the upsampler."""

    def __init__(self, *, in_channels: int, out_channels: int, cfg: TAEConfig, index: int) -> None:
        super().__init__()
        groups = cfg.decoder_norm_num_groups
        self.resnets = nn.ModuleList(
            ResnetBlock(
                in_channels=in_channels if j == 0 else out_channels, out_channels=out_channels, norm_num_groups=groups
            )
            for j in range(cfg.layers_per_block + 1)
        )
        num_levels = len(cfg.block_out_channels)
        # Up block i mirrors the downsampler of encoder level num_levels - 2 - i.
        self.upsamplers = (
            None
            if index == num_levels - 1
            else nn.ModuleList(
                [Upsample(out_channels, temporal=cfg.temporal_downsample[num_levels - 2 - index],
                          mode=cfg.temporal_upsample)]
            )
        )

    def forward(self, x_BCTHW: torch.Tensor, *, num_frames: int) -> torch.Tensor:
        for resnet in self.resnets:
            x_BCTHW = resnet(x_BCTHW)
        if self.upsamplers is not None:
            x_BCTHW = self.upsamplers[0](x_BCTHW, num_frames=num_frames)
        return x_BCTHW


class Encoder(nn.Module):
    """Pixels ``[B, C_in, T, H, W]`` -> posterior moments ``[B, 2 * C_latent, T', H/s, W/s]`` (before quant_conv)."""

    def __init__(self, cfg: TAEConfig) -> None:
        super().__init__()
        widths = cfg.block_out_channels
        self.conv_in = Conv25d(in_channels=cfg.in_channels, out_channels=widths[0])
        self.down_blocks = nn.ModuleList(
            DownBlock(in_channels=widths[max(i - 1, 0)], out_channels=widths[i], cfg=cfg, level=i)
            for i in range(len(widths))
        )
        self.mid_block = MidBlock(
            widths[-1], norm_num_groups=cfg.norm_num_groups, temporal_attention=cfg.use_temporal_attention
        )
        self.conv_norm_out = FrameGroupNorm(cfg.norm_num_groups, widths[-1], eps=NORM_EPS)
        self.conv_out = Conv25d(in_channels=widths[-1], out_channels=2 * cfg.latent_channels)

    def forward(self, video_BCTHW: torch.Tensor) -> torch.Tensor:
        x_BCTHW = self.conv_in(video_BCTHW)
        for block in self.down_blocks:
            x_BCTHW = block(x_BCTHW)
        x_BCTHW = self.mid_block(x_BCTHW)
        return self.conv_out(F.silu(self.conv_norm_out(x_BCTHW)))


class Decoder(nn.Module):
    """Latent ``[B, C_latent, T', h, w]`` -> pixels ``[B, C_in, T, h*s, w*s]`` (after post_quant_conv)."""

    def __init__(self, cfg: TAEConfig) -> None:
        super().__init__()
        widths = tuple(reversed(cfg.decoder_block_out_channels))
        groups = cfg.decoder_norm_num_groups
        self.conv_in = Conv25d(in_channels=cfg.latent_channels, out_channels=widths[0])
        self.mid_block = MidBlock(widths[0], norm_num_groups=groups, temporal_attention=cfg.use_temporal_attention)
        self.up_blocks = nn.ModuleList(
            UpBlock(in_channels=widths[max(i - 1, 0)], out_channels=widths[i], cfg=cfg, index=i)
            for i in range(len(widths))
        )
        self.conv_norm_out = FrameGroupNorm(groups, widths[-1], eps=NORM_EPS)
        self.conv_out = Conv25d(in_channels=widths[-1], out_channels=cfg.in_channels)

    def forward(self, latent_BCTHW: torch.Tensor, *, stage_num_frames: tuple[int, ...]) -> torch.Tensor:
        """``stage_num_frames`` is ``TAEConfig.stage_num_frames(num_frames)``, walked backwards by the up blocks."""
        # Frames after each up block: the encoder's lengths in reverse, the last block keeping the full length.
        block_num_frames = stage_num_frames[-2::-1] + stage_num_frames[:1]
        x_BCTHW = self.mid_block(self.conv_in(latent_BCTHW))
        for block, num_frames in zip(self.up_blocks, block_num_frames, strict=True):
            x_BCTHW = block(x_BCTHW, num_frames=num_frames)
        return self.conv_out(F.silu(self.conv_norm_out(x_BCTHW)))


class TemporalAutoencoder(nn.Module):
    """The Movie Gen TAE: 2.5D VAE with ``spatial_compression`` x ``temporal_compression`` compression.

    See the module docstring for the frame-count rule and the identity-at-init property. Build on the meta device,
    ``to_empty`` and call :meth:`init_weights` (the constructor also calls it, so a CPU-built model is usable).

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: TAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        moments, latent = 2 * cfg.latent_channels, cfg.latent_channels
        self.encoder = Encoder(cfg)
        self.quant_conv = Conv25d(in_channels=moments, out_channels=moments, kernel_size=1, padding=0, temporal=False)
        self.post_quant_conv = Conv25d(
            in_channels=latent, out_channels=latent, kernel_size=1, padding=0, temporal=False
        )
        self.decoder = Decoder(cfg)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Every initialisation rule of the TAE.

        * spatial convs, linears: PyTorch defaults (what an image VAE trained from scratch uses); inflation then
          overwrites them with pretrained weights;
        * GroupNorm: weight 1, bias 0;
        * temporal convs: centric identity (SPEC 1.1 [inferred, S1]);
        * temporal attention: zero output projection, so the residual block is the identity.
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.GroupNorm)):
                module.reset_parameters()
            elif isinstance(module, TemporalConv1d):
                module.init_identity()
        for module in self.modules():
            if isinstance(module, AttentionBlock) and module.axis is AttentionAxis.TIME:
                nn.init.zeros_(module.to_out[0].weight)
                nn.init.zeros_(module.to_out[0].bias)

    def _check_video(self, video_BCTHW: torch.Tensor) -> None:
        cfg, s = self.cfg, self.cfg.spatial_compression
        shape = tuple(video_BCTHW.shape)
        if video_BCTHW.ndim != 5:
            raise ValueError(f"video must be 5-D [B, C, T, H, W], got shape {shape}")
        if shape[1] != cfg.in_channels:
            raise ValueError(f"video must have {cfg.in_channels} channels (dim 1 of [B, C, T, H, W]), got {shape}")
        if shape[2] < 1 or shape[3] % s or shape[4] % s:
            raise ValueError(
                f"video frames must be >= 1 and H, W divisible by the spatial compression {s}, got shape {shape}"
            )

    def encode(
        self, video_BCTHW: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> TAEEncoderOutput:
        """Encode ``[B, C_in, T, H, W]`` pixels in [-1, 1] into the latent posterior.

        Args:
            video_BCTHW: any ``T >= 1``; ``H`` and ``W`` divisible by ``cfg.spatial_compression``.
            sample: draw ``latent = mean + std * eps``; ``False`` returns the mean (deterministic encode).
            generator: RNG for ``eps``.

        Returns:
            The posterior, with ``ceil(T / temporal_compression)`` latent frames.

        Raises:
            ValueError: for a wrong rank, channel count or spatial size.
        """
        self._check_video(video_BCTHW)
        moments_BCTHW = self.quant_conv(self.encoder(video_BCTHW))
        mean_BCTHW, logvar_BCTHW = moments_BCTHW.chunk(2, dim=1)
        logvar_BCTHW = logvar_BCTHW.clamp(LOGVAR_MIN, LOGVAR_MAX)
        latent_BCTHW = mean_BCTHW
        if sample:
            eps = torch.randn(
                mean_BCTHW.shape, generator=generator, device=mean_BCTHW.device, dtype=mean_BCTHW.dtype
            )
            latent_BCTHW = mean_BCTHW + torch.exp(0.5 * logvar_BCTHW) * eps
        return TAEEncoderOutput(
            latent_BCTHW=latent_BCTHW, posterior_mean_BCTHW=mean_BCTHW, posterior_logvar_BCTHW=logvar_BCTHW
        )

    def decode(self, latent_BCTHW: torch.Tensor, *, num_frames: int | None = None) -> torch.Tensor:
        """Decode ``[B, C_latent, T', h, w]`` latents into ``[B, C_in, num_frames, h * s, w * s]`` pixels.

        Args:
            latent_BCTHW: latent frames ``T' >= 1``.
            num_frames: output length; must encode to ``T'`` latent frames, i.e. lie in
                ``(tc * (T' - 1), tc * T']`` for temporal compression ``tc``. Defaults to ``tc * T'``. Pass the
                original ``T`` to invert :meth:`encode` (``1`` for images).

        Returns:
            The reconstruction, ``num_frames`` frames long.

        Raises:
            ValueError: for a wrong rank or channel count, or a ``num_frames`` incompatible with ``T'``.
        """
        cfg, shape = self.cfg, tuple(latent_BCTHW.shape)
        if latent_BCTHW.ndim != 5 or shape[1] != cfg.latent_channels or shape[2] < 1:
            raise ValueError(
                f"latent must be [B, {cfg.latent_channels}, T >= 1, h, w] (5-D, {cfg.latent_channels} channels), "
                f"got shape {shape}"
            )
        num_latent_frames, tc = shape[2], cfg.temporal_compression
        num_frames = tc * num_latent_frames if num_frames is None else num_frames
        if num_frames < 1 or cfg.latent_num_frames(num_frames) != num_latent_frames:
            raise ValueError(
                f"num_frames={num_frames} does not match a latent of {num_latent_frames} frames: with temporal "
                f"compression {tc} it must lie in ({tc * (num_latent_frames - 1)}, {tc * num_latent_frames}]"
            )
        return self.decoder(self.post_quant_conv(latent_BCTHW), stage_num_frames=cfg.stage_num_frames(num_frames))

    def forward(
        self, video_BCTHW: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> TAEOutput:
        """Encode, then decode back to the input length (the training step's forward)."""
        posterior = self.encode(video_BCTHW, sample=sample, generator=generator)
        reconstruction_BCTHW = self.decode(posterior.latent_BCTHW, num_frames=video_BCTHW.shape[2])
        return TAEOutput(
            reconstruction_BCTHW=reconstruction_BCTHW,
            latent_BCTHW=posterior.latent_BCTHW,
            posterior_mean_BCTHW=posterior.posterior_mean_BCTHW,
            posterior_logvar_BCTHW=posterior.posterior_logvar_BCTHW,
        )
