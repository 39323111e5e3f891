"""Temporal tiling for long clips (SPEC 1.3).

* Encoding splits the video into non-overlapping tiles of ``tile_frames`` (default 32 RGB frames = 4 latent frames)
  and concatenates the tile latents; ``tile_frames`` must be a multiple of the temporal compression so tiles end on
  latent-frame boundaries. The last tile may be shorter, so the latent has ``ceil(T / tc)`` frames as without tiling.
* Decoding uses overlapping latent tiles (default 4 latent frames, overlap 2 = 16 RGB frames). In each overlap the
  weight of tile k falls linearly from 1 to 0 while tile k+1's rises from 0 to 1, so the weights sum to 1 at every
  frame. Tiles are decoded one at a time and accumulated into a preallocated output, so memory beyond the output
  buffer does not grow with the clip length.

Both functions are inference-only (they run under ``torch.no_grad()``).
"""

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from moviegen.tae.model import TAEEncoderOutput, TemporalAutoencoder

DEFAULT_TILE_FRAMES = 32  # SPEC 1.3: 32 RGB frames per encoder tile, no overlap
DEFAULT_TILE_LATENT_FRAMES = 4  # SPEC 1.3: 4 latent frames (32 RGB frames) per decoder tile
DEFAULT_OVERLAP_LATENT_FRAMES = 2  # SPEC 1.3: 2 latent frames (16 RGB frames) of decoder overlap


@dataclass(frozen=True)
class DecodeTile:
    """One decoder tile: latent frames ``[latent_start, latent_end)`` -> output frames ``[frame_start, frame_end)``.

    ``weight_T`` (length ``frame_end - frame_start``) multiplies the tile's frames before they are summed.
    """

    latent_start: int
    latent_end: int
    frame_start: int
    frame_end: int
    weight_T: torch.Tensor


def _linear_ramp(length: int) -> torch.Tensor:
    """Rising weights ``(i + 1) / (length + 1)``, strictly inside (0, 1); ``1 - ramp`` is the falling partner."""
    return torch.arange(1, length + 1, dtype=torch.float32) / (length + 1)


def plan_decode_tiles(
    *,
    num_latent_frames: int,
    num_frames: int,
    temporal_compression: int,
    tile_latent_frames: int = DEFAULT_TILE_LATENT_FRAMES,
    overlap_latent_frames: int = DEFAULT_OVERLAP_LATENT_FRAMES,
) -> list[DecodeTile]:
    """Tiles and blend weights for decoding ``num_latent_frames`` latent frames into ``num_frames`` frames.

    Tiles start every ``tile_latent_frames - overlap_latent_frames`` latent frames until one reaches the end; the last
    one is cropped to ``num_frames``. Latent frame ``j`` covers output frames ``[tc * j, tc * (j + 1))``.

    Raises:
        ValueError: for a tile < 1, an overlap outside ``[0, tile / 2]``, or a ``num_frames`` that does not match.
    """
    tc = temporal_compression
    if tile_latent_frames < 1:
        raise ValueError(f"tile_latent_frames must be >= 1, got {tile_latent_frames}")
    # At most half a tile of overlap: every frame is then covered by at most two tiles and the two ramps cross-fade.
    if not 0 <= 2 * overlap_latent_frames <= tile_latent_frames:
        raise ValueError(
            f"overlap_latent_frames must be in [0, tile_latent_frames / 2] = [0, {tile_latent_frames / 2:g}], "
            f"got {overlap_latent_frames}"
        )
    if num_latent_frames < 1 or not tc * (num_latent_frames - 1) < num_frames <= tc * num_latent_frames:
        raise ValueError(
            f"num_frames={num_frames} does not match {num_latent_frames} latent frames with temporal compression {tc}"
        )
    stride = tile_latent_frames - overlap_latent_frames
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + tile_latent_frames, num_latent_frames)
        spans.append((start, end))
        if end == num_latent_frames:
            break
        start += stride
    tiles = []
    for k, (start, end) in enumerate(spans):
        frame_start, frame_end = tc * start, min(tc * end, num_frames)
        weight_T = torch.ones(frame_end - frame_start)
        if k > 0:  # rising ramp over the overlap with the previous tile
            overlap = tc * (spans[k - 1][1] - start)
            weight_T[:overlap] = _linear_ramp(overlap)
        if k < len(spans) - 1:  # falling ramp over the overlap with the next tile
            overlap = tc * (end - spans[k + 1][0])
            weight_T[frame_end - frame_start - overlap :] = 1.0 - _linear_ramp(overlap)
        tiles.append(DecodeTile(start, end, frame_start, frame_end, weight_T))
    return tiles


@torch.no_grad()
def encode_tiled(
    tae: TemporalAutoencoder,
    video_BCTHW: torch.Tensor,
    *,
    tile_frames: int = DEFAULT_TILE_FRAMES,
    sample: bool = False,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> TAEEncoderOutput:
    """Encode a long clip in non-overlapping tiles of ``tile_frames`` frames (SPEC 1.3).

    Args:
        tae: the autoencoder.
        video_BCTHW: pixels in [-1, 1], any length.
        tile_frames: frames per tile, a positive multiple of ``tae.cfg.temporal_compression``.
        sample: sample the posterior (default: return its mean as the latent).
        generator: RNG for sampling.
        progress: show a tqdm progress bar.

    Returns:
        The concatenated posterior, ``ceil(T / temporal_compression)`` latent frames.

    Raises:
        ValueError: for a bad ``tile_frames`` (or a bad video, from ``tae.encode``).
    """
    tc = tae.cfg.temporal_compression
    if tile_frames < 1 or tile_frames % tc:
        raise ValueError(f"tile_frames must be a positive multiple of the temporal compression {tc}, got {tile_frames}")
    if video_BCTHW.ndim != 5:
        raise ValueError(f"video must be 5-D [B, C, T, H, W], got shape {tuple(video_BCTHW.shape)}")
    starts = range(0, video_BCTHW.shape[2], tile_frames)
    outputs = [
        tae.encode(video_BCTHW[:, :, start : start + tile_frames], sample=sample, generator=generator)
        for start in tqdm(starts, desc="TAE encode", disable=not progress)
    ]
    return TAEEncoderOutput(
        latent_BCTHW=torch.cat([o.latent_BCTHW for o in outputs], dim=2),
        posterior_mean_BCTHW=torch.cat([o.posterior_mean_BCTHW for o in outputs], dim=2),
        posterior_logvar_BCTHW=torch.cat([o.posterior_logvar_BCTHW for o in outputs], dim=2),
    )


@torch.no_grad()
def decode_tiled(
    tae: TemporalAutoencoder,
    latent_BCTHW: torch.Tensor,
    *,
    tile_latent_frames: int = DEFAULT_TILE_LATENT_FRAMES,
    overlap_latent_frames: int = DEFAULT_OVERLAP_LATENT_FRAMES,
    num_frames: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Decode a long latent in overlapping tiles blended with linear ramps (SPEC 1.3).

    Args:
        tae: the autoencoder.
        latent_BCTHW: latent clip.
        tile_latent_frames: latent frames per tile (default 4 = 32 RGB frames).
        overlap_latent_frames: latent frames shared by consecutive tiles (default 2 = 16 RGB frames), at most half
            a tile.
        num_frames: output length, as in ``TemporalAutoencoder.decode`` (default ``tc * T_latent``).
        progress: show a tqdm progress bar.

    Returns:
        ``[B, C_in, num_frames, H, W]`` pixels, in the latent's dtype.

    Raises:
        ValueError: for bad tile / overlap sizes, a mismatched ``num_frames``, or a malformed latent.
    """
    if latent_BCTHW.ndim != 5:
        raise ValueError(f"latent must be 5-D [B, C, T, h, w], got shape {tuple(latent_BCTHW.shape)}")
    cfg = tae.cfg
    b, _, num_latent_frames, h, w = latent_BCTHW.shape
    num_frames = cfg.temporal_compression * num_latent_frames if num_frames is None else num_frames
    tiles = plan_decode_tiles(
        num_latent_frames=num_latent_frames,
        num_frames=num_frames,
        temporal_compression=cfg.temporal_compression,
        tile_latent_frames=tile_latent_frames,
        overlap_latent_frames=overlap_latent_frames,
    )
    s = cfg.spatial_compression
    video_BCTHW = latent_BCTHW.new_zeros((b, cfg.in_channels, num_frames, h * s, w * s))
    for tile in tqdm(tiles, desc="TAE decode", disable=not progress):
        frames_BCTHW = tae.decode(
            latent_BCTHW[:, :, tile.latent_start : tile.latent_end], num_frames=tile.frame_end - tile.frame_start
        )
        weight = tile.weight_T.to(device=frames_BCTHW.device, dtype=frames_BCTHW.dtype)[:, None, None]
        video_BCTHW[:, :, tile.frame_start : tile.frame_end] += frames_BCTHW.mul_(weight)
    return video_BCTHW
