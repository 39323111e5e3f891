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
from moviegen.train.parallel_dims import ACMode, ParallelConfig, ParallelDims
from moviegen.train.parallelize import ContextParallelAttention, parallelize
from moviegen.train.distributed import DistributedContext, clip_grad_norm_, full_state_dict, save_dcp_checkpoint
from moviegen.train.state import capture_rng

STEPS, BATCH, TEXT_LEN = 3, 4, 5


def inputs(step: int, cfg) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    x1 = torch.randn(BATCH, cfg.latent_channels, 2, 8, 8, generator=g)
    mask = torch.ones(BATCH, TEXT_LEN, dtype=torch.bool)
    mask[0, 3:] = False
    return {
        "x1": x1,
        "x0": torch.randn(x1.shape, generator=g),
        "t": torch.rand(BATCH, generator=g),
        "text": torch.randn(BATCH, TEXT_LEN, cfg.dim, generator=g),
        "mask": mask,
    }


def loss_of(model, batch, rows: slice) -> torch.Tensor:
    text, mask = batch["text"][rows], batch["mask"][rows]
    out = flow_matching_loss(
        lambda xt, t: model(xt, t_B=t, text_BSD=text, text_mask_BS=mask),
        batch["x1"][rows], path=OTPath(), t=batch["t"][rows], x0=batch["x0"][rows],
    )
    return out.loss


def run_case(name: str, pcfg: ParallelConfig, out_dir: Path) -> None:
    world, rank = dist.get_world_size(), dist.get_rank()
    dims = ParallelDims.resolve(pcfg, world_size=world)
    mesh = dims.build_mesh("cpu")
    torch.manual_seed(0)
    cfg = dit_debug()
    reference = DiT(cfg)
    reference.init_weights()
    with torch.no_grad():  # leave adaLN-Zero's identity start, so that every weight gets a gradient at step 0
        for param in reference.parameters():
            param.add_(0.05 * torch.randn(param.shape))
    model = parallelize(copy.deepcopy(reference), dims=dims, cfg=pcfg, mesh=mesh)
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=1e-3, weight_decay=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    dp_rank, per_rank = mesh["dp"].get_local_rank(), BATCH // dims.dp
    rows = slice(dp_rank * per_rank, (dp_rank + 1) * per_rank)
    report = {"loss": 0.0, "grad": 0.0, "grad_norm": 0.0, "weights": 0.0, "ref_losses": []}
    for step in range(STEPS):
        batch = inputs(step, cfg)
        ref_loss = loss_of(reference, batch, slice(None))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        loss = loss_of(model, batch, rows)
        opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(list(model.parameters()), 1.0)
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        mean_loss /= world
        report["loss"] = max(report["loss"], abs(float(mean_loss) - float(ref_loss)))
        report["grad_norm"] = max(report["grad_norm"], abs(float(norm) - float(ref_norm)))
        report["ref_losses"].append(float(ref_loss))
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
    ref_weights = reference.state_dict()
    report["weights"] = max(float((weights[k] - ref_weights[k]).abs().max()) for k in ref_weights)
    if rank == 0:
        (out_dir / f"{name}.json").write_text(json.dumps(report))
    if name == "fsdp":  # save on these ranks; the test loads the checkpoint in one process
        ctx = DistributedContext(dims=dims, mesh=mesh, device=torch.device("cpu"))
        ema = {k: v.detach().clone() for k, v in reference.state_dict().items()}  # any second set of weights
        save_dcp_checkpoint(
            ctx, out_dir / "run", STEPS, model=model, trainable_keys=set(model.state_dict()), optimizer=opt,
            ema_state=ema, trainer_state={"run": {"recipe": "worker"}}, rng_state=capture_rng(),
        )
        if rank == 0:
            save_file(weights, str(out_dir / "weights_at_save.safetensors"))


def run_cp_attention(out_dir: Path) -> None:
    """Context-parallel attention against full attention on the same q, k, v (values and gradients)."""
    from torch.distributed.device_mesh import init_device_mesh

    world, rank = dist.get_world_size(), dist.get_rank()
    mesh = init_device_mesh("cpu", (world,), mesh_dim_names=("cp",))
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 3, 8 * world, 16, generator=g, requires_grad=True) for _ in range(3))
    full = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    weight = torch.randn(full.shape, generator=g)
    (full * weight).sum().backward()
    part = 8
    local = [x.detach()[:, :, rank * part : (rank + 1) * part].clone().requires_grad_(True) for x in (q, k, v)]
    out = ContextParallelAttention(mesh["cp"])(*local)
    (out * weight[:, :, rank * part : (rank + 1) * part]).sum().backward()
    diffs = {"out": float((out - full[:, :, rank * part : (rank + 1) * part]).abs().max())}
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
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()
    dist.init_process_group("gloo")
    torch.use_deterministic_algorithms(True)
    try:
        for name in args.cases:
            if name == "cp_attention":
                run_cp_attention(args.out)
            else:
                run_case(name, CASES[name], args.out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
