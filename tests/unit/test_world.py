"""The synthetic world: scenes, rendering, sound, captions, edits, the on-disk format and ``moviegen world``."""

import json

import numpy as np
import pytest

from moviegen.cli import main
from moviegen.configs.serialize import config_from_dict
from moviegen.io.media import read_image, read_video
from moviegen.world import kinematics
from moviegen.world.captions import (
    BACKGROUND_SYNONYMS,
    CAMERA_PHRASES,
    COLOUR_SYNONYMS,
    MOTION_SYNONYMS,
    SHAPE_SYNONYMS,
    dense_caption,
    short_prompts,
)
from moviegen.world.characters import HELDOUT_IDENTITIES, NUM_IDENTITIES
from moviegen.world.edits import EditKind, apply_edit, possible_edits
from moviegen.world.render import render_audio, render_portrait, render_video
from moviegen.world.scene import (
    HELDOUT_COMBOS,
    TEXT_COLOUR,
    Music,
    ObjectSpec,
    SceneSpec,
    combo_scene,
    fits_split,
    is_heldout,
    sample_scene,
)
from moviegen.world.vocab import BACKGROUND_TEXTURE, BACKGROUNDS, OBJECT_COLOURS, Camera, Motion, Shape
from moviegen.world.writer import WorldConfig, write_world

MANIFEST_KEYS = {
    "id", "path", "kind", "split", "width", "height", "fps", "num_frames", "seconds", "caption", "prompts", "camera",
    "text", "scene", "audio",
}  # fmt: skip


def _scene(*objects: ObjectSpec, **kw) -> SceneSpec:
    fields = dict(
        width=128, height=128, fps=16, num_frames=32, background="gray", textured=False, camera=Camera.STATIC, seed=3
    )
    return SceneSpec(objects=objects, **(fields | kw))


def _obj(colour="red", shape=Shape.SQUARE, motion=Motion.STILL, size=14.0, x=64.0, y=64.0, **kw) -> ObjectSpec:
    return ObjectSpec(colour=colour, shape=shape, motion=motion, size=size, x=x, y=y, **kw)


def _mask(frames, colour):
    return (frames == np.array(colour, dtype=np.uint8)).all(axis=-1)


def _sample(seed, split="train", **kw):
    geometry = dict(width=128, height=128, num_frames=32, fps=16) | kw
    return sample_scene(np.random.default_rng(seed), split=split, **geometry)


# ---------------------------------------------------------------------------------------------------------- scenes


def test_same_seed_same_world_different_seed_differs():
    a, b, c = _sample(7), _sample(7), _sample(8)
    assert a == b and a != c
    assert np.array_equal(render_video(a), render_video(b))
    assert np.array_equal(render_audio(a).audio_1N, render_audio(b).audio_1N)
    assert dense_caption(a) == dense_caption(b)
    assert short_prompts(a, np.random.default_rng(0)) == short_prompts(b, np.random.default_rng(0))
    assert not np.array_equal(render_video(a)[:, :96, :96], render_video(c)[:, :96, :96])


def test_train_split_never_shows_held_out_combos_or_identities_and_circles_never_spin():
    seen_character = False
    for seed in range(300):
        image = seed % 5 == 0
        train = _sample(seed, "train", num_frames=1 if image else 32)
        heldout = _sample(seed, "heldout", num_frames=1 if image else 32)
        assert not is_heldout(train) and fits_split(train, "train")
        assert all(obj.combo not in HELDOUT_COMBOS for obj in train.objects)
        assert not set(train.identities) & HELDOUT_IDENTITIES
        assert any(obj.combo in HELDOUT_COMBOS for obj in heldout.objects)
        assert set(heldout.identities) <= HELDOUT_IDENTITIES
        for scene in (train, heldout):
            assert kinematics.layout_problem(scene) is None
            assert len({obj.colour for obj in scene.objects}) == len(scene.objects)
            assert not any(obj.shape == Shape.CIRCLE and obj.motion == Motion.SPIN for obj in scene.objects)
            if image:
                assert scene.camera == Camera.STATIC and scene.music is None
                assert all(obj.motion == Motion.STILL for obj in scene.objects)
        seen_character |= bool(train.identities)
    assert seen_character
    with pytest.raises(ValueError, match="a circle never spins"):
        _obj(shape=Shape.CIRCLE, motion=Motion.SPIN)


def test_combo_scene_draws_one_object_of_any_combination_plainly():
    combo = sorted(HELDOUT_COMBOS)[0]  # held-out combinations too: the adherence ceiling draws them
    scene = combo_scene(np.random.default_rng(3), combo, background="navy", width=96, height=64, num_frames=16, fps=8)
    assert [obj.combo for obj in scene.objects] == [combo] and is_heldout(scene)
    assert (scene.camera, scene.textured, scene.text, scene.music) == (Camera.STATIC, False, None, None)
    assert (scene.width, scene.height, scene.num_frames, scene.fps, scene.background) == (96, 64, 16, 8, "navy")
    again = combo_scene(np.random.default_rng(3), combo, background="navy", width=96, height=64, num_frames=16, fps=8)
    other = combo_scene(np.random.default_rng(4), combo, background="navy", width=96, height=64, num_frames=16, fps=8)
    assert again == scene and other.objects[0] != scene.objects[0]
    with pytest.raises(ValueError, match="background must be one of .* got 'mauve'"):
        combo_scene(np.random.default_rng(0), combo, background="mauve", width=64, height=64, num_frames=8, fps=8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(colour="pink"), "colour must be one of"),
        (dict(size=0.0), "size must be > 0"),
        (dict(identity=99), "identity must be an int"),
        (dict(motion_scale=3.0), "motion_scale must be in"),
    ],
)
def test_bad_objects_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _obj(**kwargs)


def test_bad_scenes_are_rejected():
    with pytest.raises(ValueError, match="different colours"):
        _scene(_obj(x=30), _obj(x=90))
    with pytest.raises(ValueError, match="capital letters"):
        _scene(_obj(), text="go!")
    with pytest.raises(ValueError, match="background must be one of"):
        _scene(_obj(), background="red")
    with pytest.raises(ValueError, match="split must be one of"):
        _sample(0, "test")


# ------------------------------------------------------------------------------------------------------- rendering


def test_objects_are_exact_palette_colours_and_stay_in_view():
    for seed in range(40):
        scene = _sample(seed, num_frames=48)
        frames = render_video(scene)
        assert frames.shape == (48, 128, 128, 3) and frames.dtype == np.uint8
        for obj in scene.objects:
            area_T = _mask(frames, OBJECT_COLOURS[obj.colour]).sum(axis=(1, 2))
            assert (area_T > 0.3 * obj.size**2).all(), (seed, obj)  # visible in every frame


def test_shapes_have_their_area_and_text_and_texture_follow_the_rules():
    for shape, area in [(Shape.CIRCLE, np.pi), (Shape.SQUARE, 1.7**2)]:
        frame = render_video(_scene(_obj(shape=shape, size=20.0), num_frames=1))[0]
        assert _mask(frame, OBJECT_COLOURS["red"]).sum() == pytest.approx(area * 400, rel=0.05)
    scene = _scene(_obj(y=90.0), text="GO", textured=True, num_frames=2)
    frame = render_video(scene)[0]
    assert _mask(frame, TEXT_COLOUR).sum() > 20
    background = frame[~_mask(frame, TEXT_COLOUR) & ~_mask(frame, OBJECT_COLOURS["red"])].astype(int)
    offset = background - np.array(BACKGROUNDS["gray"])
    assert np.abs(offset).max() == BACKGROUND_TEXTURE and (offset == offset[:, :1]).all()  # +-12, luminance only


@pytest.mark.parametrize("camera", [Camera.PAN_LEFT, Camera.ZOOM_IN])
def test_camera_motion_moves_the_textured_background(camera):
    static = render_video(_scene(_obj(), textured=True))
    moving = render_video(_scene(_obj(), textured=True, camera=camera))
    assert np.array_equal(static[0], static[-1])
    assert not np.array_equal(moving[0], moving[-1])
    if camera == Camera.PAN_LEFT:  # the view moves left, so the object moves right on screen
        cols = [np.nonzero(_mask(f, OBJECT_COLOURS["red"]).any(axis=0))[0].mean() for f in (moving[0], moving[-1])]
        assert cols[1] - cols[0] == pytest.approx(0.2 * 128, abs=1.5)


def test_characters_and_portraits():
    frames = render_video(_scene(_obj(colour="yellow", shape=Shape.CIRCLE, identity=0, size=20.0), num_frames=1))
    assert _mask(frames, OBJECT_COLOURS["yellow"]).sum() > 0.5 * np.pi * 400  # head disc minus features
    portraits = [render_portrait(i, size=64) for i in range(NUM_IDENTITIES)]
    assert len({p.tobytes() for p in portraits}) == NUM_IDENTITIES
    with pytest.raises(ValueError, match="character 0 is a yellow circle"):
        _obj(colour="red", shape=Shape.CIRCLE, identity=0)


# ----------------------------------------------------------------------------------------------------------- sound


def test_bounce_impacts_are_on_frames_and_in_the_audio():
    scene = _scene(_obj(shape=Shape.CIRCLE, motion=Motion.BOUNCE, y=25.0), num_frames=64)
    audio_1N, impacts = render_audio(scene, sample_rate=16000)
    assert audio_1N.shape == (1, 4 * 16000) and audio_1N.dtype == np.float32
    assert len(impacts) >= 2 and list(impacts) == sorted(impacts)
    frames = render_video(scene)
    red = _mask(frames, OBJECT_COLOURS["red"])
    bottom_T = np.array([np.nonzero(m.any(axis=1))[0].max() for m in red])
    window = 320  # 20 ms
    for time in impacts:
        frame = round(time * scene.fps)
        assert frame == pytest.approx(time * scene.fps)
        assert bottom_T[frame] == 127 and bottom_T[frame - 1] < 127  # touches the floor on the impact frame
        onset = round(time * 16000)
        before = np.sum(audio_1N[0, onset - window : onset] ** 2)
        after = np.sum(audio_1N[0, onset : onset + window] ** 2)
        assert after > 1.0 and before < 1e-3 * after
    # first-impact energy falls: later bounces are quieter
    energies = [np.sum(audio_1N[0, round(t * 16000) : round(t * 16000) + window] ** 2) for t in impacts]
    assert energies[0] > energies[-1]


def test_silence_is_exact_zero():
    audio_1N, impacts = render_audio(_scene(_obj(motion=Motion.LEFT, x=90.0)))
    assert impacts == () and not audio_1N.any()


def test_impact_timbre_depends_on_shape():
    def centroid(shape):
        scene = _scene(_obj(shape=shape, motion=Motion.BOUNCE, y=25.0))
        audio_1N, impacts = render_audio(scene, sample_rate=16000)
        onset = round(impacts[0] * 16000)
        spectrum = np.abs(np.fft.rfft(audio_1N[0, onset : onset + 1600]))
        return (spectrum * np.fft.rfftfreq(1600, 1 / 16000)).sum() / spectrum.sum()

    assert centroid(Shape.CIRCLE) < 300 < 1000 < centroid(Shape.TRIANGLE)


def test_major_and_minor_music_differ_in_pitch_content():
    def pitch_energy(music):
        audio_1N, _ = render_audio(_scene(_obj(), music=music, num_frames=64), sample_rate=16000)
        assert 0 < np.abs(audio_1N).max() <= 0.2  # quiet background music
        spectrum = np.abs(np.fft.rfft(audio_1N[0])) ** 2
        freqs = np.fft.rfftfreq(audio_1N.shape[1], 1 / 16000)

        def energy(semitones):  # energy of these pitch classes (relative to C) over octaves 2-6
            total = 0.0
            for octave in range(-2, 3):
                for s in semitones:
                    f = 261.6256 * 2 ** (octave + s / 12)
                    total += spectrum[np.abs(freqs - f) < 0.015 * f].sum()
            return total

        return energy((4, 9, 11)), energy((3, 8, 10))  # major (E, A, B) vs minor (Eb, Ab, Bb) degrees

    major_degrees, minor_degrees = pitch_energy(Music.MAJOR)
    assert major_degrees > 20 * minor_degrees
    major_degrees, minor_degrees = pitch_energy(Music.MINOR)
    assert minor_degrees > 20 * major_degrees


# -------------------------------------------------------------------------------------------------------- captions


def test_dense_caption_mentions_everything():
    scene = _scene(
        _obj(colour="purple", shape=Shape.STAR, motion=Motion.SPIN, x=40.0, y=80.0),
        _obj(colour="cyan", shape=Shape.CIRCLE, motion=Motion.BOUNCE, x=95.0, y=40.0, size=12.0),
        camera=Camera.PAN_RIGHT,
        text="HELLO",
        music=Music.MINOR,
        textured=True,
    )
    assert kinematics.layout_problem(scene) is None
    caption = dense_caption(scene)
    assert 40 <= len(caption.split()) <= 95
    for word in ("purple star", "spins", "cyan circle", "bounces", '"HELLO"', "gray", "texture", "sad", "thump"):
        assert word in caption, word
    assert CAMERA_PHRASES[Camera.PAN_RIGHT] in caption.lower()
    still = dense_caption(_scene(_obj(), num_frames=1))
    assert "no motion" in still and "still image" in still


def test_dense_captions_contain_the_vocabulary_labels():
    lengths = []
    for seed in range(60):
        scene = _sample(seed)
        caption = dense_caption(scene)
        lengths.append(len(caption.split()))
        assert CAMERA_PHRASES[scene.camera] in caption.lower() and scene.background in caption
        for obj in scene.objects:
            assert f"{obj.colour} {'character' if obj.is_character else obj.shape.value}" in caption
            assert obj.motion.value in caption
    assert 40 <= min(lengths) and max(lengths) <= 100


def test_short_prompts_paraphrase_colour_shape_motion_and_background():
    scene = _scene(
        _obj(colour="purple", shape=Shape.CIRCLE, motion=Motion.LEFT, x=90.0), background="gray", text="GO"
    )
    prompts = short_prompts(scene, np.random.default_rng(0), n=6)
    assert prompts[0] == 'a purple circle moves left on a gray background, with the word "GO"'
    assert len(set(prompts)) == 6
    for prompt in prompts:
        assert any(s in prompt for s in COLOUR_SYNONYMS["purple"])
        assert any(s in prompt for s in SHAPE_SYNONYMS[Shape.CIRCLE])
        assert any(s in prompt for s in MOTION_SYNONYMS[Motion.LEFT])
        assert any(s in prompt for s in BACKGROUND_SYNONYMS["gray"]) and '"GO"' in prompt
    with pytest.raises(ValueError, match="n must be >= 1"):
        short_prompts(scene, np.random.default_rng(0), n=0)


# ----------------------------------------------------------------------------------------------------------- edits


def _two_object_scene():
    return _scene(
        _obj(colour="red", shape=Shape.CIRCLE, motion=Motion.RIGHT, x=30.0, y=40.0),
        _obj(colour="blue", shape=Shape.SQUARE, motion=Motion.SPIN, x=80.0, y=95.0),
        textured=True,
        text="GO",
    )


def test_recolour_changes_only_that_object():
    source = _two_object_scene()
    edited, instruction = apply_edit(source, EditKind.RECOLOUR, np.random.default_rng(1))
    (index,) = [i for i in range(2) if edited.objects[i] != source.objects[i]]
    old, new = source.objects[index].colour, edited.objects[index].colour
    assert old in instruction and new in instruction and new not in {o.colour for o in source.objects}
    a, b = render_video(source), render_video(edited)
    old_mask = _mask(a, OBJECT_COLOURS[old])
    assert old_mask.any() and (b[old_mask] == OBJECT_COLOURS[new]).all()
    assert np.array_equal(a[~old_mask], b[~old_mask])


def test_every_edit_kind_changes_what_it_says():
    source = _two_object_scene()
    a = render_video(source)
    red, blue = _mask(a, OBJECT_COLOURS["red"]), _mask(a, OBJECT_COLOURS["blue"])
    for kind in possible_edits(source):
        for seed in range(3):
            edited, instruction = apply_edit(source, kind, np.random.default_rng(seed))
            b = render_video(edited)
            assert edited.seed == source.seed and not is_heldout(edited) and instruction
            if kind == EditKind.REMOVE:
                (removed,) = {"red", "blue"} - {edited.objects[0].colour}
                gone = red if removed == "red" else blue
                assert len(edited.objects) == 1 and removed in instruction
                assert not _mask(b, OBJECT_COLOURS[removed]).any()
                assert np.array_equal(a[~gone], b[~gone])
            elif kind == EditKind.BACKGROUND:
                assert edited.background in instruction and edited.background != "gray"
                objects = red | blue
                assert np.array_equal(a[objects], b[objects]) and not np.array_equal(a[~objects], b[~objects])
            elif kind == EditKind.RECOLOUR:
                assert sum(x != y for x, y in zip(source.objects, edited.objects, strict=True)) == 1
            elif kind == EditKind.RESHAPE:
                (index,) = [i for i in range(2) if edited.objects[i] != source.objects[i]]
                assert edited.objects[index].shape.value in instruction
                changed = red if index == 0 else blue
                other = blue if index == 0 else red
                assert np.array_equal(a[other], b[other]) and not np.array_equal(a[changed], b[changed])
    single = _scene(_obj(x=40.0, y=40.0))
    added, instruction = apply_edit(single, "add", np.random.default_rng(0))
    assert len(added.objects) == 2 and added.objects[0] == single.objects[0] and added.objects[1].colour in instruction
    with pytest.raises(ValueError, match="does not apply"):
        apply_edit(single, EditKind.REMOVE, np.random.default_rng(0))
    with pytest.raises(ValueError, match="edit kind must be one of"):
        apply_edit(single, "blur", np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------- on-disk and the CLI


def _tiny_world() -> WorldConfig:
    return WorldConfig(
        buckets=((64, 64), (80, 48)),
        bucket_weights=(0.5, 0.5),
        durations=(1,),
        image_fraction=0.4,
        heldout_fraction=0.3,
        edit_fraction=0.5,  # samples 2 and 3 form an edit pair
        sample_rate=16000,
        portrait_size=32,
    )


def test_write_world_round_trips_and_resumes(tmp_path):
    out = tmp_path / "world"
    result = write_world(out, num=6, seed=5, config=_tiny_world(), progress=False)
    assert result.num_written == 6 and result.num_skipped == 0
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"{i:06d}" for i in range(6)]
    for row in rows:
        assert MANIFEST_KEYS <= row.keys()
        scene = config_from_dict(SceneSpec, row["scene"])
        assert (scene.width, scene.height, scene.num_frames) == (row["width"], row["height"], row["num_frames"])
        assert fits_split(scene, row["split"]) and row["caption"] == dense_caption(scene)
        if row["kind"] == "video":
            clip = read_video(out / row["path"])
            assert row["fps"] == 16 and row["seconds"] == 1.0 and row["audio"]["sample_rate"] == 16000
            assert clip.frames_THWC.shape == (16, row["height"], row["width"], 3) and clip.fps == 16
            assert clip.audio_CN is not None and clip.sample_rate == 16000
            assert np.abs(clip.frames_THWC.astype(int) - render_video(scene)).mean() < 4  # H.264 at crf 18
            assert row["audio"]["impacts"] == list(render_audio(scene).impacts)
        else:
            assert row["path"].startswith("images/") and row["fps"] is None and row["audio"] is None
            assert np.array_equal(read_image(out / row["path"]), render_video(scene)[0])  # PNG is lossless
    assert {row["kind"] for row in rows} == {"video", "image"}
    (edit,) = [json.loads(line) for line in (out / "edits.jsonl").read_text().splitlines()]
    assert (edit["source"], edit["target"]) == ("000002", "000003") and edit["instruction"]
    assert rows[2]["split"] == rows[3]["split"] and rows[3]["scene"]["seed"] == rows[2]["scene"]["seed"]
    world = json.loads((out / "world.json").read_text())
    assert world["seed"] == 5 and world["num"] == 6 and len(world["heldout_combos"]) == len(HELDOUT_COMBOS)
    assert sorted(world["heldout_identities"]) == sorted(HELDOUT_IDENTITIES)
    assert all((out / path).is_file() for path in world["characters"].values())

    # resume: nothing is re-rendered; a missing file is; more samples keep the first ones
    manifest = (out / "manifest.jsonl").read_text()
    mtime = (out / rows[0]["path"]).stat().st_mtime_ns
    assert write_world(out, num=6, seed=5, config=_tiny_world(), progress=False).num_written == 0
    assert (out / "manifest.jsonl").read_text() == manifest
    (out / rows[4]["path"]).unlink()
    again = write_world(out, num=7, seed=5, config=_tiny_world(), progress=False)
    assert (again.num_written, again.num_skipped) == (2, 5)
    assert (out / rows[0]["path"]).stat().st_mtime_ns == mtime
    assert (out / "manifest.jsonl").read_text().startswith(manifest)
    with pytest.raises(ValueError, match="already holds a world with seed 5"):
        write_world(out, num=6, seed=6, config=_tiny_world(), progress=False)


def test_world_config_validates():
    with pytest.raises(ValueError, match="even and >= 16"):
        WorldConfig(buckets=((63, 64),), bucket_weights=(1.0,))
    with pytest.raises(ValueError, match="heldout_fraction must be in"):
        WorldConfig(heldout_fraction=1.5)
    with pytest.raises(ValueError, match="sample_rate must be one of"):
        WorldConfig(sample_rate=12345)


def test_cli_world_writes_and_reports_errors(tmp_path, capsys):
    assert main(["world", "-o", str(tmp_path / "w"), "--num", "2", "--seed", "1", "--no-progress"]) == 0
    assert len((tmp_path / "w" / "manifest.jsonl").read_text().splitlines()) == 2
    assert "wrote 2 samples" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, message in [
        (["--num", "0"], "--num must be >= 1, got 0"),
        (["--num", "2", "--heldout-fraction", "2"], "heldout_fraction must be in [0, 1], got 2.0"),
    ]:
        assert main(["world", "-o", str(tmp_path / "x"), *args]) == 2
        assert message in capsys.readouterr().err
    assert main(["world", "-o", str(blocker), "--num", "1"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["world", "-o", str(blocker / "sub"), "--num", "1"]) == 2
    assert "cannot create output directory" in capsys.readouterr().err


def test_cli_world_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["world", "--help"])
    out = capsys.readouterr().out
    assert "manifest.jsonl" in out and "examples:" in out and "--heldout-fraction" in out
