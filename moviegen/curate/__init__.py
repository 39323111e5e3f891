"""Data curation (SPEC 11): a raw video corpus to balanced, captioned training clips, on Ray Data.

Modules: ``config`` (the funnel's thresholds, SPEC defaults), ``analysis`` (probing and the scores: scenes, OCR,
borders, VMAF motion, motion vectors, embeddings), ``clips`` (where clips go, writing them), ``stages`` (the funnel per
input and over the corpus), ``tags`` (camera-motion classifier, sound tags), ``pipeline`` (the Ray Data driver,
outputs), ``report`` (the funnel table and plot). ``moviegen curate`` is the command.
"""

from moviegen.curate.config import ClipConfig, CurateConfig, FilterConfig, spec_curation, world_curation

__all__ = ["ClipConfig", "CurateConfig", "FilterConfig", "spec_curation", "world_curation"]
