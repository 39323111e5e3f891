"""Audio evaluation measures (moviegen/eval/onsets.py, moviegen/eval/audio_metrics.py), with the synthetic world's own
renderer as ground truth: impact onsets (``render_audio``), impact frames (``scene_impacts``) and the music's mode."""

import numpy as np
import pytest

from moviegen.eval.analyse import TrackPoint
from moviegen.eval.audio_metrics import (
    SyncResult,
    aggregate_sync,
    detect_visual_impacts,
    estimate_key,
    match_events,
    music_mode,
    seam_discontinuity,
    track_impact_frames,
)
from moviegen.eval.onsets import OnsetConfig, detect_onsets, onset_envelope
from moviegen.world.kinematics import scene_impacts
from moviegen.world.render import render_audio, render_video
from moviegen.world.scene import Music, ObjectSpec, SceneSpec
from moviegen.world.vocab import Camera, Motion, Shape

SR = 48000  # the world's audio rate (WorldConfig.sample_rate), where the detector's thresholds were measured


def _scene(*objects: ObjectSpec, music: Music | None = None, num_frames: int = 48, seed: int = 0) -> SceneSpec:
    return SceneSpec(
        width=128, height=128, fps=16, num_frames=num_frames, background="gray", textured=False,
        camera=Camera.STATIC, objects=objects, music=music, seed=seed,
    )  # fmt: skip


def _bouncer(shape: Shape, *, colour: str = "red", x: float = 64.0, y: float = 20.0, scale: float = 0.8) -> ObjectSpec:
    # A high drop at the slowest motion scale: the most rebounds, down to strength ~0.2 (peak 0.12, the music's peak).
    return ObjectSpec(colour=colour, shape=shape, motion=Motion.BOUNCE, size=12.0, x=x, y=y, motion_scale=scale)


def _still() -> ObjectSpec:
    return ObjectSpec(colour="blue", shape=Shape.SQUARE, motion=Motion.STILL, size=12.0, x=64.0, y=64.0)


def _audio(scene: SceneSpec) -> tuple[np.ndarray, np.ndarray]:
    audio_1N, impacts = render_audio(scene, sample_rate=SR)
    return audio_1N[0], np.array(impacts)


# ------------------------------------------------------------------------------------------------------------ onsets


@pytest.mark.parametrize("shape", list(Shape))
def test_onsets_find_every_impact_within_two_ms(shape):
    scene = _scene(_bouncer(shape))
    audio_N, impacts = _audio(scene)
    strengths = [e.strength for e in scene_impacts(scene)]
    assert len(impacts) >= 5 and min(strengths) < 0.25  # the faint last rebounds are part of the test
    onsets = detect_onsets(audio_N, sample_rate=SR)
    assert onsets.shape == impacts.shape
    error_ms = (onsets - impacts) * 1000
    assert np.abs(error_ms).max() <= 2.0, error_ms  # measured: <= 1.0 ms for every shape


@pytest.mark.parametrize("music", list(Music))
def test_onsets_over_music_are_the_impacts_only(music):
    # Square, triangle and star impacts reach above 2 kHz where the music has nothing: all are found. A circle
    # rebound is told from a note by level alone; the detector finds it down to strength ~0.3 (module docstring).
    for shape in Shape:
        scene = _scene(_bouncer(shape), music=music)
        audio_N, impacts = _audio(scene)
        strengths = np.array([e.strength for e in scene_impacts(scene)])
        onsets = detect_onsets(audio_N, sample_rate=SR)
        distance_ms = np.abs(onsets[:, None] - impacts[None, :]).min(axis=1) * 1000
        assert (distance_ms <= 2.0).all(), (shape, distance_ms)  # no onset on a music note
        must_find = impacts if shape != Shape.CIRCLE else impacts[strengths >= 0.3]
        found_ms = np.abs(must_find[:, None] - onsets[None, :]).min(axis=1) * 1000
        assert (found_ms <= 2.0).all(), (shape, found_ms)
        if shape != Shape.CIRCLE:
            assert onsets.size == impacts.size


@pytest.mark.parametrize("music", list(Music))
def test_music_alone_gives_no_onsets(music):
    audio_N, impacts = _audio(_scene(_still(), music=music, num_frames=64))
    assert impacts.size == 0 and np.abs(audio_N).max() > 0.1  # the music is there...
    envelope = onset_envelope(audio_N, sample_rate=SR)
    assert 0.5 < envelope.strength_T.max() < 1.0  # ...its notes are onsets, but below the threshold (0.8 measured)
    assert detect_onsets(audio_N, sample_rate=SR).size == 0


def test_silence_and_steady_sounds_give_no_onsets():
    t = np.arange(3 * SR) / SR
    assert detect_onsets(np.zeros(3 * SR), sample_rate=SR).size == 0
    assert detect_onsets(0.5 * np.sin(2 * np.pi * 60 * t), sample_rate=SR).size == 0  # a low tone: no ripple
    noise = 0.1 * np.random.default_rng(0).standard_normal(3 * SR)
    assert detect_onsets(noise, sample_rate=SR).size == 0
    # ... while a click on top of the noise is found, and the floor is an absolute level: quiet clicks are not.
    clicked = noise.copy()
    clicked[SR : SR + 48] += 0.8
    assert detect_onsets(clicked, sample_rate=SR) == pytest.approx([1.0], abs=0.002)
    faint = np.zeros(3 * SR)
    faint[SR : SR + 480] = 0.005 * np.sin(2 * np.pi * 1000 * t[:480])
    assert detect_onsets(faint, sample_rate=SR).size == 0
    assert detect_onsets(faint * 100, sample_rate=SR) == pytest.approx([1.0], abs=0.002)


def test_onsets_min_gap_and_inputs():
    x = np.zeros(SR)
    for start, level in ((0.30, 0.5), (0.33, 0.3), (0.60, 0.5)):  # 30 ms apart: the weaker goes at the 50 ms gap
        x[round(start * SR) : round(start * SR) + 48] = level
    assert detect_onsets(x, sample_rate=SR) == pytest.approx([0.30, 0.60], abs=0.002)
    two = detect_onsets(x, sample_rate=SR, cfg=OnsetConfig(min_gap_seconds=0.02))
    assert two == pytest.approx([0.30, 0.33, 0.60], abs=0.002)
    assert detect_onsets(x[None].repeat(2, axis=0), sample_rate=SR) == pytest.approx([0.30, 0.60], abs=0.002)
    with pytest.raises(ValueError, match="sample_rate"):
        detect_onsets(x, sample_rate=0)
    with pytest.raises(ValueError, match=r"\[N\] or \[C, N\]"):
        detect_onsets(x[None, None], sample_rate=SR)
    with pytest.raises(ValueError, match="finite"):
        detect_onsets(np.full(100, np.nan), sample_rate=SR)
    with pytest.raises(ValueError, match="channels first"):
        detect_onsets(x[:, None].repeat(2, axis=1), sample_rate=SR)
    with pytest.raises(ValueError, match="floor"):
        OnsetConfig(floor=0.0)


# ---------------------------------------------------------------------------------------------------------- matching


def test_match_events_counts_and_offsets():
    result = match_events([1.50, 0.52, 0.10, 0.90], reference_s=[0.11, 0.50, 1.00, 2.00], tolerance_s=0.05)
    assert (result.true_positives, result.false_positives, result.false_negatives) == (2, 2, 2)
    assert (result.precision, result.recall, result.f1) == (0.5, 0.5, 0.5)
    assert result.offsets_s == pytest.approx((-0.01, 0.02))  # predicted - reference, in reference order
    assert result.median_abs_offset_ms == pytest.approx(15.0)
    assert result.as_dict()["f1"] == 0.5
    one = match_events([0.5], reference_s=[0.75, 3.0], tolerance_s=0.25)  # the tolerance is inclusive
    assert one.offsets_s == (-0.25,) and one.precision == 1.0 and one.recall == 0.5 and one.f1 == pytest.approx(2 / 3)


def test_match_events_is_optimal_not_greedy():
    # Greedy nearest-first takes (0.05, 0.08) and strands 0.11; the optimal matching pairs both.
    result = match_events([0.05, 0.11], reference_s=[0.0, 0.08], tolerance_s=0.06)
    assert result.true_positives == 2 and result.offsets_s == pytest.approx((0.05, 0.03))
    # Among maximal matchings the closest wins.
    assert match_events([0.0, 0.09], reference_s=[0.05], tolerance_s=0.06).offsets_s == pytest.approx((0.04,))


def test_match_events_empty_conventions_and_errors():
    both = match_events([], reference_s=[], tolerance_s=0.05)
    assert (both.precision, both.recall, both.f1, both.median_abs_offset_ms) == (1.0, 1.0, 1.0, None)
    missed = match_events([], reference_s=[1.0], tolerance_s=0.05)
    assert (missed.precision, missed.recall, missed.f1, missed.median_abs_offset_ms) == (1.0, 0.0, 0.0, None)
    spurious = match_events([1.0], reference_s=[], tolerance_s=0.05)
    assert (spurious.precision, spurious.recall, spurious.f1) == (0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="tolerance_s"):
        match_events([1.0], reference_s=[1.0], tolerance_s=0.0)
    with pytest.raises(ValueError, match="finite"):
        match_events([np.nan], reference_s=[1.0], tolerance_s=0.1)


def test_aggregate_sync_pools_counts_and_offsets():
    a = SyncResult(num_predicted=2, num_reference=3, offsets_s=(0.001, -0.003))
    b = SyncResult(num_predicted=4, num_reference=1, offsets_s=(0.010,))
    pooled = aggregate_sync([a, b])
    assert (pooled.true_positives, pooled.false_positives, pooled.false_negatives) == (3, 3, 1)
    assert pooled.f1 == pytest.approx(6 / 10)  # 2 TP / (2 TP + FP + FN), not the mean of the two F1s
    assert pooled.median_abs_offset_ms == pytest.approx(3.0)
    with pytest.raises(ValueError, match="at least one"):
        aggregate_sync([])


# ------------------------------------------------------------------------------------------------ visual impacts


def _track(ys, xs=None, frames=None) -> list[TrackPoint]:
    xs = [0.5] * len(ys) if xs is None else xs
    frames = range(len(ys)) if frames is None else frames
    return [TrackPoint(frame=f, x=x, y=y, area=0.01) for f, x, y in zip(frames, xs, ys, strict=True)]


def test_track_impact_frames_rules():
    # falls, bounces on frame 3, rises, falls again, lands and rests on frame 8
    ys = [0.1, 0.2, 0.4, 0.7, 0.5, 0.4, 0.4, 0.5, 0.7, 0.7, 0.7]
    assert track_impact_frames(_track(ys), fps=16) == [3, 8]
    # below the minimum speed (0.1 heights/s = 0.00625 per frame at 16 fps) nothing counts
    assert track_impact_frames(_track([0.5, 0.504, 0.508, 0.505]), fps=16) == []
    # a steady fall whose centroid stalls for a frame goes on at its speed: no impact
    assert track_impact_frames(_track([0.10, 0.11, 0.12, 0.12, 0.13, 0.14, 0.15]), fps=16) == []
    # a resting object's jitter is not a second impact within MIN_IMPACT_FRAMES (3)
    assert track_impact_frames(_track([0.1, 0.3, 0.6, 0.59, 0.62, 0.6, 0.6]), fps=16) == [2]
    # a gap in the track hides the bounce (velocities need consecutive frames)
    assert track_impact_frames(_track([0.1, 0.4, 0.7, 0.5], frames=[0, 1, 3, 4]), fps=16) == []
    # a wall: the horizontal velocity flips
    xs = [0.5, 0.6, 0.7, 0.6, 0.5]
    assert track_impact_frames(_track([0.5] * 5, xs=xs), fps=16) == [2]
    assert track_impact_frames(_track([0.5] * 5, xs=xs), fps=16, walls=False) == []


def test_visual_impacts_are_the_scene_impact_frames():
    scene = _scene(
        _bouncer(Shape.STAR, x=36.0, y=20.0, scale=0.8),
        _bouncer(Shape.CIRCLE, colour="cyan", x=95.0, y=40.0, scale=1.25),
        num_frames=64,
    )
    reference = np.array([e.time for e in scene_impacts(scene)])
    assert reference.size >= 8
    frames_THWC = render_video(scene)
    visual = detect_visual_impacts(frames_THWC, fps=scene.fps)
    assert np.array_equal(visual, reference)  # exact frames: the world draws the contact on the impact frame
    moving = _scene(ObjectSpec(colour="red", shape=Shape.STAR, motion=Motion.LEFT, size=12.0, x=90.0, y=64.0))
    assert detect_visual_impacts(render_video(moving), fps=16).size == 0
    with pytest.raises(ValueError, match="fps"):
        detect_visual_impacts(frames_THWC, fps=0)


def test_perfect_soundtrack_scores_zero_offset():
    scene = _scene(_bouncer(Shape.TRIANGLE), music=Music.MAJOR, num_frames=64)
    visual = detect_visual_impacts(render_video(scene), fps=scene.fps)
    audio_N, _ = _audio(scene)
    perfect = match_events(detect_onsets(audio_N, sample_rate=SR), reference_s=visual, tolerance_s=1 / 16)
    assert perfect.f1 == 1.0 and perfect.median_abs_offset_ms <= 1.0
    late = np.concatenate([np.zeros(round(0.04 * SR)), audio_N])  # the same soundtrack 40 ms late
    shifted = match_events(detect_onsets(late, sample_rate=SR), reference_s=visual, tolerance_s=1 / 16)
    assert shifted.f1 == 1.0 and shifted.median_abs_offset_ms == pytest.approx(40.0, abs=1.0)


# ------------------------------------------------------------------------------------------------------------ seams


def test_seam_discontinuity_splice_vs_continuous():
    t = np.arange(2 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * SR)
    splice = np.concatenate([tone[:SR], noise[SR:]])
    assert seam_discontinuity(splice, sample_rate=SR, seams_s=[1.0]).ratio > 4.0  # measured 7.3
    assert seam_discontinuity(tone, sample_rate=SR, seams_s=[1.0]).ratio == pytest.approx(1.0, abs=0.05)
    assert seam_discontinuity(noise, sample_rate=SR, seams_s=[1.0]).ratio == pytest.approx(1.0, abs=0.1)
    flipped = np.concatenate([tone[:SR], -tone[SR:]])  # a click: the waveform jumps, the spectrum stays
    result = seam_discontinuity(flipped, sample_rate=SR, seams_s=[1.0])
    assert result.ratio > 10.0 and result.seam_change_db[0] > 5.0
    with pytest.raises(ValueError, match="from both ends"):
        seam_discontinuity(tone, sample_rate=SR, seams_s=[1.99])
    with pytest.raises(ValueError, match="at least one seam"):
        seam_discontinuity(tone, sample_rate=SR, seams_s=[])


def test_seam_discontinuity_on_world_music():
    major, _ = _audio(_scene(_still(), music=Music.MAJOR, num_frames=64))
    minor, _ = _audio(_scene(_still(), music=Music.MINOR, num_frames=64))
    # seams placed without regard to the notes: about 1 on average (a single seam may land on a note onset)
    rng = np.random.default_rng(0)
    ratios = [seam_discontinuity(major, sample_rate=SR, seams_s=list(rng.uniform(0.2, 3.8, 3))).ratio
              for _ in range(8)]  # fmt: skip
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.3)
    # switching from the major to the minor track mid-note is a discontinuity
    spliced = np.concatenate([major[: round(2.1 * SR)], minor[round(2.1 * SR) :]])
    assert seam_discontinuity(spliced, sample_rate=SR, seams_s=[2.1]).ratio > 3.0


# ------------------------------------------------------------------------------------------------------- music mode


@pytest.mark.parametrize("music", list(Music))
@pytest.mark.parametrize("num_frames", [32, 64])
def test_music_mode_on_world_music_with_and_without_impacts(music, num_frames):
    audio_N, _ = _audio(_scene(_still(), music=music, num_frames=num_frames))
    key = estimate_key(audio_N, sample_rate=SR)
    assert key.mode == music.value and key.margin > 0.1 and key.correlation > 0.7
    assert music_mode(audio_N, sample_rate=SR, root=0) == music.value
    for shape in Shape:  # impacts are several times louder than the music
        mixed, impacts = _audio(_scene(_bouncer(shape), music=music, num_frames=num_frames))
        assert impacts.size >= 3
        key = estimate_key(mixed, sample_rate=SR)
        # margin >= 0.17 measured (the median filter against impacts; 0.12 without it)
        assert key.mode == music.value and key.margin > 0.15, (shape, key)


def test_music_mode_none_without_music():
    assert music_mode(np.zeros(2 * SR), sample_rate=SR) is None
    impacts_only, impacts = _audio(_scene(_bouncer(Shape.CIRCLE), _bouncer(Shape.STAR, colour="cyan", x=100.0)))
    assert impacts.size >= 8 and music_mode(impacts_only, sample_rate=SR) is None
    noise = 0.05 * np.random.default_rng(0).standard_normal(2 * SR)
    key = estimate_key(noise, sample_rate=SR)
    assert key.level > 0.01 and key.correlation < 0.65 and key.mode is None  # loud, but no key
    quiet, _ = _audio(_scene(_still(), music=Music.MAJOR))
    assert music_mode(quiet * 0.05, sample_rate=SR) is None  # -26 dB: below the level floor
    with pytest.raises(ValueError, match="root"):
        music_mode(quiet, sample_rate=SR, root=12)
