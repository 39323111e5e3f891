"""TAE reconstruction quality on held-out world videos: PSNR and SSIM of encode -> decode (SPEC 1, metrics).

Videos are the ``split == "heldout"`` video rows of a world directory's ``manifest.jsonl`` (written by
``moviegen world``), read through :func:`moviegen.io.read_video` (so H.264 decoding is part of the input, as it is in
training). Each clip is encoded to its posterior mean (no sampling: the metric is deterministic) and decoded back to
its own length; both are compared as uint8 frames, PSNR over the whole clip and SSIM per frame and channel.

**Object fidelity.** PSNR does not say whether what the prompts ask for survives the round trip: on the world, the
objects cover about 4% of a frame, so a smeared shape costs little PSNR. For every static-camera clip of plain shapes
(characters are not shapes; a moving camera is not compensated by the analyser), the frame analyser of
:mod:`moviegen.eval.analyse` judges each object of the clip's scene (colour found, shape, motion) on the
original and on the reconstruction. The reconstruction's accuracies bound the adherence scores that a video model
trained on this TAE's latents can reach; the original's are the analyser's own ceiling on these clips.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange
from tqdm.auto import tqdm

from moviegen.eval.adherence import accuracies
from moviegen.eval.analyse import analyse_video
from moviegen.eval.metrics import psnr, ssim
from moviegen.io.media import read_video
from moviegen.tae.model import TemporalAutoencoder

MANIFEST = "manifest.jsonl"


def heldout_videos(world_dir: str | os.PathLike, *, num: int | None = None) -> list[dict[str, Any]]:
    """The held-out video rows of a world's manifest (first ``num`` of them, all if None).

    Raises:
        ValueError: no manifest, an unreadable line, or no held-out video in it.
    """
    world = Path(world_dir)
    manifest = world / MANIFEST
    if not manifest.is_file():
        raise ValueError(f"no {MANIFEST} in {str(world)!r}: pass a directory written by `moviegen world -o DIR`")
    rows = []
    for number, line in enumerate(manifest.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{str(manifest)!r} line {number} is not JSON: {err}") from err
        if row.get("split") == "heldout" and row.get("kind", "video") == "video":
            rows.append(row)
    if not rows:
        raise ValueError(f"{str(manifest)!r} lists no held-out video (split 'heldout', kind 'video')")
    return rows if num is None else rows[:num]


@dataclass(frozen=True, kw_only=True)
class ReconstructionResult:
    """Mean PSNR (dB) and SSIM over the clips; ``fidelity[version][axis]`` (versions ``original`` and
    ``reconstruction``; axes colour, shape, motion, joint, plus ``count`` objects), empty if no clip could be
    analysed; and one row per clip (id, path, frames, size, psnr, ssim, and ``objects`` where analysed)."""

    psnr: float
    ssim: float
    fidelity: dict[str, dict[str, float]]
    rows: list[dict[str, Any]]


def _analysable(row: dict[str, Any]) -> bool:
    """A static-camera clip of plain shapes (the analyser neither compensates camera motion nor knows characters)."""
    scene = row.get("scene") or {}
    objects = scene.get("objects") or []
    return scene.get("camera") == "static" and bool(objects) and all(o.get("identity") is None for o in objects)


def judge_objects(row: dict[str, Any], frames_THWC: np.ndarray) -> list[dict[str, Any]]:
    """Each object of a manifest row's scene, judged on ``frames_THWC``: is an object of its colour there, and does
    it have the scene's shape and motion (``colour_ok``, ``shape_ok``, ``motion_ok``, ``joint_ok``)."""
    analysis = analyse_video(frames_THWC)
    judged = []
    for obj in row["scene"]["objects"]:
        found = analysis.find(obj["colour"])
        shape_ok = found is not None and found.shape.value == obj["shape"]
        motion_ok = found is not None and found.motion.value == obj["motion"]
        judged.append({
            "colour": obj["colour"], "shape": obj["shape"], "motion": obj["motion"],
            "detected": None if found is None else {"shape": found.shape.value, "motion": found.motion.value},
            "colour_ok": found is not None, "shape_ok": shape_ok, "motion_ok": motion_ok,
            "joint_ok": shape_ok and motion_ok,
        })
    return judged


@torch.no_grad()
def reconstruct(tae: TemporalAutoencoder, frames_THWC: np.ndarray) -> np.ndarray:
    """Encode (posterior mean) and decode uint8 frames ``[T, H, W, 3]``; returns uint8 frames of the same shape."""
    device = next(tae.parameters()).device
    video_BCTHW = rearrange(torch.from_numpy(frames_THWC), "t h w c -> 1 c t h w").float().div(127.5).sub(1)
    latent = tae.encode(video_BCTHW.to(device), sample=False).latent_BCTHW
    out_BCTHW = tae.decode(latent, num_frames=frames_THWC.shape[0]).float().cpu()
    pixels = ((out_BCTHW.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return rearrange(pixels[0], "c t h w -> t h w c").numpy()


def evaluate_reconstruction(
    tae: TemporalAutoencoder, world_dir: str | os.PathLike, *, num: int | None = None, progress: bool = True
) -> ReconstructionResult:
    """PSNR/SSIM of the TAE on held-out world videos.

    Args:
        tae: the autoencoder (put in eval mode here).
        world_dir: a directory written by ``moviegen world``.
        num: at most this many clips (all if None).
        progress: a tqdm bar over clips.

    Returns:
        Per-clip rows and their means.

    Raises:
        ValueError: see :func:`heldout_videos`; unreadable videos (``MediaError``); sizes the TAE cannot take.
    """
    tae = tae.eval()
    world = Path(world_dir)
    rows = []
    for row in tqdm(heldout_videos(world, num=num), desc="tae reconstruction", disable=not progress):
        frames_THWC = read_video(world / row["path"], audio=False).frames_THWC
        recon_THWC = reconstruct(tae, frames_THWC)
        channels_first = (rearrange(frames_THWC, "t h w c -> t c h w"), rearrange(recon_THWC, "t h w c -> t c h w"))
        result = {
            "id": row.get("id"),
            "path": row["path"],
            "num_frames": int(frames_THWC.shape[0]),
            "size": f"{frames_THWC.shape[2]}x{frames_THWC.shape[1]}",
            "psnr": psnr(frames_THWC, recon_THWC, data_range=255),
            "ssim": ssim(*channels_first, data_range=255),
        }
        if _analysable(row):
            result["objects"] = {"original": judge_objects(row, frames_THWC),
                                 "reconstruction": judge_objects(row, recon_THWC)}
        rows.append(result)
    judged = [r["objects"] for r in rows if "objects" in r]
    fidelity = {
        version: accuracies([obj for clip in judged for obj in clip[version]])
        for version in ("original", "reconstruction")
    } if judged else {}
    return ReconstructionResult(
        psnr=float(np.mean([r["psnr"] for r in rows])), ssim=float(np.mean([r["ssim"] for r in rows])),
        fidelity=fidelity, rows=rows,
    )


def reconstruction_table(result: ReconstructionResult) -> str:
    """Per-clip rows and the mean as a markdown table."""
    lines = ["| clip | frames | size | PSNR (dB) | SSIM |", "|---|---:|---:|---:|---:|"]
    for r in result.rows:
        name = r["id"] or r["path"]
        lines.append(f"| {name} | {r['num_frames']} | {r['size']} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
    lines.append(f"| **mean** | | | **{result.psnr:.2f}** | **{result.ssim:.4f}** |")
    if result.fidelity:
        lines += [
            "",
            "Object fidelity on the static-camera clips (the frame analyser on each scene object; the reconstruction's "
            "row bounds the adherence a video model trained on these latents can reach):",
            "",
            "| frames | objects | colour | shape | motion | all three |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for version, acc in result.fidelity.items():
            lines.append(f"| {version} | {acc['count']} | {acc['colour']:.3f} | {acc['shape']:.3f} | "
                         f"{acc['motion']:.3f} | {acc['joint']:.3f} |")
    return "\n".join(lines) + "\n"
