"""``moviegen plan``: memory and step time of a parallel training plan, from the analytical model of SPEC 6."""

import argparse
import json

from moviegen.cli.args import positive_int

DESCRIPTION = """\
Estimate memory per GPU and time per optimizer step for training a preset on N GPUs with tensor (TP), context (CP)
and data (FSDP) parallelism and activation checkpointing (AC), the way `moviegen train --dp/--tp/--cp/--ac` runs
it. Degrees left out are searched: the fastest plan that fits in the GPU's memory wins, and the others are listed.

The model (moviegen/train/planner.py, docs/distributed.md) counts every weight, gradient, AdamW and EMA byte, FSDP's
gathered buffers, the activations each transformer block saves (with and without checkpointing, and the part
duplicated across the TP group), the frozen text encoders, and the compute and collective time of FSDP, TP and CP.
The achieved fraction of peak (--efficiency) and of link bandwidth (--comm-efficiency) are assumptions: measure
them on your cluster and pass them in.
"""

EPILOG = """\
examples:
  moviegen plan --preset video-30b --gpus 6144 --tp 4 --cp 2 --seq-len 73728
                                the paper's 768 px stage (TP 4, CP 2 on 6,144 H100s)
  moviegen plan --preset video-30b --gpus 6144 --seq-len 73728 --json
                                search TP, CP and AC; machine-readable
  moviegen plan --preset video-30b --gpus 1536 --seq-len 256 --global-batch 9216
                                the 256 px text-to-image stage (256 tokens per image)
  moviegen plan --preset audio-13b --gpus 512 --seq-len 750 --gpu a100-80gb
"""


def _cmd_plan(args: argparse.Namespace) -> int:
    from moviegen.train.parallel_dims import ACMode
    from moviegen.train.planner import PlanRequest, explain, search

    req = PlanRequest(
        preset=args.preset, gpus=args.gpus, seq_len=args.seq_len, tp=args.tp, cp=args.cp,
        ac=None if args.ac is None else ACMode(args.ac), ac_every=args.ac_every, global_batch=args.global_batch,
        micro_batch=args.micro_batch, text_len=args.text_len, gpu=args.gpu, efficiency=args.efficiency,
        comm_efficiency=args.comm_efficiency, ema=not args.no_ema, overhead_gb=args.overhead_gb,
    )
    best, plans = search(req)
    if args.json:
        out = best.to_dict()
        out["explanation"] = explain(best, req, plans)
        out["alternatives"] = [
            {k: p.to_dict()[k] for k in ("tp", "cp", "dp", "ac", "fits", "memory_per_gpu_gb", "step_time_s")}
            for p in plans[1:]
        ]
        print(json.dumps(out, indent=2))
        return 0
    print(explain(best, req, plans))
    print()
    print("memory per GPU (GB):  " + "  ".join(f"{k} {v:.2f}" for k, v in best.memory_gb.items()))
    print("time per step (s):    " + "  ".join(f"{k} {v:.2f}" for k, v in best.time_s.items()))
    print("traffic per GPU (GB): " + "  ".join(f"{k} {v:.1f}" for k, v in best.communication_gb.items()))
    if len(plans) > 1:
        print("\nother plans (fastest first):")
        print(f"  {'tp':>3} {'cp':>3} {'dp':>6} {'ac':<10} {'memory GB':>10} {'step s':>8}  fits")
        for p in plans[1:12]:
            print(f"  {p.tp:>3} {p.cp:>3} {p.dp:>6} {p.ac:<10} {p.memory_per_gpu_gb:>10.1f} {p.step_time_s:>8.2f}  "
                  f"{'yes' if p.fits else 'no'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from moviegen.train.planner import GPUS

    parser = sub.add_parser(
        "plan",
        help="memory per GPU and step time of a TP/CP/FSDP training plan (the paper's 6,144-GPU run, on paper)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", required=True, help="a preset with a transformer (moviegen models)")
    parser.add_argument("--gpus", type=positive_int, required=True, metavar="N", help="total GPUs")
    parser.add_argument("--seq-len", type=positive_int, required=True, metavar="L",
                        help="tokens per sample (73728 = 16 s at 768 px; 8192 = 256 px video; 256 = 256 px image)")
    parser.add_argument("--tp", type=positive_int, metavar="T", help="tensor-parallel degree (default: searched)")
    parser.add_argument("--cp", type=positive_int, metavar="C", help="context-parallel degree (default: searched)")
    parser.add_argument(
        "--ac", choices=("none", "selective", "full"), help="activation checkpointing (default: searched)"
    )
    parser.add_argument("--ac-every", type=positive_int, default=2, metavar="K", help="selective AC: one block in K")
    parser.add_argument("--global-batch", type=positive_int, default=1536, metavar="B", help="samples per step")
    parser.add_argument("--micro-batch", type=positive_int, default=1, metavar="M", help="samples per forward")
    parser.add_argument("--text-len", type=positive_int, default=512, metavar="S", help="text tokens (cross-attn)")
    parser.add_argument("--gpu", choices=sorted(GPUS), default="h100-80gb", help="GPU type (default h100-80gb)")
    parser.add_argument("--efficiency", type=float, default=0.5, help="achieved fraction of bf16 peak (default 0.5)")
    parser.add_argument("--comm-efficiency", type=float, default=0.8,
                        help="achieved fraction of link bandwidth (default 0.8)")
    parser.add_argument("--overhead-gb", type=float, default=3.0, help="fixed per-GPU overhead in GB (default 3)")
    parser.add_argument("--no-ema", action="store_true", help="no EMA copy of the weights")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=_cmd_plan)
