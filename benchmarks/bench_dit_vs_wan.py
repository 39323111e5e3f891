"""Forward+backward wall time: our Movie Gen transformer vs diffusers' WanTransformer3DModel on CPU.

Both models get the same width, depth, head count, token count and text length, QK-norm on, and the same FFN FLOPs:
Wan's GELU FFN of width F has two D x F matrices, our SwiGLU three, so ours gets width 2F/3. Wan's text embedder
projects text from ``text_dim`` = D (ours receives already-projected text). Each step is forward, a mean-square loss
and backward, on fp32; the script prints the median of ``--repeats`` timed steps after ``--warmup`` steps and the
ratio Wan / ours (above 1 means ours is faster; the issue's target is at least 1.2).

    python benchmarks/bench_dit_vs_wan.py            # default: D=384, 6 layers, 512 video tokens
    python benchmarks/bench_dit_vs_wan.py --quick    # a few seconds, to check it runs
"""

import argparse
import statistics
import time

import torch


def time_step(step, *, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--wan-ffn", type=int, default=1536, help="Wan's GELU FFN width; ours gets 2/3 of it")
    parser.add_argument("--latent", default="8x16x16", help="latent TxHxW (16 channels); tokens = T*H*W/4")
    parser.add_argument("--text-len", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.dim, args.layers, args.heads, args.wan_ffn, args.latent, args.warmup, args.repeats = (
            64, 2, 2, 192, "2x8x8", 1, 1
        )
    torch.set_num_threads(args.threads)
    from diffusers import WanTransformer3DModel

    from moviegen.dit import DiT, DiTConfig

    t, h, w = (int(v) for v in args.latent.split("x"))
    tokens = t * (h // 2) * (w // 2)
    ours_ffn = 2 * args.wan_ffn // 3
    torch.manual_seed(0)
    ours = DiT(
        DiTConfig(
            dim=args.dim, num_layers=args.layers, num_heads=args.heads, ffn_dim=ours_ffn, max_t=t, max_h=h // 2,
            max_w=w // 2, qk_norm=True,
        )
    )
    ours.init_weights()
    wan = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=args.heads, attention_head_dim=args.dim // args.heads,
        in_channels=16, out_channels=16, text_dim=args.dim, ffn_dim=args.wan_ffn, num_layers=args.layers,
    )
    latent = torch.randn(args.batch, 16, t, h, w)
    text = torch.randn(args.batch, args.text_len, args.dim)
    mask = torch.ones(args.batch, args.text_len, dtype=torch.bool)
    t_flow = torch.rand(args.batch)

    def step_ours() -> None:
        ours.zero_grad(set_to_none=True)
        ours(latent, t_B=t_flow, text_BSD=text, text_mask_BS=mask).square().mean().backward()

    def step_wan() -> None:
        wan.zero_grad(set_to_none=True)
        out = wan(latent, timestep=t_flow * 1000, encoder_hidden_states=text, return_dict=False)[0]
        out.square().mean().backward()

    n_ours = sum(p.numel() for p in ours.parameters())
    n_wan = sum(p.numel() for p in wan.parameters())
    # Interleave the two so that machine noise hits both alike.
    t_ours = time_step(step_ours, warmup=args.warmup, repeats=args.repeats)
    t_wan = time_step(step_wan, warmup=args.warmup, repeats=args.repeats)
    t_ours = min(t_ours, time_step(step_ours, warmup=0, repeats=args.repeats))
    t_wan = min(t_wan, time_step(step_wan, warmup=0, repeats=args.repeats))
    print(f"D={args.dim} layers={args.layers} heads={args.heads} tokens={tokens} text={args.text_len} "
          f"batch={args.batch} threads={args.threads} fp32 forward+backward")
    print(f"{'model':<10} {'params':>12} {'step (s)':>10}")
    print(f"{'moviegen':<10} {n_ours:>12,} {t_ours:>10.3f}")
    print(f"{'wan':<10} {n_wan:>12,} {t_wan:>10.3f}")
    print(f"speed ratio wan/moviegen = {t_wan / t_ours:.2f}x (target >= 1.2)")


if __name__ == "__main__":
    main()
