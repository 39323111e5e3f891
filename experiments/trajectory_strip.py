"""Where along the sampling path does a generated clip go wrong? (issue 3; an experiment, not core code)

Two strips, each a PNG of rows of eight evenly spaced frames:

* ``--prompt``: samples the prompt with the checkpoint's settings and, at a few solver times t, decodes the flow's
  current estimate of the clean latent, ``x + (1 - t) v`` (where the Euler step is heading), above the final clip.
  Read it column-wise: with the shipped stage-3 model each latent frame (two columns) settles on its own object
  place by t = 0.15, and the object jumps between them.
* ``--renoise LATENTS``: a held-out static-camera clip of a latent cache, decoded as it is (top row), then noised to
  t0 = 0.7, 0.4, 0.2 and 0 and solved back to t = 1 (40 Euler steps, guided by the clip's short prompt): how much
  noise the transformer can take away before the world's crisp shapes are lost.

    python experiments/trajectory_strip.py --checkpoint moviegen/assets/video-tiny \\
        --prompt "a green square bounces on a navy background" --seed 2 -o strip.png
    python experiments/trajectory_strip.py --checkpoint moviegen/assets/video-tiny \\
        --renoise runs/world/latents/ID --clip 0 -o renoise.png

docs/training.md has the comparisons these were made for.
"""

import argparse

import numpy as np
import torch
from PIL import Image

from moviegen.data.latent_cache import LatentDataset
from moviegen.eval.analyse import analyse_video
from moviegen.flow import OTPath, guided_velocity_fn, solve_ode
from moviegen.video import load_video_checkpoint
from moviegen.video.pipeline import VideoPipeline

TIMES = (0.05, 0.15, 0.3, 0.5, 0.8)
RENOISE_TIMES = (0.7, 0.4, 0.2, 0.0)


def strip(frames_THWC: np.ndarray) -> np.ndarray:
    picks = np.linspace(0, len(frames_THWC) - 1, 8).astype(int)
    return np.concatenate([frames_THWC[i] for i in picks], axis=1)


def renoise_rows(pipe: VideoPipeline, latents: str, *, clip: int, guidance: float, seed: int) -> list[np.ndarray]:
    data = LatentDataset(latents, split="heldout")
    picked = [i for i, r in enumerate(data.records) if r["camera"] == "static" and r["bucket"] == "128x128x32"]
    if not 0 <= clip < len(picked):
        raise SystemExit(f"--clip {clip}: the cache has {len(picked)} held-out static 128x128x32 clips")
    sample = data.load(picked[clip])
    print(f"clip {sample.id}: {sample.prompts[0]!r}")
    x1 = pipe.cfg.tae.normalize_latent(sample.mean_CTHW[None])
    model = pipe.model
    paired = model.encode_text([sample.prompts[0], ""], fps=sample.fps, camera_motion="static")  # cond, uncond
    velocity_fn = guided_velocity_fn(lambda x, t: model(x, t_B=t, text=paired), scale=guidance)
    x0 = torch.randn(x1.shape, generator=torch.Generator().manual_seed(seed))
    num_frames = sample.bucket.num_frames
    rows = [strip(pipe.decode(x1, num_frames=num_frames))]
    path = OTPath()  # the training path (sigma_min 1e-5)
    for t0 in RENOISE_TIMES:
        xt = path.sample(x0=x0, x1=x1, t=torch.tensor([t0])).xt
        with torch.no_grad():
            solved = solve_ode(velocity_fn, xt, t_grid=torch.linspace(t0, 1.0, 41, dtype=torch.float64))
        rows.append(strip(pipe.decode(solved, num_frames=num_frames)))
    return rows


def trajectory_rows(pipe: VideoPipeline, prompt: str, *, defaults, guidance: float, seed: int) -> list[np.ndarray]:
    num_frames = round(defaults.seconds * defaults.fps)
    estimates: dict[float, torch.Tensor] = {}

    def keep_estimate(i: int, t: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> None:
        for wanted in TIMES:
            if wanted not in estimates and float(t) >= wanted:
                estimates[wanted] = (x + (1 - float(t)) * v).clone()

    final = pipe.latents(prompt, width=defaults.width, height=defaults.height, num_frames=num_frames,
                         fps=defaults.fps, steps=defaults.steps, schedule=defaults.schedule, guidance_scale=guidance,
                         seed=seed, camera_motion="static", progress=False, step_callback=keep_estimate)
    rows = [strip(pipe.decode(estimates[t], num_frames=num_frames)) for t in TIMES]
    frames = pipe.decode(final, num_frames=num_frames)
    for obj in analyse_video(frames).objects[:3]:
        print(f"final clip: {obj.colour} {obj.shape.value} {obj.motion.value}, area {obj.area:.3f}, "
              f"largest step {obj.max_step:.3f}")
    return [*rows, strip(frames)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a video checkpoint directory")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--prompt", help="sample this prompt and show the clean-latent estimates along the path")
    mode.add_argument("--renoise", metavar="LATENTS", help="a latent cache folder: renoise one of its held-out clips")
    parser.add_argument("--clip", type=int, default=0, help="with --renoise: which held-out static 2 s clip")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--guidance", type=float, default=None, help="default: the checkpoint's")
    parser.add_argument("-o", "--output", required=True, help="the PNG to write")
    args = parser.parse_args()

    loaded = load_video_checkpoint(args.checkpoint)
    pipe = VideoPipeline(loaded.tae, loaded.model, loaded.cfg)
    guidance = loaded.defaults.guidance_scale if args.guidance is None else args.guidance
    if args.prompt is not None:
        rows = trajectory_rows(pipe, args.prompt, defaults=loaded.defaults, guidance=guidance, seed=args.seed)
        what = f"estimates at t = {', '.join(map(str, TIMES))}, then the final clip"
    else:
        rows = renoise_rows(pipe, args.renoise, clip=args.clip, guidance=guidance, seed=args.seed)
        what = f"the clip decoded, then renoised to t0 = {', '.join(map(str, RENOISE_TIMES))} and solved back"
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.output)
    print(f"wrote {args.output}: rows: {what}; 8 frames each")


if __name__ == "__main__":
    main()
