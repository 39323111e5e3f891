"""The temporal autoencoder's training recipes (:class:`TAERecipe`): the embedded default's five TAE phases, their
experiments and the test recipe, as plain preset functions (STYLE rule 15). :mod:`moviegen.train.recipes` registers
them with the text-to-video and audio recipes.

* ``tae-tiny-image`` -> ``tae-tiny`` -> ``tae-tiny-full`` -> ``tae-tiny-clip`` -> ``tae-tiny-clip-encoder``: random
  spatio-temporal crops of the world's videos and images (SPEC 1.2 objective: reconstruction, perceptual, KL,
  outlier penalty), each phase ``--init`` the previous one; ``tae-debug`` for tests.
"""

from dataclasses import dataclass, replace

from moviegen.data.buckets import BucketConfig, buckets_tiny
from moviegen.tae.config import TAEConfig, TemporalUpsample, tae_debug, tae_tiny
from moviegen.tae.loss import ReconstructionLoss, TAELossConfig
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


def tae_tiny_clip_t4_recipe() -> TAERecipe:
    """Experiment: 4x temporal compression instead of 8x (the deepest downsampler strides in space only), from
    ``--init`` (a tae-tiny-clip run or a phase-4 ``tae.safetensors``), encoder and decoder trained as its control
    ``tae-tiny-clip-encoder``.

    [inferred, beyond the paper's 8x] Width, 32 latent channels, depth and crops on the motion all left the five
    hardest held-out videos at 24-26 dB: objects crossing several latent cells within one 8-frame group come back
    smeared and lagging (docs/tae.md). A stride is not a weight, so the 8x TAE's weights load unchanged into this one
    (its deepest levels then see frames 4 apart instead of 8, a close start). The latent has twice the frames, so a
    text-to-video model on it costs about twice the tokens. Measured in docs/tae.md: 30.71 dB held-out against the
    control's 29.61, every video better; not shipped (a transformer on its latents, ``t2v-tiny-t4``, did worse).
    """
    control = tae_tiny_clip_encoder_recipe()
    return replace(
        control,
        name="tae-tiny-clip-t4",
        description="experiment: 4x temporal compression (not 8x) from an 8x --init, encoder and decoder on 2 s clips",
        tae=replace(control.tae, temporal_downsample=(True, True, False)),
    )


def tae_tiny_clip_t2_recipe() -> TAERecipe:
    """Experiment: 2x temporal compression (only the first downsampler strides in time), otherwise ``tae-tiny-clip-t4``
    (``--init`` a tae-tiny-clip run or a phase-4 ``tae.safetensors``; control ``tae-tiny-clip-encoder``).

    [inferred, beyond the paper's 8x] 4x compression gained 1.1 dB held-out over 8x and left the fastest objects
    smeared within groups of 4 frames (docs/tae.md); this measures how far halving the group again goes towards the
    issue's 32 dB. A 2 s clip becomes 16 latent frames, so a text-to-video model on it costs 4x the 8x tokens.
    Measured in docs/tae.md: 31.70 dB held-out after 4000 steps, 31.91 after 6000 (t4 30.71, 8x 29.61); the
    adherence cases keep all three through it in 94 of 100 (8x: 73, ``moviegen eval ceiling``); not shipped (no
    transformer on it).
    """
    t4 = tae_tiny_clip_t4_recipe()
    return replace(
        t4,
        name="tae-tiny-clip-t2",
        description="experiment: 2x temporal compression (not 8x) from an 8x --init, encoder and decoder on 2 s clips",
        tae=replace(t4.tae, temporal_downsample=(True, False, False)),
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
