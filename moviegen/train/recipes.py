"""Training recipes of the embedded default and of the unit tests, as plain preset functions (STYLE rule 15).

* ``tae-tiny-image`` -> ... -> ``tae-tiny-clip-encoder`` / ``tae-debug``: the temporal autoencoder on random
  spatio-temporal crops of the world's videos and images, from :mod:`moviegen.train.tae_recipes`.
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
from moviegen.train.tae_recipes import (
    TAERecipe,
    tae_debug_recipe,
    tae_tiny_clip_32ch_recipe,
    tae_tiny_clip_deep_recipe,
    tae_tiny_clip_encoder_recipe,
    tae_tiny_clip_linear_recipe,
    tae_tiny_clip_motion_recipe,
    tae_tiny_clip_recipe,
    tae_tiny_clip_t2_recipe,
    tae_tiny_clip_t4_recipe,
    tae_tiny_clip_wide_recipe,
    tae_tiny_full_recipe,
    tae_tiny_image_recipe,
    tae_tiny_recipe,
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


def t2v_tiny_t4() -> T2VRecipe:
    """Experiment: the shifted stage on the latents of a 4x temporal TAE (``tae-tiny-clip-t4``): ``--init`` an 8x
    shifted run or checkpoint, ``--tae`` the 4x TAE run; the temporal table grows 8 -> 16 rows (still 4 s at 16 fps).

    [inferred, beyond the paper's 8x] A 2 s clip is 8 latent frames instead of 4, 512 tokens instead of 256. Growing
    the table by interpolation keeps each latent frame's time (8x frame k and 4x frame 2k start at the same input
    frame), so the 8x model's layout and motion carry over while it learns the finer frames. Measured
    (docs/training.md): after 4000 steps, motion right in 11% of 100 clips against the shipped 8x default's 19%.
    """
    base = t2v_tiny_t2iv_shifted()
    tae = replace(base.video.tae, temporal_downsample=(True, True, False))
    return replace(
        base,
        name="t2v-tiny-t4",
        description="experiment: the shifted stage on a 4x temporal TAE's latents (--init an 8x stage, --tae a t4 TAE)",
        video=_with_tables(replace(base.video, tae=tae), max_t=16, max_h=base.video.dit.max_h,
                           max_w=base.video.dit.max_w),
        stage=replace(base.stage, init_from="t2v-tiny-t2iv-shifted"),
        train=replace(base.train, steps=4000),
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
    "tae-tiny-clip-t4": tae_tiny_clip_t4_recipe,
    "tae-tiny-clip-t2": tae_tiny_clip_t2_recipe,
    "tae-debug": tae_debug_recipe,
    "t2v-tiny-t2i-lowres": t2v_tiny_t2i_lowres,
    "t2v-tiny-t2iv-lowres": t2v_tiny_t2iv_lowres,
    "t2v-tiny-t2iv": t2v_tiny_t2iv,
    "t2v-tiny-t2iv-shifted": t2v_tiny_t2iv_shifted,
    "t2v-tiny-t2iv-motion": t2v_tiny_t2iv_motion,
    "t2v-tiny-t2iv-objects": t2v_tiny_t2iv_objects,
    "t2v-tiny-t4": t2v_tiny_t4,
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
