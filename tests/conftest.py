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


# -- killing a training run the hard way (resume tests) -------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc): torchrun starts its workers in sessions of their own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started, leaves first, as a node failure would."""
    import signal

    for victim in [*reversed(_descendants(pid)), pid]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_after_first_checkpoint(cmd: list[str], run_dir: Path, *, env: dict[str, str], timeout: float) -> None:
    """Start ``cmd`` (a training run writing to ``run_dir``), SIGKILL its whole process tree as soon as its first
    checkpoint lands; fail if it exits early or writes none within ``timeout`` seconds."""
    import subprocess
    import time

    from moviegen.train.checkpoint import latest_checkpoint

    victim = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while latest_checkpoint(run_dir) is None:
            if victim.poll() is not None:
                pytest.fail(f"the training run exited early: {victim.stderr.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no checkpoint within {timeout:g} s")
            time.sleep(0.02)  # polling for the file, not timing the test
    finally:
        kill_tree(victim.pid)
        victim.wait()
        victim.stderr.close()
