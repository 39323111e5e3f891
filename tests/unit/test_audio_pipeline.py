"""Movie Gen Audio end to end on a tiny world: training (codec, transformer, exact resume), export, the pipeline's
tasks (video-to-audio, text-to-audio, extension, infilling), `moviegen audio`, and the sound of `moviegen generate`."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from moviegen.audio.checkpoint import load_audio_checkpoint
from moviegen.audio.pipeline import AudioPipeline, AudioRequest, LongMode
from moviegen.cli import main
from moviegen.io.audio import read_audio, write_wav
from moviegen.io.media import read_video, write_video
from moviegen.train.audio_recipes import audio_debug_recipe
from moviegen.world.writer import WorldConfig, write_world


def _losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio")
    world = root / "world"
    config = WorldConfig(
        buckets=((64, 64),),
        bucket_weights=(1.0,),
        durations=(2,),
        image_fraction=0.1,
        heldout_fraction=0.25,
        sample_rate=16000,
    )
    write_world(world, num=16, seed=3, config=config, progress=False)
    codec, audio, ckpt = root / "codec", root / "audio", root / "ckpt"
    assert main(["train", "audio-codec-debug", "--data", str(world), "-o", str(codec), "--no-progress"]) == 0
    assert (
        main(["train", "audio-debug", "--data", str(world), "--codec", str(codec), "-o", str(audio), "--no-progress"])
        == 0
    )
    assert main(["export", "--audio", str(audio), "--codec", str(codec), "-o", str(ckpt)]) == 0
    return {"root": root, "world": world, "codec": codec, "audio": audio, "ckpt": ckpt}


@pytest.fixture(scope="module")
def pipeline(runs) -> AudioPipeline:
    return AudioPipeline.from_checkpoint(runs["ckpt"])


def test_export_can_set_the_default_guidance(runs, tmp_path):
    base = load_audio_checkpoint(runs["ckpt"])
    assert main(["export", "--audio", str(runs["audio"]), "--codec", str(runs["codec"]), "-o", str(tmp_path / "g"),
                 "--guidance-scale", "5"]) == 0
    loaded = load_audio_checkpoint(tmp_path / "g")
    assert loaded.defaults.flow.guidance_scale == loaded.card["guidance_scale_set_at_export"] == 5.0
    assert base.defaults.flow.guidance_scale == audio_debug_recipe().flow.guidance_scale != 5.0
    same = dataclasses.replace(loaded.defaults.flow, guidance_scale=0)
    assert same == dataclasses.replace(base.defaults.flow, guidance_scale=0)


def test_training_writes_caches_metrics_and_a_card(runs):
    cache = next((runs["world"] / "audio-cache").iterdir())
    summary = json.loads((cache / "summary.json").read_text())
    videos = sum(
        1 for line in (runs["world"] / "manifest.jsonl").read_text().splitlines() if json.loads(line)["kind"] == "video"
    )
    assert summary["samples"] == videos and summary["skipped"] == {}
    assert list(cache.glob("latents-*/shard-*.safetensors"))
    assert sorted(_losses(runs["audio"])) == list(range(1, 7))
    rows = [json.loads(line) for line in (runs["audio"] / "metrics.jsonl").read_text().splitlines()]
    assert all(r["onset_head"] > 0 for r in rows if "loss" in r)  # audio-debug trains with its SyncConfig on
    card = json.loads((runs["ckpt"] / "model_card.json").read_text())
    assert [stage["recipe"] for stage in card["recipe"]] == ["audio-debug"]
    assert card["codec_recipe"][0]["recipe"] == "audio-codec-debug"
    loaded = load_audio_checkpoint(runs["ckpt"])
    assert loaded.model.onset_head is not None  # the head ships with the model (sampling does not use it)
    run_cfg = json.loads((runs["audio"] / "run.json").read_text())["config"]["audio"]["codec"]
    assert loaded.cfg.codec.scaling_factor == pytest.approx(run_cfg["scaling_factor"]) != 1.0


def test_audio_training_resumes_exactly(runs, tmp_path):
    args = ["train", "audio-debug", "--data", str(runs["world"]), "--codec", str(runs["codec"]), "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "r"), "--steps", "3"]) == 0
    assert main([*args, "-o", str(tmp_path / "r"), "--steps", "6", "--resume"]) == 0
    reference, resumed = _losses(runs["audio"]), _losses(tmp_path / "r")
    for step in range(1, 7):
        assert resumed[step] == pytest.approx(reference[step], abs=1e-6, rel=0), step


def test_video_to_audio_is_seeded_and_exact_length(pipeline, runs):
    clip = read_video(runs["world"] / "videos" / "000000.mp4", audio=False)
    request = AudioRequest(seconds=clip.seconds, frames_THWC=clip.frames_THWC, fps=clip.fps, steps=3, seed=5)
    a, b = pipeline.generate(request), pipeline.generate(request)
    assert a.shape == (round(clip.seconds * pipeline.sample_rate),) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    other = pipeline.generate(dataclasses.replace(request, seed=6))
    assert not np.array_equal(a, other)


@pytest.mark.parametrize("mode", list(LongMode))
def test_long_audio_modes_cover_many_windows(pipeline, mode):
    seconds = 3.5 * pipeline.cfg.window_seconds
    latent = pipeline.latents(AudioRequest(seconds=seconds, prompt="sad music", steps=2, mode=mode))
    assert latent.shape[-1] == round(seconds * pipeline.cfg.frame_rate) and bool(torch.isfinite(latent).all())


def test_extension_and_infilling_keep_the_known_audio(pipeline):
    rate, frame_rate = pipeline.sample_rate, pipeline.cfg.frame_rate
    given = (0.3 * np.sin(np.arange(rate // 2) / rate * 2 * np.pi * 440)).astype(np.float32)  # 0.5 s
    extended = AudioRequest(seconds=1.0, context_audio_N=given, steps=2)
    latent = pipeline.latents(extended)
    context = pipeline._context(extended, length=latent.shape[-1])
    known = round(0.5 * frame_rate)
    assert int(context.known_BL.sum()) == known
    torch.testing.assert_close(latent[..., :known], context.latent_BCL[..., :known])
    infill = AudioRequest(seconds=0.5, context_audio_N=given, known_seconds=((0.0, 0.1), (0.3, 0.5)), steps=2)
    latent = pipeline.latents(infill)
    ctx = pipeline._context(infill, length=latent.shape[-1])
    assert ctx.known_BL[0].tolist() == [
        bool(j < 0.1 * frame_rate or j >= 0.3 * frame_rate) for j in range(latent.shape[-1])
    ]
    known_mask = ctx.known_BL[:, None].expand_as(latent)
    torch.testing.assert_close(latent[known_mask], ctx.latent_BCL[known_mask])


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"seconds": 0.0}, "seconds must be"),
        ({"seconds": -2.0}, "seconds must be"),
        ({"seconds": float("nan")}, "seconds must be"),
        ({"seconds": 1.0, "frames_THWC": np.zeros((0, 8, 8, 3), np.uint8), "fps": 16}, "non-empty uint8"),
        ({"seconds": 1.0, "frames_THWC": np.zeros((4, 8, 8, 3), np.uint8)}, "fps must be > 0"),
        ({"seconds": 1.0, "steps": 0}, "steps must be >= 1"),
        ({"seconds": 0.1, "context_audio_N": np.zeros(8000, np.float32)}, "longer than the requested"),
    ],
)
def test_bad_requests_name_the_value(pipeline, request_kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline.generate(AudioRequest(**request_kwargs))


def test_cli_scores_a_video_keeping_its_picture(runs, tmp_path, capsys):
    src = runs["world"] / "videos" / "000001.mp4"
    out = tmp_path / "scored.mp4"
    assert (
        main(
            [
                "audio",
                str(src),
                "-o",
                str(out),
                "--checkpoint",
                str(runs["ckpt"]),
                "--steps",
                "2",
                "--seed",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "replacing its audio" in capsys.readouterr().out
    before, after = read_video(src), read_video(out)
    np.testing.assert_array_equal(before.frames_THWC, after.frames_THWC)  # packets copied, not re-encoded
    assert after.audio_CN is not None and after.sample_rate == 8000
    assert abs(after.audio_CN.shape[1] / after.sample_rate - before.seconds) < 0.2  # AAC pads its last frame
    mixed = tmp_path / "mixed.mp4"
    assert (
        main(
            [
                "audio",
                str(src),
                "-o",
                str(mixed),
                "--mix",
                "--checkpoint",
                str(runs["ckpt"]),
                "--steps",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    assert read_video(mixed).audio_CN is not None


def test_cli_text_to_audio_extension_and_infill(runs, tmp_path):
    ckpt = ["--checkpoint", str(runs["ckpt"]), "--steps", "2", "--no-progress", "--seed", "0"]
    wav = tmp_path / "music.wav"
    assert main(["audio", "--prompt", "sad music", "--seconds", "1.5", "-o", str(wav), *ckpt]) == 0
    audio, rate = read_audio(wav)
    assert rate == 8000 and audio.shape == (12000,)
    longer = tmp_path / "longer.wav"
    assert main(["audio", "--extend", str(wav), "--seconds", "2.5", "-o", str(longer), *ckpt]) == 0
    assert read_audio(longer)[0].shape == (20000,)
    patched = tmp_path / "patched.wav"
    assert main(["audio", "--extend", str(wav), "--infill", "0.5", "1.0", "-o", str(patched), *ckpt]) == 0
    assert read_audio(patched)[0].shape == (12000,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audio", "{tmp}/missing.mp4", "-o", "{tmp}/o.mp4"], "no such file"),
        (["audio", "{tmp}/empty.mp4", "-o", "{tmp}/o.mp4"], "empty"),
        (["audio", "{tmp}/noframes.mp4", "-o", "{tmp}/o.mp4"], "cannot read"),
        (["audio", "--prompt", "x", "--seconds", "0", "-o", "{tmp}/o.wav"], "--seconds must be > 0"),
        (["audio", "--prompt", "x", "--seconds", "-3", "-o", "{tmp}/o.wav"], "--seconds must be > 0"),
        (["audio", "--prompt", "x", "--seconds", "1", "-o", "{tmp}/nodir/o.wav"], "does not exist"),
        (["audio", "--prompt", "x", "--seconds", "1", "-o", "{tmp}/o.mp3"], "must end in .wav"),
        (["audio", "--seconds", "1", "-o", "{tmp}/o.wav"], "nothing to condition on"),
        (["audio", "--extend", "{tmp}/tone.wav", "--infill", "0.5", "9", "-o", "{tmp}/o.wav"], "--infill 0.5 9"),
    ],
)
def test_cli_bad_input_errors_and_writes_nothing(runs, tmp_path, capsys, args, message):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "noframes.mp4").write_bytes(b"\x00" * 64)
    write_wav(tmp_path / "tone.wav", np.zeros(8000, np.float32), sample_rate=8000)
    argv = [a.format(tmp=tmp_path) for a in args] + ["--checkpoint", str(runs["ckpt"]), "--steps", "1"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("o.*"))


def test_generate_writes_sound_by_default_and_none_with_no_audio(runs, tmp_path):
    fast = tmp_path / "fast-audio"  # the debug audio model, sampling 2 steps by default (64 in its run's recipe)
    shutil.copytree(runs["ckpt"], fast)
    config = json.loads((fast / "config.json").read_text())
    config["defaults"]["flow"]["num_steps"] = 2
    (fast / "config.json").write_text(json.dumps(config))
    out = tmp_path / "clip.mp4"
    base = ["generate", "a red circle bounces on a gray floor", "--steps", "2", "--seed", "0", "--no-progress"]
    assert main([*base, "-o", str(out), "--audio-checkpoint", str(fast)]) == 0
    clip = read_video(out)
    assert clip.audio_CN is not None and clip.sample_rate == 8000
    assert abs(clip.audio_CN.shape[1] / clip.sample_rate - clip.seconds) < 0.2
    silent = tmp_path / "silent.mp4"
    assert main([*base, "-o", str(silent), "--no-audio"]) == 0
    assert read_video(silent).audio_CN is None


def test_generate_checks_the_audio_checkpoint_before_any_work(tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(["generate", "a red circle", "-o", str(out), "--audio-checkpoint", str(tmp_path / "none")]) == 2
    assert "audio checkpoint directory not found" in capsys.readouterr().err
    assert not out.exists()


def test_write_video_audio_roundtrip_at_the_codec_rate(tmp_path):
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    tone = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    write_video(tmp_path / "t.mp4", frames, fps=16, audio_CN=tone[None], sample_rate=16000)
    audio, rate = read_audio(tmp_path / "t.mp4")
    assert rate == 16000 and abs(audio.shape[0] - 16000) < 2048


def test_eval_audio_measures_sync_seams_and_music(runs, tmp_path, capsys):
    out = tmp_path / "eval"
    ckpt = tmp_path / "ckpt"
    shutil.copytree(runs["ckpt"], ckpt)
    assert (
        main(
            [
                "eval",
                "audio",
                "--checkpoint",
                str(ckpt),
                "--data",
                str(runs["world"]),
                "--num",
                "1",
                "--steps",
                "1",
                "--seam-seconds",
                "1",
                "--music-seeds",
                "1",
                "--guidance-scale",
                "2.5",
                "-o",
                str(out),
                "--update-card",
                "--no-progress",
            ]
        )
        == 0
    )
    result = json.loads((out / "eval.json").read_text())
    assert 0.0 <= result["sync"]["f1"] <= 1.0 and result["sync"]["reference"] > 0
    # The world's own soundtrack through the same detectors: the ceiling the measure allows.
    assert result["sync_reference"]["f1"] >= 0.7
    assert {"multidiffusion", "autoregressive"} <= set(result["seams"])
    assert result["text_control"]["accuracy"] in (0.0, 0.5, 1.0)
    card = json.loads((ckpt / "model_card.json").read_text())
    assert card["metrics"]["audio"]["num_videos"] == 1
    # the flags are what was measured, and the card says so
    assert result["sampling"] == card["metrics"]["audio"]["sampling"] == {"steps": 1, "guidance_scale": 2.5}
    table = (out / "audio.md").read_text()
    assert "onset F1" in table and "1 steps, guidance 2.5" in table


def test_codec_phase_two_continues_a_phase_one_run(runs, tmp_path, capsys):
    from moviegen.train.checkpoint import load_checkpoint

    base = ["train", "audio-codec-debug-mel", "--data", str(runs["world"]), "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "no-init")]) == 2
    assert "continues a 'audio-codec-debug' run: pass --init" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "wrong"), "--init", str(runs["audio"])]) == 2
    assert "is a run of 'audio-debug'" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "mel"), "--init", str(runs["codec"]), "--steps", "1"]) == 0
    first, second = load_checkpoint(runs["codec"]), load_checkpoint(tmp_path / "mel")
    assert second.trainer_state["run"]["recipe"] == "audio-codec-debug-mel" and second.step == 1
    # one step moved the weights away from phase one's, which they started from
    moved = [k for k, v in first.model_state.items() if not torch.equal(v, second.model_state[k])]
    assert moved and set(second.model_state) == set(first.model_state)
    metrics = [json.loads(line) for line in (tmp_path / "mel" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["mel"] > 0  # the phase-two loss has the mel term on
    # A run of the recipe itself is a valid --init too: a fine-tune that starts from its weights.
    assert main([*base, "-o", str(tmp_path / "mel-ft"), "--init", str(tmp_path / "mel"), "--steps", "1"]) == 0
    assert load_checkpoint(tmp_path / "mel-ft").step == 1
