"""Training Movie Gen Audio (SPEC 8.4): the DAC-VAE on audio crops, then the audio transformer on cached latents.

Both stages read the audio-visual cache of :mod:`moviegen.audio.data` (built once per data directory and settings,
under ``DATA_DIR/audio-cache/``), so no video is decoded during training. The transformer stage also caches the
codec's posterior means once (as the video stages cache TAE latents) and measures their mean and std on the training
split, which become the codec config's shift and scale in the run and in the exported checkpoint.

Per transformer step (:class:`AudioStep`):

1. drop conditions (all together w.p. 0.2, text and video each w.p. 0.1) and mask the audio context (fully w.p.
   0.5, else 75-100% in one span), SPEC 8.3, with draws seeded by ``(seed, step)``;
2. compute every clip's per-frame video features with the (trainable) frame encoder and resample them to the 25 Hz
   latent frames of its window;
3. flow matching on the window, the loss counted on the masked (generated) frames only;
4. with the recipe's :class:`~moviegen.train.audio_recipes.SyncConfig` on, the frames around the onsets of the clip's
   own sound weigh more in that loss, and the model's onset head (:class:`~moviegen.audio.features.OnsetHead`) learns
   from the video features where those onsets are: an auxiliary loss that makes the frame encoder carry timing.
"""

import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from moviegen.audio.codec import DACVAE, DACVAEConfig
from moviegen.audio.codec_loss import AudioCodecLoss
from moviegen.audio.conditioning import sample_condition_keep, sample_known_frames
from moviegen.audio.config import MovieGenAudioConfig
from moviegen.audio.data import (
    AudioCropIterator,
    AudioWindowBatch,
    AudioWindowIterator,
    AVCacheSettings,
    AVDataset,
    build_av_cache,
    cache_codec_latents,
)
from moviegen.audio.features import resample_to_latent_rate
from moviegen.audio.model import AudioContext, MovieGenAudio
from moviegen.configs.serialize import config_to_dict
from moviegen.data.sampler import BucketBatchSampler
from moviegen.flow.loss import draw_noise_and_times, flow_matching_loss
from moviegen.flow.path import OTPath
from moviegen.train.audio_recipes import AudioRecipe, CodecRecipe, SyncConfig
from moviegen.train.loop import Trainer, TrainResult
from moviegen.train.parallel_dims import ParallelConfig
from moviegen.train.parallelize import prepare_model
from moviegen.train.state import step_generator

if TYPE_CHECKING:
    from moviegen.train.distributed import DistributedContext

_STREAM_CROP, _STREAM_COND, _STREAM_FLOW, _STREAM_POSTERIOR = 0, 1, 2, 3


def av_cache_dir(data_dir: str | Path, *, sample_rate: int, frame_size: int) -> Path:
    """``DATA_DIR/audio-cache/<rate>hz-<size>px``: one cache per settings, shared by the codec and transformer runs."""
    return Path(data_dir) / "audio-cache" / f"{sample_rate}hz-{frame_size}px"


def prepare_av_cache(data_dir: str | Path, *, sample_rate: int, frame_size: int, progress: bool) -> Path:
    """Build (or finish) the audio-visual cache of ``data_dir`` and return its directory."""
    cache = av_cache_dir(data_dir, sample_rate=sample_rate, frame_size=frame_size)
    build_av_cache(
        data_dir, cache, settings=AVCacheSettings(sample_rate=sample_rate, frame_size=frame_size), progress=progress
    )
    return cache


# -- codec ------------------------------------------------------------------------------------------------------------


class CodecStep:
    """``loss_fn(codec, batch, step)``: the DAC-VAE objective on a batch of crops."""

    def __init__(self, loss: AudioCodecLoss, *, seed: int) -> None:
        self.loss, self.seed = loss, seed

    def __call__(self, codec: DACVAE, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        audio_B1N = batch.audio_B1N.to(next(codec.parameters()).device)
        out = codec(audio_B1N, generator=step_generator(self.seed, step, stream=_STREAM_POSTERIOR))
        terms = self.loss(audio_B1N=audio_B1N, output=out)
        return terms.total, {"mel": terms.mel, "stft": terms.stft, "waveform": terms.waveform, "kl": terms.kl}


class CodecValidation:
    """Mel loss and SNR (dB) of the posterior-mean reconstruction of fixed held-out crops (the clips' first seconds)."""

    def __init__(self, dataset: AVDataset, *, recipe: CodecRecipe, num_samples: int) -> None:
        n = recipe.crop_samples
        clips = [dataset.load(i).audio_N for i in range(min(num_samples, len(dataset)))]
        self.audio_B1N = torch.stack([torch.nn.functional.pad(a[:n], (0, n - a[:n].shape[0])) for a in clips])[:, None]
        self.loss = AudioCodecLoss(recipe.loss)

    @torch.no_grad()
    def __call__(self, codec: DACVAE) -> dict[str, float]:
        audio_B1N = self.audio_B1N.to(next(codec.parameters()).device)
        out = codec(audio_B1N, sample=False)
        terms = self.loss(audio_B1N=audio_B1N, output=out)
        error = (out.reconstruction_B1N - audio_B1N).pow(2).sum()
        snr = 10 * torch.log10(audio_B1N.pow(2).sum().clamp_min(1e-12) / error.clamp_min(1e-12))
        return {"mel": float(terms.mel), "snr_db": float(snr), "loss": float(terms.total)}


def train_codec(
    recipe: CodecRecipe,
    *,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    init_state: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Run a codec recipe on the videos of ``data_dir`` (``train`` split; ``heldout`` validates); ``init_state``
    starts from a previous phase's weights."""
    cfg = recipe.train
    cache = prepare_av_cache(
        data_dir, sample_rate=recipe.codec.sample_rate, frame_size=recipe.frame_size, progress=progress
    )
    torch.manual_seed(cfg.seed)
    codec = DACVAE(recipe.codec)
    if init_state is not None:
        codec.load_state_dict(init_state)
    dataset = AVDataset(cache, split="train", min_rms=recipe.min_rms)
    sampler = BucketBatchSampler(dataset.bucket_of, batch_size=cfg.batch_size, seed=cfg.seed)
    batches = AudioCropIterator(
        dataset, sampler, crop_samples=recipe.crop_samples, seed=cfg.seed, candidates=recipe.crop_candidates
    )
    val_fn = None
    if cfg.val_every:
        try:
            val_fn = CodecValidation(
                AVDataset(cache, split="heldout", min_rms=recipe.min_rms), recipe=recipe, num_samples=cfg.val_batches
            )
        except ValueError as err:
            warnings.warn(f"codec validation is off: {err}")
    trainer = Trainer(
        codec,
        loss_fn=CodecStep(AudioCodecLoss(recipe.loss), seed=cfg.seed),
        batches=batches,
        cfg=cfg,
        optim=recipe.optim,
        run_dir=run_dir,
        val_fn=val_fn,
        run_info={"recipe": recipe.name, "config": config_to_dict(recipe), **(run_info or {})},
        progress=progress,
    )
    return trainer.run(resume=resume)


# -- audio transformer ------------------------------------------------------------------------------------------------


def frames_to_input(frames_TCHW: torch.Tensor) -> torch.Tensor:
    """Cached uint8 frames ``[T, 3, S, S]`` to the feature extractors' float input in [-1, 1]."""
    return frames_TCHW.float() / 127.5 - 1


def window_video_features(
    model: MovieGenAudio, batch: AudioWindowBatch, *, frame_rate: float, window: int
) -> torch.Tensor:
    """``[B, W, F]``: each clip's frame features resampled to its window's latent frames."""
    device = next(model.parameters()).device
    feats = []
    for frames, start, fps in zip(batch.frames, batch.starts, batch.fps, strict=True):
        f_1TF = model.video_features(frames_to_input(frames)[None].to(device))
        feats.append(resample_to_latent_rate(f_1TF, fps=fps, frame_rate=frame_rate, num_latent=window, start=start))
    return torch.cat(feats)


def onset_weights(onsets_BL: torch.Tensor, *, sync: SyncConfig) -> torch.Tensor:
    """``[B, L]`` flow-loss weights: ``1 + onset_frame_weight`` from one frame before each onset to ``onset_spread``
    frames after it, 1 elsewhere."""
    near_BL = F.max_pool1d(
        F.pad(onsets_BL[:, None], (sync.onset_spread, 1)), kernel_size=sync.onset_spread + 2, stride=1
    )[:, 0]
    return 1.0 + sync.onset_frame_weight * near_BL


class AudioStep:
    """``loss_fn(model, batch, step)``; see the module docstring."""

    def __init__(
        self, *, cfg: MovieGenAudioConfig, path: OTPath, recipe: AudioRecipe, shard: tuple[int, int] = (0, 1)
    ) -> None:
        self.cfg, self.path, self.recipe, self.shard = cfg, path, recipe, shard

    def __call__(self, model: MovieGenAudio, batch: AudioWindowBatch, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        seed, cfg = self.recipe.train.seed, self.cfg
        device = next(model.parameters()).device
        x1_BCL = cfg.codec.normalize_latent(batch.latent_BCL.to(device))
        b, _, length = x1_BCL.shape
        # A data-parallel rank draws for the global batch and keeps its rows (as T2VStep does).
        rank, size = self.shard
        rows = slice(rank * b, (rank + 1) * b)
        gen = step_generator(seed, step, stream=_STREAM_COND)
        keep = sample_condition_keep(b * size, cfg=self.recipe.dropout, generator=gen)
        keep_text_B, keep_video_B = keep[0][rows], keep[1][rows]
        known_BL = sample_known_frames(length, b * size, cfg=self.recipe.dropout, generator=gen)[rows].to(device)
        texts = [t if k else "" for t, k in zip(batch.texts, keep_text_B.tolist(), strict=True)]
        text = model.encode_text(texts)
        video_BLF = window_video_features(model, batch, frame_rate=cfg.frame_rate, window=length)
        sync, metrics = self.recipe.sync, {}
        onsets_BL = batch.onsets_BL.to(device)
        head_loss = None
        if sync.head_weight > 0:  # on every clip's features: the head learns from dropped-video clips too
            head_loss = F.binary_cross_entropy_with_logits(
                model.onset_logits(video_BLF), onsets_BL,
                pos_weight=torch.tensor(sync.head_pos_weight, device=device),
            )
            metrics["onset_head"] = head_loss.detach()
        video_BLF = video_BLF * keep_video_B.to(device)[:, None, None]
        context = AudioContext(latent_BCL=x1_BCL, known_BL=known_BL)
        x0, t = draw_noise_and_times(
            (b * size, *x1_BCL.shape[1:]), flow=self.recipe.flow,
            generator=step_generator(seed, step, stream=_STREAM_FLOW), rows=rows,
        )
        mask_BL = (~known_BL).float()
        if sync.onset_frame_weight > 0:
            mask_BL = mask_BL * onset_weights(onsets_BL, sync=sync)
        out = flow_matching_loss(
            lambda xt, tt: model(xt, t_B=tt, text=text, context=context, video_BLF=video_BLF),
            x1_BCL,
            path=self.path,
            t=t.to(device),
            x0=x0.to(x1_BCL),
            loss_mask=mask_BL[:, None, :],
        )
        loss = out.loss if head_loss is None else out.loss + sync.head_weight * head_loss
        return loss, {
            "dropped_texts": float((~keep_text_B).sum()),
            "dropped_videos": float((~keep_video_B).sum()),
            "known_fraction": float(known_BL.float().mean()),
            **metrics,
        }


class AudioValidation:
    """Flow-matching loss on held-out windows (their first frames) with every condition and no context, at fixed
    times with fixed noise (deterministic; lower is better)."""

    def __init__(self, dataset: AVDataset, *, cfg: MovieGenAudioConfig, path: OTPath, recipe: AudioRecipe) -> None:
        self.cfg, self.path, self.recipe = cfg, path, recipe
        window, bs = cfg.window_frames, recipe.train.batch_size
        samples = [dataset.load(i) for i in range(min(len(dataset), bs * recipe.train.val_batches))]
        self.batches = []
        for k in range(0, len(samples), bs):
            chunk = samples[k : k + bs]
            latents = [
                torch.nn.functional.pad(s.latent_CL[:, :window], (0, window - s.latent_CL[:, :window].shape[1]))
                for s in chunk
            ]
            self.batches.append(
                AudioWindowBatch(
                    ids=[s.id for s in chunk],
                    latent_BCL=torch.stack(latents),
                    frames=[s.frames_TCHW for s in chunk],
                    starts=[0] * len(chunk),
                    fps=[s.fps for s in chunk],
                    texts=[s.caption for s in chunk],
                    onsets_BL=torch.zeros(len(chunk), window),  # validation measures the plain flow loss
                )
            )

    @torch.no_grad()
    def __call__(self, model: MovieGenAudio) -> dict[str, float]:
        device = next(model.parameters()).device
        per_time: dict[float, list[float]] = {t: [] for t in self.recipe.val_times}
        for n, batch in enumerate(self.batches):
            x1_BCL = self.cfg.codec.normalize_latent(batch.latent_BCL.to(device))
            b, c, length = x1_BCL.shape
            text = model.encode_text(batch.texts)
            video_BLF = window_video_features(model, batch, frame_rate=self.cfg.frame_rate, window=length)
            context = AudioContext.empty(batch=b, channels=c, length=length, device=device)
            for k, t_value in enumerate(self.recipe.val_times):
                x0 = torch.randn(x1_BCL.shape, generator=step_generator(self.recipe.train.seed, n, stream=1000 + k))
                t = torch.full((b,), t_value, device=device)
                out = flow_matching_loss(
                    lambda xt, tt: model(xt, t_B=tt, text=text, context=context, video_BLF=video_BLF),
                    x1_BCL,
                    path=self.path,
                    t=t,
                    x0=x0.to(x1_BCL),
                )
                per_time[t_value].append(float(out.loss))
        metrics = {f"loss_t{t:g}": sum(v) / len(v) for t, v in per_time.items()}
        metrics["loss"] = sum(metrics.values()) / len(metrics)
        return metrics


def measure_audio_latent_norm(dataset: AVDataset) -> tuple[float, float]:
    """``(shift, scale)`` = (mean, 1 / std) of every cached latent value of ``dataset``."""
    values = torch.cat([dataset.latent(i).flatten() for i in range(len(dataset))])
    return float(values.mean()), float(1.0 / values.std().clamp_min(1e-6))


def with_codec_norm(cfg: MovieGenAudioConfig, *, shift: float, scale: float) -> MovieGenAudioConfig:
    return replace(cfg, codec=replace(cfg.codec, shift_factor=shift, scaling_factor=scale))


def load_codec(weights: dict[str, torch.Tensor], *, cfg: DACVAEConfig) -> DACVAE:
    """The frozen codec of a codec run's weights (ValueError if they do not fit ``cfg``)."""
    codec = DACVAE(cfg)
    try:
        codec.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(
            f"the codec weights do not fit the recipe's codec config: {' '.join(str(err).split())}"
        ) from err
    return codec.eval().requires_grad_(False)


def prepare_audio_latents(
    recipe: AudioRecipe,
    *,
    data_dir: str | Path,
    codec_weights: dict[str, torch.Tensor],
    codec_key: str,
    progress: bool,
) -> tuple[Path, Path]:
    """The audio-visual cache and its codec-latent cache for ``recipe`` (built or finished here)."""
    cfg = recipe.audio
    cache = prepare_av_cache(
        data_dir, sample_rate=cfg.codec.sample_rate, frame_size=recipe.frame_size, progress=progress
    )
    codec = load_codec(codec_weights, cfg=cfg.codec)  # raw posterior means are cached; runs normalise them
    latent_dir = cache_codec_latents(cache, codec=codec, key=codec_key, progress=progress)
    return cache, latent_dir


def train_audio(
    recipe: AudioRecipe,
    *,
    cache_dir: str | Path,
    latent_dir: str | Path,
    run_dir: str | Path,
    audio_cfg: MovieGenAudioConfig,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    distributed: "DistributedContext | None" = None,
    parallel: ParallelConfig | None = None,
) -> TrainResult:
    """Run an audio transformer recipe on a finished latent cache; ``audio_cfg`` has the latent norm resolved.

    ``distributed``/``parallel``: as :func:`moviegen.train.t2v.train_t2v`.
    """
    cfg = recipe.train
    torch.manual_seed(cfg.seed)
    model = MovieGenAudio(audio_cfg)
    model.init_weights()
    methods = ("encode_text", "video_features", "onset_logits")
    model, shard = prepare_model(model, distributed=distributed, parallel=parallel, forward_methods=methods)
    path = OTPath(sigma_min=recipe.flow.sigma_min)
    train_data = AVDataset(cache_dir, split="train", latent_dir=latent_dir)
    sampler = BucketBatchSampler(train_data.bucket_of, batch_size=cfg.batch_size, seed=cfg.seed)
    batches = AudioWindowIterator(
        train_data, sampler, window=audio_cfg.window_frames, seed=cfg.seed, text_mode=recipe.text_mode,
        frame_rate=audio_cfg.frame_rate if recipe.sync.enabled else None,
    )

    val_fn = None
    if cfg.val_every:
        try:
            val_fn = AudioValidation(
                AVDataset(cache_dir, split="heldout", latent_dir=latent_dir), cfg=audio_cfg, path=path, recipe=recipe
            )
        except ValueError as err:
            warnings.warn(f"validation is off: {err}")
    info = {"recipe": recipe.name, "config": config_to_dict(replace(recipe, audio=audio_cfg)), **(run_info or {})}
    trainer = Trainer(
        model,
        loss_fn=AudioStep(cfg=audio_cfg, path=path, recipe=recipe, shard=shard),
        batches=batches,
        cfg=cfg,
        optim=recipe.optim,
        run_dir=run_dir,
        val_fn=val_fn,
        run_info=info,
        progress=progress,
        distributed=distributed,
    )
    return trainer.run(resume=resume)
