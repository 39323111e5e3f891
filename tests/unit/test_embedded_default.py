"""The shipped defaults (video and sound): present in the package, complete, documented by their cards, and able to
generate."""

import json
from pathlib import Path

import numpy as np
import pytest

from moviegen.audio import AudioPipeline, AudioRequest, default_audio_checkpoint_dir, load_audio_checkpoint
from moviegen.audio.checkpoint import CHECKPOINT_FILES as AUDIO_FILES
from moviegen.train.audio_recipes import audio_tiny_recipe
from moviegen.train.recipes import get_recipe
from moviegen.video import VideoPipeline, default_checkpoint_dir, load_video_checkpoint
from moviegen.video.checkpoint import CHECKPOINT_FILES


@pytest.fixture(scope="module")
def shipped():
    return load_video_checkpoint(default_checkpoint_dir())


def test_the_package_ships_every_file_within_the_size_budget():
    video, audio = default_checkpoint_dir(), default_audio_checkpoint_dir()
    assert all((video / name).is_file() for name in CHECKPOINT_FILES)
    assert all((audio / name).is_file() for name in AUDIO_FILES)
    total = sum(f.stat().st_size for path in (video, audio) for f in path.iterdir())
    assert total < 60e6, f"shipped weights take {total / 1e6:.1f} MB, PRODUCT.md's budget is about 60 MB"


def test_the_model_card_records_recipe_seed_and_measured_metrics(shipped):
    card = shipped.card
    stages = [stage["recipe"] for stage in card["recipe"]]
    # The shifted stage twice: its run, then its fine-tune on the fifth TAE phase's latents.
    assert stages == ["t2v-tiny-t2i-lowres", "t2v-tiny-t2iv-lowres", "t2v-tiny-t2iv", *["t2v-tiny-t2iv-shifted"] * 2]
    tae_stages = [stage["recipe"] for stage in card["tae_recipe"]]
    assert tae_stages == ["tae-tiny-image", "tae-tiny", "tae-tiny-full", "tae-tiny-clip", "tae-tiny-clip-encoder"]
    # The card's lineage is the chain script's, stage for stage, at the recipes' lengths or the script's --steps: the
    # stages the exported runs grew from, following each stage's --init back (a branch not exported is left out).
    chain = Path(__file__).resolve().parents[2] / "tools" / "train_embedded_default.sh"
    lines = chain.read_text().splitlines()
    scripted = {args[1]: args for args in (line.split()[1:] for line in lines if line.startswith("stage "))}

    def lineage(run_dir: str) -> list[list[str]]:
        args = scripted[run_dir]
        return (lineage(args[args.index("--init") + 1]) if "--init" in args else []) + [args]

    def steps(args: list[str]) -> int:
        return int(args[args.index("--steps") + 1]) if "--steps" in args else get_recipe(args[0]).train.steps

    export = [line.split() for line in lines if line.startswith("moviegen export")]
    assert len(export) == 1
    t2v, tae = (lineage(export[0][export[0].index(flag) + 1]) for flag in ("--t2v", "--tae"))
    assert [args[0] for args in t2v] == stages and [args[0] for args in tae] == tae_stages
    assert [stage["steps"] for stage in card["recipe"]] == [steps(args) for args in t2v]
    assert [stage["steps"] for stage in card["tae_recipe"]] == [steps(args) for args in tae]
    assert t2v[-1][t2v[-1].index("--tae") + 1] == tae[-1][1]  # its transformer trained on the exported TAE's latents
    assert all(stage["steps"] > 0 and "seed" in stage for stage in card["recipe"] + card["tae_recipe"])
    assert card["data"]["seed"] == 0
    metrics = card["metrics"]
    assert {"tae", "adherence", "sampler"} <= metrics.keys(), json.dumps(metrics)[:300]
    assert 0.0 <= metrics["adherence"]["scores"]["all"]["colour"] <= 1.0
    assert 0.0 <= metrics["tae"]["ssim"] <= 1.0 and metrics["tae"]["psnr"] > 0


def test_the_shipped_model_is_an_init_for_its_last_stage_and_the_stage_3_fine_tunes(tmp_path):
    from moviegen.train.launch import TrainRequest, _check_init_recipe
    from moviegen.train.t2v import read_t2v_init

    init = read_t2v_init(default_checkpoint_dir())
    assert init.recipe == "t2v-tiny-t2iv-shifted"
    assert [stage["recipe"] for stage in init.card_stages][:3] == [
        "t2v-tiny-t2i-lowres", "t2v-tiny-t2iv-lowres", "t2v-tiny-t2iv"
    ]
    config = json.loads((default_checkpoint_dir() / "config.json").read_text())
    assert init.video_config["tae"]["scaling_factor"] == config["config"]["tae"]["scaling_factor"]
    request = TrainRequest(recipe="x", data_dir=tmp_path, run_dir=tmp_path / "run", init=default_checkpoint_dir())
    # The shifted stage fine-tunes itself; the stage-3 experiments take it as a sibling continuation of stage 3.
    for recipe in ("t2v-tiny-t2iv-shifted", "t2v-tiny-t2iv-objects", "t2v-tiny-t2iv-motion"):
        _check_init_recipe(request, init.recipe, recipe_name=recipe, init_from=get_recipe(recipe).stage.init_from,
                           exported=True)
    # Stage 3 itself and the 64 px stage would restart from a later stage's weights: refused, naming the card's end.
    for recipe in ("t2v-tiny-t2iv", "t2v-tiny-t2iv-lowres"):
        with pytest.raises(ValueError, match=r"exported checkpoint whose card ends with 't2v-tiny-t2iv-shifted'"):
            _check_init_recipe(request, init.recipe, recipe_name=recipe,
                               init_from=get_recipe(recipe).stage.init_from, exported=True)


def test_the_shipped_model_generates_at_its_trained_size(shipped):
    pipeline = VideoPipeline(shipped.tae, shipped.model, shipped.cfg, defaults=shipped.defaults)
    d = shipped.defaults
    frames = pipeline.generate(
        "a red circle bounces on a gray floor", width=d.width, height=d.height, num_frames=1, fps=None, steps=2,
        guidance_scale=d.guidance_scale, seed=0, progress=False,
    )
    assert frames.shape == (1, d.height, d.width, 3) and frames.dtype == np.uint8 and frames.std() > 0


def test_the_shipped_sound_model_is_documented_and_makes_sound():
    shipped = load_audio_checkpoint(default_audio_checkpoint_dir())
    card = shipped.card
    assert [stage["recipe"] for stage in card["recipe"]] == ["audio-tiny"]
    codec_stages = [stage["recipe"] for stage in card["codec_recipe"]]
    assert codec_stages == ["audio-codec-tiny", "audio-codec-tiny-mel", "audio-codec-tiny-mel"]  # the mel phase twice
    # The card's lineage is the chain script's, stage for stage.
    chain = Path(__file__).resolve().parents[2] / "tools" / "train_embedded_audio.sh"
    scripted = [line.split()[1] for line in chain.read_text().splitlines() if line.startswith("stage ")]
    assert scripted == codec_stages + ["audio-tiny"]
    assert shipped.model.onset_head is not None and shipped.cfg.onset_head_channels > 0  # trained with SyncConfig
    assert shipped.cfg.onset_conditioning and shipped.model.onset_embed.abs().sum() > 0  # and it learned to use it
    # every block reads each frame's video features through its own per-token modulation, learned away from zero
    assert shipped.cfg.dit.token_adaln and shipped.model.transformer.dit.token_adaln.weight.abs().sum() > 0
    assert card["data"]["seed"] == 1
    sync = card["metrics"]["audio"]["sync"]
    assert 0.0 <= sync["f1"] <= 1.0 and sync["reference"] > 0
    # the card's numbers were measured at the shipped sampling defaults, which are the recipe's
    assert card["metrics"]["audio"]["sampling"]["guidance_scale"] == shipped.defaults.flow.guidance_scale
    assert shipped.defaults.flow.guidance_scale == audio_tiny_recipe().flow.guidance_scale
    assert shipped.cfg.codec.sample_rate == 16000 and shipped.defaults.flow.num_steps == 64
    pipeline = AudioPipeline(model=shipped.model, codec=shipped.codec, defaults=shipped.defaults)
    audio = pipeline.generate(AudioRequest(seconds=0.5, prompt="cheerful music", steps=4, seed=0))
    assert audio.shape == (8000,) and audio.dtype == np.float32 and float(np.abs(audio).max()) > 1e-3
