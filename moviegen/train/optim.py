"""AdamW with decay on matrices only, and the learning-rate schedule (SPEC 5.2, 5.4).

The LR is a pure function of the step (:func:`lr_at`), set on the optimizer before every step, so there is no
scheduler state to checkpoint and a resumed run gets exactly the LRs of an uninterrupted one.
"""

import math
from collections.abc import Iterable

import torch
from torch import nn

from moviegen.nn.embed import FactorizedPositionalEmbedding
from moviegen.train.config import LRSchedule, OptimConfig

# Modules whose weights are lookup tables, not linear maps: decaying them only shrinks positions/tokens towards 0.
_TABLE_MODULES = (nn.Embedding, FactorizedPositionalEmbedding)


def no_decay_names(module: nn.Module) -> set[str]:
    """Names of trainable parameters that get no weight decay: norms, biases (anything < 2-D), embeddings and
    positional tables."""
    names = set()
    for module_name, sub in module.named_modules():
        for param_name, param in sub.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if param.ndim < 2 or isinstance(sub, _TABLE_MODULES):
                names.add(full)
    return names


def param_groups(modules: Iterable[nn.Module], *, weight_decay: float) -> list[dict]:
    """Two AdamW groups over the trainable parameters of ``modules``: decayed matrices, then the rest.

    Parameters shared between modules are listed once. Frozen parameters (``requires_grad=False``) are left out.
    """
    decay, no_decay, seen = [], [], set()
    for module in modules:
        skip = no_decay_names(module)
        for name, param in module.named_parameters():
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (no_decay if name in skip else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(modules: Iterable[nn.Module], *, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters of ``modules`` (see :func:`param_groups`)."""
    groups = param_groups(modules, weight_decay=cfg.weight_decay)
    if not any(group["params"] for group in groups):
        raise ValueError("no trainable parameters: every parameter has requires_grad=False")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def lr_at(step: int, *, cfg: OptimConfig, total_steps: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based) of a ``total_steps`` run.

    * warmup (``step < warmup_steps``): ``lr * (step + 1) / warmup_steps``;
    * CONSTANT: ``lr``;
    * COSINE: ``min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2`` with ``p = (step - warmup) / (total - warmup)``;
    * STEP_DOWN: ``lr * step_factor ** (number of milestones <= step)``.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule is LRSchedule.CONSTANT:
        return cfg.lr
    if cfg.schedule is LRSchedule.COSINE:
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.schedule is LRSchedule.STEP_DOWN:
        return cfg.lr * cfg.step_factor ** sum(1 for m in cfg.step_milestones if step >= m)
    raise ValueError(f"unknown LR schedule {cfg.schedule!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
