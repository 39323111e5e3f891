"""Training data (SPEC 5): manifests, aspect x duration buckets, decoding, resumable bucketed batching, latent cache.

Typical use::

    entries = read_manifest("data/world", split="train")
    dataset = VideoDataset(entries, buckets=buckets_tiny())
    sampler = BucketBatchSampler(dataset.bucket_of, batch_size=8, seed=0, image_ratio=0.1)
    batches = BatchIterator(dataset, sampler, text_mode="mixed", seed=0)
    batch = next(batches)  # Batch(ids, video_BCTHW, texts, fps, camera, bucket)

See ``docs/data.md``.
"""

from moviegen.data.buckets import (
    Bucket,
    BucketConfig,
    assign_bucket,
    bucket_or_reason,
    buckets_tiny,
    buckets_tiny_lowres,
    resample_indices,
)
from moviegen.data.dataset import Sample, SampleError, VideoDataset, resize_center_crop
from moviegen.data.latent_cache import (
    LatentBatch,
    LatentBatchIterator,
    LatentDataset,
    LatentSample,
    cache_latents,
    sample_posterior,
)
from moviegen.data.loader import Batch, BatchIterator, TextMode, choose_text
from moviegen.data.manifest import ManifestEntry, read_manifest
from moviegen.data.sampler import BucketBatchSampler, derive_rng, derive_seed
from moviegen.data.skips import SkipLog, SkipReason

__all__ = [
    "Batch",
    "BatchIterator",
    "Bucket",
    "BucketBatchSampler",
    "BucketConfig",
    "LatentBatch",
    "LatentBatchIterator",
    "LatentDataset",
    "LatentSample",
    "ManifestEntry",
    "Sample",
    "SampleError",
    "SkipLog",
    "SkipReason",
    "TextMode",
    "VideoDataset",
    "assign_bucket",
    "bucket_or_reason",
    "buckets_tiny",
    "buckets_tiny_lowres",
    "cache_latents",
    "choose_text",
    "derive_rng",
    "derive_seed",
    "read_manifest",
    "resample_indices",
    "resize_center_crop",
    "sample_posterior",
]
