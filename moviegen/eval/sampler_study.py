"""Sampler quality vs number of steps: linear-quadratic vs uniform t grids against a fine Euler reference (SPEC 3.3).

For each prompt and seed the reference is the final latent of a ``reference_steps`` (default 1000) uniform Euler
solve (``reference_solver=ODESolver.MIDPOINT``: a second-order one, close to the exact solution, so a grid's
reading is its own error rather than its distance from another first-order solve; the issue's yardstick is
Euler's). Every (schedule, steps) pair is solved with Euler from the *same* noise with the same
guidance, and its error is the RMSE of its final latent against the reference, ``sqrt(mean((x - x_ref)^2))`` in
latent units, averaged over prompts and seeds. The paper's claim is that 50 linear-quadratic steps come close to
the 1000-step result; the table and the log-log plot show how close, for a given checkpoint.

The same comparison is also made on what a viewer gets: both latents decoded to 8-bit frames (``pipeline.decode``),
``pixel_rmse`` in units of the full range (1 = 255 levels). The two can disagree: the decoder renders a latent's
coarse structure (an object's place and shape) and tempers its finest detail, while the two grids err in different
places, the uniform one at the noise end, where the content is decided, the linear-quadratic one at the data end,
where detail is. Both are reported; neither replaces the other (on the shipped models they tell the same story:
docs/eval.md). The frames are the 8-bit ones a user gets, so below about one level (0.004) the reading is mostly
rounding.

Why a grid wins or loses is where it spends its steps against where the velocity field bends: an Euler step of size
h errs by about h^2/2 |dv/dt|. The study therefore also records, along each reference solve, the rate of change of
the (guided) velocity, ``rms(v_{i+1} - v_i) / (t_{i+1} - t_i)``, averaged in bins of t (``velocity_change``). The
linear-quadratic grid takes tiny steps near the noise (t = 0) and its largest ones near the data (t = 1): it is the
right grid for a model whose velocity changes fastest early, as the paper reports for Movie Gen (SPEC 3.3).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from moviegen.eval.settings import SamplingSettings
from moviegen.flow.solver import ODESolver
from moviegen.flow.timesteps import Schedule

DEFAULT_STEPS = (10, 25, 50, 100, 250)
DEFAULT_REFERENCE_STEPS = 1000
DEFAULT_SCHEDULES = (Schedule.LINEAR_QUADRATIC, Schedule.UNIFORM)
# Bins of t for the velocity-change profile: finer at both ends, where the two grids differ most.
PROFILE_EDGES = (0.0, 0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975, 1.0)


class LatentSampler(Protocol):
    """What the study needs of a pipeline: ``VideoPipeline.latents`` and ``VideoPipeline.decode``."""

    def latents(
        self, prompt: str, *, step_callback: Any = None, solver: ODESolver = ODESolver.EULER, **request: Any
    ) -> torch.Tensor: ...

    def decode(self, latent_BCTHW: torch.Tensor, *, num_frames: int) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class SamplerStudy:
    """``rmse[schedule][steps]``: mean latent RMSE against the reference; ``pixel_rmse[schedule][steps]``: the same
    for the decoded 8-bit frames, in units of the full range; ``velocity_change[bin]``: mean rate of change of the
    velocity along the reference solves, per bin of t (``"0-0.025"``, ...); ``rows``: one per (prompt, seed,
    schedule, steps); ``reference_solver``: the reference's ``ODESolver`` value (a string, as stored in JSON)."""

    reference_steps: int
    reference_solver: str
    steps: tuple[int, ...]
    rmse: dict[str, dict[int, float]]
    pixel_rmse: dict[str, dict[int, float]]
    velocity_change: dict[str, float]
    rows: list[dict[str, Any]]


class VelocityChangeTrace:
    """A solver step callback that records ``rms(v_{i+1} - v_i) / (t_{i+1} - t_i)`` at each ``t_i`` (keeping one
    velocity, not the trajectory)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.rates: list[float] = []
        self._last: tuple[float, torch.Tensor] | None = None

    def __call__(self, step: int, t: float, x: torch.Tensor, v: torch.Tensor) -> None:
        v = v.detach().double()
        if self._last is not None:
            t_last, v_last = self._last
            self.times.append(t_last)
            self.rates.append(float(torch.sqrt(((v - v_last) ** 2).mean())) / (t - t_last))
        self._last = (t, v.clone())

    def binned(self, edges: Sequence[float] = PROFILE_EDGES) -> dict[str, float]:
        """Mean rate per ``[lo, hi)`` bin of t (bins without a step are left out)."""
        out = {}
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            rates = [r for t, r in zip(self.times, self.rates, strict=True) if lo <= t < hi]
            if rates:
                out[f"{lo:g}-{hi:g}"] = sum(rates) / len(rates)
        return out


def run_sampler_study(
    pipeline: LatentSampler,
    *,
    prompts: Sequence[str],
    settings: SamplingSettings,
    seeds: Sequence[int] = (0,),
    steps: Sequence[int] = DEFAULT_STEPS,
    schedules: Sequence[Schedule] = DEFAULT_SCHEDULES,
    reference_steps: int = DEFAULT_REFERENCE_STEPS,
    reference_solver: ODESolver = ODESolver.EULER,
    progress: bool = True,
) -> SamplerStudy:
    """Measure each schedule's error against the reference (final latent and decoded frames), for each step count.

    Args:
        pipeline: anything with ``latents(prompt, **request) -> [1, C, T, H, W]`` and ``decode(latent,
            num_frames=) -> uint8 [T, H, W, 3]`` (a ``VideoPipeline``).
        prompts: prompts to sample.
        settings: size, length and guidance (its ``steps`` and ``schedule`` are replaced by the study's).
        seeds: noise seeds, each used for every prompt.
        steps: step counts to compare (each >= 2: the linear-quadratic grid needs 2).
        schedules: t grids to compare.
        reference_steps: steps of the uniform reference solve (more than any of ``steps``).
        reference_solver: its integration rule (the grids compared always use Euler). A uniform Euler grid whose
            step count divides the reference's visits the reference's own times and shares part of its first-order
            error, which favours it by construction; a midpoint reference is second order, so its own error is far
            below either schedule's.
        progress: a tqdm bar over solves.

    Returns:
        Mean latent and pixel RMSE per schedule and step count, and every measurement.

    Raises:
        ValueError: no prompts or seeds, a step count below 2, or a reference not finer than every step count.
    """
    steps = tuple(sorted(set(steps)))
    if not prompts or not seeds:
        raise ValueError(f"the sampler study needs prompts and seeds, got {list(prompts)} and {list(seeds)}")
    if not steps or steps[0] < 2:
        raise ValueError(f"steps must be a non-empty list of ints >= 2, got {list(steps)}")
    if reference_steps <= steps[-1]:
        raise ValueError(f"reference_steps must exceed every step count (max {steps[-1]}), got {reference_steps}")
    rows = []
    profiles = []
    total = len(prompts) * len(seeds) * (1 + len(schedules) * len(steps))
    with tqdm(total=total, desc="sampler study", disable=not progress) as bar:
        for prompt in prompts:
            for seed in seeds:
                trace = VelocityChangeTrace()
                reference = pipeline.latents(
                    prompt, **settings.request(seed=seed, steps=reference_steps, schedule=Schedule.UNIFORM),
                    step_callback=trace, solver=reference_solver,
                )
                profiles.append(trace.binned())
                reference_frames = _frames(pipeline, reference, num_frames=settings.num_frames)
                reference = reference.double()
                bar.update()
                for schedule in schedules:
                    for n in steps:
                        latent = pipeline.latents(prompt, **settings.request(seed=seed, steps=n, schedule=schedule))
                        frames = _frames(pipeline, latent, num_frames=settings.num_frames)
                        rows.append({"prompt": prompt, "seed": seed, "schedule": schedule.value, "steps": n,
                                     "rmse": _rmse(latent.double(), reference),
                                     "pixel_rmse": _rmse(frames, reference_frames)})
                        bar.update()

    def mean(key: str) -> dict[str, dict[int, float]]:
        return {
            schedule.value: {
                n: sum(r[key] for r in rows if r["schedule"] == schedule.value and r["steps"] == n)
                / (len(prompts) * len(seeds))
                for n in steps
            }
            for schedule in schedules
        }

    velocity_change = {key: sum(p[key] for p in profiles) / len(profiles) for key in profiles[0]}
    return SamplerStudy(reference_steps=reference_steps, reference_solver=reference_solver.value, steps=steps,
                        rmse=mean("rmse"),
                        pixel_rmse=mean("pixel_rmse"), velocity_change=velocity_change, rows=rows)


def _frames(pipeline: LatentSampler, latent_BCTHW: torch.Tensor, *, num_frames: int) -> torch.Tensor:
    """The decoded 8-bit frames as float64 in [0, 1]."""
    return torch.from_numpy(pipeline.decode(latent_BCTHW, num_frames=num_frames)).double() / 255.0


def _rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.sqrt(((a - b) ** 2).mean()))


def sampler_table(study: SamplerStudy) -> str:
    """Mean RMSE per step count (rows) and schedule (columns), latent and decoded frames, as a markdown table."""
    schedules = list(study.rmse)
    lines = [
        f"RMSE against a {study.reference_steps}-step uniform {study.reference_solver} reference (same noise): of the"
        " final latent,",
        "and of its decoded 8-bit frames (units of the full range).",
        "",
        "| steps | " + " | ".join(f"latent: {s}" for s in schedules) + " | "
        + " | ".join(f"frames: {s}" for s in schedules) + " |",
        "|---:|" + "---:|" * (2 * len(schedules)),
    ]
    for n in study.steps:
        cells = [f"{study.rmse[s][n]:.4g}" for s in schedules] + [f"{study.pixel_rmse[s][n]:.4g}" for s in schedules]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Where the velocity field bends: rms(dv/dt) along the reference solves, by t (0 = noise, 1 = data). An Euler",
        "step of size h there errs by about h^2/2 times this.",
        "",
        "| t | " + " | ".join(study.velocity_change) + " |",
        "|---|" + "---:|" * len(study.velocity_change),
        "| rms dv/dt | " + " | ".join(f"{v:.3g}" for v in study.velocity_change.values()) + " |",
    ]
    return "\n".join(lines) + "\n"


def plot_sampler_study(study: SamplerStudy, path: str | os.PathLike) -> Path:
    """Write log-log plots of RMSE vs steps, latent and decoded frames side by side, one line per schedule (PNG).

    Raises:
        ImportError: matplotlib is missing (install the ``eval`` extra: ``pip install 'moviegen[eval]'``).
    """
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "the sampler-study plot needs matplotlib: pip install 'moviegen[eval]' (tables and JSON need nothing)"
        ) from err
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    from moviegen.io.media import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=120)
    for ax, errors, what in ((axes[0], study.rmse, "final latent"), (axes[1], study.pixel_rmse, "decoded frames")):
        for schedule, by_steps in errors.items():
            xs = list(by_steps)
            ys = [max(by_steps[n], 1e-12) for n in xs]  # log axis: an exact match would be 0
            ax.plot(xs, ys, marker="o", label=schedule.replace("_", "-"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sampler steps")
        ax.set_ylabel(f"RMSE vs {study.reference_steps}-step {study.reference_solver}")
        ax.set_title(f"sampler error vs steps: {what}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path

