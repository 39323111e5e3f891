"""Why is the text-to-video model's motion at chance? (issue 3: the adherence target; an experiment, not core code)

Five readings, all cheap on a CPU:

1. **The text.** The checkpoint's text stack encodes one prompt per motion (colour, shape and background fixed),
   one per colour and one per shape; the cosine of their mean projected tokens (the width the DiT cross-attends
   to) tells whether the motion words reach the transformer as distinctly as the colour words, which it follows.
2. **The judge's verdicts.** From ``moviegen eval adherence`` outputs (``eval.json``), the confusion of expected
   against detected motion: which motions the generated videos show instead. From ``moviegen eval tae`` outputs,
   the same for the TAE's round trip of world videos (the original's verdict beside it): what the latents keep.
3. **Temporal coherence** (adherence outputs with ``max_step``): how many judged objects move at most
   ``COHERENT_STEP`` of the frame per frame. World renders always do, bounces aside (76 of 76 non-bouncing objects
   of 60 static-camera world clips move at most 0.021 a frame; bounces reach 0.2 at the floor), so the count is of
   non-bouncing prompts; an object that vanishes and reappears elsewhere fails.
4. **Frame order** (``--checkpoint`` with ``--latents``): the flow loss of cached world clips with a directional
   motion (moves left/right/up/down, static camera), noised at t = 0.1, 0.2, 0.3 (the noise end, where the prompt
   matters most), in their true frame order and reversed, captions kept. Reversed, such a clip contradicts its
   caption, so a model that follows the caption's direction scores it worse; ratio 1 means it does not (or cannot
   tell which frame comes first). Then the same loss with the captions' direction words swapped (left <-> right,
   up <-> down), with their colours changed and empty: how much each kind of word matters to the model at all.
   ``--overfit N`` then trains the transformer on those clips alone for N steps
   and reads the order again: whether it can learn the clips' direction at all; ``--contrastive`` adds each clip
   played backwards with its direction words swapped, so that only the words tell the two apart. Controls for the
   contrastive overfit: ``--short`` (each clip's short prompt instead of its dense caption), ``--temporal-std``
   (the temporal table's rows first redrawn apart), ``--label`` (the direction also fed as an adaLN class label)
   and ``--object-weight`` (the loss weighted toward the objects, ``T2VRecipe.object_weight``).
   With ``--latents`` the script also prints where the cross-attention looks: its share on direction, colour and
   shape words, per latent frame.
5. **Direction** (adherence outputs with ``displacement``): whatever motion the judge names, does the object of
   a move prompt end up on the prompt's side of where it started (chance: half), and how many objects grow by the
   judge's ratio (which it reads as *grows* before any other motion)?

    python experiments/motion_probe.py --checkpoint moviegen/assets/video-tiny
    python experiments/motion_probe.py --eval runs/eval-adherence/eval.json runs/eval-adherence-s100/eval.json
    python experiments/motion_probe.py --eval runs/eval-tae/eval.json
    python experiments/motion_probe.py --checkpoint moviegen/assets/video-tiny --latents runs/world/latents/ID
    python experiments/motion_probe.py --checkpoint moviegen/assets/video-tiny --latents runs/world/latents/ID \
        --overfit 1000
"""

import argparse
import collections
import json
import re
from pathlib import Path

import torch

TEMPLATE = "a {colour} {shape} {motion} on a gray background"
FIXED = {"colour": "red", "shape": "circle", "motion": "moves left"}
COHERENT_STEP = 0.05
# unit directions (x right, y down) of the move prompts
DIRECTIONS = {"moves left": (-1, 0), "moves right": (1, 0), "moves up": (0, -1), "moves down": (0, 1)}
ORDER_TIMES = (0.1, 0.2, 0.3)
# the direction words of the captions, in the order of a direction label (4: none)
DIRECTION_WORDS = ("left", "right", "up", "down")
DIRECTION_RE = re.compile(rf"\b({'|'.join(DIRECTION_WORDS)})\b")


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


def directional_clips(latents: str, *, num: int = 16, short: bool = False) -> list:
    """Up to ``num`` cached 2 s static-camera clips whose caption names a directional motion (any split);
    ``short``: each clip's caption replaced by its first short prompt (``a red circle moves left on a ...``)."""
    import dataclasses

    from moviegen.data.latent_cache import LatentDataset

    data = LatentDataset(latents)
    picked = [i for i, r in enumerate(data.records) if r["camera"] == "static" and r["bucket"].endswith("x32")
              and any(m in r["caption"] for m in DIRECTIONS)][:num]
    if not picked:
        raise SystemExit(f"no static-camera clip with a directional motion in {latents}")
    samples = [data.load(i) for i in picked]
    return [dataclasses.replace(s, caption=s.prompts[0]) for s in samples] if short else samples


def by_bucket(samples: list) -> dict[tuple[int, ...], list]:
    """The clips grouped by latent shape (one batch can only hold one)."""
    groups = collections.defaultdict(list)
    for sample in samples:
        groups[tuple(sample.mean_CTHW.shape)].append(sample)
    return groups


def clean_batch(model, cfg, group: list, *, edit=None, grad: bool = False):
    """Normalised clean latents and encoded captions of same-shape clips (``edit``: a function applied to each
    caption first; ``grad``: keep the text stack's graph, for training its trainable parts)."""
    x1 = cfg.tae.normalize_latent(torch.stack([s.mean_CTHW for s in group]))
    captions = [edit(s.caption) if edit else s.caption for s in group]
    with torch.set_grad_enabled(grad):
        text = model.encode_text(captions, fps=group[0].fps, camera_motion=[s.camera for s in group])
    if hasattr(model, "direction_label"):
        model.direction_label.labels_B = torch.tensor([direction_label(c) for c in captions])
    return x1, text


def direction_label(caption: str) -> int:
    """The caption's first direction word as an index into ``DIRECTION_WORDS`` (4: none)."""
    found = DIRECTION_RE.search(caption)
    return DIRECTION_WORDS.index(found.group(1)) if found else len(DIRECTION_WORDS)


def add_direction_label(model) -> None:
    """A control for the words: give the transformer each caption's first direction word also as a learned class
    embedding added to the time embedding (the adaLN input, a DiT's class-label route), zero at the start. If the
    overfit then separates a clip from its reverse, the network can draw either direction from a global signal, and
    what fails is the cross-attention route to the word."""
    table = torch.nn.Embedding(len(DIRECTION_WORDS) + 1, model.dit.cfg.dim)
    torch.nn.init.zeros_(table.weight)
    model.direction_label = table
    model.dit.time_embed.register_forward_hook(lambda module, args, out: out + table(table.labels_B))


def swap_directions(caption: str) -> str:
    """The caption with left/right and up/down exchanged (``moves left`` -> ``moves right``, ...)."""
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
    return DIRECTION_RE.sub(lambda m: opposite[m.group(1)], caption)


def shift_colours(caption: str) -> str:
    """The caption with every object colour replaced by another palette colour (a control for ``swap_directions``)."""
    from moviegen.world.vocab import OBJECT_COLOURS

    colours = list(OBJECT_COLOURS)
    other = {c: colours[(i + 3) % len(colours)] for i, c in enumerate(colours)}
    return re.sub(rf"\b({'|'.join(colours)})\b", lambda m: other[m.group(1)], caption)


def order_losses(model, cfg, samples: list, *, times=ORDER_TIMES, edit=None) -> tuple[float, float]:
    """Mean flow loss of the clips at ``times`` (fixed noise) in true and in reversed frame order, captions
    ``edit``-ed first (``swap_directions``: the reversed clip is then the one that matches)."""
    from moviegen.flow import OTPath, flow_matching_loss

    losses = {"true": 0.0, "reversed": 0.0}
    with torch.no_grad():
        for group in by_bucket(samples).values():
            x1, text = clean_batch(model, cfg, group, edit=edit)
            for k, t_value in enumerate(times):
                x0 = torch.randn(x1.shape, generator=torch.Generator().manual_seed(k))
                t = torch.full((x1.shape[0],), t_value)
                for order, x in (("true", x1), ("reversed", x1.flip(2))):
                    out = flow_matching_loss(lambda xt, tt: model(xt, t_B=tt, text=text), x, path=OTPath(), t=t, x0=x0)
                    losses[order] += float(out.loss) * len(group)
    n = len(times) * len(samples)
    return losses["true"] / n, losses["reversed"] / n


def order_report(checkpoint: str, latents: str, *, num: int = 16, overfit_steps: int = 0,
                 contrastive: bool = False, lr: float = 3e-4, short: bool = False,
                 temporal_std: float = 0.0, label: bool = False, object_weight: float = 0.0) -> None:
    from moviegen.video import load_video_checkpoint

    loaded = load_video_checkpoint(checkpoint)
    model, cfg = loaded.model, loaded.cfg
    samples = directional_clips(latents, num=num, short=short)
    if short:
        print(f"short prompts, e.g. {samples[0].caption!r}")
    if temporal_std:
        spread_temporal_rows(model, std=temporal_std)
    if label:
        add_direction_label(model)
    attention_report(model, cfg, samples)
    true, rev = order_losses(model, cfg, samples)
    print(f"\nframe order ({len(samples)} clips with a directional motion, t = {ORDER_TIMES}): flow loss true "
          f"{true:.4f}, reversed {rev:.4f}, ratio {rev / true:.3f}")
    for name, edit in (("directions swapped", swap_directions), ("colours changed", shift_colours),
                       ("empty", lambda caption: "")):
        edited, _ = order_losses(model, cfg, samples, edit=edit)
        print(f"  captions {name}: flow loss {edited:.4f} ({edited / true - 1:+.2%})")
    if overfit_steps:
        overfit(model, cfg, samples + [reversed_clip(s) for s in samples] if contrastive else samples,
                steps=overfit_steps, lr=lr, object_weight=object_weight)
        true, rev = order_losses(model, cfg, samples)
        print(f"after {overfit_steps} steps on these clips alone (true order): flow loss true {true:.4f}, reversed "
              f"{rev:.4f}, ratio {rev / true:.3f}")
        true, rev = order_losses(model, cfg, samples, edit=swap_directions)
        attention_report(model, cfg, samples)
        print(f"the same with each caption's directions swapped (left <-> right, up <-> down): true {true:.4f}, "
              f"reversed {rev:.4f}, ratio {rev / true:.3f} (below 1: the model reads the direction words; as above: "
              f"it recognises the clips instead)")


def attention_report(model, cfg, samples: list, *, t_value: float = 0.2) -> None:
    """Where the transformer's cross-attention looks: the share of attention (heads, video tokens and layers
    averaged) on each kind of prompt token (direction, colour and shape words, the rest), and how the share on the
    direction words differs between latent frames (a model that reads them for one frame but not another could
    place the object by frame; equal shares over frames cannot tell the frames' order apart)."""
    from moviegen.flow import OTPath
    from moviegen.text.config import TextRole
    from moviegen.text.prompt import format_prompt
    from moviegen.world.vocab import OBJECT_COLOURS, Shape

    kinds = {"direction": set(DIRECTION_WORDS), "colour": set(OBJECT_COLOURS), "shape": {s.value for s in Shape}}
    captured = []

    def capture(module, args, kwargs):
        q_BNLK, k_BNSK = args[0], args[1]
        logits_BNLS = q_BNLK @ k_BNSK.transpose(-1, -2) / q_BNLK.shape[-1] ** 0.5
        logits_BNLS = logits_BNLS.masked_fill(~kwargs["mask_BS"][:, None, None, :], float("-inf"))
        captured.append(logits_BNLS.softmax(-1).mean(1))  # [B, L, S], heads averaged

    hooks = [block.cross_attention.sdpa.register_forward_pre_hook(capture, with_kwargs=True)
             for block in model.dit.layers.values()]
    tokenizer = model.text.encoder(TextRole.PROMPT).tokenizer
    share = collections.defaultdict(float)
    per_frame = []
    with torch.no_grad():
        for group in by_bucket(samples).values():
            x1, text = clean_batch(model, cfg, group)
            x0 = torch.randn(x1.shape, generator=torch.Generator().manual_seed(0))
            xt = OTPath().sample(x0=x0, x1=x1, t=torch.full((len(group),), t_value)).xt
            captured.clear()
            model(xt, t_B=torch.full((len(group),), t_value), text=text)
            attn_BLS = torch.stack(captured).mean(0)  # layers averaged
            frames = x1.shape[2] // cfg.dit.patch_size[0]
            for b, sample in enumerate(group):
                prefixed = format_prompt(sample.caption, fps=sample.fps, camera_motion=sample.camera)
                words = tokenizer.convert_ids_to_tokens(tokenizer(prefixed)["input_ids"])
                kind_of = [next((k for k, vocab in kinds.items() if w in vocab), "other") for w in words]
                mass_S = attn_BLS[b].mean(0)
                for kind, m in zip(kind_of, mass_S):
                    share[kind] += float(m) / len(samples)
                direction_S = torch.tensor([k == "direction" for k in kind_of] +
                                           [False] * (attn_BLS.shape[-1] - len(kind_of)))
                frame_mass_F = attn_BLS[b][:, direction_S].sum(-1).reshape(frames, -1).mean(-1)
                per_frame.append(frame_mass_F)
    for hook in hooks:
        hook.remove()
    frame_F = torch.stack(per_frame).mean(0)
    print(f"\ncross-attention at t = {t_value} (layers, heads, video tokens averaged; {len(samples)} clips): " +
          ", ".join(f"{k} words {v:.1%}" for k, v in sorted(share.items(), key=lambda x: -x[1])) +
          "; on direction words by latent frame: " + " ".join(f"{float(m):.2%}" for m in frame_F))


def spread_temporal_rows(model, *, std: float) -> None:
    """Redraw the temporal table's rows as their mean plus N(0, std) each, so that the latent frames start apart."""
    pos_t = model.dit.pos_embed.pos_t
    with torch.no_grad():
        noise = torch.randn(pos_t.shape, generator=torch.Generator().manual_seed(0))
        pos_t.copy_(pos_t.mean(0, keepdim=True) + std * noise)
    unit = torch.nn.functional.normalize(pos_t.detach(), dim=-1)
    print(f"temporal rows redrawn: mean pairwise cosine {float((unit @ unit.T)[0, 1:].mean()):.2f}")


def reversed_clip(sample):
    """The clip played backwards with its caption's directions swapped: a valid clip of the opposite motion (for
    the translations these clips have), differing from the original in the direction words only."""
    import dataclasses

    return dataclasses.replace(sample, mean_CTHW=sample.mean_CTHW.flip(1), logvar_CTHW=sample.logvar_CTHW.flip(1),
                               caption=swap_directions(sample.caption))


def overfit(model, cfg, samples: list, *, steps: int, batch_size: int = 4, lr: float = 3e-4,
            object_weight: float = 0.0) -> None:
    """Train the model on these clips alone, with their captions (the parts full training trains), times uniform in
    [0, 0.5] (the noise half, where the caption decides the layout): can it learn their direction at all?"""
    from moviegen.flow import OTPath, flow_matching_loss
    from moviegen.train.t2v import loss_weights

    generator = torch.Generator().manual_seed(0)
    groups = by_bucket(samples)
    model.train()
    # every part full training trains: the DiT, the text conditioner and the byte encoder (MiniLM stays frozen)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    for _ in range(steps):
        # one bucket per batch, chosen in proportion to its clips
        pick = samples[int(torch.randint(len(samples), (1,), generator=generator))]
        group = groups[tuple(pick.mean_CTHW.shape)]
        batch = [group[int(i)] for i in torch.randperm(len(group), generator=generator)[:batch_size]]
        x1, text = clean_batch(model, cfg, batch, grad=True)
        t = 0.5 * torch.rand(len(batch), generator=generator)
        x0 = torch.randn(x1.shape, generator=generator)
        loss = flow_matching_loss(lambda xt, tt: model(xt, t_B=tt, text=text), x1, path=OTPath(), t=t, x0=x0,
                                  loss_mask=loss_weights(x1, objects=object_weight)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def judged_objects(paths: list[str]) -> list[tuple[str, dict]]:
    """(expected motion, judged object) of every adherence row with a detection: the object of the prompt's colour,
    else the largest (as the judge picks it)."""
    judged = []
    for path in paths:
        for row in json.loads(Path(path).read_text()).get("adherence", {}).get("rows", []):
            if row["detected"]:
                obj = next((o for o in row["detected"] if o["colour"] == row["expected"]["colour"]), row["detected"][0])
                judged.append((row["expected"]["motion"], obj))
    return judged


def coherence_report(paths: list[str]) -> None:
    steps = [obj["max_step"] for motion, obj in judged_objects(paths) if motion != "bounces" and "max_step" in obj]
    if steps:
        coherent = sum(step <= COHERENT_STEP for step in steps)
        print(f"\ncoherence: {coherent} of {len(steps)} judged objects (bouncing prompts excluded) move at most "
              f"{COHERENT_STEP} of the frame per frame; median largest step {sorted(steps)[len(steps) // 2]:.3f}")


def direction_report(paths: list[str]) -> None:
    """Does the object go the prompt's way at all, whatever the verdict? The judged object's net displacement
    (adherence rows with ``displacement``) along the direction of a move prompt: with no use of the direction word,
    about half point the right way. Also how many judged objects of every prompt end at least ``grow_ratio`` times
    their starting area, which the judge reads as *grows* before any other motion."""
    from moviegen.eval import AnalyserConfig

    move_threshold, grow_ratio = AnalyserConfig().move_threshold, AnalyserConfig().grow_ratio
    judged = [(motion, obj) for motion, obj in judged_objects(paths) if "displacement" in obj]
    moves = [(motion, obj) for motion, obj in judged if motion in DIRECTIONS]
    if not judged:
        return
    along = [sum(a * b for a, b in zip(DIRECTIONS[motion], obj["displacement"])) for motion, obj in moves]
    right_way = sum(a > 0 for a in along)
    far = sum(a >= move_threshold for a in along)
    grown = sum(obj["growth"] >= grow_ratio for _, obj in judged)
    print(f"\ndirection: {right_way} of {len(moves)} move prompts' objects go the prompt's way (chance: half), "
          f"{far} by at least {move_threshold} of the frame; median move along it {sorted(along)[len(along) // 2]:+.3f}"
          if moves else "\ndirection: no move prompts")
    print(f"growth: {grown} of {len(judged)} judged objects end >= {grow_ratio}x their starting area")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a video checkpoint: compare how distinctly its text encodes each axis")
    parser.add_argument("--latents", help="with --checkpoint: a latent cache (the world's latents/ID folder) for the "
                        "frame-order reading")
    parser.add_argument("--overfit", type=int, default=0, metavar="STEPS",
                        help="with --latents: then train on those clips alone for STEPS and read the order again")
    parser.add_argument("--lr", type=float, default=3e-4, help="with --overfit: the AdamW learning rate")
    parser.add_argument("--contrastive", action="store_true",
                        help="with --overfit: also train on each clip reversed, its direction words swapped")
    parser.add_argument("--short", action="store_true",
                        help="with --latents: the clips' first short prompts instead of their dense captions")
    parser.add_argument("--temporal-std", type=float, default=0.0, metavar="STD",
                        help="with --latents: first redraw the temporal table's rows as their mean + N(0, STD)")
    parser.add_argument("--label", action="store_true",
                        help="with --overfit: also feed each caption's direction word as a learned adaLN class label")
    parser.add_argument("--object-weight", type=float, default=0.0,
                        help="with --overfit: weigh the loss toward the objects (T2VRecipe.object_weight)")
    parser.add_argument("--eval", nargs="+", default=[],
                        help="adherence or tae eval.json files: expected vs detected motion")
    args = parser.parse_args()
    if not args.checkpoint and not args.eval:
        parser.error("give --checkpoint, --eval or both")
    if args.checkpoint:
        text_report(args.checkpoint)
        if args.latents:
            order_report(args.checkpoint, args.latents, overfit_steps=args.overfit, contrastive=args.contrastive,
                         lr=args.lr, short=args.short, temporal_std=args.temporal_std,
                         label=args.label, object_weight=args.object_weight)
    if args.eval:
        confusion_report(args.eval)
        coherence_report(args.eval)
        direction_report(args.eval)


if __name__ == "__main__":
    main()
