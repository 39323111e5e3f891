"""Flow times: training-time sampling and inference grids (SPEC 3.1 and 3.3). Convention: t=0 noise, t=1 data.

* Training: logit-normal t = sigmoid(n), n ~ N(mean, std), mean 0 and std 1 in the paper (as SD3). Optionally a
  fraction of the draws is replaced by uniform t [inferred, not in the paper; 0 by default]: logit-normal(0, 1) puts
  about 0.16% of its mass above t = 0.95, the last stretch an inference grid walks (see ``uniform_fraction``).
* Inference: a grid 0 = t_0 < t_1 < ... < t_S = 1 walked by the ODE solver. The paper's *linear-quadratic* grid
  takes the first L steps of an N-step uniform schedule (the "emulated" linear schedule) and covers the rest of the
  path with S - L quadratically spaced steps. The construction follows the open implementation in Genmo Mochi /
  diffusers (``linear_quadratic_schedule``), translated from their noise level sigma to our t = 1 - sigma
  (tested against it in tests/parity).
"""

import enum

import torch


class TimestepSampling(enum.Enum):
    """How training draws t."""

    LOGIT_NORMAL = "logit_normal"
    UNIFORM = "uniform"


class Schedule(enum.Enum):
    """Inference t grid."""

    LINEAR_QUADRATIC = "linear_quadratic"
    UNIFORM = "uniform"


# The paper's 50 steps emulate an N-step linear schedule; sources give N = 250 or 1000 (SPEC 3.3). We default to
# 1000, the value of the open implementations (Mochi, LTX: tau = 0.025 with 25 linear steps) and of the paper's
# "~20x fewer function evaluations" [inferred]. Measured by `moviegen eval` (sampler study).
DEFAULT_EMULATED_LINEAR_STEPS = 1000


def sample_timesteps(
    batch_size: int,
    *,
    sampling: TimestepSampling = TimestepSampling.LOGIT_NORMAL,
    mean: float = 0.0,
    std: float = 1.0,
    uniform_fraction: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw ``[batch_size]`` training times in (0, 1).

    ``uniform_fraction`` (logit-normal only): each time is drawn uniformly instead with this probability, so the tails
    near t = 0 and t = 1 are trained too. At 0 no extra random numbers are drawn (runs stay bit-identical).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 <= uniform_fraction <= 1.0:
        raise ValueError(f"uniform_fraction must be in [0, 1], got {uniform_fraction}")
    if sampling is TimestepSampling.LOGIT_NORMAL:
        if std <= 0:
            raise ValueError(f"logit-normal std must be > 0, got {std}")
        n = torch.randn(batch_size, generator=generator, device=device)
        t = torch.sigmoid(mean + std * n)
        if uniform_fraction > 0:
            u = torch.rand(batch_size, generator=generator, device=device)
            pick = torch.rand(batch_size, generator=generator, device=device) < uniform_fraction
            t = torch.where(pick, u, t)
        return t
    if sampling is TimestepSampling.UNIFORM:
        return torch.rand(batch_size, generator=generator, device=device)
    raise ValueError(f"unknown timestep sampling {sampling!r}; expected one of {[s.value for s in TimestepSampling]}")


def uniform_schedule(num_steps: int) -> torch.Tensor:
    """``[num_steps + 1]`` evenly spaced times from 0 (noise) to 1 (data), float64."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)


def linear_quadratic_schedule(
    num_steps: int, *, emulated_linear_steps: int = DEFAULT_EMULATED_LINEAR_STEPS, linear_steps: int | None = None
) -> torch.Tensor:
    """The linear-quadratic grid of SPEC 3.3, ``[num_steps + 1]`` times from 0 to 1, float64.

    With S = num_steps, L = linear_steps (default S // 2), Q = S - L and tau = L / N the fraction of the path the
    linear part covers (N = emulated_linear_steps):

        t_i = i * tau / L                 for i = 0 .. L-1   (the first L steps of the N-step uniform grid)
        t_i = a i^2 + b i + c             for i = L .. S,    with d = L - tau S, a = d / (L Q^2),
                                                              b = tau / L - 2 d / Q^2, c = a L^2  (so t_S = 1)

    Args:
        num_steps: S, the solver steps (50 in the paper).
        emulated_linear_steps: N, the uniform schedule whose first L steps are kept.
        linear_steps: L; defaults to num_steps // 2 (25 of 50 in the paper).

    Raises:
        ValueError: if the grid would not be increasing or the arguments are out of range.
    """
    if num_steps < 2:
        raise ValueError(f"linear-quadratic schedule needs num_steps >= 2, got {num_steps}")
    linear = num_steps // 2 if linear_steps is None else linear_steps
    if not 1 <= linear < num_steps:
        raise ValueError(f"linear_steps must be in [1, {num_steps - 1}] for num_steps={num_steps}, got {linear}")
    if emulated_linear_steps <= linear:
        raise ValueError(
            f"emulated_linear_steps must exceed linear_steps={linear} (the linear part covers linear/emulated of the "
            f"path), got {emulated_linear_steps}"
        )
    tau = linear / emulated_linear_steps
    quadratic = num_steps - linear
    d = linear - tau * num_steps
    a = d / (linear * quadratic**2)
    b = tau / linear - 2 * d / quadratic**2
    c = a * linear**2
    i = torch.arange(num_steps + 1, dtype=torch.float64)
    t = torch.where(i < linear, i * tau / linear, a * i**2 + b * i + c)
    t[-1] = 1.0  # exact endpoint (the formula gives 1 up to rounding)
    if not bool((t[1:] > t[:-1]).all()):
        raise ValueError(
            f"linear-quadratic grid is not increasing for num_steps={num_steps}, linear_steps={linear}, "
            f"emulated_linear_steps={emulated_linear_steps}; use more emulated steps or fewer linear steps"
        )
    return t


def inference_schedule(
    schedule: Schedule, *, num_steps: int, emulated_linear_steps: int = DEFAULT_EMULATED_LINEAR_STEPS
) -> torch.Tensor:
    """The ``[num_steps + 1]`` t grid of the chosen schedule."""
    if schedule is Schedule.LINEAR_QUADRATIC:
        return linear_quadratic_schedule(num_steps, emulated_linear_steps=emulated_linear_steps)
    if schedule is Schedule.UNIFORM:
        return uniform_schedule(num_steps)
    raise ValueError(f"unknown schedule {schedule!r}; expected one of {[s.value for s in Schedule]}")
