"""Unit tests for moviegen.data (SPEC 5): manifests, buckets, decoding, skipping, sampling, resume, latent cache.

Fixtures are tiny media files written with moviegen.io (32..64 px, a few frames) and a small bucket config, so the
whole file runs in seconds.
"""

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from moviegen.data import (
    BatchIterator,
    Bucket,
    BucketBatchSampler,
    BucketConfig,
    LatentBatchIterator,
    LatentDataset,
    ManifestEntry,
    SampleError,
    SkipReason,
    TextMode,
    VideoDataset,
    assign_bucket,
    bucket_or_reason,
    buckets_tiny,
    buckets_tiny_lowres,
    cache_latents,
    choose_text,
    latent_cache,
    read_manifest,
    resample_indices,
)
from moviegen.data.sampler import derive_seed
from moviegen.io import write_image, write_video
from moviegen.tae import TemporalAutoencoder, TemporalUpsample, tae_debug

# Small stage: square, landscape and portrait buckets; 4 or 8 frames at 8 fps; images.
SMALL = BucketConfig(sizes=((32, 32), (48, 32), (32, 48)), frame_counts=(4, 8), fps=8, image=True)


def _ramp_video(num_frames: int, *, width: int = 32, height: int = 32, step: int = 7) -> np.ndarray:
    """Frame t is a flat gray of value 10 + step * t (frame identity survives H.264 on flat frames)."""
    values = 10 + step * np.arange(num_frames, dtype=np.int64)
    return np.broadcast_to(values[:, None, None, None], (num_frames, height, width, 3)).astype(np.uint8).copy()


def _record(sample_id: str, path: str, *, kind="video", width=32, height=32, fps=8, num_frames=16, **extra) -> dict:
    record = {
        "id": sample_id, "path": path, "kind": kind, "split": "train", "width": width, "height": height,
        "fps": fps if kind == "video" else None, "num_frames": num_frames if kind == "video" else 1, "seconds": 1.0,
        "caption": f"A dense caption of {sample_id}.", "prompts": [f"{sample_id} short", f"{sample_id} other"],
        "camera": "static", "text": None, "scene": {"objects": 1}, "audio": None,
    }
    record.update(extra)
    return record


def _write_manifest(root: Path, records: list[dict]) -> Path:
    path = root / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A tiny world: 6 good square videos, 2 images, 1 landscape video, 1 too-short video and 3 corrupt files."""
    root = tmp_path_factory.mktemp("world")
    (root / "videos").mkdir()
    (root / "images").mkdir()
    records = []
    for k in range(6):
        write_video(root / f"videos/v{k}.mp4", _ramp_video(16, step=7 + k), fps=8)
        records.append(_record(f"v{k}", f"videos/v{k}.mp4", camera="pan left" if k % 2 else "static"))
    for k in range(2):
        write_image(root / f"images/i{k}.png", np.full((32, 32, 3), 40 * (k + 1), np.uint8))
        records.append(_record(f"i{k}", f"images/i{k}.png", kind="image"))
    write_video(root / "videos/wide.mp4", _ramp_video(8, width=64, height=32), fps=8)
    records.append(_record("wide", "videos/wide.mp4", width=64, height=32, num_frames=8, split="heldout"))
    write_video(root / "videos/short.mp4", _ramp_video(3), fps=8)
    records.append(_record("short", "videos/short.mp4", num_frames=3))
    (root / "videos/empty.mp4").write_bytes(b"")
    good = (root / "videos/v0.mp4").read_bytes()
    (root / "videos/truncated.mp4").write_bytes(good[: len(good) // 2])
    (root / "videos/text.mp4").write_text("this is not a video\n")
    for name in ("empty", "truncated", "text"):
        records.append(_record(name, f"videos/{name}.mp4"))
    _write_manifest(root, records)
    return root


# ----------------------------------------------------------------------------------------------------- manifests


def test_read_manifest_dir_file_and_split(world):
    entries = read_manifest(world)
    assert [e.id for e in entries][:3] == ["v0", "v1", "v2"]
    assert entries == read_manifest(world / "manifest.jsonl")
    v1 = entries[1]
    assert v1.path == world / "videos/v1.mp4" and v1.path.is_absolute()
    assert (v1.kind, v1.width, v1.height, v1.fps, v1.num_frames) == ("video", 32, 32, 8.0, 16)
    assert v1.prompts == ("v1 short", "v1 other") and v1.camera == "pan left"
    assert v1.meta == {"seconds": 1.0, "text": None, "scene": {"objects": 1}, "audio": None}
    image = next(e for e in entries if e.kind == "image")
    assert image.fps is None and image.num_frames == 1
    assert [e.id for e in read_manifest(world, split="heldout")] == ["wide"]
    with pytest.raises(ValueError, match="split 'test'.*heldout"):
        read_manifest(world, split="test")


def test_read_manifest_folder_with_sidecars(tmp_path, caplog):
    write_video(tmp_path / "a.mp4", _ramp_video(12, width=48, height=32), fps=12)
    (tmp_path / "a.txt").write_text("A gray clip.\n")
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub/b.png", np.zeros((20, 30, 3), np.uint8))
    (tmp_path / "sub/b.txt").write_text("A black image.")
    write_video(tmp_path / "nocaption.mp4", _ramp_video(4), fps=8)
    with caplog.at_level(logging.WARNING):
        entries = read_manifest(tmp_path)
    assert [e.id for e in entries] == ["a", "sub/b"]
    a, b = entries
    assert (a.kind, a.width, a.height, a.fps, a.num_frames, a.caption) == ("video", 48, 32, 12.0, 12, "A gray clip.")
    assert (b.kind, b.width, b.height, b.fps, b.num_frames) == ("image", 30, 20, None, 1)
    assert "nocaption.mp4" in caplog.text


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", "line 2: not valid JSON"),
        (json.dumps({k: v for k, v in _record("x", "x.mp4").items() if k != "caption"}), "line 2: missing.*caption"),
        (json.dumps(_record("x", "x.mp4", width="32")), "line 2: key 'width' must be int, got '32'"),
        (json.dumps(_record("x", "x.mp4", kind="audio")), "line 2: key 'kind' must be one of"),
        (json.dumps(_record("x", "x.mp4", fps=None)), "line 2: key 'fps' must be"),
        (json.dumps(_record("v", "v.mp4")), "duplicate sample id 'v'"),
    ],
)
def test_read_manifest_bad_lines(tmp_path, line, match):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(_record("v", "v.mp4")) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=match) as info:
        read_manifest(path)
    if "duplicate" not in match:
        assert str(path) in str(info.value)


def test_read_manifest_missing_source(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_manifest(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no captioned video or image"):
        read_manifest(tmp_path / "empty")


# ------------------------------------------------------------------------------------------------------- buckets


def _entry(*, kind="video", width=128, height=128, fps=16.0, num_frames=64) -> ManifestEntry:
    return ManifestEntry(
        id="x", path=Path("/x"), kind=kind, split="train", width=width, height=height,
        fps=None if kind == "image" else fps, num_frames=1 if kind == "image" else num_frames, caption="c",
    )


def test_buckets_presets():
    assert buckets_tiny().sizes == ((128, 128), (160, 96), (96, 160))
    assert buckets_tiny().frame_counts == (32, 48, 64) and buckets_tiny().fps == 16
    assert buckets_tiny_lowres().sizes == ((64, 64), (80, 48), (48, 80))
    assert len(buckets_tiny().buckets) == 12
    with pytest.raises(ValueError, match="ascending"):
        BucketConfig(sizes=((32, 32),), frame_counts=(8, 4))
    with pytest.raises(ValueError, match="got 'bad'"):
        Bucket.parse("bad")
    assert Bucket.parse(str(Bucket(width=160, height=96, num_frames=48))) == Bucket(width=160, height=96, num_frames=48)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((128, 128), (128, 128)), ((1920, 1080), (160, 96)), ((1080, 1920), (96, 160)), ((640, 600), (128, 128)),
     ((300, 160), (160, 96))],
)
def test_assign_bucket_aspect(size, expected):
    bucket = assign_bucket(_entry(width=size[0], height=size[1]), buckets_tiny())
    assert (bucket.width, bucket.height) == expected


@pytest.mark.parametrize(
    ("fps", "num_frames", "expected"),
    [(16, 64, 64), (16, 63, 48), (16, 47, 32), (16, 200, 64), (32, 128, 64), (32, 100, 48), (24, 48, 32),
     (30, 59, None), (16, 31, None)],
)
def test_assign_bucket_duration(fps, num_frames, expected):
    entry = _entry(fps=float(fps), num_frames=num_frames)
    bucket = assign_bucket(entry, buckets_tiny())
    assert (bucket.num_frames if bucket else None) == expected
    if expected is None:
        assert bucket_or_reason(entry, buckets_tiny()).startswith("too short")


def test_assign_bucket_images():
    assert assign_bucket(_entry(kind="image", width=200, height=120), buckets_tiny()) == Bucket(
        width=160, height=96, num_frames=1
    )
    video_only = BucketConfig(sizes=((32, 32),), frame_counts=(4,), image=False)
    assert assign_bucket(_entry(kind="image"), video_only) is None


def test_resample_indices():
    assert resample_indices(8, fps=32, target_fps=16) == [0, 2, 4, 6]
    assert resample_indices(4, fps=16, target_fps=16) == [0, 1, 2, 3]
    assert resample_indices(3, fps=8, target_fps=16) == [0, 0, 1, 1, 2, 2]


# ------------------------------------------------------------------------------------------------------- dataset


def _frame_values(video_CTHW: torch.Tensor) -> np.ndarray:
    """Mean uint8-scale gray value of each frame."""
    return ((video_CTHW.mean(dim=(0, 2, 3)) + 1) * 127.5).numpy()


def test_dataset_shape_range_central_clip(world):
    entries = read_manifest(world)
    dataset = VideoDataset(entries, buckets=SMALL)
    sample = dataset.load(0)
    assert sample.bucket == Bucket(width=32, height=32, num_frames=8)
    assert sample.video_CTHW.shape == (3, 8, 32, 32) and sample.video_CTHW.dtype == torch.float32
    assert sample.video_CTHW.min() >= -1 and sample.video_CTHW.max() <= 1
    assert (sample.fps, sample.camera, sample.id) == (8, "static", "v0")
    # 16 frames at 8 fps -> the central 8 are frames 4..11, i.e. values 10 + 7 t.
    np.testing.assert_allclose(_frame_values(sample.video_CTHW), 10 + 7 * np.arange(4, 12), atol=2.5)
    image = dataset.load(next(i for i, e in enumerate(entries) if e.id == "i1"))
    assert image.video_CTHW.shape == (3, 1, 32, 32) and image.fps is None
    torch.testing.assert_close(image.video_CTHW, torch.full((3, 1, 32, 32), 80 / 127.5 - 1))
    # every sample of a bucket has the same shape
    shapes = {dataset.load(i).video_CTHW.shape for i in range(6)}
    assert shapes == {(3, 8, 32, 32)}


def test_dataset_fps_resampling(tmp_path):
    """A 32 fps file read at 8 fps takes every fourth frame (central window)."""
    write_video(tmp_path / "fast.mp4", _ramp_video(40, step=5), fps=32)
    entries = [ManifestEntry(id="fast", path=tmp_path / "fast.mp4", kind="video", split="train", width=32, height=32,
                             fps=32.0, num_frames=40, caption="c")]
    cfg = BucketConfig(sizes=((32, 32),), frame_counts=(4, 8), fps=16)
    sample = VideoDataset(entries, buckets=cfg).load(0)
    # 40 frames at 32 fps -> 20 frames at 16 fps (source 0, 2, ..., 38); central 8 start at 6 -> source 12..26.
    np.testing.assert_allclose(_frame_values(sample.video_CTHW), 10 + 5 * np.arange(12, 28, 2), atol=2.5)


def test_dataset_resize_and_centre_crop(tmp_path):
    # 64x32 frame: left 8 columns red, right 8 columns blue, gray in between -> bucket 48x32 crops columns 8..55.
    frames = np.full((8, 32, 64, 3), 128, np.uint8)
    frames[:, :, :8] = (220, 40, 40)
    frames[:, :, 56:] = (50, 90, 230)
    write_video(tmp_path / "wide.mp4", frames, fps=8)
    # a 128x64 image into the 48x32 bucket: scale 1/2 to 64x32, crop columns 8..55, i.e. source columns 16..111
    image = np.zeros((64, 128, 3), np.uint8)
    image[:, 16:112] = 255
    write_image(tmp_path / "img.png", image)
    entries = [
        ManifestEntry(id="w", path=tmp_path / "wide.mp4", kind="video", split="train", width=64, height=32, fps=8.0,
                      num_frames=8, caption="c"),
        ManifestEntry(id="i", path=tmp_path / "img.png", kind="image", split="train", width=128, height=64, fps=None,
                      num_frames=1, caption="c"),
    ]
    dataset = VideoDataset(entries, buckets=SMALL)
    wide = dataset.load(0).video_CTHW
    assert wide.shape == (3, 8, 32, 48)
    # no red or blue survives: every pixel is near gray
    assert (wide - (128 / 127.5 - 1)).abs().max() < 0.15
    img = dataset.load(1).video_CTHW
    assert img.shape == (3, 1, 32, 48)
    assert img[:, :, :, 1:-1].min() > 0.95  # the centre crop is the white band


def test_dataset_corrupt_and_short_raise(world):
    dataset = VideoDataset(read_manifest(world), buckets=SMALL)
    index = {e.id: i for i, e in enumerate(dataset.entries)}
    assert dataset.bucket_of[index["short"]] is None
    assert dataset.skips.counts == {"too_short": 1}
    expected = {"empty": SkipReason.EMPTY, "truncated": SkipReason.UNDECODABLE, "text": SkipReason.UNDECODABLE,
                "short": SkipReason.TOO_SHORT}
    for name, reason in expected.items():
        with pytest.raises(SampleError, match=name) as info:
            dataset.load(index[name])
        assert info.value.reason is reason
        assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------------------------- sampler


def _bucket_of(num_videos: int, num_images: int) -> list[Bucket | None]:
    square, wide, img = (Bucket(width=32, height=32, num_frames=8), Bucket(width=48, height=32, num_frames=4),
                         Bucket(width=32, height=32, num_frames=1))
    videos = [square if k % 3 else wide for k in range(num_videos)]
    return videos + [img] * num_images + [None, None]


def _take(sampler: BucketBatchSampler, n: int) -> list[list[int]]:
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_sampler_batches_single_bucket_full_and_deterministic():
    bucket_of = _bucket_of(50, 20)
    sampler = BucketBatchSampler(bucket_of, batch_size=4, seed=3)
    epoch0 = sampler.epoch_batches(0)
    assert len(epoch0) == len(sampler) == 33 // 4 + 17 // 4 + 20 // 4
    for batch in epoch0:
        assert len(batch) == 4 and len({bucket_of[i] for i in batch}) == 1 and None not in {bucket_of[i] for i in batch}
    assert len({i for b in epoch0 for i in b}) == 4 * len(epoch0)  # no repeats within an epoch
    assert epoch0 == BucketBatchSampler(bucket_of, batch_size=4, seed=3).epoch_batches(0)
    assert epoch0 != sampler.epoch_batches(1)
    assert epoch0 != BucketBatchSampler(bucket_of, batch_size=4, seed=4).epoch_batches(0)
    assert _take(sampler, 2 * len(sampler)) == epoch0 + sampler.epoch_batches(1)  # epochs roll over


def test_sampler_exact_resume():
    bucket_of = _bucket_of(30, 10)
    reference = _take(BucketBatchSampler(bucket_of, batch_size=3, seed=7, image_ratio=0.25), 20)
    first = BucketBatchSampler(bucket_of, batch_size=3, seed=7, image_ratio=0.25)
    assert _take(first, 7) == reference[:7]
    state = first.state_dict()
    assert state == {"epoch": 7 // len(first), "batch_in_epoch": 7 % len(first)}
    resumed = BucketBatchSampler(bucket_of, batch_size=3, seed=7, image_ratio=0.25)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    assert _take(resumed, 13) == reference[7:]
    with pytest.raises(ValueError, match="batch_in_epoch"):
        resumed.load_state_dict({"epoch": 0, "batch_in_epoch": 10**6})


@pytest.mark.parametrize(("ratio", "num_images"), [(0.1, 40), (0.5, 8), (0.0, 40)])
def test_sampler_image_ratio(ratio, num_images):
    bucket_of = _bucket_of(300, num_images)
    sampler = BucketBatchSampler(bucket_of, batch_size=4, seed=0, image_ratio=ratio)
    num_video_batches = 200 // 4 + 100 // 4
    for epoch in range(3):
        kinds = Counter(bucket_of[b[0]].is_image for b in sampler.epoch_batches(epoch))
        assert kinds[False] == num_video_batches and kinds[True] == round(ratio * num_video_batches)
    with pytest.raises(ValueError, match="needs image batches"):
        BucketBatchSampler(_bucket_of(30, 0), batch_size=4, seed=0, image_ratio=0.1)
    with pytest.raises(ValueError, match="no bucket holds a full batch"):
        BucketBatchSampler(_bucket_of(3, 0), batch_size=4, seed=0)


# ------------------------------------------------------------------------------------------------ loader & texts


def test_choose_text_modes_and_determinism():
    prompts = ("p0", "p1", "p2")
    kwargs = dict(caption="CAP", prompts=prompts, seed=5)
    assert all(choose_text(mode=TextMode.CAPTION, epoch=e, sample_id=str(e), **kwargs) == "CAP" for e in range(20))
    picks = [choose_text(mode=TextMode.PROMPTS, epoch=e, sample_id="a", **kwargs) for e in range(60)]
    assert set(picks) == set(prompts)
    mixed = [choose_text(mode=TextMode.MIXED, epoch=0, sample_id=f"id{k}", **kwargs) for k in range(400)]
    assert 150 < mixed.count("CAP") < 250 and set(mixed) == {"CAP", *prompts}
    assert mixed == [choose_text(mode=TextMode.MIXED, epoch=0, sample_id=f"id{k}", **kwargs) for k in range(400)]
    assert choose_text(mode=TextMode.PROMPTS, caption="CAP", prompts=(), seed=0, epoch=0, sample_id="a") == "CAP"


def _square_world(world: Path) -> VideoDataset:
    """The 6 good square videos, the 3 corrupt files and the short one (which gets no bucket)."""
    entries = [e for e in read_manifest(world) if e.kind == "video" and e.id != "wide"]
    return VideoDataset(entries, buckets=SMALL)


def test_loader_skips_corrupt_files_and_counts_reasons(world, caplog):
    dataset = _square_world(world)
    batches = BatchIterator(dataset, BucketBatchSampler(dataset.bucket_of, batch_size=3, seed=0), seed=0)
    with caplog.at_level(logging.WARNING):
        seen = [next(batches) for _ in range(6)]  # 2 epochs of 3 batches
    for batch in seen:
        assert batch.video_BCTHW.shape == (3, 3, 8, 32, 32) and batch.fps == 8
        assert set(batch.ids) <= {f"v{k}" for k in range(6)}  # a corrupt sample never reaches a batch
        assert batch.texts == [f"A dense caption of {i}." for i in batch.ids]
    assert batches.skips.counts == {"empty": 1, "undecodable": 2, "too_short": 1}
    assert sorted(Path(p).name for p in batches.skips.paths) == ["empty.mp4", "short.mp4", "text.mp4",
                                                                "truncated.mp4"]
    # logged once, although met in both epochs
    assert sum("truncated.mp4" in record.getMessage() for record in caplog.records) == 1
    assert "undecodable=2" in batches.summary() and batches.dropped_batches == 0


def test_loader_exact_resume_with_skips_and_texts(world):
    dataset = _square_world(world)

    def make() -> BatchIterator:
        sampler = BucketBatchSampler(dataset.bucket_of, batch_size=2, seed=1)
        return BatchIterator(dataset, sampler, text_mode="mixed", seed=1)

    reference = [next(b) for b in [make()] for _ in range(9)]
    first = make()
    for _ in range(4):
        next(first)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = make()
    resumed.load_state_dict(state)
    assert resumed.skips.counts == first.skips.counts
    for expected in reference[4:]:
        got = next(resumed)
        assert got.ids == expected.ids and got.texts == expected.texts and got.camera == expected.camera
        torch.testing.assert_close(got.video_BCTHW, expected.video_BCTHW, rtol=0, atol=0)
    texts = [t for b in reference for t in b.texts]
    assert any(t.startswith("A dense") for t in texts) and any(not t.startswith("A dense") for t in texts)
    with pytest.raises(ValueError, match="text_mode must be one of"):
        BatchIterator(dataset, BucketBatchSampler(dataset.bucket_of, batch_size=2, seed=1), text_mode="x", seed=1)


# -------------------------------------------------------------------------------------------------- latent cache


@pytest.fixture(scope="module")
def tae() -> TemporalAutoencoder:
    torch.manual_seed(0)
    return TemporalAutoencoder(tae_debug()).eval()


def _count_encodes(tae: TemporalAutoencoder, monkeypatch) -> list[int]:
    calls = []
    encode = tae.encode

    def counting(video_BCTHW, **kwargs):
        calls.append(video_BCTHW.shape[0])
        return encode(video_BCTHW, **kwargs)

    monkeypatch.setattr(tae, "encode", counting)
    return calls


def test_latent_cache_round_trip_and_resume(world, tae, tmp_path, monkeypatch):
    dataset = VideoDataset(read_manifest(world), buckets=SMALL)
    calls = _count_encodes(tae, monkeypatch)
    out = cache_latents(dataset, tae, tmp_path / "cache", batch_size=4, shard_size=4, progress=False)
    assert sum(calls) == 9  # 6 square videos + 2 images + 1 wide video; 3 corrupt inputs never reach the TAE
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_samples"] == 9
    assert summary["skipped"] == {"empty": 1, "undecodable": 2, "too_short": 1}

    cached = LatentDataset(out)
    assert len(cached) == 9 and [r["index"] for r in cached.records] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert cached.bucket_of == dataset.bucket_of[:9]
    by_id = {r["id"]: k for k, r in enumerate(cached.records)}
    for i in (0, 6, 8):  # a square video, an image, the wide video
        entry = dataset.entries[i]
        sample = cached.load(by_id[entry.id])
        with torch.no_grad():
            direct = tae.encode(dataset.load(i).video_CTHW[None], sample=False)
        assert sample.bucket == dataset.bucket_of[i] and sample.caption == entry.caption
        assert sample.prompts == entry.prompts and sample.camera == entry.camera
        torch.testing.assert_close(sample.mean_CTHW, direct.posterior_mean_BCTHW[0], rtol=2e-3, atol=2e-3)
        torch.testing.assert_close(sample.logvar_CTHW, direct.posterior_logvar_BCTHW[0], rtol=2e-3, atol=2e-3)
    assert cached.load(by_id["v0"]).mean_CTHW.shape == (16, 4, 16, 16)  # tae_debug: 2x in time and space
    assert [r["id"] for r in LatentDataset(out, split="heldout").records] == ["wide"]

    # resume: a finished cache encodes nothing; a lost shard is re-encoded alone
    calls.clear()
    shards = sorted(out.glob("shard-*.safetensors"))
    mtimes = [p.stat().st_mtime_ns for p in shards]
    cache_latents(dataset, tae, out, batch_size=4, shard_size=4, progress=False)
    assert calls == [] and [p.stat().st_mtime_ns for p in shards] == mtimes
    shards[0].unlink()
    cache_latents(dataset, tae, out, batch_size=4, shard_size=4, progress=False)
    assert 0 < sum(calls) <= 4 and len(LatentDataset(out)) == 9
    with pytest.raises(ValueError, match="other settings.*dtype"):
        cache_latents(dataset, tae, out, batch_size=4, shard_size=4, dtype="bfloat16", progress=False)


def test_latent_cache_ignores_the_tae_latent_normalisation(world, tae, tmp_path, monkeypatch):
    """The raw posterior does not depend on ``scaling_factor`` / ``shift_factor``: a cache built with a trained
    checkpoint's TAE config serves a recipe's default one without re-encoding, also a cache that recorded them."""
    dataset = _square_world(world)
    normalised = TemporalAutoencoder(dataclasses.replace(tae.cfg, scaling_factor=0.4, shift_factor=0.05)).eval()
    normalised.load_state_dict(tae.state_dict())
    out = cache_latents(dataset, normalised, tmp_path / "cache", batch_size=6, progress=False)
    assert "scaling_factor" not in json.loads((out / "cache.json").read_text())["tae"]
    calls = _count_encodes(tae, monkeypatch)
    cache_latents(dataset, tae, out, batch_size=6, progress=False)
    assert calls == []

    # a cache written before the normalisation was left out records it, and its shards' fingerprints include it
    old = tmp_path / "old"
    settings_path = old / "cache.json"
    monkeypatch.setattr(latent_cache, "_posterior_settings", lambda settings: settings)
    cache_latents(dataset, normalised, old, batch_size=6, progress=False)
    assert json.loads(settings_path.read_text())["tae"]["scaling_factor"] == 0.4
    monkeypatch.undo()
    calls = _count_encodes(tae, monkeypatch)
    cache_latents(dataset, tae, old, batch_size=6, progress=False)
    assert calls == []  # resumed as finished, not refused and not re-encoded
    other = TemporalAutoencoder(dataclasses.replace(tae.cfg, layers_per_block=2)).eval()
    with pytest.raises(ValueError, match="other settings.*tae"):
        cache_latents(dataset, other, old, batch_size=6, progress=False)


def test_latent_cache_ignores_the_decoder_temporal_upsampling(world, tae, tmp_path, monkeypatch):
    """``temporal_upsample`` changes only the decoder: a cache serves either choice, also one written before the
    setting existed (its recorded TAE config lacks the key)."""
    dataset = _square_world(world)
    out = cache_latents(dataset, tae, tmp_path / "cache", batch_size=6, progress=False)
    recorded = json.loads((out / "cache.json").read_text())
    assert "temporal_upsample" not in recorded["tae"]
    linear = TemporalAutoencoder(dataclasses.replace(tae.cfg, temporal_upsample=TemporalUpsample.LINEAR)).eval()
    linear.load_state_dict(tae.state_dict())
    calls = _count_encodes(linear, monkeypatch)
    cache_latents(dataset, linear, out, batch_size=6, progress=False)
    assert calls == []
    # an older cache recorded the full config of its day, without the key, and its fingerprints use that record
    old = tmp_path / "old"
    monkeypatch.setattr(latent_cache, "_posterior_settings", lambda settings: {
        **settings, "tae": {k: v for k, v in settings["tae"].items() if k != "temporal_upsample"}})
    cache_latents(dataset, tae, old, batch_size=6, progress=False)
    monkeypatch.undo()
    assert "layers_per_block" in json.loads((old / "cache.json").read_text())["tae"]
    calls = _count_encodes(tae, monkeypatch)
    cache_latents(dataset, tae, old, batch_size=6, progress=False)
    assert calls == []


def test_latent_batch_iterator_posterior_sampling_and_resume(world, tae, tmp_path):
    dataset = _square_world(world)
    out = cache_latents(dataset, tae, tmp_path / "cache", batch_size=6, progress=False)
    cached = LatentDataset(out)
    assert len(cached) == 6

    def make() -> LatentBatchIterator:
        return LatentBatchIterator(cached, BucketBatchSampler(cached.bucket_of, batch_size=2, seed=2), seed=2)

    reference = [next(b) for b in [make()] for _ in range(6)]
    batch = reference[0]
    assert batch.latent_BCTHW.shape == (2, 16, 4, 16, 16) and batch.fps == 8
    # the latent is mean + exp(logvar / 2) * eps with eps from (seed, epoch 0, id)
    sample = cached.load(next(k for k, r in enumerate(cached.records) if r["id"] == batch.ids[0]))
    generator = torch.Generator().manual_seed(derive_seed(2, 21, 0, sample.id))
    eps = torch.randn(sample.mean_CTHW.shape, generator=generator)
    torch.testing.assert_close(batch.latent_BCTHW[0], sample.mean_CTHW + torch.exp(0.5 * sample.logvar_CTHW) * eps)
    # a new epoch draws a new latent for the same sample
    later = next(b for b in reference[3:] if sample.id in b.ids)
    assert not torch.allclose(later.latent_BCTHW[later.ids.index(sample.id)], batch.latent_BCTHW[0])
    assert cached.skips.counts == {"empty": 1, "undecodable": 2, "too_short": 1}

    first = make()
    for _ in range(2):
        next(first)
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    for expected in reference[2:]:
        got = next(resumed)
        assert got.ids == expected.ids and got.texts == expected.texts
        torch.testing.assert_close(got.latent_BCTHW, expected.latent_BCTHW, rtol=0, atol=0)
