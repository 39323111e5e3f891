"""Batches for training: bucketed, skipping bad samples, with the training text chosen per sample, resumable.

:class:`BatchIterator` pulls index batches from a :class:`~moviegen.data.sampler.BucketBatchSampler`, loads them from
a dataset (pixels: :class:`~moviegen.data.dataset.VideoDataset`; cached latents:
:class:`~moviegen.data.latent_cache.LatentDataset`), and yields collated batches forever (epochs roll over).

Bad samples. A sample whose load raises :class:`~moviegen.data.dataset.SampleError` is recorded in the iterator's
:class:`~moviegen.data.skips.SkipLog` (logged once per file, never decoded again) and its place in the batch is
**refilled** from other samples of the same bucket, tried in an order drawn from ``(seed, epoch, batch position)``.
The refill is therefore deterministic and independent of which bad files were already known, so a resumed run
reproduces an uninterrupted one exactly. A refilled sample may appear twice in that epoch. Only when a bucket has
fewer loadable samples than a batch is the batch dropped (counted in ``dropped_batches``).

Text. ``text_mode`` (:class:`TextMode`) picks the text each sample trains with: the dense ``caption``, one of the short
``prompts``, or ``mixed`` (the caption with probability 0.5, else a short prompt), drawn from ``(seed, epoch, id)``.
A sample without prompts always uses its caption.

Single process: loading happens in the calling thread (the tiny default decodes a batch in milliseconds).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import torch

from moviegen.data.buckets import Bucket
from moviegen.data.dataset import Sample, SampleError
from moviegen.data.sampler import BucketBatchSampler, derive_rng
from moviegen.data.skips import SkipLog

logger = logging.getLogger(__name__)

_TAG_TEXT, _TAG_REFILL = 11, 12
MIXED_CAPTION_PROB = 0.5  # "mixed" text mode: probability of the dense caption over a short prompt


class TextMode(StrEnum):
    """Which text a sample trains with."""

    CAPTION = "caption"  # the dense caption (what the Movie Gen rewriter produces at inference)
    PROMPTS = "prompts"  # a random short prompt
    MIXED = "mixed"  # the caption with probability MIXED_CAPTION_PROB, else a random short prompt


def parse_text_mode(value: TextMode | str) -> TextMode:
    try:
        return TextMode(value)
    except ValueError:
        raise ValueError(f"text_mode must be one of {[m.value for m in TextMode]}, got {value!r}") from None


def choose_text(
    *, caption: str, prompts: Sequence[str], mode: TextMode, seed: int, epoch: int, sample_id: str
) -> str:
    """The training text of one sample in one epoch, a pure function of ``(mode, seed, epoch, sample_id)``."""
    if mode is TextMode.CAPTION or not prompts:
        return caption
    rng = derive_rng(seed, _TAG_TEXT, epoch, sample_id)
    if mode is TextMode.MIXED and rng.random() < MIXED_CAPTION_PROB:
        return caption
    return prompts[int(rng.integers(len(prompts)))]


class LoadableDataset(Protocol):
    """What :class:`BatchIterator` needs from a dataset."""

    bucket_of: list[Bucket | None]
    skips: SkipLog

    def __len__(self) -> int: ...
    def source(self, i: int) -> str: ...
    def load(self, i: int) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class Batch:
    """A batch of pixel samples from one bucket.

    Attributes:
        ids: sample ids.
        video_BCTHW: float32 pixels in [-1, 1].
        texts: the training text of each sample (see :class:`TextMode`).
        fps: the bucket frame rate (None for an image batch).
        camera: camera-motion labels (None where unknown).
        bucket: the shared bucket.
    """

    ids: list[str]
    video_BCTHW: torch.Tensor
    texts: list[str]
    fps: int | None
    camera: list[str | None]
    bucket: Bucket


class BatchIterator:
    """Infinite iterator of collated batches; see the module docstring for skipping, refilling and texts.

    Subclasses change only :meth:`_collate` (the latent iterator does).

    Args:
        dataset: a :class:`~moviegen.data.dataset.VideoDataset` (or any :class:`LoadableDataset`).
        sampler: a sampler built on ``dataset.bucket_of``.
        text_mode: ``"caption"``, ``"prompts"`` or ``"mixed"``.
        seed: seeds the text choice and refills (use the run seed).
    """

    def __init__(
        self,
        dataset: LoadableDataset,
        sampler: BucketBatchSampler,
        *,
        text_mode: TextMode | str = TextMode.CAPTION,
        seed: int,
    ) -> None:
        if list(sampler.bucket_of) != list(dataset.bucket_of):
            raise ValueError(
                f"the sampler was built on other buckets than the dataset's ({len(sampler.bucket_of)} vs "
                f"{len(dataset)} samples); build it with BucketBatchSampler(dataset.bucket_of, ...)"
            )
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.dataset, self.sampler, self.seed = dataset, sampler, seed
        self.text_mode = parse_text_mode(text_mode)
        self.skips = SkipLog()
        self.skips.merge(dataset.skips)
        self.dropped_batches = 0
        self._members: dict[Bucket, list[int]] = {}
        for i, bucket in enumerate(dataset.bucket_of):
            if bucket is not None:
                self._members.setdefault(bucket, []).append(i)

    def __iter__(self) -> "BatchIterator":
        return self

    def __next__(self) -> Any:
        for _ in range(len(self.sampler) + 1):
            position = self.sampler.state_dict()
            epoch, indices = self.sampler.next_batch()
            samples = self._fill(indices, epoch=epoch, batch_in_epoch=position["batch_in_epoch"])
            if samples is not None:
                return self._collate(samples, epoch=epoch)
        raise ValueError(
            f"no batch could be filled for a whole epoch: every bucket is short of loadable samples "
            f"({self.skips.summary()})"
        )

    def _try_load(self, i: int) -> Any | None:
        source = self.dataset.source(i)
        if source in self.skips:
            return None
        try:
            return self.dataset.load(i)
        except SampleError as err:
            self.skips.add(source, reason=err.reason, message=str(err))
            return None

    def _fill(self, indices: list[int], *, epoch: int, batch_in_epoch: int) -> list[Any] | None:
        samples = [s for s in map(self._try_load, indices) if s is not None]
        if len(samples) == len(indices):
            return samples
        bucket = self.dataset.bucket_of[indices[0]]
        taken = set(indices)
        members = self._members[bucket]
        rng = derive_rng(self.seed, _TAG_REFILL, epoch, batch_in_epoch)
        for k in rng.permutation(len(members)).tolist():
            if len(samples) == len(indices):
                return samples
            if members[k] in taken:
                continue
            taken.add(members[k])
            sample = self._try_load(members[k])
            if sample is not None:
                samples.append(sample)
        if len(samples) == len(indices):
            return samples
        self.dropped_batches += 1
        logger.warning(
            "dropping a batch of bucket %s: only %d of %d samples are loadable (%s)",
            bucket, len(samples), len(indices), self.skips.summary(),
        )
        return None

    def _texts(self, samples: Sequence[Any], *, epoch: int) -> list[str]:
        return [
            choose_text(
                caption=s.caption, prompts=s.prompts, mode=self.text_mode, seed=self.seed, epoch=epoch, sample_id=s.id
            )
            for s in samples
        ]

    def _collate(self, samples: Sequence[Sample], *, epoch: int) -> Batch:
        return Batch(
            ids=[s.id for s in samples],
            video_BCTHW=torch.stack([s.video_CTHW for s in samples]),
            texts=self._texts(samples, epoch=epoch),
            fps=samples[0].fps,
            camera=[s.camera for s in samples],
            bucket=samples[0].bucket,
        )

    def summary(self) -> str:
        """Skips and dropped batches so far, in one line."""
        return f"{self.skips.summary()}; dropped {self.dropped_batches} batch(es)"

    def state_dict(self) -> dict[str, Any]:
        """Sampler position (of the next batch), skips and dropped-batch count."""
        return {
            "seed": self.seed,
            "sampler": self.sampler.state_dict(),
            "skips": self.skips.state_dict(),
            "dropped_batches": self.dropped_batches,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; the iterator must use the same seed."""
        if state.get("seed") != self.seed:
            raise ValueError(f"loader state was saved with seed {state.get('seed')!r}, this iterator has {self.seed}")
        self.sampler.load_state_dict(state["sampler"])
        self.skips.load_state_dict(state["skips"])
        self.dropped_batches = int(state["dropped_batches"])
