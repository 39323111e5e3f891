"""Flow matching (SPEC section 3), kept apart from the networks (STYLE rule 10).

``path`` (x_t and the target velocity), ``timesteps`` (training-time t sampling and inference t grids), ``solver``
(ODE integration of any ``velocity_fn(x, t)``), ``guidance`` (classifier-free guidance) and ``loss``.
"""

from moviegen.flow.config import FlowConfig
from moviegen.flow.guidance import cfg_combine, guided_velocity_fn
from moviegen.flow.loss import FlowLossOutput, flow_matching_loss
from moviegen.flow.path import SIGMA_MIN, OTPath, PathSample
from moviegen.flow.solver import ODESolver, VelocityFn, solve_ode
from moviegen.flow.timesteps import (
    Schedule,
    TimestepSampling,
    inference_schedule,
    linear_quadratic_schedule,
    sample_timesteps,
    uniform_schedule,
)

__all__ = [
    "SIGMA_MIN",
    "FlowConfig",
    "FlowLossOutput",
    "ODESolver",
    "OTPath",
    "PathSample",
    "Schedule",
    "TimestepSampling",
    "VelocityFn",
    "cfg_combine",
    "flow_matching_loss",
    "guided_velocity_fn",
    "inference_schedule",
    "linear_quadratic_schedule",
    "sample_timesteps",
    "solve_ode",
    "uniform_schedule",
]
