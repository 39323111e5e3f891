"""The planner's memory prediction against the measured peak memory of small CPU training runs (target: within 25%).

What it measures: for each plan below, a fresh set of processes (one, or ``torchrun`` with one per rank, gloo) builds
a DiT of width 512, 4 layers, 8 heads, FFN 1536, q/k norm (16 latent channels, 1x2x2 patches), parallelises it with
``moviegen.train.parallelize.parallelize`` and trains it with AdamW (fp32, no EMA, no autocast) for ``--steps``
steps on random latents of 8 x 32 x 32 (2,048 tokens per sample) with a 64-token random text context, one sample
per data-parallel group and step. Each rank records its resident set size (RSS) before building the model and its
peak RSS over the whole run (``ru_maxrss``, after resetting it through ``/proc/self/clear_refs``); the measured
memory is the difference, i.e. the model's weights, gradients, AdamW moments, FSDP buffers and activations plus
whatever the kernels allocate on the way (autograd's gradient buffers, attention temporaries), which the planner
does not model. The planner (``moviegen.train.planner.evaluate``) is asked for the same plan with fp32 activations
(``compute_bytes=4``), no EMA, no text encoders and no fixed overhead. The children run with
``MALLOC_MMAP_THRESHOLD_`` lowered (``rss.CHILD_ENV``) so that freed tensors leave the RSS.

    python benchmarks/bench_planner_memory.py            # 5 plans: 1 process (AC off, full), FSDP 2, TP 2, CP 2
    python benchmarks/bench_planner_memory.py --steps 1 --tokens-frames 4     # a quicker, smaller check
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rss import CHILD_ENV, MIB, peak_bytes, reset_peak, rss_bytes

PLANS = {  # name -> (processes, dp, tp, cp, ac)
    "1 process": (1, 1, 1, 1, "none"),
    "1 process, AC full": (1, 1, 1, 1, "full"),
    "FSDP 2": (2, 2, 1, 1, "none"),
    "TP 2": (2, 1, 2, 1, "none"),
    "CP 2": (2, 1, 1, 2, "none"),
}
TARGET = 0.25


def dit_config(frames: int):
    from moviegen.dit.config import DiTConfig

    return DiTConfig(
        dim=512, num_layers=4, num_heads=8, ffn_dim=1536, max_t=frames, max_h=16, max_w=16, qk_norm=True
    )


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    reset_peak()
    before = rss_bytes()
    from moviegen.dit.model import DiT
    from moviegen.train.distributed import init_distributed
    from moviegen.train.parallel_dims import ACMode, ParallelConfig
    from moviegen.train.parallelize import parallelize

    pcfg = ParallelConfig(dp=args.dp, tp=args.tp, cp=args.cp, ac=ACMode(args.ac))
    ctx = init_distributed(pcfg) if "WORLD_SIZE" in os.environ else None
    torch.manual_seed(0)
    cfg = dit_config(args.frames)
    model = DiT(cfg)
    model.init_weights()
    model = parallelize(model, dims=None if ctx is None else ctx.dims, cfg=pcfg, mesh=None if ctx is None else ctx.mesh)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(1)
    for _ in range(args.steps):
        latent = torch.randn(1, cfg.latent_channels, args.frames, 32, 32, generator=g)
        text = torch.randn(1, 64, cfg.dim, generator=g)
        mask = torch.ones(1, 64, dtype=torch.bool)
        out = model(latent, t_B=torch.rand(1, generator=g), text_BSD=text, text_mask_BS=mask)
        loss = (out - latent).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        del out, loss
    rank = 0 if ctx is None else ctx.rank
    with open(Path(args.out) / f"rank{rank}.json", "w") as f:
        json.dump({"rank": rank, "measured": peak_bytes() - before}, f)
    if ctx is not None:
        import torch.distributed as dist

        dist.destroy_process_group()


def predict(frames: int, *, processes: int, tp: int, cp: int, ac: str) -> float:
    import torch

    from moviegen.dit.model import DiT
    from moviegen.train.parallel_dims import ACMode
    from moviegen.train.planner import PlanRequest, evaluate, shape_of

    with torch.device("meta"):
        shape = shape_of(DiT(dit_config(frames)), name="bench-dit")
    dp = processes // (tp * cp)
    req = PlanRequest(
        preset="bench-dit", gpus=processes, seq_len=frames * 16 * 16, global_batch=dp, micro_batch=1, text_len=64,
        compute_bytes=4, ema=False, text_encoders=False, overhead_gb=0.0, usable_fraction=1.0,
    )
    return evaluate(shape, req, tp=tp, cp=cp, ac=ACMode(ac)).memory_per_gpu_gb * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--tokens-frames", dest="frames", type=int, default=8, help="latent frames (x256 tokens)")
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    for name in ("dp", "tp", "cp"):
        parser.add_argument(f"--{name}", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--ac", default="none", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    env = {**os.environ, **CHILD_ENV, "OMP_NUM_THREADS": str(args.threads)}
    script = str(Path(__file__).resolve())
    print(f"DiT width 512, 4 layers, FFN 1536, {args.frames * 256} tokens per sample, fp32, {args.steps} AdamW steps")
    print("| plan | processes | predicted MiB/rank | measured MiB/rank (max) | measured / predicted |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, (processes, dp, tp, cp, ac) in PLANS.items():
        with tempfile.TemporaryDirectory() as out:
            flags = ["--child", "--out", out, "--steps", str(args.steps), "--tokens-frames", str(args.frames),
                     "--threads", str(args.threads), "--dp", str(dp), "--tp", str(tp), "--cp", str(cp), "--ac", ac]
            if processes == 1:
                cmd = [sys.executable, script, *flags]
            else:
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       f"--nproc_per_node={processes}", script, *flags]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
            measured = max(json.loads(p.read_text())["measured"] for p in Path(out).glob("rank*.json"))
        predicted = predict(args.frames, processes=processes, tp=tp, cp=cp, ac=ac)
        ratio = measured / predicted
        worst = max(worst, abs(ratio - 1))
        print(f"| {name} | {processes} | {predicted / MIB:.0f} | {measured / MIB:.0f} | {ratio:.2f} |", flush=True)
    verdict = "within" if worst <= TARGET else "NOT within"
    print(f"largest deviation {worst:.0%}: {verdict} the {TARGET:.0%} target")


if __name__ == "__main__":
    main()
