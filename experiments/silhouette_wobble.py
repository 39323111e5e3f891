"""How much an object's outline changes from frame to frame, inside latent groups and across their borders (issue 3).

The adherence analyser calls an object *spinning* when its centred silhouette departs from the first frame's, so
an outline that wobbles reads as a wrong motion. This measures the wobble directly: per frame, 1 - IoU of the
object's centred colour mask (the analyser's palette labels) against the previous frame's, averaged separately over
frames that start a latent group (t % 8 == 0: a border) and the others.

- ``--data WORLD``: the first ``--num`` static-camera 128x128 clips of the world's manifest (32 frames), originals
  and their TAE round trip through ``--checkpoint``'s autoencoder;
- ``--generate``: the held-out adherence prompts, generated with the checkpoint's defaults (seed i for prompt i,
  static camera).

    python experiments/silhouette_wobble.py --checkpoint moviegen/assets/video-tiny --data world/
    python experiments/silhouette_wobble.py --checkpoint moviegen/assets/video-tiny --generate
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from moviegen.eval.analyse import label_pixels
from moviegen.world.vocab import OBJECT_COLOURS

_COLOURS = list(OBJECT_COLOURS)  # object colours come first in the analyser's palette


def _centred(mask_HW: np.ndarray, radius: int = 40) -> np.ndarray:
    ys, xs = np.nonzero(mask_HW)
    canvas = np.zeros((2 * radius + 1, 2 * radius + 1), dtype=bool)
    if len(ys):
        dy, dx = ys - int(round(ys.mean())) + radius, xs - int(round(xs.mean())) + radius
        keep = (dy >= 0) & (dy <= 2 * radius) & (dx >= 0) & (dx <= 2 * radius)
        canvas[dy[keep], dx[keep]] = True
    return canvas


def wobble(frames_THWC: np.ndarray, colour: str, *, group: int) -> tuple[list[float], list[float], int]:
    """(changes at group borders, changes inside groups, frame pairs skipped) of the ``colour`` object's silhouette;
    a pair where the object shows in neither frame is skipped (an object in one frame only counts as a full change)."""
    masks = label_pixels(frames_THWC, tolerance=60) == _COLOURS.index(colour)
    sils = [_centred(m) for m in masks]
    border, inside, skipped = [], [], 0
    for t in range(1, len(sils)):
        union = int((sils[t - 1] | sils[t]).sum())
        if union == 0:
            skipped += 1
            continue
        iou = (sils[t - 1] & sils[t]).sum() / union
        (border if t % group == 0 else inside).append(1.0 - float(iou))
    return border, inside, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an exported video checkpoint directory")
    parser.add_argument("--data", help="a world directory: measure originals and their TAE round trip")
    parser.add_argument("--generate", action="store_true", help="measure generated held-out prompts instead")
    parser.add_argument("--num", type=int, default=10, help="world clips (default 10)")
    args = parser.parse_args()
    if (args.data is None) == (not args.generate):
        parser.error("pass exactly one of --data WORLD and --generate")

    from moviegen.video.checkpoint import load_video_checkpoint

    torch.set_num_threads(2)
    loaded = load_video_checkpoint(args.checkpoint)
    group = loaded.cfg.tae.temporal_compression
    totals: dict[str, tuple[list[float], list[float], list[int]]] = {}

    def add(name: str, frames: np.ndarray, colour: str) -> None:
        border, inside, skipped = wobble(frames, colour, group=group)
        total = totals.setdefault(name, ([], [], []))
        total[0].extend(border)
        total[1].extend(inside)
        total[2].append(skipped)

    with torch.no_grad():
        if args.generate:
            from moviegen.eval.adherence import adherence_cases
            from moviegen.video import VideoPipeline

            d = loaded.defaults
            pipeline = VideoPipeline(loaded.tae, loaded.model, loaded.cfg, defaults=d)
            for i, case in enumerate(adherence_cases(num_paraphrases=0, seed=0)):
                frames = pipeline.generate(
                    case.prompt, width=d.width, height=d.height, num_frames=d.num_frames, fps=d.fps, steps=d.steps,
                    guidance_scale=d.guidance_scale, seed=i, camera_motion="static", progress=False,
                )
                add("generated", np.asarray(frames), case.colour)
        else:
            from moviegen.eval.reconstruction import reconstruct
            from moviegen.io.media import read_video

            rows = [json.loads(line) for line in (Path(args.data) / "manifest.jsonl").read_text().splitlines()]
            rows = [r for r in rows if r["kind"] == "video" and r.get("camera") == "static"
                    and (r["width"], r["height"]) == (128, 128)][: args.num]
            for row in rows:
                clip = read_video(Path(args.data) / row["path"], audio=False).frames_THWC[: 4 * group]
                rec = reconstruct(loaded.tae.float(), clip)
                for obj in row["scene"]["objects"]:
                    if obj.get("identity") is None:
                        add("original", clip, obj["colour"])
                        add("round trip", rec, obj["colour"])
    for name, (border, inside, skipped) in totals.items():
        print(f"{name:10s} 1 - IoU frame to frame: inside groups {np.mean(inside):.3f} ({len(inside)}), "
              f"across borders {np.mean(border):.3f} ({len(border)}); {sum(skipped)} pairs without the object")


if __name__ == "__main__":
    main()
