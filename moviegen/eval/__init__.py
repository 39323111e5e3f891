"""Automatic quality metrics on the synthetic world (PRODUCT.md "Quality is measured, not asserted").

``metrics`` (PSNR, SSIM), ``analyse`` (a palette-only frame analyser: objects, shapes, motions), ``adherence``
(prompt adherence on held-out combinations and paraphrases, and its ceiling on the world's own renders),
``reconstruction`` (TAE PSNR/SSIM on held-out videos),
``sampler_study`` (error vs steps per schedule) and ``report`` (eval.json, tables, model-card updates). The CLI is
``moviegen eval``; see docs/eval.md.
"""

from moviegen.eval.adherence import (
    AdherenceCase,
    AdherenceResult,
    WorldRenders,
    adherence_cases,
    evaluate_adherence,
    judge,
)
from moviegen.eval.analyse import AnalyserConfig, ObjectAnalysis, TrackPoint, VideoAnalysis, analyse_video
from moviegen.eval.metrics import psnr, ssim
from moviegen.eval.reconstruction import ReconstructionResult, evaluate_reconstruction, heldout_videos
from moviegen.eval.sampler_study import SamplerStudy, plot_sampler_study, run_sampler_study, sampler_table
from moviegen.eval.settings import SamplingSettings

__all__ = [
    "AdherenceCase",
    "AdherenceResult",
    "AnalyserConfig",
    "ObjectAnalysis",
    "ReconstructionResult",
    "SamplerStudy",
    "SamplingSettings",
    "TrackPoint",
    "VideoAnalysis",
    "WorldRenders",
    "adherence_cases",
    "analyse_video",
    "evaluate_adherence",
    "evaluate_reconstruction",
    "heldout_videos",
    "judge",
    "plot_sampler_study",
    "psnr",
    "run_sampler_study",
    "sampler_table",
    "ssim",
]
