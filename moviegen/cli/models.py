"""``moviegen models``: every preset with its parameter count and, optionally, the geometry of a clip."""

import argparse
import json
from collections.abc import Sequence


def _format_count(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def _format_grid(grid: Sequence[int]) -> str:
    return "x".join(str(v) for v in grid)


def _cmd_models(args: argparse.Namespace) -> int:
    from moviegen.configs.geometry import num_frames_for, parse_size
    from moviegen.configs.presets import PRESETS, count_parameters

    size = parse_size(args.size) if args.size is not None else None
    if size is None and (args.seconds is not None or args.fps is not None):
        raise ValueError("--seconds/--fps describe a clip: give its --size too, e.g. --size 768 --seconds 16")
    fps = 16.0 if args.fps is None else args.fps
    num_frames = 1 if args.seconds is None else num_frames_for(seconds=args.seconds, fps=fps)

    rows = []
    for preset in PRESETS.values():
        if args.kind is not None and preset.kind.value != args.kind:
            continue
        if size is not None and args.kind is None and preset.kind.value == "text":
            continue  # geometry concerns the TAE and the transformer only
        row: dict[str, object] = {
            "name": preset.name,
            "kind": preset.kind.value,
            "params": count_parameters(preset.build),
            "description": preset.description,
        }
        if size is not None:
            try:
                geometry = preset.geometry(width=size[0], height=size[1], num_frames=num_frames)
            except ValueError as err:
                row["geometry_error"] = str(err)
            else:
                if geometry is not None:
                    row["geometry"] = geometry.as_dict()
                if preset.video is not None and geometry is not None:
                    row["fits_position_tables"] = preset.video().fits_position_tables(geometry)
        rows.append(row)

    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if size is not None:
        what = "an image" if args.seconds is None else f"{args.seconds:g} s at {fps:g} fps"
        frames = "1 frame" if num_frames == 1 else f"{num_frames} frames"
        print(f"geometry for {size[0]}x{size[1]} px, {what} ({frames})\n")
    header = f"{'name':<24} {'kind':<11} {'params':>9}  "
    print(header + ("latent (TxHxW)  tokens (TxHxW) = count" if size is not None else "description"))
    for row in rows:
        line = f"{row['name']:<24} {row['kind']:<11} {_format_count(row['params']):>9}  "  # type: ignore[arg-type]
        if size is None:
            line += str(row["description"])
        elif "geometry" in row:
            geo = row["geometry"]
            line += f"{_format_grid(geo['latent_grid']):<15} "  # type: ignore[index]
            if row["kind"] == "video":
                line += f"{_format_grid(geo['token_grid'])} = {geo['num_tokens']:,}"  # type: ignore[index]
                if not row["fits_position_tables"]:
                    line += "  (beyond its positional tables)"
        elif "geometry_error" in row:
            line += f"n/a: {row['geometry_error']}"
        print(line)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser(
        "models",
        help="list every preset with its parameter count and, optionally, the geometry of a clip",
        description=(
            "List every model preset of the cast: name, kind (tae, video, text, audio, audio-codec) and parameter "
            "count, counted on "
            "the meta device (no weights are allocated, so the 30B preset lists in a second). With --size, also "
            "print the TAE latent grid and the transformer token grid of a clip of that size and duration: "
            "8x8x8 TAE compression (frames T -> ceil(T/8)) then 1x2x2 patches."
        ),
        epilog=(
            "examples:\n"
            "  moviegen models --json\n"
            "  moviegen models --kind video --size 1024x576 --seconds 10.67 --fps 24\n"
            "  moviegen models --size 256            (an image: one frame)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models.add_argument("--json", action="store_true", help="print a JSON list of objects (name, kind, params, ...)")
    models.add_argument(
        "--kind", choices=["tae", "video", "text", "audio", "audio-codec"], help="only list presets of this kind"
    )
    models.add_argument("--size", metavar="WxH", help="clip size in pixels: 768 (square) or WIDTHxHEIGHT, 1024x576")
    models.add_argument("--seconds", type=float, help="clip duration in seconds (omit for an image)")
    models.add_argument("--fps", type=float, help="frames per second of the clip (default 16)")
    models.set_defaults(func=_cmd_models)
