"""Peak memory of long video-to-audio (SPEC 8.5): 60 s must cost at most 1.3x the peak memory of a 10 s clip.

What it measures: the parent builds an ``audio_tiny()`` model (``--config debug``: ``audio_debug()``) with random
weights (``init_weights``, then every trainable parameter perturbed by ``0.02 * N(0, 1)`` so that zero-initialised
gates and projections do not make the output trivial; no training), saves it with ``save_audio_checkpoint`` into a
temporary directory (``AudioDefaults(flow=audio_flow(), overlap_seconds=1.0)``; the debug config's 0.32 s window
takes a quarter window instead) and, for each long mode (multi-diffusion, autoregressive) and each length
(``--short-seconds``, ``--long-seconds``), starts a fresh subprocess that

1. loads an ``AudioPipeline`` from the checkpoint (its resident set size, RSS, afterwards is the "after load" column:
   for ``tiny`` it is mostly the MiniLM text encoder and the libraries, and does not count: what matters is the
   growth during generation);
2. makes random uint8 frames (``--fps`` 16, ``--size`` 32 x 32; 60 s is 960 frames, under 3 MiB) as the caller's
   input, and runs one warm-up generation of a quarter window with 1 step, so that one-off allocations of the first
   call (kernel libraries, thread pools) do not count as generation memory;
3. resets the kernel's peak-RSS counter (writing ``5`` to ``/proc/self/clear_refs``, which resets ``VmHWM`` and
   ``ru_maxrss`` to the current RSS), reads the RSS, runs ``pipeline.generate`` (video-to-audio of the whole length,
   ``--steps`` ODE steps, the checkpoint's guidance, so every velocity call is a CFG-doubled window), and reads the
   peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). Where ``clear_refs`` is not writable the peak is not
   reset; it then still covers the warm-up, whose peak (a quarter window) stays below a full generation's.

The reported "peak growth" is ``peak RSS - RSS before generate``: the generation's working memory (one window's
transformer activations, one decode chunk of 10 s) plus what grows with the length by design (the latent, the
per-frame video features, the decoded waveform; 60 s of 16 kHz float32 audio is 3.7 MiB). The ratio long / short
of the peak growth is printed per mode against the target 1.3. "process peak" is the peak RSS of the whole child
(load, warm-up and generation). Memory does not depend on the step count (each step reuses the same buffers), so
``--steps`` defaults to 4. The children run with ``MALLOC_MMAP_THRESHOLD_`` lowered so that the RSS follows live
tensors (see ``CHILD_ENV``); that slows allocation down, so the wall time and the real-time factor printed (audio
seconds / wall seconds, > 1 is faster than real time) are speed figures only with ``--plain-malloc`` (whose peaks
then drift by tens of MiB), at the checkpoint's 64 steps (``--steps 64``), on an idle machine.

    python benchmarks/bench_audio_long_memory.py               # audio_tiny, 10 s vs 60 s, both modes
    python benchmarks/bench_audio_long_memory.py --steps 64 --plain-malloc   # speed: real-time factor at 64 steps
    python benchmarks/bench_audio_long_memory.py --config debug             # the debug model, 10 s vs 60 s
    python benchmarks/bench_audio_long_memory.py --quick       # audio_debug, 1 step, 1 s vs 6 s: to check it runs
                                                               # (1 thread unless --threads: seconds on a busy machine)
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rss import CHILD_ENV, MIB, peak_bytes, reset_peak, rss_bytes

from moviegen.audio.checkpoint import AudioDefaults, save_audio_checkpoint
from moviegen.audio.codec import DACVAE
from moviegen.audio.config import audio_debug, audio_tiny
from moviegen.audio.long import window_starts
from moviegen.audio.model import MovieGenAudio
from moviegen.audio.pipeline import (
    DECODE_CHUNK_SECONDS,
    AudioPipeline,
    AudioRequest,
    LongMode,
)
from moviegen.train.audio_recipes import audio_flow

_TARGET_RATIO = 1.3
_MODES = ("multidiffusion", "autoregressive")


def _build_checkpoint(path: Path, *, config: str) -> None:
    """A random-weight audio checkpoint (see the module docstring)."""
    cfg = audio_tiny() if config == "tiny" else audio_debug()
    torch.manual_seed(0)
    model = MovieGenAudio(cfg)
    model.init_weights()
    trainable = set(model.trainable_state_dict())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in trainable:
                p.add_(0.02 * torch.randn_like(p))
    codec = DACVAE(cfg.codec)
    overlap = 1.0 if 1.0 < cfg.window_seconds else cfg.window_seconds / 4
    save_audio_checkpoint(
        path, cfg=cfg, codec=codec, model=model, card={"benchmark": "random weights"},
        defaults=AudioDefaults(flow=audio_flow(), overlap_seconds=overlap),
    )


def _measure(*, checkpoint: str, seconds: float, mode: str, steps: int, fps: float, size: int) -> dict:
    """Runs inside the child process: one generation, returns memory figures in bytes and the time."""
    pipeline = AudioPipeline.from_checkpoint(checkpoint)
    after_load = rss_bytes()
    cfg = pipeline.cfg
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(max(1, math.ceil(seconds * fps)), size, size, 3), dtype=np.uint8)
    long_mode = LongMode(mode)

    warm = cfg.window_seconds / 4
    warm_frames = frames[: max(1, math.ceil(warm * fps))]
    pipeline.generate(AudioRequest(seconds=warm, frames_THWC=warm_frames, fps=fps, steps=1, mode=long_mode))
    peak_so_far = peak_bytes()

    reset = reset_peak()
    before = rss_bytes()
    request = AudioRequest(seconds=seconds, frames_THWC=frames, fps=fps, steps=steps, mode=long_mode, seed=1)
    start = time.perf_counter()
    audio = pipeline.generate(request)
    wall = time.perf_counter() - start
    peak = peak_bytes()
    length = math.ceil(seconds * cfg.frame_rate - 1e-9)
    overlap = min(round(pipeline.defaults.overlap_seconds * cfg.frame_rate), cfg.window_frames - 1)
    if not np.isfinite(audio).all() or float(np.abs(audio).max()) == 0.0:
        raise RuntimeError("generation returned non-finite or all-zero audio")
    return {
        "after_load": after_load,
        "before": before,
        "peak_growth": peak - before,
        "process_peak": max(peak_so_far, peak),
        "output_bytes": audio.nbytes,
        "frames_bytes": frames.nbytes,
        "latent_frames": length,
        "windows": len(window_starts(length, window=cfg.window_frames, overlap=overlap)),
        "wall": wall,
        "peak_reset": reset,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=["tiny", "debug"], default="tiny")
    parser.add_argument("--short-seconds", type=float, default=10.0)
    parser.add_argument("--long-seconds", type=float, default=60.0)
    parser.add_argument("--modes", nargs="+", choices=_MODES, default=list(_MODES))
    parser.add_argument("--steps", type=int, default=4, help="ODE steps (memory does not depend on them)")
    parser.add_argument("--fps", type=float, default=16.0)
    parser.add_argument("--size", type=int, default=32, help="frame height = width in pixels")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default 2; 1 with --quick)")
    parser.add_argument("--plain-malloc", action="store_true", help="children without CHILD_ENV: speed figures")
    parser.add_argument("--quick", action="store_true", help="audio_debug, 1 step, 1 s vs 6 s: checks it runs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=_MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads is None:  # two OpenMP threads crawl when other jobs share a 2-core machine; a check needs one
        args.threads = 1 if args.quick else 2
    torch.set_num_threads(args.threads)
    if args.child:
        r = _measure(
            checkpoint=args.checkpoint, seconds=args.seconds, mode=args.mode, steps=args.steps, fps=args.fps,
            size=args.size,
        )
        print(json.dumps(r))
        return
    if args.quick:
        args.config, args.steps, args.short_seconds, args.long_seconds = "debug", 1, 1.0, 6.0
    if args.steps < 1 or not 0 < args.short_seconds < args.long_seconds:
        parser.error(f"need --steps >= 1 and 0 < --short-seconds < --long-seconds, got {vars(args)}")

    results: dict[tuple[str, float], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-audio-mem-") as tmp:
        checkpoint = Path(tmp) / "ckpt"
        _build_checkpoint(checkpoint, config=args.config)
        for mode in args.modes:
            for seconds in (args.short_seconds, args.long_seconds):
                cmd = [sys.executable, __file__, "--child", "--checkpoint", str(checkpoint), "--seconds", str(seconds),
                       "--mode", mode, "--steps", str(args.steps), "--fps", str(args.fps), "--size", str(args.size),
                       "--threads", str(args.threads)]  # fmt: skip
                env = dict(os.environ) if args.plain_malloc else {**os.environ, **CHILD_ENV}
                proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    sys.exit(f"child {shlex.join(cmd)} failed:\n{proc.stderr[-4000:]}")
                results[(mode, seconds)] = json.loads(proc.stdout.strip().splitlines()[-1])

    reset = all(r["peak_reset"] for r in results.values())
    print(f"\nvideo-to-audio, audio_{args.config} (random weights), {args.steps} steps, frames {args.size}x{args.size} "
          f"at {args.fps:g} fps, {args.threads} threads, fresh process per run; peak "
          f"{'reset before generate (clear_refs)' if reset else 'NOT reset (clear_refs unavailable): covers warm-up'}"
          f"\n")  # fmt: skip
    print("| mode | seconds | latent frames | windows | RSS after load (MiB) | peak growth (MiB) | output (MiB) "
          "| process peak (MiB) | wall (s) | x realtime |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for (mode, seconds), r in results.items():
        print(f"| {mode} | {seconds:g} | {r['latent_frames']} | {r['windows']} | {r['after_load'] / MIB:.1f} "
              f"| {r['peak_growth'] / MIB:.1f} | {r['output_bytes'] / MIB:.1f} | {r['process_peak'] / MIB:.1f} "
              f"| {r['wall']:.2f} | {seconds / r['wall']:.2f} |")  # fmt: skip

    long_s, short_s = f"{args.long_seconds:g}", f"{args.short_seconds:g}"
    print(f"\n| mode | peak growth {long_s} s / {short_s} s | process peak {long_s} s / {short_s} s "
          f"| target (growth) <= {_TARGET_RATIO} |")  # fmt: skip
    print("|---|--:|--:|---|")
    for mode in args.modes:
        short, long = results[(mode, args.short_seconds)], results[(mode, args.long_seconds)]
        ratio = long["peak_growth"] / max(short["peak_growth"], 1)
        verdict = "OK" if ratio <= _TARGET_RATIO else "ABOVE TARGET"
        print(f"| {mode} | {ratio:.2f} | {long['process_peak'] / short['process_peak']:.2f} | {verdict} |")
    if args.short_seconds < DECODE_CHUNK_SECONDS:
        print(f"\nnote: {args.short_seconds:g} s is shorter than one {DECODE_CHUNK_SECONDS:g} s decode chunk, so the "
              f"short clip's decode is smaller than the long one's and the ratio overstates the growth")  # fmt: skip
    print(f"\ncommand: {shlex.join(['python', *sys.argv])}")


if __name__ == "__main__":
    main()
