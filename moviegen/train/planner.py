"""An analytical model of memory and step time for a parallel training plan (SPEC 6), behind ``moviegen plan``.

The paper selects its sharding plans with an analytical model of compute and communication; this is ours, written
for the plans :mod:`moviegen.train.parallelize` actually applies (FSDP2 over ``dp x cp``, TP with sequence
parallelism, all-gather context parallelism, block-level activation checkpointing). Every term is listed in
:class:`Plan` so that a reader can check it; the constants it cannot know (achieved FLOP and bandwidth efficiency,
framework overhead) are flags with stated defaults [inferred].

Memory per GPU (bytes):

* weights, gradients and AdamW moments in fp32 (4 + 4 + 8 bytes per parameter, plus 4 for the EMA), sharded over all
  ``dp * cp * tp`` ranks for the tensor-parallel matrices and over ``dp * cp`` for the rest;
* FSDP's working set: two gathered blocks of compute-dtype parameters (the current one and the prefetched one) and
  two blocks of fp32 gradients waiting for their reduce-scatter, each ``1 / tp`` of a block;
* activations saved for the backward pass, per block and local token (``L / cp`` tokens, ``E`` bytes each):
  ``3 D`` for the all-gathered inputs of the column-parallel matmuls (attention, cross-attention, FFN: whole on
  every TP rank, i.e. duplicated) plus ``((11 + 2 cp) D + 2 qk D + 4 F) / tp`` for the sequence- or head-sharded
  ones (3 norm inputs, 2 modulated norm outputs, q, the gathered K and V of ``cp`` ranks, 2 qk-norm inputs,
  attention output, 2 gated branch outputs, cross-attention q and output, and the SwiGLU's w1, w3, silu and product
  outputs; 2 F for the audio model's GELU MLP). Checkpointed blocks keep only their ``D / tp`` input, and one
  block is rebuilt at a time; the backward pass of a block adds about one block's activations again (their
  gradients);
* frozen text encoders (video presets: UL2 sharded, MetaCLIP and ByT5 replicated, SPEC 6) and a fixed overhead
  (CUDA context, NCCL and cuBLAS workspaces).

Time per step: the FLOPs (``6 N T`` for the matmuls, ``12 L^2 D`` per block for self-attention, cross-attention
likewise with the text length, plus a forward pass for every recomputed block) over the GPUs' peak times an
achieved efficiency; TP and CP collectives are on the critical path (exposed); FSDP's all-gathers and
reduce-scatters overlap the compute and only their excess is exposed.
"""

import math
from dataclasses import asdict, dataclass, field

from torch import nn

from moviegen.dit.config import FFNKind
from moviegen.train.parallel_dims import ACMode

GB = 1e9


@dataclass(frozen=True, kw_only=True)
class GPUSpec:
    """A GPU type: memory, dense bf16 peak, per-GPU bandwidth inside a node and between nodes (GB/s, one way)."""

    name: str
    memory_gb: float
    bf16_tflops: float
    intra_node_gbs: float
    inter_node_gbs: float
    gpus_per_node: int = 8


GPUS = {
    # H100 SXM: 989 dense bf16 TFLOPS, NVLink 4 (450 GB/s per direction); Grand Teton: one 400 Gb/s NIC per GPU.
    "h100-80gb": GPUSpec(name="h100-80gb", memory_gb=80, bf16_tflops=989.4, intra_node_gbs=450, inter_node_gbs=50),
    "h200-141gb": GPUSpec(name="h200-141gb", memory_gb=141, bf16_tflops=989.4, intra_node_gbs=450, inter_node_gbs=50),
    "a100-80gb": GPUSpec(name="a100-80gb", memory_gb=80, bf16_tflops=312, intra_node_gbs=300, inter_node_gbs=25),
}

# Frozen text encoders of the video presets (SPEC 4.1, 6): UL2 sharded over every GPU, MetaCLIP + ByT5 replicated.
UL2_PARAMS, REPLICATED_TEXT_PARAMS = 8.72e9, 0.693e9 + 0.218e9


@dataclass(frozen=True, kw_only=True)
class ModelShape:
    """What the model contributes to the plan, read off a model built on the meta device."""

    name: str
    params: int
    tp_params: int  # in the tensor-parallel matrices of the blocks
    block_params: int  # one block
    num_layers: int
    dim: int
    ffn_dim: int
    num_heads: int
    qk_norm: bool
    out_channels: int
    ffn_saved: int  # [T, F] tensors the FFN saves per token: 4 for SwiGLU (w1, w3, silu, product), 2 for GELU
    video_text_encoders: bool  # the paper's frozen UL2 + MetaCLIP + ByT5 come with it

    @property
    def replicated_params(self) -> int:
        return self.params - self.tp_params


_TP_LINEARS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3", "fc1", "fc2")


def shape_of(model: nn.Module, *, name: str, video_text_encoders: bool = False) -> ModelShape:
    """The :class:`ModelShape` of a built model (any device, meta included) holding a transformer.

    Raises:
        ValueError: a model without a transformer.
    """
    from moviegen.train.parallelize import find_dits

    dits = list(find_dits(model))
    if not dits:
        raise ValueError(f"{name!r} has no transformer to plan")
    dit = dits[0]
    tp_params = sum(
        p.numel()
        for block in dit.layers.values()
        for module_name, module in block.named_modules()
        if isinstance(module, nn.Linear) and module_name.rsplit(".", 1)[-1] in _TP_LINEARS
        for p in module.parameters()
    )
    cfg = dit.cfg
    return ModelShape(
        name=name,
        params=sum(p.numel() for p in model.parameters()),
        tp_params=tp_params,
        block_params=sum(p.numel() for p in dit.layers["0"].parameters()),
        num_layers=cfg.num_layers,
        dim=cfg.dim,
        ffn_dim=cfg.ffn_dim,
        num_heads=cfg.num_heads,
        qk_norm=cfg.qk_norm,
        out_channels=cfg.patch_values,
        ffn_saved=4 if cfg.ffn is FFNKind.SWIGLU else 2,
        video_text_encoders=video_text_encoders,
    )


def model_shape(preset_name: str) -> ModelShape:
    """Parameter split of a preset with a transformer (``moviegen models``), counted on the meta device.

    Raises:
        ValueError: an unknown preset or one without a transformer (the TAE and codecs take FSDP only).
    """
    import torch

    from moviegen.configs.presets import PRESETS, ModelKind

    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; expected one of {sorted(PRESETS)}")
    preset = PRESETS[preset_name]
    if preset.kind not in (ModelKind.VIDEO, ModelKind.AUDIO):
        raise ValueError(
            f"preset {preset_name!r} has no transformer to plan (presets with one: "
            f"{sorted(n for n, p in PRESETS.items() if p.kind in (ModelKind.VIDEO, ModelKind.AUDIO))})"
        )
    from moviegen.text.config import text_paper

    with torch.device("meta"):
        model = preset.build()
    paper_text = preset.video is not None and preset.video().text == text_paper()  # UL2 + MetaCLIP + ByT5
    return shape_of(model, name=preset_name, video_text_encoders=paper_text)


@dataclass(frozen=True, kw_only=True)
class PlanRequest:
    """``moviegen plan`` flags.

    Args:
        preset: a preset with a transformer.
        gpus: total GPUs.
        seq_len: tokens per sample (73,728 for 16 s at 768 px).
        tp: tensor-parallel degree; None lets the planner choose.
        cp: context-parallel degree; None lets the planner choose.
        ac: activation checkpointing; None lets the planner choose.
        ac_every: one block in this many is recomputed with selective AC.
        global_batch: samples per optimizer step (the 768 px stage starts at 1536, SPEC 5.2).
        micro_batch: samples per forward pass of one data-parallel group.
        text_len: text tokens of cross-attention (UL2 + MetaCLIP + ByT5 context) [inferred].
        gpu: a key of :data:`GPUS`.
        efficiency: achieved fraction of the bf16 peak on this model's matmuls and attention [inferred: 0.5].
        comm_efficiency: achieved fraction of the link bandwidth [inferred: 0.8].
        compute_bytes: bytes per activation and gathered parameter (2: bf16; 4: fp32, as on CPU).
        ema: an fp32 EMA copy of the weights is kept (our trainer's default).
        text_encoders: count the frozen text encoders of video presets.
        overhead_gb: fixed per-GPU overhead (CUDA context, NCCL and cuBLAS workspaces) [inferred: 3 GB].
        usable_fraction: share of the GPU memory a plan may fill; the rest absorbs allocator fragmentation
            [inferred: 0.9].
    """

    preset: str
    gpus: int
    seq_len: int
    tp: int | None = None
    cp: int | None = None
    ac: ACMode | None = None
    ac_every: int = 2
    global_batch: int = 1536
    micro_batch: int = 1
    text_len: int = 512
    gpu: str = "h100-80gb"
    efficiency: float = 0.5
    comm_efficiency: float = 0.8
    compute_bytes: int = 2
    ema: bool = True
    text_encoders: bool = True
    overhead_gb: float = 3.0
    usable_fraction: float = 0.9

    def __post_init__(self) -> None:
        for name in ("gpus", "seq_len", "global_batch", "micro_batch", "text_len", "ac_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("tp", "cp"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.gpu not in GPUS:
            raise ValueError(f"--gpu {self.gpu!r} is not known; expected one of {sorted(GPUS)}")
        if not 0 < self.efficiency <= 1 or not 0 < self.comm_efficiency <= 1:
            raise ValueError(
                f"--efficiency and --comm-efficiency must be in (0, 1], got {self.efficiency}, {self.comm_efficiency}"
            )
        if not 0 < self.usable_fraction <= 1:
            raise ValueError(f"usable_fraction must be in (0, 1], got {self.usable_fraction}")
        if self.compute_bytes not in (2, 4):
            raise ValueError(f"compute_bytes must be 2 (bf16) or 4 (fp32), got {self.compute_bytes}")


@dataclass
class Plan:
    """One evaluated plan: the degrees, the memory and time breakdowns, and what limits it."""

    tp: int
    cp: int
    dp: int
    ac: str
    fits: bool
    memory_per_gpu_gb: float
    step_time_s: float
    bottleneck: str
    memory_gb: dict[str, float] = field(default_factory=dict)
    activations_gb: dict[str, float] = field(default_factory=dict)
    time_s: dict[str, float] = field(default_factory=dict)
    communication_gb: dict[str, float] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def activation_elements_per_token(shape: ModelShape, *, tp: int, cp: int) -> dict[str, float]:
    """Saved activation elements per local token of one block: the duplicated (gathered) and the sharded part."""
    d, f = shape.dim, shape.ffn_dim
    sharded = (11 + 2 * cp) * d + (2 * d if shape.qk_norm else 0) + shape.ffn_saved * f
    return {"gathered": 3.0 * d, "sharded": sharded / tp}


def evaluate(shape: ModelShape, req: PlanRequest, *, tp: int, cp: int, ac: ACMode) -> Plan:
    """Memory and time of one plan (see the module docstring for every term)."""
    gpu = GPUS[req.gpu]
    if req.gpus % (tp * cp):
        raise ValueError(f"tp={tp} x cp={cp} does not divide {req.gpus} GPUs")
    dp = req.gpus // (tp * cp)
    if req.global_batch % (dp * req.micro_batch):
        raise ValueError(
            f"{dp} data-parallel groups (GPUs / (tp x cp)) cannot share a global batch of {req.global_batch} in "
            f"micro-batches of {req.micro_batch}; raise tp x cp or the batch"
        )
    fsdp = dp * cp
    e = req.compute_bytes
    layers = shape.num_layers
    samples_per_group = req.global_batch / dp
    micro_steps = max(1, math.ceil(samples_per_group / req.micro_batch))
    tokens = req.micro_batch * req.seq_len / cp  # per GPU (per context-parallel shard) and micro-step

    # -- memory ----------------------------------------------------------------------------------------------------
    local_params = shape.tp_params / (tp * fsdp) + shape.replicated_params / fsdp
    memory = {
        "parameters": 4 * local_params / GB,
        "gradients": 4 * local_params / GB,
        "optimizer_state": 8 * local_params / GB,
        "ema": (4 * local_params / GB) if req.ema else 0.0,
        "fsdp_buffers": (2 * (e + 4) * shape.block_params / tp / GB) if fsdp > 1 else 0.0,
    }
    per_token = activation_elements_per_token(shape, tp=tp, cp=cp)
    block_bytes = tokens * e * (per_token["gathered"] + per_token["sharded"])
    input_bytes = tokens * e * shape.dim / tp  # a checkpointed block keeps its sequence-sharded input
    outside = tokens * e * (4 * shape.dim + shape.out_channels)  # embeddings, final norm and head (replicated)
    recomputed = {ACMode.NONE: 0, ACMode.SELECTIVE: math.ceil(layers / req.ac_every), ACMode.FULL: layers}[ac]
    kept = layers - recomputed
    acts = {
        "per_block_gb": block_bytes / GB,
        "without_checkpointing_gb": (layers * block_bytes + outside) / GB,
        "with_full_checkpointing_gb": (layers * input_bytes + block_bytes + outside) / GB,
        "duplicated_by_tp_gb": (layers * tokens * e * per_token["gathered"] * (1 - 1 / tp)) / GB,
    }
    activation_bytes = kept * block_bytes + recomputed * input_bytes + (block_bytes if recomputed else 0) + outside
    memory["activations"] = activation_bytes / GB
    # The backward pass of a block holds gradients of its activations while it runs: about one block's worth.
    memory["backward_working"] = block_bytes / GB
    if shape.video_text_encoders and req.text_encoders:
        memory["text_encoders"] = e * (UL2_PARAMS / req.gpus + REPLICATED_TEXT_PARAMS) / GB
    memory["overhead"] = req.overhead_gb
    total_memory = sum(memory.values())

    # -- compute -----------------------------------------------------------------------------------------------------
    matmul_params = shape.tp_params + shape.replicated_params  # every weight is used once per token
    attn_fwd = 4 * req.seq_len * req.seq_len * shape.dim * layers + 4 * req.seq_len * req.text_len * shape.dim * layers
    fwd = 2 * matmul_params * req.seq_len + attn_fwd  # per sample
    block_fwd = fwd * recomputed / layers
    flops_per_gpu = req.global_batch * (3 * fwd + block_fwd) / req.gpus
    compute_s = flops_per_gpu / (gpu.bf16_tflops * 1e12 * req.efficiency)

    # -- communication -----------------------------------------------------------------------------------------------
    def link(group: int, inner: int) -> float:
        """Bandwidth of a collective over ``group`` ranks spaced ``inner`` apart in the (dp, cp, tp) mesh."""
        inside_node = group * inner <= gpu.gpus_per_node
        return (gpu.intra_node_gbs if inside_node else gpu.inter_node_gbs) * GB * req.comm_efficiency

    tp_bytes = cp_bytes = 0.0
    passes = 2 + recomputed / layers  # forward, backward, and the forward again of recomputed blocks
    if tp > 1:  # 3 all-gathers + 3 reduce-scatters per block and pass, of the block's [tokens, D] stream
        tp_bytes = 6 * passes * layers * tokens * shape.dim * e * (tp - 1) / tp * micro_steps
    if cp > 1:  # K and V all-gathered in each forward; their gradients reduce-scattered once
        kv = 2 * tokens * shape.dim / tp * e * (cp - 1)
        cp_bytes = layers * kv * (1 + recomputed / layers + 1) * micro_steps
    fsdp_bytes = 0.0
    if fsdp > 1:  # per micro-step: all-gather (forward), all-gather (backward), reduce-scatter fp32 grads
        fsdp_bytes = (2 * e + 4) * (shape.params / tp) * (fsdp - 1) / fsdp * micro_steps
    tp_s = tp_bytes / link(tp, 1)
    cp_s = cp_bytes / link(cp, tp)
    fsdp_s = fsdp_bytes / link(fsdp, tp)
    exposed_fsdp = max(0.0, fsdp_s - compute_s)
    step = compute_s + tp_s + cp_s + exposed_fsdp
    times = {"compute": compute_s, "tp_comm": tp_s, "cp_comm": cp_s, "fsdp_comm": fsdp_s, "fsdp_exposed": exposed_fsdp}
    fits = total_memory <= gpu.memory_gb * req.usable_fraction
    limits = {"compute": compute_s, "tp_comm": tp_s, "cp_comm": cp_s, "fsdp_comm": exposed_fsdp}
    bottleneck = "memory" if not fits else max(limits, key=limits.get)
    return Plan(
        tp=tp, cp=cp, dp=dp, ac=ac.value, fits=fits, memory_per_gpu_gb=total_memory, step_time_s=step,
        bottleneck=bottleneck, memory_gb=memory, activations_gb=acts, time_s=times,
        communication_gb={"fsdp": fsdp_bytes / GB, "tp": tp_bytes / GB, "cp": cp_bytes / GB},
        numbers={
            "params": float(shape.params),
            "local_params": local_params,
            "tokens_per_gpu": tokens,
            "micro_steps": float(micro_steps),
            "flops_per_gpu": flops_per_gpu,
            "gpu_memory_gb": gpu.memory_gb,
            "mfu_assumed": req.efficiency,
        },
    )


def _divisors(n: int, limit: int) -> list[int]:
    return [k for k in (1, 2, 4, 8, 16) if k <= limit and n % k == 0]


def search(req: PlanRequest, shape: ModelShape | None = None) -> tuple[Plan, list[Plan]]:
    """Every plan allowed by ``req`` (fixed flags stay fixed); returns the fastest that fits (else the smallest) and
    all candidates, fastest first.

    Raises:
        ValueError: no candidate (degrees that divide neither the GPUs nor the model).
    """
    shape = shape or model_shape(req.preset)
    gpu = GPUS[req.gpu]
    tps = [req.tp] if req.tp else _divisors(math.gcd(shape.num_heads, shape.ffn_dim), gpu.gpus_per_node)
    cps = [req.cp] if req.cp else [1, 2, 4, 8]
    acs = [req.ac] if req.ac else list(ACMode)
    plans = []
    for tp in tps:
        if shape.num_heads % tp or shape.ffn_dim % tp or shape.dim % tp:
            raise ValueError(
                f"--tp {tp} does not divide {req.preset}'s heads ({shape.num_heads}), width ({shape.dim}) and FFN "
                f"width ({shape.ffn_dim})"
            )
        for cp in cps:
            if req.gpus % (tp * cp) or req.seq_len % (tp * cp):
                continue
            if req.global_batch % (req.gpus // (tp * cp) * req.micro_batch):
                continue
            for ac in acs:
                plans.append(evaluate(shape, req, tp=tp, cp=cp, ac=ac))
    if not plans:
        raise ValueError(
            f"no plan: tp x cp must divide --gpus {req.gpus} and --seq-len {req.seq_len}, and the data-parallel groups "
            f"must split --global-batch {req.global_batch} (got tp={req.tp}, cp={req.cp})"
        )
    plans.sort(key=lambda p: (not p.fits, p.step_time_s if p.fits else p.memory_per_gpu_gb))
    return plans[0], plans


def explain(plan: Plan, req: PlanRequest, others: list[Plan] = ()) -> str:
    """A few sentences on why this plan: what fits, what dominates, and what the rejected neighbours needed."""
    m, a, t = plan.memory_gb, plan.activations_gb, plan.time_s
    same_degrees = [p for p in others if (p.tp, p.cp) == (plan.tp, plan.cp) and p.ac != plan.ac]
    lines = [
        f"{req.preset} on {req.gpus} x {req.gpu}: TP {plan.tp} x CP {plan.cp} x FSDP {plan.dp * plan.cp} "
        f"(data-parallel groups: {plan.dp}), activation checkpointing {plan.ac}.",
        f"Memory per GPU {plan.memory_per_gpu_gb:.1f} GB of {plan.numbers['gpu_memory_gb']:.0f} GB "
        f"({'fits' if plan.fits else 'does not fit'}): activations {m['activations']:.1f} GB, "
        f"weights + gradients + AdamW + EMA {m['parameters'] + m['gradients'] + m['optimizer_state'] + m['ema']:.2f} "
        f"GB (sharded over {plan.dp * plan.cp * plan.tp} ranks), FSDP buffers {m['fsdp_buffers']:.1f} GB.",
        f"Without checkpointing the activations would take {a['without_checkpointing_gb']:.0f} GB "
        f"({a['per_block_gb']:.2f} GB per block for {plan.numbers['tokens_per_gpu']:.0f} tokens per GPU); "
        f"{a['duplicated_by_tp_gb']:.0f} GB of that are all-gathered matmul inputs duplicated across the TP group.",
        f"Step {plan.step_time_s:.1f} s: compute {t['compute']:.1f} s at {plan.numbers['mfu_assumed']:.0%} of peak, "
        f"TP {t['tp_comm']:.2f} s and CP {t['cp_comm']:.2f} s exposed, FSDP {t['fsdp_comm']:.2f} s overlapped "
        f"({t['fsdp_exposed']:.2f} s exposed); bottleneck: {plan.bottleneck}.",
    ]
    for p in same_degrees:
        verdict = "fits" if p.fits else "does not fit"
        lines.append(f"With AC {p.ac}: {p.memory_per_gpu_gb:.0f} GB ({verdict}), {p.step_time_s:.1f} s per step.")
    return "\n".join(lines)
