"""Per-frame video features for Movie Gen Audio (SPEC 8.3), and their resampling to the audio latent rate.

Two extractors, both ``frames_BTCHW -> features_BTF`` (frames in [-1, 1] at ``frame_size``):

* :class:`FrameEncoder`, a small CNN trained with the audio transformer (the embedded default). Its last feature
  map is flattened, not pooled, so the feature keeps *where* things are: an impact is an object reaching the floor.
* :class:`CLIPFrameEncoder`, a frozen CLIP vision tower's image embedding per frame (the paper's long-prompt
  MetaCLIP, 1024-d), loaded from a local transformers directory.

:func:`resample_to_latent_rate` then holds each video frame's feature over the audio latent frames whose centres fall
in it (sample-and-hold by time, so a visual event lands on the audio frame that contains it).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from moviegen.audio.config import VideoFeatureConfig, VideoFeatureKind
from moviegen.text.encoders import check_encoder_dir, check_loading_info

CLIP_VISION_MODEL_TYPES = ("clip_vision_model", "clip")
# CLIP's input normalisation (OpenAI / MetaCLIP image statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def frames_to_model_input(frames_THWC: np.ndarray | torch.Tensor, *, size: int) -> torch.Tensor:
    """uint8 RGB frames ``[T, H, W, 3]`` to float ``[T, 3, size, size]`` in [-1, 1] (area resize; aspect squashed).

    Raises:
        ValueError: not a non-empty ``[T, H, W, 3]`` array.
    """
    frames = torch.as_tensor(frames_THWC)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be a non-empty [T, H, W, 3] array, got shape {tuple(frames.shape)}")
    x_TCHW = frames.permute(0, 3, 1, 2).float() / 127.5 - 1
    return F.interpolate(x_TCHW, size=(size, size), mode="area")


class FrameEncoder(nn.Module):
    """Stride-2 conv + SiLU stack, flattened, then a linear map to ``cfg.dim`` per frame."""

    def __init__(self, cfg: VideoFeatureConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = (3, *cfg.channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1) for c_in, c_out in zip(widths, widths[1:])
        )
        self.proj = nn.Linear(cfg.channels[-1] * cfg.grid**2, cfg.dim)

    def forward(self, frames_BTCHW: torch.Tensor) -> torch.Tensor:
        b, t = frames_BTCHW.shape[:2]
        x = frames_BTCHW.flatten(0, 1)  # [B*T, 3, S, S]
        for conv in self.convs:
            x = F.silu(conv(x))
        return self.proj(x.flatten(1)).view(b, t, -1)  # [B, T, F]

    def init_weights(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        self.proj.reset_parameters()


class OnsetHead(nn.Module):
    """Video features at the audio latent rate ``[B, L, F]`` -> onset logits ``[B, L]``: a kernel-5 temporal conv,
    SiLU, a pointwise conv. Trained to say on which latent frames a sound starts (a recipe's ``SyncConfig``), it makes
    the frame encoder carry the timing of visual events. The kernel spans 200 ms at 25 Hz: an impact shows in the
    frames around it (an object reaching the floor and leaving it), not in one frame."""

    def __init__(self, dim: int, *, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, channels, kernel_size=5, padding=2)
        self.out = nn.Conv1d(channels, 1, kernel_size=1)

    def forward(self, video_BLF: torch.Tensor) -> torch.Tensor:
        return self.out(F.silu(self.conv(video_BLF.transpose(1, 2))))[:, 0]

    def init_weights(self) -> None:
        self.conv.reset_parameters()
        self.out.reset_parameters()


class CLIPFrameEncoder(nn.Module):
    """A frozen CLIP vision tower: the projected image embedding of every frame (SPEC 8.3)."""

    def __init__(self, model: nn.Module, *, image_size: int) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, frames_BTCHW: torch.Tensor) -> torch.Tensor:
        b, t = frames_BTCHW.shape[:2]
        x = frames_BTCHW.flatten(0, 1).float()
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False)
        x = ((x + 1) / 2 - self.mean) / self.std  # [-1, 1] -> CLIP's normalised input
        embeds = self.model(pixel_values=x.to(next(self.model.parameters()).dtype)).image_embeds
        return embeds.float().view(b, t, -1)


def load_clip_frame_encoder(path: str | Path, *, cfg: VideoFeatureConfig) -> CLIPFrameEncoder:
    """Load a CLIP vision tower with projection (``CLIPVisionModelWithProjection``) from a local directory.

    Raises:
        FileNotFoundError: the directory, its config or weights are missing.
        ValueError: not a CLIP checkpoint, incomplete weights, or an embedding width other than ``cfg.dim``.
    """
    from transformers import CLIPVisionModelWithProjection

    path = Path(path)
    check_encoder_dir(
        path, expected_class="CLIPVisionModelWithProjection", model_types=CLIP_VISION_MODEL_TYPES, need_tokenizer=False
    )
    model, info = CLIPVisionModelWithProjection.from_pretrained(path, output_loading_info=True, local_files_only=True)
    check_loading_info(info, path=path, expected_class="CLIPVisionModelWithProjection")
    if model.config.projection_dim != cfg.dim:
        raise ValueError(
            f"{path}: CLIP image embeddings are {model.config.projection_dim}-d, the config expects {cfg.dim}"
        )
    return CLIPFrameEncoder(model, image_size=model.config.image_size)


def build_frame_encoder(cfg: VideoFeatureConfig, *, model_dir: str | Path | None = None) -> nn.Module:
    """The extractor ``cfg`` names: a fresh :class:`FrameEncoder`, or the CLIP tower under ``model_dir/cfg.name``.

    Raises:
        ValueError: CLIP features without a ``model_dir``.
    """
    if cfg.kind is VideoFeatureKind.FRAMES:
        return FrameEncoder(cfg)
    if model_dir is None:
        raise ValueError(f"CLIP video features need the directory holding {cfg.name!r} (model_dir=...)")
    return load_clip_frame_encoder(Path(model_dir) / str(cfg.name), cfg=cfg)


def latent_frame_sources(
    *, num_latent: int, frame_rate: float, fps: float, num_video: int, start: int = 0
) -> torch.Tensor:
    """For audio latent frames ``start .. start + num_latent - 1``, the index of the video frame their centre falls in.

    Latent frame j covers ``[j, j + 1) / frame_rate`` seconds; video frame i covers ``[i, i + 1) / fps``. Indices past
    the last video frame hold the last one.
    """
    centres = (torch.arange(start, start + num_latent, dtype=torch.float64) + 0.5) / frame_rate
    return (centres * fps).floor().long().clamp(0, num_video - 1)


def resample_to_latent_rate(
    features_BTF: torch.Tensor, *, fps: float, frame_rate: float, num_latent: int, start: int = 0
) -> torch.Tensor:
    """Video-rate features ``[B, T, F]`` to ``[B, num_latent, F]`` at the audio latent rate (sample-and-hold)."""
    index = latent_frame_sources(
        num_latent=num_latent, frame_rate=frame_rate, fps=fps, num_video=features_BTF.shape[1], start=start
    ).to(features_BTF.device)
    return features_BTF.index_select(1, index)
