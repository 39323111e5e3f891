"""Captions of the synthetic world: dense paragraphs (Movie Gen style) and short user-style prompts with paraphrases.

The dense caption (about 40-90 words) is what the video model trains on: background and texture, each object's
colour, shape, size, start position and motion, the camera motion, the quoted visual text and the sound. It is
deterministic. Each dense caption contains the exact vocabulary labels: the colour and shape names, the motion
label (``Motion.value``, e.g. ``"moves left"``) and the camera phrase of :data:`CAMERA_PHRASES`.

Short prompts are what users type ("a red circle bounces on a gray background"); the first is canonical (first
synonym of everything), the others are paraphrases drawn from the synonym tables below, which evaluation also uses to
build paraphrased prompts. The tables are deliberately small: a synonym must never name another vocabulary item
(no "dark blue" for navy: blue is an object colour).
"""

import numpy as np

from moviegen.world.characters import character
from moviegen.world.scene import TEXT_COLOUR_NAME, Music, ObjectSpec, SceneSpec, position_words, scene_size_words
from moviegen.world.vocab import Camera, Motion, Shape

COLOUR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow",),
    "purple": ("purple", "violet"),
    "orange": ("orange",),
    "cyan": ("cyan", "turquoise"),
    "white": ("white",),
}
BACKGROUND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "black": ("black",),
    "gray": ("gray", "grey"),
    "navy": ("navy",),
    "brown": ("brown",),
}
SHAPE_SYNONYMS: dict[Shape, tuple[str, ...]] = {
    Shape.CIRCLE: ("circle", "ball", "disc"),
    Shape.SQUARE: ("square", "block"),
    Shape.TRIANGLE: ("triangle",),
    Shape.STAR: ("star",),
}
CHARACTER_SYNONYMS: tuple[str, ...] = ("character", "person", "little face")
MOTION_SYNONYMS: dict[Motion, tuple[str, ...]] = {
    Motion.LEFT: ("moves left", "slides to the left", "drifts left", "travels left"),
    Motion.RIGHT: ("moves right", "slides to the right", "drifts right", "travels right"),
    Motion.UP: ("moves up", "rises", "floats upward", "slides up"),
    Motion.DOWN: ("moves down", "sinks", "drifts downward", "slides down"),
    Motion.BOUNCE: ("bounces", "bounces on the floor", "falls and bounces"),
    Motion.STILL: ("stays still", "sits still", "rests in place"),
    Motion.GROW: ("grows", "gets bigger", "expands"),
    Motion.SPIN: ("spins", "rotates", "turns around"),
}
# Short-prompt templates; "{objects}" is one or two "a <colour> <shape> <motion>" phrases.
PROMPT_TEMPLATES: tuple[str, ...] = (
    "{objects} on a {background} background",
    "{objects} against a {background} backdrop",
    "on a {background} background, {objects}",
)
FLOOR_TEMPLATE = "{objects} on a {background} floor"  # only when something bounces

# Phrases of the dense caption. Each motion phrase contains the Motion label; each camera phrase is listed here.
_MOTION_PHRASES: dict[Motion, str] = {
    Motion.LEFT: "moves left at a steady pace",
    Motion.RIGHT: "moves right at a steady pace",
    Motion.UP: "moves up at a steady pace",
    Motion.DOWN: "moves down at a steady pace",
    Motion.BOUNCE: "falls and bounces on the floor",
    Motion.STILL: "stays still for the whole clip",
    Motion.GROW: "grows steadily larger",
    Motion.SPIN: "spins in place, turning clockwise",
}
CAMERA_PHRASES: dict[Camera, str] = {
    Camera.STATIC: "a static shot",
    Camera.PAN_LEFT: "the camera pans left",
    Camera.PAN_RIGHT: "the camera pans right",
    Camera.ZOOM_IN: "the camera slowly zooms in",
    Camera.ZOOM_OUT: "the camera slowly zooms out",
}
IMPACT_SOUNDS: dict[Shape, str] = {
    Shape.CIRCLE: "a low thump",
    Shape.SQUARE: "a sharp click",
    Shape.TRIANGLE: "a bright ping",
    Shape.STAR: "a metallic clang",
}
MUSIC_PHRASES: dict[Music, str] = {
    Music.MAJOR: "Cheerful, upbeat music in a major key plays quietly in the background.",
    Music.MINOR: "Slow, sad music in a minor key plays quietly in the background.",
}


_STYLE_SENTENCE = "The shapes have flat, solid colours and crisp edges."
_STYLE_SENTENCE_BELOW = 75  # words: the style sentence closes captions that have room for it (they stay <= ~90)


def _article(word: str) -> str:
    return "An" if word[0] in "aeiou" else "A"


def _background_phrase(scene: SceneSpec) -> str:
    if scene.textured:
        return f"a {scene.background} background with a faint mottled texture"
    return f"a plain {scene.background} background"


def _camera_sentence(scene: SceneSpec) -> str:
    background = _background_phrase(scene)
    if scene.is_image:
        return f"A still image of {background}, drawn in a simple flat style."
    if scene.camera == Camera.STATIC:
        return f"A static shot of {background}, in a simple flat animation style."
    phrase = CAMERA_PHRASES[scene.camera]
    tail = {
        Camera.PAN_LEFT: ", so the scene slides right",
        Camera.PAN_RIGHT: ", so the scene slides left",
        Camera.ZOOM_IN: ", so everything looks bigger",
        Camera.ZOOM_OUT: ", so everything looks smaller",
    }[scene.camera]
    return f"A simple flat animation: {phrase} over {background}{tail}."


def _object_sentence(obj: ObjectSpec, scene: SceneSpec) -> str:
    size = scene_size_words(obj, scene)
    where = position_words(obj, scene)
    if obj.is_character:
        who = f"{size} {obj.colour} character with {character(obj.identity).describe()}"
        who = f"{_article(who)} {who}, {where},"
    else:
        who = f"{_article(size)} {size} {obj.colour} {obj.shape.value} {where}"
    if scene.is_image:
        return f"{who} sits there, not moving." if not obj.is_character else f"{who} looks at the viewer."
    return f"{who} {_MOTION_PHRASES[obj.motion]}."


def _sound_sentences(scene: SceneSpec) -> list[str]:
    sentences = []
    hits = [
        f"the {obj.colour} {'character' if obj.is_character else obj.shape.value} makes {IMPACT_SOUNDS[obj.shape]}"
        for obj in scene.objects
        if obj.motion == Motion.BOUNCE
    ]
    if len(hits) == 1:
        sentences.append(f"Each time it hits the floor, {hits[0]}.")
    elif hits:
        sentences.append(f"Each time they hit the floor, {hits[0]} and {hits[1]}.")
    if scene.music is not None:
        sentences.append(MUSIC_PHRASES[scene.music])
    if not sentences:
        sentences.append("There is no sound at all; the video is silent.")
    return sentences


def dense_caption(scene: SceneSpec) -> str:
    """A paragraph describing ``scene`` (deterministic): camera and background, objects, visual text, sound."""
    sentences = [_camera_sentence(scene)]
    sentences += [_object_sentence(obj, scene) for obj in scene.objects]
    if scene.text is not None:
        sentences.append(f'The word "{scene.text}" is written in {TEXT_COLOUR_NAME} capital letters near the top.')
    if scene.is_image:
        sentences.append("There is no motion: it is a single still frame.")
    else:
        sentences += _sound_sentences(scene)
    if sum(len(sentence.split()) for sentence in sentences) < _STYLE_SENTENCE_BELOW:
        sentences.append(_STYLE_SENTENCE)
    return " ".join(sentences)


def _object_phrase(obj: ObjectSpec, scene: SceneSpec, pick) -> str:
    colour = pick(COLOUR_SYNONYMS[obj.colour])
    noun = pick(CHARACTER_SYNONYMS) if obj.is_character else pick(SHAPE_SYNONYMS[obj.shape])
    phrase = f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {noun}"
    return phrase if scene.is_image else f"{phrase} {pick(MOTION_SYNONYMS[obj.motion])}"


def _prompt(scene: SceneSpec, pick, templates: tuple[str, ...]) -> str:
    objects = " and ".join(_object_phrase(obj, scene, pick) for obj in scene.objects)
    prompt = pick(templates).format(objects=objects, background=pick(BACKGROUND_SYNONYMS[scene.background]))
    if scene.text is not None:
        prompt += f', with the word "{scene.text}"'
    return prompt


def short_prompts(scene: SceneSpec, rng: np.random.Generator, n: int = 3) -> list[str]:
    """``n`` short prompts for ``scene``: the canonical one first, then random paraphrases (distinct when possible).

    Every prompt names each object's colour, shape (or "character") and motion (not for images), the background
    colour, and the visual text if any.

    Raises:
        ValueError: ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    templates = PROMPT_TEMPLATES
    if any(obj.motion == Motion.BOUNCE for obj in scene.objects) and not scene.is_image:
        templates = (*templates, FLOOR_TEMPLATE)
    prompts = [_prompt(scene, lambda options: options[0], templates)]
    for _ in range(20 * n):
        if len(prompts) == n:
            break
        candidate = _prompt(scene, lambda options: options[int(rng.integers(len(options)))], templates)
        if candidate not in prompts:
            prompts.append(candidate)
    while len(prompts) < n:  # too few distinct paraphrases: repeat the canonical prompt
        prompts.append(prompts[0])
    return prompts


# -- audio captions (SPEC 11.5's template) ----------------------------------------------------------------------------

# The paper's quality score in captions, set at inference to 7.0 for SFX only and 8.0 for SFX + music (SPEC 8.5); the
# world's sounds are clean, so its captions use the same two values.
AUDIO_QUALITY_SFX, AUDIO_QUALITY_MUSIC = 7.0, 8.0
MUSIC_DESCRIPTIONS: dict[Music, str] = {
    Music.MAJOR: "cheerful, upbeat music in a major key",
    Music.MINOR: "slow, sad music in a minor key",
}


def _impact_phrase(impact_shapes: tuple[str, ...]) -> str | None:
    sounds = list(dict.fromkeys(IMPACT_SOUNDS[Shape(s)] for s in impact_shapes))
    return " and ".join(sounds) + " each time something hits the floor" if sounds else None


def audio_caption(*, impact_shapes: tuple[str, ...] = (), music: str | None = None) -> str:
    """The templated audio caption of SPEC 11.5: quality score, speech/singing flags, music likelihood, a sound
    description and a music description.

    Args:
        impact_shapes: shape names of the bouncing objects (each bounce makes its shape's sound).
        music: ``"major"``, ``"minor"`` or None.
    """
    mode = None if music is None else Music(music)
    quality = AUDIO_QUALITY_MUSIC if mode is not None else AUDIO_QUALITY_SFX
    impacts = _impact_phrase(impact_shapes)
    sound = f"Sound: {impacts}." if impacts else "Sound: no sound effects."
    music_part = f"Music: {MUSIC_DESCRIPTIONS[mode]}." if mode is not None else "Music: none."
    likelihood = 0.95 if mode is not None else 0.05
    return (
        f"This audio has quality: {quality:.1f}. It contains no speech. It contains no singing. "
        f"It contains music with a {likelihood:.2f} likelihood. {sound} {music_part}"
    )


def audio_prompts(*, impact_shapes: tuple[str, ...] = (), music: str | None = None) -> tuple[str, ...]:
    """Short user-style audio prompts for the same sound (text-to-audio): e.g. ``"sad music"``, ``"a low thump"``."""
    impacts = _impact_phrase(impact_shapes)
    words = []
    if music is not None:
        mood = "cheerful" if Music(music) is Music.MAJOR else "sad"
        words.append(f"{mood} music")
    if impacts:
        words.append(impacts)
    if not words:
        return ("silence",)
    return (" with ".join(words), *words) if len(words) > 1 else tuple(words)
