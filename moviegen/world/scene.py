"""The synthetic world's scene model and its random sampler (PRODUCT.md "The synthetic world").

A :class:`SceneSpec` fully describes one clip: geometry, background, camera, one or two objects, optional visual
text and music, and a seed for everything random at render time (the background texture, noisy sounds). Rendering
(`render.py`), captions (`captions.py`) and edits (`edits.py`) are pure functions of it.

The held-out split: :data:`HELDOUT_COMBOS` (colour, shape, motion) triples and the held-out character identities
never appear in a ``"train"`` scene; every ``"heldout"`` scene has at least one held-out-combo object.
"""

import enum
import math
from dataclasses import dataclass, replace

import numpy as np

from moviegen.world import kinematics
from moviegen.world.characters import HELDOUT_IDENTITIES, TRAIN_IDENTITIES, character
from moviegen.world.font import FONT_CHARACTERS
from moviegen.world.vocab import BACKGROUNDS, OBJECT_COLOURS, Camera, Motion, Shape


class Music(enum.StrEnum):
    MAJOR = "major"  # cheerful: a fast arpeggio in C major
    MINOR = "minor"  # sad: a slow arpeggio in C minor


class Split(enum.StrEnum):
    TRAIN = "train"
    HELDOUT = "heldout"


# Visual text: a short word painted on the background in a colour that is no object colour and no background
# (hot pink, at least 110 RGB units from every palette colour), so colour-based detection never mistakes it.
TEXT_WORDS = ("GO", "STOP", "HI", "YES", "NO", "WOW", "OK", "FUN", "SUN", "JUMP", "PLAY", "MOVIE", "HELLO", "ZAP")
TEXT_COLOUR = (255, 105, 180)
TEXT_COLOUR_NAME = "pink"

# Object radii are given for a 128 px frame and scale with min(width, height) / REFERENCE_SIZE.
REFERENCE_SIZE = 128
SIZE_RANGE = (12.0, 22.0)
MOTION_SCALE_RANGE = (0.8, 1.25)  # multiplies the nominal amounts of kinematics.py (object and camera motion)

HELDOUT_COMBOS: frozenset[tuple[str, Shape, Motion]] = frozenset(
    {
        ("red", Shape.STAR, Motion.LEFT),
        ("green", Shape.SQUARE, Motion.BOUNCE),
        ("blue", Shape.TRIANGLE, Motion.GROW),
        ("yellow", Shape.CIRCLE, Motion.UP),
        ("purple", Shape.SQUARE, Motion.SPIN),
        ("orange", Shape.TRIANGLE, Motion.RIGHT),
        ("white", Shape.CIRCLE, Motion.DOWN),
        ("cyan", Shape.STAR, Motion.STILL),
        ("yellow", Shape.TRIANGLE, Motion.STILL),
    }
)

# Sampling probabilities of sample_scene.
CHARACTER_PROB = 0.1  # a scene has a character sprite
TWO_OBJECTS_PROB = 0.4
TEXT_PROB = 0.25
MUSIC_PROB = 0.3  # videos only
TEXTURED_PROB = 0.7
CAMERA_WEIGHTS = {
    Camera.STATIC: 0.4,
    Camera.PAN_LEFT: 0.15,
    Camera.PAN_RIGHT: 0.15,
    Camera.ZOOM_IN: 0.15,
    Camera.ZOOM_OUT: 0.15,
}
_MAX_TRIES = 200


@dataclass(frozen=True, kw_only=True)
class ObjectSpec:
    """One object. A character (``identity`` set) is a face sprite: its shape is the head disc (circle) and its
    colour is its identity's colour.

    Args:
        colour: key of ``OBJECT_COLOURS``.
        shape: the shape (``Shape.CIRCLE`` for a character).
        motion: what it does over the clip (world coordinates; the camera moves on top).
        size: radius in pixels (about 12-22 at 128 px).
        x: start position, pixels from the left.
        y: start position, pixels from the top.
        identity: character identity in ``0..NUM_IDENTITIES-1``, or None for a plain shape.
        motion_scale: multiplier in ``[0.8, 1.25]`` of the nominal motion amount (see kinematics.py).
    """

    colour: str
    shape: Shape
    motion: Motion
    size: float
    x: float
    y: float
    identity: int | None = None
    motion_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.colour not in OBJECT_COLOURS:
            raise ValueError(f"colour must be one of {list(OBJECT_COLOURS)}, got {self.colour!r}")
        if not isinstance(self.shape, Shape) or not isinstance(self.motion, Motion):
            raise ValueError(f"shape and motion must be Shape and Motion members, got {self.shape!r}, {self.motion!r}")
        if self.shape == Shape.CIRCLE and self.motion == Motion.SPIN:
            raise ValueError("a circle never spins (a spinning circle looks still); pick another shape or motion")
        if not self.size > 0:
            raise ValueError(f"size must be > 0 pixels, got {self.size}")
        if not MOTION_SCALE_RANGE[0] <= self.motion_scale <= MOTION_SCALE_RANGE[1]:
            raise ValueError(f"motion_scale must be in {list(MOTION_SCALE_RANGE)}, got {self.motion_scale}")
        if self.identity is not None:
            params = character(self.identity)
            if self.shape != Shape.CIRCLE or self.colour != params.colour:
                raise ValueError(
                    f"character {self.identity} is a {params.colour} circle (head disc), "
                    f"got a {self.colour} {self.shape.value}"
                )

    @property
    def is_character(self) -> bool:
        return self.identity is not None

    @property
    def combo(self) -> tuple[str, Shape, Motion] | None:
        """(colour, shape, motion) of a plain shape; None for a character."""
        return None if self.is_character else (self.colour, self.shape, self.motion)

    @property
    def noun(self) -> str:
        """``"red circle"``, or ``"yellow character"``."""
        return f"{self.colour} {'character' if self.is_character else self.shape.value}"


@dataclass(frozen=True, kw_only=True)
class SceneSpec:
    """One clip of the synthetic world (an image when ``num_frames == 1``).

    Args:
        width: frame width in pixels.
        height: frame height in pixels.
        fps: frames per second.
        num_frames: number of frames (1: an image).
        background: key of ``BACKGROUNDS``.
        textured: the background carries a faint low-frequency texture (+-12, from ``seed``).
        camera: camera motion.
        objects: one or two objects of different colours.
        text: a word of capital letters painted on the background, or None.
        music: background music, or None.
        seed: seed of the render-time randomness (texture, noise in sounds).
        camera_scale: multiplier in ``[0.8, 1.25]`` of the nominal pan amount.
    """

    width: int
    height: int
    fps: int
    num_frames: int
    background: str
    textured: bool
    camera: Camera
    objects: tuple[ObjectSpec, ...]
    text: str | None = None
    music: Music | None = None
    seed: int = 0
    camera_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("width", "height", "fps", "num_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if min(self.width, self.height) < 16:
            raise ValueError(f"frames must be at least 16x16 pixels, got {self.width}x{self.height}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {list(BACKGROUNDS)}, got {self.background!r}")
        if not isinstance(self.camera, Camera):
            raise ValueError(f"camera must be one of {[c.value for c in Camera]}, got {self.camera!r}")
        if not 1 <= len(self.objects) <= 2:
            raise ValueError(f"a scene has 1 or 2 objects, got {len(self.objects)}")
        colours = [obj.colour for obj in self.objects]
        if len(set(colours)) != len(colours):
            raise ValueError(f"objects must have different colours, got {colours}")
        if self.text is not None and (not self.text or not set(self.text) <= FONT_CHARACTERS):
            raise ValueError(f"text must be a word of capital letters A-Z or None, got {self.text!r}")
        if self.music is not None and not isinstance(self.music, Music):
            raise ValueError(f"music must be one of {[m.value for m in Music]} or None, got {self.music!r}")
        if not MOTION_SCALE_RANGE[0] <= self.camera_scale <= MOTION_SCALE_RANGE[1]:
            raise ValueError(f"camera_scale must be in {list(MOTION_SCALE_RANGE)}, got {self.camera_scale}")

    @property
    def is_image(self) -> bool:
        return self.num_frames == 1

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    @property
    def scale(self) -> float:
        """Size of this frame relative to the 128 px reference (objects and text scale with it)."""
        return min(self.width, self.height) / REFERENCE_SIZE

    @property
    def identities(self) -> tuple[int, ...]:
        return tuple(obj.identity for obj in self.objects if obj.identity is not None)


def is_heldout(scene: SceneSpec) -> bool:
    """True if the scene shows a held-out combination or identity (so it must never be used for training)."""
    return any(obj.combo in HELDOUT_COMBOS for obj in scene.objects) or bool(
        set(scene.identities) & HELDOUT_IDENTITIES
    )


def fits_split(scene: SceneSpec, split: Split | str) -> bool:
    """``"train"``: nothing held out; ``"heldout"``: at least one held-out-combo object."""
    if Split(split) == Split.TRAIN:
        return not is_heldout(scene)
    return any(obj.combo in HELDOUT_COMBOS for obj in scene.objects)


def _choice(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _sample_combo(
    rng: np.random.Generator, *, still: bool, exclude_colours: set[str], allow_heldout: bool
) -> tuple[str, Shape, Motion]:
    while True:  # rejection: at most a few draws (9 of 248 combos are held out)
        colour = _choice(rng, [c for c in OBJECT_COLOURS if c not in exclude_colours])
        shape = _choice(rng, list(Shape))
        motion = Motion.STILL if still else _choice(rng, list(Motion))
        if shape == Shape.CIRCLE and motion == Motion.SPIN:
            continue
        if not allow_heldout and (colour, shape, motion) in HELDOUT_COMBOS:
            continue
        return colour, shape, motion


def place_object(rng: np.random.Generator, scene: SceneSpec, obj: ObjectSpec, *, tries: int = 100) -> SceneSpec | None:
    """``scene`` with ``obj`` appended at a random start position that keeps the layout rules, or None.

    Args:
        rng: random generator.
        scene: the scene so far (its objects are kept as they are).
        obj: the new object; its ``x``/``y`` are replaced.
        tries: random positions to try.
    """
    ext = max(kinematics.local_extents(obj)) * obj.size
    for _ in range(tries):
        x = float(rng.uniform(ext, scene.width - ext))
        y = float(rng.uniform(ext, scene.height - ext))
        candidate = replace(scene, objects=(*scene.objects, replace(obj, x=round(x, 2), y=round(y, 2))))
        if kinematics.layout_problem(candidate) is None:
            return candidate
    return None


def sample_object(
    rng: np.random.Generator,
    scene: SceneSpec,
    *,
    combo: tuple[str, Shape, Motion] | None = None,
    identity: int | None = None,
    allow_heldout: bool = False,
) -> SceneSpec | None:
    """``scene`` plus one random object (a given combo or identity if set), placed by :func:`place_object`."""
    used = {o.colour for o in scene.objects}
    if identity is not None:
        if scene.is_image:
            motion = Motion.STILL
        else:
            motion = _choice(rng, [m for m in Motion if m != Motion.SPIN])
        colour, shape = character(identity).colour, Shape.CIRCLE
    elif combo is not None:
        colour, shape, motion = combo
    else:
        colour, shape, motion = _sample_combo(
            rng, still=scene.is_image, exclude_colours=used, allow_heldout=allow_heldout
        )
    if colour in used:
        return None
    size = float(rng.uniform(*SIZE_RANGE)) * scene.scale
    if motion == Motion.GROW:
        size = max(SIZE_RANGE[0] * scene.scale, size * 0.7)  # leave room to grow
    obj = ObjectSpec(
        colour=colour,
        shape=shape,
        motion=motion,
        size=round(size, 2),
        x=0.0,
        y=0.0,
        identity=identity,
        motion_scale=round(float(rng.uniform(*MOTION_SCALE_RANGE)), 3),
    )
    return place_object(rng, scene, obj)


def sample_scene(
    rng: np.random.Generator, *, split: Split | str, width: int, height: int, num_frames: int, fps: int
) -> SceneSpec:
    """A random scene of the given geometry that belongs to ``split``.

    Images (``num_frames == 1``) have a static camera, still objects and no music. A ``"train"`` scene never has a
    held-out combination or identity; a ``"heldout"`` scene has at least one held-out-combo object (and uses
    held-out identities for its characters).

    Raises:
        ValueError: an unknown split, invalid geometry, or a geometry too small to lay out a scene.
    """
    try:
        split = Split(split)
    except ValueError:
        raise ValueError(f"split must be one of {[s.value for s in Split]}, got {split!r}") from None
    image = num_frames == 1
    for _ in range(_MAX_TRIES):
        cameras = list(CAMERA_WEIGHTS)
        weights = np.array(list(CAMERA_WEIGHTS.values()))
        camera = Camera.STATIC if image else cameras[int(rng.choice(len(cameras), p=weights / weights.sum()))]
        music = None
        if not image and rng.random() < MUSIC_PROB:
            music = _choice(rng, list(Music))
        scene: SceneSpec | None = _blank_scene(
            width=width,
            height=height,
            fps=fps,
            num_frames=num_frames,
            background=_choice(rng, list(BACKGROUNDS)),
            textured=bool(rng.random() < TEXTURED_PROB),
            camera=camera,
            text=_choice(rng, TEXT_WORDS) if rng.random() < TEXT_PROB else None,
            music=music,
            seed=int(rng.integers(2**31)),
            camera_scale=round(float(rng.uniform(*MOTION_SCALE_RANGE)), 3),
        )
        num_objects = 2 if rng.random() < TWO_OBJECTS_PROB else 1
        identity = None
        if rng.random() < CHARACTER_PROB:
            identity = _choice(rng, sorted(HELDOUT_IDENTITIES) if split == Split.HELDOUT else TRAIN_IDENTITIES)
            if split == Split.HELDOUT:
                num_objects = 2  # the held-out combo object comes with the character
        plans: list[dict] = []
        if split == Split.HELDOUT:
            combos = sorted(c for c in HELDOUT_COMBOS if not image or c[2] == Motion.STILL)
            plans.append({"combo": _choice(rng, combos)})
        if identity is not None:
            plans.append({"identity": identity})
        while len(plans) < num_objects:
            plans.append({"allow_heldout": split == Split.HELDOUT})
        for plan in plans:
            scene = sample_object(rng, scene, **plan)
            if scene is None:
                break
        if scene is not None and fits_split(scene, split):
            return scene
    raise ValueError(
        f"could not lay out a {width}x{height} scene of {num_frames} frames at {fps} fps in {_MAX_TRIES} tries "
        "(frames too small or too short for the world's objects and motions?)"
    )


def combo_scene(
    rng: np.random.Generator,
    combo: tuple[str, Shape, Motion],
    *,
    background: str,
    width: int,
    height: int,
    num_frames: int,
    fps: int,
) -> SceneSpec:
    """The world's drawing of one (colour, shape, motion) combination, held out or not: a single object of it, its
    size, motion amount and start drawn as :func:`sample_object` draws them, on a plain ``background`` with a static
    camera and no text or music (what a prompt naming only those asks for; the adherence ceiling renders it).

    Raises:
        ValueError: an unknown background, invalid geometry, or one too small for the combination.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {list(BACKGROUNDS)}, got {background!r}")
    blank = _blank_scene(width=width, height=height, fps=fps, num_frames=num_frames, background=background,
                         textured=False, camera=Camera.STATIC, text=None, music=None, seed=int(rng.integers(2**31)),
                         camera_scale=1.0)
    for _ in range(_MAX_TRIES):
        scene = sample_object(rng, blank, combo=combo, allow_heldout=True)
        if scene is not None:
            return scene
    raise ValueError(
        f"could not lay out {combo} in a {width}x{height} scene of {num_frames} frames at {fps} fps in {_MAX_TRIES} "
        "tries"
    )


def _blank_scene(**fields) -> SceneSpec:
    """A scene with no objects yet: the sampler's starting point. It bypasses ``__post_init__`` (a scene needs 1 or 2
    objects); :func:`place_object` builds every later scene through the validating constructor."""
    for name in ("width", "height", "fps", "num_frames"):
        if isinstance(fields[name], bool) or not isinstance(fields[name], int) or fields[name] < 1:
            raise ValueError(f"{name} must be a positive int, got {fields[name]!r}")
    if min(fields["width"], fields["height"]) < 16:
        raise ValueError(f"frames must be at least 16x16 pixels, got {fields['width']}x{fields['height']}")
    blank = object.__new__(SceneSpec)
    for name, value in {**fields, "objects": ()}.items():
        object.__setattr__(blank, name, value)
    return blank


def scene_size_words(obj: ObjectSpec, scene: SceneSpec) -> str:
    """``"small"``, ``"medium-sized"`` or ``"large"`` relative to the frame."""
    radius = obj.size / scene.scale
    if radius < 15:
        return "small"
    return "medium-sized" if radius < 19 else "large"


def position_words(obj: ObjectSpec, scene: SceneSpec) -> str:
    """Where the object starts, in thirds of the frame: ``"in the upper left"``, ``"in the centre"`` ..."""
    col = min(2, max(0, math.floor(3 * obj.x / scene.width)))
    row = min(2, max(0, math.floor(3 * obj.y / scene.height)))
    return (
        ("in the upper left", "at the top", "in the upper right"),
        ("on the left", "in the centre", "on the right"),
        ("in the lower left", "at the bottom", "in the lower right"),
    )[row][col]
