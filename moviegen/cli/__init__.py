"""The ``moviegen`` command line: a thin layer over library functions (STYLE rule 4).

One module per command (or family of commands), each with a ``register(subparsers)`` function that adds its parser
and sets ``func`` to a ``_cmd_*`` function taking the parsed namespace. Heavy imports happen inside the ``_cmd_*``
functions so that ``moviegen --help`` stays fast. A ``ValueError`` (bad user input) exits with status 2 and a one-line
``moviegen COMMAND: error: ...`` message naming the bad value.
"""

import argparse
import importlib
import sys
from collections.abc import Sequence

_COMMAND_MODULES = ("models", "world", "train", "generate", "audio", "eval", "plan", "curate")

EPILOG = """\
examples:
  moviegen generate "a red circle bounces on a gray floor" -o out.mp4
                                           a video from a prompt with the embedded default
  moviegen image "a blue star on a black background" -o out.png
  moviegen audio clip.mp4 -o clip-with-sound.mp4
                                           synchronized sound for any video (or --prompt TEXT --seconds N -o a.wav)
  moviegen world -o world/ --num 200 --seed 0
                                           render the synthetic world (videos, sound, captions, manifest)
  moviegen curate raw/ -o curated/         filter, clip, dedup, balance and caption a raw video folder (Ray Data)
  moviegen train tae-tiny --data world/ -o runs/tae
                                           run a training recipe (see `moviegen train --help`)
  moviegen eval tae --checkpoint runs/tae --data world/
  torchrun --nproc_per_node=8 -m moviegen.train t2v-tiny-t2iv --data world/ --tae runs/tae -o runs/t2v --tp 4 --cp 2
                                           the same recipes with FSDP2, tensor and context parallelism
  moviegen plan --preset video-30b --gpus 6144 --tp 4 --cp 2 --seq-len 73728
                                           memory and step time of the paper's 768 px stage
  moviegen models --kind video --json      machine-readable list of the video transformers
  moviegen models --size 768 --seconds 16 --fps 16
                                           latent and token geometry of a 16 s 768x768 clip for each preset
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moviegen",
        description="Movie Gen, the open cast: text-to-video, audio, upsampling, editing, personalization.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(f"moviegen.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that restart themselves (train --dp)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"moviegen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
