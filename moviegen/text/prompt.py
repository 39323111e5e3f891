"""Prompt prefixes (FPS token, camera-motion label) and quoted visual-text extraction (SPEC sections 2.4 and 4.1).

* SPEC 2.4: a text token such as ``"FPS-16"`` is prepended to the prompt, and a camera-motion label is prepended to
  the caption. The exact layout is ours [inferred]: ``"FPS-16 pan left. <prompt>"`` (FPS token first, then the label
  as its own sentence). :func:`format_prompt` is the single place that writes it; captioning code should call it.
* SPEC 4.1: the character-level encoder sees only the visual text, "typically in quotes". :func:`extract_quoted_text`
  finds it.
"""

import numbers
import re
from enum import StrEnum

FPS_TOKEN_TEMPLATE = "FPS-{fps}"
# Accepted FPS token values [inferred: generous bounds around the paper's 16-32 at inference and 16/24 in SFT].
MIN_FPS = 1
MAX_FPS = 120


class CameraMotion(StrEnum):
    """The synthetic world's camera motions (PRODUCT.md); the value is the label written into the prompt."""

    STATIC = "static"
    PAN_LEFT = "pan left"
    PAN_RIGHT = "pan right"
    ZOOM_IN = "zoom in"
    ZOOM_OUT = "zoom out"


def parse_camera_motion(value: CameraMotion | str | None) -> CameraMotion | None:
    """Accept a :class:`CameraMotion`, its label (``"pan left"``), its name (``"PAN_LEFT"``, ``"pan-left"``) or None.

    Raises:
        ValueError: an unknown label or a non-string; the message lists the allowed labels.
    """
    if value is None or isinstance(value, CameraMotion):
        return value
    allowed = [m.value for m in CameraMotion]
    if not isinstance(value, str):
        raise ValueError(f"camera_motion must be a CameraMotion, one of {allowed}, or None; got {value!r}")
    key = " ".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    for motion in CameraMotion:
        if motion.value == key:
            return motion
    raise ValueError(f"unknown camera_motion {value!r}; allowed: {allowed} (or None)")


def fps_token(fps: int) -> str:
    """``"FPS-<fps>"``.

    Raises:
        ValueError: ``fps`` is not an int in ``[MIN_FPS, MAX_FPS]``.
    """
    if isinstance(fps, bool) or not isinstance(fps, numbers.Integral) or not MIN_FPS <= fps <= MAX_FPS:
        raise ValueError(f"fps must be an int in [{MIN_FPS}, {MAX_FPS}], got {fps!r}")
    return FPS_TOKEN_TEMPLATE.format(fps=int(fps))


def format_prompt(prompt: str, *, fps: int | None = None, camera_motion: CameraMotion | str | None = None) -> str:
    """Prepend the FPS token and the camera-motion label: ``"FPS-16 pan left. a red circle ..."``.

    Args:
        prompt: the caption or user prompt (may be empty, e.g. the unconditional prompt of CFG).
        fps: frames per second of the target video, or None for no FPS token.
        camera_motion: the camera-motion label, or None for none.

    Returns:
        The prefixed prompt; with neither prefix, ``prompt`` unchanged.

    Raises:
        ValueError: a non-string prompt, an invalid fps or an unknown camera motion.
    """
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a str, got {type(prompt).__name__} {prompt!r}")
    motion = parse_camera_motion(camera_motion)
    parts = [
        fps_token(fps) if fps is not None else "",
        f"{motion.value}." if motion is not None else "",
        prompt,
    ]
    return " ".join(part for part in parts if part)


# Quoted spans, in order of appearance. Straight single quotes count only at word boundaries so that apostrophes
# ("the cat's toy") are not quotes; curly quotes are written as escapes to keep the source ASCII.
_QUOTE_RE = re.compile(
    r'"([^"]*)"'  # "GO"
    "|\u201c([^\u201d]*)\u201d"  # left/right double quotation marks
    "|\u2018(.*?)\u2019(?!\\w)"  # left/right single quotation marks (right one may also be an apostrophe)
    r"|(?<!\w)'(.*?)'(?!\w)"  # 'GO'
)

# Separator between several quoted spans in the character-level input [inferred].
QUOTED_TEXT_SEPARATOR = " "


def extract_quoted_text(prompt: str) -> tuple[str, ...]:
    """All quoted spans of ``prompt``, in order, quotes removed (empty spans included).

    Supported quotes: ``"..."``, curly double quotes, curly single quotes, and ``'...'`` at word boundaries.
    An unmatched quote is ignored.

    Args:
        prompt: the prompt (without prefixes).

    Returns:
        The spans, e.g. ``('GO',)`` for ``'the word "GO" on a navy background'``.
    """
    return tuple(next(group for group in match.groups() if group is not None) for match in _QUOTE_RE.finditer(prompt))


def visual_text(prompt: str) -> str:
    """The character-level encoder's input: the non-empty quoted spans joined by :data:`QUOTED_TEXT_SEPARATOR`.

    Returns ``""`` when the prompt has no (non-empty) quoted text; the stack then masks the whole segment.
    """
    return QUOTED_TEXT_SEPARATOR.join(span for span in extract_quoted_text(prompt) if span)
