"""Training the text-to-video transformer on cached TAE latents (SPEC 5.1, 3.1, 3.3).

Per stage:

1. encode the dataset once with the frozen TAE into a latent cache (:func:`moviegen.data.cache_latents`; reused by
   every later run with the same data, TAE weights and buckets);
2. build ``TextToVideo`` with the stage's positional-table sizes, initialised fresh or from the previous stage's
   checkpoint with its tables expanded (:func:`expand_position_tables`, SPEC 2.3);
3. train with the flow-matching loss (:class:`T2VStep`): captions replaced by "" with probability ``text_dropout``
   (so the model learns the unconditional velocity of classifier-free guidance), noise and times drawn from the
   step's generator (exact resume);
4. validate deterministically (:class:`T2VValidation`): the same loss on held-out latents (posterior means) at a fixed
   grid of times with fixed noise.

Latents enter the model as ``(latent - shift_factor) * scaling_factor`` (``TAEConfig``). The first stage measures
both on the training latents (mean and 1/std of the posterior means) and writes them into the run's config; later
stages inherit them from their ``--init`` run, so the whole schedule and the sampler share one latent scale.
"""

import hashlib
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from moviegen.configs.presets import MovieGenVideoConfig
from moviegen.configs.serialize import config_to_dict
from moviegen.data.buckets import Bucket, BucketConfig
from moviegen.data.dataset import VideoDataset
from moviegen.data.latent_cache import LatentBatch, LatentBatchIterator, LatentDataset, LatentSample, cache_latents
from moviegen.data.manifest import read_manifest
from moviegen.data.sampler import BucketBatchSampler
from moviegen.flow.loss import draw_noise_and_times, flow_matching_loss
from moviegen.flow.path import OTPath
from moviegen.nn.embed import interpolate_table
from moviegen.tae.model import TemporalAutoencoder
from moviegen.tae.widen import decoder_width_multiplier_of, latent_channels_of, layers_per_block_of
from moviegen.train.loop import Trainer, TrainResult
from moviegen.train.parallel_dims import ParallelConfig
from moviegen.train.parallelize import prepare_model
from moviegen.train.recipes import T2VRecipe
from moviegen.train.state import step_generator
from moviegen.video.model import TextToVideo

if TYPE_CHECKING:
    from moviegen.train.distributed import DistributedContext

_STREAM_DROPOUT, _STREAM_FLOW = 0, 1
_POS_KEYS = {"dit.pos_embed.pos_t": "max_t", "dit.pos_embed.pos_h": "max_h", "dit.pos_embed.pos_w": "max_w"}


# -- latents --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class T2VInit:
    """What a text-to-video ``--init`` supplies: weights, the video config they were trained with (its TAE entry holds
    the latent shift/scale), the recipe of their last stage (None when unrecorded), and for an exported checkpoint
    the stages its card lists (None for a run)."""

    state: dict[str, torch.Tensor]
    video_config: dict[str, Any]
    recipe: str | None
    card_stages: list[dict[str, Any]] | None


def read_t2v_init(source: str | Path) -> T2VInit:
    """The weights a text-to-video stage starts from: a training run or checkpoint (EMA weights when it kept them),
    or an exported video checkpoint directory such as the embedded default (its stored weights and its card's
    stages), so a fine-tune needs no training run of its own.

    Raises:
        ValueError: the source is neither, records no video config, or is a corrupt exported checkpoint.
    """
    from moviegen.train.checkpoint import load_checkpoint
    from moviegen.video.checkpoint import CheckpointError, is_video_checkpoint, load_video_checkpoint

    if is_video_checkpoint(source):
        try:
            loaded = load_video_checkpoint(source)
        except CheckpointError as err:
            raise ValueError(f"--init {str(source)!r}: {err}") from err
        stages = loaded.card.get("recipe")
        stages = list(stages) if isinstance(stages, list) else []
        return T2VInit(
            state=loaded.model.trainable_state_dict(), video_config=config_to_dict(loaded.cfg),
            recipe=stages[-1].get("recipe") if stages else None, card_stages=stages,
        )
    init = load_checkpoint(source)
    run = init.trainer_state.get("run", {})
    video_config = run.get("config", {}).get("video")
    if video_config is None:
        raise ValueError(f"--init {str(source)!r} records no video config (not a text-to-video run?)")
    state = init.ema_state if init.ema_state is not None else init.model_state
    return T2VInit(state=state, video_config=video_config, recipe=run.get("recipe"), card_stages=None)


def tae_weights_file(source: str | Path) -> Path:
    """The TAE weights a source names: an exported video checkpoint directory's ``tae.safetensors``, else a weights
    file, checkpoint or run directory (:func:`moviegen.train.average.resolve_weights_file`)."""
    from moviegen.train.average import resolve_weights_file
    from moviegen.video.checkpoint import TAE_FILE, is_video_checkpoint

    return Path(source) / TAE_FILE if is_video_checkpoint(source) else resolve_weights_file(source)


def load_tae(weights_file: str | Path, *, cfg: Any, own_latent_channels: bool = False) -> TemporalAutoencoder:
    """The frozen TAE from a ``.safetensors`` weights file (ValueError if it does not fit ``cfg``); its decoder
    width and its depth are the weights' (architecture a transformer does not see: ``ARCHITECTURE_FIELDS``), and so
    is its latent channel count with ``own_latent_channels`` (to measure a TAE alone, not to train on its latents)."""
    from safetensors.torch import load_file

    state = load_file(str(weights_file))
    try:
        channels = latent_channels_of(state)
        if own_latent_channels:
            cfg = replace(cfg, latent_channels=channels)
        elif channels != cfg.latent_channels:
            raise ValueError(
                f"it has {channels} latent channels, the config {cfg.latent_channels} (a transformer is built for one "
                f"latent channel count)"
            )
        tae = TemporalAutoencoder(replace(
            cfg, decoder_width_multiplier=decoder_width_multiplier_of(state, cfg),
            layers_per_block=layers_per_block_of(state),
        ))
        tae.load_state_dict(state)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"TAE weights {str(weights_file)!r} do not fit the recipe's TAE config: {err}") from err
    tae.requires_grad_(False)
    return tae.eval()


def default_cache_dir(data_dir: str | Path, *, tae_file: str | Path, buckets: BucketConfig) -> Path:
    """``DATA_DIR/latents/<key>``: one cache per (TAE weights, bucket config), shared by every stage and run."""
    digest = hashlib.sha256(Path(tae_file).read_bytes())
    digest.update(repr(config_to_dict(buckets)).encode())
    return Path(data_dir) / "latents" / digest.hexdigest()[:16]


def build_latent_cache(
    data_dir: str | Path, *, tae: TemporalAutoencoder, buckets: BucketConfig, cache_dir: str | Path, progress: bool
) -> Path:
    """Encode every sample (all splits) of ``data_dir`` at ``buckets`` into ``cache_dir`` (resumes, or no-op)."""
    dataset = VideoDataset(read_manifest(data_dir), buckets=buckets)
    return cache_latents(dataset, tae, cache_dir, progress=progress)


@torch.no_grad()
def measure_latent_norm(dataset: LatentDataset) -> tuple[float, float]:
    """``(shift, scale)`` = (mean, 1 / std) over every value of the cached posterior means."""
    total, total_sq, count = 0.0, 0.0, 0
    for i in range(len(dataset)):
        mean = dataset.load(i).mean_CTHW.double()
        total, total_sq, count = total + float(mean.sum()), total_sq + float(mean.square().sum()), count + mean.numel()
    if count == 0:
        raise ValueError(f"latent cache {dataset.cache_dir} is empty")
    mu = total / count
    std = math.sqrt(max(total_sq / count - mu * mu, 1e-12))
    return mu, 1.0 / std


def with_latent_norm(cfg: MovieGenVideoConfig, *, shift: float, scale: float) -> MovieGenVideoConfig:
    return replace(cfg, tae=replace(cfg.tae, shift_factor=shift, scaling_factor=scale))


class ImagesOnly:
    """A latent dataset with its video samples hidden (the T2I stage); same interface as the dataset."""

    def __init__(self, dataset: LatentDataset) -> None:
        self.dataset, self.skips = dataset, dataset.skips
        self.bucket_of: list[Bucket | None] = [b if b is not None and b.is_image else None for b in dataset.bucket_of]

    def __len__(self) -> int:
        return len(self.dataset)

    def source(self, i: int) -> str:
        return self.dataset.source(i)

    def load(self, i: int) -> LatentSample:
        return self.dataset.load(i)


# -- model ----------------------------------------------------------------------------------------------------------


@torch.no_grad()
def expand_position_tables(
    state: dict[str, torch.Tensor],
    *,
    cfg: MovieGenVideoConfig,
    fresh: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Resize the DiT's positional tables in ``state`` to ``cfg``'s sizes by interpolation (SPEC 2.3).

    Doubling a spatial table keeps each token's embedding at the same relative place of the frame. A 1-row temporal
    table (image-only stage) grows into a new table, as the paper adds one at its first video stage: row 0 stays (the
    images' row), and every later row is row 0 plus the same row of ``fresh``, a freshly initialised model's tables
    (std ``DiTConfig.pos_init_std``), so the frames start apart [inferred: repeating row 0 would start every frame
    at one embedding, and the tiny model then never learned them apart (docs/training.md)]. Without ``fresh`` the
    row is repeated. Tables never shrink.

    Raises:
        ValueError: a table larger than the config's, or missing.
    """
    out = dict(state)
    for key, field in _POS_KEYS.items():
        if key not in state:
            raise ValueError(f"checkpoint has no positional table {key!r}")
        rows, target = state[key].shape[0], getattr(cfg.dit, field)
        if rows > target:
            raise ValueError(f"{key} has {rows} rows, more than this stage's {field}={target}; tables only grow")
        if rows != target:
            out[key] = interpolate_table(state[key], target)
            if rows == 1 and fresh is not None:
                offsets_ND = fresh[key].to(out[key].dtype).clone()
                offsets_ND[0] = 0
                out[key] = out[key] + offsets_ND
    return out


# -- loss and validation --------------------------------------------------------------------------------------------


def _x1(latent_BCTHW: torch.Tensor, *, cfg: MovieGenVideoConfig) -> torch.Tensor:
    return cfg.tae.normalize_latent(latent_BCTHW)


class T2VStep:
    """``loss_fn(model, batch, step)``: flow matching with text dropout (see the module docstring).

    ``shard = (rank, size)``: the batch is data-parallel group ``rank``'s slice of a global batch ``size`` times as
    large; dropout, noise and times are drawn for the global batch and sliced, so that every layout of ranks trains
    on exactly the draws of a single-process run.
    """

    def __init__(
        self, *, cfg: MovieGenVideoConfig, path: OTPath, recipe: T2VRecipe, shard: tuple[int, int] = (0, 1)
    ) -> None:
        self.cfg, self.path, self.recipe, self.shard = cfg, path, recipe, shard

    def __call__(self, model: TextToVideo, batch: LatentBatch, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        seed, p = self.recipe.train.seed, self.recipe.train.text_dropout
        rank, size = self.shard
        b = len(batch.texts)
        rows = slice(rank * b, (rank + 1) * b)
        keep = (torch.rand(b * size, generator=step_generator(seed, step, stream=_STREAM_DROPOUT)) >= p)[rows]
        texts = [text if k else "" for text, k in zip(batch.texts, keep.tolist(), strict=True)]
        param = next(model.parameters())
        x1 = _x1(batch.latent_BCTHW.to(param.device), cfg=self.cfg)
        x0, t = draw_noise_and_times(
            (b * size, *x1.shape[1:]), flow=self.recipe.flow,
            generator=step_generator(seed, step, stream=_STREAM_FLOW), rows=rows,
        )
        text = model.encode_text(texts, fps=batch.fps, camera_motion=batch.camera)
        weight = loss_weights(x1, motion=self.recipe.motion_weight, objects=self.recipe.object_weight)
        out = flow_matching_loss(
            lambda xt, t: model(xt, t_B=t, text=text), x1, path=self.path, t=t.to(x1.device), x0=x0.to(x1),
            loss_mask=weight,
        )
        return out.loss, {"dropped_texts": float((~keep).sum())}


def loss_weights(x1_BCTHW: torch.Tensor, *, motion: float = 0.0, objects: float = 0.0) -> torch.Tensor | None:
    """``[B, 1, T, H, W]`` flow-loss weights ``1 + motion * c + objects * d`` (``T2VRecipe.motion_weight`` and
    ``object_weight``), or None when both are 0. ``c``: each latent value's change from the previous frame (the next,
    for the first; 0 for images); ``d``: its departure from its frame's per-channel median, the background. Both
    are channel-averaged, normalised to mean 1 per sample and capped at 10 (a small object would otherwise carry
    most of the loss).

    Both depend on the clip itself, not only on the noisy input and the condition, so they change what the model
    learns, not just how fast: the weighted loss is minimised by ``E[w u | xt, c] / E[w | xt, c]``, the velocity of
    clips tilted toward large ``w`` at each place, i.e. toward an object (or a change) wherever one could be. Measured
    (docs/training.md, 2026-12-01): object-weighted fine-tunes generate about twice the world's per-frame latent
    spread (extra blobs). Kept for the record of those experiments; not for a shipped model."""
    weight = None
    if motion > 0 and x1_BCTHW.shape[2] > 1:
        change_B1tHW = (x1_BCTHW[:, :, 1:] - x1_BCTHW[:, :, :-1]).abs().mean(dim=1, keepdim=True)
        weight = motion * _relative(torch.cat([change_B1tHW[:, :, :1], change_B1tHW], dim=2))
    if objects > 0:
        median_BCT11 = x1_BCTHW.flatten(3).median(dim=3).values[..., None, None]
        departure = objects * _relative((x1_BCTHW - median_BCT11).abs().mean(dim=1, keepdim=True))
        weight = departure if weight is None else weight + departure
    return None if weight is None else 1 + weight


def _relative(score_B1THW: torch.Tensor) -> torch.Tensor:
    """The scores over each sample's mean, capped at 10."""
    score_B1THW = score_B1THW.float()
    mean_B = score_B1THW.flatten(1).mean(dim=1).clamp_min(1e-8)
    return (score_B1THW / mean_B[:, None, None, None, None]).clamp_max(10.0)


class T2VValidation:
    """Flow-matching loss on held-out latents at fixed times with fixed noise (deterministic; lower is better)."""

    def __init__(self, dataset: LatentDataset, *, cfg: MovieGenVideoConfig, path: OTPath, recipe: T2VRecipe) -> None:
        self.cfg, self.path, self.times = cfg, path, recipe.val_times
        bs, by_bucket = recipe.train.batch_size, {}
        for i, bucket in enumerate(dataset.bucket_of):
            if bucket is not None and (not recipe.stage.images_only or bucket.is_image):
                by_bucket.setdefault(bucket, []).append(i)
        self.batches: list[list[LatentSample]] = []
        for bucket in sorted(by_bucket):
            members = by_bucket[bucket]
            for k in range(0, len(members), bs):
                if len(self.batches) < recipe.train.val_batches:
                    self.batches.append([dataset.load(i) for i in members[k : k + bs]])
        self.seed = recipe.train.seed

    def __len__(self) -> int:
        return len(self.batches)

    @torch.no_grad()
    def __call__(self, model: TextToVideo) -> dict[str, float]:
        param = next(model.parameters())
        per_time = {t: [] for t in self.times}
        for n, samples in enumerate(self.batches):
            x1 = _x1(torch.stack([s.mean_CTHW for s in samples]).to(param.device), cfg=self.cfg)
            captions, cameras = [s.caption for s in samples], [s.camera for s in samples]
            text = model.encode_text(captions, fps=samples[0].fps, camera_motion=cameras)
            for k, t_value in enumerate(self.times):
                gen = step_generator(self.seed, n, stream=1000 + k)
                x0 = torch.randn(x1.shape, generator=gen).to(x1)
                t = torch.full((x1.shape[0],), t_value, device=x1.device)
                out = flow_matching_loss(lambda xt, tt: model(xt, t_B=tt, text=text), x1, path=self.path, t=t, x0=x0)
                per_time[t_value].append(float(out.loss))
        metrics = {f"loss_t{t:g}": sum(v) / len(v) for t, v in per_time.items()}
        metrics["loss"] = sum(metrics.values()) / len(metrics)
        return metrics


# -- the run --------------------------------------------------------------------------------------------------------


def train_t2v(
    recipe: T2VRecipe,
    *,
    cache_dir: str | Path,
    run_dir: str | Path,
    video_cfg: MovieGenVideoConfig,
    init_state: dict[str, torch.Tensor] | None = None,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    distributed: "DistributedContext | None" = None,
    parallel: ParallelConfig | None = None,
) -> TrainResult:
    """Run a text-to-video stage on a finished latent cache.

    Args:
        recipe: the stage.
        cache_dir: the latent cache (at ``recipe.stage.buckets``).
        run_dir: the run directory.
        video_cfg: ``recipe.video`` with the latent shift/scale resolved.
        init_state: the previous stage's weights (tables are expanded here), or None for a fresh init.
        resume: continue the run in ``run_dir``.
        run_info: extra JSON stored with every checkpoint.
        progress: show progress bars.
        distributed: this process's place in a torchrun job (None: a single process).
        parallel: how to parallelise the model (activation checkpointing and compile apply in a single process too).
    """
    cfg = recipe.train
    torch.manual_seed(cfg.seed)
    model = TextToVideo(video_cfg)
    model.init_weights()
    if init_state is not None:
        fresh = {key: value for key, value in model.trainable_state_dict().items() if key in _POS_KEYS}
        model.load_trainable_state_dict(expand_position_tables(init_state, cfg=video_cfg, fresh=fresh))
    model, shard = prepare_model(model, distributed=distributed, parallel=parallel, forward_methods=("encode_text",))
    path = OTPath(sigma_min=recipe.flow.sigma_min)

    train_data: Any = LatentDataset(cache_dir, split="train")
    if recipe.stage.images_only:
        train_data = ImagesOnly(train_data)
    sampler = BucketBatchSampler(
        train_data.bucket_of,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        image_ratio=None if recipe.stage.images_only else recipe.stage.image_ratio,
    )
    batches = LatentBatchIterator(train_data, sampler, text_mode=recipe.stage.text_mode, seed=cfg.seed)
    val_fn = None
    if cfg.val_every:
        try:
            val_fn = T2VValidation(LatentDataset(cache_dir, split="heldout"), cfg=video_cfg, path=path, recipe=recipe)
        except ValueError as err:
            warnings.warn(f"validation is off: {err}")
        if val_fn is not None and len(val_fn) == 0:
            warnings.warn("validation is off: no held-out sample fits this stage's buckets")
            val_fn = None
    info = {"recipe": recipe.name, "config": config_to_dict(replace(recipe, video=video_cfg)), **(run_info or {})}
    trainer = Trainer(
        model,
        loss_fn=T2VStep(cfg=video_cfg, path=path, recipe=recipe, shard=shard),
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
