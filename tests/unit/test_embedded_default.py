"""The shipped default: present in the package, complete, documented by its card, and able to generate."""

import json

import numpy as np
import pytest

from moviegen.video import VideoPipeline, default_checkpoint_dir, load_video_checkpoint
from moviegen.video.checkpoint import CHECKPOINT_FILES


@pytest.fixture(scope="module")
def shipped():
    return load_video_checkpoint(default_checkpoint_dir())


def test_the_package_ships_every_file_within_the_size_budget():
    path = default_checkpoint_dir()
    assert all((path / name).is_file() for name in CHECKPOINT_FILES)
    total = sum(f.stat().st_size for f in path.iterdir())
    assert total < 60e6, f"shipped weights take {total / 1e6:.1f} MB, PRODUCT.md's budget is about 60 MB"


def test_the_model_card_records_recipe_seed_and_measured_metrics(shipped):
    card = shipped.card
    stages = [stage["recipe"] for stage in card["recipe"]]
    assert stages == ["t2v-tiny-t2i-lowres", "t2v-tiny-t2iv-lowres", "t2v-tiny-t2iv"]
    assert [stage["recipe"] for stage in card["tae_recipe"]] == ["tae-tiny-image", "tae-tiny", "tae-tiny-full"]
    assert all(stage["steps"] > 0 and "seed" in stage for stage in card["recipe"] + card["tae_recipe"])
    assert card["data"]["seed"] == 0
    metrics = card["metrics"]
    assert {"tae", "adherence", "sampler"} <= metrics.keys(), json.dumps(metrics)[:300]
    assert 0.0 <= metrics["adherence"]["scores"]["all"]["colour"] <= 1.0
    assert 0.0 <= metrics["tae"]["ssim"] <= 1.0 and metrics["tae"]["psnr"] > 0


def test_the_shipped_model_generates_at_its_trained_size(shipped):
    pipeline = VideoPipeline(shipped.tae, shipped.model, shipped.cfg, defaults=shipped.defaults)
    d = shipped.defaults
    frames = pipeline.generate(
        "a red circle bounces on a gray floor", width=d.width, height=d.height, num_frames=1, fps=None, steps=2,
        guidance_scale=d.guidance_scale, seed=0, progress=False,
    )
    assert frames.shape == (1, d.height, d.width, 3) and frames.dtype == np.uint8 and frames.std() > 0
