"""Training recipes of the embedded default and of the unit tests, as plain preset functions (STYLE rule 15).

* ``tae-tiny`` / ``tae-debug``: the temporal autoencoder on random spatio-temporal crops of the world's videos and
  images (SPEC 1.2 objective: reconstruction, perceptual, KL, outlier penalty).
* ``audio-codec-tiny`` -> ``audio-tiny`` (and their debug twins): Movie Gen Audio, from
  :mod:`moviegen.train.audio_recipes`.
* ``t2v-tiny-t2i-lowres`` -> ``t2v-tiny-t2iv-lowres`` -> ``t2v-tiny-t2iv``: the SPEC 5.1 stage schedule scaled down
  (low-resolution text-to-image warm-up, low-resolution joint image+video, full-resolution joint), each stage
  initialised from the previous one (``--init RUN_DIR``) with its positional tables expanded. ``t2v-debug`` is one
  small joint stage for tests.

:data:`RECIPES` (name -> preset function) is the only string-to-object mapping; the CLI lists and runs it.

Step counts were sized on the 2-core CPU this project is developed on (see ``docs/training.md`` for the
measurements); ``--steps``, ``--batch-size`` and ``--lr`` override them.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from moviegen.configs.presets import MovieGenVideoConfig, video_debug, video_small, video_tiny
from moviegen.data.buckets import BucketConfig, buckets_tiny, buckets_tiny_lowres
from moviegen.data.loader import TextMode
from moviegen.flow.config import FlowConfig
from moviegen.tae.config import TAEConfig, TemporalUpsample, tae_debug, tae_tiny
from moviegen.tae.loss import ReconstructionLoss, TAELossConfig
from moviegen.train.audio_recipes import (
    AudioRecipe,
    CodecRecipe,
    audio_codec_debug_mel_recipe,
    audio_codec_debug_recipe,
    audio_codec_tiny_mel_recipe,
    audio_codec_tiny_recipe,
    audio_debug_recipe,
    audio_tiny_recipe,
)
from moviegen.train.config import LRSchedule, OptimConfig, TrainConfig


@dataclass(frozen=True, kw_only=True)
class CropConfig:
    """Random training crops of the TAE: ``frames`` x ``height`` x ``width`` pixels (images: 1 frame).

    Each dimension must divide by the TAE's compression there, so every crop encodes to whole latents.
    ``motion_fraction`` of the video crops (0: none, the paper's uniform crops) place their window where the frames
    change most instead of uniformly (``moviegen.train.tae.random_crop``) [inferred, beyond the paper].
    """

    frames: int
    height: int
    width: int
    motion_fraction: float = 0.0

    def __post_init__(self) -> None:
        if min(self.frames, self.height, self.width) < 1:
            raise ValueError(f"crop sizes must be >= 1, got {self.frames}x{self.height}x{self.width} (TxHxW)")
        if not 0.0 <= self.motion_fraction <= 1.0:
            raise ValueError(f"motion_fraction must be in [0, 1], got {self.motion_fraction!r}")


@dataclass(frozen=True, kw_only=True)
class TAERecipe:
    """Training of the temporal autoencoder.

    Args:
        name: the recipe name (``RECIPES`` key).
        description: one line for ``moviegen train --list``.
        tae: the architecture.
        loss: the objective. The discriminator is off by default: on the 2-core CPU budget it would cost a second
            network's forward and backward per step (about +60% step time) for a gain the paper attributes to
            large-scale training; turn it on with ``discriminator_weight > 0`` (it is then trained by the same loop).
        crop: the random crop of every training clip.
        buckets: how the world's files are loaded before cropping (native sizes, the central ``frame_counts``).
        train: loop settings.
        optim: optimizer settings.
        decoder_only: train the decoder (and ``post_quant_conv``) only; the encoder stays frozen, so the latent space,
            and every latent cache and transformer trained on it, stays valid [inferred].
    """

    name: str
    description: str
    tae: TAEConfig
    loss: TAELossConfig
    crop: CropConfig
    buckets: BucketConfig
    train: TrainConfig
    optim: OptimConfig
    decoder_only: bool = False

    def __post_init__(self) -> None:
        s, t = self.tae.spatial_compression, self.tae.temporal_compression
        if self.crop.height % s or self.crop.width % s or (self.crop.frames != 1 and self.crop.frames % t):
            raise ValueError(
                f"crop {self.crop.frames}x{self.crop.height}x{self.crop.width} (TxHxW) must divide by the TAE's "
                f"compression {t}x{s}x{s} (1 frame: an image autoencoder phase)"
            )
        for width, height in self.buckets.sizes:
            if width < self.crop.width or height < self.crop.height:
                raise ValueError(
                    f"bucket size {width}x{height} is smaller than the crop {self.crop.width}x{self.crop.height}"
                )
        if self.buckets.frame_counts and min(self.buckets.frame_counts) < self.crop.frames:
            raise ValueError(
                f"bucket frame counts {self.buckets.frame_counts} must be >= the crop's {self.crop.frames} frames"
            )


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One stage of the text-to-video schedule (SPEC 5.1).

    Args:
        name: the stage (``t2i-lowres``, ``t2iv-lowres``, ``t2iv``).
        buckets: the buckets the latents are cached at.
        images_only: train on image batches only (the T2I warm-up).
        image_ratio: image batches per video batch in joint stages (paper: 1:10 = 0.1); None keeps the data's mix.
        init_from: the recipe whose run initialises this stage (``--init`` must be given), or None.
        text_mode: which text each sample trains with (dense caption, short prompts, or both).
    """

    name: str
    buckets: BucketConfig
    images_only: bool = False
    image_ratio: float | None = None
    init_from: str | None = None
    text_mode: TextMode = TextMode.MIXED


@dataclass(frozen=True, kw_only=True)
class T2VRecipe:
    """Training of the text-to-video transformer (with its trainable text parts) on cached TAE latents.

    Args:
        name: the recipe name.
        description: one line for ``--list``.
        video: the model; its DiT positional tables are sized for this stage's token grid.
        flow: training-time t sampling (and sigma_min).
        stage: the data of this stage.
        train: loop settings (EMA on).
        optim: optimizer settings.
        val_times: the fixed flow times of the deterministic validation loss.
        motion_weight: the flow loss of a latent value counts ``1 + motion_weight * c`` times, ``c`` its change from
            the previous latent frame (the next, for the first), averaged over channels, normalised to mean 1 per
            sample and capped at 10; images weigh 1; the validation loss stays unweighted [inferred: not in the
            paper; the audio model's onset weighting, for motion].
        object_weight: likewise ``1 + object_weight * d``, ``d`` a latent value's departure from its frame's
            per-channel median (the background), for images too [inferred: not in the paper]. Where an object goes
            is decided at the noise end, where a small object's share of the flow loss is small; in a toy that
            share was too small for a label placing the object to be learned without it (docs/training.md,
            ``experiments/direction_toy.py``).

    Both weights depend on the clip (``x1``), so they bias the model toward clips with more objects and change
    (:func:`moviegen.train.t2v.loss_weights`; measured in docs/training.md): experiments, not a recipe to ship.
    """

    name: str
    description: str
    video: MovieGenVideoConfig
    flow: FlowConfig
    stage: Stage
    train: TrainConfig
    optim: OptimConfig
    val_times: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    motion_weight: float = 0.0
    object_weight: float = 0.0

    def __post_init__(self) -> None:
        for name in ("motion_weight", "object_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


Recipe = TAERecipe | T2VRecipe | CodecRecipe | AudioRecipe


# -- TAE ------------------------------------------------------------------------------------------------------------


def tae_tiny_image_recipe() -> TAERecipe:
    """Phase 1 of 5 of the embedded default's TAE: ``tae_tiny`` as an image autoencoder, on single 96x96 frames.

    [inferred] SPEC 1 inflates the TAE from a pretrained image autoencoder; no such model ships offline, so this
    phase trains one with the TAE's own spatial layers (a 1-frame input skips the temporal strides). A frame costs
    1/16 of a 16-frame crop, so a batch of 16 frames per step shows the model far more objects, colours and shapes per
    CPU second than clip crops do: without this phase, 2,700 clip steps left colours wrong and objects as blobs
    (measured in docs/training.md).
    """
    return TAERecipe(
        name="tae-tiny-image",
        description="TAE phase 1/5: tae_tiny as an image autoencoder on single 96x96 frames of the world",
        tae=tae_tiny(),
        # [inferred] L2 and no perceptual term: under L1 the many small texture errors outweighed the few large
        # errors on objects (about 5% of pixels) and small objects vanished; the perceptual net is a random VGG-style
        # stack (no download) whose uncalibrated distance drowned the pixel signal.
        # [inferred] No outlier penalty: SPEC 1.2's OPL (r = 3, weight 1e5) treats any latent more than 3 std from
        # its frame's mean as an artefact spot. A world object covers 1-5% of a frame's latents, so encoding it at all
        # makes it such an outlier: with OPL on, objects came back as faint, desaturated blobs (docs/training.md).
        loss=TAELossConfig(reconstruction=ReconstructionLoss.L2, perceptual_weight=0.0, opl_weight=0.0),
        crop=CropConfig(frames=1, height=96, width=96),
        buckets=replace(buckets_tiny(), frame_counts=(32,)),  # decode the central 2 s; frames are drawn inside it
        # 2500 steps (about 75 CPU minutes): val PSNR 20.3 / 23.0 / 25.2 dB at steps 250 / 500 / 1000 and still
        # rising; at 500 steps (the first shipped default) object hues were wrong (docs/training.md).
        train=TrainConfig(steps=2500, batch_size=16, checkpoint_every=100, val_every=250, val_batches=4),
        optim=OptimConfig(lr=5e-4, warmup_steps=30),
    )


def tae_tiny_recipe() -> TAERecipe:
    """Phase 2 of 5: a ``tae-tiny-image`` run (``--init``) learns time on 16x48x48 clip crops (2 latent frames of 6x6;
    see docs/training.md for why the crop is this small on a 2-core CPU)."""
    first = tae_tiny_image_recipe()
    return replace(
        first,
        name="tae-tiny",
        description="TAE phase 2/5: init a tae-tiny-image run (--init), 16-frame 48x48 clip crops",
        crop=CropConfig(frames=16, height=48, width=48),
        train=TrainConfig(steps=800, batch_size=2, checkpoint_every=100, val_every=200, val_batches=4),
        optim=OptimConfig(lr=3e-4, warmup_steps=20),
    )


def tae_tiny_full_recipe() -> TAERecipe:
    """Phase 3 of 5: fine-tune a ``tae-tiny`` run (``--init``) on 8x96x96 crops, close to full frames.

    [inferred] Small crops train fast but leave the mid-block spatial attention and the norms tuned to 6x6 latents;
    the full-frame reconstruction (16x16 latents at 128 px) lost colours until this phase showed the model frames at
    close to full size (measured in docs/training.md). 8 frames = one latent frame keeps the step affordable.
    """
    second = tae_tiny_recipe()
    return replace(
        second,
        name="tae-tiny-full",
        description="TAE phase 3/5: fine-tune a tae-tiny run (--init) on 8-frame 96x96 crops, close to full frames",
        crop=CropConfig(frames=8, height=96, width=96),
        train=TrainConfig(steps=1000, batch_size=2, checkpoint_every=100, val_every=250, val_batches=4),
        # [inferred] Cosine to 1e-5 (kept by phases 4 and 5): the end of each run settles instead of hopping.
        optim=OptimConfig(lr=3e-4, warmup_steps=20, schedule=LRSchedule.COSINE, min_lr=1e-5),
    )


def tae_tiny_clip_recipe() -> TAERecipe:
    """Phase 4 of 5: fine-tune a ``tae-tiny-full`` run (``--init``) on whole 2 s clips: 32x64x64 crops, 4 latent frames.

    [inferred, measured in docs/tae.md] With nearest-neighbour temporal upsampling and replicate-padded temporal
    convolutions (SPEC 1.1), a clip of one latent frame decodes to 8 identical frames: every decoder layer sees the
    same input at every frame. The 8-frame crops of phase 3 therefore train the decoder to output each group's mean,
    which is the smearing of moving objects the object-fidelity eval found. Only neighbouring latent frames tell the
    decoder where inside its group a frame sits, so this phase shows it the 4 latent frames that a generated 2 s
    clip has, at a smaller spatial crop to keep the step affordable.
    """
    third = tae_tiny_full_recipe()
    return replace(
        third,
        name="tae-tiny-clip",
        description="TAE phase 4/5: fine-tune a tae-tiny-full run (--init) on whole 2 s clips, 32x64x64 crops",
        crop=CropConfig(frames=32, height=64, width=64),
        train=replace(third.train, steps=1500),
        optim=replace(third.optim, lr=1e-4),  # a third of phase 3's peak: the decoder starts trained
        decoder_only=True,
    )


def tae_tiny_clip_linear_recipe() -> TAERecipe:
    """Experiment: phase 4 with the decoder's temporal upsampling linear instead of nearest (``--init`` a tae-tiny-clip
    or tae-tiny-full run, or a phase-4 ``tae.safetensors``; decoder only, so the latent space is unchanged).

    [inferred, beyond the paper] The shipped decoder's frames change most at latent-group borders (an object's
    silhouette, frame to frame: 0.115 of 1 - IoU at borders against 0.072 inside groups, the originals 0.055 and
    0.050), which both the PSNR (group ends 2-2.5 dB below the middle) and the adherence analyser's *spins* read.
    Measured in docs/tae.md: border wobble 0.081, PSNR 29.02 dB (the same steps of this recipe's nearest twin:
    28.98), adherence unchanged; not shipped.
    """
    fourth = tae_tiny_clip_recipe()
    return replace(
        fourth,
        name="tae-tiny-clip-linear",
        description="experiment: TAE phase 4, linear temporal upsampling in the decoder (--init a TAE; decoder only)",
        tae=replace(fourth.tae, temporal_upsample=TemporalUpsample.LINEAR),
    )


def tae_tiny_clip_wide_recipe() -> TAERecipe:
    """Experiment: phase 4 with a decoder twice as wide (``--init`` a tae-tiny-clip or tae-tiny-full run, or the
    phase-4 ``tae.safetensors``; decoder only, so the latent space and every transformer trained on it stay valid).

    [inferred, beyond the paper] The shipped decoder's PSNR is held down by moving content (pixels that change over a
    clip come back at 12-35 dB, the still ones at 38-45), and its top level draws every frame from 16 channels.
    ``moviegen.tae.widen`` starts the wide decoder from the trained one, computing the same function, so the run
    begins at the shipped PSNR instead of from scratch. Measured in docs/tae.md.
    """
    fourth = tae_tiny_clip_recipe()
    return replace(
        fourth,
        name="tae-tiny-clip-wide",
        description="experiment: TAE phase 4 with a 2x wide decoder, widened from --init (decoder only)",
        tae=replace(fourth.tae, decoder_width_multiplier=2),
    )


def tae_tiny_clip_encoder_recipe() -> TAERecipe:
    """Phase 5 of 5: phase 4 with the encoder trained too (``--init`` a tae-tiny-clip run or an exported
    ``tae.safetensors``), 4000 steps; also the control for ``tae-tiny-clip-32ch``, the same steps at 16 latent channels.

    [inferred] Phases 1-3 trained the encoder for 4300 steps, never on whole clips (phase 3 shows it one latent
    frame); this tells how much of the 32-channel run's gain is the encoder's training on clips. The latent space
    changes: a text-to-video model must be trained on the new latents (the embedded default's transformer was
    fine-tuned 4000 steps on them, ``tools/train_embedded_default.sh``). Measured in docs/tae.md: +0.9 dB held-out
    PSNR over phase 4 (29.61 against 28.74), the same as 32 channels gave.
    """
    fourth = tae_tiny_clip_recipe()
    return replace(
        fourth,
        name="tae-tiny-clip-encoder",
        description="TAE phase 5/5: phase 4 with the encoder trained too (--init a tae-tiny-clip run; new latents)",
        train=replace(fourth.train, steps=4000),  # both runs of docs/tae.md: 0.8 s a step on 2 cores
        # [inferred] Twice phase 4's: the 32-channel run's new encoder channels start fresh, and the control shares
        # its LR so that the two differ in the latent alone.
        optim=replace(fourth.optim, lr=2e-4),
        decoder_only=False,
    )


def tae_tiny_clip_32ch_recipe() -> TAERecipe:
    """Experiment: 32 latent channels instead of 16, widened from ``--init`` (a tae-tiny-clip run or a phase-4
    ``tae.safetensors``), encoder and decoder trained on phase 4's whole 2 s clips (as ``tae-tiny-clip-encoder``).

    [inferred; SPEC 1.1: more channels improve reconstruction and generation, 32 also works] A decoder-only phase
    cannot go past the 16-channel latent (a 2x wide decoder: +0.55 dB, docs/tae.md). ``moviegen.tae.widen`` starts
    the 32-channel TAE from the trained 16-channel one, computing the same function, so the run begins at the
    shipped PSNR. Measured in docs/tae.md.
    """
    control = tae_tiny_clip_encoder_recipe()
    return replace(
        control,
        name="tae-tiny-clip-32ch",
        description="experiment: TAE with 32 latent channels widened from --init, encoder and decoder on 2 s clips",
        tae=replace(control.tae, latent_channels=32),
    )


def tae_tiny_clip_deep_recipe() -> TAERecipe:
    """Experiment: 2 ResNets per encoder level (3 per decoder level) instead of 1 (2), deepened from ``--init`` (a
    tae-tiny-clip run or an exported ``tae.safetensors``), encoder and decoder trained as in ``tae-tiny-clip-encoder``.

    [inferred; the paper-scale preset ``tae_16ch`` has 2 ResNets per level, SD-VAE style] Neither a 2x wide decoder
    nor 32 latent channels moved the held-out PSNR past what training the encoder on clips gave (docs/tae.md); depth
    in both halves is the capacity not yet tried. ``moviegen.tae.widen.deepen`` appends identity ResNets, so the run
    starts at the --init's PSNR and differs from its control (``tae-tiny-clip-encoder`` from the same --init) in the
    depth alone.
    """
    control = tae_tiny_clip_encoder_recipe()
    return replace(
        control,
        name="tae-tiny-clip-deep",
        description="experiment: TAE with 2 ResNets per level deepened from --init, encoder and decoder on 2 s clips",
        tae=replace(control.tae, layers_per_block=2),
    )


def tae_tiny_clip_motion_recipe() -> TAERecipe:
    """Experiment: ``tae-tiny-clip-encoder`` with half of its crops placed where the frames change most (``--init`` a
    tae-tiny-clip run or a phase-4 ``tae.safetensors``, as its control).

    [inferred, beyond the paper] The held-out videos the TAE renders worst (23.8-26 dB against about 31 for the rest)
    hold objects that fall or fly across several latent cells within one 8-frame group: decoded, they lag and smear
    along their path (docs/tae.md). Most uniform 64x64 windows of a 2 s clip hold some of a moving object's path (83%
    of them on 120 training clips hold 16 or more pixels an object crosses), but often only its edge; these crops put
    the window where the change is greatest, to show the network more of what it renders worst at the same cost.
    """
    control = tae_tiny_clip_encoder_recipe()
    return replace(
        control,
        name="tae-tiny-clip-motion",
        description="experiment: phase 5 with half of its crops where the frames change most (--init a TAE)",
        crop=replace(control.crop, motion_fraction=0.5),
    )


def tae_debug_recipe() -> TAERecipe:
    """A seconds-long TAE run for tests: ``tae_debug`` on 4x16x16 crops of 32x32 frames."""
    return TAERecipe(
        name="tae-debug",
        description="tests: tae_debug on 4-frame 16x16 crops (seconds on a CPU)",
        tae=tae_debug(),
        loss=TAELossConfig(perceptual_weight=0.0),
        crop=CropConfig(frames=4, height=16, width=16),
        buckets=BucketConfig(sizes=((32, 32),), frame_counts=(8,), fps=16, image=True),
        train=TrainConfig(steps=6, batch_size=2, log_every=1, checkpoint_every=2, val_every=3, val_batches=1),
        optim=OptimConfig(lr=1e-3),
    )


# -- text-to-video --------------------------------------------------------------------------------------------------


def _with_tables(cfg: MovieGenVideoConfig, *, max_t: int, max_h: int, max_w: int) -> MovieGenVideoConfig:
    return replace(cfg, dit=replace(cfg.dit, max_t=max_t, max_h=max_h, max_w=max_w))


def _t2v_train(steps: int, *, batch_size: int) -> TrainConfig:
    return TrainConfig(
        steps=steps, batch_size=batch_size, ema_decay=0.999, checkpoint_every=250, val_every=250, val_batches=4
    )


def _t2i_lowres(video: MovieGenVideoConfig, *, size: str) -> T2VRecipe:
    """Stage 1 of ``video``: text-to-image at half resolution (64 px buckets), temporal table of 1 row, spatial 8."""
    # Half of the tiny tables' 16 spatial rows: the next stages expand them 2x (8 -> 16), as the paper grows its
    # tables between stages (SPEC 2.3). A 64x64 image is 4x4 tokens, 80x48 is 5x3.
    return T2VRecipe(
        name=f"t2v-{size}-t2i-lowres",
        description=f"video-{size} stage 1/3: text-to-image warm-up on 64 px images (SPEC 5.1)",
        video=_with_tables(video, max_t=1, max_h=8, max_w=8),
        flow=FlowConfig(),
        stage=Stage(name="t2i-lowres", buckets=buckets_tiny_lowres(), images_only=True),
        train=_t2v_train(600, batch_size=8),
        optim=OptimConfig(lr=3e-4, warmup_steps=50),
    )


def _t2iv_lowres(video: MovieGenVideoConfig, *, size: str) -> T2VRecipe:
    """Stage 2 of ``video``: joint images + videos at 64 px; the temporal table grows 1 -> 8 rows (4 s at 16 fps)."""
    return T2VRecipe(
        name=f"t2v-{size}-t2iv-lowres",
        description=f"video-{size} stage 2/3: joint text-to-image/video at 64 px, init from stage 1 (--init)",
        video=_with_tables(video, max_t=8, max_h=8, max_w=8),
        flow=FlowConfig(),
        stage=Stage(
            name="t2iv-lowres", buckets=buckets_tiny_lowres(), image_ratio=0.25, init_from=f"t2v-{size}-t2i-lowres"
        ),
        train=_t2v_train(1500, batch_size=4),
        optim=OptimConfig(lr=3e-4, warmup_steps=20),
    )


def _t2iv(video: MovieGenVideoConfig, *, size: str) -> T2VRecipe:
    """Stage 3 of ``video``: joint images + videos at 128 px with its full tables (spatial 8 -> 16 by 2x expansion)."""
    return T2VRecipe(
        name=f"t2v-{size}-t2iv",
        description=f"video-{size} stage 3/3: joint text-to-image/video at 128 px, init from stage 2 (--init)",
        video=video,
        flow=FlowConfig(),
        # [inferred] 2 s clips only at 128 px: encoding the cache costs TAE time in proportion to frames on a CPU;
        # the 64 px stage already trained on 2-4 s clips, and the temporal table keeps its 8 rows.
        stage=Stage(
            name="t2iv",
            buckets=replace(buckets_tiny(), frame_counts=(32,)),
            # [inferred] Half as many image batches as video batches (the paper: 1:10). A 128 px image is 64
            # tokens, a 2 s clip 256: images are the cheap way to show objects' colours and shapes at full size.
            image_ratio=0.5,
            init_from=f"t2v-{size}-t2iv-lowres",
        ),
        # 3000 steps: after the first default's 1200 (at lr 1e-4), generated clips had the right background and no
        # object; the validation loss was still falling at every stage (docs/training.md).
        train=_t2v_train(3000, batch_size=4),
        optim=OptimConfig(lr=2e-4, warmup_steps=20, schedule=LRSchedule.COSINE, min_lr=2e-5),
    )


# [inferred] Training times moved toward the noise end, where a clip's layout is set: logit-normal mean -1 draws
# t < 0.15 23% of the time instead of the paper's 4% (like SD3's timestep shift of e^1 for larger inputs); a 30%
# uniform share keeps the data end (t > 0.9: 0.07% at mean -1 alone) in training (docs/training.md).
SHIFTED_TIMES = FlowConfig(logit_mean=-1.0, uniform_fraction=0.3)


def t2v_tiny_t2i_lowres() -> T2VRecipe:
    """Stage 1 of the embedded default (``video_tiny``)."""
    return _t2i_lowres(video_tiny(), size="tiny")


def t2v_tiny_t2iv_lowres() -> T2VRecipe:
    """Stage 2 of the embedded default."""
    return _t2iv_lowres(video_tiny(), size="tiny")


def t2v_tiny_t2iv() -> T2VRecipe:
    """Stage 3 of the embedded default: its weights load into ``TextToVideo(video_tiny())``."""
    return _t2iv(video_tiny(), size="tiny")


def t2v_small_t2i_lowres() -> T2VRecipe:
    """Experiment: stage 1 of ``video_small`` (8 layers, width 384), the tiny chain's recipe."""
    return _t2i_lowres(video_small(), size="small")


def t2v_small_t2iv_lowres() -> T2VRecipe:
    """Experiment: stage 2 of ``video_small``."""
    return _t2iv_lowres(video_small(), size="small")


def t2v_small_t2iv() -> T2VRecipe:
    """Experiment: stage 3 of ``video_small``, with the shifted training times of ``t2v-tiny-t2iv-shifted`` from its
    first step (they halved the tiny model's object jumps and raised its shapes; docs/training.md)."""
    return replace(_t2iv(video_small(), size="small"), flow=SHIFTED_TIMES)


def t2v_tiny_t2iv_shifted() -> T2VRecipe:
    """The embedded default's last stage: stage 3 continued for 15000 steps with its training times moved toward the
    noise end (:data:`SHIFTED_TIMES`) [inferred: the paper trains longer at each stage than a 2-core CPU can; this is
    that extra length, at the times where a small model decides where its objects go].

    There each latent frame of a generated clip settles where its own noise leans; with stage 3 alone objects jumped
    between latent frames and faded in some. Measured (docs/training.md, 2026-12-01, 4 seeds x 25 prompts against
    the stage-3 weights): validation loss 0.146 -> 0.107, shape 23 -> 47%, motion 9 -> 21%, all three 3 -> 12%,
    steady objects 5 -> 55 of about 90. (At 4000 steps, session 10's experiment: shapes 20 -> 34%, motion unchanged.)
    The shipped transformer is this stage fine-tuned 4000 more steps (``--steps 4000``) on the latents of the TAE's
    fifth phase (``tae-tiny-clip-encoder``; ``tools/train_embedded_default.sh``).
    """
    base = t2v_tiny_t2iv()
    return replace(
        base,
        name="t2v-tiny-t2iv-shifted",
        description=(
            "video-tiny: stage 3 continued at the noise end (--init a stage-3 run): the embedded default's last "
            "stage, fine-tuned 4000 steps on phase 5's latents"
        ),
        flow=SHIFTED_TIMES,
        stage=replace(base.stage, init_from="t2v-tiny-t2iv"),
        train=replace(base.train, steps=15000),
    )


def t2v_tiny_t2iv_motion() -> T2VRecipe:
    """Experiment: stage 3 fine-tuned with the flow loss weighted by latent change (``motion_weight=4``).

    Measured (docs/training.md): motion 8 vs 4 of 50 against a plain fine-tune at 1500 steps, 2 of 50 at 4000 steps
    with shifted times (vs 4 without the weight): no effect beyond noise. Biased by construction (the weight depends
    on the clip: :func:`moviegen.train.t2v.loss_weights`)."""
    base = t2v_tiny_t2iv()
    return replace(
        base, name="t2v-tiny-t2iv-motion", motion_weight=4.0, stage=replace(base.stage, init_from="t2v-tiny-t2iv"),
        description="experiment (biased): stage 3 fine-tuned, loss weighted by latent change (--init a stage 3)",
    )


def t2v_tiny_t2iv_objects() -> T2VRecipe:
    """Experiment: stage 3 fine-tuned with the flow loss weighted toward objects (``object_weight=4``), at the
    shifted times (the noise end, where an object's place is decided).

    Biased by construction (the weight depends on the clip: :func:`moviegen.train.t2v.loss_weights`): on the world
    its fine-tunes draw about twice the data's per-frame latent spread, extra blobs (docs/training.md, 2026-12-01)."""
    base = t2v_tiny_t2iv()
    return replace(
        base, name="t2v-tiny-t2iv-objects", object_weight=4.0, flow=SHIFTED_TIMES,
        stage=replace(base.stage, init_from="t2v-tiny-t2iv"),
        description="experiment (biased): stage 3 fine-tuned, loss weighted toward objects (--init a stage 3)",
    )


def t2v_debug() -> T2VRecipe:
    """A seconds-long joint stage for tests: ``video_debug`` (byte-encoder text) on 32x32, 8-frame clips."""
    return T2VRecipe(
        name="t2v-debug",
        description="tests: video_debug, joint images/videos at 32x32 x 8 frames (seconds on a CPU)",
        video=video_debug(),
        flow=FlowConfig(),
        stage=Stage(
            name="t2iv-debug",
            buckets=BucketConfig(sizes=((32, 32),), frame_counts=(8,), fps=16, image=True),
            image_ratio=0.5,
        ),
        train=TrainConfig(
            steps=6, batch_size=2, ema_decay=0.99, log_every=1, checkpoint_every=2, val_every=3, val_batches=1
        ),
        optim=OptimConfig(lr=1e-3),
    )


RECIPES: dict[str, Callable[[], Recipe]] = {
    "tae-tiny-image": tae_tiny_image_recipe,
    "tae-tiny": tae_tiny_recipe,
    "tae-tiny-full": tae_tiny_full_recipe,
    "tae-tiny-clip": tae_tiny_clip_recipe,
    "tae-tiny-clip-linear": tae_tiny_clip_linear_recipe,
    "tae-tiny-clip-wide": tae_tiny_clip_wide_recipe,
    "tae-tiny-clip-encoder": tae_tiny_clip_encoder_recipe,
    "tae-tiny-clip-32ch": tae_tiny_clip_32ch_recipe,
    "tae-tiny-clip-deep": tae_tiny_clip_deep_recipe,
    "tae-tiny-clip-motion": tae_tiny_clip_motion_recipe,
    "tae-debug": tae_debug_recipe,
    "t2v-tiny-t2i-lowres": t2v_tiny_t2i_lowres,
    "t2v-tiny-t2iv-lowres": t2v_tiny_t2iv_lowres,
    "t2v-tiny-t2iv": t2v_tiny_t2iv,
    "t2v-tiny-t2iv-shifted": t2v_tiny_t2iv_shifted,
    "t2v-tiny-t2iv-motion": t2v_tiny_t2iv_motion,
    "t2v-tiny-t2iv-objects": t2v_tiny_t2iv_objects,
    "t2v-small-t2i-lowres": t2v_small_t2i_lowres,
    "t2v-small-t2iv-lowres": t2v_small_t2iv_lowres,
    "t2v-small-t2iv": t2v_small_t2iv,
    "t2v-debug": t2v_debug,
    "audio-codec-tiny": audio_codec_tiny_recipe,
    "audio-codec-tiny-mel": audio_codec_tiny_mel_recipe,
    "audio-codec-debug": audio_codec_debug_recipe,
    "audio-codec-debug-mel": audio_codec_debug_mel_recipe,
    "audio-tiny": audio_tiny_recipe,
    "audio-debug": audio_debug_recipe,
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``.

    Raises:
        ValueError: naming the valid recipes.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of: {', '.join(RECIPES)}")
    return RECIPES[name]()


def with_overrides(
    recipe: Recipe, *, steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
    bf16: bool | None = None, seed: int | None = None, uniform_t: float | None = None,
    logit_mean: float | None = None,
) -> Recipe:
    """The recipe with CLI overrides applied (None leaves a value as the recipe sets it).

    Raises:
        ValueError: ``uniform_t`` or ``logit_mean`` for a recipe without flow matching (the autoencoders).
    """
    train = recipe.train
    updates = {"steps": steps, "batch_size": batch_size, "bf16": bf16, "seed": seed}
    train = replace(train, **{k: v for k, v in updates.items() if v is not None})
    optim = recipe.optim if lr is None else replace(recipe.optim, lr=lr, min_lr=min(recipe.optim.min_lr, lr))
    recipe = replace(recipe, train=train, optim=optim)
    flow_flags = {"--uniform-t": ("uniform_fraction", uniform_t), "--logit-mean": ("logit_mean", logit_mean)}
    flow_updates = {key: value for key, value in flow_flags.values() if value is not None}
    if flow_updates and not isinstance(recipe, (T2VRecipe, AudioRecipe)):
        given = [flag for flag, (_, value) in flow_flags.items() if value is not None]
        verb = "applies" if len(given) == 1 else "apply"
        raise ValueError(
            f"{' and '.join(given)} {verb} to the flow-matching recipes (t2v-*, audio-tiny, audio-debug), not "
            f"{recipe.name!r}"
        )
    if flow_updates:
        recipe = replace(recipe, flow=replace(recipe.flow, **flow_updates))
    return recipe
