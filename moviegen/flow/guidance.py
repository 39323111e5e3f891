"""Classifier-free guidance (Ho & Salimans 2022; SPEC 3.3, scale 7.5 for video): v = v_u + s (v_c - v_u).

Guidance is a transformation of velocity functions, not a model method (STYLE rule 10).
"""

import torch

from moviegen.flow.solver import VelocityFn


def cfg_combine(v_cond: torch.Tensor, v_uncond: torch.Tensor, *, scale: float) -> torch.Tensor:
    """v_uncond + scale * (v_cond - v_uncond); scale 1 is the conditional velocity, 0 the unconditional one."""
    return v_uncond + scale * (v_cond - v_uncond)


def guided_velocity_fn(paired_velocity_fn: VelocityFn, *, scale: float) -> VelocityFn:
    """Wrap a doubled-batch velocity function into a guided one, with one network call per step.

    Args:
        paired_velocity_fn: takes ``[x; x]`` (2B samples) and ``[t; t]`` and returns ``[v_cond; v_uncond]``: the
            caller arranges the conditioning so that the first B rows are conditional and the last B are not.
        scale: the guidance scale s.

    Returns:
        ``(x, t_B) -> v_uncond + s (v_cond - v_uncond)``.
    """

    def velocity_fn(x: torch.Tensor, t_B: torch.Tensor) -> torch.Tensor:
        v = paired_velocity_fn(torch.cat([x, x]), torch.cat([t_B, t_B]))
        v_cond, v_uncond = v.chunk(2)
        return cfg_combine(v_cond, v_uncond, scale=scale)

    return velocity_fn
