"""Peak memory of a tiled TAE decode (SPEC 1.3) for a long vs a short clip: it must not grow with the length.

What it measures: for each clip length, a fresh subprocess builds a ``tae_tiny``-sized TAE, allocates a random latent,
decodes one latent frame as a warm-up, records its resident set size (RSS), runs ``decode_tiled`` (default tiles:
4 latent frames, overlap 2; under ``torch.no_grad()``), and reads the peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The reported figure is the peak growth during the decode,
``peak RSS - RSS before``, which contains the output buffer (it grows with the length by design) plus the per-tile
working memory (which must not). The ratio long / short should stay <= 1.3.
The children run with ``MALLOC_MMAP_THRESHOLD_`` lowered so that the RSS follows live tensors (see ``_CHILD_ENV``).

    python benchmarks/bench_tae_tiling_memory.py             # 256 vs 32 frames at 64 x 64 (~1-2 min on 2 cores)
    python benchmarks/bench_tae_tiling_memory.py --quick     # 96 vs 32 frames at 32 x 32
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from moviegen.tae import TemporalAutoencoder, decode_tiled, tae_tiny

_TARGET_RATIO = 1.3
# Serve every allocation above 64 KiB with mmap, so freed tensors leave the RSS at once: glibc's heap otherwise keeps
# fragmented freed blocks and the peak RSS drifts by tens of MiB from run to run. Allocation gets slower (the times
# printed are not speed figures).
_CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _measure(*, num_frames: int, size: int, threads: int) -> dict[str, float]:
    """Runs inside the child process: one tiled decode, returns memory figures in bytes and the time."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tae = TemporalAutoencoder(tae_tiny()).eval()
    cfg = tae.cfg
    latent = torch.randn(
        1, cfg.latent_channels, cfg.latent_num_frames(num_frames), size // cfg.spatial_compression,
        size // cfg.spatial_compression,
    )  # fmt: skip
    # Warm-up on one latent frame (an eighth of a tile): one-off allocations of the first call (kernel libraries,
    # thread pools) then do not count as decode memory; the warm-up's own peak stays below a full tile's.
    decode_tiled(tae, latent[:, :, :1], num_frames=1)
    before = _rss_bytes()
    start = time.perf_counter()
    video = decode_tiled(tae, latent, num_frames=num_frames)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {
        "peak_growth": peak - before,
        "output_bytes": video.numel() * video.element_size(),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--long-frames", type=int, default=256)
    parser.add_argument("--short-frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=64, help="height = width in pixels")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="96 vs 32 frames at 32 x 32")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.long_frames, args.short_frames, args.size = 96, 32, 32
    if args.child is not None:
        print(json.dumps(_measure(num_frames=args.child, size=args.size, threads=args.threads)))
        return

    results = {}
    for frames in (args.short_frames, args.long_frames):
        cmd = [sys.executable, __file__, "--child", str(frames), "--size", str(args.size)]
        cmd += ["--threads", str(args.threads)]
        env = {**os.environ, **_CHILD_ENV}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        results[frames] = json.loads(out.strip().splitlines()[-1])

    mib = 2**20
    print(f"\ntiled decode (tae_tiny widths, tiles 4 latent frames, overlap 2), {args.size}x{args.size}, "
          f"{args.threads} threads, fresh process per length")  # fmt: skip
    print(f"{'frames':>7} {'peak growth (MiB)':>18} {'output buffer (MiB)':>20} {'working (MiB)':>14} {'time (s)':>9}")
    for frames, r in results.items():
        working = r["peak_growth"] - r["output_bytes"]
        print(f"{frames:>7} {r['peak_growth'] / mib:>18.1f} {r['output_bytes'] / mib:>20.1f} "
              f"{working / mib:>14.1f} {r['seconds']:>9.2f}")  # fmt: skip
    short, long = results[args.short_frames], results[args.long_frames]
    ratio = long["peak_growth"] / short["peak_growth"]
    working_ratio = (long["peak_growth"] - long["output_bytes"]) / (short["peak_growth"] - short["output_bytes"])
    verdict = "OK" if ratio <= _TARGET_RATIO else "ABOVE TARGET"
    print(f"ratio peak growth {args.long_frames} / {args.short_frames} frames: {ratio:.2f} "
          f"(target <= {_TARGET_RATIO}: {verdict}); working-memory ratio {working_ratio:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
