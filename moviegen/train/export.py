"""Training runs -> an inference checkpoint directory (what `moviegen generate --checkpoint` and the shipped default
read), with a model card that records how the weights were made.

The text-to-video run supplies the architecture (its ``run.json`` holds the resolved config, including the latent
shift/scale measured in stage 1) and its EMA weights; the TAE run supplies the autoencoder. The card follows the
``--init`` chain back through every stage, so it lists the whole recipe: stage, steps, batch, seed, data.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moviegen.configs.presets import MovieGenVideoConfig
from moviegen.configs.serialize import config_from_dict
from moviegen.train.average import resolve_weights_file
from moviegen.train.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from moviegen.tae.config import TAEConfig
    from moviegen.tae.model import TemporalAutoencoder
    from moviegen.video.checkpoint import GenerationDefaults

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise ValueError(f"{str(run_dir)!r} is not a training run directory (no {RUN_FILE})")
    return json.loads(path.read_text())


def _last_validation(run_dir: Path) -> dict[str, float]:
    """The newest ``val*`` metrics of a run (empty if it never validated)."""
    path, found = run_dir / METRICS_FILE, {}
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            vals = {k: v for k, v in row.items() if k.startswith("val")}
            if vals:
                found = {"step": row.get("step"), **vals}
    return found


INIT_CHECKPOINT_KEY = "init_checkpoint"  # run.json: the exported checkpoint a run started from, and its card's stages


def exported_card(path: Path) -> dict[str, Any] | None:
    """The model card of an exported video checkpoint directory (None for anything else).

    Raises:
        ValueError: the directory's card is missing or not a JSON object.
    """
    from moviegen.io.checkpoint_files import read_card
    from moviegen.video.checkpoint import CARD_FILE, is_video_checkpoint

    if not is_video_checkpoint(path):
        return None
    return read_card(path / CARD_FILE, contents="an exported video checkpoint has a model_card.json")


def _exported_stages(path: Path) -> list[dict[str, Any]] | None:
    """The card stages behind ``path`` when it is an exported checkpoint (its transformer's) or that checkpoint's
    ``tae.safetensors`` (its autoencoder's); None otherwise."""
    from moviegen.video.checkpoint import TAE_FILE

    card, key = exported_card(path), "recipe"
    if card is None and path.name == TAE_FILE:
        card, key = exported_card(path.parent), "tae_recipe"
    return None if card is None else list(card.get(key) or [])


def describe_run(run_dir: str | Path) -> list[dict[str, Any]]:
    """One entry per stage, oldest first: recipe, steps trained, batch size, lr, seed, data, last validation.

    The chain follows each run's ``--init``. A run started from an exported checkpoint (``--init
    moviegen/assets/video-tiny``) continues that checkpoint's card: its stages (as recorded when the run started)
    come first, and the run's first stage names the checkpoint. An ``--init`` that is neither a run nor an exported
    checkpoint (a bare weights file) ends the chain, named in ``init``.

    Raises:
        ValueError: ``run_dir`` is not a training run directory.
    """
    stages: list[dict[str, Any]] = []
    seen: set[Path] = set()
    current = Path(run_dir)
    while current.resolve() not in seen:
        seen.add(current.resolve())
        run = _read_run(current)
        train, optim = run["config"]["train"], run["config"]["optim"]
        stages.append(
            {
                "recipe": run["recipe"],
                "run_dir": current.name,
                "steps": load_checkpoint(current).step,
                "batch_size": train["batch_size"],
                "lr": optim["lr"],
                "seed": train["seed"],
                "data": Path(run["args"]["data_dir"]).name,
                "validation": _last_validation(current),
            }
        )
        init = run["args"].get("init")
        if not init:
            break
        recorded = run.get(INIT_CHECKPOINT_KEY)
        earlier = recorded["stages"] if recorded is not None else _exported_stages(Path(init))
        if earlier is not None:
            stages[-1]["init"] = f"the exported checkpoint {Path(init).name!r} (its stored weights)"
            return list(earlier) + stages[::-1]
        if not (Path(init) / RUN_FILE).is_file():
            stages[-1]["init"] = str(init)  # a weights file or a checkpoint directory: where the record ends
            break
        current = Path(init)
    return stages[::-1]


def _autoencoder_recipe(key: str, path: Path) -> list[dict[str, Any]] | str:
    """The card entry of the autoencoder a checkpoint was exported with: its run's stages, the card entry of the
    exported checkpoint it was taken from, or (a bare weights file) its path."""
    if (path / RUN_FILE).is_file():
        return describe_run(path)
    card = exported_card(path)
    return card[key] if card is not None and key in card else str(path)


def model_card(
    run: dict[str, Any], *, run_dir: Path, model: str, weights: str, autoencoder: tuple[str, Path],
    latent_norm: tuple[float, float], extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """The model card of an exported checkpoint: the run's recipe chain, its autoencoder's (``(card key, run)``), the
    world it trained on (seed, size, version), the latent shift/scale, and empty metrics for ``moviegen eval``."""
    world = Path(run["args"]["data_dir"]) / "world.json"
    key, path = autoencoder
    data = json.loads(world.read_text()) if world.is_file() else None
    card: dict[str, Any] = {
        "model": model,
        "weights": weights,
        "recipe": describe_run(run_dir),
        key: _autoencoder_recipe(key, path),
        "data": None if data is None else {k: data[k] for k in ("seed", "num", "version") if k in data},
        "latent_norm": {"shift_factor": latent_norm[0], "scaling_factor": latent_norm[1]},
        "metrics": {},
    }
    return card | (extra or {})


def generation_defaults_from_run(run: dict[str, Any]) -> "GenerationDefaults":
    """What a text-to-video run was trained for, as generation defaults: its stage's first aspect bucket and shortest
    duration bucket, and its flow config's sampler (steps, schedule, guidance)."""
    from moviegen.data.buckets import BucketConfig
    from moviegen.flow.config import FlowConfig
    from moviegen.video.checkpoint import GenerationDefaults

    buckets = config_from_dict(BucketConfig, run["config"]["stage"]["buckets"])
    flow = config_from_dict(FlowConfig, run["config"]["flow"])
    width, height = buckets.sizes[0]
    num_frames = min(buckets.frame_counts) if buckets.frame_counts else 1
    sizes: dict[str, tuple[int, int]] = {}
    for w, h in buckets.sizes:
        sizes.setdefault("square" if w == h else "landscape" if w > h else "portrait", (w, h))
    return GenerationDefaults(
        width=width,
        height=height,
        seconds=num_frames / buckets.fps,
        fps=buckets.fps,
        steps=flow.num_steps,
        schedule=flow.schedule,
        guidance_scale=flow.guidance_scale,
        sizes=sizes,
    )


def _guidance_override(guidance_scale: float | None, card: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check an export's guidance override; the card records it (the run's recipe says otherwise)."""
    if guidance_scale is None:
        return card
    if not guidance_scale >= 1:
        raise ValueError(f"guidance_scale must be >= 1 (1 = no guidance), got {guidance_scale!r}")
    return {"guidance_scale_set_at_export": guidance_scale} | (card or {})


def tae_config_of(tae_cfg: "TAEConfig", tae_run: Path, *, own_latent: bool = False) -> "TAEConfig":
    """The text-to-video run's TAE config with the architecture choices (``TAEConfig.with_architecture_of``) of the
    TAE it is trained or exported with, as recorded by that TAE's run or exported checkpoint: a later TAE phase may
    change how the decoder upsamples time, widen the decoder or deepen the TAE without changing the latent's shape.
    Another temporal compression does change it: ValueError, unless ``own_latent`` (a TAE measured alone) takes it
    too. A bare weights file or a checkpoint directory records no architecture of its own and keeps the run's
    (``load_tae`` still takes the decoder's width and the depth from the weights; a stride is not a weight, so a bare
    file of another temporal compression loads as the run's)."""
    from moviegen.tae.config import TAEConfig
    from moviegen.video.checkpoint import is_video_checkpoint, read_checkpoint_config

    if (tae_run / RUN_FILE).is_file():
        recorded = _read_run(tae_run)["config"].get("tae")
        if recorded is None:
            raise ValueError(f"--tae {str(tae_run)!r} is a {_read_run(tae_run)['recipe']!r} run, not a TAE run")
        architecture_of = config_from_dict(TAEConfig, recorded, where=f"{tae_run / RUN_FILE} tae")
    elif is_video_checkpoint(tae_run):
        architecture_of = read_checkpoint_config(tae_run).cfg.tae
    else:
        return tae_cfg
    cfg = tae_cfg.with_architecture_of(architecture_of)
    if own_latent:
        return replace(cfg, temporal_downsample=architecture_of.temporal_downsample)
    if architecture_of.temporal_downsample != tae_cfg.temporal_downsample:
        raise ValueError(
            f"--tae {str(tae_run)!r} compresses time {architecture_of.temporal_compression}x "
            f"(temporal_downsample={architecture_of.temporal_downsample}), the text-to-video side's TAE "
            f"{tae_cfg.temporal_compression}x ({tae_cfg.temporal_downsample}): its latents have another shape"
        )
    return cfg


def load_tae_from(source: str | Path, *, cfg: "TAEConfig", own_latent: bool = False) -> "TemporalAutoencoder":
    """The frozen TAE a source names (a TAE run, a checkpoint directory, an exported video checkpoint or a weights
    file), on ``cfg`` (the text-to-video side's: its latent shift/scale) with the source's architecture choices;
    with ``own_latent`` (to measure a TAE alone, not to train on or decode a transformer's latents) also the source's
    latent channel count (``load_tae``) and temporal compression.

    Raises:
        ValueError: the source is not a TAE or its weights do not fit ``cfg``.
    """
    from moviegen.train.t2v import load_tae, tae_weights_file

    return load_tae(
        tae_weights_file(source), cfg=tae_config_of(cfg, Path(source), own_latent=own_latent),
        own_latent_channels=own_latent,
    )


def export_video_checkpoint(
    *,
    t2v_run: str | Path,
    tae_run: str | Path,
    out_dir: str | Path,
    card: dict[str, Any] | None = None,
    guidance_scale: float | None = None,
) -> Path:
    """Write an inference checkpoint from a text-to-video run (EMA weights) and a TAE run.

    Args:
        t2v_run: the last text-to-video stage's run directory.
        tae_run: the TAE run directory (or a checkpoint directory, an exported video checkpoint directory whose
            ``tae.safetensors`` and card entry are taken, or a ``.safetensors`` file).
        out_dir: the checkpoint directory to write (created).
        card: extra model-card fields (merged over the generated ones).
        guidance_scale: the checkpoint's default guidance (None: the run's recipe's).

    Raises:
        ValueError: not a run, no checkpoint, or weights that do not fit the recorded config.
    """
    from moviegen.video.checkpoint import save_video_checkpoint
    from moviegen.video.model import TextToVideo

    t2v_run, out_dir = Path(t2v_run), Path(out_dir)
    card = _guidance_override(guidance_scale, card)
    run = _read_run(t2v_run)
    if "video" not in run["config"]:
        raise ValueError(f"{str(t2v_run)!r} is a {run['recipe']!r} run, not a text-to-video run")
    cfg = config_from_dict(MovieGenVideoConfig, run["config"]["video"])
    tae = load_tae_from(tae_run, cfg=cfg.tae)
    cfg = replace(cfg, tae=tae.cfg)  # with the architecture the TAE brings
    checkpoint = load_checkpoint(t2v_run)
    model = TextToVideo(cfg)
    model.load_trainable_state_dict(
        checkpoint.ema_state if checkpoint.ema_state is not None else checkpoint.model_state
    )

    full_card = model_card(
        run, run_dir=t2v_run, model="moviegen video-tiny (text-to-image/video) + tae-tiny",
        weights="EMA of the last stage; float16 on disk", autoencoder=("tae_recipe", Path(tae_run)),
        latent_norm=(cfg.tae.shift_factor, cfg.tae.scaling_factor), extra=card,
    )
    defaults = generation_defaults_from_run(run)
    if guidance_scale is not None:
        defaults = replace(defaults, guidance_scale=guidance_scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_video_checkpoint(out_dir, cfg=cfg, tae=tae, model=model, card=full_card, defaults=defaults)


def export_audio_checkpoint(
    *,
    audio_run: str | Path,
    codec_run: str | Path,
    out_dir: str | Path,
    card: dict[str, Any] | None = None,
    guidance_scale: float | None = None,
) -> Path:
    """Write an audio checkpoint from an audio transformer run (EMA weights) and the codec run it trained on;
    ``guidance_scale``: the checkpoint's default guidance (None: the run's recipe's).

    Raises:
        ValueError: not an audio run, no checkpoint, or weights that do not fit the recorded config.
    """
    from safetensors.torch import load_file

    from moviegen.audio.checkpoint import AudioDefaults, save_audio_checkpoint
    from moviegen.audio.config import MovieGenAudioConfig
    from moviegen.audio.model import MovieGenAudio
    from moviegen.flow.config import FlowConfig
    from moviegen.train.audio import load_codec

    audio_run, out_dir = Path(audio_run), Path(out_dir)
    card = _guidance_override(guidance_scale, card)
    run = _read_run(audio_run)
    if "audio" not in run["config"]:
        raise ValueError(f"{str(audio_run)!r} is a {run['recipe']!r} run, not an audio transformer run")
    cfg = config_from_dict(MovieGenAudioConfig, run["config"]["audio"])
    checkpoint = load_checkpoint(audio_run)
    model = MovieGenAudio(cfg)
    model.load_trainable_state_dict(
        checkpoint.ema_state if checkpoint.ema_state is not None else checkpoint.model_state
    )
    codec_file = resolve_weights_file(codec_run)
    codec = load_codec(load_file(str(codec_file)), cfg=cfg.codec)  # with the run's measured latent shift/scale
    full_card = model_card(
        run, run_dir=audio_run, model="moviegen audio-tiny (video/text to audio, extension) + its DAC-VAE codec",
        weights="EMA of the audio transformer; float16 on disk", autoencoder=("codec_recipe", Path(codec_run)),
        latent_norm=(cfg.codec.shift_factor, cfg.codec.scaling_factor), extra=card,
    )
    flow = config_from_dict(FlowConfig, run["config"]["flow"])
    if guidance_scale is not None:
        flow = replace(flow, guidance_scale=guidance_scale)
    defaults = AudioDefaults(flow=flow, overlap_seconds=cfg.window_seconds / 2, caption="")
    return save_audio_checkpoint(out_dir, cfg=cfg, codec=codec, model=model, card=full_card, defaults=defaults)
