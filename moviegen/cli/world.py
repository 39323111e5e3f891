"""``moviegen world``: render the synthetic world (videos with sound, stills, captions, edit pairs) to a directory."""

import argparse
import sys

_DESCRIPTION = """\
Render the synthetic world: short procedural movies of coloured shapes and characters moving on a (textured)
background under a moving camera, with impact sounds, optional music and optional visual text, each with a dense
caption and short paraphrased prompts. It is the training and evaluation domain of the embedded default.

Written to DIR:
  manifest.jsonl        one JSON object per sample (id, path, kind, split, width, height, fps, num_frames,
                        seconds, caption, prompts, camera, text, scene, audio)
  videos/ID.mp4         H.264 + AAC (48 kHz mono), 16 fps, 2-4 s, 128x128 / 160x96 / 96x160
  images/ID.png         stills (about 20% of the samples)
  characters/NNN.png    a reference portrait per character identity
  edits.jsonl           edit pairs: source id, target id, kind, instruction (about 5% of the samples)
  world.json            seed, count, held-out combinations and identities, buckets, config

Sample i depends only on (seed, i): re-running the same command skips the files already written (resume), and a
larger --num adds samples without changing the existing ones. See docs/world.md."""

_EPILOG = """\
examples:
  moviegen world -o world/ --num 200 --seed 0
  moviegen world -o world/ --num 1000 --seed 0      grow the same world to 1000 samples (keeps the first 200)
  moviegen world -o eval/ --num 100 --seed 1 --heldout-fraction 1.0
                                                   held-out combinations only (evaluation set)"""


def _cmd_world(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from moviegen.world.writer import world_default, write_world

    if args.num <= 0:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    config = world_default()
    if args.heldout_fraction is not None:
        config = replace(config, heldout_fraction=args.heldout_fraction)
    result = write_world(args.output, num=args.num, seed=args.seed, config=config, progress=not args.no_progress)
    rate = result.num_written / result.seconds if result.seconds > 0 else 0.0
    print(
        f"wrote {result.num_written} samples ({result.num_skipped} already present) to {result.out_dir} "
        f"in {result.seconds:.1f} s ({rate:.1f} samples/s); manifest: {result.out_dir / 'manifest.jsonl'}",
        file=sys.stderr,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    world = sub.add_parser(
        "world",
        help="render the synthetic world (videos, sound, captions, manifest)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    world.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (created if missing)")
    world.add_argument("--num", type=int, required=True, help="number of samples to write (>= 1)")
    world.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    world.add_argument(
        "--heldout-fraction",
        type=float,
        metavar="F",
        help="fraction of samples from the held-out split, in [0, 1] (default 0.1, from world_default())",
    )
    world.add_argument("--no-progress", action="store_true", help="no progress bar")
    world.set_defaults(func=_cmd_world)
