"""moviegen.eval: metric parity, the palette analyser on ground-truth world renders, adherence scoring, the sampler
study and the ``moviegen eval`` command."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from model_tests import perturb_

from moviegen.cli import main
from moviegen.configs.presets import video_debug
from moviegen.eval import (
    AnalyserConfig,
    SamplingSettings,
    adherence_cases,
    analyse_video,
    evaluate_adherence,
    plot_sampler_study,
    psnr,
    run_sampler_study,
    sampler_table,
    ssim,
)
from moviegen.eval.metrics import gaussian_window
from moviegen.flow import ODESolver, Schedule
from moviegen.tae import TemporalAutoencoder
from moviegen.video.model import TextToVideo
from moviegen.video.pipeline import VideoPipeline
from moviegen.world import render_video, sample_scene
from moviegen.world.scene import HELDOUT_COMBOS, ObjectSpec, SceneSpec
from moviegen.world.vocab import OBJECT_COLOURS, Camera, Motion, Shape

# --- metrics ------------------------------------------------------------------------------------------------------


def _ssim_reference(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Wang et al. 2004 written out with loops over every valid 11x11 window (float64)."""
    w = gaussian_window().numpy()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            a, b = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mu_a, mu_b = (w * a).sum(), (w * b).sum()
            var_a, var_b = (w * (a - mu_a) ** 2).sum(), (w * (b - mu_b) ** 2).sum()
            cov = (w * (a - mu_a) * (b - mu_b)).sum()
            values.append(((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_psnr_known_values():
    rng = np.random.default_rng(0)
    a = rng.integers(10, 240, size=(3, 16, 16, 3), dtype=np.uint8)
    assert psnr(a, a, data_range=255) == math.inf
    assert psnr(a, a + 5, data_range=255) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)
    assert psnr(torch.zeros(4), torch.full((4,), 0.5), data_range=1.0) == pytest.approx(10 * math.log10(4))
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, a[:1], data_range=255)
    with pytest.raises(ValueError, match="data_range"):
        psnr(a, a, data_range=0)


def test_ssim_matches_the_windowed_formula():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(16, 15))
    y = np.clip(x + rng.normal(0, 20, size=x.shape), 0, 255)
    assert ssim(x, y, data_range=255) == pytest.approx(_ssim_reference(x, y, 255), abs=1e-12)
    assert ssim(x, x, data_range=255) == pytest.approx(1.0, abs=1e-12)
    # per plane then averaged: two planes give the mean of their SSIMs
    z = np.clip(x * 0.5 + 60, 0, 255)
    both = ssim(np.stack([x, x]), np.stack([y, z]), data_range=255)
    assert both == pytest.approx((_ssim_reference(x, y, 255) + _ssim_reference(x, z, 255)) / 2, abs=1e-12)
    with pytest.raises(ValueError, match="11x11"):
        ssim(x[:10], y[:10], data_range=255)


# --- analyser -----------------------------------------------------------------------------------------------------


def render_case(colour: str, shape: Shape, motion: Motion, *, background: str = "gray", size: int = 64,
                num_frames: int = 16) -> np.ndarray:
    """A one-object static-camera world clip with the object placed so that its motion stays in view."""
    x, y = {Motion.LEFT: (0.7, 0.5), Motion.RIGHT: (0.3, 0.5), Motion.UP: (0.5, 0.7), Motion.DOWN: (0.5, 0.3),
            Motion.BOUNCE: (0.5, 0.25)}.get(motion, (0.5, 0.5))
    obj = ObjectSpec(colour=colour, shape=shape, motion=motion, size=0.12 * size, x=x * size, y=y * size)
    scene = SceneSpec(width=size, height=size, fps=16, num_frames=num_frames, background=background, textured=True,
                      camera=Camera.STATIC, objects=(obj,), seed=3)
    return render_video(scene)


def test_red_square_moving_right():
    analysis = analyse_video(render_case("red", Shape.SQUARE, Motion.RIGHT, background="navy"))
    assert analysis.background == "navy"
    assert [(o.colour, o.shape, o.motion) for o in analysis.objects] == [("red", Shape.SQUARE, Motion.RIGHT)]
    track = analysis.objects[0].track
    assert len(track) == 16 and track[-1].x > track[0].x + 0.2 and abs(track[-1].y - track[0].y) < 0.02


@pytest.mark.parametrize(("shape", "motion"), [(Shape.STAR, Motion.SPIN), (Shape.TRIANGLE, Motion.BOUNCE),
                                               (Shape.CIRCLE, Motion.GROW), (Shape.STAR, Motion.STILL)])
def test_exact_cases(shape, motion):
    analysis = analyse_video(render_case("white", shape, motion, background="black"))
    assert [(o.colour, o.shape, o.motion) for o in analysis.objects] == [("white", shape, motion)]


def test_max_step_is_small_for_a_world_object_and_large_when_it_jumps():
    frames = render_case("red", Shape.SQUARE, Motion.RIGHT, background="navy")
    steady = analyse_video(frames).objects[0]
    assert 0 < steady.max_step < 0.05
    # the second half of the clip shifted by a quarter of the frame: the object jumps once
    jumped = frames.copy()
    jumped[8:] = np.roll(frames[8:], 16, axis=1)
    found = analyse_video(jumped).find("red")
    assert found is not None and found.max_step > steady.max_step + 0.2


@pytest.mark.parametrize(("motion", "axis", "sign"), [(Motion.RIGHT, 0, 1), (Motion.LEFT, 0, -1), (Motion.UP, 1, -1),
                                                       (Motion.DOWN, 1, 1)])
def test_displacement_points_along_a_move_and_growth_measures_a_grow(motion, axis, sign):
    moving = analyse_video(render_case("red", Shape.SQUARE, motion, background="navy")).objects[0]
    dxy = moving.displacement
    assert sign * dxy[axis] >= AnalyserConfig().move_threshold and abs(dxy[1 - axis]) < 0.05, dxy
    assert abs(moving.growth - 1) < 0.2
    grown = analyse_video(render_case("red", Shape.CIRCLE, Motion.GROW, background="navy")).objects[0]
    assert grown.growth >= AnalyserConfig().grow_ratio and max(map(abs, grown.displacement)) < 0.05


def _blur_and_noise(frames_THWC: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rough stand-in for a generated clip: Gaussian blur (sigma 1) and pixel noise (std 6)."""
    x = torch.from_numpy(frames_THWC).float().permute(0, 3, 1, 2)
    g = torch.exp(-(torch.arange(5) - 2.0) ** 2 / 2)
    g = (g[:, None] * g[None]) / g.sum() ** 2
    t, c, h, w = x.shape
    x = torch.nn.functional.conv2d(torch.nn.functional.pad(x.reshape(-1, 1, h, w), (2, 2, 2, 2), mode="replicate"),
                                   g[None, None]).reshape(t, c, h, w)
    x = x + 6 * torch.from_numpy(rng.standard_normal(x.shape)).float()
    return x.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("degrade", [False, True], ids=["clean", "blurred"])
def test_analyser_accuracy_on_world_scenes(degrade):
    """>= 90% colour, shape and motion accuracy on random static-camera world scenes (characters excluded)."""
    rng = np.random.default_rng(0)
    hits = {"colour": 0, "shape": 0, "motion": 0}
    total = 0
    for i in range(40 if not degrade else 20):
        split = "heldout" if i % 3 == 0 else "train"
        scene = sample_scene(rng, split=split, width=64, height=64, num_frames=16, fps=16)
        frames = render_video(dataclasses.replace(scene, camera=Camera.STATIC))
        analysis = analyse_video(_blur_and_noise(frames, rng) if degrade else frames)
        for obj in scene.objects:
            if obj.is_character:
                continue
            found = analysis.find(obj.colour)
            total += 1
            hits["colour"] += found is not None
            hits["shape"] += found is not None and found.shape == obj.shape
            hits["motion"] += found is not None and found.motion == obj.motion
    accuracy = {k: v / total for k, v in hits.items()}
    assert total >= 20 and min(accuracy.values()) >= 0.9, accuracy


def test_analyser_rejects_bad_frames_and_sees_nothing_on_a_plain_background():
    with pytest.raises(ValueError, match="uint8"):
        analyse_video(np.zeros((2, 16, 16, 3), dtype=np.float32))
    blank = np.full((4, 32, 32, 3), 128, dtype=np.uint8)
    analysis = analyse_video(blank)
    assert analysis.objects == [] and analysis.background == "gray"


# --- adherence ----------------------------------------------------------------------------------------------------


class GroundTruthPipeline:
    """Renders the world clip each case asks for (optionally recoloured): a test of the scoring, not of a model."""

    def __init__(self, cases, *, recolour: dict[str, str] | None = None):
        self.by_prompt = {case.prompt: case for case in cases}
        self.recolour = recolour or {}
        self.requests = []

    def generate(self, prompt, **request):
        self.requests.append(request)
        case = self.by_prompt[prompt]
        colour = self.recolour.get(case.colour, case.colour)
        return render_case(colour, case.shape, case.motion, background=case.background, size=request["width"],
                           num_frames=request["num_frames"])


def test_adherence_cases_cover_heldout_combos_and_paraphrase():
    cases = adherence_cases(num_paraphrases=6, seed=0)
    heldout = [c for c in cases if c.group == "heldout"]
    assert {(c.colour, c.shape, c.motion) for c in heldout} == set(HELDOUT_COMBOS)
    assert all(c.colour in c.prompt and c.shape.value in c.prompt for c in heldout)
    paraphrases = [c for c in cases if c.group == "paraphrase"]
    assert len(paraphrases) == 6 and all((c.colour, c.shape, c.motion) not in HELDOUT_COMBOS for c in paraphrases)
    assert any(c.motion.value not in c.prompt for c in paraphrases)  # synonyms, not the canonical label
    assert adherence_cases(num_paraphrases=6, seed=0) == cases


def test_adherence_scores_ground_truth_high_and_wrong_colour_zero():
    cases = adherence_cases(num_paraphrases=5, seed=1)
    settings = SamplingSettings(width=64, height=64, num_frames=16, fps=16, steps=2)
    right = GroundTruthPipeline(cases)
    result = evaluate_adherence(right, cases, settings=settings, progress=False)
    assert result.scores["all"]["count"] == len(cases) == len(result.rows)
    assert result.scores["heldout"]["count"] == len(HELDOUT_COMBOS)
    assert all(result.scores["all"][axis] >= 0.9 for axis in ("colour", "shape", "motion", "joint")), result.scores
    assert [r["camera_motion"] for r in right.requests] == [Camera.STATIC] * len(cases)
    assert [r["seed"] for r in right.requests] == list(range(len(cases)))
    steps = [row["detected"][0]["max_step"] for row in result.rows if row["expected"]["motion"] != "bounces"]
    assert steps and max(steps) < 0.05  # rendered objects move steadily

    # every colour swapped for another: colour fails everywhere, shape and motion are still judged on the object
    colours = list(OBJECT_COLOURS)
    swap = {c: colours[(i + 1) % len(colours)] for i, c in enumerate(colours)}
    wrong = evaluate_adherence(GroundTruthPipeline(cases, recolour=swap), cases, settings=settings, progress=False)
    assert wrong.scores["all"]["colour"] == 0.0 and wrong.scores["all"]["joint"] == 0.0
    assert wrong.scores["all"]["shape"] >= 0.9 and wrong.scores["all"]["motion"] >= 0.9


def test_world_renders_score_the_ceiling_and_a_round_trip_that_loses_motion_lowers_it():
    from functools import partial

    from moviegen.eval import WorldRenders
    from moviegen.eval.reconstruction import reconstruct

    cases = adherence_cases(num_paraphrases=3, seed=2)
    settings = SamplingSettings(width=64, height=64, num_frames=16, fps=16, steps=2)
    rendered = evaluate_adherence(WorldRenders(cases), cases, settings=settings, seed=5, progress=False)
    assert all(rendered.scores["all"][axis] >= 0.9 for axis in ("colour", "shape", "motion", "joint")), rendered.scores
    # the layout comes from the request's seed: the same seed draws the same clip, another seed another start
    renders = WorldRenders(cases)
    request = settings.request(seed=7)
    first = renders.generate(cases[0].prompt, **request)
    assert first.shape == (16, 64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, renders.generate(cases[0].prompt, **request))
    assert not np.array_equal(first, renders.generate(cases[0].prompt, **settings.request(seed=8)))
    # through an autoencoder whose frames are the clip's temporal mean: only the still objects pass
    smeared = evaluate_adherence(WorldRenders(cases, round_trip=partial(reconstruct, _FrameTAE(smear=True))), cases,
                                 settings=settings, seed=5, progress=False)
    still = [row["expected"]["motion"] == Motion.STILL.value for row in smeared.rows]
    assert 0 < sum(still) < len(cases)
    assert [row["joint_ok"] for row in smeared.rows] == still
    with pytest.raises(ValueError, match="no adherence case has the prompt 'a unicorn'"):
        renders.generate("a unicorn", **request)
    clash = dataclasses.replace(cases[0], background="white" if cases[0].background != "white" else "black")
    with pytest.raises(ValueError, match="share the prompt .* but ask for different scenes"):
        WorldRenders([cases[0], clash])


# --- sampler study ------------------------------------------------------------------------------------------------


def _debug_pipeline() -> VideoPipeline:
    torch.manual_seed(0)
    cfg = video_debug()
    model = TextToVideo(cfg)
    model.init_weights()
    perturb_(model.dit, scale=0.1)  # adaLN-Zero would make the velocity 0 and every solve exact
    return VideoPipeline(TemporalAutoencoder(cfg.tae), model, cfg)


def test_sampler_study_error_falls_with_steps(tmp_path):
    settings = SamplingSettings(width=16, height=16, num_frames=4, fps=16, steps=2, guidance_scale=1.5)
    study = run_sampler_study(_debug_pipeline(), prompts=["a red circle bounces"], settings=settings,
                              steps=(4, 8, 16), reference_steps=64, progress=False)
    for schedule in ("linear_quadratic", "uniform"):
        errors = [study.rmse[schedule][n] for n in study.steps]
        assert all(b < a for a, b in zip(errors, errors[1:])) and errors[-1] > 0, (schedule, errors)
        pixel_errors = [study.pixel_rmse[schedule][n] for n in study.steps]
        assert pixel_errors[-1] < pixel_errors[0] and all(0 <= e < 1 for e in pixel_errors), (schedule, pixel_errors)
    assert len(study.rows) == 2 * 3
    # the pixel error is that of the decoded frames: recompute one row by hand
    pipeline, row = _debug_pipeline(), study.rows[0]
    request = settings.request(seed=0, steps=row["steps"], schedule=Schedule(row["schedule"]))
    reference = pipeline.latents(row["prompt"], **settings.request(seed=0, steps=64, schedule=Schedule.UNIFORM))
    frames = [pipeline.decode(x, num_frames=4).astype(np.float64) / 255
              for x in (pipeline.latents(row["prompt"], **request), reference)]
    assert row["pixel_rmse"] == pytest.approx(float(np.sqrt(((frames[0] - frames[1]) ** 2).mean())), rel=1e-9)
    # the reference's 63 recorded steps (t = 0 .. 62/64) fall in every profile bin but the last
    assert list(study.velocity_change) == ["0-0.025", "0.025-0.1", "0.1-0.25", "0.25-0.5", "0.5-0.75", "0.75-0.9",
                                           "0.9-0.975"]
    assert all(math.isfinite(v) and v > 0 for v in study.velocity_change.values())
    table = sampler_table(study)
    assert "| 16 |" in table and "64-step" in table and "| rms dv/dt |" in table
    png = plot_sampler_study(study, tmp_path / "sampler.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="reference_steps"):
        run_sampler_study(_debug_pipeline(), prompts=["x"], settings=settings, steps=(2, 8), reference_steps=8)
    # A midpoint reference: the same grids measured against a second-order solve of the same noise.
    mid = run_sampler_study(pipeline, prompts=["a red circle bounces"], settings=settings, steps=(4, 8, 16),
                            reference_steps=64, reference_solver=ODESolver.MIDPOINT, progress=False)
    assert study.reference_solver == "euler" and mid.reference_solver == "midpoint"
    assert "64-step uniform midpoint reference" in sampler_table(mid)
    reference = pipeline.latents("a red circle bounces", solver=ODESolver.MIDPOINT,
                                 **settings.request(seed=0, steps=64, schedule=Schedule.UNIFORM))
    latent = pipeline.latents("a red circle bounces", **request)
    assert mid.rows[0]["rmse"] == pytest.approx(float((latent.double() - reference.double()).pow(2).mean().sqrt()))
    assert mid.rows[0]["rmse"] != pytest.approx(row["rmse"], rel=1e-6)  # not the Euler reference's reading


# --- TAE object fidelity -------------------------------------------------------------------------------------------


class _FrameTAE(torch.nn.Module):
    """A stand-in autoencoder over pixels: the latent is the clip itself; ``smear`` decodes every frame as the clip's
    temporal mean (what a TAE that cannot follow motion within a latent frame does, at the extreme)."""

    def __init__(self, *, smear: bool):
        super().__init__()
        self.smear = smear
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # reconstruct() reads the device from the parameters

    def encode(self, video_BCTHW, sample=False):
        return dataclasses.make_dataclass("Posterior", ["latent_BCTHW"])(video_BCTHW)

    def decode(self, latent_BCTHW, num_frames):
        if not self.smear:
            return latent_BCTHW
        return latent_BCTHW.mean(dim=2, keepdim=True).expand(-1, -1, num_frames, -1, -1)


def test_object_fidelity_separates_a_faithful_tae_from_one_that_loses_motion(tmp_path):
    from moviegen.eval.reconstruction import evaluate_reconstruction, reconstruction_table
    from moviegen.world import WorldConfig, write_world

    # seed 0: 4 of the 8 clips are static (a circle moving down, a spinning square, two growing triangles)
    write_world(tmp_path, num=8, seed=0, progress=False,
                config=WorldConfig(buckets=((64, 64),), bucket_weights=(1.0,), durations=(1,), image_fraction=0.0,
                                   heldout_fraction=1.0, edit_fraction=0.0))
    faithful = evaluate_reconstruction(_FrameTAE(smear=False), tmp_path, progress=False)
    smeared = evaluate_reconstruction(_FrameTAE(smear=True), tmp_path, progress=False)
    analysed = [row for row in faithful.rows if "objects" in row]
    assert len(analysed) == 4 and len(faithful.rows) == 8
    assert faithful.fidelity["original"]["count"] == 4
    assert faithful.fidelity["original"] == faithful.fidelity["reconstruction"]
    assert faithful.fidelity["reconstruction"]["joint"] == 1.0
    # the smear keeps every colour but no motion (moves, spins and grows all need the frames to differ)
    assert smeared.fidelity["original"]["joint"] == 1.0
    assert smeared.fidelity["reconstruction"]["colour"] == 1.0
    assert smeared.fidelity["reconstruction"]["motion"] == 0.0 and smeared.fidelity["reconstruction"]["joint"] == 0.0
    assert smeared.psnr < faithful.psnr
    assert "| reconstruction | 4 | 1.000 |" in reconstruction_table(smeared)


# --- CLI ----------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_eval_all_on_a_tiny_checkpoint(tmp_path, capsys):
    from moviegen.video.checkpoint import GenerationDefaults, save_video_checkpoint
    from moviegen.world import WorldConfig, write_world

    pipeline = _debug_pipeline()
    ckpt = tmp_path / "ckpt"
    defaults = GenerationDefaults(width=32, height=32, seconds=0.5, fps=16, steps=2, schedule=Schedule.UNIFORM,
                                  guidance_scale=1.0)
    save_video_checkpoint(ckpt, cfg=pipeline.cfg, tae=pipeline.tae, model=pipeline.model,
                          card={"recipe": "test"}, defaults=defaults)
    world = tmp_path / "world"
    write_world(world, num=2, seed=0, progress=False,
                config=WorldConfig(buckets=((64, 64),), bucket_weights=(1.0,), durations=(1,), image_fraction=0.0,
                                   heldout_fraction=1.0, edit_fraction=0.0))
    out = tmp_path / "out"
    argv = ["eval", "all", "--checkpoint", str(ckpt), "--data", str(world), "-o", str(out), "--num", "1",
            "--study-steps", "2,4", "--reference-steps", "8", "--guidance-scale", "2", "--update-card", "--no-progress"]
    assert main(argv) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["tae"]["num_videos"] == 1 and report["tae"]["psnr"] > 0 and -1 <= report["tae"]["ssim"] <= 1
    assert report["adherence"]["scores"]["all"]["count"] == len(HELDOUT_COMBOS) + 1
    assert set(report["sampler"]["rmse"]) == {"linear_quadratic", "uniform"}
    assert report["sampler"]["guidance_scale"] == report["adherence"]["guidance_scale"] == 2.0  # not the card's 1.0
    assert report["sampler"]["reference_solver"] == "euler"
    assert {p.name for p in out.iterdir()} >= {"eval.json", "tae.md", "adherence.md", "sampler.md", "sampler.png"}
    card = json.loads((ckpt / "model_card.json").read_text())
    assert card["recipe"] == "test" and set(card["metrics"]) == {"tae", "adherence", "sampler"}
    # ceiling: the same cases drawn by the world, raw and through the (random) TAE, no transformer involved
    ceiling_out = tmp_path / "ceiling"
    assert main(["eval", "ceiling", "--checkpoint", str(ckpt), "-o", str(ceiling_out), "--num", "0",
                 "--update-card", "--no-progress"]) == 0
    ceiling = json.loads((ceiling_out / "eval.json").read_text())["ceiling"]
    assert set(ceiling["scores"]) == set(ceiling["rows"]) == {"rendered", "through_tae"}
    assert [len(rows) for rows in ceiling["rows"].values()] == [len(HELDOUT_COMBOS)] * 2
    assert ceiling["scores"]["rendered"]["all"]["colour"] > ceiling["scores"]["through_tae"]["all"]["colour"]
    assert "| through_tae | heldout | 9 |" in (ceiling_out / "ceiling.md").read_text()
    card = json.loads((ckpt / "model_card.json").read_text())
    assert card["metrics"]["ceiling"]["scores"] == ceiling["scores"] and "adherence" in card["metrics"]


    # --tae: another TAE in the checkpoint's place. Its decoder widened (moviegen.tae.widen) decodes the same.
    from safetensors.torch import save_file

    from moviegen.tae import TemporalAutoencoder
    from moviegen.tae.widen import deepen, widen_decoder, widen_latent
    from moviegen.video.checkpoint import load_video_checkpoint

    own = load_video_checkpoint(ckpt).tae
    wide_file, other_file = tmp_path / "wide.safetensors", tmp_path / "other.safetensors"
    more_file, deep_file = tmp_path / "more-channels.safetensors", tmp_path / "deep.safetensors"
    save_file(widen_decoder(own, 2).state_dict(), str(wide_file))
    save_file(deepen(own, own.cfg.layers_per_block + 1).state_dict(), str(deep_file))
    save_file(widen_latent(own, own.cfg.latent_channels + 8).state_dict(), str(more_file))
    save_file(TemporalAutoencoder(own.cfg).state_dict(), str(other_file))  # a fresh encoder: other latents
    base = ["eval", "tae", "--checkpoint", str(ckpt), "--data", str(world), "--num", "1", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "own")]) == 0
    assert main([*base, "-o", str(tmp_path / "wide"), "--tae", str(wide_file)]) == 0
    own_report, wide_report = (json.loads((tmp_path / d / "eval.json").read_text()) for d in ("own", "wide"))
    assert wide_report["tae_from"] == str(wide_file) and "tae_from" not in own_report
    assert wide_report["tae"]["psnr"] == pytest.approx(own_report["tae"]["psnr"], abs=1e-3)
    assert main([*base, "-o", str(tmp_path / "other"), "--tae", str(other_file)]) == 0  # tae alone: any TAE
    # ... even one with more latent channels (a widened latent: the same reconstructions)
    assert main([*base, "-o", str(tmp_path / "more"), "--tae", str(more_file)]) == 0
    more_report = json.loads((tmp_path / "more" / "eval.json").read_text())
    assert more_report["tae"]["psnr"] == pytest.approx(own_report["tae"]["psnr"], abs=1e-3)
    # ... or more ResNets per level (a deepened TAE, its depth read from the weights: the same reconstructions)
    assert main([*base, "-o", str(tmp_path / "deep"), "--tae", str(deep_file)]) == 0
    deep_report = json.loads((tmp_path / "deep" / "eval.json").read_text())
    assert deep_report["tae"]["psnr"] == pytest.approx(own_report["tae"]["psnr"], abs=1e-3)
    # ... or another temporal compression, as a checkpoint records it (the same weights: a stride is not a weight)
    flat_tae_cfg = dataclasses.replace(own.cfg, temporal_downsample=(False,) * len(own.cfg.temporal_downsample))
    flat_cfg = dataclasses.replace(pipeline.cfg, tae=flat_tae_cfg)
    flat_tae = TemporalAutoencoder(flat_cfg.tae)
    flat_tae.load_state_dict(own.state_dict())
    flat_model = TextToVideo(flat_cfg)
    flat_model.init_weights()
    save_video_checkpoint(tmp_path / "flat-ckpt", cfg=flat_cfg, tae=flat_tae, model=flat_model,
                          card={"recipe": "test"}, defaults=dataclasses.replace(defaults, seconds=0.25))
    assert main([*base, "-o", str(tmp_path / "flat"), "--tae", str(tmp_path / "flat-ckpt")]) == 0
    flat_report = json.loads((tmp_path / "flat" / "eval.json").read_text())
    assert flat_report["tae"]["psnr"] != pytest.approx(own_report["tae"]["psnr"], abs=1e-3)  # measured as 1x
    capsys.readouterr()
    adherence = ["eval", "adherence", "--checkpoint", str(ckpt), "--num", "0", "--no-progress"]
    assert main([*adherence, "-o", str(tmp_path / "refused"), "--tae", str(other_file)]) == 2
    assert "encodes differently from the checkpoint's TAE" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    assert main([*adherence, "-o", str(tmp_path / "refused"), "--tae", str(more_file)]) == 2
    assert f"has {own.cfg.latent_channels + 8} latent channels, the checkpoint's transformer was trained on " \
           f"{own.cfg.latent_channels}" in capsys.readouterr().err
    assert main([*adherence, "-o", str(tmp_path / "refused"), "--tae", str(tmp_path / "flat-ckpt")]) == 2
    assert f"has 1x temporal compression, the checkpoint's transformer was trained on " \
           f"{own.cfg.temporal_compression}x" in capsys.readouterr().err
    # Another depth is another encoder (even one that starts as the same function): refused by name, not a crash.
    assert main([*adherence, "-o", str(tmp_path / "refused"), "--tae", str(deep_file)]) == 2
    assert "encodes differently from the checkpoint's TAE" in capsys.readouterr().err
    # The widened decoder decodes the transformer's latents as the checkpoint's own: the same judgements.
    assert main([*adherence, "-o", str(tmp_path / "adh-own")]) == 0
    assert main([*adherence, "-o", str(tmp_path / "adh-wide"), "--tae", str(wide_file)]) == 0
    own_rows, wide_rows = (json.loads((tmp_path / d / "eval.json").read_text())["adherence"]["rows"]
                           for d in ("adh-own", "adh-wide"))
    assert len(wide_rows) == len(HELDOUT_COMBOS)
    assert [r["joint_ok"] for r in wide_rows] == [r["joint_ok"] for r in own_rows]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "tae"], "needs --data"),
        (["eval", "adherence", "--data", "/nonexistent"], "no manifest.jsonl"),
        (["eval", "sampler", "--study-steps", "10,x"], "comma-separated"),
        (["eval", "sampler", "--study-steps", "10,50", "--reference-steps", "50"], "must exceed"),
        (["eval", "tae", "--num", "0", "--data", "."], "--num must be"),
        (["eval", "sampler", "--guidance-scale", "0.5"], "--guidance-scale must be >= 1 (1 = no guidance), got 0.5"),
        (["eval", "adherence", "--checkpoint", "/nonexistent"], "/nonexistent"),
        (["eval", "audio", "--data", ".", "--tae", "t.safetensors"], "--tae applies to the video evaluations"),
        (["eval", "tae", "--data", ".", "--tae", "t.safetensors", "--update-card"],
         "--update-card cannot be combined with --tae"),
        (["eval", "sampler", "--reference-solver", "midpoint", "--update-card"],
         "--update-card records the issue's yardstick, an Euler reference: drop --reference-solver midpoint"),
    ],
)
def test_cli_eval_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("moviegen eval: error:") and message in err
