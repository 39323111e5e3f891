"""The flow-matching training loss (SPEC 3.1): E_{t, x0, x1} || u(xt, t) - (x1 - (1 - sigma_min) x0) ||^2."""

from dataclasses import dataclass

import torch

from moviegen.flow.config import FlowConfig
from moviegen.flow.path import OTPath
from moviegen.flow.solver import VelocityFn
from moviegen.flow.timesteps import sample_timesteps


@dataclass(frozen=True)
class FlowLossOutput:
    """``loss`` is the batch mean; ``loss_per_sample`` ``[B]`` and ``t`` ``[B]`` let callers bin the loss by time."""

    loss: torch.Tensor
    loss_per_sample: torch.Tensor
    t: torch.Tensor


def _training_times(
    n: int, *, flow: FlowConfig, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    return sample_timesteps(
        n, sampling=flow.timestep_sampling, mean=flow.logit_mean, std=flow.logit_std,
        uniform_fraction=flow.uniform_fraction, generator=generator, device=device,
    )


def draw_noise_and_times(
    shape: tuple[int, ...],
    *,
    flow: FlowConfig,
    generator: torch.Generator,
    rows: slice = slice(None),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise ``x0`` of ``shape`` and times ``t`` ``[shape[0]]`` from ``flow``'s training-time distribution, drawn on the
    CPU in :func:`flow_matching_loss`'s order.

    ``rows`` keeps part of the batch: a data-parallel rank draws for the *global* batch and keeps its slice, so a run
    on any number of ranks trains on the draws of a single-process run.
    """
    x0 = torch.randn(shape, generator=generator)
    t = _training_times(shape[0], flow=flow, generator=generator, device=torch.device("cpu"))
    return x0[rows], t[rows]


def flow_matching_loss(
    velocity_fn: VelocityFn,
    x1: torch.Tensor,
    *,
    path: OTPath,
    flow: FlowConfig | None = None,
    t: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    loss_mask: torch.Tensor | None = None,
) -> FlowLossOutput:
    """Draw noise and times, build xt on ``path`` and regress the velocity with MSE.

    Args:
        velocity_fn: the network with its conditioning bound, ``(xt, t_B) -> v``.
        x1: clean data latents ``[B, ...]``.
        path: the probability path.
        flow: the training-time distribution of t (ignored when ``t`` is given; default ``FlowConfig()``).
        t: optional fixed times ``[B]`` (validation uses fixed times for a low-variance loss).
        x0: optional fixed noise (validation).
        generator: RNG for noise and times.
        loss_mask: optional weights broadcastable to ``x1`` (1 = counts, 0 = ignored); each sample's loss is the mean
            over its counted values. Masked audio prediction counts only the frames it generates (SPEC 8.3)
            [inferred: as Voicebox does; the paper does not say]. Every sample needs a counted value.
    """
    if x0 is None:
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    if t is None:
        t = _training_times(x1.shape[0], flow=flow or FlowConfig(), generator=generator, device=x1.device)
    sample = path.sample(x0=x0, x1=x1, t=t)
    pred = velocity_fn(sample.xt, t.to(x1.dtype))
    # fp32 island: the loss reduction (bf16 sums of squares over millions of latent values drift).
    sq = (pred.float() - sample.target.float()).pow(2)
    if loss_mask is None:
        loss_per_sample = sq.flatten(1).mean(dim=1)
    else:
        weight = loss_mask.float().expand_as(sq).flatten(1)
        counted = weight.sum(dim=1)
        if bool((counted <= 0).any()):
            raise ValueError("loss_mask leaves a sample with nothing to count")
        loss_per_sample = (sq.flatten(1) * weight).sum(dim=1) / counted
    return FlowLossOutput(loss=loss_per_sample.mean(), loss_per_sample=loss_per_sample, t=t)
