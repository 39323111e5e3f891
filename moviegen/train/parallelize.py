"""Parallelism applied from outside the plain models (STYLE rule 6, torchtitan's split; SPEC 6).

:func:`parallelize` takes a built module that contains Movie Gen transformers (``DiT``: the video model, the audio
model, the upsampler) and applies, in torchtitan's order:

1. :func:`apply_tp`: tensor parallelism with sequence parallelism, from the visible plan :func:`dit_tp_plan`
   (module name -> DTensor style). Between blocks the residual stream is a DTensor sharded on the sequence
   (``Shard(1)``); attention and the FFN all-gather it, run column-parallel ``wq/wk/wv``, ``w1/w3`` and row-parallel
   ``wo``, ``w2`` on ``heads / tp`` and ``ffn_dim / tp``, and reduce-scatter back to the sequence shard.
2. :func:`apply_cp`: context parallelism. The DiT's :class:`~moviegen.nn.sequence.TokenShards` extension point is
   replaced so that each rank keeps ``L / cp`` tokens; self-attention all-gathers K and V in the forward pass and
   reduce-scatters their gradients in the backward pass (SPEC 6). Queries, the FFN and the norms never see other
   ranks' tokens. Cross-attention needs nothing: its K/V come from the text, which every rank holds whole.
3. :func:`apply_ac`: activation checkpointing of whole blocks (off, selective = one block in ``ac_every``, full).
4. :func:`apply_compile`: ``torch.compile`` per block (optional).
5. :func:`apply_fsdp`: FSDP2 ``fully_shard`` per block and on the root, over the flattened ``dp x cp`` ranks, with a
   mixed-precision policy (parameters in ``param_dtype``, gradients reduced in fp32).

The TAE, the audio codec and text encoders take FSDP only (SPEC 6: the UL2 encoder is sharded, ByT5 and MetaCLIP are
replicated): :func:`parallelize_fsdp_only`.

Gradient bookkeeping [inferred, checked by tests/distributed]: every context-parallel rank computes the loss of its
data-parallel group on the gathered output, and the all-gathers' backward passes *sum* the gradients of all ranks
(reduce-scatter). Each of the ``cp`` ranks then holds ``cp`` times its share of the group's gradient and FSDP's
average over ``dp x cp`` ranks yields exactly the mean of the ``dp`` groups' gradients: the gradient of a
single-process step on the global batch.
"""

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method
from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    ParallelStyle,
    PrepareModuleInput,
    RowwiseParallel,
    SequenceParallel,
    parallelize_module,
)

from moviegen.dit.config import DiTConfig, FFNKind
from moviegen.dit.model import DiT
from moviegen.nn.attention import ScaledDotProductAttention
from moviegen.nn.sequence import TokenShards
from moviegen.train.parallel_dims import ACMode, Meshes, ParallelConfig, ParallelDims

if TYPE_CHECKING:
    from moviegen.train.distributed import DistributedContext

# -- tensor parallelism -----------------------------------------------------------------------------------------------


def _as_replicated(tensor: torch.Tensor, mesh: DeviceMesh) -> DTensor:
    if isinstance(tensor, DTensor):
        return tensor
    return DTensor.from_local(tensor, mesh, [Replicate()], run_check=False)


class BlockInputs(ParallelStyle):
    """The DTensor style of a transformer block itself (the per-module styles handle its sublayers).

    The block's own parameter (the adaLN per-layer bias) becomes a replicated DTensor. Inputs: the residual stream
    ``x_BLD`` arrives whole (first block, a plain tensor) or sequence-sharded (later blocks, a DTensor) and leaves
    as ``Shard(1)``; the positional rows are sharded the same way; the shared adaLN modulation is replicated, so
    that its gradient (partial on each rank, which sees only its tokens) is summed when it leaves the block; a
    per-token modulation (``DiTConfig.token_adaln``) is sharded with the tokens.
    """

    def _apply(self, module: nn.Module, device_mesh: DeviceMesh) -> nn.Module:
        for name, param in list(module.named_parameters(recurse=False)):
            replicated = distribute_tensor(param.data, device_mesh, [Replicate()])
            module.register_parameter(name, nn.Parameter(replicated, requires_grad=param.requires_grad))
        module.register_forward_pre_hook(partial(_prepare_block_inputs, mesh=device_mesh), with_kwargs=True)
        return module

    def __repr__(self) -> str:
        return (
            "BlockInputs(x: Replicate|Shard(1) -> Shard(1), pos_LD: -> Shard(0), modulation_B6D: Replicate, "
            "token_modulation_BL6D: -> Shard(1))"
        )


def _prepare_block_inputs(module: nn.Module, args: tuple, kwargs: dict, *, mesh: DeviceMesh) -> tuple[tuple, dict]:
    (x_BLD,) = args
    x_BLD = _as_replicated(x_BLD, mesh).redistribute(mesh, [Shard(1)])
    kwargs = dict(kwargs)
    kwargs["pos_LD"] = _as_replicated(kwargs["pos_LD"], mesh).redistribute(mesh, [Shard(0)])
    kwargs["modulation_B6D"] = _as_replicated(kwargs["modulation_B6D"], mesh)
    if kwargs.get("token_modulation_BL6D") is not None:  # per token: sharded with the tokens
        kwargs["token_modulation_BL6D"] = _as_replicated(kwargs["token_modulation_BL6D"], mesh).redistribute(
            mesh, [Shard(1)]
        )
    return (x_BLD,), kwargs


def dit_tp_plan(cfg: DiTConfig) -> dict[str, ParallelStyle]:
    """The tensor + sequence parallel plan of a :class:`~moviegen.dit.model.DiT`: module name -> DTensor style.

    Names are relative to the DiT (``*`` matches every block). Embeddings, the time MLP, the shared adaLN head and
    the output head stay replicated: they are a few percent of the FLOPs and run once per step, not per layer.
    """
    def gather_input(**kwarg_layouts: object) -> PrepareModuleInput:  # sequence shard -> whole, for the matmuls
        return PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),),
            input_kwarg_layouts=kwarg_layouts, desired_input_kwarg_layouts=kwarg_layouts, use_local_output=True,
        )

    plan: dict[str, ParallelStyle] = {
        "layers.*": BlockInputs(),
        "layers.*.attention_norm": SequenceParallel(use_local_output=False),
        "layers.*.attention": gather_input(),
        "layers.*.attention.wq": ColwiseParallel(),
        "layers.*.attention.wk": ColwiseParallel(),
        "layers.*.attention.wv": ColwiseParallel(),
        "layers.*.attention.wo": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
        "layers.*.cross_attention_norm": SequenceParallel(use_local_output=False),
        "layers.*.cross_attention": gather_input(context_BSD=Replicate()),
        "layers.*.cross_attention.wq": ColwiseParallel(),
        "layers.*.cross_attention.wk": ColwiseParallel(),
        "layers.*.cross_attention.wv": ColwiseParallel(),
        "layers.*.cross_attention.wo": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
        "layers.*.ffn_norm": SequenceParallel(use_local_output=False),
        "layers.*.feed_forward": gather_input(),
        # back to whole tokens (per context-parallel rank) for the replicated output head
        "norm": PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),), use_local_output=True
        ),
    }
    if cfg.qk_norm:  # per-head norms: each rank holds heads / tp of them (dim 2 of [B, L, N, K])
        for attn in ("attention", "cross_attention"):
            for norm in ("q_norm", "k_norm"):
                plan[f"layers.*.{attn}.{norm}"] = SequenceParallel(sequence_dim=2, use_local_output=True)
    up, down = {FFNKind.SWIGLU: (("w1", "w3"), "w2"), FFNKind.GELU: (("fc1",), "fc2")}[cfg.ffn]
    for name in up:
        plan[f"layers.*.feed_forward.{name}"] = ColwiseParallel()
    plan[f"layers.*.feed_forward.{down}"] = RowwiseParallel(output_layouts=Shard(1), use_local_output=False)
    return plan


def apply_tp(dit: DiT, tp_mesh: DeviceMesh) -> None:
    """Tensor + sequence parallelism over ``tp_mesh`` (see :func:`dit_tp_plan`)."""
    parallelize_module(dit, tp_mesh, dit_tp_plan(dit.cfg))


# -- context parallelism ----------------------------------------------------------------------------------------------


class _AllGatherSequence(torch.autograd.Function):
    """All-gather along ``dim`` in the forward pass; reduce-scatter (sum) of the gradient in the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int, group) -> torch.Tensor:  # type: ignore[override]
        ctx.dim, ctx.group = dim, group
        world = dist.get_world_size(group)
        x_first = x.movedim(dim, 0).contiguous()
        out = x_first.new_empty((world * x_first.shape[0], *x_first.shape[1:]))
        dist.all_gather_single(out, x_first, group=group)
        return out.movedim(0, dim)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        world = dist.get_world_size(ctx.group)
        grad_first = grad.movedim(ctx.dim, 0).contiguous()
        out = grad_first.new_empty((grad_first.shape[0] // world, *grad_first.shape[1:]))
        dist.reduce_scatter_single(out, grad_first, op=dist.ReduceOp.SUM, group=ctx.group)
        return out.movedim(0, ctx.dim), None, None


def all_gather_sequence(x: torch.Tensor, *, dim: int, group) -> torch.Tensor:
    """Concatenate every rank's ``x`` along ``dim`` in rank order (differentiable; see :class:`_AllGatherSequence`)."""
    return _AllGatherSequence.apply(x, dim, group)


class ContextParallelTokens(TokenShards):
    """Keeps rank ``r``'s contiguous ``L / cp`` tokens; gathers the output tokens back in rank order."""

    def __init__(self, cp_mesh: DeviceMesh, *, tp: int = 1) -> None:
        super().__init__()
        self.group = cp_mesh.get_group()
        self.rank, self.size, self.tp = cp_mesh.get_local_rank(), cp_mesh.size(), tp

    def shard(
        self, x_BLD: torch.Tensor, pos_LD: torch.Tensor, per_token_BLX: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        length = x_BLD.shape[1]
        if length % (self.size * self.tp):
            raise ValueError(
                f"{length} tokens do not split over cp={self.size} x tp={self.tp} ranks; choose a latent size whose "
                f"token count divides by {self.size * self.tp}"
            )
        part = length // self.size
        start = self.rank * part
        per_token_BLX = None if per_token_BLX is None else per_token_BLX.narrow(1, start, part)
        return x_BLD.narrow(1, start, part), pos_LD.narrow(0, start, part), per_token_BLX

    def gather(self, x_BLP: torch.Tensor) -> torch.Tensor:
        return all_gather_sequence(x_BLP, dim=1, group=self.group)


class ContextParallelAttention(ScaledDotProductAttention):
    """Self-attention of a rank's queries over every rank's keys and values (SPEC 6's context parallelism)."""

    def __init__(self, cp_mesh: DeviceMesh) -> None:
        super().__init__()
        self.group = cp_mesh.get_group()

    def forward(
        self, q_BNLK: torch.Tensor, k_BNSK: torch.Tensor, v_BNSK: torch.Tensor, *, mask_BS: torch.Tensor | None = None
    ) -> torch.Tensor:
        if mask_BS is not None:
            raise ValueError("context-parallel self-attention takes no key mask (video and audio tokens need none)")
        k_BNSK = all_gather_sequence(k_BNSK, dim=2, group=self.group)
        v_BNSK = all_gather_sequence(v_BNSK, dim=2, group=self.group)
        return F.scaled_dot_product_attention(q_BNLK, k_BNSK, v_BNSK)


def apply_cp(dit: DiT, cp_mesh: DeviceMesh, *, tp: int = 1) -> None:
    """Context parallelism over ``cp_mesh``: the sequence split at the DiT's token shards, K/V gathered in attention."""
    dit.token_shards = ContextParallelTokens(cp_mesh, tp=tp)
    for block in dit.layers.values():
        block.attention.sdpa = ContextParallelAttention(cp_mesh)


# -- activation checkpointing, compile, FSDP ---------------------------------------------------------------------------


def apply_ac(dit: DiT, *, mode: ACMode, every: int = 2) -> None:
    """Recompute blocks in the backward pass: every block (FULL) or one in ``every`` (SELECTIVE).

    The wrapper's ``_checkpoint_wrapped_module.`` prefix is removed from state-dict keys by the wrapper itself and by
    DCP, so checkpoints keep the plain model's names.
    """
    if mode is ACMode.NONE:
        return
    for i, (name, block) in enumerate(list(dit.layers.items())):
        if mode is ACMode.FULL or i % every == 0:
            dit.layers[name] = checkpoint_wrapper(block, preserve_rng_state=False)


def apply_compile(dit: DiT) -> None:
    """``torch.compile`` every block in place (names unchanged); blocks share one graph as they share one shape."""
    for block in dit.layers.values():
        block.compile()


def apply_fsdp(root: nn.Module, *, units: list[nn.Module], fsdp_mesh: DeviceMesh, param_dtype: torch.dtype) -> None:
    """FSDP2 on each unit (transformer blocks; resharded after forward except the last) and on the root."""
    policy = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    for i, unit in enumerate(units):
        fully_shard(unit, mesh=fsdp_mesh, mp_policy=policy, reshard_after_forward=i < len(units) - 1)
    fully_shard(root, mesh=fsdp_mesh, mp_policy=policy)


# -- entry points ------------------------------------------------------------------------------------------------------


def find_dits(model: nn.Module) -> Iterator[DiT]:
    """Every Movie Gen transformer inside ``model`` (the video, audio and upsampler models each compose one)."""
    for module in model.modules():
        if isinstance(module, DiT):
            yield module


def parallelize(
    model: nn.Module,
    *,
    dims: ParallelDims | None,
    cfg: ParallelConfig,
    mesh: Meshes | None = None,
    forward_methods: tuple[str, ...] = (),
    fsdp: bool = True,
) -> nn.Module:
    """Apply TP, CP, AC, compile and FSDP (in that order) to every DiT in ``model``; returns ``model``.

    Args:
        model: a plain module (the video model, the audio model, or a bare DiT).
        dims: the resolved degrees; None for a single process (only AC and compile apply).
        cfg: the parallel config.
        mesh: the ``(dp, cp, tp)`` mesh of :meth:`ParallelDims.build_mesh` (required with ``dims``).
        forward_methods: methods of ``model`` that callers use besides ``forward`` (``encode_text``): FSDP gathers
            the root's parameters around them too.
        fsdp: shard the parameters (training); inference keeps whole weights on every rank and only splits the
            work (context-parallel sampling).

    Raises:
        ValueError: ``model`` holds no DiT, or the degrees do not fit its heads and widths.
    """
    dits = list(find_dits(model))
    if not dits:
        raise ValueError(f"{type(model).__name__} holds no DiT to parallelise; use parallelize_fsdp_only")
    for dit in dits:
        if dims is not None:
            dims.check_model(dit.cfg)
            if dims.tp > 1:
                apply_tp(dit, mesh["tp"])
            if dims.cp > 1:
                apply_cp(dit, mesh["cp"], tp=dims.tp)
        apply_ac(dit, mode=cfg.ac, every=cfg.ac_every)
        if cfg.compile:
            apply_compile(dit)
    if fsdp and dims is not None and dims.fsdp_degree > 1:
        units = [block for dit in dits for block in dit.layers.values()]
        apply_fsdp(model, units=units, fsdp_mesh=mesh.fsdp, param_dtype=getattr(torch, cfg.param_dtype))
        for name in forward_methods:
            register_fsdp_forward_method(model, name)
    return model


def parallelize_fsdp_only(model: nn.Module, *, dims: ParallelDims, cfg: ParallelConfig, mesh: Meshes) -> nn.Module:
    """FSDP2 over all ``dp x cp x tp`` ranks for models without a DiT (TAE, audio codec, text encoders; SPEC 6)."""
    if dims.world_size > 1:
        flat = mesh.root._flatten("all")
        policy = MixedPrecisionPolicy(param_dtype=getattr(torch, cfg.param_dtype), reduce_dtype=torch.float32)
        fully_shard(model, mesh=flat, mp_policy=policy)
    return model


def prepare_model(
    model: nn.Module,
    *,
    distributed: "DistributedContext | None",
    parallel: ParallelConfig | None,
    forward_methods: tuple[str, ...] = (),
) -> tuple[nn.Module, tuple[int, int]]:
    """A training recipe's model, ready for its rank: moved to the rank's device and parallelised.

    Every rank has built and initialised the whole model from the same seed (cheap at the sizes trained here), so a
    distributed run starts from the single-process run's weights; paper-scale models go through the meta device
    instead (docs/distributed.md). Returns the model and the loss's data shard ``(dp rank, dp size)``.
    """
    if distributed is None and parallel is None:
        return model, (0, 1)
    shard = (0, 1)
    if distributed is not None:
        model.to(distributed.device)
        shard = (distributed.dp_rank, distributed.dims.dp)
    model = parallelize(
        model, dims=None if distributed is None else distributed.dims, cfg=parallel or ParallelConfig(),
        mesh=None if distributed is None else distributed.mesh, forward_methods=forward_methods,
    )
    return model, shard


__all__ = [
    "ContextParallelAttention",
    "ContextParallelTokens",
    "all_gather_sequence",
    "apply_ac",
    "apply_compile",
    "apply_cp",
    "apply_fsdp",
    "apply_tp",
    "dit_tp_plan",
    "find_dits",
    "parallelize",
    "parallelize_fsdp_only",
    "prepare_model",
]
