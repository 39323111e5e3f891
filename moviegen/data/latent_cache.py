"""TAE latents computed once and reused for every epoch of transformer training (SPEC 5: the TAE is frozen while the
transformer trains, so encoding each clip once saves a TAE forward per sample per epoch).

On disk (``out_dir``)::

    cache.json                 settings the cache was built with (TAE config without its latent normalisation,
                               bucket config, dtype, shard size)
    shard-00000.safetensors    "<id>/mean" and "<id>/logvar" tensors [C, T', h, w]; the shard's own index records,
    shard-00001.safetensors    its skipped inputs and a fingerprint of its plan live in the safetensors metadata
    ...
    index.jsonl                one line per cached sample: id, bucket, shard, key, caption, prompts, fps, camera,
                               split, index (position in the dataset the cache was built from)
    summary.json               counts: samples, per bucket, skipped inputs by reason (and their paths), settings

What is stored: the posterior **mean and log-variance** of ``tae.encode(video, sample=False)``, in float16 by default
(half the size of float32; fp16 keeps 11 significant bits, against bf16's 8, and the posterior's range, |mean| of
order 1 and logvar in the TAE's clamp [-30, 20], is far inside fp16's). Latents are raw posterior values: the
trainer applies the TAE's ``scaling_factor`` / ``shift_factor`` itself. Storing the posterior rather than one sample
lets every epoch draw a fresh latent ``mean + exp(logvar / 2) * eps`` (:class:`LatentBatchIterator`), as training on
pixels would.

Resumable: the work is cut into shards (one bucket per shard, dataset order, ``shard_size`` samples); each shard is
written atomically (:func:`moviegen.io.atomic_path`) and skipped on a rerun when its fingerprint (its ids and the
settings) matches, so an interrupted run continues where it stopped and a finished cache costs nothing. Corrupt inputs
are skipped, recorded in their shard and counted in ``summary.json``. The TAE's ``scaling_factor`` / ``shift_factor``
are not settings: the raw posterior does not depend on them, so a cache built with a trained checkpoint's TAE config
(which records the measured normalisation) serves a recipe whose TAE config has the defaults, and the other way round.
"""

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from moviegen.configs.serialize import config_to_dict
from moviegen.data.buckets import Bucket
from moviegen.data.dataset import Sample, SampleError, VideoDataset
from moviegen.data.loader import BatchIterator
from moviegen.data.sampler import derive_seed
from moviegen.data.skips import SkipLog, SkipReason
from moviegen.io.media import atomic_path
from moviegen.tae.config import DECODER_ONLY_FIELDS
from moviegen.tae.model import TemporalAutoencoder

SETTINGS_NAME, INDEX_NAME, SUMMARY_NAME = "cache.json", "index.jsonl", "summary.json"
CACHE_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
_TAG_LATENT = 21
# TAE settings that do not change the cached posterior: the latent normalisation (applied by the trainer) and the
# decoder-only ones. Caches written before they were left out recorded the first two; caches written before a
# decoder-only field existed lack it, so both must compare equal.
_NOT_POSTERIOR_KEYS = ("scaling_factor", "shift_factor", *DECODER_ONLY_FIELDS)


def _posterior_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without the TAE settings that leave the encoder's posterior unchanged."""
    tae = {k: v for k, v in settings.get("tae", {}).items() if k not in _NOT_POSTERIOR_KEYS}
    return {**settings, "tae": tae}


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-able settings (what a cache was built with)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _plan_shards(dataset: VideoDataset, shard_size: int) -> list[list[int]]:
    by_bucket: dict[Bucket, list[int]] = {}
    for i, bucket in enumerate(dataset.bucket_of):
        if bucket is not None:
            by_bucket.setdefault(bucket, []).append(i)
    return [
        members[k : k + shard_size]
        for bucket in sorted(by_bucket)
        for members in [by_bucket[bucket]]
        for k in range(0, len(members), shard_size)
    ]


def _record(dataset: VideoDataset, i: int, *, shard: str) -> dict[str, Any]:
    entry = dataset.entries[i]
    return {
        "id": entry.id,
        "bucket": str(dataset.bucket_of[i]),
        "shard": shard,
        "key": entry.id,
        "caption": entry.caption,
        "prompts": list(entry.prompts),
        "fps": None if entry.kind == "image" else dataset.buckets.fps,
        "camera": entry.camera,
        "split": entry.split,
        "index": i,
    }


@torch.no_grad()
def _encode_shard(
    dataset: VideoDataset,
    tae: TemporalAutoencoder,
    indices: Sequence[int],
    *,
    batch_size: int,
    dtype: torch.dtype,
    shard: str,
    bar: tqdm,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]], list[list[str]]]:
    param = next(tae.parameters())
    tensors, records, skipped = {}, [], []
    for start in range(0, len(indices), batch_size):
        samples: list[Sample] = []
        chunk = indices[start : start + batch_size]
        for i in chunk:
            try:
                samples.append(dataset.load(i))
                records.append(_record(dataset, i, shard=shard))
            except SampleError as err:
                skipped.append([dataset.source(i), err.reason.value, str(err)])
        if samples:
            video_BCTHW = torch.stack([s.video_CTHW for s in samples]).to(device=param.device, dtype=param.dtype)
            posterior = tae.encode(video_BCTHW, sample=False)
            for row, sample in enumerate(samples):
                tensors[f"{sample.id}/mean"] = posterior.posterior_mean_BCTHW[row].to("cpu", dtype).contiguous()
                tensors[f"{sample.id}/logvar"] = posterior.posterior_logvar_BCTHW[row].to("cpu", dtype).contiguous()
        bar.update(len(chunk))
    return tensors, records, skipped


def cache_latents(
    dataset: VideoDataset,
    tae: TemporalAutoencoder,
    out_dir: str | os.PathLike,
    *,
    batch_size: int = 8,
    shard_size: int = 256,
    dtype: str = "float16",
    progress: bool = True,
) -> Path:
    """Encode every sample of ``dataset`` once and store its TAE posterior (see the module docstring).

    Args:
        dataset: the pixel dataset (its buckets fix each sample's shape).
        tae: the frozen TAE, in eval mode, on the device to encode on.
        out_dir: the cache directory (created; an existing cache with the same settings is resumed).
        batch_size: samples per ``tae.encode`` call.
        shard_size: samples per shard file (the unit of resumption).
        dtype: storage precision, one of ``"float16"`` (default), ``"bfloat16"``, ``"float32"``.
        progress: show a tqdm bar over samples.

    Returns:
        ``out_dir``.

    Raises:
        ValueError: bad sizes or dtype, or ``out_dir`` holds a cache built with other settings or other data.
    """
    if batch_size < 1 or shard_size < 1:
        raise ValueError(f"batch_size and shard_size must be >= 1, got {batch_size} and {shard_size}")
    if dtype not in CACHE_DTYPES:
        raise ValueError(f"dtype must be one of {list(CACHE_DTYPES)}, got {dtype!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = _posterior_settings({
        "tae": config_to_dict(tae.cfg),
        "buckets": config_to_dict(dataset.buckets),
        "dtype": dtype,
        "shard_size": shard_size,
    })
    settings_path = out_dir / SETTINGS_NAME
    fingerprinted = settings  # what the shards' fingerprints are made from: the settings as first recorded
    if settings_path.is_file():
        existing = json.loads(settings_path.read_text(encoding="utf-8"))
        recorded = _posterior_settings(existing)
        if recorded != settings:
            changed = sorted(k for k in settings.keys() | recorded.keys() if recorded.get(k) != settings.get(k))
            raise ValueError(
                f"{str(out_dir)!r} holds a latent cache built with other settings (differing: {changed}); "
                f"use a new directory or delete it"
            )
        fingerprinted = existing
    else:
        _write_json(settings_path, settings)

    plan = _plan_shards(dataset, shard_size)
    records: list[dict[str, Any]] = []
    skips = SkipLog()
    skips.merge(dataset.skips)
    was_training = tae.training
    tae.eval()
    bar = tqdm(total=sum(len(p) for p in plan), desc="caching latents", unit="sample", disable=not progress)
    try:
        for n, indices in enumerate(plan):
            shard = f"shard-{n:05d}.safetensors"
            expected = fingerprint({"settings": fingerprinted, "ids": [dataset.entries[i].id for i in indices]})
            path = out_dir / shard
            if path.is_file():
                with safe_open(str(path), "pt") as f:
                    meta = f.metadata() or {}
                if meta.get("fingerprint") != expected:
                    raise ValueError(
                        f"{str(path)!r} was built from other data (fingerprint {meta.get('fingerprint')!r}, expected "
                        f"{expected!r}); cache a changed dataset into a new directory"
                    )
                bar.update(len(indices))
            else:
                tensors, shard_records, shard_skipped = _encode_shard(
                    dataset, tae, indices, batch_size=batch_size, dtype=CACHE_DTYPES[dtype], shard=shard, bar=bar
                )
                meta = {
                    "fingerprint": expected,
                    "records": json.dumps(shard_records),
                    "skipped": json.dumps(shard_skipped),
                }
                with atomic_path(path) as tmp:
                    save_file(tensors, str(tmp), metadata=meta)
            records += json.loads(meta["records"])
            for source, reason, message in json.loads(meta["skipped"]):
                skips.add(source, reason=SkipReason(reason), message=message)
    finally:
        bar.close()
        tae.train(was_training)

    records.sort(key=lambda r: r["index"])
    with atomic_path(out_dir / INDEX_NAME) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    per_bucket: dict[str, int] = {}
    for r in records:
        per_bucket[r["bucket"]] = per_bucket.get(r["bucket"], 0) + 1
    _write_json(
        out_dir / SUMMARY_NAME,
        {
            "num_samples": len(records),
            "num_shards": len(plan),
            "per_bucket": per_bucket,
            "skipped": skips.counts,
            "skip_log": skips.state_dict(),
            **settings,
        },
    )
    return out_dir


@dataclass(frozen=True, kw_only=True)
class LatentSample:
    """One cached sample: the TAE posterior ``[C, T', h, w]`` (float32) and its texts."""

    id: str
    mean_CTHW: torch.Tensor
    logvar_CTHW: torch.Tensor
    caption: str
    prompts: tuple[str, ...]
    fps: int | None
    camera: str | None
    bucket: Bucket


class LatentDataset:
    """A finished latent cache as a dataset (the same interface :class:`~moviegen.data.loader.BatchIterator` uses).

    Args:
        cache_dir: written by :func:`cache_latents`.
        split: keep only samples of this split (None: all).

    Attributes:
        bucket_of: the (pixel) bucket of each cached sample.
        skips: the inputs skipped while caching.

    Raises:
        ValueError: not a finished cache, or no sample of ``split``.
    """

    def __init__(self, cache_dir: str | os.PathLike, *, split: str | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        summary_path, index_path = self.cache_dir / SUMMARY_NAME, self.cache_dir / INDEX_NAME
        if not summary_path.is_file() or not index_path.is_file():
            raise ValueError(
                f"{str(self.cache_dir)!r} is not a finished latent cache (no {SUMMARY_NAME} / {INDEX_NAME}); "
                f"build it with cache_latents()"
            )
        self.summary = json.loads(summary_path.read_text(encoding="utf-8"))
        with index_path.open(encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        if split is not None:
            kept = [r for r in records if r["split"] == split]
            if not kept:
                present = sorted({r["split"] for r in records})
                raise ValueError(f"no cached sample of split {split!r} in {str(self.cache_dir)!r}; splits: {present}")
            records = kept
        self.records = records
        self.bucket_of: list[Bucket | None] = [Bucket.parse(r["bucket"]) for r in records]
        self.skips = SkipLog()
        self.skips.load_state_dict(self.summary["skip_log"])

    def __len__(self) -> int:
        return len(self.records)

    def source(self, i: int) -> str:
        record = self.records[i]
        return f"{self.cache_dir / record['shard']}:{record['key']}"

    def load(self, i: int) -> LatentSample:
        """The cached posterior of sample ``i``, as float32."""
        record = self.records[i]
        shard = self.cache_dir / record["shard"]
        if not shard.is_file():
            raise ValueError(f"latent cache {str(self.cache_dir)!r} is missing its shard {record['shard']!r}")
        with safe_open(str(shard), "pt") as f:
            mean_CTHW = f.get_tensor(f"{record['key']}/mean").float()
            logvar_CTHW = f.get_tensor(f"{record['key']}/logvar").float()
        return LatentSample(
            id=record["id"],
            mean_CTHW=mean_CTHW,
            logvar_CTHW=logvar_CTHW,
            caption=record["caption"],
            prompts=tuple(record["prompts"]),
            fps=record["fps"],
            camera=record["camera"],
            bucket=self.bucket_of[i],
        )


@dataclass(frozen=True, kw_only=True)
class LatentBatch:
    """A batch of cached latents from one bucket; ``latent_BCTHW`` is a posterior sample (float32)."""

    ids: list[str]
    latent_BCTHW: torch.Tensor
    texts: list[str]
    fps: int | None
    camera: list[str | None]
    bucket: Bucket


def sample_posterior(sample: LatentSample, *, seed: int, epoch: int) -> torch.Tensor:
    """``mean + exp(logvar / 2) * eps`` with ``eps`` drawn from ``(seed, epoch, sample.id)``: ``[C, T', h, w]``."""
    generator = torch.Generator().manual_seed(derive_seed(seed, _TAG_LATENT, epoch, sample.id))
    eps = torch.randn(sample.mean_CTHW.shape, generator=generator)
    return sample.mean_CTHW + torch.exp(0.5 * sample.logvar_CTHW) * eps


class LatentBatchIterator(BatchIterator):
    """:class:`~moviegen.data.loader.BatchIterator` over a :class:`LatentDataset`, yielding :class:`LatentBatch`.

    Same sampling, skipping, texts and resumable state; the latent of each sample is a fresh posterior sample per
    epoch, deterministic in ``(seed, epoch, id)``.
    """

    def _collate(self, samples: Sequence[LatentSample], *, epoch: int) -> LatentBatch:
        return LatentBatch(
            ids=[s.id for s in samples],
            latent_BCTHW=torch.stack([sample_posterior(s, seed=self.seed, epoch=epoch) for s in samples]),
            texts=self._texts(samples, epoch=epoch),
            fps=samples[0].fps,
            camera=[s.camera for s in samples],
            bucket=samples[0].bucket,
        )
