"""Flow-matching settings shared by training and sampling (SPEC 3)."""

from dataclasses import dataclass

from moviegen.flow.path import SIGMA_MIN
from moviegen.flow.solver import ODESolver
from moviegen.flow.timesteps import DEFAULT_EMULATED_LINEAR_STEPS, Schedule, TimestepSampling


@dataclass(frozen=True, kw_only=True)
class FlowConfig:
    """Paper defaults: sigma_min 1e-5, logit-normal(0, 1) training times, 50 Euler steps on the linear-quadratic
    grid, CFG 7.5 (SPEC 3.1, 3.3)."""

    sigma_min: float = SIGMA_MIN
    timestep_sampling: TimestepSampling = TimestepSampling.LOGIT_NORMAL
    logit_mean: float = 0.0
    logit_std: float = 1.0
    # [inferred] 0 in the paper: the fraction of training times drawn uniformly instead (tails, see timesteps.py).
    uniform_fraction: float = 0.0
    schedule: Schedule = Schedule.LINEAR_QUADRATIC
    num_steps: int = 50
    emulated_linear_steps: int = DEFAULT_EMULATED_LINEAR_STEPS
    solver: ODESolver = ODESolver.EULER
    guidance_scale: float = 7.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError(f"sigma_min must be in [0, 1), got {self.sigma_min}")
        if self.logit_std <= 0:
            raise ValueError(f"logit_std must be > 0, got {self.logit_std}")
        if not 0.0 <= self.uniform_fraction <= 1.0:
            raise ValueError(f"uniform_fraction must be in [0, 1], got {self.uniform_fraction}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {self.guidance_scale}")
