"""The training loop: one model, one AdamW, any loss (SPEC 5).

Parallelism is applied from outside (STYLE rule 6): the trainer receives an already built (and, at scale, already
parallelised) module and never touches process groups. Per step it does::

    lr = lr_at(step)  ->  batch = next(batches)  ->  loss = loss_fn(model, batch, step)  (bf16 autocast optional)
    ->  backward  ->  clip (the norm is logged)  ->  AdamW step  ->  EMA update  ->  log  ->  validate / checkpoint

``metrics.jsonl`` gets one record per step (and one per validation); the console shows a tqdm line with loss, LR,
gradient norm and samples/s; TensorBoard events go to ``RUN_DIR/tb``. The first SIGINT/SIGTERM finishes the current
step, writes a checkpoint and returns (a second one aborts at once). ``run(resume=True)`` continues from
``checkpoints/latest``: weights, EMA, AdamW moments, global RNGs and the data iterator's position, so the resumed
steps are exactly those of an uninterrupted run.

Distributed runs (``distributed=``, under torchrun) differ in four places only: each data-parallel group gets its
slice of every global batch (:class:`~moviegen.train.distributed.ShardedBatches`), the gradient norm is taken over
DTensors, checkpoints are DCP checkpoints (sharded, resharding on load), and only rank 0 logs and writes files.
"""

import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from moviegen.configs.serialize import config_to_dict
from moviegen.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from moviegen.train.config import OptimConfig, TrainConfig
from moviegen.train.distributed import (
    DistributedContext,
    ShardedBatches,
    clean_name,
    clip_grad_norm_,
    is_dcp_checkpoint,
    load_dcp_checkpoint,
    reshard,
    save_dcp_checkpoint,
)
from moviegen.train.ema import EMA
from moviegen.train.optim import build_optimizer, lr_at, set_lr
from moviegen.train.state import capture_rng, restore_rng

LossFn = Callable[[nn.Module, Any, int], tuple[torch.Tensor, Mapping[str, float | torch.Tensor]]]
ValFn = Callable[[nn.Module], Mapping[str, float]]
METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class TrainResult:
    """How a :meth:`Trainer.run` ended: the completed steps, whether a signal stopped it, its last checkpoint."""

    step: int
    interrupted: bool
    checkpoint: Path | None
    last_metrics: dict[str, float]


def model_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights a checkpoint stores: ``trainable_state_dict()`` where the model defines it (frozen pretrained
    encoders live in their own files), else ``state_dict()``."""
    if hasattr(model, "trainable_state_dict"):
        return model.trainable_state_dict()
    return model.state_dict()


def load_model_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    if hasattr(model, "load_trainable_state_dict"):
        model.load_trainable_state_dict(dict(state))
    else:
        model.load_state_dict(state)


def _scalar(value: float | torch.Tensor) -> float:
    return float(value.detach().float().item()) if isinstance(value, torch.Tensor) else float(value)


def _mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over every rank (for logging: each data-parallel group has its own batch's loss)."""
    import torch.distributed as dist

    out = value.detach().float().clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def _any_rank(flag: bool, *, device: torch.device) -> bool:
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class _StopFlag:
    """SIGINT/SIGTERM -> a flag checked between steps; a second signal raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.stop, self._previous = False, {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True
        print(f"\nsignal {signum}: finishing this step and writing a checkpoint (again to abort)", file=sys.stderr)

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    """Runs ``cfg.steps`` optimizer steps of ``loss_fn`` on ``model``.

    Args:
        model: the module to train (already built, initialised and parallelised).
        loss_fn: ``loss_fn(model, batch, step) -> (loss, metrics)``; draws its randomness from ``step`` (e.g.
            :func:`moviegen.train.state.step_generator`) so that resumed steps are reproducible.
        batches: an iterator of batches; if it has ``state_dict()``/``load_state_dict()`` its position is
            checkpointed and restored.
        cfg: loop settings.
        optim: optimizer and LR schedule.
        run_dir: where checkpoints, ``metrics.jsonl`` and ``tb/`` go.
        val_fn: ``val_fn(model) -> metrics``, run under ``no_grad`` in eval mode (and again with the EMA weights).
        extra_modules: other trained modules (e.g. a discriminator): optimised with the model and checkpointed as
            ``extra_{name}.safetensors``.
        run_info: JSON-ready description of the run (recipe, configs), stored in every checkpoint.
        progress: show the tqdm line.
        distributed: this process's place in a torchrun job; ``model`` must already be parallelised
            (:func:`moviegen.train.parallelize.parallelize`) and ``loss_fn`` must take the data-parallel slice of
            each batch it is given.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        loss_fn: LossFn,
        batches: Iterable[Any],
        cfg: TrainConfig,
        optim: OptimConfig,
        run_dir: str | os.PathLike,
        val_fn: ValFn | None = None,
        extra_modules: Mapping[str, nn.Module] | None = None,
        run_info: Mapping[str, Any] | None = None,
        progress: bool = True,
        distributed: DistributedContext | None = None,
    ) -> None:
        self.model, self.loss_fn, self.cfg, self.optim_cfg = model, loss_fn, cfg, optim
        self.distributed = distributed
        self.is_main = distributed is None or distributed.is_main
        if distributed is not None:
            if extra_modules:
                raise ValueError("distributed training takes one model; extra modules are single-process only")
            batches = ShardedBatches(batches, rank=distributed.dp_rank, size=distributed.dims.dp)
        self.batches = batches
        self.run_dir = Path(run_dir)
        self.val_fn = val_fn
        self.extra_modules = dict(extra_modules or {})
        self.run_info = dict(run_info or {})
        self.progress = progress and self.is_main
        self.optimizer = build_optimizer([model, *self.extra_modules.values()], cfg=optim)
        self.ema = EMA(model, decay=cfg.ema_decay) if cfg.ema_decay is not None else None
        self.step = 0

    # -- state -------------------------------------------------------------------------------------------------

    def _trainer_state(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        data_state = self.batches.state_dict() if hasattr(self.batches, "state_dict") else None
        return {
            "step": self.step,
            "data": data_state,
            "train_config": config_to_dict(self.cfg),
            "optim_config": config_to_dict(self.optim_cfg),
            "run": self.run_info,
            "metrics": dict(metrics),
        }

    def save(self, metrics: Mapping[str, float]) -> Path:
        """Checkpoint the current step (see :mod:`moviegen.train.checkpoint`; DCP when distributed)."""
        if self.distributed is not None:
            return save_dcp_checkpoint(
                self.distributed, self.run_dir, self.step, model=self.model,
                trainable_keys=set(model_state_dict(self.model)), optimizer=self.optimizer,
                ema_state=self._ema_by_name(), trainer_state=self._trainer_state(metrics), rng_state=capture_rng(),
                keep=self.cfg.keep_checkpoints,
            )
        model_state = model_state_dict(self.model)
        ema_state = None
        if self.ema is not None:
            shadow = self.ema.state_dict()
            ema_state = {k: shadow.get(k, v) for k, v in model_state.items()}
        return save_checkpoint(
            self.run_dir,
            self.step,
            model_state=model_state,
            ema_state=ema_state,
            optimizer=self.optimizer,
            trainer_state=self._trainer_state(metrics),
            rng_state=capture_rng(),
            extra_states={name: m.state_dict() for name, m in self.extra_modules.items()},
            keep=self.cfg.keep_checkpoints,
        )

    def _reshard(self) -> None:
        if self.distributed is not None:
            reshard(self.model)

    def _ema_by_name(self) -> dict[str, torch.Tensor] | None:
        """The EMA tensors themselves (DCP loads in place) under the plain model's parameter names."""
        return None if self.ema is None else {clean_name(k): v for k, v in self.ema.shadow.items()}

    def _restore_distributed(self, path: Path) -> None:
        assert self.distributed is not None
        if not is_dcp_checkpoint(path):
            raise ValueError(
                f"{str(path)!r} is a single-process checkpoint; resume it without torchrun, or start the distributed "
                "run from its weights (--init)"
            )
        rng = load_dcp_checkpoint(
            self.distributed, path, model=self.model, trainable_keys=set(model_state_dict(self.model)),
            optimizer=self.optimizer, ema_state=self._ema_by_name(),
        )
        state = json.loads((path / "trainer_state.json").read_text())
        if state.get("data") is not None and hasattr(self.batches, "load_state_dict"):
            self.batches.load_state_dict(state["data"])
        if rng is not None:
            restore_rng(rng)
        self.step = int(state["step"])

    def _restore(self) -> None:
        path = latest_checkpoint(self.run_dir)
        if path is None:
            raise ValueError(f"--resume: {str(self.run_dir)!r} has no checkpoint to resume from")
        if self.distributed is not None:
            return self._restore_distributed(path)
        if is_dcp_checkpoint(path):
            raise ValueError(
                f"{str(path)!r} was written by a distributed run; resume it with torchrun on any number of ranks: "
                "`torchrun --nproc_per_node=N -m moviegen.train ... --resume` (or `moviegen train ... --resume --dp 2`)"
            )
        ckpt = load_checkpoint(path)
        load_model_state_dict(self.model, ckpt.model_state)
        if self.ema is not None:
            if ckpt.ema_state is None:
                raise ValueError(
                    f"checkpoint {path} has no EMA weights but this run has ema_decay={self.cfg.ema_decay}"
                )
            self.ema.load_state_dict(ckpt.ema_state)
        if ckpt.optimizer_state is None:
            raise ValueError(f"checkpoint {path} has no optimizer state; it cannot be resumed")
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        for name, module in self.extra_modules.items():
            if name not in ckpt.extra_states:
                raise ValueError(f"checkpoint {path} lacks the extra module {name!r}")
            module.load_state_dict(ckpt.extra_states[name])
        if ckpt.trainer_state.get("data") is not None and hasattr(self.batches, "load_state_dict"):
            self.batches.load_state_dict(ckpt.trainer_state["data"])
        if ckpt.rng_state is not None:
            restore_rng(ckpt.rng_state)
        self.step = ckpt.step

    def _seed(self) -> None:
        import random

        torch.manual_seed(self.cfg.seed)
        np.random.seed(self.cfg.seed % 2**32)
        random.seed(self.cfg.seed)

    def _reset_metrics_file(self, *, keep_until: int) -> None:
        """Drop records after step ``keep_until`` (steps a killed run did past its last checkpoint)."""
        if not self.is_main:
            return
        path = self.run_dir / METRICS_FILE
        kept = []
        if path.is_file() and keep_until > 0:
            kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= keep_until]
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, path)

    # -- the loop ----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """``val_fn`` with the trained weights (``val/...``) and, with the EMA on, the EMA weights (``val_ema/...``)."""
        assert self.val_fn is not None
        self.model.eval()
        try:
            out = {f"val/{k}": _scalar(v) for k, v in self.val_fn(self.model).items()}
            if self.ema is not None:
                self._reshard()
                with self.ema.applied(self.model):
                    out.update({f"val_ema/{k}": _scalar(v) for k, v in self.val_fn(self.model).items()})
                    self._reshard()
        finally:
            self.model.train()
        return out

    def run(self, *, resume: bool = False) -> TrainResult:
        """Train up to ``cfg.steps`` (continuing from the latest checkpoint with ``resume``).

        Raises:
            ValueError: ``resume`` without a checkpoint, or a fresh start in a run directory that has one.
        """
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.distributed is not None:
            self.distributed.barrier()
        if resume:
            self._restore()
        else:
            existing = latest_checkpoint(self.run_dir)
            if existing is not None:
                raise ValueError(
                    f"{str(self.run_dir)!r} already holds a run (checkpoint {existing.name}); resume it or use a new "
                    "output directory"
                )
            self._seed()
        self._reset_metrics_file(keep_until=self.step)
        writer = self._tensorboard() if self.is_main else None
        self.model.train()
        for module in self.extra_modules.values():
            module.train()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        device_type = params[0].device.type
        iterator = iter(self.batches)
        last: dict[str, float] = {}
        checkpoint = None
        interrupted = False
        bar = tqdm(
            total=self.cfg.steps, initial=self.step, disable=not self.progress, file=sys.stderr, dynamic_ncols=True,
            desc=self.run_info.get("recipe", "train"),
        )
        window_start, window_samples = time.perf_counter(), 0
        log_path = self.run_dir / METRICS_FILE if self.is_main else Path(os.devnull)
        with _StopFlag() as stop, open(log_path, "a") as log:
            while self.step < self.cfg.steps:
                lr = lr_at(self.step, cfg=self.optim_cfg, total_steps=self.cfg.steps)
                set_lr(self.optimizer, lr)
                batch = next(iterator)
                if self.distributed is not None:
                    global_size, batch = batch
                else:
                    global_size = len(batch.ids) if hasattr(batch, "ids") else self.cfg.batch_size
                with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
                    loss, metrics = self.loss_fn(self.model, batch, self.step)
                if not torch.isfinite(loss):
                    raise RuntimeError(f"non-finite loss {loss.item()} at step {self.step}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                max_norm = self.cfg.grad_clip if self.cfg.grad_clip is not None else math.inf
                if self.distributed is not None:
                    grad_norm = clip_grad_norm_(params, max_norm)
                    loss = _mean_over_ranks(loss)
                else:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
                self.optimizer.step()
                self.step += 1
                if self.ema is not None:
                    self.ema.update(self.model, update=self.step)

                window_samples += global_size
                elapsed = time.perf_counter() - window_start
                last = {
                    "step": self.step,
                    "loss": _scalar(loss),
                    "lr": lr,
                    "grad_norm": _scalar(grad_norm),
                    "samples_per_s": window_samples / max(elapsed, 1e-9),
                    **{k: _scalar(v) for k, v in metrics.items()},
                }
                log.write(json.dumps(last) + "\n")
                log.flush()
                bar.update(1)
                if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                    bar.set_postfix(
                        loss=f"{last['loss']:.4f}", lr=f"{lr:.2e}", gnorm=f"{last['grad_norm']:.3f}",
                        samples_s=f"{last['samples_per_s']:.1f}",
                    )
                    if writer is not None:
                        for key, value in last.items():
                            if key != "step":
                                writer.add_scalar(f"train/{key}", value, self.step)
                    window_start, window_samples = time.perf_counter(), 0
                if self.val_fn is not None and self.cfg.val_every and (
                    self.step % self.cfg.val_every == 0 or self.step == self.cfg.steps
                ):
                    val = {"step": self.step, **self.validate()}
                    log.write(json.dumps(val) + "\n")
                    log.flush()
                    if writer is not None:
                        for key, value in val.items():
                            if key != "step":
                                writer.add_scalar(key, value, self.step)
                    last.update(val)
                if self.distributed is not None:  # one rank's signal stops every rank at the same step
                    stop.stop = _any_rank(stop.stop, device=self.distributed.device)
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps or stop.stop:
                    checkpoint = self.save(last)
                if stop.stop:
                    interrupted = True
                    break
        bar.close()
        if writer is not None:
            writer.close()
        if checkpoint is None:  # resumed a finished run: nothing to do
            checkpoint = latest_checkpoint(self.run_dir)
        return TrainResult(step=self.step, interrupted=interrupted, checkpoint=checkpoint, last_metrics=last)

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("tensorboard is not installed: metrics go to metrics.jsonl only (pip install tensorboard)")
            return None
        # purge_step drops events a killed run logged after the checkpoint we resume from.
        return SummaryWriter(str(self.run_dir / "tb"), purge_step=self.step if self.step > 0 else None)
