"""Audio-visual training data for Movie Gen Audio: a resumable cache of every video's sound and small frames, the
dataset over it, and the batch iterators of the codec and transformer stages.

On disk (``cache_dir``)::

    cache.json                   settings (sample rate, frame size, shard size) and the data directory
    shard-00000.safetensors      "<id>/audio" float16 [N] mono at the codec's rate; "<id>/frames" uint8 [T, 3, S, S]
    ...                          (the shard's records and skipped inputs in its metadata)
    index.jsonl                  one line per cached sample: id, shard, split, fps, seconds, text, prompts,
                                 impacts, music, rms
    latents-<key>/               codec latents of every cached sample (:func:`cache_codec_latents`), one per codec

Each shard is written atomically and skipped on a rerun when its fingerprint (ids + settings) matches, as the video
latent cache does (:mod:`moviegen.data.latent_cache`). Unreadable videos and videos without an audio track are
skipped, counted by reason and listed in ``summary.json``.

Texts: a world sample trains on its templated audio caption (SPEC 11.5, :func:`moviegen.world.captions.audio_caption`)
or one of its short audio prompts; another dataset's sample trains on its own caption.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from moviegen.data.buckets import Bucket
from moviegen.data.latent_cache import fingerprint
from moviegen.data.loader import BatchIterator
from moviegen.data.manifest import ManifestEntry, read_manifest
from moviegen.data.sampler import derive_rng
from moviegen.data.skips import SkipLog, SkipReason
from moviegen.eval.onsets import detect_onsets
from moviegen.io.checkpoint_files import write_json
from moviegen.io.media import MediaError, atomic_path, read_video
from moviegen.world.captions import audio_caption, audio_prompts

SETTINGS_NAME, INDEX_NAME, SUMMARY_NAME = "cache.json", "index.jsonl", "summary.json"
# Every cached clip goes into one pseudo-bucket: crops, not buckets, give batches their common shape.
AV_BUCKET = Bucket(width=1, height=1, num_frames=1)
_TAG_CROP = 31


def sample_texts(entry: ManifestEntry) -> tuple[str, tuple[str, ...], tuple[float, ...], str | None]:
    """``(caption, prompts, impact onsets in s, music)`` of a sample: the world's audio metadata when present."""
    audio = entry.meta.get("audio")
    scene = entry.meta.get("scene")
    if isinstance(audio, dict) and isinstance(scene, dict):
        shapes = tuple(o["shape"] for o in scene.get("objects", ()) if o.get("motion") == "bounces")
        music = audio.get("music")
        return (
            audio_caption(impact_shapes=shapes, music=music),
            audio_prompts(impact_shapes=shapes, music=music),
            tuple(float(t) for t in audio.get("impacts", ())),
            music,
        )
    return entry.caption, entry.prompts, (), None


@dataclass(frozen=True, kw_only=True)
class AVCacheSettings:
    sample_rate: int
    frame_size: int
    shard_size: int = 64


def build_av_cache(
    data_dir: str | Path, cache_dir: str | Path, *, settings: AVCacheSettings, progress: bool = True
) -> dict[str, Any]:
    """Decode every video of ``data_dir`` (all splits) into ``cache_dir``; resumes, and a finished cache is a no-op.

    Returns:
        The summary: samples cached, skipped inputs by reason.

    Raises:
        ValueError: ``cache_dir`` holds a cache built with other settings.
    """
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    entries = [e for e in read_manifest(data_dir) if e.kind == "video"]
    wanted = {"sample_rate": settings.sample_rate, "frame_size": settings.frame_size, "shard_size": settings.shard_size}
    settings_file = cache_dir / SETTINGS_NAME
    if settings_file.is_file():
        existing = json.loads(settings_file.read_text())
        if existing.get("settings") != wanted:
            raise ValueError(
                f"{cache_dir} holds an audio-visual cache built with {existing.get('settings')}, not {wanted}; "
                "choose another cache directory"
            )
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings_file, {"settings": wanted, "data_dir": str(data_dir)})
    chunks = [entries[k : k + settings.shard_size] for k in range(0, len(entries), settings.shard_size)]
    records: list[dict[str, Any]] = []
    skips = SkipLog()
    for n, chunk in enumerate(tqdm(chunks, desc="audio-visual cache", unit="shard", disable=not progress)):
        shard = cache_dir / f"shard-{n:05d}.safetensors"
        expected = fingerprint({"ids": [e.id for e in chunk], **wanted})
        meta = _read_shard_meta(shard)
        if meta is None or meta.get("fingerprint") != expected:
            meta = _write_shard(shard, chunk, settings=settings, fingerprint=expected)
        records += json.loads(meta["records"])
        for path, reason, message in json.loads(meta["skipped"]):
            skips.add(path, reason=SkipReason(reason), message=message, log=False)
    with atomic_path(cache_dir / INDEX_NAME) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    summary = {"samples": len(records), "skipped": skips.counts, "skipped_paths": skips.paths, "settings": wanted}
    write_json(cache_dir / SUMMARY_NAME, summary)
    return summary


def _read_shard_meta(shard: Path) -> dict[str, str] | None:
    if not shard.is_file():
        return None
    try:
        with safe_open(str(shard), framework="pt") as f:
            return f.metadata()
    except Exception:  # a torn or foreign file: rebuild it
        return None


def _write_shard(
    shard: Path, chunk: Sequence[ManifestEntry], *, settings: AVCacheSettings, fingerprint: str
) -> dict[str, str]:
    tensors: dict[str, torch.Tensor] = {}
    records, skipped = [], []
    for entry in chunk:
        try:
            clip = read_video(entry.path, audio=True, sample_rate=settings.sample_rate, size=(settings.frame_size,) * 2)
        except MediaError as err:
            skipped.append((str(entry.path), SkipReason.UNDECODABLE.value, str(err)))
            continue
        if clip.audio_CN is None:
            skipped.append((str(entry.path), SkipReason.NO_AUDIO.value, f"{entry.path}: no audio track"))
            continue
        # The clip's duration, from its frames: AAC decoders emit a few priming/padding samples past it.
        samples = round(clip.seconds * settings.sample_rate)
        audio_N = np.zeros(samples, dtype=np.float32)
        decoded = clip.audio_CN.mean(axis=0)[:samples]
        audio_N[: decoded.size] = decoded
        tensors[f"{entry.id}/audio"] = torch.from_numpy(audio_N).to(torch.float16)
        tensors[f"{entry.id}/frames"] = torch.from_numpy(clip.frames_THWC).permute(0, 3, 1, 2).contiguous()
        caption, prompts, impacts, music = sample_texts(entry)
        records.append(
            {
                "id": entry.id,
                "shard": shard.name,
                "split": entry.split,
                "fps": clip.fps,
                "seconds": samples / settings.sample_rate,
                "text": caption,
                "prompts": list(prompts),
                "impacts": list(impacts),
                "music": music,
                "rms": float(np.sqrt(np.mean(audio_N.astype(np.float64) ** 2))),
            }
        )
    meta = {"fingerprint": fingerprint, "records": json.dumps(records), "skipped": json.dumps(skipped)}
    with atomic_path(shard) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return meta


@dataclass(frozen=True, kw_only=True)
class AVSample:
    """One cached clip: mono audio, small frames and its texts (and its codec latent when a latent cache is given)."""

    id: str
    audio_N: torch.Tensor
    frames_TCHW: torch.Tensor
    fps: float
    caption: str
    prompts: tuple[str, ...]
    impacts: tuple[float, ...]
    music: str | None
    latent_CL: torch.Tensor | None = None


class AVDataset:
    """A finished audio-visual cache as a :class:`~moviegen.data.loader.LoadableDataset`.

    Args:
        cache_dir: written by :func:`build_av_cache`.
        split: keep the samples of this split (None: all).
        latent_dir: also load each sample's codec latent from this :func:`cache_codec_latents` output.
        min_rms: keep only clips whose audio RMS is at least this (0: all, silent ones included).

    Raises:
        ValueError: not a finished cache, or no sample of ``split``.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        split: str | None = None,
        latent_dir: str | Path | None = None,
        min_rms: float = 0.0,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        index = self.cache_dir / INDEX_NAME
        if not index.is_file():
            raise ValueError(f"{self.cache_dir} is not a finished audio-visual cache (no {INDEX_NAME})")
        records = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line]
        self.records = [r for r in records if (split is None or r["split"] == split) and r["rms"] >= min_rms]
        if not self.records:
            raise ValueError(f"{self.cache_dir} has no cached sample of split {split!r} with audio RMS >= {min_rms}")
        self.latent_dir = None if latent_dir is None else Path(latent_dir)
        self.bucket_of: list[Bucket | None] = [AV_BUCKET] * len(self.records)
        self.skips = SkipLog()
        self.sample_rate = int(json.loads((self.cache_dir / SETTINGS_NAME).read_text())["settings"]["sample_rate"])

    def __len__(self) -> int:
        return len(self.records)

    def source(self, i: int) -> str:
        return self.records[i]["id"]

    def audio(self, i: int) -> torch.Tensor:
        """Sample ``i``'s mono audio ``[N]`` alone (no frames read)."""
        r = self.records[i]
        with safe_open(str(self.cache_dir / r["shard"]), framework="pt") as f:
            return f.get_tensor(f"{r['id']}/audio").float()

    def latent(self, i: int) -> torch.Tensor:
        """Sample ``i``'s codec latent ``[C, L]`` alone (needs ``latent_dir``)."""
        if self.latent_dir is None:
            raise ValueError("this dataset was opened without latent_dir")
        r = self.records[i]
        with safe_open(str(self.latent_dir / r["shard"]), framework="pt") as f:
            return f.get_tensor(r["id"]).float()

    def load(self, i: int) -> AVSample:
        r = self.records[i]
        with safe_open(str(self.cache_dir / r["shard"]), framework="pt") as f:
            audio_N = f.get_tensor(f"{r['id']}/audio").float()
            frames = f.get_tensor(f"{r['id']}/frames")
        latent = None if self.latent_dir is None else self.latent(i)
        return AVSample(
            id=r["id"],
            audio_N=audio_N,
            frames_TCHW=frames,
            fps=float(r["fps"]),
            caption=r["text"],
            prompts=tuple(r["prompts"]),
            impacts=tuple(r["impacts"]),
            music=r["music"],
            latent_CL=latent,
        )


def cache_codec_latents(cache_dir: str | Path, *, codec: torch.nn.Module, key: str, progress: bool = True) -> Path:
    """Encode every cached clip's audio with ``codec`` (raw posterior mean) into ``cache_dir/latents-<key>/``.

    One safetensors file per audio shard, written atomically and skipped when present: reruns resume.
    """
    cache_dir = Path(cache_dir)
    out = cache_dir / f"latents-{key}"
    out.mkdir(exist_ok=True)
    dataset = AVDataset(cache_dir)
    by_shard: dict[str, list[int]] = {}
    for i, r in enumerate(dataset.records):
        by_shard.setdefault(r["shard"], []).append(i)
    hop = codec.cfg.hop
    for shard, members in tqdm(by_shard.items(), desc="audio latents", unit="shard", disable=not progress):
        if (out / shard).is_file():
            continue
        tensors = {}
        with torch.no_grad():
            for i in members:
                audio_N = dataset.audio(i)
                usable = audio_N.shape[0] // hop * hop
                latent = codec.encode(audio_N[None, None, :usable], sample=False).mean_BCL[0]  # raw: runs normalise
                tensors[dataset.records[i]["id"]] = latent.to(torch.float16).contiguous()
        with atomic_path(out / shard) as tmp:
            save_file(tensors, str(tmp))
    return out


def crop_start(*, seed: int, epoch: int, sample_id: str, span: int) -> int:
    """A random start in ``[0, span]``, a pure function of ``(seed, epoch, id)`` (resumable crops)."""
    return int(crop_starts(seed=seed, epoch=epoch, sample_id=sample_id, span=span, count=1)[0])


def crop_starts(*, seed: int, epoch: int, sample_id: str, span: int, count: int) -> list[int]:
    """``count`` random starts in ``[0, span]``, a pure function of ``(seed, epoch, id)``."""
    if span <= 0:
        return [0] * count
    return derive_rng(seed, _TAG_CROP, epoch, sample_id).integers(0, span + 1, size=count).tolist()


@dataclass(frozen=True, kw_only=True)
class AudioCropBatch:
    """Codec training: ``audio_B1N`` crops of equal length."""

    ids: list[str]
    audio_B1N: torch.Tensor


class AudioCropIterator(BatchIterator):
    """Random ``crop_samples`` windows of each clip's audio (a clip shorter than that is zero-padded).

    With ``candidates > 1`` each crop is the most energetic of that many random windows: sparse sounds (a 120 ms
    impact in a 3 s clip) then fill most crops instead of a few.
    """

    def __init__(self, dataset: AVDataset, sampler: Any, *, crop_samples: int, seed: int, candidates: int = 1) -> None:
        super().__init__(dataset, sampler, seed=seed)
        self.crop_samples, self.candidates = crop_samples, candidates

    def _collate(self, samples: Sequence[AVSample], *, epoch: int) -> AudioCropBatch:
        crops = []
        for s in samples:
            starts = crop_starts(
                seed=self.seed,
                epoch=epoch,
                sample_id=s.id,
                span=s.audio_N.shape[0] - self.crop_samples,
                count=self.candidates,
            )
            start = max(starts, key=lambda k: float(s.audio_N[k : k + self.crop_samples].pow(2).sum()))
            crop = s.audio_N[start : start + self.crop_samples]
            crops.append(torch.nn.functional.pad(crop, (0, self.crop_samples - crop.shape[0])))
        return AudioCropBatch(ids=[s.id for s in samples], audio_B1N=torch.stack(crops)[:, None])


def onset_frames(onsets_s: np.ndarray, *, frame_rate: float, start: int, length: int) -> torch.Tensor:
    """``[length]``: 1.0 on the latent frames ``start .. start + length - 1`` in which an onset time falls, else 0."""
    out = torch.zeros(length)
    index = np.floor(np.asarray(onsets_s) * frame_rate).astype(np.int64) - start
    out[torch.from_numpy(index[(index >= 0) & (index < length)])] = 1.0
    return out


@dataclass(frozen=True, kw_only=True)
class AudioWindowBatch:
    """Transformer training: latent windows with the whole clip's frames and where each window starts.

    Attributes:
        latent_BCL: codec latents of the windows.
        frames: per sample, the clip's frames ``[T, 3, S, S]`` uint8 (clips differ in length).
        starts: per sample, the window's first latent frame in its clip.
        fps: per sample, the frame rate.
        texts: the training text of each sample.
        onsets_BL: 1.0 on the window's latent frames where the impact-onset detector
            (:func:`moviegen.eval.onsets.detect_onsets`) fires on the clip's own sound, else 0 (zeros when the
            iterator was not asked for onsets).
    """

    ids: list[str]
    latent_BCL: torch.Tensor
    frames: list[torch.Tensor]
    starts: list[int]
    fps: list[float]
    texts: list[str]
    onsets_BL: torch.Tensor


class AudioWindowIterator(BatchIterator):
    """Random ``window`` latent frames of each clip, with its frames and a caption or short prompt (text mode).

    With ``frame_rate`` set, each window also carries the latent frames of the onsets in its clip's sound (detected
    once per clip and remembered: a pure function of the audio, so resumed runs see the same labels).
    """

    def __init__(
        self, dataset: AVDataset, sampler: Any, *, window: int, seed: int, text_mode: Any,
        frame_rate: float | None = None,
    ) -> None:
        super().__init__(dataset, sampler, seed=seed, text_mode=text_mode)
        if dataset.latent_dir is None:
            raise ValueError("AudioWindowIterator needs a dataset with codec latents (latent_dir=...)")
        self.window, self.frame_rate = window, frame_rate
        self._onsets: dict[str, np.ndarray] = {}

    def _clip_onsets(self, s: AVSample) -> np.ndarray:
        if s.id not in self._onsets:
            self._onsets[s.id] = detect_onsets(s.audio_N, sample_rate=self.dataset.sample_rate)
        return self._onsets[s.id]

    def _collate(self, samples: Sequence[AVSample], *, epoch: int) -> AudioWindowBatch:
        latents, starts, onsets = [], [], []
        for s in samples:
            assert s.latent_CL is not None
            length = s.latent_CL.shape[1]
            start = crop_start(seed=self.seed, epoch=epoch, sample_id=s.id, span=length - self.window)
            crop = s.latent_CL[:, start : start + self.window]
            latents.append(torch.nn.functional.pad(crop, (0, self.window - crop.shape[1])))
            starts.append(start)
            if self.frame_rate is None:
                onsets.append(torch.zeros(self.window))
            else:
                times = self._clip_onsets(s)
                onsets.append(onset_frames(times, frame_rate=self.frame_rate, start=start, length=self.window))
        return AudioWindowBatch(
            ids=[s.id for s in samples],
            latent_BCL=torch.stack(latents),
            frames=[s.frames_TCHW for s in samples],
            starts=starts,
            fps=[s.fps for s in samples],
            texts=self._texts(samples, epoch=epoch),
            onsets_BL=torch.stack(onsets),
        )
