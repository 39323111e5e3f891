"""Training (SPEC 5): a small generic engine and the recipes of the embedded default.

Engine: :mod:`~moviegen.train.config` (``OptimConfig``, ``TrainConfig``), :mod:`~moviegen.train.optim` (AdamW groups,
LR schedule), :mod:`~moviegen.train.ema`, :mod:`~moviegen.train.state` (RNG capture), :mod:`~moviegen.train.checkpoint`
(atomic safetensors + JSON checkpoints), :mod:`~moviegen.train.loop` (``Trainer``), :mod:`~moviegen.train.average`
(model averaging, SPEC 5.4). Recipes: :mod:`~moviegen.train.recipes` (presets, ``RECIPES``), :mod:`~moviegen.train.tae`,
:mod:`~moviegen.train.t2v`, and :mod:`~moviegen.train.launch` behind ``moviegen train``. See ``docs/training.md``.

Nothing here creates process groups: parallelism is applied to the model before it is handed to the trainer.
"""

from moviegen.train.average import average_checkpoints
from moviegen.train.checkpoint import Checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from moviegen.train.config import LRSchedule, OptimConfig, TrainConfig
from moviegen.train.ema import EMA
from moviegen.train.loop import Trainer, TrainResult
from moviegen.train.optim import build_optimizer, lr_at

__all__ = [
    "EMA",
    "Checkpoint",
    "LRSchedule",
    "OptimConfig",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "average_checkpoints",
    "build_optimizer",
    "latest_checkpoint",
    "load_checkpoint",
    "lr_at",
    "save_checkpoint",
]
