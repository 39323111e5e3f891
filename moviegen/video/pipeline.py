"""Text-to-video and text-to-image sampling with Movie Gen Video (SPEC 3.3), as plain as FLUX's ``denoise``.

:meth:`VideoPipeline.generate` does, for one prompt:

1. check the request once (:meth:`VideoPipeline.check_inputs`, diffusers-style: ``ValueError`` echoing the bad value);
2. encode ``[prompt]`` and ``[negative_prompt]`` with the same FPS token and camera label, stacked conditional row
   first (:meth:`TextEmbeddings.cat`) for classifier-free guidance; guidance 1 skips the unconditional branch;
3. draw the noise x0 of the latent shape from ``torch.Generator().manual_seed(seed)`` on the CPU (the same seed gives
   the same noise on every device);
4. integrate the guided velocity from t=0 (noise) to t=1 (data) over the inference t grid (:mod:`moviegen.flow`);
5. decode with the TAE to ``num_frames`` frames and convert to uint8 ``[T, H, W, 3]``.

Steps 1-4 are :meth:`VideoPipeline.latents` (the sampler study of ``moviegen eval`` compares final latents);
``generate`` adds step 5. An image is a 1-frame video. The flow maths (schedule, solver, guidance) stays in
:mod:`moviegen.flow`.
"""

import math
import numbers
import os
from typing import Any

import numpy as np
import torch
from einops import rearrange

from moviegen.configs.geometry import VideoGeometry
from moviegen.configs.presets import MovieGenVideoConfig
from moviegen.flow.guidance import guided_velocity_fn
from moviegen.flow.solver import ODESolver, StepCallback, VelocityFn, solve_ode
from moviegen.flow.timesteps import Schedule, inference_schedule
from moviegen.tae.model import TemporalAutoencoder
from moviegen.text.interface import TextEmbeddings
from moviegen.text.prompt import MAX_FPS, MIN_FPS, CameraMotion, parse_camera_motion
from moviegen.video.checkpoint import GenerationDefaults, load_video_checkpoint
from moviegen.video.model import TextToVideo

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed accepts 64-bit seeds; keep them non-negative and printable


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_generation_inputs(
    cfg: MovieGenVideoConfig,
    prompt: str,
    *,
    width: int,
    height: int,
    num_frames: int,
    fps: int | None,
    steps: int,
    schedule: Schedule,
    guidance_scale: float,
    seed: int | None = None,
    camera_motion: CameraMotion | str | None = None,
    negative_prompt: str = "",
    solver: ODESolver = ODESolver.EULER,
) -> VideoGeometry:
    """Validate a generation request against a model config (see :meth:`VideoPipeline.generate` for the arguments).

    Returns:
        The request's geometry (latent and token grids).

    Raises:
        ValueError: naming the bad value and what was expected.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    if not isinstance(negative_prompt, str):
        raise ValueError(f"negative_prompt must be a string ('' for none), got {negative_prompt!r}")
    for name, value in (("width", width), ("height", height), ("num_frames", num_frames), ("steps", steps)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if fps is not None and (not _is_int(fps) or not MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"fps must be an int in [{MIN_FPS}, {MAX_FPS}] (the FPS token's range) or None, got {fps!r}")
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a Schedule ({[s.value for s in Schedule]}), got {schedule!r}")
    if schedule is Schedule.LINEAR_QUADRATIC and steps < 2:
        raise ValueError(f"the linear-quadratic schedule needs steps >= 2, got {steps}; use the uniform schedule")
    if not isinstance(solver, ODESolver):
        raise ValueError(f"solver must be an ODESolver ({[s.value for s in ODESolver]}), got {solver!r}")
    if (
        not isinstance(guidance_scale, numbers.Real)
        or isinstance(guidance_scale, bool)
        or not math.isfinite(guidance_scale)
        or guidance_scale < 1
    ):
        raise ValueError(f"guidance_scale must be a finite number >= 1 (1 = no guidance), got {guidance_scale!r}")
    if seed is not None and (not _is_int(seed) or not 0 <= seed <= MAX_SEED):
        raise ValueError(f"seed must be an int in [0, {MAX_SEED}] or None (random), got {seed!r}")
    parse_camera_motion(camera_motion)  # raises ValueError listing the labels

    geometry = cfg.geometry(width=width, height=height, num_frames=num_frames)  # size rule, naming WxH
    (t, h, w), dit = geometry.token_grid, cfg.dit
    _, ph, pw = dit.patch_size
    s = cfg.tae.spatial_compression
    if h > dit.max_h or w > dit.max_w:
        raise ValueError(
            f"size {width}x{height} is beyond the model's positional tables: at most {dit.max_w * pw * s}x"
            f"{dit.max_h * ph * s} px (WIDTHxHEIGHT; token grid {w}x{h} > {dit.max_w}x{dit.max_h})"
        )
    if t > dit.max_t:
        max_frames = dit.max_t * dit.patch_size[0] * cfg.tae.temporal_compression
        duration = f" ({num_frames / fps:g} s at {fps} fps)" if fps is not None else ""
        limit = f" ({max_frames / fps:g} s)" if fps is not None else ""
        raise ValueError(
            f"num_frames={num_frames}{duration} gives {geometry.latent_grid[0]} latent frames, more than the "
            f"model's {dit.max_t}: at most {max_frames} frames{limit}"
        )
    return geometry


def frames_to_uint8(video_BCTHW: torch.Tensor) -> np.ndarray:
    """TAE output in [-1, 1] (batch of one) to uint8 RGB frames ``[T, H, W, 3]`` (values outside are clipped)."""
    if video_BCTHW.ndim != 5 or video_BCTHW.shape[0] != 1:
        raise ValueError(f"expected one video [1, C, T, H, W], got shape {tuple(video_BCTHW.shape)}")
    pixels_BCTHW = ((video_BCTHW.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return rearrange(pixels_BCTHW[0], "c t h w -> t h w c").cpu().numpy()


class VideoPipeline:
    """Sample videos and images from a TAE and a text-to-video network.

    Args:
        tae: the autoencoder whose latent space ``model`` generates in.
        model: the text-to-video network.
        cfg: the config both were built from.
        defaults: the generation defaults of the checkpoint (None when built in memory).
        card: the checkpoint's model card (empty when built in memory).
    """

    def __init__(
        self,
        tae: TemporalAutoencoder,
        model: TextToVideo,
        cfg: MovieGenVideoConfig,
        *,
        defaults: GenerationDefaults | None = None,
        card: dict[str, Any] | None = None,
    ) -> None:
        if tae.cfg != cfg.tae or model.cfg.with_architecture_of(cfg.tae) != cfg:  # the TAE may be another phase's
            raise ValueError(
                "VideoPipeline: tae.cfg must be the cfg's TAE and model.cfg the cfg (up to the TAE's "
                "architecture fields)"
            )
        self.tae = tae.eval()
        self.model = model.eval()
        self.cfg = cfg
        self.defaults = defaults
        self.card = {} if card is None else card

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, device: torch.device | str = "cpu") -> "VideoPipeline":
        """Load a checkpoint directory (see :mod:`moviegen.video.checkpoint`; raises ``CheckpointError``)."""
        loaded = load_video_checkpoint(path, device=device)
        return cls(loaded.tae, loaded.model, loaded.cfg, defaults=loaded.defaults, card=loaded.card)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_inputs(self, prompt: str, **request: Any) -> VideoGeometry:
        """Validate a request (the keyword arguments of :meth:`generate`); returns its geometry.

        Raises:
            ValueError: naming the bad value and what was expected.
        """
        request.pop("progress", None)
        return check_generation_inputs(self.cfg, prompt, **request)

    def _velocity_fn(self, text: TextEmbeddings) -> VelocityFn:
        """Bind the text context: ``(x, t_B) -> v``, the solver's contract."""

        def velocity_fn(x_BCTHW: torch.Tensor, t_B: torch.Tensor) -> torch.Tensor:
            return self.model(x_BCTHW, t_B=t_B, text=text)

        return velocity_fn

    @torch.inference_mode()
    def latents(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        num_frames: int,
        fps: int | None,
        steps: int = 50,
        schedule: Schedule = Schedule.LINEAR_QUADRATIC,
        guidance_scale: float = 7.5,
        seed: int | None = None,
        camera_motion: CameraMotion | str | None = None,
        negative_prompt: str = "",
        solver: ODESolver = ODESolver.EULER,
        progress: bool = True,
        step_callback: StepCallback | None = None,
    ) -> torch.Tensor:
        """Sample the final latent ``[1, C, T', H', W']`` (at t=1) for a prompt: :meth:`generate` without decoding.

        ``step_callback(i, t, x, v)`` sees every solver step (the guided velocity); the sampler study uses it to
        measure where the velocity field bends."""
        geometry = self.check_inputs(
            prompt,
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            steps=steps,
            schedule=schedule,
            guidance_scale=guidance_scale,
            seed=seed,
            camera_motion=camera_motion,
            negative_prompt=negative_prompt,
            solver=solver,
        )
        cond = self.model.encode_text([prompt], fps=fps, camera_motion=camera_motion)
        if guidance_scale == 1:
            # s = 1 is the conditional velocity exactly: skip the unconditional row (half the compute).
            velocity_fn = self._velocity_fn(cond)
        else:
            uncond = self.model.encode_text([negative_prompt], fps=fps, camera_motion=camera_motion)
            paired = TextEmbeddings.cat([cond, uncond])  # conditional row, then unconditional row
            velocity_fn = guided_velocity_fn(self._velocity_fn(paired), scale=guidance_scale)

        generator = torch.Generator()
        if seed is None:
            generator.seed()  # a nondeterministic seed
        else:
            generator.manual_seed(seed)
        x0_BCTHW = torch.randn((1, self.cfg.tae.latent_channels, *geometry.latent_grid), generator=generator)
        t_grid = inference_schedule(schedule, num_steps=steps)
        return solve_ode(velocity_fn, x0_BCTHW.to(self.device), t_grid=t_grid, solver=solver, progress=progress,
                         callback=step_callback)

    @torch.inference_mode()
    def decode(self, latent_BCTHW: torch.Tensor, *, num_frames: int) -> np.ndarray:
        """Decode a latent of one clip into ``num_frames`` uint8 RGB frames ``[T, H, W, 3]``."""
        latent_BCTHW = self.cfg.tae.denormalize_latent(latent_BCTHW)  # the transformer's space -> the TAE's
        return frames_to_uint8(self.tae.decode(latent_BCTHW, num_frames=num_frames))

    def generate(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        num_frames: int,
        fps: int | None,
        steps: int = 50,
        schedule: Schedule = Schedule.LINEAR_QUADRATIC,
        guidance_scale: float = 7.5,
        seed: int | None = None,
        camera_motion: CameraMotion | str | None = None,
        negative_prompt: str = "",
        solver: ODESolver = ODESolver.EULER,
        progress: bool = True,
    ) -> np.ndarray:
        """Generate a video (or, with ``num_frames=1``, an image) for one prompt.

        Args:
            prompt: what to show (non-empty).
            width: frame width in pixels (a multiple of the TAE compression times the patch size, e.g. 16).
            height: frame height in pixels (same rule).
            num_frames: frames of the clip (1 for an image); at most what the temporal position table covers.
            fps: frames per second, written into the prompt as the FPS token (SPEC 2.4); None for no token.
            steps: sampler steps.
            schedule: inference t grid (linear-quadratic needs steps >= 2).
            guidance_scale: classifier-free guidance scale (>= 1; 1 disables guidance and its extra batch row).
            seed: noise seed; the same seed gives the same output. None draws a random one.
            camera_motion: camera label prefixed to the prompt (e.g. ``"pan left"``), or None.
            negative_prompt: the unconditional prompt of guidance ("" as in training's text dropout).
            solver: ODE integration rule.
            progress: show a tqdm bar over the sampler steps.

        Returns:
            uint8 RGB frames ``[num_frames, height, width, 3]``.

        Raises:
            ValueError: for a bad request, naming the value (see :meth:`check_inputs`).
        """
        latent_BCTHW = self.latents(
            prompt,
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            steps=steps,
            schedule=schedule,
            guidance_scale=guidance_scale,
            seed=seed,
            camera_motion=camera_motion,
            negative_prompt=negative_prompt,
            solver=solver,
            progress=progress,
        )
        return self.decode(latent_BCTHW, num_frames=num_frames)
