"""The sampling settings shared by the generation-based evaluations (adherence, sampler study)."""

from dataclasses import dataclass, replace
from typing import Any

from moviegen.flow.timesteps import Schedule
from moviegen.text.prompt import CameraMotion


@dataclass(frozen=True, kw_only=True)
class SamplingSettings:
    """How evaluation samples from a pipeline: always a static camera, so the analyser sees object motion only.

    Args:
        width: frame width in pixels.
        height: frame height in pixels.
        num_frames: frames per clip.
        fps: frames per second (the prompt's FPS token).
        steps: sampler steps.
        schedule: inference t grid.
        guidance_scale: classifier-free guidance scale (>= 1).
    """

    width: int = 128
    height: int = 128
    num_frames: int = 32
    fps: int = 16
    steps: int = 50
    schedule: Schedule = Schedule.LINEAR_QUADRATIC
    guidance_scale: float = 7.5

    def __post_init__(self) -> None:
        for name in ("width", "height", "num_frames", "fps", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SamplingSettings.{name} must be an int >= 1, got {value!r}")
        if not self.guidance_scale >= 1:
            raise ValueError(f"SamplingSettings.guidance_scale must be >= 1, got {self.guidance_scale!r}")

    @classmethod
    def from_defaults(cls, defaults: Any, **overrides: Any) -> "SamplingSettings":
        """From a checkpoint's ``GenerationDefaults`` (its default size, clip length, steps, schedule, guidance)."""
        settings = cls(
            width=defaults.width,
            height=defaults.height,
            num_frames=defaults.num_frames,
            fps=defaults.fps,
            steps=defaults.steps,
            schedule=defaults.schedule,
            guidance_scale=defaults.guidance_scale,
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    def request(self, *, seed: int, steps: int | None = None, schedule: Schedule | None = None) -> dict[str, Any]:
        """Keyword arguments of ``VideoPipeline.generate``/``latents`` (static camera, no progress bar)."""
        return {
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "steps": self.steps if steps is None else steps,
            "schedule": self.schedule if schedule is None else schedule,
            "guidance_scale": self.guidance_scale,
            "seed": seed,
            "camera_motion": CameraMotion.STATIC,
            "progress": False,
        }
