"""Can the video transformer draw a motion direction it is told? A from-scratch toy (issue 3; an experiment).

``motion_probe.py --overfit --contrastive`` found that the shipped transformer, trained on 16 world clips and the
same clips reversed, never learns which way to move from the caption, not even from a direction label fed to the
adaLN. This toy removes the world, the TAE and the text stack: latents of a single Gaussian blob crossing the frame
left, right, up or down (4 latent frames, 16x16, 4 channels; ``--texture`` the std of a static background texture,
0 for a flat one), the direction given as one learned context token (the cross-attention route) and nothing else; a
tiny ``DiT`` trained from scratch with ``flow_matching_loss``, then sampled with the Euler solver.

Readings (chance: a quarter): the direction of the network's one-step clean estimate at t = 0.1 and 0.2 (does it use
the label where the layout is decided?) and of 64 samples, each from the blob's centroid in the first and last
frames. Controls: ``--static`` (the label puts a still blob on its side of the frame: no time involved; read also as
the share of the estimate's departure from the background on the label's half, 0.5 when ignored),
``--adaln-label`` (the label also through the adaLN), ``--frame-channels`` (the frame index as input channels),
``--max-t`` (train at the noise end only) and ``--object-weight`` (``T2VRecipe.object_weight``'s loss weighting).
``--pos-std`` sets the positional tables' init std (``DiTConfig.pos_init_std``).
Results: docs/training.md (session 13; corrected in session 21: at 800-1500 steps the toy did not yet draw a blob,
and at 3000 steps it follows the label, far better with ``--pos-std 0.5``).

    python experiments/direction_toy.py --steps 3000 --texture 0 --pos-std 0.5
    python experiments/direction_toy.py --steps 1500 --texture 0
    python experiments/direction_toy.py --steps 1500 --texture 0 --object-weight 4
    python experiments/direction_toy.py --steps 800 --texture 0 --static [--adaln-label | --object-weight 4]
"""

import argparse
import time

import torch
from torch import nn

from moviegen.dit import DiT, DiTConfig
from moviegen.flow import OTPath, flow_matching_loss
from moviegen.flow.solver import solve_ode
from moviegen.flow.timesteps import uniform_schedule
from moviegen.train.t2v import loss_weights

C, T, H, W = 4, 4, 16, 16
STEP = 2.5  # latent pixels per latent frame
DIRECTIONS = torch.tensor([[0.0, -1.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])  # (dy, dx): left, right, up, down


def make_batch(
    n: int, generator: torch.Generator, *, texture: float = 0.5, static: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` clips ``[n, C, T, H, W]`` of a Gaussian blob moving ``STEP`` a frame, and their direction labels
    (``static``: a still blob on the label's side of the frame instead: the same label, no time in it)."""
    label_B = torch.randint(4, (n,), generator=generator)
    start_B2 = 4 + 8 * torch.rand(n, 2, generator=generator)  # the path stays inside the frame
    if static:
        start_B2 = torch.where(DIRECTIONS[label_B] != 0, 8 + 4.5 * DIRECTIONS[label_B], start_B2)
    step = 0.0 if static else STEP
    start_B2 = start_B2 - DIRECTIONS[label_B] * step * (T - 1) / 2
    ys, xs = torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32)
    frames = torch.arange(T, dtype=torch.float32)
    centre_BT2 = start_B2[:, None] + DIRECTIONS[label_B][:, None] * step * frames[None, :, None]
    dist2_BTHW = ((ys[None, None, :, None] - centre_BT2[..., 0, None, None]) ** 2
                  + (xs[None, None, None, :] - centre_BT2[..., 1, None, None]) ** 2)
    blob_BTHW = torch.exp(-dist2_BTHW / (2 * 1.5**2))
    colour_BC = 2 * torch.randn(n, C, generator=generator)
    background_BCHW = texture * torch.randn(n, C, H, W, generator=generator)
    background_BCHW = background_BCHW + torch.randn(n, C, 1, 1, generator=generator)  # a colour, perhaps textured
    blob_B1THW = blob_BTHW[:, None]
    video_BCTHW = background_BCHW[:, :, None] * (1 - blob_B1THW) + colour_BC[..., None, None, None] * blob_B1THW
    return video_BCTHW, label_B


def centroid_B2(frame_BCHW: torch.Tensor, background_BCHW: torch.Tensor) -> torch.Tensor:
    """Where a frame differs most from the clip's background: the weighted centre of the squared difference."""
    weight_BHW = (frame_BCHW - background_BCHW).pow(2).sum(1)
    weight_BHW = torch.clamp(weight_BHW - weight_BHW.flatten(1).quantile(0.9, dim=1)[:, None, None], min=0)
    ys, xs = torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32)
    total_B = weight_BHW.sum((1, 2)).clamp(min=1e-6)
    return torch.stack([(weight_BHW * ys[:, None]).sum((1, 2)) / total_B,
                        (weight_BHW * xs[None, :]).sum((1, 2)) / total_B], dim=1)


class LabelledDiT(nn.Module):
    """The DiT with a two-token cross-attention context: the label's learned token and a constant one."""

    def __init__(self, cfg: DiTConfig, *, frame_channels: bool = False, pos_std: float | None = None,
                 adaln_label: bool = False) -> None:
        super().__init__()
        self.dit = DiT(cfg)
        self.dit.init_weights()
        self.classes = nn.Embedding(4, cfg.dim) if adaln_label else None
        if self.classes is not None:
            nn.init.zeros_(self.classes.weight)
            self.dit.time_embed.register_forward_hook(lambda mod, args, out: out + self.classes(self.label_B))
        self.frame_channels = frame_channels
        if pos_std is not None:
            self.dit.pos_embed.init_weights(std=pos_std)
        self.tokens = nn.Embedding(5, cfg.dim)  # 4 directions + the constant token
        nn.init.normal_(self.tokens.weight, std=1.0)

    def forward(self, x_BCTHW: torch.Tensor, t_B: torch.Tensor, label_B: torch.Tensor) -> torch.Tensor:
        self.label_B = label_B
        context_BSD = self.tokens(torch.stack([label_B, torch.full_like(label_B, 4)], dim=1))
        mask_BS = torch.ones(context_BSD.shape[:2], dtype=torch.bool)
        if self.frame_channels:  # the frame index as T one-hot input channels: frames unmistakable at the input
            b, _, t, h, w = x_BCTHW.shape
            onehot_BTTHW = torch.eye(t)[None, :, :, None, None].expand(b, t, t, h, w)
            x_BCTHW = torch.cat([x_BCTHW, onehot_BTTHW], dim=1)
        return self.dit(x_BCTHW, t_B=t_B, text_BSD=context_BSD, text_mask_BS=mask_BS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frame-channels", action="store_true", help="also give the frame index as input channels")
    parser.add_argument("--texture", type=float, default=0.5, help="std of the static background texture")
    parser.add_argument("--static", action="store_true",
                        help="a control: the label puts a still blob on its side of the frame (no time involved)")
    parser.add_argument("--max-t", type=float, help="train on times uniform in [0, MAX_T] only (default: the "
                        "paper's logit-normal over [0, 1])")
    parser.add_argument("--adaln-label", action="store_true",
                        help="also add the label's learned embedding to the time embedding (a DiT's class route)")
    parser.add_argument("--object-weight", type=float, default=0.0,
                        help="weigh the loss of latent values that depart from their frame's median (the blob)")
    parser.add_argument("--save", help="write the trained weights to this .safetensors file")
    parser.add_argument("--pos-std", type=float, help="init std of the positional tables (default: the DiTConfig's)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    cfg = DiTConfig(dim=args.dim, num_layers=args.layers, num_heads=4, ffn_dim=args.dim * 2, latent_channels=C,
                    max_t=T, max_h=H // 2, max_w=W // 2, qk_norm=True,
                    in_channels=C + T if args.frame_channels else None)
    model = LabelledDiT(cfg, frame_channels=args.frame_channels, pos_std=args.pos_std, adaln_label=args.adaln_label)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.time()
    for step in range(1, args.steps + 1):
        x1, label_B = make_batch(args.batch_size, generator, texture=args.texture, static=args.static)
        t_B = args.max_t * torch.rand(len(x1), generator=generator) if args.max_t else None
        weight = loss_weights(x1, objects=args.object_weight)
        out = flow_matching_loss(lambda xt, tt: model(xt, tt, label_B), x1, path=OTPath(), t=t_B, generator=generator,
                                 loss_mask=weight)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        if step % 250 == 0:
            print(f"step {step}: loss {float(out.loss.detach()):.4f} ({time.time() - start:.0f} s)", flush=True)

    if args.save:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.save)
    model.eval()
    test = torch.Generator().manual_seed(1234)
    x1, label_B = make_batch(64, test, texture=args.texture, static=args.static)
    x0 = torch.randn(x1.shape, generator=test)
    with torch.no_grad():
        sample = solve_ode(lambda x, t: model(x, t, label_B), x0, t_grid=uniform_schedule(25))
    score = side_accuracy if args.static else direction_accuracy
    with torch.no_grad():  # the network's one-step estimate of the clip near the noise end: does it use the label?
        for t_value in (0.1, 0.2):
            t_B = torch.full((len(x1),), t_value)
            xt = OTPath().sample(x0=x0, x1=x1, t=t_B).xt
            x1_hat = xt + (1 - t_value) * model(xt, t_B, label_B)
            print(f"one-step estimate at t = {t_value}: {score(x1_hat, label_B):.0%} follow the label; share of its "
                  f"blob energy on the label's side {side_share(x1_hat, label_B):.2f} (data "
                  f"{side_share(x1, label_B):.2f}, blind 0.5)")
    print(f"data: {score(x1, label_B):.0%} of the data clips' blobs read as going the labelled way")
    print(f"samples: {score(sample, label_B):.0%} of the samples go the labelled way (chance 25%)")


def side_share(video_BCTHW: torch.Tensor, label_B: torch.Tensor) -> float:
    """Mean share of each clip's departure from its frames' medians that lies on the label's half of the frame
    (for a moving blob: the half it moves towards, where its mean position ends; for a still one: where it is)."""
    median_BCT11 = video_BCTHW.flatten(3).median(dim=3).values[..., None, None]
    energy_BHW = (video_BCTHW - median_BCT11).pow(2).sum((1, 2))
    ys, xs = torch.meshgrid(torch.arange(H) - 7.5, torch.arange(W) - 7.5, indexing="ij")
    towards_BHW = DIRECTIONS[label_B][:, 0, None, None] * ys + DIRECTIONS[label_B][:, 1, None, None] * xs
    return float(((energy_BHW * (towards_BHW > 0)).sum((1, 2)) / energy_BHW.sum((1, 2))).mean())


def side_accuracy(video_BCTHW: torch.Tensor, label_B: torch.Tensor) -> float:
    """Share of (static) clips whose blob lies on the label's side of the frame centre, in every frame."""
    background_BC11 = video_BCTHW[:, :, 0].flatten(2).median(dim=2).values[..., None, None]  # the flat background
    sides = [(centroid_B2(video_BCTHW[:, :, f], background_BC11) - 7.5) @ DIRECTIONS.T for f in range(T)]
    return float(torch.stack([s.argmax(1) == label_B for s in sides]).all(0).float().mean())


def direction_accuracy(video_BCTHW: torch.Tensor, label_B: torch.Tensor) -> float:
    """Share of clips whose blob's first-to-last displacement is closest to the label's direction."""
    background_BCHW = video_BCTHW.median(dim=2).values  # the blob covers any pixel in at most half the frames
    move_B2 = centroid_B2(video_BCTHW[:, :, -1], background_BCHW) - centroid_B2(video_BCTHW[:, :, 0], background_BCHW)
    predicted_B = (move_B2 @ DIRECTIONS.T).argmax(1)
    print(f"  predicted directions {torch.bincount(predicted_B, minlength=4).tolist()}, labels "
          f"{torch.bincount(label_B, minlength=4).tolist()}")
    print(f"  median blob travel {float(move_B2.norm(dim=1).median()):.1f} latent px (data: {STEP * (T - 1):.1f})")
    return float(((move_B2 @ DIRECTIONS.T).argmax(1) == label_B).float().mean())


if __name__ == "__main__":
    main()
