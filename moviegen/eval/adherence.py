"""Prompt adherence on the synthetic world: does the generated video show the prompt's colour, shape and motion?

Cases come in two groups:

* ``heldout``: the canonical short prompt of every held-out (colour, shape, motion) combination
  (:data:`moviegen.world.HELDOUT_COMBOS`), which training never shows: compositional generalisation;
* ``paraphrase``: seen combinations phrased with the world's synonym tables ("a violet block slides to the left"),
  never the canonical wording: robustness to how users write.

Prompts are built by the world's own :func:`moviegen.world.short_prompts`, so their templates match training. Each
case is generated with a static camera and a fixed seed, analysed by :func:`moviegen.eval.analyse.analyse_video`, and
judged on three separate axes plus jointly:

* colour: the largest detected object has the prompt's colour;
* shape, motion: those of the object of the prompt's colour if one was detected, else of the largest object (so a
  wrong colour does not also cost the shape and motion points); nothing detected fails every axis.

The analyser's accuracy on ground-truth renders (docs/eval.md) bounds these scores from above. :class:`WorldRenders`
measures that bound on the cases themselves: the world's own drawing of each case, raw (what a perfect video model
would score) and through a TAE's round trip (the most any video model on that TAE's latents can score).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from moviegen.eval.analyse import AnalyserConfig, ObjectAnalysis, VideoAnalysis, analyse_video
from moviegen.eval.settings import SamplingSettings
from moviegen.world.captions import short_prompts
from moviegen.world.render import render_video
from moviegen.world.scene import HELDOUT_COMBOS, ObjectSpec, SceneSpec, combo_scene
from moviegen.world.vocab import BACKGROUNDS, OBJECT_COLOURS, Camera, Motion, Shape

GROUPS = ("heldout", "paraphrase")
AXES = ("colour", "shape", "motion", "joint")


class Generator(Protocol):
    """What adherence needs of a pipeline: ``VideoPipeline.generate`` (tests pass fakes)."""

    def generate(self, prompt: str, **request: Any) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class AdherenceCase:
    """One prompt and what it asks for."""

    prompt: str
    colour: str
    shape: Shape
    motion: Motion
    background: str
    group: str


def _scene(colour: str, shape: Shape, motion: Motion, background: str) -> SceneSpec:
    """A one-object scene, only to phrase prompts (its layout is never rendered)."""
    obj = ObjectSpec(colour=colour, shape=shape, motion=motion, size=16.0, x=64.0, y=64.0)
    return SceneSpec(width=128, height=128, fps=16, num_frames=32, background=background, textured=False,
                     camera=Camera.STATIC, objects=(obj,))


def _all_combos() -> list[tuple[str, Shape, Motion]]:
    combos = [(c, s, m) for c in OBJECT_COLOURS for s in Shape for m in Motion]
    return [(c, s, m) for c, s, m in combos if not (s == Shape.CIRCLE and m == Motion.SPIN)]


def adherence_cases(*, num_paraphrases: int = 16, seed: int = 0) -> list[AdherenceCase]:
    """The held-out cases (all of them) followed by ``num_paraphrases`` paraphrased seen combinations.

    Args:
        num_paraphrases: paraphrase cases (0 for held-out only).
        seed: picks backgrounds, paraphrased combinations and their wording.

    Raises:
        ValueError: a negative ``num_paraphrases``.
    """
    if num_paraphrases < 0:
        raise ValueError(f"num_paraphrases must be >= 0, got {num_paraphrases}")
    rng = np.random.default_rng(seed)
    backgrounds = list(BACKGROUNDS)
    cases = []
    for colour, shape, motion in sorted(HELDOUT_COMBOS):
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        prompt = short_prompts(_scene(colour, shape, motion, background), rng, n=1)[0]
        cases.append(AdherenceCase(prompt=prompt, colour=colour, shape=shape, motion=motion, background=background,
                                   group="heldout"))
    seen = [combo for combo in _all_combos() if combo not in HELDOUT_COMBOS]
    for index in rng.permutation(len(seen))[:num_paraphrases]:
        colour, shape, motion = seen[int(index)]
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        scene = _scene(colour, shape, motion, background)
        canonical, *paraphrases = short_prompts(scene, rng, n=4)
        prompt = next((p for p in paraphrases if p != canonical), canonical)
        cases.append(AdherenceCase(prompt=prompt, colour=colour, shape=shape, motion=motion, background=background,
                                   group="paraphrase"))
    return cases


class WorldRenders:
    """A :data:`Generator` that draws each case as the world does instead of generating it: the adherence ceiling.

    ``generate(prompt, ...)`` renders the case with that prompt (:func:`moviegen.world.scene.combo_scene`: one object
    of its colour, shape and motion on its background, static camera, size and start drawn from the request's
    ``seed``) at the request's size, length and frame rate, then passes the frames through ``round_trip`` if given
    (``functools.partial(moviegen.eval.reconstruction.reconstruct, tae)``: encode and decode). Judged by
    :func:`evaluate_adherence` like generated videos, the raw renders score the analyser's ceiling on these cases and
    the round trips the most a video model on that TAE's latents can score: its samples decode through the same
    decoder.

    Raises:
        ValueError: two cases with one prompt but different content; at ``generate``, a prompt no case has.
    """

    def __init__(
        self, cases: Sequence[AdherenceCase], *, round_trip: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> None:
        self._cases: dict[str, AdherenceCase] = {}
        for case in cases:
            known = self._cases.setdefault(case.prompt, case)
            if (known.colour, known.shape, known.motion, known.background) != (
                case.colour, case.shape, case.motion, case.background
            ):
                raise ValueError(f"two adherence cases share the prompt {case.prompt!r} but ask for different scenes")
        self._round_trip = round_trip

    def generate(
        self, prompt: str, *, width: int, height: int, num_frames: int, fps: int, seed: int, **_sampling: Any
    ) -> np.ndarray:
        case = self._cases.get(prompt)
        if case is None:
            raise ValueError(f"no adherence case has the prompt {prompt!r}")
        scene = combo_scene(np.random.default_rng(seed), (case.colour, case.shape, case.motion),
                            background=case.background, width=width, height=height, num_frames=num_frames, fps=fps)
        frames_THWC = render_video(scene)
        return frames_THWC if self._round_trip is None else self._round_trip(frames_THWC)


@dataclass(frozen=True, kw_only=True)
class Judgement:
    colour: bool
    shape: bool
    motion: bool
    judged: ObjectAnalysis | None

    @property
    def joint(self) -> bool:
        return self.colour and self.shape and self.motion


def judge(case: AdherenceCase, analysis: VideoAnalysis) -> Judgement:
    """Score one analysed video against its case (rules in the module docstring)."""
    if not analysis.objects:
        return Judgement(colour=False, shape=False, motion=False, judged=None)
    largest = analysis.objects[0]
    judged = analysis.find(case.colour) or largest
    return Judgement(colour=largest.colour == case.colour, shape=judged.shape == case.shape,
                     motion=judged.motion == case.motion, judged=judged)


@dataclass(frozen=True, kw_only=True)
class AdherenceResult:
    """``scores[group][axis]`` accuracies in [0, 1] (groups: heldout, paraphrase, all; axes: colour, shape, motion,
    joint; plus ``count``), and one row per generated video."""

    scores: dict[str, dict[str, float]]
    rows: list[dict[str, Any]]


def accuracies(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``count`` and the fraction of rows with ``<axis>_ok`` for each axis (NaN for no rows)."""
    out: dict[str, float] = {"count": len(rows)}
    for axis in AXES:
        out[axis] = float(np.mean([row[f"{axis}_ok"] for row in rows])) if rows else float("nan")
    return out


def evaluate_adherence(
    pipeline: Generator,
    cases: Sequence[AdherenceCase],
    *,
    settings: SamplingSettings,
    seed: int = 0,
    analyser: AnalyserConfig | None = None,
    progress: bool = True,
) -> AdherenceResult:
    """Generate every case (seed ``seed + i`` for case ``i``), analyse, judge and aggregate.

    Args:
        pipeline: anything with ``generate(prompt, **request) -> uint8 [T, H, W, 3]`` (a ``VideoPipeline``).
        cases: from :func:`adherence_cases`.
        settings: size, length, steps, schedule and guidance (the camera is always static).
        seed: first noise seed.
        analyser: analyser thresholds (defaults: the validated ones).
        progress: a tqdm bar over cases.

    Returns:
        Scores per group and overall, and per-case rows.

    Raises:
        ValueError: no cases.
    """
    if not cases:
        raise ValueError("adherence needs at least one case, got none")
    rows = []
    for i, case in enumerate(tqdm(cases, desc="adherence", disable=not progress)):
        frames_THWC = pipeline.generate(case.prompt, **settings.request(seed=seed + i))
        analysis = analyse_video(frames_THWC, cfg=analyser)
        verdict = judge(case, analysis)
        rows.append({
            "prompt": case.prompt,
            "group": case.group,
            "seed": seed + i,
            "expected": {"colour": case.colour, "shape": case.shape.value, "motion": case.motion.value},
            "detected": [
                {"colour": o.colour, "shape": o.shape.value, "motion": o.motion.value, "area": round(o.area, 5),
                 "max_step": round(o.max_step, 4), "displacement": [round(d, 4) for d in o.displacement],
                 "growth": round(o.growth, 3)}
                for o in analysis.objects
            ],
            "background": analysis.background,
            "colour_ok": verdict.colour,
            "shape_ok": verdict.shape,
            "motion_ok": verdict.motion,
            "joint_ok": verdict.joint,
        })
    scores = {group: accuracies([r for r in rows if r["group"] == group]) for group in GROUPS}
    scores = {group: acc for group, acc in scores.items() if acc["count"]} | {"all": accuracies(rows)}
    return AdherenceResult(scores=scores, rows=rows)


def _score_cells(acc: dict[str, float]) -> str:
    return f"{int(acc['count'])} | " + " | ".join(f"{acc[a]:.3f}" for a in AXES)


def adherence_table(result: AdherenceResult) -> str:
    """Scores as a markdown table (one row per group)."""
    lines = ["| cases | count | colour | shape | motion | joint |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {group} | {_score_cells(acc)} |" for group, acc in result.scores.items()]
    return "\n".join(lines) + "\n"


def ceiling_table(results: dict[str, AdherenceResult]) -> str:
    """Scores of :class:`WorldRenders` versions (e.g. ``rendered``, ``through_tae``) as one markdown table."""
    lines = ["| frames | cases | count | colour | shape | motion | joint |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {version} | {group} | {_score_cells(acc)} |"
              for version, result in results.items() for group, acc in result.scores.items()]
    return "\n".join(lines) + "\n"
