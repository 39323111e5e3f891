"""How much each latent frame of a generated clip holds, against the training latents: the per-frame spatial spread.

A world clip's object is in every frame. In the normalised latent space of the shipped TAE, a 128 px latent frame of
a static-camera, one-object training clip varies across space with a standard deviation (averaged over channels) of
0.3-0.75, depending on its colours, and a generated frame in which no object shows, about 0.1-0.17. So the spread
of each generated latent frame says whether the transformer drew an object there (and how much of one), with no
analyser in between:

- well below the data's: the frame never committed to an object (a faint ghost decodes there);
- well above it: more object than the world ever has (extra blobs).

The spread depends on the colours (a white object on black spreads most), so each held-out prompt is compared with
the training clips of its background and object colour (one object, static camera; from a latent cache that
``moviegen train`` wrote, ``--latents``, and the world's manifest, ``--data``), as a ratio: about 1 is the world's.
For each checkpoint and prompt (one seed for all, so not the clips of ``moviegen eval adherence``, which uses
``seed + i``) the script also records the ratio of the running estimate
``x1_hat = x + (1 - t) v`` at a few times of the solve, which shows *when* a frame's fate is settled.

    python experiments/dispersion_probe.py --checkpoint moviegen/assets/video-tiny --latents runs/latents-128 \\
        --data world/
    python experiments/dispersion_probe.py --checkpoint A --checkpoint B --latents L --data world/ --guidance-scale 1
"""

import argparse
import json
from pathlib import Path

import torch

from moviegen.data.latent_cache import LatentDataset
from moviegen.eval.adherence import adherence_cases
from moviegen.eval.settings import SamplingSettings
from moviegen.video.pipeline import VideoPipeline

MARKS = (0.02, 0.05, 0.1, 0.2, 0.5)
GEOMETRY = {"width": 128, "height": 128, "num_frames": 32, "fps": 16}


def frame_spread(latent_CTHW: torch.Tensor) -> list[float]:
    """Per latent frame: the spatial standard deviation, averaged over channels."""
    return [float(latent_CTHW[:, f].float().std(dim=(1, 2)).mean()) for f in range(latent_CTHW.shape[1])]


def data_spreads(cache_dir: str, world_dir: str) -> dict[tuple[str, str], float]:
    """Mean spread (over frames and clips) of the raw training latents (posterior means) of static-camera 128 px,
    2 s clips with one object, by (background, object colour): times the TAE's ``scaling_factor``, the reference
    for a prompt that asks for that pair (a spread ignores the shift). The posterior noise training adds (about 0.006
    in normalised units) is left out: negligible against spreads of 0.3-0.75."""
    scenes = {}
    for line in (Path(world_dir) / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        scenes[row["id"]] = row.get("scene")
    dataset = LatentDataset(cache_dir, split="train")
    spreads: dict[tuple[str, str], list[float]] = {}
    for i, record in enumerate(dataset.records):
        scene = scenes.get(record["id"])
        if record["bucket"] != "128x128x32" or not scene or scene["camera"] != "static" or len(scene["objects"]) != 1:
            continue
        key = (scene["background"], scene["objects"][0]["colour"])
        spreads.setdefault(key, []).extend(frame_spread(dataset.load(i).mean_CTHW))
    return {key: sum(v) / len(v) for key, v in spreads.items()}


def probe(pipeline: VideoPipeline, *, prompts: list[str], guidance_scale: float | None, seed: int) -> list[dict]:
    """Generate each prompt (the checkpoint's defaults, a static camera) and record the frames' spread."""
    settings = SamplingSettings.from_defaults(pipeline.defaults, guidance_scale=guidance_scale, **GEOMETRY)
    rows = []
    for prompt in prompts:
        marks: dict[float, list[float]] = {}

        def callback(step: int, t: float, x: torch.Tensor, v: torch.Tensor) -> None:
            for mark in MARKS:
                if mark not in marks and t >= mark:
                    marks[mark] = frame_spread((x + (1 - t) * v)[0])

        latent = pipeline.latents(prompt, **settings.request(seed=seed), step_callback=callback)
        rows.append({"prompt": prompt, "final": frame_spread(latent[0]), "marks": marks})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True, help="video checkpoint dir (repeatable)")
    parser.add_argument("--latents", required=True, help="a 128 px latent cache of the world, for the data's spread")
    parser.add_argument("--data", required=True, help="the world directory the cache was built from (its scenes)")
    parser.add_argument("--guidance-scale", type=float, help="default: the checkpoint's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cases = adherence_cases(num_paraphrases=0, seed=args.seed)
    raw = data_spreads(args.latents, args.data)
    for checkpoint in args.checkpoint:
        pipeline = VideoPipeline.from_checkpoint(checkpoint)
        data = {key: spread * pipeline.cfg.tae.scaling_factor for key, spread in raw.items()}
        rows = probe(pipeline, prompts=[c.prompt for c in cases], guidance_scale=args.guidance_scale, seed=args.seed)
        print(f"\n{checkpoint} (spread over the training clips' with the same background and colour):")
        ratios = []
        for case, r in zip(cases, rows, strict=True):
            reference = data.get((case.background, case.colour))
            if reference is None:
                print(f"  {case.prompt[:46]:46s} (no training clip with this background and colour)")
                continue
            ratios += [s / reference for s in r["final"]]
            trail = " ".join(f"t{m:g}:{sum(s) / len(s) / reference:.2f}" for m, s in r["marks"].items())
            frames = [round(s / reference, 2) for s in r["final"]]
            print(f"  {case.prompt[:46]:46s} data {reference:.2f}; frames {frames}; estimate at {trail}")
        if not ratios:
            print("  no prompt has a training reference in this cache")
            continue
        ratio = torch.tensor(ratios)
        under, over = int((ratio < 0.5).sum()), int((ratio > 1.5).sum())
        print(f"  frames: median {float(ratio.median()):.2f} of the data's spread (lower median); "
              f"under 0.5x {under}/{ratio.numel()}; over 1.5x {over}/{ratio.numel()}")


if __name__ == "__main__":
    main()
