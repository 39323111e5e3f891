"""The distributed runtime of a training run: process group, data sharding, gradient norm, DCP checkpoints.

* :func:`init_distributed` starts the process group torchrun describes (NCCL on GPUs, gloo on CPU) and builds the
  ``(dp, cp, tp)`` mesh (:class:`~moviegen.train.parallel_dims.ParallelDims`).
* :class:`ShardedBatches` gives each data-parallel group its contiguous slice of every global batch. Every rank walks
  the same global iterator (same seed, same order), so the data state is one small dict, identical on all ranks,
  and a run resumed on another number of ranks sees the same global batches.
* :func:`clip_grad_norm_`: the global gradient norm over DTensor gradients that live on different meshes (2-D
  FSDP x TP blocks beside 1-D FSDP embeddings), clipped like ``torch.nn.utils.clip_grad_norm_``.
* DCP checkpoints (:func:`save_dcp_checkpoint`, :func:`load_dcp_checkpoint`): the sharded weights, EMA weights and
  AdamW state through ``torch.distributed.checkpoint``, which reshards on load (save on N ranks, load on M). The
  directory layout and its atomic ``checkpoints/latest`` pointer are those of :mod:`moviegen.train.checkpoint`;
  :func:`read_dcp_weights` reads the full weights back in a single process without building a model, so export,
  ``--init`` and evaluation take a distributed run like any other.
"""

import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from moviegen.train.parallel_dims import Meshes, ParallelConfig, ParallelDims

DCP_METADATA = ".metadata"  # the file torch.distributed.checkpoint writes beside its shards
_WRAPPER_PREFIXES = ("_checkpoint_wrapped_module.", "_orig_mod.")


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a distributed run: degrees, mesh and ranks."""

    dims: ParallelDims
    mesh: Meshes  # (dp, cp, tp) and FSDP's
    device: torch.device

    @property
    def rank(self) -> int:
        return dist.get_rank()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def dp_rank(self) -> int:
        return self.mesh["dp"].get_local_rank()

    def barrier(self) -> None:
        dist.barrier()


def init_distributed(cfg: ParallelConfig) -> DistributedContext:
    """Join the process group torchrun set up (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...) and build the mesh.

    Raises:
        ValueError: degrees that do not match the world size.
    """
    # Check the degrees against torchrun's world size before joining: a bad flag must not leave ranks waiting.
    dims = ParallelDims.resolve(cfg, world_size=int(os.environ.get("WORLD_SIZE", "1")))
    use_cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=30))
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return DistributedContext(dims=dims, mesh=dims.build_mesh(device.type), device=device)


# -- data ------------------------------------------------------------------------------------------------------------


def batch_size_of(batch: Any) -> int:
    """Samples in a batch dataclass: the length of its ``ids`` or the first dim of its first tensor."""
    if hasattr(batch, "ids"):
        return len(batch.ids)
    for field in fields(batch):
        value = getattr(batch, field.name)
        if isinstance(value, torch.Tensor):
            return value.shape[0]
    raise ValueError(f"cannot tell the batch size of {type(batch).__name__}")


def shard_batch(batch: Any, *, rank: int, size: int) -> Any:
    """Rows ``[rank * B/size, (rank+1) * B/size)`` of a batch dataclass: tensors and lists of length B are sliced,
    per-batch values (fps, bucket) are kept.

    Raises:
        ValueError: a batch size that ``size`` does not divide.
    """
    if size == 1:
        return batch
    if not is_dataclass(batch):
        raise ValueError(f"cannot shard a {type(batch).__name__}: batches must be dataclasses")
    b = batch_size_of(batch)
    if b % size:
        raise ValueError(f"the global batch of {b} samples does not split over dp={size} data-parallel groups")
    part = b // size
    rows = slice(rank * part, (rank + 1) * part)
    changes = {}
    for field in fields(batch):
        value = getattr(batch, field.name)
        if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == b:
            changes[field.name] = value[rows]
        elif isinstance(value, (list, tuple)) and len(value) == b:
            changes[field.name] = type(value)(value[rows])
    return replace(batch, **changes)


class ShardedBatches:
    """Wraps a global batch iterator: yields ``(global_size, this group's slice)``; checkpoints like the wrapped one."""

    def __init__(self, batches: Any, *, rank: int, size: int) -> None:
        self.batches, self.rank, self.size = batches, rank, size

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        for batch in self.batches:
            yield batch_size_of(batch), shard_batch(batch, rank=self.rank, size=self.size)

    def state_dict(self) -> dict[str, Any] | None:
        return self.batches.state_dict() if hasattr(self.batches, "state_dict") else None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.batches, "load_state_dict"):
            self.batches.load_state_dict(state)


# -- gradients and full tensors ----------------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """A parameter name without the activation-checkpoint and compile wrappers' prefixes."""
    for prefix in _WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def _full(tensor: torch.Tensor) -> torch.Tensor:
    from torch.distributed.tensor import DTensor

    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


@torch.no_grad()
def clip_grad_norm_(params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip gradients to a global L2 norm of ``max_norm`` (``inf``: no clipping); returns the norm before clipping.

    Gradients are grouped by DTensor mesh and placements (``torch._foreach_norm`` cannot mix meshes); each group's
    norm is reduced over its mesh, so every rank gets the norm of the whole model, counting each weight once.
    """
    from torch.distributed.tensor import DTensor

    groups: dict[Any, list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            g = p.grad
            key = (g.device_mesh, g.placements) if isinstance(g, DTensor) else None
            groups.setdefault(key, []).append(g)
    if not groups:
        return torch.tensor(0.0)
    squares = [_full(torch.nn.utils.get_total_norm(grads, 2.0)).float() ** 2 for grads in groups.values()]
    total = torch.stack([s.to(squares[0].device) for s in squares]).sum().sqrt()
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1.0:
        for grads in groups.values():
            for g in grads:
                g.mul_(coef)
    return total


def full_state_dict(model: nn.Module, *, grads: bool = False) -> dict[str, torch.Tensor]:
    """Every parameter (or its gradient) of a parallelised model as a whole tensor, by its plain-model name.

    Collective: every rank must call it. Meant for tests and small models; export reads DCP checkpoints instead.
    """
    out = {}
    for name, p in model.named_parameters():
        value = p.grad if grads else p.detach()
        if value is not None:
            out[clean_name(name)] = _full(value).detach().clone()
    return out


def reshard(model: nn.Module) -> None:
    """Put every FSDP unit back into its sharded state (the root stays gathered after a forward without backward,
    e.g. validation); needed before touching the parameters directly (EMA swaps)."""
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()


# -- DCP checkpoints ---------------------------------------------------------------------------------------------------


def is_dcp_checkpoint(path: str | os.PathLike) -> bool:
    return (Path(path) / DCP_METADATA).is_file()


def _model_state(model: nn.Module, keep: set[str]) -> dict[str, torch.Tensor]:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return {k: v for k, v in get_model_state_dict(model).items() if k in keep}


def save_dcp_checkpoint(
    ctx: DistributedContext,
    run_dir: str | os.PathLike,
    step: int,
    *,
    model: nn.Module,
    trainable_keys: set[str],
    optimizer: torch.optim.Optimizer,
    ema_state: Mapping[str, torch.Tensor] | None,
    trainer_state: Mapping[str, Any],
    rng_state: Mapping[str, torch.Tensor],
    keep: int = 3,
) -> Path:
    """Write checkpoint ``step`` of a distributed run atomically (collective: every rank calls it).

    Every rank writes its shards and its RNG state (``rng_rank{R}.safetensors``) into ``.tmp_step_N``; after a
    barrier rank 0 writes ``trainer_state.json``, renames the directory and moves ``latest``.
    """
    import torch.distributed.checkpoint as dcp
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    from moviegen.train import checkpoint as ckpt

    root = Path(run_dir) / ckpt.CHECKPOINTS
    name = ckpt.checkpoint_name(step)
    tmp = root / f"{ckpt._TMP_PREFIX}{name}"
    if ctx.is_main:
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(f"{ckpt._TMP_PREFIX}*"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        tmp.mkdir()
    ctx.barrier()
    state: dict[str, Any] = {
        "model": _model_state(model, trainable_keys),
        "optimizer": get_optimizer_state_dict(model, optimizer),
    }
    if ema_state is not None:
        state["ema"] = dict(ema_state)
    dcp.save(state, checkpoint_id=str(tmp))
    save_file({k: v.contiguous() for k, v in rng_state.items()}, str(tmp / f"rng_rank{ctx.rank}.safetensors"))
    ctx.barrier()
    if ctx.is_main:
        world = {"world_size": ctx.dims.world_size, "dp": ctx.dims.dp, "cp": ctx.dims.cp, "tp": ctx.dims.tp}
        ckpt._save_json({**trainer_state, "step": step, "format": "dcp", "parallel": world}, tmp / "trainer_state.json")
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        ckpt._fsync_dir(root)
        ckpt._write_latest(root, name)
        for old in ckpt.list_checkpoints(run_dir)[:-keep]:
            if old.name != name:
                shutil.rmtree(old)
    ctx.barrier()
    return root / name


def load_dcp_checkpoint(
    ctx: DistributedContext,
    path: str | os.PathLike,
    *,
    model: nn.Module,
    trainable_keys: set[str],
    optimizer: torch.optim.Optimizer,
    ema_state: dict[str, torch.Tensor] | None,
) -> dict[str, torch.Tensor] | None:
    """Load a DCP checkpoint in place into ``model``, ``optimizer`` and ``ema_state``, resharding as needed.

    Returns:
        This rank's saved RNG state, or None when the checkpoint was written by fewer ranks.
    """
    import torch.distributed.checkpoint as dcp
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    path = Path(path)
    if not is_dcp_checkpoint(path):
        raise ValueError(f"{str(path)!r} is not a distributed (DCP) checkpoint: it has no {DCP_METADATA}")
    state: dict[str, Any] = {
        "model": _model_state(model, trainable_keys),
        "optimizer": get_optimizer_state_dict(model, optimizer),
    }
    if ema_state is not None:
        state["ema"] = ema_state
    dcp.load(state, checkpoint_id=str(path))
    set_model_state_dict(model, state["model"], options=StateDictOptions(strict=False))
    set_optimizer_state_dict(model, optimizer, state["optimizer"])
    rng_file = path / f"rng_rank{ctx.rank}.safetensors"
    return load_file(str(rng_file)) if rng_file.is_file() else None


def read_dcp_weights(path: str | os.PathLike, *, part: str) -> dict[str, torch.Tensor] | None:
    """The full tensors of one part (``"model"`` or ``"ema"``) of a DCP checkpoint, in this single process.

    Shapes and dtypes come from the checkpoint's metadata, so no model needs to be built. Returns None when the
    checkpoint has no such part.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    reader = dcp.FileSystemReader(str(path))
    prefix = part + "."
    empty = {
        key[len(prefix) :]: torch.empty(tuple(meta.size), dtype=meta.properties.dtype)
        for key, meta in reader.read_metadata().state_dict_metadata.items()
        if key.startswith(prefix) and isinstance(meta, TensorStorageMetadata)
    }
    if not empty:
        return None
    state = {part: empty}
    with warnings.catch_warnings():  # "assuming the intent is to load in a single process": it is
        warnings.filterwarnings("ignore", message=".*load in a single process")
        dcp.load(state, storage_reader=reader, no_dist=True)
    return state[part]


__all__ = [
    "DistributedContext",
    "ShardedBatches",
    "clean_name",
    "clip_grad_norm_",
    "full_state_dict",
    "init_distributed",
    "is_dcp_checkpoint",
    "load_dcp_checkpoint",
    "read_dcp_weights",
    "reshard",
    "save_dcp_checkpoint",
    "shard_batch",
]
