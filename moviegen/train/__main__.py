"""``python -m moviegen.train ARGS`` = ``moviegen train ARGS``: the entry point torchrun starts on every rank, e.g.
``torchrun --nproc_per_node=2 -m moviegen.train t2v-debug --data world/ --tae runs/tae -o runs/t2v --dp 2``."""

import sys

from moviegen.cli import main

raise SystemExit(main(["train", *sys.argv[1:]]))
