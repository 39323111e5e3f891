"""Sound for a video, sound from text, and audio extension with Movie Gen Audio (SPEC 8.5), in plain steps:

1. check the request (:func:`check_audio_inputs`);
2. per-frame video features of the whole video, in chunks of frames, resampled to the 25 Hz latent frames (zeros
   when there is no video: text-to-audio);
3. the text (the user's prompt, or the checkpoint's default caption) and the empty text, for guidance;
4. the masked audio context: the audio being extended or infilled, encoded by the codec (nothing known otherwise);
5. from noise, the midpoint ODE (64 steps, guidance on text and video jointly at the checkpoint's scale: the paper's
   3, the shipped tiny model's 4; the unconditional branch has the empty text and zero video features); audio longer
   than a window by multi-diffusion or segment by segment (:mod:`moviegen.audio.long`);
6. decode in chunks (:meth:`DACVAE.decode_chunked`), so a minute of audio never sits in the decoder at once.

Memory is bounded by one window and one decode chunk whatever the length.
"""

import enum
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from moviegen.audio.checkpoint import AudioDefaults, load_audio_checkpoint
from moviegen.audio.codec import DACVAE
from moviegen.audio.features import frames_to_model_input, resample_to_latent_rate
from moviegen.audio.long import generate_autoregressive, multidiffusion_velocity
from moviegen.audio.model import AudioContext, MovieGenAudio
from moviegen.flow.guidance import cfg_combine
from moviegen.flow.solver import solve_ode
from moviegen.flow.timesteps import inference_schedule
from moviegen.text.interface import TextEmbeddings

MAX_SECONDS = 3600.0  # an hour: beyond it, a request is far more likely a typo than a wish
FEATURE_CHUNK_FRAMES = 256  # frames through the feature extractor at a time
DECODE_CHUNK_SECONDS, DECODE_OVERLAP_SECONDS = 10.0, 1.0


class LongMode(enum.Enum):
    """How audio longer than one window is made (SPEC 8.5)."""

    MULTIDIFFUSION = "multidiffusion"
    AUTOREGRESSIVE = "autoregressive"


@dataclass(frozen=True, kw_only=True)
class AudioRequest:
    """One generation.

    Attributes:
        seconds: length of the audio.
        frames_THWC: uint8 RGB frames of the video to score (any size), or None for text-to-audio.
        fps: the frames' rate (required with frames).
        prompt: the text; None uses the checkpoint's default caption ("" is the unconditional text).
        context_audio_N: known audio (mono, at the codec's rate), e.g. the start of a sound to extend; None if none.
        known_seconds: ``(start, end)`` intervals of ``context_audio_N`` that are known (default: all of it).
        steps: ODE steps (None: the checkpoint's).
        guidance_scale: classifier-free guidance (None: the checkpoint's).
        mode: how audio longer than one window is made.
        seed: noise seed.
    """

    seconds: float
    frames_THWC: np.ndarray | None = None
    fps: float | None = None
    prompt: str | None = None
    context_audio_N: np.ndarray | None = None
    known_seconds: tuple[tuple[float, float], ...] | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    mode: LongMode = LongMode.MULTIDIFFUSION
    seed: int = 0


def check_audio_inputs(request: AudioRequest, *, sample_rate: int) -> None:
    """Raise ValueError naming the bad value and what was expected."""
    s = request.seconds
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 < s <= MAX_SECONDS:
        raise ValueError(f"seconds must be a number in (0, {MAX_SECONDS:g}], got {s!r}")
    if request.frames_THWC is not None:
        f = request.frames_THWC
        if not isinstance(f, np.ndarray) or f.ndim != 4 or f.shape[-1] != 3 or f.shape[0] == 0 or f.dtype != np.uint8:
            shape = getattr(f, "shape", None)
            raise ValueError(f"frames must be a non-empty uint8 [T, H, W, 3] array, got {type(f).__name__} {shape}")
        if request.fps is None or not math.isfinite(request.fps) or request.fps <= 0:
            raise ValueError(f"fps must be > 0 when frames are given, got {request.fps!r}")
    if request.prompt is not None and not isinstance(request.prompt, str):
        raise ValueError(f"prompt must be a str or None, got {type(request.prompt).__name__}")
    if request.steps is not None and (isinstance(request.steps, bool) or request.steps < 1):
        raise ValueError(f"steps must be >= 1, got {request.steps!r}")
    if request.guidance_scale is not None and not (
        math.isfinite(request.guidance_scale) and request.guidance_scale >= 0
    ):
        raise ValueError(f"guidance_scale must be >= 0, got {request.guidance_scale!r}")
    if request.context_audio_N is not None:
        a = request.context_audio_N
        if not isinstance(a, np.ndarray) or a.ndim != 1 or a.size == 0:
            raise ValueError(f"context audio must be a non-empty mono [N] array, got {getattr(a, 'shape', a)!r}")
        if a.size > round(s * sample_rate):
            raise ValueError(f"context audio ({a.size / sample_rate:.3f} s) is longer than the requested {s} s")
    if request.known_seconds is not None:
        if request.context_audio_N is None:
            raise ValueError("known_seconds needs context audio")
        for start, end in request.known_seconds:
            if not 0 <= start < end <= request.context_audio_N.size / sample_rate + 1e-9:
                raise ValueError(
                    f"known interval ({start}, {end}) must satisfy 0 <= start < end <= the context's "
                    f"{request.context_audio_N.size / sample_rate:.3f} s"
                )


class AudioPipeline:
    """The loaded codec and audio model, and :meth:`generate`."""

    def __init__(self, *, model: MovieGenAudio, codec: DACVAE, defaults: AudioDefaults) -> None:
        self.model, self.codec, self.defaults = model.eval(), codec.eval(), defaults
        self.cfg = model.cfg

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, device: torch.device | str = "cpu") -> "AudioPipeline":
        loaded = load_audio_checkpoint(path, device=device)
        return cls(model=loaded.model, codec=loaded.codec, defaults=loaded.defaults)

    @property
    def sample_rate(self) -> int:
        return self.cfg.codec.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def video_features(self, frames_THWC: np.ndarray, *, fps: float, num_latent: int) -> torch.Tensor:
        """``[1, num_latent, F]`` features at the latent rate, extracted ``FEATURE_CHUNK_FRAMES`` frames at a time."""
        size = self.cfg.video.frame_size
        chunks = []
        for k in range(0, frames_THWC.shape[0], FEATURE_CHUNK_FRAMES):
            x_TCHW = frames_to_model_input(frames_THWC[k : k + FEATURE_CHUNK_FRAMES], size=size).to(self.device)
            chunks.append(self.model.video_features(x_TCHW[None]))
        f_1TF = torch.cat(chunks, dim=1)
        return resample_to_latent_rate(f_1TF, fps=fps, frame_rate=self.cfg.frame_rate, num_latent=num_latent)

    @torch.no_grad()
    def _context(self, request: AudioRequest, *, length: int) -> AudioContext:
        c = self.cfg.codec.latent_channels
        if request.context_audio_N is None:
            return AudioContext.empty(batch=1, channels=c, length=length, device=self.device)
        hop = self.cfg.codec.hop
        audio_N = torch.zeros(length * hop)
        given = torch.from_numpy(request.context_audio_N.astype(np.float32))
        audio_N[: given.shape[0]] = given
        latent_1CL = self.codec.encode(audio_N[None, None].to(self.device), sample=False).latent_BCL
        intervals = request.known_seconds or ((0.0, given.shape[0] / self.sample_rate),)
        known_L = torch.zeros(length, dtype=torch.bool)
        for start, end in intervals:
            # Frames entirely inside the interval are known.
            first, last = math.ceil(start * self.cfg.frame_rate), math.floor(end * self.cfg.frame_rate + 1e-9)
            known_L[first:last] = True
        return AudioContext(latent_BCL=latent_1CL, known_BL=known_L[None].to(self.device))

    def _window_velocity(self, *, text, video_1LF: torch.Tensor, context: AudioContext, scale: float):
        """``(x, t, start) -> v`` of one window, guided on text and video jointly (one doubled batch per call)."""

        def velocity(x_1CW: torch.Tensor, t_1: torch.Tensor, start: int) -> torch.Tensor:
            w = x_1CW.shape[-1]
            span = slice(start, start + w)
            ctx = AudioContext(latent_BCL=context.latent_BCL[..., span], known_BL=context.known_BL[:, span])
            video = video_1LF[:, span]
            if scale == 1.0:
                return self.model(x_1CW, t_B=t_1, text=text[0], context=ctx, video_BLF=video)
            v = self.model(
                torch.cat([x_1CW, x_1CW]),
                t_B=torch.cat([t_1, t_1]),
                text=text[1],
                context=ctx.cat(ctx),
                video_BLF=torch.cat([video, torch.zeros_like(video)]),
            )
            v_cond, v_uncond = v.chunk(2)
            return cfg_combine(v_cond, v_uncond, scale=scale)

        return velocity

    @torch.no_grad()
    def latents(self, request: AudioRequest, *, progress: bool = False) -> torch.Tensor:
        """The normalised latent ``[1, C, L]`` of the requested audio (known frames replaced by the context)."""
        check_audio_inputs(request, sample_rate=self.sample_rate)
        cfg, flow = self.cfg, self.defaults.flow
        length = max(1, math.ceil(request.seconds * cfg.frame_rate - 1e-9))  # enough frames for every sample
        window = cfg.window_frames
        overlap = min(round(self.defaults.overlap_seconds * cfg.frame_rate), window - 1)
        if request.frames_THWC is not None:
            video_1LF = self.video_features(request.frames_THWC, fps=float(request.fps), num_latent=length)
        else:
            video_1LF = torch.zeros(1, length, cfg.video.dim, device=self.device)
        prompt = self.defaults.caption if request.prompt is None else request.prompt
        cond = self.model.encode_text([prompt])
        text = (cond, TextEmbeddings.cat([cond, self.model.encode_text([""])]))
        context = self._context(request, length=length)
        scale = flow.guidance_scale if request.guidance_scale is None else request.guidance_scale
        steps = flow.num_steps if request.steps is None else request.steps
        t_grid = inference_schedule(flow.schedule, num_steps=steps, emulated_linear_steps=flow.emulated_linear_steps)
        window_velocity = self._window_velocity(text=text, video_1LF=video_1LF, context=context, scale=scale)
        generator = torch.Generator().manual_seed(request.seed)
        x0_1CL = torch.randn((1, cfg.codec.latent_channels, length), generator=generator).to(self.device)

        if request.mode is LongMode.MULTIDIFFUSION or length <= window:
            velocity = multidiffusion_velocity(window_velocity, length=length, window=window, overlap=overlap)
            latent_1CL = solve_ode(velocity, x0_1CL, t_grid=t_grid, solver=flow.solver, progress=progress)
        else:

            def solve_window(ctx_1CW: torch.Tensor, known_1W: torch.Tensor, start: int) -> torch.Tensor:
                w = ctx_1CW.shape[-1]
                local = AudioContext(latent_BCL=ctx_1CW, known_BL=known_1W)
                fn = self._window_velocity(
                    text=text, video_1LF=video_1LF[:, start : start + w], context=local, scale=scale
                )
                return solve_ode(
                    lambda x, t: fn(x, t, 0), x0_1CL[..., start : start + w], t_grid=t_grid, solver=flow.solver
                )

            latent_1CL = generate_autoregressive(
                solve_window,
                context_BCL=context.latent_BCL,
                known_BL=context.known_BL,
                window=window,
                overlap=overlap,
            )
        known_11L = context.known_BL[:, None]
        return torch.where(known_11L, context.latent_BCL, latent_1CL)

    @torch.no_grad()
    def decode(self, latent_1CL: torch.Tensor, *, seconds: float) -> np.ndarray:
        """Mono float32 audio of exactly ``seconds`` at :attr:`sample_rate`."""
        chunk = max(2, round(DECODE_CHUNK_SECONDS * self.cfg.frame_rate))
        overlap = min(round(DECODE_OVERLAP_SECONDS * self.cfg.frame_rate), chunk // 2)
        audio_11N = self.codec.decode_chunked(latent_1CL, chunk_frames=chunk, overlap_frames=overlap)
        return audio_11N[0, 0, : round(seconds * self.sample_rate)].float().cpu().numpy()

    def generate(self, request: AudioRequest, *, progress: bool = False) -> np.ndarray:
        """Mono float32 audio in [-1, 1], ``round(seconds * sample_rate)`` samples."""
        return self.decode(self.latents(request, progress=progress), seconds=request.seconds)
