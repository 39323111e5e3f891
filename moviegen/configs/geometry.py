"""Latent and token geometry of a video request (SPEC 5.3 and 13).

Pixels -> TAE latent (8x8x8 compression; frames ``T -> ceil(T / 8)``, so one frame stays one latent frame) -> tokens
(1x2x2 patchify). Example: 768x768 px, 16 s at 16 fps = 256 frames -> latent 32x96x96 -> tokens 32x48x48 = 73,728.
"""

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class VideoGeometry:
    """Sizes of one request at every stage of the stack; grids are (T, H, W)."""

    width: int
    height: int
    num_frames: int
    latent_grid: tuple[int, int, int]
    token_grid: tuple[int, int, int]

    @property
    def num_tokens(self) -> int:
        return math.prod(self.token_grid)

    def as_dict(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "latent_grid": list(self.latent_grid),
            "token_grid": list(self.token_grid),
            "num_tokens": self.num_tokens,
        }


def num_frames_for(*, seconds: float, fps: float) -> int:
    """Frames in a clip of ``seconds`` at ``fps`` (an image is 1 frame); at least 1."""
    if seconds < 0 or fps <= 0:
        raise ValueError(f"seconds must be >= 0 and fps > 0, got seconds={seconds}, fps={fps}")
    return max(1, round(seconds * fps))


def parse_size(text: str) -> tuple[int, int]:
    """``"768"`` -> (768, 768); ``"1024x576"`` -> (width 1024, height 576)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*]\s*(\d+))?\s*", text)
    if match is None:
        raise ValueError(f"size must be 'N' (square) or 'WIDTHxHEIGHT', e.g. 768 or 1024x576; got {text!r}")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) else width
    return width, height


def video_geometry(
    *,
    width: int,
    height: int,
    num_frames: int,
    spatial_compression: int,
    temporal_compression: int,
    patch_size: tuple[int, int, int],
) -> VideoGeometry:
    """Latent and token grids of a ``num_frames`` x ``height`` x ``width`` clip.

    Raises:
        ValueError: if the frame count is < 1 or height/width do not divide by compression * patch.
    """
    pt, ph, pw = patch_size
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    step_h, step_w = spatial_compression * ph, spatial_compression * pw
    if height < 1 or width < 1 or height % step_h or width % step_w:
        patch_note = f" * patch {ph}x{pw}" if (ph, pw) != (1, 1) else ""
        raise ValueError(
            f"height and width must be positive multiples of {step_h}x{step_w} (latent {spatial_compression}x"
            f"{patch_note}), got {width}x{height} (WIDTHxHEIGHT)"
        )
    latent_t = math.ceil(num_frames / temporal_compression)
    latent_grid = (latent_t, height // spatial_compression, width // spatial_compression)
    if latent_t % pt:
        raise ValueError(f"{latent_t} latent frames do not divide by the temporal patch {pt}")
    token_grid = (latent_t // pt, latent_grid[1] // ph, latent_grid[2] // pw)
    return VideoGeometry(
        width=width, height=height, num_frames=num_frames, latent_grid=latent_grid, token_grid=token_grid
    )
