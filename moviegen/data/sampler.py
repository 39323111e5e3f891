"""Deterministic, resumable bucketed batch sampler (SPEC 5.3: every batch comes from one aspect x duration bucket).

Epoch ``e`` is a pure function of ``(seed, e)``:

1. permute all sample indices (``shuffle=True``) with an RNG seeded by ``(seed, e)``;
2. group them by bucket, keeping the permuted order, and cut each group into full batches (the incomplete tail of a
   bucket is dropped for this epoch; another permutation puts other samples in the tail next epoch);
3. optionally fix the image:video mix (``image_ratio``, image batches per video batch; the paper's joint stages use
   1:10, i.e. 0.1): the epoch keeps every video batch and ``round(image_ratio * num_video_batches)`` image batches,
   cycling through fresh permutations of the image pool when it needs more than one pass;
4. shuffle the order of the batches.

The position is ``(epoch, batch_in_epoch)`` of the *next* batch, so ``state_dict`` / ``load_state_dict`` resume at
exactly the batch an uninterrupted run would produce next.
"""

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from moviegen.data.buckets import Bucket

# Stream tags keep the random choices made from the same (seed, epoch) independent of each other.
_TAG_PERMUTATION, _TAG_IMAGES, _TAG_ORDER = 1, 2, 3


def _key_int(part: int | str) -> int:
    if isinstance(part, int):
        if part < 0:
            raise ValueError(f"seed parts must be non-negative integers or strings, got {part}")
        return part
    # A string (a sample id) becomes a stable 64-bit integer; Python's hash() is salted per process.
    return int.from_bytes(hashlib.blake2b(part.encode("utf-8"), digest_size=8).digest(), "little")


def derive_rng(seed: int, *parts: int | str) -> np.random.Generator:
    """An independent NumPy RNG for ``(seed, *parts)``, the same on every machine and process."""
    return np.random.default_rng([_key_int(seed), *(_key_int(p) for p in parts)])


def derive_seed(seed: int, *parts: int | str) -> int:
    """A 63-bit integer seed for ``(seed, *parts)`` (for ``torch.Generator.manual_seed``)."""
    return int(derive_rng(seed, *parts).integers(0, 2**63 - 1))


class BucketBatchSampler:
    """Batches of sample indices, each from a single bucket; infinite, deterministic and resumable.

    Args:
        bucket_of: the bucket of each sample (None: never sampled).
        batch_size: samples per batch.
        seed: the run seed.
        shuffle: permute samples and batches each epoch (False: dataset order, batches bucket by bucket).
        image_ratio: image batches per video batch (0.1 for the paper's 1:10); None keeps the data's own mix.

    Raises:
        ValueError: bad sizes, or buckets too small to give a single batch (of videos, when ``image_ratio`` is set).
    """

    def __init__(
        self,
        bucket_of: Sequence[Bucket | None],
        *,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        image_ratio: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if image_ratio is not None and not image_ratio >= 0:
            raise ValueError(f"image_ratio must be >= 0 (image batches per video batch) or None, got {image_ratio}")
        self.bucket_of = list(bucket_of)
        self.batch_size, self.seed, self.shuffle, self.image_ratio = batch_size, seed, shuffle, image_ratio
        sizes: dict[Bucket, int] = {}
        for bucket in self.bucket_of:
            if bucket is not None:
                sizes[bucket] = sizes.get(bucket, 0) + 1
        full = {b: n // batch_size for b, n in sizes.items()}
        num_image = sum(n for b, n in full.items() if b.is_image)
        num_video = sum(n for b, n in full.items() if not b.is_image)
        shown = {str(b): n for b, n in sorted(sizes.items())}
        if num_image + num_video == 0:
            raise ValueError(f"no bucket holds a full batch of {batch_size} samples; samples per bucket: {shown}")
        if image_ratio is not None:
            if num_video == 0:
                raise ValueError(
                    f"image_ratio={image_ratio} needs video batches, but no video bucket holds a full batch of "
                    f"{batch_size}; samples per bucket: {shown}"
                )
            if image_ratio > 0 and num_image == 0:
                raise ValueError(
                    f"image_ratio={image_ratio} needs image batches, but no image bucket holds a full batch of "
                    f"{batch_size}; samples per bucket: {shown}"
                )
            num_image = round(image_ratio * num_video)
        self._num_batches = num_image + num_video
        self.epoch, self.batch_in_epoch = 0, 0
        self._cache: tuple[int, list[list[int]]] | None = None

    def __len__(self) -> int:
        """Batches per epoch (the same for every epoch)."""
        return self._num_batches

    def _grouped_batches(self, order: Sequence[int]) -> list[list[int]]:
        by_bucket: dict[Bucket, list[int]] = {}
        for i in order:
            bucket = self.bucket_of[i]
            if bucket is not None:
                by_bucket.setdefault(bucket, []).append(i)
        batches = []
        for bucket in sorted(by_bucket):
            members = by_bucket[bucket]
            num_full = len(members) // self.batch_size
            batches += [members[k * self.batch_size : (k + 1) * self.batch_size] for k in range(num_full)]
        return batches

    def _permutation(self, *parts: int) -> list[int]:
        n = len(self.bucket_of)
        if not self.shuffle:
            return list(range(n))
        return derive_rng(self.seed, *parts).permutation(n).tolist()

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Every batch of ``epoch`` in order (a pure function of ``(seed, epoch)``)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        batches = self._grouped_batches(self._permutation(_TAG_PERMUTATION, epoch))
        if self.image_ratio is not None:
            videos = [b for b in batches if not self.bucket_of[b[0]].is_image]
            images = [b for b in batches if self.bucket_of[b[0]].is_image]
            wanted, cycle = round(self.image_ratio * len(videos)), 0
            while len(images) < wanted:  # more image batches than one pass gives: new passes, new permutations
                cycle += 1
                more = self._grouped_batches(self._permutation(_TAG_IMAGES, epoch, cycle))
                images += [b for b in more if self.bucket_of[b[0]].is_image]
            batches = videos + images[:wanted]
        if self.shuffle:
            order = derive_rng(self.seed, _TAG_ORDER, epoch).permutation(len(batches))
            batches = [batches[k] for k in order]
        assert len(batches) == self._num_batches, (len(batches), self._num_batches)
        return batches

    def next_batch(self) -> tuple[int, list[int]]:
        """The next batch and its epoch; advances the position."""
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, self.epoch_batches(self.epoch))
        epoch, batch = self.epoch, self._cache[1][self.batch_in_epoch]
        self.batch_in_epoch += 1
        if self.batch_in_epoch == self._num_batches:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        return epoch, batch

    def __iter__(self) -> Iterator[list[int]]:
        """Batches from the current position, forever (epochs roll over)."""
        while True:
            yield self.next_batch()[1]

    def state_dict(self) -> dict[str, Any]:
        """The position of the next batch: ``{"epoch": e, "batch_in_epoch": k}``."""
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (of a sampler built with the same data, sizes and seed)."""
        epoch, k = state.get("epoch"), state.get("batch_in_epoch")
        if not isinstance(epoch, int) or not isinstance(k, int) or epoch < 0 or not 0 <= k < self._num_batches:
            raise ValueError(
                f"sampler state must be {{'epoch': int >= 0, 'batch_in_epoch': int in [0, {self._num_batches})}}, "
                f"got {state}"
            )
        self.epoch, self.batch_in_epoch = epoch, k
