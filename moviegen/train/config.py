"""Training configs (SPEC 5): the optimizer and its LR schedule, and the loop's own settings.

The optimizer values the paper does not give are the SPEC 5.2 inferences: AdamW, betas (0.9, 0.95), weight decay 0.1,
gradient clipping at 1.0 and a short linear warmup. Every field is overridable; recipes (``moviegen.train.recipes``)
pick the values of each run.
"""

import enum
from dataclasses import dataclass


class LRSchedule(enum.Enum):
    """Shape of the learning rate after warmup."""

    CONSTANT = "constant"  # the pre-training stages (SPEC 5.2 lists one LR per stage)
    COSINE = "cosine"  # SFT (SPEC 5.4): lr -> min_lr over the run
    STEP_DOWN = "step_down"  # 768 px stage (SPEC 5.2): multiply by step_factor at each milestone


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """AdamW and its learning-rate schedule.

    Args:
        lr: peak learning rate.
        betas: AdamW betas [inferred, SPEC 5.2].
        weight_decay: decoupled weight decay on matrices only (norms, biases, embeddings and position tables are
            never decayed) [inferred, SPEC 5.2].
        eps: AdamW epsilon.
        warmup_steps: linear warmup from lr / warmup_steps to lr over this many steps.
        schedule: the shape after warmup.
        min_lr: end value of the cosine schedule.
        step_milestones: steps at which STEP_DOWN multiplies the LR by ``step_factor``.
        step_factor: STEP_DOWN factor (S1: "halve each plateau").

    Raises:
        ValueError: for out-of-range values.
    """

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: LRSchedule = LRSchedule.CONSTANT
    min_lr: float = 0.0
    step_milestones: tuple[int, ...] = ()
    step_factor: float = 0.5

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two values in [0, 1), got {self.betas}")
        if self.weight_decay < 0 or self.eps <= 0:
            raise ValueError(f"weight_decay must be >= 0 and eps > 0, got {self.weight_decay} and {self.eps}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if not isinstance(self.schedule, LRSchedule):
            raise ValueError(f"schedule must be one of {[s.value for s in LRSchedule]}, got {self.schedule!r}")
        if not 0.0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr={self.lr}], got {self.min_lr}")
        if list(self.step_milestones) != sorted(self.step_milestones) or any(m < 1 for m in self.step_milestones):
            raise ValueError(f"step_milestones must be increasing positive steps, got {self.step_milestones}")
        if not 0.0 < self.step_factor <= 1.0:
            raise ValueError(f"step_factor must be in (0, 1], got {self.step_factor}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """The training loop.

    Args:
        steps: optimizer steps of the run (a resumed run continues up to the same total).
        batch_size: samples per step (the data pipeline uses it; the loop only reports it).
        grad_clip: max global gradient norm; None disables clipping (the norm is still logged).
        ema_decay: decay of the EMA of the weights; None disables the EMA.
        bf16: run forward and loss under bfloat16 autocast (weights and optimizer stay fp32).
        text_dropout: probability of replacing a caption by "" so the model also learns the unconditional velocity
            used by classifier-free guidance (SPEC 3.3) [inferred value, the common 0.1].
        log_every: steps between console / TensorBoard updates (metrics.jsonl gets every step).
        checkpoint_every: steps between checkpoints (a final checkpoint is always written).
        keep_checkpoints: how many checkpoints to keep (the newest ones).
        val_every: steps between validations; 0 disables them.
        val_batches: held-out batches per validation.
        seed: seeds model init, data order and every per-step random draw.

    Raises:
        ValueError: for out-of-range values.
    """

    steps: int
    batch_size: int
    grad_clip: float | None = 1.0
    ema_decay: float | None = None
    bf16: bool = False
    text_dropout: float = 0.1
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    val_every: int = 0
    val_batches: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "keep_checkpoints", "val_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.val_every < 0:
            raise ValueError(f"val_every must be >= 0 (0 disables validation), got {self.val_every}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {self.ema_decay}")
        if not 0.0 <= self.text_dropout < 1.0:
            raise ValueError(f"text_dropout must be in [0, 1), got {self.text_dropout}")
