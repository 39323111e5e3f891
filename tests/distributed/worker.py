"""Distributed equivalence cases, run under ``torchrun`` by ``tests/distributed/test_distributed.py``.

Every case trains the debug DiT for a few AdamW steps twice on identical inputs: once as a plain single-process model
on the global batch (the reference, computed on every rank), once parallelised with the case's ``dp x cp x tp``
degrees, each data-parallel group on its slice of the batch. Rank 0 writes the largest differences of the losses, of
the first step's gradients and of the final weights to ``OUT/CASE.json``; the test asserts on them.
"""

import argparse
import copy
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from moviegen.dit.config import dit_debug
from moviegen.dit.model import DiT
from moviegen.flow.loss import flow_matching_loss
from moviegen.flow.path import OTPath
from moviegen.train.distributed import DistributedContext, clip_grad_norm_, full_state_dict, save_dcp_checkpoint
from moviegen.train.parallel_dims import ACMode, ParallelConfig, ParallelDims
from moviegen.train.parallelize import ContextParallelAttention, parallelize
from moviegen.train.state import capture_rng

STEPS, BATCH, TEXT_LEN = 3, 4, 5


DEVICE = torch.device("cpu")


def inputs(step: int, cfg) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    x1 = torch.randn(BATCH, cfg.latent_channels, 2, 8, 8, generator=g)
    mask = torch.ones(BATCH, TEXT_LEN, dtype=torch.bool)
    mask[0, 3:] = False
    batch = {
        "x1": x1,
        "x0": torch.randn(x1.shape, generator=g),
        "t": torch.rand(BATCH, generator=g),
        "text": torch.randn(BATCH, TEXT_LEN, cfg.dim, generator=g),
        "mask": mask,
    }
    return {k: v.to(DEVICE) for k, v in batch.items()}


def loss_of(model, batch, rows: slice) -> torch.Tensor:
    text, mask = batch["text"][rows], batch["mask"][rows]
    out = flow_matching_loss(
        lambda xt, t: model(xt, t_B=t, text_BSD=text, text_mask_BS=mask),
        batch["x1"][rows], path=OTPath(), t=batch["t"][rows], x0=batch["x0"][rows],
    )
    return out.loss


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Leave zero-init starts (adaLN-Zero, output heads), so that every weight gets a gradient at step 0."""
    model.to(DEVICE)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape).to(DEVICE))
    return model


def train_and_compare(reference, model, loss_of, *, rows: slice) -> tuple[dict, torch.optim.Optimizer]:
    """STEPS AdamW steps of ``reference`` on the global batch and of the parallel ``model`` on ``rows`` of it."""
    world = dist.get_world_size()
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=1e-3, weight_decay=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    report = {"loss": 0.0, "grad": 0.0, "grad_norm": 0.0, "weights": 0.0, "ref_losses": []}
    for step in range(STEPS):
        ref_loss = loss_of(reference, step, slice(None))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        loss = loss_of(model, step, rows)
        opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(list(model.parameters()), 1.0)
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        mean_loss /= world
        report["loss"] = max(report["loss"], abs(float(mean_loss) - float(ref_loss.detach())))
        report["grad_norm"] = max(report["grad_norm"], abs(float(norm) - float(ref_norm)))
        report["ref_losses"].append(float(ref_loss.detach()))
        if step == 0:
            grads = full_state_dict(model, grads=True)
            ref_grads = {k: p.grad for k, p in reference.named_parameters()}
            assert set(grads) == set(ref_grads), sorted(set(grads) ^ set(ref_grads))
            report["grad"] = max(float((grads[k] - ref_grads[k]).abs().max()) for k in ref_grads)
            report["grad_scale"] = max(float(g.abs().max()) for g in ref_grads.values())
            report["smallest_grad"] = min(float(g.abs().max()) for g in ref_grads.values())
        ref_opt.step()
        opt.step()
    weights = full_state_dict(model)
    ref_weights = dict(reference.named_parameters())
    report["weights"] = max(float((weights[k] - ref_weights[k]).abs().max()) for k in ref_weights)
    return report, opt


def run_case(name: str, pcfg: ParallelConfig, out_dir: Path) -> None:
    world, rank = dist.get_world_size(), dist.get_rank()
    dims = ParallelDims.resolve(pcfg, world_size=world)
    mesh = dims.build_mesh(DEVICE.type)
    torch.manual_seed(0)
    cfg = dit_debug()
    reference = DiT(cfg)
    reference.init_weights()
    reference = perturbed(reference)
    model = parallelize(copy.deepcopy(reference), dims=dims, cfg=pcfg, mesh=mesh)
    dp_rank, per_rank = mesh["dp"].get_local_rank(), BATCH // dims.dp
    rows = slice(dp_rank * per_rank, (dp_rank + 1) * per_rank)
    report, opt = train_and_compare(reference, model, lambda m, step, r: loss_of(m, inputs(step, cfg), r), rows=rows)
    weights = full_state_dict(model)
    if rank == 0:
        (out_dir / f"{name}.json").write_text(json.dumps(report))
    if name == "fsdp":  # save on these ranks; the test loads the checkpoint in one process
        ctx = DistributedContext(dims=dims, mesh=mesh, device=DEVICE)
        ema = {k: v.detach().clone() for k, v in reference.state_dict().items()}  # any second set of weights
        save_dcp_checkpoint(
            ctx, out_dir / "run", STEPS, model=model, trainable_keys=set(model.state_dict()), optimizer=opt,
            ema_state=ema, trainer_state={"run": {"recipe": "worker"}}, rng_state=capture_rng(),
        )
        if rank == 0:
            save_file(weights, str(out_dir / "weights_at_save.safetensors"))


def run_audio_case(name: str, pcfg: ParallelConfig, out_dir: Path) -> None:
    """The audio transformer (GELU MLP, masked context on channels, per-token video features) under TP x CP."""
    from moviegen.audio.config import audio_debug
    from moviegen.audio.model import AudioContext, AudioTransformer

    dims = ParallelDims.resolve(pcfg, world_size=dist.get_world_size())
    mesh = dims.build_mesh(DEVICE.type)
    cfg = audio_debug()
    torch.manual_seed(0)
    reference = AudioTransformer(cfg.dit, video_dim=cfg.video.dim)
    reference.init_weights()
    reference = perturbed(reference)
    model = parallelize(copy.deepcopy(reference), dims=dims, cfg=pcfg, mesh=mesh)
    c, length = cfg.dit.latent_channels, 16

    def audio_loss(m, step: int, rows: slice) -> torch.Tensor:
        g = torch.Generator().manual_seed(2000 + step)
        x_BCL = torch.randn(BATCH, c, length, generator=g).to(DEVICE)
        known_BL = (torch.rand(BATCH, length, generator=g) < 0.3).to(DEVICE)
        video_BLF = torch.randn(BATCH, length, cfg.video.dim, generator=g).to(DEVICE)
        text = torch.randn(BATCH, TEXT_LEN, cfg.dit.dim, generator=g).to(DEVICE)
        t = torch.rand(BATCH, generator=g).to(DEVICE)
        mask = torch.ones_like(text[rows, :, 0], dtype=torch.bool)
        context = AudioContext(latent_BCL=x_BCL[rows], known_BL=known_BL[rows])
        out = m(x_BCL[rows], t_B=t[rows], text_BSD=text[rows], text_mask_BS=mask, context=context,
                video_BLF=video_BLF[rows])
        return out.square().mean()

    dp_rank, per_rank = mesh["dp"].get_local_rank(), BATCH // dims.dp
    rows = slice(dp_rank * per_rank, (dp_rank + 1) * per_rank)
    report, _ = train_and_compare(reference, model, audio_loss, rows=rows)
    if dist.get_rank() == 0:
        (out_dir / f"{name}.json").write_text(json.dumps(report))


def run_tae_case(out_dir: Path) -> None:
    """The TAE takes FSDP only (SPEC 6), sharded over every rank."""
    from moviegen.tae.config import tae_debug
    from moviegen.tae.model import TemporalAutoencoder
    from moviegen.train.parallelize import parallelize_fsdp_only

    pcfg = ParallelConfig(dp=dist.get_world_size())
    dims = ParallelDims.resolve(pcfg, world_size=dist.get_world_size())
    torch.manual_seed(0)
    reference = perturbed(TemporalAutoencoder(tae_debug()))
    model = parallelize_fsdp_only(copy.deepcopy(reference), dims=dims, cfg=pcfg, mesh=dims.build_mesh(DEVICE.type))

    def tae_loss(m, step: int, rows: slice) -> torch.Tensor:
        g = torch.Generator().manual_seed(3000 + step)
        video = torch.rand(BATCH, 3, 5, 16, 16, generator=g).to(DEVICE) * 2 - 1
        out = m(video[rows], sample=False)
        return (out.reconstruction_BCTHW - video[rows]).square().mean()

    per_rank = BATCH // dims.world_size
    rank = dist.get_rank()
    report, _ = train_and_compare(reference, model, tae_loss, rows=slice(rank * per_rank, (rank + 1) * per_rank))
    if rank == 0:
        (out_dir / "tae_fsdp.json").write_text(json.dumps(report))


def run_cp_attention(out_dir: Path) -> None:
    """Context-parallel attention against full attention on the same q, k, v (values and gradients)."""
    from torch.distributed.device_mesh import init_device_mesh

    world, rank = dist.get_world_size(), dist.get_rank()
    mesh = init_device_mesh(DEVICE.type, (world,), mesh_dim_names=("cp",))
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 3, 8 * world, 16, generator=g).to(DEVICE).requires_grad_(True) for _ in range(3))
    full = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    weight = torch.randn(full.shape, generator=g).to(DEVICE)
    (full * weight).sum().backward()
    part = 8
    local = [x.detach()[:, :, rank * part : (rank + 1) * part].clone().requires_grad_(True) for x in (q, k, v)]
    out = ContextParallelAttention(mesh["cp"])(*local)
    (out * weight[:, :, rank * part : (rank + 1) * part]).sum().backward()
    diffs = {"out": float((out - full[:, :, rank * part : (rank + 1) * part]).detach().abs().max())}
    for name, x, x_local in zip("qkv", (q, k, v), local, strict=True):
        diffs[f"grad_{name}"] = float((x_local.grad - x.grad[:, :, rank * part : (rank + 1) * part]).abs().max())
    gathered = [None] * world
    dist.all_gather_object(gathered, diffs)
    if rank == 0:
        worst = {key: max(d[key] for d in gathered) for key in diffs}
        (out_dir / "cp_attention.json").write_text(json.dumps(worst))


CASES = {
    "fsdp": ParallelConfig(dp=2),
    "tp": ParallelConfig(tp=2),
    "cp": ParallelConfig(cp=2),
    "fsdp_ac": ParallelConfig(dp=2, ac=ACMode.FULL),
    "fsdp_tp": ParallelConfig(dp=2, tp=2),
    "cp_tp": ParallelConfig(cp=2, tp=2),
    "fsdp_cp": ParallelConfig(dp=2, cp=2),
    # GPU only (--device cuda): bf16 compute under FSDP's mixed-precision policy; compared with a looser tolerance
    "fsdp_bf16": ParallelConfig(dp=2, param_dtype="bfloat16"),
}


AUDIO_CASES = {"audio_fsdp_tp": ParallelConfig(dp=2, tp=2), "audio_cp_tp": ParallelConfig(cp=2, tp=2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()
    global DEVICE
    if args.device == "cuda":
        DEVICE = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(DEVICE)
    dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    if args.device == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        for name in args.cases:
            if name == "cp_attention":
                run_cp_attention(args.out)
            elif name == "tae_fsdp":
                run_tae_case(args.out)
            elif name.startswith("audio_"):
                run_audio_case(name, AUDIO_CASES[name], args.out)
            else:
                run_case(name, CASES[name], args.out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
