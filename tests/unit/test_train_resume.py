"""End to end: `moviegen train` / `moviegen average` on a tiny fixture dataset, and exact resume after SIGKILL."""

import json
import os
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import kill_after_first_checkpoint
from safetensors.torch import load_file, save_file

import moviegen
from moviegen.cli import main
from moviegen.tae.config import tae_debug
from moviegen.tae.model import TemporalAutoencoder
from moviegen.train.checkpoint import load_checkpoint


def _losses(run_dir: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def _t2v_args(world: Path, tae_file: Path, run_dir: Path, steps: int) -> list[str]:
    return ["train", "t2v-debug", "--data", str(world), "--tae", str(tae_file), "-o", str(run_dir),
            "--steps", str(steps), "--no-progress"]


@pytest.mark.slow
def test_a_killed_run_resumes_exactly(world, tae_file, tmp_path):
    steps = 6  # t2v-debug: constant LR, checkpoint every 2 steps
    assert main(_t2v_args(world, tae_file, tmp_path / "full", steps)) == 0  # also builds the latent cache
    reference = _losses(tmp_path / "full")
    assert sorted(reference) == list(range(1, steps + 1))

    # The victim asks for many steps so that it is surely still running when its first checkpoint lands.
    run_dir = tmp_path / "killed"
    repo = str(Path(moviegen.__file__).parents[1])  # the child must import this checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    kill_after_first_checkpoint(
        [sys.executable, "-m", "moviegen", *_t2v_args(world, tae_file, run_dir, 1000)], run_dir, env=env, timeout=120
    )
    killed_at = load_checkpoint(run_dir).step
    assert 1 <= killed_at < steps

    assert main([*_t2v_args(world, tae_file, run_dir, steps), "--resume"]) == 0
    resumed = _losses(run_dir)
    assert sorted(resumed) == list(range(1, steps + 1))  # steps after the checkpoint are not duplicated
    for step in range(killed_at + 1, steps + 1):
        assert resumed[step] == pytest.approx(reference[step], abs=1e-6, rel=0), step
    full, again = load_checkpoint(tmp_path / "full"), load_checkpoint(run_dir)
    for key, value in full.model_state.items():
        torch.testing.assert_close(again.model_state[key], value, rtol=0, atol=1e-6)


def test_cli_list_and_help(capsys):
    assert main(["train", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("tae-tiny", "t2v-tiny-t2i-lowres", "t2v-tiny-t2iv-lowres", "t2v-tiny-t2iv", "t2v-debug"):
        assert name in listed
    for command in ("train", "average"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "examples:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "t2v-huge", "--data", "{world}", "-o", "{tmp}/r"], "unknown recipe 't2v-huge'; expected one of"),
        (["train", "tae-debug", "--data", "{tmp}/nowhere", "-o", "{tmp}/r"], "is not a directory"),
        (["train", "tae-debug", "--data", "{world}", "-o", "{tmp}/r", "--resume"], "no checkpoint to resume"),
        (["train", "t2v-debug", "--data", "{world}", "-o", "{tmp}/r"], "pass --tae"),
        (["train", "t2v-tiny-t2iv", "--data", "{world}", "-o", "{tmp}/r", "--tae", "{tae}"], "pass --init"),
        (["train", "tae-debug", "--data", "{world}", "-o", "{tmp}/r", "--tae", "{tae}"], "--tae applies to"),
        (["average", "{tae}", "-o", "{tmp}/avg.pt"], "must name a .safetensors file"),
        (["train", "tae-debug", "--cache-only", "--data", "{world}"], "'tae-debug' is not one"),
        (["train", "t2v-debug", "--cache-only", "--data", "{world}"], "pass --tae"),
        (["train", "t2v-debug", "--cache-only", "--tae", "{tae}"], "--cache-only: missing --data"),
        (["train", "t2v-debug", "--cache-only", "--data", "{world}", "--tae", "{tae}", "-o", "{tmp}/r", "--steps", "2"],
         "starts no run: drop -o, --steps"),
        (["train", "t2v-debug", "--cache-only", "--data", "{world}", "--tae", "{tae}", "--tp", "2"], "drop --tp"),
    ],
)
def test_cli_errors_name_the_bad_value(args, message, world, tae_file, tmp_path, capsys):
    args = [a.format(world=world, tmp=tmp_path, tae=tae_file) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"moviegen {args[0]}: error:")


def test_cli_two_step_run_then_average(world, tmp_path, capsys):
    run_dir = tmp_path / "tae"
    assert main(["train", "tae-debug", "--data", str(world), "-o", str(run_dir), "--steps", "2", "--no-progress"]) == 0
    ckpt = load_checkpoint(run_dir)
    assert ckpt.step == 2 and ckpt.trainer_state["run"]["recipe"] == "tae-debug"
    assert json.loads((run_dir / "run.json").read_text())["recipe"] == "tae-debug"
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()][:2] == [1, 2]
    TemporalAutoencoder(tae_debug()).load_state_dict(ckpt.model_state)  # the weights are a loadable TAE

    # Same directory, other recipe: refused. Same recipe without --resume: refused.
    assert main(["train", "t2v-debug", "--data", str(world), "-o", str(run_dir), "--tae", str(run_dir)]) == 2
    assert "holds a run of recipe 'tae-debug'" in capsys.readouterr().err
    assert main(["train", "tae-debug", "--data", str(world), "-o", str(run_dir)]) == 2
    assert "pass --resume" in capsys.readouterr().err

    out = tmp_path / "avg.safetensors"
    assert main(["average", str(run_dir), str(ckpt.path), "-o", str(out)]) == 0
    averaged = load_file(out)
    for key, value in ckpt.model_state.items():
        torch.testing.assert_close(averaged[key], value)


def test_cache_only_builds_the_cache_a_run_then_reuses(world, tae_file, tmp_path, capsys):
    cache = tmp_path / "latents"
    args = ["train", "t2v-debug", "--data", str(world), "--tae", str(tae_file), "--latents", str(cache)]
    args.append("--no-progress")
    assert main([*args, "--cache-only"]) == 0
    assert f"latent cache: {cache}" in capsys.readouterr().out
    shards = sorted(cache.glob("shard-*.safetensors"))
    assert shards and (cache / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latents"]  # no run directory
    written = {p: p.stat().st_mtime_ns for p in shards}

    assert main([*args, "-o", str(tmp_path / "run"), "--steps", "1"]) == 0
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.glob("shard-*.safetensors"))} == written  # reused as is
    assert json.loads((tmp_path / "run" / "run.json").read_text())["args"]["latents"] == str(cache)


def _train_and_export(world: Path, tae_file: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A 2-step t2v-debug run (``tmp_path/t2v``) and its export (``tmp_path/model``)."""
    run_dir, out = tmp_path / "t2v", tmp_path / "model"
    assert main(_t2v_args(world, tae_file, run_dir, 2)) == 0
    assert main(["export", "--t2v", str(run_dir), "--tae", str(tae_file), "-o", str(out)]) == 0
    return run_dir, out


def test_export_then_generate_from_the_exported_checkpoint(world, tae_file, tmp_path, capsys):
    from moviegen.video.checkpoint import load_video_checkpoint

    run_dir, out = _train_and_export(world, tae_file, tmp_path)
    loaded = load_video_checkpoint(out)
    # The card records the recipe chain and the latent normalisation the stage measured.
    assert [stage["recipe"] for stage in loaded.card["recipe"]] == ["t2v-debug"]
    assert loaded.card["recipe"][0]["steps"] == 2
    run_cfg = json.loads((run_dir / "run.json").read_text())["config"]["video"]["tae"]
    assert loaded.cfg.tae.scaling_factor == run_cfg["scaling_factor"] != 1.0
    # Defaults are what the stage trained on: its 32x32 bucket and 8-frame clips at 16 fps.
    assert (loaded.defaults.width, loaded.defaults.height, loaded.defaults.fps) == (32, 32, 16)
    assert loaded.defaults.num_frames == 8
    # The exported EMA weights are the run's.
    ema = load_checkpoint(run_dir).ema_state
    exported = loaded.model.trainable_state_dict()
    assert all(torch.allclose(exported[k], v.float(), atol=1e-3, rtol=1e-3) for k, v in ema.items())
    video = tmp_path / "out.mp4"
    assert main(["generate", "a red circle", "--checkpoint", str(out), "--steps", "2", "-o", str(video),
                 "--seed", "1", "--no-progress", "--no-audio"]) == 0
    assert video.is_file()
    # A guidance scale chosen after training becomes the default, and the card says it was set at export.
    assert "guidance_scale_set_at_export" not in loaded.card
    assert main(["export", "--t2v", str(run_dir), "--tae", str(tae_file), "-o", str(tmp_path / "m2"),
                 "--guidance-scale", "3.5"]) == 0
    again = load_video_checkpoint(tmp_path / "m2")
    assert again.defaults.guidance_scale == again.card["guidance_scale_set_at_export"] == 3.5
    assert again.defaults.guidance_scale != loaded.defaults.guidance_scale
    assert main(["export", "--t2v", str(run_dir), "--tae", str(tae_file), "-o", str(tmp_path / "m3"),
                 "--guidance-scale", "0.5"]) == 2
    assert "guidance_scale must be >= 1" in capsys.readouterr().err


def test_fine_tune_from_an_exported_checkpoint_and_export_its_lineage(world, tae_file, tmp_path, capsys):
    from moviegen.video.checkpoint import load_video_checkpoint

    first, model = _train_and_export(world, tae_file, tmp_path)
    shipped = load_video_checkpoint(model)
    # A stage that continues another phase refuses it, naming the stage its card ends with.
    refused = ["train", "t2v-tiny-t2iv", "--data", str(world), "--tae", str(model), "-o", str(tmp_path / "no"),
               "--init", str(model), "--no-progress"]
    assert main(refused) == 2
    assert "exported checkpoint whose card ends with 't2v-debug'" in capsys.readouterr().err

    # The checkpoint directory is both --init and --tae; a near-zero LR keeps the weights where they started. Its
    # latent scale fits its own TAE's latents: no warning.
    tune = tmp_path / "tune"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*_t2v_args(world, model, tune, 1), "--init", str(model), "--lr", "1e-12"]) == 0
    assert not [w for w in caught if "latent shift/scale" in str(w.message)]
    run = json.loads((tune / "run.json").read_text())
    assert run["args"]["tae_file"] == str(model / "tae.safetensors")
    assert run["config"]["video"]["tae"]["scaling_factor"] == shipped.cfg.tae.scaling_factor
    assert run["init_checkpoint"] == {"path": str(model), "stages": shipped.card["recipe"]}
    tuned = load_checkpoint(tune).model_state
    for key, value in shipped.model.trainable_state_dict().items():
        torch.testing.assert_close(tuned[key], value, rtol=0, atol=1e-6)
    assert main([*_t2v_args(world, model, tune, 2), "--resume"]) == 0  # resumes from its own checkpoint
    assert load_checkpoint(tune).step == 2

    # Exported, the fine-tune's card continues the checkpoint's card as recorded at the start (a later edit of the
    # checkpoint does not rewrite history): its stage, then the run's, naming where it started. The TAE's
    # decoder-only choice comes from where the TAE is taken (here a checkpoint that now says linear).
    config = json.loads((model / "config.json").read_text())
    config["config"]["tae"]["temporal_upsample"] = "linear"
    (model / "config.json").write_text(json.dumps(config))
    (model / "model_card.json").write_text(json.dumps(shipped.card | {"recipe": []}))
    again = tmp_path / "model2"
    assert main(["export", "--t2v", str(tune), "--tae", str(model), "-o", str(again)]) == 0
    exported = load_video_checkpoint(again)
    assert exported.cfg.tae.temporal_upsample.value == "linear"
    card = exported.card
    assert [stage["run_dir"] for stage in card["recipe"]] == ["t2v", "tune"]
    assert card["recipe"][0] == shipped.card["recipe"][0]
    assert "'model'" in card["recipe"][1]["init"] and card["recipe"][1]["steps"] == 2
    assert card["tae_recipe"] == shipped.card["tae_recipe"] == str(tae_file)
    # A bare weights file records no decoder choice: the run's own (nearest) stays.
    third = tmp_path / "model3"
    assert main(["export", "--t2v", str(tune), "--tae", str(tae_file), "-o", str(third)]) == 0
    assert load_video_checkpoint(third).cfg.tae.temporal_upsample.value == "nearest"

    # Another TAE whose latents are twice as large: the run keeps the init's scale and says the latents misfit it.
    doubled = load_file(str(tae_file))
    channels = doubled["post_quant_conv.spatial.weight"].shape[0]
    for name in ("quant_conv.spatial.weight", "quant_conv.spatial.bias"):  # the posterior means' rows
        doubled[name][:channels] *= 2
    save_file(doubled, str(tmp_path / "doubled.safetensors"))
    with pytest.warns(UserWarning, match=r"puts these latents at mean .* and std 2\.\d+ .* keeps the init's"):
        assert main([*_t2v_args(world, tmp_path / "doubled.safetensors", tmp_path / "off", 1),
                     "--init", str(model), "--lr", "1e-12"]) == 0
    off = json.loads((tmp_path / "off" / "run.json").read_text())
    assert off["config"]["video"]["tae"]["scaling_factor"] == shipped.cfg.tae.scaling_factor

    # So does a run of a recipe that is not that phase.
    refused[-2] = str(first)
    assert main(refused) == 2
    assert "is a run of 't2v-debug'" in capsys.readouterr().err


def test_export_follows_a_tae_run_started_from_a_weights_file(world, tae_file, tmp_path):
    from moviegen.video.checkpoint import load_video_checkpoint

    tae_run = tmp_path / "tae"
    assert main(["train", "tae-debug", "--data", str(world), "-o", str(tae_run), "--init", str(tae_file),
                 "--steps", "1", "--no-progress"]) == 0
    t2v_run = tmp_path / "t2v"
    assert main(_t2v_args(world, tae_file, t2v_run, 1)) == 0
    out = tmp_path / "model"
    assert main(["export", "--t2v", str(t2v_run), "--tae", str(tae_run), "-o", str(out)]) == 0
    tae_card = load_video_checkpoint(out).card["tae_recipe"]
    assert [stage["recipe"] for stage in tae_card] == ["tae-debug"]
    assert tae_card[0]["init"] == str(tae_file)  # where the record ends


@pytest.mark.parametrize("grown", ["decoder_width_multiplier", "layers_per_block"])
def test_export_with_a_widened_decoder_or_a_deepened_tae(world, tae_file, tmp_path, grown):
    """A TAE whose decoder is wider, or whose levels have more ResNets, than the text-to-video run's recorded one:
    the checkpoint's config takes the architecture from the weights, and its TAE decodes as the grown one (trained
    off the fresh widening or deepening, so that the new tensors count)."""
    from dataclasses import replace

    from moviegen.tae.config import tae_debug
    from moviegen.tae.widen import deepen, widen_decoder
    from moviegen.video.checkpoint import load_video_checkpoint

    narrow = TemporalAutoencoder(tae_debug()).eval()
    narrow.load_state_dict(load_file(str(tae_file)))
    grown_file = tmp_path / "grown.safetensors"
    grow = {"decoder_width_multiplier": widen_decoder, "layers_per_block": deepen}[grown]
    grown_tae = grow(narrow, 2).eval()
    with torch.no_grad():  # off the function-keeping start: the new channels or ResNets change the frames
        for param in grown_tae.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
    save_file(grown_tae.state_dict(), str(grown_file))
    t2v_run = tmp_path / "t2v"
    assert main(_t2v_args(world, tae_file, t2v_run, 1)) == 0
    out = tmp_path / "model"
    assert main(["export", "--t2v", str(t2v_run), "--tae", str(grown_file), "-o", str(out)]) == 0
    loaded = load_video_checkpoint(out)
    assert loaded.cfg.tae == replace(tae_debug(), **{grown: 2}, shift_factor=loaded.cfg.tae.shift_factor,
                                     scaling_factor=loaded.cfg.tae.scaling_factor)
    latent = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # the checkpoint stores float16 weights: equal to that precision
        assert (grown_tae.decode(latent) - narrow.decode(latent)).abs().max() > 0.1
        torch.testing.assert_close(loaded.tae.decode(latent), grown_tae.decode(latent), rtol=0, atol=2e-2)


def test_export_rejects_a_tae_run(world, tmp_path):
    run_dir = tmp_path / "tae"
    assert main(["train", "tae-debug", "--data", str(world), "-o", str(run_dir), "--steps", "1", "--no-progress"]) == 0
    assert main(["export", "--t2v", str(run_dir), "--tae", str(run_dir), "-o", str(tmp_path / "m")]) == 2


def test_resume_keeps_the_flags_the_run_started_with(world, tae_file, tmp_path, capsys):
    run_dir = tmp_path / "t2v"
    first = ["train", "t2v-debug", "--data", str(world), "-o", str(run_dir), "--no-progress"]
    started = ["--tae", str(tae_file), "--steps", "2", "--lr", "2e-3", "--seed", "5", "--uniform-t", "0.25",
               "--logit-mean", "-0.5"]
    assert main([*first, *started]) == 0
    # A contradicting flag is refused, naming both values; nothing is trained.
    assert main([*first, "--resume", "--lr", "1e-3"]) == 2
    err = capsys.readouterr().err
    assert "--lr 0.001 differs from the run's 0.002" in err and "run.json" in err
    assert load_checkpoint(run_dir).step == 2
    # A flag the run started without is refused too: it would hold for this stretch only.
    assert main([*first, "--resume", "--bf16"]) == 2
    assert "the run started without --bf16" in capsys.readouterr().err
    # Left-out flags (--tae, --lr, --seed, --uniform-t, --logit-mean) come from run.json; --steps may extend the run.
    assert main([*first, "--resume", "--steps", "3"]) == 0
    resumed = load_checkpoint(run_dir)
    assert resumed.step == 3
    assert resumed.trainer_state["run"]["args"]["lr"] == 2e-3 and resumed.trainer_state["run"]["args"]["seed"] == 5
    assert resumed.trainer_state["run"]["config"]["flow"]["uniform_fraction"] == 0.25
    assert resumed.trainer_state["run"]["config"]["flow"]["logit_mean"] == -0.5


def test_decoder_only_tae_phase_keeps_the_latent_space(world, tmp_path):
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe
    from moviegen.train.tae import train_tae

    recipe = get_recipe("tae-debug")
    recipe = replace(recipe, decoder_only=True, train=replace(recipe.train, steps=2, val_every=0))
    start = TemporalAutoencoder(recipe.tae)
    start.init_weights()
    init = {k: v.clone() for k, v in start.state_dict().items()}
    train_tae(recipe, data_dir=world, run_dir=tmp_path / "dec", init_state=init, progress=False)
    trained = load_checkpoint(tmp_path / "dec").model_state
    frozen = [k for k in init if k.startswith(("encoder.", "quant_conv."))]
    assert frozen and all(torch.equal(trained[k], init[k]) for k in frozen)  # same encoder: same latents
    assert any(not torch.equal(trained[k], init[k]) for k in init if k.startswith("decoder."))


def _first_step_losses(world, tmp_path, recipes: dict, *, cfg) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Train each named TAE recipe from one init (a TAE of ``cfg`` moved off its identity init, so that temporal
    layers and attentions take part); returns each run's step-1 loss, and the init."""
    from moviegen.train.tae import train_tae

    start = TemporalAutoencoder(cfg)
    with torch.no_grad():
        for param in start.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
    init = {k: v.clone() for k, v in start.state_dict().items()}
    losses = {}
    for name, recipe in recipes.items():
        train_tae(recipe, data_dir=world, run_dir=tmp_path / name, init_state=init, progress=False)
        first = (tmp_path / name / "metrics.jsonl").read_text().splitlines()[0]
        losses[name] = json.loads(first)["loss"]
    return losses, init


def test_decoder_only_phase_widens_a_narrower_init(world, tmp_path):
    """A recipe with a wider decoder starts from a narrower TAE's weights: the same latents, and at step 1 the same
    loss as the narrow decoder (the widening keeps the function); training then moves the new channels."""
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe

    narrow = get_recipe("tae-debug")
    narrow = replace(narrow, decoder_only=True, train=replace(narrow.train, steps=2, val_every=0))
    wide = replace(narrow, tae=replace(narrow.tae, decoder_width_multiplier=2))
    losses, init = _first_step_losses(world, tmp_path, {"narrow": narrow, "wide": wide}, cfg=narrow.tae)
    assert losses["wide"] == pytest.approx(losses["narrow"], rel=1e-4)
    trained = load_checkpoint(tmp_path / "wide").model_state
    assert all(torch.equal(trained[k], init[k]) for k in init if k.startswith(("encoder.", "quant_conv.")))
    conv_out = trained["decoder.conv_out.spatial.weight"]
    width = init["decoder.conv_out.spatial.weight"].shape[1]
    assert conv_out.shape[1] == 2 * width
    assert conv_out[:, width:].abs().max() > 0  # the new channels' columns started at zero and were trained


def test_a_latent_channel_recipe_widens_a_16_channel_init_and_trains_encoder_and_new_channels(world, tmp_path):
    """``tae-tiny-clip-32ch``'s mechanism at debug size: an init with fewer latent channels is widened
    (``widen_latent``, function kept: tests/unit/test_tae_widen.py), then encoder and new channels train."""
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe
    from moviegen.train.tae import train_tae

    base = get_recipe("tae-debug")
    more = replace(base, tae=replace(base.tae, latent_channels=24), train=replace(base.train, steps=2, val_every=0))
    init = {k: v.clone() for k, v in TemporalAutoencoder(base.tae).state_dict().items()}
    train_tae(more, data_dir=world, run_dir=tmp_path / "more", init_state=init, progress=False)
    trained = load_checkpoint(tmp_path / "more").model_state
    assert trained["post_quant_conv.spatial.weight"].shape[0] == 24
    assert not torch.equal(trained["encoder.conv_in.spatial.weight"], init["encoder.conv_in.spatial.weight"])
    assert trained["decoder.conv_in.spatial.weight"][:, 16:].abs().max() > 0  # zero columns at the start
    with pytest.raises(ValueError, match="TAE weights have 24 latent channels, the config 16"):
        train_tae(base, data_dir=world, run_dir=tmp_path / "fewer", init_state=trained, progress=False)
    with pytest.raises(ValueError, match="decoder only, .* the --init has 16 latent channels, the recipe 24"):
        train_tae(replace(more, decoder_only=True), data_dir=world, run_dir=tmp_path / "dec", init_state=init,
                  progress=False)
    # A text-to-video run, a cache or an export names the count its transformer needs.
    from moviegen.train.t2v import load_tae

    save_file(trained, str(tmp_path / "more.safetensors"))
    with pytest.raises(ValueError, match="it has 24 latent channels, the config 16"):
        load_tae(tmp_path / "more.safetensors", cfg=base.tae)


def test_a_deeper_recipe_deepens_a_shallow_init_and_its_run_loads_for_eval_and_export(world, tmp_path):
    """``tae-tiny-clip-deep``'s mechanism at debug size: a 1-ResNet init is deepened to 2 (``deepen``, function
    kept), so step 1's loss is the shallow recipe's; then the run, named as a TAE source, loads at its own depth."""
    from dataclasses import replace

    from moviegen.train.export import load_tae_from
    from moviegen.train.recipes import get_recipe
    from moviegen.train.tae import train_tae

    base = get_recipe("tae-debug")
    base = replace(base, train=replace(base.train, steps=2, val_every=0))
    deep = replace(base, tae=replace(base.tae, layers_per_block=2))
    losses, _ = _first_step_losses(world, tmp_path, {"shallow": base, "deep": deep}, cfg=base.tae)
    assert losses["deep"] == pytest.approx(losses["shallow"], rel=1e-4)
    trained = load_checkpoint(tmp_path / "deep").model_state
    assert trained["encoder.down_blocks.0.resnets.1.conv2.spatial.weight"].abs().max() > 0  # zero at the start
    # The text-to-video side's config (1 ResNet per level) takes the run's depth, as eval and export read it.
    loaded = load_tae_from(tmp_path / "deep", cfg=base.tae)
    assert loaded.cfg.layers_per_block == 2
    assert torch.equal(loaded.encoder.down_blocks[0].resnets[1].conv2.spatial.weight,
                       trained["encoder.down_blocks.0.resnets.1.conv2.spatial.weight"])
    with pytest.raises(ValueError, match="TAE weights have 2 ResNets per level, the config 1"):
        train_tae(base, data_dir=world, run_dir=tmp_path / "shallower", init_state=trained, progress=False)


def test_a_recipe_of_another_temporal_compression_starts_from_the_init_and_is_measured_at_its_own(world, tmp_path):
    """``tae-tiny-clip-t4``'s mechanism at debug size: a stride is not a weight, so a TAE that does not compress time
    trains from a 2x TAE's weights unchanged. Named as a TAE source, its run is measured alone at its own
    compression, and refused where a transformer's latents need the other."""
    from dataclasses import replace

    from moviegen.configs.serialize import config_to_dict
    from moviegen.train.export import load_tae_from
    from moviegen.train.recipes import get_recipe

    base = get_recipe("tae-debug")
    base = replace(base, train=replace(base.train, steps=1, val_every=0))
    assert base.tae.temporal_compression == 2
    flat = replace(base, tae=replace(base.tae, temporal_downsample=(False,)))
    _, init = _first_step_losses(world, tmp_path, {"flat": flat}, cfg=base.tae)
    (tmp_path / "flat" / "run.json").write_text(json.dumps({"recipe": "flat", "config": config_to_dict(flat)}))
    trained = load_checkpoint(tmp_path / "flat").model_state
    assert trained.keys() == init.keys()
    assert any(not torch.equal(trained[k], init[k]) for k in init)  # it trained from the init
    alone = load_tae_from(tmp_path / "flat", cfg=base.tae, own_latent=True)
    assert alone.cfg.temporal_compression == 1
    video_BCTHW = torch.rand(1, 3, 4, 16, 16) * 2 - 1
    assert alone.encode(video_BCTHW).posterior_mean_BCTHW.shape[2] == 4  # one latent frame a frame, not 2 for 4
    with pytest.raises(ValueError, match=r"compresses time 1x \(temporal_downsample=\(False,\)\), the "
                                         r"text-to-video side's TAE 2x"):
        load_tae_from(tmp_path / "flat", cfg=base.tae)
    # ... as is a text-to-video run on its latents (the recipe's TAE compresses time 2x), before it starts.
    argv = ["train", "t2v-debug", "--data", str(world), "--tae", str(tmp_path / "flat"), "-o", str(tmp_path / "t2v")]
    assert main([*argv, "--no-progress"]) == 2
    assert not (tmp_path / "t2v").exists()
