"""ODE solvers that integrate a velocity field from noise (t=0) to data (t=1) over a t grid (SPEC 3.3, 8.5).

The paper samples video with first-order Euler and audio with the midpoint method. Solvers accept any callable
``velocity_fn(x, t_B) -> v`` (flow_matching's ``ModelWrapper`` contract); conditioning is bound by the caller
(``functools.partial`` or a closure) so the solver knows nothing of text, video or guidance.
"""

import enum
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (step index, t, x at t, the velocity the step takes) -> None; the tensors are the solver's own: do not modify them.
StepCallback = Callable[[int, float, torch.Tensor, torch.Tensor], None]


class ODESolver(enum.Enum):
    EULER = "euler"
    MIDPOINT = "midpoint"


def solve_ode(
    velocity_fn: VelocityFn,
    x0: torch.Tensor,
    *,
    t_grid: torch.Tensor,
    solver: ODESolver = ODESolver.EULER,
    progress: bool = False,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Integrate dx/dt = v(x, t) from ``t_grid[0]`` to ``t_grid[-1]`` starting at ``x0``.

    Euler:    x_{i+1} = x_i + h v(x_i, t_i)
    Midpoint: x_{i+1} = x_i + h v(x_i + h/2 v(x_i, t_i), t_i + h/2)        (h = t_{i+1} - t_i)

    Args:
        velocity_fn: ``(x, t_B) -> v`` with ``t_B`` of shape ``[B]`` in x's dtype.
        x0: the starting state (noise), ``[B, ...]``.
        t_grid: increasing 1-D grid of times, e.g. from :func:`moviegen.flow.timesteps.inference_schedule`.
        solver: the integration rule.
        progress: show a tqdm progress bar over steps.
        callback: called once per step, before the update, with ``(i, t_i, x_i, v_i)`` (``v_i`` the velocity the
            step applies: the midpoint one for the midpoint rule); for previews or trajectory diagnostics.

    Returns:
        The state at ``t_grid[-1]``.
    """
    if t_grid.ndim != 1 or t_grid.numel() < 2:
        raise ValueError(f"t_grid must be 1-D with at least 2 points, got shape {tuple(t_grid.shape)}")
    if not bool((t_grid[1:] > t_grid[:-1]).all()):
        raise ValueError("t_grid must be strictly increasing (t=0 noise -> t=1 data)")
    x = x0
    batch = x0.shape[0]
    times = t_grid.tolist()  # python floats: the grid is tiny and stays exact (float64) until used
    steps = zip(times[:-1], times[1:], strict=True)
    bar = tqdm(steps, total=len(times) - 1, disable=not progress, desc=f"{solver.value} steps")
    for i, (t_now, t_next) in enumerate(bar):
        h = t_next - t_now
        t_B = torch.full((batch,), t_now, dtype=x.dtype, device=x.device)
        v = velocity_fn(x, t_B)
        if solver is ODESolver.MIDPOINT:
            t_mid_B = torch.full((batch,), t_now + h / 2, dtype=x.dtype, device=x.device)
            v = velocity_fn(x + (h / 2) * v, t_mid_B)
        elif solver is not ODESolver.EULER:
            raise ValueError(f"unknown solver {solver!r}; expected one of {[s.value for s in ODESolver]}")
        if callback is not None:
            callback(i, t_now, x, v)
        x = x + h * v
    return x
