"""Test-wide settings: no hub access (everything must load offline) and a fixed thread count for 2-core CI."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))


# -- a tiny dataset and TAE for the training tests (unit and distributed) ------------------------------------------

COLOURS = [(220, 40, 40), (40, 180, 60), (50, 90, 230), (240, 220, 50)]


def write_fixture_dataset(root: Path, *, size: int = 32, num_frames: int = 10) -> Path:
    """13 tiny samples in the world format: 6 train videos, 4 train images, 2 held-out videos, 1 held-out image."""
    from moviegen.io.media import write_image, write_video

    root.mkdir(parents=True, exist_ok=True)
    specs = [("video", "train")] * 6 + [("image", "train")] * 4 + [("video", "heldout")] * 2 + [("image", "heldout")]
    lines = []
    for n, (kind, split) in enumerate(specs):
        colour = COLOURS[n % len(COLOURS)]
        frames = np.full((num_frames if kind == "video" else 1, size, size, 3), 128, np.uint8)
        for t in range(frames.shape[0]):
            x = (3 * n + 2 * t) % (size - 8)
            frames[t, 10:18, x : x + 8] = colour
        rel = f"{kind}s/{n:03d}.{'mp4' if kind == 'video' else 'png'}"
        (root / rel).parent.mkdir(exist_ok=True)
        if kind == "video":
            write_video(root / rel, frames, fps=16)
        else:
            write_image(root / rel, frames[0])
        lines.append(
            {
                "id": f"{n:03d}", "path": rel, "kind": kind, "split": split, "width": size, "height": size,
                "fps": 16 if kind == "video" else None, "num_frames": frames.shape[0],
                "caption": f"A square of colour {colour} moves right on a gray floor.",
                "prompts": [f"a square moving right, number {n}"], "camera": "static" if n % 2 else "pan left",
            }
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_fixture_dataset(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def tae_file(tmp_path_factory) -> Path:
    from moviegen.tae.config import tae_debug
    from moviegen.tae.model import TemporalAutoencoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tae") / "tae.safetensors"
    save_file(TemporalAutoencoder(tae_debug()).state_dict(), path)
    return path
