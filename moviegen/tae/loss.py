"""TAE training objective (SPEC 1.2): reconstruction + perceptual + adversarial + KL + outlier penalty (OPL).

Normalisation follows the latent-diffusion autoencoder and S1, for which the KL weight 1e-6 was chosen: pixel terms
are summed over ``C x H x W`` and averaged over frames (the LPIPS-style distance is a per-frame scalar broadcast to
every pixel, as in LDM), the KL is summed over the latent and divided by the number of input frames, and the OPL is
a mean (its weight 1e5 is the paper's). Images are 1-frame videos, so they use the same code path.

The adversarial term is off by default (``discriminator_weight = 0``). When on, its weight is adapted as in LDM
(``|grad nll| / |grad g|`` at the decoder's last layer, times ``discriminator_weight``) [inferred: the paper gives
no adversarial weights].
"""

from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn

from moviegen.tae.discriminator import PatchDiscriminator
from moviegen.tae.model import TAEOutput
from moviegen.tae.perceptual import DEFAULT_SEED, PerceptualLoss

# LDM's adaptive adversarial weight: epsilon of the gradient-norm ratio and its clamp.
_ADAPTIVE_EPS, _ADAPTIVE_MAX = 1e-4, 1e4


class ReconstructionLoss(Enum):
    L1 = "l1"  # |x - x_hat| (LDM, S1)
    L1_L2 = "l1_l2"  # |x - x_hat| + (x - x_hat)^2
    L2 = "l2"  # (x - x_hat)^2: weights large errors (small, saturated objects) above many small ones (texture)


@dataclass(frozen=True, kw_only=True)
class TAELossConfig:
    """Weights of the TAE objective.

    Args:
        reconstruction: pixel loss kind.
        perceptual_weight: weight of the LPIPS-style term (S1: 1.0); 0 disables it.
        perceptual_seed: seed of the random default perceptual network.
        perceptual_weights_path: safetensors file with trained perceptual weights (``None``: seeded random net).
        kl_weight: weight of KL(q(z|x) || N(0, I)) (S1: 1e-6).
        opl_weight: weight of the outlier penalty loss (paper: 1e5); 0 disables it.
        opl_r: OPL threshold in standard deviations (paper: 3).
        discriminator_weight: base weight of the adversarial term; 0 (default) disables the discriminator.
        discriminator_channels: PatchGAN base width.
        discriminator_layers: PatchGAN stride-2 layers.

    Raises:
        ValueError: for negative weights or non-positive sizes.
    """

    reconstruction: ReconstructionLoss = ReconstructionLoss.L1
    perceptual_weight: float = 1.0
    perceptual_seed: int = DEFAULT_SEED
    perceptual_weights_path: str | None = None
    kl_weight: float = 1e-6
    opl_weight: float = 1e5
    opl_r: float = 3.0
    discriminator_weight: float = 0.0
    discriminator_channels: int = 64
    discriminator_layers: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.reconstruction, ReconstructionLoss):
            raise ValueError(f"reconstruction must be a ReconstructionLoss, got {self.reconstruction!r}")
        for name in ("perceptual_weight", "kl_weight", "opl_weight", "discriminator_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.opl_r <= 0:
            raise ValueError(f"opl_r must be > 0, got {self.opl_r}")
        if self.discriminator_channels < 1 or self.discriminator_layers < 1:
            raise ValueError(
                f"discriminator_channels and discriminator_layers must be >= 1, got {self.discriminator_channels} "
                f"and {self.discriminator_layers}"
            )


@dataclass
class TAELossTerms:
    """Scalar loss terms. ``total`` is the weighted sum; the others are unweighted (0 when disabled)."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    perceptual: torch.Tensor
    kl: torch.Tensor
    opl: torch.Tensor
    adversarial: torch.Tensor
    adversarial_weight: torch.Tensor


def reconstruction_loss(
    pred_BCTHW: torch.Tensor, *, target_BCTHW: torch.Tensor, kind: ReconstructionLoss = ReconstructionLoss.L1
) -> torch.Tensor:
    """Pixel loss summed over ``C x H x W`` and averaged over the ``B x T`` frames."""
    diff = pred_BCTHW.float() - target_BCTHW.float()  # fp32 island: a sum over many pixels
    if kind is ReconstructionLoss.L1:
        per_pixel = diff.abs()
    elif kind is ReconstructionLoss.L2:
        per_pixel = diff.square()
    else:
        per_pixel = diff.abs() + diff.square()
    num_frames = target_BCTHW.shape[0] * target_BCTHW.shape[2]
    return per_pixel.sum() / num_frames


def kl_divergence(mean_BCTHW: torch.Tensor, *, logvar_BCTHW: torch.Tensor) -> torch.Tensor:
    """``[B]``: KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 * sum(mean^2 + var - 1 - logvar) per sample."""
    mean, logvar = mean_BCTHW.float(), logvar_BCTHW.float()  # fp32 island: exp and a large sum
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def outlier_penalty_loss(latent_BCTHW: torch.Tensor, *, r: float = 3.0) -> torch.Tensor:
    """Outlier penalty loss (SPEC 1.2), averaged over the ``B x T`` latent frames.

    For each frame ``X`` (``C x H x W``), with ``Mean(X)`` and ``Std(X)`` per channel over space::

        L = 1 / (H W) * sum_ij max(||X[:, i, j] - Mean(X)|| - r * ||Std(X)||, 0)

    The norms are over channels. ``Std`` is the population standard deviation [inferred: public snippets use the
    unbiased one, which is undefined for a 1x1 latent].
    """
    x = latent_BCTHW.float()  # fp32 island: statistics
    mean_BCT11 = x.mean(dim=(3, 4), keepdim=True)
    std_BCT = x.std(dim=(3, 4), correction=0)
    distance_BTHW = (x - mean_BCT11).norm(dim=1)
    threshold_BT11 = r * std_BCT.norm(dim=1)[..., None, None]
    return F.relu(distance_BTHW - threshold_BT11).mean()


def hinge_discriminator_loss(*, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """``0.5 * (mean(relu(1 - D(real))) + mean(relu(1 + D(fake))))``: 0 once real > 1 and fake < -1."""
    return 0.5 * (F.relu(1.0 - logits_real.float()).mean() + F.relu(1.0 + logits_fake.float()).mean())


def hinge_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """``-mean(D(fake))``: falls as the discriminator scores reconstructions as more real."""
    return -logits_fake.float().mean()


def adaptive_adversarial_weight(
    nll: torch.Tensor, generator_loss: torch.Tensor, *, last_layer_weight: torch.Tensor
) -> torch.Tensor:
    """LDM's balance: ``|d nll / d w| / (|d g / d w| + 1e-4)`` at the decoder's last weight, clamped, detached."""
    nll_grad = torch.autograd.grad(nll, last_layer_weight, retain_graph=True)[0]
    g_grad = torch.autograd.grad(generator_loss, last_layer_weight, retain_graph=True)[0]
    return (nll_grad.norm() / (g_grad.norm() + _ADAPTIVE_EPS)).clamp(0.0, _ADAPTIVE_MAX).detach()


class TAELoss(nn.Module):
    """The full TAE objective; owns the frozen perceptual net and (if enabled) the trainable discriminator.

    The trainer optimises ``loss.discriminator`` separately with :meth:`discriminator_loss`.

    Args:
        cfg: loss weights.
        in_channels: pixel channels.
    """

    def __init__(self, cfg: TAELossConfig, *, in_channels: int = 3) -> None:
        super().__init__()
        self.cfg = cfg
        self.perceptual = None
        if cfg.perceptual_weight > 0:
            self.perceptual = PerceptualLoss(in_channels=in_channels, seed=cfg.perceptual_seed)
            if cfg.perceptual_weights_path is not None:
                self.perceptual.load_weights(cfg.perceptual_weights_path)
        self.discriminator = (
            PatchDiscriminator(
                in_channels=in_channels, base_channels=cfg.discriminator_channels, num_layers=cfg.discriminator_layers
            )
            if cfg.discriminator_weight > 0
            else None
        )

    def forward(
        self, *, video_BCTHW: torch.Tensor, output: TAEOutput, last_layer_weight: torch.Tensor | None = None
    ) -> TAELossTerms:
        """Autoencoder (generator) loss terms for one batch.

        Args:
            video_BCTHW: the input clip in [-1, 1].
            output: ``TemporalAutoencoder.forward(video_BCTHW)``.
            last_layer_weight: ``tae.decoder.conv_out.spatial.weight``; needed for the adaptive adversarial weight
                when the discriminator is enabled.

        Returns:
            The weighted total and the unweighted terms.

        Raises:
            ValueError: if the discriminator is enabled and ``last_layer_weight`` is missing.
        """
        cfg, recon_BCTHW = self.cfg, output.reconstruction_BCTHW
        zero = recon_BCTHW.new_zeros((), dtype=torch.float32)
        rec = reconstruction_loss(recon_BCTHW, target_BCTHW=video_BCTHW, kind=cfg.reconstruction)
        perceptual = zero
        if self.perceptual is not None:
            pixels_per_frame = video_BCTHW.shape[1] * video_BCTHW.shape[3] * video_BCTHW.shape[4]
            # Per-frame distance broadcast to every pixel, as LDM does (see the module docstring).
            perceptual = self.perceptual(recon_BCTHW, target_BCTHW=video_BCTHW) * pixels_per_frame
        num_frames = video_BCTHW.shape[0] * video_BCTHW.shape[2]
        kl = kl_divergence(output.posterior_mean_BCTHW, logvar_BCTHW=output.posterior_logvar_BCTHW).sum() / num_frames
        opl = outlier_penalty_loss(output.posterior_mean_BCTHW, r=cfg.opl_r) if cfg.opl_weight > 0 else zero
        nll = rec + cfg.perceptual_weight * perceptual
        total = nll + cfg.kl_weight * kl + cfg.opl_weight * opl
        adversarial, adversarial_weight = zero, zero
        if self.discriminator is not None:
            if last_layer_weight is None:
                raise ValueError("discriminator_weight > 0 needs last_layer_weight (decoder.conv_out.spatial.weight)")
            adversarial = hinge_generator_loss(self.discriminator(recon_BCTHW))
            adaptive = adaptive_adversarial_weight(nll, adversarial, last_layer_weight=last_layer_weight)
            adversarial_weight = cfg.discriminator_weight * adaptive
            total = total + adversarial_weight * adversarial
        return TAELossTerms(
            total=total,
            reconstruction=rec,
            perceptual=perceptual,
            kl=kl,
            opl=opl,
            adversarial=adversarial,
            adversarial_weight=adversarial_weight,
        )

    def discriminator_loss(self, *, video_BCTHW: torch.Tensor, reconstruction_BCTHW: torch.Tensor) -> torch.Tensor:
        """Hinge loss of the discriminator on real clips vs (detached) reconstructions.

        Raises:
            ValueError: if the discriminator is disabled.
        """
        if self.discriminator is None:
            raise ValueError("the discriminator is disabled (TAELossConfig.discriminator_weight == 0)")
        logits_real = self.discriminator(video_BCTHW)
        logits_fake = self.discriminator(reconstruction_BCTHW.detach())
        return hinge_discriminator_loss(logits_real=logits_real, logits_fake=logits_fake)
