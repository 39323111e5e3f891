"""Encode + decode wall time of our 2.5D TAE vs diffusers' Wan 2.1 VAE (3D causal convs) at matched widths.

What it measures: the median wall time (after warm-up) of ``encode`` then ``decode`` of the same random clip, on CPU
with a fixed number of threads, for

* ``AutoencoderKLWan`` (3D causal convolutions, 8x spatial and 4x temporal compression; Wan only supports 4x time),
* our TAE with the same widths, levels and ResNets per level, at the same 4x temporal compression
  (``temporal_downsample=(False, True, True)``, as Wan's ``temperal_downsample``), and
* our TAE at the paper's 8x temporal compression.

It prints parameter counts, times and the ratio ours / Wan. If Wan's constructor cannot be matched, it falls back
to ``AutoencoderKLCogVideoX``. The clip length must be ``1 + 4k`` for Wan (17 by default).

    python benchmarks/bench_tae_vs_wan.py            # 17 x 64 x 64, 3 timed runs (~1-2 min on 2 cores)
    python benchmarks/bench_tae_vs_wan.py --quick    # 9 x 32 x 32, 1 timed run
"""

import argparse
from collections.abc import Callable

import torch
from timing import median_time

from moviegen.tae import TAEConfig, TemporalAutoencoder


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _reference_model(*, base: int, levels: int, layers: int, latent_channels: int) -> tuple[str, torch.nn.Module]:
    """Wan 2.1's VAE at our widths; CogVideoX's if Wan cannot be built."""
    try:
        from diffusers import AutoencoderKLWan

        model = AutoencoderKLWan(
            base_dim=base,
            z_dim=latent_channels,
            dim_mult=[min(2**i, 4) for i in range(levels)],
            num_res_blocks=layers,
            temperal_downsample=[False] + [True] * (levels - 2),
        )
        return "AutoencoderKLWan", model
    except (ImportError, TypeError, ValueError) as err:  # fallback documented in the module docstring
        print(f"AutoencoderKLWan unavailable ({err}); falling back to AutoencoderKLCogVideoX")
        from diffusers import AutoencoderKLCogVideoX

        model = AutoencoderKLCogVideoX(
            block_out_channels=tuple(base * min(2**i, 4) for i in range(levels)),
            layers_per_block=layers,
            latent_channels=latent_channels,
            norm_num_groups=min(32, base),
        )
        return "AutoencoderKLCogVideoX", model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=17, help="clip length, 1 + 4k for Wan")
    parser.add_argument("--size", type=int, default=64, help="height = width in pixels")
    parser.add_argument("--base-channels", type=int, default=32, help="width of the first level")
    parser.add_argument("--layers", type=int, default=2, help="ResNet blocks per encoder level")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (the median is reported)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="9 x 32 x 32 clip, 1 timed run")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.size, args.repeats = 9, 32, 1
    if (args.frames - 1) % 4:
        raise ValueError(f"--frames must be 1 + 4k for Wan's causal chunking, got {args.frames}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    levels, latent_channels = 4, 16
    widths = tuple(args.base_channels * min(2**i, 4) for i in range(levels))
    video = torch.rand(1, 3, args.frames, args.size, args.size) * 2 - 1

    ref_name, ref = _reference_model(
        base=args.base_channels, levels=levels, layers=args.layers, latent_channels=latent_channels
    )
    ref.eval()
    groups = min(32, args.base_channels)
    ours_4x = TemporalAutoencoder(
        TAEConfig(block_out_channels=widths, layers_per_block=args.layers, norm_num_groups=groups,
                  temporal_downsample=(False, True, True))  # fmt: skip
    ).eval()
    ours_8x = TemporalAutoencoder(
        TAEConfig(block_out_channels=widths, layers_per_block=args.layers, norm_num_groups=groups)
    ).eval()

    def run_ref() -> torch.Tensor:
        latent = ref.encode(video).latent_dist.mode()
        return ref.decode(latent).sample

    def run_ours(tae: TemporalAutoencoder) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            latent = tae.encode(video, sample=False).latent_BCTHW
            return tae.decode(latent, num_frames=args.frames)

        return run

    rows = []
    with torch.no_grad():
        for name, model, fn in (
            (ref_name, ref, run_ref),
            ("TAE (ours, 4x time)", ours_4x, run_ours(ours_4x)),
            ("TAE (ours, 8x time)", ours_8x, run_ours(ours_8x)),
        ):
            out = fn()
            seconds = median_time(fn, warmup=1, repeats=args.repeats)
            rows.append((name, _num_params(model), seconds, tuple(out.shape)))

    print(f"\nclip 1x3x{args.frames}x{args.size}x{args.size}, widths {widths}, {args.layers} ResNets/level, "
          f"{args.threads} threads, median of {args.repeats}")  # fmt: skip
    print(f"{'model':<24} {'params (M)':>11} {'enc+dec (s)':>12}  output shape")
    for name, params, seconds, shape in rows:
        print(f"{name:<24} {params / 1e6:>11.2f} {seconds:>12.3f}  {shape}")
    ref_seconds = rows[0][2]
    for name, _, seconds, _ in rows[1:]:
        print(f"ratio {name} / {ref_name}: {seconds / ref_seconds:.2f}x time")


if __name__ == "__main__":
    main()
