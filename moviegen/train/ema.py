"""Exponential moving average of the trainable weights, for evaluation and shipping.

``shadow = d_n * shadow + (1 - d_n) * param`` after every optimizer step, with the warmed-up decay
``d_n = min(decay, (1 + n) / (10 + n))`` at update ``n`` (1-based) so that short runs are not dominated by the
random init (the schedule of TF's ``ExponentialMovingAverage(num_updates=...)`` used by DDPM/LDM). The update count
is the trainer's step, so the EMA needs no state beyond its weights.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def ema_decay_at(update: int, *, decay: float) -> float:
    """Decay used by update number ``update`` (1-based)."""
    return min(decay, (1.0 + update) / (10.0 + update))


class EMA:
    """EMA copy of the trainable parameters of ``model`` (fp32 like the parameters).

    Args:
        model: the module; its ``requires_grad`` parameters are tracked, by name.
        decay: the target decay (e.g. 0.999).
    """

    def __init__(self, model: nn.Module, *, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] = {
            name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
        }

    def _params(self, model: nn.Module) -> dict[str, torch.Tensor]:
        params = dict(model.named_parameters())
        missing = sorted(set(self.shadow) - set(params))
        if missing:
            raise ValueError(f"model lacks EMA parameters {missing[:5]}")
        return params

    @torch.no_grad()
    def update(self, model: nn.Module, *, update: int) -> None:
        """Fold the current weights in, as update number ``update`` (1-based: the trainer's completed steps)."""
        decay = ema_decay_at(update, decay=self.decay)
        params = self._params(model)
        for name, shadow in self.shadow.items():
            shadow.lerp_(params[name].detach().to(shadow.dtype), 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The EMA weights by parameter name."""
        return dict(self.shadow)

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load EMA weights; extra keys (buffers, untracked weights of a full state dict) are ignored."""
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise ValueError(f"EMA state lacks {missing[:5]}{'...' if len(missing) > 5 else ''}")
        for name, shadow in self.shadow.items():
            if state[name].shape != shadow.shape:
                raise ValueError(
                    f"EMA weight {name} has shape {tuple(state[name].shape)}, expected {tuple(shadow.shape)}"
                )
            shadow.copy_(state[name])

    @torch.no_grad()
    def swap(self, model: nn.Module) -> None:
        """Exchange the model's weights with the EMA weights (call twice to undo)."""
        params = self._params(model)
        for name, shadow in self.shadow.items():
            tmp = params[name].detach().clone()
            params[name].copy_(shadow)
            shadow.copy_(tmp)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """``with ema.applied(model):`` evaluates with the EMA weights and restores the trained ones after."""
        self.swap(model)
        try:
            yield model
        finally:
            self.swap(model)
