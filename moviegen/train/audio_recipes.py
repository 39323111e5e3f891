"""Training recipes of Movie Gen Audio (SPEC 8.4 scaled to a 2-core CPU), as plain preset functions.

* ``audio-codec-tiny`` / ``audio-codec-debug``: the DAC-VAE on random crops of the data's audio (mel + STFT +
  waveform L1 + KL).
* ``audio-tiny`` / ``audio-debug``: the audio transformer (and, at tiny scale, its frame encoder) on cached codec
  latents of the same clips, with the paper's condition dropout and context masking (SPEC 8.3).

They are listed in :data:`moviegen.train.recipes.RECIPES` with the video recipes.
"""

from dataclasses import dataclass, replace

from moviegen.audio.codec import DACVAEConfig, dac_vae_debug, dac_vae_tiny
from moviegen.audio.codec_loss import AudioCodecLossConfig
from moviegen.audio.conditioning import AudioDropoutConfig
from moviegen.audio.config import MovieGenAudioConfig, audio_debug, audio_tiny
from moviegen.data.loader import TextMode
from moviegen.flow.config import FlowConfig
from moviegen.flow.solver import ODESolver
from moviegen.flow.timesteps import Schedule
from moviegen.train.config import LRSchedule, OptimConfig, TrainConfig


@dataclass(frozen=True, kw_only=True)
class CodecRecipe:
    """Training of the audio autoencoder on ``crop_seconds`` crops of every clip's sound."""

    name: str
    description: str
    codec: DACVAEConfig
    loss: AudioCodecLossConfig
    crop_seconds: float
    train: TrainConfig
    optim: OptimConfig
    frame_size: int = 32  # the audio-visual cache's frame size (shared with the transformer recipe's cache)
    # [inferred] Train on clips with sound: most of the world's clips are silent, and silence needs no training.
    min_rms: float = 1e-3
    # [inferred] Each crop is the loudest of this many random windows of its clip (see AudioCropIterator).
    crop_candidates: int = 1
    # The recipe whose run this one continues (``--init``), or None for a fresh codec.
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.loss.sample_rate != self.codec.sample_rate:
            raise ValueError(f"loss sample_rate {self.loss.sample_rate} must be the codec's {self.codec.sample_rate}")
        samples = self.crop_seconds * self.codec.sample_rate
        if samples != round(samples) or round(samples) % self.codec.hop:
            raise ValueError(
                f"crop_seconds={self.crop_seconds} must be a whole number of latent frames ({self.codec.hop} samples)"
            )

    @property
    def crop_samples(self) -> int:
        return round(self.crop_seconds * self.codec.sample_rate)


def audio_flow() -> FlowConfig:
    """SPEC 8.5: the midpoint solver, 64 steps, guidance 3 on text and video jointly; the same path and logit-normal
    training times as video. [inferred] A uniform t grid: the paper names no schedule for audio."""
    return FlowConfig(schedule=Schedule.UNIFORM, num_steps=64, solver=ODESolver.MIDPOINT, guidance_scale=3.0)


@dataclass(frozen=True, kw_only=True)
class SyncConfig:
    """Two training signals that make a small audio model follow the frames' timing [inferred; not in the paper].

    Measured on the first tiny model (docs/audio.md): trained on the flow loss alone, it made the same clicks for
    different videos; the few impact frames of a clip are a small part of a loss dominated by the sound's texture.
    Both terms use the onsets the impact detector (:func:`moviegen.eval.onsets.detect_onsets`) finds in the clip's
    own sound, so they need no labels and work on any data, not only the world.

    Args:
        onset_frame_weight: the flow loss of a latent frame within ``onset_spread`` frames of an onset (one before,
            ``onset_spread`` after) counts ``1 + onset_frame_weight`` times (0: off).
        onset_spread: how many latent frames after an onset's own frame its sound is weighted over.
        head_weight: weight of an auxiliary loss (0: off): the model's onset head, a small temporal convolution over
            the video features (:class:`moviegen.audio.features.OnsetHead`; the audio config's
            ``onset_head_channels`` must be > 0), predicts which latent frames hold an onset, so the frame encoder
            must encode what makes a sound start.
        head_pos_weight: weight of an onset frame against a frame without one in the head's cross-entropy (onsets
            are a few frames in a hundred).
    """

    onset_frame_weight: float = 0.0
    onset_spread: int = 2
    head_weight: float = 0.0
    head_pos_weight: float = 10.0

    def __post_init__(self) -> None:
        for name in ("onset_frame_weight", "head_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.onset_spread < 0 or not self.head_pos_weight > 0:
            raise ValueError(
                f"need onset_spread >= 0 and head_pos_weight > 0, got {self.onset_spread} and {self.head_pos_weight}"
            )

    @property
    def enabled(self) -> bool:
        return self.onset_frame_weight > 0 or self.head_weight > 0


@dataclass(frozen=True, kw_only=True)
class AudioRecipe:
    """Training of the audio transformer on cached codec latents (windows of ``audio.window_seconds``)."""

    name: str
    description: str
    audio: MovieGenAudioConfig
    flow: FlowConfig
    dropout: AudioDropoutConfig
    train: TrainConfig
    optim: OptimConfig
    text_mode: TextMode = TextMode.MIXED
    val_times: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    sync: SyncConfig = SyncConfig()

    def __post_init__(self) -> None:
        if self.sync.head_weight > 0 and self.audio.onset_head_channels == 0:
            raise ValueError(
                f"recipe {self.name!r}: sync.head_weight={self.sync.head_weight} needs an audio config with an onset "
                "head (onset_head_channels > 0)"
            )

    @property
    def frame_size(self) -> int:
        """The audio-visual cache's frame size: the video features' input size."""
        return self.audio.video.frame_size


def audio_codec_tiny_recipe() -> CodecRecipe:
    codec = dac_vae_tiny()
    return CodecRecipe(
        name="audio-codec-tiny",
        description="DAC-VAE of the embedded default: 16 kHz -> 25 Hz x 32 channels, on 0.48 s crops of the sound",
        codec=codec,
        # [inferred] Waveform L1 + KL only (measured in docs/audio.md): the STFT term's spectral convergence swung
        # from 3 to 35 on the world's near-silent crops and drowned the rest; with the multi-scale mel term the codec
        # converged to one input-independent output (SNR 0 dB after 800 steps, with any init, floor or KL weight we
        # tried), while waveform L1 alone reached 7.5 dB in 150 steps and kept rising.
        loss=AudioCodecLossConfig(sample_rate=codec.sample_rate, stft_weight=0.0, mel_weight=0.0),
        # [inferred] 0.48 s (12 latent frames) holds an impact (120 ms) or a few notes with context, at half the CPU
        # cost of 1 s crops; the decoder's receptive field is 10 frames either side (DACVAEConfig).
        crop_seconds=0.48,
        # With plain random crops the codec learned the continuous music (22 dB) but not the sparse impacts (an
        # impact-only clip came back 18 dB quieter, its onsets lost): the loudest of 4 windows puts impacts in
        # most crops.
        crop_candidates=4,
        train=TrainConfig(steps=1500, batch_size=8, checkpoint_every=250, val_every=500, val_batches=8),
        optim=OptimConfig(
            lr=1e-3, betas=(0.8, 0.99), weight_decay=0.0, warmup_steps=50, schedule=LRSchedule.COSINE, min_lr=1e-4
        ),
    )


def audio_codec_tiny_mel_recipe() -> CodecRecipe:
    """Phase 2 of the codec: the multi-scale log-mel term added to waveform L1, from a trained ``audio-codec-tiny``.

    [inferred, measured by experiments/codec_click_probe.py] From scratch the log-mel term collapsed the codec to one
    output (see ``audio_codec_tiny_recipe``); once waveform L1 has opened the path it no longer does, and 1000 steps
    raised the onset F1 of the codec's own reconstruction of held-out impact clips from 0.29 to 0.48-0.64 (two runs
    differing only in data order; the original sound scores 0.92 against the world's impact times), at the cost of
    phase (SNR 0 -> -4 dB: the mel term ignores it).
    """
    base = audio_codec_tiny_recipe()
    return replace(
        base,
        name="audio-codec-tiny-mel",
        description="codec phase 2: + multi-scale log-mel, 1000 steps from an audio-codec-tiny run (--init RUN)",
        loss=replace(base.loss, mel_weight=1.0),
        train=TrainConfig(steps=1000, batch_size=8, checkpoint_every=250, val_every=500, val_batches=8),
        optim=OptimConfig(lr=5e-4, betas=(0.8, 0.99), weight_decay=0.0),
        init_from="audio-codec-tiny",
    )


def audio_codec_debug_mel_recipe() -> CodecRecipe:
    """tests: the phase-2 twin of ``audio-codec-debug``."""
    base = audio_codec_debug_recipe()
    return replace(
        base, name="audio-codec-debug-mel", description="tests: codec phase 2 (--init an audio-codec-debug run)",
        init_from="audio-codec-debug",
    )


def audio_codec_debug_recipe() -> CodecRecipe:
    codec = dac_vae_debug()
    return CodecRecipe(
        name="audio-codec-debug",
        description="tests: dac_vae_debug on 0.25 s crops (seconds on a CPU)",
        codec=codec,
        loss=AudioCodecLossConfig(
            sample_rate=codec.sample_rate, mel_n_ffts_16k=(256, 512), mel_n_mels=(16, 24), stft_n_ffts_16k=(128, 512)
        ),
        crop_seconds=0.25,
        train=TrainConfig(steps=6, batch_size=2, log_every=1, checkpoint_every=2, val_every=3, val_batches=2),
        optim=OptimConfig(lr=1e-3),
        frame_size=8,
    )


def audio_tiny_recipe() -> AudioRecipe:
    return AudioRecipe(
        name="audio-tiny",
        description="embedded-default audio transformer on 2 s codec-latent windows, sync signals on (needs --codec)",
        audio=audio_tiny(),
        # [inferred] Sampling guidance 4, not the paper's 3 (training does not use it; export copies it into the
        # checkpoint's defaults): chosen on the 21 held-out impact clips the eval does not use, onset F1 0.71 / 0.75 /
        # 0.74 / 0.70 / 0.68 at guidance 3 / 4 / 5 / 6 / 8 (docs/audio.md).
        flow=replace(audio_flow(), guidance_scale=4.0),
        dropout=AudioDropoutConfig(),
        # [inferred] EMA 0.995 rather than the paper's 0.999 (SPEC 8.4): over a 3000-step run, 0.999 would still give
        # the first 1000 steps 14% of the average (a 1500-step run's first 500: 37%). The condition dropouts replace
        # the video recipe's text_dropout.
        # 5000 steps of 16 windows: about 40 passes over the 3000-sample world's ~1950 training videos. With the sync
        # signals, sync F1 rose from 0.18 at step 1500 to 0.38 at 3000; with token-level adaLN, 0.67 at 3000 and
        # 0.70 at 5000 (docs/audio.md).
        train=TrainConfig(
            steps=5000,
            batch_size=16,
            ema_decay=0.995,
            text_dropout=0.0,
            checkpoint_every=250,
            val_every=500,
            val_batches=4,
        ),
        optim=OptimConfig(lr=3e-4, warmup_steps=100),
        # [inferred] Trained on the flow loss alone, the model heard the video faintly (sync F1 0.10-0.13): the onset
        # frames weigh 5x in the flow loss and the onset head makes the frame encoder carry their timing.
        sync=SyncConfig(onset_frame_weight=4.0, head_weight=0.5),
    )


def audio_debug_recipe() -> AudioRecipe:
    return AudioRecipe(
        name="audio-debug",
        description="tests: audio_debug on short windows (seconds on a CPU; needs --codec RUN)",
        audio=audio_debug(),
        flow=audio_flow(),
        dropout=AudioDropoutConfig(),
        sync=SyncConfig(onset_frame_weight=2.0, head_weight=0.5),  # the tiny recipe's signals, on every test run
        train=TrainConfig(
            steps=6,
            batch_size=2,
            ema_decay=0.99,
            text_dropout=0.0,
            log_every=1,
            checkpoint_every=2,
            val_every=3,
            val_batches=1,
        ),
        optim=OptimConfig(lr=1e-3),
    )
