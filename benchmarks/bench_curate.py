"""Curation throughput: clips per second per core, and the scaling from 1 to 2 Ray workers (SPEC 11).

What it measures: a synthetic-world corpus (``write_world``, ``--num`` samples, seed 0: 2-4 s videos at 96-160 px
with sound, plus still images that the funnel rejects at the probe) is curated twice with the world preset, into
fresh output folders, once with ``--workers 1`` and once with 2. The time is the wall time of the per-input stage
(probe, scene detection, clip decoding, OCR, borders, motion, the sound tag, writing candidate clips) as
``CurateResult.processing_seconds`` reports it, Ray's start-up excluded; "inside tasks" sums the time the tasks
themselves measured (``process_seconds`` in the manifest), so the gap to the stage's wall time x workers is Ray's
scheduling and the machine's other load; the corpus stages (dedup, balance, captions,
outputs) take well under a second here and are not counted. "clips/s/core" divides the clips cut by that time and by
the workers. Scaling is throughput(2 workers) / throughput(1 worker); 2.0 would be perfect on 2 idle cores.

    python benchmarks/bench_curate.py                 # 48-sample world
    python benchmarks/bench_curate.py --num 16        # quicker
"""

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=48, help="world samples (default 48)")
    args = parser.parse_args()

    from moviegen.curate.config import world_curation
    from moviegen.curate.pipeline import curate
    from moviegen.world import write_world

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        write_world(world, num=args.num, seed=0, progress=False)
        rows = []
        for workers in (1, 2):
            start = time.perf_counter()
            result = curate(world, Path(tmp) / f"out{workers}", cfg=world_curation(), workers=workers, progress=False)
            total = time.perf_counter() - start
            rate = result.clips_cut / result.processing_seconds
            import pyarrow.parquet as pq

            busy = sum(r["process_seconds"] or 0.0 for r in pq.read_table(str(result.manifest)).to_pylist()
                       if r["level"] == "input")
            rows.append((workers, result, total, rate, busy))
        print(f"world of {args.num} samples; {rows[0][1].inputs} inputs, {rows[0][1].clips_cut} clips cut, "
              f"{rows[0][1].clips_kept} kept")
        print("| workers | per-input stage s | inside tasks s (sum) | whole run s | clips/s | clips/s/core |")
        print("|---|---|---|---|---|---|")
        for workers, result, total, rate, busy in rows:
            print(f"| {workers} | {result.processing_seconds:.1f} | {busy:.1f} | {total:.1f} | {rate:.2f} | "
                  f"{rate / workers:.2f} |")
        print(f"scaling 1 -> 2 workers: {rows[1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main()
