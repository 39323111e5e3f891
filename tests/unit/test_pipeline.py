"""Inference checkpoints, the sampling pipeline, and `moviegen generate` / `moviegen image` on a tiny saved model."""

import json
import re
import shutil

import numpy as np
import pytest
import torch
from model_tests import perturb_
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from moviegen.cli import main
from moviegen.cli.generate import CAMERA_LABELS
from moviegen.configs.presets import video_debug
from moviegen.flow import Schedule
from moviegen.io import read_image, read_video
from moviegen.tae import TemporalAutoencoder
from moviegen.text.prompt import CameraMotion
from moviegen.video import (
    CheckpointError,
    GenerationDefaults,
    TextToVideo,
    VideoPipeline,
    default_checkpoint_dir,
    load_video_checkpoint,
    save_video_checkpoint,
)
from moviegen.video import checkpoint as checkpoint_module

# video_debug: TAE 2x2x2 compression, 1x2x2 patches, tables 4 x 8 x 8 tokens -> sizes in multiples of 4 px up to
# 32x32 and at most 8 frames. The defaults below make `moviegen generate` produce 4 frames of 16x16 in 2 steps.
DEFAULTS = GenerationDefaults(
    width=16,
    height=16,
    seconds=0.25,
    fps=16,
    steps=2,
    schedule=Schedule.UNIFORM,
    guidance_scale=7.5,
    sizes={"square": (16, 16), "landscape": (24, 16), "portrait": (16, 24)},
)
CARD = {"recipe": "unit-test", "steps": 0, "data_seed": 0, "metrics": {}}
REQUEST = dict(width=16, height=16, num_frames=4, fps=16, steps=2, schedule=Schedule.UNIFORM, progress=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    cfg = video_debug()
    model = TextToVideo(cfg)
    model.init_weights()
    perturb_(model)  # adaLN-Zero would make the velocity exactly zero, so guidance and text would not matter
    tae = TemporalAutoencoder(cfg.tae)
    path = tmp_path_factory.mktemp("ckpt") / "video-debug"
    save_video_checkpoint(path, cfg=cfg, tae=tae, model=model, card=CARD, defaults=DEFAULTS)
    return {"path": path, "cfg": cfg, "model": model, "tae": tae}


@pytest.fixture(scope="module")
def pipeline(saved):
    return VideoPipeline.from_checkpoint(saved["path"])


def _copy(saved, tmp_path):
    return shutil.copytree(saved["path"], tmp_path / "copy")


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoint directory
# ---------------------------------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_restores_weights_card_and_defaults(saved):
    loaded = load_video_checkpoint(saved["path"])
    assert loaded.cfg == saved["cfg"] and loaded.card == CARD and loaded.defaults == DEFAULTS
    for name, (original, restored) in {
        "t2v": (saved["model"].trainable_state_dict(), loaded.model.trainable_state_dict()),
        "tae": (saved["tae"].state_dict(), loaded.tae.state_dict()),
    }.items():
        assert original.keys() == restored.keys(), name
        for key, value in original.items():
            assert restored[key].dtype == torch.float32, key
            assert torch.equal(restored[key], value.half().float()), key  # stored float16, loaded float32
    with safe_open(str(saved["path"] / "t2v.safetensors"), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    config = json.loads((saved["path"] / "config.json").read_text())
    assert config["format"] == "moviegen-video" and config["version"] == 1
    assert config["defaults"]["schedule"] == "uniform" and config["defaults"]["fps"] == 16
    assert not loaded.model.training and not loaded.tae.training


def test_save_accepts_the_json_defaults_and_rejects_defaults_the_model_cannot_take(saved, tmp_path):
    as_json = json.loads((saved["path"] / "config.json").read_text())["defaults"]
    args = dict(cfg=saved["cfg"], tae=saved["tae"], model=saved["model"], card=CARD)
    save_video_checkpoint(tmp_path / "a", defaults=as_json, **args)
    assert load_video_checkpoint(tmp_path / "a").defaults == DEFAULTS
    too_big = GenerationDefaults(**{**as_json, "schedule": Schedule.UNIFORM, "sizes": {}, "width": 64})
    with pytest.raises(ValueError, match="positional tables"):
        save_video_checkpoint(tmp_path / "b", defaults=too_big, **args)
    with pytest.raises(ValueError, match="guidance_scale must be >= 1"):
        GenerationDefaults(**{**as_json, "schedule": Schedule.UNIFORM, "sizes": {}, "guidance_scale": 0.5})


@pytest.mark.parametrize("missing", ["config.json", "tae.safetensors", "t2v.safetensors", "model_card.json"])
def test_missing_file_is_named_with_the_expected_contents(saved, tmp_path, missing):
    path = _copy(saved, tmp_path)
    (path / missing).unlink()
    with pytest.raises(CheckpointError, match=f"missing {missing}.*must contain config.json, tae.safetensors"):
        load_video_checkpoint(path)


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint directory not found.*must contain config.json"):
        load_video_checkpoint(tmp_path / "nope")


@pytest.mark.parametrize("name", ["tae.safetensors", "t2v.safetensors"])
def test_truncated_weights_are_reported(saved, tmp_path, name):
    path = _copy(saved, tmp_path)
    data = (path / name).read_bytes()
    (path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{name}.*truncated or corrupt"):
        load_video_checkpoint(path)


def test_weights_not_matching_the_config_are_reported(saved, tmp_path):
    path = _copy(saved, tmp_path)
    state = load_file(str(path / "t2v.safetensors"))
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1], dtype=torch.float16)
    save_file(state, str(path / "t2v.safetensors"))
    with pytest.raises(CheckpointError, match="t2v.safetensors.*does not match.*size mismatch"):
        load_video_checkpoint(path)
    del state[key]
    save_file(state, str(path / "t2v.safetensors"))
    with pytest.raises(CheckpointError, match=f"does not match.*missing \\['{key}'\\]"):
        load_video_checkpoint(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"format": "something-else"}, "format 'something-else', expected 'moviegen-video'"),
        ({"version": 99}, "version 99; this moviegen reads version 1"),
        ({"defaults": {"width": 16}}, "invalid config"),
    ],
)
def test_wrong_format_version_or_config(saved, tmp_path, edit, message):
    path = _copy(saved, tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(config | edit))
    with pytest.raises(CheckpointError, match=message):
        load_video_checkpoint(path)


def test_default_checkpoint_dir_says_the_weights_are_not_shipped(monkeypatch):
    monkeypatch.setattr(checkpoint_module, "DEFAULT_CHECKPOINT_NAME", "not-a-model")
    with pytest.raises(CheckpointError, match="not shipped in this build yet.*not-a-model.*--checkpoint"):
        default_checkpoint_dir()


# ---------------------------------------------------------------------------------------------------------------------
# Pipeline
# ---------------------------------------------------------------------------------------------------------------------


def test_generate_video_and_image_shapes(pipeline):
    frames = pipeline.generate("a red circle bounces on a gray floor", seed=0, **REQUEST)
    assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8 and frames.std() > 0
    image = pipeline.generate("a blue star", seed=0, **(REQUEST | {"num_frames": 1, "fps": None}))
    assert image.shape == (1, 16, 16, 3) and image.dtype == np.uint8
    wide = pipeline.generate("a blue star", seed=0, camera_motion="pan left", **(REQUEST | {"width": 24}))
    assert wide.shape == (4, 16, 24, 3)


def test_seed_makes_output_reproducible(pipeline):
    first = pipeline.generate("a green square moves left", seed=5, **REQUEST)
    again = pipeline.generate("a green square moves left", seed=5, **REQUEST)
    other = pipeline.generate("a green square moves left", seed=6, **REQUEST)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_latents_are_what_generate_decodes(pipeline):
    latent = pipeline.latents("a cyan circle", seed=1, **REQUEST)
    assert latent.shape == (1, 16, 2, 8, 8)
    assert np.array_equal(pipeline.decode(latent, num_frames=4), pipeline.generate("a cyan circle", seed=1, **REQUEST))


def test_guidance_one_runs_the_conditional_branch_only(pipeline):
    batch_sizes = []
    hook = pipeline.model.register_forward_pre_hook(lambda module, args: batch_sizes.append(args[0].shape[0]))
    try:
        plain = pipeline.latents("a red star", seed=2, guidance_scale=1.0, **REQUEST)
        assert batch_sizes == [1, 1]  # two steps, one conditional row each
        batch_sizes.clear()
        guided = pipeline.latents("a red star", seed=2, guidance_scale=7.5, **REQUEST)
        assert batch_sizes == [2, 2]  # conditional and unconditional rows in one call per step
    finally:
        hook.remove()
    assert not torch.allclose(plain, guided)
    # Guidance 1 is the conditional velocity: the same as guidance 7.5 with the negative prompt equal to the prompt.
    same = pipeline.latents("a red star", seed=2, guidance_scale=7.5, negative_prompt="a red star", **REQUEST)
    torch.testing.assert_close(same, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": "   "}, "prompt must be a non-empty string, got '   '"),
        ({"width": 18}, "positive multiples of 4x4.*got 18x16"),
        ({"width": 64, "height": 64}, "64x64 is beyond the model's positional tables: at most 32x32 px"),
        ({"num_frames": 40}, r"num_frames=40 \(2.5 s at 16 fps\) gives 20 latent frames.*at most 8 frames"),
        ({"num_frames": 0}, "num_frames must be an int >= 1, got 0"),
        ({"steps": 0}, "steps must be an int >= 1, got 0"),
        ({"steps": 1, "schedule": Schedule.LINEAR_QUADRATIC}, "linear-quadratic schedule needs steps >= 2, got 1"),
        ({"guidance_scale": 0.5}, "guidance_scale must be a finite number >= 1.*got 0.5"),
        ({"fps": 500}, r"fps must be an int in \[1, 120\].*got 500"),
        ({"camera_motion": "sideways"}, "unknown camera_motion 'sideways'"),
        ({"seed": -1}, "seed must be an int.*got -1"),
    ],
)
def test_check_inputs_echo_the_bad_value(pipeline, change, message):
    request = {"prompt": "a red circle"} | REQUEST | change
    with pytest.raises(ValueError, match=message):
        pipeline.generate(request.pop("prompt"), **request)


# ---------------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------------


def test_cli_generate_writes_a_readable_mp4(saved, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    args = ["generate", "a red circle bounces", "-o", str(out), "--checkpoint", str(saved["path"]), "--no-progress",
            "--no-audio"]  # the sound of generate is tested in test_audio_pipeline.py
    assert main([*args, "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 16x16, 4 frames, 0.25 s at 16 fps" in printed and "seed 3" in printed
    clip = read_video(out)
    assert clip.frames_THWC.shape == (4, 16, 16, 3) and clip.fps == 16 and clip.audio_CN is None
    first = clip.frames_THWC
    assert main([*args, "--seed", "3"]) == 0
    assert np.array_equal(read_video(out).frames_THWC, first)  # same seed, same video

    wide = tmp_path / "wide.mp4"
    flags = ["--size", "landscape", "--seconds", "0.5", "--steps", "3", "--schedule", "linear-quadratic",
             "--guidance", "1", "--camera", "pan right"]
    assert main(["generate", "a blue star", "-o", str(wide), "--checkpoint", str(saved["path"]), "--no-audio",
                 *flags]) == 0
    assert read_video(wide).frames_THWC.shape == (8, 16, 24, 3)
    assert "seed " in capsys.readouterr().out  # a random seed is drawn and printed


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_cli_image_writes_one_frame(saved, tmp_path, capsys, suffix):
    out = tmp_path / f"out{suffix}"
    args = ["image", "a yellow triangle", "-o", str(out), "--checkpoint", str(saved["path"]), "--size", "portrait"]
    assert main([*args, "--seed", "1", "--no-progress"]) == 0
    assert read_image(out).shape == (24, 16, 3)
    assert f"wrote {out}: 16x24 image" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", ""], "prompt must be a non-empty string"),
        (["generate", "a red circle", "--size", "18x16"], "got 18x16"),
        (["generate", "a red circle", "--size", "wide"], "--size must be WIDTHxHEIGHT.*'landscape'.*got 'wide'"),
        (["generate", "a red circle", "--seconds", "100"], "num_frames=1600 .* at most 8 frames"),
        (["generate", "a red circle", "--seconds", "0"], "--seconds must be > 0"),
        (["generate", "a red circle", "--camera", "dolly"], "unknown camera_motion 'dolly'"),
        (["image", "a red circle", "--size", "64"], "beyond the model's positional tables"),
    ],
)
def test_cli_errors_exit_2_and_leave_no_file(saved, tmp_path, capsys, args, message):
    out = tmp_path / ("out.mp4" if args[0] == "generate" else "out.png")
    assert main([*args, "-o", str(out), "--checkpoint", str(saved["path"]), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"moviegen {args[0]}: error: ") and re.search(message, err), err
    assert list(tmp_path.iterdir()) == []


def test_cli_output_and_checkpoint_errors_leave_no_file(saved, tmp_path, capsys, monkeypatch):
    corrupt = _copy(saved, tmp_path)
    (corrupt / "t2v.safetensors").write_bytes(b"\0" * 16)
    cases = [
        ("generate", "out.avi", saved["path"], "must end in .mp4"),
        ("image", "out.mp4", saved["path"], "must end in .png or .jpg or .jpeg"),
        ("generate", "missing/out.mp4", saved["path"], "directory .*missing' does not exist"),
        ("generate", "out.mp4", tmp_path / "nowhere", "checkpoint directory not found"),
        ("generate", "out.mp4", corrupt, "t2v.safetensors.*truncated or corrupt"),
        ("generate", "out.mp4", None, "not shipped in this build yet"),
    ]
    monkeypatch.setattr(checkpoint_module, "DEFAULT_CHECKPOINT_NAME", "not-a-model")
    for command, name, checkpoint, message in cases:
        extra = [] if checkpoint is None else ["--checkpoint", str(checkpoint)]
        extra += ["--no-audio"] if command == "generate" else []
        assert main([command, "a red circle", "-o", str(tmp_path / name), *extra]) == 2, name
        err = capsys.readouterr().err
        assert re.search(message, err), err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"], name


def test_help_lists_every_camera_motion(capsys):
    assert CAMERA_LABELS == tuple(m.value for m in CameraMotion)
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--seed" in out and "zoom out" in out
