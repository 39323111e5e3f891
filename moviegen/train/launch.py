"""``moviegen train RECIPE``: check the inputs, prepare the run directory, and run the recipe.

A run directory holds ``run.json`` (the recipe, its resolved config and the arguments), ``checkpoints/``,
``metrics.jsonl`` and ``tb/``. A directory holding another recipe's run is refused; so is a fresh start over an
existing run (use ``resume``) and ``resume`` without a checkpoint.
"""

import hashlib
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from moviegen.configs.serialize import config_to_dict
from moviegen.data.manifest import read_manifest
from moviegen.io.media import atomic_path
from moviegen.train.average import resolve_weights_file
from moviegen.train.checkpoint import latest_checkpoint, load_checkpoint
from moviegen.train.export import INIT_CHECKPOINT_KEY
from moviegen.train.loop import TrainResult
from moviegen.train.parallel_dims import ParallelConfig, launched_by_torchrun
from moviegen.train.recipes import AudioRecipe, CodecRecipe, T2VRecipe, TAERecipe, get_recipe, with_overrides

RUN_FILE = "run.json"


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """What ``moviegen train`` was asked to do (see ``moviegen train --help``)."""

    recipe: str
    data_dir: Path
    run_dir: Path
    init: Path | None = None
    tae: Path | None = None
    codec: Path | None = None
    latents: Path | None = None
    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    bf16: bool = False
    resume: bool = False
    seed: int | None = None
    uniform_t: float | None = None
    logit_mean: float | None = None
    progress: bool = True
    parallel: ParallelConfig = ParallelConfig()


def _read_run_file(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _write_run_file(run_dir: Path, data: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / RUN_FILE) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def check_run_dir(run_dir: Path, *, recipe: str, resume: bool) -> None:
    """Refuse another recipe's run, a fresh start over a run, and a resume without a checkpoint (ValueError)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"-o {str(run_dir)!r} is a file; expected a run directory")
    existing = _read_run_file(run_dir)
    if existing is not None and existing.get("recipe") != recipe:
        raise ValueError(
            f"-o {str(run_dir)!r} holds a run of recipe {existing.get('recipe')!r}, not {recipe!r}; choose another "
            "output directory"
        )
    checkpoint = latest_checkpoint(run_dir)
    if resume and checkpoint is None:
        raise ValueError(f"--resume: {str(run_dir)!r} has no checkpoint to resume from")
    if not resume and checkpoint is not None:
        raise ValueError(
            f"-o {str(run_dir)!r} already holds a run (checkpoint {checkpoint.name}); pass --resume to continue it or "
            "choose another output directory"
        )


# Flags a resumed run takes from its run.json when they are left out. --steps may change (to extend a run).
RESUMED_FLAGS = (
    "tae", "codec", "latents", "batch_size", "lr", "bf16", "seed", "uniform_t", "logit_mean", "steps",
)


def with_stored_flags(request: TrainRequest) -> TrainRequest:
    """``--resume``: fill the flags left out from the run's ``run.json``; refuse ones that contradict it.

    Raises:
        ValueError: a flag other than ``--steps`` that differs from the value the run was started with.
    """
    stored = _read_run_file(request.run_dir) if request.resume else None
    if stored is None:
        return request
    stored_args = stored.get("args", {})
    changes: dict[str, Any] = {}
    for name in RESUMED_FLAGS:
        given, before = getattr(request, name), stored_args.get(name)
        flag = "--" + name.replace("_", "-")
        if before in (None, False):
            if given not in (None, False) and name != "steps":
                raise ValueError(
                    f"--resume: the run started without {flag} (in {request.run_dir / RUN_FILE}), so it resumes "
                    f"without it; to train on with {flag} {given!r}, start a new run from this one (--init "
                    f"{str(request.run_dir)!r})"
                )
            continue
        if given in (None, False):
            changes[name] = Path(before) if name in ("tae", "codec", "latents") else before
        elif name != "steps" and (str(given) if isinstance(given, Path) else given) != before:
            raise ValueError(
                f"--resume: {flag} {given!r} differs from the run's {before!r} (in {request.run_dir / RUN_FILE}); "
                f"leave {flag} out to keep it, or start a new run"
            )
    return replace(request, **changes)


def _continued_phase(recipe_name: str | None) -> str | None:
    """The phase a recipe continues (None for a first phase or an unknown name)."""
    try:
        recipe = get_recipe(recipe_name) if recipe_name is not None else None
    except ValueError:
        return None
    stage = getattr(recipe, "stage", None)  # text-to-video recipes keep it on their stage
    return getattr(stage if stage is not None else recipe, "init_from", None)


def _check_init_recipe(
    request: TrainRequest, init_recipe: str | None, *, recipe_name: str, init_from: str, exported: bool = False
) -> None:
    """``--init`` (whose last stage was ``init_recipe``) takes a run of the phase this recipe continues, a run of this
    recipe itself, or a run of another recipe that continues the same phase (a fine-tune: new optimizer, schedule
    and flags from the run's weights). ``exported``: the source is an exported checkpoint (``init_recipe`` is its
    card's last stage)."""
    if init_recipe in (init_from, recipe_name) or _continued_phase(init_recipe) == init_from:
        return
    what = f"an exported checkpoint whose card ends with {init_recipe!r}" if exported else f"a run of {init_recipe!r}"
    raise ValueError(
        f"--init {str(request.init)!r} is {what}; {recipe_name!r} continues a {init_from!r} run (or fine-tunes a "
        f"{recipe_name!r} run or another fine-tune of {init_from!r})"
    )


def _check_data_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise ValueError(f"--data {str(data_dir)!r} is not a directory (expected a dataset with manifest.jsonl)")
    read_manifest(data_dir, split="train")  # fail now, not after model building, on a bad dataset


def run_training(request: TrainRequest) -> TrainResult:
    """Validate ``request`` and run it; a resumed run keeps the flags it was started with (:func:`with_stored_flags`).

    Raises:
        ValueError: for every bad input (recipe, directories, flags that do not apply to the recipe, ...).
    """
    request = with_stored_flags(request)
    recipe = with_overrides(
        get_recipe(request.recipe), steps=request.steps, batch_size=request.batch_size, lr=request.lr,
        bf16=request.bf16 or None, seed=request.seed, uniform_t=request.uniform_t,
        logit_mean=request.logit_mean,
    )
    _check_data_dir(request.data_dir)
    check_run_dir(request.run_dir, recipe=recipe.name, resume=request.resume)
    args = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(request).items() if k not in ("progress", "parallel")
    }
    if launched_by_torchrun() or not request.parallel.is_single_process:
        if not isinstance(recipe, (T2VRecipe, AudioRecipe)):
            raise ValueError(
                f"recipe {recipe.name!r} trains in one process; distributed training (torchrun, --dp/--tp/--cp) "
                "covers the transformer recipes (t2v-*, audio-tiny, audio-debug)"
            )
        if not launched_by_torchrun():
            raise ValueError(
                "--dp/--tp/--cp above 1 need one process per rank: run `torchrun --nproc_per_node=N -m moviegen.train "
                "...` (moviegen train starts it for you on one machine)"
            )
    if isinstance(recipe, TAERecipe):
        return _run_tae(recipe, request, args)
    if isinstance(recipe, CodecRecipe):
        return _run_codec(recipe, request, args)
    if isinstance(recipe, AudioRecipe):
        return _run_audio(recipe, request, args)
    return _run_t2v(recipe, request, args)


def _join_distributed(request: TrainRequest):  # -> DistributedContext | None
    """Under torchrun: join the process group and build the mesh; otherwise None (one process)."""
    if not launched_by_torchrun():
        return None
    from moviegen.train.distributed import init_distributed

    return init_distributed(request.parallel)


def _with_parallel_args(args: dict[str, Any], request: TrainRequest, distributed: Any) -> dict[str, Any]:
    """Record the parallel layout a run started with (informative: a run resumes on any layout)."""
    if distributed is None:
        return args
    return {**args, "parallel": config_to_dict(request.parallel), "world_size": distributed.dims.world_size}


_PATH_FLAG_USE = {
    "init": "staged recipes (later TAE, text-to-video and codec phases)", "tae": "text-to-video recipes",
    "codec": "audio transformer recipes", "latents": "text-to-video recipes",
}


def _refuse_flags(request: TrainRequest, recipe_name: str, *, allowed: tuple[str, ...]) -> None:
    """ValueError for a path flag that the recipe does not take (it would be silently ignored)."""
    for name, use in _PATH_FLAG_USE.items():
        if name not in allowed and getattr(request, name) is not None:
            raise ValueError(f"--{name} applies to {use}, not to the recipe {recipe_name!r}")


def _init_weights_of(request: TrainRequest, *, recipe_name: str, init_from: str | None) -> dict[str, Any] | None:
    """The weights ``--init`` names for a phase that continues ``init_from`` (EMA when the run kept one), checked to
    come from a run of that recipe; None on resume (the run's own checkpoint has them) or for a first phase.

    Raises:
        ValueError: ``--init`` missing for a continuing phase, given to a first phase, or from another recipe.
    """
    if init_from is None:
        _refuse_flags(request, recipe_name, allowed=())
        return None
    _refuse_flags(request, recipe_name, allowed=("init",))
    if request.resume:
        return None
    if request.init is None:
        raise ValueError(f"recipe {recipe_name!r} continues a {init_from!r} run: pass --init RUN_DIR")
    init = load_checkpoint(request.init)
    init_recipe = init.trainer_state.get("run", {}).get("recipe")
    _check_init_recipe(request, init_recipe, recipe_name=recipe_name, init_from=init_from)
    return init.ema_state if init.ema_state is not None else init.model_state


def _run_codec(recipe: CodecRecipe, request: TrainRequest, args: dict[str, Any]) -> TrainResult:
    from moviegen.train.audio import train_codec

    init_state = _init_weights_of(request, recipe_name=recipe.name, init_from=recipe.init_from)
    _write_run_file(request.run_dir, {"recipe": recipe.name, "config": config_to_dict(recipe), "args": args})
    return train_codec(
        recipe, data_dir=request.data_dir, run_dir=request.run_dir, resume=request.resume, run_info={"args": args},
        progress=request.progress, init_state=init_state,
    )


def _run_audio(recipe: AudioRecipe, request: TrainRequest, args: dict[str, Any]) -> TrainResult:
    from safetensors.torch import load_file

    from moviegen.train.audio import (
        AVDataset,
        measure_audio_latent_norm,
        prepare_audio_latents,
        train_audio,
        with_codec_norm,
    )

    _refuse_flags(request, recipe.name, allowed=("codec",))
    if request.codec is None:
        raise ValueError(f"recipe {recipe.name!r} trains on audio-codec latents: pass --codec CODEC_RUN_OR_WEIGHTS")
    codec_file = resolve_weights_file(request.codec)
    key = hashlib.sha256(codec_file.read_bytes()).hexdigest()[:12]
    distributed = _join_distributed(request)
    is_main = distributed is None or distributed.is_main

    def caches() -> tuple[Path, Path]:
        return prepare_audio_latents(
            recipe, data_dir=request.data_dir, codec_weights=load_file(str(codec_file)), codec_key=key,
            progress=request.progress and is_main,
        )

    if is_main:  # one writer; the other ranks then find the caches built
        cache, latent_dir = caches()
    if distributed is not None:
        distributed.barrier()
    if not is_main:
        cache, latent_dir = caches()
    if request.resume:
        stored = _read_run_file(request.run_dir)
        if stored is None:
            raise ValueError(f"--resume: {str(request.run_dir)!r} has no {RUN_FILE}")
        codec = stored["config"]["audio"]["codec"]
        norm = (float(codec["shift_factor"]), float(codec["scaling_factor"]))
    else:
        norm = measure_audio_latent_norm(AVDataset(cache, split="train", latent_dir=latent_dir))
    audio_cfg = with_codec_norm(recipe.audio, shift=norm[0], scale=norm[1])
    args = {**args, "codec_file": str(codec_file), "audio_cache": str(cache), "audio_latents": str(latent_dir)}
    args = _with_parallel_args(args, request, distributed)
    if not request.resume and is_main:
        config = config_to_dict(recipe)
        config["audio"] = config_to_dict(audio_cfg)
        _write_run_file(request.run_dir, {"recipe": recipe.name, "config": config, "args": args})
    return train_audio(
        recipe, cache_dir=cache, latent_dir=latent_dir, run_dir=request.run_dir, audio_cfg=audio_cfg,
        resume=request.resume, run_info={"args": args}, progress=request.progress and is_main,
        distributed=distributed, parallel=request.parallel,
    )


def _run_tae(recipe: TAERecipe, request: TrainRequest, args: dict[str, Any]) -> TrainResult:
    from moviegen.train.t2v import tae_weights_file
    from moviegen.train.tae import train_tae

    _refuse_flags(request, recipe.name, allowed=("init",))
    init_state = None
    if request.init is not None and not request.resume:
        from safetensors.torch import load_file

        init_state = load_file(str(tae_weights_file(request.init)))
    _write_run_file(request.run_dir, {"recipe": recipe.name, "config": config_to_dict(recipe), "args": args})
    return train_tae(
        recipe, data_dir=request.data_dir, run_dir=request.run_dir, resume=request.resume, init_state=init_state,
        run_info={"args": args}, progress=request.progress,
    )


def _stored_latent_norm(video_config: dict[str, Any] | None, where: str) -> tuple[float, float]:
    try:
        tae = video_config["tae"]  # type: ignore[index]
        return float(tae["shift_factor"]), float(tae["scaling_factor"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where} records no latent shift/scale (not a text-to-video run?)") from err


def _warn_if_the_init_scale_misfits(norm: tuple[float, float], measured: tuple[float, float], *, init: Path) -> None:
    """Warn when the ``--init``'s latent shift/scale, which the run keeps (its transformer learned them), puts this
    cache's latents far from mean 0 and std 1: a ``--tae`` other than the one the init was trained on."""
    (shift, scale), (mean, inverse_std) = norm, measured
    mean_seen, std_seen = (mean - shift) * scale, scale / inverse_std
    if abs(std_seen - 1) > 0.1 or abs(mean_seen) > 0.1:
        warnings.warn(
            f"--init {str(init)!r}'s latent shift/scale ({shift:.4g}, {scale:.4g}) puts these latents at mean "
            f"{mean_seen:.3f} and std {std_seen:.3f} (their own: {mean:.4g}, {inverse_std:.4g}); the run keeps the "
            f"init's, which its transformer learned (is --tae another TAE than the init's?)",
            stacklevel=3,
        )


def _run_t2v(recipe: T2VRecipe, request: TrainRequest, args: dict[str, Any]) -> TrainResult:
    from moviegen.train.t2v import (
        LatentDataset,
        measure_latent_norm,
        read_t2v_init,
        train_t2v,
        with_latent_norm,
    )

    _refuse_flags(request, recipe.name, allowed=("init", "tae", "latents"))
    distributed = _join_distributed(request)
    is_main = distributed is None or distributed.is_main
    stage = recipe.stage
    init_state, norm, init_checkpoint = None, None, None
    if request.resume:
        stored = _read_run_file(request.run_dir)
        if stored is None:
            raise ValueError(f"--resume: {str(request.run_dir)!r} has no {RUN_FILE}")
        norm = _stored_latent_norm(stored["config"].get("video"), f"{request.run_dir / RUN_FILE}")
    elif request.init is not None:
        init = read_t2v_init(request.init)
        if stage.init_from is not None:
            _check_init_recipe(
                request, init.recipe, recipe_name=recipe.name, init_from=stage.init_from,
                exported=init.card_stages is not None,
            )
        init_state = init.state
        norm = _stored_latent_norm(init.video_config, f"--init {str(request.init)!r}")
        if init.card_stages is not None:  # the card as it was when the run started: `moviegen export` lists it
            init_checkpoint = {"path": str(request.init), "stages": init.card_stages}
    elif stage.init_from is not None:
        raise ValueError(
            f"stage {recipe.name!r} initialises from a {stage.init_from!r} run: pass --init RUN_DIR (or an exported "
            "video checkpoint directory whose card ends with that stage)"
        )

    tae_file = _t2v_tae_file(recipe, request.tae)  # after the --init checks: they name the more basic mistake
    cache_dir = _t2v_latent_cache(
        recipe, data_dir=request.data_dir, tae_file=tae_file, latents=request.latents, progress=request.progress,
        build=is_main,  # one writer; the other ranks wait for the finished cache
    )
    if distributed is not None:
        distributed.barrier()
    if norm is None:
        norm = measure_latent_norm(LatentDataset(cache_dir, split="train"))
    elif request.init is not None and not request.resume and is_main:
        measured = measure_latent_norm(LatentDataset(cache_dir, split="train"))
        _warn_if_the_init_scale_misfits(norm, measured, init=Path(request.init))
    video_cfg = with_latent_norm(recipe.video, shift=norm[0], scale=norm[1])
    args = {**args, "latents": str(cache_dir), "tae_file": str(tae_file)}
    args = _with_parallel_args(args, request, distributed)
    if not request.resume and is_main:
        config = config_to_dict(recipe)
        config["video"] = config_to_dict(video_cfg)
        record = {"recipe": recipe.name, "config": config, "args": args}
        if init_checkpoint is not None:
            record[INIT_CHECKPOINT_KEY] = init_checkpoint
        _write_run_file(request.run_dir, record)
    return train_t2v(
        recipe, cache_dir=cache_dir, run_dir=request.run_dir, video_cfg=video_cfg, init_state=init_state,
        resume=request.resume, run_info={"args": args}, progress=request.progress and is_main,
        distributed=distributed, parallel=request.parallel,
    )


def _t2v_tae_file(recipe: T2VRecipe, tae: Path | None) -> Path:
    """The weights file of ``--tae``, once its recorded temporal compression is the recipe's (ValueError if not)."""
    from moviegen.train.export import tae_config_of
    from moviegen.train.t2v import tae_weights_file

    if tae is None:
        raise ValueError(f"recipe {recipe.name!r} trains on TAE latents: pass --tae TAE_RUN_OR_CHECKPOINT")
    tae_config_of(recipe.video.tae, tae)  # a stride is not a weight: only a run or checkpoint records it
    return tae_weights_file(tae)


def _t2v_latent_cache(
    recipe: T2VRecipe, *, data_dir: Path, tae_file: Path, latents: Path | None, progress: bool, build: bool = True
) -> Path:
    """The latent cache ``recipe`` trains on (``latents``, else ``DATA/latents/<key>``), built if ``build``."""
    from moviegen.train.t2v import build_latent_cache, default_cache_dir, load_tae

    cache_dir = latents or default_cache_dir(data_dir, tae_file=tae_file, buckets=recipe.stage.buckets)
    if build:
        tae = load_tae(tae_file, cfg=recipe.video.tae)
        build_latent_cache(data_dir, tae=tae, buckets=recipe.stage.buckets, cache_dir=cache_dir, progress=progress)
    return cache_dir


def prepare_latent_cache(
    recipe_name: str, *, data_dir: Path, tae: Path | None, latents: Path | None = None, progress: bool = True
) -> Path:
    """Encode ``data_dir`` into the latent cache the text-to-video recipe ``recipe_name`` would train on, and return
    its directory (``moviegen train RECIPE --cache-only``): the cache a later run with the same ``--tae`` and buckets
    reuses. An interrupted cache resumes by shard; a finished one is only checked.

    Raises:
        ValueError: the recipe is not a text-to-video one, no ``tae``, or a bad dataset.
    """
    recipe = get_recipe(recipe_name)
    if not isinstance(recipe, T2VRecipe):
        raise ValueError(
            f"--cache-only builds the TAE latent cache of a text-to-video recipe (t2v-*); {recipe_name!r} is not one"
        )
    tae_file = _t2v_tae_file(recipe, tae)
    _check_data_dir(data_dir)
    return _t2v_latent_cache(recipe, data_dir=data_dir, tae_file=tae_file, latents=latents, progress=progress)


def describe_recipes() -> list[tuple[str, str]]:
    """``(name, description)`` of every recipe, for ``--list``."""
    from moviegen.train.recipes import RECIPES

    return [(name, fn().description) for name, fn in RECIPES.items()]


__all__ = ["RUN_FILE", "TrainRequest", "check_run_dir", "describe_recipes", "run_training", "with_stored_flags"]
