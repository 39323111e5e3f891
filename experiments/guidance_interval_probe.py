"""Classifier-free guidance applied only inside a time interval: does it change prompt adherence? (issue 3)

Kynkaanniemi et al. (2024, "Applying guidance in a limited interval improves sample and distribution quality") find
guidance harmful at the highest noise levels and useless at the lowest. The shipped default is bolder than its data
at guidance 7.5 (per-frame latent spread 1.39x the world's, 1.02x at guidance 1: `dispersion_probe.py`), so this
runs ``moviegen eval adherence`` with guidance only for ``LO <= t <= HI`` (t = 0 noise, 1 data) and the plain
conditional velocity elsewhere. It patches the pipeline's guidance wrapper for this process only: an experiment,
not a product flag (the product has none because the measured effect was nil; docs/eval.md).

    python experiments/guidance_interval_probe.py 0.1 0.8 eval adherence -o runs/gi-mid-s0 --seed 0 --no-progress

Outside the interval the network still runs on the doubled batch (the unconditional half is discarded), so the
timing is not that of a real interval sampler.
"""

import sys

import torch

import moviegen.video.pipeline as pipeline_module
from moviegen.cli import main as cli_main
from moviegen.flow.guidance import cfg_combine
from moviegen.flow.solver import VelocityFn


def interval_guidance(low: float, high: float):
    """A drop-in for ``guided_velocity_fn`` that guides only while ``low <= t <= high``."""

    def guided_velocity_fn(paired_velocity_fn: VelocityFn, *, scale: float) -> VelocityFn:
        def velocity_fn(x: torch.Tensor, t_B: torch.Tensor) -> torch.Tensor:
            v_cond, v_uncond = paired_velocity_fn(torch.cat([x, x]), torch.cat([t_B, t_B])).chunk(2)
            inside = low <= float(t_B.flatten()[0]) <= high
            return cfg_combine(v_cond, v_uncond, scale=scale) if inside else v_cond

        return velocity_fn

    return guided_velocity_fn


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2
    low, high = float(sys.argv[1]), float(sys.argv[2])
    if not 0 <= low <= high <= 1:
        raise SystemExit(f"need 0 <= LO <= HI <= 1, got LO={low} HI={high}")
    pipeline_module.guided_velocity_fn = interval_guidance(low, high)
    return cli_main(sys.argv[3:])


if __name__ == "__main__":
    sys.exit(main())
