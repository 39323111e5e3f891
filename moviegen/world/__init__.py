"""The synthetic world (PRODUCT.md): procedural short movies with sound and dense captions, deterministic from a seed.

It is the training and evaluation domain of the embedded default. Modules: ``vocab`` (palette, shapes, motions),
``scene`` (scene model, held-out split, sampler), ``kinematics`` (camera and object motion, impacts),
``characters`` (identities), ``render`` (frames; ``render_audio`` from ``sound``), ``captions``, ``edits`` and
``writer`` (the on-disk format, ``moviegen world``). See docs/world.md.
"""

from moviegen.world.captions import (
    BACKGROUND_SYNONYMS,
    COLOUR_SYNONYMS,
    MOTION_SYNONYMS,
    SHAPE_SYNONYMS,
    dense_caption,
    short_prompts,
)
from moviegen.world.characters import HELDOUT_IDENTITIES, NUM_IDENTITIES
from moviegen.world.edits import EditKind, apply_edit, possible_edits
from moviegen.world.render import render_audio, render_portrait, render_video
from moviegen.world.scene import HELDOUT_COMBOS, Music, ObjectSpec, SceneSpec, Split, is_heldout, sample_scene
from moviegen.world.writer import WorldConfig, plan_sample, world_default, write_world

__all__ = [
    "BACKGROUND_SYNONYMS",
    "COLOUR_SYNONYMS",
    "HELDOUT_COMBOS",
    "HELDOUT_IDENTITIES",
    "MOTION_SYNONYMS",
    "NUM_IDENTITIES",
    "SHAPE_SYNONYMS",
    "EditKind",
    "Music",
    "ObjectSpec",
    "SceneSpec",
    "Split",
    "WorldConfig",
    "apply_edit",
    "dense_caption",
    "is_heldout",
    "plan_sample",
    "possible_edits",
    "render_audio",
    "render_portrait",
    "render_video",
    "sample_scene",
    "short_prompts",
    "world_default",
    "write_world",
]
