"""Instruction-guided edits of world scenes (PRODUCT.md "Edits", the ground truth of Movie Gen Edit).

An edit changes one thing in a :class:`SceneSpec` and says so in words. The edited scene keeps the seed, so its
rendering (texture, text, every untouched object and its motion, the sound) matches the source exactly except for
what the instruction names. Edits never introduce a held-out (colour, shape, motion) combination, so editing a
training scene gives a training scene.
"""

import enum
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from moviegen.world.kinematics import layout_problem
from moviegen.world.scene import HELDOUT_COMBOS, SceneSpec, sample_object
from moviegen.world.vocab import BACKGROUNDS, OBJECT_COLOURS, Motion, Shape


class EditKind(enum.StrEnum):
    RECOLOUR = "recolour"
    REMOVE = "remove"
    ADD = "add"
    BACKGROUND = "background"
    RESHAPE = "replace shape"


class SceneEdit(NamedTuple):
    scene: SceneSpec  # the edited scene (render it for the ground-truth target)
    instruction: str


_TEMPLATES: dict[EditKind, tuple[str, ...]] = {
    EditKind.RECOLOUR: ("make the {noun} {new}", "change the colour of the {noun} to {new}", "paint the {noun} {new}"),
    EditKind.REMOVE: ("remove the {noun}", "delete the {noun}", "take away the {noun}"),
    EditKind.ADD: ("add a {new} that {motion}", "put in a {new} that {motion}", "insert a {new} that {motion}"),
    EditKind.BACKGROUND: (
        "change the background to {new}",
        "make the background {new}",
        "replace the {old} background with a {new} one",
    ),
    EditKind.RESHAPE: (
        "turn the {noun} into a {new}",
        "replace the {noun} with a {colour} {new}",
        "change the {noun} into a {new}",
    ),
}
_ADD_TRIES = 20


def possible_edits(scene: SceneSpec) -> tuple[EditKind, ...]:
    """The edit kinds that apply to ``scene`` (characters are never recoloured or reshaped)."""
    kinds = []
    if any(not obj.is_character for obj in scene.objects):
        kinds += [EditKind.RECOLOUR, EditKind.RESHAPE]
    kinds.append(EditKind.REMOVE if len(scene.objects) == 2 else EditKind.ADD)
    kinds.append(EditKind.BACKGROUND)
    return tuple(kind for kind in EditKind if kind in kinds)


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _with_object(scene: SceneSpec, index: int, **changes) -> SceneSpec:
    objects = list(scene.objects)
    objects[index] = replace(objects[index], **changes)
    return replace(scene, objects=tuple(objects))


def _new_heldout(obj_combo, combo) -> bool:
    return combo in HELDOUT_COMBOS and combo != obj_combo


def apply_edit(scene: SceneSpec, kind: EditKind | str, rng: np.random.Generator) -> SceneEdit:
    """Apply one random edit of ``kind`` to ``scene``.

    Args:
        scene: the source scene.
        kind: an :class:`EditKind` or its value (``"recolour"``, ``"remove"``, ``"add"``, ``"background"``,
            ``"replace shape"``).
        rng: chooses the object, the new colour/shape/background and the wording.

    Returns:
        ``(edited_scene, instruction)``.

    Raises:
        ValueError: an unknown kind, or one that does not apply to this scene (see :func:`possible_edits`).
    """
    try:
        kind = EditKind(kind)
    except ValueError:
        raise ValueError(f"edit kind must be one of {[k.value for k in EditKind]}, got {kind!r}") from None
    if kind not in possible_edits(scene):
        raise ValueError(
            f"a {kind.value!r} edit does not apply to a scene with {len(scene.objects)} object(s) "
            f"({', '.join(o.noun for o in scene.objects)}); possible: {[k.value for k in possible_edits(scene)]}"
        )
    template = _pick(rng, list(_TEMPLATES[kind]))
    plain = [i for i, obj in enumerate(scene.objects) if not obj.is_character]
    used = {obj.colour for obj in scene.objects}

    if kind == EditKind.RECOLOUR:
        options = [
            (i, colour)
            for i in plain
            for colour in OBJECT_COLOURS
            if colour not in used
            and not _new_heldout(scene.objects[i].combo, (colour, scene.objects[i].shape, scene.objects[i].motion))
        ]
        index, colour = _pick(rng, options)
        edited = _with_object(scene, index, colour=colour)
        return SceneEdit(edited, template.format(noun=scene.objects[index].noun, new=colour))

    if kind == EditKind.REMOVE:
        index = int(rng.integers(2))
        edited = replace(scene, objects=tuple(o for i, o in enumerate(scene.objects) if i != index))
        return SceneEdit(edited, template.format(noun=scene.objects[index].noun))

    if kind == EditKind.ADD:
        for _ in range(_ADD_TRIES):
            edited = sample_object(rng, scene, allow_heldout=False)
            if edited is not None:
                new = edited.objects[-1]
                motion = "stays still" if scene.is_image else new.motion.value
                return SceneEdit(edited, template.format(new=new.noun, motion=motion))
        raise ValueError(f"no room to add an object to this scene after {_ADD_TRIES} tries")

    if kind == EditKind.BACKGROUND:
        background = _pick(rng, [b for b in BACKGROUNDS if b != scene.background])
        edited = replace(scene, background=background)
        return SceneEdit(edited, template.format(old=scene.background, new=background))

    options = []
    for i in plain:
        obj = scene.objects[i]
        for shape in Shape:
            if shape == obj.shape or (shape == Shape.CIRCLE and obj.motion == Motion.SPIN):
                continue
            if _new_heldout(obj.combo, (obj.colour, shape, obj.motion)):
                continue
            candidate = _with_object(scene, i, shape=shape)
            if layout_problem(candidate) is None:
                options.append((i, shape, candidate))
    if not options:
        raise ValueError("no shape replacement keeps every object in view and apart in this scene")
    index, shape, edited = _pick(rng, options)
    obj = scene.objects[index]
    return SceneEdit(edited, template.format(noun=obj.noun, colour=obj.colour, new=shape.value))
