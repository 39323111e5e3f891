"""A run directory holding a video checkpoint's transformer as a finished ``t2v-tiny-t2iv`` run, for ``--init``.

Stage-3 fine-tune recipes (``t2v-tiny-t2iv-objects``, ``-motion``, ``-shifted``) take ``--init`` a stage-3 run; on a
machine without the embedded default's training runs, this makes one from the shipped weights (their latent
shift/scale come along in the recorded config). An experiment helper, not core code.

    python experiments/shipped_as_run.py moviegen/assets/video-tiny runs/shipped
    moviegen train t2v-tiny-t2iv-objects --data world/ --tae moviegen/assets/video-tiny/tae.safetensors \\
        --latents runs/latents-128 -o runs/objects --init runs/shipped --steps 1500
"""

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file

from moviegen.train.checkpoint import save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a video checkpoint directory (config.json, t2v.safetensors)")
    parser.add_argument("run_dir", help="the run directory to write")
    parser.add_argument("--recipe", default="t2v-tiny-t2iv", help="the recipe the run is recorded as")
    parser.add_argument("--step", type=int, default=3000)
    args = parser.parse_args()
    checkpoint = Path(args.checkpoint)
    video_config = json.loads((checkpoint / "config.json").read_text())["config"]
    state = load_file(str(checkpoint / "t2v.safetensors"))
    run = {"recipe": args.recipe, "config": {"video": video_config}}
    out = save_checkpoint(args.run_dir, args.step, model_state=state, ema_state=None, optimizer=None,
                          trainer_state={"step": args.step, "run": run})
    print(f"wrote {out} ({len(state)} tensors) as a {args.recipe!r} run")


if __name__ == "__main__":
    main()
