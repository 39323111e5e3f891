"""Parallel degrees and the device mesh (SPEC 6): data (FSDP), context and tensor parallelism.

The mesh is ``(dp, cp, tp)`` with tensor parallelism innermost, so that its per-layer collectives stay inside a node
(NVSwitch), then context parallelism, then FSDP across nodes: the paper's 768 px stage (TP 4 x CP 2 = one 8-GPU node)
maps onto that order exactly. FSDP shards over the flattened ``dp x cp`` ranks: every context-parallel rank computes
partial gradients of every weight, and FSDP's reduce-scatter sums them (torchtitan does the same).
"""

import enum
import os
from dataclasses import dataclass
from typing import Any

from moviegen.dit.config import DiTConfig


class ACMode(enum.Enum):
    """Activation checkpointing of the transformer blocks."""

    NONE = "none"  # keep every activation
    SELECTIVE = "selective"  # recompute every ``ac_every``-th block (torchtitan's layer-selective mode)
    FULL = "full"  # recompute every block: only block inputs are kept


@dataclass(frozen=True, kw_only=True)
class ParallelConfig:
    """How a model is parallelised (``--dp/--tp/--cp/--ac/--compile/--param-dtype``).

    Args:
        dp: data-parallel (FSDP) degree; None takes what the world size leaves after ``tp * cp``.
        tp: tensor-parallel degree, with sequence parallelism on the position-wise layers (SPEC 6).
        cp: context-parallel degree: the token sequence is split and attention all-gathers K and V.
        ac: activation checkpointing mode.
        ac_every: with ``ac=SELECTIVE``, recompute one block in this many.
        compile: ``torch.compile`` each transformer block.
        param_dtype: FSDP's compute dtype for parameters ("float32" or "bfloat16"); gradients are reduced in fp32.
    """

    dp: int | None = None
    tp: int = 1
    cp: int = 1
    ac: ACMode = ACMode.NONE
    ac_every: int = 2
    compile: bool = False
    param_dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("tp", "cp", "ac_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.dp is not None and self.dp < 1:
            raise ValueError(f"--dp must be >= 1, got {self.dp}")
        if not isinstance(self.ac, ACMode):
            raise ValueError(f"ac must be an ACMode ({[m.value for m in ACMode]}), got {self.ac!r}")
        if self.param_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"--param-dtype must be 'float32' or 'bfloat16', got {self.param_dtype!r}")

    @property
    def is_single_process(self) -> bool:
        return self.dp in (None, 1) and self.tp == 1 and self.cp == 1


@dataclass(frozen=True, kw_only=True)
class ParallelDims:
    """Resolved degrees: ``dp * cp * tp == world_size``.

    Raises:
        ValueError: degrees that do not multiply to the world size.
    """

    dp: int
    cp: int
    tp: int
    world_size: int

    def __post_init__(self) -> None:
        for name in ("dp", "cp", "tp", "world_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dp * self.cp * self.tp != self.world_size:
            raise ValueError(
                f"parallel degrees dp={self.dp} x cp={self.cp} x tp={self.tp} = {self.dp * self.cp * self.tp} do not "
                f"match the world size {self.world_size} (processes started by torchrun)"
            )

    @classmethod
    def resolve(cls, cfg: ParallelConfig, *, world_size: int) -> "ParallelDims":
        """Fill ``dp`` from the world size when it is None (ValueError when ``tp * cp`` does not divide it)."""
        dp = cfg.dp
        if dp is None:
            if world_size % (cfg.tp * cfg.cp):
                raise ValueError(
                    f"tp={cfg.tp} x cp={cfg.cp} = {cfg.tp * cfg.cp} does not divide the world size {world_size}"
                )
            dp = world_size // (cfg.tp * cfg.cp)
        return cls(dp=dp, cp=cfg.cp, tp=cfg.tp, world_size=world_size)

    @property
    def fsdp_degree(self) -> int:
        """Ranks that shard parameters and sum gradients: ``dp * cp``."""
        return self.dp * self.cp

    def check_model(self, cfg: DiTConfig, *, what: str = "the transformer") -> None:
        """ValueError when the tensor-parallel degree does not split the model's heads and widths evenly."""
        if self.tp == 1:
            return
        for name, value in (("num_heads", cfg.num_heads), ("dim", cfg.dim), ("ffn_dim", cfg.ffn_dim)):
            if value % self.tp:
                raise ValueError(f"--tp {self.tp} does not divide {what}'s {name}={value}; choose a divisor of it")

    def build_mesh(self, device_type: str) -> "Meshes":
        """The ``(dp, cp, tp)`` device mesh over the initialised process group, and FSDP's ``dp x cp`` mesh."""
        from torch.distributed.device_mesh import init_device_mesh

        root = init_device_mesh(device_type, (self.dp, self.cp, self.tp), mesh_dim_names=("dp", "cp", "tp"))
        # FSDP's mesh: dp x cp flattened (DeviceMesh._flatten is private in torch 2.13; torchtitan uses it too).
        fsdp = root["dp", "cp"]._flatten("dp_cp") if self.cp > 1 else root["dp"]
        return Meshes(root=root, fsdp=fsdp)


@dataclass(frozen=True)
class Meshes:
    """The ``(dp, cp, tp)`` mesh (``meshes["tp"]`` etc.) and the flattened mesh FSDP shards over."""

    root: Any  # DeviceMesh
    fsdp: Any  # DeviceMesh

    def __getitem__(self, name: str) -> Any:
        return self.root[name]


def launched_by_torchrun() -> bool:
    """True inside a process that torchrun (or another launcher setting ``WORLD_SIZE``) started."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ
