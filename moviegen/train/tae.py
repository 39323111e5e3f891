"""Training the temporal autoencoder (SPEC 1.2) with the generic :class:`~moviegen.train.loop.Trainer`.

Every step takes a random spatio-temporal crop (the same window for the whole batch; images are cropped in space only)
drawn from the step's own generator, then encodes with a sampled posterior (a second generator stream) and applies
:class:`~moviegen.tae.loss.TAELoss`. Both draws are pure functions of ``(seed, step)``, so a resumed run repeats an
uninterrupted one exactly. Validation: reconstruction L1 and PSNR of the posterior mean on fixed central crops of
held-out samples.
"""

import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from moviegen.configs.serialize import config_to_dict
from moviegen.data.dataset import SampleError, VideoDataset
from moviegen.data.loader import Batch, BatchIterator, TextMode
from moviegen.data.manifest import read_manifest
from moviegen.data.sampler import BucketBatchSampler
from moviegen.tae.loss import TAELoss
from moviegen.tae.model import TemporalAutoencoder
from moviegen.tae.widen import latent_channels_of, load_tae_widening
from moviegen.train.loop import Trainer, TrainResult
from moviegen.train.state import step_generator
from moviegen.train.tae_recipes import CropConfig, TAERecipe

_STREAM_CROP, _STREAM_POSTERIOR = 0, 1


def random_crop(video_BCTHW: torch.Tensor, *, crop: CropConfig, generator: torch.Generator) -> torch.Tensor:
    """One random ``crop`` window, the same for the whole batch (1-frame inputs keep their single frame); with
    ``crop.motion_fraction``, that fraction of video crops takes the window :func:`motion_window` draws."""
    _, _, t, h, w = video_BCTHW.shape
    frames = 1 if t == 1 else crop.frames
    if frames > t or crop.height > h or crop.width > w:
        raise ValueError(f"crop {frames}x{crop.height}x{crop.width} is larger than the clip {t}x{h}x{w} (TxHxW)")
    spans = (t - frames, h - crop.height, w - crop.width)
    t0, y0, x0 = (int(torch.randint(0, n + 1, (1,), generator=generator)) for n in spans)
    clip_BCTHW = video_BCTHW[:, :, t0 : t0 + frames]
    # Drawn only when the option is on, so that uniform recipes keep their crop sequence (and resumed runs theirs).
    if crop.motion_fraction > 0 and frames > 1 and float(torch.rand((), generator=generator)) < crop.motion_fraction:
        y0, x0 = motion_window(clip_BCTHW, height=crop.height, width=crop.width, generator=generator)
    return clip_BCTHW[:, :, :, y0 : y0 + crop.height, x0 : x0 + crop.width]


def motion_window(
    clip_BCTHW: torch.Tensor, *, height: int, width: int, generator: torch.Generator
) -> tuple[int, int]:
    """A ``height`` x ``width`` window's top-left corner, drawn in proportion to how much the frames change inside it
    (the mean absolute frame-to-frame difference over batch, channels and time, summed over the window; a small
    floor keeps every window possible, so a still clip gets a uniform one)."""
    change_HW = (clip_BCTHW[:, :, 1:] - clip_BCTHW[:, :, :-1]).abs().float().mean(dim=(0, 1, 2))
    window_YX = F.avg_pool2d(change_HW[None, None], (height, width), stride=1)[0, 0]
    weights = window_YX.flatten() + 1e-6 * (1 + window_YX.max())
    y0, x0 = divmod(int(torch.multinomial(weights, 1, generator=generator)), window_YX.shape[1])
    return y0, x0


def center_crop(video_BCTHW: torch.Tensor, *, crop: CropConfig) -> torch.Tensor:
    _, _, t, h, w = video_BCTHW.shape
    frames = 1 if t == 1 else crop.frames
    t0, y0, x0 = (t - frames) // 2, (h - crop.height) // 2, (w - crop.width) // 2
    return video_BCTHW[:, :, t0 : t0 + frames, y0 : y0 + crop.height, x0 : x0 + crop.width]


class TAEStep:
    """``loss_fn(tae, batch, step)`` of the TAE recipe (the discriminator, if any, trains in the same step)."""

    def __init__(self, loss: TAELoss, *, crop: CropConfig, seed: int) -> None:
        self.loss, self.crop, self.seed = loss, crop, seed

    def __call__(self, tae: TemporalAutoencoder, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        video_BCTHW = random_crop(batch.video_BCTHW, crop=self.crop, generator=step_generator(self.seed, step))
        param = next(tae.parameters())
        video_BCTHW = video_BCTHW.to(device=param.device)
        posterior_gen = step_generator(self.seed, step, stream=_STREAM_POSTERIOR)
        out = tae(video_BCTHW, sample=True, generator=posterior_gen)
        discriminator = self.loss.discriminator
        if discriminator is not None:
            # The generator's adversarial term must not train the discriminator: record it with D frozen.
            discriminator.requires_grad_(False)
        try:
            terms = self.loss(
                video_BCTHW=video_BCTHW, output=out, last_layer_weight=tae.decoder.conv_out.spatial.weight
            )
        finally:
            if discriminator is not None:
                discriminator.requires_grad_(True)
        total = terms.total
        metrics = {"rec": terms.reconstruction, "perceptual": terms.perceptual, "kl": terms.kl, "opl": terms.opl}
        if discriminator is not None:
            d_loss = self.loss.discriminator_loss(
                video_BCTHW=video_BCTHW, reconstruction_BCTHW=out.reconstruction_BCTHW
            )
            total = total + d_loss  # D's gradient comes only from here (its inputs are detached)
            metrics.update(adversarial=terms.adversarial, d_loss=d_loss)
        return total, metrics


class TAEValidation:
    """L1 and PSNR of ``decode(posterior mean)`` on fixed central crops of up to ``num_samples`` held-out samples."""

    def __init__(self, dataset: VideoDataset, *, crop: CropConfig, num_samples: int) -> None:
        self.crop = crop
        self.clips = []
        for i in range(len(dataset)):
            if len(self.clips) == num_samples:
                break
            try:
                self.clips.append(center_crop(dataset.load(i).video_CTHW[None], crop=crop))
            except SampleError:
                continue

    @torch.no_grad()
    def __call__(self, tae: TemporalAutoencoder) -> dict[str, float]:
        param = next(tae.parameters())
        l1, psnr = [], []
        for clip in self.clips:
            clip = clip.to(param.device)
            recon = tae.decode(tae.encode(clip, sample=False).latent_BCTHW, num_frames=clip.shape[2]).clamp(-1, 1)
            mse = (recon.float() - clip.float()).pow(2).mean()
            l1.append(float((recon - clip).abs().mean()))
            psnr.append(float(10 * torch.log10(4.0 / mse.clamp_min(1e-10))))  # pixels span [-1, 1]: peak^2 = 4
        return {"l1": sum(l1) / len(l1), "psnr": sum(psnr) / len(psnr)}


def train_tae(
    recipe: TAERecipe, *, data_dir: str | Path, run_dir: str | Path, resume: bool = False,
    init_state: dict[str, torch.Tensor] | None = None, run_info: dict[str, Any] | None = None, progress: bool = True,
) -> TrainResult:
    """Run a TAE recipe on the dataset at ``data_dir`` (its ``train`` split; ``heldout`` for validation)."""
    cfg = recipe.train
    torch.manual_seed(cfg.seed)
    # An init with a narrower decoder, fewer latent channels or fewer ResNets per level than the recipe's is grown to
    # it, computing the same function (moviegen.tae.widen).
    if init_state is None:
        tae = TemporalAutoencoder(recipe.tae)
    else:
        trained_c = latent_channels_of(init_state)
        if recipe.decoder_only and trained_c != recipe.tae.latent_channels:
            raise ValueError(
                f"recipe {recipe.name!r} trains the decoder only, so its latent must be the --init's: the --init has "
                f"{trained_c} latent channels, the recipe {recipe.tae.latent_channels} (new channels need the encoder)"
            )
        tae = load_tae_widening(recipe.tae, init_state, seed=cfg.seed)
    if recipe.decoder_only:  # frozen parameters stay out of the optimizer (build_optimizer)
        tae.encoder.requires_grad_(False)
        tae.quant_conv.requires_grad_(False)
    loss = TAELoss(recipe.loss, in_channels=recipe.tae.in_channels)
    dataset = VideoDataset(read_manifest(data_dir, split="train"), buckets=recipe.buckets)
    sampler = BucketBatchSampler(dataset.bucket_of, batch_size=cfg.batch_size, seed=cfg.seed)
    batches = BatchIterator(dataset, sampler, text_mode=TextMode.CAPTION, seed=cfg.seed)
    val_fn = None
    if cfg.val_every:
        heldout = [e for e in read_manifest(data_dir) if e.split == "heldout"]
        if heldout:
            val_data = VideoDataset(heldout, buckets=recipe.buckets)
            val_fn = TAEValidation(val_data, crop=recipe.crop, num_samples=cfg.val_batches)
        else:
            warnings.warn(f"{data_dir} has no 'heldout' split: TAE validation is off")
    extra = {"discriminator": loss.discriminator} if loss.discriminator is not None else None
    trainer = Trainer(
        tae,
        loss_fn=TAEStep(loss, crop=recipe.crop, seed=cfg.seed),
        batches=batches,
        cfg=cfg,
        optim=recipe.optim,
        run_dir=run_dir,
        val_fn=val_fn,
        extra_modules=extra,
        run_info={"recipe": recipe.name, "config": config_to_dict(recipe), **(run_info or {})},
        progress=progress,
    )
    return trainer.run(resume=resume)
