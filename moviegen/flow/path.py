"""The conditional optimal-transport probability path of Movie Gen (SPEC 3.1; Lipman et al. 2023).

Time convention, stated once for the whole project (STYLE rule 12), the paper's and flow_matching's:

    t in [0, 1];  t = 0 is noise x0 ~ N(0, I);  t = 1 is data x1.
    xt = t * x1 + (1 - (1 - sigma_min) * t) * x0
    v  = d xt / dt = x1 - (1 - sigma_min) * x0

FLUX, diffusers and torchtitan-flux run time the other way (their sigma = 1 - t). Variables are named ``x0``
(noise), ``x1`` (data), ``xt`` and ``v`` everywhere in ``flow/``.
"""

from dataclasses import dataclass

import torch

# sigma_min of the paper (SPEC 3.1): the path ends at N(x1, sigma_min^2) rather than exactly at x1.
SIGMA_MIN = 1e-5


@dataclass(frozen=True)
class PathSample:
    """A point on the path: ``xt`` at times ``t`` (shape ``[B]``) and the regression ``target`` velocity."""

    xt: torch.Tensor
    target: torch.Tensor
    t: torch.Tensor


@dataclass(frozen=True, kw_only=True)
class OTPath:
    """xt = t x1 + (1 - (1 - sigma_min) t) x0, target v = x1 - (1 - sigma_min) x0 (see module docstring)."""

    sigma_min: float = SIGMA_MIN

    def __post_init__(self) -> None:
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError(f"sigma_min must be in [0, 1), got {self.sigma_min}")

    def sample(self, *, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> PathSample:
        """Interpolate noise ``x0`` and data ``x1`` at per-sample times ``t`` of shape ``[B]``."""
        if x0.shape != x1.shape:
            raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        if t.shape != (x1.shape[0],):
            raise ValueError(f"t must have shape ({x1.shape[0]},), got {tuple(t.shape)}")
        t_b = t.reshape(-1, *([1] * (x1.ndim - 1))).to(x1.dtype)
        xt = t_b * x1 + (1 - (1 - self.sigma_min) * t_b) * x0
        target = x1 - (1 - self.sigma_min) * x0
        return PathSample(xt=xt, target=target, t=t)
