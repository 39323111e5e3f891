"""Why is the text-to-video model's motion at chance? (issue 3: the adherence target; an experiment, not core code)

Two readings, both cheap on a CPU:

1. **The text.** The checkpoint's text stack encodes one prompt per motion (colour, shape and background fixed),
   one per colour and one per shape; the cosine of their mean projected tokens (the width the DiT cross-attends
   to) tells whether the motion words reach the transformer as distinctly as the colour words, which it follows.
2. **The judge's verdicts.** From ``moviegen eval adherence`` outputs (``eval.json``), the confusion of expected
   against detected motion: which motions the generated videos show instead. From ``moviegen eval tae`` outputs,
   the same for the TAE's round trip of world videos (the original's verdict beside it): what the latents keep.

    python experiments/motion_probe.py --checkpoint moviegen/assets/video-tiny
    python experiments/motion_probe.py --eval runs/eval-adherence/eval.json runs/eval-adherence-s100/eval.json
    python experiments/motion_probe.py --eval runs/eval-tae/eval.json
"""

import argparse
import collections
import json
from pathlib import Path

import torch

TEMPLATE = "a {colour} {shape} {motion} on a gray background"
FIXED = {"colour": "red", "shape": "circle", "motion": "moves left"}


def pooled_cosines(model, prompts: list[str]) -> torch.Tensor:
    """Cosine similarities of the prompts' mean projected text tokens (padding excluded)."""
    with torch.no_grad():
        text = model.encode_text(prompts)
    mask_BS1 = text.mask_BS[..., None].to(text.tokens_BSD.dtype)
    pooled_BD = (text.tokens_BSD * mask_BS1).sum(1) / mask_BS1.sum(1)
    unit_BD = torch.nn.functional.normalize(pooled_BD, dim=-1)
    return unit_BD @ unit_BD.T


def text_report(checkpoint: str) -> None:
    from moviegen.video import load_video_checkpoint
    from moviegen.world.vocab import OBJECT_COLOURS, Motion, Shape

    model = load_video_checkpoint(checkpoint).model
    axes = {"motion": [m.value for m in Motion], "colour": list(OBJECT_COLOURS), "shape": [s.value for s in Shape]}
    for axis, values in axes.items():
        prompts = [TEMPLATE.format(**(FIXED | {axis: v})) for v in values]
        cos = pooled_cosines(model, prompts)
        off = cos[~torch.eye(len(values), dtype=torch.bool)]
        closest = max(
            ((values[i], values[j], float(cos[i, j])) for i in range(len(values)) for j in range(i + 1, len(values))),
            key=lambda x: x[2],
        )
        print(f"{axis:6s} ({len(values)} values): mean off-diagonal cosine {float(off.mean()):.3f}, "
              f"max {float(off.max()):.3f} ({closest[0]} / {closest[1]})")


def motion_pairs(path: str) -> dict[str, list[tuple[str, str]]]:
    """(expected, detected) motions of an eval.json: generated videos (adherence), or the world's originals and
    their TAE reconstructions (tae)."""
    result = json.loads(Path(path).read_text())
    pairs: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for row in result.get("adherence", {}).get("rows", []):
        detected = row["detected"][0]["motion"] if row["detected"] else "nothing detected"
        pairs["generated"].append((row["expected"]["motion"], detected))
    for row in result.get("tae", {}).get("rows", []):
        for kind, objects in row.get("objects", {}).items():
            for obj in objects:
                detected = obj["detected"]["motion"] if obj["detected"] else "nothing detected"
                pairs[f"tae {kind}"].append((obj["motion"], detected))
    return pairs


def confusion_report(paths: list[str]) -> None:
    merged: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path in paths:
        for kind, pairs in motion_pairs(path).items():
            merged[kind].update(pairs)
    for kind, confusion in merged.items():
        right = sum(n for (e, d), n in confusion.items() if e == d)
        print(f"\n{kind}: {right} of {sum(confusion.values())} motions judged as expected")
        for e in sorted({e for e, _ in confusion}):
            found = {d: n for (ee, d), n in confusion.items() if ee == e}
            print(f"  {e:12s} -> " + ", ".join(f"{d} {n}" for d, n in sorted(found.items(), key=lambda x: -x[1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a video checkpoint: compare how distinctly its text encodes each axis")
    parser.add_argument("--eval", nargs="+", default=[],
                        help="adherence or tae eval.json files: expected vs detected motion")
    args = parser.parse_args()
    if not args.checkpoint and not args.eval:
        parser.error("give --checkpoint, --eval or both")
    if args.checkpoint:
        text_report(args.checkpoint)
    if args.eval:
        confusion_report(args.eval)


if __name__ == "__main__":
    main()
