"""DAC-VAE training objective (SPEC 8.1): multi-scale mel + multi-resolution STFT + waveform L1 + small KL.

The paper gives no loss details for its DAC-VAE; everything here is [inferred] from DAC (Kumar et al. 2023) and the
multi-resolution STFT loss of Parallel WaveGAN (Yamamoto et al. 2020):

* ``mel``: DAC's ``MelSpectrogramLoss`` with ``pow=1``, ``mag_weight=0``: L1 between ``log10(max(mel, 1e-5))`` of
  the target and the reconstruction (:func:`moviegen.audio.spectral.log_mel`), averaged over bins and frames, then
  over scales (DAC sums over scales; the mean keeps the term's size independent of the number of scales).
* ``stft``: per resolution, spectral convergence ``||S - S_hat||_F / ||S||_F`` (per sample with a floor on
  ``||S||_F`` for silent crops, then the batch mean)
  plus the mean L1 between ``log(max(S, 1e-5))`` magnitudes; averaged over resolutions.
* ``waveform``: mean absolute sample difference (DAC logs it; here it also anchors phase, which the magnitude terms
  ignore and which DAC leaves to its discriminators).
* ``kl``: KL(q(z|x) || N(0, I)) **per latent value**: summed over the latent, divided by ``B * C * L``. With the
  default weight 1e-4 this keeps the latent near unit scale without limiting reconstruction. (For comparison,
  Stable Audio's VAE uses 1e-4 on the KL summed over channels and averaged over frames, i.e. ``C`` times more.)

Window sizes are defined at a 16 kHz reference and scaled linearly with the sample rate, so every scale spans the
same duration at any rate (e.g. mel windows 16, 32, 64, 128 ms). Every mel scale is validated to have no empty band.

The adversarial terms (DAC's multi-period and multi-band multi-scale STFT discriminators, feature matching) are not
implemented: ``adversarial_weight`` must stay 0. TODO(future): add them for perceptual quality at 48 kHz.
"""

from dataclasses import dataclass

import torch
from torch import nn

from moviegen.audio.codec import DACVAEOutput
from moviegen.audio.spectral import LOG_MEL_EPS, log_mel, mel_filterbank, stft_magnitude

REFERENCE_SAMPLE_RATE = 16_000  # the window sizes below are given at this rate and scaled to the codec's
# Spectral convergence divides by ||S||_F, which is ~0 on silent crops (most of the world's sound is silence between
# impacts): a floor of 1e-3 RMS magnitude per bin (about -60 dB) keeps the ratio bounded there and changes nothing on
# audible targets. A bare epsilon let one silent crop blow the loss up to ~1e6 in training.
SPECTRAL_CONVERGENCE_FLOOR = 1e-3
LOG_MAGNITUDE_EPS = 1e-5  # floor of |STFT| before the log in the STFT loss (-100 dB)


@dataclass(frozen=True)
class SpectralScale:
    """One resolution of a spectral loss, at the codec's sample rate (``n_mels = 0`` for a plain STFT scale)."""

    n_fft: int
    hop: int
    n_mels: int = 0


@dataclass(frozen=True, kw_only=True)
class AudioCodecLossConfig:
    """Weights and resolutions of the DAC-VAE objective (see the module docstring for each term).

    Args:
        sample_rate: the codec's sample rate; window sizes are scaled from 16 kHz to it.
        mel_weight: weight of the multi-scale log-mel L1.
        mel_n_ffts_16k: mel window sizes at 16 kHz (hop = window / 4).
        mel_n_mels: mel bands per mel scale (same length as ``mel_n_ffts_16k``); must leave no band empty.
        stft_weight: weight of the multi-resolution STFT loss (spectral convergence + log-magnitude L1).
        stft_n_ffts_16k: STFT window sizes at 16 kHz (hop = window / 4).
        waveform_weight: weight of the waveform L1.
        kl_weight: weight of the per-latent-value KL.
        adversarial_weight: must be 0: the adversarial loss is not implemented.
        mel_floor: mel magnitudes are clamped to this before the log (DAC: 1e-5, -100 dB). A bin whose prediction
            sits below the floor gets no gradient, so quiet material (the world's sound is at -30 to -45 dBFS, half
            its mel bins under 1e-5) needs a lower floor: with 1e-5 the tiny codec collapsed to one quiet output
            for every input (docs/audio.md).

    Raises:
        ValueError: for negative weights, mismatched or non-positive scales, empty mel bands, or
            ``adversarial_weight != 0``.
    """

    sample_rate: int
    mel_weight: float = 1.0
    mel_n_ffts_16k: tuple[int, ...] = (256, 512, 1024, 2048)
    mel_n_mels: tuple[int, ...] = (32, 64, 128, 128)
    stft_weight: float = 1.0
    stft_n_ffts_16k: tuple[int, ...] = (128, 512, 2048)
    waveform_weight: float = 1.0
    kl_weight: float = 1e-4
    adversarial_weight: float = 0.0
    mel_floor: float = LOG_MEL_EPS

    def __post_init__(self) -> None:
        if self.sample_rate < 1:
            raise ValueError(f"sample_rate must be >= 1, got {self.sample_rate}")
        for name in ("mel_weight", "stft_weight", "waveform_weight", "kl_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.adversarial_weight != 0:
            raise ValueError(
                f"adversarial_weight must be 0 (the DAC discriminators are not implemented), got "
                f"{self.adversarial_weight}"
            )
        if len(self.mel_n_ffts_16k) != len(self.mel_n_mels) or not self.mel_n_ffts_16k:
            raise ValueError(
                f"mel_n_ffts_16k and mel_n_mels must be non-empty and of equal length, got {self.mel_n_ffts_16k} and "
                f"{self.mel_n_mels}"
            )
        if not self.stft_n_ffts_16k:
            raise ValueError(f"stft_n_ffts_16k must be non-empty, got {self.stft_n_ffts_16k}")
        for scale in (*self.mel_scales, *self.stft_scales):
            if scale.n_fft < 4 or scale.n_mels < 0:
                raise ValueError(f"every scale needs n_fft >= 4 at {self.sample_rate} Hz, got {scale}")
        for scale in self.mel_scales:  # raises ValueError, naming the empty bands, if n_mels is too large
            mel_filterbank(sample_rate=self.sample_rate, n_fft=scale.n_fft, n_mels=scale.n_mels)

    def _scaled(self, n_fft_16k: int) -> int:
        return round(n_fft_16k * self.sample_rate / REFERENCE_SAMPLE_RATE)

    @property
    def mel_scales(self) -> tuple[SpectralScale, ...]:
        """The mel resolutions at ``sample_rate``: ``n_fft`` scaled from 16 kHz, ``hop = n_fft // 4``."""
        n_ffts = [self._scaled(n) for n in self.mel_n_ffts_16k]
        return tuple(SpectralScale(n, n // 4, m) for n, m in zip(n_ffts, self.mel_n_mels, strict=True))

    @property
    def stft_scales(self) -> tuple[SpectralScale, ...]:
        """The STFT resolutions at ``sample_rate``: ``n_fft`` scaled from 16 kHz, ``hop = n_fft // 4``."""
        return tuple(SpectralScale(n, n // 4) for n in (self._scaled(n) for n in self.stft_n_ffts_16k))

    @property
    def min_num_samples(self) -> int:
        """Shortest clip every scale accepts: more than half the largest window (reflect padding)."""
        return max(s.n_fft for s in (*self.mel_scales, *self.stft_scales)) // 2 + 1


@dataclass
class AudioCodecLossTerms:
    """Scalar loss terms. ``total`` is the weighted sum; the others are unweighted (0 when their weight is 0)."""

    total: torch.Tensor
    mel: torch.Tensor
    stft: torch.Tensor
    waveform: torch.Tensor
    kl: torch.Tensor


def multiscale_mel_loss(
    pred_BN: torch.Tensor,
    *,
    target_BN: torch.Tensor,
    sample_rate: int,
    scales: tuple[SpectralScale, ...],
    floor: float = LOG_MEL_EPS,
) -> torch.Tensor:
    """Mean over scales of the mean L1 between log10-mel magnitudes floored at ``floor`` (fp32)."""
    losses = [
        (
            log_mel(pred_BN, sample_rate=sample_rate, n_fft=s.n_fft, hop=s.hop, n_mels=s.n_mels, eps=floor)
            - log_mel(target_BN, sample_rate=sample_rate, n_fft=s.n_fft, hop=s.hop, n_mels=s.n_mels, eps=floor)
        )
        .abs()
        .mean()
        for s in scales
    ]
    return torch.stack(losses).mean()


def multiresolution_stft_loss(
    pred_BN: torch.Tensor, *, target_BN: torch.Tensor, scales: tuple[SpectralScale, ...]
) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + log-magnitude L1 (Parallel WaveGAN), fp32."""
    losses = []
    for s in scales:
        pred_BFT = stft_magnitude(pred_BN, n_fft=s.n_fft, hop=s.hop)
        target_BFT = stft_magnitude(target_BN, n_fft=s.n_fft, hop=s.hop)
        target_energy_B = target_BFT.flatten(1).pow(2).sum(dim=1)
        floor = SPECTRAL_CONVERGENCE_FLOOR**2 * target_BFT[0].numel()
        convergence_B = (pred_BFT - target_BFT).flatten(1).norm(dim=1) / (target_energy_B + floor).sqrt()
        log_l1 = (pred_BFT.clamp_min(LOG_MAGNITUDE_EPS).log() - target_BFT.clamp_min(LOG_MAGNITUDE_EPS).log()).abs()
        losses.append(convergence_B.mean() + log_l1.mean())
    return torch.stack(losses).mean()


class AudioCodecLoss(nn.Module):
    """The DAC-VAE objective (see the module docstring). Holds no parameters.

    Args:
        cfg: weights and resolutions.
    """

    def __init__(self, cfg: AudioCodecLossConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, *, audio_B1N: torch.Tensor, output: DACVAEOutput) -> AudioCodecLossTerms:
        """Loss terms for one batch.

        Args:
            audio_B1N: the input waveform ``[B, 1, N]`` at ``cfg.sample_rate``, ``N >= cfg.min_num_samples``.
            output: ``DACVAE.forward(audio_B1N)``.

        Returns:
            The weighted total and the unweighted terms.

        Raises:
            ValueError: if the reconstruction's shape differs from the input's, or the clip is too short for the
                largest window.
        """
        cfg, recon_B1N = self.cfg, output.reconstruction_B1N
        if recon_B1N.shape != audio_B1N.shape or audio_B1N.ndim != 3 or audio_B1N.shape[1] != 1:
            raise ValueError(
                f"audio and reconstruction must both be [B, 1, N] of equal shape, got {tuple(audio_B1N.shape)} and "
                f"{tuple(recon_B1N.shape)}"
            )
        if audio_B1N.shape[2] < cfg.min_num_samples:
            raise ValueError(
                f"clips must have >= {cfg.min_num_samples} samples (half the largest window + 1) at "
                f"{cfg.sample_rate} Hz, got {audio_B1N.shape[2]}"
            )
        pred_BN, target_BN = recon_B1N[:, 0].float(), audio_B1N[:, 0].float()  # fp32 island: spectra and logs
        zero = pred_BN.new_zeros(())
        mel = (
            multiscale_mel_loss(
                pred_BN, target_BN=target_BN, sample_rate=cfg.sample_rate, scales=cfg.mel_scales, floor=cfg.mel_floor
            )
            if cfg.mel_weight > 0
            else zero
        )
        stft = (
            multiresolution_stft_loss(pred_BN, target_BN=target_BN, scales=cfg.stft_scales)
            if cfg.stft_weight > 0
            else zero
        )
        waveform = (pred_BN - target_BN).abs().mean()
        posterior = output.posterior
        kl = posterior.kl().sum() / posterior.mean_BCL.numel()
        total = cfg.mel_weight * mel + cfg.stft_weight * stft + cfg.waveform_weight * waveform + cfg.kl_weight * kl
        return AudioCodecLossTerms(total=total, mel=mel, stft=stft, waveform=waveform, kl=kl)
