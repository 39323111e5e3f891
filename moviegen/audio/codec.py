"""DAC-VAE: Movie Gen Audio's autoencoder (SPEC 8.1), 48 kHz waveform <-> 25 Hz latent frames, 128 channels.

The paper takes the Descript Audio Codec (DAC, Kumar et al. 2023, github.com/descriptinc/descript-audio-codec,
``dac/model/dac.py``), removes the residual vector quantizer and trains it as a VAE. This file follows DAC's
generator layer by layer (``ResidualUnit``, ``EncoderBlock``, ``DecoderBlock``, ``Snake1d``):

* encoder: ``Conv1d(1, C0, 7)``, then per stride ``s`` an encoder block (three residual units with dilations 1, 3, 9,
  then Snake and a strided ``Conv1d(kernel 2s, stride s)`` doubling the width), then Snake and a ``Conv1d(k3)`` to
  ``2 * latent_channels`` moments (mean, log-variance). DAC's ``Conv1d(k3)`` to its codebook input plays this role;
* decoder: ``Conv1d(latent, D0, 7)``, then per stride (reversed) Snake, ``ConvTranspose1d(kernel 2s, stride s)``
  halving the width and three residual units, then Snake, ``Conv1d(k7)`` to one channel and ``tanh``.

Differences from DAC, all [inferred] (the paper gives no layer details, SPEC 8.1):

* no weight normalisation: plain convolutions keep meta-device init and FSDP simple (DAC needs weight norm mostly to
  stabilise its GAN training, which is not implemented here);
* the posterior is a diagonal Gaussian; its log-variance is clamped to ``[-30, 20]`` as in the TAE;
* odd strides use ``output_padding = 1`` in the transposed conv so that lengths are exact (DAC crops instead).

Length rule. With ``hop = prod(strides)``, encoding ``N`` samples (``N`` a multiple of ``hop``; see
:func:`pad_to_hop`) gives exactly ``N / hop`` latent frames, and decoding ``L`` frames gives exactly ``L * hop``
samples: every strided conv has ``padding = ceil(s / 2)``, which maps ``N -> N / s`` for even and odd ``s``.

Latent normalisation. :meth:`DACVAE.encode` returns ``latent_BCL = (z - shift_factor) * scaling_factor`` (the space
the audio DiT models) and :meth:`DACVAE.decode` undoes it, so ``decode(encode(x).latent_BCL)`` is the
reconstruction. ``mean_BCL`` and ``logvar_BCL`` are the raw posterior moments (for the KL).

Letters in this file: ``N`` audio samples and ``L`` latent frames (not heads / video tokens); ``C`` channels.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LOGVAR_INIT = -5.0  # initial posterior log-variance (see DACVAE.init_weights)
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # posterior log-variance clamp, as the TAE (diffusers' DiagonalGaussian)
SNAKE_EPS = 1e-9  # DAC's Snake1d: 1 / (alpha + 1e-9)
INIT_STD = 0.02  # DAC's init_weights: trunc_normal_(std=0.02) on every Conv1d, zero bias
PAPER_SAMPLE_RATE = 48_000  # SPEC 8.1
PAPER_FRAME_RATE = 25  # SPEC 8.1: 25 Hz latent frames, i.e. a hop of 1920 samples at 48 kHz
PAPER_LATENT_CHANNELS = 128  # SPEC 8.1


@dataclass(frozen=True, kw_only=True)
class DACVAEConfig:
    """Architecture of the DAC-VAE.

    Args:
        sample_rate: waveform sample rate in Hz (mono).
        encoder_channels: width ``C0`` after the input conv; each encoder block doubles it (DAC's ``encoder_dim``).
        strides: downsampling factor of each encoder block; the decoder uses them reversed. Each must be >= 2.
        latent_channels: latent width (SPEC 8.1: 128).
        decoder_channels: width ``D0`` after the decoder's input conv; each decoder block halves it (DAC's
            ``decoder_dim``), so it must divide by ``2 ** len(strides)``.
        dilations: dilations of the residual units of every block (DAC: 1, 3, 9).
        residual_kernel_size: kernel of the dilated conv in a residual unit (DAC: 7); odd.
        io_kernel_size: kernel of the encoder's input conv and of the decoder's input and output convs (DAC: 7); odd.
        latent_kernel_size: kernel of the encoder's output conv to the moments (DAC: 3); odd.
        scaling_factor: latents are handed out as ``(z - shift_factor) * scaling_factor``. The defaults (1, 0) are
            placeholders [inferred]: measure the latent statistics on training data once the codec is trained.
        shift_factor: see ``scaling_factor``.

    Raises:
        ValueError: for non-positive sizes, strides < 2, even kernels, or a decoder width that cannot be halved once
            per stride.
    """

    sample_rate: int = PAPER_SAMPLE_RATE
    encoder_channels: int = 64
    strides: tuple[int, ...] = (2, 4, 5, 6, 8)
    latent_channels: int = PAPER_LATENT_CHANNELS
    decoder_channels: int = 1536
    dilations: tuple[int, ...] = (1, 3, 9)
    residual_kernel_size: int = 7
    io_kernel_size: int = 7
    latent_kernel_size: int = 3
    scaling_factor: float = 1.0
    shift_factor: float = 0.0

    def __post_init__(self) -> None:
        for name in ("sample_rate", "encoder_channels", "latent_channels", "decoder_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.strides, tuple) or not self.strides or min(self.strides) < 2:
            raise ValueError(f"strides must be a non-empty tuple of ints >= 2, got {self.strides!r}")
        if not isinstance(self.dilations, tuple) or not self.dilations or min(self.dilations) < 1:
            raise ValueError(f"dilations must be a non-empty tuple of ints >= 1, got {self.dilations!r}")
        for name in ("residual_kernel_size", "io_kernel_size", "latent_kernel_size"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1 (length-preserving 'same' padding), got {k}")
        if self.decoder_channels % 2 ** len(self.strides):
            raise ValueError(
                f"decoder_channels must be divisible by 2 ** len(strides) = {2 ** len(self.strides)} (halved once per "
                f"stride {self.strides}), got {self.decoder_channels}"
            )
        if self.scaling_factor <= 0:
            raise ValueError(f"scaling_factor must be > 0, got {self.scaling_factor}")

    @property
    def hop(self) -> int:
        """Samples per latent frame, ``prod(strides)`` (1920 for the paper's 48 kHz codec)."""
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        """Latent frames per second, ``sample_rate / hop`` (25.0 for every preset).

        Not required to be an integer (DAC's 44.1 kHz codec runs at 86.13 Hz); it is exact when it is one.
        """
        return self.sample_rate / self.hop

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """Width after the input conv and after each encoder block: ``C0 * 2 ** i``."""
        return tuple(self.encoder_channels * 2**i for i in range(len(self.strides) + 1))

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        """Width after the input conv and after each decoder block: ``D0 // 2 ** i``."""
        return tuple(self.decoder_channels // 2**i for i in range(len(self.strides) + 1))

    @property
    def decoder_context_frames(self) -> int:
        """Latent frames on either side of a frame that can change its decoded samples (a safe upper bound).

        Sums the half receptive fields of the decoder's convs, each converted to latent frames at its own rate: the
        input conv ``(k - 1) / 2`` frames; per block at upsampling ``u`` (samples per latent frame after it) 2 input
        samples for the transposed conv and ``(k - 1) / 2 * sum(dilations)`` samples for the residual units; the
        output conv. :meth:`DACVAE.decode_chunked` decodes this much context around each chunk, which makes it
        match :meth:`DACVAE.decode` up to float rounding.
        """
        half = (self.io_kernel_size - 1) / 2  # input conv, at 1 sample per latent frame
        rate = 1
        residual_half = (self.residual_kernel_size - 1) / 2 * sum(self.dilations)
        for stride in reversed(self.strides):
            half += 2 / rate  # transposed conv, kernel 2s: at most 2 input samples either side
            rate *= stride
            half += residual_half / rate
        half += (self.io_kernel_size - 1) / 2 / rate  # output conv
        return math.ceil(half)

    def normalize_latent(self, z_BCL: torch.Tensor) -> torch.Tensor:
        """Raw posterior latent -> the audio DiT's space: ``(z - shift_factor) * scaling_factor``."""
        return (z_BCL - self.shift_factor) * self.scaling_factor

    def denormalize_latent(self, latent_BCL: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalize_latent`."""
        return latent_BCL / self.scaling_factor + self.shift_factor


def dac_vae_debug() -> DACVAEConfig:
    """Unit tests: 8 kHz, strides (2, 4, 5) -> hop 40 (200 Hz frames), widths 4..32, 8 latent channels."""
    return DACVAEConfig(sample_rate=8000, encoder_channels=4, strides=(2, 4, 5), latent_channels=8, decoder_channels=32)


def dac_vae_tiny() -> DACVAEConfig:
    """CPU-trainable codec: 16 kHz, strides (2, 4, 8, 10) -> hop 640 -> exactly 25 Hz, 32 latent channels.

    [inferred] Encoder widths 16..256 and decoder widths 256..16, sized to learn simple percussive sounds and tones
    in about 15 minutes on a 2-core CPU. The 25 Hz frame rate is the paper's, so the audio DiT sees the same
    frames-per-second as at 48 kHz.
    """
    return DACVAEConfig(
        sample_rate=16_000, encoder_channels=16, strides=(2, 4, 8, 10), latent_channels=32, decoder_channels=256
    )


def dac_vae_48k() -> DACVAEConfig:
    """The paper's DAC-VAE (SPEC 8.1): 48 kHz, strides (2, 4, 5, 6, 8) -> hop 1920 -> 25 Hz, 128 latent channels.

    [inferred] DAC's widths (encoder 64 doubling per block, decoder 1536 halving); a fifth block (stride 5 or 6 on
    top of DAC's 2, 4, 8, 8 factors) reaches the 1920 hop, so the encoder ends at 2048 channels. About 120M
    parameters (76.6M encoder, 43.6M decoder).
    """
    return DACVAEConfig()


@dataclass
class AudioPosterior:
    """Result of :meth:`DACVAE.encode`.

    Args:
        latent_BCL: normalised latent (a posterior sample, or the mean when not sampled).
        mean_BCL: raw posterior mean.
        logvar_BCL: raw posterior log-variance (clamped).
    """

    latent_BCL: torch.Tensor
    mean_BCL: torch.Tensor
    logvar_BCL: torch.Tensor

    def kl(self) -> torch.Tensor:
        """``[B]``: KL(N(mean, exp(logvar)) || N(0, I)) summed over channels and frames, in fp32."""
        mean, logvar = self.mean_BCL.float(), self.logvar_BCL.float()  # fp32 island: exp and a long sum
        return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


@dataclass
class DACVAEOutput:
    """Result of :meth:`DACVAE.forward`: the reconstruction and the posterior that produced it."""

    reconstruction_B1N: torch.Tensor
    posterior: AudioPosterior


def pad_to_hop(audio_B1N: torch.Tensor, *, hop: int) -> torch.Tensor:
    """Right-pad with zeros to the next multiple of ``hop`` samples (unchanged if already a multiple).

    Crop the decoded audio back with ``[..., :N]``.
    """
    return F.pad(audio_B1N, (0, -audio_B1N.shape[-1] % hop))


@dataclass(frozen=True)
class _Chunk:
    """Latent frames ``[start, end)`` of one decode chunk, decoded with context ``[context_start, context_end)``."""

    start: int
    end: int
    context_start: int
    context_end: int


def _linear_ramp(length: int) -> torch.Tensor:
    """Rising weights ``(i + 1) / (length + 1)``, strictly inside (0, 1); ``1 - ramp`` is the falling partner."""
    return torch.arange(1, length + 1, dtype=torch.float32) / (length + 1)


class Snake(nn.Module):
    """Snake activation (Ziyin et al. 2020; DAC's ``Snake1d``): ``x + sin(alpha x)^2 / (alpha + 1e-9)``.

    ``alpha`` is a learnable per-channel frequency (``[C]``), 1 at init.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(channels))
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.ones_(self.alpha)

    def forward(self, x_BCN: torch.Tensor) -> torch.Tensor:
        alpha_1C1 = self.alpha[None, :, None]
        return x_BCN + (alpha_1C1 + SNAKE_EPS).reciprocal() * torch.sin(alpha_1C1 * x_BCN).square()


class ResidualUnit(nn.Module):
    """DAC's residual unit: ``x + conv2(snake2(conv1(snake1(x))))``, ``conv1`` dilated (kernel k), ``conv2`` 1x1."""

    def __init__(self, channels: int, *, dilation: int, kernel_size: int) -> None:
        super().__init__()
        self.act1 = Snake(channels)
        self.conv1 = nn.Conv1d(
            channels, channels, kernel_size, dilation=dilation, padding=(kernel_size - 1) // 2 * dilation
        )
        self.act2 = Snake(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=1)

    def forward(self, x_BCN: torch.Tensor) -> torch.Tensor:
        return x_BCN + self.conv2(self.act2(self.conv1(self.act1(x_BCN))))


class EncoderBlock(nn.Module):
    """Residual units at width ``channels``, then Snake and a strided conv to ``2 * channels`` (N -> N / stride)."""

    def __init__(self, channels: int, *, stride: int, cfg: DACVAEConfig) -> None:
        super().__init__()
        self.res_units = nn.ModuleList(
            ResidualUnit(channels, dilation=d, kernel_size=cfg.residual_kernel_size) for d in cfg.dilations
        )
        self.act = Snake(channels)
        # kernel 2s, padding ceil(s / 2): floor((N + 2 ceil(s/2) - 2s) / s) + 1 = N / s for N divisible by s.
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size=2 * stride, stride=stride, padding=(stride + 1) // 2)

    def forward(self, x_BCN: torch.Tensor) -> torch.Tensor:
        for unit in self.res_units:
            x_BCN = unit(x_BCN)
        return self.conv(self.act(x_BCN))  # [B, 2C, N / stride]


class DecoderBlock(nn.Module):
    """Snake and a transposed conv from ``channels`` to ``channels // 2`` (N -> N * stride), then residual units."""

    def __init__(self, channels: int, *, stride: int, cfg: DACVAEConfig) -> None:
        super().__init__()
        out_channels = channels // 2
        self.act = Snake(channels)
        # (N - 1) s - 2 ceil(s/2) + 2s + output_padding = N s, with output_padding = s % 2 for odd strides.
        self.conv = nn.ConvTranspose1d(
            channels,
            out_channels,
            kernel_size=2 * stride,
            stride=stride,
            padding=(stride + 1) // 2,
            output_padding=stride % 2,
        )
        self.res_units = nn.ModuleList(
            ResidualUnit(out_channels, dilation=d, kernel_size=cfg.residual_kernel_size) for d in cfg.dilations
        )

    def forward(self, x_BCN: torch.Tensor) -> torch.Tensor:
        x_BCN = self.conv(self.act(x_BCN))  # [B, C / 2, N * stride]
        for unit in self.res_units:
            x_BCN = unit(x_BCN)
        return x_BCN


class Encoder(nn.Module):
    """Waveform ``[B, 1, N]`` -> posterior moments ``[B, 2 * latent_channels, N / hop]``."""

    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        widths, k = cfg.encoder_widths, cfg.io_kernel_size
        self.conv_in = nn.Conv1d(1, widths[0], k, padding=(k - 1) // 2)
        self.blocks = nn.ModuleList(EncoderBlock(widths[i], stride=s, cfg=cfg) for i, s in enumerate(cfg.strides))
        self.act_out = Snake(widths[-1])
        k = cfg.latent_kernel_size
        self.conv_out = nn.Conv1d(widths[-1], 2 * cfg.latent_channels, k, padding=(k - 1) // 2)

    def forward(self, audio_B1N: torch.Tensor) -> torch.Tensor:
        x_BCN = self.conv_in(audio_B1N)
        for block in self.blocks:
            x_BCN = block(x_BCN)
        return self.conv_out(self.act_out(x_BCN))  # [B, 2 * latent_channels, L]


class Decoder(nn.Module):
    """Raw latent ``[B, latent_channels, L]`` -> waveform ``[B, 1, L * hop]`` in (-1, 1)."""

    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        widths, k = cfg.decoder_widths, cfg.io_kernel_size
        self.conv_in = nn.Conv1d(cfg.latent_channels, widths[0], k, padding=(k - 1) // 2)
        self.blocks = nn.ModuleList(
            DecoderBlock(widths[i], stride=s, cfg=cfg) for i, s in enumerate(reversed(cfg.strides))
        )
        self.act_out = Snake(widths[-1])
        self.conv_out = nn.Conv1d(widths[-1], 1, k, padding=(k - 1) // 2)

    def forward(self, z_BCL: torch.Tensor) -> torch.Tensor:
        x_BCN = self.conv_in(z_BCL)
        for block in self.blocks:
            x_BCN = block(x_BCN)
        return torch.tanh(self.conv_out(self.act_out(x_BCN)))  # [B, 1, L * hop]


class DACVAE(nn.Module):
    """DAC without RVQ, trained as a VAE (SPEC 8.1). See the module docstring for the length rule and normalisation.

    Build on the meta device, ``to_empty`` and call :meth:`init_weights` (the constructor also calls it, so a
    CPU-built model is usable).

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Every initialisation rule of the DAC-VAE [inferred; measured in docs/audio.md].

        * ``Conv1d`` and ``ConvTranspose1d``: normal with std ``1 / sqrt(fan_in)`` (``fan_in = C_in * k``, divided by
          the stride for a transposed conv, whose every output sees ``k / stride`` taps), zero bias: the signal keeps
          its scale through the ~40 convs. DAC's truncated normal (std 0.02) shrinks it about 5x per conv; without
          DAC's weight norm the latent then carries ~1e-5 of the input and the decoder learns to ignore it.
        * Residual units start as the identity (their last conv at zero).
        * The encoder's log-variance bias starts at -5 (posterior std 0.08), so the decoder sees the mean, not the
          prior's noise, from the first step.
        * Snake ``alpha``: 1.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.normal_(module.weight, std=module.weight[0].numel() ** -0.5)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.ConvTranspose1d):
                fan_in = module.weight.shape[0] * module.weight.shape[2] / module.stride[0]
                nn.init.normal_(module.weight, std=fan_in**-0.5)
                nn.init.zeros_(module.bias)
            elif isinstance(module, Snake):
                module.init_weights()
        for module in self.modules():
            if isinstance(module, ResidualUnit):
                nn.init.zeros_(module.conv2.weight)
        self.encoder.conv_out.bias[self.cfg.latent_channels :] = LOGVAR_INIT

    def encode(
        self, audio_B1N: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> AudioPosterior:
        """Encode mono audio into the latent posterior.

        Args:
            audio_B1N: ``[B, 1, N]`` waveform in [-1, 1] at ``cfg.sample_rate``, ``N`` a positive multiple of
                ``cfg.hop`` (right-pad with :func:`pad_to_hop`).
            sample: draw ``z = mean + std * eps``; ``False`` uses the mean (deterministic encode).
            generator: RNG for ``eps``.

        Returns:
            The posterior with ``N / hop`` latent frames; ``latent_BCL`` is normalised.

        Raises:
            ValueError: for a wrong rank or channel count, or a length that is not a positive multiple of the hop.
        """
        shape, hop = tuple(audio_B1N.shape), self.cfg.hop
        if audio_B1N.ndim != 3 or shape[1] != 1:
            raise ValueError(f"audio must be 3-D mono [B, 1, N] (use audio_BN[:, None]), got shape {shape}")
        if shape[2] < 1 or shape[2] % hop:
            raise ValueError(
                f"audio length must be a positive multiple of the hop {hop} (= prod(strides) {self.cfg.strides}), "
                f"got {shape[2]} samples; right-pad it with pad_to_hop"
            )
        mean_BCL, logvar_BCL = self.encoder(audio_B1N).chunk(2, dim=1)
        logvar_BCL = logvar_BCL.clamp(LOGVAR_MIN, LOGVAR_MAX)
        z_BCL = mean_BCL
        if sample:
            eps_BCL = torch.randn(mean_BCL.shape, generator=generator, device=mean_BCL.device, dtype=mean_BCL.dtype)
            z_BCL = mean_BCL + torch.exp(0.5 * logvar_BCL) * eps_BCL
        return AudioPosterior(latent_BCL=self.cfg.normalize_latent(z_BCL), mean_BCL=mean_BCL, logvar_BCL=logvar_BCL)

    def _check_latent(self, latent_BCL: torch.Tensor) -> None:
        c, shape = self.cfg.latent_channels, tuple(latent_BCL.shape)
        if latent_BCL.ndim != 3 or shape[1] != c or shape[2] < 1:
            raise ValueError(f"latent must be [B, {c}, L >= 1] (3-D, {c} channels), got shape {shape}")

    def decode(self, latent_BCL: torch.Tensor) -> torch.Tensor:
        """Decode a normalised latent ``[B, latent_channels, L]`` into ``[B, 1, L * hop]`` audio in (-1, 1).

        Raises:
            ValueError: for a wrong rank or channel count, or an empty latent.
        """
        self._check_latent(latent_BCL)
        return self.decoder(self.cfg.denormalize_latent(latent_BCL))

    @torch.no_grad()
    def decode_chunked(self, latent_BCL: torch.Tensor, *, chunk_frames: int, overlap_frames: int) -> torch.Tensor:
        """Decode a long latent in bounded memory: overlapping chunks blended with linear ramps (inference only).

        Chunks of ``chunk_frames`` latent frames start every ``chunk_frames - overlap_frames`` frames until one
        reaches the end. Each is decoded together with ``cfg.decoder_context_frames`` neighbouring frames on either
        side (cropped away afterwards), so its samples do not see the chunk's edges; within each overlap the
        earlier chunk's weight falls linearly while the later one's rises, summing to 1 (as in TAE tiling, SPEC 1.3).
        The result equals :meth:`decode` up to float rounding; peak memory grows with ``chunk_frames`` plus the
        context, not with ``L`` (beyond the ``[B, 1, L * hop]`` output buffer).

        Args:
            latent_BCL: normalised latent ``[B, latent_channels, L]``.
            chunk_frames: latent frames per chunk, >= 1 (``>= L`` decodes in one piece).
            overlap_frames: latent frames shared by consecutive chunks, in ``[0, chunk_frames / 2]``.

        Returns:
            ``[B, 1, L * hop]`` audio in the latent's dtype.

        Raises:
            ValueError: for a malformed latent or bad chunk / overlap sizes.
        """
        self._check_latent(latent_BCL)
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
        # At most half a chunk of overlap: every sample is covered by at most two chunks, whose ramps cross-fade.
        if not 0 <= 2 * overlap_frames <= chunk_frames:
            raise ValueError(
                f"overlap_frames must be in [0, chunk_frames / 2] = [0, {chunk_frames / 2:g}], got {overlap_frames}"
            )
        num_frames, hop, context = latent_BCL.shape[2], self.cfg.hop, self.cfg.decoder_context_frames
        chunks: list[_Chunk] = []
        start = 0
        while True:
            end = min(start + chunk_frames, num_frames)
            chunks.append(_Chunk(start, end, max(start - context, 0), min(end + context, num_frames)))
            if end == num_frames:
                break
            start += chunk_frames - overlap_frames
        audio_B1N = latent_BCL.new_zeros((latent_BCL.shape[0], 1, num_frames * hop))
        for k, chunk in enumerate(chunks):
            decoded_B1N = self.decode(latent_BCL[:, :, chunk.context_start : chunk.context_end])
            offset = (chunk.start - chunk.context_start) * hop
            piece_B1N = decoded_B1N[:, :, offset : offset + (chunk.end - chunk.start) * hop]
            weight_N = torch.ones(piece_B1N.shape[2])
            if k > 0:  # rising ramp over the overlap with the previous chunk
                overlap = (chunks[k - 1].end - chunk.start) * hop
                weight_N[:overlap] = _linear_ramp(overlap)
            if k < len(chunks) - 1:  # falling ramp over the overlap with the next chunk
                overlap = (chunk.end - chunks[k + 1].start) * hop
                weight_N[weight_N.shape[0] - overlap :] = 1.0 - _linear_ramp(overlap)
            audio_B1N[:, :, chunk.start * hop : chunk.end * hop] += piece_B1N * weight_N.to(piece_B1N)
        return audio_B1N

    def forward(
        self, audio_B1N: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> DACVAEOutput:
        """Encode, sample and decode (the training step's forward); see :meth:`encode` for the arguments."""
        posterior = self.encode(audio_B1N, sample=sample, generator=generator)
        return DACVAEOutput(reconstruction_B1N=self.decode(posterior.latent_BCL), posterior=posterior)
